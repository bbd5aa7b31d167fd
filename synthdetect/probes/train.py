"""``synthdetect train probe``: a linear probe over a backbone, fitted on a labelled sample of
the target distribution, with no PyTorch (numpy + Pillow + onnxruntime).

1. Features: every image's backbone features (the mean over the card's crops) and its crop
   spread, extracted once and cached (:mod:`synthdetect.probes.features`), so a second fit on
   the same images costs no extraction.
2. Fit (:mod:`synthdetect.probes.fit`): by default the averaged shrinkage-LDA probe, whose
   within-class covariance includes the crops' within-image spread; or L2 logistic regression
   with the feature group and ``C`` chosen by cross-validation.  Out-of-fold scores from nested
   cross-validation.
3. Calibration by cross-fitting: the out-of-fold scores are the card's calibration set
   (three-way thresholds and their error rates, :mod:`synthdetect.scan.calibration`) and give
   the Table 1 figures written into the card.
4. Output: ``NAME.head.json`` (the weights) + ``NAME.json`` (the card) in the user model
   directory (or ``--out``), immediately usable by ``scan --models NAME`` and in ensembles.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ..cards import BackboneCard, CardError, ModelCard, atomic_write, sha256_file
from ..inputs.datasets import FORMAT_ADVICE_SAMPLE, shortcut_warnings
from ..inputs.frames import frame_guard
from .features import (Extracted, backbone_cache, default_cache_dir, extract_features, sample_jpeg_quality,
                       sample_sharpness)
from .fit import CROP_LEVEL, METHODS as FIT_METHODS, SPREAD_RANK, CropSpread, Stratum
from ..scan import filter_gate
from ..scan.calibration import (DEFAULT_MAX_FALSE_ALARM, DEFAULT_MAX_MISS, CalibrationSet, definite_metrics,
                                stored_scores)


class ProbeTrainError(ValueError):
    """The probe cannot be trained as asked (one-line reason)."""


def drop_duplicates(items: Sequence[Any], ex: Extracted) -> list[tuple[str, str]]:
    """Byte-identical images (same SHA-256) among the readable ones.  Labelled both real and
    synthetic: ProbeTrainError listing them (the sample contradicts itself).  Within one class:
    the first is kept, the copies are removed from ``ex`` (one image must not count twice, nor
    sit in a training fold and in the fold that scores it); returns (copy, kept) pairs."""
    first: dict[str, int] = {}
    rows, dropped, clashes = [], [], []
    for row, i in enumerate(ex.keep):
        j = first.setdefault(ex.sha256[i], i)
        if j == i:
            rows.append(row)
        elif int(items[j].label) != int(items[i].label):
            clashes.append(f"{items[j].rel} = {items[i].rel}")
        else:
            dropped.append((str(items[i].rel), str(items[j].rel)))
    if clashes:
        shown = "; ".join(clashes[:10]) + (f"; and {len(clashes) - 10} more" if len(clashes) > 10 else "")
        raise ProbeTrainError(f"{len(clashes)} image(s) labelled both real and synthetic (byte-identical, same "
                              f"SHA-256): {shown}")
    if dropped:
        ex.drop(rows)
    return dropped


def _sample_distances(X: np.ndarray) -> tuple[np.ndarray, float]:
    """The distances between the sample's images (features standardised over the sample, as the
    domain reference's) and their median nearest-neighbour distance: where copies and scenes are measured."""
    from ..scan.domain import nearest_distances, standardisation
    from ..scan.twosample import pairwise_distances

    mean, scale = standardisation(X)
    std = (np.asarray(X, dtype=np.float64) - mean) / scale
    dist = pairwise_distances(std, std)
    return dist, float(np.median(nearest_distances(dist)))


def drop_near_copies(items: Sequence[Any], ex: Extracted) -> tuple[list[tuple[str, str, float]], list[str]]:
    """Copies of one picture that are not byte-identical — a re-save, another container, a JPEG
    re-encode: features closer than :func:`~synthdetect.scan.domain.copy_limit` (0.3 of the
    sample's median nearest-neighbour distance, standardised).  Within one class the first is kept
    and the others are removed from ``ex``, before any fold is drawn, like byte copies; returns the
    (copy, kept, distance as a share of the median) triples and, for pairs labelled differently
    (kept both: a photo and a light edit of it can both belong in a sample), one warning each."""
    from ..scan.domain import copy_limit, first_of_copies

    if len(ex.keep) < 3:
        return [], []
    dist, median = _sample_distances(ex.X)
    limit = copy_limit(median, len(dist), ex.X.shape[1])
    y = np.array([int(items[i].label) for i in ex.keep])
    rows, dropped = [], []
    for label in (0, 1):
        idx = np.flatnonzero(y == label)
        d = dist[np.ix_(idx, idx)]
        first = first_of_copies(d, limit)
        rows += idx[first].tolist()
        for i in np.flatnonzero(~first):
            j = np.flatnonzero(first)[np.argmin(d[i, first])]
            dropped.append((str(items[ex.keep[idx[i]]].rel), str(items[ex.keep[idx[j]]].rel),
                            round(float(d[i, j]) / median, 3)))
    r, f = np.flatnonzero(y == 0), np.flatnonzero(y == 1)
    cross = np.argwhere(dist[np.ix_(r, f)] < limit)
    warnings = [f"{items[ex.keep[r[a]]].rel} (real) and {items[ex.keep[f[b]]].rel} (synthetic) look like one picture "
                "(features as close as a re-encode): check the labels; both are kept" for a, b in cross[:10]]
    if dropped:
        ex.drop(sorted(rows))
    return dropped, warnings


