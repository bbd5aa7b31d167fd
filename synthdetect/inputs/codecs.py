"""Codecs: whether a file's pixels went through a lossy encoder other than JPEG, and how hard.

A JPEG's quantisation tables give its quality (``quality.jpeg_quality_from_tables``), and the
``recompressed`` gate and the measured conditions (``scan/conditions.py``) judge it by that.
For a lossy WebP, an AVIF or a HEIF/HEIC the scan records the codec (``quality.lossy_codec``) and
withholds a calibrated verdict (the ``unmeasured_codec`` gate) unless the card measured such files:
its calibration images hold that codec (``calibration.image_codecs``, written by ``train probe``)
or its measured conditions include copies in that codec (``webpQ``, ``avifQ``, ``heifQ``; the bundle's
conditions).  A lossy WebP's quality is read from its VP8 frame header (:func:`webp_quality`: the
base quantiser, mapped to libwebp's default quality scale), an AVIF's from its AV1 frame header
(``inputs.avif``: the base quantiser index, mapped to libavif's quality scale), a HEIC's from its
HEVC slice header (``inputs.heif``: the slice quantiser, mapped to libheif's quality scale); recorded as
``quality.lossy_quality``.  A calibration covers only files of that codec at least as good as the
lowest quality both classes of its sample hold (``covered_quality``), as for JPEG qualities.  Measured on the bundle's holdout (docs/quality.md):
its 46 real photos re-saved as WebP at quality 50 drew 9 false ``synthetic`` verdicts at
thresholds whose stated false-alarm rate is 4.3 % (3 / 69), and a folder mixing them with JPEGs
passed the batch domain check.

A file whose pixels are stored as indices into a colour palette (every GIF; a PNG of colour type 3,
a BMP of at most 8 bits a pixel, a TIFF whose photometric interpretation is ``palette``) is ``palette``:
at most 256 colours, so a photo's colours were quantised (and usually dithered) when it was saved,
which rewrites every pixel (``inputs.palette``; a table of greys only is not a loss for a greyscale
picture and is not counted).  It has no quality to read; it is judged like a lossy codec (withheld
unless the card's calibration images hold such files).  Measured on the bundle's holdout saved as
GIF (docs/quality.md): ROC-AUC 0.951, but the held-out probe's ``real`` threshold let 14 of the 43
fakes through (33 %: stated 19 %, bound 31 %).

Lossless files (PNG, lossless WebP, BMP, TIFF) that keep their colours, and JPEG, give ``None``.  numpy-free.
"""

from __future__ import annotations

import struct
from typing import Any, Callable, Mapping, Sequence

WEBP = "webp"
AVIF = "avif"
HEIF = "heif"
PALETTE = "palette"
NAMES = {WEBP: "lossy WebP", AVIF: "AVIF", HEIF: "HEIF/HEIC", PALETTE: "palette (indexed-colour)"}
COVERED_SHARE = 0.1  # a codec is covered when at least this share of each class's calibration images has it
QUALITY_CODECS = (WEBP, AVIF, HEIF)  # the codecs whose quality is read from the file


def lossy_codec(fmt: str | None, data: bytes | None) -> str | None:
    """The lossy non-JPEG codec of a file Pillow read as ``fmt`` (``WEBP``, ``AVIF``, ``HEIF``),
    from its bytes ``data``: ``webp`` for a WebP whose first image is VP8 (lossy; VP8L is
    lossless), ``avif``, ``heif`` (lossy in practice: both formats' lossless modes are rare and
    not told apart here), ``palette`` for a GIF/PNG/BMP/TIFF of palette indices; None for anything else."""
    data = data or b""
    return _codec(fmt, lambda pos, n: data[pos:pos + n])


def lossy_quality(fmt: str | None, data: bytes | None) -> int | None:
    """The quality of a lossy WebP (:func:`webp_quality`), an AVIF (:func:`avif_quality`) or a HEIC
    (:func:`heif_quality`) from its bytes ``data``; None for any other file, and for one whose frame
    (slice) header cannot be read."""
    data = data or b""
    return _codec_quality(fmt, lambda pos, n: data[pos:pos + n])[1]


