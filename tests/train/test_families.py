"""Detector families: registered once in ``synthdetect.train.families``, usable everywhere by name
(build, train, input spec, run loading, export card), and importable without torch."""

from __future__ import annotations

import json

import pytest

from synthdetect.cards import CLIP_MEAN, CLIP_STD, IMAGENET_MEAN, IMAGENET_STD, InputSpec
from synthdetect.train import families as F
from tests.support import run_without_torch


def test_families_and_backbones_import_without_torch():
    code = (
        "from synthdetect.train import backbones, families\n"
        "assert families.names('wang') == ['resnet50', 'resnet18', 'resnet-narrow', 'efficientnet-lite0']\n"
        "assert families.get('npr').input_spec().size == 256\n"
        "assert sorted(backbones.BACKBONES) == ['clip-vitl14-openai', 'efficientnet-lite0', 'efficientnet-lite0-residual']\n"
        "assert not any(k.split('.')[0] in ('torch', 'torchvision', 'open_clip') for k in sys.modules)\n"
        "print('ok')\n")
    r = run_without_torch(code)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr[-2000:]


def test_builtin_table():
    assert F.names() == ["resnet50", "resnet18", "resnet-narrow", "efficientnet-lite0", "clip-probe", "npr",
                         "spectral"]
    assert F.names("forensic") == ["npr", "spectral"] and F.names("clip-probe") == ["clip-probe"]
    assert F.get("resnet-narrow").train_command() == ["train", "resnet", "--arch", "resnet-narrow"]
    assert F.get("spectral").train_command() == ["train", "spectral"]
    assert F.get("clip-probe").train_command() == ["train", "clip-probe"]
    assert (F.get("npr").crop, F.get("spectral").crop, F.get("resnet50").crop) == (128, 256, 224)
    assert F.get("npr").summary.startswith("Train the NPR")
    assert F.get("resnet50").family == "resnet" and "ResNet-50" in F.get("resnet50").card_text
    # the card input of each recipe
    assert F.get("resnet18").input_spec() == InputSpec(size=224, resize="none")
    assert F.get("resnet18").input_spec(resize_to=256) == InputSpec(size=224, resize="shorter_side", resize_to=256)
    assert F.get("clip-probe").input_spec(clip_size=336, resize_to=256).key() == InputSpec(
        size=336, mean=CLIP_MEAN, std=CLIP_STD).key()
    assert F.get("spectral").input_spec(crop=64).size == 64 and F.get("npr").input_spec(crop=64).size == 256
    with pytest.raises(ValueError, match="unknown recipe"):
        F.names("nope")


def test_an_unknown_name_fails_with_a_clear_error_at_lookup():
    with pytest.raises(ValueError, match=r"unknown architecture 'resnet51' \(known: resnet50, resnet18"):
        F.get("resnet51")


def test_register_refuses_duplicates_and_invalid_fields(monkeypatch):
    monkeypatch.setattr(F, "FAMILIES", dict(F.FAMILIES))
    ok = dict(name="x-test", family="x", card_text="x net", recipe="wang", factory="mod:Cls")
    with pytest.raises(ValueError, match="already registered"):
        F.register(F.Family(**{**ok, "name": "resnet50"}))
    for bad, msg in [({"recipe": "adam"}, "recipe must be one of"), ({"factory": "mod.Cls"}, "factory must be"),
                     ({"card_text": ""}, "card_text"), ({"size_from": "width"}, "size_from"),
                     ({"inference_resize": "always"}, "inference_resize"), ({"checkpoint": "all"}, "checkpoint"),
                     ({"name": " x"}, "family name")]:
        with pytest.raises(ValueError, match=msg):
            F.register(F.Family(**{**ok, **bad}))
    with pytest.raises(TypeError):
        F.register(ok)
    assert "x-test" not in F.FAMILIES
    F.register(F.Family(**ok))
    assert F.names("wang")[-1] == "x-test"


# --------------------------------------------------------------------------- a family from outside
def _tiny_net_cls():
    torch = pytest.importorskip("torch")
    from torch import nn

    class TinyNet(nn.Module):
        """A two-layer CNN: [N, 3, S, S] -> logits [N]."""

        def __init__(self, width: int = 4, bias: float = 0.0):
            super().__init__()
            self.conv = nn.Conv2d(3, width, 3, 2, 1)
            self.fc = nn.Linear(width, 1)
            nn.init.constant_(self.fc.bias, bias)

        def forward(self, x):
            h = torch.relu(self.conv(x)).mean(dim=(2, 3))
            return self.fc(h).squeeze(1)

    return TinyNet


