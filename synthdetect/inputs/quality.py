"""Input-quality gates: is this image one the detectors can judge at all?

numpy + Pillow only, a few milliseconds per image.  :func:`assess` measures a decoded
RGB image and names every gate it fails; a caller turns a detector verdict into
``inconclusive`` when the list is not empty (provenance findings are separate evidence
and are never hidden by a gate).  Gates, measures and thresholds (measured on
``../shared/data/val-inthewild`` by ``tools/measure_gates.py``; rates in docs/quality.md):

``too_small``
    The shorter side is below ``min_side`` (the largest input the members need, e.g.
    256 for the native-crop members): the detectors would see upscaled pixels.
``blurred_or_upscaled``
    *Fine-detail ratio* on the native-resolution centre (up to 1024 x 1024, what the
    native-crop members see): per 32 x 32 block, the energy of the finest band
    (pixel minus its [1 2 1]x[1 2 1] blur) over the energy of the same band one octave
    down (on the 2x2-averaged image); the image's value is the 90th percentile over
    blocks with some texture.  Natural 1/f content gives ~1 in focused regions; Gaussian
    blur and up-sampling empty the top octave, so even the sharpest blocks fall to 0.1-0.2.
    Contrast-normalised, so dark or low-contrast photos are not penalised.
``recompressed``
    Estimated JPEG quality (IJG quantisation tables matched to the file's, the libjpeg
    scaling formula) below a threshold.
``unmeasured_codec``
    The file is a lossy WebP, an AVIF or a HEIF/HEIC (``codecs.lossy_codec``): its compression
    cannot be estimated and no calibration measured the detectors on it (lifted for cards whose
    calibration images hold that codec, ``calibration.image_codecs``).
``composite``
    A photo on a flat canvas (social-media card with a caption, screenshot, collage).
    On a copy reduced to <= 384 px: canvas-colour candidates are the dominant colour of the
    locally flat pixels on the image border and the colour of the flattest full-length
    row/column (collage gutters, UI bars); flat pixels of that colour form the background.
    A pasted photo leaves long *straight* boundaries between background and texture.  Score =
    the largest of (a) the shorter of the two strongest horizontal boundaries, the same for
    vertical ones, or the third-strongest boundary, each as a fraction of the image side;
    (b) the best rectangle whose four sides are such boundaries with the canvas outside and
    the texture inside (smallest covered fraction of its sides; any photo size >= 4 % of the
    image); (c) test (b) for any smooth canvas (gradients) when it covers >= 80 % of the
    border; (d) a photo flush with three image edges: a full-length boundary (>= 90 %) with
    a canvas band on one side that is >= 60 % background and holds high-contrast marks
    (caption text, 0.3-30 % of it) and a photo side with <= 20 % background.  Cards, collages and screenshots score 0.75-1; natural photos (clear skies,
    studio backdrops, flat walls: flat, but not bounded by straight lines on all sides)
    stay below ~0.55.
"""

from __future__ import annotations

import io
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
from PIL import Image

from .codecs import covered_codecs, gate as codec_gate
from .frames import CHECK_PER_CLASS, CHECK_SIDE, Frame, evenly_spaced, open_reduced, reduced_frame

GATES = ("too_small", "blurred_or_upscaled", "recompressed", "unmeasured_codec", "greyscale", "composite")


@dataclass(frozen=True)
class Thresholds:
    """Gate thresholds (docs/quality.md says how each was chosen)."""

    min_sharpness: float = 0.25  # fine-detail ratio below this: blurred_or_upscaled
    min_jpeg_quality: int = 85  # estimated JPEG quality below this: recompressed (docs/quality.md)
    max_composite: float = 0.6  # composite score at or above this: composite
    sharpness_region: int = 1024  # native-resolution centre region measured for sharpness


DEFAULT_THRESHOLDS = Thresholds()


@dataclass
class QualityReport:
    """What :func:`assess` measured and which gates failed (empty ``failed``: all passed)."""

    width: int
    height: int
    min_side: int
    required_min_side: int
    sharpness: float | None  # None: too little texture to measure
    jpeg_quality: int | None  # None: not a JPEG (or tables unknown), and no JPEG read from the pixels
    composite: float
    background_fraction: float  # share of the image that is flat canvas colour
    border_uniform: float  # share of the border that is that canvas colour
    lossy_codec: str | None = None  # lossy WebP / AVIF / HEIF (synthdetect.inputs.codecs); None: JPEG or lossless
    lossy_quality: int | None = None  # a lossy WebP's quality (libwebp's scale, codecs.webp_quality)
    greyscale: bool = False  # no colour in the picture (:func:`is_greyscale`)
    jpeg_quality_source: str | None = None  # "tables" (a JPEG's header), "pixels" (inputs.jpeg_trace)
    failed: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def reasons(self) -> list[str]:
        return [g["reason"] for g in self.failed]

    @property
    def gates(self) -> list[str]:
        return [g["gate"] for g in self.failed]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["failed"] = [dict(g) for g in self.failed]
        d["ok"] = self.ok
        return d


