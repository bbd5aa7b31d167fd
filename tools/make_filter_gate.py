"""Fit the filter gates of a backbone card (smoothing, sharpening) and measure them on sources they were not fitted on.

A 3 x 3 median filter (the plainest denoise) hides a render from the bundled probe: on the bundle's
holdout, 34 of 43 median-filtered renders were called real against a stated 19 % (docs/quality.md);
a light linear smoothing (Pillow's SMOOTH_MORE) 21 of 43; a 3 x 3 sharpening kernel (Pillow's SHARPEN)
made it call 4 of 46 real photos synthetic (0 unedited). Pixel measures of median filtering that
survive a JPEG re-save were too weak to gate it; the backbone's early residual features see it far
better. This tool

1. takes up to ``--per-class`` images of each class of each shared set (a fixed shuffle, seed 0;
   val-inthewild without the bundle's holdout split, which the measurements of the bundle keep
   unseen) and makes copies of each in a temporary folder: the image re-saved, and the image
   median-filtered (3 x 3) then saved; for a gate that reads them, the first ``--per-class-new`` of
   each class also smoothed
   (SMOOTH_MORE), Gaussian-blurred (sigma 0.8 / 1.0 / 1.2 in turn), sharpened (SHARPEN) and
   unsharp-masked (radius 1-2, 100-200 % in turn); each copy as JPEG q95 (the quality the bundle
   judges as ``original``) and q85, so that a gate reads the edit and not the quality;
2. extracts the backbone's features of the originals and the copies (``train probe``'s feature cache);
3. measures each gate (``GATES``: ``median_filtered`` reads median copies; ``--gate NAME=EDIT,...``
   fits another choice, e.g. those of ``TRIED``, measured and left out: ``median_filtered`` also
   reading SMOOTH_MORE and Gaussian copies, ``sharpened`` reading SHARPEN and unsharp copies)
   leave-one-source-out: a logistic regression (L2, ``C``) on the early residual stages' features
   (C 0.01), its edited copies against originals and re-saved copies (the other gate's edits left
   out), fitted on three sources, its threshold the 99.5 % quantile of those sources' unedited
   images' scores, applied to the fourth: the share of its copies of every edit gated per quality
   (its renders' apart), and the share of its originals and re-saved copies gated (false gates);
4. fits the same on all four sources and writes each into the backbone card's ``gates``, with the
   measured figures (``--dry-run``: print only).

``scan`` reads the gates (synthdetect/scan/filter_gate.py): an image whose score reaches a threshold
gets that failed quality gate (no definite detector verdict). Re-run it after re-exporting the
backbone (an export writes a card without gates).

Usage: python tools/make_filter_gate.py [--data ../shared/data] [--per-class 100] [--per-class-new 50]
       [--gate NAME[=EDIT,...]] [--dry-run]
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
UNEDITED = ("original", "resave")  # the negatives of every gate
SIGMAS = (0.8, 1.0, 1.2)
UNSHARP = ((1, 100), (2, 150), (1, 200), (2, 100), (1, 150), (2, 200))  # (radius, percent), threshold 3
# edit -> (what the card says, the edit of the i-th image); "resave" and "median" are made of up to --per-class
# images a class, the others of the first --per-class-new of them (the same images)
EDITS = {
    "resave": ("re-saved", lambda im, i: im),
    "median": ("median-filtered 3 x 3", lambda im, i: im.filter(ImageFilter.MedianFilter(3))),
    "smooth_more": ("smoothed with Pillow's SMOOTH_MORE (5 x 5 kernel)", lambda im, i: im.filter(ImageFilter.SMOOTH_MORE)),
    "gauss": (f"Gaussian-blurred, sigma {' / '.join(map(str, SIGMAS))} in turn",
              lambda im, i: im.filter(ImageFilter.GaussianBlur(SIGMAS[i % len(SIGMAS)]))),
    "sharpen": ("sharpened with Pillow's SHARPEN (3 x 3 kernel)", lambda im, i: im.filter(ImageFilter.SHARPEN)),
    "unsharp": ("unsharp-masked, radius 1-2 at 100-200 % in turn",
                lambda im, i: im.filter(ImageFilter.UnsharpMask(*UNSHARP[i % len(UNSHARP)], 3))),
}
BASE_EDITS = ("resave", "median")
# gate -> the edits it reads (its positive class); its negatives: the images as they are and re-saved. The default:
# the gate the bundled card carries. TRIED: measured on 2026-12-08 and left out (docs/quality.md: too few smoothed or
# sharpened copies gated, and the broadened gate caught fewer median copies); --gate NAME=EDIT,... re-measures them
GATES = {"median_filtered": ("median",)}
TRIED = {
    "median_filtered": ("median", "smooth_more", "gauss"),
    "sharpened": ("sharpen", "unsharp"),
}
DESCRIPTION = {
    ("median_filtered", ("median",)): "3 x 3 median filtering (a denoise), read from the early residual stages' features",
    ("median_filtered", ("median", "smooth_more", "gauss")):
        "smoothing of fine texture (3 x 3 median, Pillow's SMOOTH_MORE, Gaussian blur around sigma 1: a denoise or a "
        "soften), read from the early residual stages' features",
    ("sharpened", ("sharpen", "unsharp")): "sharpening (Pillow's SHARPEN, unsharp masks of radius 1-2 at 100-200 %), "
                                           "read from the early residual stages' features",
}


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


def copies(items: list, src: str, tmp: Path, edits: tuple[str, ...], per_class_new: int
           ) -> list[tuple[str, str, int, Path, int]]:
    """(kind, source, label, path, JPEG quality) rows: each original (quality 0: as it is) and its edited
    copies (``resave`` and ``median`` of every image, the other edits of the first ``per_class_new`` of each class)."""
    rows = []
    seen = {0: 0, 1: 0}
    for it in items:
        with Image.open(it.path) as im:
            im = ImageOps.exif_transpose(im).convert("RGB")
        i = seen[it.label]
        seen[it.label] += 1
        stem = f"{src}__{it.label}__{it.path.stem}"
        for kind in edits:
            if kind not in BASE_EDITS and i >= per_class_new:
                continue
            img = EDITS[kind][1](im, i)
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


def fit(name: str, X: np.ndarray, y: np.ndarray, spans: list[list[int]]) -> FilterGate:
    """The gate ``name``: edited copies (y 1) against unedited images (y 0); threshold from the latter."""
    cols = FilterGate.column_index(spans)
    head = fit_logistic(X[:, cols], y, C)
    gate = FilterGate(name=name, columns=spans, mean=head.mean, scale=head.scale, coef=head.coef,
                      intercept=float(head.intercept), threshold=0.0)
    gate.threshold = float(np.quantile(gate.scores(X[y == 0]), QUANTILE))
    return gate


def training_rows(kind: np.ndarray, positives: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(rows a gate is fitted on, their labels): its edits (1) and the unedited images (0); other edits left out."""
    rows = np.isin(kind, positives + UNEDITED)
    return rows, np.isin(kind[rows], positives).astype(np.int64)


