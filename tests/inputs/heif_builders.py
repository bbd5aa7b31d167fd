"""HEIF containers built box by box as ISO/IEC 23008-12 lays them out, around the coded data of a
real encode: the layouts Pillow's encoders do not write (a ``grid`` of tiles, the decoder
configuration in a property only); and the picture the AVIF and HEIC tests encode."""

import struct

from PIL import Image


def picture(w=96, h=64, mode="RGB"):
    img = Image.new("RGB", (w, h))
    img.putdata([((x * 7 + y * 3) % 256, (x * y) % 256, (y * 11) % 256) for y in range(h) for x in range(w)])
    return img.convert(mode)


def reader(data: bytes):
    """``read_at(offset, n)`` over ``data``."""
    return lambda pos, n: data[pos:pos + n]


def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def full_box(kind: bytes, payload: bytes, version: int = 0) -> bytes:
    return box(kind, bytes([version, 0, 0, 0]) + payload)


def grid_file(brand: bytes, coded: bytes, tile: bytes, config: bytes, associate: bool = True) -> bytes:
    """A HEIF whose primary item is a ``grid`` of one tile (item 2, of type ``coded``: ``av01``,
    ``hvc1``) holding ``tile``; ``config``: the decoder configuration property box (``av1C``,
    ``hvcC``), which ``ipma`` assigns to the tile unless ``associate`` is false."""
    def infe(item, kind):
        return full_box(b"infe", struct.pack(">HH", item, 0) + kind + b"\0", version=2)

    grid = bytes([0, 0]) + struct.pack(">HH", 64, 96)  # ImageGrid: version, flags, 1x1, output size
    ipma = full_box(b"ipma", struct.pack(">IHB", 1, 2, 1) + bytes([0x81])) if associate else b""

    def meta(offset):
        iloc = full_box(b"iloc", struct.pack(">HH", 0x4400, 2)
                        + struct.pack(">HHHII", 1, 0, 1, offset, len(grid))
                        + struct.pack(">HHHII", 2, 0, 1, offset + len(grid), len(tile)))
        return full_box(b"meta", full_box(b"pitm", struct.pack(">H", 1))
                        + full_box(b"iinf", struct.pack(">H", 2) + infe(1, b"grid") + infe(2, coded))
                        + full_box(b"iref", box(b"dimg", struct.pack(">HHH", 1, 1, 2)))
                        + box(b"iprp", box(b"ipco", config) + ipma) + iloc)

    ftyp = box(b"ftyp", brand + b"\0" * 4 + b"mif1miaf")
    offset = len(ftyp) + len(meta(0)) + 8
    return ftyp + meta(offset) + box(b"mdat", grid + tile)
