"""Rebuild the bundled detector set from ../shared/data and rewrite weights/ (``make weights``).

Every step is the public CLI (``synthdetect backbone export|train probe|train|export|calibrate|
ensemble build|evaluate``), exactly as an analyst would run it, so this file is also the worked
example of the paper's protocol on this project's data.

The pretrained members (the paper's frozen features + a linear probe, runs 6-7):

* ``efficientnet-lite0`` and ``efficientnet-lite0-residual``: the ImageNet EfficientNet-Lite0
  from its PyPI package (SHA-256 checked), exported to ONNX as feature extractors
  (parity-checked against PyTorch); the probes read the residual one (each crop and its
  high-pass residual, mirrored crops, frames cut off).
* ``lite0-probe-train``: ``train probe`` on the ``train`` part of val-inthewild only (136
  images; C by cross-validation, thresholds calibrated on out-of-fold scores): the model behind
  every holdout figure.
* ``lite0-probe``: the same command on all of val-inthewild (225 images), the shipped default:
  every choice was fixed by the protocol run above; its card carries cross-validated figures.
* Both probes are also calibrated on the ``CONDITIONS`` copies of their images (JPEG re-encodes,
  720 px downscales, lossy WebP; ``train probe --conditions``, docs/quality.md), and the holdout is
  measured through ``scan`` as it is, downscaled to 720 px at JPEG q90 and saved as WebP q80
  (copies in a temporary folder):
  the "holdout as scan gives it" section of weights/RESULTS.md.  ``--probes-only`` redoes all of
  this but the backbone export: the probes, every ensemble over them and every figure (no PyTorch).
* Each ``train probe`` also writes the probe's calibration-domain reference,
  ``NAME.domain.npz`` beside the card (its SHA-256 in the card's ``domain``), which ``scan
  --domain-check`` tests batches against (docs/domain.md); ``tools/attach_domain.py NAME``
  rebuilds it for an existing card from the images the card names.
* ``default`` = ``lite0-probe`` alone (mean of one); ``majority`` = majority vote of
  ``lite0-probe``, ``npr``, ``spectral`` (run 8); their holdout figures are measured on the same
  ensembles over ``lite0-probe-train`` (cards in ``runs/bundle/protocol``).

The legacy members trained from scratch (``--legacy``; otherwise the shipped ONNX files are kept):

* val-inthewild (the target distribution) is split once, stratified by label x category,
  into ``train`` (60 %) and ``holdout`` (40 %, never trained on, used only for reporting);
  ``train`` is split again into ``fit`` (75 %) and ``calib`` (25 %: early stopping,
  thresholds and voting weights).  The lists are in ``weights/splits/``.
* ``resnet``: the Wang et al. recipe (blur+JPEG p=0.5, shorter side 256, crop 224) on the
  mismatched ``train-*`` sets from random init (no ImageNet weights exist here), then
  fine-tuned on ``fit`` (paper runs 1 -> 3).  ``train-gan2019``'s images carry their label in
  a frame (grey around the reals, coloured around the fakes): the recipe cuts uniform frames
  off before cropping (``synthdetect/inputs/frames.py``; the shipped ``resnet`` was retrained
  so on 2026-12-05, docs/train.md#data).
* ``npr`` and ``spectral``: from-scratch forensic networks on native-resolution patches
  of ``fit`` (a fresh model on the target sample, paper run 6), with JPEG / rescale
  augmentation so that neither learns "JPEG = real" or "big = real".
* Each member is exported to ONNX (parity-checked against PyTorch; ``spectral`` scores up to
  2x2 native crops per image, see ``TILES``), calibrated on
  ``calib`` (best F1 among thresholds that flag at most ``--max-fpr`` of the calib real
  photos: a false-alarm budget, default 10 %; ``--max-fpr none`` for the paper's plain
  best-F1 threshold); the default ensemble is the F1-weighted vote (run 9), the majority vote (run 8)
  is shipped too; everything is evaluated on ``holdout`` and the Table-1 figures are
  written into the cards and ``weights/RESULTS.md``.

Usage: python tools/make_weights.py [--data ../shared/data] [--runs runs/bundle] [--legacy] [--probes-only]
           [--quick] [--only npr,spectral,resnet] [--skip-train] [--max-fpr 0.1|none]
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
ARCH = {"npr": "npr", "spectral": "spectral", "resnet": "resnet-narrow"}  # member -> detector family
MEMBERS = tuple(ARCH)
# Inference tiles per member (card input.tiles), chosen on calib: spectral ROC-AUC 0.683 -> 0.791,
# AP 0.681 -> 0.817 with up to 2x2 native crops (3x3: 0.752); npr mixed (AUC 0.807 -> 0.824, AP
# 0.814 -> 0.774), so npr keeps one crop; resnet resizes, tiles do not apply.
TILES = {"spectral": 2}
# transformations the probes are calibrated on as well (synthdetect.scan.conditions; docs/quality.md)
# (since 2026-12-07 also lossy WebP: full size and 720 px at libwebp quality 75, what scan judges WebP files by;
# and greyscale JPEG at q90 and q75, what scan judges greyscale images by: chosen over grey80 alone and
# grey80 + 720grey80 on the protocol twin, 2026-12-07, docs/quality.md; 720grey80 added once a full-size
# greyscale image was judged by the full-size greyscale copies alone: the 720 px holdout 70.8 -> 73.0 %;
# and AVIF at libavif quality 50, full size and 720 px, what scan judges AVIF files by since their quality is read;
# and HEIC at libheif quality 50 (slice quantiser 22), full size and 720 px, since a HEIC's quality is read, 2026-12-07)
CONDITIONS = "default,webp75,720webp75,grey90,grey75,720grey80,avif50,720avif50,heif50,720heif50"


def sh(args: list[str], log: Path | None = None) -> None:
    cmd = [sys.executable, "-m", "synthdetect", *args]
    shown = [shlex.quote(a) for a in args]
    paths = [a for a in args if a.endswith((".jpg", ".jpeg", ".png", ".webp"))]
    if len(paths) > 4:  # scan of a file list: name the first, count the rest
        shown = [a for a in shown if a.strip("'") not in paths[1:]]
        shown.insert(shown.index(shlex.quote(paths[0])) + 1, f"... ({len(paths)} files)")
    print("\n$ synthdetect " + " ".join(shown), flush=True)
    t = time.time()
    r = subprocess.run(cmd, cwd=REPO)
    print(f"  ({time.time() - t:.0f} s, exit {r.returncode})", flush=True)
    if r.returncode != 0:
        sys.exit(f"step failed: synthdetect {' '.join(args)}")


def rewrite_results(runs: Path = REPO / "runs" / "bundle") -> str:
    """RESULTS.md again from the JSON of the last full run (no scoring)."""
    grid = json.loads((runs / "perturbation-grid.json").read_text())
    return write_results_md(json.loads((runs / "holdout-metrics.json").read_text()), grid, WEIGHTS / "RESULTS.md")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--runs", type=Path, default=REPO / "runs" / "bundle")
    ap.add_argument("--only", default=",".join(MEMBERS), help="members to (re)train")
    ap.add_argument("--skip-train", action="store_true", help="reuse existing runs: export/calibrate/evaluate only")
    ap.add_argument("--quick", action="store_true", help="a few epochs: a smoke run of the pipeline, not a detector")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--max-fpr", default="0.1",
                    help="false-alarm budget for the calibrated thresholds on calib ('none': plain best F1)")
    ap.add_argument("--probes-only", action="store_true",
                    help="refit the probes and every ensemble over them, re-measure all figures; no backbone export (no PyTorch)")
    ap.add_argument("--legacy", action="store_true",
                    help="also retrain/re-export the from-scratch members npr, spectral, resnet (~42 min)")
    ap.add_argument("--scan-only", action="store_true",
                    help="only re-measure the holdout through scan (the weights as they are) and rewrite that "
                         "section of weights/RESULTS.md: for a change of scan's rules, not of the weights")
    a = ap.parse_args()
    fpr_args = [] if a.max_fpr.lower() == "none" else ["--max-fpr", str(float(a.max_fpr))]

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

    if a.scan_only:
        mdirs = ["--models-dir", str(WEIGHTS), "--models-dir", str(runs / "protocol")]
        print(write_scan_section(scan_holdout(val, runs, mdirs), WEIGHTS / "RESULTS.md"))
        return None
    if a.probes_only:
        return probes_only(val, hold, runs, t0)
    if a.legacy:
        legacy(a, runs, fit, calib, data, only, q, seed, fpr_args)
    probes(val, hold, runs, t0)


def probes(val: Path, hold: str, runs: Path, t0: float) -> None:
    """The pretrained backbone, its probes, the ensembles, and every figure of the README."""
    calib = f"{val}@{SPLITS / 'val-inthewild.calib.txt'}"
    w = str(WEIGHTS)
    sh(["backbone", "export", "efficientnet-lite0", "--out", w, "--parity-data", calib, "--parity-n", "8", "--force"])
    sh(["backbone", "export", "efficientnet-lite0-residual", "--out", w, "--parity-data", calib, "--parity-n", "8",
        "--force"])  # train probe's default backbone and the bundled probes' (the same weights)
    probes_and_figures(val, hold, runs)
    print(f"\nbundle rebuilt in {time.time() - t0:.0f} s; results in {runs / 'holdout-metrics.json'} and "
          f"{WEIGHTS / 'RESULTS.md'}")


def probes_and_figures(val: Path, hold: str, runs: Path) -> None:
    """Over the exported backbones: the probes, every ensemble that reads them (the majority vote's
    weights come from ``lite0-probe``'s scores), the holdout table, the perturbation grid,
    weights/RESULTS.md and the holdout through ``scan``.  Shared by a full build and ``--probes-only``,
    so that refitting the probes never leaves an ensemble or a figure of the probes they replaced."""
    calib = f"{val}@{SPLITS / 'val-inthewild.calib.txt'}"
    w = str(WEIGHTS)
    proto = probe_cards(val, f"{val}@{SPLITS / 'val-inthewild.train.txt'}", runs)
    sh(["ensemble", "build", "--members", "lite0-probe,npr,spectral", "--method", "majority", "--weights-from", calib,
        "--out", str(WEIGHTS / "majority.ensemble.json"), "--models-dir", w, "--force"])
    sh(["ensemble", "build", "--members", "lite0-probe-train,npr,spectral", "--method", "majority",
        "--weights-from", calib, "--out", str(proto / "majority-protocol.ensemble.json"), "--models-dir", w, "--force"])
    targets = ["lite0-probe-train", *MEMBERS, "majority-protocol", "default-protocol"]
    mdirs = ["--models-dir", w, "--models-dir", str(proto)]
    results = runs / "holdout-metrics.json"
    sh(["evaluate", *targets, "--data", hold, *mdirs, "--format", "table", "--out", str(results)])
    grid = {}
    for p in ("jpeg:95", "jpeg:75", "jpeg:50", "resize:0.5", "blur:1", "blur:2", "crop:896", "crop:640"):
        out = runs / f"holdout-{p.replace(':', '-')}.json"
        sh(["evaluate", "lite0-probe-train", *MEMBERS, "--data", hold, *mdirs, "--perturb", p, "--format", "table",
            "--out", str(out)])
        grid[p] = json.loads(out.read_text())
    (runs / "perturbation-grid.json").write_text(json.dumps(grid, indent=2))
    report = json.loads(results.read_text())
    record_holdout(report)
    write_results_md(report, grid, WEIGHTS / "RESULTS.md")
    print(write_scan_section(scan_holdout(val, runs, mdirs), WEIGHTS / "RESULTS.md"))


# The bundled probes use train probe's method, the averaged shrinkage LDA with the crop-level
# covariance, over train probe's default backbone, efficientnet-lite0-residual (since 2026-12-06;
# pinned so that a later change of the default does not silently change the bundle), with
# Ledoit-Wolf's own shrinkage. Holdout through scan (protocol twin): clean ROC-AUC 0.973, coverage
# 80.9 %, 0/46 reals called synthetic, 4/43 fakes called real; 720 px q90: 0.857, 73.0 % (its black-and-white
# images judged by 720grey80; 70.8 % with full-size greyscale copies only), 0/46,
# 10/43 (76.4 %, 1/46 before scan took the worst case over the conditions bounding an image,
# 2026-12-07; over efficientnet-lite0 before: 0.927, 80.9 %, 0/46, 6/43; 0.853, 62.9 %, 0/46, 7/43).
PROBE_METHOD = ["--method", "lda-average", "--backbone", "efficientnet-lite0-residual", "--shrinkage-scale", "1"]


def probe_cards(val: Path, train: str, runs: Path) -> Path:
    """The two probes (calibrated on their images and on the CONDITIONS copies of them) and the
    default ensemble over each; returns the directory of the protocol twins."""
    w = str(WEIGHTS)
    sh(["train", "probe", "--data", train, "--name", "lite0-probe-train", "--conditions", CONDITIONS, *PROBE_METHOD,
        "--models-dir", w,
        "--out", w, "--force"])
    # every choice is the protocol run's: the shipped probe reads the feature group its twin chose on `train`
    group = json.loads((WEIGHTS / "lite0-probe-train.json").read_text())["training"]["feature_group"]["name"]
    sh(["train", "probe", "--data", str(val), "--name", "lite0-probe", "--conditions", CONDITIONS, *PROBE_METHOD,
        "--feature-group", group, "--models-dir", w, "--out", w, "--force"])
    sh(["ensemble", "build", "--members", "lite0-probe", "--method", "mean", "--out", str(WEIGHTS / "default.ensemble.json"),
        "--models-dir", w, "--force", "--description",
        "the EfficientNet-Lite0 probe alone: npr, spectral and resnet added no measurable ranking power "
        "(holdout ROC-AUC +0.005 to +0.01, within noise) and cannot be calibrated by cross-fitting"])
    # the protocol twin of the shipped default: the same member with the probe fitted on `train` only
    proto = runs / "protocol"
    proto.mkdir(parents=True, exist_ok=True)
    sh(["ensemble", "build", "--members", "lite0-probe-train", "--method", "mean",
        "--out", str(proto / "default-protocol.ensemble.json"), "--models-dir", w, "--force"])
    return proto


def probes_only(val: Path, hold: str, runs: Path, t0: float) -> None:
    """``--probes-only``: everything :func:`probes` does but exporting the backbones (no PyTorch; the
    shipped backbone ONNX files and the warm feature cache)."""
    for name in ("efficientnet-lite0", "efficientnet-lite0-residual"):
        if not (WEIGHTS / f"{name}.backbone.json").is_file():
            sys.exit(f"--probes-only needs the exported backbone weights/{name}.backbone.json (run make weights)")
    probes_and_figures(val, hold, runs)
    print(f"\nprobes, ensembles and figures rebuilt in {time.time() - t0:.0f} s")


# the holdout as an analyst might receive it (scan_holdout): copy kind -> (file suffix or None, the transform,
# how it is saved); none of them is a calibration copy's own setting (Lanczos, q75/q80, grey90/75, avif50, heif50)
HOLDOUT_KINDS = {
    "720px-q90": (None, "720px", {"format": "JPEG", "quality": 90, "optimize": True}),  # bicubic downscale
    "webp-q80": (".webp", None, {"format": "WEBP", "quality": 80}),  # Pillow's default quality
    "grey-q92": (None, "grey", {"format": "JPEG", "quality": 92}),
    "avif-q60": (".avif", None, {"format": "AVIF", "quality": 60}),
    "heic-q60": (".heic", None, {"format": "HEIF", "quality": 60}),
}


def _holdout_copies(val: Path, rels: list[str], dest: Path, kind: str = "720px-q90") -> list[str]:
    """The holdout as an analyst might receive it (:data:`HOLDOUT_KINDS`), written to a temporary folder
    (never the data set): ``720px-q90``: shorter side 720 px (bicubic), JPEG q90; ``webp-q80``: full
    size, lossy WebP q80; ``grey-q92``: full size, greyscale JPEG q92; ``avif-q60``: full size, AVIF at
    libavif quality 60; ``heic-q60``: full size, HEIC at libheif quality 60.  Returns the copies' paths
    relative to ``dest``."""
    from PIL import Image

    from synthdetect.inputs.decoding import decode, init_codecs

    init_codecs()  # pillow-heif's HEIF writer
    suffix, transform, save = HOLDOUT_KINDS[kind]
    out = []
    for rel in rels:
        img = decode(val / rel).image
        dst = Path(rel).with_suffix(suffix) if suffix else Path(rel)
        if transform == "grey":
            img = img.convert("L")
        elif transform == "720px" and (f := 720 / min(img.size)) < 1:
            img = img.resize((max(1, round(img.width * f)), max(1, round(img.height * f))), Image.Resampling.BICUBIC)
        (dest / dst).parent.mkdir(parents=True, exist_ok=True)
        img.save(dest / dst, **save)
        out.append(dst.as_posix())
    return out


def scan_holdout(val: Path, runs: Path, mdirs: list[str]) -> dict:
    """The holdout scanned as a user scans it (three-way verdicts, quality gates, conditions) with
    ``default-protocol`` (the shipped default's recipe without the holdout): clean, downscaled to
    a 720 px shorter side at JPEG q90, saved as WebP q80, made greyscale (JPEG q92), saved as AVIF q60 and
    as HEIC q60 (:data:`HOLDOUT_KINDS`); ROC-AUC, coverage and the errors of the definite verdicts."""
    import tempfile

    rels = [ln.strip() for ln in (SPLITS / "val-inthewild.holdout.txt").read_text().splitlines()
            if ln.strip() and not ln.startswith("#")]
    out = {}
    with tempfile.TemporaryDirectory(prefix="synthdetect-holdout-") as tmp:
        sets = [("clean", val, rels)]
        for kind in HOLDOUT_KINDS:
            sets.append((kind, Path(tmp) / kind, _holdout_copies(val, rels, Path(tmp) / kind, kind)))
        for label, root, files in sets:
            res = runs / f"scan-holdout-{label}.json"
            sh(["scan", *[str(root / r) for r in files], "--models", "default-protocol", *mdirs, "-f", "json",
                "--output", str(res)])
            out[label] = scan_metrics(json.loads(res.read_text())["results"])
    (runs / "scan-holdout.json").write_text(json.dumps(out, indent=2))
    return out


def scan_metrics(records: list[dict]) -> dict:
    """ROC-AUC of the scores, coverage and the two error rates of the definite verdicts (labels from 0_real/1_fake)."""
    from collections import Counter

    from synthdetect.evaluation.metrics import roc_auc

    y = [0 if "/0_real/" in r["path"] else 1 for r in records]
    s = [r["ensemble"]["score"] for r in records]
    v = [r["verdict"] for r in records]
    n_r, n_f = y.count(0), y.count(1)
    fa = sum(1 for a, b in zip(y, v) if a == 0 and b == "synthetic")
    miss = sum(1 for a, b in zip(y, v) if a == 1 and b == "real")
    gates = Counter(g["gate"] for r in records if r.get("detector_verdict")
                    for g in (r.get("quality") or {}).get("failed", []))
    return {"n": len(y), "n_real": n_r, "n_synthetic": n_f, "roc_auc": roc_auc(y, s),
            "coverage": sum(x != "inconclusive" for x in v) / len(v), "real_called_synthetic": [fa, n_r],
            "synthetic_called_real": [miss, n_f], "verdicts": dict(Counter(v)),
            "conditions": dict(Counter(str(r.get("condition")) for r in records)), "gated": dict(gates)}


SCAN_MARK = "<!-- scan-holdout -->"


def write_scan_section(m: dict, out: Path) -> str:
    """The 'as scan gives them' section of RESULTS.md (replaced in place between two markers)."""
    pct = lambda k, n: f"{k}/{n} ({100 * k / n:.1f} %)"  # noqa: E731
    lines = [SCAN_MARK, "", "## The holdout as `scan` gives it", "",
             "`default-protocol` through `synthdetect scan` exactly as an analyst runs it (three-way verdicts, quality "
             "gates, measured conditions; `make weights` runs it): the 89 holdout files as they are, the same files "
             "downscaled to a 720 px shorter side (bicubic) and saved at JPEG q90, saved at full size as lossy WebP "
             "q80, made greyscale (full size, JPEG q92), saved at full size as AVIF q60 (libavif's scale) and as HEIC "
             "q60 (libheif's scale), in a "
             "temporary folder. The calibration "
             f"covers the conditions `{CONDITIONS}` (copies of the calibration images, docs/quality.md).", "",
             "| holdout | ROC-AUC | coverage | real called synthetic | synthetic called real | conditions | gated |",
             "|---|---:|---:|---:|---:|---|---|"]
    for label, r in m.items():
        lines.append(f"| {label} | {r['roc_auc']:.3f} | {100 * r['coverage']:.1f} % | {pct(*r['real_called_synthetic'])} "
                     f"| {pct(*r['synthetic_called_real'])} | "
                     + ", ".join(f"{k} {v}" for k, v in sorted(r["conditions"].items())) + " | "
                     + (", ".join(f"{k} {v}" for k, v in sorted(r["gated"].items())) or "none") + " |")
    lines += ["", SCAN_MARK, ""]
    text = out.read_text() if out.exists() else ""
    if SCAN_MARK in text:
        head, _, rest = text.partition(SCAN_MARK)
        tail = rest.partition(SCAN_MARK)[2].lstrip("\n")
        text = head.rstrip("\n") + "\n\n" + "\n".join(lines) + tail
    else:
        text = text.rstrip("\n") + "\n\n" + "\n".join(lines)
    out.write_text(text)
    return text


HOLDOUT_OF = {"lite0-probe": "lite0-probe-train", "default": "default-protocol", "majority": "majority-protocol"}


def record_holdout(report: dict) -> None:
    """The holdout figures go into the shipped cards, labelled with the protocol model they come from."""
    from synthdetect.cards import EnsembleCard, ModelCard

    label = "val-inthewild@val-inthewild.holdout.txt"
    for shipped, proto in [*HOLDOUT_OF.items(), *((m, m) for m in MEMBERS), ("lite0-probe-train", "lite0-probe-train")]:
        m = report["models"].get(proto)
        if m is None:
            continue
        path = WEIGHTS / (f"{shipped}.ensemble.json" if shipped in ("default", "majority") else f"{shipped}.json")
        card = (EnsembleCard if shipped in ("default", "majority") else ModelCard).load(path)
        entry = {k: m[k] for k in ("n", "n_real", "n_synthetic", "ap", "roc_auc", "eer")}
        entry["at_0.5"] = m["at_threshold"]
        entry["best_f1_on_this_data"] = m["best_f1"]
        entry["at_calibrated_threshold"] = m.get("at_model_threshold", m["at_threshold"])
        if "three_way" in m:
            entry["three_way"] = m["three_way"]
        entry["measured_with"] = proto if proto != shipped else shipped
        if proto != shipped:
            entry["note"] = (f"measured with {proto}: the same recipe fitted without the holdout images "
                             f"({shipped} itself was refitted on all of val-inthewild, holdout included)")
        card.metrics[label] = entry
        card.save(path)


def legacy(a, runs: Path, fit: str, calib: str, data: Path, only: list[str], q: bool, seed: str, fpr_args) -> None:
    """The from-scratch members of the earlier bundle (npr, spectral, resnet)."""
    from synthdetect.train import families

    def train(member: str) -> list[str]:  # the command of the member's family ("train npr", "train resnet --arch ...")
        return families.get(ARCH[member]).train_command()

    if not a.skip_train:
        if "npr" in only:
            sh([*train("npr"), "--train", fit, "--val", calib, "--no-resize", "--crop", "128",
                "--crops-per-image", "4" if q else "16", "--jpeg-prob", "0.3", "--resize-prob", "0.3",
                "--epochs", "2" if q else "20", "--patience", "6", "--monitor", "ap", "--lr", "5e-4",
                "--batch-size", "32", "--seed", seed, "--force", "--out", str(runs / "npr")])
        if "spectral" in only:
            sh([*train("spectral"), "--train", fit, "--val", calib, "--no-resize", "--crop", "256",
                "--crops-per-image", "4" if q else "16", "--jpeg-prob", "0.3", "--resize-prob", "0.3",
                "--epochs", "2" if q else "25", "--patience", "6", "--monitor", "ap", "--lr", "1e-3", "--batch-size", "32",
                "--seed", seed, "--force", "--out", str(runs / "spectral")])
        if "resnet" in only:
            sh([*train("resnet"), "--train", str(data / "train-gan2019"),
                "--train", str(data / "train-sd14"), "--val", calib, "--blur-jpeg-prob", "0.5",
                "--inference-resize", "--monitor", "ap", "--epochs", "1" if q else "12", "--batch-size", "32", "--seed", seed, "--force",
                "--out", str(runs / "resnet-pre")])
            sh([*train("resnet"), "--train", fit, "--val", calib,
                "--blur-jpeg-prob", "0.5", "--init-from", str(runs / "resnet-pre"), "--inference-resize",
                "--crops-per-image", "2" if q else "8", "--monitor", "ap", "--patience", "6",
                "--epochs", "1" if q else "25", "--batch-size", "32", "--seed", seed, "--force",
                "--out", str(runs / "resnet")])

    for m in MEMBERS:
        if not (runs / m / "best.pt").exists():
            sys.exit(f"no run for {m} in {runs}: train it first")
        sh(["export", str(runs / m), "--out", str(WEIGHTS / f"{m}.onnx"), "--name", m,
            "--parity-data", calib, "--parity-n", "8", "--tolerance", "1e-4", "--force",
            "--tiles", str(TILES.get(m, 1))])
        sh(["calibrate", m, "--data", calib, "--models-dir", str(WEIGHTS), "--inconclusive-margin", "0.05", *fpr_args])



def _f(x: float) -> str:
    return f"{x:.3f}"


def write_results_md(report: dict, grid: dict, out: Path) -> str:
    """weights/RESULTS.md: Table 1 on the holdout, the three verdicts, the perturbation grid."""
    models = report["models"]
    first = next(iter(models.values()))
    lines = [
        "# Bundled detectors: measured on the val-inthewild holdout",
        "",
        f"Written by `make weights` ({report['created']}); {report['n']} images "
        f"({first['n_real']} real, {first['n_synthetic']} synthetic), never trained on and never used for a "
        "choice by any model in this table. `lite0-probe-train` is the shipped `lite0-probe` recipe fitted "
        "on the 136-image `train` split only; `default-protocol` / `majority-protocol` are the shipped "
        "ensembles over it. (The shipped `lite0-probe` was refitted on all 225 images, holdout included: "
        "its own figures on the holdout would be training figures.)",
        "",
        "Table 1 (the paper's columns): Acc/P/R/F1 at 0.5; `thr*`, F1*, P*, R*, Acc* at the best global",
        "threshold by F1 *on this holdout itself* (the paper's optimistic figure); AP and ROC-AUC;",
        "and the operating point `scan` uses: the calibrated 'synthetic' threshold (probes: out-of-fold,",
        "5 % false-alarm budget; legacy members: `calib`, 10 % budget), with F1, P, R and the share of real",
        "photos flagged synthetic (FPR).",
        "",
        "| model | Acc@0.5 | P@0.5 | R@0.5 | F1@0.5 | FPR@0.5 | thr* | F1* | P* | R* | Acc* | AP | AUC "
        "| thr cal | F1@cal | P@cal | R@cal | FPR@cal |",
        "|---|" + "---:|" * 17,
    ]
    for name, m in models.items():
        a, b = m["at_threshold"], m["best_f1"]
        c = m.get("at_model_threshold", a)
        lines.append("| " + " | ".join([
            name, _f(a["acc"]), _f(a["precision"]), _f(a["recall"]), _f(a["f1"]), _f(a["fpr_real"]),
            _f(b["threshold"]), _f(b["f1"]), _f(b["precision"]), _f(b["recall"]), _f(b["acc"]),
            _f(m["ap"]), _f(m["roc_auc"]), _f(c["threshold"]), _f(c["f1"]), _f(c["precision"]),
            _f(c["recall"]), _f(c["fpr_real"])]) + " |")
    tw = [(n, m["three_way"]) for n, m in models.items() if m.get("three_way")]
    if tw:
        lines += [
            "",
            "Three verdicts (what `scan` says at its default budgets: `synthetic` at <= 5 % false alarms on the",
            "calibration reals, `real` at <= 20 % misses on the calibration fakes, `inconclusive` between):",
            "",
            "| model | real < | synthetic >= | coverage | reals called synthetic | `synthetic` correct "
            "| fakes called real | `real` correct | inconclusive |",
            "|---|" + "---:|" * 8,
        ]
        r = lambda d: f"{d['k']}/{d['n']} ({100 * d['rate']:.1f} %, ≤ {100 * d['upper95']:.1f} %)"  # noqa: E731
        ok = lambda d: f"{d['k']}/{d['n']} ({100 * d['rate']:.1f} %, ≥ {100 * d['lower95']:.1f} %)"  # noqa: E731
        for n, t in tw:
            lines.append(f"| {n} | {t['t_lo']:.3f} | {t['t_hi']:.3f} | {100 * t['coverage']:.1f} % | "
                         f"{r(t['false_alarm'])} | {ok(t['synthetic_correct'])} | {r(t['miss'])} | "
                         f"{ok(t['real_correct'])} | {t['inconclusive']} |")
        lines += ["", "Rates: k/n (rate, and the 95 % Clopper–Pearson bound on the side that matters: upper for "
                  "error rates, lower for the share correct)."]
    lines += [
        "",
        "Perturbation grid (shortcut check: every holdout image re-encoded / resized / blurred / cropped to",
        "the same centre square the same way for both classes): ROC-AUC, and F1 / FPR on reals at the",
        "calibrated threshold.",
        "",
        "| model | clean | " + " | ".join(grid) + " |",
        "|---|" + "---:|" * (len(grid) + 1),
    ]
    for name in grid[next(iter(grid))]["models"]:
        row = [name]
        for rep in [report, *grid.values()]:
            m = rep["models"][name]
            c = m.get("at_model_threshold", m["at_threshold"])
            row.append(f"{m['roc_auc']:.3f} ({c['f1']:.2f}/{c['fpr_real']:.2f})")
        lines.append("| " + " | ".join(row) + " |")
    lines += ["", "Cell: AUC (F1@cal / FPR@cal).", ""]
    text = "\n".join(lines)
    out.write_text(text)
    return text


if __name__ == "__main__":
    main()
