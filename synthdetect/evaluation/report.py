"""The metrics report of models / runs / ensembles on labelled data (``synthdetect evaluate``): the
paper's Table 1 figures, the three verdicts at the scan's budgets, per generator; its table and the
figures written into cards.

Torch-free: a training run as a target is scored by the ``run_scorer`` the caller passes
(:class:`synthdetect.train.scoring.RunScorer`).
"""

from __future__ import annotations

import time
from typing import Any, Sequence

import numpy as np

from ..cards import Registry, sha256_file
from ..inputs.datasets import DataError, Item, data_label, load_sets
from .metrics import at_threshold, best_f1_threshold, summary
from .perturbations import parse_perturbations
from .scoring import (EnsembleSpec, ImageCache, RunScorerFactory, combine, n_members, progress, resolve, score_any,
                      undecodable)


METRICS_SCHEMA = "synthdetect.metrics/1"


def evaluate_targets(
    refs: Sequence[str],
    data: Sequence[str],
    perturb: str | None = None,
    models_dirs: Sequence[str] = (),
    device: str = "auto",
    max_false_alarm: float = 0.05,
    max_miss: float = 0.2,
    scores: dict[str, dict[str, Any]] | None = None,
    run_scorer: RunScorerFactory | None = None,
    exclude_calibration_images: bool = False,
) -> dict[str, Any]:
    """Metrics per target.  ``scores``: when given, filled with each target's labels and scores
    (``{name: {y, p, threshold, vote}}``) for plots.  ``run_scorer``: how a training run directory
    is scored (:class:`synthdetect.train.scoring.RunScorer`); without it a run is refused.

    An image that is one of a target's own calibration images (a probe was fitted on it: the same
    file, by the SHA-256 prefixes its card keeps, or a copy of it re-saved, re-encoded or perturbed,
    by its features against the card's domain reference, as ``scan`` finds them) gives a training
    score, not a test: each target's count is in ``calibration_images`` (``calibration_copies`` of
    them found by features); ``exclude_calibration_images`` leaves out every image that is a
    calibration image of any target (so that all are scored on the same images)."""
    unlabelled: list[str] = []
    items: list[Item] = load_sets(data, unlabelled)
    perts = parse_perturbations(perturb)
    reg = Registry(models_dirs)
    targets = [(ref, resolve(ref, reg, device, run_scorer)) for ref in refs]
    same_file = calibration_overlap(items, [t for _, t in targets])
    dropped, whose = 0, set(same_file)
    if exclude_calibration_images and same_file:  # the same files need no scoring to be left out
        drop = set().union(*same_file.values())
        _refuse_if_all(len(drop), len(items), whose)
        items, dropped, same_file = [it for i, it in enumerate(items) if i not in drop], len(drop), {}
    scored = _score_targets(targets, items, perts)
    own = {t.name: same_file.get(t.name, set()).union(*s["copies"].values()) for _, t, s in scored}
    own = {name: pos for name, pos in own.items() if pos}
    excluded = sorted(set().union(*own.values())) if exclude_calibration_images and own else []
    _refuse_if_all(len(excluded), len(items), whose | set(own))
    keep = np.ones(len(items), bool)
    keep[excluded] = False
    unreadable = undecodable([s for _, _, s in scored])  # left out of every figure
    keep[[i for i, _ in unreadable]] = False
    if not keep.any():
        raise DataError(f"none of the {len(items)} images is left to evaluate on "
                        f"({len(unreadable)} unreadable, {len(excluded)} calibration images)")
    y = np.array([it.label for it in items])[keep]
    gens = [it.generator or ("real" if it.label == 0 else "synthetic (unknown generator)")
            for it, k in zip(items, keep) if k]
    has_gens = any(it.generator for it in items)
    kept = [it for it, k in zip(items, keep) if k]
    codecs = _file_codecs(kept)
    uncovered = [not _greyscale_covered(t) for _, t, _ in scored]  # scan's greyscale gate applies to these targets
    grey = _file_greyscale(kept) if any(uncovered) else []
    results: dict[str, Any] = {}
    for (ref, target, s), grey_gated in zip(scored, uncovered):
        name = target.name
        m = _target_metrics(target, y, np.asarray(s["probs"], dtype=float)[keep], s["threshold"],
                            gens if has_gens else None, max_false_alarm, max_miss)
        if (gated := _unmeasured_codecs(codecs, target)) is not None:
            m["unmeasured_codec"] = gated
        if grey_gated and (n_grey := int(sum(bool(g) for g in grey))):
            m["greyscale"] = {"n": n_grey}
        if own.get(name) and not exclude_calibration_images:
            m["calibration_images"] = len(own[name])
            n_copies = len(own[name] - same_file.get(name, set()))
            if n_copies:
                m["calibration_copies"] = n_copies
        m["ref"] = ref
        m["seconds"] = s["seconds"]
        if s["members"]:
            m["members"] = {k: {"at_0.5": at_threshold(y, v[keep], 0.5), "best_f1": best_f1_threshold(y, v[keep])}
                            for k, v in s["members"].items()}
        key = name if name not in results else ref
        results[key] = m
        if scores is not None:
            vote = isinstance(target, EnsembleSpec) and target.method in ("majority", "weighted")
            scores[key] = {"y": y, "p": np.asarray(s["probs"], dtype=float)[keep], "threshold": s["threshold"],
                           "vote": vote}
    report = {
        "schema": METRICS_SCHEMA,  # first: `evaluate --out` recognises an earlier metrics file by it
        "data": [str(d) for d in data], "n": int(keep.sum()), "perturbations": [f"{a}:{b:g}" for a, b in perts],
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "models": results,
    }
    if unreadable:
        report["unreadable"] = [{"path": str(items[i].path), "error": e} for i, e in unreadable]
    if dropped or excluded:
        report["excluded_calibration_images"] = {"n": dropped + len(excluded), "models": sorted(whose | set(own))}
    if unlabelled:
        report["unlabelled"] = unlabelled
    return report


