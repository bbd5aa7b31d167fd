import json

import pytest

from synthdetect.cards import sha256_file

torch = pytest.importorskip("torch")


def _cfg(run):
    return json.loads((run / "config.json").read_text())


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
    # refuses to overwrite, resumes
    res = invoke(common + ["--epochs", "2", "--out", run], code=1)
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


def test_init_from_really_loads_weights(tiny_sets, tmp_path):
    from synthdetect.train import families
    from synthdetect.train.runs import _init_from

    train, val = tiny_sets
    from synthdetect.train.augment import AugmentConfig
    from synthdetect.train.runs import train_images

    run = tmp_path / "r"
    train_images(recipe="t", arch="resnet-narrow", arch_kw={}, train=[str(train)], val=None,
                 aug=AugmentConfig(blur_prob=0, jpeg_prob=0, crop=32), resize_to=40, out=run, epochs=1,
                 batch_size=8, seed=0, threads=1)
    m = families.get("resnet-narrow").build()
    _init_from(m, run, "resnet-narrow")
    saved = torch.load(run / "best.pt", map_location="cpu", weights_only=True)
    assert torch.equal(m.state_dict()["fc.weight"], saved["fc.weight"])
    with pytest.raises(Exception):
        _init_from(families.get("resnet18").build(), run, "resnet18")


def test_training_reduces_loss_on_separable_data(tiny_sets, tmp_path):
    """The loop really optimises: a narrow ResNet learns the toy real/fake split."""
    from synthdetect.train.augment import AugmentConfig
    from synthdetect.train.runs import train_images

    train, val = tiny_sets
    run = tmp_path / "learn"
    train_images(recipe="t", arch="resnet-narrow", arch_kw={"widths": [8, 16]}, train=[str(train)], val=[str(val)],
                 aug=AugmentConfig(blur_prob=0, jpeg_prob=0, crop=32, flip=False), resize_to=None, out=run,
                 epochs=12, batch_size=16, lr=3e-3, seed=0, threads=1)
    log = [json.loads(l) for l in (run / "log.jsonl").read_text().splitlines()]
    assert log[-1]["train_loss"] < log[0]["train_loss"]
    assert max(r["val_acc"] for r in log) >= 0.8


def test_backbone_weights_loaded_from_local_file(tmp_path):
    from synthdetect.train import families

    import torchvision

    ref = torchvision.models.resnet18(weights=None)
    p = tmp_path / "r18.pth"
    torch.save(ref.state_dict(), p)
    m = families.get("resnet18").build(backbone_weights=p)
    assert m.pretrained and len(m.backbone_digest) == 64
    assert torch.equal(m.net.conv1.weight, ref.conv1.weight)
    assert m.net.fc.out_features == 1
    bad = tmp_path / "bad.pth"
    torch.save({"foo": torch.zeros(1)}, bad)
    with pytest.raises(ValueError):
        families.get("resnet18").build(backbone_weights=bad)


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


def test_cozzolino_feature_is_unit_norm():
    from synthdetect.train import families

    m = families.get("clip-probe").build(backbone="synthdetect-tiny-vit", backbone_weights=None, feature="cozzolino")
    f = m.features(torch.randn(3, 3, 32, 32))
    assert f.shape == (3, 64)
    assert torch.allclose(f.norm(dim=1), torch.ones(3), atol=1e-5)
    o = families.get("clip-probe").build(backbone="synthdetect-tiny-vit", backbone_weights=None)
    assert o.features(torch.randn(2, 3, 32, 32)).shape == (2, 32)
    assert not any(p.requires_grad for p in o.features.parameters())
    assert o(torch.randn(2, 3, 32, 32)).shape == (2,)


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


def test_clip_backbone_from_local_file(tmp_path):
    from synthdetect.train import archs, families

    oc = archs._open_clip()
    torch.manual_seed(7)
    ref = oc.create_model("synthdetect-tiny-vit", pretrained=None)
    full = tmp_path / "tiny-full.pt"
    torch.save(ref.state_dict(), full)
    vis_only = tmp_path / "tiny-visual.pt"
    torch.save(ref.visual.state_dict(), vis_only)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        want = ref.visual.eval()(x)
    for path in (full, vis_only):
        m = families.get("clip-probe").build(backbone="synthdetect-tiny-vit", backbone_weights=str(path))
        assert m.pretrained and m.backbone_digest == sha256_file(path)
        with torch.no_grad():
            torch.testing.assert_close(m.features(x), want)
    bad = tmp_path / "bad.pt"
    torch.save({"nothing": torch.zeros(1)}, bad)
    with pytest.raises(Exception):
        families.get("clip-probe").build(backbone="synthdetect-tiny-vit", backbone_weights=str(bad))


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