def scene_strata(X: np.ndarray, strata: Sequence[str] | None) -> tuple[list[str] | None, dict[str, int] | None]:
    """The CV strata with each image's scene (:class:`~synthdetect.probes.fit.Stratum`): images
    closer than :data:`~synthdetect.scan.domain.SERIES_FRACTION` of the sample's median
    nearest-neighbour distance (standardised features; shots of one subject, not copies) form a
    scene around its first image, and a scene's images share every fold.  Measured: 50 + 50
    val-inthewild photos plus two shifted, re-lit shots of 10 of each class read cross-validated
    ROC-AUC 0.933 and 96 % stated coverage with the shots straddling folds (the photos alone:
    0.873, 72 %; kept together: 0.859, 73 %).  Returns the strata unchanged and None when no
    two images are that close."""
    from ..scan.domain import SERIES_FRACTION, copy_limit, leader_groups

    if len(X) < 3:
        return strata, None
    dist, median = _sample_distances(X)
    units = leader_groups(dist, copy_limit(median, len(dist), np.asarray(X).shape[1], SERIES_FRACTION))
    shared = np.bincount(units)[units] > 1
    if not shared.any():
        return strata, None
    base = list(strata) if strata is not None else [""] * len(units)
    out = [Stratum(b, int(u) if m else None) for b, u, m in zip(base, units, shared)]
    return out, {"scenes": int(len(np.unique(units[shared]))), "images": int(shared.sum())}


def table1(y: np.ndarray, p: np.ndarray, op) -> dict[str, Any]:
    """The paper's Table 1 figures (at 0.5 and at the best global threshold), ROC-AUC/AP, the
    calibrated operating point and what the three verdicts give on these scores."""
    from ..evaluation.metrics import at_threshold, average_precision, best_f1_threshold, roc_auc

    return {
        "n": int(y.size), "n_real": int(np.sum(y == 0)), "n_synthetic": int(np.sum(y == 1)),
        "at_0.5": at_threshold(y, p, 0.5),
        "best_f1": best_f1_threshold(y, p),
        "roc_auc": roc_auc(y, p),
        "ap": average_precision(y, p),
        "at_calibrated": at_threshold(y, p, op.t_hi),
        "three_way": definite_metrics(y, p, op),
    }


@dataclass
class ProbeResult:
    card: ModelCard
    head_path: Path
    card_path: Path
    n_images: int
    errors: list[tuple[str, str]]
    timings: dict[str, float] = field(default_factory=dict)
    cache_hits: int = 0
    duplicates: list[tuple[str, str]] = field(default_factory=list)  # (dropped, byte-identical kept image)
    near_copies: list[tuple[str, str, float]] = field(default_factory=list)  # (dropped, kept, distance share)
    scenes: dict[str, int] | None = None  # {"scenes", "images"}: series kept within one fold (scene_strata)
    # condition name -> features of the calibration images' transformed copies (synthdetect.scan.conditions)
    condition_features: dict[str, np.ndarray] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)  # sample-size warnings (also in the card)


@dataclass
class Fitted:
    """The fit with what the sample can support (:mod:`synthdetect.probes.sample`)."""

    fit: Any  # probe_fit.ProbeFit
    curve: dict[str, Any]
    candidates: list[Any]
    seconds: float
    fixed: bool = False  # the group was given (--feature-group), not chosen

    def training(self) -> dict[str, Any]:
        """The card's ``training`` entries of the feature-group choice and the learning curve."""
        f = self.fit
        return {"feature_group": {"name": f.group, "n_features": int(f.head.coef.size),
                                  "candidates": {c.name: c.size for c in self.candidates},
                                  "cv_logloss": {k: round(v, 6) for k, v in f.group_losses.items()},
                                  "outer_fold_groups": f.oof_groups,
                                  "method": f.method,
                                  "chosen_by": "given (--feature-group)" if self.fixed else
                                               "none: the candidates' shrinkage-LDA probes averaged" if
                                               f.method == "lda-average" else
                                               "lowest cross-validated log-loss (C chosen with it); nested inside "
                                               "every outer fold for the out-of-fold scores"},
                "learning_curve": self.curve}


