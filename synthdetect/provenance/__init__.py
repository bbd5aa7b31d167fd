"""Explicit provenance of an image: C2PA, XMP/IPTC DigitalSourceType, generator text chunks, EXIF.

Public API::

    from synthdetect.provenance import analyze, POLICY
    info = analyze(Path("img.png"))          # JSON-serialisable dict, never raises
    info["verdict_hint"]                      # 'synthetic' or None
    info["ai_evidence"]                       # human-readable findings

See ``POLICY`` and docs/provenance.md.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any, Callable

from . import _c2pa, _containers, _exif, _generators, _xmp

__all__ = ["analyze", "POLICY", "DEFAULT_MAX_BYTES", "AI_SOURCE_TYPES"]

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
DEFAULT_TIME_BUDGET_S = 10.0
TRUST_ANCHORS_ENV = "SYNTHDETECT_C2PA_TRUST_ANCHORS"
AI_SOURCE_TYPES = dict(_c2pa.AI_SOURCE_TYPES)

POLICY = """\
Provenance combination policy (synthdetect.provenance)

1. Explicit AI provenance => verdict_hint = 'synthetic', each finding named in ai_evidence:
   a. a C2PA manifest whose actions (or IPTC assertion) declare digitalSourceType
      trainedAlgorithmicMedia or compositeWithTrainedAlgorithmicMedia.  The validation state
      is always stated next to the finding: 'signature valid, certificate trusted',
      'signature valid; signer not on a trust list' (the default offline: no trust list is
      bundled), 'validation INVALID (...)', or 'validation unknown'.
      An INVALID manifest still counts: a claim of AI origin is itself evidence that the
      asset passed through an AI tool (tampering with a manifest rarely adds an AI claim to
      a real photo), but the finding is labelled so that the analyst weighs it.
   b. an XMP/IPTC Iptc4xmpExt:DigitalSourceType with one of those two AI values outside C2PA
      (unsigned, so trivially added or removed - still an explicit declaration).
   c. a generator metadata chunk (A1111/Forge 'parameters', ComfyUI 'prompt'/'workflow',
      NovelAI, InvokeAI, Fooocus, SwarmUI, Easy Diffusion, Midjourney job id, ...).
   d. a known generator name in EXIF Software/ImageDescription/Artist, XMP CreatorTool,
      Credit ('Made with Google AI'), history software agents, or the PNG Software chunk.
   Non-trained synthetic types (algorithmicMedia, compositeSynthetic, algorithmicallyEnhanced,
   digitalCreation, dataDrivenMedia, ...) are reported in the c2pa/xmp fields and in notes,
   but are NOT AI evidence: they describe procedural/CGI/human-made or enhanced media.
2. Absence of provenance proves nothing: metadata is stripped by most re-encoders and
   social platforms.  verdict_hint is then None and the detectors decide.
3. Camera EXIF (make/model, lens, GPS, capture time) is weak evidence of a real capture: it is
   trivially copied or forged.  It is listed in camera_evidence and never overrides the
   detectors nor an explicit AI finding.
4. The detector score and provenance are separate fields of a scan record; provenance
   never edits the model score.  A consumer may report 'synthetic (provenance)' when
   verdict_hint is 'synthetic' and the detectors disagree, showing both.