# -- JPEG quality -------------------------------------------------------------------------------
_IJG_LUMA = np.array([
    16, 11, 10, 16, 24, 40, 51, 61,
    12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77,
    24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101,
    72, 92, 95, 98, 112, 100, 103, 99,
], dtype=np.int64)
_IJG_CHROMA = np.array([
    17, 18, 24, 47, 99, 99, 99, 99,
    18, 21, 26, 66, 99, 99, 99, 99,
    24, 26, 56, 99, 99, 99, 99, 99,
    47, 66, 99, 99, 99, 99, 99, 99,
] + [99] * 32, dtype=np.int64)


def _ijg_tables() -> tuple[np.ndarray, np.ndarray]:
    """(100, 64) luminance and chrominance tables for qualities 1..100 (libjpeg, baseline)."""
    q = np.arange(1, 101)
    scale = np.where(q < 50, 5000 // q, 200 - 2 * q)[:, None]
    lum = np.clip((_IJG_LUMA[None, :] * scale + 50) // 100, 1, 255)
    chrom = np.clip((_IJG_CHROMA[None, :] * scale + 50) // 100, 1, 255)
    return lum, chrom


_LUM_Q, _CHROM_Q = _ijg_tables()


def jpeg_quality_from_tables(tables: Mapping[int, Any] | None) -> int | None:
    """Quality 1-100 whose IJG tables are nearest (mean |difference|) to ``tables``.

    ``tables``: Pillow's ``JpegImageFile.quantization`` ({0: luminance, 1: chrominance, ...},
    64 values each in natural order).  Tables from other encoders (cameras, Photoshop) get
    the IJG quality with the nearest tables, i.e. an equivalent quality.
    """
    if not tables:
        return None
    try:
        lum = np.asarray(list(tables[0]), dtype=np.int64) if 0 in tables else None
        chrom = np.asarray(list(tables[1]), dtype=np.int64) if 1 in tables else None
    except (TypeError, ValueError):
        return None
    if lum is None or lum.size != 64:
        return None
    err = np.abs(_LUM_Q - lum[None, :]).sum(1).astype(np.float64)
    if chrom is not None and chrom.size == 64:
        err += np.abs(_CHROM_Q - chrom[None, :]).sum(1)
    best = np.flatnonzero(err == err.min())
    return int(best[-1] + 1)  # ties (near-lossless tables of all 1s): the highest quality


def jpeg_quality_estimate(img: Image.Image | Mapping[int, Any] | None) -> int | None:
    """Estimated JPEG quality of a Pillow JPEG image (its ``quantization``), else None.

    Accepts the image returned by ``Image.open`` (tables are read from the header; no pixel
    decoding needed) or the ``quantization`` mapping itself.
    """
    if img is None:
        return None
    if isinstance(img, Mapping):
        return jpeg_quality_from_tables(img)
    if getattr(img, "format", None) not in (None, "JPEG", "MPO"):
        return None
    return jpeg_quality_from_tables(getattr(img, "quantization", None))


def jpeg_quality_from_file(src: str | Path | bytes) -> int | None:
    """Estimated JPEG quality of a file path or its bytes; None for non-JPEG or unreadable.

    ``Image.open`` parses only the header here (the quantisation tables), not the pixels.
    """
    try:
        fp = io.BytesIO(src) if isinstance(src, (bytes, bytearray, memoryview)) else open(src, "rb")
        with fp, Image.open(fp) as im:
            return jpeg_quality_estimate(im)
    except Exception:
        return None


# -- sharpness (native resolution) ---------------------------------------------------------------
_BLOCK = 32
_TEXTURE_FLOOR = 1.0  # mean band energy (grey levels^2) a block needs one octave down to count
_FLAT_FLOOR = 0.01  # below this in every block the region is flat: sharpness is not measured


def _band_energy(a: np.ndarray) -> np.ndarray:
    """(16 a - [1 2 1]x[1 2 1] * a)^2 / 256 for a uint8/int16 grey image, as float32 of a's shape
    (border rows/columns 0).  Integer arithmetic: exact and several times faster than float."""
    a = a.astype(np.int16, copy=False)
    b = a[:, :-2] + 2 * a[:, 1:-1] + a[:, 2:]
    b = b[:-2] + 2 * b[1:-1] + b[2:]
    r = ((a[1:-1, 1:-1] << 4) - b).astype(np.float32)
    r *= r
    out = np.zeros(a.shape, np.float32)
    out[1:-1, 1:-1] = r
    out *= 1.0 / 256.0
    return out


def _block_mean(a: np.ndarray, b: int) -> np.ndarray:
    h, w = a.shape[0] // b, a.shape[1] // b
    return a[: h * b, : w * b].reshape(h, b, w, b).mean(axis=(1, 3))


def sharpness(img: Image.Image, region: int = 1024) -> float | None:
    """Fine-detail ratio of the native-resolution centre (see the module doc); None when the
    region has too little texture to measure (e.g. a flat image)."""
    w, h = img.size
    cw, ch = min(w, region) // _BLOCK * _BLOCK, min(h, region) // _BLOCK * _BLOCK
    if cw < 2 * _BLOCK or ch < 2 * _BLOCK:
        return None
    l, t = (w - cw) // 2, (h - ch) // 2
    crop = img.crop((l, t, l + cw, t + ch))
    g = np.asarray(crop.convert("L") if crop.mode != "L" else crop, dtype=np.int16)
    d = (g[0::2, 0::2] + g[1::2, 0::2] + g[0::2, 1::2] + g[1::2, 1::2] + 2) >> 2  # 2x2 mean, rounded
    e0 = _block_mean(_band_energy(g), _BLOCK)
    e1 = _block_mean(_band_energy(d), _BLOCK // 2)
    ok = e1 > _TEXTURE_FLOOR
    if ok.sum() < 4:  # little texture (or heavy blur): the most textured blocks, unless it is flat
        ok = np.zeros(e1.shape, bool)
        ok.flat[np.argsort(e1, axis=None)[-4:]] = True
        if e1[ok].max() < _FLAT_FLOOR:
            return None
    return float(np.percentile(e0[ok] / (e1[ok] + 1.0), 90))


# -- composite (reduced copy) --------------------------------------------------------------------
_SMALL = 384
_FLAT = 3  # 3x3 max-min (any channel) for a locally flat pixel, on the reduced copy
_COLOUR = 8  # max |channel difference| to the canvas colour
_GAP = 2  # boundary: background at row i, texture at row i + _GAP + 1 (or the reverse)
_SMOOTH_BORDER = 0.8  # a smooth (gradient) canvas counts only when it covers this share of the border
_RECT_MIN_W, _RECT_MIN_H, _RECT_MIN_AREA = 0.15, 0.08, 0.04  # smallest rectangle tested (fractions of the image)
_CLOSE = 6  # gaps of up to this many px along a boundary are bridged


def _range3(a: np.ndarray) -> np.ndarray:
    """3x3 max - min per channel (edge-replicated), max over channels; a: (3, h, w) uint8."""
    p = np.pad(a, ((0, 0), (1, 1), (1, 1)), mode="edge")
    mx = np.maximum(np.maximum(p[:, :, :-2], p[:, :, 1:-1]), p[:, :, 2:])
    mn = np.minimum(np.minimum(p[:, :, :-2], p[:, :, 1:-1]), p[:, :, 2:])
    mx = np.maximum(np.maximum(mx[:, :-2], mx[:, 1:-1]), mx[:, 2:])
    mn = np.minimum(np.minimum(mn[:, :-2], mn[:, 1:-1]), mn[:, 2:])
    mx -= mn
    return mx.max(0)


def _close_rows(b: np.ndarray, g: int) -> np.ndarray:
    """Morphological closing along axis 1 bridging gaps of up to ``g`` (dilate, then erode,
    radius ceil(g/2)); windows are truncated at the ends."""
    r = (g + 1) // 2
    dil = b.copy()
    for k in range(1, r + 1):
        dil[:, k:] |= b[:, :-k]
        dil[:, :-k] |= b[:, k:]
    ero = dil.copy()
    for k in range(1, r + 1):
        ero[:, k:] &= dil[:, :-k]
        ero[:, :-k] &= dil[:, k:]
    return ero


def _two_peaks(profile: np.ndarray) -> tuple[float, float]:
    """The highest value and the highest one at least 5 % of the length away from it."""
    if profile.size == 0:
        return 0.0, 0.0
    i = int(profile.argmax())
    r = max(1, profile.size // 20)
    rest = np.concatenate([profile[: max(0, i - r)], profile[i + r + 1:]])
    return float(profile[i]), float(rest.max()) if rest.size else 0.0


def _mode_colour(a8: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean colour of the most common 32-level colour bin among the ``mask`` pixels."""
    px = a8[:, mask].astype(np.int32)  # (3, n)
    key = ((px[0] >> 3) << 10) | ((px[1] >> 3) << 5) | (px[2] >> 3)
    return np.rint(px[:, key == np.bincount(key).argmax()].mean(1)).astype(np.int16)


def _peaks(profile: np.ndarray, k: int = 5, floor: float = 0.1) -> list[int]:
    """Up to ``k`` positions of the highest values >= ``floor``, at least 2 % of the length apart."""
    p = profile.copy()
    r = max(2, p.size // 50)
    out = []
    for _ in range(k):
        i = int(p.argmax())
        if p[i] < floor:
            break
        out.append(i)
        p[max(0, i - r): i + r + 1] = -1.0
    return out


def _rectangle(top: np.ndarray, bottom: np.ndarray, left: np.ndarray, right: np.ndarray) -> float:
    """Best rectangle whose four sides are all straight canvas/texture boundaries with the canvas
    outside and the texture inside: the smallest of its four sides' covered fractions (1.0 = a
    photo pasted on the canvas).  ``top``/``bottom``: (rows, width) maps of boundaries with the
    canvas above/below; ``left``/``right``: (cols, height) maps with the canvas left/right."""
    nh, W = top.shape
    nv, H = left.shape

    def spread(m):  # tolerate a boundary spread over neighbouring rows/cols (resampling, ringing)
        return m | np.pad(m[1:], ((0, 1), (0, 0))) | np.pad(m[:-1], ((1, 0), (0, 0)))

    top, bottom, left, right = spread(top), spread(bottom), spread(left), spread(right)
    rows, cols = _peaks((top | bottom).mean(1)), _peaks((left | right).mean(1))
    if len(rows) < 2 or len(cols) < 2:
        return 0.0

    def csum(m):
        c = np.zeros((m.shape[0], m.shape[1] + 1), np.int32)
        np.cumsum(m, axis=1, out=c[:, 1:])
        return c

    st, sb, sl, sr = csum(top), csum(bottom), csum(left), csum(right)
    g = _GAP + 1
    best = 0.0
    for a in range(len(rows)):
        for b in range(a + 1, len(rows)):
            i0, i1 = sorted((rows[a], rows[b]))
            if i1 - i0 < _RECT_MIN_H * H:
                continue
            for c in range(len(cols)):
                for d in range(c + 1, len(cols)):
                    j0, j1 = sorted((cols[c], cols[d]))
                    if j1 - j0 < _RECT_MIN_W * W or (j1 - j0) * (i1 - i0) < _RECT_MIN_AREA * W * H:
                        continue
                    lo_j, hi_j = j0 + g, j1 + 1  # the rectangle's span between its vertical sides
                    lo_i, hi_i = i0 + g, i1 + 1
                    cov = min(
                        (st[i0, hi_j] - st[i0, lo_j]) / (hi_j - lo_j),
                        (sb[i1, hi_j] - sb[i1, lo_j]) / (hi_j - lo_j),
                        (sl[j0, hi_i] - sl[j0, lo_i]) / (hi_i - lo_i),
                        (sr[j1, hi_i] - sr[j1, lo_i]) / (hi_i - lo_i),
                    )
                    best = max(best, float(cov))
    return best


def _caption_band(maps: list[np.ndarray], bg: np.ndarray, strong: np.ndarray) -> float:
    """A photo flush with three image edges next to a captioned canvas band: a full-length
    straight boundary (canvas on one side, covered >= 90 %), the canvas side mostly background
    with a few high-contrast marks (text), the photo side almost no background."""
    best = 0.0
    s = _GAP + 1
    for first, second, b, st in ((maps[0], maps[1], bg, strong), (maps[2], maps[3], bg.T, strong.T)):
        n = b.shape[0]
        for prof, canvas_before in ((first.mean(1), True), (second.mean(1), False)):
            for i in _peaks(prof, k=2, floor=0.9):
                canvas = slice(0, i + 1) if canvas_before else slice(i + s, n)
                photo = slice(i + s, n) if canvas_before else slice(0, i + 1)
                if min(canvas.stop - canvas.start, photo.stop - photo.start) < 0.08 * n:
                    continue
                marks = float(st[canvas].mean())
                if b[canvas].mean() >= 0.6 and b[photo].mean() <= 0.2 and 0.003 <= marks <= 0.3:
                    best = max(best, float(prof[i]))
    return best


def _canvas_score(a16: np.ndarray, rng: np.ndarray, colour: np.ndarray | None, border: np.ndarray) -> tuple[float, float, float, float]:
    """(composite score, background fraction, border uniformity, rectangle) for one canvas colour;
    ``colour`` None: any smooth canvas (gradients), judged by the rectangle test alone."""
    if colour is None:
        bg = rng <= _FLAT
        tex = rng > 2 * _FLAT
    else:
        near = np.abs(a16 - colour[:, None, None]).max(0) <= _COLOUR
        bg = near & (rng <= 2 * _FLAT)
        tex = ~near
    s = _GAP + 1
    t_top = bg[:-s] & tex[s:]  # canvas above, texture below: one row per i
    t_bot = tex[:-s] & bg[s:]
    t_left = np.ascontiguousarray((bg[:, :-s] & tex[:, s:]).T)  # canvas left (cols x rows)
    t_right = np.ascontiguousarray((tex[:, :-s] & bg[:, s:]).T)
    maps = [_close_rows(m, _CLOSE) for m in (t_top, t_bot, t_left, t_right)]
    h1, h2 = _two_peaks((maps[0] | maps[1]).mean(1))
    v1, v2 = _two_peaks((maps[2] | maps[3]).mean(1))
    third = sorted((h1, h2, v1, v2))[1]
    rect = _rectangle(*maps)
    if colour is None:  # a smooth canvas must surround the photo: most of the border is smooth
        around = float(bg[border].mean())
        rect = rect if around >= _SMOOTH_BORDER else 0.0
        return rect, float(bg.mean()), around, rect
    edges = max(min(h1, h2), min(v1, v2), third)
    strong = np.abs(a16 - colour[:, None, None]).max(0) > 64
    band = _caption_band(maps, bg, strong)
    return float(max(edges, rect, band)), float(bg.mean()), float(bg[border].mean()), rect


def composite_measures(img: Image.Image) -> dict[str, float]:
    """Composite score, background fraction and border uniformity (see the module doc).

    Canvas colour candidates: the dominant colour of the flat pixels on the image border
    (cards, screenshots), and the colour of the flattest full-length row or column when it is
    flat over >= 95 % of its length (collage gutters, UI bars); the higher score wins.
    """
    w, h = img.size
    f = max(1, math.ceil(max(w, h) / _SMALL))
    small = img.reduce(f) if f > 1 else img
    if small.mode != "RGB":
        small = small.convert("RGB")
    a8 = np.ascontiguousarray(np.asarray(small, dtype=np.uint8).transpose(2, 0, 1))  # (3, h, w)
    hh, ww = a8.shape[1:]
    out = {"composite": 0.0, "background_fraction": 0.0, "border_uniform": 0.0, "rectangle": 0.0}
    if hh < 16 or ww < 16:
        return out
    rng = _range3(a8)
    flat = rng <= _FLAT
    if flat.sum() < 0.005 * hh * ww:
        return out
    bd = max(1, min(hh, ww) // 100)
    border = np.zeros((hh, ww), bool)
    border[:bd] = border[-bd:] = True
    border[:, :bd] = border[:, -bd:] = True
    candidates = []
    src = flat & border
    candidates.append(_mode_colour(a8, src if src.sum() >= 0.1 * border.sum() else flat))
    rows, cols = flat.mean(1), flat.mean(0)
    line = None
    if rows.max() >= 0.95 and rows.max() >= cols.max():
        line = np.zeros_like(flat)
        line[int(rows.argmax())] = True
    elif cols.max() >= 0.95:
        line = np.zeros_like(flat)
        line[:, int(cols.argmax())] = True
    if line is not None:
        c = _mode_colour(a8, line & flat)
        if np.abs(c - candidates[0]).max() > _COLOUR:
            candidates.append(c)
    a16 = a8.astype(np.int16)
    if flat[border].mean() >= _SMOOTH_BORDER:  # a smooth (gradient) canvas around the photo?
        candidates.append(None)
    best = max(_canvas_score(a16, rng, c, border) for c in candidates)
    out["composite"], out["background_fraction"], out["border_uniform"], out["rectangle"] = best
    return out


# A card whose calibration images are at least this share composites (``calibration.composites``,
# written by ``train probe``) was measured on composites: scan does not apply the composite gate to it.
COMPOSITES_CALIBRATED = 0.5


def mostly_composites(checked: int, found: int) -> bool:
    """Whether ``found`` composites among ``checked`` images are enough for a calibration to cover
    composites (see COMPOSITES_CALIBRATED)."""
    return checked > 0 and found >= COMPOSITES_CALIBRATED * checked


def composites_calibrated(calibration: Mapping[str, Any] | None) -> bool:
    """Whether a card's calibration images were mostly composites (:func:`mostly_composites`)."""
    c = (calibration or {}).get("composites") or {}
    return mostly_composites(int(c.get("checked") or 0), int(c.get("found") or 0))


# What a calibration covers.  ``train probe`` records, per class, the calibration images' JPEG
# qualities and sharpness; an image at least as good as ``covered`` (a low value of both classes)
# was judged among images like it when the card's rates were measured, so scan lifts the
# ``recompressed`` / ``blurred_or_upscaled`` gate for it (docs/quality.md).
SHARPNESS_COVERED_PERCENTILE = 10  # a tenth of each class's calibration images at most this sharp
# gate, its measure in the quality report, the calibration record whose ``covered`` floor lifts it,
# and the ``Thresholds`` field it replaces (also its name in :func:`calibration_covers`)
FLOOR_GATES = (("recompressed", "jpeg_quality", "image_jpeg_quality", "min_jpeg_quality"),
               ("blurred_or_upscaled", "sharpness", "image_sharpness", "min_sharpness"))


def jpeg_quality_range(qualities: Sequence[int | None], labels: Sequence[int]) -> dict[str, Any] | None:
    """A card's ``calibration.image_jpeg_quality``: per class, the calibration images' estimated
    JPEG qualities (``None``: not a JPEG and no JPEG read from its pixels, ``inputs.jpeg_trace``: counted
    as quality 100, stored without loss) as
    ``{min, max, jpeg, n}``, and ``covered``: the lowest quality at which *both* classes' rates were
    measured (the larger of the two class minima).  None when a class is missing."""
    out: dict[str, Any] = {}
    for label, name in ((0, "real"), (1, "synthetic")):
        qs = [q for q, y in zip(qualities, labels) if int(y) == label]
        if not qs:
            return None
        vals = [100 if q is None else int(q) for q in qs]
        out[name] = {"min": min(vals), "max": max(vals), "jpeg": sum(q is not None for q in qs), "n": len(qs)}
    out["covered"] = max(out["real"]["min"], out["synthetic"]["min"])
    return out


def sharpness_range(values: Sequence[float | None], labels: Sequence[int]) -> dict[str, Any] | None:
    """A card's ``calibration.image_sharpness``: per class, the calibration images' fine-detail
    ratios (:func:`image_sharpness`; ``None``, too flat to measure, left out) as ``{min, p10,
    median, n}``, and ``covered``: the larger of the two classes' 10th percentiles (the ratio at or
    below which a tenth of *each* class lies; a single soft image does not stretch it).  None when
    a class has fewer than 5 measured images."""
    out: dict[str, Any] = {}
    for label, name in ((0, "real"), (1, "synthetic")):
        v = np.array([x for x, y in zip(values, labels) if int(y) == label and x is not None], dtype=np.float64)
        if v.size < 5:
            return None
        p = float(np.percentile(v, SHARPNESS_COVERED_PERCENTILE, method="lower"))
        out[name] = {"min": round(float(v.min()), 4), "p10": round(p, 4),
                     "median": round(float(np.median(v)), 4), "n": int(v.size)}
    out["covered"] = max(out["real"]["p10"], out["synthetic"]["p10"])
    return out


def calibrated_floor(calibrations: Sequence[Mapping[str, Any] | None], key: str) -> float | None:
    """The value of a measure (``key``: ``image_jpeg_quality``, ``image_sharpness``) down to which
    *every* card's rates were measured (the largest of their ``covered``); None when any card does
    not record it (older cards, the bundle): then the gate's own threshold stands."""
    covered = [((c or {}).get(key) or {}).get("covered") for c in calibrations]
    if not covered or any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in covered):
        return None
    return max(covered)


def calibration_covers(calibration: Mapping[str, Any] | None) -> dict[str, Any]:
    """What one card's calibration images cover, as scan reads it: the smallest shorter side, the
    JPEG quality and sharpness floors (``covered``), whether they were mostly composites,
    ``codecs``: the lossy non-JPEG codecs it holds enough of, and ``codec_quality``: the lowest
    quality of each it was measured at (lossy WebP; None when not read); ``lifted``: the gates scan does not
    apply to images inside that range for this card alone (``recompressed`` below q 85,
    ``blurred_or_upscaled`` below 0.25, ``composite``, ``unmeasured_codec`` for those codecs)."""
    cal = calibration or {}
    out: dict[str, Any] = {"min_side": (cal.get("image_min_side") or {}).get("min")}
    lifted = []
    for gate, _, key, limit in FLOOR_GATES:
        out[limit] = floor = calibrated_floor([cal], key)
        if floor is not None and floor < getattr(DEFAULT_THRESHOLDS, limit):
            lifted.append(gate)
    out["composites"] = composites_calibrated(cal)
    out["greyscale"] = greyscale_calibrated(cal)
    codecs = covered_codecs([cal])
    out["codecs"] = sorted(codecs)
    out["codec_quality"] = {c: q for c, q in sorted(codecs.items()) if q is not None}
    out["lifted"] = (lifted + (["composite"] if out["composites"] else []) + (["unmeasured_codec"] if out["codecs"] else [])
                     + (["greyscale"] if out["greyscale"] else []))
    return out


def image_sharpness(img: Image.Image) -> float | None:
    """:func:`sharpness` of a decoded image exactly as :func:`assess` measures it."""
    if img.mode not in ("RGB", "L"):
        img = img.convert("RGB")
    return sharpness(img, DEFAULT_THRESHOLDS.sharpness_region)


@dataclass(frozen=True)
class SampleFindings:
    """What the data checks of a training sample found (:func:`check_sample`)."""

    frames: tuple[tuple[int, list[Frame]], tuple[int, list[Frame]]]  # real, synthetic: (checked, frames)
    composites: tuple[int, int]  # (images checked, composites among them), both classes
    greyscale: tuple[tuple[int, int], tuple[int, int]] = ((0, 0), (0, 0))  # real, synthetic: (checked, greyscale)

    def composite_counts(self) -> dict[str, int]:
        return {"checked": self.composites[0], "found": self.composites[1]}

    def greyscale_counts(self) -> dict[str, Any] | None:
        """A card's ``calibration.image_greyscale`` (:func:`greyscale_range`)."""
        return greyscale_range(*self.greyscale)


def check_sample(real: Sequence[Path], synthetic: Sequence[Path]) -> SampleFindings:
    """The frame and composite checks of a training sample, one decode per image: at most
    ``CHECK_PER_CLASS`` of each class, evenly spaced, decoded at a reduced scale (JPEG) no smaller
    than the composite measure reads; the frame is looked for on a CHECK_SIDE copy of it
    (``frames.reduced_frame``).  Unreadable files are left to the loader's report."""
    frames, grey, checked, found = [], [], 0, 0
    for paths in (real, synthetic):
        n, fs, g = 0, [], 0
        for p in evenly_spaced(list(paths), CHECK_PER_CLASS):
            try:
                img = open_reduced(p, max(2 * _SMALL, CHECK_SIDE))
            except Exception:  # noqa: BLE001 - unreadable files are reported by the loader
                continue
            n += 1
            g += is_greyscale(img)
            if (f := reduced_frame(img)) is not None:
                fs.append(f)
            found += composite_measures(img)["composite"] >= Thresholds().max_composite
        frames.append((n, fs))
        grey.append((n, g))
        checked += n
    return SampleFindings(frames=(frames[0], frames[1]), composites=(checked, int(found)), greyscale=(grey[0], grey[1]))


# -- greyscale ------------------------------------------------------------------------------------
GREY_MODES = ("1", "L", "LA", "La", "I", "F")  # Pillow modes without colour (and every "I;16…")
GREY_TOLERANCE = 6  # channel differences (levels) JPEG's chroma rounding leaves in a grey picture
GREY_OUTLIERS = 0.002  # share of pixels allowed beyond it (a coloured speck, a watermark)
GREY_SIDE = 512  # measured on a copy reduced to at most this longer side
GREY_SHARE_GAP = 0.2  # greyscale shares of the two classes this far apart: the warning (as for frames)
GREY_COVERED_SHARE = 0.1  # a tenth of each class greyscale: the card's rates were measured on such images
GREY_REASON = ("The image is greyscale: the detectors' error rates were measured on colour images, and greyscale "
               "moves their scores (the bundled probe's colour thresholds called 23 of 43 greyscale fakes real, "
               "docs/quality.md), so no calibrated verdict is given; a probe calibrated on greyscale copies "
               "(train probe --conditions default,grey90,grey75) or on greyscale images judges it.")


def greyscale_range(real: tuple[int, int], synthetic: tuple[int, int]) -> dict[str, Any] | None:
    """A card's ``calibration.image_greyscale``: per class the images checked and the greyscale ones
    among them, and ``covered``: at least a tenth of each class is greyscale (scan then lifts its
    ``greyscale`` gate for the card, as ``unmeasured_codec`` for a codec).  None when a class was not checked."""
    (n0, g0), (n1, g1) = real, synthetic
    if not n0 or not n1:
        return None
    covered = all(g > 0 and g >= GREY_COVERED_SHARE * n for n, g in ((n0, g0), (n1, g1)))
    return {"real": {"checked": int(n0), "greyscale": int(g0)}, "synthetic": {"checked": int(n1), "greyscale": int(g1)},
            "covered": covered}


def greyscale_calibrated(calibration: Mapping[str, Any] | None) -> bool:
    """Whether a card's calibration images cover greyscale (:func:`greyscale_range`'s ``covered``)."""
    return bool(((calibration or {}).get("image_greyscale") or {}).get("covered"))


def greyscale_warnings(real: tuple[int, int], synthetic: tuple[int, int]) -> list[str]:
    """The warning when greyscale tells the classes apart in a training sample (``(checked, greyscale)``
    per class, :func:`check_sample`): black-and-white photos against colour renders teach a probe colour,
    not a generator's trace."""
    (n0, g0), (n1, g1) = real, synthetic
    if not n0 or not n1 or abs(g0 / n0 - g1 / n1) < GREY_SHARE_GAP:
        return []
    return [f"greyscale separates the classes (real: {g0} of {n0} checked greyscale; synthetic: {g1} of {n1}): "
            "the probe may learn colour, not the generator; build both classes alike (both in colour, or "
            "both greyscale)"]



def greyscale_mode(mode: str | None) -> bool:
    """Whether a Pillow mode holds no colour (``L``, ``LA``, ``1``, ``I``, ``F``, every ``I;16…``)."""
    return bool(mode) and (mode in GREY_MODES or mode.startswith("I;16"))


def is_greyscale(img: Image.Image, mode: str | None = None) -> bool:
    """Whether the picture carries no colour: a file in a greyscale mode (``mode``: the file's
    original Pillow mode, e.g. ``L``, ``LA``, ``I;16``), or an RGB/palette one whose channels agree
    within :data:`GREY_TOLERANCE` levels on all but :data:`GREY_OUTLIERS` of its pixels (a grey
    picture saved as a colour JPEG, a screenshot of one).  A toned print (sepia) has colour: it is
    not greyscale.  Measured on a copy reduced to :data:`GREY_SIDE` (≈ 2-5 ms)."""
    if greyscale_mode(mode or img.mode):
        return True
    small = img
    if max(img.size) > GREY_SIDE:
        factor = max(1, -(-max(img.size) // GREY_SIDE))
        small = img.reduce(factor) if img.mode in ("RGB", "L") else img.convert("RGB").reduce(factor)
    a = np.asarray(small.convert("RGB") if small.mode != "RGB" else small, dtype=np.int16)
    d = np.maximum(np.abs(a[..., 0] - a[..., 1]), np.abs(a[..., 1] - a[..., 2]))
    return bool(np.mean(d > GREY_TOLERANCE) <= GREY_OUTLIERS)


def file_is_greyscale(path: Path | str) -> bool | None:
    """:func:`is_greyscale` of a file, decoded at a reduced scale (a JPEG at 1/2..1/8, no smaller than
    :data:`GREY_SIDE`), as ``evaluate`` counts the images a card's calibration does not cover; None
    when the file cannot be read (it is reported where it is scored)."""
    try:
        img = open_reduced(Path(path), GREY_SIDE)
    except Exception:  # noqa: BLE001 - unreadable files are reported by the scorer
        return None
    try:
        return is_greyscale(img)
    finally:
        img.close()


# -- the gates -----------------------------------------------------------------------------------
def assess(
    img: Image.Image,
    *,
    min_side: int,
    jpeg_quality: int | None = None,
    lossy_codec: str | None = None,
    lossy_quality: int | None = None,
    greyscale: bool | None = None,
    thresholds: Thresholds | None = None,
    jpeg_quality_source: str | None = None,
) -> QualityReport:
    """Measure ``img`` (decoded RGB, EXIF orientation applied) and name the gates it fails.

    ``min_side``: the largest input size among the detectors that will judge it.
    ``jpeg_quality``: the file's estimated JPEG quality (:func:`jpeg_quality_estimate` on the
    image as opened, before any mode conversion); when None and ``img`` still carries its
    JPEG ``quantization`` tables, they are used.
    ``lossy_codec``: the file's lossy non-JPEG codec (``codecs.lossy_codec``): the ``unmeasured_codec`` gate;
    ``lossy_quality``: its quality where the file tells it (``codecs.lossy_quality``: lossy WebP).
    ``jpeg_quality_source``: ``"pixels"`` when ``jpeg_quality`` was read from the pixels of a file that
    is not a JPEG (``inputs.jpeg_trace``; the gate's reason says so), ``"tables"`` (the default when given).
    ``greyscale``: whether the picture has no colour (:func:`is_greyscale`; measured here when None).
    A greyscale picture fails the ``greyscale`` gate; scan lifts it for a card calibrated on greyscale
    copies (``scan/conditions.py``: their rates judge it) or on greyscale images (:func:`greyscale_calibrated`).
    """
    t = thresholds or DEFAULT_THRESHOLDS
    if greyscale is None:
        greyscale = is_greyscale(img)
    if jpeg_quality is None:
        jpeg_quality = jpeg_quality_estimate(img) if hasattr(img, "quantization") else None
    if img.mode not in ("RGB", "L"):
        img = img.convert("RGB")
    w, h = img.size
    side = min(w, h)
    sharp = sharpness(img, t.sharpness_region)
    comp = composite_measures(img.convert("RGB") if img.mode != "RGB" else img)
    rep = QualityReport(
        width=w, height=h, min_side=side, required_min_side=int(min_side),
        sharpness=None if sharp is None else round(sharp, 4),
        jpeg_quality=jpeg_quality,
        composite=round(comp["composite"], 4),
        background_fraction=round(comp["background_fraction"], 4),
        border_uniform=round(comp["border_uniform"], 4),
        lossy_codec=lossy_codec,
        lossy_quality=lossy_quality,
        greyscale=bool(greyscale),
        jpeg_quality_source=None if jpeg_quality is None else (jpeg_quality_source or "tables"),
    )
    if side < min_side:
        rep.failed.append({
            "gate": "too_small", "value": side, "threshold": int(min_side),
            "reason": f"The image is {w}x{h} px: its shorter side ({side} px) is below the {int(min_side)} px "
                      "the detectors take in, so they would judge upscaled pixels.",
        })
    if sharp is not None and sharp < t.min_sharpness:
        rep.failed.append({
            "gate": "blurred_or_upscaled", "value": round(sharp, 4), "threshold": t.min_sharpness,
            "reason": f"The image is blurred or upscaled (fine-detail ratio {sharp:.2f} < {t.min_sharpness}): "
                      "the pixel-level traces the residual detectors read are gone.",
        })
    if jpeg_quality is not None and jpeg_quality < t.min_jpeg_quality:
        saved = (f"The image was saved at an estimated JPEG quality of {jpeg_quality}" if rep.jpeg_quality_source != "pixels"
                 else f"The file is not a JPEG, but its pixels carry the 8x8 block quantisation of a JPEG saved at an "
                      f"estimated quality of {jpeg_quality}")
        rep.failed.append({
            "gate": "recompressed", "value": int(jpeg_quality), "threshold": t.min_jpeg_quality,
            "reason": f"{saved} (< {t.min_jpeg_quality}): heavy compression overwrites the traces the detectors read.",
        })
    if (entry := codec_gate(lossy_codec, lossy_quality)) is not None:
        rep.failed.append(entry)
    if greyscale:
        rep.failed.append({"gate": "greyscale", "value": "greyscale", "threshold": None, "reason": GREY_REASON})
    if comp["composite"] >= t.max_composite:
        rep.failed.append({
            "gate": "composite", "value": round(comp["composite"], 4), "threshold": t.max_composite,
            "reason": f"The image looks like a composite - a photo on a flat canvas with text or frames "
                      f"(card, screenshot, collage; score {comp['composite']:.2f} >= {t.max_composite}): "
                      "the detectors would judge the canvas, not the photo in it.",
        })
    return rep


def required_min_side(specs) -> int:
    """The ``min_side`` to pass to :func:`assess` for models with these ``InputSpec``s: the
    largest crop size, or ``resize_to`` for shorter-side models (below it they upscale)."""
    side = 0
    for s in specs:
        side = max(side, int(getattr(s, "size", 0) or 0))
        if getattr(s, "resize", "none") == "shorter_side":
            side = max(side, int(getattr(s, "resize_to", 0) or 0))
    return side
