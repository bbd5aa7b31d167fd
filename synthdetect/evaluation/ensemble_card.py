"""Ensemble cards from installed models (``synthdetect ensemble build``), torch-free: weights from the
members' F1 on labelled data, or a cross-fitted calibration from the members' out-of-fold scores."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..cards import EnsembleCard, ModelCard, Registry
from ..inputs.datasets import DataError, data_label, load_sets
from .metrics import at_threshold
from .report import honest_scores
from .scoring import ImageCache, OnnxScorer, Scorer, is_run_dir, left_out, progress, resolve, score_any, undecodable


def calibrate_from_members(cards: Sequence[ModelCard], method: str, weights: dict[str, float],
                           max_false_alarm: float, max_miss: float) -> tuple[dict[str, Any], dict[str, Any]]:
    """Cross-fitted ensemble calibration: the members' out-of-fold scores of the same images
    (matched by image id) combined with the ensemble formula.  Returns (calibration, metrics)."""
    from ..scan.calibration import CalibrationSet, stored_scores
    from ..scan.ensemble import combined_member_scores
    from ..probes.train import table1

    sets = []
    for c in cards:
        if not c.calibration:
            raise ValueError(f"{c.name} has no cross-fitted calibration: use --weights-from DATA instead")
        cs = CalibrationSet.from_dict(c.calibration)
        if not cs.by_id():
            raise ValueError(f"{c.name}'s calibration carries no image ids")
        sets.append(cs)
    ids, y, score = combined_member_scores(sets, cards, method, weights, max_false_alarm, max_miss)
    if len(ids) < 4:
        raise ValueError(f"the members were not calibrated on the same images ({', '.join(c.name for c in cards)}: "
                         f"{len(ids)} in common), so their out-of-fold scores cannot be combined: give --weights-from "
                         "DATA (labelled images of the source to scan) to weigh and calibrate the ensemble on them")
    cal = CalibrationSet.from_labels(y, score, method=f"cross-fitted: members' out-of-fold scores combined ({method})",
                                     data=sets[0].data, ids=ids)
    op = cal.operating(max_false_alarm, max_miss)
    d = cal.to_dict()
    d["default_budgets"] = {"max_false_alarm": max_false_alarm, "max_miss": max_miss}
    ranges = [c.calibration.get("image_min_side") for c in cards]
    if all(ranges):
        d["image_min_side"] = {"min": max(r["min"] for r in ranges), "max": min(r["max"] for r in ranges)}
    from ..inputs.quality import FLOOR_GATES, calibrated_floor

    for _, _, key, _ in FLOOR_GATES:
        covered = calibrated_floor([c.calibration for c in cards], key)
        if covered is not None:  # the members' rates all hold down to this quality / sharpness
            d[key] = {"covered": covered}
    from ..inputs.codecs import covered_codecs

    codecs = covered_codecs([c.calibration for c in cards])
    floors = {c: q for c, q in sorted(codecs.items()) if q is not None}
    d["image_codecs"] = {"covered": sorted(codecs), **({"covered_quality": floors} if floors else {})}
    from ..scan.conditions import ensemble_conditions

    conditions = ensemble_conditions(cards, method, weights, max_false_alarm, max_miss)
    if conditions is not None:
        d["conditions"] = conditions
    return d, table1(y, stored_scores(score), op)


def _member_f1(items: Sequence[Any], y: np.ndarray, scorer: Scorer, got: dict[str, Any], notes: list[str] | None,
               shas: dict[int, str]) -> float:
    """The member's F1 at its threshold; its own calibration images (same files or copies) count with
    their out-of-fold scores, not its training scores (one line in ``notes`` says how many)."""
    p, keep, n_own = honest_scores(items, scorer, got, shas)  # an unreadable image (no score) is left out too
    if not keep.any():
        raise DataError(f"none of the {len(items)} images is left to weigh {scorer.name} on: unreadable, or its "
                        "calibration images without an out-of-fold score in its card (a training score)")
    if n_own and notes is not None:
        notes.append(f"{scorer.name}: {n_own} of the {len(items)} images are its own calibration images (it was fitted "
                     "on them, or they are copies of those): its F1 counts their out-of-fold scores from its card")
    return float(at_threshold(y[keep], p[keep], scorer.threshold())["f1"])


def build_ensemble(members: Sequence[str], weights_from: Sequence[str], out: Path, method: str = "weighted",
                   models_dirs: Sequence[str] = (), device: str = "auto", name: str | None = None,
                   description: str = "", max_false_alarm: float = 0.05, max_miss: float = 0.2,
                   unlabelled: list[str] | None = None, notes: list[str] | None = None) -> EnsembleCard:
    """Ensemble card; weights = each member's F1 on ``weights_from`` at its calibrated threshold
    (``unlabelled``: told of its images without a label, :func:`synthdetect.inputs.datasets.list_items`);
    a member's F1 counts its own calibration images (same files or copies) with their out-of-fold
    scores, not its training scores, one line per such member in ``notes``.

    Without ``weights_from``, when every member carries a cross-fitted calibration set over the
    same images (``train probe``), the weights are the members' cross-validated F1 and the
    ensemble is calibrated on the combined out-of-fold scores."""
    if method not in ("weighted", "majority", "mean"):
        raise ValueError("--method must be weighted, majority or mean")
    out = Path(out)
    if not out.name.endswith(".ensemble.json"):
        raise ValueError("ensemble card file name must end in .ensemble.json")
    reg = Registry([*models_dirs, out.parent])
    scorers: list[Scorer] = []
    for m in members:
        s = None if is_run_dir(Path(m)) else resolve(m, reg, device)
        if not isinstance(s, OnnxScorer):
            raise ValueError(f"ensemble member {m!r} must be an exported model (card), not a run or ensemble")
        scorers.append(s)
    weights: dict[str, float] = {}
    thresholds: dict[str, float] = {}
    if weights_from:
        items = load_sets(weights_from, unlabelled)
        y = np.array([it.label for it in items])
        with progress() as prog:
            task = prog.add_task("member F1", total=len(items) * len(scorers))
            cache = ImageCache()
            shas: dict[int, str] = {}  # the files' SHA-256, hashed once for all members
            scored = []
            for s in scorers:
                got = score_any(s, items, None, on_batch=lambda n: prog.advance(task, n), image_cache=cache)
                thresholds[s.name] = s.threshold()
                weights[s.name] = _member_f1(items, y, s, got, notes, shas)
                scored.append(got)
        if notes is not None:
            notes += [f"warning: {line}" for line in left_out(items, undecodable(scored))]
        if method == "weighted" and not any(w > 0 for w in weights.values()):
            raise ValueError(f"every member has F1 0 on {', '.join(map(str, weights_from))}: weighted vote undefined")
    elif method == "weighted":
        for s in scorers:
            if s.card.f1 is None:
                raise ValueError(f"{s.name}: no --weights-from data and the card has no f1")
            weights[s.name] = float(s.card.f1)
    calibration, metrics = None, {}
    if not weights_from and all(s.card.calibration for s in scorers):
        calibration, cv = calibrate_from_members([s.card for s in scorers], method, weights, max_false_alarm, max_miss)
        metrics = {"cross_validated": cv}
    kind = "mean of the probabilities" if method == "mean" else f"{method} vote"
    card = EnsembleCard(
        name=name or out.name[: -len(".ensemble.json")], members=[s.name for s in scorers], method=method,
        weights=weights, weights_from=data_label(weights_from) if weights_from else (
            "members' cross-validated F1" if calibration and method == "weighted" else None),
        calibration=calibration, metrics=metrics, member_sha256={s.name: s.card.sha256 for s in scorers},
        calibrated_threshold=None if calibration is None else metrics["cross_validated"]["three_way"]["t_hi"],
        calibrated_on=None if calibration is None else calibration["data"] + " (cross-fitted)",
        description=description or (f"{kind} of {', '.join(s.name for s in scorers)}"
                                    + (f"; member thresholds {json.dumps(thresholds)}" if thresholds else "")),
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    card.save(out)
    return card
