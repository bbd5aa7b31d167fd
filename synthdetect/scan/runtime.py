"""onnxruntime sessions for model cards (no torch).

* One session per model, created once and reused for every batch.
* The model file's SHA-256 is verified against its card before the session exists.
* ``device``: ``cpu`` -> CPU provider only; ``cuda`` -> CUDA provider, an error when it
  does not really work; ``auto`` -> CUDA when it works, else CPU.  "Works" is checked
  with ``session.get_providers()`` after creation (onnxruntime-gpu silently falls
  back to CPU when the CUDA libraries are missing).  onnxruntime's log about missing
  CUDA libraries is silenced while probing.
* The input batch dimension is dynamic; output ``[N]`` or ``[N, 1]``, a logit (sigmoid
  applied here) or a probability, as the card says.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..cards import BackboneCard, CardError, ModelCard, verify_sha256
from .heads import LinearHead, sigmoid

DEVICES = ("auto", "cpu", "cuda")


class RuntimeSetupError(RuntimeError):
    """A session could not be created as requested (bad model file, CUDA unavailable)."""


def _ort():
    import onnxruntime as ort

    ort.set_default_logger_severity(3)
    return ort


def cuda_listed() -> bool:
    """CUDA provider compiled in (not proof that it works)."""
    return "CUDAExecutionProvider" in _ort().get_available_providers()


@dataclass
class _Loaded:
    """A card and the onnxruntime session of its file."""

    card: Any
    session: Any
    input_name: str
    output_name: str
    providers: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.card.name

    @property
    def device(self) -> str:
        return "cuda" if "CUDAExecutionProvider" in self.providers else "cpu"


@dataclass
class Model(_Loaded):
    """A loaded model: its card and its onnxruntime session."""

    def predict(self, batch: np.ndarray) -> np.ndarray:
        """float32 ``[N, 3, S, S]`` -> probability that each image is synthetic, ``[N]`` float64."""
        if batch.shape[0] == 0:
            return np.zeros((0,), np.float64)
        out = self.session.run([self.output_name], {self.input_name: np.ascontiguousarray(batch, np.float32)})[0]
        out = np.asarray(out, dtype=np.float64).reshape(batch.shape[0], -1)
        if out.shape[1] != 1:
            raise RuntimeSetupError(
                f"{self.name}: output has {out.shape[1]} values per image; the ONNX contract is one"
            )
        out = out[:, 0]
        if self.card.output == "logit":
            return sigmoid(out)
        return np.clip(out, 0.0, 1.0)


def _session_options(ort, threads: int | None, silent: bool):
    so = ort.SessionOptions()
    so.log_severity_level = 4 if silent else 3
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # No busy-waiting between ops: the decoding threads need those cores (measured on 2 cores:
    # bundled resnet 3.2 s -> 3.0 s for 200 images, no change for npr).
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if threads:
        so.intra_op_num_threads = int(threads)
    return so


def _session(card: "ModelCard | BackboneCard", device: str, threads: int | None, verify: bool):
    """Verify ``card``'s file and create its session on ``device``: (session, providers)."""
    if device not in DEVICES:
        raise RuntimeSetupError(f"unknown device {device!r} (choose from {', '.join(DEVICES)})")
    if verify:
        verify_sha256(card)  # raises CardError
    ort = _ort()
    want_cuda = device in ("auto", "cuda") and "CUDAExecutionProvider" in ort.get_available_providers()
    if device == "cuda" and not want_cuda:
        raise RuntimeSetupError("--device cuda: this onnxruntime has no CUDA provider (install onnxruntime-gpu)")
    providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if want_cuda else ["CPUExecutionProvider"]
    path = str(card.model_path)
    try:
        if want_cuda:
            ort.set_default_logger_severity(4)  # the CUDA probe logs loudly when libraries are missing
        try:
            sess = ort.InferenceSession(path, _session_options(ort, threads, want_cuda), providers=providers)
        finally:
            ort.set_default_logger_severity(3)
    except Exception as e:  # onnxruntime raises its own exception classes
        raise RuntimeSetupError(f"{card.name}: cannot load {path}: {str(e).splitlines()[0] if str(e) else e!r}") from None
    got = list(sess.get_providers())
    if device == "cuda" and "CUDAExecutionProvider" not in got:
        raise RuntimeSetupError(
            "--device cuda: the CUDA provider did not initialise (CUDA/cuDNN libraries missing or no GPU); "
            "use --device auto or cpu"
        )
    return sess, got