def TinyNet(**kw):  # noqa: N802 - the factory the test family names ("tests.train.test_families:TinyNet")
    return _tiny_net_cls()(**kw)


@pytest.fixture
def tiny_family(monkeypatch):
    monkeypatch.setattr(F, "FAMILIES", dict(F.FAMILIES))
    return F.register(F.Family(
        name="tiny-test", family="tiny-cnn", card_text="tiny test CNN + Linear", recipe="forensic",
        factory="tests.train.test_families:TinyNet", factory_kw={"bias": 0.5}, size=32,
        inference_resize="as-trained", train_kw={"width": "width"}))


def test_a_family_registered_once_builds_trains_loads_and_exports(tiny_family, tiny_sets, tmp_path):
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")
    from synthdetect.cards import ModelCard
    from synthdetect.train.augment import AugmentConfig
    from synthdetect.train.export import export_run
    from synthdetect.train.runs import load_run, train_images

    m = F.get("tiny-test").build(width=6)
    assert m.conv.out_channels == 6 and m.fc.bias.item() == 0.5  # fixed kwargs, then the caller's
    assert m(torch.zeros(2, 3, 32, 32)).shape == (2,)
    assert F.get("tiny-test").input_spec() == InputSpec(size=32, mean=IMAGENET_MEAN, std=IMAGENET_STD)

    train, val = tiny_sets
    run = tmp_path / "run"
    res = train_images(recipe="tiny-from-scratch", arch="tiny-test", arch_kw={"width": 6}, train=[str(train)],
                       val=[str(val)], aug=AugmentConfig(blur_prob=0, jpeg_prob=0, crop=32), resize_to=40, out=run,
                       epochs=1, batch_size=8, seed=0, threads=1)
    assert res["last_epoch"] == 1
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["arch"] == "tiny-test" and cfg["pretrained_backbone"] is False
    # the family resizes at inference as training did
    assert cfg["input_spec"] == json.loads(InputSpec(size=32, resize="shorter_side", resize_to=40).key())

    model, spec, _ = load_run(run)
    assert model.conv.out_channels == 6 and not model.training
    assert spec == InputSpec(size=32, resize="shorter_side", resize_to=40)

    out = tmp_path / "w" / "tiny.onnx"
    card = export_run(run, out, parity_n=4)
    assert card.parity["passed"]
    loaded = ModelCard.load(out.with_suffix(".json"))
    assert loaded.architecture == "tiny-test" and loaded.family == "tiny-cnn"
    assert loaded.description.startswith("tiny test CNN + Linear; recipe tiny-from-scratch")
    assert "NOT pretrained" not in loaded.description  # a from-scratch family is not warned about


def test_a_family_from_an_installed_plugin_reaches_the_cli(tmp_path):
    """User code registers a family through the ``synthdetect.families`` entry point of its package:
    the ``synthdetect`` command then has it (here: ``train toyfam``, a forensic-recipe command);
    a plug-in that fails to load is one warning line and the rest goes on.  No torch needed."""
    import os

    from tests.support import REPO, run_without_torch

    site = tmp_path / "site"
    meta = site / "toyfam-0.1.dist-info"
    meta.mkdir(parents=True)
    (meta / "METADATA").write_text("Metadata-Version: 2.1\nName: toyfam\nVersion: 0.1\n")
    (meta / "entry_points.txt").write_text("[synthdetect.families]\ntoy = toyfam_plugin\nbroken = toyfam_missing\n")
    (site / "toyfam_plugin.py").write_text(
        "from synthdetect.train.families import Family, register\n"
        "register(Family(name='toyfam', family='toy', card_text='toy CNN', recipe='forensic',\n"
        "                factory='toyfam_plugin:Net', summary='Train the toy family (a plug-in).'))\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), str(REPO)]), COLUMNS="200")
    r = run_without_torch("import sys\nsys.argv = ['synthdetect', 'train', '--help']\nfrom synthdetect.cli import main\n"
                          "try:\n    main()\nexcept SystemExit as e:\n    assert e.code in (0, None), e.code\n", env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "toyfam" in r.stdout and "Train the toy family (a plug-in)." in r.stdout
    assert r.stderr.count("synthdetect: warning: family plug-in 'broken' (toyfam_missing) not loaded") == 1
