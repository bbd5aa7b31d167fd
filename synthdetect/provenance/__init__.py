"""Explicit provenance of an image: C2PA, XMP/IPTC DigitalSourceType, generator text chunks, EXIF.

Public API::

    from synthdetect.provenance import analyze, POLICY, short
    info = analyze(Path("img.png"))          # JSON-serialisable dict, never raises
    info["verdict_hint"]                      # 'synthetic' or None
    info["ai_evidence"]                       # human-readable findings
    short({"provenance": info})               # the one-line summary of a scan record

Each source is an :class:`~.base.Analyzer` listed in ``sources.ANALYZERS``; ``analyze`` runs
them in order and then applies the combining policy (``POLICY``) once.  To add a source, see
``sources`` and docs/provenance.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..inputs.discovery import NotRegularFile, display_path
from . import _c2pa, _containers, sources
from .base import Analyzer, Budget, Context, Findings, Section
from .c2pa_manifest import TRUST_ANCHORS_ENV
from .sources import ANALYZERS

__all__ = ["analyze", "unreadable", "short", "policy", "sections", "POLICY", "ANALYZERS", "Analyzer", "Context",
           "Findings", "Section", "DEFAULT_MAX_BYTES", "AI_SOURCE_TYPES", "TRUST_ANCHORS_ENV"]

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
DEFAULT_TIME_BUDGET_S = 10.0
AI_SOURCE_TYPES = dict(_c2pa.AI_SOURCE_TYPES)

_POLICY_HEAD = """\
Provenance combination policy (synthdetect.provenance)

1. Explicit AI provenance => verdict_hint = 'synthetic', each finding named in ai_evidence:
"""
_POLICY_TAIL = """\
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


def policy() -> str:
    """The combining policy, with one lettered item under rule 1 per source that yields AI evidence."""
    items = []
    for i, a in enumerate(x for x in sources.ANALYZERS if x.policy):
        first, *rest = a.policy.splitlines()
        items.append(f"   {chr(ord('a') + i)}. {first}\n" + "".join(f"      {line}\n" for line in rest))
    return _POLICY_HEAD + "".join(items) + _POLICY_TAIL


POLICY = policy()


def _empty_result(path: Path) -> dict:
    fields = [kv for a in sources.ANALYZERS for kv in a.empty_fields().items()]
    return {
        "path": display_path(path),
        "readable": True,
        "format": None,
        "bytes_read": 0,
        "verdict_hint": None,
        "ai_evidence": [],
        **dict(sources.ordered(fields, lambda kv: kv[0], sources.RESULT_ORDER)),
        "camera_evidence": [],
        "notes": [],
    }


def _read_capped(path: Path, max_bytes: int) -> tuple[bytes, bool]:
    from ..inputs.discovery import open_regular

    with open_regular(path) as fh:        # read-only, never blocks (a FIFO or device is refused)
        data = fh.read(max_bytes + 1)
    return data[:max_bytes], len(data) > max_bytes


def unreadable(path: Path | str, reason: str) -> dict:
    """The result for a file that could not be read at all: ``readable`` false, the reason in ``notes``."""
    res = _empty_result(Path(path))
    res["readable"] = False
    res["notes"].append(f"cannot read file: {reason}")
    return res


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
    budget = Budget(time_budget_s)
    try:
        data, truncated = _read_capped(path, max_bytes)
    except (OSError, ValueError) as e:
        return unreadable(path, str(e) if isinstance(e, NotRegularFile) else f"{type(e).__name__}: {e}")
    res["bytes_read"] = len(data)
    if truncated:
        notes.append(f"file larger than max_bytes ({max_bytes}); only the first {max_bytes} bytes examined")
    if not data:
        notes.append("empty file")
        return res
    evidence: list[str] = []
    try:
        ex = _containers.extract(data)
        res["format"] = ex.format
        notes.extend(ex.notes)
        ctx = Context(path, data, truncated, budget, ex, trust_anchors_pem, result=res)
        for a in list(sources.ANALYZERS):
            f = a.analyze(ctx)
            res.update(f.fields)
            evidence.extend(f.ai_evidence)
            res["camera_evidence"].extend(f.camera_evidence)
            notes.extend(f.notes)
            ctx.shared[a.name] = f.shared
    except Exception as e:  # last-resort guard: a bug must not kill a scan
        notes.append(f"provenance analysis aborted ({type(e).__name__}: {str(e)[:200]})")
    if budget.left() <= 0:
        notes.append(f"per-file provenance time budget ({time_budget_s:.1f} s) reached")
    # the combining policy (POLICY): any explicit AI finding makes the hint 'synthetic'
    res["notes"] = list(dict.fromkeys(notes))
    res["ai_evidence"] = list(dict.fromkeys(evidence))
    res["verdict_hint"] = "synthetic" if res["ai_evidence"] else None
    return res


def sections(info: dict[str, Any]) -> list[Section]:
    """What ``inspect`` shows for each source of an ``analyze()`` result, in display order."""
    shown = sources.ordered(sources.ANALYZERS, lambda a: a.name, sources.DISPLAY_ORDER)
    return [s for a in shown for s in a.sections(info)]


def short(rec: dict[str, Any]) -> str:
    """One cell for a scan record: its first AI finding (+N more), 'error', or ''."""
    prov = rec.get("provenance")
    if not isinstance(prov, dict):
        return ""
    if prov.get("error"):
        return "error"
    ev = prov.get("ai_evidence") or []
    if ev:
        s = str(ev[0])
        return s + (f" (+{len(ev) - 1})" if len(ev) > 1 else "")
    return ""
