"""JPEG traces in a file that is not a JPEG: the quality of the JPEG its pixels were once saved as.

A PNG (BMP, TIFF, lossless WebP) written from a decoded JPEG keeps that JPEG's quantisation:
in each 8 x 8 block of the luma channel, the DCT coefficients sit near integer multiples of the
quantisation table's steps (the decoder's rounding moves them by well under one).  The file's
header says nothing of it (``quality.jpeg_quality_from_tables`` reads no tables), so before this
reading such a file counted as quality 100 - the clean calibration - however hard the JPEG had
been compressed; on the bundle's holdout saved as JPEG q 60 then PNG, the stated rates did not hold
(docs/quality.md).

:func:`jpeg_quality_from_pixels` finds the block grid (the column and row phase where neighbouring
pixels differ most, as block edges do), takes the luma (JFIF weights) of a centred region,
and for each of the most populated low-frequency coefficients finds the largest step whose
multiples its non-zero values fit (mean distance to the nearest multiple under :data:`FIT` steps,
and no larger than for the steps one below and one above it: a step one too large still fits
large coefficients nearly as well).
The IJG quality whose luminance table is nearest to those steps is the reading when enough
coefficients agree with it exactly; otherwise None (never saved as a JPEG, resized or filtered
since, or quantised too finely to tell: steps of 1-2 are quality ~90 and above).  Measured on
the shared sets in docs/quality.md.  numpy + Pillow only.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

REGION = 768  # the centred square (px) read: 9,216 blocks at most
# the 20 lowest-frequency luma coefficients (zig-zag order after DC; index in natural order): the
# most often non-zero; the more of them are read, the fewer qualities share their steps
POSITIONS = (1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40)
MAX_STEP = 64  # the luma steps of IJG quality 10 at these positions stay below it
MIN_VALUES = 40  # non-zero coefficients a position needs to be read
MAX_VALUES = 8_000  # read at most this many per position (evenly spaced)
FIT = 0.12  # mean distance to the nearest multiple of a step (in steps) below which the step fits
MIN_AGREE = 5  # positions whose step must equal the fitted quality's table exactly
AGREE_SHARE = 0.7  # ... and at least this share of the positions read
EDGE_CAP = 4.0  # grey levels: a difference counts at most this much towards finding the block grid
LUMA = np.array([0.299, 0.587, 0.114])


def _dct_matrix() -> np.ndarray:
    """The orthonormal 8-point DCT-II (JPEG's forward DCT is its 2-D form)."""
    n = np.arange(8)
    m = np.sqrt(2 / 8) * np.cos(np.pi * (2 * n[None, :] + 1) * n[:, None] / 16)
    m[0] /= np.sqrt(2)
    return m


DCT = _dct_matrix()


def jpeg_quality_from_pixels(img: Image.Image) -> int | None:
    """The IJG quality of the JPEG whose 8 x 8 quantisation ``img``'s pixels still carry; None
    when they carry none that can be read (see the module doc)."""
    luma = _luma(img)
    if luma is None:
        return None
    coeffs = _block_dct(luma)
    if coeffs is None:
        return None
    return fit_quality({p: s for p in POSITIONS if (s := _step(coeffs[:, p])) is not None})


def fit_quality(steps: dict[int, int]) -> int | None:
    """The IJG quality whose luminance table matches ``steps`` (natural-order index -> step) best
    (the lowest of equally good ones: the harsher reading), when at least :data:`MIN_AGREE` and :data:`AGREE_SHARE`
    of them equal its table exactly; None otherwise."""
    from .quality import _LUM_Q

    if len(steps) < MIN_AGREE:
        return None
    idx = np.fromiter(steps, dtype=np.int64)
    got = np.fromiter(steps.values(), dtype=np.int64)
    err = np.abs(_LUM_Q[:, idx] - got[None, :]).sum(1)
    best = int(np.flatnonzero(err == err.min())[0])  # ties: the lowest (the harsher) quality
    agree = int((_LUM_Q[best, idx] == got).sum())
    return best + 1 if agree >= max(MIN_AGREE, AGREE_SHARE * len(steps)) else None


def _luma(img: Image.Image) -> np.ndarray | None:
    """The JFIF luma (level-shifted by 128) of a centred region at most :data:`REGION` px square,
    starting on the block grid; None when smaller than 8 blocks a side."""
    rgb = img if img.mode == "RGB" else img.convert("RGB")
    w, h = rgb.size
    if min(w, h) < 64 + 8:
        return None
    cw, ch = min(w, REGION + 8), min(h, REGION + 8)
    x0, y0 = (w - cw) // 2 // 8 * 8, (h - ch) // 2 // 8 * 8  # multiples of 8: the grid's phase is kept
    a = np.asarray(rgb.crop((x0, y0, x0 + cw, y0 + ch)), dtype=np.float32) @ LUMA.astype(np.float32) - 128.0
    px, py = _phase(a, 1), _phase(a, 0)
    a = a[py:, px:]
    bh, bw = a.shape[0] // 8 * 8, a.shape[1] // 8 * 8
    return a[:min(bh, REGION), :min(bw, REGION)]


def _phase(a: np.ndarray, axis: int) -> int:
    """Where 8 x 8 blocks start along ``axis``: the offset (0-7) before which neighbouring pixels
    differ most (differences capped at :data:`EDGE_CAP`, averaged)."""
    # d[j]: between pixel j and j + 1, averaged over the other axis with each difference capped (content
    # edges are large and sparse, block edges small and everywhere)
    d = np.minimum(np.abs(np.diff(a, axis=axis)), EDGE_CAP).mean(axis=1 - axis)
    n = d.size // 8 * 8
    by_phase = d[:n].reshape(-1, 8).mean(0)  # by_phase[k]: edges before pixel k + 1 (mod 8)
    return int((np.argmax(by_phase) + 1) % 8)


def _block_dct(luma: np.ndarray) -> np.ndarray | None:
    """Every 8 x 8 block's DCT coefficients, ``[blocks, 64]`` in natural order."""
    h, w = luma.shape
    if h < 64 or w < 64:
        return None
    blocks = luma.reshape(h // 8, 8, w // 8, 8).transpose(0, 2, 1, 3).astype(np.float64)
    return np.einsum("ui,abij,vj->abuv", DCT, blocks, DCT, optimize=True).reshape(-1, 64)


def _step(values: np.ndarray) -> int | None:
    """The largest step (2 to :data:`MAX_STEP`) whose multiples the non-zero ``values`` fit; None
    when too few are non-zero or none fits."""
    v = values[np.abs(values) > 0.8]
    if v.size < MIN_VALUES:
        return None
    if v.size > MAX_VALUES:
        v = v[:: v.size // MAX_VALUES + 1]
    steps = np.arange(2, MAX_STEP + 1, dtype=np.float64)
    r = v[:, None] / steps[None, :]
    off = np.abs(r - np.round(r)).mean(0)  # in steps
    padded = np.concatenate([[np.inf], off, [np.inf]])
    fits = (off < FIT) & (off <= padded[:-2]) & (off <= padded[2:])  # a step one too large fits nearly as well
    return int(steps[fits][-1]) if fits.any() else None


PIXELS_NOTE = (" The file is not a JPEG: that quality was read from the 8x8 block quantisation its pixels still "
               "carry (a JPEG saved again without loss keeps it).")
PIXEL_FORMATS = ("PNG", "BMP", "TIFF", "WEBP", "PPM", "TGA", "QOI")  # lossless when no lossy codec is read


def decoded_jpeg_quality(d) -> tuple[int | None, str | None]:
    """The JPEG quality of a decoded file (``inputs.decoding.Decoded``) and where it was read:
    ``"tables"`` for a JPEG (its quantisation tables), ``"pixels"`` for a lossless file whose pixels
    carry a JPEG's quantisation (:func:`jpeg_quality_from_pixels`); ``(None, None)`` otherwise
    (a lossy WebP / AVIF / HEIC or a palette file is judged by its own codec)."""
    from .quality import jpeg_quality_from_tables

    if d.jpeg_quantization:
        q = jpeg_quality_from_tables(d.jpeg_quantization)
        return (q, "tables") if q is not None else (None, None)
    if d.lossy_codec or (d.format or "").upper() not in PIXEL_FORMATS:
        return None, None
    q = jpeg_quality_from_pixels(d.image)
    return (q, "pixels") if q is not None else (None, None)

