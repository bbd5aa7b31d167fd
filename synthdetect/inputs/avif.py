"""AVIF: how coarsely an AVIF still image was quantised, read from its AV1 frame header.

An AVIF file (ISO-BMFF, ``ftyp`` brand ``avif``) stores its picture as an AV1 key frame in an item
of type ``av01`` (a ``grid`` of such items for large pictures).  The AV1 uncompressed frame
header (AV1 bitstream specification, section 5.9) carries the frame's base quantiser index
``base_q_idx`` (0-255; 0 lossless), which the encoder set from the quality it was asked for.  It
is read here without decoding anything: the box headers walked to the primary item (``pitm``,
``iinf``, ``iloc``; a grid's first tile through ``iref``/``dimg``), its sequence header OBU (in
the item, else in the ``av1C`` property), and the frame header's fields up to the quantiser.

``codecs.avif_quality`` maps the index to libavif's quality scale (0-100: what Pillow, ``avifenc -q``,
image CDNs and browsers' encoders pass; libavif >= 1.0 with libaom): the highest quality whose
quantiser is at least as coarse as the file's, as ``codecs.webp_quality`` does for WebP.
Checked against Pillow's encoder (``tests/inputs/test_avif.py``).  A file written with another
encoder (rav1e, SVT-AV1, a phone's hardware encoder) maps by the same table: the figure is then
an equivalent libavif quality, not the setting used.

Pure Python, numpy-free; a few kilobytes of the file are read (box headers, the item's first 4 KB).
"""

from __future__ import annotations

import struct

from .bits import Bits
from .isobmff import ReadAt, item_data, item_property, primary_coded_item
_FRAME_BYTES = 256  # the frame header's fields up to the quantiser take fewer bytes (tile sizes included)


def _config_obus(read_at: ReadAt, meta: tuple[int, int], item: int) -> bytes:
    """The configOBUs (the sequence header) of the item's ``av1C`` property, past its 4-byte header."""
    av1c = item_property(read_at, meta, item, b"av1C")
    return read_at(av1c[0] + 4, min(av1c[1] - av1c[0] - 4, 1024)) if av1c else b""


# -- AV1 OBUs and headers ----------------------------------------------------------------------------
def _obus(data: bytes):
    """``(type, payload)`` of the OBUs in ``data`` (each with its size field; stops at one without)."""
    pos = 0
    while pos < len(data):
        head = data[pos]
        kind, ext, has_size = (head >> 3) & 15, (head >> 2) & 1, (head >> 1) & 1
        pos += 1 + ext
        if not has_size:
            yield kind, data[pos:]
            return
        size, shift = 0, 0
        for _ in range(8):
            if pos >= len(data):
                return
            byte = data[pos]
            pos += 1
            size |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        yield kind, data[pos:pos + size]
        pos += size


OBU_SEQUENCE_HEADER, OBU_FRAME_HEADER, OBU_FRAME = 1, 3, 6
SELECT = 2


class _Sequence:
    """The sequence header fields the key frame's header depends on."""

    def __init__(self, payload: bytes) -> None:
        b = Bits(payload)
        self.profile = b.f(3)
        b.f(1)  # still_picture
        self.reduced = b.f(1)
        self.decoder_model = 0
        self.equal_picture_interval = 0
        if self.reduced:
            b.f(5)  # seq_level_idx[0]
        else:
            self._operating_points(b)
        self.width_bits, self.height_bits = b.f(4) + 1, b.f(4) + 1
        self.max_width, self.max_height = b.f(self.width_bits) + 1, b.f(self.height_bits) + 1
        self.frame_id_bits = 0
        if not self.reduced and b.f(1):  # frame_id_numbers_present_flag
            delta = b.f(4) + 2
            self.frame_id_bits = b.f(3) + delta + 1
        self.sb128 = b.f(1)
        b.f(2)  # enable_filter_intra, enable_intra_edge_filter
        self.screen_tools, self.integer_mv, self.order_hint_bits = SELECT, SELECT, 0
        if not self.reduced:
            b.f(4)  # interintra compound, masked compound, warped motion, dual filter
            order_hint = b.f(1)
            if order_hint:
                b.f(2)  # jnt_comp, ref_frame_mvs
            self.screen_tools = SELECT if b.f(1) else b.f(1)
            if self.screen_tools > 0:
                self.integer_mv = SELECT if b.f(1) else b.f(1)
            if order_hint:
                self.order_hint_bits = b.f(3) + 1
        self.superres = b.f(1)

    def _operating_points(self, b: Bits) -> None:
        if b.f(1):  # timing_info_present_flag
            b.f(32), b.f(32)
            self.equal_picture_interval = b.f(1)
            if self.equal_picture_interval:
                b.uvlc()
            self.decoder_model = b.f(1)
            if self.decoder_model:
                self.delay_bits = b.f(5) + 1
                b.f(32)
                b.f(5), b.f(5)
        initial_display = b.f(1)
        for _ in range(b.f(5) + 1):
            b.f(12)  # operating_point_idc
            if b.f(5) > 7:  # seq_level_idx
                b.f(1)
            if self.decoder_model and b.f(1):
                b.f(self.delay_bits), b.f(self.delay_bits), b.f(1)
            if initial_display and b.f(1):
                b.f(4)


