"""Combining member detectors (see docs/DESIGN.md, "Ensemble semantics").

Every member ``i`` gives a probability ``p_i`` and votes ``v_i = p_i >= thr_i`` with its
own threshold.

* ``majority``: score = mean(v_i)                  (paper run 8)
* ``weighted``: score = sum(w_i v_i) / sum(w_i)     (paper run 9; w_i = F1 from the
  ensemble card's ``weights``, else the member card's ``f1``, else 1)
* ``mean``:     score = mean(p_i)
* ``soft-or``:  score = 1 - prod(1 - p_i)
* ``none``:     no combination (each member's verdict stands).

Verdicts: ``synthetic`` if score >= threshold, else ``real``; ``inconclusive`` when
|score - threshold| < inconclusive_margin.  For the vote methods an exact tie
(score == 0.5 because the votes, or the vote weights, split evenly) is
``inconclusive`` whatever the threshold, because no side won.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

METHODS = ("none", "majority", "weighted", "mean", "soft-or")
VOTE_METHODS = ("majority", "weighted")
VERDICTS = ("real", "synthetic", "inconclusive")
_EPS = 1e-12


def verdict_for(score: float, threshold: float, margin: float = 0.0) -> str:
    """``synthetic`` / ``real`` / ``inconclusive`` for one score."""
    if margin > 0 and abs(score - threshold) < margin:
        return "inconclusive"
    return "synthetic" if score >= threshold else "real"


def ensemble_scores(method: str, probs, thresholds, weights):
    """Vectorised ensemble score: ``probs`` [M members, N images] -> scores [N].

    The single definition of the formulas above, used by ``scan`` (one image at a time
    through :func:`combine`) and by ``evaluate``/``calibrate`` (whole data sets), so a
    threshold calibrated by one is applied to the same score by the other.  Negative
    weights count as 0; all-zero weights fall back to equal weights.
    """
    import numpy as np

    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or p.shape[0] == 0:
        raise ValueError("ensemble_scores needs probabilities shaped [members, images]")
    if method in VOTE_METHODS:
        votes = (p >= np.asarray(thresholds, dtype=np.float64)[:, None]).astype(np.float64)
        if method == "majority":
            return votes.mean(0)
        w = np.clip(np.asarray(weights, dtype=np.float64), 0.0, None)
        if w.sum() <= 0:
            w = np.ones_like(w)
        return (w[:, None] * votes).sum(0) / w.sum()
    if method == "mean":
        return p.mean(0)
    if method == "soft-or":
        return 1.0 - np.prod(1.0 - p, axis=0)
    raise ValueError(f"unknown ensemble method {method!r}")


def combined_member_scores(sets: Sequence, cards: Sequence, method: str, weights: dict, max_false_alarm: float,
                           max_miss: float):
    """Members' calibration sets of the same images (``scan.calibration.CalibrationSet``s, with
    image ids) matched by id and combined with the ensemble formula, each member voting at its
    own calibrated threshold: (ids, labels [N], scores [N]).  The one place ensemble build and
    the per-condition ensemble calibration combine out-of-fold scores."""
    import numpy as np

    maps = [cs.by_id() for cs in sets]
    ids = sorted(set.intersection(*(set(m) for m in maps)))
    y = np.array([maps[0][i][0] for i in ids], dtype=np.int64)
    P = np.array([[m[i][1] for i in ids] for m in maps])
    thr = [cs.operating(max_false_alarm, max_miss).t_hi for cs in sets]
    w = [weights.get(c.name, c.f1 or 1.0) for c in cards]
    return ids, y, (ensemble_scores(method, P, thr, w) if ids else np.zeros(0))


@dataclass
class Member:
    name: str
    probability: float
    threshold: float  # the 'synthetic' threshold; also the vote threshold
    weight: float = 1.0
    margin: float = 0.0
    t_lo: float | None = None  # calibrated 'real' threshold: below it 'real', between the two 'inconclusive'

    @property
    def vote(self) -> bool:
        return self.probability >= self.threshold

    @property
    def verdict(self) -> str:
        if self.t_lo is not None:
            if self.probability >= self.threshold:
                return "synthetic"
            return "real" if self.probability < self.t_lo else "inconclusive"
        return verdict_for(self.probability, self.threshold, self.margin)


@dataclass
class Combined:
    method: str
    score: float | None
    threshold: float | None
    verdict: str
    tie: bool = False


def combine(
    method: str,
    members: Sequence[Member],
    threshold: float = 0.5,
    margin: float = 0.0,
) -> Combined:
    """Combine ``members`` with ``method``.

    For ``none`` the result has no score: with one member it carries that member's
    score, threshold and verdict; with several the verdict is theirs when they all
    agree and ``inconclusive`` when they disagree.
    """
    if method not in METHODS:
        raise ValueError(f"unknown ensemble method {method!r} (choose from {', '.join(METHODS)})")
    if not members:
        raise ValueError("an ensemble needs at least one member")
    if method == "none":
        if len(members) == 1:
            m = members[0]
            return Combined("none", m.probability, m.threshold, m.verdict)
        verdicts = {m.verdict for m in members}
        return Combined("none", None, None, verdicts.pop() if len(verdicts) == 1 else "inconclusive")

    score = float(ensemble_scores(method, [[m.probability] for m in members], [m.threshold for m in members],
                                  [m.weight for m in members])[0])

    if method in VOTE_METHODS and len(members) > 1 and abs(score - 0.5) < _EPS:
        return Combined(method, score, threshold, "inconclusive", tie=True)
    return Combined(method, score, threshold, verdict_for(score, threshold, margin))
