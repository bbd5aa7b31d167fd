"""Fixtures shared by the tests of synthdetect/evaluation."""

import pytest
from PIL import Image


@pytest.fixture
def labelled(tmp_path):
    """A tiny labelled set: 6 dark-red "real" and 6 pale "fake" 48 px PNGs in 0_real/ and 1_fake/."""
    data = tmp_path / "set"
    for lab, colours in (("0_real", [(10 + 9 * i, 20, 30) for i in range(6)]),
                         ("1_fake", [(200 + 8 * i % 50, 210, 220) for i in range(6)])):
        (data / lab).mkdir(parents=True)
        for i, c in enumerate(colours):
            Image.new("RGB", (48, 48), c).save(data / lab / f"{i}.png")
    return data
