"""Calibrated three-way verdicts with stated error rates (numpy + stdlib only).

A detector's card (model or ensemble) carries its *calibration set*: the out-of-fold scores
of labelled real and synthetic images it was not trained on (cross-fitting), with what they
were.  From those scores and two budgets the verdict thresholds follow:

* ``synthetic`` when ``score >= t_hi``: ``t_hi`` is the lowest threshold at which at most
  ``max_false_alarm`` of the calibration *real* images would be flagged;
* ``real`` when ``score < t_lo``: ``t_lo`` is the highest threshold at which at most
  ``max_miss`` of the calibration *synthetic* images would be called real;
* ``inconclusive`` in between (when ``t_lo > t_hi`` the detector is good enough that both
  budgets hold with no band: then ``t_lo = t_hi``).

Every definite verdict comes with its measured rate on the calibration set and an exact
(Clopper–Pearson) 95 % upper confidence bound, e.g. "false-alarm rate at this threshold:
4/120 real photos (3.3 %, 95 % upper bound 8.2 %)".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

DEFAULT_MAX_FALSE_ALARM = 0.05
DEFAULT_MAX_MISS = 0.20
CONFIDENCE = 0.95
SCORE_DECIMALS = 6  # calibration scores are stored (and so applied) at this precision


def stored_scores(scores: Sequence[float]) -> np.ndarray:
    """Scores as a calibration set stores them: what its thresholds and rates are computed on, so
    any figure stated beside a card (Table 1, three-way rates) must be computed on these too."""
    return np.round(np.asarray(scores, dtype=np.float64), SCORE_DECIMALS)


def _binom_cdf(k: int, n: int, p: float) -> float:
    """P(X <= k) for X ~ Binomial(n, p)."""
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    if p <= 0.0:
        return 1.0
    if p >= 1.0:
        return 0.0
    lp, lq = math.log(p), math.log1p(-p)
    lg = math.lgamma(n + 1)
    terms = [lg - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * lp + (n - i) * lq for i in range(k + 1)]
    m = max(terms)
    return min(1.0, math.exp(m) * sum(math.exp(t - m) for t in terms))


def clopper_pearson(k: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Exact two-sided binomial confidence interval for ``k`` successes in ``n`` trials."""
    if n <= 0:
        return 0.0, 1.0
    if not 0 <= k <= n:
        raise ValueError("need 0 <= k <= n")
    alpha = 1.0 - confidence

    def solve(target: float, kk: int) -> float:
        lo, hi = 0.0, 1.0  # P(X <= kk | p) decreases in p
        for _ in range(80):
            mid = (lo + hi) / 2
            if _binom_cdf(kk, n, mid) > target:
                lo = mid
            else:
                hi = mid
        return (lo + hi) / 2

    # the lower bound for k successes is one minus the upper bound for the n - k failures
    lower = 0.0 if k == 0 else 1.0 - solve(alpha / 2, n - k)
    upper = 1.0 if k == n else solve(alpha / 2, k)
    return lower, upper


