"""Detection metrics in numpy (no torch, no scikit-learn): used by training and inference.

Conventions: ``y`` is 1 for synthetic (fake, the positive class) and 0 for real;
``p`` is the probability of synthetic; an image is predicted synthetic when ``p >= thr``.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np


def _arrays(y: Sequence[int] | np.ndarray, p: Sequence[float] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y).astype(np.int64).reshape(-1)
    p = np.asarray(p, dtype=np.float64).reshape(-1)
    if y.shape != p.shape:
        raise ValueError(f"labels ({y.size}) and scores ({p.size}) differ in length")
    if y.size and not np.isin(y, (0, 1)).all():
        raise ValueError("labels must be 0 (real) or 1 (synthetic)")
    return y, p


def _div(a: float, b: float) -> float:
    return float(a) / float(b) if b else 0.0


def confusion(y, pred) -> dict[str, int]:
    """Counts with 'positive' = synthetic."""
    y = np.asarray(y).astype(bool).reshape(-1)
    pred = np.asarray(pred).astype(bool).reshape(-1)
    return {
        "tp": int(np.sum(y & pred)),
        "fp": int(np.sum(~y & pred)),
        "tn": int(np.sum(~y & ~pred)),
        "fn": int(np.sum(y & ~pred)),
    }


def at_threshold(y, p, thr: float = 0.5) -> dict[str, Any]:
    """Accuracy, precision, recall, F1, confusion and false-positive rate on real photos."""
    y, p = _arrays(y, p)
    c = confusion(y, p >= thr)
    tp, fp, tn, fn = c["tp"], c["fp"], c["tn"], c["fn"]
    prec = _div(tp, tp + fp)
    rec = _div(tp, tp + fn)
    return {
        "threshold": float(thr),
        "acc": _div(tp + tn, y.size),
        "precision": prec,
        "recall": rec,
        "f1": _div(2 * prec * rec, prec + rec),
        "fpr_real": _div(fp, fp + tn),
        "confusion": c,
    }


def best_f1_threshold(y, p, max_fpr: float | None = None) -> dict[str, Any]:
    """The single global threshold maximising F1 (candidates: every distinct score).

    Ties in F1 are broken by accuracy, then by the lower threshold.  With ``max_fpr`` only
    thresholds whose false-positive rate on the real items is at most ``max_fpr`` qualify
    (best F1 under a false-alarm budget); when no score qualifies, the threshold is just
    above the highest score (nothing flagged).
    """
    y, p = _arrays(y, p)
    if y.size == 0:
        return at_threshold(y, p, 0.5)
    order = np.argsort(-p, kind="mergesort")
    ps, ys = p[order], y[order]
    # thresholds at distinct scores: predicting positive all items with score >= t
    last = np.r_[np.nonzero(np.diff(ps))[0], ps.size - 1]
    tp = np.cumsum(ys)[last].astype(np.float64)
    fp = (last + 1 - tp).astype(np.float64)
    pos = float(ys.sum())
    neg = float(ys.size - pos)
    prec = np.divide(tp, tp + fp, out=np.zeros_like(tp), where=(tp + fp) > 0)
    rec = tp / pos if pos else np.zeros_like(tp)
    f1 = np.divide(2 * prec * rec, prec + rec, out=np.zeros_like(tp), where=(prec + rec) > 0)
    acc = (tp + (neg - fp)) / ys.size
    ok = np.ones_like(tp, dtype=bool)
    if max_fpr is not None:
        if not 0.0 <= max_fpr <= 1.0:
            raise ValueError(f"max_fpr must be in [0, 1], got {max_fpr}")
        ok = (fp / neg if neg else np.zeros_like(fp)) <= max_fpr + 1e-12
        if not ok.any():
            return at_threshold(y, p, float(np.nextafter(ps[0], np.inf)))
    cand = np.nonzero(ok)[0]
    # lexsort: last key is primary; maximise f1, then acc, then lower threshold
    idx = cand[np.lexsort((ps[last][cand], -acc[cand], -f1[cand]))[0]]
    return at_threshold(y, p, float(ps[last][idx]))


def average_precision(y, p) -> float:
    """AP = Σ (R_n − R_{n−1}) P_n over distinct thresholds (as scikit-learn)."""
    y, p = _arrays(y, p)
    pos = y.sum()
    if pos == 0:
        return float("nan")
    order = np.argsort(-p, kind="mergesort")
    ps, ys = p[order], y[order]
    last = np.r_[np.nonzero(np.diff(ps))[0], ps.size - 1]
    tp = np.cumsum(ys)[last].astype(np.float64)
    fp = last + 1 - tp
    prec = tp / (tp + fp)
    rec = tp / pos
    rec_prev = np.r_[0.0, rec[:-1]]
    return float(np.sum((rec - rec_prev) * prec))


def roc_curve(y, p) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fpr, tpr, thresholds) at distinct scores, starting at (0, 0)."""
    y, p = _arrays(y, p)
    order = np.argsort(-p, kind="mergesort")
    ps, ys = p[order], y[order]
    last = np.r_[np.nonzero(np.diff(ps))[0], ps.size - 1] if ps.size else np.zeros(0, int)
    tp = np.cumsum(ys)[last].astype(np.float64) if ps.size else np.zeros(0)
    fp = last + 1 - tp
    pos, neg = float(ys.sum()), float(ys.size - ys.sum())
    tpr = np.r_[0.0, tp / pos if pos else np.zeros_like(tp)]
    fpr = np.r_[0.0, fp / neg if neg else np.zeros_like(fp)]
    thr = np.r_[np.inf, ps[last] if ps.size else np.zeros(0)]
    return fpr, tpr, thr


