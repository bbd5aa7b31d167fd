"""Model cards, ensemble cards and the model registry.

A model is ``NAME.onnx`` with a card ``NAME.json`` beside it.  An ensemble is a
card ``NAME.ensemble.json`` naming member models.  Cards are plain JSON so that
an analyst can read them; the schema is documented in ``docs/cards.md`` (models, probes, backbones, ensembles, calibration).

Search path for models (first hit wins, in this order):
  1. ``--models-dir`` directories given on the command line,
  2. ``$SYNTHDETECT_MODELS_DIR`` (``os.pathsep``-separated),
  3. the user model directory (platformdirs ``user_data_dir('synthdetect')/models``),
  4. the bundled ``weights/`` directory.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable

MODEL_SCHEMA = "synthdetect.model-card/1"
ENSEMBLE_SCHEMA = "synthdetect.ensemble-card/1"
BACKBONE_SCHEMA = "synthdetect.backbone-card/1"
ENV_MODELS_DIR = "SYNTHDETECT_MODELS_DIR"

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class CardError(ValueError):
    """A card is missing, malformed, or does not match its model file."""


@dataclass
class InputSpec:
    """How an image becomes the model's input tensor (see ``preprocess.py``).

    resize: ``"none"`` keeps native resolution (forensic traces survive);
        ``"shorter_side"`` resizes the shorter side to ``resize_to`` (aspect kept).
        In both cases an image whose shorter side is below ``size`` is upscaled
        (aspect kept) just enough to allow the crop: never zero-padded.
    crop: ``"center"``: a ``size`` x ``size`` centre crop.
    tiles: K > 1 scores up to K x K non-overlapping native ``size`` crops around the centre
        (as many as the image holds, at least one) and averages their probabilities: more of
        a large photo is examined, a small one is never upscaled for it.
    mean/std: per-channel normalisation applied to RGB values scaled to [0, 1].
    """

    size: int = 224
    resize: str = "none"
    resize_to: int | None = None
    interpolation: str = "bilinear"
    crop: str = "center"
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    tiles: int = 1

    def __post_init__(self) -> None:
        if self.resize not in ("none", "shorter_side"):
            raise CardError(f"input.resize must be 'none' or 'shorter_side', not {self.resize!r}")
        if self.resize == "shorter_side" and not self.resize_to:
            raise CardError("input.resize 'shorter_side' needs input.resize_to")
        if self.crop != "center":
            raise CardError(f"input.crop must be 'center', not {self.crop!r}")
        if self.interpolation not in ("bilinear", "bicubic", "nearest", "lanczos"):
            raise CardError(f"unknown input.interpolation {self.interpolation!r}")
        if int(self.size) < 8:
            raise CardError("input.size must be >= 8")
        if not 1 <= int(self.tiles) <= 8:
            raise CardError("input.tiles must be between 1 and 8")
        self.tiles = int(self.tiles)
        self.mean = tuple(float(v) for v in self.mean)  # type: ignore[assignment]
        self.std = tuple(float(v) for v in self.std)  # type: ignore[assignment]
        if len(self.mean) != 3 or len(self.std) != 3 or min(self.std) <= 0:
            raise CardError("input.mean and input.std need three values, std > 0")

    def key(self) -> str:
        """A stable string identifying this transform (used for caches)."""
        return json.dumps(asdict(self), sort_keys=True)


@dataclass
class ModelCard:
    """Everything needed to run one ONNX model and to judge its output.

    ONNX contract: one float32 input ``NCHW`` (dynamic batch), one output of
    shape ``[N]`` or ``[N, 1]``: a logit when ``output == "logit"``, else a
    probability that the image is synthetic.
    """

    name: str
    file: str
    sha256: str
    architecture: str
    input: InputSpec = field(default_factory=InputSpec)
    output: str = "logit"
    threshold: float = 0.5
    calibrated_threshold: float | None = None
    calibrated_on: str | None = None
    f1: float | None = None  # F1 at the calibrated threshold: the weight in weighted voting
    inconclusive_margin: float = 0.0  # |p - thr| < margin => "inconclusive"
    # a probe: a head file (``file``) over the features of a backbone named here by name and sha256
    backbone: dict[str, Any] | None = None
    # out-of-fold scores of labelled images the model was not trained on (see calibration.py)
    calibration: dict[str, Any] | None = None
    # the calibration domain: a sidecar NAME.domain.npz (file, sha256) and its summary (domain.py)
    domain: dict[str, Any] | None = None
    family: str = ""
    description: str = ""
    training: dict[str, Any] = field(default_factory=dict)
    licence: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)
    parity: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    schema: str = MODEL_SCHEMA
    path: Path | None = field(default=None, compare=False)  # where the card was read from

    def __post_init__(self) -> None:
        if isinstance(self.input, dict):
            self.input = InputSpec(**self.input)
        if self.output not in ("logit", "probability"):
            raise CardError(f"{self.name}: output must be 'logit' or 'probability'")

    @property
    def model_path(self) -> Path:
        base = self.path.parent if self.path else Path(".")
        return base / self.file

    @property
    def is_probe(self) -> bool:
        return self.backbone is not None

    def effective_threshold(self, override: float | None = None) -> float:
        """``--threshold auto`` => the calibrated threshold when known, else 0.5."""
        if override is not None:
            return float(override)
        if self.calibrated_threshold is not None:
            return float(self.calibrated_threshold)
        return float(self.threshold)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("path", None)
        d["input"] = asdict(self.input)
        d["input"]["mean"] = list(self.input.mean)
        d["input"]["std"] = list(self.input.std)
        return {"schema": d.pop("schema"), **d}

    def save(self, path: Path | str) -> Path:
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=False) + "\n")
        self.path = path
        return path

    @classmethod
    def from_dict(cls, d: dict[str, Any], path: Path | None = None) -> "ModelCard":
        d = dict(d)
        schema = d.get("schema", MODEL_SCHEMA)
        if schema != MODEL_SCHEMA:
            raise CardError(f"unsupported model card schema {schema!r}")
        _unknown_keys_to_extra(cls, d)
        for req in ("name", "file", "sha256", "architecture"):
            if req not in d:
                raise CardError(f"card {path or ''} lacks {req!r}")
        return cls(**d, path=path)

    @classmethod
    def load(cls, path: Path | str) -> "ModelCard":
        path = Path(path)
        try:
            d = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise CardError(f"cannot read card {path}: {e}") from e
        return cls.from_dict(d, path=path)


@dataclass
class EnsembleCard:
    """A named ensemble: members, voting method, weights and thresholds."""

    name: str
    members: list[str]
    method: str = "weighted"  # majority | weighted | mean | soft-or
    weights: dict[str, float] = field(default_factory=dict)  # member -> weight (F1)
    weights_from: str | None = None
    threshold: float = 0.5
    calibrated_threshold: float | None = None
    calibrated_on: str | None = None
    f1: float | None = None
    inconclusive_margin: float = 0.0
    calibration: dict[str, Any] | None = None  # out-of-fold ensemble scores (see calibration.py)
    description: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    schema: str = ENSEMBLE_SCHEMA
    path: Path | None = field(default=None, compare=False)

    def effective_threshold(self, override: float | None = None) -> float:
        if override is not None:
            return float(override)
        if self.calibrated_threshold is not None:
            return float(self.calibrated_threshold)
        return float(self.threshold)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("path", None)
        return {"schema": d.pop("schema"), **d}

    def save(self, path: Path | str) -> Path:
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        self.path = path
        return path

    @classmethod
    def load(cls, path: Path | str) -> "EnsembleCard":
        return _load_card(cls, path, ENSEMBLE_SCHEMA, "ensemble card", ("name", "members"))


@dataclass
class BackboneCard:
    """A pretrained feature extractor: ``NAME.onnx`` + ``NAME.backbone.json``.

    ONNX contract: input ``input`` float32 ``[N, 3, S, S]`` normalised per ``input``; output
    ``features`` float32 ``[N, dim]``.  Probes name their backbone by ``name`` and ``sha256``.
    """

    name: str
    file: str
    sha256: str
    architecture: str
    dim: int
    input: InputSpec = field(default_factory=InputSpec)
    description: str = ""
    features: dict[str, Any] = field(default_factory=dict)  # layers, pooling
    source: dict[str, Any] = field(default_factory=dict)  # package, file, sha256 of the weights, url
    licence: str = ""
    parity: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    schema: str = BACKBONE_SCHEMA
    path: Path | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.input, dict):
            self.input = InputSpec(**self.input)
        self.dim = int(self.dim)

    @property
    def model_path(self) -> Path:
        base = self.path.parent if self.path else Path(".")
        return base / self.file

    to_dict = ModelCard.to_dict  # the same layout: input spec as plain lists
    save = ModelCard.save

    @classmethod
    def load(cls, path: Path | str) -> "BackboneCard":
        return _load_card(cls, path, BACKBONE_SCHEMA, "backbone card", ("name", "file", "sha256", "architecture", "dim"))


def _load_card(cls: type, path: Path | str, schema: str, what: str, required: tuple[str, ...]):
    """A card of ``schema`` from ``path``: one-line CardError when unreadable, of another kind or incomplete."""
    path = Path(path)
    try:
        d = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise CardError(f"cannot read {what} {path}: {e}") from e
    if d.get("schema") != schema:
        raise CardError(f"{path}: not a {what} (schema {d.get('schema')!r})")
    d.pop("schema")
    _unknown_keys_to_extra(cls, d)
    for req in required:
        if req not in d:
            raise CardError(f"{what} {path} lacks {req!r}")
    return cls(**d, path=path)


def _unknown_keys_to_extra(cls: type, d: dict[str, Any]) -> None:
    """Keys a newer card may carry, kept under ``extra`` instead of failing the load."""
    known = {f for f in cls.__dataclass_fields__ if f != "path"}
    for k in set(d) - known:
        d.setdefault("extra", {})[k] = d.pop(k)


def sha256_file(path: Path | str, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(chunk)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def bundled_dir() -> Path:
    """The ``weights/`` directory shipped with the project.

    In a source checkout or editable install it is ``<repo>/weights``; a wheel
    install carries it as ``synthdetect/_weights`` when the build copied it.
    """
    here = Path(__file__).resolve().parent
    for cand in (here.parent / "weights", here / "_weights"):
        if cand.is_dir():
            return cand
    return here.parent / "weights"


def user_models_dir() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("synthdetect", appauthor=False)) / "models"


def search_dirs(extra: Iterable[Path | str] = ()) -> list[Path]:
    dirs: list[Path] = [Path(p) for p in extra]
    env = os.environ.get(ENV_MODELS_DIR)
    if env:
        dirs += [Path(p) for p in env.split(os.pathsep) if p]
    dirs.append(user_models_dir())
    dirs.append(bundled_dir())
    seen: set[Path] = set()
    out = []
    for d in dirs:
        r = d.expanduser().resolve()
        if r not in seen:
            seen.add(r)
            out.append(r)
    return out


ENSEMBLE_SUFFIX = ".ensemble.json"
BACKBONE_SUFFIX = ".backbone.json"
HEAD_SUFFIX = ".head.json"


class Registry:
    """Finds model and ensemble cards across the search path."""

    def __init__(self, extra_dirs: Iterable[Path | str] = ()):
        self.dirs = search_dirs(extra_dirs)

    def _scan_all(self) -> tuple[dict[str, Path], dict[str, Path], dict[str, Path]]:
        """(models, ensembles, backbones): name -> card path, first hit on the search path wins.

        ``NAME.json`` is a model card when ``NAME.onnx`` (a network) or ``NAME.head.json``
        (a probe over a backbone) lies beside it."""
        models: dict[str, Path] = {}
        ensembles: dict[str, Path] = {}
        backbones: dict[str, Path] = {}
        for d in self.dirs:
            if not d.is_dir():
                continue
            for p in sorted(d.glob("*.json")):
                if p.name.endswith(ENSEMBLE_SUFFIX):
                    ensembles.setdefault(p.name[: -len(ENSEMBLE_SUFFIX)], p)
                elif p.name.endswith(BACKBONE_SUFFIX):
                    backbones.setdefault(p.name[: -len(BACKBONE_SUFFIX)], p)
                elif p.name.endswith(HEAD_SUFFIX):
                    continue
                elif p.with_suffix(".onnx").exists() or p.with_name(p.stem + HEAD_SUFFIX).exists():
                    models.setdefault(p.stem, p)
        return models, ensembles, backbones

    def _scan(self) -> tuple[dict[str, Path], dict[str, Path]]:
        models, ensembles, _ = self._scan_all()
        return models, ensembles

    def backbone_names(self) -> list[str]:
        return sorted(self._scan_all()[2])

    def backbones(self) -> list[BackboneCard]:
        return [BackboneCard.load(p) for _, p in sorted(self._scan_all()[2].items())]

    def backbone(self, name: str, sha256: str | None = None) -> BackboneCard:
        """The backbone called ``name``; with ``sha256``, the one whose ONNX file has that digest
        (a probe is bound to the exact backbone it was fitted on)."""
        found = self._scan_all()[2]
        if sha256:
            if name in found:
                c = BackboneCard.load(found[name])
                if c.sha256 == sha256:
                    return c
            for p in found.values():
                c = BackboneCard.load(p)
                if c.sha256 == sha256:
                    return c
            raise CardError(f"no backbone with sha256 {sha256[:12]}… (named {name!r}) on the search path; "
                            f"installed backbones: {', '.join(sorted(found)) or 'none'}")
        if name not in found:
            raise CardError(f"no backbone named {name!r}; installed: {', '.join(sorted(found)) or 'none'}")
        return BackboneCard.load(found[name])

    def backbone_for(self, card: ModelCard) -> BackboneCard:
        if not card.backbone:
            raise CardError(f"{card.name} is not a probe")
        return self.backbone(str(card.backbone.get("name", "")), card.backbone.get("sha256"))

    def model_names(self) -> list[str]:
        return sorted(self._scan()[0])

    def ensemble_names(self) -> list[str]:
        return sorted(self._scan()[1])

    def model(self, name: str) -> ModelCard:
        models, _ = self._scan()
        if name not in models:
            raise CardError(
                f"no model named {name!r} (looked in: {', '.join(map(str, self.dirs))}); "
                f"installed: {', '.join(sorted(models)) or 'none'}"
            )
        return ModelCard.load(models[name])

    def models(self) -> list[ModelCard]:
        return [ModelCard.load(p) for _, p in sorted(self._scan()[0].items())]

    def ensemble(self, name: str) -> EnsembleCard:
        _, ens = self._scan()
        if name not in ens:
            raise CardError(f"no ensemble named {name!r}; installed: {', '.join(sorted(ens)) or 'none'}")
        return EnsembleCard.load(ens[name])

    def ensembles(self) -> list[EnsembleCard]:
        return [EnsembleCard.load(p) for _, p in sorted(self._scan()[1].items())]

    def default_ensemble(self) -> EnsembleCard | None:
        _, ens = self._scan()
        return EnsembleCard.load(ens["default"]) if "default" in ens else None


def verify_sha256(card: "ModelCard | BackboneCard") -> None:
    """Raise CardError unless the ONNX file's digest matches the card."""
    p = card.model_path
    if not p.exists():
        raise CardError(f"{card.name}: model file {p} is missing")
    got = sha256_file(p)
    if got != card.sha256:
        raise CardError(f"{card.name}: sha256 mismatch for {p.name}: card {card.sha256[:12]}…, file {got[:12]}…")
