"""Training augmentations (Pillow + numpy; no torch, no torchvision).

Wang et al. (CNNDetection) order: shorter side -> 256 (done once by the decode cache)
-> with prob p Gaussian blur, sigma ~ U[0, 3] -> independently with prob p JPEG,
quality ~ U{30..100}, encoder chosen at random between two libraries -> random crop
224 -> horizontal flip -> normalisation.  Validation: sigma 1.5, quality 65, centre crop.

The two JPEG encoders are Pillow and simplejpeg (an independent libjpeg-turbo binding,
used with cv2's default 4:2:0 chroma subsampling) — cv2 itself is not a dependency.
When simplejpeg is not installed, Pillow is used for both draws and
``jpeg_encoders()`` says so.  The blur and JPEG steps themselves, and the test-time
perturbations of ``evaluate --perturb``, are :mod:`synthdetect.evaluation.perturbations`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
from PIL import Image

from ..evaluation.perturbations import gaussian_blur, jpeg, jpeg_encoders
from ..inputs.preprocess import normalize, resize_shorter
from ..cards import InputSpec

BLUR_SIGMA = (0.0, 3.0)
JPEG_QUALITY = (30, 100)
VAL_SIGMA = 1.5
VAL_QUALITY = 65


@dataclass
class AugmentConfig:
    """Random augmentation of a training image (already resized by the decode cache)."""

    blur_prob: float = 0.5
    blur_sigma: tuple[float, float] = BLUR_SIGMA
    jpeg_prob: float = 0.5
    jpeg_quality: tuple[int, int] = JPEG_QUALITY
    resize_prob: float = 0.0  # random rescale (robustness to resizing), aspect kept
    resize_scale: tuple[float, float] = (0.5, 1.5)
    crop: int = 224
    random_crop: bool = True
    flip: bool = True
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)
    encoders: list[str] = field(default_factory=jpeg_encoders)

    def __post_init__(self) -> None:
        for name in ("blur_prob", "jpeg_prob", "resize_prob"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {v}")
        if self.crop < 8:
            raise ValueError("crop must be >= 8")

    def key(self) -> str:
        d = asdict(self)
        return repr(sorted(d.items()))

    def spec(self) -> InputSpec:
        return InputSpec(size=self.crop, resize="none", mean=self.mean, std=self.std)


def _ensure_min_side(img: Image.Image, size: int) -> Image.Image:
    # never pad: upscale, aspect kept, just enough for the crop (same policy as preprocess)
    return resize_shorter(img, size, "bilinear") if min(img.size) < size else img


def _maybe_rescale(img: Image.Image, cfg: AugmentConfig, rng: np.random.Generator, log: dict | None) -> Image.Image:
    if cfg.resize_prob > 0 and rng.random() < cfg.resize_prob:
        s = float(rng.uniform(*cfg.resize_scale))
        w, h = img.size
        img = img.resize((max(1, round(w * s)), max(1, round(h * s))), Image.Resampling.BILINEAR)
        if log is not None:
            log["resize"] = s
    return img


def _blur_jpeg(img: Image.Image, cfg: AugmentConfig, rng: np.random.Generator, log: dict | None) -> Image.Image:
    if cfg.blur_prob > 0 and rng.random() < cfg.blur_prob:
        sigma = float(rng.uniform(*cfg.blur_sigma))
        img = gaussian_blur(img, sigma)
        if log is not None:
            log["sigma"] = sigma
    if cfg.jpeg_prob > 0 and rng.random() < cfg.jpeg_prob:
        q = int(rng.integers(cfg.jpeg_quality[0], cfg.jpeg_quality[1] + 1))
        enc = cfg.encoders[int(rng.integers(len(cfg.encoders)))]
        img = jpeg(img, q, enc)
        if log is not None:
            log["quality"] = q
            log["encoder"] = enc
    return img


def perturb(img: Image.Image, cfg: AugmentConfig, rng: np.random.Generator, log: dict | None = None) -> Image.Image:
    """Random rescale, then blur, then JPEG per ``cfg`` on the whole image."""
    return _blur_jpeg(_maybe_rescale(img, cfg, rng, log), cfg, rng, log)


# Blur/JPEG on a large image only to crop 224 px afterwards wastes most of the work.  The
# crop position is drawn first and the operations run on a window around it: the window is
# aligned to the 16-pixel JPEG MCU grid of the full image (same blocks as a full-image
# encode; JPEG blocks are coded independently) and extends MARGIN pixels beyond the crop
# (more than the blur kernel's reach at sigma 3), so the cropped result matches the
# full-image result.
MARGIN = 32


def train_view(arr: np.ndarray, cfg: AugmentConfig, rng: np.random.Generator, log: dict | None = None) -> np.ndarray:
    """uint8 HWC (cached) -> rescale?, blur?, JPEG?, crop, flip?, normalised CHW float32."""
    img = Image.fromarray(arr)
    img = _ensure_min_side(_maybe_rescale(img, cfg, rng, log), cfg.crop)
    w, h = img.size
    c = cfg.crop
    if cfg.random_crop:
        left = int(rng.integers(0, w - c + 1))
        top = int(rng.integers(0, h - c + 1))
    else:
        left, top = (w - c) // 2, (h - c) // 2
    x0 = max(0, (left - MARGIN) // 16 * 16)
    y0 = max(0, (top - MARGIN) // 16 * 16)
    x1 = min(w, left + c + MARGIN)
    y1 = min(h, top + c + MARGIN)
    win = img.crop((x0, y0, x1, y1)) if (x0, y0, x1, y1) != (0, 0, w, h) else img
    win = _blur_jpeg(win, cfg, rng, log)
    out = np.asarray(win)[top - y0 : top - y0 + c, left - x0 : left - x0 + c]
    if cfg.flip and rng.random() < 0.5:
        out = out[:, ::-1]
        if log is not None:
            log["flip"] = True
    return normalize(np.ascontiguousarray(out), cfg.spec())


def val_crop(arr: np.ndarray, cfg: AugmentConfig, rng: np.random.Generator) -> np.ndarray:
    """Wang validation before normalisation: with the training probabilities, blur sigma 1.5 /
    JPEG q 65, centre crop -> uint8 HWC.  ``rng`` should be seeded per image (same every epoch)."""
    img = _ensure_min_side(Image.fromarray(arr), cfg.crop)
    w, h = img.size
    c = cfg.crop
    left, top = (w - c) // 2, (h - c) // 2
    x0, y0 = max(0, (left - MARGIN) // 16 * 16), max(0, (top - MARGIN) // 16 * 16)
    x1, y1 = min(w, left + c + MARGIN), min(h, top + c + MARGIN)
    win = img.crop((x0, y0, x1, y1)) if (x0, y0, x1, y1) != (0, 0, w, h) else img
    if cfg.blur_prob > 0 and rng.random() < cfg.blur_prob:
        win = gaussian_blur(win, VAL_SIGMA)
    if cfg.jpeg_prob > 0 and rng.random() < cfg.jpeg_prob:
        win = jpeg(win, VAL_QUALITY, cfg.encoders[int(rng.integers(len(cfg.encoders)))])
    return np.ascontiguousarray(np.asarray(win)[top - y0 : top - y0 + c, left - x0 : left - x0 + c])


def val_view(arr: np.ndarray, cfg: AugmentConfig, rng: np.random.Generator) -> np.ndarray:
    """:func:`val_crop`, normalised CHW float32."""
    return normalize(val_crop(arr, cfg, rng), cfg.spec())
