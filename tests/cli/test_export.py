"""``synthdetect export RUN`` (synthdetect/cli/export.py): a trained run to ONNX + card, refusing to overwrite."""

import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from synthdetect.cards import ModelCard  # noqa: E402



def test_export_run_cli_and_clip_probe(tiny_sets, tmp_path, invoke):
    train, val = tiny_sets
    run = tmp_path / "c"
    invoke(["train", "clip-probe", "--train", train, "--val", val, "--backbone", "synthdetect-tiny-vit",
            "--backbone-weights", "none", "--epochs", "1", "--cache-dir", tmp_path / "fc", "--out", run,
            "--threads", "1"])
    out = tmp_path / "w" / "clip.onnx"
    invoke(["export", run, "--out", out, "--parity-n", "4"])
    card = ModelCard.load(out.with_suffix(".json"))
    assert card.architecture == "clip-probe" and card.input.size == 32
    assert card.input.mean[0] == pytest.approx(0.48145466)
    assert "random init" in card.description
    assert card.training["train"]["n"] == 16 and card.parity["n_images"] == 4
    # refuses to overwrite
    res = invoke(["export", run, "--out", out], code=2)
    assert "exists" in res.output