def precision_recall_curve(y, p) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(precision, recall, thresholds) at distinct scores, highest threshold first (as ``average_precision``)."""
    y, p = _arrays(y, p)
    if not p.size:
        return np.zeros(0), np.zeros(0), np.zeros(0)
    order = np.argsort(-p, kind="mergesort")
    ps, ys = p[order], y[order]
    last = np.r_[np.nonzero(np.diff(ps))[0], ps.size - 1]
    tp = np.cumsum(ys)[last].astype(np.float64)
    fp = last + 1 - tp
    pos = float(ys.sum())
    prec = tp / (tp + fp)
    rec = tp / pos if pos else np.zeros_like(tp)
    return prec, rec, ps[last]


def reliability(y, p, bins: int = 10) -> dict[str, Any]:
    """Calibration by equal-width score bins: per bin the mean score, the share of synthetic, the count; and ECE."""
    y, p = _arrays(y, p)
    edges = np.linspace(0.0, 1.0, bins + 1)
    idx = np.clip(np.digitize(p, edges[1:-1], right=False), 0, bins - 1)
    count = np.bincount(idx, minlength=bins).astype(np.int64)
    ssum = np.bincount(idx, weights=p, minlength=bins)
    psum = np.bincount(idx, weights=y.astype(np.float64), minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_score = np.where(count > 0, ssum / np.maximum(count, 1), np.nan)
        frac_pos = np.where(count > 0, psum / np.maximum(count, 1), np.nan)
    ok = count > 0
    ece = float(np.sum(count[ok] * np.abs(frac_pos[ok] - mean_score[ok])) / y.size) if y.size else float("nan")
    return {"edges": edges, "mean_score": mean_score, "fraction_synthetic": frac_pos, "count": count, "ece": ece}


def roc_auc(y, p) -> float:
    """Area under the ROC curve (ties count one half): the Mann–Whitney statistic."""
    y, p = _arrays(y, p)
    pos, neg = int(y.sum()), int(y.size - y.sum())
    if pos == 0 or neg == 0:
        return float("nan")
    # average ranks handle ties (1-based: a run of equal scores at sorted places i..j gets (i+j)/2 + 1)
    _, inv, counts = np.unique(p, return_inverse=True, return_counts=True)
    ranks = (np.cumsum(counts) - (counts - 1) / 2.0)[inv.reshape(-1)]
    return float((ranks[y == 1].sum() - pos * (pos + 1) / 2.0) / (pos * neg))


def eer(y, p) -> dict[str, float]:
    """Equal error rate: where the false-positive rate meets the false-negative rate.

    Linear interpolation between the two ROC points that bracket FPR = FNR.
    """
    y, p = _arrays(y, p)
    if y.sum() == 0 or y.sum() == y.size:
        return {"eer": float("nan"), "threshold": float("nan")}
    fpr, tpr, thr = roc_curve(y, p)
    fnr = 1.0 - tpr
    d = fpr - fnr  # increasing from -1 to +1 along the curve
    k = int(np.argmax(d >= 0))
    if k == 0 or d[k] == 0:
        t = thr[k] if np.isfinite(thr[k]) else (thr[1] if thr.size > 1 else 1.0)
        return {"eer": float(fpr[k]), "threshold": float(t)}
    a = d[k - 1] / (d[k - 1] - d[k])  # fraction of the way from k-1 to k
    e = fpr[k - 1] + a * (fpr[k] - fpr[k - 1])
    t0 = thr[k - 1] if np.isfinite(thr[k - 1]) else thr[k]
    return {"eer": float(e), "threshold": float(t0 + a * (thr[k] - t0))}


def per_generator(y, p, generators: Sequence[str], thresholds: dict[str, float]) -> dict[str, Any]:
    """Per generator (manifest 'generator' column): n, mean probability and accuracy at each
    named threshold.  For reals accuracy is 1 − false-positive rate; for fakes it is recall.  A
    name that labels images of both classes (a manifest naming the source, not the generator)
    gets one row per class, ``NAME (real)`` and ``NAME (synthetic)``."""
    y, p = _arrays(y, p)
    g = np.asarray(list(generators), dtype=object)
    if g.size != y.size:
        raise ValueError("generators must have one entry per image")
    out: dict[str, Any] = {}
    for name in sorted(set(g.tolist()), key=str):
        m = g == name
        labels = sorted(set(y[m].tolist()))
        for lab in labels:
            mm = m & (y == lab)
            key = str(name) if len(labels) == 1 else f"{name} ({'synthetic' if lab == 1 else 'real'})"
            out[key] = _generator_row(y[mm], p[mm], thresholds)
    return out


def _generator_row(yy: np.ndarray, pp: np.ndarray, thresholds: dict[str, float]) -> dict[str, Any]:
    row: dict[str, Any] = {"n": int(yy.size), "label": "synthetic" if yy.mean() >= 0.5 else "real",
                           "mean_prob": float(pp.mean())}
    for tname, t in thresholds.items():
        row[f"acc@{tname}"] = float(np.mean((pp >= t) == (yy == 1)))
    return row


def summary(y, p, generators: Sequence[str] | None = None, threshold: float = 0.5) -> dict[str, Any]:
    """Everything ``synthdetect evaluate`` reports for one model on one data set."""
    y, p = _arrays(y, p)
    at = at_threshold(y, p, threshold)
    best = best_f1_threshold(y, p)
    out = {
        "n": int(y.size),
        "n_real": int((y == 0).sum()),
        "n_synthetic": int((y == 1).sum()),
        "at_threshold": at,
        "best_f1": best,
        "ap": average_precision(y, p),
        "roc_auc": roc_auc(y, p),
        "eer": eer(y, p),
    }
    if generators is not None:
        out["per_generator"] = per_generator(
            y, p, generators, {f"{threshold:g}": threshold, "best": best["threshold"]}
        )
    return out
