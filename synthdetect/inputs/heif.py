"""HEIC: how coarsely a HEIF still image was quantised, read from its HEVC slice header.

A HEIC file (ISO-BMFF, ``ftyp`` brand ``heic``/``heix``/``mif1``) stores its picture as an HEVC
intra picture in an item of type ``hvc1`` (phones write a ``grid`` of 512 px tiles, each such an
item).  The item's decoder configuration (the ``hvcC`` property) holds the parameter sets; the
item's data are length-prefixed NAL units, the first a slice segment.  A picture's luma quantiser
is ``SliceQpY = 26 + init_qp_minus26 (PPS) + slice_qp_delta (slice header)`` (ITU-T H.265,
7.3.2.2, 7.3.2.3, 7.3.6.1): the encoder's base quantiser (0-51 at 8 bits; lower is finer), which
an encoder may vary per block around it (x265's adaptive quantisation, an Apple encoder's rate
control): it is the figure the encoder's setting fixes, as the base quantiser is for WebP and AVIF.

It is read here without decoding anything: the box walk to the primary item (``inputs.isobmff``; a
grid's first tile), the item's ``hvcC`` (through ``ipma``), the SPS and PPS fields the slice header
depends on, and the slice header's fields up to ``slice_qp_delta``.  Only the first (intra) slice
of an IDR picture is read (what x265 writes for a still); a CRA or BLA picture (its reference
picture set precedes the quantiser and is not parsed), an inter picture or anything else gives no
reading.
``codecs.heif_quality`` maps the quantiser to libheif's quality scale (what Pillow with
pillow-heif, ``heif-enc -q`` and GIMP pass; x265).

Pure Python, numpy-free; a few kilobytes of the file are read.
"""

from __future__ import annotations

import struct

from .bits import Bits
from .isobmff import ReadAt, item_data, item_property, primary_coded_item

_SLICE_BYTES = 512  # the first slice header's fields up to slice_qp_delta take far fewer bytes
_MAX_PARAMETER_SET = 4096

VPS, SPS, PPS = 32, 33, 34
IDR_W_RADL, IDR_N_LP = 19, 20
BLA_W_LP, RSV_IRAP_23 = 16, 23
SLICE_I = 2


def rbsp(nal: bytes) -> bytes:
    """A NAL unit's payload without its 2-byte header and emulation-prevention bytes
    (``00 00 03`` -> ``00 00``)."""
    out, zeros = bytearray(), 0
    for byte in nal[2:]:
        if zeros >= 2 and byte == 3:
            zeros = 0
            continue
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return bytes(out)


def nal_type(nal: bytes) -> int:
    return (nal[0] >> 1) & 0x3F if nal else -1


def _profile_tier_level(b: Bits, max_sub_layers_minus1: int) -> None:
    b.u(96)  # general profile space … general_level_idc
    present = [(b.u(1), b.u(1)) for _ in range(max_sub_layers_minus1)]
    if max_sub_layers_minus1 > 0:
        b.u(2 * (8 - max_sub_layers_minus1))  # reserved_zero_2bits
    for profile, level in present:
        b.u(88 if profile else 0)
        b.u(8 if level else 0)


def _scaling_list_data(b: Bits) -> None:
    for size_id in range(4):
        for _ in range(0, 6, 3 if size_id == 3 else 1):
            if not b.u(1):  # scaling_list_pred_mode_flag
                b.ue()  # scaling_list_pred_matrix_id_delta
                continue
            if size_id > 1:
                b.se()  # scaling_list_dc_coef_minus8
            for _ in range(min(64, 1 << (4 + (size_id << 1)))):
                b.se()


class _Sps:
    """The sequence parameter set's fields an intra slice header depends on."""

    def __init__(self, payload: bytes) -> None:
        b = Bits(payload)
        b.u(4)  # sps_video_parameter_set_id
        sub_layers = b.u(3)
        b.u(1)  # sps_temporal_id_nesting_flag
        _profile_tier_level(b, sub_layers)
        self.id = b.ue()
        chroma = b.ue()
        self.separate_planes = b.u(1) if chroma == 3 else 0
        self.chroma_array_type = 0 if self.separate_planes else chroma
        b.ue(), b.ue()  # picture width, height
        if b.u(1):  # conformance_window_flag
            for _ in range(4):
                b.ue()
        b.ue(), b.ue()  # bit depths
        b.ue()  # log2_max_pic_order_cnt_lsb_minus4
        ordering = b.u(1)
        for _ in range(0 if ordering else sub_layers, sub_layers + 1):
            b.ue(), b.ue(), b.ue()
        for _ in range(6):  # coding and transform block sizes, transform hierarchy depths
            b.ue()
        if b.u(1) and b.u(1):  # scaling_list_enabled_flag, sps_scaling_list_data_present_flag
            _scaling_list_data(b)
        b.u(1)  # amp_enabled_flag
        self.sao = b.u(1)