PROBE_METHODS = ("auto", *FIT_METHODS)  # auto: see _probe_method


def _probe_method(method: str, prior: Any) -> str:
    """The fitting method ``auto`` stands for (prior-centred logistic with a prior, else the
    averaged shrinkage LDA); a usage error for an unknown one or LDA with a prior."""
    if method not in PROBE_METHODS:
        raise ProbeTrainError(f"--method {method}: not a probe method ({', '.join(PROBE_METHODS)})")
    if prior is not None and method == "lda-average":
        raise ProbeTrainError("--method lda-average cannot take --prior (the prior-centred fit is logistic)")
    if method == "auto":
        return "logistic" if prior is not None else "lda-average"
    return method


def _shrinkage(scale: float | None) -> float:
    """The averaged LDA's shrinkage scale (None: ``probe_fit.LW_SCALE``); a usage error outside (0, 1]."""
    from .fit import LW_SCALE

    value = LW_SCALE if scale is None else float(scale)
    if not 0.0 < value <= 1.0:
        raise ProbeTrainError(f"--shrinkage-scale {scale:g}: must lie in (0, 1] (1: Ledoit-Wolf's own intensity)")
    return value


def fit_with_diagnostics(X: np.ndarray, y: np.ndarray, backbone_card: BackboneCard, *, folds: int, seed: int,
                         strata: Sequence[str] | None = None, prior: Any = None,
                         feature_group: str | None = None, method: str = "auto", spread: Any = None,
                         shrinkage_scale: float | None = None) -> Fitted:
    """Nested-CV fit, and the learning curve (``probe_sample.learning_curve``, the same procedure
    refitted on subsets).  Without a prior the probe averages the shrinkage-LDA probes of the
    backbone's candidate groups (``probe_fit.fit_lda_average``); with one it is prior-centred
    logistic regression, ``C`` chosen inside every fold.  ``feature_group``: a candidate's name
    restricts the probe to that group; ``None``, ``"auto"`` or the averaged name a run recorded
    (``average(...)``) use every candidate.  ``method``: ``auto`` (the above), ``lda-average`` or
    ``logistic`` (L2 logistic regression, the feature group and ``C`` chosen by nested CV: the
    method of the probes fitted before the averaged LDA, kept for reproducing them).  ``spread``:
    the images' crop spread (``probe_fit.CropSpread``), which the averaged LDA's covariance includes.
    ``shrinkage_scale``: the averaged LDA's Ledoit-Wolf intensity times this (None:
    ``probe_fit.LW_SCALE``; 1 is Ledoit-Wolf's own, the bundled probes')."""
    from .feature_groups import FeatureGroupError, candidate_groups
    from ..evaluation.metrics import roc_auc
    from .fit import averaged_name, fit_probe, lda_average_cv_scores
    from .sample import learning_curve

    try:
        cands = candidate_groups(backbone_card.features, backbone_card.dim) if prior is None else []
    except FeatureGroupError as e:
        raise ProbeTrainError(f"backbone card {backbone_card.name}: {e}") from None
    if cands and len(cands) > 1 and feature_group == averaged_name(cands):
        feature_group = None  # a run's recorded choice (tools/make_weights.py passes the twin's)
    if feature_group not in (None, "auto"):
        fixed = [c for c in (cands or candidate_groups(None, backbone_card.dim)) if c.name == feature_group]
        if not fixed or (prior is not None and feature_group != "all"):
            names = ", ".join(c.name for c in cands) if prior is None else "all (with --prior)"
            raise ProbeTrainError(f"--feature-group {feature_group}: not a feature group of {backbone_card.name} "
                                  f"(auto, {names})")
        cands = [] if prior is not None else fixed
    t1 = time.perf_counter()
    scale = _shrinkage(shrinkage_scale)
    method = _probe_method(method, prior)
    spread = spread if method == "lda-average" else None
    fit = fit_probe(X, y, folds=folds, seed=seed, groups=strata, prior=prior, feature_groups=cands or None,
                    method=method, spread=spread, shrinkage_scale=scale)

    chosen = (cands or None) if method == "lda-average" else [c for c in cands if c.name == fit.group] or None

    def cv_auc(idx: np.ndarray, s: int) -> float:
        g = None if strata is None else [strata[i] for i in idx]
        if method == "lda-average":  # the averaged score cross-validated: its Platt step changes no ranking
            return roc_auc(y[idx], lda_average_cv_scores(X[idx], y[idx], cands, k=folds, seed=s, groups=g,
                                                         spread=None if spread is None else spread.take(idx),
                                                         shrinkage_scale=scale))
        # the chosen group refitted, C nested (7x cheaper than all groups)
        sub = fit_probe(X[idx], y[idx], folds=folds, seed=s, groups=g, prior=prior, feature_groups=chosen,
                        method=method, spread=None if spread is None else spread.take(idx))
        return roc_auc(y[idx], sub.oof)

    repeats = 3 if y.size <= 150 else 2 if y.size <= 300 else 1  # bounded cost: the curve refits the sample
    # every point by the same procedure: for the averaged LDA the whole sample's point is cv_auc's
    # too (the nested fit's own ROC-AUC, Table 1, differs from it only by the folds' Platt scalings)
    full = cv_auc(np.arange(y.size), seed) if method == "lda-average" else roc_auc(y, fit.oof)
    curve = learning_curve(y, full, cv_auc, seed=seed, repeats=repeats)
    return Fitted(fit, curve, cands, time.perf_counter() - t1, fixed=feature_group not in (None, "auto"))


