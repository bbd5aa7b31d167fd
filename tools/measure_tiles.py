"""Per-tile training of the linear probe vs per-image means (issue 20 experiment).

The backbone scores up to 16 native 224 px tiles per image and the probe reads the mean
feature.  The probe is linear, so the mean over tiles of per-tile logits is the logit of the
mean feature: a head fitted on per-tile rows (each tile a row with its image's label, folds
grouped by image) deploys unchanged on the mean.  This compares the two under the adaptation
protocol (k labelled images per class of a source, scored on the rest at image level).

    python tools/measure_tiles.py extract            # per-tile features -> /tmp/tile-probe/*.npz
    python tools/measure_tiles.py measure --k 10 25 50 --seeds 5

Per-tile features are stored under /tmp only (never in the repository).
Variants: ``mean`` (today's rows), ``tilesK`` (at most K tiles per image, a fixed random subset;
each tile weighted 1/T_i so every image counts once; standardisation = the weighted tile
statistics; feature group and C by grouped CV, held-out log-loss on the images' mean features),
``+flip`` (horizontally flipped tiles too), ``mean+flip``, ``tiles-unweighted``, ``tiles-Ctile``
(C by held-out tile log-loss), ``tiles-imgstats`` (standardised by the image means' statistics).
The head is always scored on the mean feature of ALL tiles, as scan does; ``max_abs_logit_diff``
checks that this equals the mean of the tiles' logits (measured <= 5e-15).

Measured 2026-12-04 (5 seeds, same picks as tools/measure_adaptation.py; ROC-AUC on the rest):

  source         k   mean           tiles4         tiles8         tiles4+flip
  val-firefly    10  0.722 ± 0.044  0.725 ± 0.055  -              0.741 ± 0.069
  val-firefly    25  0.769 ± 0.057  0.797 ± 0.064  0.804 ± 0.076  0.798 ± 0.055
  val-firefly    50  0.880 ± 0.112  0.947 ± 0.073  0.967 ± 0.047  0.987 ± 0.018
  val-inthewild  10  0.605 ± 0.104  0.614 ± 0.111  -              0.617 ± 0.112
  val-inthewild  25  0.731 ± 0.049  0.753 ± 0.022  0.776 ± 0.035  0.763 ± 0.019
  val-inthewild  50  0.827 ± 0.009  0.827 ± 0.016  0.868 ± 0.021  0.835 ± 0.012
  train-gan2019  50  0.679 ± 0.025  = mean (1 tile)                0.680 ± 0.021
  train-sd14     50  0.997          0.998          -              0.998
  val-inthewild 50 tiles8+flip: 0.877 ± 0.021
  val-inthewild holdout (train split 136 -> holdout 89, nested-CV thresholds, default budgets):
    mean 0.883 (coverage 71.9 %, false alarm 6.5 %, miss 7.0 %); tiles4 0.893 (65.2 %, 0.0 %, 14.0 %);
    tiles8 0.898 (74.2 %, 0.0 %, 14.0 %)
  mean+wcov (image-mean rows, ridge (1/2C) w'(I + C/4 S_w)w with S_w the training images' summed
  within-image tile covariance, 1/T_i per tile: the second-order expansion of the tile rows' loss
  around each image's mean, so it stands for ALL 16 tiles at the cost of an image-level fit):
    firefly 0.749 ± 0.060 / 0.883 ± 0.054 / 0.993 ± 0.015 (k 10/25/50); inthewild 0.629 ± 0.119 /
    0.797 ± 0.030 / 0.857 ± 0.025; train-sd14 k=10 0.968 ± 0.016; gan2019: S_w = 0 (one tile) = mean.
    holdout 0.932 (coverage 61.8 %, false alarm 0.0 %, miss 16.3 %); selection ~6-10 s at k<=50.
    k=50 with nested-CV thresholds: firefly coverage 96 %, false alarm 0.0 %, miss 10.0 % (mean rows:
    64 %, 0.0 %, 20.0 %); inthewild 64 %, 0.9 %, 19.7 % (mean rows: 44 %, 0.6 %, 15.3 %); nested fit
    92-141 s with two runs sharing the 2 cores (mean rows: ~9 s).
  Cost (2 shared cores, feature group + C selection only, k=50): mean ~1 s, tiles4 ~6-12 s, tiles8
  ~40-55 s, tiles16 ~790 s (firefly seed 0: 0.967); with the nested outer CV x6 on top: mean 9 s,
  tiles4 82 s max.  The exact row-space Newton solver costs ~N_rows^3 once rows exceed ~200.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from synthdetect.cards import BackboneCard, sha256_file  # noqa: E402
from synthdetect.probes.fit import DEFAULT_CS as CS  # noqa: E402

SOURCES = ("val-firefly", "val-inthewild", "train-gan2019", "train-sd14")
TMP = Path("/tmp/tile-probe")


def extract(root: Path, backbone, out: Path) -> None:
    from synthdetect.inputs.decoding import decode, init_codecs
    from synthdetect.inputs.preprocess import to_inputs
    from synthdetect.inputs.datasets import load_sets

    init_codecs()
    items = load_sets([str(root)])
    spec = backbone.card.input
    feats, flips, owner, labels, shas, rels = [], [], [], [], [], []
    t0 = time.perf_counter()
    for i, it in enumerate(items):
        d = decode(it.path)
        x = to_inputs(d.image, spec)
        d.image.close()
        f = backbone.features(x)
        g = backbone.features(np.ascontiguousarray(x[..., ::-1]))
        j = len(labels)
        feats.append(f)
        flips.append(g)
        owner += [j] * len(f)
        labels.append(int(it.label))
        shas.append(sha256_file(it.path))
        rels.append(it.rel)
        if i % 50 == 0:
            print(f"{root.name}: {i}/{len(items)} {time.perf_counter() - t0:.0f}s", flush=True)
    np.savez(out, feats=np.concatenate(feats), flips=np.concatenate(flips), owner=np.array(owner),
             labels=np.array(labels), sha256=np.array(shas), rel=np.array(rels))


def main_extract(args) -> None:
    from synthdetect.scan.runtime import load_backbone

    card = BackboneCard.load(REPO / "weights" / "efficientnet-lite0.backbone.json")
    backbone = load_backbone(card, device="cpu")
    TMP.mkdir(parents=True, exist_ok=True)
    for src in args.sources:
        out = TMP / f"{src}.npz"
        if not out.exists():
            extract(args.data_root / src, backbone, out)


# ---------------------------------------------------------------- fitting (weighted rows, grouped folds)

def wstats(X, w):
    """Weighted mean / scale of rows (weights = share of an image)."""
    w = w / w.sum()
    mean = w @ X
    var = w @ (X - mean) ** 2
    scale = np.sqrt(var)
    return mean, np.where(scale > 1e-8 * max(1.0, float(np.abs(mean).max(initial=0.0))), scale, 1.0)


def basis(Xs):
    """Z [N, r], B [D, r] with Xs B = Z, B orthonormal (the probe's row space; identity, B None,
    when there are more rows than features, as tile rows can be)."""
    from synthdetect.probes.fit import _row_space

    return _row_space(Xs) if Xs.shape[0] <= Xs.shape[1] else (Xs, None)


def newton(Z, y, w, C, start=None):
    """The probe's weighted L2 logistic Newton solve; theta = [c..., b] (start: a previous theta)."""
    from synthdetect.probes.fit import _newton

    c, b = _newton(Z, y, C, start=None if start is None else (start[:-1], start[-1]), weights=w)
    return np.r_[c, b]