class _Pps:
    """The picture parameter set's fields up to ``init_qp_minus26``."""

    def __init__(self, payload: bytes) -> None:
        b = Bits(payload)
        self.id = b.ue()
        self.sps_id = b.ue()
        b.u(1)  # dependent_slice_segments_enabled_flag (a picture's first segment is never dependent)
        self.output_flag = b.u(1)
        self.extra_bits = b.u(3)
        b.u(1), b.u(1)  # sign_data_hiding_enabled_flag, cabac_init_present_flag
        b.ue(), b.ue()  # num_ref_idx_l0/l1_default_active_minus1
        self.init_qp = 26 + b.se()


def slice_qp(slice_nal: bytes, sps: dict[int, _Sps], pps: dict[int, _Pps]) -> int | None:
    """``SliceQpY`` of a picture's first slice segment when it is an I slice of an IDR picture;
    None for any other slice (a CRA or BLA picture's included, see the module doc)."""
    kind = nal_type(slice_nal)
    if not BLA_W_LP <= kind <= RSV_IRAP_23:
        return None
    b = Bits(rbsp(slice_nal[:_SLICE_BYTES]))
    if not b.u(1):  # first_slice_segment_in_pic_flag
        return None
    b.u(1)  # no_output_of_prior_pics_flag (an IRAP picture's)
    p = pps.get(b.ue())
    s = sps.get(p.sps_id) if p is not None else None
    if s is None:
        return None
    b.u(p.extra_bits)  # slice_reserved_flag
    if b.ue() != SLICE_I:
        return None
    if p.output_flag:
        b.u(1)  # pic_output_flag
    if s.separate_planes:
        b.u(2)  # colour_plane_id
    if kind not in (IDR_W_RADL, IDR_N_LP):
        return None  # a CRA/BLA picture's reference picture set precedes the quantiser: not read
    if s.sao:
        b.u(1)  # slice_sao_luma_flag
        if s.chroma_array_type:
            b.u(1)  # slice_sao_chroma_flag
    return p.init_qp + b.se()


def hvcc_parameter_sets(payload: bytes) -> list[bytes]:
    """The NAL units (VPS, SPS, PPS, SEI) an ``hvcC`` property's arrays hold (each array: a type
    byte, a 2-byte count, then NAL units with 2-byte lengths, after a 23-byte header)."""
    out, pos = [], 23
    for _ in range(payload[22] if len(payload) > 22 else 0):
        if pos + 3 > len(payload):
            break
        units, pos = _length_prefixed(payload, pos + 3, 2, struct.unpack(">H", payload[pos + 1:pos + 3])[0])
        out += units
    return out


def _length_prefixed(data: bytes, pos: int, length_size: int, count: int | None = None) -> tuple[list[bytes], int]:
    """Up to ``count`` (None: all) NAL units from ``pos``, each after a ``length_size``-byte length;
    and the position after them."""
    out = []
    while pos + length_size <= len(data) and (count is None or len(out) < count):
        size = int.from_bytes(data[pos:pos + length_size], "big")
        out.append(data[pos + length_size:pos + length_size + size])
        pos += length_size + size
    return out, pos


def heif_slice_qp(read_at: ReadAt) -> int | None:
    """The HEVC slice quantiser (``SliceQpY``; 0-51 at 8 bits) of a HEIC file's primary image;
    None when the file is not a HEVC still whose headers read (an image sequence, another codec,
    a damaged file)."""
    try:
        found = primary_coded_item(read_at, b"hvc1")
        if found is None:
            return None
        meta, item = found
        config = item_property(read_at, meta, item, b"hvcC")
        if config is None:
            return None
        hvcc = read_at(config[0], min(config[1] - config[0], _MAX_PARAMETER_SET))
        data = item_data(read_at, meta, item, 4096)
        if len(hvcc) < 23 or not data:
            return None
        sps, pps, first = {}, {}, None
        units = hvcc_parameter_sets(hvcc) + _length_prefixed(data, 0, (hvcc[21] & 3) + 1)[0]
        for nal in units:
            kind = nal_type(nal)
            if kind == SPS:
                s = _Sps(rbsp(nal))
                sps.setdefault(s.id, s)
            elif kind == PPS:
                p = _Pps(rbsp(nal))
                pps.setdefault(p.id, p)
            elif 0 <= kind < 32 and first is None:
                first = nal
        return None if first is None else slice_qp(first, sps, pps)
    except (ValueError, IndexError, struct.error):
        return None
