"""Fit the median-filter gate of a backbone card and measure it on sources it was not fitted on.

A 3 x 3 median filter (the plainest denoise) hides a render from the bundled probe: on the bundle's
holdout, 34 of 43 median-filtered renders were called real against a stated 19 % (docs/quality.md).
Pixel measures of median filtering that survive a JPEG re-save were too weak to gate it; the
backbone's early residual features see it far better. This tool

1. takes up to ``--per-class`` images of each class of each shared set (a fixed shuffle, seed 0;
   val-inthewild without the bundle's holdout split, which the measurements of the bundle keep
   unseen) and makes copies of each in a temporary folder: the image re-saved, and the image
   median-filtered (3 x 3) then saved, each as JPEG q95 (the quality the bundle judges as
   ``original``) and q85, so that the gate reads the filter and not the quality;
2. extracts the backbone's features of the originals and both copies (``train probe``'s feature cache);
3. measures leave-one-source-out: a logistic regression (L2, ``C``) on the early residual stages'
   features (C 0.01), median copies against originals and re-saved copies, fitted on three sources,
   its threshold the 99.5 % quantile of those sources' unfiltered images' scores, applied to the
   fourth: the share of its median copies gated per quality (its renders' apart), and the share of
   its originals and re-saved copies gated (false gates);
4. fits the same on all four sources and writes it into the backbone card's ``gates`` as
   ``median_filtered``, with the measured figures (``--dry-run``: print only).

``scan`` reads the gate (synthdetect/scan/filter_gate.py): an image whose score reaches the threshold
gets the failed quality gate ``median_filtered`` (no definite detector verdict). Re-run it after
re-exporting the backbone (an export writes a card without gates).

Usage: python tools/make_filter_gate.py [--data ../shared/data] [--per-class 100] [--dry-run]
"""

from __future__ import annotations

import argparse
import datetime
import json
import random
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter, ImageOps

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from synthdetect.cards import BackboneCard  # noqa: E402
from synthdetect.evaluation.metrics import roc_auc  # noqa: E402
from synthdetect.inputs.datasets import load_sets  # noqa: E402
from synthdetect.probes.features import backbone_cache, default_cache_dir, extract_features  # noqa: E402
from synthdetect.probes.fit import fit_logistic  # noqa: E402
from synthdetect.scan.filter_gate import FilterGate  # noqa: E402
from synthdetect.scan.runtime import load_backbone  # noqa: E402

SOURCES = ("val-firefly", "val-inthewild", "train-gan2019", "train-sd14")
LAYERS = ("residual.blocks[2]", "residual.blocks[4]", "residual.blocks[7]")
C = 0.01
QUANTILE = 0.995
QUALITIES = (95, 85)  # each copy saved at both: the gate must read the filter, not the quality
# val-inthewild through its train split: the complement of the holdout the bundle's measurements keep unseen
SPLIT = {"val-inthewild": REPO / "weights" / "splits" / "val-inthewild.train.txt"}


def pick(root: Path, per_class: int) -> list:
    """Up to ``per_class`` images of each class of the set at ``root`` (shuffled with seed 0)."""
    split = SPLIT.get(root.name)
    items = load_sets([f"{root}@{split}" if split else str(root)])
    out = []
    for label in (0, 1):
        c = sorted((it for it in items if it.label == label), key=lambda it: it.path.as_posix())
        random.Random(0).shuffle(c)
        out.extend(c[:per_class])
    return out


def copies(items: list, src: str, tmp: Path) -> list[tuple[str, str, int, Path]]:
    """(kind, source, label, path, JPEG quality) rows: each original (quality 0: as it is), its re-saved
    copies and its median copies."""
    rows = []
    for it in items:
        with Image.open(it.path) as im:
            im = ImageOps.exif_transpose(im).convert("RGB")
        stem = f"{src}__{it.label}__{it.path.stem}"
        for kind, img in (("resave", im), ("median", im.filter(ImageFilter.MedianFilter(3)))):
            for q in QUALITIES:
                dest = tmp / f"{kind}{q}" / f"{stem}.jpg"
                dest.parent.mkdir(parents=True, exist_ok=True)
                img.save(dest, quality=q)
                rows.append((kind, src, it.label, dest, q))
        rows.append(("original", src, it.label, it.path, 0))
    return rows


def _licences(root: Path) -> list[str]:
    """The licences a set's manifest names (its ``licence`` column)."""
    import csv

    with open(root / "manifest.csv", newline="", encoding="utf-8") as f:
        return sorted({row.get("licence") or "unknown" for row in csv.DictReader(f)})


