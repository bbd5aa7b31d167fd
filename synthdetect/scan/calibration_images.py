"""Images the detectors were calibrated on, recognised in a scan.

A probe's card lists its calibration images by the first 16 hex digits of their SHA-256
(``calibration.real_ids`` / ``fake_ids``), beside their out-of-fold scores, and its domain
reference holds their features.  When a scanned file is one of them (the same file, matched by
that prefix, or the same picture re-saved, re-encoded or downscaled: features closer than the
reference's copy distance to it or to one of the reference's transformed copies of it), its
detector score is a *training* score (the head was fitted on that picture) and its label is
already known from the sample.  The record says so (``calibration_image``: per
card, how it matched, the label it was given and its out-of-fold probability, the honest score
the card's error rates were measured with); the verdict is left as it is, and the summary counts
such images so an analyst who scans the reference sample along with the case is not misled by
how well the detector seems to do on it.
"""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np

ID_LENGTH = 16  # hex digits of the SHA-256 a card keeps per calibration image


def index(cards: Iterable[Any]) -> dict[str, list[dict[str, Any]]]:
    """SHA-256 prefix -> one entry per card that was calibrated on that image (``model``,
    ``label``, ``out_of_fold_probability`` when the card has the score)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for card in cards:
        cal = getattr(card, "calibration", None) or {}
        for label, ids_key, scores_key in (("real", "real_ids", "real_scores"),
                                           ("synthetic", "fake_ids", "fake_scores")):
            ids, scores = cal.get(ids_key) or [], cal.get(scores_key) or []
            for i, sid in enumerate(ids):
                if not isinstance(sid, str) or len(sid) < ID_LENGTH:
                    continue
                entry: dict[str, Any] = {"model": card.name, "label": label}
                if i < len(scores) and isinstance(scores[i], (int, float)):
                    entry["out_of_fold_probability"] = round(float(scores[i]), 6)
                out.setdefault(sid[:ID_LENGTH].lower(), []).append(entry)
    return out


def mark(rec: dict[str, Any], idx: dict[str, list[dict[str, Any]]]) -> bool:
    """Add ``calibration_image`` to ``rec`` when its file is one of the cards' calibration images
    (``match: "same file"``; it replaces what :func:`add_copy` found for the same card); True when it was."""
    sha = rec.get("sha256")
    hits = idx.get(sha[:ID_LENGTH].lower()) if isinstance(sha, str) and len(sha) >= ID_LENGTH else None
    if not hits:
        return False
    same = {h["model"] for h in hits}
    rec["calibration_image"] = [{**h, "match": "same file"} for h in hits] + [
        h for h in rec.get("calibration_image") or [] if h.get("model") not in same]
    return True


def add_copy(rec: dict[str, Any], model: str, ref: Any, row: int, distance: float) -> None:
    """Record that ``rec``'s image is a copy of row ``row`` of ``model``'s domain reference
    (:meth:`~synthdetect.scan.domain.DomainReference.look_up`: the same picture re-saved,
    re-encoded or downscaled; ``distance`` a share of the calibration images' median
    nearest-neighbour distance), with that image's label and out-of-fold score; when the row is
    one of the reference's transformed copies, its ``condition`` (e.g. ``720q80``) too."""
    entry: dict[str, Any] = {"model": model, "label": {0: "real", 1: "synthetic"}.get(int(ref.labels[row]), "unknown"),
                             "match": "near copy", "distance": distance}
    cond = str(ref.conditions[row])
    if cond:
        entry["condition"] = cond
    if np.isfinite(ref.scores[row]):
        entry["out_of_fold_probability"] = round(float(ref.scores[row]), 6)
    rec.setdefault("calibration_image", []).append(entry)
