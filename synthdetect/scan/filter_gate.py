"""Filter gates: linear tests on a backbone's features for an edit that hides a generator's trace.

A 3 x 3 median filter (the plainest denoise) makes the bundled probe call most renders real
(docs/quality.md: 34 of 43 on its holdout, against a stated 19 %), and its calibration never saw
such images. A backbone card may carry, under ``gates``, a linear score over its features that
reads such filtering (``tools/make_filter_gate.py`` fits it on median-filtered copies of the shared
sets and measures it on sources it was not fitted on). ``scan`` scores every image whose features
that backbone computed, records the score under ``quality.<name>_score``, and an image at or above
the threshold fails the quality gate ``<name>``: no definite detector verdict (provenance verdicts
are untouched, ``--no-quality-gates`` turns it off like every quality gate).

A probe fitted (``train probe``) on a sample in which at least a tenth of each class reads as filtered
was measured on such images: its card records ``calibration.filter_gates`` (:func:`sample_counts`)
and ``scan`` does not apply that gate to it (``quality.<name>_calibrated``), as with the composite
and greyscale gates.

numpy only; the features come from the scan's backbone run (no second pass).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..cards import BackboneCard, CardError

COVERED_SHARE = 0.1  # a tenth of each class of a probe's sample gated: its calibration measured such images

_REASON = {
    "median_filtered": "The image looks median-filtered or denoised (score {score:.2f} >= {threshold:.2f}): such "
                       "smoothing hides a generator's trace, and the detectors' error rates were not measured on "
                       "it (most filtered renders read real), so no calibrated verdict is given.",
}


@dataclass
class FilterGate:
    """``score = ((f[columns] - mean) / scale) · coef + intercept``; gated when ``score >= threshold``."""

    name: str
    columns: list[list[int]]  # [start, stop) spans of the backbone's feature vector
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    threshold: float

    @staticmethod
    def column_index(spans: list[list[int]]) -> np.ndarray:
        return np.concatenate([np.arange(int(a), int(b)) for a, b in spans]) if spans else np.zeros(0, dtype=int)

    def scores(self, features: np.ndarray) -> np.ndarray:
        f = np.asarray(features, dtype=np.float64)[:, self.column_index(self.columns)]
        return ((f - self.mean) / self.scale) @ self.coef + self.intercept

    def reason(self, score: float) -> str:
        text = _REASON.get(self.name, "The image's score for the edit '{name}' is {score:.2f} >= {threshold:.2f}: "
                                      "the detectors' error rates were not measured on such images.")
        return text.format(name=self.name, score=score, threshold=self.threshold)

    def to_dict(self) -> dict[str, Any]:
        return {"columns": [[int(a), int(b)] for a, b in self.columns], "mean": [float(v) for v in self.mean],
                "scale": [float(v) for v in self.scale], "coef": [float(v) for v in self.coef],
                "intercept": float(self.intercept), "threshold": float(self.threshold)}

    @classmethod
    def from_dict(cls, name: str, d: Any, dim: int) -> "FilterGate":
        """A gate from its card entry; malformed (wrong lengths, spans outside ``dim``, not finite): ValueError."""
        if not isinstance(d, dict):
            raise ValueError("not a JSON object")
        spans = d.get("columns")
        if not (isinstance(spans, list) and spans and all(
                isinstance(s, list) and len(s) == 2 and all(isinstance(v, int) for v in s) and 0 <= s[0] < s[1] <= dim
                for s in spans)):
            raise ValueError(f"'columns' must be [start, stop] spans inside the backbone's {dim} features")
        n = int(sum(b - a for a, b in spans))
        arrays = {}
        for key in ("mean", "scale", "coef"):
            try:
                a = np.asarray(d.get(key), dtype=np.float64)
            except (TypeError, ValueError):
                a = np.zeros(0)
            if a.shape != (n,) or not np.all(np.isfinite(a)):
                raise ValueError(f"'{key}' must be {n} finite numbers")
            arrays[key] = a
        if np.any(arrays["scale"] <= 0):
            raise ValueError("'scale' must be positive")
        nums = {k: d.get(k) for k in ("intercept", "threshold")}
        for k, v in nums.items():
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v):
                raise ValueError(f"'{k}' must be a finite number")
        return cls(name=name, columns=[list(s) for s in spans], intercept=float(nums["intercept"]),
                   threshold=float(nums["threshold"]), **arrays)


def card_gates(card: BackboneCard) -> list[FilterGate]:
    """The gates a backbone card carries (none for a card without ``gates``); a malformed one is a CardError."""
    out = []
    for name, entry in sorted((card.gates or {}).items()):
        try:
            out.append(FilterGate.from_dict(name, entry, card.dim))
        except ValueError as e:
            raise CardError(f"backbone card {card.path or card.name}: gate {name!r}: {e}") from None
    return out


def sample_counts(card: BackboneCard, X: np.ndarray, y: np.ndarray) -> dict[str, dict[str, Any]]:
    """A probe card's ``calibration.filter_gates``: per gate of its backbone, per class the sample
    images checked and those at or above the threshold, and ``covered`` (a tenth of each class)."""
    out: dict[str, dict[str, Any]] = {}
    for gate in card_gates(card):
        hit = gate.scores(X) >= gate.threshold
        per = {cls: {"checked": int(np.sum(y == v)), "gated": int(np.sum(hit[y == v]))}
               for cls, v in (("real", 0), ("fake", 1))}
        covered = all(p["checked"] and p["gated"] >= COVERED_SHARE * p["checked"] for p in per.values())
        out[gate.name] = {**per, "covered": bool(covered)}
    return out


def sample_warnings(counts: dict[str, dict[str, Any]]) -> list[str]:
    """What ``train probe`` says when its sample holds images a gate reads as filtered."""
    out = []
    for name, c in counts.items():
        n = c["real"]["checked"] + c["fake"]["checked"]
        k = c["real"]["gated"] + c["fake"]["gated"]
        what = (f"{k} of {n} sample images ({c['real']['gated']} real, {c['fake']['gated']} synthetic) read as "
                f"{name.replace('_', '-')} (quality gate '{name}')")
        if c["covered"]:
            out.append(f"{what}: the probe's rates are measured on such images, so scan with it does not withhold them")
        elif n and k >= max(2, 0.05 * n):
            out.append(f"{what}: scan withholds detector verdicts on such images unless a tenth of each class is "
                       "like them, so this probe will give no verdict on the questioned images that are")
    return out


def calibrated(calibration: Any, name: str) -> bool:
    """Whether a card's calibration covers images the gate ``name`` reads (:func:`sample_counts`)."""
    gates = calibration.get("filter_gates") if isinstance(calibration, dict) else None
    entry = gates.get(name) if isinstance(gates, dict) else None
    return isinstance(entry, dict) and entry.get("covered") is True


def apply(rec: dict[str, Any], gate: FilterGate, score: float) -> bool:
    """Record the score in the image's quality entry and, at or above the threshold, fail the gate
    (True: it failed; ``scan`` then lifts it where the cards' calibration covers such images, as it
    lifts every quality gate); nothing for a record without a quality entry (the quality gates are off)."""
    q = rec.get("quality")
    if not isinstance(q, dict):
        return False
    q[f"{gate.name}_score"] = round(float(score), 4)
    if score < gate.threshold or not isinstance(q.get("failed"), list):
        return False
    q["failed"].append({"gate": gate.name, "value": round(float(score), 2), "threshold": round(gate.threshold, 2),
                        "reason": gate.reason(score)})
    q["ok"] = False
    return True
