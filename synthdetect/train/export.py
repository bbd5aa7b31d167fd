"""ONNX export: a PyTorch model -> one ONNX graph + model card with a parity check on real
images (:func:`export_onnx`); a training run directory -> the same (:func:`export_run`, the
card's family and architecture text from ``families.py``); a backbone's feature graph
(:func:`export_features_graph`) and a registered backbone -> its feature graph + backbone card
(:func:`export_backbone`).

ONNX contract (docs/DESIGN.md): input ``input`` float32 ``[N,3,S,S]`` (dynamic N),
already normalised per the card's InputSpec; output ``logit`` float32 ``[N]``; opset 17.

The parity check preprocesses real images with :func:`synthdetect.inputs.preprocess.to_input`
(the inference path), runs the PyTorch model and onnxruntime on the same tensors and
compares sigmoid probabilities.  Every file is written under a temporary name beside its target
and moved into place only once every check has passed (the int8 copy's too): above the tolerance
:class:`ParityError` is raised and nothing is written or replaced.
"""

from __future__ import annotations

from . import compat  # noqa: F401  (before anything that may import torchvision)

import json
import os
import platform
import tempfile
import warnings
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from PIL import Image
from torch import nn

from .. import __version__ as synthdetect_version
from ..cards import BackboneCard, InputSpec, ModelCard, sha256_file
from ..inputs.preprocess import to_input, to_inputs
from ..scan.heads import sigmoid
from . import backbones, families
from ..inputs.datasets import DataError, data_label, image_files, load_sets
from .consistency import check_finished
from .loop import RunDir, RunUsageError
from .runs import load_run

OPSET = 17
INT8_TOLERANCE = 0.05
WEIGHTS_LICENCE = "Apache-2.0 (weights trained by the synthdetect project)"


class ParityError(RuntimeError):
    """The exported graph disagrees with PyTorch beyond the tolerance."""

    def __init__(self, message: str, figures: dict[str, Any]):
        super().__init__(message)
        self.figures = figures


