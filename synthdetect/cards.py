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
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

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


class IntegrityError(CardError):
    """A model or backbone file that is missing or no longer matches its card's SHA-256 (a damaged or
    tampered install): commands that had started exit 4, not 2."""


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
        a large photo is examined, a small one is never upscaled for it (unless ``upscale_below``).
    upscale_below: N (>= ``size``) upscales an image whose shorter side (after ``resize``) is
        below N to N, aspect kept, with ``interpolation``: a small image then yields several
        crops instead of one (``null``: only the upscale the crop needs).
    strip_frames: a uniform frame around the picture (a canvas, a letterbox;
        ``synthdetect.inputs.frames``) is cut off before anything else, so no crop reads it.
    flip: every crop is also scored mirrored left-right (twice the crops; the image's value is the
        mean over all of them): a generator's trace does not depend on the side the picture faces,
        content does, so the mean keeps more of the first.
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
    upscale_below: int | None = None
    strip_frames: bool = False
    flip: bool = False

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
        if self.upscale_below is not None:
            if int(self.upscale_below) < int(self.size):
                raise CardError(f"input.upscale_below ({self.upscale_below}) must be >= input.size ({self.size})")
            self.upscale_below = int(self.upscale_below)
        for name in ("strip_frames", "flip"):
            if not isinstance(getattr(self, name), bool):
                raise CardError(f"input.{name} must be true or false")
        self.mean = tuple(float(v) for v in self.mean)  # type: ignore[assignment]
        self.std = tuple(float(v) for v in self.std)  # type: ignore[assignment]
        if len(self.mean) != 3 or len(self.std) != 3 or min(self.std) <= 0:
            raise CardError("input.mean and input.std need three values, std > 0")

    def to_dict(self) -> dict[str, Any]:
        """The card's ``input`` object (``upscale_below``, ``strip_frames`` and ``flip`` only when
        set: older cards and cache keys stay as they were)."""
        d = asdict(self)
        d["mean"], d["std"] = list(self.mean), list(self.std)
        for name in ("upscale_below", "strip_frames", "flip"):
            if d[name] in (None, False):
                del d[name]
        return d

    def describe(self) -> str:
        """One line for listings: size, resize, crops and the optional steps."""
        parts = [f"{self.size}px" + (f" (shorter side {self.resize_to})" if self.resize == "shorter_side" else " native")]
        if self.tiles > 1:
            parts.append(f"up to {self.tiles}x{self.tiles} crops")
        if self.upscale_below:
            parts.append(f"images below {self.upscale_below}px upscaled")
        if self.strip_frames:
            parts.append("frames cut off")
        if self.flip:
            parts.append("crops also mirrored")
        return ", ".join(parts)

    def key(self) -> str:
        """A stable string identifying this transform (used for caches)."""
        return json.dumps(self.to_dict(), sort_keys=True)


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
        d["input"] = self.input.to_dict()
        return {"schema": d.pop("schema"), **d}

    def save(self, path: Path | str) -> Path:
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=False) + "\n")
        self.path = path
        return path

    @classmethod
    def from_dict(cls, d: dict[str, Any], path: Path | None = None) -> "ModelCard":
        """A card from its JSON object (no ``schema`` key: a model card), checked by :func:`validate_card`."""
        return _card_from_dict(cls, d, path, MODEL_SCHEMA, "model card", _MODEL_REQUIRED, default_schema=True)

    @classmethod
    def load(cls, path: Path | str) -> "ModelCard":
        return _load_card(cls, path, MODEL_SCHEMA, "model card", _MODEL_REQUIRED, default_schema=True)


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
    # member -> the SHA-256 of its model file when the ensemble was built: weights, calibration and rates
    # are that model's, and scan refuses another model of the same name (empty: older cards, not checked)
    member_sha256: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    schema: str = ENSEMBLE_SCHEMA
    path: Path | None = field(default=None, compare=False)

    def effective_threshold(self, override: float | None = None) -> float:
        if override is not None:
            return float(override)
        if self.calibrated_threshold is not None:
            return float(self.calibrated_threshold)
        return float(self.threshold)

    def check_members(self, cards: Iterable["ModelCard"]) -> None:
        """CardError when one of ``cards`` has a member's name but not the file the ensemble was built over
        (``member_sha256``): its weights, calibration and rates are not that model's."""
        for c in cards:
            sha = (self.member_sha256 or {}).get(c.name)
            if sha is not None and c.sha256 != sha:
                raise CardError(
                    f"ensemble {self.name} was built over {c.name} (sha256 {sha[:12]}…); the {c.name} found "
                    f"({c.path}) is another model (sha256 {c.sha256[:12]}…): the ensemble's weights and rates are "
                    f"not its; remove or rename that {c.name}, or rebuild the ensemble (synthdetect ensemble build)")

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
    gates: dict[str, Any] = field(default_factory=dict)  # name -> a filter gate (scan.filter_gate), with its measures
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


