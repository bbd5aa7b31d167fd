"""Load published detector checkpoints faithfully and convert them to ONNX + card.

Loading rules (docs/weights.md):
  * ``torch.load(path, map_location="cpu", weights_only=True)`` for every pickle
    checkpoint: tensors and plain containers only, no code runs.
  * A TorchScript archive (the OpenAI CLIP release ``ViT-L-14.pt``) *is code*:
    ``weights_only`` refuses it.  It is accepted only when its SHA-256 equals the
    digest published in the hub registry, then read with ``torch.jit.load`` on CPU
    (through open_clip's ``load_openai_model``, which rebuilds a plain, non-JIT CLIP
    from the archive's state dict with QuickGELU).  A safetensors copy of the same
    weights (``clip-vitl14-openai-hf``) needs no such trust.

Models, one loader each in ``CONVERTERS``, keyed by the hub entry's ``converter`` field:
  * ``cnndetection`` - CNNDetection (Wang et al. 2020): ``{'model': state_dict}`` (``module.`` prefixes
    from DataParallel are stripped) for a torchvision ResNet-50 whose ``fc`` is
    ``Linear(2048, 1)``.  Input: no resize, centre crop 224, ImageNet normalisation.
  * ``univfd`` - UnivFD (Ojha et al. 2023): ``fc_weights.pth`` = ``{'weight': [1,768], 'bias': [1]}``
    (saved on cuda:0; mapped to CPU) on top of OpenAI CLIP ViT-L/14 ``encode_image``
    features (CLS after ``ln_post`` times ``proj``, not L2-normalised).  Input: no resize,
    centre crop 224, CLIP normalisation.
Both are wrapped so the graph outputs the raw logit ``[N]`` (ONNX contract).

A published checkpoint of an existing kind is one entry in ``synthdetect/hub/entries.py``;
a new kind is one function here decorated with ``@converter("<key>")`` (see its docstring)
and entries naming that key.
"""

from __future__ import annotations

from . import compat  # noqa: F401  (before torchvision / open_clip)

import tempfile
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import torch
from PIL import Image
from torch import nn

from ..cards import InputSpec, ModelCard
from ..inputs.discovery import discover
from ..hub import HubEntry, HubError
from .checkpoints import (CheckpointError, UntrustedArchiveError, load_clip_visual, safe_load, strip_prefix,  # noqa: F401
                          tensor_dict as _tensor_dict)

MAX_PARITY_IMAGES = 16


# --------------------------------------------------------------------------- loading
# (safe_load, strip_prefix, load_clip_visual and the checkpoint errors live in checkpoints.py)