def _check_prior_images(shas: Sequence[str], prior_images: frozenset[str]) -> None:
    """A usage error when sample images are among the ``--prior`` probe's own calibration images (ids: SHA-256
    prefixes, :func:`synthdetect.scan.calibration_images.index`): the prior has seen their labels, so every
    cross-validated figure and stated rate would leak."""
    from ..scan.calibration_images import ID_LENGTH

    if not prior_images:
        return
    n = len(prior_images)
    seen = sum(s[:ID_LENGTH].lower() in prior_images for s in shas)
    if seen:
        raise ProbeTrainError(f"--prior: {seen} of the {len(shas)} sample images are among the {n} images the prior "
                              "probe was fitted on (its calibration set): its head has seen their labels, so the "
                              "cross-validated figures and stated error rates would be optimistic; use a prior "
                              "fitted on other images, or no --prior")


def _check_request(name: str, method: str, prior: Any, shrinkage_scale: float | None) -> bool:
    """A usage error for a bad ``--name``, ``--method`` or ``--shrinkage-scale``; whether the fit is
    the averaged LDA."""
    if not name or any(c in name for c in "/\\,") or name.startswith(".") \
            or name.endswith((".onnx", ".json", ".head", ".ensemble", ".backbone", ".domain", ".int8")):
        # a comma would split in scan --models; the suffixes name a probe's other files or other card kinds
        raise ProbeTrainError(f"--name {name!r}: use a plain model name such as case42 (no path, comma or "
                              "file suffix)")
    lda = _probe_method(method, prior) == "lda-average"
    _shrinkage(shrinkage_scale)
    if shrinkage_scale is not None and not lda:
        raise ProbeTrainError("--shrinkage-scale applies to the averaged LDA, not to the logistic probe "
                              "(--method logistic, or any --prior)")
    return lda


