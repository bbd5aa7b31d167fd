"""Evaluate models / runs / ensembles on labelled data; calibrate cards; build ensembles.

Torch is needed only when a target is a training run.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..cards import EnsembleCard, ModelCard, Registry
from ..evaluation.metrics import at_threshold, best_f1_threshold, summary
from .augment import parse_perturbations
from .data import Item, data_label, load_sets
from .scoring import EnsembleSpec, ImageCache, OnnxScorer, Scorer, resolve, score_any


def _progress():
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=Console(stderr=True))


def _n_members(t) -> int:
    return len(t.members) if isinstance(t, EnsembleSpec) else 1


def evaluate_targets(
    refs: Sequence[str],
    data: Sequence[str],
    perturb: str | None = None,
    models_dirs: Sequence[str] = (),
    device: str = "auto",
    max_false_alarm: float = 0.05,
    max_miss: float = 0.2,
    scores: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Metrics per target.  ``scores``: when given, filled with each target's labels and scores
    (``{name: {y, p, threshold, vote}}``) for plots."""
    from ..scan.calibration import CalibrationSet, definite_metrics

    items: list[Item] = load_sets(data)
    perts = parse_perturbations(perturb)
    y = np.array([it.label for it in items])
    gens = [it.generator or ("real" if it.label == 0 else "synthetic (unknown generator)") for it in items]
    has_gens = any(it.generator for it in items)
    reg = Registry(models_dirs)
    results: dict[str, Any] = {}
    image_cache = ImageCache()  # decoded (and perturbed) images shared by all targets (bounded)
    with _progress() as prog:
        for ref in refs:
            target = resolve(ref, reg, device)
            name = target.name
            task = prog.add_task(f"scoring {name}", total=len(items) * _n_members(target))
            t0 = time.time()
            s = score_any(target, items, perts, on_batch=lambda n: prog.advance(task, n), image_cache=image_cache)
            m = summary(y, s["probs"], gens if has_gens else None, threshold=0.5)
            if abs(s["threshold"] - 0.5) > 1e-12:
                m["at_model_threshold"] = at_threshold(y, s["probs"], s["threshold"])
            card = getattr(target, "card", None)
            if card is not None and getattr(card, "calibration", None):
                # the three verdicts scan gives at these budgets: coverage and error rates of definite verdicts
                op = CalibrationSet.from_dict(card.calibration).operating(max_false_alarm, max_miss)
                m["three_way"] = definite_metrics(y, s["probs"], op)
            m["kind"] = "ensemble" if isinstance(target, EnsembleSpec) else target.kind
            m["ref"] = ref
            m["seconds"] = round(time.time() - t0, 2)
            if s["members"]:
                m["members"] = {k: {"at_0.5": at_threshold(y, v, 0.5), "best_f1": best_f1_threshold(y, v)}
                                for k, v in s["members"].items()}
            key = name if name not in results else ref
            results[key] = m
            if scores is not None:
                vote = isinstance(target, EnsembleSpec) and target.method in ("majority", "weighted")
                scores[key] = {"y": y, "p": np.asarray(s["probs"], dtype=float), "threshold": s["threshold"],
                               "vote": vote}
    return {
        "data": [str(d) for d in data], "n": int(len(items)), "perturbations": [f"{a}:{b:g}" for a, b in perts],
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "models": results,
    }


def table1_rows(report: dict[str, Any]) -> list[list[str]]:
    """The paper's Table 1 columns (+ AP, AUC, EER, FPR on reals) per model.

    ``thr*`` is the best global threshold by F1 on the evaluated data itself (the paper's
    oracle figure); ``F1@cal``/``FPR@cal`` use the card's calibrated threshold, fitted on
    other data: the honest operating point.
    """
    rows = []
    for name, m in report["models"].items():
        a, b = m["at_threshold"], m["best_f1"]
        c = m.get("at_model_threshold", a)
        rows.append([name, f"{a['acc']:.4f}", f"{a['precision']:.4f}", f"{a['recall']:.4f}", f"{a['f1']:.4f}",
                     f"{b['threshold']:.4g}", f"{b['f1']:.4f}", f"{b['precision']:.4f}", f"{b['recall']:.4f}",
                     f"{b['acc']:.4f}", f"{m['ap']:.4f}", f"{m['roc_auc']:.4f}", f"{m['eer']['eer']:.4f}",
                     f"{a['fpr_real']:.4f}", f"{c['threshold']:.4g}", f"{c['f1']:.4f}", f"{c['fpr_real']:.4f}"])
    return rows