def leave_one_out(name, positives, X, kind, src, label, quality, spans) -> dict[str, dict]:
    """Per source: the gate fitted on the other three, applied to every image and copy of this one."""
    rows, y = training_rows(kind, positives)
    out = {}
    for s in SOURCES:
        te = src == s
        if not te.any():
            continue
        tr = rows & ~te
        gate = fit(name, X[tr], np.isin(kind[tr], positives).astype(np.int64), spans)
        sc = gate.scores(X[te])
        k, lab, q = kind[te], label[te], quality[te]
        hit = sc >= gate.threshold

        def share(mask) -> float | None:
            return round(float(hit[mask].mean()), 3) if mask.any() else None

        m = {"roc_auc": round(roc_auc(np.isin(k, positives).astype(int)[np.isin(k, positives + UNEDITED)],
                                      sc[np.isin(k, positives + UNEDITED)]), 3)}
        if name == "median_filtered":  # the figures the card stated before the gate read other smoothing too
            m["median_copies_gated"] = {f"q{v}": share((k == "median") & (q == v)) for v in QUALITIES}
            m["median_renders_gated"] = {f"q{v}": share((k == "median") & (q == v) & (lab == 1)) for v in QUALITIES}
        m["copies_gated"] = {e: {f"q{v}": share((k == e) & (q == v)) for v in QUALITIES}
                             for e in EDITS if e != "resave" and (k == e).any()}
        m["renders_gated"] = {e: {f"q{v}": share((k == e) & (q == v) & (lab == 1)) for v in QUALITIES}
                              for e in positives if (k == e).any()}
        m["originals_gated"] = share(k == "original")
        m["resaved_gated"] = {f"q{v}": share((k == "resave") & (q == v)) for v in QUALITIES}
        m["n_images"] = int((k == "original").sum())
        out[s] = m
    return out


