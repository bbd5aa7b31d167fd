"""Uniform frames around a picture: found, stripped for training, checked against the labels.

A training set can carry its labels in a frame: the CNNDetection ranking images in
``train-gan2019`` sit on a 47 px canvas that is dark grey (34, 34, 34) around every real photo
and coloured (red, cyan, blue, ...) around every synthetic one.  A network that sees the frame
learns its colour: the bundled ``resnet``, pre-trained on those images with the frame in its
crops, scores them ROC-AUC 0.97 as they are, 0.02 with the two classes' frame colours swapped
and 0.57 with the frame cut off (docs/train.md).

* :func:`find_frame` finds a uniform band of one colour along at least two sides of an image
  (a frame, a letterbox) and returns the content box inside it, cut a 16 px JPEG block further
  in (the band's colour bleeds into the picture after compression: :data:`GUARD`).
* The training recipes crop to that box before any resize or crop (``DecodedCache(strip_frames=True)``;
  ``--keep-frames`` turns that off).
* :func:`frame_warnings` compares the frames of the two classes of a training set: the share of
  framed images, and their colours.

The scan side has its own, broader test (``quality.composite``: a photo on a canvas, with text,
a collage): framed images get no calibrated detector verdict there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

TOL = 12  # a frame pixel is within this of the frame colour in every channel (JPEG noise)
LINE_SHARE = 0.98  # share of a row / column that must be frame-coloured to count as frame
MIN_BAND = 4  # px: a thinner band is an edge, not a frame
# px cut further in than the band: its colour bleeds into the picture after JPEG compression, up
# to a block (8 px) of luma and, with the usual 4:2:0 chroma subsampling, a 16 px block of colour.
# On train-gan2019 (frames coloured by class) co-occurrence statistics of the pixels read the class
# from the 8-16 px band: ROC-AUC 0.87 at 50 a class on the picture cut 8 px in, 0.67 cut 16 px in
# (docs/train.md)
GUARD = 16
MIN_CONTENT = 0.4  # the content keeps at least this share of each side, else it is no frame
CHECK_SIDE = 512  # the warnings look at images reduced to this longer side
CHECK_PER_CLASS = 100  # and at most this many images of each class (evenly spaced)


@dataclass(frozen=True)
class Frame:
    """A uniform band along ``sides`` sides; ``box`` = (left, top, right, bottom) of the content."""

    box: tuple[int, int, int, int]
    colour: tuple[int, int, int]
    sides: int

    @property
    def hex(self) -> str:
        return "#" + "".join(f"{c:02x}" for c in self.colour)


def _run(flags: np.ndarray) -> int:
    """Length of the leading run of True in ``flags``."""
    off = np.flatnonzero(~flags)
    return int(off[0]) if off.size else int(flags.size)


def _corner_colour(a: np.ndarray) -> np.ndarray | None:
    """The colour three or four corners share (within TOL), or None."""
    corners = a[[0, 0, -1, -1], [0, -1, 0, -1]].astype(np.int16)
    colour = np.median(corners, axis=0)
    agree = np.abs(corners - colour).max(axis=1) <= TOL
    return colour if agree.sum() >= 3 else None


def _band_widths(a: np.ndarray, colour: np.ndarray) -> list[int]:
    """Frame-coloured band width on the left, top, right and bottom."""
    h, w = a.shape[:2]
    reach_h, reach_w = int(h * (1 - MIN_CONTENT) / 2) + 1, int(w * (1 - MIN_CONTENT) / 2) + 1

    def share(part: np.ndarray, axis: int) -> np.ndarray:
        return (np.abs(part.astype(np.int16) - colour).max(axis=2) <= TOL).mean(axis=axis) >= LINE_SHARE

    top, bottom = share(a[:reach_h], 1), share(a[h - reach_h:], 1)[::-1]
    left, right = share(a[:, :reach_w], 0), share(a[:, w - reach_w:], 0)[::-1]
    return [_run(left), _run(top), _run(right), _run(bottom)]


def frame_guard(spec) -> int | None:
    """How far past their band a card that cuts frames off (``spec.strip_frames``) cuts them, in px:
    part of how it prepares an image (feature caches, probe cards); None when it keeps frames."""
    return GUARD if getattr(spec, "strip_frames", False) else None


def find_frame(a: np.ndarray) -> Frame | None:
    """The uniform frame of an ``[H, W, 3]`` uint8 image, or None (see the module doc)."""
    if a.ndim != 3 or min(a.shape[:2]) < 4 * MIN_BAND:
        return None
    colour = _corner_colour(a)
    if colour is None:
        return None
    h, w = a.shape[:2]
    widths = _band_widths(a, colour)
    framed = [x >= MIN_BAND for x in widths]
    if sum(framed) < 2:
        return None
    band = [x if f else 0 for x, f in zip(widths, framed)]
    inner_w, inner_h = w - band[0] - band[2], h - band[1] - band[3]
    if inner_w < MIN_CONTENT * w or inner_h < MIN_CONTENT * h:
        return None
    guard = min(GUARD, inner_w // 4, inner_h // 4)  # a small picture keeps at least half of itself
    cut = [x + guard if f else 0 for x, f in zip(band, framed)]
    box = (cut[0], cut[1], w - cut[2], h - cut[3])
    return Frame(box=box, colour=tuple(int(round(c)) for c in colour), sides=int(sum(framed)))


def open_reduced(path: Path, side: int):
    """RGB image of ``path`` for a data check, EXIF orientation applied; a JPEG is decoded at a
    reduced scale (1/2..1/8) no smaller than ``side`` (other formats: whole)."""
    from PIL import Image, ImageOps

    from .decoding import init_codecs

    init_codecs()  # HEIC through pillow-heif
    with Image.open(path) as im:
        im.draft("RGB", (side, side))
        return ImageOps.exif_transpose(im.convert("RGB"))


def _reduced(img):
    """``img`` reduced to at most CHECK_SIDE a side: the pixels ``Image.thumbnail((CHECK_SIDE,
    CHECK_SIDE), NEAREST)`` gives on a copy (its size rule: the rounding of the short side that keeps
    the aspect best), resampled from the image itself without copying it whole first (a 12-megapixel
    photo: 0.6 ms instead of 11); the image itself when it is small enough."""
    from PIL import Image

    w, h = img.size
    if max(w, h) <= CHECK_SIDE:
        return img
    a, s = w / h, CHECK_SIDE
    if h >= w:
        size = (max(1, min(math.floor(s * a), math.ceil(s * a), key=lambda n: abs(a - n / s))), s)
    else:
        size = (s, max(1, min(math.floor(s / a), math.ceil(s / a), key=lambda n: abs(a - s / n) if n else 0)))
    return img.resize(size, Image.Resampling.NEAREST, reducing_gap=2.0)


def reduced_frame(img) -> Frame | None:
    """The frame of a decoded RGB image, looked for on a copy reduced to CHECK_SIDE, or None."""
    return find_frame(np.asarray(_reduced(img), dtype=np.uint8))


def frame_box(img) -> tuple[int, int, int, int] | None:
    """The content box of a decoded image's uniform frame in its own pixels (found on a copy
    reduced to CHECK_SIDE, scaled back and rounded inwards), or None when it has none."""
    if img.mode != "RGB":
        img = img.convert("RGB")
    small = _reduced(img)
    f = find_frame(np.asarray(small, dtype=np.uint8))
    if f is None:
        return None
    rx, ry = img.width / small.width, img.height / small.height
    left, top, right, bottom = f.box
    return math.ceil(left * rx), math.ceil(top * ry), math.floor(right * rx), math.floor(bottom * ry)


def evenly_spaced(paths: Sequence[Path], k: int) -> list[Path]:
    """At most ``k`` of ``paths``, evenly spaced (deterministic): the sample a data check reads."""
    if len(paths) <= k:
        return list(paths)
    return [paths[i] for i in np.linspace(0, len(paths) - 1, k).round().astype(int)]


def class_frames(paths: Sequence[Path]) -> tuple[int, list[Frame]]:
    """(images checked, the frames found) over at most CHECK_PER_CLASS of ``paths``."""
    checked, frames = 0, []
    for p in evenly_spaced(list(paths), CHECK_PER_CLASS):
        try:
            f = reduced_frame(open_reduced(p, CHECK_SIDE))
        except Exception:  # noqa: BLE001 - an unreadable file is reported by the loader, not here
            continue
        checked += 1
        if f is not None:
            frames.append(f)
    return checked, frames


def _colours(frames: Sequence[Frame]) -> set[tuple[int, int, int]]:
    return {tuple(c // 32 for c in f.colour) for f in frames}


def frame_warnings(real: tuple[int, list[Frame]], synthetic: tuple[int, list[Frame]]) -> list[str]:
    """Warnings when frames tell the classes apart: one class framed far more often than the
    other, or the two classes' frames in colours the other class never has.  Each class as
    (images checked, frames found): :func:`class_frames`, or ``quality.check_sample``."""
    (n0, f0), (n1, f1) = real, synthetic
    if not n0 or not n1:
        return []
    s0, s1 = len(f0) / n0, len(f1) / n1
    out = []
    if max(s0, s1) >= 0.2 and abs(s0 - s1) >= 0.2:
        out.append(f"uniform frames: {len(f0)}/{n0} real and {len(f1)}/{n1} synthetic images checked have one; "
                   "a detector can learn the frame instead of the picture")
    if len(f0) >= 5 and len(f1) >= 5 and not _colours(f0) & _colours(f1):
        def names(fs: Sequence[Frame]) -> str:
            seen = sorted({f.hex for f in fs})
            return ", ".join(seen[:4]) + (f" and {len(seen) - 4} more" if len(seen) > 4 else "")

        out.append(f"frame colour separates the classes (real: {names(f0)}; synthetic: {names(f1)}): "
                   "a detector that sees the frame learns its colour")
    return out