@dataclass
class Rate:
    """``k`` of ``n`` calibration images, with a Clopper–Pearson interval."""

    k: int
    n: int
    lower: float
    upper: float

    @classmethod
    def of(cls, k: int, n: int) -> "Rate":
        lo, up = clopper_pearson(k, n)
        return cls(int(k), int(n), lo, up)

    @property
    def value(self) -> float:
        return self.k / self.n if self.n else float("nan")

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: a rate over no images is ``null`` (NaN is not JSON)."""
        return {"k": self.k, "n": self.n, "rate": round(self.value, 6) if self.n else None,
                "upper95": round(self.upper, 6), "lower95": round(self.lower, 6)}


@dataclass
class Operating:
    """Thresholds for three verdicts and the calibrated rates that come with them."""

    t_lo: float
    t_hi: float
    max_false_alarm: float
    max_miss: float
    false_alarm: Rate  # calibration reals with score >= t_hi
    miss: Rate  # calibration fakes with score < t_lo
    synthetic_correct: Rate  # calibration images >= t_hi that are synthetic (at the calibration's class mix)
    real_correct: Rate  # calibration images < t_lo that are real
    coverage: float  # share of calibration images given a definite verdict
    n_real: int
    n_fake: int
    by_source: dict[str, Any] | None = None  # per-source rates at these thresholds (several sources)

    def verdict(self, score: float) -> str:
        if score >= self.t_hi:
            return "synthetic"
        if score < self.t_lo:
            return "real"
        return "inconclusive"

    def rate_for(self, verdict: str) -> dict[str, Any] | None:
        """The calibrated error rate that a verdict comes with (JSON-ready)."""
        if verdict == "synthetic":
            r = self.false_alarm
            return {"kind": "false_alarm", **r.to_dict(),
                    "text": f"false-alarm rate at this threshold: {r.k}/{r.n} real images "
                            f"({100 * r.value:.1f} %, 95 % upper bound {100 * r.upper:.1f} %)"}
        if verdict == "real":
            r = self.miss
            return {"kind": "miss", **r.to_dict(),
                    "text": f"miss rate at this threshold: {r.k}/{r.n} synthetic images called real "
                            f"({100 * r.value:.1f} %, 95 % upper bound {100 * r.upper:.1f} %)"}
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "t_lo": self.t_lo,
            "t_hi": self.t_hi,
            # a fixed threshold (--threshold X) has no budgets: null, not NaN (not JSON)
            "max_false_alarm": None if math.isnan(self.max_false_alarm) else self.max_false_alarm,
            "max_miss": None if math.isnan(self.max_miss) else self.max_miss,
            "false_alarm": self.false_alarm.to_dict(),
            "miss": self.miss.to_dict(),
            "synthetic_correct": self.synthetic_correct.to_dict(),
            "real_correct": self.real_correct.to_dict(),
            "coverage": round(self.coverage, 6),
            "n_real": self.n_real,
            "n_fake": self.n_fake,
            **({"by_source": self.by_source} if self.by_source else {}),
        }


def operating_point(real_scores: Sequence[float], fake_scores: Sequence[float],
                    max_false_alarm: float = DEFAULT_MAX_FALSE_ALARM,
                    max_miss: float = DEFAULT_MAX_MISS) -> Operating:
    """Three-way thresholds from calibration scores (see the module docstring)."""
    r = np.sort(np.asarray(real_scores, dtype=np.float64))[::-1]
    f = np.sort(np.asarray(fake_scores, dtype=np.float64))
    if r.size == 0 or f.size == 0:
        raise ValueError("calibration needs real and synthetic scores")
    if not (0.0 <= max_false_alarm < 1.0 and 0.0 <= max_miss < 1.0):
        raise ValueError("budgets must lie in [0, 1)")
    # t_hi: flag at most floor(a * n_real) reals; reals tied at the cut are all flagged or none
    j = int(math.floor(max_false_alarm * r.size + 1e-9))  # a < 1 keeps j < n_real
    while j > 0 and r[j] == r[j - 1]:
        j -= 1  # do not split a tie: the threshold sits above the tied group
    t_hi = float(r[j - 1]) if j > 0 else float(np.nextafter(r[0], np.inf))
    # t_lo: call real at most floor(b * n_fake) fakes (those strictly below t_lo); b < 1 keeps m < n_fake
    m = int(math.floor(max_miss * f.size + 1e-9))
    while m > 0 and f[m] == f[m - 1]:
        m -= 1  # do not split a tie either
    t_lo = float(f[m])
    if t_lo > t_hi:
        t_lo = t_hi
    return _operating(r, f, t_lo, t_hi, max_false_alarm, max_miss)


def _operating(r: np.ndarray, f: np.ndarray, t_lo: float, t_hi: float, a: float, b: float) -> Operating:
    fa = int(np.sum(r >= t_hi))
    tp = int(np.sum(f >= t_hi))
    miss = int(np.sum(f < t_lo))
    tn = int(np.sum(r < t_lo))
    definite = fa + tp + miss + tn
    return Operating(
        t_lo=float(t_lo), t_hi=float(t_hi), max_false_alarm=float(a), max_miss=float(b),
        false_alarm=Rate.of(fa, r.size), miss=Rate.of(miss, f.size),
        synthetic_correct=Rate.of(tp, tp + fa), real_correct=Rate.of(tn, tn + miss),
        coverage=definite / (r.size + f.size), n_real=int(r.size), n_fake=int(f.size),
    )


def budgets_of(calibration: dict | None, max_false_alarm: float | None = None,
               max_miss: float | None = None) -> tuple[float, float]:
    """(false-alarm, miss) budgets for a card's calibration: those given, else the card's own
    ``default_budgets`` (what ``train probe`` was fitted with), else 5 % / 20 %."""
    own = (calibration or {}).get("default_budgets") or {}
    a = max_false_alarm if max_false_alarm is not None else own.get("max_false_alarm")
    b = max_miss if max_miss is not None else own.get("max_miss")
    return (float(DEFAULT_MAX_FALSE_ALARM if a is None else a), float(DEFAULT_MAX_MISS if b is None else b))


def fixed_operating(real_scores: Sequence[float], fake_scores: Sequence[float], threshold: float) -> Operating:
    """A single threshold (no band), with its calibrated rates: ``--threshold X`` or legacy cards."""
    r = np.sort(np.asarray(real_scores, dtype=np.float64))[::-1]
    f = np.sort(np.asarray(fake_scores, dtype=np.float64))
    return _operating(r, f, threshold, threshold, float("nan"), float("nan"))


@dataclass
class CalibrationSet:
    """What a card stores: the out-of-fold scores and what they were."""

    real: list[float]
    fake: list[float]
    method: str = "cross-fitted (out-of-fold)"
    data: str = ""
    # image identities (SHA-256 prefixes) aligned with the scores: ensembles of members calibrated
    # on the same images combine their out-of-fold scores image by image
    real_ids: list[str] | None = None
    fake_ids: list[str] | None = None
    # several sources (``train probe --data A --data B``): each one's scores; the thresholds then
    # hold on every source and the stated rates are the worst source's (see :func:`worst_case`)
    by_source: dict[str, "CalibrationSet"] | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "CalibrationSet":
        real = [float(v) for v in d.get("real_scores", [])]
        fake = [float(v) for v in d.get("fake_scores", [])]
        if not real or not fake:
            raise ValueError("calibration needs real_scores and fake_scores")
        if not all(0.0 <= v <= 1.0 for v in (*real, *fake)):  # NaN fails too: a threshold must come out
            raise ValueError("calibration scores must be probabilities in [0, 1]")
        rid, fid = d.get("real_ids"), d.get("fake_ids")
        if rid is not None and (len(rid) != len(real) or len(fid or []) != len(fake)):
            raise ValueError("calibration ids must match the scores one to one")
        by = {str(k): cls.from_dict(v) for k, v in d["by_source"].items()} if d.get("by_source") else None
        return cls(real, fake, str(d.get("method", "")), str(d.get("data", "")), rid, fid, by)

    @classmethod
    def from_labels(cls, y: Sequence[int], scores: Sequence[float], method: str, data: str,
                    ids: Sequence[str] | None = None) -> "CalibrationSet":
        y = np.asarray(y).astype(np.int64)
        s = stored_scores(scores)
        out = []
        for lab in (0, 1):
            idx = np.nonzero(y == lab)[0]
            idx = idx[np.argsort(s[idx], kind="mergesort")]
            out.append(([float(v) for v in s[idx]], None if ids is None else [str(ids[i]) for i in idx]))
        return cls(out[0][0], out[1][0], method, data, out[0][1], out[1][1])

    def by_id(self) -> dict[str, tuple[int, float]]:
        """image id -> (label, score); empty when the set carries no ids."""
        if self.real_ids is None or self.fake_ids is None:
            return {}
        d = {i: (0, v) for i, v in zip(self.real_ids, self.real)}
        d.update({i: (1, v) for i, v in zip(self.fake_ids, self.fake)})
        return d

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"method": self.method, "data": self.data, "n_real": len(self.real),
                             "n_fake": len(self.fake), "real_scores": self.real, "fake_scores": self.fake}
        if self.real_ids is not None:
            d["real_ids"] = self.real_ids
            d["fake_ids"] = self.fake_ids
        if self.by_source:
            d["by_source"] = {k: {"n_real": len(v.real), "n_fake": len(v.fake), "real_scores": v.real,
                                  "fake_scores": v.fake} for k, v in self.by_source.items()}
        return d

    def operating(self, max_false_alarm: float = DEFAULT_MAX_FALSE_ALARM,
                  max_miss: float = DEFAULT_MAX_MISS) -> Operating:
        if self.by_source and len(self.by_source) > 1:
            return worst_case(self, max_false_alarm, max_miss)
        return operating_point(self.real, self.fake, max_false_alarm, max_miss)


def fixed_worst_case(cal: CalibrationSet, threshold: float) -> Operating:
    """``threshold`` for both verdicts (``--threshold X``) with its calibrated rates: with several
    sources (or measured conditions bounding an image), the worst source's rates, as :func:`worst_case`
    states them (a pooled rate would hold for no source)."""
    pooled = fixed_operating(cal.real, cal.fake, threshold)
    if not cal.by_source or len(cal.by_source) < 2:
        return pooled
    return _worst_rates(pooled, {k: fixed_operating(v.real, v.fake, threshold) for k, v in cal.by_source.items()})


def _worst_rates(pooled: Operating, at: dict[str, Operating]) -> Operating:
    """``pooled`` stating the worst of the per-source rates ``at`` (by 95 % upper bound), each kept in ``by_source``."""
    pooled.false_alarm = max((o.false_alarm for o in at.values()), key=lambda r: (r.upper, r.value))
    pooled.miss = max((o.miss for o in at.values()), key=lambda r: (r.upper, r.value))
    pooled.by_source = {k: {"false_alarm": o.false_alarm.to_dict(), "miss": o.miss.to_dict(),
                            "coverage": round(o.coverage, 6), "n_real": o.n_real, "n_fake": o.n_fake}
                        for k, o in at.items()}
    return pooled


def worst_case(cal: CalibrationSet, max_false_alarm: float, max_miss: float) -> Operating:
    """Thresholds that keep both budgets on *every* source: the highest per-source ``t_hi`` and
    the lowest ``t_lo``.  The stated false-alarm and miss rates are those of the source whose
    95 % upper bound is worst at these thresholds (a pooled rate would hold for no source);
    every source's rates are in ``by_source``."""
    srcs = cal.by_source or {}
    ops = {k: operating_point(v.real, v.fake, max_false_alarm, max_miss) for k, v in srcs.items()}
    t_hi = max(o.t_hi for o in ops.values())
    t_lo = min(o.t_lo for o in ops.values())
    at = {k: _operating(np.sort(v.real)[::-1], np.sort(v.fake), t_lo, t_hi, max_false_alarm, max_miss)
          for k, v in srcs.items()}
    pooled = _operating(np.sort(np.asarray(cal.real))[::-1], np.sort(np.asarray(cal.fake)), t_lo, t_hi,
                        max_false_alarm, max_miss)
    return _worst_rates(pooled, at)


