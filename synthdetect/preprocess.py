"""Image -> model input, exactly as a model card's ``InputSpec`` says.

numpy + Pillow only.  The training code uses these same functions for its
evaluation and export-parity paths, so inference and training agree bit for bit.

Policy:
  * ``resize="none"``: native resolution (detectors of low-level traces).
  * ``resize="shorter_side"``: shorter side to ``resize_to``, aspect ratio kept
    (never a square resize that distorts).
  * An image whose shorter side is below ``size`` after that step is upscaled,
    aspect kept, just enough for the crop (never zero-padded).
  * Centre crop ``size`` x ``size``; RGB scaled to [0, 1]; (x - mean) / std; CHW float32.
  * ``tiles`` K > 1: up to K x K non-overlapping ``size`` crops of the centre region (as
    many as fit, at least one), scored separately; the image's probability is their mean.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from .cards import InputSpec

_INTERP = {
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "nearest": Image.Resampling.NEAREST,
    "lanczos": Image.Resampling.LANCZOS,
}


def resize_shorter(img: Image.Image, target: int, interpolation: str = "bilinear") -> Image.Image:
    """Resize so the shorter side equals ``target``, keeping the aspect ratio."""
    w, h = img.size
    s = min(w, h)
    if s == target:
        return img
    scale = target / s
    nw, nh = max(target, round(w * scale)), max(target, round(h * scale))
    if w <= h:
        nw = target
    else:
        nh = target
    return img.resize((nw, nh), _INTERP[interpolation])


def center_crop(img: Image.Image, size: int) -> Image.Image:
    w, h = img.size
    left = (w - size) // 2
    top = (h - size) // 2
    return img.crop((left, top, left + size, top + size))


def _resized(img: Image.Image, spec: InputSpec) -> Image.Image:
    """RGB, the card's resize policy, and the upscale-to-fit for images smaller than one crop."""
    if img.mode != "RGB":
        img = img.convert("RGB")
    if spec.resize == "shorter_side":
        img = resize_shorter(img, int(spec.resize_to), spec.interpolation)
    if min(img.size) < spec.size:
        img = resize_shorter(img, spec.size, spec.interpolation)
    return img


def prepare(img: Image.Image, spec: InputSpec) -> Image.Image:
    """Resize/crop policy of the card; returns a ``size`` x ``size`` RGB image."""
    return center_crop(_resized(img, spec), spec.size)


def normalize(arr_hwc_uint8: np.ndarray, spec: InputSpec) -> np.ndarray:
    """uint8 HWC RGB -> float32 CHW normalised."""
    x = arr_hwc_uint8.astype(np.float32) * (1.0 / 255.0)
    mean = np.asarray(spec.mean, dtype=np.float32)
    inv_std = 1.0 / np.asarray(spec.std, dtype=np.float32)
    x = (x - mean) * inv_std
    return np.ascontiguousarray(x.transpose(2, 0, 1))


def to_input(img: Image.Image, spec: InputSpec) -> np.ndarray:
    """PIL image (any mode already converted to RGB by decoding) -> CHW float32."""
    return normalize(np.asarray(prepare(img, spec)), spec)


def tile_grid(width: int, height: int, spec: InputSpec) -> tuple[int, int]:
    """(columns, rows) of native ``size`` tiles scored for a (resized) image: at most
    ``spec.tiles`` each way, as many as fit, at least one."""
    s = spec.size
    return max(1, min(spec.tiles, width // s)), max(1, min(spec.tiles, height // s))


def to_inputs(img: Image.Image, spec: InputSpec) -> np.ndarray:
    """PIL image -> ``[T, 3, size, size]``: the card's tiles (T = 1 unless ``spec.tiles`` > 1)."""
    if spec.tiles == 1:
        return to_input(img, spec)[None]
    img = _resized(img, spec)
    s = spec.size
    w, h = img.size
    kx, ky = tile_grid(w, h, spec)
    left, top = (w - kx * s) // 2, (h - ky * s) // 2
    region = np.asarray(img.crop((left, top, left + kx * s, top + ky * s)))
    tiles = region.reshape(ky, s, kx, s, 3).transpose(0, 2, 1, 3, 4).reshape(ky * kx, s, s, 3)
    return np.stack([normalize(t, spec) for t in tiles])


def stack_tiles(per_image: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """``[T_i, 3, S, S]`` per image -> one batch and the tile count of each image."""
    counts = np.array([a.shape[0] for a in per_image], dtype=np.int64)
    return np.concatenate(per_image, axis=0), counts


def mean_per_image(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Per-tile scores ``[T]`` (or features ``[T, D]``) -> per-image means ``[N]`` (``[N, D]``),
    float64 (``counts`` from :func:`stack_tiles`)."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) == len(counts):
        return values
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    c = np.asarray(counts, dtype=np.float64).reshape((-1,) + (1,) * (values.ndim - 1))
    return np.add.reduceat(values, starts, axis=0) / c


def batch(arrays: list[np.ndarray]) -> np.ndarray:
    return np.stack(arrays, axis=0) if arrays else np.zeros((0, 3, 1, 1), np.float32)
