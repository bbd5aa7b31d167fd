"""EXIF source: camera fields (weak evidence of a real capture) and the raw EXIF strings that
the generator-chunk and software-string sources search.

exifread reads JPEG/TIFF/PNG/HEIF; Pillow reads the raw EXIF blobs (the fallback when
exifread found nothing, e.g. WebP, and the source of UserComment) and, for HEIF/AVIF/TIFF/GIF
and unknown containers, the whole file (its XMP goes to the XMP source through ``shared``).
"""

from __future__ import annotations

from typing import Any

from . import _exif, _generators
from .base import Analyzer, Context, Findings, Section

_EXIFREAD_FORMATS = ("jpeg", "tiff", "png", "heif", "avif", "isobmff", "jxl")
_PILLOW_IMAGE_FORMATS = ("heif", "avif", "isobmff", "tiff", "gif", "jxl", "unknown")


def camera_evidence(exif: dict[str, Any]) -> list[str]:
    """Weak evidence lines from raw EXIF fields (generator text in Make/Model is not a camera)."""
    cam: list[str] = []
    make, model = exif.get("make"), exif.get("model")
    if _generators.looks_like_generator_field(make) or _generators.looks_like_generator_field(model):
        make = model = None
    if make or model:
        cam.append(f"camera make/model: {' '.join(x for x in (make, model) if x)} (weak: forgeable)")
    if exif.get("lens"):
        cam.append(f"lens: {exif['lens']} (weak)")
    if exif.get("gps_present"):
        cam.append("GPS position present (weak)")
    if exif.get("datetime_original") and cam:
        cam.append(f"capture time {exif['datetime_original']} (weak)")
    return cam


class ExifAnalyzer(Analyzer):
    """``exif`` field, camera evidence; shares ``raw`` (untruncated fields) and ``pil_xmp``."""

    name = "exif"
    empty = {"exif": {**{k: None for k in _exif.FIELDS}, "gps_present": False, "source": None}}

    def analyze(self, ctx: Context) -> Findings:
        out = Findings()
        notes = out.notes
        ex, data = ctx.container, ctx.data
        exif: dict[str, Any] = {}
        source = None
        exifread_notes: list[str] = []
        for blob in ex.exif_blobs[:4]:
            notes.extend(_exif.check_structure(blob))
        if ex.format in _EXIFREAD_FORMATS and (ex.format != "png" or ex.exif_blobs):
            ok, val = ctx.guarded(lambda: _exif.read_exifread(data), "exifread", exifread_notes)
            if ok and val:
                exif, n = val
                exifread_notes.extend(n)
                if _exif.has_content(exif):
                    source = "exifread"
        pil_xmp = None
        # Pillow on the raw EXIF blobs: the fallback when exifread found nothing (WebP), and the
        # source of UserComment (exifread skips it with details=False) for the other formats.
        for blob in ex.exif_blobs[:4]:
            ok, val = ctx.guarded(lambda b=blob: _exif.read_pillow_blob(b), "pillow", notes)
            if ok and val:
                d, n = val
                notes.extend(n)
                if source is None and _exif.has_content(d):
                    exif, source = d, "pillow"
                    break
                if source is not None:
                    for k, v in d.items():
                        if not exif.get(k) and v:
                            exif[k] = v
                    break
        if ex.format in _PILLOW_IMAGE_FORMATS and (source is None or not ex.xmp_packets):
            ok, val = ctx.guarded(lambda: _exif.read_pillow_image(data), "pillow", notes)
            if ok and val:
                d, pil_xmp, n = val
                notes.extend(n)
                if source is None and _exif.has_content(d):
                    exif, source = d, "pillow"
        if source != "pillow":      # exifread's complaints matter only when Pillow did not do better
            notes.extend(exifread_notes)
        exif_out: dict[str, Any] = {k: exif.get(k) for k in _exif.FIELDS}
        exif_out["gps_present"] = bool(exif.get("gps_present"))
        exif_out["source"] = source
        for k in ("image_description", "artist", "user_comment", "make", "model", "software"):
            if isinstance(exif_out.get(k), str):
                exif_out[k] = _generators.excerpt(exif_out[k])
        out.fields["exif"] = exif_out
        out.camera_evidence = camera_evidence(exif)
        out.shared = {"raw": exif, "pil_xmp": pil_xmp}
        return out

    def sections(self, result: dict[str, Any]) -> list[Section]:
        e = result.get("exif") or {}
        if not e.get("source"):
            return []
        return [Section("fields", f"EXIF (via {e.get('source')})",
                        [(k, v) for k, v in e.items() if k != "source" and v not in (None, False)])]


EXIF = ExifAnalyzer()
