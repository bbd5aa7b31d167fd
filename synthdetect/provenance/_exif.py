"""EXIF reading: exifread first, Pillow as fallback (WebP/HEIC/odd containers).

exifread is a pure-Python, read-only parser that handles JPEG/TIFF/PNG and
reports unknown/ malformed IFDs leniently; it does not find EXIF inside WebP
RIFF chunks or some HEIF layouts, which Pillow (+pillow-heif) does.
Both run on an in-memory copy of the (size-capped) file.  The caller runs
these functions under a time guard.
"""

from __future__ import annotations

import io
import logging
from typing import Any

# exifread logs every oddity at WARNING; malformed EXIF is reported as notes instead.
logging.getLogger("exifread").setLevel(logging.ERROR)

# TIFF/EXIF tag ids
T_DESCRIPTION, T_MAKE, T_MODEL, T_SOFTWARE, T_ARTIST = 0x010E, 0x010F, 0x0110, 0x0131, 0x013B
T_EXIF_IFD, T_GPS_IFD = 0x8769, 0x8825
T_DTO, T_USER_COMMENT, T_LENS_MAKE, T_LENS_MODEL = 0x9003, 0x9286, 0xA433, 0xA434

FIELDS = ("make", "model", "software", "datetime_original", "lens", "gps_present",
          "image_description", "artist", "user_comment")


def _clean(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, bytes):
        v = v.decode("utf-8", errors="replace")
    s = str(v).replace("\x00", "").strip()
    return s or None


def decode_user_comment(raw: Any) -> str | None:
    """EXIF UserComment: 8-byte charset prefix then data (UNICODE = UTF-16, either endianness)."""
    if raw is None:
        return None
    if isinstance(raw, str):
        return _clean(raw)
    if not isinstance(raw, (bytes, bytearray)):
        return _clean(raw)
    raw = bytes(raw)
    prefix, body = raw[:8], raw[8:]
    if prefix.startswith(b"UNICODE"):
        cands = []
        for enc in ("utf-16-be", "utf-16-le"):
            try:
                s = body.decode(enc)
            except UnicodeDecodeError:
                continue
            cands.append((sum(ch.isascii() and ch.isprintable() for ch in s[:2000]), s))
        return _clean(max(cands)[1]) if cands else None
    if prefix.startswith(b"ASCII") or prefix == b"\x00" * 8:
        return _clean(body.decode("latin-1"))
    return _clean(raw.decode("utf-8", errors="replace"))


def read_exifread(data: bytes) -> tuple[dict[str, Any], list[str]]:
    import exifread

    notes: list[str] = []
    tags = exifread.process_file(io.BytesIO(data), details=False, extract_thumbnail=False)
    if not tags:
        return {}, notes

    def g(*names):
        for n in names:
            if n in tags:
                return _clean(tags[n].printable if hasattr(tags[n], "printable") else tags[n])
        return None

    lens = " ".join(x for x in (g("EXIF LensMake"), g("EXIF LensModel")) if x) or None
    uc = tags.get("EXIF UserComment")
    user_comment = None
    if uc is not None:
        vals = getattr(uc, "values", None)
        if isinstance(vals, (bytes, bytearray)) or (isinstance(vals, list) and vals and isinstance(vals[0], int)):
            user_comment = decode_user_comment(bytes(vals))
        else:
            user_comment = _clean(getattr(uc, "printable", uc))
    gps = any(k.startswith("GPS ") and k != "GPS GPSVersionID" for k in tags)
    out = {
        "make": g("Image Make"),
        "model": g("Image Model"),
        "software": g("Image Software"),
        "datetime_original": g("EXIF DateTimeOriginal", "Image DateTimeOriginal", "Image DateTime"),
        "lens": lens,
        "gps_present": gps,
        "image_description": g("Image ImageDescription"),
        "artist": g("Image Artist"),
        "user_comment": user_comment,
    }
    return out, notes


def _from_pillow_exif(exif) -> tuple[dict[str, Any], list[str]]:
    notes: list[str] = []
    sub: dict = {}
    gps: dict = {}
    try:
        sub = dict(exif.get_ifd(T_EXIF_IFD))
    except Exception as e:  # bad offsets inside the EXIF IFD
        notes.append(f"EXIF sub-IFD unreadable ({type(e).__name__}: {e})")
    try:
        gps = dict(exif.get_ifd(T_GPS_IFD))
    except Exception as e:
        notes.append(f"EXIF GPS IFD unreadable ({type(e).__name__}: {e})")
    lens = " ".join(x for x in (_clean(sub.get(T_LENS_MAKE)), _clean(sub.get(T_LENS_MODEL))) if x) or None
    out = {
        "make": _clean(exif.get(T_MAKE)),
        "model": _clean(exif.get(T_MODEL)),
        "software": _clean(exif.get(T_SOFTWARE)),
        "datetime_original": _clean(sub.get(T_DTO)) or _clean(exif.get(0x0132)),
        "lens": lens,
        "gps_present": bool(gps),
        "image_description": _clean(exif.get(T_DESCRIPTION)),
        "artist": _clean(exif.get(T_ARTIST)),
        "user_comment": decode_user_comment(sub.get(T_USER_COMMENT)),
    }
    return out, notes


