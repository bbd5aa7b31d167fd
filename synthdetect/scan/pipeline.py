"""The scan pipeline: files -> decoded, preprocessed batches -> detectors -> records.

Decoding (and preprocessing, and provenance analysis) runs in a thread pool whose
in-flight work is bounded; the main thread batches finished items in input order
and runs the onnxruntime sessions.  Pillow and onnxruntime release the GIL, so
decoding of the next images overlaps inference of the current batch.

Each distinct ``InputSpec`` among the models is computed once per image, so models
with the same preprocessing share the tensor and mixed image sizes still give
uniform batches per model.

Records are plain dicts (the JSON schema in docs/scan.md).
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Tuple, Union

from . import calibration_images
from .calibration import CalibrationSet, Operating, budgets_of, fixed_worst_case
from ..cards import BackboneCard, CardError, EnsembleCard, ModelCard, Registry
from .conditions import (GREY, assign, bound_calibration, breaks_budgets, condition_key, condition_label,
                         condition_rate, measured_in)
from ..inputs.discovery import InputError, display_path
from .domain import load_for_card
from .ensemble import METHODS, VOTE_METHODS, Combined, Member, combine
from ..inputs.pool import bounded_map
from .options import ScanOptions, ScanSetupError

CondKey = Union[str, Tuple[str, ...], None]  # an image's measured condition, or the several that bound it


THUMBNAIL_KEY = "_thumbnail"  # private, never rendered into a report's records


@dataclass
class Plan:
    """Which models run and how their outputs are combined."""

    cards: list[ModelCard]
    method: str
    ensemble_card: EnsembleCard | None = None
    threshold_override: float | None = None
    ensemble_threshold: float = 0.5
    ensemble_margin: float = 0.0
    weights: dict[str, float] = field(default_factory=dict)
    backbones: dict[str, BackboneCard] = field(default_factory=dict)  # probe name -> its backbone
    # the scan's budgets; None: each card's own (``calibration.default_budgets``: what train probe was given)
    max_false_alarm: float | None = None
    max_miss: float | None = None
    # card name -> its calibration-domain reference (domain.DomainReference), for probes that carry one
    domains: dict[str, Any] = field(default_factory=dict)
    _ops: dict[str, Operating | None] = field(default_factory=dict, repr=False)

    def files(self) -> list[Path]:
        """Every file this plan reads: cards, their networks or heads, backbones, the ensemble card."""
        cards = [*self.cards, *self.backbones.values()]
        out = [p for c in cards for p in (c.path, c.model_path) if p is not None]
        out += [Path(c.path).parent / str(c.domain["file"]) for c in self.cards
                if c.path is not None and getattr(c, "domain", None) and c.domain.get("file")]
        if self.ensemble_card is not None and self.ensemble_card.path is not None:
            out.append(self.ensemble_card.path)
        return out

    def member_threshold(self, card: ModelCard, condition: CondKey = None) -> float:
        op = self.member_operating(card, condition)
        if op is not None:
            return op.t_hi
        return card.effective_threshold(self.threshold_override)

    def budgets(self, calibration: dict | None) -> tuple[float, float]:
        """(false-alarm, miss) budgets for a card's calibration: the scan's when given, else the card's own
        (a probe fitted with ``--max-false-alarm 0.01`` keeps 1 %, :func:`~.calibration.budgets_of`)."""
        return budgets_of(calibration, self.max_false_alarm, self.max_miss)

    def _operating(self, key: str, calibration: dict | None, override: float | None,
                   budgets: tuple[float, float]) -> Operating | None:
        """Three-way thresholds from a card's calibration set and ``budgets``; with a threshold override,
        that single threshold with its calibrated rates (the budgets kept for the condition gate)."""
        if key not in self._ops:
            op = None
            if calibration:
                cal = CalibrationSet.from_dict(calibration)
                if override is not None:
                    op = fixed_worst_case(cal, override)
                    op.max_false_alarm, op.max_miss = budgets
                else:
                    op = cal.operating(*budgets)
            self._ops[key] = op
        return self._ops[key]

    def member_operating(self, card: ModelCard, condition: CondKey = None) -> Operating | None:
        """``condition``: the measured condition of the image (synthdetect.scan.conditions), or the
        several that bound it: that condition's operating point (the worst case over several) where
        the card measured it, else the clean one."""
        return self._calibrated(f"model:{card.name}", card.calibration, condition, self.threshold_override)

    def ensemble_operating(self, condition: CondKey = None) -> Operating | None:
        e = self.ensemble_card
        if self.method == "none" or e is None or e.method != self.method:
            return None
        if self.threshold_override is not None and self.method in VOTE_METHODS:
            return None  # members vote at X: the card's calibration (votes at their calibrated thresholds) does not apply
        return self._calibrated(f"ensemble:{e.name}", e.calibration, condition, self.threshold_override)

    def _calibrated(self, key: str, calibration: dict | None, condition: CondKey,
                    override: float | None) -> Operating | None:
        """The operating point of ``calibration`` in ``condition`` (the clean one outside the measured conditions)."""
        names = condition if isinstance(condition, tuple) else (condition,) if condition else ()
        cond = bound_calibration((calibration or {}).get("conditions"), names) if names else None
        budgets = self.budgets(calibration)
        if cond is not None:
            return self._operating(f"{key}@{'+'.join(names)}", cond, override, budgets)
        return self._operating(key, calibration, override, budgets)

    def conditions_table(self) -> dict[str, Any] | None:
        """The per-condition calibration of the card that gives the verdict (the calibrated
        ensemble's, or the single calibrated model's); None: no conditions (the size gate as before)."""
        if self.ensemble_operating() is not None:
            return (self.ensemble_card.calibration or {}).get("conditions")  # type: ignore[union-attr]
        if len(self.cards) == 1 and self.member_operating(self.cards[0]) is not None:
            return (self.cards[0].calibration or {}).get("conditions")
        return None

    def describe(self) -> dict[str, Any]:
        op = self.ensemble_operating()
        d = {
            "method": self.method,
            "name": self.ensemble_card.name if self.ensemble_card else None,
            "threshold": (op.t_hi if op else self.ensemble_threshold) if self.method != "none" else None,
            "inconclusive_margin": self.ensemble_margin if self.method != "none" and op is None else None,
            "members": [c.name for c in self.cards],
        }
        if op is not None:
            d["threshold_real"] = op.t_lo
            d["calibrated"] = op.to_dict()
        table = self.conditions_table()
        if table:
            d["conditions"] = {"original": table.get("original"), "measured": sorted(table.get("measured") or {})}
        return d


def _member_names(registry: Registry, models: list[str] | None) -> tuple[list[str], list[EnsembleCard]]:
    """The model names asked for (ensembles expanded to their members, in order) and the ensemble
    cards named: with no ``models``, the default ensemble's members, else every usable model."""
    ens_cards: list[EnsembleCard] = []
    names: list[str] = []
    if not models:
        default = registry.default_ensemble()
        if default is not None:
            ens_cards.append(default)
            names = list(default.members)
        else:
            names = registry.usable_model_names()  # broken cards: the CLI says it ignores them
        return names, ens_cards
    installed = set(registry.model_names())
    ensembles = set(registry.ensemble_names())
    for n in models:
        if n in installed:
            names.append(n)
        elif n in ensembles:
            e = registry.ensemble(n)
            ens_cards.append(e)
            names.extend(e.members)
        else:
            raise ScanSetupError(
                f"no model or ensemble named {n!r}; installed models: "
                f"{', '.join(sorted(installed)) or 'none'}; ensembles: {', '.join(sorted(ensembles)) or 'none'}"
            )
    return names, ens_cards


