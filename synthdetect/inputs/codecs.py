"""Codecs: whether a file's pixels went through a lossy encoder other than JPEG.

A JPEG's quantisation tables give its quality (``quality.jpeg_quality_from_tables``), and the
``recompressed`` gate and the measured conditions (``scan/conditions.py``) judge it by that.
A lossy WebP, an AVIF or a HEIF/HEIC carries no such figure that scan can read, and nothing
here measures the detectors on those codecs unless a probe was calibrated on them: the scan
records the codec (``quality.lossy_codec``) and withholds a calibrated verdict on such a file
(the ``unmeasured_codec`` gate) unless every card's calibration images hold that codec
(``calibration.image_codecs``, written by ``train probe``).  Measured on the bundle's holdout
(docs/quality.md): its 46 real photos re-saved as WebP at quality 50 drew 9 false
``synthetic`` verdicts at thresholds whose stated false-alarm rate is 4.3 % (3 / 69), and a folder
mixing them with JPEGs passed the batch domain check.

Lossless files (PNG, lossless WebP, BMP, TIFF, GIF) and JPEG give ``None``.  numpy-free.
"""

from __future__ import annotations

import struct
from typing import Any, Callable, Mapping, Sequence

WEBP = "webp"
AVIF = "avif"
HEIF = "heif"
NAMES = {WEBP: "lossy WebP", AVIF: "AVIF", HEIF: "HEIF/HEIC"}
COVERED_SHARE = 0.1  # a codec is covered when at least this share of each class's calibration images has it


def lossy_codec(fmt: str | None, data: bytes | None) -> str | None:
    """The lossy non-JPEG codec of a file Pillow read as ``fmt`` (``WEBP``, ``AVIF``, ``HEIF``),
    from its bytes ``data``: ``webp`` for a WebP whose first image is VP8 (lossy; VP8L is
    lossless), ``avif``, ``heif`` (lossy in practice: both formats' lossless modes are rare and
    not told apart here); None for anything else."""
    data = data or b""
    return _codec(fmt, lambda pos, n: data[pos:pos + n])


def codec_from_file(path: Any) -> str | None:
    """:func:`lossy_codec` of a file (the format sniffed from its first bytes as discovery does; a
    WebP's chunk headers read where they lie, nothing else; None when unreadable: the loader
    reports such files)."""
    from .discovery import open_regular, sniff_bytes

    try:
        with open_regular(path) as f:
            def read_at(pos: int, n: int) -> bytes:
                f.seek(pos)
                return f.read(n)

            return _codec(sniff_bytes(read_at(0, 64)), read_at)
    except OSError:
        return None


def _codec(fmt: str | None, read_at: Callable[[int, int], bytes]) -> str | None:
    """:func:`lossy_codec` over ``read_at(offset, n)``, the file's bytes."""
    fmt = (fmt or "").upper()
    if fmt == "WEBP":
        return WEBP if _webp_lossy(read_at) else None
    if fmt == "AVIF":
        return AVIF
    if fmt in ("HEIF", "HEIC"):
        return HEIF
    return None


def _webp_lossy(read_at: Callable[[int, int], bytes]) -> bool:
    """Whether the WebP's first image chunk is ``VP8 `` (lossy), walking the RIFF chunk headers
    (``VP8X``, ``ICCP``, ``ALPH``, ``ANIM`` ... skipped; an animation's first ``ANMF`` frame looked into)."""
    head = read_at(0, 12)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WEBP":
        return False
    pos, end = 12, None
    while end is None or pos + 8 <= end:
        chunk = read_at(pos, 8)
        if len(chunk) < 8:
            return False
        tag, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
        if tag == b"VP8 ":
            return True
        if tag == b"VP8L":
            return False
        if tag == b"ANMF":  # frame header (16 bytes), then the frame's own chunks
            end = pos + 8 + size if end is None else min(end, pos + 8 + size)
            pos += 8 + 16
            continue
        pos += 8 + size + (size & 1)
    return False


def codec_range(codecs: Sequence[str | None], labels: Sequence[int]) -> dict[str, Any] | None:
    """A card's ``calibration.image_codecs``: per class, how many calibration images each lossy
    non-JPEG codec holds (``n``: the class's images), and ``covered``: the codecs that at least
    :data:`COVERED_SHARE` of *each* class holds (the rates were measured on such files).  None when
    a class is missing."""
    out: dict[str, Any] = {}
    for label, name in ((0, "real"), (1, "synthetic")):
        got = [c for c, y in zip(codecs, labels) if int(y) == label]
        if not got:
            return None
        counts: dict[str, Any] = {c: got.count(c) for c in sorted({c for c in got if c})}
        out[name] = {**counts, "n": len(got)}
    out["covered"] = sorted(c for c in NAMES if all(
        out[k].get(c, 0) >= COVERED_SHARE * out[k]["n"] for k in ("real", "synthetic")))
    return out


def covered_codecs(calibrations: Sequence[Mapping[str, Any] | None]) -> set[str]:
    """The codecs *every* card's calibration covers (none when a card records none: older cards, the bundle)."""
    sets = []
    for c in calibrations:
        got = ((c or {}).get("image_codecs") or {}).get("covered")
        sets.append({str(x) for x in got} if isinstance(got, list) else set())
    return set.intersection(*sets) if sets else set()


def codec_names(codecs: Sequence[str]) -> list[str]:
    """The codecs as an analyst reads them (``lossy WebP``, ``AVIF``, ``HEIF/HEIC``)."""
    return [NAMES.get(c, c) for c in codecs]


def gate(codec: str | None) -> dict[str, Any] | None:
    """The ``unmeasured_codec`` gate entry for a file saved with ``codec`` (None: no gate)."""
    if not codec:
        return None
    name = NAMES.get(codec, codec)
    return {"gate": "unmeasured_codec", "value": name, "threshold": "JPEG or lossless",
            "reason": f"The image was saved as {name}: how much of it the encoder discarded cannot be read from "
                      "the file, and the detectors' error rates were measured on JPEG and lossless images only "
                      f"(fit a probe on a labelled {name} sample of this source to cover it), so no calibrated "
                      "verdict is given."}