class Rows:
    """Training rows: features, label, weight, owning image (index into the image list)."""

    def __init__(self, X, y, w, owner):
        self.X, self.y, self.w, self.owner = X, y, w, owner

    def take(self, images):
        m = np.isin(self.owner, images)
        return Rows(self.X[m], self.y[m], self.w[m], self.owner[m])


def fit_head(rows, C, stats_from=None):
    mean, scale = wstats(rows.X, rows.w) if stats_from is None else stats_from
    Xs = (rows.X - mean) / scale
    Z, B = basis(Xs)
    th = newton(Z, rows.y, rows.w, C)
    coef = th[:-1] if B is None else B @ th[:-1]
    return mean, scale, coef, th[-1]


def logits(head, X):
    mean, scale, coef, b = head
    return ((X - mean) / scale) @ coef + b




def choose(rows, img_X, img_y, images, k, seed, cols, eval_on="image", img_stats=False):
    """C by grouped k-fold CV (folds of images); held-out log-loss on image means or on tile rows."""
    from synthdetect.probes.fit import stratified_folds

    yi = img_y[images]
    losses = {C: [] for C in CS}
    for test in stratified_folds(yi, k, seed):
        te, tr = images[test], np.setdiff1d(images, images[test])
        R = rows.take(tr)
        Xtr = R.X[:, cols]
        st = wstats(img_X[tr][:, cols], np.ones(tr.size)) if img_stats else wstats(Xtr, R.w)
        Xs = (Xtr - st[0]) / st[1]
        Z, B = basis(Xs)
        if eval_on == "image":
            Xte, yte, wte = (img_X[te][:, cols] - st[0]) / st[1], img_y[te], np.ones(te.size)
        else:
            T = rows.take(te)
            Xte, yte, wte = (T.X[:, cols] - st[0]) / st[1], T.y, T.w
        Xt = Xte if B is None else Xte @ B
        th = None
        for C in CS:
            th = newton(Z, R.y, R.w, C, start=th)
            f = Xt @ th[:-1] + th[-1]
            losses[C].append(float(wte @ (np.logaddexp(0.0, f) - yte * f) / wte.sum()))
    m = {C: float(np.mean(v)) for C, v in losses.items()}
    best = min(m, key=lambda C: (round(m[C], 12), C))
    return best, m[best]


