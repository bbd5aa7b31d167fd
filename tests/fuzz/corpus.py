"""A seeded corpus of hostile image files, made at test time (nothing binary is committed).

``build_corpus(root, seed)`` writes well over 200 small files of what a forensic tool meets:
valid images in every mode and container Pillow writes (palette, CMYK, 16-bit, alpha, animated,
multi-page, EXIF-rotated), truncations, random byte edits (:func:`tests.provenance.helpers.mutate`),
wrong extensions, extreme sizes and aspect ratios (inside and beyond the decoding budget),
headers that declare huge images, empty files, huge metadata, zlib bombs in PNG chunks, and
non-image bytes named like images.  Every file carries an image extension, so a directory scan
must attempt (and report) each one.  Images are small: scanning the corpus takes seconds.
"""

from __future__ import annotations

import io
import random
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin

from tests.provenance.helpers import mutate


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_raw(width: int, height: int, *, colour_type: int = 0, idat: bytes | None = None,
            extra: list[tuple[bytes, bytes]] = ()) -> bytes:
    """A PNG written chunk by chunk: any declared size, any IDAT (e.g. a zlib bomb), extra chunks."""
    if idat is None:
        idat = zlib.compress(b"\0" * (1 + width) * min(height, 4), 9)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    body = _png_chunk(b"IHDR", ihdr) + b"".join(_png_chunk(k, v) for k, v in extra)
    return b"\x89PNG\r\n\x1a\n" + body + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


def _zero_rows_bomb(width: int, height: int) -> bytes:
    """IDAT of ``height`` all-zero greyscale rows, compressed streaming (never held whole)."""
    z = zlib.compressobj(1)
    block = b"\0" * (1 + width) * 256
    out = [z.compress(block) for _ in range(height // 256)] + [z.compress(b"\0" * (1 + width) * (height % 256))]
    return b"".join(out) + z.flush()


def _save(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def _photo(rng: np.random.Generator, w: int, h: int) -> Image.Image:
    """A smooth gradient with noise: compresses like a photo, decodes fast."""
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x * 255 / max(w - 1, 1), y * 255 / max(h - 1, 1), (x + y) * 127 / max(w + h - 2, 1)], -1)
    return Image.fromarray(np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8))


def valid_images(rng: np.random.Generator) -> dict[str, bytes]:
    """Readable images in the modes and containers Pillow writes."""
    rgb = _photo(rng, 96, 72)
    out: dict[str, bytes] = {
        "base.jpg": _save(rgb, "JPEG", quality=90),
        "progressive.jpg": _save(rgb, "JPEG", quality=85, progressive=True),
        "grey.jpg": _save(rgb.convert("L"), "JPEG"),
        "cmyk.jpg": _save(rgb.convert("CMYK"), "JPEG"),
        "base.png": _save(rgb, "PNG"),
        "rgba.png": _save(rgb.convert("RGBA"), "PNG"),
        "la.png": _save(rgb.convert("LA"), "PNG"),
        "palette.png": _save(rgb.convert("P"), "PNG"),
        "palette_trns.png": _save(rgb.convert("P"), "PNG", transparency=0),
        "onebit.png": _save(rgb.convert("1"), "PNG"),
        "grey16.png": _save(Image.fromarray((np.asarray(rgb.convert("L"), np.uint16) * 257)), "PNG"),
        "base.webp": _save(rgb, "WEBP", quality=80),
        "lossless.webp": _save(rgb.convert("RGBA"), "WEBP", lossless=True),
        "base.gif": _save(rgb.convert("P"), "GIF"),
        "base.bmp": _save(rgb, "BMP"),
        "base.tiff": _save(rgb, "TIFF"),
        "cmyk.tiff": _save(rgb.convert("CMYK"), "TIFF"),
        "float.tiff": _save(Image.fromarray(np.asarray(rgb.convert("L"), np.float32) / 255), "TIFF"),
        "int32.tiff": _save(Image.fromarray(np.asarray(rgb.convert("L"), np.int32) * 1000), "TIFF"),
        "icon_ico.png": _save(rgb, "ICO"),  # an icon named .png (.ico is no image extension)
    }
    frames = [_photo(rng, 64, 48) for _ in range(3)]
    out["animated.gif"] = _save(frames[0].convert("P"), "GIF", save_all=True, append_images=[f.convert("P") for f in frames[1:]])
    out["animated.png"] = _save(frames[0], "PNG", save_all=True, append_images=frames[1:])
    out["animated.webp"] = _save(frames[0], "WEBP", save_all=True, append_images=frames[1:])
    out["multipage.tiff"] = _save(frames[0], "TIFF", save_all=True, append_images=frames[1:])
    many = [Image.new("P", (8, 8), i % 256) for i in range(300)]
    out["300frames.gif"] = _save(many[0], "GIF", save_all=True, append_images=many[1:])
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90
    out["rotated.jpg"] = _save(rgb, "JPEG", exif=exif)
    return out