def train_probe(items: Sequence[Any], backbone_card: BackboneCard, name: str, out_dir: Path, *,
                data_label: str, folds: int = 5, seed: int = 0,
                max_false_alarm: float = DEFAULT_MAX_FALSE_ALARM, max_miss: float = DEFAULT_MAX_MISS,
                device: str = "auto", cache_dir: Path | None | bool = None, force: bool = False,
                groups: Sequence[str] | None = None, licences: dict[str, str] | None = None,
                progress: Callable[[int], None] | None = None, prior: Any = None,
                prior_note: str | None = None, prior_images: frozenset[str] = frozenset(),
                sources: Sequence[str] | None = None,
                conditions: Sequence[Any] = (), feature_group: str | None = None,
                method: str = "auto", shrinkage_scale: float | None = None) -> ProbeResult:
    """Fit, calibrate and write a probe (see the module docstring).  ``items`` have ``path``,
    ``rel`` and ``label`` (``synthdetect.inputs.datasets.Item``).  ``prior``: a ``probe_fit.LinearHead``
    over the same backbone's features; the fit is then prior-centred ridge towards it
    (``probe_fit`` module docstring), described in the card by ``prior_note``.  ``sources``: the
    source (``--data`` argument) of every item: see :func:`split_sources`.  ``conditions``:
    ``synthdetect.scan.conditions.Condition``s to calibrate on as well (copies scored out of fold).
    ``shrinkage_scale``: see :func:`fit_with_diagnostics`."""
    from ..scan.runtime import load_backbone

    lda = _check_request(name, method, prior, shrinkage_scale)  # refused before any extraction
    card_path, head_path = _output_paths(Path(out_dir), name, force)
    y_all = np.array([int(it.label) for it in items], dtype=np.int64)
    _check_size(y_all, max_false_alarm, max_miss)
    sources = split_sources(sources, y_all)
    t0 = time.perf_counter()
    backbone = load_backbone(backbone_card, device=device)
    cache = None if cache_dir is False else backbone_cache(
        default_cache_dir() if cache_dir in (None, True) else Path(cache_dir), backbone_card)  # type: ignore[arg-type]
    ex, duplicates, near, cross_copies = _extract_sample(items, backbone, cache, progress, lda)
    kept = [items[i] for i in ex.keep]
    sample_records, shortcuts = _sample_checks(kept, backbone_card.input.strip_frames)
    filtered = _filter_gate_counts(backbone_card, ex.X, y_all[ex.keep])
    shortcuts += filter_gate.sample_warnings(filtered)
    t_feat = time.perf_counter() - t0
    errors = [(items[i].rel, reason) for i, reason in ex.errors]
    y = y_all[ex.keep]
    shas = [ex.sha256[i] for i in ex.keep]
    _check_prior_images(shas, prior_images)  # before the fit: a refused request costs no fitting
    size = _check_size(y, max_false_alarm, max_miss, _kept_note(len(ex.keep), len(errors), len(duplicates) + len(near)))
    g = None if groups is None else [groups[i] for i in ex.keep]
    src, g = _kept_sources(sources, ex.keep, y, g)
    g, scenes = scene_strata(ex.X, g)
    spread = None if ex.spread is None else CropSpread.from_images(ex.spread, ex.X, rank=SPREAD_RANK)
    fitted = fit_with_diagnostics(ex.X, y, backbone_card, folds=folds, seed=seed, strata=g, prior=prior,
                                  feature_group=feature_group, method=method, spread=spread,
                                  shrinkage_scale=shrinkage_scale)
    fit = fitted.fit
    cal, op, cv = _calibrate(y, fit, seed, data_label, [s[:16] for s in shas], src, max_false_alarm, max_miss)
    qualities = sample_jpeg_quality([it.path for it in kept], shas, cache)  # as scan reads them (PNGs: their pixels)
    cond = _condition_table([it.path for it in kept], shas, [ex.sides[i] for i in ex.keep], qualities, y, fit,
                            backbone, conditions, cache, data_label, max_false_alarm, max_miss)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_head(head_path, fit, backbone_card)
    n_real, n_fake = int(np.sum(y == 0)), int(np.sum(y == 1))
    card = ModelCard(
        name=name,
        file=head_path.name,
        sha256=sha256_file(head_path),
        architecture=_architecture(fit, prior, backbone_card),
        input=backbone_card.input,
        output="logit",
        threshold=0.5,
        calibrated_threshold=op.t_hi,
        calibrated_on=f"{data_label} (cross-fitted, {n_real} real / {n_fake} synthetic)",
        f1=float(cv["at_calibrated"]["f1"]),
        backbone={"name": backbone_card.name, "sha256": backbone_card.sha256, "dim": backbone_card.dim},
        calibration={**cal.to_dict(), "default_budgets": {"max_false_alarm": max_false_alarm, "max_miss": max_miss},
                     "image_min_side": _side_range([ex.sides[i] for i in ex.keep]),
                     **_quality_ranges([it.path for it in kept], shas, qualities, y, cache), **sample_records,
                     **({"filter_gates": filtered} if filtered else {}),
                     **({"conditions": cond.table} if cond is not None else {})},
        family="probe",
        description=f"Linear probe over frozen {backbone_card.name} features, fitted by `synthdetect train probe` "
                    f"on {data_label}.",
        training=_training_doc(data_label, y, errors, _copies_doc(duplicates, near, scenes), fitted, seed, src, groups,
                               conditions, licences, prior, prior_note, size, shortcuts, frame_guard(backbone_card.input)),
        licence=_licence(backbone_card, licences),
        metrics={"cross_validated": cv},
        extra={"backbone_card": backbone_card.name},
    )
    _attach_domain(card, card_path, ex.X, y, fit.oof, backbone_card, cond)
    atomic_write(card_path, lambda f: f.write(json.dumps(card.to_dict(), indent=2) + "\n"))
    card.path = card_path
    return ProbeResult(card=card, head_path=head_path, card_path=card_path, n_images=len(ex.keep), errors=errors,
                       timings=_timings(t0, t_feat, fitted.seconds, cond),
                       cache_hits=ex.cache_hits, duplicates=duplicates, near_copies=near, scenes=scenes,
                       warnings=size.warnings() + _folds_warning(folds, fit.folds) + shortcuts + cross_copies,
                       condition_features={} if cond is None else cond.features)


def _folds_warning(folds: int, used: int) -> list[str]:
    """Cross-validation cannot have more folds than the smaller class has images (the fit used that many,
    ``ProbeFit.folds``): say so when --folds asked for more."""
    if folds <= used:
        return []
    return [f"--folds {folds}: the smaller class has {used} images, so the cross-validation used {used} folds"]


