"""A run directory stays true to its weights (synthdetect/train/consistency.py, runs.py, export.py and the
``train`` / ``export`` commands): --resume refuses other data or settings, a failed --force leaves the
earlier run as it was, export refuses an unfinished run and never replaces a file it was not allowed to,
validation images that are training images (by content) are refused."""

import hashlib
import json
import shutil

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _said(res):
    """The command's output as one line (a long line may be wrapped)."""
    return " ".join(res.output.split())


def _state(run):
    """Every file of a run directory by SHA-256."""
    return {p.name: _digest(p) for p in sorted(run.iterdir()) if p.is_file()}


def _resnet(train, out, *more, val=None):
    args = ["train", "resnet", "--train", train, "--arch", "resnet-narrow", "--blur-jpeg-prob", "0",
            "--batch-size", "8", "--seed", "1", "--threads", "1", "--epochs", "1", "--out", out, *more]
    return args + (["--val", val] if val else [])


@pytest.fixture(scope="module")
def finished(tiny_sets, tmp_path_factory):
    """A finished tiny run (trained on the tiny training set, validated on the tiny validation set)."""
    from typer.testing import CliRunner

    from synthdetect.cli import app

    train, val = tiny_sets
    run = tmp_path_factory.mktemp("runs") / "done"
    res = CliRunner().invoke(app, [str(a) for a in _resnet(train, run, val=val)])
    assert res.exit_code == 0, res.output
    return run


@pytest.fixture
def run_copy(finished, tmp_path):
    dst = tmp_path / "run"
    shutil.copytree(finished, dst)
    return dst


def test_resume_refuses_other_data_or_settings_and_changes_nothing(tiny_sets, run_copy, invoke, tmp_path):
    """H2: the audit's resume with other training data, another --lr and no --val was accepted and the
    card then named data and settings the weights never saw."""
    train, val = tiny_sets
    other = shutil.copytree(train, tmp_path / "other")
    (other / "0_real" / "0_real_000.jpg").unlink()
    before = _state(run_copy)
    res = invoke(_resnet(other, run_copy, "--resume", "--lr", "0.5", "--epochs", "2"), code=2)
    msg = _said(res)
    assert "--resume" in msg and "--train: the run's 16 images" in msg and "now 15 images" in msg
    assert "--lr: 0.0001 in the run, now 0.5" in msg and "--val: the run's 10 images" in msg
    assert _state(run_copy) == before  # config.json, train.txt, val.txt, checkpoints untouched
    # the same images under another path are the same data; other bytes under the same path are not
    moved = shutil.copytree(train, tmp_path / "moved")
    invoke(_resnet(moved, run_copy, "--resume", "--epochs", "2", "--threads", "2", val=val))
    cfg = json.loads((run_copy / "config.json").read_text())
    assert cfg["result"]["last_epoch"] == 2 and cfg["resumed_from_epoch"] == 1
    shutil.copy(moved / "1_fake" / "1_fake_000.jpg", moved / "0_real" / "0_real_000.jpg")
    res = invoke(_resnet(moved, run_copy, "--resume", "--epochs", "3", val=val), code=2)
    assert "other images or labels" in _said(res)
    res = invoke(_resnet(train, run_copy, "--resume", "--epochs", "1", val=val), code=2)
    assert "already trained 2 epochs" in _said(res)


def test_resume_differences_name_each_setting_and_let_epochs_and_devices_change():
    from synthdetect.train.consistency import resume_differences

    old = {"lr": 1e-4, "seed": 1, "epochs": 3, "device": "cpu", "threads": 1, "arch_kw": {"backbone_weights": "a.pth"},
           "train": {"sets": ["a"], "n": 4, "sha256": "x"}, "val": None, "created": "then"}
    same = {**old, "epochs": 9, "device": "cuda", "threads": 8, "arch_kw": {"backbone_weights": "/abs/a.pth"},
            "train": {"sets": ["/elsewhere/a"], "n": 4, "sha256": "x"}, "created": "now"}
    assert resume_differences(old, same, 3) == []
    diffs = resume_differences(old, {**same, "seed": 2, "val": {"sets": ["v"], "n": 2, "sha256": "y"}}, 3)
    assert diffs == ["--seed: 1 in the run, now 2", "--val: the run's none, now 2 images of v"]
    assert resume_differences(old, {**same, "epochs": 2}, 3) == ["--epochs 2: the run has already trained 3 epochs"]
    # a CLIP probe's backbone info names its weights file: a moved file with the same digest is the same backbone
    clip = {**old, "backbone": {"backbone": "ViT-L-14", "weights": "a.bin", "weights_digest": "d1"}}
    moved = {**clip, "backbone": {**clip["backbone"], "weights": "/new/place/a.bin"}}
    assert resume_differences(clip, moved, 3) == []
    other = {**clip, "backbone": {**clip["backbone"], "weights": "b.bin", "weights_digest": "d2"}}
    assert len(resume_differences(clip, other, 3)) == 1


def test_a_failed_force_run_leaves_the_earlier_run_as_it_was(tiny_sets, run_copy, invoke, tmp_path):
    """M1: the data step failed after config.json was rewritten; export then carded the old weights as
    trained on the new data."""
    bad = shutil.copytree(tiny_sets[0], tmp_path / "bad")
    for p in (bad / "1_fake").iterdir():
        p.write_bytes(b"\xff\xd8\xff\xe0" + p.name.encode())
    before = _state(run_copy)
    res = invoke(_resnet(bad, run_copy, "--force"), code=4)
    assert "nothing was trained" in _said(res)
    assert _state(run_copy) == before
    invoke(["export", run_copy, "--out", tmp_path / "w" / "ok.onnx", "--parity-n", "2"])