def _load_members(
    registry: Registry, names: list[str]
) -> tuple[list[ModelCard], dict[str, BackboneCard], dict[str, Any]]:
    """Each distinct model's card, in order, with the backbone and domain reference of each probe."""
    seen: set[str] = set()
    cards: list[ModelCard] = []
    backbones: dict[str, BackboneCard] = {}
    domains: dict[str, Any] = {}
    for n in names:
        if n not in seen:
            seen.add(n)
            c = registry.model(n)
            cards.append(c)
            if c.is_probe:
                backbones[c.name] = registry.backbone_for(c)
                ref = load_for_card(c)
                if ref is not None:
                    domains[c.name] = ref
    return cards, backbones, domains


def _plan_method(method: str | None, ens: EnsembleCard | None, n_cards: int) -> str:
    """The method asked for, else the ensemble card's, else ``none`` for one model, ``weighted`` for more."""
    if method is None:
        method = ens.method if ens is not None else ("none" if n_cards == 1 else "weighted")
        if method not in METHODS:
            raise ScanSetupError(f"ensemble card {ens.name!r} has unknown method {method!r}")  # type: ignore[union-attr]
    return method


def _member_weights(cards: list[ModelCard], ens: EnsembleCard | None) -> dict[str, float]:
    """Each member's weight: the ensemble card's, else the model's F1, else 1."""
    weights = {}
    for c in cards:
        w = None
        if ens is not None and c.name in ens.weights:
            w = ens.weights[c.name]
        elif c.f1 is not None:
            w = c.f1
        weights[c.name] = float(w) if w is not None else 1.0
    return weights


def _ensemble_threshold(ens: EnsembleCard | None, method: str, override: float | None) -> tuple[float, float]:
    """The ensemble's threshold and inconclusive margin: the card's when its method is the one used;
    ``--threshold X`` sets a score ensemble's (mean, soft-or) to X with no margin (two verdicts), while a
    vote keeps its vote threshold (the members vote at X)."""
    if override is not None and method not in VOTE_METHODS:
        return float(override), 0.0
    if ens is not None and method == ens.method:
        return ens.effective_threshold(), float(ens.inconclusive_margin)
    return 0.5, 0.0


def _check_budgets(max_false_alarm: float | None, max_miss: float | None) -> None:
    """Each error-rate budget given must lie in [0, 1) (None: each card's own)."""
    for name, budget in (("--max-false-alarm", max_false_alarm), ("--max-miss", max_miss)):
        if budget is not None and not 0.0 <= budget < 1.0:
            raise ScanSetupError(f"{name} must lie in [0, 1), not {budget}")


def resolve_plan(
    registry: Registry,
    models: list[str] | None = None,
    method: str | None = None,
    threshold: float | None = None,
    max_false_alarm: float | None = None,
    max_miss: float | None = None,
) -> Plan:
    """Pick models and the ensemble method.

    * ``models`` None: the members of ``default.ensemble.json`` when it exists, else
      every installed model.  A name may be a model or an ensemble card (expanded to
      its members; its weights/threshold are used when it is the only ensemble named).
    * ``method`` None: the ensemble card's method, else ``weighted``; with a single
      model and no explicit method, ``none`` (a one-member vote would only hide the
      probability).
    """
    if method is not None and method not in METHODS:
        raise ScanSetupError(f"unknown ensemble method {method!r}; choose from {', '.join(METHODS)}")
    try:
        names, ens_cards = _member_names(registry, models)
        cards, backbones, domains = _load_members(registry, names)
        for e in ens_cards:  # the members it was built over, not others of the same names
            e.check_members(cards)
    except CardError as e:
        raise ScanSetupError(str(e)) from None
    if not cards:
        raise ScanSetupError(
            "no models installed; looked in: " + ", ".join(map(str, registry.dirs))
            + " (use --models-dir DIR or set SYNTHDETECT_MODELS_DIR)"
        )
    ens = ens_cards[0] if len(ens_cards) == 1 else None
    method = _plan_method(method, ens, len(cards))
    weights = _member_weights(cards, ens)
    ens_thr, margin = _ensemble_threshold(ens, method, threshold)
    _check_budgets(max_false_alarm, max_miss)
    return Plan(
        cards=cards,
        method=method,
        ensemble_card=ens,
        threshold_override=threshold,
        ensemble_threshold=ens_thr,
        ensemble_margin=margin,
        weights=weights,
        backbones=backbones,
        max_false_alarm=None if max_false_alarm is None else float(max_false_alarm),
        max_miss=None if max_miss is None else float(max_miss),
        domains=domains,
    )


