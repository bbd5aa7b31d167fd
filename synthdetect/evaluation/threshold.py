"""A card's best-F1 threshold on labelled data (``synthdetect calibrate``), torch-free."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..cards import Registry
from ..inputs.datasets import DataError, data_label, load_sets
from .metrics import best_f1_threshold
from .report import honest_scores
from .scoring import (EnsembleSpec, OnnxScorer, is_run_dir, left_out, n_members, progress, resolve, score_any,
                      undecodable)


def calibrate_card(ref: str, data: Sequence[str], models_dirs: Sequence[str] = (), device: str = "auto",
                   inconclusive_margin: float | None = None, max_fpr: float | None = None) -> dict[str, Any]:
    """Best-F1 threshold on ``data`` written into the model's (or ensemble's) card
    (and, when given, the card's inconclusive band half-width).  With ``max_fpr`` the
    threshold is the best-F1 one among those flagging at most that fraction of the real
    images (recorded in the card as ``extra.calibration``)."""
    if is_run_dir(Path(ref)):
        raise ValueError(f"{ref}: calibrate works on cards (export a run first)")
    reg = Registry(models_dirs)
    target = resolve(ref, reg, device)
    if not isinstance(target, (OnnxScorer, EnsembleSpec)):
        raise ValueError(f"{ref}: calibrate works on cards (export a run first)")
    unlabelled: list[str] = []
    items = load_sets(data, unlabelled)
    with progress() as prog:
        task = prog.add_task(f"scoring {target.name}", total=len(items) * n_members(target))
        s = score_any(target, items, None, on_batch=lambda n: prog.advance(task, n))
    # the model's own calibration images (same files or copies) give training scores: the threshold is
    # set on their out-of-fold scores instead (the card keeps them), as train probe set it
    p, keep, n_own = honest_scores(items, target, s)  # an unreadable image (no score) is left out too
    unreadable = left_out(items, undecodable([s]))
    if not keep.any():
        raise DataError(f"none of the {len(items)} images is left to calibrate {target.name} on: "
                        f"{len(unreadable)} unreadable, the rest its calibration images without an out-of-fold "
                        "score in its card")
    items = [it for it, k in zip(items, keep) if k]
    y = np.array([it.label for it in items])
    best = best_f1_threshold(y, p[keep], max_fpr=max_fpr)
    card = target.card
    if card is None or card.path is None:
        raise ValueError(f"{ref}: no card file to write")
    card.calibrated_threshold = float(best["threshold"])
    card.calibrated_on = data_label(data)
    card.f1 = float(best["f1"])
    card.extra["calibration"] = {
        "criterion": "best F1" if max_fpr is None else f"best F1 with FPR on real images <= {max_fpr:g}",
        "max_fpr": max_fpr, "n": int(len(items)), "n_real": int((y == 0).sum()),
        "precision": float(best["precision"]), "recall": float(best["recall"]),
        "fpr_real": float(best["fpr_real"]),
    }
    if inconclusive_margin is not None:
        card.inconclusive_margin = float(inconclusive_margin)
    card.save(card.path)
    return {"card": str(card.path), "calibrated_threshold": card.calibrated_threshold, "f1": card.f1,
            "precision": best["precision"], "recall": best["recall"], "acc": best["acc"],
            "fpr_real": best["fpr_real"], "n": len(items), "unlabelled": unlabelled, "unreadable": unreadable,
            "calibration_images": n_own, "three_way": bool(getattr(card, "calibration", None))}
