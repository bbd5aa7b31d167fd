"""Image -> model input, exactly as a model card's ``InputSpec`` says.

numpy + Pillow only.  The training code uses these same functions for its
evaluation and export-parity paths, so inference and training agree bit for bit.

Policy:
  * ``resize="none"``: native resolution (detectors of low-level traces).
  * ``resize="shorter_side"``: shorter side to ``resize_to``, aspect ratio kept
    (never a square resize that distorts).
  * An image whose shorter side is below ``size`` after that step is upscaled,
    aspect kept, just enough for the crop (never zero-padded); with ``upscale_below`` N,
    one below N is upscaled to N (several crops of a small image instead of one).
  * ``strip_frames``: a uniform frame (``inputs.frames``) is cut off first.
  * Centre crop ``size`` x ``size``; RGB scaled to [0, 1]; (x - mean) / std; CHW float32.
  * ``tiles`` K > 1: up to K x K non-overlapping ``size`` crops of the centre region (as
    many as fit, at least one), scored separately; the image's probability is their mean.
  * ``flip``: each crop's left-right mirror is scored too (after the originals).
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

from ..cards import InputSpec

_INTERP = {
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "nearest": Image.Resampling.NEAREST,
    "lanczos": Image.Resampling.LANCZOS,
}


def shorter_side_size(width: int, height: int, target: int) -> tuple[int, int]:
    """The (width, height) that :func:`resize_shorter` gives: shorter side ``target``, aspect kept."""
    s = min(width, height)
    if s == target:
        return width, height
    scale = target / s
    nw, nh = max(target, round(width * scale)), max(target, round(height * scale))
    if width <= height:
        nw = target
    else:
        nh = target
    return nw, nh


def resize_shorter(img: Image.Image, target: int, interpolation: str = "bilinear") -> Image.Image:
    """Resize so the shorter side equals ``target``, keeping the aspect ratio."""
    size = shorter_side_size(img.width, img.height, target)
    return img if size == img.size else img.resize(size, _INTERP[interpolation])


def center_crop(img: Image.Image, size: int) -> Image.Image:
    w, h = img.size
    left = (w - size) // 2
    top = (h - size) // 2
    return img.crop((left, top, left + size, top + size))


# A resized image up to this many pixels is made whole and cropped (the historical path, bit for bit);
# beyond it only the region kept is resampled (Pillow's ``box``), so a thin strip upscaled for the crop
# (100000x1 -> 22400000x224) costs the crop's pixels, not gigabytes.
WHOLE_RESIZE_MAX_PIXELS = 1 << 22


def _policy_sizes(w: int, h: int, spec: InputSpec) -> list[tuple[int, int]]:
    """The sizes the card's resize policy goes through (none, one or two resamplings)."""
    sizes = []
    if spec.resize == "shorter_side":
        sizes.append(shorter_side_size(w, h, int(spec.resize_to)))
    last = sizes[-1] if sizes else (w, h)
    floor = max(int(spec.size), int(spec.upscale_below or 0))
    if min(last) < floor:
        sizes.append(shorter_side_size(*last, floor))
    return [s for s in sizes if s != (w, h)]


def _box_resize(img: Image.Image, source: tuple[int, int], full: tuple[int, int], box: tuple[int, int, int, int],
                interpolation: str, offset: tuple[int, int] = (0, 0)) -> Image.Image:
    """The region ``box`` (``full`` coordinates) of an image of size ``source`` resized to ``full``,
    resampled alone (Pillow's ``box``: the filter still reads the pixels around it).  ``img`` is
    that image or a crop of it whose top-left lies at ``offset`` and which holds those pixels."""
    fx, fy = source[0] / full[0], source[1] / full[1]
    (l, t, r, b), (ox, oy) = box, offset
    return img.resize((r - l, b - t), _INTERP[interpolation],
                      box=(l * fx - ox, t * fy - oy, r * fx - ox, b * fy - oy))


def resized_size(width: int, height: int, spec: InputSpec) -> tuple[int, int]:
    """The size of an image after the card's resize policy (computed, nothing resampled)."""
    sizes = _policy_sizes(width, height, spec)
    return sizes[-1] if sizes else (width, height)


def _centre_region(img: Image.Image, spec: InputSpec, region: tuple[int, int]) -> Image.Image:
    """The centre ``region`` (width, height) of the image the card's resize policy makes.  Small
    results are resized whole then cropped (exactly as before); large ones resample only the region
    (and, for two resamplings, only what the second reads): memory follows the region, not the
    image's aspect ratio."""
    if img.mode != "RGB":
        img = img.convert("RGB")
    src = img.size
    sizes = _policy_sizes(*src, spec)
    fw, fh = sizes[-1] if sizes else src
    rw, rh = region
    l, t = (fw - rw) // 2, (fh - rh) // 2
    box = (l, t, l + rw, t + rh)
    if not sizes:
        return img.crop(box)
    if max(w * h for w, h in sizes) <= WHOLE_RESIZE_MAX_PIXELS:
        for s in sizes:
            img = img.resize(s, _INTERP[spec.interpolation])
        return img.crop(box)
    if len(sizes) == 1:
        return _box_resize(img, src, sizes[0], box, spec.interpolation)
    # two resamplings (resize_to < size): the first makes only what the second reads, with a margin
    # for its filter (an upscale reads <= 3 px beyond the box), in the first result's coordinates
    (mw, mh), m = sizes[0], 4
    fx, fy = mw / fw, mh / fh
    mbox = (max(0, math.floor(l * fx) - m), max(0, math.floor(t * fy) - m),
            min(mw, math.ceil((l + rw) * fx) + m), min(mh, math.ceil((t + rh) * fy) + m))
    mid = _box_resize(img, src, sizes[0], mbox, spec.interpolation)
    return _box_resize(mid, sizes[0], (fw, fh), box, spec.interpolation, offset=mbox[:2])


def content(img: Image.Image, spec: InputSpec) -> Image.Image:
    """The picture the card's policy works on: with ``strip_frames``, the image inside a uniform
    frame (found on a reduced copy, its box scaled back; :func:`synthdetect.inputs.frames.frame_box`)."""
    if not spec.strip_frames:
        return img
    from .frames import frame_box

    box = frame_box(img)
    return img if box is None else img.crop(box)


def prepare(img: Image.Image, spec: InputSpec) -> Image.Image:
    """Resize/crop policy of the card; returns a ``size`` x ``size`` RGB image."""
    return _centre_region(content(img, spec), spec, (spec.size, spec.size))


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
    """PIL image -> ``[T, 3, size, size]``: the card's tiles (T = 1 unless ``spec.tiles`` > 1),
    then, with ``spec.flip``, their mirrors (2T)."""
    x = _tiles(img, spec)
    return np.concatenate([x, x[..., ::-1]]) if spec.flip else x


def _tiles(img: Image.Image, spec: InputSpec) -> np.ndarray:
    if spec.tiles == 1:
        return to_input(img, spec)[None]
    s = spec.size
    img = content(img, spec)
    kx, ky = tile_grid(*resized_size(img.width, img.height, spec), spec)
    region = np.asarray(_centre_region(img, spec, (kx * s, ky * s)))
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