def fit_select(rows, img_X, img_y, images, groups, seed, k=5, **kw):
    """Feature group + C by grouped CV, then the head on all rows of ``images``."""
    k = max(2, min(k, int(min(np.sum(img_y[images] == 0), np.sum(img_y[images] == 1)))))
    best = None
    for gi, g in enumerate(groups):
        C, loss = choose(rows, img_X, img_y, images, k, seed, g.indices, **kw)
        if best is None or (round(loss, 12), gi) < best[0]:
            best = ((round(loss, 12), gi), g, C)
    _, g, C = best
    R = rows.take(images)
    st = wstats(img_X[images][:, g.indices], np.ones(images.size)) if kw.get("img_stats") else None
    head = fit_head(Rows(R.X[:, g.indices], R.y, R.w, R.owner), C, stats_from=st)
    return head, g, C, k


def nested_oof(rows, img_X, img_y, images, groups, seed, k=5, **kw):
    """Out-of-fold probabilities per image (outer folds of images, selection nested)."""
    from synthdetect.probes.fit import stratified_folds

    yi = img_y[images]
    k = max(2, min(k, int(min(np.sum(yi == 0), np.sum(yi == 1)))))
    oof = np.full(images.size, np.nan)
    for test in stratified_folds(yi, k, seed):
        tr = np.setdiff1d(images, images[test])
        head, g, C, _ = fit_select(rows, img_X, img_y, tr, groups, seed + 1, k=k, **kw)
        oof[test] = 1.0 / (1.0 + np.exp(-logits(head, img_X[images[test]][:, g.indices])))
    return oof


