"""Uniform frames: found (also after JPEG), stripped for training, compared between the classes."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from synthdetect.inputs import datasets as D
from synthdetect.inputs import frames as F

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"


def picture(h: int = 200, w: int = 260, seed: int = 0) -> np.ndarray:
    """A textured picture: a smooth gradient plus noise (no uniform row or column)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([yy * 0.5 + 40, xx * 0.4 + 60, (yy + xx) * 0.2 + 80], axis=2)
    return np.clip(base + rng.normal(0, 20, (h, w, 3)), 0, 255).astype(np.uint8)


def framed(pic: np.ndarray, colour, band=(30, 30, 30, 30)) -> np.ndarray:
    """``pic`` on a canvas of ``colour`` with bands (left, top, right, bottom)."""
    l, t, r, b = band
    h, w = pic.shape[:2]
    out = np.empty((h + t + b, w + l + r, 3), np.uint8)
    out[:] = colour
    out[t:t + h, l:l + w] = pic
    return out


def jpeg(a: np.ndarray, q: int = 90) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "JPEG", quality=q)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def test_a_frame_is_found_and_stripped_even_after_jpeg():
    pic = picture()
    for a in (framed(pic, (254, 0, 0)), jpeg(framed(pic, (254, 0, 0))), jpeg(framed(pic, (34, 34, 34)), 75)):
        f = F.find_frame(a)
        assert f is not None and f.sides == 4
        l, t, r, b = f.box
        assert 30 + F.GUARD // 2 <= l <= 30 + F.GUARD and 30 + F.GUARD // 2 <= t <= 30 + F.GUARD  # the band and a guard
        inner = a[t:b, l:r]
        # nothing of the canvas is left on any side of what training sees
        for edge in (inner[0], inner[-1], inner[:, 0], inner[:, -1]):
            assert (np.abs(edge.astype(int) - np.array(f.colour)).max(axis=1) <= F.TOL).mean() < 0.5
    assert F.find_frame(framed(pic, (254, 0, 0))).hex == "#fe0000"


def test_a_letterbox_counts_one_band_does_not():
    pic = picture()
    f = F.find_frame(framed(pic, (0, 0, 0), band=(0, 40, 0, 40)))
    assert f is not None and f.sides == 2 and f.box[0] == 0 and f.box[2] == pic.shape[1]
    assert F.find_frame(framed(pic, (255, 255, 255), band=(0, 40, 0, 0))) is None  # a white sky on top


@pytest.mark.parametrize("a", [picture(), np.full((120, 160, 3), 128, np.uint8),
                               framed(picture(40, 40), (9, 9, 9), band=(2, 2, 2, 2))])
def test_no_frame_in_a_picture_a_flat_image_or_a_thin_edge(a):
    assert F.find_frame(a) is None


def _write(root: Path, label: str, n: int, colour, seed: int) -> None:
    d = root / label
    d.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        pic = picture(120, 140, seed * 100 + i)
        a = pic if colour is None else framed(pic, colour, band=(24, 24, 24, 24))
        Image.fromarray(a).save(d / f"{label}_{i:02d}.jpg", quality=92)


def test_frame_colour_that_separates_the_classes_is_reported(tmp_path):
    _write(tmp_path / "s", "0_real", 6, (34, 34, 34), 1)
    _write(tmp_path / "s", "1_fake", 6, (254, 0, 0), 2)
    w = D.shortcut_warnings(D.list_items(tmp_path / "s"))
    assert len(w) == 1 and "frame colour separates the classes" in w[0]
    real, synthetic = w[0].split("(real: ")[1].split("; synthetic: ")
    assert real.startswith("#2") and synthetic.startswith(("#fe00", "#ff00", "#fd00"))  # JPEG moves a level or two


def test_frames_in_one_class_only_are_reported_the_same_frames_in_both_are_not(tmp_path):
    _write(tmp_path / "a", "0_real", 6, None, 1)
    _write(tmp_path / "a", "1_fake", 6, (0, 0, 254), 2)
    w = D.shortcut_warnings(D.list_items(tmp_path / "a"))
    # the frame makes every synthetic image larger, which is said too
    assert len(w) == 2 and "0/6 real and 6/6 synthetic" in w[1]
    assert w[0].startswith("image size separates the classes (shorter side, real: 120 px; synthetic: 168 px)")
    _write(tmp_path / "b", "0_real", 6, (250, 250, 250), 3)
    _write(tmp_path / "b", "1_fake", 6, (250, 250, 250), 4)
    assert D.shortcut_warnings(D.list_items(tmp_path / "b")) == []


