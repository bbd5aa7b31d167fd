"""Synthetic composites and perturbations for measuring the input-quality gates.

Used by ``tools/measure_gates.py`` (the measured rates in docs/quality.md), by
``tests/inputs/test_quality.py``, and reusable to evaluate the whole detector on composites::

    import sys; sys.path.insert(0, "tests/inputs")
    from quality_builders import make_card
    card = make_card(Image.open(photo).convert("RGB"), caption="Breaking news", seed=3)

Everything happens in memory: nothing derived from ``../shared/data`` is written anywhere.
numpy + Pillow only (``ImageFont.load_default(size=...)`` needs Pillow >= 10.1 with FreeType;
older Pillow falls back to the fixed bitmap font).
"""

from __future__ import annotations

import io
import random

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

CARD_SIZE = (1024, 1536)
BACKGROUNDS = {
    "white": (255, 255, 255),
    "black": (0, 0, 0),
    "cream": (246, 240, 226),
    "lightblue": (222, 234, 247),
    "darkgrey": (38, 40, 44),
}
GRADIENTS = {"gradient": ((236, 232, 245), (168, 160, 196))}  # top colour, bottom colour
CAPTIONS = [
    "You won't believe what happened next",
    "Scientists stunned by this discovery",
    "Photo of the day",
    "Share if you agree",
    "This place really exists",
    "Local man finds something unusual in his garden",
    "Weekend vibes",
    "BREAKING: residents react to the news",
    "Throwback to last summer",
    "Tag someone who needs to see this",
]


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: bitmap font, fixed size
        return ImageFont.load_default()


def jpeg(img: Image.Image, quality: int) -> Image.Image:
    """Encode to JPEG at ``quality`` and decode back (RGB, in memory)."""
    buf = io.BytesIO()
    img.convert("RGB").save(buf, format="JPEG", quality=int(quality))
    buf.seek(0)
    out = Image.open(buf)
    out.load()
    return out  # a JpegImageFile: ``.quantization`` is available


def _wrap(draw: ImageDraw.ImageDraw, text: str, font, max_w: int, max_lines: int) -> list[str]:
    words, lines, cur = text.split(), [], ""
    for w in words:
        t = (cur + " " + w).strip()
        if draw.textlength(t, font=font) <= max_w or not cur:
            cur = t
        else:
            lines.append(cur)
            cur = w
    if cur:
        lines.append(cur)
    return lines[:max_lines]


