"""Pretrained backbones: weights verified before export, ONNX parity with PyTorch, probes over them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from synthdetect.cards import BackboneCard, sha256_file
from synthdetect.train import backbones as B
from synthdetect.train.export import export_backbone

runner = CliRunner()


def _images(root: Path, n: int = 6) -> list[Path]:
    from PIL import Image

    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        p = root / f"img{i}.png"
        Image.fromarray(rng.integers(0, 255, (300 + 20 * i, 260, 3), dtype=np.uint8)).save(p)
        out.append(p)
    return out


def test_lite0_weights_are_checked_against_the_pinned_digest(tmp_path):
    spec = B.get("efficientnet-lite0")
    p = B.verified_weights(spec)  # the file the pinned package installed
    assert sha256_file(p) == spec.weights_sha256
    bad = tmp_path / "tampered.pth"
    bad.write_bytes(p.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(B.WeightsError, match="sha256 mismatch"):
        B.verified_weights(spec, bad)
    with pytest.raises(KeyError):
        B.get("no-such-backbone")


def test_lite0_export_parity_and_card(tmp_path):
    imgs = _images(tmp_path, 3)
    card = export_backbone("efficientnet-lite0", tmp_path / "out", imgs)
    assert card.dim == 1536 and card.parity["passed"] and card.parity["max_rel_dfeature"] < 1e-3
    again = BackboneCard.load(tmp_path / "out" / "efficientnet-lite0.backbone.json")
    assert again.sha256 == sha256_file(tmp_path / "out" / "efficientnet-lite0.onnx")
    assert again.source["sha256"] == B.get("efficientnet-lite0").weights_sha256
    assert again.input.tiles == 4 and again.input.resize == "none"
    # the ImageNet head still classifies: the trunk is the real pretrained network
    feats = B.build("efficientnet-lite0")(torch.zeros(1, 3, 224, 224))
    assert feats.shape == (1, 1536) and torch.isfinite(feats).all()


def test_high_pass_is_the_amplified_residual_of_a_box_blur():
    from synthdetect.train.archs import RESIDUAL_GAIN, high_pass

    flat = torch.full((1, 3, 16, 16), 0.3)
    assert torch.allclose(high_pass(flat), torch.zeros_like(flat), atol=1e-6)  # edges repeated: no border ring
    x = torch.zeros(1, 1, 5, 5)
    x[0, 0, 2, 2] = 0.09
    r = high_pass(x)
    assert torch.isclose(r[0, 0, 2, 2], torch.tensor(RESIDUAL_GAIN * 0.09 * 8 / 9))
    assert torch.isclose(r[0, 0, 1, 1], torch.tensor(-RESIDUAL_GAIN * 0.01))
    spike = torch.zeros(1, 1, 5, 5)
    spike[0, 0, 2, 2] = 1.0
    assert high_pass(spike).max() == 1.0 and high_pass(-spike).min() == -127 / 128  # the pixel range


def test_residual_backbone_is_the_image_features_then_the_residual_features(tmp_path):
    from synthdetect.probes.feature_groups import candidate_groups
    from synthdetect.train.archs import high_pass

    x = torch.randn(2, 3, 224, 224).clamp(-1, 1)
    plain, dual = B.build("efficientnet-lite0"), B.build("efficientnet-lite0-residual")
    with torch.no_grad():
        a, b = plain(x), dual(x)
        assert b.shape == (2, 3072)
        assert torch.allclose(b[:, :1536], a, atol=1e-4) and torch.allclose(b[:, 1536:], plain(high_pass(x)), atol=1e-4)
    card = export_backbone("efficientnet-lite0-residual", tmp_path / "out", _images(tmp_path, 2))
    assert card.dim == 3072 and card.parity["passed"]
    names = {g.name: g.indices for g in candidate_groups(card.features, card.dim)}
    assert list(names["image"]) == list(range(1536)) and list(names["residual"]) == list(range(1536, 3072))
    assert names["residual:stages1-3"].min() == 1536 and names["stages1-3"].max() < 1536


def test_a_clip_backbone_goes_through_the_same_mechanism(tmp_path, monkeypatch):
    """A (tiny, random) CLIP image tower registered as a backbone: exported with parity, then a
    torch-free probe is fitted over it, as the paper's runs 5-7 over ViT-L/14 would be."""
    from synthdetect.train.archs import clip_backbone

    visual, _ = clip_backbone("synthdetect-tiny-vit", None)
    wfile = tmp_path / "tiny-vit.pt"
    torch.save(visual.state_dict(), wfile)
    spec = B.BackboneSpec(
        name="tiny-clip-test", architecture="tiny random ViT (test)", description="test only",
        input=B.InputSpec(size=32, resize="none", mean=B.CLIP_MEAN, std=B.CLIP_STD, tiles=2),
        factory=B._clip_factory("synthdetect-tiny-vit", "ojha"), weights_package="test",
        weights_locator=lambda: wfile, weights_sha256=sha256_file(wfile), code_package="open_clip_torch",
        licence="test")
    monkeypatch.setitem(B.BACKBONES, spec.name, spec)
    out = tmp_path / "models"
    card = export_backbone("tiny-clip-test", out, _images(tmp_path, 3))
    assert card.parity["passed"] and card.dim > 0

    from tests.probes.test_train import make_images  # labelled sample with a learnable signal

    data = make_images(tmp_path / "sample", n=12)
    r = runner.invoke(__import__("synthdetect.cli", fromlist=["app"]).app, [
        "train", "probe", "--data", str(data), "--backbone", "tiny-clip-test", "--name", "clipprobe",
        "--models-dir", str(out), "--out", str(out), "--cache-dir", str(tmp_path / "cache"), "--format", "json"])
    assert r.exit_code == 0, r.output
    probe = json.loads((out / "clipprobe.json").read_text())
    assert probe["backbone"]["sha256"] == card.sha256 and probe["calibration"]["n_real"] == 12




def test_backbone_export_cli_takes_parity_images_without_labels(tmp_path):
    """The parity check compares ONNX with PyTorch: it needs images, not labels, so a plain
    folder (no 0_real/ 1_fake/) serves, and --parity-n picks that many of its images."""
    from synthdetect.cli import app

    plain = tmp_path / "plain"
    plain.mkdir()
    _images(plain, 3)
    r = runner.invoke(app, ["backbone", "export", "efficientnet-lite0", "--out", str(tmp_path / "out"),
                            "--parity-data", str(plain), "--parity-n", "2"])
    assert r.exit_code == 0, r.output
    card = BackboneCard.load(tmp_path / "out" / "efficientnet-lite0.backbone.json")
    assert card.parity["passed"] and card.parity["n_images"] == 2
    assert "on 2 images" in " ".join(r.output.split()) or "of 2 images" in " ".join(r.output.split())
