"""Trainable detector families, registered once: every name-keyed fact about an architecture.

A :class:`Family` says how to build the network (a lazy ``"module:callable"`` factory plus fixed
kwargs), which training recipe / CLI command takes it, the card's ``InputSpec`` the trained
model is scored with, and the card's family and architecture text.  Everything else
(``runs.train_images`` / ``runs.load_run``, ``export.export_run``'s card, the CLI's ``--arch``
choices, ``tools/make_weights.py``, the benchmarks) looks the family up here by name.

This module imports without torch (the CLI builds its ``--arch`` choices from
``names("wang")`` at import time); the factory is only imported by :meth:`Family.build`.

To add a family: write its ``nn.Module`` (takes the card-normalised ``[N, 3, S, S]`` float
tensor, returns logits ``[N]``; optional attributes ``pretrained`` / ``backbone_digest`` are
recorded in the run's config) and call :func:`register` with a :class:`Family` — here for a
built-in one, or from your own code::

    register(Family(name="tiny", family="tiny-cnn", card_text="tiny CNN + Linear", recipe="wang",
                    factory="mypkg.nets:TinyNet", size=64))

Your own code reaches the ``synthdetect`` command (``train resnet --arch tiny``, ``train tiny``,
``export``) through the entry-point group ``synthdetect.families`` of your package's metadata::

    [project.entry-points."synthdetect.families"]
    tiny = "mypkg.families"            # a module that calls register(...) when imported
    # or "mypkg.families:register_all"  (a callable, called once with no arguments)

The plug-ins are loaded once, the first time the table is read (:func:`names`, :func:`get`); one
that fails to load is a one-line warning on stderr and is left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from ..console import warn

from ..cards import CLIP_MEAN, CLIP_STD, IMAGENET_MEAN, IMAGENET_STD, InputSpec
from ._lazy import check_target, resolve
from .backbones import LITE_MEAN, LITE_STD

# recipe -> the command that trains it ("{name}": the family name)
RECIPES: dict[str, tuple[str, ...]] = {
    "wang": ("train", "resnet", "--arch", "{name}"),  # Wang et al. 2020: resize 256, blur/JPEG, crop 224, Adam
    "forensic": ("train", "{name}"),  # from scratch on native-resolution patches (train npr / train spectral)
    "clip-probe": ("train", "clip-probe"),  # Ojha et al. 2023: linear probe on a frozen CLIP image tower
}
SIZE_FROM = (None, "crop", "clip_size")
INFERENCE_RESIZE = ("never", "opt-in", "as-trained")
CHECKPOINTS = ("model", "head")


@dataclass(frozen=True)
class Family:
    """One trainable architecture.

    ``factory``: ``"package.module:Callable"`` returning the ``nn.Module``; ``factory_kw`` are fixed
    kwargs given before the caller's (``Family.build(**kw)``).

    Input spec (:meth:`input_spec`): a ``size`` px centre crop normalised with ``mean``/``std``;
    ``size_from`` names the ``input_spec`` argument that replaces ``size`` when given (``"crop"``:
    the training crop, ``"clip_size"``: the CLIP tower's image size); ``inference_resize`` says
    when the card resizes the shorter side like training did: ``"never"``, ``"opt-in"`` (only when
    the trainer asks, e.g. ``--inference-resize``) or ``"as-trained"`` (whenever training resized).

    ``pretrained_backbone``: the recipe starts from a pretrained backbone (``backbone_weights=``
    accepted; a card of a run without one says "backbone NOT pretrained").  ``weights_installed``:
    those weights come with an installed package, so no ``backbone_weights`` is needed.
    ``checkpoint``: what a run's ``best.pt`` holds: ``"model"`` (every weight; the network is rebuilt
    with ``load_kw`` and without ``backbone_weights``) or ``"head"`` (``model.head`` only; the frozen
    backbone is rebuilt from the run's kwargs).  ``train_kw``: training CLI options that become
    factory kwargs (option -> kwarg), e.g. spectral's ``{"crop": "size"}`` (its DFT window is the crop).
    ``default_crop``: the training crop when none is given (``None``: ``size``); ``summary``: one line
    of help for the family's training command (``train NAME`` of the forensic recipe).
    """

    name: str
    family: str
    card_text: str
    recipe: str
    factory: str
    factory_kw: Mapping[str, Any] = field(default_factory=dict)
    size: int = 224
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    size_from: str | None = None
    inference_resize: str = "opt-in"
    pretrained_backbone: bool = False
    weights_installed: bool = False
    checkpoint: str = "model"
    load_kw: Mapping[str, Any] = field(default_factory=dict)
    train_kw: Mapping[str, str] = field(default_factory=dict)
    default_crop: int | None = None
    summary: str = ""

    def validate(self) -> None:
        if not self.name or not isinstance(self.name, str) or self.name != self.name.strip():
            raise ValueError(f"family name must be a non-empty string without surrounding spaces, not {self.name!r}")
        if not self.family or not self.card_text:
            raise ValueError(f"family {self.name!r}: 'family' and 'card_text' are required (they go into the card)")
        if self.recipe not in RECIPES:
            raise ValueError(f"family {self.name!r}: recipe must be one of {', '.join(RECIPES)}, not {self.recipe!r}")
        try:
            check_target(self.factory)
        except ValueError as e:
            raise ValueError(f"family {self.name!r}: {e}") from None
        if self.size_from not in SIZE_FROM:
            raise ValueError(f"family {self.name!r}: size_from must be one of {SIZE_FROM}, not {self.size_from!r}")
        if self.inference_resize not in INFERENCE_RESIZE:
            raise ValueError(f"family {self.name!r}: inference_resize must be one of {INFERENCE_RESIZE}")
        if self.checkpoint not in CHECKPOINTS:
            raise ValueError(f"family {self.name!r}: checkpoint must be one of {CHECKPOINTS}")
        if int(self.size) < 1 or len(self.mean) != 3 or len(self.std) != 3:
            raise ValueError(f"family {self.name!r}: size must be positive and mean/std have 3 values")
        if self.default_crop is not None and int(self.default_crop) < 1:
            raise ValueError(f"family {self.name!r}: default_crop must be positive")

    def build(self, **kw):
        """The ``nn.Module`` (imports the factory's module, and with it torch)."""
        return resolve(self.factory)(**{**self.factory_kw, **kw})

    def input_spec(self, crop: int | None = None, clip_size: int | None = None,
                   resize_to: int | None = None) -> InputSpec:
        """The card's InputSpec: the published test transform (no resize, centre crop) unless
        ``resize_to`` is given and the family resizes at inference; then the shorter side is
        resized as training did (what large photos need when the training images were resized)."""
        size = self.size
        given = {"crop": crop, "clip_size": clip_size}.get(self.size_from) if self.size_from else None
        if given:
            size = int(given)
        if resize_to and self.inference_resize != "never":
            return InputSpec(size=size, resize="shorter_side", resize_to=int(resize_to), mean=self.mean, std=self.std)
        return InputSpec(size=size, resize="none", mean=self.mean, std=self.std)

    @property
    def crop(self) -> int:
        """The default training crop."""
        return int(self.default_crop or self.size)

    def train_command(self) -> list[str]:
        """The ``synthdetect`` arguments that train this family (before the options)."""
        return [a.format(name=self.name) for a in RECIPES[self.recipe]]


FAMILIES: dict[str, Family] = {}


def register(fam: Family) -> Family:
    """Add a family; refuses a name that is already registered and invalid fields."""
    if not isinstance(fam, Family):
        raise TypeError(f"register() takes a Family, not {type(fam).__name__}")
    fam.validate()
    if fam.name in FAMILIES:
        raise ValueError(f"family {fam.name!r} is already registered")
    FAMILIES[fam.name] = fam
    return fam


ENTRY_POINT_GROUP = "synthdetect.families"
_plugins: list[str] | None = None


def load_plugins() -> list[str]:
    """Load the installed ``synthdetect.families`` entry points once; returns the names of those loaded."""
    global _plugins
    if _plugins is not None:
        return _plugins
    _plugins = []
    from importlib.metadata import entry_points

    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        try:
            obj = ep.load()
            if ep.attr and callable(obj):
                obj()
        except Exception as e:  # a broken plug-in must not take the command down: say so, go on
            warn(f"family plug-in {ep.name!r} ({ep.value}) not loaded: {type(e).__name__}: {e}")
            continue
        _plugins.append(ep.name)
    return _plugins


def get(name: str) -> Family:
    load_plugins()
    if name not in FAMILIES:
        raise ValueError(f"unknown architecture {name!r} (known: {', '.join(FAMILIES)})")
    return FAMILIES[name]


def names(recipe: str | None = None) -> list[str]:
    """Registered family names in registration order, optionally only those of one recipe."""
    load_plugins()
    if recipe is not None and recipe not in RECIPES:
        raise ValueError(f"unknown recipe {recipe!r} (known: {', '.join(RECIPES)})")
    return [n for n, f in FAMILIES.items() if recipe is None or f.recipe == recipe]


# --------------------------------------------------------------------------- built-in families
_ARCHS = "synthdetect.train.archs"
_FORENSIC = "synthdetect.train.forensic"

register(Family(
    name="resnet50", family="resnet", card_text="ResNet-50 + Linear(2048,1) (Wang et al. 2020)", recipe="wang",
    factory=f"{_ARCHS}:TorchvisionResNet", factory_kw={"depth": 50}, pretrained_backbone=True))
register(Family(
    name="resnet18", family="resnet", card_text="ResNet-18 + Linear(512,1)", recipe="wang",
    factory=f"{_ARCHS}:TorchvisionResNet", factory_kw={"depth": 18}, pretrained_backbone=True))
register(Family(
    name="resnet-narrow", family="resnet", card_text="narrow ResNet (synthdetect) + Linear", recipe="wang",
    factory=f"{_ARCHS}:NarrowResNet"))
register(Family(  # Wang's transforms, the Lite models' own normalisation
    name="efficientnet-lite0", family="efficientnet-lite",
    card_text="EfficientNet-Lite0 (ImageNet-pretrained, fine-tuned end to end) + Linear(1280,1)", recipe="wang",
    factory=f"{_ARCHS}:LiteClassifier", factory_kw={"backbone": "efficientnet-lite0"}, mean=LITE_MEAN, std=LITE_STD, pretrained_backbone=True,
    weights_installed=True, load_kw={"pretrained": False}))
register(Family(
    name="clip-probe", family="clip-probe", card_text="frozen CLIP image tower + Linear (Ojha et al. 2023)",
    recipe="clip-probe", factory=f"{_ARCHS}:ClipProbe", mean=CLIP_MEAN, std=CLIP_STD, size_from="clip_size",
    inference_resize="never", pretrained_backbone=True, checkpoint="head"))
# forensic detectors: native resolution (resizing destroys traces) unless training resized
register(Family(
    name="npr", family="npr-residual", card_text="NPR residual CNN (synthdetect.train.forensic)", recipe="forensic",
    factory=f"{_FORENSIC}:NPRNet", size=256, inference_resize="as-trained", train_kw={"width": "width"},
    default_crop=128,
    summary="Train the NPR residual network from scratch (synthdetect.train.forensic), Wang-style loop."))
register(Family(
    name="spectral", family="spectral-residual", card_text="spectral residual detector (synthdetect.train.forensic)",
    recipe="forensic", factory=f"{_FORENSIC}:SpectralNet", size=256, size_from="crop", inference_resize="as-trained",
    train_kw={"crop": "size"}, summary="Train the spectral detector from scratch (the crop is its DFT window)."))
