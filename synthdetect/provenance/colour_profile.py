"""Colour-profile source: the embedded ICC profile, its name and who made it (information, weak camera evidence).

An ICC profile travels with the pixels through most editors and exporters, and its header and description
say which colour space the values are in and, often, what wrote it: ``Nikon sRGB 4.0.0.3001`` and
``sRGB v1.31 (Canon)`` are the profiles those makers' cameras embed; ``Display P3`` (creator ``appl``)
is what Apple devices write (cameras, screenshots and exports alike); ``sRGB IEC61966-2.1`` is an editor's
default. A camera maker's profile is listed as weak camera evidence (it is copied with the file, like EXIF);
nothing here is AI evidence. The detectors read the stored values, profile or not (docs/quality.md).

Pillow reads the profile from the file's header (JPEG APP2 segments, PNG ``iCCP``, WebP ``ICCP``, TIFF,
HEIF/AVIF through pillow-heif); the header and the description tag are parsed here, bounded, without
littlecms.
"""

from __future__ import annotations

import io
import re
import struct
from typing import Any

from .base import Analyzer, Context, Findings, Section

HEADER = 128
MAX_TAGS = 256
MAX_TEXT = 200
CAMERA_MAKERS = ("Nikon", "Canon", "Sony", "Fujifilm", "FUJIFILM", "Olympus", "OM Digital", "Panasonic", "Pentax",
                 "Ricoh", "Leica", "Hasselblad", "Sigma", "Phase One", "Kodak", "Minolta", "Casio")
_CAMERA = re.compile(r"\b(" + "|".join(re.escape(m) for m in CAMERA_MAKERS) + r")\b", re.IGNORECASE)
DEVICE_CLASSES = {"scnr": "input device", "mntr": "display", "prtr": "output device", "link": "device link",
                  "spac": "colour space", "abst": "abstract", "nmcl": "named colour"}


def _fourcc(b: bytes) -> str | None:
    s = b.decode("latin-1").strip("\x00 ")
    return s if s and s.isprintable() and s != "none" else None


def _created(b: bytes) -> str | None:
    y, mo, d, h, mi, s = struct.unpack(">6H", b)
    if not (1 <= mo <= 12 and 1 <= d <= 31 and h < 24 and mi < 60 and s < 61 and y >= 1900):
        return None
    return f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}"


def _text(tag: bytes) -> str | None:
    """A ``desc`` (ICC v2 textDescriptionType), ``mluc`` (v4, first record) or ``text`` tag's string."""
    kind = tag[:4]
    if kind == b"desc" and len(tag) >= 12:
        n = struct.unpack(">I", tag[8:12])[0]
        raw = tag[12:12 + min(n, 4 * MAX_TEXT)].split(b"\x00")[0].decode("latin-1")
    elif kind == b"mluc" and len(tag) >= 28:
        count, size = struct.unpack(">II", tag[8:16])
        if count < 1 or size < 12:
            return None
        length, offset = struct.unpack(">II", tag[20:28])
        raw = tag[offset:offset + min(length, 4 * MAX_TEXT)].decode("utf-16-be", errors="replace")
    elif kind == b"text":
        raw = tag[8:8 + 4 * MAX_TEXT].split(b"\x00")[0].decode("latin-1")
    else:
        return None
    s = "".join(c for c in raw if c.isprintable()).strip()
    return s[:MAX_TEXT] or None


def _tag(data: bytes, sig: bytes, notes: list[str]) -> bytes | None:
    n = struct.unpack(">I", data[HEADER:HEADER + 4])[0]
    if n > MAX_TAGS:
        notes.append(f"ICC profile lists {n} tags (more than {MAX_TAGS}): its tags were not read")
        return None
    for i in range(n):
        at = HEADER + 4 + 12 * i
        if at + 12 > len(data):
            notes.append("ICC profile's tag table is cut short")
            return None
        s, offset, size = struct.unpack(">4sII", data[at:at + 12])
        if s == sig:
            if offset + size > len(data):
                notes.append(f"ICC profile's {sig.decode()} tag runs past the profile's end")
                return None
            return data[offset:offset + size]
    return None