def columns(card: BackboneCard) -> list[list[int]]:
    """[start, stop] of the early residual stages' features in the backbone's layout."""
    layout = card.features["layout"]
    return [[g["start"], g["stop"]] for g in layout if g["name"].rsplit(".", 1)[0] in LAYERS]


def fit(X: np.ndarray, y: np.ndarray, spans: list[list[int]]) -> FilterGate:
    cols = FilterGate.column_index(spans)
    head = fit_logistic(X[:, cols], y, C)
    gate = FilterGate(name="median_filtered", columns=spans, mean=head.mean, scale=head.scale, coef=head.coef,
                      intercept=float(head.intercept), threshold=0.0)
    gate.threshold = float(np.quantile(gate.scores(X[y == 0]), QUANTILE))
    return gate


def leave_one_out(X, kind, src, label, quality, spans) -> dict[str, dict]:
    y = (kind == "median").astype(np.int64)
    out = {}
    for s in SOURCES:
        te = src == s
        if not te.any():
            continue
        gate = fit(X[~te], y[~te], spans)
        sc = gate.scores(X[te])
        k, lab, q = kind[te], label[te], quality[te]
        hit = sc >= gate.threshold

        def share(mask) -> float:
            return round(float(hit[mask].mean()), 3)

        out[s] = {
            "roc_auc": round(roc_auc((k == "median").astype(int), sc), 3),
            "median_copies_gated": {f"q{v}": share((k == "median") & (q == v)) for v in QUALITIES},
            "median_renders_gated": {f"q{v}": share((k == "median") & (q == v) & (lab == 1)) for v in QUALITIES},
            "originals_gated": share(k == "original"),
            "resaved_gated": {f"q{v}": share((k == "resave") & (q == v)) for v in QUALITIES},
            "n_images": int((k == "original").sum()),
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--per-class", type=int, default=100)
    ap.add_argument("--backbone", type=Path, default=REPO / "weights" / "efficientnet-lite0-residual.backbone.json")
    ap.add_argument("--dry-run", action="store_true", help="measure and print; do not write the card")
    args = ap.parse_args()
    card = BackboneCard.load(args.backbone)
    spans = columns(card)
    with tempfile.TemporaryDirectory(prefix="synthdetect-gate-") as tmp:
        rows = []
        for s in SOURCES:
            rows += copies(pick(args.data / s, args.per_class), s, Path(tmp))
        backbone = load_backbone(card, device="cpu")
        ex = extract_features([r[3] for r in rows], backbone, cache=backbone_cache(default_cache_dir(), card))
    if ex.errors:
        sys.exit(f"unreadable images: {ex.errors[:3]}")
    kind, src, label, quality = (np.array([r[i] for r in rows]) for i in (0, 1, 2, 4))
    X = ex.X.astype(np.float64)
    measured = leave_one_out(X, kind, src, label.astype(np.int64), quality.astype(np.int64), spans)
    for s, m in measured.items():
        print(f"{s}: {json.dumps(m)}")
    gate = fit(X, (kind == "median").astype(np.int64), spans)
    entry = gate.to_dict()
    entry.update({
        "description": "3 x 3 median filtering (a denoise), read from the early residual stages' features",
        "method": f"L2 logistic regression (C {C}), standardised features; median copies against the same images "
                  f"as they are and re-saved; threshold: the {QUANTILE:.1%} quantile of the unfiltered images' scores",
        "training": {"sets": {s: int(((src == s) & (kind == "original")).sum()) for s in SOURCES},
                     "licences": {s: _licences(args.data / s) for s in SOURCES},
                     "copies": "each image re-saved, and median-filtered 3 x 3 then saved, as JPEG (Pillow) at "
                               + " and ".join(f"q{q}" for q in QUALITIES),
                     "excluded": "val-inthewild's holdout split (weights/splits/val-inthewild.holdout.txt)",
                     "built": datetime.date.today().isoformat(), "tool": "tools/make_filter_gate.py"},
        "measured": {"leave_one_source_out": measured},
    })
    if args.dry_run:
        return
    d = json.loads(args.backbone.read_text())
    d.setdefault("gates", {})["median_filtered"] = entry
    args.backbone.write_text(json.dumps(d, indent=2) + "\n")
    print(f"wrote gates.median_filtered into {args.backbone} (threshold {gate.threshold:.4f})")


if __name__ == "__main__":
    main()