_MODEL_REQUIRED = ("name", "file", "sha256", "architecture")


def _load_card(cls: type, path: Path | str, schema: str, what: str, required: tuple[str, ...],
               default_schema: bool = False):
    """A card of ``schema`` from ``path``: the one way every card is read.  Any malformed card
    (unreadable, not JSON, not an object, of another kind, incomplete, a field of the wrong type
    or out of range) is a one-line CardError naming the file and the field."""
    path = Path(path)
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else _first_line(e)
        raise CardError(f"cannot read {what} {path}: {reason}") from None
    return _card_from_dict(cls, d, path, schema, what, required, default_schema)


def _card_from_dict(cls: type, d: Any, path: Path | None, schema: str, what: str, required: tuple[str, ...],
                    default_schema: bool = False):
    where = f"{what} {path}" if path is not None else what
    if not isinstance(d, dict):
        raise CardError(f"{where}: not a JSON object but {_json_kind(d)}")
    got = d.get("schema", schema if default_schema else None)
    if got != schema:
        raise CardError(f"{where}: not a {what} (schema {_show(got)})")
    d = {k: v for k, v in d.items() if k != "schema"}
    if "extra" in d and not isinstance(d["extra"], dict):
        raise CardError(f"{where}: field 'extra' must be a JSON object, not {_show(d['extra'])}")
    _unknown_keys_to_extra(cls, d)
    for req in required:
        if req not in d:
            raise CardError(f"{where} lacks {req!r}")
    validate_card(cls, d, where)
    try:
        return cls(**d, path=path)
    except CardError as e:  # the dataclasses' own checks (InputSpec.__post_init__, output)
        raise CardError(f"{where}: {e}") from None
    except (TypeError, ValueError, ArithmeticError) as e:  # a case the checks below missed: still one line
        raise CardError(f"{where}: {_first_line(e)}") from None


def _unknown_keys_to_extra(cls: type, d: dict[str, Any]) -> None:
    """Keys a newer card may carry, kept under ``extra`` instead of failing the load."""
    known = {f for f in cls.__dataclass_fields__ if f != "path"}
    for k in set(d) - known:
        d.setdefault("extra", {})[k] = d.pop(k)


def _first_line(e: BaseException) -> str:
    msg = str(e).strip().splitlines()
    return msg[0][:200] if msg else e.__class__.__name__


def _json_kind(v: Any) -> str:
    return {list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(v), "a number" if isinstance(v, (int, float)) else type(v).__name__)


def _show(v: Any) -> str:
    r = json.dumps(v) if isinstance(v, (str, int, float, bool, type(None))) else _json_kind(v)
    return r if len(r) <= 60 else r[:57] + "..."


def _is_number(v: Any) -> bool:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return False
    try:  # a 400-digit JSON integer overflows float: not a usable number either
        return math.isfinite(v)
    except OverflowError:
        return False


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


_OPT = {"str": (lambda v: isinstance(v, str), "a string"),
        "float": (_is_number, "a number"),
        "int": (_is_int, "an integer"),
        "bool": (lambda v: isinstance(v, bool), "true or false"),
        "dict[str, Any]": (lambda v: isinstance(v, dict), "a JSON object"),
        "InputSpec": (lambda v: isinstance(v, dict), "a JSON object"),
        "list[str]": (lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v), "a list of strings"),
        "dict[str, float]": (lambda v: isinstance(v, dict) and all(map(_is_number, v.values())),
                             "a JSON object of numbers"),
        "dict[str, str]": (lambda v: isinstance(v, dict) and all(isinstance(x, str) for x in v.values()),
                           "a JSON object of strings"),
        "tuple[float, float, float]": (lambda v: isinstance(v, list) and len(v) == 3 and all(map(_is_number, v)),
                                       "a list of three numbers")}
