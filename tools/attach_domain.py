"""Write the calibration-domain reference (``NAME.domain.npz``) of an existing probe card.

``train probe`` writes the reference of its own calibration images itself; this tool adds one
to a probe card written before that existed (the bundle's ``lite0-probe`` and
``lite0-probe-train``), from the same images: the card's ``training.data`` names them
(``SET`` or ``SET@LIST``, resolved under ``--data``).  Features come from the probe feature
cache (``synthdetect.probes.train.default_cache_dir``; extracted and cached when missing),
labels from the 0_real/1_fake directories, and each row's out-of-fold score from the card's
calibration set (matched by the image SHA-256 prefix it stores).

Usage: python tools/attach_domain.py [--data ../shared/data] [--models-dir weights] lite0-probe lite0-probe-train
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # this checkout's synthdetect


def data_arg(card, data_root: Path) -> str:
    """``SET[@LIST]`` of the card's training data as a path under ``data_root`` (the list file
    from weights/splits)."""
    label = str(card.training.get("data", ""))
    root, _, lst = label.partition("@")
    if not root:
        raise SystemExit(f"{card.name}: the card does not name its training data")
    arg = str(data_root / root)
    if lst:
        arg += "@" + str(REPO / "weights" / "splits" / lst)
    return arg


def oof_scores(card, shas: list[str]) -> np.ndarray:
    cal = card.calibration or {}
    by_id = {}
    for kind in ("real", "fake"):
        for i, s in zip(cal.get(f"{kind}_ids") or [], cal.get(f"{kind}_scores") or []):
            by_id[str(i)] = float(s)
    return np.array([by_id.get(s[:16], np.nan) for s in shas], dtype=np.float32)


def attach_one(name: str, models_dir: Path, data_root: Path) -> None:
    from synthdetect.cards import Registry
    from synthdetect.scan.domain import DomainReference, attach
    from synthdetect.probes.features import backbone_cache, default_cache_dir, extract_features
    from synthdetect.scan.runtime import load_backbone
    from synthdetect.inputs.datasets import load_sets

    reg = Registry([models_dir])
    card = reg.model(name)
    bb_card = reg.backbone_for(card)
    items = load_sets([data_arg(card, data_root)])
    ex = extract_features([it.path for it in items], load_backbone(bb_card, device="cpu"),
                          cache=backbone_cache(default_cache_dir(), bb_card))
    if ex.errors:
        raise SystemExit(f"{name}: {len(ex.errors)} unreadable images, e.g. {ex.errors[0]}")
    labels = np.array([items[i].label for i in ex.keep])
    shas = [ex.sha256[i] for i in ex.keep]
    scores = oof_scores(card, shas)
    ref = DomainReference.build(ex.X, backbone_sha256=bb_card.sha256, labels=labels, scores=scores)
    side = attach(card, ref)
    print(f"{name}: {side.name} ({side.stat().st_size / 1024:.0f} KiB, {len(ex.keep)} images, "
          f"{int(np.sum(np.isfinite(scores)))} with out-of-fold scores, {ex.cache_hits} features from the cache)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("names", nargs="+")
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--models-dir", type=Path, default=REPO / "weights")
    a = ap.parse_args()
    for n in a.names:
        attach_one(n, a.models_dir.resolve(), a.data.resolve())


if __name__ == "__main__":
    sys.exit(main())
