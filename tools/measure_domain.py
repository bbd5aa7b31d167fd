"""The figures of docs/domain.md: how the batch domain check reads in-source and foreign batches.

Reference: a probe card's domain reference (default ``lite0-probe-train``: the val-inthewild
train split).  Batches (``--reps`` random draws each, sizes 5/10/20/50):

* val-inthewild held-out images (never in the reference): mixed, one class only, one kind of
  scene only (city / nature / people, from the file names);
* the other sources: val-firefly, train-sd14, train-gan2019;
* the held-out images downscaled to a 720 px shorter side and re-encoded as JPEG q90, and val-firefly
  downscaled to 720 px at JPEG q85 (the form of issue 20's foreign 1280 x 720 q85 source; both made
  in a temporary directory, never beside the data).

Each batch is tested against the conditions of the card's calibration table its images would be
judged by in ``scan`` (``scan.conditions.assign`` on each image's shorter side and JPEG quality:
``domain_check.group_conditions``).

Features come from the probe feature cache (``synthdetect.probes.features``; warm for the shared
data sets' original files), the transformed copies are extracted once (about a minute).  The
class conditioning uses the probe's own probabilities, as ``scan`` does.

Usage: python tools/measure_domain.py [--data ../shared/data] [--model lite0-probe-train] [--reps 20]
           [--json runs/domain-measure.json] [--models-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # this checkout's synthdetect

SIZES = (5, 10, 20, 50)
SCENES = ("city", "nature", "people")


def features(paths: list[Path], bb_card, cache_root: Path | None) -> np.ndarray:
    from synthdetect.probes.features import backbone_cache, default_cache_dir, extract_features
    from synthdetect.scan.runtime import load_backbone

    cache = backbone_cache(cache_root or default_cache_dir(), bb_card)
    ex = extract_features(paths, load_backbone(bb_card, device="cpu"), cache=cache)
    if ex.errors:
        raise SystemExit(f"unreadable: {ex.errors[:3]}")
    return ex.X.astype(np.float64)


def labelled(root: Path, rels: list[str] | None = None) -> tuple[list[Path], np.ndarray, list[str]]:
    from synthdetect.inputs.datasets import list_items

    items = list_items(root)
    if rels is not None:
        keep = set(rels)
        items = [it for it in items if it.rel in keep]
    return [it.path for it in items], np.array([it.label for it in items]), [it.rel for it in items]


def downscaled_copies(paths: list[Path], out: Path, side: int = 720, quality: int = 90) -> list[Path]:
    from PIL import Image

    made = []
    for i, p in enumerate(paths):
        with Image.open(p) as im:
            im = im.convert("RGB")
            s = side / min(im.size)
            if s < 1:
                im = im.resize((round(im.size[0] * s), round(im.size[1] * s)), Image.LANCZOS)
            q = out / f"{i:03d}.jpg"
            im.save(q, quality=quality)
            made.append(q)
    return made


def image_conditions(paths: list[Path], card) -> list[dict]:
    """Per image, the record fields ``scan`` gives it under ``card``'s calibration table
    (``condition`` and ``condition_bound``), for :func:`domain_check.group_conditions`."""
    from PIL import Image

    from synthdetect.inputs.quality import jpeg_quality_from_file
    from synthdetect.scan.conditions import assign

    table = (card.calibration or {}).get("conditions")
    if not table:
        return [{} for _ in paths]
    out = []
    for p in paths:
        with Image.open(p) as im:
            side = min(im.size)
        got = assign(side, jpeg_quality_from_file(p), table)
        out.append({"condition": got.label, **({"condition_bound": list(got.bound)} if got.bound else {})})
    return out


def batches(a, card, bb_card) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray | None, list[dict]]]:
    """name -> (features, labels, scene per row or None, each image's condition fields)."""
    lines = (REPO / "weights" / "splits" / "val-inthewild.holdout.txt").read_text().splitlines()
    hold = [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]
    paths, y, rels = labelled(a.data / "val-inthewild", hold)
    scenes = np.array([Path(r).name.split("_")[0] for r in rels])
    out = {"val-inthewild holdout": (features(paths, bb_card, None), y, scenes, image_conditions(paths, card))}
    for name in ("val-firefly", "train-sd14", "train-gan2019"):
        p, yy, _ = labelled(a.data / name)
        out[name] = (features(p, bb_card, None), yy, None, image_conditions(p, card))
    with tempfile.TemporaryDirectory(prefix="synthdetect-domain-") as tmp:
        (Path(tmp) / "holdout").mkdir()
        copies = downscaled_copies(paths, Path(tmp) / "holdout")
        out["holdout 720 px JPEG q90"] = (features(copies, bb_card, Path(tmp) / "cache"), y, None,
                                          image_conditions(copies, card))
        p, yy, _ = labelled(a.data / "val-firefly")
        (Path(tmp) / "firefly").mkdir()
        copies = downscaled_copies(p, Path(tmp) / "firefly", quality=85)
        out["val-firefly 720 px JPEG q85"] = (features(copies, bb_card, Path(tmp) / "cache"), yy, None,
                                              image_conditions(copies, card))
    return out


def measure(ref, head, X: np.ndarray, conds: list[dict], idx: np.ndarray, n: int, reps: int, rng) -> dict:
    from synthdetect.scan.domain_check import group_conditions, test_group

    st, ps, dec = [], [], []
    for r in range(reps):
        pick = rng.choice(idx, n, replace=False)
        B = X[pick]
        t = test_group(ref, B, head.probabilities(B), seed=r, conditions=group_conditions(conds, list(pick)))
        dec.append(t["decision"])
        if t["statistic"] is not None:
            st.append(t["statistic"])
            ps.append(t["p_value"])
    row = {"n": n, "out_of_domain": float(np.mean([d == "out_of_domain" for d in dec])),
           "untested": float(np.mean([d == "untested" for d in dec]))}
    if st:
        row.update(auc=float(np.mean(st)), auc_5=float(np.percentile(st, 5)), auc_95=float(np.percentile(st, 95)),
                   p_median=float(np.median(ps)))
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--model", default="lite0-probe-train")
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--models-dir", type=Path, action="append", default=[],
                    help="look for --model here first (repeatable; weights/ is always searched last)")
    a = ap.parse_args()
    from synthdetect.cards import Registry
    from synthdetect.scan.domain import load_for_card
    from synthdetect.scan.runtime import load_head

    reg = Registry([*a.models_dir, REPO / "weights"])
    card = reg.model(a.model)
    ref, head = load_for_card(card), load_head(card)
    rng = np.random.default_rng(7)
    rows = []
    for name, (X, y, scenes, conds) in batches(a, card, reg.backbone_for(card)).items():
        subsets = [("mixed", np.arange(len(y)))]
        if name.startswith(("val-inthewild", "holdout")):
            subsets += [("real only", np.flatnonzero(y == 0)), ("synthetic only", np.flatnonzero(y == 1))]
        if scenes is not None:
            subsets += [(f"{s} only", np.flatnonzero(scenes == s)) for s in SCENES]
        for what, idx in subsets:
            for n in SIZES:
                if n <= len(idx):
                    rows.append({"batch": f"{name}, {what}", **measure(ref, head, X, conds, idx, n, a.reps, rng)})
                    print(json.dumps(rows[-1]), flush=True)
    print("\n| batch | n | C2ST ROC-AUC mean [5–95 %] | median p | flagged out of domain |\n|---|---|---|---|---|")
    for r in rows:
        if "auc" not in r:
            print(f"| {r['batch']} | {r['n']} | — | — | untested |")
        else:
            print(f"| {r['batch']} | {r['n']} | {r['auc']:.2f} [{r['auc_5']:.2f}, {r['auc_95']:.2f}] | "
                  f"{r['p_median']:.3g} | {100 * r['out_of_domain']:.0f} % |")
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