def _file_codecs(items: Sequence[Item]) -> list[tuple[str | None, int | None, int]]:
    """Each file's lossy non-JPEG codec, its quality where read (``inputs.codecs``; a few bytes of
    each file read) and, for a lossy one, its shorter side (the header Pillow reads; 0 unread)."""
    from ..inputs.codecs import codec_from_file
    from ..inputs.decoding import init_codecs

    init_codecs()  # a HEIC's header (its shorter side) through pillow-heif
    out = []
    for it in items:
        codec, quality = codec_from_file(it.path)
        out.append((codec, quality, _shorter_side(it.path) if codec else 0))
    return out


def _shorter_side(path: Any) -> int:
    """The image's shorter side from its header (a rotation by its orientation keeps it)."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            return min(im.size)
    except Exception:  # unreadable: scored as an error elsewhere
        return 0


def _unmeasured_codecs(codecs: Sequence[tuple[str | None, int | None, int]], target: Any) -> dict[str, Any] | None:
    """How many files are in a lossy codec (or a lossy WebP quality) neither the target's cards'
    calibration images nor its measured conditions cover (``scan`` withholds its verdicts on them:
    the ``unmeasured_codec`` gate), and which codecs; None when none or the target has no card (a
    training run)."""
    from ..inputs.codecs import codec_covered, covered_codecs
    from ..scan.conditions import assign

    cards = _cards_of(target)
    if not cards:
        return None
    covered = covered_codecs([c.calibration for c in cards])
    table = ((getattr(target, "card", None) and target.card.calibration) or {}).get("conditions")
    hit = [c for c, q, side in codecs if c and not codec_covered(c, q, covered)
           and not (table and assign(side, None, table, (c, q)).name)]
    return {"n": len(hit), "codecs": sorted(set(hit))} if hit else None


def _file_greyscale(items: Sequence[Item]) -> list[bool | None]:
    """Whether each file's picture has no colour (``inputs.quality.file_is_greyscale``, decoded reduced)."""
    from ..inputs.quality import file_is_greyscale

    return [file_is_greyscale(it.path) for it in items]


def _greyscale_covered(target: Any) -> bool:
    """Whether ``scan`` judges a greyscale image for ``target`` instead of withholding it (the
    ``greyscale`` gate): every card calibrated on greyscale images, or the target's measured
    conditions include greyscale copies (judged among them; their size/quality bounds are the
    conditions' as for colour images).  A training run (no card) has no gate."""
    from ..inputs.quality import greyscale_calibrated
    from ..scan.conditions import GREY, measured_in

    cards = _cards_of(target)
    if not cards or all(greyscale_calibrated(c.calibration) for c in cards):
        return True
    table = ((getattr(target, "card", None) and target.card.calibration) or {}).get("conditions")
    return bool(table and measured_in(table, GREY))