TABLE1_HEADER = ["model", "Acc@0.5", "P@0.5", "R@0.5", "F1@0.5", "thr*", "F1*", "P*", "R*", "Acc*", "AP", "AUC",
                 "EER", "FPR real@0.5", "thr cal", "F1@cal", "FPR@cal"]
THREE_WAY_HEADER = ["model", "real <", "synthetic >=", "coverage", "reals called synthetic", "synthetic correct",
                    "fakes called real", "real correct", "inconclusive"]


def three_way_rows(report: dict[str, Any]) -> list[list[str]]:
    """Per calibrated model: the three verdicts' coverage and the error rates of definite verdicts."""
    rows = []
    for name, m in report["models"].items():
        t = m.get("three_way")
        if not t:
            continue
        r = lambda d: f"{d['k']}/{d['n']} ({100 * d['rate']:.1f} %)" if d["n"] else "-"  # noqa: E731
        rows.append([name, f"{t['t_lo']:.4g}", f"{t['t_hi']:.4g}", f"{100 * t['coverage']:.1f} %", r(t["false_alarm"]),
                     r(t["synthetic_correct"]), r(t["miss"]), r(t["real_correct"]), str(t["inconclusive"])])
    return rows


def write_metrics_to_cards(report: dict[str, Any], models_dirs: Sequence[str] = ()) -> list[str]:
    """Store each card-backed target's figures under ``metrics[<data label>]`` in its card.

    Run directories have no card and are left alone.  The ONNX file (and so the card's
    sha256) is never touched.  Returns the paths written.
    """
    reg = Registry(models_dirs)
    label = data_label(report["data"], report["perturbations"])
    written = []
    for name, m in report["models"].items():
        if m.get("kind") == "ensemble":
            card = reg.ensemble(name) if name in reg.ensemble_names() else None
        else:
            card = reg.model(name) if name in reg.model_names() else None
        if card is None or card.path is None:
            continue
        a = m["at_threshold"]
        entry = {
            "n": report["n"], "created": report["created"],
            "at_0.5": {k: a[k] for k in ("acc", "precision", "recall", "f1", "fpr_real", "confusion")},
            "best_f1_on_this_data": {k: m["best_f1"][k] for k in ("threshold", "f1", "precision", "recall", "acc")},
            "ap": m["ap"], "roc_auc": m["roc_auc"], "eer": m["eer"]["eer"],
        }
        if "three_way" in m:
            entry["three_way"] = m["three_way"]
        if "at_model_threshold" in m:
            c = m["at_model_threshold"]
            entry["at_calibrated_threshold"] = {k: c[k] for k in ("threshold", "acc", "precision", "recall", "f1",
                                                                  "fpr_real", "confusion")}
        card.metrics[label] = entry
        card.save(card.path)
        written.append(str(card.path))
    return written


def render_table(report: dict[str, Any]) -> None:
    from rich.table import Table

    from ..console import make_console

    c = make_console()  # a pipe or log keeps every column and whole model names (synthdetect.console)
    t = Table(title=f"{report['n']} images: {', '.join(report['data'])}"
                    + (f" — perturbed {','.join(report['perturbations'])}" if report["perturbations"] else ""))
    for h in TABLE1_HEADER:
        t.add_column(h, justify="left" if h == "model" else "right")
    for r in table1_rows(report):
        t.add_row(*r)
    c.print(t)
    tw = three_way_rows(report)
    if tw:
        t = Table(title="three verdicts (calibrated thresholds): coverage and error rates of definite verdicts")
        for h in THREE_WAY_HEADER:
            t.add_column(h, justify="left" if h == "model" else "right")
        for r in tw:
            t.add_row(*r)
        c.print(t)
    for name, m in report["models"].items():
        cm = m["at_threshold"]["confusion"]
        c.print(f"[bold]{name}[/]: confusion@0.5 tp={cm['tp']} fp={cm['fp']} tn={cm['tn']} fn={cm['fn']}; "
                f"best thr {m['best_f1']['threshold']:.4g}")
        if "per_generator" in m:
            g = Table(title=f"{name}: per generator")
            cols = None
            for gen, row in m["per_generator"].items():
                if cols is None:
                    cols = [k for k in row]
                    g.add_column("generator")
                    for k in cols:
                        g.add_column(k, justify="right")
                g.add_row(gen, *[f"{row[k]:.4f}" if isinstance(row[k], float) else str(row[k]) for k in cols])
            c.print(g)