def input_spec(model) -> Any:
    """The ``InputSpec`` a loaded model consumes: a probe sees its backbone's input."""
    bb = getattr(model, "backbone", None)
    return bb.card.input if bb is not None else model.card.input


def _provenance_fn() -> Callable[[Path], dict] | None:
    try:
        from ..provenance import analyze
    except ImportError:
        return None
    return analyze


def _text_safe(obj: Any) -> Any:
    """Strings with surrogate escapes (non-UTF-8 file names) made writable as UTF-8."""
    if isinstance(obj, str):
        return display_path(obj)
    if isinstance(obj, dict):
        return {_text_safe(k): _text_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_text_safe(v) for v in obj]
    return obj


LIFTED_SUFFIX = "_calibrated"  # quality report key <gate>_calibrated: a gate the cards' calibration lifted


@dataclass
class Summary:
    total: int = 0
    scanned: int = 0
    errors: int = 0
    verdicts: dict[str, int] = field(default_factory=lambda: {"real": 0, "synthetic": 0, "inconclusive": 0})
    provenance_overrides: int = 0
    skipped_non_image: int = 0
    symlink_loops: int = 0
    elapsed_s: float = 0.0
    domain: dict[str, Any] | None = None  # the batch domain check (domain_check.DomainReport.to_dict())
    calibration_images: int = 0  # images the cards were calibrated on (scan.calibration_images)
    gated: dict[str, int] = field(default_factory=dict)  # quality gate -> images it withheld
    lifted: dict[str, int] = field(default_factory=dict)  # quality gate -> images the cards' calibration covered
    conditions: dict[str, int] = field(default_factory=dict)  # measured condition(s) an image was judged in -> images

    @property
    def images_per_s(self) -> float:
        return self.scanned / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def add(self, rec: dict[str, Any]) -> None:
        self.total += 1
        if rec.get("error"):
            self.errors += 1
            if rec.get("verdict_source") == "provenance":  # undecodable, but its metadata declares AI
                self.verdicts["synthetic"] += 1
                self.provenance_overrides += 1
            return
        self.scanned += 1
        v = rec.get("verdict")
        if v in self.verdicts:
            self.verdicts[v] += 1
        if rec.get("verdict_source") == "provenance":
            self.provenance_overrides += 1
        if rec.get("calibration_image"):
            self.calibration_images += 1
        if rec.get("condition"):
            label = condition_label(condition_key(rec))
            self.conditions[label] = self.conditions.get(label, 0) + 1
        self._count_gates(rec.get("quality") or {})

    def _count_gates(self, q: dict[str, Any]) -> None:
        for g in q.get("failed") or []:
            self.gated[g["gate"]] = self.gated.get(g["gate"], 0) + 1
        for k, v in q.items():
            if k.endswith(LIFTED_SUFFIX) and v is True:
                gate = k[: -len(LIFTED_SUFFIX)]
                self.lifted[gate] = self.lifted.get(gate, 0) + 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "inputs": self.total,
            "scanned": self.scanned,
            "errors": self.errors,
            "verdicts": dict(self.verdicts),
            "provenance_overrides": self.provenance_overrides,
            "skipped_non_image": self.skipped_non_image,
            "symlink_loops": self.symlink_loops,
            **({"calibration_images": self.calibration_images} if self.calibration_images else {}),
            "elapsed_s": round(self.elapsed_s, 3),
            "images_per_s": round(self.images_per_s, 2),
            **({"quality_gates": {"failed": dict(self.gated), "lifted": dict(self.lifted)}}
               if self.gated or self.lifted else {}),
            **({"conditions": dict(self.conditions)} if self.conditions else {}),
            **({"domain": self.domain} if self.domain is not None else {}),
        }


def error_record(path: str, reason: str, sha256: str | None = None, size: int | None = None) -> dict[str, Any]:
    return {
        "path": path,
        "format": None,
        "width": None,
        "height": None,
        "bytes": size,
        "sha256": sha256,
        "models": {},
        "ensemble": None,
        "verdict": None,
        "verdict_source": None,
        "error": reason,
    }


def _ensemble_entry(comb: Combined, ens_op: Operating | None, verdict: str) -> dict[str, Any]:
    """The record's ``ensemble`` entry: the combined score and the thresholds that gave ``verdict``."""
    entry: dict[str, Any] = {
        "method": comb.method,
        "score": None if comb.score is None else round(comb.score, 6),
        "threshold": ens_op.t_hi if ens_op is not None else comb.threshold,
        "verdict": verdict,
        "tie": comb.tie,
    }
    if ens_op is not None:
        entry["threshold_real"] = ens_op.t_lo
    return entry