def _refuse_if_all(n_excluded: int, n: int, models: set[str]) -> None:
    if n_excluded and n_excluded == n:
        raise DataError(f"all {n} images are calibration images of {', '.join(sorted(models))}: "
                        "nothing is left to evaluate them on")


def _score_targets(targets: Sequence[tuple[str, Any]], items: Sequence[Item],
                   perts: Sequence[tuple[str, float]]) -> list[tuple[str, Any, dict[str, Any]]]:
    """Each target's scores on every item (:func:`score_any`, with ``seconds``), decoded images shared."""
    out = []
    image_cache = ImageCache()  # decoded (and perturbed) images shared by all targets (bounded)
    with progress() as prog:
        for ref, target in targets:
            task = prog.add_task(f"scoring {target.name}", total=len(items) * n_members(target))
            t0 = time.time()
            s = score_any(target, items, perts, on_batch=lambda n: prog.advance(task, n), image_cache=image_cache)
            s["seconds"] = round(time.time() - t0, 2)
            out.append((ref, target, s))
    return out


def _target_metrics(target: Any, y: np.ndarray, p: np.ndarray, threshold: float, gens: list[str] | None,
                    max_false_alarm: float, max_miss: float) -> dict[str, Any]:
    """The paper's figures at 0.5 (and at the model's own threshold), and for a calibrated card its
    three verdicts at these budgets at its clean operating point (scan's measured conditions, quality
    gates and domain check are not applied): coverage and error rates of definite verdicts."""
    from ..scan.calibration import CalibrationSet, definite_metrics

    m = summary(y, p, gens, threshold=0.5)
    if abs(threshold - 0.5) > 1e-12:
        m["at_model_threshold"] = at_threshold(y, p, threshold)
    card = getattr(target, "card", None)
    if card is not None and getattr(card, "calibration", None):
        op = CalibrationSet.from_dict(card.calibration).operating(max_false_alarm, max_miss)
        m["three_way"] = definite_metrics(y, p, op)
    m["kind"] = "ensemble" if isinstance(target, EnsembleSpec) else target.kind
    return m


def _cards_of(target: Any) -> list[Any]:
    """The model cards behind a target (an ensemble's members'; none for a training run)."""
    if isinstance(target, EnsembleSpec):
        return [c for m in target.members for c in _cards_of(m)]
    card = getattr(target, "card", None)
    return [card] if card is not None else []


def calibration_overlap(items: Sequence[Item], targets: Sequence[Any]) -> dict[str, set[int]]:
    """Target name -> the positions of ``items`` that are its own calibration images (the same file,
    by the SHA-256 prefix its cards keep: :func:`own_scores`); each file is hashed at most once, and
    only when some target's card lists calibration images."""
    shas: dict[int, str] = {}
    own = {t.name: set(own_scores(items, t, {}, shas)) for t in targets}
    for t in targets:  # a training run's own training images (its train.sha256), by content
        if callable(getattr(t, "training_images", None)):
            own[t.name] |= set(t.training_images([it.path for it in items], shas))
    return {name: pos for name, pos in own.items() if pos}


def own_scores(items: Sequence[Item], scorer: Any, copies: dict[int, float],
               shas: dict[int, str] | None = None) -> dict[int, float]:
    """Position -> out-of-fold probability of the ``items`` that are ``scorer``'s own calibration
    images: the same file (the card keeps its SHA-256 prefix and out-of-fold score) or a copy
    found by features (``copies``, :func:`~synthdetect.evaluation.scoring.score_any`).  NaN where
    the card keeps no score.  The model's score on them is a training score; this one is honest.
    ``shas``: the files' SHA-256 by position, filled as they are hashed (shared by several scorers)."""
    from ..scan.calibration_images import ID_LENGTH, index

    idx = index(_cards_of(scorer))
    out = dict(copies)
    shas = {} if shas is None else shas
    if idx:
        for i, it in enumerate(items):
            if i not in shas:
                shas[i] = sha256_file(it.path)
            hits = idx.get(shas[i][:ID_LENGTH])
            if hits:
                out[i] = float(hits[0].get("out_of_fold_probability", float("nan")))
    return out