def sizes_and_shapes(rng: np.random.Generator) -> dict[str, bytes]:
    """Extreme sizes and aspect ratios, inside and beyond the decoding budget, and lying headers."""
    flat = lambda w, h, mode="RGB": _save(Image.new(mode, (w, h), 90), "PNG", optimize=True)  # noqa: E731
    return {
        "strip_100000x1.png": flat(100000, 1),
        "strip_1x100000.png": flat(1, 100000),
        "strip_7x50000.png": flat(7, 50000),
        "strip_20000x2.png": flat(20000, 2),
        "strip_101x1.png": flat(101, 1),
        "strip_100x1.png": flat(100, 1),  # at the budget: decoded
        "strip_3000x30.png": flat(3000, 30),  # within it: upscaled for the crops
        "pixel_1x1.png": flat(1, 1),
        "pixel_2x2.jpg": _save(Image.new("RGB", (2, 2), 7), "JPEG"),
        "large_4000x3000.jpg": _save(_photo(rng, 400, 300).resize((4000, 3000)), "JPEG", quality=60),
        "large_grey_6000x6000.png": png_raw(6000, 6000, idat=_zero_rows_bomb(6000, 6000)),  # 36 MP from ~40 kB
        "header_100000x100000.png": png_raw(100000, 100000),
        "header_20000x20000.png": png_raw(20000, 20000),
        "header_12000x8000.png": png_raw(12000, 8000),  # between Pillow's warning and error levels
        "header_0x10.png": png_raw(0, 10),
        "header_65000x65000.bmp": b"BM" + struct.pack("<IHHI", 54, 0, 0, 54)
                                  + struct.pack("<IiiHHIIiiII", 40, 65000, 65000, 1, 24, 0, 0, 0, 0, 0, 0),
        "header_60000x1.jpg": _jpeg_with_size(_save(Image.new("RGB", (16, 16)), "JPEG"), 60000, 1),
        "header_65000x65000.jpg": _jpeg_with_size(_save(Image.new("RGB", (16, 16)), "JPEG"), 65000, 65000),
    }


def _jpeg_with_size(data: bytes, w: int, h: int) -> bytes:
    """``data`` with its SOF0 frame header claiming ``w`` x ``h``."""
    i = data.index(b"\xff\xc0")
    return data[: i + 5] + struct.pack(">HH", h, w) + data[i + 9:]


def metadata_and_bombs(rng: np.random.Generator) -> dict[str, bytes]:
    """Huge metadata, zlib bombs in PNG text/profile chunks, malformed EXIF."""
    small = _photo(rng, 48, 40)
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "x" * (2 << 20))  # a 2 MB tEXt chunk
    bomb = _zero_rows_bomb((1 << 20) - 1, 64)  # 64 MB of zeros in ~64 kB
    ztxt = PngImagePlugin.PngInfo()
    ztxt.add_text("Comment", "y" * (1 << 20) + "z", zip=True)  # a > 1 MB zTXt
    return {
        "huge_text.png": _save(small, "PNG", pnginfo=info),
        "big_ztxt.png": _save(small, "PNG", pnginfo=ztxt),
        "ztxt_bomb.png": png_raw(32, 32, extra=[(b"zTXt", b"Comment\0\0" + bomb)]),
        "itxt_bomb.png": png_raw(32, 32, extra=[(b"iTXt", b"XML:com.adobe.xmp\0\1\0\0\0" + bomb)]),
        "iccp_bomb.png": png_raw(32, 32, extra=[(b"iCCP", b"icc\0\0" + bomb)]),
        "idat_bomb_within_budget.png": png_raw(8000, 8000, idat=_zero_rows_bomb(8000, 8000)),
        "huge_comment.jpg": _save(small, "JPEG", comment=b"c" * 65000),
        "huge_exif.jpg": _save(small, "JPEG", exif=b"Exif\0\0" + b"MM\0*\0\0\0\x08" + b"\xff" * 60000),
        "corrupt_exif.jpg": _save(small, "JPEG", exif=b"Exif\0\0II*\0\x08\0\0\0\xff\xff" + bytes(40)),
        "many_chunks.png": png_raw(16, 16, extra=[(b"tEXt", b"k%d\0" % i + b"v" * 100) for i in range(2000)]),
        "bad_crc.png": _save(small, "PNG")[:30] + b"\0\0\0\0" + _save(small, "PNG")[34:],
    }