def wcov_setup(S, tr, cols):
    """Image-mean standardisation, eigen-decomposition of the summed within-image covariance
    (each image's tiles weighted 1/T_i) of the training images ``tr``."""
    mean, scale = wstats(S["img_X"][tr][:, cols], np.ones(tr.size))
    m = np.isin(S["owner"], tr)
    d = (S["feats"][m][:, cols] - S["img_X"][S["owner"][m]][:, cols]) / scale
    wt = 1.0 / S["counts"][S["owner"][m]]
    lam, V = np.linalg.eigh((d.T * wt) @ d)
    return mean, scale, np.clip(lam, 0, None), V


def wcov_fit(S, tr, st, C, cols):
    """Ridge (1/C)(I + C/4 S_w): the second-order expansion of the tile rows' loss around the mean."""
    mean, scale, lam, V = st
    f = 1.0 / np.sqrt(1.0 + (C / 4.0) * lam)
    Xt = (((S["img_X"][tr][:, cols] - mean) / scale) @ V) * f
    Z, B = basis(Xt)
    th = newton(Z, S["y"][tr], np.ones(tr.size), C)
    u = B @ th[:-1]
    return mean, scale, V @ (u * f), th[-1]


def wcov_select(S, images, groups, seed, k=5):
    from synthdetect.probes.fit import stratified_folds

    y = S["y"]
    k = max(2, min(k, int(min(np.sum(y[images] == 0), np.sum(y[images] == 1)))))
    best = None
    for gi, g in enumerate(groups):
        losses = {C: [] for C in CS}
        for test in stratified_folds(y[images], k, seed):
            te, tr = images[test], np.setdiff1d(images, images[test])
            st = wcov_setup(S, tr, g.indices)
            for C in CS:
                h = wcov_fit(S, tr, st, C, g.indices)
                f = logits(h, S["img_X"][te][:, g.indices])
                losses[C].append(float(np.mean(np.logaddexp(0.0, f) - y[te] * f)))
        m = {C: float(np.mean(v)) for C, v in losses.items()}
        C = min(m, key=lambda c: (round(m[c], 12), c))
        if best is None or (round(m[C], 12), gi) < best[0]:
            best = ((round(m[C], 12), gi), g, C)
    _, g, C = best
    return wcov_fit(S, images, wcov_setup(S, images, g.indices), C, g.indices), g, C, k


def wcov_oof(S, images, groups, seed, k=5):
    from synthdetect.probes.fit import stratified_folds

    yi = S["y"][images]
    k = max(2, min(k, int(min(np.sum(yi == 0), np.sum(yi == 1)))))
    oof = np.full(images.size, np.nan)
    for test in stratified_folds(yi, k, seed):
        head, g, _, _ = wcov_select(S, np.setdiff1d(images, images[test]), groups, seed + 1, k=k)
        oof[test] = 1.0 / (1.0 + np.exp(-logits(head, S["img_X"][images[test]][:, g.indices])))
    return oof


def load_source(src):
    d = np.load(TMP / f"{src}.npz")
    feats, flips, owner, y = (d[k].astype(np.float64) if k in ("feats", "flips") else d[k]
                              for k in ("feats", "flips", "owner", "labels"))
    counts = np.bincount(owner, minlength=y.size)
    img_X = np.zeros((y.size, feats.shape[1]))
    np.add.at(img_X, owner, feats)
    img_X /= counts[:, None]
    flip_X = np.zeros_like(img_X)
    np.add.at(flip_X, owner, flips)
    flip_X /= counts[:, None]
    return dict(feats=feats, flips=flips, owner=owner, y=y, counts=counts, img_X=img_X, flip_X=flip_X,
                sha=d["sha256"])