def make_card(
    photo: Image.Image,
    *,
    size: tuple[int, int] = CARD_SIZE,
    background: tuple[int, int, int] | str = "white",
    caption: str | None = None,
    lines: int | None = None,
    font_size: int | None = None,
    photo_width: int | None = None,
    position: str = "middle",
    quality: int | None = 88,
    seed: int = 0,
) -> Image.Image:
    """A social-media card: ``photo`` on a flat ``background`` canvas with a caption.

    The photo is resized (aspect kept, Lanczos) to ``photo_width`` (default 900-1000 px,
    drawn from ``seed``), or less when it would not leave room for the caption; it sits at
    the top, in the middle, or flush with the top edge (``position`` "top", "middle",
    "flush"); 1-3 caption lines (``lines``) of the default font at ``font_size`` (default
    34-56 px) go below it (above it as well when ``lines`` is 3, except "flush").
    ``background``: a name of BACKGROUNDS, "gradient" (a vertical two-colour gradient) or an
    RGB tuple.  ``quality``: JPEG re-encode (None = return the raw canvas).
    """
    rng = random.Random(seed)
    W, H = size
    if isinstance(background, str) and background in GRADIENTS:
        top_c, bot_c = (np.array(c, np.float32) for c in GRADIENTS[background])
        t = np.linspace(0.0, 1.0, H, dtype=np.float32)[:, None, None]
        ramp = (top_c * (1 - t) + bot_c * t) * np.ones((1, W, 1), np.float32)
        canvas = Image.fromarray(np.rint(ramp).astype(np.uint8), "RGB")
        bg = tuple(int(x) for x in (top_c + bot_c) / 2)
    else:
        bg = BACKGROUNDS[background] if isinstance(background, str) else tuple(background)
        canvas = Image.new("RGB", (W, H), bg)
    dark = sum(bg) < 3 * 128
    fg = (240, 240, 240) if dark else (20, 20, 20)
    font_size = font_size or rng.randint(34, 56)
    lines = lines or rng.randint(1, 3)
    caption = caption or " ".join(rng.sample(CAPTIONS, 2))
    font = _font(font_size)
    draw = ImageDraw.Draw(canvas)
    margin = max(8, W // 40)
    text_lines = _wrap(draw, caption, font, W - 2 * margin, lines)
    line_h = int(font_size * 1.3)
    text_h = line_h * len(text_lines)
    pw = min(W, photo_width or rng.randint(900, min(1000, W)))
    flush = position == "flush"
    max_ph = H - text_h - (1 if flush else 3) * margin
    scale = min(pw / photo.width, max_ph / photo.height)
    ph_size = (max(1, round(photo.width * scale)), max(1, round(photo.height * scale)))
    ph = photo.convert("RGB").resize(ph_size, Image.Resampling.LANCZOS)
    block_h = ph.height + margin + text_h
    top = 0 if flush else margin if position == "top" else max(margin, (H - block_h) // 2)
    above = text_lines[:1] if len(text_lines) == 3 and not flush else []
    below = text_lines[len(above):]
    y = top
    for t in above:
        draw.text(((W - draw.textlength(t, font=font)) / 2, y), t, fill=fg, font=font)
        y += line_h
    if above:
        y += margin // 2
    canvas.paste(ph, ((W - ph.width) // 2, y))
    y += ph.height + margin
    for t in below:
        draw.text(((W - draw.textlength(t, font=font)) / 2, y), t, fill=fg, font=font)
        y += line_h
    return jpeg(canvas, quality) if quality else canvas


def make_collage(photos: list[Image.Image], *, size: tuple[int, int] = (1200, 1200), gutter: int = 12,
                 background: tuple[int, int, int] = (255, 255, 255), quality: int | None = 88) -> Image.Image:
    """A 2x2 collage: four photos centre-cropped into equal cells, ``gutter`` px apart."""
    W, H = size
    canvas = Image.new("RGB", (W, H), background)
    cw, ch = (W - 3 * gutter) // 2, (H - 3 * gutter) // 2
    for k, p in enumerate((photos * 4)[:4]):
        s = max(cw / p.width, ch / p.height)
        r = p.convert("RGB").resize((max(cw, round(p.width * s)), max(ch, round(p.height * s))), Image.Resampling.LANCZOS)
        l, t = (r.width - cw) // 2, (r.height - ch) // 2
        canvas.paste(r.crop((l, t, l + cw, t + ch)), (gutter + (k % 2) * (cw + gutter), gutter + (k // 2) * (ch + gutter)))
    return jpeg(canvas, quality) if quality else canvas


def make_screenshot(photo: Image.Image, *, size: tuple[int, int] = (1080, 1920), dark: bool = False,
                    quality: int | None = 90, seed: int = 0) -> Image.Image:
    """A phone-screenshot-like frame: status bar, app header, the photo full width, a caption
    and an action bar with a few icons, on a flat UI colour."""
    rng = random.Random(seed)
    W, H = size
    bg = (0, 0, 0) if dark else (255, 255, 255)
    fg = (235, 235, 235) if dark else (25, 25, 25)
    canvas = Image.new("RGB", (W, H), bg)
    d = ImageDraw.Draw(canvas)
    small, mid = _font(30), _font(38)
    d.text((30, 18), "12:4%d" % rng.randint(0, 9), fill=fg, font=small)
    d.text((W - 160, 18), "5G  87%", fill=fg, font=small)
    d.ellipse((30, 90, 110, 170), fill=(200, 120, 80))
    d.text((130, 110), "some_account_%d" % rng.randint(10, 99), fill=fg, font=mid)
    d.line((0, 190, W, 190), fill=(128, 128, 128), width=2)
    ph = photo.convert("RGB")
    ph = ph.resize((W, max(1, min(H - 600, round(ph.height * W / ph.width)))), Image.Resampling.LANCZOS)
    canvas.paste(ph, (0, 200))
    y = 200 + ph.height + 30
    for k in range(4):
        x = 40 + k * 110
        d.ellipse((x, y, x + 60, y + 60), outline=fg, width=5)
    d.text((40, y + 100), "1,2%d3 likes" % rng.randint(0, 9), fill=fg, font=mid)
    d.text((40, y + 160), "some_account " + rng.choice(CAPTIONS), fill=fg, font=small)
    d.rectangle((0, H - 130, W, H), fill=(245, 245, 245) if not dark else (20, 20, 20))
    return jpeg(canvas, quality) if quality else canvas


# -- perturbations --------------------------------------------------------------------------
def blur(img: Image.Image, sigma: float) -> Image.Image:
    """Gaussian blur, standard deviation ``sigma`` px (same as synthdetect.train.augment)."""
    return img.filter(ImageFilter.GaussianBlur(radius=float(sigma)))


def down_up(img: Image.Image, factor: float) -> Image.Image:
    """Downscale by ``factor`` (bicubic, antialiased) and upscale back to the original size."""
    w, h = img.size
    small = img.resize((max(1, round(w * factor)), max(1, round(h * factor))), Image.Resampling.BICUBIC)
    return small.resize((w, h), Image.Resampling.BICUBIC)


def upscale_crop(img: Image.Image, factor: float = 2.0) -> Image.Image:
    """The central 1/factor x 1/factor crop upscaled by ``factor`` (bicubic): same size, upscaled content."""
    w, h = img.size
    cw, ch = round(w / factor), round(h / factor)
    l, t = (w - cw) // 2, (h - ch) // 2
    return img.crop((l, t, l + cw, t + ch)).resize((round(cw * factor), round(ch * factor)), Image.Resampling.BICUBIC)


def textured(size: tuple[int, int] = (640, 480), seed: int = 0) -> Image.Image:
    """A sharp synthetic 'photo' with content at every scale (1/f noise + sensor-like noise)."""
    rng = np.random.default_rng(seed)
    w, h = size
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    f = np.sqrt(fx * fx + fy * fy)
    f[0, 0] = 1.0
    out = []
    for _ in range(3):
        spec = (rng.normal(size=f.shape) + 1j * rng.normal(size=f.shape)) / f
        spec[0, 0] = 0
        x = np.fft.irfft2(spec, s=(h, w))
        x = (x - x.mean()) / (x.std() + 1e-9)
        out.append(x)
    a = np.stack(out, -1)
    a = 0.6 * a + 0.4 * a.mean(-1, keepdims=True)  # correlated channels, like a photo
    a = 128 + 45 * a + rng.normal(0, 3.0, a.shape)
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8), "RGB")
