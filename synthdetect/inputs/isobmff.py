"""ISO-BMFF (HEIF) still-image containers: the box walk to a file's primary coded image.

AVIF and HEIC files share the HEIF container (ISO/IEC 23008-12 over ISO-BMFF): the ``meta`` box
names the primary item (``pitm``), the items' types (``iinf``), where their data lie (``iloc``),
how items relate (``iref``: a ``grid``'s tiles through ``dimg``) and their properties (``iprp``:
``ipco`` holds them, ``ipma`` assigns them to items — the decoder configuration ``av1C`` / ``hvcC``
among them).  Read lazily through ``read_at(offset, n)``: box headers and a few kilobytes.
Pure Python; every reader returns None (or stops) on a malformed file rather than raising.
"""

from __future__ import annotations

import struct
from typing import Callable

ReadAt = Callable[[int, int], bytes]

MAX_BOXES = 4096  # a malformed file's box walk stops here


# -- boxes --------------------------------------------------------------------------------
def boxes(read_at: ReadAt, start: int, end: int | None):
    """``(type, payload offset, payload end)`` of the boxes from ``start`` to ``end`` (None: the file's end)."""
    pos = start
    for _ in range(MAX_BOXES):
        if end is not None and pos + 8 > end:
            return
        head = read_at(pos, 16)
        if len(head) < 8:
            return
        size, kind = struct.unpack(">I4s", head[:8])
        body = pos + 8
        if size == 1:
            if len(head) < 16:
                return
            size, body = struct.unpack(">Q", head[8:16])[0], pos + 16
        elif size == 0:  # to the end of the enclosing box (or file)
            size = (end - pos) if end is not None else 1 << 62
        if size < body - pos:
            return
        yield kind, body, pos + size
        pos += size


def child(read_at: ReadAt, start: int, end: int, kind: bytes) -> tuple[int, int] | None:
    for k, body, stop in boxes(read_at, start, end):
        if k == kind:
            return body, stop
    return None


class Fields:
    """Big-endian fields of a box payload (``ValueError`` past its end)."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def uint(self, n: int) -> int:
        if n == 0:
            return 0
        if self.pos + n > len(self.data):
            raise ValueError("box too short")
        v = int.from_bytes(self.data[self.pos:self.pos + n], "big")
        self.pos += n
        return v


def meta_box(read_at: ReadAt) -> tuple[int, int] | None:
    """The top-level ``meta`` box's children (past its full-box header); None when the file does
    not open with ``ftyp``."""
    top = boxes(read_at, 0, None)
    first = next(top, None)
    if first is None or first[0] != b"ftyp":
        return None
    for kind, body, stop in top:
        if kind == b"meta":
            return body + 4, stop
    return None


def primary_id(read_at: ReadAt, meta: tuple[int, int]) -> int | None:
    box = child(read_at, *meta, b"pitm")
    if box is None:
        return None
    data = Fields(read_at(box[0], 8))
    version = data.uint(4) >> 24
    return data.uint(2 if version == 0 else 4)


def item_types(read_at: ReadAt, meta: tuple[int, int]) -> dict[int, bytes]:
    """Item id -> item type (``av01``, ``grid``, ``Exif`` …) from ``iinf``."""
    box = child(read_at, *meta, b"iinf")
    if box is None:
        return {}
    version = read_at(box[0], 1)[:1]
    start = box[0] + 4 + (2 if version == b"\0" else 4)
    out = {}
    for kind, body, stop in boxes(read_at, start, box[1]):
        if kind != b"infe":
            continue
        data = Fields(read_at(body, min(stop - body, 16)))
        v = data.uint(4) >> 24
        if v < 2:
            continue
        item = data.uint(2 if v == 2 else 4)
        data.uint(2)  # protection index
        out[item] = data.data[data.pos:data.pos + 4]
    return out


def first_tile(read_at: ReadAt, meta: tuple[int, int], grid: int) -> int | None:
    """A grid item's first tile (``iref`` ``dimg`` from it)."""
    box = child(read_at, *meta, b"iref")
    if box is None:
        return None
    version = read_at(box[0], 1)[:1]
    n = 2 if version == b"\0" else 4
    for kind, body, stop in boxes(read_at, box[0] + 4, box[1]):
        data = Fields(read_at(body, min(stop - body, 2 * n + 2)))
        if kind == b"dimg" and data.uint(n) == grid and data.uint(2):
            return data.uint(n)
    return None