class _LogitGraph(nn.Module):
    """Wraps a model so the graph output is exactly ``logit[N]`` float32."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, input: torch.Tensor) -> torch.Tensor:  # noqa: A002 - ONNX input name
        out = self.model(input)
        return out.reshape(out.shape[0], -1)[:, 0].float()


def _parity_batch(paths: Sequence[Path], spec: InputSpec, all_crops: bool = False) -> np.ndarray:
    """The parity images as one float32 batch: the centre input of each (``preprocess.to_input``) or,
    with ``all_crops``, every inference crop of each (``preprocess.to_inputs``, as backbones see them)."""
    xs = []
    for p in paths:
        with Image.open(p) as im:
            im.load()
            rgb = im.convert("RGB")
            xs.append(to_inputs(rgb, spec) if all_crops else to_input(rgb, spec)[None])
    return np.concatenate(xs, 0).astype(np.float32)


def _onnx_export(wrapped: nn.Module, size: int, out_path: Path, output: str = "logit") -> str:
    """Export ``input`` -> ``output`` with a dynamic batch axis; returns which exporter produced the file."""
    example = torch.zeros(2, 3, size, size, dtype=torch.float32)
    errors = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                wrapped,
                (example,),
                str(out_path),
                dynamo=False,
                input_names=["input"],
                output_names=[output],
                opset_version=OPSET,
                dynamic_axes={"input": {0: "N"}, output: {0: "N"}},
                do_constant_folding=True,
            )
        return "torch.onnx torchscript"
    except Exception as e:  # pragma: no cover
        errors.append(f"torchscript: {type(e).__name__}: {e}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            batch = torch.export.Dim("N", min=1, max=4096)
            prog = torch.onnx.export(
                wrapped,
                (example,),
                dynamo=True,
                input_names=["input"],
                output_names=[output],
                opset_version=OPSET,
                dynamic_shapes={"input": {0: batch}},
                external_data=False,
                optimize=True,
                verbose=False,
            )
            prog.save(str(out_path), external_data=False)
        return "torch.onnx dynamo"
    except Exception as e:  # pragma: no cover - depends on torch/onnxscript versions
        errors.append(f"dynamo: {type(e).__name__}: {e}")
    raise RuntimeError("ONNX export failed: " + " | ".join(errors))


def _check_graph(path: Path) -> dict[str, Any]:
    import onnx

    m = onnx.load(str(path))
    onnx.checker.check_model(m)
    ins = [i.name for i in m.graph.input if i.name not in {t.name for t in m.graph.initializer}]
    outs = [o.name for o in m.graph.output]
    if ins != ["input"] or outs != ["logit"]:
        raise RuntimeError(f"exported graph has inputs {ins} outputs {outs}; expected ['input'] ['logit']")
    opset = max((o.version for o in m.opset_import if o.domain in ("", "ai.onnx")), default=0)
    if opset != OPSET:
        raise RuntimeError(f"exported graph has opset {opset}; the contract is opset {OPSET}")
    return {"opset": int(opset), "ir_version": int(m.ir_version)}


def _ort_logits(path: Path, x: np.ndarray, batch_size: int = 16) -> np.ndarray:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = min(2, os.cpu_count() or 1)
    so.log_severity_level = 3
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    outs = []
    for i in range(0, len(x), batch_size):
        (o,) = sess.run(["logit"], {"input": x[i : i + batch_size]})
        outs.append(np.asarray(o).reshape(-1))
    return np.concatenate(outs) if outs else np.zeros(0, np.float32)


@torch.no_grad()
def _torch_logits(wrapped: nn.Module, x: np.ndarray, batch_size: int = 16) -> np.ndarray:
    outs = []
    for i in range(0, len(x), batch_size):
        outs.append(wrapped(torch.from_numpy(x[i : i + batch_size])).double().numpy().reshape(-1))
    return np.concatenate(outs) if outs else np.zeros(0)


def parity_figures(ref_logits: np.ndarray, got_logits: np.ndarray, tolerance: float) -> dict[str, Any]:
    dp = np.abs(sigmoid(ref_logits) - sigmoid(got_logits))
    dl = np.abs(ref_logits.astype(np.float64) - got_logits.astype(np.float64))
    max_dp = float(dp.max()) if dp.size else 0.0
    return {
        "n_images": int(dp.size),
        "max_abs_dprob": max_dp,
        "mean_abs_dprob": float(dp.mean()) if dp.size else 0.0,
        "max_abs_dlogit": float(dl.max()) if dl.size else 0.0,
        "tolerance": float(tolerance),
        "passed": bool(dp.size > 0 and max_dp <= tolerance),
    }


def export_onnx(
    model: nn.Module,
    input_spec: InputSpec,
    out_path: Path,
    *,
    name: str,
    architecture: str,
    parity_images: list[Path],
    tolerance: float = 1e-4,
    int8: bool = False,
    card_fields: dict = {},  # noqa: B006 - read only, signature fixed by the issue
) -> ModelCard:
    """Export ``model`` to ``out_path`` (ONNX) and write the card ``out_path.with_suffix('.json')``.

    ``model`` takes the normalised NCHW tensor and returns logits (``[N]`` or ``[N,1]``).
    ``parity_images`` are real image files; at least one is required.  With ``int8`` a
    dynamically quantised copy ``<stem>.int8.onnx`` is written with its own card
    ``<stem>.int8.json`` and parity figures (tolerance ``card_fields['int8_tolerance']`` or 0.05);
    its figures are also recorded under ``parity['int8']`` of the main card.  Returns the main card.
    """
    out_path = Path(out_path)
    if out_path.suffix != ".onnx":
        raise ValueError(f"export target must end in .onnx, not {out_path.name}")
    parity_images = [Path(p) for p in parity_images]
    if not parity_images:
        raise ValueError("export_onnx needs at least one parity image (real image files)")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fields = dict(card_fields)
    int8_tol = float(fields.pop("int8_tolerance", INT8_TOLERANCE))

    wrapped = _LogitGraph(model.to("cpu").eval()).eval()
    x = _parity_batch(parity_images, input_spec)
    ref = _torch_logits(wrapped, x)
    staged = _Staged()
    try:
        graph = staged.file(out_path)
        fig = _export_checked(wrapped, input_spec.size, x, ref, graph, name, tolerance)
        if int8:
            fig["int8"] = _export_int8(staged, out_path, graph, x, ref, int8_tol, name, architecture, input_spec,
                                       fields)
        card = _make_card(out_path, name, architecture, input_spec, fields, fig, written=graph)
        card.save(staged.file(out_path.with_suffix(".json")))
        staged.commit()
    finally:
        staged.discard()
    card.path = out_path.with_suffix(".json")
    return card


class _Staged:
    """Files written under temporary names beside their targets (``file``), moved into place together
    once every check has passed (``commit``), or removed (``discard``): a failed export replaces nothing."""

    def __init__(self) -> None:
        self.moves: dict[Path, Path] = {}

    def file(self, target: Path) -> Path:
        fd, tmp = tempfile.mkstemp(suffix=target.suffix, dir=target.parent, prefix=f".{target.stem}.")
        os.close(fd)
        self.moves[Path(tmp)] = target
        return Path(tmp)

    def commit(self) -> None:
        for tmp, target in list(self.moves.items()):  # graphs first, then the cards that name them
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
            del self.moves[tmp]

    def discard(self) -> None:
        for tmp in self.moves:
            tmp.unlink(missing_ok=True)
        self.moves.clear()


def _export_checked(wrapped: nn.Module, size: int, x: np.ndarray, ref: np.ndarray, tmp: Path, name: str,
                    tolerance: float) -> dict[str, Any]:
    """Export to ``tmp`` (a temporary file beside the target), check the graph and its parity with the
    PyTorch logits ``ref``; returns the parity figures (the caller moves the file into place)."""
    exporter = _onnx_export(wrapped, size, tmp)
    graph = _check_graph(tmp)
    got = _ort_logits(tmp, x)
    fig = parity_figures(ref, got, tolerance)
    # the batch axis must really be dynamic: score one image alone too
    single = _ort_logits(tmp, x[:1], batch_size=1)
    fig["single_vs_batch_max_abs_dprob"] = float(np.abs(sigmoid(single) - sigmoid(got[:1])).max())
    fig.update(graph)
    fig["exporter"] = exporter
    fig["torch"] = torch.__version__
    fig["onnxruntime"] = __import__("onnxruntime").__version__
    if not fig["passed"]:
        raise ParityError(
            f"{name}: ONNX parity failed: max |Δprob| = {fig['max_abs_dprob']:.3g} > tolerance {tolerance:g} "
            f"on {fig['n_images']} images",
            fig,
        )
    return fig


def _quantize(out_path: Path, q_path: Path) -> None:
    """``q_path``: ``out_path`` with int8 dynamically quantised weights."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    import logging

    import onnx

    logging.getLogger().setLevel(max(logging.getLogger().level, logging.ERROR))  # quantiser's advice to stderr
    # stale intermediate shape annotations from the exporter upset the quantiser's
    # shape inference: quantise a copy without them
    m = onnx.load(str(out_path))
    del m.graph.value_info[:]
    src = out_path.with_name(f".{out_path.stem}.noinfo.onnx")
    onnx.save(m, str(src))
    try:
        quantize_dynamic(str(src), str(q_path), weight_type=QuantType.QInt8)
    finally:
        src.unlink(missing_ok=True)