def _dims_ok(shape, want) -> bool:
    """``shape`` (onnxruntime's: an int where fixed, a name where dynamic) fits ``want`` (None: any)."""
    return len(shape) == len(want) and all(w is None or not isinstance(d, int) or d == w for d, w in zip(shape, want))


def contract_problem(card: "ModelCard | BackboneCard", inputs, outputs) -> str | None:
    """How a session's inputs/outputs break the ONNX contract (docs/DESIGN.md), or None: one
    float input ``[N, 3, S, S]`` (S = the card's input size where fixed); a model's output
    (``logit`` or the first) ``[N]`` or ``[N, 1]``, a backbone's (``features`` or the first) ``[N, dim]``."""
    if len(inputs) != 1:
        return f"{len(inputs)} inputs; the ONNX contract is one"
    x, s = inputs[0], card.input.size
    if x.type != "tensor(float)" or not _dims_ok(x.shape, [None, 3, s, s]):
        return f"input {x.name!r} is {x.type} {list(x.shape)}; the card needs float [N, 3, {s}, {s}]"
    backbone = isinstance(card, BackboneCard)
    out = next((o for o in outputs if o.name == ("features" if backbone else "logit")), outputs[0] if outputs else None)
    if out is None:
        return "no output"
    if backbone and not _dims_ok(out.shape, [None, card.dim]):
        return f"output {out.name!r} is {list(out.shape)}; the card needs [N, {card.dim}]"
    if not backbone and not (_dims_ok(out.shape, [None]) or _dims_ok(out.shape, [None, 1])):
        return f"output {out.name!r} is {list(out.shape)}; the contract is [N] or [N, 1]"
    return None