def _output_paths(out_dir: Path, name: str, force: bool) -> tuple[Path, Path]:
    """The card and head paths of probe ``name``; refused when one of them (or the card's domain
    sidecar) exists and ``force`` is not given."""
    from ..scan.domain import sidecar_path

    card_path, head_path = out_dir / f"{name}.json", out_dir / f"{name}.head.json"
    if not force and any(p.exists() for p in (card_path, head_path, sidecar_path(card_path))):
        raise ProbeTrainError(f"{card_path} already exists (use --force to replace it)")
    return card_path, head_path


def _condition_table(paths, shas, sides, qualities, y, fit, backbone, conditions, cache, data_label: str,
                     max_false_alarm: float, max_miss: float):
    """The rates per measured condition (copies of the sample, scored out of fold), or None."""
    if not conditions:
        return None
    from ..scan.conditions import calibrate_conditions

    return calibrate_conditions(paths, shas, sides, y, fit, backbone, conditions, cache=cache, data=data_label,
                                max_false_alarm=max_false_alarm, max_miss=max_miss, qualities=qualities)


def _write_head(head_path: Path, fit, backbone_card: BackboneCard) -> None:
    head_doc = fit.head.to_dict()
    head_doc["backbone_sha256"] = backbone_card.sha256
    atomic_write(head_path, lambda f: f.write(json.dumps(head_doc) + "\n"))


def _licence(backbone_card: BackboneCard, licences: dict[str, str] | None) -> str:
    return ("Apache-2.0 (head fitted by synthdetect); backbone: " + (backbone_card.licence or "see its card")
            + "; training data: " + (", ".join(f"{k}: {v}" for k, v in (licences or {}).items()) or "the user's"))


def _timings(t0: float, t_feat: float, t_fit: float, cond) -> dict[str, float]:
    return {"features_s": round(t_feat, 3), "fit_s": round(t_fit, 3),
            **({"conditions_s": round(cond.seconds, 3)} if cond is not None else {}),
            "total_s": round(time.perf_counter() - t0, 3)}


def _kept_note(kept: int, unreadable: int, copies: int) -> str:
    """What the sample came to, for a refusal: readable images, unreadable ones, copies counted once."""
    return (f"{kept} readable images ({unreadable} unreadable"
            + (f"; {copies} copies of other images counted once" if copies else "") + "): ")


def _extract_sample(items: Sequence[Any], backbone, cache, progress, spread: bool):
    """The sample's features, each picture once: (``Extracted``, byte copies dropped, near copies
    dropped, warnings about pictures labelled both ways), copies removed before any fold is drawn
    (a copy never sits in a training fold and in the fold that scores it)."""
    ex = extract_features([it.path for it in items], backbone, cache=cache, progress=progress, spread=spread,
                          sharpness=True)
    duplicates = drop_duplicates(items, ex)
    near, cross_copies = drop_near_copies(items, ex)
    return ex, duplicates, near, cross_copies


def _sample_checks(kept: Sequence[Any], frames_cut: bool = False) -> tuple[dict[str, Any], list[str]]:
    """The sample's data checks, each image decoded once (``quality.check_sample``): the card's
    ``calibration.composites`` (``checked``, ``found``) and ``calibration.image_greyscale``
    (``quality.greyscale_range``), and the warnings — format, size or frame
    colour telling the classes apart (``shortcut_warnings``; no frame warning when the backbone
    card cuts frames off, ``frames_cut``), greyscale telling them apart, then :func:`_composite_warnings`."""
    from ..inputs.quality import check_sample, greyscale_warnings

    found = check_sample([it.path for it in kept if it.label == 0], [it.path for it in kept if it.label == 1])
    warnings = shortcut_warnings(kept, frames=found.frames, frames_cut=frames_cut, format_advice=FORMAT_ADVICE_SAMPLE)
    records = {"composites": found.composite_counts(), "image_greyscale": found.greyscale_counts()}
    return records, warnings + greyscale_warnings(*found.greyscale) + _composite_warnings(*found.composites)