def parse_gates(specs: list[str] | None) -> dict[str, tuple[str, ...]]:
    """``--gate NAME=EDIT,EDIT`` (repeatable) over :data:`GATES`; none given: all of :data:`GATES`."""
    if not specs:
        return dict(GATES)
    out = {}
    for spec in specs:
        name, _, edits = spec.partition("=")
        pos = tuple(e for e in edits.split(",") if e) if edits else GATES.get(name, TRIED.get(name, ()))
        bad = [e for e in pos if e not in EDITS or e == "resave"]
        if not pos or bad:
            sys.exit(f"--gate {spec!r}: name the edits it reads, of {', '.join(e for e in EDITS if e != 'resave')}")
        out[name] = pos
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--per-class", type=int, default=100, help="images a class a set: originals, re-saved, median")
    ap.add_argument("--per-class-new", type=int, default=50,
                    help="of them, the first N a class also smoothed, blurred and sharpened")
    ap.add_argument("--gate", action="append", metavar="NAME[=EDIT,...]",
                    help="a gate to fit and the edits it reads (default: "
                         + "; ".join(g + "=" + ",".join(e) for g, e in GATES.items()) + "; tried and left out: "
                         + "; ".join(g + "=" + ",".join(e) for g, e in TRIED.items()) + ")")
    ap.add_argument("--backbone", type=Path, default=REPO / "weights" / "efficientnet-lite0-residual.backbone.json")
    ap.add_argument("--dry-run", action="store_true", help="measure and print; do not write the card")
    args = ap.parse_args()
    gates = parse_gates(args.gate)
    edits = tuple(e for e in EDITS if e in BASE_EDITS or any(e in p for p in gates.values()))
    card = BackboneCard.load(args.backbone)
    spans = columns(card)
    with tempfile.TemporaryDirectory(prefix="synthdetect-gate-") as tmp:
        rows = []
        for s in SOURCES:
            rows += copies(pick(args.data / s, args.per_class), s, Path(tmp), edits, args.per_class_new)
        backbone = load_backbone(card, device="cpu")
        ex = extract_features([r[3] for r in rows], backbone, cache=backbone_cache(default_cache_dir(), card))
    if ex.errors:
        sys.exit(f"unreadable images: {ex.errors[:3]}")
    kind, src, label, quality = (np.array([r[i] for r in rows]) for i in (0, 1, 2, 4))
    X = ex.X.astype(np.float64)
    d = json.loads(args.backbone.read_text())
    for name, positives in gates.items():
        measured = leave_one_out(name, positives, X, kind, src, label.astype(np.int64), quality.astype(np.int64), spans)
        for s, m in measured.items():
            print(f"{name} {s}: {json.dumps(m)}")
        rows_, y = training_rows(kind, positives)
        gate = fit(name, X[rows_], y, spans)
        entry = gate.to_dict()
        counts = {e: {"images": int((kind == e).sum()) // len(QUALITIES)} for e in positives}
        entry.update({
            "description": DESCRIPTION.get((name, positives),
                                          f"{', '.join(positives)}, read from the early residual stages' features"),
            "method": f"L2 logistic regression (C {C}), standardised features; the edited copies ({', '.join(positives)}) "
                      f"against the same images as they are and re-saved; threshold: the {QUANTILE:.1%} quantile of the "
                      "unedited images' scores",
            "training": {"sets": {s: int(((src == s) & (kind == "original")).sum()) for s in SOURCES},
                         "licences": {s: _licences(args.data / s) for s in SOURCES},
                         "copies": "each image re-saved, and " + "; ".join(
                             f"{EDITS[e][0]} ({counts[e]['images']} images)" for e in positives)
                         + ", then saved as JPEG (Pillow) at " + " and ".join(f"q{q}" for q in QUALITIES),
                         "excluded": "val-inthewild's holdout split (weights/splits/val-inthewild.holdout.txt)",
                         "built": datetime.date.today().isoformat(), "tool": "tools/make_filter_gate.py"},
            "measured": {"leave_one_source_out": measured},
        })
        print(f"{name}: threshold {gate.threshold:.4f}")
        d.setdefault("gates", {})[name] = entry
    if args.dry_run:
        return
    args.backbone.write_text(json.dumps(d, indent=2) + "\n")
    print(f"wrote gates {', '.join(gates)} into {args.backbone}")


if __name__ == "__main__":
    main()