def codec_from_file(path: Any) -> tuple[str | None, int | None]:
    """:func:`lossy_codec` and :func:`lossy_quality` of a file (the format sniffed from its first
    bytes as discovery does; a WebP's chunk headers and frame header read where they lie, nothing
    else; ``(None, None)`` when unreadable: the loader reports such files)."""
    from .discovery import open_regular, sniff_bytes

    try:
        with open_regular(path) as f:
            def read_at(pos: int, n: int) -> bytes:
                f.seek(pos)
                return f.read(n)

            return _codec_quality(sniff_bytes(read_at(0, 64)), read_at)
    except OSError:
        return None, None


def _codec(fmt: str | None, read_at: Callable[[int, int], bytes]) -> str | None:
    """:func:`lossy_codec` over ``read_at(offset, n)``, the file's bytes."""
    return _codec_quality(fmt, read_at)[0]


def _codec_quality(fmt: str | None, read_at: Callable[[int, int], bytes]) -> tuple[str | None, int | None]:
    fmt = (fmt or "").upper()
    if fmt == "WEBP":
        frame = _webp_first_image(read_at)
        if frame is None or frame[0] != b"VP8 ":
            return None, None
        # an animation's frames come from libwebp's animation encoder, whose settings differ: not read
        q = None if frame[2] else vp8_base_quantiser(read_at(frame[1], 10 + VP8_HEADER_BYTES))
        return WEBP, None if q is None else webp_quality(*q)
    if fmt == "AVIF":
        from .avif import avif_base_q_idx

        q = avif_base_q_idx(read_at)
        return AVIF, None if q is None else avif_quality(q)
    if fmt in ("HEIF", "HEIC"):
        from .heif import heif_slice_qp

        q = heif_slice_qp(read_at)
        return HEIF, None if q is None else heif_quality(q)
    from .palette import colour_palette

    return (PALETTE, None) if colour_palette(fmt, read_at) else (None, None)


def _webp_first_image(read_at: Callable[[int, int], bytes]) -> tuple[bytes, int, bool] | None:
    """The WebP's first image chunk: its tag (``VP8 `` lossy, ``VP8L`` lossless), the offset of
    its payload and whether it is an animation's frame, walking the RIFF chunk headers (``VP8X``, ``ICCP``, ``ALPH``, ``ANIM`` ... skipped;
    an animation's first ``ANMF`` frame looked into); None when there is none."""
    head = read_at(0, 12)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WEBP":
        return None
    pos, end = 12, None
    while end is None or pos + 8 <= end:
        chunk = read_at(pos, 8)
        if len(chunk) < 8:
            return None
        tag, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
        if tag in (b"VP8 ", b"VP8L"):
            return tag, pos + 8, end is not None
        if tag == b"ANMF":  # frame header (16 bytes), then the frame's own chunks
            end = pos + 8 + size if end is None else min(end, pos + 8 + size)
            pos += 8 + 16
            continue
        pos += 8 + size + (size & 1)
    return None


# -- the quality of a lossy WebP ---------------------------------------------------------------
# A VP8 key frame (RFC 6386, section 9) starts with a 10-byte uncompressed header, then the first
# partition, boolean-entropy coded: colour space, clamping, segmentation, loop filter, partitions
# and the quantiser indices.  The base luma AC index (0-127) is how coarsely the encoder quantised.
VP8_HEADER_BYTES = 96  # more than the header fields before the quantiser can take (< 40 bytes)