def item_data(read_at: ReadAt, meta: tuple[int, int], item: int, limit: int) -> bytes | None:
    """The first ``limit`` bytes of an item's data (``iloc``; file offsets, construction method 0)."""
    box = child(read_at, *meta, b"iloc")
    if box is None:
        return None
    data = Fields(read_at(box[0], min(box[1] - box[0], 1 << 16)))
    try:
        version = data.uint(4) >> 24
        sizes = data.uint(2)
        off_size, len_size, base_size = sizes >> 12, (sizes >> 8) & 15, (sizes >> 4) & 15
        idx_size = sizes & 15 if version in (1, 2) else 0
        count = data.uint(2 if version < 2 else 4)
        for _ in range(count):
            item_id = data.uint(2 if version < 2 else 4)
            method = data.uint(2) & 15 if version in (1, 2) else 0
            data.uint(2)  # data reference index
            base = data.uint(base_size)
            extents = []
            for _ in range(data.uint(2)):
                data.uint(idx_size)
                extents.append((base + data.uint(off_size), data.uint(len_size)))
            if item_id != item:
                continue
            if method != 0 or not extents:
                return None
            out = b""
            for off, length in extents:
                out += read_at(off, min(length, limit - len(out)) if length else limit - len(out))
                if len(out) >= limit:
                    break
            return out
    except ValueError:
        return None
    return None


def item_property(read_at: ReadAt, meta: tuple[int, int], item: int, kind: bytes) -> tuple[int, int] | None:
    """The payload span of item ``item``'s property of type ``kind`` (``hvcC``, ``av1C`` …): the
    ``ipco`` entries ``ipma`` associates with the item; None when it has none."""
    iprp = child(read_at, *meta, b"iprp")
    if iprp is None:
        return None
    ipco: list[tuple[bytes, int, int]] = []
    indices: list[int] = []
    for k, body, stop in boxes(read_at, *iprp):
        if k == b"ipco" and not ipco:
            ipco = list(boxes(read_at, body, stop))
        elif k == b"ipma":
            indices += _associations(read_at(body, min(stop - body, 1 << 16)), item)
    for index in indices:
        if 0 < index <= len(ipco) and ipco[index - 1][0] == kind:
            return ipco[index - 1][1], ipco[index - 1][2]
    return None


def _associations(payload: bytes, item: int) -> list[int]:
    """The 1-based ``ipco`` indices an ``ipma`` payload assigns to ``item``."""
    data = Fields(payload)
    head = data.uint(4)
    version, flags = head >> 24, head & 0xFFFFFF
    for _ in range(data.uint(4)):
        item_id = data.uint(2 if version < 1 else 4)
        indices = []
        for _ in range(data.uint(1)):
            v = data.uint(2 if flags & 1 else 1)
            indices.append(v & (0x7FFF if flags & 1 else 0x7F))
        if item_id == item:
            return indices
    return []


def primary_coded_item(read_at: ReadAt, coded: bytes) -> tuple[tuple[int, int], int] | None:
    """``(meta span, item id)`` of the primary image's coded item of type ``coded`` (``av01``,
    ``hvc1``): the primary item itself, or a ``grid``'s first tile; None for any other layout."""
    meta = meta_box(read_at)
    if meta is None:
        return None
    item = primary_id(read_at, meta)
    types = item_types(read_at, meta)
    if item is not None and types.get(item) == b"grid":
        item = first_tile(read_at, meta, item)
    if item is None or types.get(item) != coded:
        return None
    return meta, item
