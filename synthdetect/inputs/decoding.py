"""Read one image file (read-only) and turn it into an 8-bit RGB ``PIL.Image``.

Policy (documented in docs/scan.md):
  * The file is opened once with ``open(path, "rb")`` (``O_NOATIME`` where the OS allows
    it, so even the access time is kept); its bytes are hashed (SHA-256) and decoded
    from memory, so the evidence file is never written or even reopened.
  * EXIF orientation is applied (``ImageOps.exif_transpose``); width/height are the
    displayed (post-rotation) dimensions.
  * Multi-frame files (animated GIF/WebP/APNG, multi-page TIFF): the first frame.
  * Transparency (RGBA, LA, PA, P with a transparent colour) is composited on
    **white**: most synthetic images are published without alpha, and a white page
    is what a viewer shows.  Black would darken anti-aliased edges instead.
  * 16-bit (``I;16*``) and 32-bit integer greyscale are scaled to 8 bits by value
    range (``/257`` for 16-bit, i.e. 65535 -> 255); float images are clipped to
    [0, 1] (or [0, 255] when they are already in that range).
  * CMYK, YCbCr, LAB, HSV, greyscale and 1-bit images are converted by Pillow.
  * Decoding budget, checked from the header before any pixel is decoded: images with more
    than ``PIL.Image.MAX_IMAGE_PIXELS`` pixels (Pillow's own limit, 89,478,485 by default;
    change it via that attribute) are refused as possible decompression bombs, and so are
    images whose longer side is more than ``MAX_ASPECT_RATIO`` (100) times the shorter one
    (a 100000x1 strip holds nothing a detector can judge, and upscaling its shorter side to
    a detector's input would cost gigabytes).

Any failure raises :class:`DecodeError` with a one-line reason.
"""

from __future__ import annotations

import hashlib
import io
import os
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

_INIT_DONE = False
HEIF_AVAILABLE = False
QUANT_KEY = "synthdetect.jpeg_quantization"  # decode_bytes keeps a JPEG's tables in the RGB image's info
MAX_ASPECT_RATIO = 100  # longer side / shorter side; beyond it an image is refused (decoding budget)


class DecodeError(Exception):
    """The file could not be read or decoded; ``str(e)`` is a one-line reason.

    ``sha256``/``size_bytes`` are set when the bytes could be read (so an analyst
    can still identify an undecodable exhibit).
    """

    sha256: str | None = None
    size_bytes: int | None = None


@dataclass
class Decoded:
    image: Image.Image  # RGB, 8 bit, orientation applied
    format: str  # Pillow's format name (JPEG, PNG, WEBP, AVIF, HEIF, TIFF, BMP, GIF, ...)
    width: int
    height: int
    sha256: str
    mode: str  # the file's original Pillow mode (e.g. "CMYK", "I;16", "P")
    size_bytes: int
    frames: int = 1
    jpeg_quantization: dict | None = None  # a JPEG's quantisation tables (quality estimate for the gates)
    lossy_codec: str | None = None  # lossy WebP / AVIF / HEIF (``codecs.lossy_codec``); None: JPEG or lossless
    lossy_quality: int | None = None  # a lossy WebP's quality, from its frame header (``codecs.lossy_quality``)


def init_codecs() -> None:
    """Register optional codecs once; silence Pillow's bomb *warning* (we refuse instead)."""
    global _INIT_DONE, HEIF_AVAILABLE
    if _INIT_DONE:
        return
    try:
        import pillow_heif

        pillow_heif.register_heif_opener()
        HEIF_AVAILABLE = True
    except ImportError:  # HEIC then fails per file with a clear reason
        HEIF_AVAILABLE = False
    warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)
    # Pillow's "(Possibly) corrupt EXIF data" while it reads a JPEG's DPI or orientation: the pixels
    # are fine and the provenance EXIF parser notes the damage in the record (docs/safety.md)
    warnings.filterwarnings("ignore", message=r"(possibly )?corrupt exif", category=UserWarning)
    _INIT_DONE = True


def _one_line(e: BaseException) -> str:
    msg = str(e).strip().replace("\n", " ") or e.__class__.__name__
    return msg if len(msg) <= 200 else msg[:197] + "..."


def read_bytes(path: Path | str) -> bytes:
    """Read the whole file read-only, mapping OS errors to one-line reasons."""
    from .discovery import NotRegularFile, open_regular

    try:
        with open_regular(path) as f:  # FIFO/socket/device/directory refused without blocking
            return f.read()
    except NotRegularFile as e:
        raise DecodeError(str(e)) from None
    except PermissionError:
        raise DecodeError("permission denied") from None
    except IsADirectoryError:
        raise DecodeError("is a directory") from None
    except FileNotFoundError:
        raise DecodeError("no such file") from None
    except OSError as e:
        raise DecodeError(f"cannot read file: {e.strerror or _one_line(e)}") from None


_BAND_PIXELS = 1 << 22  # conversions run over bands of rows of about this many pixels


