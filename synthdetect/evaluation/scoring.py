"""Score labelled images with ONNX models (cards) or ensembles of them, without torch.

Every path goes through :func:`synthdetect.inputs.preprocess.to_inputs` with the model's InputSpec,
so evaluation here agrees with ``synthdetect scan``.  ONNX models run with onnxruntime (sha256
verified first).  A training run directory is scored by the ``run_scorer`` the caller passes to
:func:`resolve` (:class:`synthdetect.train.scoring.RunScorer`, which needs PyTorch): this package
never imports the training code.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
from PIL import Image

from ..cards import CardError, EnsembleCard, InputSpec, ModelCard, Registry
from ..scan.domain import load_for_card
from ..scan.ensemble import ensemble_scores
from ..inputs.datasets import Item
from ..inputs.decoding import DecodeError, decode
from ..inputs.preprocess import mean_per_image, stack_tiles, to_inputs
from .perturbations import apply_perturbations


class Scorer:
    name: str
    spec: InputSpec
    kind: str

    def threshold(self) -> float:
        return 0.5

    def probs(self, batch: np.ndarray) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def image_probs(self, batch: np.ndarray, counts: np.ndarray) -> np.ndarray:
        """One probability per image from its crops (``counts`` per image): the mean over crops."""
        return mean_per_image(self.probs(batch), counts)


class OnnxScorer(Scorer):
    kind = "onnx"

    def __init__(self, card: ModelCard, device: str = "auto", registry: Registry | None = None):
        # the inference engine's loaders: the same sessions as `synthdetect scan`
        from ..scan.runtime import load_models

        self.card = card
        self.name = card.name
        backbones = {}
        if card.is_probe:
            reg = registry or Registry([card.path.parent] if card.path else [])
            backbones[card.name] = reg.backbone_for(card)
        (self.model,) = load_models([card], device=device, threads=min(2, os.cpu_count() or 1), backbones=backbones)
        self.backbone = getattr(self.model, "backbone", None)
        self.spec = self.backbone.card.input if self.backbone is not None else card.input
        # a probe's calibration images' features: which scored images are copies of them (as scan finds them)
        self.domain = load_for_card(card) if card.is_probe else None

    def threshold(self) -> float:
        return self.card.effective_threshold()

    def probs(self, batch: np.ndarray) -> np.ndarray:
        return self.model.predict(batch.astype(np.float32))

    def image_probs(self, batch: np.ndarray, counts: np.ndarray) -> np.ndarray:
        return self.image_scores(batch, counts)[0]

    def image_scores(self, batch: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, dict[int, float]]:
        """Per image the probability; and, for the images that are copies of one of the card's
        calibration images (the same picture re-saved, re-encoded or perturbed: features closer than
        the domain reference's copy distance, :meth:`~synthdetect.scan.domain.DomainReference.look_up`),
        position -> that calibration image's out-of-fold probability (NaN when the card has none)."""
        if self.backbone is None:
            return super().image_probs(batch, counts), {}
        # a probe: the head reads the image's features averaged over its crops, as in scan
        f = mean_per_image(self.backbone.features(batch.astype(np.float32)), counts)
        copies: dict[int, float] = {}
        if self.domain is not None and len(f):
            for i, c in enumerate(self.domain.look_up(f)[1]):
                if c is not None:
                    copies[i] = float(self.domain.scores[c[0]])
        return self.model.predict_features(f), copies


@dataclass
class EnsembleSpec:
    name: str
    method: str
    members: list[Scorer]
    weights: dict[str, float] = field(default_factory=dict)
    card: EnsembleCard | None = None


def is_run_dir(p: Path) -> bool:
    return p.is_dir() and (p / "config.json").is_file() and (p / "best.pt").is_file()


RunScorerFactory = Callable[[Path, str], Scorer]  # (run directory, device) -> its scorer


def resolve(ref: str, registry: Registry | None = None, device: str = "auto",
            run_scorer: RunScorerFactory | None = None) -> Scorer | EnsembleSpec:
    """A run directory (scored by ``run_scorer``), a card / onnx path, an ensemble card path, or a
    registry name."""
    p = Path(ref)
    if is_run_dir(p):
        if run_scorer is None:
            raise CardError(f"{ref!r} is a training run directory: scoring it needs the training code "
                            "(synthdetect.train.scoring.RunScorer, PyTorch)")
        return run_scorer(p, device)
    if p.is_file() and p.name.endswith(".ensemble.json"):
        return _ensemble(EnsembleCard.load(p), registry, device, p.parent, run_scorer)
    if p.is_file() and p.suffix in (".json", ".onnx"):
        card = ModelCard.load(p.with_suffix(".json"))
        return OnnxScorer(card, device, Registry([p.parent, *((registry.dirs) if registry else [])]))
    reg = registry or Registry()
    if ref in reg.model_names():
        return OnnxScorer(reg.model(ref), device, reg)
    if ref in reg.ensemble_names():
        return _ensemble(reg.ensemble(ref), reg, device, None, run_scorer)
    raise CardError(f"{ref!r} is neither a run directory, a card/onnx file, nor an installed model or ensemble")


def _ensemble(card: EnsembleCard, registry: Registry | None, device: str, base: Path | None,
              run_scorer: RunScorerFactory | None) -> EnsembleSpec:
    reg = registry or Registry([base] if base else [])
    members: list[Scorer] = []
    for m in card.members:
        s = resolve(m, reg, device, run_scorer) if not (base and (base / f"{m}.json").exists()) else \
            OnnxScorer(ModelCard.load(base / f"{m}.json"), device, Registry([base, *reg.dirs]))
        if isinstance(s, EnsembleSpec):
            raise CardError(f"ensemble {card.name}: member {m} is itself an ensemble")
        members.append(s)
    card.check_members(s.card for s in members if getattr(s, "card", None) is not None)
    return EnsembleSpec(card.name, card.method, members, dict(card.weights), card)


def score_items(
    scorer: Scorer,
    items: Sequence[Item],
    perturb: list[tuple[str, float]] | None = None,
    batch_size: int = 16,
    on_batch: Callable[[int], None] | None = None,
    image_cache: ImageCache | None = None,
    copies: dict[int, float] | None = None,
    errors: dict[int, str] | None = None,
) -> np.ndarray:
    """Probabilities of synthetic for ``items`` (decode as ``scan`` decodes -> perturb -> to_inputs ->
    model -> mean over tiles).  ``copies``: filled with position -> out-of-fold probability for the
    items that are copies of the scorer's calibration images (:meth:`OnnxScorer.image_scores`).
    An image that cannot be decoded scores NaN and its one-line reason goes into ``errors``
    (position -> reason): one bad file never stops the evaluation."""
    out = []
    for s in range(0, len(items), batch_size):
        chunk = items[s : s + batch_size]
        xs, good = [], []
        for i, it in enumerate(chunk):
            try:
                xs.append(to_inputs(_decoded(it.path, perturb, image_cache), scorer.spec))
                good.append(i)
            except DecodeError as e:
                if errors is not None:
                    errors[s + i] = str(e)
        p = np.full(len(chunk), np.nan)
        if xs:
            x, counts = stack_tiles(xs)
            if copies is not None and isinstance(scorer, OnnxScorer):
                got, found = scorer.image_scores(x.astype(np.float32), counts)
                copies.update((s + good[i], v) for i, v in found.items())
            else:
                got = scorer.image_probs(x.astype(np.float32), counts)
            p[good] = got
        out.append(p)
        if on_batch:
            on_batch(len(chunk))
    return np.concatenate(out) if out else np.zeros(0)


class ImageCache:
    """Decoded (and perturbed) images shared between the models of one evaluation, up to a byte budget."""

    def __init__(self, budget_bytes: int = 1 << 30):
        self.budget = budget_bytes
        self.used = 0
        self._d: dict = {}

    def get(self, key):
        return self._d.get(key)

    def put(self, key, img: Image.Image) -> None:
        n = img.width * img.height * len(img.getbands())
        if self.used + n <= self.budget:
            self._d[key] = img
            self.used += n

    def __len__(self) -> int:
        return len(self._d)


def _decoded(path: Path, perturb, cache: ImageCache | None) -> Image.Image:
    key = (str(path), tuple(perturb or ()))
    if cache is not None:
        got = cache.get(key)
        if got is not None:
            return got
    img = decode(path).image
    if perturb:
        img = apply_perturbations(img, perturb)
    if cache is not None:
        cache.put(key, img)
    return img


def score_any(target: Scorer | EnsembleSpec, items: Sequence[Item], perturb=None, on_batch=None,
              image_cache: ImageCache | None = None) -> dict[str, Any]:
    """{'probs': [N] score, 'members': {name: probs}, 'threshold': default decision threshold,
    'copies': position -> out-of-fold probability of the items that are copies of the target's
    calibration images, per model name (an ensemble's members'), 'errors': position -> why the image
    could not be decoded (its score NaN)}."""
    copies: dict[str, dict[int, float]] = {}
    errors: dict[int, str] = {}
    if isinstance(target, EnsembleSpec):
        member_probs = {}
        for m in target.members:
            member_probs[m.name] = score_items(m, items, perturb, on_batch=on_batch, image_cache=image_cache,
                                               copies=copies.setdefault(m.name, {}), errors=errors)
        t = target.card.effective_threshold() if target.card else 0.5
        return {"probs": combine(target, member_probs), "members": member_probs, "threshold": t, "copies": copies,
                "errors": errors}
    probs = score_items(target, items, perturb, on_batch=on_batch, image_cache=image_cache,
                        copies=copies.setdefault(target.name, {}), errors=errors)
    return {"probs": probs, "members": {}, "threshold": target.threshold(), "copies": copies, "errors": errors}


def undecodable(scored: Sequence[dict[str, Any]]) -> list[tuple[int, str]]:
    """(position, one-line reason) of the images that could not be decoded, over several
    :func:`score_any` results (every target or member decodes the same files), in order."""
    errors: dict[int, str] = {}
    for s in scored:
        for i, e in (s.get("errors") or {}).items():
            errors.setdefault(i, e)
    return sorted(errors.items())


def left_out(items: Sequence[Item], bad: Sequence[tuple[int, str]]) -> list[str]:
    """``PATH: reason (left out)``, a line per image that could not be decoded (:func:`undecodable`)."""
    return [f"{items[i].path}: {e} (left out)" for i, e in bad]


def combine(target: EnsembleSpec, member_probs: dict[str, np.ndarray]) -> np.ndarray:
    """The ensemble's score from its members' probabilities (:func:`~synthdetect.scan.ensemble.ensemble_scores`)."""
    P = np.stack([member_probs[m.name] for m in target.members])
    thr = np.array([m.threshold() for m in target.members])
    w = np.array([target.weights.get(m.name, getattr(getattr(m, "card", None), "f1", None) or 1.0)
                  for m in target.members])
    return ensemble_scores(target.method, P, thr, w)


def progress():
    """The progress bar of an evaluation, on stderr (rich) when stderr is a terminal (not in a batch log)."""
    import sys

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=Console(stderr=True), disable=not sys.stderr.isatty())


def n_members(target: Scorer | EnsembleSpec) -> int:
    """How many models score each image for ``target`` (progress totals)."""
    return len(target.members) if isinstance(target, EnsembleSpec) else 1