"""

# Per-stage wall-clock caps (seconds) inside the per-file budget.
_STAGE_CAP_S = {"c2pa": 5.0, "exifread": 3.0, "pillow": 3.0}


class _Budget:
    def __init__(self, seconds: float):
        self.deadline = time.monotonic() + seconds

    def left(self) -> float:
        return max(0.0, self.deadline - time.monotonic())


def _guarded(fn: Callable[[], Any], stage: str, budget: _Budget, notes: list[str]) -> tuple[bool, Any]:
    """Run fn in a daemon thread with a timeout.  Returns (ok, value_or_None); never raises."""
    timeout = min(_STAGE_CAP_S.get(stage, 3.0), budget.left())
    if timeout <= 0:
        notes.append(f"time budget exhausted before {stage}; skipped")
        return False, None
    box: dict[str, Any] = {}

    def run():
        try:
            box["value"] = fn()
        except BaseException as e:  # noqa: BLE001 - reported as a note
            box["error"] = e

    t = threading.Thread(target=run, name=f"provenance-{stage}", daemon=True)
    t.start()
    t.join(timeout)
    if t.is_alive():
        notes.append(f"{stage} exceeded its time budget ({timeout:.1f} s); result abandoned")
        return False, None
    if "error" in box:
        e = box["error"]
        notes.append(f"{stage} could not parse this file ({type(e).__name__}: {str(e)[:200]})")
        return False, None
    return True, box.get("value")


def _empty_result(path: Path) -> dict:
    return {
        "path": str(path),
        "readable": True,
        "format": None,
        "bytes_read": 0,
        "verdict_hint": None,
        "ai_evidence": [],
        "c2pa": {"present": False},
        "xmp": {"present": False},
        "generator_chunks": [],
        "exif": {**{k: None for k in _exif.FIELDS}, "gps_present": False, "source": None},
        "software_generator": [],
        "camera_evidence": [],
        "notes": [],
    }


def _read_capped(path: Path, max_bytes: int) -> tuple[bytes, bool]:
    with open(path, "rb") as fh:          # read-only; evidence is never modified
        data = fh.read(max_bytes + 1)
    return data[:max_bytes], len(data) > max_bytes


def _looks_like_generator_field(value: str | None) -> bool:
    if not value:
        return False
    low = value.lstrip().lower()
    return len(value) > 160 or low.startswith(("prompt:", "workflow:", "{", "["))


def _state_label(c: dict) -> str:
    state = c.get("validation_state")
    if state == "trusted":
        return "signature valid, certificate trusted"
    if state == "valid":
        if c.get("untrusted_certificate"):
            return "signature valid; signer not on a trust list"
        return "signature valid"
    if state == "invalid":
        codes = [e.split(":", 1)[0] for e in c.get("errors", []) if not e.startswith("signingCredential.untrusted")]
        sig = "signature invalid" if not c.get("signature_valid") else "manifest invalid"
        return f"{sig} ({', '.join(codes[:3]) or 'validation failed'})"
    return f"validation {state or 'unknown'}"


def _xmp_summary(props: dict[str, list[str]], salvaged: bool) -> dict:
    def first(k):
        v = props.get(k)
        return v[0] if v else None

    return {
        "present": True,
        "digital_source_type": first("Iptc4xmpExt:DigitalSourceType"),
        "digital_source_types": list(props.get("Iptc4xmpExt:DigitalSourceType", [])),
        "creator_tool": first("xmp:CreatorTool"),
        "software": first("tiff:Software"),
        "credit": first("photoshop:Credit"),
        "make": first("tiff:Make"),
        "model": first("tiff:Model"),
        "history_software_agents": list(props.get("stEvt:softwareAgent", []))[:20],
        "c2pa_provenance_ref": first("dcterms:provenance"),
        "user_comment": _generators.excerpt(first("exif:UserComment") or "") or None,
        "description": _generators.excerpt(first("dc:description") or "") or None,
        "salvaged": salvaged,
    }


def analyze(path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES,
            time_budget_s: float = DEFAULT_TIME_BUDGET_S,
            trust_anchors_pem: str | None = None) -> dict:
    """Explicit provenance of one file.  Never raises for bad files; problems become ``notes``.

    ``trust_anchors_pem`` (or a PEM file named by $SYNTHDETECT_C2PA_TRUST_ANCHORS) lets C2PA
    signer certificates be checked against a trust list; without it a good signature is 'valid'.
    """
    path = Path(path)
    res = _empty_result(path)
    notes: list[str] = res["notes"]
    budget = _Budget(time_budget_s)
    try:
        data, truncated = _read_capped(path, max_bytes)
    except (OSError, ValueError) as e:
        res["readable"] = False
        notes.append(f"cannot read file: {type(e).__name__}: {e}")
        return res
    res["bytes_read"] = len(data)
    if truncated:
        notes.append(f"file larger than max_bytes ({max_bytes}); only the first {max_bytes} bytes examined")
    if not data:
        notes.append("empty file")
        return res
    try:
        _analyze_bytes(data, truncated, res, budget, trust_anchors_pem)
    except Exception as e:  # last-resort guard: a bug must not kill a scan
        notes.append(f"provenance analysis aborted ({type(e).__name__}: {str(e)[:200]})")
    if budget.left() <= 0:
        notes.append(f"per-file provenance time budget ({time_budget_s:.1f} s) reached")
    res["notes"] = list(dict.fromkeys(notes))
    res["ai_evidence"] = list(dict.fromkeys(res["ai_evidence"]))
    res["verdict_hint"] = "synthetic" if res["ai_evidence"] else None
    return res


def _analyze_bytes(data: bytes, truncated: bool, res: dict, budget: _Budget,
                   trust_anchors_pem: str | None) -> None:
    notes = res["notes"]
    ex = _containers.extract(data)
    res["format"] = ex.format
    notes.extend(ex.notes)
    evidence: list[str] = res["ai_evidence"]

    # ---------------------------------------------------------------- EXIF
    exif: dict[str, Any] = {}
    source = None
    exifread_notes: list[str] = []
    for blob in ex.exif_blobs[:4]:
        notes.extend(_exif.check_structure(blob))
    if ex.format in ("jpeg", "tiff", "png", "heif", "avif", "isobmff", "jxl") and \
            (ex.format != "png" or ex.exif_blobs):
        ok, val = _guarded(lambda: _exif.read_exifread(data), "exifread", budget, exifread_notes)
        if ok and val:
            exif, n = val
            exifread_notes.extend(n)
            if _exif.has_content(exif):
                source = "exifread"
    pil_xmp = None
    # Pillow on the raw EXIF blobs: the fallback when exifread found nothing (WebP), and the
    # source of UserComment (exifread skips it with details=False) for the other formats.
    for blob in ex.exif_blobs[:4]:
        ok, val = _guarded(lambda b=blob: _exif.read_pillow_blob(b), "pillow", budget, notes)
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
    if ex.format in ("heif", "avif", "isobmff", "tiff", "gif", "jxl", "unknown") and (source is None or not ex.xmp_packets):
        ok, val = _guarded(lambda: _exif.read_pillow_image(data), "pillow", budget, notes)
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
    res["exif"] = exif_out

    # ---------------------------------------------------------------- XMP
    props: dict[str, list[str]] = {}
    salvaged = False
    packets = list(ex.xmp_packets)
    if pil_xmp and not packets:
        packets.append(pil_xmp[:_containers.MAX_XMP])
    for pkt in packets[:8]:
        p, n = _xmp.parse_xmp(pkt)
        notes.extend(n)
        salvaged = salvaged or any("salvaged" in x for x in n)
        for k, vals in p.items():
            for v in vals:
                _xmp._add(props, k, v)
    xmp = _xmp_summary(props, salvaged) if packets else {"present": False}
    res["xmp"] = xmp

    # ---------------------------------------------------------------- C2PA
    if ex.has_jumbf or b"c2pa" in data:
        ok, val = _guarded(lambda: _c2pa.read_c2pa(data, ex.format, truncated=truncated,
                                                    trust_anchors_pem=_trust_anchors(trust_anchors_pem)),
                           "c2pa", budget, notes)
        if ok and val:
            res["c2pa"] = val
        elif not ok:
            res["c2pa"] = {"present": True, "validation_state": "unknown",
                           "errors": ["C2PA reading failed or timed out (see notes)"],
                           "actions": [], "digital_source_types": []}
        if ex.has_jumbf and not res["c2pa"].get("present"):
            notes.append("JUMBF/C2PA container marker present but no readable manifest store")
    if xmp.get("c2pa_provenance_ref") and not res["c2pa"].get("present"):
        notes.append(f"XMP dcterms:provenance references a remote C2PA manifest "
                     f"({xmp['c2pa_provenance_ref'][:200]}); not fetched (offline)")
    c = res["c2pa"]
    if c.get("present"):
        for err in c.get("errors", [])[:5]:
            if c.get("validation_state") in ("invalid", "unreadable", "unknown"):
                notes.append(f"C2PA: {err}")
        label = _state_label(c)
        gen = c.get("claim_generator")
        for dst in c.get("digital_source_types", []):
            name = _c2pa.dst_name(dst)
            if name in _c2pa.AI_SOURCE_TYPES:
                evidence.append(f"C2PA digitalSourceType {name} (claim generator "
                                f"{gen!r}, signer {c.get('signer')!r}, {label})")
            elif name in _c2pa.OTHER_SYNTHETIC_TYPES:
                notes.append(f"C2PA digitalSourceType {name}: {_c2pa.OTHER_SYNTHETIC_TYPES[name]}; "
                             f"not counted as AI evidence")
        for dst in c.get("ingredient_digital_source_types", []):
            name = _c2pa.dst_name(dst)
            if name in _c2pa.AI_SOURCE_TYPES:
                evidence.append(f"C2PA ingredient manifest declares digitalSourceType {name} "
                                f"(active manifest {label})")

    # ---------------------------------------------------------------- XMP DigitalSourceType
    for dst in xmp.get("digital_source_types", []) if xmp.get("present") else []:
        name = _c2pa.dst_name(dst)
        how = " (salvaged from malformed XMP)" if salvaged else ""
        if name in _c2pa.AI_SOURCE_TYPES:
            evidence.append(f"XMP Iptc4xmpExt:DigitalSourceType {name}{how} (unsigned metadata)")
        elif name in _c2pa.OTHER_SYNTHETIC_TYPES:
            notes.append(f"XMP DigitalSourceType {name}: {_c2pa.OTHER_SYNTHETIC_TYPES[name]}; "
                         f"not counted as AI evidence")

    # ---------------------------------------------------------------- generator chunks
    chunks: list[dict] = res["generator_chunks"]
    # binary payloads in text chunks are noted by the container walker, never taken as evidence
    items: list[tuple[str, str, str]] = [(tc.container, tc.key, tc.text) for tc in ex.text_chunks
                                         if not tc.binary]
    for k, label in (("user_comment", "UserComment"), ("image_description", "ImageDescription"),
                     ("artist", "Artist"), ("make", "Make"), ("model", "Model")):
        if exif.get(k):
            items.append(("exif", label, exif[k]))
    if xmp.get("present"):
        for k, label in (("exif:UserComment", "UserComment"), ("dc:description", "Description")):
            for v in props.get(k, [])[:4]:
                items.append(("xmp", label, v))
    for container, key, text in items:
        if not isinstance(text, str):
            continue
        tool = _generators.classify_chunk(key, text)
        if tool:
            entry = {"tool": tool, "key": key, "container": container,
                     "excerpt": _generators.excerpt(text)}
            chunks.append(entry)
            evidence.append(f"{container} '{key}' generator metadata ({tool})")

    # ---------------------------------------------------------------- software strings
    sw: list[dict] = res["software_generator"]
    candidates: list[tuple[str, str]] = []
    for k, label in (("software", "EXIF Software"), ("artist", "EXIF Artist")):
        if exif.get(k):
            candidates.append((label, exif[k]))
    if not _looks_like_generator_field(exif.get("image_description")) and exif.get("image_description"):
        candidates.append(("EXIF ImageDescription", exif["image_description"]))
    for k, label in (("creator_tool", "XMP CreatorTool"), ("software", "XMP tiff:Software"),
                     ("credit", "XMP photoshop:Credit")):
        if xmp.get(k):
            candidates.append((label, xmp[k]))
    for a in xmp.get("history_software_agents", []) or []:
        candidates.append(("XMP history softwareAgent", a))
    for tc in ex.text_chunks:
        if tc.key.lower() in ("software", "source", "creator", "generator", "creation software") and not tc.binary:
            candidates.append((f"{tc.container} '{tc.key}'", tc.text[:500]))
    seen = set()
    for where, value in candidates:
        gen = _generators.match_software(value[:2000])
        if gen and (where, gen) not in seen:
            seen.add((where, gen))
            sw.append({"field": where, "value": _generators.excerpt(value), "generator": gen})
            evidence.append(f"{where} names a generator: {gen} ({_generators.excerpt(value, 80)!r})")

    # ---------------------------------------------------------------- camera (weak)
    cam: list[str] = res["camera_evidence"]
    make, model = exif.get("make"), exif.get("model")
    if _looks_like_generator_field(make) or _looks_like_generator_field(model):
        make = model = None
    if make or model:
        cam.append(f"camera make/model: {' '.join(x for x in (make, model) if x)} (weak: forgeable)")
    if exif.get("lens"):
        cam.append(f"lens: {exif['lens']} (weak)")
    if exif.get("gps_present"):
        cam.append("GPS position present (weak)")
    if exif.get("datetime_original") and cam:
        cam.append(f"capture time {exif['datetime_original']} (weak)")


def _trust_anchors(explicit: str | None) -> str | None:
    if explicit:
        return explicit
    p = os.environ.get(TRUST_ANCHORS_ENV)
    if p:
        try:
            return Path(p).read_text(encoding="ascii", errors="replace")
        except OSError:
            return None
    return None
