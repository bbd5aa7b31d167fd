"""Palette files: whether a GIF, PNG, BMP or TIFF stores indices into a table of colours.

A photo saved with a palette kept at most 256 of its colours: the encoder quantised them (and
usually dithered), which rewrites every pixel the detectors read.  ``inputs.codecs`` judges such a
file like a lossy codec (``palette``).  A table of greys only is not a loss for a greyscale picture
(8 bits of grey are 256 levels): such files are left to the ``greyscale`` handling.

Read from the header and the colour table only, never decoded (:func:`colour_palette`): every GIF
(its global colour table), a PNG of colour type 3 (its ``PLTE`` chunk), a BMP of at most 8 bits a
pixel (the table after its DIB header), a classic TIFF whose PhotometricInterpretation is 3 (its
``ColorMap``).  A palette whose table cannot be read counts as a colour one.  numpy-free.
"""

from __future__ import annotations

import struct
from typing import Callable

ReadAt = Callable[[int, int], bytes]
MAX_PNG_CHUNKS = 64  # chunks walked before PLTE (ancillary ones: gAMA, iCCP, tEXt ...)


def colour_palette(fmt: str | None, read_at: ReadAt) -> bool:
    """Whether the file (``fmt``: Pillow's / discovery's format name) stores palette indices into a
    table that holds colours (not greys only); ``read_at(offset, n)`` reads its bytes."""
    reader = _TABLES.get((fmt or "").upper())
    if reader is None:
        return False
    table = reader(read_at)
    return table is not False and not (table and _greys_only(*table))


def _greys_only(table: bytes, stride: int) -> bool:
    """Whether every entry of a colour table (``stride`` bytes an entry, three channels first) is grey."""
    n = len(table) // stride
    chans = [table[c:n * stride:stride] for c in range(3)]
    return n > 0 and chans[0] == chans[1] == chans[2]


def _gif(read_at: ReadAt) -> tuple[bytes, int] | None:
    """A GIF's global colour table (every GIF is palette indices; None: no global table, or cut short)."""
    head = read_at(0, 13)
    if len(head) < 13 or not head[10] & 0x80:
        return None
    size = 3 << ((head[10] & 7) + 1)
    table = read_at(13, size)
    return (table, 3) if len(table) == size else None


def _png(read_at: ReadAt) -> tuple[bytes, int] | None | bool:
    """An indexed PNG's ``PLTE`` (False: not indexed; None: no table before the image data)."""
    head = read_at(0, 33)
    if len(head) < 26 or head[12:16] != b"IHDR" or head[25] != 3:
        return False
    pos = 8
    for _ in range(MAX_PNG_CHUNKS):
        chunk = read_at(pos, 8)
        if len(chunk) < 8:
            return None
        size, kind = struct.unpack(">I", chunk[:4])[0], chunk[4:]
        if kind == b"PLTE":
            if size > 3 * 256:
                return None
            table = read_at(pos + 8, size)
            return (table, 3) if len(table) == size else None
        if kind in (b"IDAT", b"IEND"):
            return None
        pos += 12 + size
    return None


def _bmp(read_at: ReadAt) -> tuple[bytes, int] | None | bool:
    """A BMP's colour table when it has at most 8 bits a pixel (False: more)."""
    head = read_at(0, 50)
    if len(head) < 30:
        return False
    dib = struct.unpack("<I", head[14:18])[0]
    core = dib == 12  # OS/2 1.x header: 16-bit sizes, 3-byte entries
    bits = struct.unpack("<H", head[24:26] if core else head[28:30])[0]
    if not 0 < bits <= 8:
        return False
    used = 0 if core or len(head) < 50 else struct.unpack("<I", head[46:50])[0]
    stride = 3 if core else 4
    count = used if 0 < used <= 1 << bits else 1 << bits
    table = read_at(14 + dib, count * stride)
    return (table, stride) if len(table) == count * stride else None


def _tiff(read_at: ReadAt) -> tuple[bytes, int] | None | bool:
    """A classic TIFF's ``ColorMap`` (tag 320) when its first image's PhotometricInterpretation
    (tag 262) is 3, palette; its 16-bit values (all reds, then greens, then blues) as one byte each."""
    head = read_at(0, 8)
    order = {b"II": "<", b"MM": ">"}.get(head[:2])
    if order is None or len(head) < 8 or struct.unpack(order + "H", head[2:4])[0] != 42:
        return False
    ifd = struct.unpack(order + "I", head[4:8])[0]
    count = read_at(ifd, 2)
    entries = read_at(ifd + 2, 12 * struct.unpack(order + "H", count)[0]) if len(count) == 2 else b""
    tags = {}
    for i in range(0, len(entries) - 11, 12):
        tag, kind, n = struct.unpack(order + "HHI", entries[i:i + 8])
        tags[tag] = (kind, n, entries[i + 8:i + 12])
    kind, _, value = tags.get(262, (0, 0, b""))
    if kind != 3 or struct.unpack(order + "H", value[:2])[0] != 3:
        return False
    kind, n, value = tags.get(320, (0, 0, b""))
    if kind != 3 or n == 0 or n % 3 or n > 3 << 16:  # 3 x 2^BitsPerSample entries, 16 bits a sample at most
        return None
    raw = read_at(struct.unpack(order + "I", value)[0], 2 * n)
    if len(raw) != 2 * n:
        return None
    values = struct.unpack(f"{order}{n}H", raw)
    third = n // 3
    return bytes(v >> 8 for triple in zip(values[:third], values[third:2 * third], values[2 * third:])
                 for v in triple), 3


_TABLES: dict[str, Callable[[ReadAt], tuple[bytes, int] | None | bool]] = {
    "GIF": _gif, "PNG": _png, "BMP": _bmp, "TIFF": _tiff,
}