def test_decoded_cache_strips_frames_only_when_asked(tmp_path):
    _write(tmp_path / "s", "0_real", 2, (34, 34, 34), 1)
    _write(tmp_path / "s", "1_fake", 2, None, 2)
    items = D.list_items(tmp_path / "s")
    keep, strip = D.DecodedCache(), D.DecodedCache(strip_frames=True)
    for it in items:
        a, b = keep.get(it.path), strip.get(it.path)
        if it.label == 0:
            assert a.shape == (168, 188, 3) and b.shape[0] <= 120 and b.shape[1] <= 140
        else:
            assert a.shape == b.shape == (120, 140, 3)
    assert keep.stripped == 0 and strip.stripped == 2


def test_train_gan2019_frames_are_caught():
    """The CNNDetection ranking images: grey frames around every real, coloured ones around every fake."""
    root = SHARED / "train-gan2019"
    if not root.is_dir():
        pytest.skip("../shared/data not present")
    w = D.shortcut_warnings(D.list_items(root))
    assert any("frame colour separates the classes" in x and "real: #222222" in x for x in w), w


def test_the_reduced_copy_is_what_thumbnail_gives_without_copying_the_image():
    """frame_box runs on every image scan prepares with strip_frames: it reduces the image
    directly instead of thumbnailing a whole copy, with thumbnail's own size and pixels."""
    import random

    rng = random.Random(0)
    for _ in range(400):
        w, h = rng.randint(F.CHECK_SIDE + 1, 6000), rng.randint(1, 6000)
        w, h = (w, h) if rng.random() < 0.5 else (h, w)
        im = Image.new("RGB", (w, h))
        thumb = im.copy()
        thumb.thumbnail((F.CHECK_SIDE, F.CHECK_SIDE), Image.Resampling.NEAREST)
        assert F._reduced(im).size == thumb.size, (w, h)
    a = np.random.default_rng(0).integers(0, 256, (1001, 1395, 3), dtype=np.uint8)
    im = Image.fromarray(a)
    thumb = im.copy()
    thumb.thumbnail((F.CHECK_SIDE, F.CHECK_SIDE), Image.Resampling.NEAREST)
    np.testing.assert_array_equal(np.asarray(F._reduced(im)), np.asarray(thumb))
    small = Image.fromarray(a[:300, :400])
    assert F._reduced(small) is small


def test_the_guard_cuts_the_band_where_the_frame_colour_bleeds_into_the_picture():
    """JPEG with 4:2:0 chroma (the usual setting) spreads the frame's colour up to a 16 px block into
    the picture; nothing of it is left inside the box (train-gan2019's class-coloured frames)."""
    rng = np.random.default_rng(0)
    pic = np.clip(128 + rng.normal(0, 10, (200, 260, 3)), 0, 255).astype(np.uint8)
    band = 37  # not on the 16 px grid: the block holding the edge is part frame, part picture

    def enc(a: np.ndarray) -> np.ndarray:
        buf = io.BytesIO()
        Image.fromarray(a).save(buf, "JPEG", quality=75, subsampling=2)
        return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB")).astype(float)

    got = enc(framed(pic, (250, 230, 0), band=(band,) * 4))
    alone = enc(np.pad(pic, ((band, band), (band, band), (0, 0)), mode="edge"))  # the same picture, no frame
    bleed = np.abs((got[..., 0] - got[..., 2]) - (alone[..., 0] - alone[..., 2]))  # red-blue difference
    rows = slice(band + 20, -band - 20)
    f = F.find_frame(got.astype(np.uint8))
    assert f is not None
    left = f.box[0]
    assert bleed[rows, left:left + 4].mean() < 1.0  # the box's edge: the picture's own colour
    assert bleed[rows, band + 4:band + 8].mean() > 2.0  # a JPEG block in: still the frame's (why 16 px)
