"""Retrain the whole bundled detector set on ../shared/data and rewrite weights/ (``make weights``).

Every step is the public CLI (``synthdetect train|export|calibrate|ensemble build|evaluate``),
exactly as an analyst would run it, so this file is also the worked example of the
paper's protocol on this project's data:

* val-inthewild (the target distribution) is split once, stratified by label x category,
  into ``train`` (60 %) and ``holdout`` (40 %, never trained on, used only for reporting);
  ``train`` is split again into ``fit`` (75 %) and ``calib`` (25 %: early stopping,
  thresholds and voting weights).  The lists are in ``weights/splits/``.
* ``resnet``: the Wang et al. recipe (blur+JPEG p=0.5, shorter side 256, crop 224) on the
  mismatched ``train-*`` sets from random init (no ImageNet weights exist here), then
  fine-tuned on ``fit`` (paper runs 1 -> 3).
* ``npr`` and ``spectral``: from-scratch forensic networks on native-resolution patches
  of ``fit`` (a fresh model on the target sample, paper run 6), with JPEG / rescale
  augmentation so that neither learns "JPEG = real" or "big = real".
* Each member is exported to ONNX (parity-checked against PyTorch), calibrated on
  ``calib``; the default ensemble is the F1-weighted vote (run 9), the majority vote (run 8)
  is shipped too; everything is evaluated on ``holdout`` and the Table-1 figures are
  written into the cards and ``weights/RESULTS.md``.

Usage: python tools/make_weights.py [--data ../shared/data] [--runs runs/bundle] [--quick]
           [--only npr,spectral,resnet] [--skip-train]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WEIGHTS = REPO / "weights"
SPLITS = WEIGHTS / "splits"
MEMBERS = ("npr", "spectral", "resnet")


def sh(args: list[str], log: Path | None = None) -> None:
    cmd = [sys.executable, "-m", "synthdetect", *args]
    print("\n$ synthdetect " + " ".join(shlex.quote(a) for a in args), flush=True)
    t = time.time()
    r = subprocess.run(cmd, cwd=REPO)
    print(f"  ({time.time() - t:.0f} s, exit {r.returncode})", flush=True)
    if r.returncode != 0:
        sys.exit(f"step failed: synthdetect {' '.join(args)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--runs", type=Path, default=REPO / "runs" / "bundle")
    ap.add_argument("--only", default=",".join(MEMBERS), help="members to (re)train")
    ap.add_argument("--skip-train", action="store_true", help="reuse existing runs: export/calibrate/evaluate only")
    ap.add_argument("--quick", action="store_true", help="a few epochs: a smoke run of the pipeline, not a detector")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    data = a.data.resolve()
    if not (data / "val-inthewild").is_dir():
        sys.exit(f"no data at {data} (expected val-inthewild, train-gan2019, train-sd14)")
    val = data / "val-inthewild"
    fit = f"{val}@{SPLITS / 'val-inthewild.fit.txt'}"
    calib = f"{val}@{SPLITS / 'val-inthewild.calib.txt'}"
    hold = f"{val}@{SPLITS / 'val-inthewild.holdout.txt'}"
    runs = a.runs.resolve()
    runs.mkdir(parents=True, exist_ok=True)
    only = [m.strip() for m in a.only.split(",") if m.strip()]
    q = a.quick
    seed = str(a.seed)
    t0 = time.time()

    if not a.skip_train:
        if "npr" in only:
            sh(["train", "npr", "--train", fit, "--val", calib, "--no-resize", "--crop", "128",
                "--crops-per-image", "4" if q else "16", "--jpeg-prob", "0.3", "--resize-prob", "0.3",
                "--epochs", "2" if q else "20", "--patience", "6", "--monitor", "ap", "--lr", "5e-4",
                "--batch-size", "32", "--seed", seed, "--force", "--out", str(runs / "npr")])
        if "spectral" in only:
            sh(["train", "spectral", "--train", fit, "--val", calib, "--no-resize", "--crop", "256",
                "--crops-per-image", "4" if q else "16", "--jpeg-prob", "0.3", "--resize-prob", "0.3",
                "--epochs", "2" if q else "25", "--patience", "6", "--monitor", "ap", "--lr", "1e-3", "--batch-size", "32",
                "--seed", seed, "--force", "--out", str(runs / "spectral")])
        if "resnet" in only:
            sh(["train", "resnet", "--arch", "resnet-narrow", "--train", str(data / "train-gan2019"),
                "--train", str(data / "train-sd14"), "--val", calib, "--blur-jpeg-prob", "0.5",
                "--inference-resize", "--monitor", "ap", "--epochs", "1" if q else "12", "--batch-size", "32", "--seed", seed, "--force",
                "--out", str(runs / "resnet-pre")])
            sh(["train", "resnet", "--arch", "resnet-narrow", "--train", fit, "--val", calib,
                "--blur-jpeg-prob", "0.5", "--init-from", str(runs / "resnet-pre"), "--inference-resize",
                "--crops-per-image", "2" if q else "8", "--monitor", "ap", "--patience", "6",
                "--epochs", "1" if q else "25", "--batch-size", "32", "--seed", seed, "--force",
                "--out", str(runs / "resnet")])

    for m in MEMBERS:
        if not (runs / m / "best.pt").exists():
            sys.exit(f"no run for {m} in {runs}: train it first")
        sh(["export", str(runs / m), "--out", str(WEIGHTS / f"{m}.onnx"), "--name", m,
            "--parity-data", calib, "--parity-n", "8", "--tolerance", "1e-4", "--force"])
        sh(["calibrate", m, "--data", calib, "--models-dir", str(WEIGHTS), "--inconclusive-margin", "0.05"])

    members = ",".join(MEMBERS)
    sh(["ensemble", "build", "--members", members, "--weights-from", calib, "--method", "weighted",
        "--out", str(WEIGHTS / "default.ensemble.json"), "--models-dir", str(WEIGHTS), "--force"])
    sh(["ensemble", "build", "--members", members, "--weights-from", calib, "--method", "majority",
        "--out", str(WEIGHTS / "majority.ensemble.json"), "--models-dir", str(WEIGHTS), "--force"])

    for ens in ("default", "majority"):
        sh(["calibrate", ens, "--data", calib, "--models-dir", str(WEIGHTS)])

    results = runs / "holdout-metrics.json"
    sh(["evaluate", *MEMBERS, "majority", "default", "--data", hold, "--models-dir", str(WEIGHTS),
        "--format", "table", "--out", str(results), "--write-cards"])
    grid = {}
    for p in ("jpeg:95", "jpeg:75", "jpeg:50", "resize:0.5", "blur:1", "blur:2"):
        out = runs / f"holdout-{p.replace(':', '-')}.json"
        sh(["evaluate", *MEMBERS, "default", "--data", hold, "--models-dir", str(WEIGHTS),
            "--perturb", p, "--format", "table", "--out", str(out), "--write-cards"])
        grid[p] = json.loads(out.read_text())
    (runs / "perturbation-grid.json").write_text(json.dumps(grid, indent=2))
    print(f"\nbundle rebuilt in {time.time() - t0:.0f} s; results in {results}")


if __name__ == "__main__":
    main()
