"""``synthdetect train probe`` (numpy + onnxruntime) and probes in ``scan``: a tiny backbone
built with onnx.helper, images whose class shows in simple statistics."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from synthdetect.cli import app

pytestmark = pytest.mark.usefixtures("isolated_registry")
runner = CliRunner()


def build_backbone(directory: Path, name: str = "tinybb", size: int = 16, tiles: int = 2):
    """features = [mean(x), mean(x*x)] per channel: dim 6."""
    import onnx
    from onnx import TensorProto, helper

    from synthdetect.cards import BackboneCard, InputSpec, sha256_file

    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, size, size])
    y = helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", 6])
    nodes = [
        helper.make_node("GlobalAveragePool", ["input"], ["m"]),
        helper.make_node("Mul", ["input", "input"], ["sq"]),
        helper.make_node("GlobalAveragePool", ["sq"], ["m2"]),
        helper.make_node("Concat", ["m", "m2"], ["c"], axis=1),
        helper.make_node("Flatten", ["c"], ["features"]),
    ]
    model = helper.make_model(helper.make_graph(nodes, "tinybb", [x], [y]),
                              opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(directory / f"{name}.onnx"))
    card = BackboneCard(name=name, file=f"{name}.onnx", sha256=sha256_file(directory / f"{name}.onnx"),
                        architecture="tiny mean/mean-square pooling", dim=6,
                        input=InputSpec(size=size, resize="none", tiles=tiles), licence="test")
    card.save(directory / f"{name}.backbone.json")
    return card


def make_images(root: Path, n: int = 24, seed: int = 0) -> Path:
    """Labelled folders: synthetic images are brighter and smoother on average (overlapping)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    for label, d in ((0, "0_real"), (1, "1_fake")):
        (root / d).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            base = rng.uniform(60, 160) + (40 if label else 0)
            noise = rng.normal(0, 50 - 25 * label, (40, 48, 3))
            arr = np.clip(base + noise, 0, 255).astype(np.uint8)
            Image.fromarray(arr).save(root / d / f"img{i:02d}.png")
    return root


@pytest.fixture
def setup(tmp_path):
    bbdir = tmp_path / "backbones"
    bbdir.mkdir()
    card = build_backbone(bbdir)
    data = make_images(tmp_path / "sample")
    return bbdir, card, data, tmp_path


def _train(bbdir, data, out, cache, *extra):
    return runner.invoke(app, ["train", "probe", "--data", str(data), "--backbone", "tinybb", "--name", "case42",
                               "--models-dir", str(bbdir), "--out", str(out), "--cache-dir", str(cache),
                               "--format", "json", *extra])


def test_train_probe_writes_a_calibrated_card_and_caches_features(setup):
    bbdir, bb, data, tmp = setup
    out = tmp / "models"
    r = _train(bbdir, data, out, tmp / "cache")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["images"] == 48 and doc["cache_hits"] == 0
    card = json.loads((out / "case42.json").read_text())
    assert card["backbone"]["sha256"] == bb.sha256
    assert card["file"] == "case42.head.json"
    from synthdetect.cards import sha256_file

    assert card["sha256"] == sha256_file(out / "case42.head.json")
    cal = card["calibration"]
    assert cal["n_real"] == 24 and cal["n_fake"] == 24 and len(cal["real_scores"]) == 24
    cv = card["metrics"]["cross_validated"]
    assert cv["roc_auc"] > 0.8  # the classes really are separable here
    tw = cv["three_way"]
    assert tw["false_alarm"]["k"] <= int(0.05 * 24)
    # the same images again: no extraction, identical head
    head1 = (out / "case42.head.json").read_text()
    r2 = _train(bbdir, data, out, tmp / "cache", "--force")
    assert r2.exit_code == 0, r2.output
    assert json.loads(r2.stdout)["cache_hits"] == 48
    assert (out / "case42.head.json").read_text() == head1
    # an existing model is never replaced silently
    r3 = _train(bbdir, data, out, tmp / "cache")
    assert r3.exit_code == 2 and "already exists" in r3.output


def test_a_corrupt_cache_entry_is_recomputed_not_trusted(setup):
    bbdir, bb, data, tmp = setup
    cache = tmp / "cache"
    assert _train(bbdir, data, tmp / "m1", cache).exit_code == 0
    files = sorted(cache.rglob("*.npy"))
    assert len(files) == 48
    files[0].write_bytes(files[0].read_bytes()[:20])  # truncated
    r = _train(bbdir, data, tmp / "m2", cache)
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["cache_hits"] == 47
    h1 = json.loads((tmp / "m1" / "case42.head.json").read_text())
    h2 = json.loads((tmp / "m2" / "case42.head.json").read_text())
    np.testing.assert_allclose(h1["coef"], h2["coef"], rtol=1e-6)


def test_unreadable_training_images_are_reported_and_the_fit_goes_on(setup):
    bbdir, bb, data, tmp = setup
    (data / "0_real" / "broken.png").write_bytes(b"not an image")
    r = _train(bbdir, data, tmp / "m", tmp / "cache")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["images"] == 48
    assert [u["path"] for u in doc["unreadable"]] == ["0_real/broken.png"]