def _is_sha256(v: Any) -> bool:
    return isinstance(v, str) and len(v) == 64 and all(c in "0123456789abcdef" for c in v)


# field -> (check, what it must be) beyond its type
ENSEMBLE_METHODS = ("majority", "weighted", "mean", "soft-or")  # ensemble.METHODS less "none"
_RANGES: dict[str, tuple[Any, str]] = {
    "file": (lambda v: v not in ("", ".", "..") and Path(v).name == v and "\\" not in v and "\0" not in v,
             "the name of a file beside the card (no directory part)"),
    "sha256": (lambda v: _is_sha256(v), "64 lowercase hex digits"),
    "threshold": (lambda v: 0.0 <= v <= 1.0 + 1e-9, "a probability in [0, 1]"),
    "calibrated_threshold": (lambda v: 0.0 <= v <= 1.0 + 1e-9, "a probability in [0, 1]"),  # may sit just above a score of 1
    "f1": (lambda v: 0.0 <= v <= 1.0, "in [0, 1]"),
    "inconclusive_margin": (lambda v: 0.0 <= v <= 0.5, "in [0, 0.5]"),
    "dim": (lambda v: v > 0, "a positive integer"),
    "members": (lambda v: len(v) > 0, "a non-empty list of model names"),
    "method": (lambda v: v in ENSEMBLE_METHODS, "one of " + ", ".join(ENSEMBLE_METHODS)),
    "weights": (lambda v: all(w >= 0 for w in v.values()), "non-negative numbers"),
    "member_sha256": (lambda v: all(map(_is_sha256, v.values())), "member names with their 64-hex-digit SHA-256"),
    "size": (lambda v: 8 <= v <= 4096, "an integer in [8, 4096]"),
    "resize_to": (lambda v: 8 <= v <= 8192, "an integer in [8, 8192]"),
    "tiles": (lambda v: 1 <= v <= 8, "an integer in [1, 8]"),
    "std": (lambda v: min(v) > 0, "three positive numbers"),
}

def validate_card(cls: type, d: dict[str, Any], where: str, prefix: str = "") -> None:
    """CardError naming ``where`` and the field unless every known field of ``d`` has its type and
    range (``cls``'s annotations say the type; ``None`` is allowed where they allow it)."""
    fields = cls.__dataclass_fields__
    for k, v in d.items():
        if k not in fields or k == "path":
            continue
        ann = str(fields[k].type).replace(" | None", "")
        if v is None and ann != str(fields[k].type):  # Optional
            continue
        name = prefix + k
        check, want = _OPT.get(ann, (lambda _: True, ""))
        if not check(v):
            raise CardError(f"{where}: field {name!r} must be {want}, not {_show(v)}")
        rng = _RANGES.get(k)
        if rng and not rng[0](v):
            raise CardError(f"{where}: field {name!r} must be {rng[1]}, not {_show(v)}")
    if isinstance(d.get("input"), dict):
        unknown = sorted(set(d["input"]) - set(InputSpec.__dataclass_fields__))
        if unknown:
            raise CardError(f"{where}: unknown field {'input.' + unknown[0]!r}")
        validate_card(InputSpec, d["input"], where, "input.")
    if isinstance(d.get("calibration"), dict):
        from .scan.calibration import CalibrationSet

        try:
            CalibrationSet.from_dict(d["calibration"])
        except (TypeError, ValueError, KeyError, AttributeError, ArithmeticError) as e:
            raise CardError(f"{where}: field {prefix + 'calibration'!r}: {_first_line(e)}") from None


def atomic_write(path: Path | str, write: Callable[[Any], None], binary: bool = False) -> Path:
    """The one way a model file (card, head, domain reference) is written: ``write(f)`` into a
    temporary file beside ``path``, made readable like the other model files (0644), then renamed
    over ``path`` so readers never see half a file and concurrent writers never share a name."""
    import tempfile

    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb" if binary else "w") as f:
            write(f)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def sha256_file(path: Path | str, chunk: int = 1 << 20, opener=None) -> str:
    """The one file hash: SHA-256 hex digest, read in ``chunk`` bytes (``opener``: e.g. the
    evidence reader's no-atime open, ``synthdetect.inputs.discovery.noatime_opener``)."""
    h = hashlib.sha256()
    with open(path, "rb", opener=opener) as f:
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


