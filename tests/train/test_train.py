import json

import pytest

from synthdetect.cards import sha256_file

torch = pytest.importorskip("torch")


def _cfg(run):
    return json.loads((run / "config.json").read_text())


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




def _framed_set(root, n, seed):
    """Noise pictures (no class signal) on a frame whose colour is the label: grey real, red fake."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    for lab, colour in (("0_real", (34, 34, 34)), ("1_fake", (254, 0, 0))):
        (root / lab).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            a = np.empty((72, 72, 3), np.uint8)
            a[:] = colour
            a[12:-12, 12:-12] = rng.integers(40, 216, (48, 48, 3))
            Image.fromarray(a).save(root / lab / f"{i:02d}.png")
    return root


def test_training_strips_label_frames_unless_told_to_keep_them(tmp_path):
    """The frame leak of train-gan2019: kept, a network learns the frame colour; stripped (the
    default), the pictures alone carry no label and it cannot."""
    from synthdetect.train.augment import AugmentConfig
    from synthdetect.train.runs import train_images

    train, val = _framed_set(tmp_path / "train", 16, 1), _framed_set(tmp_path / "val", 10, 2)
    accs = {}
    for strip in (False, True):
        run = tmp_path / f"strip-{strip}"
        train_images(recipe="t", arch="resnet-narrow", arch_kw={"widths": [8, 16]}, train=[str(train)],
                     val=[str(val)], aug=AugmentConfig(blur_prob=0, jpeg_prob=0, crop=64, flip=False),
                     resize_to=None, out=run, epochs=8, batch_size=16, lr=3e-3, seed=0, threads=1,
                     strip_frames=strip, patience=8)
        cfg = _cfg(run)
        assert cfg["frames"] == ("stripped" if strip else "kept")
        assert cfg["frames_stripped"] == (52 if strip else 0)
        assert any("frame colour separates the classes" in w for w in cfg["data_warnings"])
        accs[strip] = [json.loads(l)["val_acc"] for l in (run / "log.jsonl").read_text().splitlines()]
    assert max(accs[False]) >= 0.9, accs
    assert sum(accs[True]) / len(accs[True]) <= 0.7, accs


def _with_broken(src, dst, *names):
    """A copy of a tiny set with undecodable files added (``0_real/NAME``: a JPEG cut after its header)."""
    import shutil

    shutil.copytree(src, dst)
    for name in names:
        (dst / name).write_bytes(b"\xff\xd8\xff\xe0" + b"\0" * 20 + str(dst).encode())  # not byte-identical across sets
    return dst


def test_a_recipe_leaves_out_an_image_it_cannot_decode_and_names_it(tiny_sets, tmp_path, capsys):
    """One undecodable file in the training and one in the validation data: both named on stderr and
    in the run's config, the rest trained on (as evaluate and train probe leave such files out)."""
    from synthdetect.train.augment import AugmentConfig
    from synthdetect.train.runs import train_images

    train = _with_broken(tiny_sets[0], tmp_path / "train", "0_real/cut.jpg")
    val = _with_broken(tiny_sets[1], tmp_path / "val", "1_fake/cut.jpg")
    run = tmp_path / "r"
    train_images(recipe="t", arch="resnet-narrow", arch_kw={"widths": [4, 8]}, train=[str(train)], val=[str(val)],
                 aug=AugmentConfig(blur_prob=0, jpeg_prob=0, crop=32), resize_to=None, out=run, epochs=1,
                 batch_size=8, seed=0, threads=1)
    cfg = _cfg(run)
    assert sorted(u["path"] for u in cfg["unreadable"]) == sorted([str(train / "0_real/cut.jpg"), str(val / "1_fake/cut.jpg")])
    assert all("(left out)" in line for line in capsys.readouterr().err.splitlines() if "cut.jpg" in line)
    assert cfg["result"]["last_epoch"] == 1


def test_a_clip_probe_leaves_out_an_image_it_cannot_decode(tiny_sets, tmp_path):
    from synthdetect.train.runs import train_clip_probe

    train = _with_broken(tiny_sets[0], tmp_path / "train", "1_fake/cut.jpg")
    run = tmp_path / "c"
    train_clip_probe(backbone="synthdetect-tiny-vit", backbone_weights=None, feature="ojha", train=[str(train)],
                     val=[str(tiny_sets[1])], blur_jpeg_prob=0.0, views=2, out=run, cache_dir=tmp_path / "fc",
                     epochs=1, batch_size=8, threads=1)
    cfg = _cfg(run)
    assert [u["path"] for u in cfg["unreadable"]] == [str(train / "1_fake/cut.jpg")]
    assert cfg["feature_cache"]["computed"] == 2 * 16 + 10  # two views of the 16 readable, the 10 validation images


def test_a_clip_probe_hashes_each_file_once(tiny_sets, tmp_path, monkeypatch):
    """The data step hashes every file; the feature extractor took those digests instead of hashing again."""
    import synthdetect.cards as cards
    from synthdetect.train import consistency, features
    from synthdetect.train.runs import train_clip_probe

    calls: list[str] = []

    def counted(path, *a, **k):
        calls.append(str(path))
        return sha256_file(path, *a, **k)

    for mod in (cards, consistency, features):
        monkeypatch.setattr(mod, "sha256_file", counted, raising=False)
    train_clip_probe(backbone="synthdetect-tiny-vit", backbone_weights=None, feature="ojha", train=[str(tiny_sets[0])],
                     val=[str(tiny_sets[1])], blur_jpeg_prob=0.0, views=1, out=tmp_path / "c", cache_dir=tmp_path / "fc",
                     epochs=1, batch_size=8, threads=1)
    images = [c for c in calls if c.endswith((".jpg", ".png"))]
    assert images and len(images) == len(set(images))


def test_training_refuses_when_a_class_is_left_with_nothing(tiny_sets, tmp_path):
    import shutil

    from synthdetect.train.augment import AugmentConfig
    from synthdetect.train.loop import RunError
    from synthdetect.train.runs import train_images

    train = tmp_path / "train"
    shutil.copytree(tiny_sets[0], train)
    for p in (train / "1_fake").iterdir():
        p.write_bytes(b"\xff\xd8\xff\xe0" + b"\0" * 20)
    with pytest.raises(RunError, match="no longer holds both classes"):
        train_images(recipe="t", arch="resnet-narrow", arch_kw={"widths": [4, 8]}, train=[str(train)], val=None,
                     aug=AugmentConfig(blur_prob=0, jpeg_prob=0, crop=32), resize_to=None, out=tmp_path / "r",
                     epochs=1, batch_size=8, seed=0, threads=1)
