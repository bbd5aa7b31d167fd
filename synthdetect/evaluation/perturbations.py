"""Image degradations: the test-time perturbations of ``evaluate --perturb`` and the blur/JPEG steps
that training augmentation (:mod:`synthdetect.train.augment`) draws at random (Pillow + numpy).

``parse_perturbations("jpeg:50,blur:2,resize:0.5")`` gives the list that ``apply_perturbations``
applies, in order, to a decoded image.  JPEG is encoded by Pillow or by simplejpeg (an independent
libjpeg-turbo binding, cv2's default 4:2:0 chroma subsampling); ``jpeg_encoders()`` says which exist.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageFilter


def jpeg_encoders() -> list[str]:
    encs = ["pil"]
    try:
        import simplejpeg  # noqa: F401

        encs.append("simplejpeg")
    except ImportError:
        pass
    return encs


def gaussian_blur(img: Image.Image, sigma: float) -> Image.Image:
    """Gaussian blur with standard deviation ``sigma`` pixels (0 = identity)."""
    if sigma <= 0:
        return img
    return img.filter(ImageFilter.GaussianBlur(radius=float(sigma)))


def jpeg(img: Image.Image, quality: int, encoder: str = "pil") -> Image.Image:
    """Encode to JPEG at ``quality`` with ``encoder`` and decode back (Pillow)."""
    quality = int(quality)
    if encoder == "pil":
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=quality)
        data = buf.getvalue()
    elif encoder == "simplejpeg":
        import simplejpeg

        arr = np.ascontiguousarray(np.asarray(img.convert("RGB"), dtype=np.uint8))
        data = simplejpeg.encode_jpeg(arr, quality=quality, colorspace="RGB", colorsubsampling="420")
    else:
        raise ValueError(f"unknown JPEG encoder {encoder!r}")
    with Image.open(io.BytesIO(data)) as out:
        out.load()
        return out.convert("RGB")


def parse_perturbations(text: str | None) -> list[tuple[str, float]]:
    """``jpeg:50,blur:2,resize:0.5`` -> [("jpeg", 50), ("blur", 2.0), ("resize", 0.5)]."""
    out: list[tuple[str, float]] = []
    if not text:
        return out
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        if ":" not in part:
            raise ValueError(f"perturbation {part!r}: expected NAME:VALUE (jpeg:Q, blur:SIGMA, resize:SCALE, crop:PX)")
        name, val = part.split(":", 1)
        name = name.strip().lower()
        v = float(val)
        if name == "jpeg" and not 1 <= v <= 100:
            raise ValueError("jpeg quality must be 1..100")
        if name == "blur" and v < 0:
            raise ValueError("blur sigma must be >= 0")
        if name == "resize" and v <= 0:
            raise ValueError("resize scale must be > 0")
        if name == "crop" and v < 8:
            raise ValueError("crop size must be >= 8 pixels")
        if name not in ("jpeg", "blur", "resize", "crop"):
            raise ValueError(f"unknown perturbation {name!r} (jpeg, blur, resize, crop)")
        out.append((name, v))
    return out


def apply_perturbations(img: Image.Image, perts: list[tuple[str, float]]) -> Image.Image:
    """Deterministic test-time perturbations, in the order given, on the decoded image."""
    for name, v in perts:
        if name == "jpeg":
            img = jpeg(img, int(v), "pil")
        elif name == "blur":
            img = gaussian_blur(img, v)
        elif name == "resize":
            w, h = img.size
            img = img.resize((max(1, round(w * v)), max(1, round(h * v))), Image.Resampling.BILINEAR)
        elif name == "crop":
            # the same centre square for every image (no resampling): size and aspect ratio carry no signal
            w, h = img.size
            s = min(int(v), w, h)
            left, top = (w - s) // 2, (h - s) // 2
            img = img.crop((left, top, left + s, top + s))
    return img