def calibrate_card(ref: str, data: Sequence[str], models_dirs: Sequence[str] = (), device: str = "auto",
                   inconclusive_margin: float | None = None, max_fpr: float | None = None) -> dict[str, Any]:
    """Best-F1 threshold on ``data`` written into the model's (or ensemble's) card
    (and, when given, the card's inconclusive band half-width).  With ``max_fpr`` the
    threshold is the best-F1 one among those flagging at most that fraction of the real
    images (recorded in the card as ``extra.calibration``)."""
    reg = Registry(models_dirs)
    target = resolve(ref, reg, device)
    if not isinstance(target, (OnnxScorer, EnsembleSpec)):
        raise ValueError(f"{ref}: calibrate works on cards (export a run first)")
    items = load_sets(data)
    y = np.array([it.label for it in items])
    with _progress() as prog:
        task = prog.add_task(f"scoring {target.name}", total=len(items) * _n_members(target))
        s = score_any(target, items, None, on_batch=lambda n: prog.advance(task, n))
    best = best_f1_threshold(y, s["probs"], max_fpr=max_fpr)
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
            "fpr_real": best["fpr_real"], "n": len(items)}


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
        raise ValueError("the members were not calibrated on the same images")
    cal = CalibrationSet.from_labels(y, score, method=f"cross-fitted: members' out-of-fold scores combined ({method})",
                                     data=sets[0].data, ids=ids)
    op = cal.operating(max_false_alarm, max_miss)
    d = cal.to_dict()
    d["default_budgets"] = {"max_false_alarm": max_false_alarm, "max_miss": max_miss}
    ranges = [c.calibration.get("image_min_side") for c in cards]
    if all(ranges):
        d["image_min_side"] = {"min": max(r["min"] for r in ranges), "max": min(r["max"] for r in ranges)}
    from ..scan.conditions import ensemble_conditions

    conditions = ensemble_conditions(cards, method, weights, max_false_alarm, max_miss)
    if conditions is not None:
        d["conditions"] = conditions
    return d, table1(y, stored_scores(score), op)


def build_ensemble(members: Sequence[str], weights_from: Sequence[str], out: Path, method: str = "weighted",
                   models_dirs: Sequence[str] = (), device: str = "auto", name: str | None = None,
                   description: str = "", max_false_alarm: float = 0.05, max_miss: float = 0.2) -> EnsembleCard:
    """Ensemble card; weights = each member's F1 on ``weights_from`` at its calibrated threshold.

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
        s = resolve(m, reg, device)
        if not isinstance(s, OnnxScorer):
            raise ValueError(f"ensemble member {m!r} must be an exported model (card), not a run or ensemble")
        scorers.append(s)
    weights: dict[str, float] = {}
    thresholds: dict[str, float] = {}
    if weights_from:
        items = load_sets(weights_from)
        y = np.array([it.label for it in items])
        with _progress() as prog:
            task = prog.add_task("member F1", total=len(items) * len(scorers))
            cache = ImageCache()
            for s in scorers:
                p = score_any(s, items, None, on_batch=lambda n: prog.advance(task, n), image_cache=cache)["probs"]
                thr = s.threshold()
                thresholds[s.name] = thr
                weights[s.name] = float(at_threshold(y, p, thr)["f1"])
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
        calibration=calibration, metrics=metrics,
        calibrated_threshold=None if calibration is None else metrics["cross_validated"]["three_way"]["t_hi"],
        calibrated_on=None if calibration is None else calibration["data"] + " (cross-fitted)",
        description=description or (f"{kind} of {', '.join(s.name for s in scorers)}"
                                    + (f"; member thresholds {json.dumps(thresholds)}" if thresholds else "")),
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    card.save(out)
    return card