def test_export_refuses_an_unfinished_run_or_a_checkpoint_that_is_not_its_own(run_copy, finished, invoke, tmp_path):
    cfg = json.loads((run_copy / "config.json").read_text())
    assert set(cfg["result"]["checkpoints"]) == {"best.pt", "last.pt"}
    unfinished = {k: v for k, v in cfg.items() if k != "result"}
    (run_copy / "config.json").write_text(json.dumps(unfinished))
    res = invoke(["export", run_copy, "--out", tmp_path / "w" / "a.onnx", "--parity-n", "2"], code=2)
    assert "did not finish" in _said(res) and len(res.output.strip().splitlines()) == 1
    (run_copy / "config.json").write_text(json.dumps(cfg))
    sd = torch.load(run_copy / "best.pt", weights_only=True)
    torch.save({k: v + 1 for k, v in sd.items()}, run_copy / "best.pt")
    res = invoke(["export", run_copy, "--out", tmp_path / "w" / "a.onnx", "--parity-n", "2"], code=2)
    assert "is not the checkpoint the run's config.json describes" in _said(res)
    assert not (tmp_path / "w").exists() or not list((tmp_path / "w").iterdir())


def test_force_replaces_the_earlier_runs_files_and_keeps_others(tiny_sets, run_copy, invoke):
    """L1: --force without --val left the earlier run's val.txt beside a config that says no val."""
    (run_copy / "notes.txt").write_text("mine")
    invoke(_resnet(tiny_sets[0], run_copy, "--force"))
    cfg = json.loads((run_copy / "config.json").read_text())
    assert cfg["val"] is None and not (run_copy / "val.txt").exists() and not (run_copy / "val.sha256").exists()
    assert (run_copy / "notes.txt").read_text() == "mine"
    assert [json.loads(line)["epoch"] for line in (run_copy / "log.jsonl").read_text().splitlines()] == [1]


def test_a_validation_copy_of_a_training_image_is_refused(tiny_sets, invoke, tmp_path):
    """M2: byte-identical copies given as --val were not noticed (only the same paths were)."""
    train, _ = tiny_sets
    copy = shutil.copytree(train, tmp_path / "copy")
    res = invoke(_resnet(train, tmp_path / "r", val=copy), code=2)
    assert "16 --val images are --train images" in _said(res) and "byte-identical" in _said(res)
    assert not (tmp_path / "r" / "config.json").exists()


def test_a_runs_training_images_are_found_among_others_by_content(finished, tiny_sets, tmp_path):
    from synthdetect.inputs.datasets import list_items
    from synthdetect.train.consistency import training_images_among

    train, val = tiny_sets
    lines = (finished / "train.sha256").read_text().splitlines()
    assert len(lines) == 16 and all(len(line.split("  ", 1)[0]) == 64 for line in lines)
    copy = tmp_path / "x.jpg"
    shutil.copy(train / "0_real" / "0_real_000.jpg", copy)
    paths = [i.path for i in list_items(val)] + [copy]
    assert training_images_among(finished, paths) == [len(paths) - 1]
    from synthdetect.train.scoring import RunScorer  # what evaluate RUN needs to flag them

    digests = {}
    assert RunScorer(finished, device="cpu").training_images(paths, digests) == [len(paths) - 1]
    assert len(digests) == len(paths)


def test_export_checks_every_file_it_writes_and_a_failed_int8_check_replaces_nothing(finished, invoke, tmp_path,
                                                                                      monkeypatch):
    """M3: NAME.json, NAME.int8.onnx and NAME.int8.json were replaced without --force, and a failed int8
    parity check under --force removed the new NAME.onnx after it had replaced the old one."""
    from synthdetect.train import export as E

    w = tmp_path / "models"
    w.mkdir()
    (w / "n.json").write_text('{"my": "notes"}')
    res = invoke(["export", finished, "--out", w / "n.onnx", "--parity-n", "2"], code=2)
    assert "n.json exists" in _said(res) and (w / "n.json").read_text() == '{"my": "notes"}'
    invoke(["export", finished, "--out", w / "p.onnx", "--parity-n", "2", "--int8"])
    (w / "q.int8.json").write_text("{}")
    res = invoke(["export", finished, "--out", w / "q.onnx", "--parity-n", "2", "--int8"], code=2)
    assert "q.int8.json exists" in _said(res) and not (w / "q.onnx").exists()
    before = _state(w)
    monkeypatch.setattr(E, "INT8_TOLERANCE", -1.0)
    res = invoke(["export", finished, "--out", w / "p.onnx", "--parity-n", "2", "--int8", "--force"], code=4)
    assert "int8 parity failed" in _said(res)
    assert _state(w) == before  # p.onnx, p.json, p.int8.onnx, p.int8.json as they were; no temporary file left


def test_evaluate_a_run_on_its_own_training_images_says_so(finished, tiny_sets, invoke, tmp_path):
    """`evaluate RUN --data <its training set>` printed Table 1 with no warning."""
    train, val = tiny_sets
    res = invoke(["evaluate", str(finished), "--data", train, "--format", "json", "--out", tmp_path / "m.json"])
    rep = json.loads((tmp_path / "m.json").read_text())
    (m,) = rep["models"].values()
    assert m["calibration_images"] == 16
    assert "16 of the 16 images are done's own training images (the same bytes as its train.sha256" in _said(res)
    res = invoke(["evaluate", str(finished), "--data", val, "--format", "json", "--out", tmp_path / "v.json"])
    assert "calibration_images" not in json.loads((tmp_path / "v.json").read_text())["models"]["done"]
    assert "training images" not in _said(res)