def definite_metrics(y: Sequence[int], scores: Sequence[float], op: Operating) -> dict[str, Any]:
    """Coverage and error rates of the definite verdicts of ``op`` on a labelled set
    (``evaluate``, Table 1, the README): what an analyst gets at these thresholds."""
    y = np.asarray(y).astype(np.int64)
    s = np.asarray(scores, dtype=np.float64)
    syn = s >= op.t_hi
    real = s < op.t_lo
    n_r, n_f = int(np.sum(y == 0)), int(np.sum(y == 1))
    fa = int(np.sum(syn & (y == 0)))
    tp = int(np.sum(syn & (y == 1)))
    miss = int(np.sum(real & (y == 1)))
    tn = int(np.sum(real & (y == 0)))
    return {
        "t_lo": op.t_lo,
        "t_hi": op.t_hi,
        "coverage": (fa + tp + miss + tn) / y.size if y.size else float("nan"),
        "false_alarm": Rate.of(fa, n_r).to_dict(),  # reals called synthetic / reals
        "miss": Rate.of(miss, n_f).to_dict(),  # fakes called real / fakes
        "synthetic_correct": Rate.of(tp, tp + fa).to_dict(),  # precision of `synthetic`
        "real_correct": Rate.of(tn, tn + miss).to_dict(),
        "synthetic_recall": Rate.of(tp, n_f).to_dict(),
        "inconclusive": int(y.size - fa - tp - miss - tn),
        "counts": {"synthetic": fa + tp, "real": tn + miss, "inconclusive": int(y.size - fa - tp - miss - tn)},
    }