class Scanner:
    """Loaded sessions + plan; ``scan(files)`` yields one record per file, in order."""

    def __init__(self, plan: Plan, options: ScanOptions | None = None):
        """``options`` (:class:`synthdetect.scan.options.ScanOptions`, checked when made): the device,
        batch size, decoding workers, onnxruntime threads, and whether to analyse provenance, make
        thumbnails (each decoded image's small JPEG data URI in ``rec[THUMBNAIL_KEY]``, made in the
        decode worker; the caller pops it before rendering) and apply the quality gates (measure every
        image, :mod:`synthdetect.inputs.quality`, and turn the detectors' verdict into
        ``inconclusive``, with the reason named, where they are known not to work)."""
        from .runtime import load_models

        options = options if options is not None else ScanOptions()
        self.plan = plan
        self.options = options
        self.batch_size = options.batch_size
        self.workers = options.decode_workers
        try:
            self.models = load_models(plan.cards, device=options.device, threads=options.threads,
                                      backbones=plan.backbones)
        except CardError as e:
            raise ScanSetupError(str(e)) from None
        self.specs = {}
        for m in self.models:
            spec = input_spec(m)
            self.specs.setdefault(spec.key(), spec)
        self.provenance = _provenance_fn() if options.provenance else None
        self.thumbnails = options.thumbnails
        self.quality_gates = options.quality_gates
        # the detectors' input size: a smaller image would only show them upscaled pixels
        from ..inputs.quality import (FLOOR_GATES, calibrated_floor, composites_calibrated, greyscale_calibrated,
                                      required_min_side)

        self.min_side = required_min_side(self.specs.values())
        # the smallest images the calibrated error rates were measured on (cards' calibration sets)
        cals = [c.calibration or {} for c in plan.cards]
        if plan.ensemble_card is not None and plan.ensemble_operating() is not None:
            cals.append(plan.ensemble_card.calibration or {})
        cal_sides = [c.get("image_min_side") for c in cals]
        known = [r for r in cal_sides if isinstance(r, dict) and r.get("min")]
        self.calibrated_min_side = max((int(r["min"]) for r in known), default=0)
        # every card calibrated on images this small (train probe on a sample of small images): the
        # detectors' input size is no reason to withhold a verdict on an image at least that large
        self.small_calibrated = bool(known) and len(known) == len(cal_sides) and self.calibrated_min_side < self.min_side
        # measured conditions (downscaled / re-encoded copies) replace that size proxy where the card has them
        self.conditions = plan.conditions_table()
        # every card calibrated on JPEGs this compressed, images this soft (train probe on a q75 or an
        # upscaled source): the gate's threshold is no reason to withhold a verdict on an image at least that good
        self.floors = {(gate, measure): calibrated_floor(cals, key) for gate, measure, key, _ in FLOOR_GATES}
        # cards calibrated on composites (train probe on captioned cards...) need no composite gate
        self.composites_calibrated = bool(plan.cards) and all(composites_calibrated(c.calibration) for c in plan.cards)
        # cards calibrated on greyscale images (a tenth of each class) need no greyscale gate
        self.greyscale_calibrated = bool(plan.cards) and all(greyscale_calibrated(c.calibration) for c in plan.cards)
        # every card calibrated on lossy WebP / AVIF / HEIF files: such a file was measured, its codec no reason to withhold
        from ..inputs.codecs import covered_codecs

        self.codecs_calibrated = covered_codecs(cals) if plan.cards else {}
        # the cards' calibration images by SHA-256 prefix: such a file's score is a training score
        self.calibration_index = calibration_images.index(plan.cards)
        self.filter_gates = self._filter_gates() if self.quality_gates else {}
        from ..inputs.decoding import init_codecs

        init_codecs()  # register optional codecs once, before the worker threads start

    def _filter_gates(self) -> dict[str, list[tuple[Any, bool]]]:
        """Backbone SHA-256 -> the filter gates its card carries (:mod:`synthdetect.scan.filter_gate`),
        each with whether every card's calibration covers the images it reads (then it is lifted)."""
        from .filter_gate import calibrated, card_gates

        out: dict[str, list[tuple[Any, bool]]] = {}
        try:
            for bb in self.plan.backbones.values():
                if bb.sha256 not in out and bb.gates:
                    out[bb.sha256] = [(g, bool(self.plan.cards) and all(calibrated(c.calibration, g.name)
                                                                         for c in self.plan.cards))
                                      for g in card_gates(bb)]
        except CardError as e:
            raise ScanSetupError(str(e)) from None
        return out

    def _apply_filter_gates(self, recs: list[dict[str, Any]], features: dict[str, Any]) -> None:
        """Each image's filter-gate scores from the features its backbones computed (failed gates on
        ``quality``, lifted as every other gate is where the cards' calibration covers them)."""
        import numpy as np

        from .filter_gate import apply

        for sha, gates in self.filter_gates.items():
            f = features.get(sha)
            if f is None or len(f) != len(recs):
                continue
            ok = np.all(np.isfinite(f), axis=1)
            for gate, lifted in gates:
                scores = gate.scores(np.where(ok[:, None], f, 0.0))
                for rec, s, good in zip(recs, scores, ok):
                    if good and apply(rec, gate, float(s)):
                        self._calibration_covers(rec["quality"], gate.name, lifted)

    # -- worker side -------------------------------------------------------------------
    def _prepare(self, path: Path) -> tuple[dict[str, Any], dict[str, Any] | None]:
        from ..inputs.decoding import DecodeError, decode
        from ..inputs.preprocess import to_inputs

        shown = display_path(path)
        try:
            d = decode(path)
        except DecodeError as e:
            rec = error_record(shown, str(e), e.sha256, e.size_bytes)
            if e.sha256 is not None:  # readable regular file: its metadata may still speak
                self._add_provenance(rec, path)
                # pixels unreadable but AI generation declared: a verdict from provenance, the
                # decode error kept beside it (the file still counts as unreadable for exit code 3)
                self._provenance_verdict(rec)
            return rec, None
        except Exception as e:  # never let one file stop the scan
            return error_record(shown, f"internal error while decoding: {e.__class__.__name__}: {e}"), None
        rec = {
            "path": shown,
            "format": d.format,
            "width": d.width,
            "height": d.height,
            "mode": d.mode,
            "frames": d.frames,
            "bytes": d.size_bytes,
            "sha256": d.sha256,
        }
        grey = self._greyscale(d)
        jpeg = self._jpeg_quality(d)
        cond = self._condition(d, grey, *jpeg)
        if cond is not None:
            rec["condition"] = cond.label
            if cond.bound:
                rec["condition_bound"] = list(cond.bound)
        if self.quality_gates:
            rec["quality"] = self._quality(d, cond, grey, jpeg)
        try:
            arrays = {k: to_inputs(d.image, spec) for k, spec in self.specs.items()}
            if self.thumbnails:
                try:  # a thumbnail is a convenience: it never turns a scanned image into an error
                    from ..output.html import thumbnail_data_uri

                    rec[THUMBNAIL_KEY] = thumbnail_data_uri(d.image)
                except Exception:
                    rec[THUMBNAIL_KEY] = None
        except Exception as e:
            return error_record(shown, f"preprocessing failed: {e.__class__.__name__}: {e}", d.sha256, d.size_bytes), None
        finally:
            d.image.close()
        self._add_provenance(rec, path)
        return rec, arrays

    def _greyscale(self, d) -> bool | None:
        """Whether the picture has no colour (``inputs.quality.is_greyscale``); None when neither the
        measured conditions nor the quality gates ask (``--no-quality-gates`` on a card without conditions)."""
        if self.conditions is None and not self.quality_gates:
            return None
        from ..inputs.quality import is_greyscale

        try:
            return is_greyscale(d.image, d.mode)
        except Exception:  # a measurement failure never costs the image its verdict
            return None

    def _jpeg_quality(self, d) -> tuple[int | None, str | None]:
        """The JPEG quality the image went through and where it was read (``inputs.jpeg_trace``:
        a JPEG's tables, or the pixels of a lossless file); (None, None) when none (never fatal)."""
        if self.conditions is None and not self.quality_gates:
            return None, None
        try:
            from ..inputs.jpeg_trace import decoded_jpeg_quality

            return decoded_jpeg_quality(d)
        except Exception:  # a measurement failure never costs the image its verdict
            return None, None

    def _condition(self, d, grey: bool | None = None, jpeg_quality: int | None = None,
                   jpeg_source: str | None = None) -> Any:
        """The image's measured condition (synthdetect.scan.conditions.assign), None without conditions;
        a gate's reason says when the JPEG quality was read from the pixels of a file that is not a JPEG."""
        if self.conditions is None:
            return None
        from ..inputs.codecs import codec_covered
        from ..inputs.jpeg_trace import PIXELS_NOTE

        lossy = None if not d.lossy_codec or codec_covered(d.lossy_codec, d.lossy_quality, self.codecs_calibrated) \
            else (d.lossy_codec, d.lossy_quality)
        got = assign(min(d.width, d.height), jpeg_quality, self.conditions, lossy, grey=bool(grey))
        if jpeg_source == "pixels" and got.reason:
            got.reason += PIXELS_NOTE
        return got

    def _quality(self, d, cond: Any = None, grey: bool | None = None,
                 jpeg: tuple[int | None, str | None] = (None, None)) -> dict[str, Any]:
        """The input-quality gates' measures and the gates this image fails (never fatal)."""
        try:
            from ..inputs.quality import assess

            q = assess(d.image, min_side=self.min_side, jpeg_quality=jpeg[0], jpeg_quality_source=jpeg[1],
                       lossy_codec=d.lossy_codec, lossy_quality=d.lossy_quality, greyscale=grey)
            out = q.to_dict()
            side = min(d.width, d.height)
            self._codec_covers(out, d.lossy_codec, d.lossy_quality)
            self._calibration_covers(out, "composite", self.composites_calibrated)
            self._calibration_covers(out, "greyscale", self.greyscale_calibrated)
            self._calibration_covers(out, "too_small", self.small_calibrated and side >= self.calibrated_min_side)
            for (gate, measure), floor in self.floors.items():
                value = out.get(measure)
                self._calibration_covers(out, gate, floor is not None and value is not None and value >= floor)
            if cond is not None:  # the measured conditions decide, not the size/quality proxies
                self._condition_gates(out, cond, d.lossy_codec)
            elif self.calibrated_min_side and side < self.calibrated_min_side and not any(
                    g["gate"] == "too_small" for g in out["failed"]):
                out["failed"].append({
                    "gate": "below_calibrated_size", "value": side, "threshold": self.calibrated_min_side,
                    "reason": f"The image is {d.width}x{d.height} px: the detectors' error rates were measured on "
                              f"images whose shorter side is at least {self.calibrated_min_side} px; on smaller or "
                              "downscaled images they raise more false alarms, so no calibrated verdict is given.",
                })
                out["ok"] = False
            return out
        except Exception as e:  # a measurement failure never costs the image its verdict
            return {"error": f"{e.__class__.__name__}: {e}", "failed": []}

    def _condition_gates(self, out: dict[str, Any], cond: Any, codec: str | None) -> None:
        """The gates where the image's measured condition decides: no ``recompressed`` proxy; a
        lossy file judged in a measured condition of its codec is not ``unmeasured_codec``; an
        image outside every condition gets the condition's gate (once)."""
        out["failed"] = [g for g in out["failed"] if g["gate"] != "recompressed"]
        if codec and cond.name is not None:
            self._calibration_covers(out, "unmeasured_codec", True)
        if cond.form == GREY:  # judged among the greyscale copies: their rates, or their gate naming them
            self._calibration_covers(out, "greyscale", True)
        elif codec:  # a greyscale lossy WebP/AVIF: neither the greyscale copies (JPEG) nor the codec's (colour) cover it
            self._grey_in_codec(out, codec)
        if cond.name is None and not any(g["gate"] in ("too_small", cond.gate) for g in out["failed"]):
            out["failed"].append({"gate": cond.gate, "value": cond.value, "threshold": cond.threshold,
                                  "reason": cond.reason})
        elif cond.name is None and cond.gate == "unmeasured_codec" and cond.reason:  # it names what was measured
            out["failed"] = [{**g, "threshold": cond.threshold, "reason": cond.reason} if g["gate"] == cond.gate else g
                             for g in out["failed"]]
        out["ok"] = not out["failed"]

    def _grey_in_codec(self, out: dict[str, Any], codec: str) -> None:
        """The ``greyscale`` gate's reason for a greyscale file in a lossy codec under a card with
        greyscale conditions: what was measured (greyscale JPEG copies, that codec in colour), not
        "colour images only"."""
        from ..inputs.codecs import NAMES, describe

        grey = ", ".join(sorted(measured_in(self.conditions or {}, GREY)))
        if not grey:
            return
        what, name = describe(codec, out.get("lossy_quality")), NAMES.get(codec, codec)
        in_colour = (f"and on {name} files in colour only" if measured_in(self.conditions or {}, codec)
                     or codec in self.codecs_calibrated else f"and not on {name} files at all")
        reason = (f"The image is greyscale, saved as {what}: the detectors' error rates on greyscale images were measured "
                  f"on greyscale JPEG copies of the calibration images ({grey}) {in_colour}; greyscale moves their "
                  "scores, so no calibrated verdict is given.")
        out["failed"] = [{**g, "reason": reason} if g["gate"] == "greyscale" else g for g in out["failed"]]

    def _codec_covers(self, out: dict[str, Any], codec: str | None, quality: int | None) -> None:
        """Lift the ``unmeasured_codec`` gate where every card measured this codec at this quality;
        where they measured the codec only at better qualities, say so in the gate's reason."""
        from ..inputs.codecs import codec_covered, gate

        self._calibration_covers(out, "unmeasured_codec", codec_covered(codec, quality, self.codecs_calibrated))
        floor = self.codecs_calibrated.get(codec) if codec else None
        if floor is not None:
            out["failed"] = [gate(codec, quality, floor) if g["gate"] == "unmeasured_codec" else g
                             for g in out["failed"]]

    @staticmethod
    def _calibration_covers(out: dict[str, Any], gate: str, covered: bool) -> None:
        """Drop ``gate`` from the failed gates when the cards' calibration images were like this
        image in that respect (their rates were measured on such images): ``<gate>_calibrated``."""
        if covered and any(g["gate"] == gate for g in out["failed"]):
            out["failed"] = [g for g in out["failed"] if g["gate"] != gate]
            out[gate + LIFTED_SUFFIX] = True
            out["ok"] = not out["failed"]

    def _add_provenance(self, rec: dict[str, Any], path: Path) -> None:
        if self.provenance is None:
            return
        try:
            rec["provenance"] = _text_safe(self.provenance(Path(path)))
        except Exception as e:
            rec["provenance"] = {"error": f"{e.__class__.__name__}: {e}"}

    # -- main thread ------------------------------------------------------------------
    def _finish(self, rec: dict[str, Any], probs: dict[str, float]) -> dict[str, Any]:
        """The record completed from the models' probabilities: each model's verdict, the ensemble's,
        then the quality gates' and the provenance's say on the final verdict."""
        plan = self.plan
        cond = condition_key(rec)
        members, models_out, rates = self._members(probs, cond)
        comb = combine(plan.method, members, plan.ensemble_threshold, plan.ensemble_margin)
        ens_op = plan.ensemble_operating(cond)
        verdict, rate = self._verdict_and_rate(comb, ens_op, members, rates)
        rec["models"] = models_out
        rec["ensemble"] = _ensemble_entry(comb, ens_op, verdict)
        rec["verdict"] = verdict
        rec["verdict_source"] = "detectors"
        rec["error_rate"] = condition_rate(rate, cond)
        rec["reasons"] = self._inconclusive_reasons(comb, members) if verdict == "inconclusive" else []
        self._apply_quality_gates(rec, cond, ens_op)
        self._provenance_verdict(rec)
        calibration_images.mark(rec, self.calibration_index)
        rec["error"] = None
        return rec

    def _members(
        self, probs: dict[str, float], cond: CondKey
    ) -> tuple[list[Member], dict[str, Any], dict[str, Any]]:
        """Each model as an ensemble member, its entry in the record's ``models``, and the calibrated
        error rate of its verdict (models with an operating point only)."""
        plan = self.plan
        members = []
        models_out = {}
        rates: dict[str, Any] = {}
        for m in self.models:
            c = m.card
            op = plan.member_operating(c, cond)
            mem = Member(
                name=c.name,
                probability=float(probs[c.name]),
                threshold=plan.member_threshold(c, cond),
                weight=plan.weights.get(c.name, 1.0),
                margin=0.0 if op is not None else float(c.inconclusive_margin or 0.0),
                t_lo=None if op is None else op.t_lo,
            )
            members.append(mem)
            out = {"probability": round(mem.probability, 6), "threshold": mem.threshold, "verdict": mem.verdict}
            if op is not None:
                out["threshold_real"] = op.t_lo
                rate = op.rate_for(mem.verdict)
                if rate is not None:
                    out["error_rate"] = condition_rate(rate, cond)
                rates[c.name] = rate
            models_out[c.name] = out
        return members, models_out, rates

    def _verdict_and_rate(
        self, comb: Combined, ens_op: Operating | None, members: list[Member], rates: dict[str, Any]
    ) -> tuple[str, Any]:
        """The detectors' verdict (the calibrated ensemble's three-way one where it has an operating
        point) and its error rate (the ensemble's, or the single model's)."""
        verdict = comb.verdict
        rate = None
        if ens_op is not None and comb.score is not None and not comb.tie:
            verdict = ens_op.verdict(comb.score)
            rate = ens_op.rate_for(verdict)
        elif self.plan.method == "none" and len(members) == 1:
            rate = rates.get(members[0].name)
        return verdict, rate

    def _inconclusive_reasons(self, comb: Combined, members: list[Member]) -> list[str]:
        """Why the detectors' verdict is inconclusive."""
        if comb.tie:
            return ["the members' votes are tied"]
        if self.plan.method == "none" and len(members) > 1 and len({m.verdict for m in members}) > 1:
            return ["the members disagree"]
        return ["score between the calibrated 'real' and 'synthetic' thresholds"]

    def _apply_quality_gates(self, rec: dict[str, Any], cond: CondKey, ens_op: Operating | None) -> None:
        """A failed quality gate (a measured condition whose rates break the budgets among them) turns a
        definite verdict into ``inconclusive`` with the gates' reasons (``detector_verdict`` kept)."""
        plan = self.plan
        quality = rec.get("quality")
        self._condition_gate(quality, cond, ens_op if ens_op is not None else (
            plan.member_operating(self.models[0].card, cond) if len(self.models) == 1 else None))
        if not (isinstance(quality, dict) and quality.get("failed")) or rec["verdict"] is None:
            return
        gates = [g["reason"] for g in quality["failed"]]
        if rec["verdict"] != "inconclusive":
            # the detectors are known not to work on such inputs: no definite verdict from them
            rec["detector_verdict"] = rec["verdict"]
            rec["verdict"] = "inconclusive"
            rec["error_rate"] = None
            rec["reasons"] = gates
        else:  # already between the thresholds: the gates are named first all the same (the footer counts them)
            rec["reasons"] = gates + [r for r in rec.get("reasons") or [] if r not in gates]

    def _condition_gate(self, quality: Any, cond: CondKey, op: Operating | None) -> None:
        """A measured condition whose rates at the thresholds used break the budgets is a failed gate."""
        why = None if op is None else breaks_budgets(op, op.max_false_alarm, op.max_miss, cond)
        if why and isinstance(quality, dict) and isinstance(quality.get("failed"), list):
            quality["failed"].append({"gate": "condition_rates", "value": condition_label(cond), "threshold": None,
                                      "reason": why})
            quality["ok"] = False

    @staticmethod
    def _provenance_verdict(rec: dict[str, Any]) -> None:
        """Explicit AI provenance makes the verdict ``synthetic`` with the evidence named (the
        detectors' fields stay as they are, so both can be read side by side)."""
        prov = rec.get("provenance")
        if isinstance(prov, dict) and prov.get("verdict_hint") == "synthetic":
            rec["verdict"] = "synthetic"
            rec["verdict_source"] = "provenance"
            rec["evidence"] = list(prov.get("ai_evidence") or [])
            rec["error_rate"] = None
            rec["reasons"] = []

    def _run_batch(self, items: list[tuple[dict[str, Any], dict[str, Any] | None]]) -> list[dict[str, Any]]:
        import numpy as np

        from ..inputs.preprocess import mean_per_image, stack_tiles

        ok = [(r, a) for r, a in items if a is not None]
        probs: list[dict[str, float]] = [{} for _ in ok]
        failed: dict[int, str] = {}

        def scores(m, arrays: list[dict[str, Any]], shared: dict[str, np.ndarray] | None = None) -> np.ndarray:
            """Per-image probabilities of model ``m``.  A probe reads its backbone's features averaged
            over each image's crops; with ``shared`` (backbone sha256 -> features) every backbone runs
            once for all the heads that use it."""
            bb = getattr(m, "backbone", None)
            if bb is not None and shared is not None and bb.card.sha256 in shared:
                return m.predict_features(shared[bb.card.sha256])
            x, counts = stack_tiles([a[input_spec(m).key()] for a in arrays])
            if bb is None:
                return mean_per_image(m.predict(x), counts)
            f = mean_per_image(bb.features(x), counts)
            if shared is not None:
                shared[bb.card.sha256] = f
            return m.predict_features(f)

        features: dict[str, np.ndarray] = {}
        if ok:
            for m in self.models:
                try:
                    for i, v in enumerate(scores(m, [a for _, a in ok], features)):
                        probs[i][m.name] = float(v)
                except Exception:
                    # retry one by one so a single bad tensor cannot take the batch down
                    rows: dict[str, list] = {}
                    for i, (_, a) in enumerate(ok):
                        one: dict[str, np.ndarray] = {}
                        try:
                            probs[i][m.name] = float(scores(m, [a], one)[0])
                            for sha, f in one.items():  # the image's features, for the domain check
                                rows.setdefault(sha, [None] * len(ok))[i] = f[0]
                        except Exception as e:
                            failed[i] = f"inference failed in {m.name}: {e.__class__.__name__}: {str(e).splitlines()[0] if str(e) else ''}"
                    for sha, fs in rows.items():  # NaN rows: images whose inference failed
                        dim = next(len(f) for f in fs if f is not None)
                        features.setdefault(sha, np.stack([np.full(dim, np.nan) if f is None else f for f in fs]))
        if ok and self.plan.domains:
            self._domain_info([r for r, _ in ok], features)
        if ok and self.filter_gates:
            self._apply_filter_gates([r for r, _ in ok], features)
        out = []
        j = 0
        for rec, arrays in items:
            if arrays is None:
                out.append(rec)
                continue
            if j in failed:
                out.append(error_record(rec["path"], failed[j], rec.get("sha256"), rec.get("bytes")))
            else:
                out.append(self._finish(rec, probs[j]))
            j += 1
        return out

    def _domain_info(self, recs: list[dict[str, Any]], features: dict[str, Any]) -> None:
        """Each image's backbone features (for the batch domain check after the scan, under the
        private ``domain_check.FEATURES_KEY``) and its typicality against each card's calibration images."""
        import numpy as np

        from .domain import encode_vector
        from .domain_check import FEATURES_KEY

        encoded: set[str] = set()
        for name, ref in self.plan.domains.items():
            f = features.get(ref.backbone_sha256)
            if f is None or len(f) != len(recs):
                continue
            ok = np.all(np.isfinite(f), axis=1)  # a failed image (NaN row) becomes an error record
            typ = np.full(len(f), np.nan)
            copies: list[Any] = [None] * len(f)
            if ok.any():
                typ[ok], found = ref.look_up(f[ok])
                for i, c in zip(np.flatnonzero(ok), found):
                    copies[i] = c
            fresh = ref.backbone_sha256 not in encoded
            encoded.add(ref.backbone_sha256)
            for rec, v, t, good, c in zip(recs, f, typ, ok, copies):
                if not good:
                    continue
                if fresh:
                    rec.setdefault(FEATURES_KEY, {})[ref.backbone_sha256] = encode_vector(v)
                rec.setdefault("domain", {}).setdefault("typicality", {})[name] = round(float(t), 4)
                if c is not None:
                    calibration_images.add_copy(rec, name, ref, *c)

    def scan(self, files: Iterable[Path]) -> Iterator[dict[str, Any]]:
        """Yield one record per file, in the order given (decoding in the bounded pool, inference here)."""
        batch: list[tuple[dict[str, Any], dict[str, Any] | None]] = []
        n_ok = 0
        for item in bounded_map(self._prepare, files, workers=self.workers,
                                max_inflight=max(2 * self.batch_size, 4 * self.workers)):
            batch.append(item)
            if item[1] is not None:
                n_ok += 1
            if n_ok >= self.batch_size:
                yield from self._run_batch(batch)
                batch, n_ok = [], 0
        if batch:
            yield from self._run_batch(batch)