def base_q_idx(frame: bytes, seq: _Sequence) -> int | None:
    """The base quantiser index of a key frame shown at once (a still image's frame), from its
    uncompressed header (section 5.9.2, the fields a shown key frame has); None for any other frame."""
    b = Bits(frame)
    if not seq.reduced:
        if b.f(1):  # show_existing_frame
            return None
        if b.f(2) != 0 or not b.f(1):  # frame_type KEY_FRAME, show_frame
            return None
        if seq.decoder_model and not seq.equal_picture_interval:
            return None  # temporal point info: not for stills
        # a shown key frame: error_resilient_mode is 1 without a bit
    no_cdf_update = b.f(1)  # disable_cdf_update
    screen = b.f(1) if seq.screen_tools == SELECT else seq.screen_tools
    if screen and seq.integer_mv == SELECT:
        b.f(1)  # force_integer_mv (1 for intra frames whatever it reads)
    if seq.frame_id_bits:
        b.f(seq.frame_id_bits)  # current_frame_id
    override = 0 if seq.reduced else b.f(1)  # frame_size_override_flag
    b.f(seq.order_hint_bits)  # order_hint
    if seq.decoder_model:
        return None  # buffer_removal_time fields: not written for stills
    width, height = seq.max_width, seq.max_height
    if override:
        width, height = b.f(seq.width_bits) + 1, b.f(seq.height_bits) + 1
    superres = bool(seq.superres and b.f(1))  # use_superres
    if superres:
        width = _superres_width(width, b)
    if b.f(1):  # render_and_frame_size_different
        b.f(16), b.f(16)
    if screen and not superres:
        b.f(1)  # allow_intrabc
    if not seq.reduced and not no_cdf_update:
        b.f(1)  # disable_frame_end_update_cdf
    _tile_info(b, width, height, seq.sb128)
    return b.f(8)


def _superres_width(width: int, b: Bits) -> int:
    denom = b.f(3) + 9  # coded_denom + SUPERRES_DENOM_MIN
    return (width * 8 + denom // 2) // denom


def _tile_log2(blk: int, target: int) -> int:
    k = 0
    while (blk << k) < target:
        k += 1
    return k


def _tile_info(b: Bits, width: int, height: int, sb128: int) -> None:
    """Skip the frame header's tile_info() (section 5.9.15)."""
    mi_cols, mi_rows = 2 * ((width + 7) >> 3), 2 * ((height + 7) >> 3)
    shift = 5 if sb128 else 4
    sb_cols, sb_rows = (mi_cols + (1 << shift) - 1) >> shift, (mi_rows + (1 << shift) - 1) >> shift
    sb_size = shift + 2
    max_w_sb, max_area_sb = 4096 >> sb_size, (4096 * 2304) >> (2 * sb_size)
    min_cols = _tile_log2(max_w_sb, sb_cols)
    max_cols, max_rows = _tile_log2(1, min(sb_cols, 64)), _tile_log2(1, min(sb_rows, 64))
    min_tiles = max(min_cols, _tile_log2(max_area_sb, sb_rows * sb_cols))
    if b.f(1):  # uniform_tile_spacing_flag
        cols = min_cols
        while cols < max_cols and b.f(1):
            cols += 1
        rows = max(min_tiles - cols, 0)
        while rows < max_rows and b.f(1):
            rows += 1
    else:
        widest, start, n = 0, 0, 0
        while start < sb_cols:
            size = b.ns(min(sb_cols - start, max_w_sb)) + 1
            widest, start, n = max(widest, size), start + size, n + 1
        cols = _tile_log2(1, n)
        area = (sb_rows * sb_cols) >> (min_tiles + 1) if min_tiles > 0 else sb_rows * sb_cols
        max_h_sb, start, n = max(area // widest, 1), 0, 0
        while start < sb_rows:
            start, n = start + b.ns(min(sb_rows - start, max_h_sb)) + 1, n + 1
        rows = _tile_log2(1, n)
    if cols or rows:
        b.f(rows + cols), b.f(2)  # context_update_tile_id, tile_size_bytes_minus_1


# -- the file --------------------------------------------------------------------------------------
def avif_base_q_idx(read_at: ReadAt) -> int | None:
    """The AV1 base quantiser index (0-255) of an AVIF file's primary image; None when the file is
    not a still AVIF whose headers read (an image sequence, an unknown layout, a damaged file)."""
    try:
        found = primary_coded_item(read_at, b"av01")
        if found is None:
            return None
        meta, item = found
        data = item_data(read_at, meta, item, 4096)
        if not data:
            return None
        seq, frame = None, None
        for kind, payload in _obus(data):
            if kind == OBU_SEQUENCE_HEADER and seq is None:
                seq = _Sequence(payload)
            elif kind in (OBU_FRAME, OBU_FRAME_HEADER):
                frame = payload[:_FRAME_BYTES]
                break
        if seq is None:
            for kind, payload in _obus(_config_obus(read_at, meta, item)):
                if kind == OBU_SEQUENCE_HEADER:
                    seq = _Sequence(payload)
                    break
        if seq is None or frame is None:
            return None
        return base_q_idx(frame, seq)
    except (ValueError, IndexError, struct.error):
        return None