class LogitHead(nn.Module):
    """``net(x)`` -> ``[N]`` logits (the first output column)."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)[:, 0]


def build_resnet(arch: str = "resnet50", *, layers: list[int] | None = None,
                 width_per_group: int = 64) -> nn.Module:
    """torchvision ResNet with a one-logit ``fc``; ``layers`` builds a Bottleneck ResNet variant."""
    import torchvision
    from torchvision.models.resnet import Bottleneck, ResNet

    if layers is not None:
        return ResNet(Bottleneck, list(layers), num_classes=1, width_per_group=width_per_group)
    fn = getattr(torchvision.models, arch, None)
    if fn is None or not arch.startswith(("resnet", "wide_resnet", "resnext")):
        raise CheckpointError(f"unknown ResNet architecture {arch!r}")
    return fn(weights=None, num_classes=1)


def load_cnndetection(path: Path | str, arch: str | Callable[[], nn.Module] = "resnet50",
                      **arch_options: Any) -> nn.Module:
    """CNNDetection checkpoint -> ``LogitHead(resnet)`` in eval mode (logits ``[N]``)."""
    path = Path(path)
    ck = safe_load(path)
    if isinstance(ck, Mapping) and "model" in ck:
        sd = ck["model"]
    else:
        sd = ck  # a bare state dict is accepted too
    sd = strip_prefix(_tensor_dict(sd, f"{path.name}['model']"))
    if "fc.weight" not in sd or "fc.bias" not in sd:
        raise CheckpointError(f"{path.name}: no fc.weight/fc.bias: not a CNNDetection ResNet checkpoint")
    if sd["fc.weight"].ndim != 2 or sd["fc.weight"].shape[0] != 1:
        raise CheckpointError(f"{path.name}: fc.weight has shape {tuple(sd['fc.weight'].shape)}, expected [1, C]")
    net = arch() if callable(arch) else build_resnet(arch, **arch_options)
    fc = getattr(net, "fc", None)
    if not isinstance(fc, nn.Linear) or fc.out_features != 1 or fc.in_features != sd["fc.weight"].shape[1]:
        raise CheckpointError(
            f"{path.name}: fc is Linear({sd['fc.weight'].shape[1]}, 1) but the architecture has {fc}"
        )
    try:
        net.load_state_dict(sd, strict=True)
    except RuntimeError as e:
        raise CheckpointError(f"{path.name}: does not match {arch if isinstance(arch, str) else 'the given'} "
                              f"architecture: {str(e).splitlines()[0]}") from e
    return LogitHead(net).eval()


def load_linear_head(path: Path | str) -> nn.Linear:
    """UnivFD ``fc_weights.pth``: ``{'weight': [1, D], 'bias': [1]}`` (device mapped to CPU)."""
    path = Path(path)
    ck = safe_load(path)
    if isinstance(ck, Mapping) and "model" in ck:
        ck = ck["model"]
    sd = strip_prefix(strip_prefix(_tensor_dict(ck, path.name)), "fc.")
    if set(sd) != {"weight", "bias"}:
        raise CheckpointError(f"{path.name}: expected keys weight/bias, found {sorted(sd)}")
    w, b = sd["weight"], sd["bias"]
    if w.ndim != 2 or w.shape[0] != 1 or tuple(b.shape) != (1,):
        raise CheckpointError(f"{path.name}: weight {tuple(w.shape)} / bias {tuple(b.shape)}; expected [1,D] / [1]")
    head = nn.Linear(w.shape[1], 1)
    head.load_state_dict({"weight": w.float(), "bias": b.float()})
    return head.eval()


class ClipLinearDetector(nn.Module):
    """Frozen CLIP image tower + linear head -> logits ``[N]`` (UnivFD)."""

    def __init__(self, visual: nn.Module, head: nn.Linear):
        super().__init__()
        self.visual = visual
        self.head = head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.visual(x))[:, 0]


def load_univfd(head_path: Path | str, backbone_path: Path | str, *, model_name: str = "ViT-L-14-quickgelu",
                model_cfg: dict[str, Any] | None = None, trusted_sha256: str | None = None) -> nn.Module:
    head = load_linear_head(head_path)
    visual = load_clip_visual(backbone_path, model_name=model_name, model_cfg=model_cfg,
                              trusted_sha256=trusted_sha256)
    out_dim = getattr(visual, "output_dim", None)
    if out_dim is not None and out_dim != head.in_features:
        raise CheckpointError(f"head expects {head.in_features}-d features but the backbone gives {out_dim}-d")
    return ClipLinearDetector(visual, head).eval()


def load_backbone(name: str, *, cache: Path | str | None = None,
                  registry: dict[str, HubEntry] | None = None) -> nn.Module:
    """The CLIP image tower of a pulled/imported backbone entry (e.g. for ``train clip-probe``).

    Raises :class:`HubError` when the backbone is not in the checkpoint cache.
    """
    from ..hub import get_entry, local_checkpoint

    entry = get_entry(name, registry)
    if entry.kind != "backbone":
        raise HubError(f"{name} is a {entry.kind}, not a backbone")
    path = local_checkpoint(name, cache, registry=registry)
    if path is None:
        raise HubError(f"backbone {name} is not cached (or fails its checksum): "
                       f"run `synthdetect weights pull {name}` or `synthdetect weights import {name} --from FILE`")
    oc = entry.open_clip or {}
    return load_clip_visual(path, model_name=oc.get("model", "ViT-L-14-quickgelu"), model_cfg=oc.get("model_cfg"),
                            trusted_sha256=entry.files[0].sha256)


# --------------------------------------------------------------------------- parity images


def generated_parity_images(out_dir: Path) -> tuple[list[Path], list[dict[str, str]]]:
    """A few deterministic images (numpy + PIL) for the export parity check."""
    out_dir.mkdir(parents=True, exist_ok=True)
    recipes: list[tuple[str, str, Callable[[], np.ndarray]]] = []
    yy, xx = np.mgrid[0:256, 0:256].astype(np.float32)
    recipes.append(("gradient_256.png", "RGB linear gradients (x, y, x+y) 256x256",
                    lambda: np.stack([xx, yy, (xx + yy) / 2], -1)))
    recipes.append(("noise_320x240.png", "uniform noise, numpy seed 0, 320x240",
                    lambda: np.random.default_rng(0).uniform(0, 255, (240, 320, 3))))

    def blobs() -> np.ndarray:
        low = np.random.default_rng(1).uniform(0, 255, (6, 8, 3)).astype(np.uint8)
        return np.asarray(Image.fromarray(low).resize((320, 240), Image.Resampling.BICUBIC), np.float32)

    recipes.append(("blobs_240x320.png", "smooth colour blobs (seed 1 noise 8x6, bicubic up) 320x240", blobs))

    def checker() -> np.ndarray:
        y, x = np.mgrid[0:224, 0:224]
        base = (((x // 16) + (y // 16)) % 2 * 200 + 28).astype(np.float32)
        noise = np.random.default_rng(2).normal(0, 12, (224, 224, 3))
        return base[..., None] + noise

    recipes.append(("checker_noise_224.png", "16px checkerboard + Gaussian noise sigma 12 (seed 2) 224x224",
                    checker))
    paths, info = [], []
    for fname, recipe, fn in recipes:
        p = out_dir / fname
        Image.fromarray(np.clip(fn(), 0, 255).astype(np.uint8), "RGB").save(p)
        paths.append(p)
        info.append({"name": fname, "recipe": recipe})
    return paths, info


def parity_set(parity_data: Path | None, tmp: Path) -> tuple[list[Path], dict[str, Any]]:
    """Images from ``--parity-data DIR`` (first 16, sorted) or generated ones; plus the card note."""
    if parity_data is not None:
        d = Path(parity_data)
        if not d.is_dir():
            raise HubError(f"--parity-data {d}: not a directory")
        imgs = sorted(discover([d]).files)  # as scan finds images: folder links followed, by extension or header
        if not imgs:
            raise HubError(f"--parity-data {d}: no images")
        imgs = imgs[:MAX_PARITY_IMAGES]
        return imgs, {"source": "directory", "dir": str(d.resolve()),
                      "images": [str(p.relative_to(d)) for p in imgs]}
    imgs, info = generated_parity_images(tmp)
    return imgs, {"source": "generated (deterministic numpy/PIL images, not photographs)", "images": info}


# --------------------------------------------------------------------------- convert


Converter = Callable[[HubEntry, dict[str, Path], "HubEntry | None", "Path | None"], tuple[nn.Module, str]]
CONVERTERS: dict[str, Converter] = {}


def converter(key: str) -> Callable[[Converter], Converter]:
    """Register a loader under ``key``, the value of a hub entry's ``converter`` field.

    The loader gets ``(entry, files, backbone, backbone_path)`` - ``files`` maps each file's
    ``role`` to its verified path; ``backbone`` / ``backbone_path`` are set for entries that
    list ``backbones`` - and returns ``(model, architecture)``: a torch module in eval mode
    whose output is the raw logit ``[N]``, and the architecture its card records.
    """
    def register(fn: Converter) -> Converter:
        if key in CONVERTERS:
            raise ValueError(f"converter {key!r} is already registered")
        CONVERTERS[key] = fn
        return fn

    return register


def get_converter(key: str | None) -> Converter:
    """The loader registered under ``key``; HubError naming the known ones otherwise."""
    if key not in CONVERTERS:
        raise HubError(f"unknown converter {key!r}; known: {', '.join(sorted(CONVERTERS))}")
    return CONVERTERS[key]


@converter("cnndetection")
def _cnndetection(entry: HubEntry, files: dict[str, Path], backbone: HubEntry | None,
                  backbone_path: Path | None) -> tuple[nn.Module, str]:
    """A ResNet state dict (``files["checkpoint"]``); ``entry.options``: ``layers``, ``width_per_group``."""
    return load_cnndetection(files["checkpoint"], entry.architecture or "resnet50", **entry.options), entry.architecture


@converter("univfd")
def _univfd(entry: HubEntry, files: dict[str, Path], backbone: HubEntry | None,
            backbone_path: Path | None) -> tuple[nn.Module, str]:
    """A linear head (``files["head"]``) on the image tower of a CLIP backbone entry."""
    if backbone is None or backbone_path is None:
        raise HubError(f"{entry.name} needs a CLIP backbone ({', '.join(entry.backbones)})")
    oc = backbone.open_clip or {}
    model = load_univfd(files["head"], backbone_path, model_name=oc.get("model", "ViT-L-14-quickgelu"),
                        model_cfg=oc.get("model_cfg"), trusted_sha256=backbone.files[0].sha256)
    return model, f"{backbone.architecture}+linear"


def build_model(entry: HubEntry, files: dict[str, Path], *, backbone: HubEntry | None = None,
                backbone_path: Path | None = None) -> tuple[nn.Module, str]:
    """The PyTorch model of a detector entry from its (verified) files, and its card architecture."""
    try:
        build = get_converter(entry.converter)
    except HubError as e:
        raise HubError(f"{entry.name}: {e}") from None
    return build(entry, files, backbone, backbone_path)


def convert(entry: HubEntry, files: dict[str, Path], out_dir: Path, *, sources: list[dict[str, Any]],
            backbone: HubEntry | None = None, backbone_path: Path | None = None,
            parity_data: Path | None = None, int8: bool = False, tolerance: float = 1e-4,
            int8_tolerance: float | None = None, name: str | None = None) -> ModelCard:
    """Load, wrap, export (with parity) and install ``NAME.onnx`` + ``NAME.json`` into ``out_dir``."""
    from .export import export_onnx

    name = name or entry.name
    spec = InputSpec(**entry.input) if entry.input else InputSpec()
    model, arch = build_model(entry, files, backbone=backbone, backbone_path=backbone_path)
    fields: dict[str, Any] = {
        "family": entry.family,
        "description": entry.description,
        "licence": entry.licence,
        "threshold": 0.5,
        "training": {
            "origin": "published checkpoint converted by `synthdetect weights`",
            "paper": entry.paper,
            "project": entry.source,
            **entry.training,
        },
        "extra": {
            "hub": {"entry": entry.name, "converter": entry.converter, "files": sources},
        },
    }
    if backbone is not None:
        fields["extra"]["hub"]["backbone"] = backbone.name
    if int8_tolerance is not None:
        fields["int8_tolerance"] = float(int8_tolerance)
    with tempfile.TemporaryDirectory(prefix="synthdetect-parity-") as td:
        imgs, note = parity_set(parity_data, Path(td))
        fields["extra"]["parity_data"] = note
        # nn.MultiheadAttention's inference fast path (aten::_native_multi_head_attention) has no
        # ONNX symbolic: export the plain attention maths (same numbers) instead
        mha = getattr(torch.backends, "mha", None)
        fast = mha.get_fastpath_enabled() if mha is not None else None
        if mha is not None:
            mha.set_fastpath_enabled(False)
        try:
            card = export_onnx(model, spec, Path(out_dir) / f"{name}.onnx", name=name, architecture=arch,
                               parity_images=imgs, tolerance=tolerance, int8=int8, card_fields=fields)
        finally:
            if mha is not None:
                mha.set_fastpath_enabled(fast)
    return card