@dataclass
class BrokenCard:
    """A card file that did not load: listed as broken (with the reason), never skipped silently."""

    kind: str  # model | ensemble | backbone
    name: str
    path: Path
    reason: str  # one line, names the file and the field

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "name": self.name, "card_path": str(self.path), "reason": self.reason}


def card_files(directory: Path) -> list[tuple[str, str, Path]]:
    """(kind, name, card path) for every card in ``directory``: ``NAME.ensemble.json``,
    ``NAME.backbone.json`` and every other ``NAME.json`` (a model card).  ``NAME.head.json`` is
    a probe's head, not a card: it is checked as its card's ``file``."""
    out = []
    for p in sorted(directory.glob("*.json")):
        if p.name.endswith(HEAD_SUFFIX):
            continue
        for kind, suffix in (("ensemble", ENSEMBLE_SUFFIX), ("backbone", BACKBONE_SUFFIX), ("model", ".json")):
            if p.name.endswith(suffix):
                out.append((kind, p.name[: -len(suffix)], p))
                break
    return out


def load_any(kind: str, path: Path) -> "ModelCard | EnsembleCard | BackboneCard | BrokenCard":
    """The card of ``kind`` at ``path``, or a BrokenCard saying why it is malformed."""
    cls = {"model": ModelCard, "ensemble": EnsembleCard, "backbone": BackboneCard}[kind]
    try:
        return cls.load(path)
    except CardError as e:
        name = path.name[: -len({"ensemble": ENSEMBLE_SUFFIX, "backbone": BACKBONE_SUFFIX}.get(kind, ".json"))]
        return BrokenCard(kind, name, path, str(e))


