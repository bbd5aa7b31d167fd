"""Evaluation plots as PNG: ROC, precision–recall, per-class score histograms, reliability.

numpy + matplotlib only (the optional extra ``plots``: ``pip install 'synthdetect[plots]'``),
imported when a plot is drawn; curves come from :mod:`synthdetect.evaluation.metrics` so the plots
show exactly the figures ``evaluate`` prints.  matplotlib's object API with the Agg
canvas is used (no pyplot, no global backend state).

Marked on every curve: the paper's fixed threshold 0.5, the best-F1 threshold on these
data (optimistic: chosen on the data it is shown on) and, when it differs, the model's
calibrated threshold (the one ``scan`` uses).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .metrics import (at_threshold, average_precision, best_f1_threshold, precision_recall_curve, reliability,
                      roc_auc, roc_curve)

PLOTS = ("roc", "pr", "hist", "reliability")
SIZE_IN = (4.6, 3.6)
DPI = 100

_MARKS = (("0.5", "o", "#1f77b4"), ("best F1", "s", "#d62728"), ("calibrated", "^", "#2ca02c"))


class PlotsUnavailable(RuntimeError):
    """matplotlib is not installed (the ``plots`` extra)."""


def _figure():
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as e:  # pragma: no cover - exercised only without the extra
        raise PlotsUnavailable("plots need matplotlib: pip install 'synthdetect[plots]'") from e
    fig = Figure(figsize=SIZE_IN, dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=DPI, metadata={"Software": "synthdetect"})
    return path


def _points(y, p, threshold: float | None) -> list[tuple[str, str, str, float]]:
    best = best_f1_threshold(y, p)["threshold"]
    pts = [("0.5", 0.5), ("best F1", best)]
    if threshold is not None and abs(threshold - 0.5) > 1e-9 and abs(threshold - best) > 1e-9:
        pts.append(("calibrated", float(threshold)))
    style = {k: (m, c) for k, m, c in _MARKS}
    return [(k, style[k][0], style[k][1], t) for k, t in pts]


def roc_plot(y, p, path: Path, title: str, threshold: float | None = None) -> Path:
    fpr, tpr, _ = roc_curve(y, p)
    fig = _figure()
    ax = fig.add_subplot()
    ax.plot(fpr, tpr, color="#333", lw=1.5, label=f"AUC {roc_auc(y, p):.3f}")  # tied scores: a diagonal
    ax.plot([0, 1], [0, 1], color="#aaa", lw=0.8, ls="--")
    for name, marker, colour, t in _points(y, p, threshold):
        a = at_threshold(y, p, t)
        ax.plot([a["fpr_real"]], [a["recall"]], marker=marker, color=colour, ls="none", ms=7,
                label=f"{name} (thr {t:.3g}): FPR {a['fpr_real']:.2f}, TPR {a['recall']:.2f}")
    ax.set(xlim=(-0.01, 1.01), ylim=(-0.01, 1.01), xlabel="false-positive rate (real flagged)",
           ylabel="true-positive rate (recall)", title=f"ROC: {title}")
    ax.legend(loc="lower right", fontsize=7)
    return _save(fig, path)


def pr_plot(y, p, path: Path, title: str, threshold: float | None = None) -> Path:
    prec, rec, _ = precision_recall_curve(y, p)
    base = float(np.mean(np.asarray(y))) if len(y) else 0.0
    fig = _figure()
    ax = fig.add_subplot()
    ax.plot(np.r_[0.0, rec], np.r_[prec[:1] if prec.size else [1.0], prec], color="#333", lw=1.5,
            drawstyle="steps-pre", label=f"AP {average_precision(y, p):.3f}")  # P_n holds on (R_n-1, R_n], as AP
    ax.axhline(base, color="#aaa", lw=0.8, ls="--", label=f"chance {base:.2f}")
    for name, marker, colour, t in _points(y, p, threshold):
        a = at_threshold(y, p, t)
        ax.plot([a["recall"]], [a["precision"]], marker=marker, color=colour, ls="none", ms=7,
                label=f"{name} (thr {t:.3g}): F1 {a['f1']:.2f}")
    ax.set(xlim=(-0.01, 1.01), ylim=(-0.01, 1.01), xlabel="recall", ylabel="precision",
           title=f"Precision–recall: {title}")
    ax.legend(loc="lower left", fontsize=7)
    return _save(fig, path)


def hist_plot(y, p, path: Path, title: str, threshold: float | None = None) -> Path:
    y = np.asarray(y).astype(int)
    p = np.asarray(p, dtype=float)
    fig = _figure()
    ax = fig.add_subplot()
    bins = np.linspace(0.0, 1.0, 26)
    ax.hist(p[y == 0], bins=bins, alpha=0.6, color="#2e7d32", label=f"real (n={int((y == 0).sum())})")
    ax.hist(p[y == 1], bins=bins, alpha=0.6, color="#c62828", label=f"synthetic (n={int((y == 1).sum())})")
    for name, _m, colour, t in _points(y, p, threshold):
        ax.axvline(t, color=colour, lw=1.2, ls="--", label=name if name == "0.5" else f"{name} {t:.3g}")
    ax.set(xlim=(0, 1), xlabel="score (probability of synthetic)", ylabel="images", title=f"Scores: {title}")
    ax.legend(fontsize=7)
    return _save(fig, path)


def reliability_plot(y, p, path: Path, title: str, threshold: float | None = None, bins: int = 10,
                     vote: bool = False) -> Path:
    r = reliability(y, p, bins)
    fig = _figure()
    ax = fig.add_subplot()
    centres = (r["edges"][:-1] + r["edges"][1:]) / 2
    ok = r["count"] > 0
    ax.plot([0, 1], [0, 1], color="#aaa", lw=0.8, ls="--", label="perfect calibration")
    ax.bar(centres[ok], r["fraction_synthetic"][ok], width=1.0 / bins * 0.9, color="#90a4ae", alpha=0.8,
           label="share synthetic per bin")
    ax.plot(r["mean_score"][ok], r["fraction_synthetic"][ok], marker="o", color="#333", lw=1,
            label=f"ECE {r['ece']:.3f}")
    for x, f, n in zip(centres[ok], r["fraction_synthetic"][ok], r["count"][ok]):
        ax.annotate(str(int(n)), (x, min(f + 0.02, 0.95)), ha="center", fontsize=6, color="#555")
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="mean score in bin" + (" (a vote share, not a probability)" if vote else ""),
           ylabel="share synthetic", title=f"Reliability: {title}")
    ax.legend(loc="upper left", fontsize=7)
    return _save(fig, path)


def write_plots(out_dir: Path | str, name: str, y: Sequence[int], p: Sequence[float],
                threshold: float | None = None, vote: bool = False) -> list[Path]:
    """``out_dir/name/{roc,pr,hist,reliability}.png`` for one model or ensemble."""
    d = Path(out_dir) / name.replace("/", "_")
    y = np.asarray(y).astype(int)
    p = np.asarray(p, dtype=float)
    title = f"{name} (n={y.size})"
    return [
        roc_plot(y, p, d / "roc.png", title, threshold),
        pr_plot(y, p, d / "pr.png", title, threshold),
        hist_plot(y, p, d / "hist.png", title, threshold),
        reliability_plot(y, p, d / "reliability.png", title, threshold, vote=vote),
    ]


def write_all(out_dir: Path | str, scores: dict[str, dict[str, Any]]) -> list[Path]:
    """Plots for every target of an evaluation: ``scores[name] = {y, p, threshold, vote}``."""
    out: list[Path] = []
    for name, s in scores.items():
        out += write_plots(out_dir, name, s["y"], s["p"], s.get("threshold"), vote=bool(s.get("vote")))
    return out
