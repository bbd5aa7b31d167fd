"""Shared fixtures: tiny ONNX detectors with known behaviour, cards, and test images.

The tiny models are built with ``onnx.helper`` (no torch):
``input [N,3,S,S] -> GlobalAveragePool -> Flatten -> MatMul W[3,1] -> Add b -> logit [N]``.
So a model's logit is ``w . mean_rgb(normalised) + b`` and its behaviour on flat-colour
images is known in advance:

* ``bright`` (224-style: shorter side -> 40, crop 32, ImageNet norm, logit): synthetic for
  bright images, real for dark ones.
* ``dark``   (native resolution, crop 16, ImageNet norm, logit): the opposite.
* ``redprob`` (shorter side -> 28, crop 24, CLIP norm, output ``probability`` of shape
  [N, 1], sigmoid inside the graph): synthetic for red images.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    """No network access from any test."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(autouse=True)
def _result_cache_dir(monkeypatch, tmp_path_factory):
    """Each test gets its own empty scan result cache, never the user's."""
    monkeypatch.setenv("SYNTHDETECT_CACHE_DIR", str(tmp_path_factory.mktemp("result-cache")))


@pytest.fixture
def isolated_registry(monkeypatch, tmp_path_factory):
    """Model search path limited to what a test passes: no env var, no bundled/user models.

    Opt in with ``pytestmark = pytest.mark.usefixtures("isolated_registry")``.
    """
    monkeypatch.delenv("SYNTHDETECT_MODELS_DIR", raising=False)
    empty = tmp_path_factory.getbasetemp() / "no-models"
    empty.mkdir(exist_ok=True)
    import synthdetect.cards as cards

    monkeypatch.setattr(cards, "bundled_dir", lambda: empty)
    monkeypatch.setattr(cards, "user_models_dir", lambda: empty)


def build_tiny_onnx(path: Path, size: int, w, b: float, sigmoid: bool = False, out_2d: bool = False) -> Path:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, size, size])
    out_shape = ["N", 1] if out_2d else ["N"]
    out_name = "logit" if not sigmoid else "probability"
    y = helper.make_tensor_value_info(out_name, TensorProto.FLOAT, out_shape)
    inits = [
        numpy_helper.from_array(np.asarray(w, np.float32).reshape(3, 1), "W"),
        numpy_helper.from_array(np.asarray([b], np.float32), "B"),
        numpy_helper.from_array(np.asarray([-1, 1] if out_2d else [-1], np.int64), "shape"),
    ]
    nodes = [
        helper.make_node("GlobalAveragePool", ["input"], ["g"]),
        helper.make_node("Flatten", ["g"], ["f"]),
        helper.make_node("MatMul", ["f", "W"], ["m"]),
        helper.make_node("Add", ["m", "B"], ["a"]),
    ]
    if sigmoid:
        nodes.append(helper.make_node("Sigmoid", ["a"], ["s"]))
        nodes.append(helper.make_node("Reshape", ["s", "shape"], [out_name]))
    else:
        nodes.append(helper.make_node("Reshape", ["a", "shape"], [out_name]))
    graph = helper.make_graph(nodes, "tiny", [x], [y], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def write_model(directory: Path, name: str, size: int, w, b: float, *, resize="none", resize_to=None,
                mean=None, std=None, output="logit", out_2d=False, tiles=1, **card_fields):
    from synthdetect.cards import IMAGENET_MEAN, IMAGENET_STD, InputSpec, ModelCard, sha256_file

    onnx_path = build_tiny_onnx(directory / f"{name}.onnx", size, w, b, sigmoid=output == "probability", out_2d=out_2d)
    card = ModelCard(
        name=name,
        file=onnx_path.name,
        sha256=sha256_file(onnx_path),
        architecture="tiny-gap-linear",
        family="test",
        input=InputSpec(size=size, resize=resize, resize_to=resize_to, tiles=tiles,
                        mean=mean or IMAGENET_MEAN, std=std or IMAGENET_STD),
        output=output,
        description="test model built by tests/conftest.py",
        **card_fields,
    )
    card.save(directory / f"{name}.json")
    return card


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory) -> Path:
    from synthdetect.cards import CLIP_MEAN, CLIP_STD, EnsembleCard

    d = tmp_path_factory.mktemp("models")
    write_model(d, "bright", 32, [1, 1, 1], 0.0, resize="shorter_side", resize_to=40, f1=0.9)
    write_model(d, "dark", 16, [-1, -1, -1], 0.0, f1=0.6)
    write_model(d, "redprob", 24, [4, -2, -2], 0.0, resize="shorter_side", resize_to=28,
                mean=CLIP_MEAN, std=CLIP_STD, output="probability", out_2d=True, f1=0.7)
    EnsembleCard(name="trio", members=["bright", "dark", "redprob"], method="majority").save(d / "trio.ensemble.json")
    return d


@pytest.fixture(scope="session")
def default_models_dir(tmp_path_factory) -> Path:
    """A model dir with a default ensemble (bright + redprob, weighted with card weights)."""
    from synthdetect.cards import EnsembleCard

    d = tmp_path_factory.mktemp("models_default")
    write_model(d, "bright", 32, [1, 1, 1], 0.0, resize="shorter_side", resize_to=40, f1=0.9)
    write_model(d, "dark", 16, [-1, -1, -1], 0.0, f1=0.6)
    EnsembleCard(name="default", members=["bright"], method="weighted",
                 weights={"bright": 0.8}).save(d / "default.ensemble.json")
    return d


def flat(color, size=(64, 48), mode="RGB"):
    from PIL import Image

    return Image.new(mode, size, color)


@pytest.fixture
def images(tmp_path) -> dict[str, Path]:
    """A small evidence folder: white/black/red images in several formats (the white and the black
    faintly tinted: a picture without colour is greyscale, which scan withholds from detectors not
    calibrated on greyscale images)."""
    d = tmp_path / "evidence"
    d.mkdir()
    out = {}
    flat((250, 246, 238), (80, 60)).save(d / "white.png")
    out["white"] = d / "white.png"
    flat((14, 5, 0), (60, 90)).save(d / "black.jpg", quality=95)
    out["black"] = d / "black.jpg"
    flat((240, 10, 10), (50, 50)).save(d / "red.webp", lossless=True)
    out["red"] = d / "red.webp"
    return out


@pytest.fixture
def make_model():
    """``make_model(directory, name, size, w, b, **card_fields) -> ModelCard`` (see write_model)."""
    return write_model


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not present at {SHARED_DATA}")
    return SHARED_DATA


