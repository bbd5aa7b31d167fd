"""JPEG traces in files that are not JPEGs (inputs/jpeg_trace.py): a PNG written from a decoded JPEG
still carries the JPEG's block quantisation; its quality is read from the pixels, and never from
pixels that were not quantised (or were resized since)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from synthdetect.inputs.decoding import decode
from synthdetect.inputs.jpeg_trace import (
    decoded_jpeg_quality, fit_quality, jpeg_quality_from_pixels)
from synthdetect.inputs.quality import _LUM_Q, assess

PHOTO = Path(__file__).resolve().parents[2] / "examples" / "images" / "rocket.jpg"  # 640 x 427


def _photo() -> Image.Image:
    return Image.open(PHOTO).convert("RGB")


def _through_jpeg(img: Image.Image, quality: int) -> Image.Image:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    buf.seek(0)
    return Image.open(buf).convert("RGB")


def _smooth(seed: int = 0) -> Image.Image:
    """A photo-like image that never went through a JPEG (integrated noise: smooth, textured)."""
    a = np.cumsum(np.cumsum(np.random.default_rng(seed).normal(size=(300, 400, 3)), 0), 1)
    return Image.fromarray(((a - a.min()) / (a.max() - a.min()) * 255).astype("uint8"))


@pytest.mark.parametrize("quality", [30, 50, 60, 75, 80])
def test_the_quality_of_the_jpeg_a_png_was_saved_from_is_read_from_its_pixels(tmp_path, quality):
    png = tmp_path / "from-jpeg.png"
    _through_jpeg(_photo(), quality).save(png)
    assert jpeg_quality_from_pixels(Image.open(png)) == quality
    assert decoded_jpeg_quality(decode(png)) == (quality, "pixels")


def test_a_crop_off_the_block_grid_is_still_read_and_a_resize_is_not():
    img = _through_jpeg(_photo(), 60)
    assert jpeg_quality_from_pixels(img.crop((3, 5, img.width - 2, img.height - 1))) == 60
    assert jpeg_quality_from_pixels(img.resize((img.width * 3 // 4, img.height * 3 // 4), Image.BICUBIC)) is None


@pytest.mark.parametrize("seed", range(3))
def test_pixels_that_never_went_through_a_jpeg_give_no_reading(seed):
    assert jpeg_quality_from_pixels(_smooth(seed)) is None
    assert jpeg_quality_from_pixels(_smooth(seed).convert("L").convert("RGB")) is None


def test_too_small_to_read():
    assert jpeg_quality_from_pixels(_through_jpeg(_photo(), 50).resize((60, 60))) is None


def test_a_jpeg_is_read_from_its_tables_and_a_lossy_or_palette_file_not_at_all(tmp_path):
    img = _photo()
    img.save(tmp_path / "a.jpg", quality=70)
    assert decoded_jpeg_quality(decode(tmp_path / "a.jpg")) == (70, "tables")
    _through_jpeg(img, 50).save(tmp_path / "lossy.webp", quality=90)  # judged by its own codec
    _through_jpeg(img, 50).save(tmp_path / "a.gif")
    _through_jpeg(img, 50).save(tmp_path / "lossless.webp", lossless=True)
    assert decoded_jpeg_quality(decode(tmp_path / "lossy.webp")) == (None, None)
    assert decoded_jpeg_quality(decode(tmp_path / "a.gif")) == (None, None)
    assert decoded_jpeg_quality(decode(tmp_path / "lossless.webp")) == (50, "pixels")
    _smooth().save(tmp_path / "never.png")
    assert decoded_jpeg_quality(decode(tmp_path / "never.png")) == (None, None)


def test_the_steps_must_agree_with_one_quality_table():
    positions = (1, 8, 16, 9, 2, 3, 10)
    table = {p: int(_LUM_Q[59, p]) for p in positions}
    same = [q for q in range(1, 101) if all(int(_LUM_Q[q - 1, p]) == s for p, s in table.items())]
    assert 60 in same and fit_quality(table) == min(same)  # qualities with these steps alike: the harsher
    assert fit_quality(dict(list(table.items())[:4])) is None  # too few read
    assert fit_quality({p: s + 3 * (i % 2) for i, (p, s) in enumerate(table.items())}) is None  # no table agrees


def test_the_recompressed_gate_says_the_quality_was_read_from_the_pixels():
    img = _photo()
    rep = assess(img, min_side=224, jpeg_quality=50, jpeg_quality_source="pixels")
    (entry,) = [g for g in rep.failed if g["gate"] == "recompressed"]
    assert "not a JPEG" in entry["reason"] and rep.jpeg_quality_source == "pixels"
    assert assess(img, min_side=224, jpeg_quality=50).jpeg_quality_source == "tables"
    assert assess(img, min_side=224).jpeg_quality_source is None