def parse(data: bytes) -> tuple[dict[str, Any], list[str]]:
    """The profile's header fields and description, and notes on what is malformed."""
    notes: list[str] = []
    if len(data) < HEADER + 4 or data[36:40] != b"acsp":
        return {"present": True, "valid": False, "bytes": len(data)}, ["embedded ICC profile is not a valid profile"]
    declared = struct.unpack(">I", data[:4])[0]
    if declared != len(data):
        notes.append(f"ICC profile declares {declared} bytes, holds {len(data)}")
    major, minor = data[8], data[9] >> 4
    desc = _tag(data, b"desc", notes)
    cls = _fourcc(data[12:16])
    return {
        "present": True, "valid": True,
        "description": _text(desc) if desc else None,
        "colour_space": _fourcc(data[16:20]),
        "device_class": DEVICE_CLASSES.get(cls or "", cls),
        "version": f"{major}.{minor}",
        "creator": _fourcc(data[80:84]),
        "device_manufacturer": _fourcc(data[48:52]),
        "cmm": _fourcc(data[4:8]),
        "created": _created(data[24:36]),
        "bytes": len(data),
    }, notes


def read(data: bytes) -> bytes | None:
    """The ICC profile embedded in the image file ``data`` (header only, no pixels decoded), or None.

    None too when Pillow cannot open the file: the other sources' notes already say what is broken.
    """
    from PIL import Image

    from ..inputs.decoding import init_codecs

    init_codecs()  # pillow-heif's opener, once
    try:
        with Image.open(io.BytesIO(data)) as im:
            icc = im.info.get("icc_profile")
    except Exception:
        return None
    return bytes(icc) if isinstance(icc, (bytes, bytearray)) and icc else None


def camera_evidence(profile: dict[str, Any]) -> list[str]:
    """A camera maker named by the profile's description: weak evidence of a camera's file."""
    desc = profile.get("description") or ""
    m = _CAMERA.search(desc)
    return [f"colour profile {desc!r} is a camera maker's ({m.group(1)}) profile (weak: copied with the file)"] if m else []


def maker_mismatch(profile: dict[str, Any], exif_make: Any) -> list[str]:
    """A note when the profile names one camera maker and EXIF Make another (a file's metadata edited, or passed
    through another maker's software)."""
    m = _CAMERA.search(profile.get("description") or "")
    make = exif_make if isinstance(exif_make, str) else ""
    e = _CAMERA.search(make)
    if m and e and m.group(1).lower() != e.group(1).lower():
        return [f"colour profile names {m.group(1)}, EXIF Make {make.strip()!r}: the metadata was edited, or "
                "another maker's software wrote the file"]
    return []


class ColourProfileAnalyzer(Analyzer):
    """``colour_profile`` field; a camera maker's profile as weak camera evidence (reads the EXIF source's Make)."""

    name = "colour_profile"
    empty = {"colour_profile": {"present": False}}
    policy = ""

    def analyze(self, ctx: Context) -> Findings:
        out = Findings(fields=self.empty_fields())
        if ctx.container.format in ("unknown",):
            return out
        ok, icc = ctx.guarded(lambda: read(ctx.data), "colour profile", out.notes)
        if not ok or not icc:
            return out
        profile, notes = parse(icc)
        out.fields["colour_profile"] = profile
        out.notes.extend(notes + maker_mismatch(profile, (ctx.shared.get("exif", {}).get("raw") or {}).get("make")))
        out.camera_evidence = camera_evidence(profile)
        return out

    def sections(self, result: dict[str, Any]) -> list[Section]:
        p = result.get("colour_profile") or {}
        if not p.get("present"):
            return []
        rows = [(k, v) for k, v in p.items() if k not in ("present",) and v not in (None, True)]
        return [Section("fields", "Colour profile (ICC)", rows)]


COLOUR_PROFILE = ColourProfileAnalyzer()