def _filter_gate_counts(backbone_card: BackboneCard, X: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """The card's ``calibration.filter_gates``: how many sample images each gate of the backbone reads
    as filtered (``scan.filter_gate.sample_counts``; a malformed gate is the backbone card's error)."""
    try:
        return filter_gate.sample_counts(backbone_card, X, y)
    except CardError as e:
        raise ProbeTrainError(str(e)) from None


def _composite_warnings(n: int, k: int) -> list[str]:
    """The warning for ``k`` composites among ``n`` sample images checked.  When most are, the
    calibration covers composites and scan lifts its ``composite`` gate for this probe
    (``quality.mostly_composites``); when some are, it warns."""
    from ..inputs.quality import mostly_composites

    warn: list[str] = []
    if n and k >= max(2, 0.2 * n):
        what = (f"{k} of {n} images checked look like composites (a photo on a canvas with text or frames: "
                "captioned cards, screenshots, collages)")
        if mostly_composites(n, k):
            warn.append(f"{what}: the probe's rates are measured on such images, so scan with it does not withhold "
                        "composites; on images unlike them (no canvas) the domain check decides")
        else:
            warn.append(f"{what}: scan withholds detector verdicts on composites (quality gate 'composite'), so this "
                        "probe will give few verdicts on images like them; crop the photos out of the cards (the "
                        "reference and the questioned images alike) and fit again, or fit on composites only")
    return warn


def _calibrate(y: np.ndarray, fit, seed: int, data_label: str, ids: list[str], src, max_false_alarm: float,
               max_miss: float):
    """The out-of-fold scores as the calibration set (per source too), its operating point and Table 1."""
    cal = CalibrationSet.from_labels(y, fit.oof, method=f"cross-fitted: out-of-fold scores of {fit.folds}-fold nested "
                                                        f"cross-validation (seed {seed})", data=data_label, ids=ids)
    if src is not None:
        cal.by_source = per_source(src, y, fit.oof, cal)
    op = cal.operating(max_false_alarm, max_miss)
    oof = stored_scores(fit.oof)  # the card's figures on the scores its thresholds were set on
    cv = table1(y, oof, op)
    if src is not None:
        cv["by_source"] = {k: table1(y[m], oof[m], op) for k in cal.by_source for m in [np.array(src) == k]}
    return cal, op, cv


def _architecture(fit: Any, prior: Any, backbone_card: BackboneCard) -> str:
    """The card's one-line description of the head."""
    if fit.method == "lda-average":
        crops = ", crop-level covariance" if fit.head.extra.get("covariance") == CROP_LEVEL else ""
        kind = f"linear probe (mean of shrinkage-LDA probes over feature groups{crops}, Platt-scaled)"
    else:
        kind = f"linear probe (L2 logistic regression, C={fit.head.C:g}" + (", prior-centred" if prior is not None
                                                                              else "") + ")"
    return (kind + f" over {backbone_card.name} features"
            + ("" if fit.group == "all" or fit.group.startswith("average(")
               else f" (group {fit.group}: {fit.head.coef.size} of {backbone_card.dim})"))


def _copies_doc(duplicates, near, scenes) -> dict[str, Any]:
    """The card's record of the sample's copies (byte-identical, near) and scenes kept in one fold."""
    return {"duplicates_dropped": [{"dropped": d, "same_bytes_as": k} for d, k in duplicates],
            "near_copies_dropped": [{"dropped": d, "copy_of": k, "distance": share} for d, k, share in near],
            **({"scenes_kept_together": scenes} if scenes else {})}


def _training_doc(data_label: str, y: np.ndarray, errors, copies: dict[str, Any], fitted: "Fitted", seed: int, src,
                  groups, conditions, licences, prior, prior_note, size, shortcuts, guard) -> dict[str, Any]:
    """The card's ``training`` entry: data, hyper-parameters, choices, what the sample supports, the
    data warnings and, when the backbone cuts frames off, how far past their band."""
    fit = fitted.fit
    n_real, n_fake = int(np.sum(y == 0)), int(np.sum(y == 1))
    return {
        "recipe": "synthdetect train probe",
        "data": data_label,
        "n_real": n_real, "n_synthetic": n_fake,
        "unreadable": len(errors),
        **copies,
        "C": fit.head.C, "C_grid_logloss": {f"{k:g}": round(v, 6) for k, v in fit.cv_losses.items()},
        "outer_folds": fit.folds, "outer_fold_C": fit.oof_C, "seed": seed,
        "stratified_by": "label" + (" x source" if src is not None else "") + (" x group" if groups is not None else ""),
        **({"sources": sorted(set(src)), "calibration_rule": "thresholds that keep the budgets on every source; "
            "the stated rates are the worst source's"} if src is not None else {}),
        "conditions": [c.name for c in conditions],
        "licences": dict(licences or {}),
        **({"prior": prior_note or "prior-centred ridge towards a given head"} if prior is not None else {}),
        **fitted.training(), "sample_size": size.to_dict(),
        **({"shrinkage": fit.head.extra["shrinkage_rule"]} if "shrinkage_rule" in fit.head.extra else {}),
        "data_warnings": shortcuts, **({"frame_guard_px": guard} if guard is not None else {}),
    }


def split_sources(sources: Sequence[str] | None, y: np.ndarray) -> list[str] | None:
    """The sources to calibrate separately, or None for one source.

    * one source, or every source holding a single class (``--data REALS --data RENDERS``: the
      analyst's two halves of one reference sample): one source;
    * several sources with both classes: each is calibrated on its own; every one needs
      :data:`probe_sample.MIN_PER_CLASS` images of each class (ProbeTrainError otherwise);
    * a mix of both (which source would a single-class folder belong to?): ProbeTrainError."""
    from .sample import MIN_PER_CLASS

    if sources is None or len(set(sources)) < 2:
        return None
    src = np.asarray(list(sources))
    both = {k: (int(np.sum((src == k) & (y == 0))), int(np.sum((src == k) & (y == 1)))) for k in dict.fromkeys(src)}
    single = [k for k, (r, f) in both.items() if not (r and f)]
    if len(single) == len(both):
        return None
    if single:
        raise ProbeTrainError(f"--data {single[0]} holds one class while other --data hold both: cannot tell which "
                              "source it belongs to; give each source as one --data with both classes")
    for k, (r, f) in both.items():
        if min(r, f) < MIN_PER_CLASS:
            raise ProbeTrainError(f"source {k} has {r} real / {f} synthetic images: each source is calibrated on its "
                                  f"own and needs at least {MIN_PER_CLASS} of each (or fit it separately)")
    return [str(v) for v in src]


def _kept_sources(sources, keep, y, strata):
    """The sources of the readable images (checked again: unreadable ones may leave a source too
    small) and the CV strata with the source added (every fold holds every source in proportion)."""
    src = None if sources is None else split_sources([sources[i] for i in keep], y)
    if src is None:
        return None, strata
    return src, [f"{a}|{b}" for a, b in zip(src, strata or [""] * len(src))]


def per_source(src: Sequence[str], y: np.ndarray, oof: np.ndarray, cal: CalibrationSet) -> dict[str, CalibrationSet]:
    """Each source's out-of-fold scores as its own calibration set."""
    s = np.asarray(list(src))
    return {k: CalibrationSet.from_labels(y[s == k], oof[s == k], method=cal.method, data=k)
            for k in dict.fromkeys(s.tolist())}


def _check_size(y: np.ndarray, max_false_alarm: float, max_miss: float, what: str = ""):
    """:class:`probe_sample.SampleSize` of labels ``y``; ProbeTrainError when it is too small to fit."""
    from .sample import SampleSize

    size = SampleSize(int(np.sum(y == 0)), int(np.sum(y == 1)), max_false_alarm, max_miss)
    if size.too_small:
        raise ProbeTrainError(what + size.refusal())
    return size


def _attach_domain(card: ModelCard, card_path: Path, X: np.ndarray, y: np.ndarray, oof: np.ndarray,
                   backbone_card: BackboneCard, cond: Any = None) -> None:
    """The calibration images' domain reference (``NAME.domain.npz``, :mod:`synthdetect.scan.domain`),
    recorded in the card before it is written: ``scan`` tests its batches against it.  With
    ``cond`` (:class:`synthdetect.scan.conditions.ConditionCalibration`) the transformed copies join
    it, tagged by condition, so a downscaled or re-encoded batch of the source is recognised."""
    from ..scan.domain import DomainReference, attach

    if len(X) < 3:
        return
    rows, labels, scores, tags = [np.asarray(X)], [y], [oof], [[""] * len(X)]
    for name, F in ({} if cond is None else cond.features).items():
        made = np.all(np.isfinite(F), axis=1)  # NaN rows: no copy could be made
        rows.append(F[made])
        labels.append(y[made])
        scores.append(np.asarray(cond.scores[name])[made])
        tags.append([name] * int(made.sum()))
    ref = DomainReference.build(np.concatenate(rows), backbone_sha256=backbone_card.sha256,
                                labels=np.concatenate(labels), scores=np.concatenate(scores),
                                conditions=[t for ts in tags for t in ts])
    attach(card, ref, card_path=card_path, save_card=False)


def _quality_ranges(paths: Sequence[Path], shas: Sequence[str], qualities: Sequence[int | None], y: np.ndarray,
                    cache) -> dict[str, Any]:
    """The calibration images' JPEG qualities (``qualities``: as scan reads them), sharpness and lossy non-JPEG codecs per class
    (``quality.jpeg_quality_range``, ``quality.sharpness_range``, ``codecs.codec_range``): scan lifts
    its ``recompressed`` and ``blurred_or_upscaled`` gates for images at least as good as the
    calibration's ``covered`` value, and its ``unmeasured_codec`` gate for the ``covered`` codecs (a
    lossy WebP down to the ``covered_quality`` both classes were measured at)."""
    from ..inputs.codecs import codec_range, codec_from_file
    from ..inputs.quality import jpeg_quality_range, sharpness_range

    labels = y.tolist()
    codecs = [codec_from_file(p) for p in paths]
    return {"image_jpeg_quality": jpeg_quality_range(qualities, labels),
            "image_sharpness": sharpness_range(sample_sharpness(paths, shas, cache), labels),
            "image_codecs": codec_range([c for c, _ in codecs], labels, [q for _, q in codecs])}


def _side_range(sides: Sequence[int]) -> dict[str, int] | None:
    """The shorter sides of the calibration images: the size range its error rates hold for."""
    known = [int(v) for v in sides if v]
    return {"min": min(known), "max": max(known)} if known else None