class _BoolDecoder:
    """RFC 6386's boolean entropy decoder (section 7), over a short byte string (zeros past its end)."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 2
        self.value = ((data[0] if data else 0) << 8) | (data[1] if len(data) > 1 else 0)
        self.range, self.bits = 255, 0

    def bit(self, prob: int = 128) -> int:
        split = 1 + (((self.range - 1) * prob) >> 8)
        if self.value >= split << 8:
            self.range -= split
            self.value -= split << 8
            out = 1
        else:
            self.range = split
            out = 0
        while self.range < 128:
            self.value <<= 1
            self.range <<= 1
            self.bits += 1
            if self.bits == 8:
                self.bits = 0
                self.value |= self.data[self.pos] if self.pos < len(self.data) else 0
                self.pos += 1
        return out

    def literal(self, n: int) -> int:
        v = 0
        for _ in range(n):
            v = (v << 1) | self.bit()
        return v

    def skip_optional_signed(self, n: int, count: int) -> None:
        for _ in range(count):
            if self.bit():
                self.literal(n + 1)  # magnitude and sign


def vp8_base_quantiser(frame: bytes) -> tuple[int, bool] | None:
    """The base quantiser index (``y_ac_qi``, 0 finest - 127 coarsest) of a VP8 key frame whose
    bytes start at ``frame`` (the ``VP8 `` chunk's payload), and whether the frame is segmented
    (libwebp then quantises its segments around the base); None when it is not a key frame or is
    cut short."""
    if len(frame) < 10 or frame[3:6] != b"\x9d\x01\x2a" or frame[0] & 1:
        return None
    first_partition = (frame[0] | (frame[1] << 8) | (frame[2] << 16)) >> 5
    header = frame[10:10 + min(first_partition, VP8_HEADER_BYTES)]
    if len(header) < min(first_partition, 16):
        return None
    d = _BoolDecoder(header)
    d.literal(2)  # colour space, clamping type
    segmented = bool(d.bit())
    if segmented:
        update_map, update_data = d.bit(), d.bit()
        if update_data:
            d.bit()  # absolute or delta values
            d.skip_optional_signed(7, 4)  # segment quantisers
            d.skip_optional_signed(6, 4)  # segment loop filter levels
        if update_map:
            for _ in range(3):
                if d.bit():
                    d.literal(8)
    d.literal(1 + 6 + 3)  # filter type, level, sharpness
    if d.bit() and d.bit():  # loop filter deltas enabled and updated
        d.skip_optional_signed(6, 8)
    d.literal(2)  # token partitions
    return d.literal(7), segmented


def _libwebp_base_quantiser(quality: int, segmented: bool = True) -> int:
    """The base quantiser libwebp writes for ``quality`` (0-100) at its default spatial noise
    shaping (``sns_strength`` 50; src/enc/quant_enc.c: the quality's compressibility on 127 steps,
    raised, in a segmented frame, to the power its first segment gets at the end of the alpha
    range).  Checked against Pillow's encoder for every quality in tests/inputs/test_codecs.py."""
    c = quality / 100
    linear = c * 2 / 3 if c < 0.75 else 2 * c - 1
    expn = 1 + 0.9 * 50 / 100 / 128 * 127 if segmented else 1.0
    return max(0, min(127, int(127 * (1 - (linear ** (1 / 3)) ** expn))))


_LIBWEBP_QUANTISERS = {seg: tuple(_libwebp_base_quantiser(q, seg) for q in range(101)) for seg in (True, False)}


def webp_quality(quantiser: int, segmented: bool = True) -> int:
    """The libwebp quality (0-100, default settings) of a base quantiser: the highest quality whose
    quantiser is at least as coarse (the qualities that share one quantiser discard the same).
    Exact on most images; where libwebp's first segment sits short of the end of its range the
    quantiser is a step or two finer and the quality reads 1-2 points high (11 of 212 photo and
    render encodes measured); other encoder settings map to the quality of the same quantiser."""
    return _highest_quality(_LIBWEBP_QUANTISERS[bool(segmented)], quantiser)


# -- the quality of an AVIF ----------------------------------------------------------------------------
# libavif 1.x (libaom) writes, for quality Q (0-100), this base quantiser index: measured with Pillow 13's
# encoder (libavif 1.4.2) at every quality, the same at every size, speed, subsampling and alpha
# (tests/inputs/test_avif.py); the index is read from the file by ``inputs.avif.avif_base_q_idx``
AVIF_QUANTISERS = (
    255, 255, 255, 249, 249, 249, 244, 244, 240, 240, 236, 236, 232, 232, 228, 228, 224, 224, 220, 220,
    216, 216, 212, 212, 208, 208, 204, 204, 200, 200, 196, 196, 192, 192, 188, 184, 184, 180, 180, 176,
    172, 172, 168, 168, 164, 160, 160, 156, 156, 152, 148, 148, 144, 144, 140, 136, 132, 132, 128, 124,
    120, 120, 116, 112, 108, 108, 104, 100, 96, 96, 92, 88, 84, 84, 80, 76, 72, 72, 68, 64,
    60, 60, 56, 52, 48, 48, 44, 40, 36, 36, 32, 28, 24, 24, 20, 16, 12, 12, 8, 4,
    0,
)


def avif_quality(quantiser: int) -> int:
    """The libavif quality (0-100) of an AV1 base quantiser index: the highest quality whose
    quantiser is at least as coarse (101 qualities share 64 quantisers: a reading is exact or one
    point high); another encoder's file reads as the libavif quality of the same quantiser."""
    return _highest_quality(AVIF_QUANTISERS, quantiser)


# -- the quality of a HEIC ----------------------------------------------------------------------------
# libheif's x265 encoder writes, for quality Q (0-100), this HEVC slice quantiser (SliceQpY): measured
# with pillow-heif 1.9 (libheif 1.23, x265 4.3) at every quality, the same at every size, chroma format,
# greyscale and alpha (tests/inputs/test_heif.py); the quantiser is read by ``inputs.heif.heif_slice_qp``
HEIF_QUANTISERS = tuple(max(0, 47 - (q + 1) // 2) for q in range(101))


def heif_quality(quantiser: int) -> int:
    """The libheif quality (0-100) of a HEVC slice quantiser: the highest quality whose quantiser is
    at least as coarse (101 qualities share 48 quantisers: a reading is exact or one point high;
    every quality from 93 up writes 0).  A file from another encoder (a phone's) reads as the libheif
    quality of the same slice quantiser: an equivalent, not the setting used, and encoders vary the
    quantiser per block around it differently."""
    return _highest_quality(HEIF_QUANTISERS, quantiser)


def _highest_quality(steps: Sequence[int], quantiser: int) -> int:
    """The highest quality (index into ``steps``, the encoder's quantiser per quality) whose
    quantiser is at least as coarse as ``quantiser``: the qualities that share one discard the same."""
    return max((q for q, step in enumerate(steps) if step >= quantiser), default=0)


def codec_range(codecs: Sequence[str | None], labels: Sequence[int],
                qualities: Sequence[int | None] | None = None) -> dict[str, Any] | None:
    """A card's ``calibration.image_codecs``: per class, how many calibration images each lossy
    non-JPEG codec holds (``n``: the class's images) and, for the codecs whose quality is read (lossy
    WebP, AVIF, HEIC), the range of their qualities (``webp_quality`` / ``avif_quality`` /
    ``heif_quality``: ``{min, max}``, from ``qualities``,
    :func:`lossy_quality`); ``covered``: the codecs that at least :data:`COVERED_SHARE` of *each*
    class holds (the rates were measured on such files); ``covered_quality``: for a covered codec
    whose quality is read, the lowest quality at which both classes were measured (the larger of
    the two class minima).  None when a class is missing."""
    qualities = list(qualities) if qualities is not None else [None] * len(codecs)
    out: dict[str, Any] = {}
    for label, name in ((0, "real"), (1, "synthetic")):
        got = [(c, q) for c, q, y in zip(codecs, qualities, labels) if int(y) == label]
        if not got:
            return None
        names = [c for c, _ in got]
        counts: dict[str, Any] = {c: names.count(c) for c in sorted({c for c in names if c})}
        for codec in QUALITY_CODECS:
            qs = [int(q) for c, q in got if c == codec and q is not None]
            if qs:
                counts[f"{codec}_quality"] = {"min": min(qs), "max": max(qs)}
        out[name] = {**counts, "n": len(got)}
    out["covered"] = sorted(c for c in NAMES if all(
        out[k].get(c, 0) >= COVERED_SHARE * out[k]["n"] for k in ("real", "synthetic")))
    floors = {c: max(out[k][f"{c}_quality"]["min"] for k in ("real", "synthetic")) for c in out["covered"]
              if c in QUALITY_CODECS and all(f"{c}_quality" in out[k] for k in ("real", "synthetic"))}
    if floors:
        out["covered_quality"] = floors
    return out


def covered_codecs(calibrations: Sequence[Mapping[str, Any] | None]) -> dict[str, int | None]:
    """The codecs *every* card's calibration covers (none when a card records none: older cards,
    the bundle), each with the lowest quality all of them measured it at (the largest of their
    ``covered_quality``; None where no card records one: cards written before the codec's quality was read)."""
    if not calibrations:
        return {}
    floors: dict[str, int | None] | None = None
    for c in calibrations:
        doc = (c or {}).get("image_codecs") or {}
        got = doc.get("covered")
        names = {str(x) for x in got} if isinstance(got, list) else set()
        qual = doc.get("covered_quality") if isinstance(doc.get("covered_quality"), dict) else {}
        mine = {n: (int(qual[n]) if isinstance(qual.get(n), (int, float)) and not isinstance(qual.get(n), bool)
                    else None) for n in names}
        floors = mine if floors is None else {
            n: max((f for f in (floors[n], mine[n]) if f is not None), default=None) for n in floors if n in mine}
    return floors or {}


def codec_covered(codec: str | None, quality: int | None, covered: Mapping[str, int | None]) -> bool:
    """Whether a file in ``codec`` at ``quality`` lies inside what the calibration measured
    (``covered``: :func:`covered_codecs`): its codec covered and, where a quality floor is
    recorded, its quality read and at least that."""
    if not codec or codec not in covered:
        return False
    floor = covered[codec]
    return floor is None or (quality is not None and quality >= floor)


def codec_names(codecs: Sequence[str]) -> list[str]:
    """The codecs as an analyst reads them (``lossy WebP``, ``AVIF``, ``HEIF/HEIC``)."""
    return [NAMES.get(c, c) for c in codecs]


def describe(codec: str, quality: int | None = None) -> str:
    """``lossy WebP at quality 80`` (libwebp's scale), ``AVIF at quality 60`` (libavif's), ``HEIF/HEIC
    at quality 50`` (libheif's); the codec's name alone without a quality."""
    name = NAMES.get(codec, codec)
    return f"{name} at quality {quality}" if quality is not None else name


def gate(codec: str | None, quality: int | None = None, floor: int | None = None) -> dict[str, Any] | None:
    """The ``unmeasured_codec`` gate entry for a file saved with ``codec`` at ``quality`` (None: no
    gate); ``floor``: the lowest quality of that codec the calibration measured, when it covers the
    codec but not this quality."""
    if not codec:
        return None
    name, what = NAMES.get(codec, codec), describe(codec, quality)
    if floor is not None:
        return {"gate": "unmeasured_codec", "value": what, "threshold": f"{name} at quality >= {floor}",
                "reason": f"The image was saved as {what if quality is not None else name + ' of unreadable quality'}: "
                          f"the detectors' error rates were measured on {name} files down to quality {floor} only, "
                          "so no calibrated verdict is given."}
    if codec == PALETTE:
        return {"gate": "unmeasured_codec", "value": what, "threshold": "a measured codec",
                "reason": "The image is stored as indices into a palette of at most 256 colours (every GIF, an "
                          "8-bit PNG): its colours were quantised when it was saved, which rewrites every pixel, and the "
                          "detectors' error rates were not measured on such files (fit a probe on a labelled sample "
                          "of such files from this source to cover them), so no calibrated verdict is given."}
    lost = (f"the detectors' error rates were not measured on {name} files" if quality is not None else
            "how much of it the encoder discarded cannot be read from the file, and the detectors' error rates "
            f"were not measured on {name} files")
    return {"gate": "unmeasured_codec", "value": what, "threshold": "a measured codec",
            "reason": f"The image was saved as {what}: {lost} (fit a probe on a labelled {name} sample of this "
                      "source to cover it), so no calibrated verdict is given."}