def _export_int8(staged: _Staged, out_path: Path, graph: Path, x: np.ndarray, ref: np.ndarray, int8_tol: float,
                 name: str, architecture: str, input_spec: InputSpec, fields: dict[str, Any]) -> dict[str, Any]:
    """``<stem>.int8.onnx`` + its card beside ``out_path``, staged (``graph``: the staged main graph);
    returns its figures for the main card.  A parity failure is a :class:`ParityError` (nothing is moved
    into place: the previous files stay)."""
    q_path = out_path.with_name(out_path.stem + ".int8.onnx")
    q_tmp = staged.file(q_path)
    _quantize(graph, q_tmp)
    q_got = _ort_logits(q_tmp, x)
    int8_fig = parity_figures(ref, q_got, int8_tol)
    int8_fig["quantization"] = "onnxruntime.quantization.quantize_dynamic QInt8 weights"
    if not int8_fig["passed"]:
        raise ParityError(
            f"{name}: int8 parity failed: max |Δprob| = {int8_fig['max_abs_dprob']:.3g} > {int8_tol:g}",
            int8_fig,
        )
    int8_card = _make_card(q_path, name + ".int8", architecture, input_spec, fields, int8_fig, written=q_tmp)
    int8_card.description = (int8_card.description + " (int8 dynamic quantisation)").strip()
    int8_card.save(staged.file(q_path.with_suffix(".json")))
    int8_card.path = q_path.with_suffix(".json")
    return {**int8_fig, "file": q_path.name}