@dataclass
class ScanResult:
    records: list[dict[str, Any]]
    summary: Summary
    plan: Plan
    models: list[Any]


def _counted(stream: Iterable[dict[str, Any]], tick: Callable[[], None] | None) -> Iterator[dict[str, Any]]:
    for rec in stream:
        if tick:
            tick()
        yield rec


def _withheld_untested(stream: Iterable[dict[str, Any]], domain: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """``--domain-check strict`` without any domain reference: every detector verdict withheld
    (records still stream; ``domain["withheld_untested"]`` counts them)."""
    from .domain_check import withhold_untested

    domain["withheld_untested"] = 0
    for rec in stream:
        domain["withheld_untested"] += withhold_untested(rec, "no model in this scan carries its calibration images")
        yield rec


def _scanned(
    sc: Scanner, files: list[Path], cache: Any,
    engine: Callable[[list[Path]], Iterable[dict[str, Any]]] | None,
) -> Iterable[dict[str, Any]]:
    """The records of ``files``, in order, from ``engine`` or the scanner, through ``cache`` when given."""
    # other engines and the result cache (synthdetect.scan.engines, synthdetect.scan.cache)
    scan_files = engine if engine is not None else sc.scan
    stream = cache.scan(scan_files, files) if cache is not None else scan_files(files)
    # -- end of hook
    return stream


def _domain_checked(
    stream: Iterable[dict[str, Any]], plan: Plan, domain_check: str, summary: Summary
) -> Iterable[dict[str, Any]]:
    """The records after the batch domain check (its report in ``summary.domain``): with a card's domain
    reference the whole batch is tested before any record passes on."""
    from .domain_check import check as check_domain
    from .domain_check import unavailable as domain_unavailable

    if domain_check != "off" and plan.domains:
        stream = list(stream)
        report = check_domain(stream, plan.domains, domain_check)
        summary.domain = report.to_dict() if report is not None else None
    elif domain_check != "off":
        summary.domain = domain_unavailable(domain_check)
        if domain_check == "strict":  # no card can tell its domain: no detector verdict is backed
            stream = _withheld_untested(stream, summary.domain)
    return stream


def _collect(
    stream: Iterable[dict[str, Any]], errors: list[InputError], summary: Summary,
    on_record: Callable[[dict[str, Any]], None] | None, on_scored: Callable[[], None] | None,
) -> list[dict[str, Any]]:
    """Every record, counted in ``summary``: the scanned ones (private features stripped), then one
    per discovery error."""
    from .domain_check import strip as strip_features

    records: list[dict[str, Any]] = []
    for rec in itertools.chain(stream, _error_records(errors, on_scored)):
        strip_features(rec)
        records.append(rec)
        summary.add(rec)
        if on_record:
            on_record(rec)
    return records


def _error_records(errors: list[InputError], on_scored: Callable[[], None] | None) -> Iterator[dict[str, Any]]:
    """One error record per discovery error, each counted as scored."""
    for err in errors:
        if on_scored:
            on_scored()
        yield error_record(display_path(err.path), err.reason)


def run_scan(
    inputs: list[str],
    plan: Plan,
    options: ScanOptions | None = None,
    recursive: bool = True,
    stdin=None,
    on_total: Callable[[int], None] | None = None,
    on_record: Callable[[dict[str, Any]], None] | None = None,
    on_scored: Callable[[], None] | None = None,
    scanner: Scanner | None = None,
    started: float | None = None,
    cache: Any = None,
    engine: Callable[[list[Path]], Iterable[dict[str, Any]]] | None = None,
    discovery: Any = None,
) -> ScanResult:
    """Discover, decode, detect; returns every record (discovery errors included, last).

    ``started``: a ``time.perf_counter()`` value to measure elapsed time from (the CLI
    passes the moment before it loaded the models, so model loading is included).
    ``cache``: a :class:`synthdetect.scan.cache.ScanCache` (cached records for unchanged files);
    ``engine``: a function ``files -> records in order`` replacing ``scanner.scan`` (e.g.
    :func:`synthdetect.scan.engines.ray_engine.RayEngine.scan`).
    ``discovery``: the :class:`synthdetect.inputs.discovery.Discovery` of ``inputs`` when the caller
    already ran it (the CLI does, to check ``--output`` against every file found first).
    ``on_scored``: called once per input as soon as its record exists (a progress bar: with the
    domain check, ``on_record`` only follows the batch test).
    ``options``: the scan's :class:`synthdetect.scan.options.ScanOptions` (default: the ``scanner``'s,
    else the defaults); a ``scanner`` is made from them when none is given.  With
    ``options.domain_check`` other than ``off``, and when a card carries a domain reference, records
    are passed on after the whole batch was tested (not as each image is scored).
    """
    from ..inputs.discovery import discover

    t0 = started if started is not None else time.perf_counter()
    opts = options if options is not None else (scanner.options if scanner is not None else ScanOptions())
    sc = scanner or Scanner(plan, opts)
    disc = discovery if discovery is not None else discover(inputs, recursive=recursive, stdin=stdin)
    summary = Summary(skipped_non_image=disc.skipped_non_image, symlink_loops=disc.symlink_loops)
    if on_total:
        on_total(len(disc.files) + len(disc.errors))
    stream = _counted(_scanned(sc, disc.files, cache, engine), on_scored)
    stream = _domain_checked(stream, plan, opts.domain_check, summary)
    records = _collect(stream, disc.errors, summary, on_record, on_scored)
    summary.elapsed_s = time.perf_counter() - t0
    return ScanResult(records=records, summary=summary, plan=plan, models=sc.models)