def read_pillow_blob(blob: bytes) -> tuple[dict[str, Any], list[str]]:
    """Parse a raw TIFF-structured EXIF blob with Pillow."""
    from PIL import Image

    # Pillow's own UserWarnings about corrupt EXIF are left alone (capturing them would touch
    # process-global warning state from worker threads); check_structure() reports the damage.
    exif = Image.Exif()
    exif.load(blob)
    return _from_pillow_exif(exif)


def read_pillow_image(data: bytes) -> tuple[dict[str, Any], bytes | None, list[str]]:
    """Open the file with Pillow (+pillow-heif) without decoding pixels; returns (exif, xmp, notes)."""
    from PIL import Image

    from ..inputs.decoding import init_codecs

    init_codecs()  # pillow-heif's opener, once
    with Image.open(io.BytesIO(data)) as im:
        exif = im.getexif()
        xmp = im.info.get("xmp")
        if isinstance(xmp, str):
            xmp = xmp.encode("utf-8")
        out, notes = _from_pillow_exif(exif) if len(exif) else ({}, [])
    return out, xmp, notes


def has_content(d: dict) -> bool:
    return any(d.get(k) for k in FIELDS)


# ----------------------------------------------------------------------------- structure check

_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4, 16: 8, 17: 8, 18: 8}
_SUB_IFD_TAGS = {T_EXIF_IFD: "Exif IFD", T_GPS_IFD: "GPS IFD", 0xA005: "Interop IFD"}
MAX_IFDS = 32
MAX_ENTRIES = 1024


def check_structure(blob: bytes) -> list[str]:
    """Walk a TIFF-structured EXIF blob's IFDs (bounded) and report loops / bad offsets.

    Parsers (exifread, Pillow) silently skip such damage; analysts want to know about it,
    because damaged EXIF is common in edited or fabricated files.
    """
    notes: list[str] = []
    n = len(blob)
    if n < 8:
        return [f"EXIF block too short ({n} bytes)"]
    bo = blob[:2]
    if bo == b"II":
        end = "<"
    elif bo == b"MM":
        end = ">"
    else:
        return [f"EXIF block has no TIFF byte-order mark ({bo!r})"]
    import struct

    def u16(o):
        return struct.unpack_from(end + "H", blob, o)[0]

    def u32(o):
        return struct.unpack_from(end + "I", blob, o)[0]

    if u16(2) != 42:
        notes.append("EXIF TIFF header magic is not 42")
    todo: list[tuple[int, str]] = [(u32(4), "IFD0")]
    visited: set[int] = set()
    bad = 0
    while todo:
        off, name = todo.pop(0)
        if off == 0:
            continue
        if off in visited:
            notes.append(f"EXIF IFD loop: {name} points back to an already visited IFD at offset {off}")
            continue
        if len(visited) >= MAX_IFDS:
            notes.append(f"EXIF has more than {MAX_IFDS} IFDs; traversal stopped")
            break
        if off + 2 > n:
            notes.append(f"EXIF {name} offset {off} is outside the {n}-byte EXIF block")
            continue
        visited.add(off)
        count = u16(off)
        if count > MAX_ENTRIES or off + 2 + 12 * count + 4 > n:
            notes.append(f"EXIF {name} at {off} claims {count} entries, beyond the EXIF block")
            count = min(count, max(0, (n - off - 2) // 12))
        for i in range(count):
            e = off + 2 + 12 * i
            tag, typ, cnt = struct.unpack_from(end + "HHI", blob, e)
            size = _TYPE_SIZES.get(typ, 0) * cnt
            if tag in _SUB_IFD_TAGS and typ in (4, 13):
                todo.append((u32(e + 8), _SUB_IFD_TAGS[tag]))
            if size > 4:
                doff = u32(e + 8)
                if doff + size > n:
                    bad += 1
                    if bad <= 5:
                        notes.append(f"EXIF {name} tag 0x{tag:04X}: value of {size} bytes at offset {doff} "
                                     f"lies outside the EXIF block (bad offset)")
        nxt_pos = off + 2 + 12 * count
        if nxt_pos + 4 <= n:
            nxt = u32(nxt_pos)
            if nxt and name.startswith("IFD"):
                todo.append((nxt, f"IFD{int(name[3:]) + 1}" if name[3:].isdigit() else "IFD"))
    if bad > 5:
        notes.append(f"EXIF: {bad - 5} more tags with bad offsets")
    return notes