def check_loads(card: "ModelCard | BackboneCard") -> None:
    """RuntimeSetupError (one line) unless the card's ONNX file builds an onnxruntime session
    (CPU, no graph optimisation: cheap) that meets the ONNX contract.  A file whose digest matches
    its card can still be one saved truncated, or a graph of another shape."""
    ort = _ort()
    so = ort.SessionOptions()
    so.log_severity_level = 4
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.intra_op_num_threads = 1
    try:
        sess = ort.InferenceSession(str(card.model_path), so, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises its own exception classes
        first = str(e).strip().splitlines()[0][:200] if str(e).strip() else e.__class__.__name__
        raise RuntimeSetupError(f"{card.model_path.name} does not load in onnxruntime: {first}") from None
    problem = contract_problem(card, sess.get_inputs(), sess.get_outputs())
    if problem:
        raise RuntimeSetupError(f"{card.model_path.name} breaks the ONNX contract: {problem}")


def load_model(card: ModelCard, device: str = "auto", threads: int | None = None, verify: bool = True) -> Model:
    """Verify ``card``'s file and create its session on ``device``."""
    sess, got = _session(card, device, threads, verify)
    inputs = sess.get_inputs()
    outputs = sess.get_outputs()
    if len(inputs) != 1:
        raise RuntimeSetupError(f"{card.name}: model has {len(inputs)} inputs; the ONNX contract is one")
    shape = inputs[0].shape
    if len(shape) == 4:
        s = card.input.size
        if isinstance(shape[2], int) and isinstance(shape[3], int) and (shape[2], shape[3]) != (s, s):
            raise CardError(
                f"{card.name}: ONNX input is {shape[2]}x{shape[3]} but the card's input.size is {s}"
            )
    out_name = "logit" if any(o.name == "logit" for o in outputs) else outputs[0].name
    return Model(card=card, session=sess, input_name=inputs[0].name, output_name=out_name, providers=got)


@dataclass
class FeatureModel(_Loaded):
    """A loaded backbone (``card``: a BackboneCard): ``features(batch) -> [N, dim]``."""

    # crops per onnxruntime call: a batch of 16 photos x 16 crops at once would grow the session's
    # arena to gigabytes of activations for no speed gain
    max_run: int = 32

    def features(self, batch: np.ndarray) -> np.ndarray:
        if batch.shape[0] == 0:
            return np.zeros((0, self.card.dim), np.float32)
        x = np.ascontiguousarray(batch, np.float32)
        parts = [self.session.run([self.output_name], {self.input_name: x[i:i + self.max_run]})[0]
                 for i in range(0, x.shape[0], self.max_run)]
        out = np.asarray(np.concatenate(parts), dtype=np.float32).reshape(batch.shape[0], -1)
        if out.shape[1] != self.card.dim:
            raise RuntimeSetupError(f"{self.name}: {out.shape[1]} features per image; the card says {self.card.dim}")
        return out


def load_backbone(card: BackboneCard, device: str = "auto", threads: int | None = None,
                  verify: bool = True) -> FeatureModel:
    sess, got = _session(card, device, threads, verify)
    inputs, outputs = sess.get_inputs(), sess.get_outputs()
    if len(inputs) != 1:
        raise RuntimeSetupError(f"{card.name}: backbone has {len(inputs)} inputs; the ONNX contract is one")
    out_name = "features" if any(o.name == "features" for o in outputs) else outputs[0].name
    return FeatureModel(card=card, session=sess, input_name=inputs[0].name, output_name=out_name, providers=got)


@dataclass
class ProbeModel:
    """A linear head over a backbone's features (the backbone may be shared by several heads)."""

    card: ModelCard
    head: Any  # heads.LinearHead
    backbone: FeatureModel

    @property
    def name(self) -> str:
        return self.card.name

    @property
    def providers(self) -> list[str]:
        return self.backbone.providers

    @property
    def device(self) -> str:
        return "cuda" if "CUDAExecutionProvider" in self.providers else "cpu"

    def predict_features(self, features: np.ndarray) -> np.ndarray:
        return self.head.probabilities(features)

    def predict(self, batch: np.ndarray) -> np.ndarray:
        return self.predict_features(self.backbone.features(batch))


def load_head(card: ModelCard, verify: bool = True):
    """The probe's head file (``NAME.head.json``), checked against the card's sha256."""
    import json


    if verify:
        verify_sha256(card)
    try:
        head = LinearHead.from_dict(json.loads(card.model_path.read_text()))
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise CardError(f"{card.name}: cannot read head {card.model_path.name}: {e}") from None
    return head


OLD_FRAME_GUARD = 8  # px: frames were cut this far past their band before probes recorded it (2026-12-06)


def _check_preparation(card: ModelCard, bb: BackboneCard) -> None:
    """A probe's head reads features of images prepared as when it was fitted (the card's ``input``,
    copied from its backbone card then): a backbone card that now prepares them otherwise (another
    crop, upscale or frame policy, or frames cut further in) would feed it features it never saw."""
    mine, theirs = card.input.to_dict(), bb.input.to_dict()
    diff = sorted(k for k in set(mine) | set(theirs) if mine.get(k) != theirs.get(k))
    if diff:
        from dataclasses import asdict

        full_mine, full_theirs = asdict(card.input), asdict(bb.input)  # unset fields by their defaults
        was = ", ".join(f"{k}={full_mine.get(k)!r}" for k in diff)
        now = ", ".join(f"{k}={full_theirs.get(k)!r}" for k in diff)
        raise CardError(f"{card.name}: fitted on {bb.name} features of images prepared with {was}, but the installed "
                        f"{bb.name} card prepares them with {now}: refit the probe (synthdetect train probe) or "
                        "install the backbone card it was fitted with")
    from ..inputs.frames import frame_guard

    guard, now = (card.training or {}).get("frame_guard_px", OLD_FRAME_GUARD), frame_guard(bb.input)
    if now is not None and guard != now:
        raise CardError(f"{card.name}: fitted when frames were cut {guard} px past their band; this version cuts "
                        f"{now} px (JPEG stains a picture with its frame's colour up to a 16 px block): refit the "
                        "probe (synthdetect train probe)")


def load_models(cards: list[ModelCard], device: str = "auto", threads: int | None = None,
                backbones: dict[str, BackboneCard] | None = None) -> list[Any]:
    """Sessions for ``cards``; probes need their backbone card in ``backbones`` (by probe name).
    Each backbone file gets one session, shared by every head that uses it."""
    shared: dict[str, FeatureModel] = {}
    out: list[Any] = []
    for c in cards:
        if c.is_probe:
            bb = (backbones or {}).get(c.name)
            if bb is None:
                raise CardError(f"{c.name}: its backbone {(c.backbone or {}).get('name')!r} is not installed")
            _check_preparation(c, bb)
            if bb.sha256 not in shared:
                shared[bb.sha256] = load_backbone(bb, device=device, threads=threads)
            head = load_head(c)
            if head.dim != bb.dim:
                raise CardError(f"{c.name}: head expects {head.dim} features; backbone {bb.name} gives {bb.dim}")
            out.append(ProbeModel(card=c, head=head, backbone=shared[bb.sha256]))
        else:
            out.append(load_model(c, device=device, threads=threads))
    return out
