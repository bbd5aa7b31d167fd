"""C2PA (Content Credentials) reading through c2pa-python (the CAI's c2pa-rs bindings).

The manifest store is read from the in-memory bytes of the file with network
access disabled (no remote-manifest fetch, no OCSP fetch), so results are
reproducible offline.  The signer's certificate is checked against trust
anchors only when the caller provides them; otherwise a cryptographically
valid signature from an unknown CA is reported as ``valid`` (not ``trusted``).
"""

from __future__ import annotations

import io
import json
from typing import Any

AI_SOURCE_TYPES = {
    "trainedAlgorithmicMedia": "AI-generated (trainedAlgorithmicMedia)",
    "compositeWithTrainedAlgorithmicMedia": "composite containing AI-generated elements "
                                            "(compositeWithTrainedAlgorithmicMedia)",
}
# Recorded and shown, but not explicit AI provenance on their own (see POLICY).
OTHER_SYNTHETIC_TYPES = {
    "algorithmicMedia": "purely algorithmic, not trained-model media (algorithmicMedia)",
    "compositeSynthetic": "composite with synthetic elements, model not stated (compositeSynthetic)",
    "algorithmicallyEnhanced": "algorithmically enhanced capture (algorithmicallyEnhanced)",
    "dataDrivenMedia": "data-driven media (dataDrivenMedia)",
    "digitalCreation": "created by a human with software (digitalCreation)",
    "digitalArt": "digital art (digitalArt)",
    "virtualRecording": "virtual recording (virtualRecording)",
}

_MIME = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp", "gif": "image/gif",
         "tiff": "image/tiff", "heif": "image/heic", "avif": "image/avif", "jxl": "image/jxl",
         "isobmff": "image/heif"}


def dst_name(uri: str) -> str:
    """Last path component of an IPTC digital source type URI (or the value itself)."""
    return uri.rstrip("/").rsplit("/", 1)[-1].strip()


def _settings(trust_anchors_pem: str | None) -> dict:
    s: dict[str, Any] = {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}}
    if trust_anchors_pem:
        s["trust"] = {"trust_anchors": trust_anchors_pem}
    return s


def _collect_actions(manifest: dict, out_actions: list, out_dst: list) -> None:
    for a in manifest.get("assertions") or []:
        if not isinstance(a, dict):
            continue
        label = str(a.get("label", ""))
        data = a.get("data") if isinstance(a.get("data"), dict) else {}
        if label.startswith("c2pa.actions"):
            for act in data.get("actions") or []:
                if not isinstance(act, dict):
                    continue
                agent = act.get("softwareAgent")
                if isinstance(agent, dict):
                    agent = agent.get("name")
                dst = act.get("digitalSourceType")
                entry = {"action": act.get("action"), "software_agent": agent,
                         "digital_source_type": dst}
                if entry not in out_actions:
                    out_actions.append(entry)
                if dst and dst not in out_dst:
                    out_dst.append(dst)
        # IPTC photo metadata / schema.org CreativeWork assertions may also carry the type
        for k in ("Iptc4xmpExt:DigitalSourceType", "digitalSourceType"):
            v = data.get(k)
            if isinstance(v, str) and v not in out_dst:
                out_dst.append(v)


def _claim_generator(m: dict) -> str | None:
    if isinstance(m.get("claim_generator"), str):
        return m["claim_generator"]
    infos = m.get("claim_generator_info")
    if isinstance(infos, list):
        names = []
        for i in infos:
            if isinstance(i, dict) and i.get("name"):
                names.append(f"{i['name']} {i.get('version', '')}".strip())
        return ", ".join(names) or None
    return None


def read_c2pa(data: bytes, fmt: str, *, truncated: bool, trust_anchors_pem: str | None) -> dict:
    """Read the C2PA manifest store from bytes.  Returns the 'c2pa' result dict (never raises)."""
    try:
        import c2pa
    except Exception as e:  # pragma: no cover - c2pa-python is a declared dependency
        return {"present": False, "errors": [f"c2pa-python unavailable: {e}"]}
    mime = _MIME.get(fmt, "image/jpeg")
    try:
        ctx = c2pa.Context(settings=c2pa.Settings.from_dict(_settings(trust_anchors_pem)))
        reader = c2pa.Reader(mime, io.BytesIO(data), context=ctx)
    except Exception as e:
        name = type(e).__name__
        msg = str(e)
        if "ManifestNotFound" in name or "ManifestNotFound" in msg:
            return {"present": False}
        return {"present": True, "validation_state": "unreadable", "errors": [f"{name}: {msg[:300]}"],
                "claim_generator": None, "signer": None, "issuer": None, "actions": [],
                "digital_source_types": []}
    try:
        store = json.loads(reader.json())
    finally:
        try:
            reader.close()
        except Exception:
            pass
    return summarize_store(store, truncated=truncated)


def summarize_store(store: dict, *, truncated: bool = False) -> dict:
    manifests = store.get("manifests") or {}
    active_label = store.get("active_manifest")
    active = manifests.get(active_label) or {}
    actions: list = []
    dsts: list = []
    _collect_actions(active, actions, dsts)
    ingredient_dsts: list = []
    for label, m in manifests.items():
        if label != active_label and isinstance(m, dict):
            _collect_actions(m, [], ingredient_dsts)
    sig = active.get("signature_info") or {}
    status = store.get("validation_status") or []
    results = (store.get("validation_results") or {}).get("activeManifest") or {}
    failures = [f"{s.get('code')}: {s.get('explanation', '')}".strip() for s in status if isinstance(s, dict)]
    for f in results.get("failure") or []:
        if isinstance(f, dict):
            msg = f"{f.get('code')}: {f.get('explanation', '')}".strip()
            if msg not in failures:
                failures.append(msg)
    codes = {s.get("code") for s in status if isinstance(s, dict)}
    success_codes = {s.get("code") for s in results.get("success") or [] if isinstance(s, dict)}
    state = str(store.get("validation_state") or "unknown").lower()
    if state not in ("valid", "invalid", "trusted"):
        state = "unknown"
    signature_valid = "claimSignature.validated" in success_codes and not any(
        str(c).startswith("claimSignature.") for c in codes)
    if truncated:
        failures.append("file exceeded max_bytes: hashes over the asset could not be checked")
        if state in ("valid", "trusted"):
            state = "unknown"
    return {
        "present": True,
        "validation_state": state,
        "signature_valid": bool(signature_valid),
        "certificate_trusted": state == "trusted",
        "untrusted_certificate": "signingCredential.untrusted" in codes,
        "active_manifest": active_label,
        "claim_generator": _claim_generator(active),
        "title": active.get("title"),
        "signer": sig.get("common_name"),
        "issuer": sig.get("issuer"),
        "signing_time": sig.get("time"),
        "signature_alg": sig.get("alg"),
        "actions": actions,
        "digital_source_types": dsts,
        "ingredient_digital_source_types": [d for d in ingredient_dsts if d not in dsts],
        "manifest_count": len(manifests),
        "errors": failures,
    }