def honest_scores(items: Sequence[Item], target: Any, scored: dict[str, Any], shas: dict[int, str] | None = None
                  ) -> tuple[np.ndarray, np.ndarray, int]:
    """``target``'s scores (:func:`~synthdetect.evaluation.scoring.score_any`'s ``scored``) with each
    model's own calibration images given their out-of-fold probability instead of the training
    score (:func:`own_scores`; an ensemble's score recombined from its members' so corrected); the
    mask of the images kept (those whose card keeps no such score are left out); how many images
    were some model's own calibration images.  ``shas``: see :func:`own_scores`."""
    shas = {} if shas is None else shas
    if isinstance(target, EnsembleSpec):
        fixed = {m.name: _honest(items, m, scored["members"][m.name], scored["copies"].get(m.name, {}), shas)
                 for m in target.members}
        keep = np.logical_and.reduce([k for _, k, _ in fixed.values()])
        n_own = int(np.logical_or.reduce([o for _, _, o in fixed.values()]).sum())
        return combine(target, {name: p for name, (p, _, _) in fixed.items()}), keep, n_own
    p, keep, own = _honest(items, target, scored["probs"], scored["copies"].get(target.name, {}), shas)
    return p, keep, int(own.sum())


def _honest(items: Sequence[Item], scorer: Any, probs: np.ndarray, copies: dict[int, float],
            shas: dict[int, str] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One model's probabilities with out-of-fold ones for its own calibration images; kept mask; own mask."""
    p = np.array(probs, dtype=float)
    keep, own = np.ones(len(p), bool), np.zeros(len(p), bool)
    for i, v in own_scores(items, scorer, copies, shas).items():
        own[i] = True
        if np.isfinite(v):
            p[i] = v
        else:
            keep[i] = False
    keep &= np.isfinite(p)  # an image that could not be decoded has no score
    return p, keep, own


def data_notes(report: dict[str, Any]) -> list[str]:
    """What the evaluation says of the data it did not use (images without a label), of the files
    ``scan`` would withhold for a target (a lossy codec or greyscale its calibration does not cover) and of the
    targets' own calibration images among it."""
    from ..inputs.codecs import codec_names

    notes = [f"warning: {line}" for line in report.get("unlabelled") or []]
    notes += [f"warning: {u['path']}: {u['error']} (left out)" for u in report.get("unreadable") or []]
    for name, m in report["models"].items():
        if u := m.get("unmeasured_codec"):
            notes.append(f"warning: {u['n']} of the {report['n']} images are saved as "
                         f"{', '.join(codec_names(u['codecs']))} in a codec or quality {name}'s calibration does not "
                         "cover: scan "
                         "withholds its verdicts on them (the unmeasured_codec gate, docs/quality.md); the figures here "
                         "score them")
        if g := m.get("greyscale"):
            notes.append(f"warning: {g['n']} of the {report['n']} images are greyscale, which {name}'s calibration "
                         "does not cover (colour images only, no greyscale copies): scan withholds its verdicts on "
                         "them (the greyscale gate, docs/quality.md); the figures here score them")
    ex = report.get("excluded_calibration_images")
    if ex:
        return notes + [f"left out {ex['n']} images that are calibration images of {', '.join(ex['models'])} "
                        "(--exclude-calibration-images)"]
    for name, m in report["models"].items():
        if m.get("calibration_images"):
            who = "its members were" if m.get("kind") == "ensemble" else "it was"
            k = m.get("calibration_copies")
            how = f"; {k} of them are copies, re-saved, re-encoded or resized, found by their features" if k else ""
            what = "training images (the same bytes as its train.sha256" if m.get("kind") == "run" else \
                "calibration images ("
            notes.append(f"warning: {m['calibration_images']} of the {report['n']} images are {name}'s own {what}"
                         f"{'; ' if m.get('kind') == 'run' else ''}{who} fitted on them{how}): its figures on them are "
                         "training scores, not a test (and are not written to its card by --write-cards); "
                         "--exclude-calibration-images leaves them out")
    return notes


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

    Run directories have no card and are left alone, and so is a card whose own calibration
    images were among the data (``calibration_images``: its figures include training scores).  The ONNX file (and so the card's
    sha256) is never touched.  Returns the paths written.
    """
    reg = Registry(models_dirs)
    label = data_label(report["data"], report["perturbations"])
    written = []
    for name, m in report["models"].items():
        if m.get("calibration_images"):
            continue  # figures that include its own training scores are not the card's to keep
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