def test_csv_data_and_too_few_images(setup, tmp_path):
    bbdir, bb, data, tmp = setup
    rows = ["path,label"] + [f"0_real/img{i:02d}.png,real" for i in range(10)] + \
           [f"1_fake/img{i:02d}.png,1" for i in range(10)]
    (data / "labels.csv").write_text("\n".join(rows) + "\n")
    r = _train(bbdir, data / "labels.csv", tmp / "m", tmp / "cache")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["images"] == 20
    (data / "few.csv").write_text("path,label\n0_real/img00.png,0\n1_fake/img00.png,1\n")
    r = _train(bbdir, data / "few.csv", tmp / "m2", tmp / "cache")
    assert r.exit_code == 2 and "at least 2 real and 2 synthetic" in r.output


def test_scan_runs_each_backbone_once_for_all_its_probes(setup, monkeypatch):
    bbdir, bb, data, tmp = setup
    out = tmp / "models"
    assert _train(bbdir, data, out, tmp / "cache").exit_code == 0
    # a second head over the same backbone
    for f in ("case42.json", "case42.head.json"):
        txt = (out / f).read_text().replace('"case42.head.json"', '"other.head.json"').replace('"name": "case42"',
                                                                                               '"name": "other"')
        (out / f.replace("case42", "other")).write_text(txt)
    from synthdetect import runtime

    calls = []
    orig = runtime.FeatureModel.features

    def counting(self, batch):
        calls.append(batch.shape[0])
        return orig(self, batch)

    monkeypatch.setattr(runtime.FeatureModel, "features", counting)
    from synthdetect.cards import Registry
    from synthdetect.scan import resolve_plan, run_scan

    reg = Registry([out, bbdir])
    plan = resolve_plan(reg, ["case42", "other"], "mean")
    res = run_scan([str(data / "1_fake")], plan, batch_size=64, provenance=False)
    assert len(calls) == 1 and calls[0] == 24 * 4  # 24 images x 2x2 crops, one pass for both heads
    for rec in res.records:
        assert rec["models"]["case42"]["probability"] == rec["models"]["other"]["probability"]
        m = rec["models"]["case42"]
        assert m["verdict"] in ("real", "synthetic", "inconclusive")
        assert m["threshold_real"] <= m["threshold"]
        if m["verdict"] == "synthetic":
            assert m["error_rate"]["kind"] == "false_alarm" and "real images" in m["error_rate"]["text"]


def test_scan_cli_three_way_verdicts_and_budgets(setup):
    bbdir, bb, data, tmp = setup
    out = tmp / "models"
    assert _train(bbdir, data, out, tmp / "cache").exit_code == 0
    base = ["scan", str(data), "--models", "case42", "--models-dir", str(out), "--models-dir", str(bbdir),
            "-f", "json", "--no-provenance"]
    strict = json.loads(runner.invoke(app, base + ["--max-false-alarm", "0", "--max-miss", "0"]).stdout)
    loose = json.loads(runner.invoke(app, base + ["--max-false-alarm", "0.3", "--max-miss", "0.3"]).stdout)
    n_inc = lambda d: sum(r["verdict"] == "inconclusive" for r in d["results"])  # noqa: E731
    assert n_inc(strict) >= n_inc(loose)
    assert strict["summary"]["verdicts"]["inconclusive"] == n_inc(strict)
    for r in strict["results"]:
        if r["verdict"] != "inconclusive":
            assert r["error_rate"]["n"] in (24,)
        else:
            assert r["reasons"]
    bad = runner.invoke(app, base + ["--max-false-alarm", "1.5"])
    assert bad.exit_code == 2


def test_a_probe_without_its_exact_backbone_is_refused(setup):
    bbdir, bb, data, tmp = setup
    out = tmp / "models"
    assert _train(bbdir, data, out, tmp / "cache").exit_code == 0
    r = runner.invoke(app, ["scan", str(data), "--models", "case42", "--models-dir", str(out)])
    assert r.exit_code == 2 and "no backbone" in r.output
    other = tmp / "otherbb"
    other.mkdir()
    build_backbone(other, size=8)  # same name, different file
    r = runner.invoke(app, ["scan", str(data), "--models", "case42", "--models-dir", str(out),
                            "--models-dir", str(other)])
    assert r.exit_code == 2 and "sha256" in r.output


def test_prior_centred_probe_from_the_command_line(setup):
    bbdir, bb, data, tmp = setup
    out = tmp / "models"
    assert _train(bbdir, data, out, tmp / "cache").exit_code == 0
    other = make_images(tmp / "other", n=16, seed=5)
    r = runner.invoke(app, ["train", "probe", "--data", str(other), "--backbone", "tinybb", "--name", "withprior",
                            "--prior", "case42", "--models-dir", str(bbdir), "--models-dir", str(out), "--out", str(out),
                            "--cache-dir", str(tmp / "cache"), "--format", "json"])
    assert r.exit_code == 0, r.output
    card = json.loads((out / "withprior.json").read_text())
    assert "prior-centred" in card["architecture"] and "case42" in card["training"]["prior"]
    bad = runner.invoke(app, ["train", "probe", "--data", str(other), "--backbone", "tinybb", "--name", "x",
                              "--prior", "nonexistent", "--models-dir", str(bbdir), "--out", str(out)])
    assert bad.exit_code == 2 and "nonexistent" in bad.output
