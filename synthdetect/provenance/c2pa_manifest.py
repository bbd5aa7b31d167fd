"""C2PA source: the Content Credentials manifest store (``c2pa`` field) and the AI
digitalSourceType it (or an ingredient manifest) declares, labelled with the validation state.

Read only when the container walk saw a JUMBF/C2PA marker or the bytes mention ``c2pa``.
Signer certificates are checked against trust anchors only when given (``trust_anchors_pem``
or a PEM file named by ``$SYNTHDETECT_C2PA_TRUST_ANCHORS``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from . import _c2pa
from .base import Analyzer, Context, Findings, Section

TRUST_ANCHORS_ENV = "SYNTHDETECT_C2PA_TRUST_ANCHORS"


def trust_anchors(explicit: str | None) -> str | None:
    if explicit:
        return explicit
    p = os.environ.get(TRUST_ANCHORS_ENV)
    if p:
        try:
            return Path(p).read_text(encoding="ascii", errors="replace")
        except OSError:
            return None
    return None


def state_label(c: dict) -> str:
    """The validation state as said next to every C2PA finding."""
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


class C2paAnalyzer(Analyzer):
    """``c2pa`` field and its AI evidence (reads the ``xmp`` field for a remote-manifest reference)."""

    name = "c2pa"
    empty = {"c2pa": {"present": False}}
    policy = ("a C2PA manifest whose actions (or IPTC assertion) declare digitalSourceType\n"
              "trainedAlgorithmicMedia or compositeWithTrainedAlgorithmicMedia.  The validation state\n"
              "is always stated next to the finding: 'signature valid, certificate trusted',\n"
              "'signature valid; signer not on a trust list' (the default offline: no trust list is\n"
              "bundled), 'validation INVALID (...)', or 'validation unknown'.\n"
              "An INVALID manifest still counts: a claim of AI origin is itself evidence that the\n"
              "asset passed through an AI tool (tampering with a manifest rarely adds an AI claim to\n"
              "a real photo), but the finding is labelled so that the analyst weighs it.")

    def analyze(self, ctx: Context) -> Findings:
        out = Findings()
        notes, evidence = out.notes, out.ai_evidence
        ex, data = ctx.container, ctx.data
        c: dict[str, Any] = {"present": False}
        if ex.has_jumbf or b"c2pa" in data:
            ok, val = ctx.guarded(lambda: _c2pa.read_c2pa(data, ex.format, truncated=ctx.truncated,
                                                           trust_anchors_pem=trust_anchors(ctx.trust_anchors_pem)),
                                  "c2pa", notes)
            if ok and val:
                c = val
            elif not ok:
                c = {"present": True, "validation_state": "unknown",
                     "errors": ["C2PA reading failed or timed out (see notes)"],
                     "actions": [], "digital_source_types": []}
            if ex.has_jumbf and not c.get("present"):
                notes.append("JUMBF/C2PA container marker present but no readable manifest store")
        xmp = ctx.result.get("xmp") or {}
        if xmp.get("c2pa_provenance_ref") and not c.get("present"):
            notes.append(f"XMP dcterms:provenance references a remote C2PA manifest "
                         f"({xmp['c2pa_provenance_ref'][:200]}); not fetched (offline)")
        if c.get("present"):
            for err in c.get("errors", [])[:5]:
                if c.get("validation_state") in ("invalid", "unreadable", "unknown"):
                    notes.append(f"C2PA: {err}")
            label = state_label(c)
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
        out.fields["c2pa"] = c
        return out

    def sections(self, result: dict[str, Any]) -> list[Section]:
        c = result.get("c2pa") or {}
        if not c.get("present"):
            return [Section("line", "C2PA: none")]
        actions = [f"{a.get('action')}  agent={a.get('software_agent')}  "
                   f"source={a.get('digital_source_type')}" for a in c.get("actions", [])]
        return [Section("fields", "C2PA manifest", [
            ("validation", c.get("validation_state")),
            ("signature valid", c.get("signature_valid")),
            ("claim generator", c.get("claim_generator")),
            ("signer", c.get("signer")),
            ("issuer", c.get("issuer")),
            ("signing time", c.get("signing_time")),
            ("title", c.get("title")),
            ("actions", actions),
            ("digital source types", c.get("digital_source_types")),
            ("ingredient source types", c.get("ingredient_digital_source_types")),
            ("manifests", c.get("manifest_count")),
            ("validation messages", c.get("errors")),
        ])]


C2PA = C2paAnalyzer()