def not_images(rng: random.Random) -> dict[str, bytes]:
    """Bytes that are not images, named like images; empty files."""
    return {
        "empty.jpg": b"", "empty.png": b"", "empty.webp": b"",
        "text.jpg": b"this is not a photo\n" * 50,
        "page.png": b"<!DOCTYPE html><html><body>404</body></html>",
        "random.jpg": bytes(rng.randrange(256) for _ in range(4096)),
        "zeros.gif": bytes(8192),
        "archive.jpg": b"PK\x03\x04" + bytes(200),
        "elf.png": b"\x7fELF" + bytes(300),
        "pdf.tiff": b"%PDF-1.7\n" + b"%%EOF\n",
        "json.webp": b'{"not": "an image"}',
        "jpeg_magic_only.jpg": b"\xff\xd8\xff",
        "png_magic_only.png": b"\x89PNG\r\n\x1a\n",
        "riff_only.webp": b"RIFF\x10\0\0\0WEBPVP8 ",
        "heic_brand.heic": b"\0\0\0\x18ftypheic\0\0\0\0mif1heic" + bytes(64),
        "avif_brand.avif": b"\0\0\0\x1cftypavif\0\0\0\0avifmif1miaf" + bytes(64),
    }


def build_corpus(root: Path, seed: int = 18) -> list[Path]:
    """Write the corpus under ``root`` (created); returns the files, sorted."""
    rng_np, rng = np.random.default_rng(seed), random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    valid = valid_images(rng_np)
    files: dict[str, bytes] = {}
    files.update({f"valid/{k}": v for k, v in valid.items()})
    files.update({f"shape/{k}": v for k, v in sizes_and_shapes(rng_np).items()})
    files.update({f"meta/{k}": v for k, v in metadata_and_bombs(rng_np).items()})
    files.update({f"junk/{k}": v for k, v in not_images(rng).items()})
    bases = ["base.jpg", "progressive.jpg", "base.png", "rgba.png", "palette.png", "base.webp", "base.gif",
             "base.tiff", "base.bmp", "animated.png", "grey16.png", "cmyk.jpg"]
    for b in bases:  # truncations: header only, a quarter, half, all but the last bytes
        data, stem, ext = valid[b], Path(b).stem, Path(b).suffix
        for cut in (8, 33, len(data) // 4, len(data) // 2, len(data) - 2):
            files[f"truncated/{stem}_{cut}{ext}"] = data[:cut]
    for b in bases:  # random byte edits
        stem, ext = Path(b).stem, Path(b).suffix
        for i in range(9):
            files[f"mutated/{stem}_{i}{ext}"] = mutate(valid[b], rng)
    for src, ext in (("base.png", ".jpg"), ("base.jpg", ".png"), ("base.webp", ".gif"), ("base.gif", ".webp"),
                     ("base.tiff", ".bmp"), ("rgba.png", ".tiff"), ("cmyk.jpg", ".heic"), ("base.bmp", ".avif")):
        files[f"wrong_ext/{Path(src).stem}_{src.split('.')[-1]}{ext}"] = valid[src]
    files["names/with space é.jpg"] = valid["base.jpg"]
    files["names/-starts-with-dash.png"] = valid["base.png"]
    files["names/.hidden.jpg"] = valid["base.jpg"]
    files["names/UPPER.JPEG"] = valid["base.jpg"]
    paths = []
    for rel, data in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        paths.append(p)
    return sorted(paths)