def variant_rows(S, name):
    y, owner, counts = S["y"], S["owner"], S["counts"]
    n = y.size
    if name == "mean":
        return Rows(S["img_X"], y, np.ones(n), np.arange(n)), {}
    if name == "mean+flip":
        return Rows(np.r_[S["img_X"], S["flip_X"]], np.r_[y, y], np.full(2 * n, 0.5), np.r_[np.arange(n), np.arange(n)]), {}
    if name == "tiles":
        return Rows(S["feats"], y[owner], 1.0 / counts[owner], owner), {}
    if name == "tiles-unweighted":
        return Rows(S["feats"], y[owner], np.ones(owner.size), owner), {}
    if name == "tiles-Ctile":
        return Rows(S["feats"], y[owner], 1.0 / counts[owner], owner), {"eval_on": "tile"}
    if name == "tiles-imgstats":
        return Rows(S["feats"], y[owner], 1.0 / counts[owner], owner), {"img_stats": True}
    if name.startswith("tiles") and name[5:].removesuffix("+flip").isdigit():  # <= K tiles per image (fixed subset)
        K, rng = int(name[5:].removesuffix("+flip")), np.random.default_rng(0)
        keep = np.zeros(owner.size, bool)
        for i in range(n):
            idx = np.nonzero(owner == i)[0]
            keep[rng.permutation(idx)[:K]] = True
        c = np.bincount(owner[keep], minlength=n)
        if name.endswith("+flip"):
            o = np.r_[owner[keep], owner[keep]]
            return Rows(np.r_[S["feats"][keep], S["flips"][keep]], y[o], 0.5 / c[o], o), {}
        return Rows(S["feats"][keep], y[owner[keep]], 1.0 / c[owner[keep]], owner[keep]), {}
    if name == "tiles+flip":
        return (Rows(np.r_[S["feats"], S["flips"]], np.r_[y[owner], y[owner]], np.r_[0.5 / counts[owner], 0.5 / counts[owner]],
                     np.r_[owner, owner]), {})
    raise SystemExit(f"unknown variant {name}")


def score(head, g, X, y, op=None):
    from synthdetect.evaluation.metrics import roc_auc
    from synthdetect.scan.calibration import definite_metrics

    p = 1.0 / (1.0 + np.exp(-logits(head, X[:, g.indices])))
    out = {"roc_auc": roc_auc(y, p)}
    if op is not None:
        tw = definite_metrics(y, p, op)
        out.update(coverage=tw["coverage"], false_alarm=tw["false_alarm"]["rate"], miss=tw["miss"]["rate"])
    return out


def one(S, images, rest, variant, groups, seed, nested):
    from synthdetect.scan.calibration import CalibrationSet

    t0 = time.perf_counter()
    if variant == "mean+wcov":
        head, g, C, k = wcov_select(S, images, groups, seed + 1)
    else:
        rows, kw = variant_rows(S, variant)
        head, g, C, k = fit_select(rows, S["img_X"], S["y"], images, groups, seed + 1, **kw)
    op = None
    if nested and variant == "mean+wcov":
        oof = wcov_oof(S, images, groups, seed)
        op = CalibrationSet.from_labels(S["y"][images], oof, method="nested CV", data="x").operating()
    elif nested:
        oof = nested_oof(rows, S["img_X"], S["y"], images, groups, seed, **kw)
        op = CalibrationSet.from_labels(S["y"][images], oof, method="nested CV", data="x").operating()
    r = score(head, g, S["img_X"][rest], S["y"][rest], op)
    # linear head: its logit of an image's mean feature == the mean of its tiles' logits
    per_tile = logits(head, S["feats"][:, g.indices])
    tile_mean = np.bincount(S["owner"], weights=per_tile) / S["counts"]
    r["max_abs_logit_diff"] = float(np.max(np.abs(tile_mean - logits(head, S["img_X"][:, g.indices]))))
    r.update(variant=variant, group=g.name, C=C, fit_s=time.perf_counter() - t0)
    return r


