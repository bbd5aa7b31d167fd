"""Issue 18 item 1, the commands besides scan/report: evaluate, train, export, ensemble build, weights
import never write over a file they read (docs/safety.md); exit 2, nothing written."""

import hashlib
import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")


def _digests(*dirs: Path) -> dict:
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for d in dirs for p in sorted(d.rglob("*")) if p.is_file()}


def _refused(res):
    assert res.exit_code == 2, res.output
    assert "synthdetect: error: " in res.output and "Traceback" not in res.output


def test_evaluate_out_and_plots_never_land_on_the_data(exported, tiny_sets, invoke):
    base, _ = exported
    _, val = tiny_sets
    before = _digests(Path(val))
    image = next(p for p in sorted(Path(val).rglob("*")) if p.suffix in (".png", ".jpg"))
    res = invoke(["evaluate", base / "models" / "m0.onnx", "--data", val, "--out", image], code=None)
    _refused(res)
    assert "refusing to overwrite evidence" in res.output
    res = invoke(["evaluate", base / "models" / "m0.onnx", "--data", val, "--plots", val], code=None)
    _refused(res)
    assert _digests(Path(val)) == before


def test_train_run_directory_may_not_hold_the_training_data(tiny_sets, invoke, tmp_path):
    train, val = tiny_sets
    before = _digests(Path(train))
    for out in (train, Path(train).parent):
        res = invoke(["train", "resnet", "--arch", "resnet-narrow", "--train", train, "--val", val, "--out", out,
                      "--blur-jpeg-prob", "0", "--epochs", "1", "--force"], code=None)
        _refused(res)
        assert "holds a file this command reads" in res.output
    assert _digests(Path(train)) == before


def test_export_and_ensemble_never_replace_what_they_read(exported, invoke):
    base, runs = exported
    models = base / "models"
    before = _digests(runs[0], models)
    best = next(p for p in runs[0].rglob("*.pt"))
    _refused(invoke(["export", runs[0], "--out", best, "--force"], code=None))
    res = invoke(["ensemble", "build", "--members", "m0,m1", "--models-dir", models, "--method", "mean",
                  "--out", models / "m0.json", "--force"], code=None)
    _refused(res)
    assert "refusing to overwrite evidence" in res.output
    assert _digests(runs[0], models) == before


def test_weights_import_never_installs_over_its_source(tmp_path, invoke):
    models = tmp_path / "models"
    models.mkdir()
    src = models / "cnndetection-blur-jpg-prob0.5.onnx"  # a checkpoint kept where the model would go
    src.write_bytes(b"not really a checkpoint")
    res = invoke(["weights", "import", "cnndetection-blur-jpg-prob0.5", "--from", src, "--models-dir", models,
                  "--cache-dir", tmp_path / "cache"], code=None)
    _refused(res)
    assert src.read_bytes() == b"not really a checkpoint" and not (tmp_path / "cache").exists()


def test_evaluate_out_is_never_a_card_of_a_model_named_by_name(tmp_path):
    """``evaluate NAME --out`` where NAME is an installed model: its card is a file the command reads."""
    import shutil

    from synthdetect.cards import sha256_file
    from tests.support import cli as run_cli

    weights = Path(__file__).resolve().parents[2] / "weights"
    models = tmp_path / "models"
    models.mkdir()
    for f in ("npr.json", "npr.onnx"):
        shutil.copy(weights / f, models / f)
    before = sha256_file(models / "npr.json")
    data = tmp_path / "data"
    for d in ("0_real", "1_fake"):
        (data / d).mkdir(parents=True)
    r = run_cli(["evaluate", "npr", "--data", str(data), "--models-dir", str(models), "--out", str(models / "npr.json")])
    assert r.exit_code == 2 and "refusing to overwrite evidence" in r.stderr, r.output
    assert sha256_file(models / "npr.json") == before


def test_evaluate_out_replaces_an_earlier_metrics_file_only(models_dir, images, tmp_path):
    """``evaluate --out`` re-runs over its own metrics file; any other existing file (a photo, notes) needs
    --force: it may be evidence."""
    from PIL import Image

    from tests.support import cli as run_cli

    data = tmp_path / "data"
    for d, colour in (("0_real", (20, 20, 20)), ("1_fake", (230, 230, 230))):
        (data / d).mkdir(parents=True)
        for i in range(3):
            Image.new("RGB", (48, 48), (colour[0] + i, colour[1], colour[2])).save(data / d / f"{i}.png")
    args = ["evaluate", "bright", "--data", str(data), "--models-dir", str(models_dir), "--out"]
    out = tmp_path / "metrics.json"
    for _ in range(2):
        r = run_cli([*args, str(out)])
        assert r.exit_code == 0, r.output
    assert json.loads(out.read_text())["schema"] == "synthdetect.metrics/1"
    photo = tmp_path / "IMG_0001.jpg"
    Image.new("RGB", (32, 32), (9, 9, 9)).save(photo)
    keep = photo.read_bytes()
    r = run_cli([*args, str(photo)])
    assert r.exit_code == 2 and "is not an earlier synthdetect result" in r.stderr and photo.read_bytes() == keep
    assert run_cli([*args, str(photo), "--force"]).exit_code == 0