class Registry:
    """Finds model, ensemble and backbone cards across the search path (first hit wins).

    Every card goes through the one validator (:func:`_load_card`); a malformed one is kept as
    a :class:`BrokenCard`: listed by :meth:`broken`, and an error only for whoever asks for it."""

    def __init__(self, extra_dirs: Iterable[Path | str] = ()):
        self.dirs = search_dirs(extra_dirs)
        self._memo: tuple[tuple, dict[str, dict[str, Any]]] | None = None

    def _entries(self) -> dict[str, dict[str, Any]]:
        """kind -> name -> card or BrokenCard; re-read when a card file changes."""
        files = [f for d in self.dirs if d.is_dir() for f in card_files(d)]
        sig = []
        for _, _, p in files:
            try:
                st = p.stat()
                sig.append((str(p), st.st_mtime_ns, st.st_size))
            except OSError:
                sig.append((str(p), None, None))
        if self._memo is not None and self._memo[0] == tuple(sig):
            return self._memo[1]
        out: dict[str, dict[str, Any]] = {"model": {}, "ensemble": {}, "backbone": {}}
        for kind, name, p in files:
            if name not in out[kind]:
                out[kind][name] = load_any(kind, p)
        self._memo = (tuple(sig), out)
        return out

    def _get(self, kind: str, name: str) -> Any:
        entry = self._entries()[kind].get(name)
        if isinstance(entry, BrokenCard):
            raise CardError(entry.reason)
        return entry

    def broken(self) -> list[BrokenCard]:
        """Cards that did not load, in search-path order of kind and name."""
        return [c for k in ("model", "ensemble", "backbone") for _, c in sorted(self._entries()[k].items())
                if isinstance(c, BrokenCard)]

    def backbone_names(self) -> list[str]:
        return sorted(self._entries()["backbone"])

    def backbones(self) -> list[BackboneCard]:
        """The backbones whose cards load (see :meth:`broken` for the others)."""
        return [c for _, c in sorted(self._entries()["backbone"].items()) if not isinstance(c, BrokenCard)]

    def backbone(self, name: str, sha256: str | None = None) -> BackboneCard:
        """The backbone called ``name``; with ``sha256``, the one whose ONNX file has that digest
        (a probe is bound to the exact backbone it was fitted on)."""
        found = self._entries()["backbone"]
        if sha256:
            named = found.get(name)
            if isinstance(named, BackboneCard) and named.sha256 == sha256:
                return named
            for c in self.backbones():
                if c.sha256 == sha256:
                    return c
            if isinstance(named, BrokenCard):
                raise CardError(named.reason)
            raise CardError(f"no backbone with sha256 {sha256[:12]}… (named {name!r}) on the search path; "
                            f"installed backbones: {', '.join(sorted(found)) or 'none'}")
        if name not in found:
            raise CardError(f"no backbone named {name!r}; installed: {', '.join(sorted(found)) or 'none'}")
        return self._get("backbone", name)

    def backbone_for(self, card: ModelCard) -> BackboneCard:
        if not card.backbone:
            raise CardError(f"{card.name} is not a probe")
        return self.backbone(str(card.backbone.get("name", "")), card.backbone.get("sha256"))

    def model_names(self) -> list[str]:
        """Every model card found, broken ones included (asking for one gives its error)."""
        return sorted(self._entries()["model"])

    def usable_model_names(self) -> list[str]:
        """The models whose cards load."""
        return [n for n, c in sorted(self._entries()["model"].items()) if not isinstance(c, BrokenCard)]

    def ensemble_names(self) -> list[str]:
        return sorted(self._entries()["ensemble"])

    def model(self, name: str) -> ModelCard:
        models = self._entries()["model"]
        if name not in models:
            raise CardError(
                f"no model named {name!r} (looked in: {', '.join(map(str, self.dirs))}); "
                f"installed: {', '.join(sorted(models)) or 'none'}"
            )
        return self._get("model", name)

    def models(self) -> list[ModelCard]:
        """The models whose cards load (see :meth:`broken` for the others)."""
        return [c for _, c in sorted(self._entries()["model"].items()) if not isinstance(c, BrokenCard)]

    def ensemble(self, name: str) -> EnsembleCard:
        ens = self._entries()["ensemble"]
        if name not in ens:
            raise CardError(f"no ensemble named {name!r}; installed: {', '.join(sorted(ens)) or 'none'}")
        return self._get("ensemble", name)

    def ensembles(self) -> list[EnsembleCard]:
        return [c for _, c in sorted(self._entries()["ensemble"].items()) if not isinstance(c, BrokenCard)]

    def default_ensemble(self) -> EnsembleCard | None:
        """``default.ensemble.json`` when there is one (a CardError when it is broken)."""
        return self._get("ensemble", "default")


def hub_provenance(card: Any) -> dict | None:
    """For a model converted by ``synthdetect weights`` (its card has ``extra.hub``): the entry, whether
    every file matched a published digest (``verified``), and where each file came from; else None.

    Cards written before ``verified`` was recorded are read from their ``check`` text.
    """
    hub = (getattr(card, "extra", None) or {}).get("hub")
    if not isinstance(hub, dict):
        return None
    files = [f for f in hub.get("files") or [] if isinstance(f, dict)]

    def published(f: dict) -> bool:
        if "verified" in f:
            return f["verified"] is True
        return f.get("check") == "matches published sha256"

    return {
        "entry": hub.get("entry"),
        "verified": bool(files) and all(published(f) for f in files),
        "files": [{"file": f.get("file"), "digest": "published" if published(f) else "recorded on first use",
                   "from": f.get("from") or f.get("imported_from") or f.get("url")} for f in files],
    }


def unverified_provenance(card: Any) -> dict | None:
    """:func:`hub_provenance` of a model whose weights' digest was only recorded on first use, else None."""
    prov = hub_provenance(card)
    return prov if prov is not None and not prov["verified"] else None


def verify_sha256(card: "ModelCard | BackboneCard") -> None:
    """Raise IntegrityError (a CardError) unless the ONNX file is there and its digest matches the card."""
    p = card.model_path
    if not p.exists():
        raise IntegrityError(f"{card.name}: model file {p} is missing")
    got = sha256_file(p)
    if got != card.sha256:
        raise IntegrityError(f"{card.name}: sha256 mismatch for {p.name}: card {card.sha256[:12]}…, file {got[:12]}…")