def main_measure(args) -> None:
    import random

    from synthdetect.probes.feature_groups import candidate_groups

    card = BackboneCard.load(REPO / "weights" / "efficientnet-lite0.backbone.json")
    groups = [g for g in candidate_groups(card.features, card.dim) if args.groups is None or g.name in args.groups]
    runs = []
    for src in args.sources:
        S = load_source(src)
        y = S["y"]
        real, fake = [i for i in range(y.size) if y[i] == 0], [i for i in range(y.size) if y[i] == 1]
        for k in args.k:
            for seed in range(args.seeds):
                rng = random.Random(seed)
                pick = np.array(sorted(rng.sample(real, k) + rng.sample(fake, k)))
                rest = np.setdiff1d(np.arange(y.size), pick)
                for v in args.variants:
                    r = one(S, pick, rest, v, groups, seed, args.nested)
                    r.update(source=src, k=k, seed=seed)
                    runs.append(r)
                    print(json.dumps(r), flush=True)
    if args.json:
        args.json.write_text(json.dumps(runs, indent=1))
    summary(runs)


def summary(runs) -> None:
    keys = sorted({(r["source"], r["k"], r["variant"]) for r in runs}, key=lambda t: (t[0], t[1]))
    print("| source | k | variant | ROC-AUC mean±sd | coverage | false alarm | miss | fit s | groups |")
    print("|---|---|---|---|---|---|---|---|---|")
    for src, k, v in keys:
        rs = [r for r in runs if (r["source"], r["k"], r["variant"]) == (src, k, v)]
        a = np.array([r["roc_auc"] for r in rs])
        cov = (f"{100 * np.mean([r['coverage'] for r in rs]):.0f} % | {100 * np.mean([r['false_alarm'] for r in rs]):.1f} % | "
               f"{100 * np.mean([r['miss'] for r in rs]):.1f} %") if "coverage" in rs[0] else "- | - | -"
        gs = {}
        for r in rs:
            gs[r["group"]] = gs.get(r["group"], 0) + 1
        print(f"| {src} | {k} | {v} | {a.mean():.3f} ± {a.std(ddof=1) if a.size > 1 else 0:.3f} | {cov} | "
              f"{np.mean([r['fit_s'] for r in rs]):.1f} | " + ", ".join(f"{g} x{n}" for g, n in sorted(gs.items())) + " |")


def main_holdout(args) -> None:
    from synthdetect.probes.feature_groups import candidate_groups

    card = BackboneCard.load(REPO / "weights" / "efficientnet-lite0.backbone.json")
    groups = [g for g in candidate_groups(card.features, card.dim) if args.groups is None or g.name in args.groups]
    S = dict(np.load(TMP / "val-inthewild.npz"))
    rel = [str(r) for r in S["rel"]]
    S = load_source("val-inthewild")
    split = REPO / "weights" / "splits"
    tr = set((split / "val-inthewild.train.txt").read_text().split())
    ho = set((split / "val-inthewild.holdout.txt").read_text().split())
    images = np.array([i for i, r in enumerate(rel) if r in tr])
    rest = np.array([i for i, r in enumerate(rel) if r in ho])
    print(f"train {images.size} holdout {rest.size}")
    runs = []
    for v in args.variants:
        r = one(S, images, rest, v, groups, 0, True)
        r.update(source="val-inthewild holdout", k=images.size, seed=0)
        runs.append(r)
        print(json.dumps(r), flush=True)
    summary(runs)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("extract")
    e.add_argument("--data-root", type=Path, default=REPO.parent / "shared" / "data")
    e.add_argument("--sources", nargs="+", default=list(SOURCES))
    for name in ("measure", "holdout"):
        m = sub.add_parser(name)
        m.add_argument("--sources", nargs="+", default=list(SOURCES))
        m.add_argument("--k", nargs="+", type=int, default=[10, 25, 50])
        m.add_argument("--seeds", type=int, default=5)
        m.add_argument("--variants", nargs="+", default=["mean", "tiles"])
        m.add_argument("--groups", nargs="+", help="restrict the candidate feature groups")
        m.add_argument("--nested", action="store_true", help="nested CV calibration: coverage / false alarm")
        m.add_argument("--json", type=Path)
    a = ap.parse_args()
    if a.cmd == "extract":
        main_extract(a)
    elif a.cmd == "measure":
        main_measure(a)
    else:
        main_holdout(a)