def _make_card(
    path: Path, name: str, architecture: str, spec: InputSpec, fields: dict[str, Any], parity: dict[str, Any],
    written: Path | None = None,
) -> ModelCard:
    """The card of the graph ``path`` (its name; its SHA-256 from ``written``, where it is staged, else ``path``)."""
    fields = json.loads(json.dumps(fields, default=str))  # deep copy, JSON-safe
    extra = fields.pop("extra", {})
    extra.setdefault("exported_by", f"synthdetect {synthdetect_version}")
    extra.setdefault("export_platform", platform.platform())
    known = set(ModelCard.__dataclass_fields__) - {"name", "file", "sha256", "architecture", "input", "parity", "path"}
    unknown = set(fields) - known
    for k in unknown:
        extra[k] = fields.pop(k)
    return ModelCard(
        name=name,
        file=path.name,
        sha256=sha256_file(written or path),
        architecture=architecture,
        input=InputSpec(**json.loads(spec.key())),
        parity=parity,
        extra=extra,
        **fields,
    )


# --------------------------------------------------------------------------- backbone feature graphs
class _FeatureGraph(nn.Module):
    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, input: torch.Tensor) -> torch.Tensor:  # noqa: A002 - ONNX input name
        return self.model(input).float()


def export_features_graph(model: nn.Module, size: int, out: Path) -> str:
    """``model`` ([N,3,S,S] -> [N,D]) as an ONNX graph ``input`` -> ``features`` (dynamic N, opset 17),
    by the same exporter as the detectors (:func:`_onnx_export`); returns which exporter it was."""
    return _onnx_export(_FeatureGraph(model).eval(), size, out, output="features")


