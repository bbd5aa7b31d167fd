"""Measure adaptation with few labels: ``train probe`` on k labelled images per class of a
source, scored on the rest of that source (the issue's protocol, as a user runs it).

For every source, k and seed: draw k real + k synthetic images at random, run
:func:`synthdetect.probes.train.train_probe` on them exactly as ``synthdetect train probe``
does (features from the warm cache, the fit, the cross-fitted calibration, the card and the
head written to a temporary directory), load the head the way ``scan`` loads it
(:func:`synthdetect.scan.runtime.load_head`) and score the remaining images of the source:

* ROC-AUC of the head on the rest;
* the three-way verdicts at the card's calibrated thresholds (default budgets 5 % false
  alarms / 20 % misses): coverage (share of the rest given a definite verdict), real photos
  called synthetic (of all real photos of the rest), synthetic images called real;
* the fit time (``timings.fit_s``: the fit, selection and learning curve, without feature
  extraction, which the cache makes free here);
* what the card's learning curve told the analyst (its reading and its points):
  the share of draws whose curve read *still rising*, to set against the gain measured on the
  rest between two values of k.

Scan's other gates (input quality, image size, domain check) are not applied: this measures
the probe and its calibration.  Nothing derived from the data is written outside a
temporary directory.  ``train-sd14``: the image format separates the classes there (JPEG
real, lossless WebP synthetic), so its figures are an upper bound, not adaptation.

    python tools/measure_adaptation.py                       # 4 sources x k 10/25/50 x 5 seeds
    python tools/measure_adaptation.py --sources val-firefly --k 50 --seeds 10 --json /tmp/a.json
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from synthdetect.scan.calibration import CalibrationSet, definite_metrics  # noqa: E402
from synthdetect.cards import BackboneCard, ModelCard  # noqa: E402
from synthdetect.evaluation.metrics import roc_auc  # noqa: E402
from synthdetect.probes.features import backbone_cache, default_cache_dir, extract_features  # noqa: E402
from synthdetect.probes.train import train_probe  # noqa: E402
from synthdetect.scan.runtime import load_backbone, load_head  # noqa: E402
from synthdetect.inputs.datasets import load_sets  # noqa: E402

SOURCES = ("val-firefly", "val-inthewild", "train-gan2019", "train-sd14")


def source_features(root: Path, backbone, cache):
    items = load_sets([str(root)])
    ex = extract_features([it.path for it in items], backbone, cache=cache, spread=True)  # fills the cache
    if ex.errors:
        print(f"{root.name}: {len(ex.errors)} unreadable images left out", file=sys.stderr)
    kept = [items[i] for i in ex.keep]
    return kept, ex.X.astype(np.float64), np.array([it.label for it in kept], dtype=np.int64)


def one_run(items, X, y, k: int, seed: int, bb_card: BackboneCard, label: str) -> dict:
    rng = random.Random(seed)
    real = [i for i in range(y.size) if y[i] == 0]
    fake = [i for i in range(y.size) if y[i] == 1]
    pick = sorted(rng.sample(real, k) + rng.sample(fake, k))
    rest = np.setdiff1d(np.arange(y.size), pick)
    with tempfile.TemporaryDirectory() as tmp:
        res = train_probe([items[i] for i in pick], bb_card, "adapt", Path(tmp), data_label=label, seed=seed)
        card = ModelCard.load(res.card_path)
        head = load_head(card)
    p = head.probabilities(X[rest])
    op = CalibrationSet.from_dict(card.calibration).operating()
    tw = definite_metrics(y[rest], p, op)
    n_rest = rest.size
    return {
        "k": k, "seed": seed, "n_rest": int(n_rest), "roc_auc": roc_auc(y[rest], p),
        "coverage": tw["coverage"], "false_alarm": tw["false_alarm"]["rate"], "miss": tw["miss"]["rate"],
        "fit_s": res.timings["fit_s"], "group": (card.training.get("feature_group") or {}).get("name", "all"),
        "curve": curve_summary(card.training.get("learning_curve") or {}),
    }


def curve_summary(curve: dict) -> dict:
    """What the card's learning curve told the analyst: its reading and its points (n, ROC-AUC)."""
    return {"reading": curve.get("reading", ""), "points": [[p["n"], p["roc_auc"]] for p in curve.get("points", [])]}


def summarise(runs: list[dict]) -> dict:
    a = np.array([r["roc_auc"] for r in runs])
    out = {"roc_auc_mean": float(a.mean()), "roc_auc_sd": float(a.std(ddof=1)) if a.size > 1 else 0.0}
    for key in ("coverage", "false_alarm", "miss", "fit_s"):
        out[key] = float(np.mean([r[key] for r in runs]))
    out["fit_s_max"] = float(max(r["fit_s"] for r in runs))
    out["n_rest"] = runs[0]["n_rest"]
    out["curve_rising"] = float(np.mean([r["curve"]["reading"].startswith("still rising") for r in runs]))
    groups: dict[str, int] = {}
    for r in runs:
        groups[r["group"]] = groups.get(r["group"], 0) + 1
    out["groups"] = groups
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-root", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--sources", nargs="+", default=list(SOURCES))
    ap.add_argument("--k", nargs="+", type=int, default=[10, 25, 50])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--json", type=Path, help="write every run and the summary here")
    ap.add_argument("--backbone", type=Path, default=REPO / "weights" / "efficientnet-lite0-residual.backbone.json",
                    help="backbone card (NAME.backbone.json, e.g. from `synthdetect backbone export`); "
                         "default: train probe's default, efficientnet-lite0-residual")
    args = ap.parse_args()
    bb_card = BackboneCard.load(args.backbone)
    backbone = load_backbone(bb_card, device="cpu")
    cache = backbone_cache(default_cache_dir(), bb_card)
    table, runs = [], []
    print("| source | k/class | rest | ROC-AUC mean±sd | coverage | real called synthetic | synthetic called real "
          "| fit s (mean/max) | curve reads rising | groups chosen |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for src in args.sources:
        items, X, y = source_features(args.data_root / src, backbone, cache)
        for k in args.k:
            if k >= min(int(np.sum(y == 0)), int(np.sum(y == 1))):
                continue
            rs = [one_run(items, X, y, k, s, bb_card, src) for s in range(args.seeds)]
            for r in rs:
                r["source"] = src
            runs += rs
            s = summarise(rs)
            table.append({"source": src, "k": k, **s})
            print(f"| {src} | {k} | {s['n_rest']} | {s['roc_auc_mean']:.3f} ± {s['roc_auc_sd']:.3f} "
                  f"| {100 * s['coverage']:.0f} % | {100 * s['false_alarm']:.1f} % | {100 * s['miss']:.1f} % "
                  f"| {s['fit_s']:.1f} / {s['fit_s_max']:.1f} | {100 * s['curve_rising']:.0f} % | "
                  + ", ".join(f"{g} x{n}" for g, n in sorted(s["groups"].items())) + " |", flush=True)
    if args.json:
        args.json.write_text(json.dumps({"date": time.strftime("%Y-%m-%d"), "seeds": args.seeds,
                                         "table": table, "runs": runs}, indent=1) + "\n")


if __name__ == "__main__":
    main()
