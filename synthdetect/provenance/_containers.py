"""Bounded walkers over the metadata-carrying parts of image containers.

Only the structure needed to find metadata is parsed: JPEG markers up to the
first SOS, PNG chunks up to IEND, RIFF/WebP chunks.  Every walker works on an
in-memory ``bytes`` object (already capped by ``max_bytes``), never follows a
length that points outside the buffer, caps the number of segments it visits
and the size of any payload it decodes, and reports oddities as notes instead
of raising.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

# Caps (bytes / counts).  Generous for real files, small enough to keep the
# work per file bounded.
MAX_SEGMENTS = 4096            # JPEG markers / PNG chunks / RIFF chunks visited
MAX_TEXT_DECODE = 2 * 1024 * 1024   # text chunk payload decoded in full
MAX_INFLATE = 4 * 1024 * 1024       # zTXt / compressed iTXt output cap
MAX_XMP = 4 * 1024 * 1024           # XMP packet (incl. extended XMP) cap
MAX_EXIF = 4 * 1024 * 1024          # EXIF blob handed to parsers

XMP_STD_SIG = b"http://ns.adobe.com/xap/1.0/\x00"
XMP_EXT_SIG = b"http://ns.adobe.com/xmp/extension/\x00"
EXIF_SIG = b"Exif\x00\x00"
PNG_SIG = b"\x89PNG\r\n\x1a\n"


@dataclass
class TextChunk:
    """A textual metadata item (PNG tEXt/iTXt/zTXt, JPEG COM, ...)."""

    container: str        # 'png:tEXt', 'png:iTXt', 'png:zTXt', 'jpeg:COM', ...
    key: str              # keyword ('' for COM)
    text: str             # decoded text (possibly truncated, see `truncated`)
    size: int             # size of the stored payload in bytes
    truncated: bool = False
    binary: bool = False


@dataclass
class Extracted:
    """Raw metadata pulled out of a container."""

    format: str = "unknown"
    text_chunks: list[TextChunk] = field(default_factory=list)
    exif_blobs: list[bytes] = field(default_factory=list)   # TIFF-structured EXIF (no 'Exif\0\0')
    xmp_packets: list[bytes] = field(default_factory=list)
    has_jumbf: bool = False       # APP11 JUMBF / PNG caBX / RIFF C2PA / 'jumb' box seen
    notes: list[str] = field(default_factory=list)


def sniff_format(data: bytes) -> str:
    """Container format from magic bytes."""
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(PNG_SIG):
        return "png"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if len(data) >= 12 and data[4:8] == b"ftyp":
        brand = data[8:12]
        if brand in (b"avif", b"avis"):
            return "avif"
        if brand in (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"):
            return "heif"
        return "isobmff"
    if data.startswith(b"\xff\x0a") or data[:12] == b"\x00\x00\x00\x0cJXL \r\n\x87\n":
        return "jxl"
    if data.startswith(b"BM"):
        return "bmp"
    return "unknown"


def _looks_binary(raw: bytes) -> bool:
    """True when a text payload is mostly non-text (control bytes / NULs)."""
    sample = raw[:4096]
    if not sample:
        return False
    if b"\x00" in sample:
        return True
    bad = sum(1 for b in sample if b < 9 or 13 < b < 32 or b == 127)
    return bad / len(sample) > 0.10


def _decode_text(raw: bytes, encoding: str) -> str:
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError:
        return raw.decode(encoding, errors="replace")


def _inflate(raw: bytes, limit: int) -> tuple[bytes, bool]:
    """Decompress zlib data with an output cap.  Returns (data, truncated)."""
    d = zlib.decompressobj()
    out = d.decompress(raw, limit)
    truncated = bool(d.unconsumed_tail) or (len(out) >= limit and not d.eof)
    return out, truncated


def _text_chunk(container: str, key: str, raw: bytes, encoding: str, ex: Extracted) -> None:
    size = len(raw)
    truncated = size > MAX_TEXT_DECODE
    payload = raw[:MAX_TEXT_DECODE].rstrip(b"\x00")     # C-style terminators are common (e.g. libavcodec COM)
    binary = len(payload) >= 8 and _looks_binary(payload)
    label = f"{container} '{key}'" if key else container
    if truncated:
        ex.notes.append(f"{label}: oversized text chunk ({size} bytes); only the first "
                        f"{MAX_TEXT_DECODE} bytes examined")
    if binary:
        ex.notes.append(f"{label}: binary (non-text) data in a text chunk ({size} bytes)")
        text = payload[:512].decode("latin-1").encode("unicode_escape").decode("ascii")
    else:
        text = _decode_text(payload, encoding)
    ex.text_chunks.append(TextChunk(container, key, text, size, truncated, binary))


# --------------------------------------------------------------------------- JPEG

def walk_jpeg(data: bytes, ex: Extracted) -> None:
    n = len(data)
    pos = 2
    ext_xmp: dict[bytes, dict[int, bytes]] = {}
    ext_len: dict[bytes, int] = {}
    count = 0
    while pos < n:
        count += 1
        if count > MAX_SEGMENTS:
            ex.notes.append(f"JPEG: more than {MAX_SEGMENTS} marker segments; stopped walking")
            break
        if data[pos] != 0xFF:
            ex.notes.append(f"JPEG: expected a marker at offset {pos}; metadata walk stopped")
            break
        while pos < n and data[pos] == 0xFF:      # fill bytes
            pos += 1
        if pos >= n:
            ex.notes.append("JPEG: file truncated inside a marker")
            break
        marker = data[pos]
        pos += 1
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            continue
        if marker == 0xD9:          # EOI
            break
        if pos + 2 > n:
            ex.notes.append(f"JPEG: truncated segment header (marker 0x{marker:02X})")
            break
        length = int.from_bytes(data[pos:pos + 2], "big")
        if length < 2:
            ex.notes.append(f"JPEG: bogus segment length {length} (marker 0x{marker:02X} at {pos - 2})")
            break
        seg_end = pos + length
        if seg_end > n:
            ex.notes.append(f"JPEG: segment 0x{marker:02X} at offset {pos - 2} claims {length} bytes "
                            f"but the file ends first (truncated)")
            payload = data[pos + 2:n]
        else:
            payload = data[pos + 2:seg_end]
        if marker == 0xDA:          # SOS: entropy-coded data follows; metadata is before it
            break
        if marker == 0xE1:
            if payload.startswith(EXIF_SIG):
                ex.exif_blobs.append(payload[6:6 + MAX_EXIF])
            elif payload.startswith(XMP_STD_SIG):
                pkt = payload[len(XMP_STD_SIG):]
                ex.xmp_packets.append(pkt[:MAX_XMP])
            elif payload.startswith(XMP_EXT_SIG):
                body = payload[len(XMP_EXT_SIG):]
                if len(body) < 40:
                    ex.notes.append("JPEG: extended-XMP segment too short; ignored")
                else:
                    guid = body[:32]
                    total = int.from_bytes(body[32:36], "big")
                    off = int.from_bytes(body[36:40], "big")
                    if total > MAX_XMP or off > total:
                        ex.notes.append(f"JPEG: extended XMP claims {total} bytes (offset {off}); ignored")
                    else:
                        ext_len[guid] = total
                        parts = ext_xmp.setdefault(guid, {})
                        if sum(len(p) for p in parts.values()) < MAX_XMP:
                            parts[off] = body[40:]
        elif marker == 0xEB:        # APP11: JUMBF (C2PA)
            if payload[:2] == b"JP" or b"jumb" in payload[:64]:
                ex.has_jumbf = True
        elif marker == 0xFE:        # COM
            _text_chunk("jpeg:COM", "", payload, "utf-8", ex)
        if seg_end > n:
            break
        pos = seg_end
    for guid, parts in ext_xmp.items():
        buf = bytearray()
        for off in sorted(parts):
            if off != len(buf):
                ex.notes.append("JPEG: extended XMP has gaps or overlaps; reassembled partially")
                break
            buf += parts[off]
        if len(buf) < ext_len.get(guid, 0):
            ex.notes.append(f"JPEG: extended XMP incomplete ({len(buf)} of {ext_len[guid]} bytes)")
        ex.xmp_packets.append(bytes(buf[:MAX_XMP]))


# --------------------------------------------------------------------------- PNG

def _png_itxt(raw: bytes, ex: Extracted) -> None:
    # keyword \0 compression-flag compression-method language \0 translated-keyword \0 text
    k = raw.find(b"\x00", 0, 80)
    if k <= 0:
        ex.notes.append("PNG iTXt: malformed keyword; chunk ignored")
        return
    key = raw[:k].decode("latin-1")
    if len(raw) < k + 3:
        ex.notes.append(f"PNG iTXt '{key}': truncated header; chunk ignored")
        return
    comp_flag = raw[k + 1]
    rest = raw[k + 3:]
    l1 = rest.find(b"\x00")
    l2 = rest.find(b"\x00", l1 + 1) if l1 >= 0 else -1
    if l1 < 0 or l2 < 0:
        ex.notes.append(f"PNG iTXt '{key}': malformed language/translated keyword; chunk ignored")
        return
    text = rest[l2 + 1:]
    if comp_flag:
        try:
            text, trunc = _inflate(text, MAX_INFLATE)
        except zlib.error as e:
            ex.notes.append(f"PNG iTXt '{key}': bad compressed data ({e})")
            return
        if trunc:
            ex.notes.append(f"PNG iTXt '{key}': decompressed text exceeds {MAX_INFLATE} bytes; truncated")
    if key == "XML:com.adobe.xmp":
        if len(text) > MAX_XMP:
            ex.notes.append(f"PNG XMP packet is {len(text)} bytes; only the first {MAX_XMP} parsed")
        ex.xmp_packets.append(text[:MAX_XMP])
        return
    _text_chunk("png:iTXt", key, text, "utf-8", ex)


def walk_png(data: bytes, ex: Extracted) -> None:
    n = len(data)
    pos = 8
    count = 0
    seen_iend = False
    while pos + 8 <= n:
        count += 1
        if count > MAX_SEGMENTS:
            ex.notes.append(f"PNG: more than {MAX_SEGMENTS} chunks; stopped walking")
            break
        length = int.from_bytes(data[pos:pos + 4], "big")
        ctype = data[pos + 4:pos + 8]
        start = pos + 8
        end = start + length
        if length > 0x7FFFFFFF:
            ex.notes.append(f"PNG: chunk {ctype!r} at {pos} has invalid length {length}; stopped")
            break
        truncated = end + 4 > n
        raw = data[start:min(end, n)]
        name = ctype.decode("latin-1")
        if truncated:
            ex.notes.append(f"PNG: chunk '{name}' at offset {pos} claims {length} bytes but the file "
                            f"ends first (truncated)")
        if ctype == b"tEXt":
            k = raw.find(b"\x00", 0, 80)
            if k <= 0:
                ex.notes.append("PNG tEXt: malformed keyword; chunk ignored")
            else:
                _text_chunk("png:tEXt", raw[:k].decode("latin-1"), raw[k + 1:], "latin-1", ex)
        elif ctype == b"zTXt":
            k = raw.find(b"\x00", 0, 80)
            if k <= 0 or len(raw) < k + 2:
                ex.notes.append("PNG zTXt: malformed keyword; chunk ignored")
            else:
                key = raw[:k].decode("latin-1")
                try:
                    text, trunc = _inflate(raw[k + 2:], MAX_INFLATE)
                    if trunc:
                        ex.notes.append(f"PNG zTXt '{key}': decompressed text exceeds {MAX_INFLATE} "
                                        f"bytes; truncated")
                    _text_chunk("png:zTXt", key, text, "latin-1", ex)
                except zlib.error as e:
                    ex.notes.append(f"PNG zTXt '{key}': bad compressed data ({e})")
        elif ctype == b"iTXt":
            _png_itxt(raw, ex)
        elif ctype == b"eXIf":
            ex.exif_blobs.append(raw[6:MAX_EXIF] if raw.startswith(EXIF_SIG) else raw[:MAX_EXIF])
        elif ctype == b"caBX":
            ex.has_jumbf = True
        elif ctype == b"IEND":
            seen_iend = True
            break
        if truncated:
            break
        pos = end + 4     # skip CRC
    if not seen_iend and count <= MAX_SEGMENTS:
        ex.notes.append("PNG: no IEND chunk (file truncated or has trailing garbage)")


# --------------------------------------------------------------------------- RIFF / WebP

def walk_webp(data: bytes, ex: Extracted) -> None:
    n = len(data)
    riff_size = int.from_bytes(data[4:8], "little")
    if riff_size + 8 > n:
        ex.notes.append(f"WebP: RIFF size {riff_size + 8} exceeds the {n} bytes read (truncated)")
    pos = 12
    count = 0
    while pos + 8 <= n:
        count += 1
        if count > MAX_SEGMENTS:
            ex.notes.append(f"WebP: more than {MAX_SEGMENTS} chunks; stopped walking")
            break
        fourcc = data[pos:pos + 4]
        size = int.from_bytes(data[pos + 4:pos + 8], "little")
        start = pos + 8
        end = start + size
        if end > n:
            ex.notes.append(f"WebP: chunk {fourcc.decode('latin-1')!r} claims {size} bytes but the file "
                            f"ends first (truncated)")
        raw = data[start:min(end, n)]
        if fourcc == b"EXIF":
            ex.exif_blobs.append(raw[6:6 + MAX_EXIF] if raw.startswith(EXIF_SIG) else raw[:MAX_EXIF])
        elif fourcc == b"XMP ":
            if len(raw) > MAX_XMP:
                ex.notes.append(f"WebP XMP chunk is {len(raw)} bytes; only the first {MAX_XMP} parsed")
            ex.xmp_packets.append(raw[:MAX_XMP])
        elif fourcc == b"C2PA":
            ex.has_jumbf = True
        if end > n:
            break
        pos = end + (size & 1)


# --------------------------------------------------------------------------- generic

def scan_xmp_packets(data: bytes, ex: Extracted, limit: int = 8) -> None:
    """Find XMP packets by their markers in an arbitrary container (HEIF, TIFF, GIF, ...)."""
    start = 0
    found = 0
    while found < limit:
        i = data.find(b"<x:xmpmeta", start)
        if i < 0:
            break
        j = data.find(b"</x:xmpmeta>", i)
        if j < 0:
            ex.notes.append("XMP packet without closing </x:xmpmeta> (truncated XMP)")
            ex.xmp_packets.append(data[i:i + MAX_XMP])
            break
        end = j + len(b"</x:xmpmeta>")
        if end - i > MAX_XMP:
            ex.notes.append(f"XMP packet of {end - i} bytes; only the first {MAX_XMP} parsed")
        ex.xmp_packets.append(data[i:min(end, i + MAX_XMP)])
        found += 1
        start = end


def extract(data: bytes) -> Extracted:
    fmt = sniff_format(data)
    ex = Extracted(format=fmt)
    if fmt == "jpeg":
        walk_jpeg(data, ex)
    elif fmt == "png":
        walk_png(data, ex)
    elif fmt == "webp":
        walk_webp(data, ex)
    else:
        scan_xmp_packets(data, ex)
    if not ex.has_jumbf and fmt not in ("jpeg", "png", "webp"):
        # ISOBMFF 'uuid' C2PA box, TIFF/GIF embedding: look for the JUMBF superbox type.
        ex.has_jumbf = b"jumb" in data and b"c2pa" in data
    return ex