def export_backbone(name: str, out_dir: Path, parity_images: Sequence[Path], *, weights: Path | None = None,
                    tolerance: float = 1e-3, card_name: str | None = None) -> BackboneCard:
    """``NAME.onnx`` + ``NAME.backbone.json`` in ``out_dir`` for the registered backbone ``name``
    (``backbones.py``), after a parity check.

    Parity: the inference preprocessing (``preprocess.to_inputs``) of each parity image, run by
    PyTorch and by onnxruntime; for every feature, the largest difference relative to the
    feature's largest magnitude over the parity crops must stay under ``tolerance``.
    """
    spec = backbones.get(name)
    wpath = backbones.verified_weights(spec, weights)
    model = spec.factory(wpath).eval()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = card_name or spec.name
    onnx_path = out_dir / f"{stem}.onnx"
    if not parity_images:
        raise ValueError("export_backbone needs parity images")
    x = _parity_batch(parity_images, spec.input, all_crops=True)
    tmp = Path(tempfile.mkstemp(suffix=".onnx", dir=out_dir, prefix=f".{stem}.")[1])
    try:
        export_features_graph(model, spec.input.size, tmp)
        dim, fig = _feature_parity(model, tmp, x, len(parity_images), tolerance, name)
        os.chmod(tmp, 0o644)
        os.replace(tmp, onnx_path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    card = BackboneCard(
        name=stem, file=onnx_path.name, sha256=sha256_file(onnx_path), architecture=spec.architecture,
        input=InputSpec(**json.loads(spec.input.key())), dim=dim, description=spec.description,
        features=dict(spec.features, dim=dim),
        source={"package": spec.weights_package, "code": spec.code_package, "file": wpath.name,
                "sha256": spec.weights_sha256 or sha256_file(wpath), "url": spec.url},
        licence=spec.licence, parity=fig,
        extra={"exported_by": f"synthdetect {synthdetect_version}", "export_platform": platform.platform(),
               "backbone": spec.name},
    )
    card.save(out_dir / f"{stem}.backbone.json")
    return card


def _feature_parity(model: nn.Module, graph: Path, x: np.ndarray, n_images: int, tolerance: float,
                    name: str) -> tuple[int, dict[str, Any]]:
    """(feature dimension, parity figures) of the feature graph against ``model`` on the crops ``x``;
    RuntimeError when a feature differs by more than ``tolerance`` (relative)."""
    import onnxruntime as ort

    with torch.no_grad():
        ref = np.concatenate([model(torch.from_numpy(x[i:i + 16])).numpy() for i in range(0, len(x), 16)])
    so = ort.SessionOptions()
    so.log_severity_level = 3
    sess = ort.InferenceSession(str(graph), so, providers=["CPUExecutionProvider"])
    got = np.concatenate([sess.run(["features"], {"input": x[i:i + 16]})[0] for i in range(0, len(x), 16)])
    single = sess.run(["features"], {"input": x[:1]})[0]
    # each feature's largest difference relative to its largest magnitude over the parity crops
    rel = np.abs(ref - got).max(0) / (np.abs(ref).max(0) + 1e-6)
    fig = {
        "n_crops": int(len(x)), "n_images": n_images,
        "max_abs_dfeature": float(np.abs(ref - got).max()), "max_rel_dfeature": float(rel.max()),
        "single_vs_batch_max_abs": float(np.abs(single - got[:1]).max()),
        "tolerance_rel": tolerance, "passed": bool(rel.max() <= tolerance),
        "torch": torch.__version__, "onnxruntime": ort.__version__, "opset": 17,
    }
    if not fig["passed"]:
        raise RuntimeError(f"{name}: ONNX parity failed: max relative feature difference {rel.max():.3g} > "
                           f"{tolerance:g}")
    return int(ref.shape[1]), fig


# --------------------------------------------------------------------------- run directory -> ONNX + card
def _portable(summary: dict[str, Any] | None) -> dict[str, Any] | None:
    """A run's data summary without this machine's paths: ``SET[@LIST]`` labels."""
    if not summary:
        return summary
    out = dict(summary)
    out["sets"] = [data_label([s]) for s in summary.get("sets", [])]
    out["licences"] = {Path(k).name: v for k, v in (summary.get("licences") or {}).items()}
    return out


def _rel(p: str | Path) -> str:
    p = Path(p).resolve()
    try:
        return str(p.relative_to(Path.cwd()))
    except ValueError:
        return str(p)


def _parity_paths(cfg: dict[str, Any], parity_data: Sequence[str] | None, n: int) -> list[Path]:
    sets = list(parity_data or [])
    if not sets:
        src = cfg.get("val") or cfg.get("train") or {}
        sets = src.get("sets", [])
    if not sets:
        raise ValueError("no --parity-data and the run records no data sets")
    try:
        items = load_sets(sets)
    except DataError:  # no 0_real/ 1_fake/: parity needs images, not labels
        files = image_files(sets)
        return files[:: max(1, len(files) // n)][:n]
    # alternate classes so both are represented
    real = [i for i in items if i.label == 0]
    fake = [i for i in items if i.label == 1]
    picked = []
    for a, b in zip(real, fake):
        picked += [a, b]
    picked += real[len(fake):] + fake[len(real):]
    return [i.path for i in picked[:n]]


def card_fields_from_run(cfg: dict[str, Any], log: list[dict[str, Any]]) -> dict[str, Any]:
    arch = cfg["arch"]
    best = next((r for r in log if r.get("epoch") == cfg.get("result", {}).get("best_epoch")), None)
    training = {k: cfg.get(k) for k in ("recipe", "seed", "epochs", "batch_size", "lr", "optimizer", "pairs",
                                        "init_from", "pretrained_backbone", "backbone_digest", "augment",
                                        "train_resize_shorter_to", "blur_jpeg_prob", "feature", "backbone", "arch_kw",
                                        "crops_per_image", "patience", "monitor", "frames", "frames_stripped", "data_warnings")
                if cfg.get(k) is not None}
    training["train"] = _portable(cfg.get("train"))
    training["val"] = _portable(cfg.get("val"))
    training["result"] = cfg.get("result")
    init = cfg.get("init_from")
    if init:
        training["init_from"] = {**init, "run": _rel(init["run"]) if init.get("run") else None,
                                 "train": _portable(init.get("train")), "val": _portable(init.get("val"))}
    lic: dict[str, set] = {}
    summaries = [cfg.get("train"), cfg.get("val"), (init or {}).get("train"), (init or {}).get("val")]
    for summary in summaries:
        for k, v in ((summary or {}).get("licences") or {}).items():
            lic.setdefault(Path(k).name, set()).update(v)
    metrics = {}
    if best:
        metrics["validation"] = {k: best[k] for k in ("val_acc", "val_f1", "val_ap", "val_n", "epoch") if k in best}
    fam = families.get(arch)
    desc = f"{fam.card_text}; recipe {cfg.get('recipe')}"
    if not cfg.get("pretrained_backbone") and fam.pretrained_backbone:
        desc += " (backbone NOT pretrained: random init)"
    return {"family": fam.family, "description": desc, "training": training,
            "licence": f"model: {WEIGHTS_LICENCE}; training data: "
                       + "; ".join(f"{k}: {', '.join(sorted(v))}" for k, v in sorted(lic.items())),
            "metrics": metrics}


def export_run(run: Path, out: Path, *, name: str | None = None, parity_data: Sequence[str] | None = None,
               parity_n: int = 16, tolerance: float = 1e-4, int8: bool = False, checkpoint: str = "best.pt",
               tiles: int = 1) -> ModelCard:
    """``tiles`` K > 1: the card asks inference to score up to K x K native crops of each image
    and average them (``InputSpec.tiles``); the ONNX graph itself stays the single-crop network."""
    rd = RunDir(run, create=False)
    why = check_finished(Path(run), rd.config(), checkpoint)
    if why:
        raise RunUsageError(why)
    model, spec, cfg = load_run(run, checkpoint)
    log = rd.read_log()
    fields = card_fields_from_run(cfg, log)
    fields["extra"] = {"run": _rel(run), "checkpoint": checkpoint}
    if tiles > 1:
        from dataclasses import replace

        spec = replace(spec, tiles=tiles)
        fields["description"] += f"; averages up to {tiles}x{tiles} native {spec.size} px crops per image"
    paths = _parity_paths(cfg, parity_data, parity_n)
    return export_onnx(model, spec, Path(out), name=name or Path(out).stem, architecture=cfg["arch"],
                       parity_images=paths, tolerance=tolerance, int8=int8, card_fields=fields)
