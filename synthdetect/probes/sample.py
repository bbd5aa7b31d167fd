"""What a labelled sample can support: its size against the error budgets, and its learning
curve (numpy + stdlib; used by ``train probe``).

**Sample size.**  A rate measured on ``n`` calibration images is stated with an exact
(Clopper–Pearson, :mod:`synthdetect.scan.calibration`) 95 % upper bound.  The best a sample can
ever show is zero errors, whose bound is ``1 - 0.025^(1/n)``: 13.7 % with 25 real photos,
7.1 % with 50, 3.6 % with 100; a 5 % false-alarm budget needs at least 72 real photos before
even a flawless detector can be shown to meet it.  ``train probe``:

* refuses (exit 2) a sample with fewer than :data:`MIN_PER_CLASS` (10) images of a class:
  five-fold cross-validation then holds one or two images of that class per fold, the
  thresholds rest on one or two images and the learning curve has no points;
* warns, in its output and in the card (``training.sample_size``), when the best reachable
  bound of either class is above its budget (``--max-false-alarm`` for real photos,
  ``--max-miss`` for synthetic images): the verdicts then come with rates whose bounds are
  wider than the budget, and the text says how many images would be needed.

**Learning curve.**  The cross-validated ROC-AUC on random stratified subsets of 25 / 50 /
75 % of the sample (three draws each; fewer on large samples) and on all of it (the fit's
own nested out-of-fold scores).  On the subsets the chosen feature group is refitted with
``C`` chosen inside every fold; the group choice itself is not repeated per subset (seven
times the cost), which makes the smaller points slightly optimistic.  Reading: *still rising* when
the least-squares slope of the points' ROC-AUC against log2(n) (the gain per doubling of the
sample, all points, not just the half and the whole: less noise) is at least :data:`RISING`
(0.02) -- more labels of this kind would probably help; *flat* otherwise -- the sample shows
no gain, which at 25-50 images a class does not rule one out (measured on five sources where
more labels did help, the slope read flat in 12 of 100 draws, the old half-to-whole rule in 22).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from ..scan.calibration import clopper_pearson

MIN_PER_CLASS = 10
RISING = 0.02
# tools/measure_adaptation.py, 2026-12-06: 100 draws (five sources x k 25 / 50, ten seeds) of
# sources where more labels added ROC-AUC on the rest (+0.05 or more on average from 25 to 50 a
# class); the slope rule read 88 of them rising, the half-to-full one 78
FLAT_WHERE_RISING = "12 of 100"
FRACTIONS = (0.25, 0.5, 0.75)
MIN_POINT_PER_CLASS = 5  # a learning-curve point needs this many images of each class


def best_upper(n: int) -> float:
    """The 95 % upper bound of a rate measured as 0 errors in ``n`` images (the best a sample can show)."""
    return clopper_pearson(0, n)[1] if n > 0 else 1.0


def needed_for(budget: float) -> int | None:
    """The smallest ``n`` whose zero-error bound is within ``budget`` (None for a zero budget)."""
    if budget <= 0:
        return None
    n = max(1, math.ceil(math.log(0.025) / math.log1p(-budget)) - 1)
    while best_upper(n) > budget:
        n += 1
    return n


@dataclass
class SampleSize:
    n_real: int
    n_fake: int
    max_false_alarm: float
    max_miss: float

    @property
    def too_small(self) -> bool:
        return min(self.n_real, self.n_fake) < MIN_PER_CLASS

    def refusal(self) -> str:
        return (f"too few labelled images to fit and calibrate ({self.n_real} real / {self.n_fake} synthetic; at "
                f"least {MIN_PER_CLASS} of each): with {min(self.n_real, self.n_fake)} the stated rates would rest on "
                f"one or two images per fold (best 95 % bound {100 * best_upper(min(self.n_real, self.n_fake)):.0f} %)")

    def warnings(self) -> list[str]:
        out = []
        for what, n, budget, flag in (("real photos", self.n_real, self.max_false_alarm, "--max-false-alarm"),
                                      ("synthetic images", self.n_fake, self.max_miss, "--max-miss")):
            b = best_upper(n)
            if b > budget:
                need = needed_for(budget)
                out.append(f"{n} {what} can show at best a 95 % bound of {100 * b:.1f} % (zero errors), above "
                           f"{flag} {100 * budget:g} %" + (f": the budget needs at least {need} {what}" if need else ""))
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"n_real": self.n_real, "n_synthetic": self.n_fake, "min_per_class": MIN_PER_CLASS,
                "best_false_alarm_upper95": round(best_upper(self.n_real), 6),
                "best_miss_upper95": round(best_upper(self.n_fake), 6),
                "max_false_alarm": self.max_false_alarm, "max_miss": self.max_miss,
                "budgets_reachable": not self.warnings(), "warnings": self.warnings()}


def _subsample(y: np.ndarray, frac: float, rng: np.random.Generator) -> np.ndarray:
    idx = []
    for lab in (0, 1):
        members = np.nonzero(y == lab)[0]
        idx.append(rng.choice(members, max(1, round(frac * members.size)), replace=False))
    return np.sort(np.concatenate(idx))


def learning_curve(y: Sequence[int], full_auc: float, cv_auc: Callable[[np.ndarray, int], float], *,
                   fractions: Sequence[float] = FRACTIONS, repeats: int = 3, seed: int = 0) -> dict[str, Any]:
    """Points ``{fraction, n, roc_auc (mean), sd, draws}`` for ``fractions`` and 1.0 (``full_auc``,
    the fit's own cross-validated ROC-AUC), and the reading.  ``cv_auc(indices, seed)`` is the
    cross-validated ROC-AUC of the fitting procedure on that subset."""
    y = np.asarray(y).astype(np.int64)
    rng = np.random.default_rng(seed)
    points = []
    for f in fractions:
        sub_min = round(f * min(int(np.sum(y == 0)), int(np.sum(y == 1))))
        if sub_min < MIN_POINT_PER_CLASS:
            continue
        aucs = [cv_auc(_subsample(y, f, rng), seed + 1 + r) for r in range(repeats)]
        aucs = [a for a in aucs if np.isfinite(a)]
        if aucs:
            points.append({"fraction": f, "n": int(_subsample(y, f, np.random.default_rng(0)).size),
                           "roc_auc": round(float(np.mean(aucs)), 4), "sd": round(float(np.std(aucs)), 4),
                           "draws": len(aucs)})
    points.append({"fraction": 1.0, "n": int(y.size), "roc_auc": round(float(full_auc), 4), "sd": None, "draws": 1})
    gain = gain_per_doubling(points)
    return {"points": points, "reading": _reading(points, gain),
            "gain_per_doubling": None if gain is None else round(gain, 4),
            "rule": f"still rising when the least-squares slope of ROC-AUC against log2(n) over the points "
                    f"is >= {RISING} (a doubling of the sample gains at least {RISING})"}


def gain_per_doubling(points: list[dict]) -> float | None:
    """The least-squares slope of the points' ROC-AUC against log2(n): the gain a doubling of the
    sample gave inside it (None with fewer than two points)."""
    if len(points) < 2:
        return None
    n = np.log2([float(p["n"]) for p in points])
    auc = np.array([float(p["roc_auc"]) for p in points])
    return float(np.polyfit(n, auc, 1)[0])


def _reading(points: list[dict], gain: float | None) -> str:
    half = next((p for p in points if p["fraction"] == 0.5), None)
    full = points[-1]["roc_auc"]
    if half is None:
        return "too few images for a curve: more labels would tell"
    if full >= 0.995:  # nothing left to gain on this sample, whatever the slope that got it there
        return "flat: the sample is already separated (cross-validated ROC-AUC >= 0.995" + (
            f"; it rose {gain:+.2f} per doubling on the way)" if gain is not None and gain >= RISING else ")")
    if gain >= RISING:
        return f"still rising: more labels would help (+{gain:.2f} ROC-AUC per doubling of the sample)"
    return (f"flat: this sample shows no gain from more labels ({gain:+.2f} ROC-AUC per doubling), which does "
            f"not rule one out (measured: it read flat in {FLAT_WHERE_RISING} draws of sources where more labels helped)")