def _by_bands(img: Image.Image, mode: str, convert) -> Image.Image:
    """``convert`` (a per-pixel conversion of a crop to ``mode``) applied band by band: the same
    pixels as converting the whole image at once, with temporaries of one band, not of the image."""
    w, h = img.size
    out = Image.new(mode, (w, h))
    step = max(1, _BAND_PIXELS // max(w, 1))
    for top in range(0, h, step):
        band = img.crop((0, top, w, min(h, top + step)))
        out.paste(convert(band), (0, top))
    return out


def _composite_band(band: Image.Image) -> Image.Image:
    rgba = band.convert("RGBA")
    bg = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(bg, rgba).convert("RGB")


def _composite_on_white(img: Image.Image) -> Image.Image:
    return _by_bands(img, "RGB", _composite_band)


def _high_bit_to_l(img: Image.Image) -> Image.Image:
    """16/32-bit integer or float greyscale -> 8-bit L by value range (no clipping at 255)."""
    if img.mode.startswith("I;16"):
        return _by_bands(img, "L", lambda band: _scaled_to_l(np.asarray(band).astype(np.float64) / 257.0))
    hi = _band_max(img, finite=img.mode == "F")
    if img.mode == "F":
        scale = 255.0 if hi <= 1.0 else 1.0
        return _by_bands(img, "L", lambda band: _scaled_to_l(
            np.nan_to_num(np.asarray(band).astype(np.float64)) * scale))
    # "I" (32-bit signed): PNG/TIFF 16-bit data often arrives here
    div = 1.0 if hi <= 255 else (257.0 if hi <= 65535 else hi / 255.0)
    return _by_bands(img, "L", lambda band: _scaled_to_l(np.asarray(band).astype(np.float64) / div))


def _band_max(img: Image.Image, finite: bool) -> float:
    """The largest (finite) value of a greyscale image, read band by band (0.0 when none)."""
    w, h = img.size
    step, hi = max(1, _BAND_PIXELS // max(w, 1)), None
    for top in range(0, h, step):
        a = np.asarray(img.crop((0, top, w, min(h, top + step))))
        if finite:
            a = a[np.isfinite(a)]
        if a.size:
            m = float(a.max())
            hi = m if hi is None else max(hi, m)
    return 0.0 if hi is None else hi


def _scaled_to_l(a: np.ndarray) -> Image.Image:
    return Image.fromarray(np.round(np.clip(a, 0, 255)).astype(np.uint8), mode="L")


def to_rgb(img: Image.Image) -> Image.Image:
    """Any Pillow mode -> 8-bit RGB (see the module policy)."""
    mode = img.mode
    if mode in ("RGB", "P", "L") and "transparency" in img.info:  # tRNS: one transparent colour
        return _composite_on_white(img)
    if mode == "RGB":
        return img
    if mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        if mode in ("La", "RGBa"):  # premultiplied
            img = img.convert("RGBA")
        return _composite_on_white(img)
    if mode in ("I", "F") or mode.startswith("I;16"):
        return _high_bit_to_l(img).convert("RGB")
    try:
        return img.convert("RGB")
    except (ValueError, OSError) as e:
        raise DecodeError(f"unsupported pixel mode {mode}: {_one_line(e)}") from None


def check_budget(width: int, height: int) -> None:
    """DecodeError when a size read from the header is beyond the decoding budget (see the module doc)."""
    w, h = int(width), int(height)
    limit = Image.MAX_IMAGE_PIXELS
    if limit and w * h > limit:
        raise DecodeError(
            f"refused: {w}x{h} = {w * h} pixels exceeds the decompression-bomb limit of {limit}"
        )
    if min(w, h) < 1:
        raise DecodeError(f"refused: the header gives an empty image ({w}x{h} px)")
    if max(w, h) > MAX_ASPECT_RATIO * min(w, h):
        ratio = max(w, h) / min(w, h)
        raise DecodeError(
            f"refused: {w}x{h} px has an aspect ratio of {ratio:.{0 if ratio >= 1000 else 1}f}:1, beyond "
            f"the decoding budget of {MAX_ASPECT_RATIO}:1"
        )


def decode_bytes(data: bytes) -> tuple[Image.Image, str, str, int]:
    """Bytes -> (RGB image, format, original mode, frame count). Raises DecodeError."""
    init_codecs()
    if not data:
        raise DecodeError("empty file (0 bytes)")
    try:
        img = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as e:
        raise DecodeError(f"refused: possible decompression bomb ({_one_line(e)})") from None
    except UnidentifiedImageError:
        from .discovery import sniff_bytes

        fmt = sniff_bytes(data[:64])
        if fmt == "HEIF" and not HEIF_AVAILABLE:
            raise DecodeError("HEIF/HEIC image but pillow-heif is not installed") from None
        if fmt:
            raise DecodeError(f"cannot decode {fmt} data (corrupt or unsupported variant)") from None
        raise DecodeError("not a recognised image format") from None
    except (OSError, ValueError, SyntaxError, EOFError, IndexError, struct.error) as e:
        msg = _one_line(e)
        if "truncated" in msg.lower():
            raise DecodeError(f"truncated file ({msg})") from None
        raise DecodeError(f"cannot open image: {msg}") from None
    fmt = img.format or "unknown"
    mode = img.mode
    quant = getattr(img, "quantization", None) if fmt == "JPEG" else None
    check_budget(*img.size)
    try:  # counting frames walks the whole frame list (a TIFF's IFD chain): Pillow fails on a cut one in any way
        frames = int(getattr(img, "n_frames", 1) or 1)
    except Exception as e:
        raise DecodeError(f"truncated or damaged {fmt} file: its frame list cannot be read ({_one_line(e)})") from None
    try:
        if frames > 1:
            img.seek(0)
        img.load()
    except Image.DecompressionBombError as e:
        raise DecodeError(f"refused: possible decompression bomb ({_one_line(e)})") from None
    except (OSError, ValueError, SyntaxError, EOFError, IndexError, struct.error) as e:
        msg = _one_line(e)
        if "truncated" in msg.lower():
            raise DecodeError(f"truncated {fmt} file ({msg})") from None
        raise DecodeError(f"cannot decode {fmt}: {msg}") from None
    try:  # in place: the decoded copy is ours, and an upright image is not copied again
        ImageOps.exif_transpose(img, in_place=True)
    except Exception:  # malformed EXIF: keep the stored orientation
        pass
    try:
        rgb = to_rgb(img)
    except DecodeError:
        raise
    except (OSError, ValueError) as e:
        raise DecodeError(f"cannot convert {mode} to RGB: {_one_line(e)}") from None
    if quant:
        rgb.info[QUANT_KEY] = {int(k): list(v) for k, v in dict(quant).items()}
    return rgb, fmt, mode, frames


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_TEXT_CHUNKS = (b"tEXt", b"zTXt", b"iTXt")


def png_without_text(data: bytes) -> bytes:
    """The PNG ``data`` with its text chunks (tEXt, zTXt, iTXt) left out; every other chunk as it was.

    Text chunks carry no pixels; the provenance parser reads them itself, with its own bounds.
    A chunk whose length runs past the end of the data ends the walk (the rest is kept as is).
    """
    out, pos = [data[:8]], 8
    while pos + 12 <= len(data):
        length = struct.unpack(">I", data[pos:pos + 4])[0]
        end = pos + 12 + length
        if end > len(data):
            break
        if data[pos + 4:pos + 8] not in PNG_TEXT_CHUNKS:
            out.append(data[pos:end])
        pos = end
    out.append(data[pos:])
    return b"".join(out)


def decode_pixels(data: bytes) -> tuple[Image.Image, str, str, int]:
    """:func:`decode_bytes`; a PNG whose text chunks pass Pillow's bounds (``PngImagePlugin.MAX_TEXT_CHUNK``,
    1 MiB inflated per chunk; ``MAX_TEXT_MEMORY``, 64 MiB in all) is decoded again without them."""
    try:
        return decode_bytes(data)
    except DecodeError as e:
        if data[:8] != PNG_SIGNATURE or "MAX_TEXT" not in str(e):
            raise
    return decode_bytes(png_without_text(data))


LARGE_FILE = 64 << 20  # above this a file's header is checked before the file is read into memory


def _refuse_large_non_image(path: Path | str) -> None:
    """A file over :data:`LARGE_FILE` whose header no decoder recognises (a video or disk fragment named
    ``.jpg``) is refused from a streamed hash, never read whole into memory: DecodeError with its SHA-256."""
    from .discovery import open_regular, sniff_bytes

    try:
        with open_regular(path) as f:
            size = os.fstat(f.fileno()).st_size
            if size <= LARGE_FILE or sniff_bytes(f.read(64)) is not None:
                return
            f.seek(0)
            try:
                Image.open(f).close()  # any other format Pillow knows by its header
                return
            except Exception:
                pass
            f.seek(0)
            h = hashlib.sha256()
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    except OSError:
        return  # read_bytes says why, in its words
    err = DecodeError("not a recognised image format")
    err.sha256, err.size_bytes = h.hexdigest(), size
    raise err


def decode(path: Path | str) -> Decoded:
    """Read and decode ``path`` (never modified). Raises :class:`DecodeError`."""
    from .codecs import lossy_codec, lossy_quality

    _refuse_large_non_image(path)
    data = read_bytes(path)
    digest = hashlib.sha256(data).hexdigest()
    try:
        img, fmt, mode, frames = decode_pixels(data)
    except Exception as e:  # the file was read: its record keeps its SHA-256 and size, whatever went wrong
        err = e if isinstance(e, DecodeError) else DecodeError(
            f"internal error while decoding: {e.__class__.__name__}: {_one_line(e)}")
        err.sha256 = digest
        err.size_bytes = len(data)
        raise err from None
    return Decoded(
        image=img,
        format=fmt,
        width=img.width,
        height=img.height,
        sha256=digest,
        mode=mode,
        size_bytes=len(data),
        frames=frames,
        jpeg_quantization=img.info.get(QUANT_KEY),
        lossy_codec=lossy_codec(fmt, data),
        lossy_quality=lossy_quality(fmt, data),
    )
