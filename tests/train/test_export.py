import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from synthdetect.cards import InputSpec, ModelCard, sha256_file  # noqa: E402
from synthdetect.inputs.preprocess import to_input  # noqa: E402


def _tiny():
    from synthdetect.train import families

    torch.manual_seed(0)
    return families.get("resnet-narrow").build(widths=(4, 8))


def _images(root):
    from synthdetect.inputs.datasets import list_items

    return [i.path for i in list_items(root)]


def test_export_onnx_contract_and_parity(tiny_sets, tmp_path):
    from synthdetect.train.export import export_onnx

    train, _ = tiny_sets
    imgs = _images(train)[:6]
    spec = InputSpec(size=32, resize="shorter_side", resize_to=40)
    out = tmp_path / "w" / "tiny.onnx"
    model = _tiny()
    card = export_onnx(model, spec, out, name="tiny", architecture="resnet-narrow", parity_images=imgs,
                       card_fields={"family": "cnn", "training": {"seed": 1}, "licence": "test", "foo": 3})
    assert out.exists() and (tmp_path / "w" / "tiny.json").exists()
    loaded = ModelCard.load(tmp_path / "w" / "tiny.json")
    assert loaded.sha256 == sha256_file(out) == card.sha256
    assert loaded.input == spec and loaded.output == "logit" and loaded.training == {"seed": 1}
    assert loaded.extra["foo"] == 3
    assert loaded.parity["passed"] and loaded.parity["max_abs_dprob"] <= 1e-4 and loaded.parity["n_images"] == 6
    m = onnx.load(str(out))
    assert [i.name for i in m.graph.input] == ["input"] and [o.name for o in m.graph.output] == ["logit"]
    assert {o.version for o in m.opset_import if o.domain in ("", "ai.onnx")} == {17}
    # dynamic batch, [N] output, equals the PyTorch model on preprocess.to_input tensors
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    from synthdetect.inputs.datasets import decode_rgb

    x = np.stack([to_input(decode_rgb(p), spec) for p in imgs[:5]])
    (y,) = sess.run(["logit"], {"input": x})
    assert y.shape == (5,)
    with torch.no_grad():
        ref = model.eval()(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(y, ref, atol=1e-4)


def test_parity_failure_removes_file(tiny_sets, tmp_path, monkeypatch):
    from synthdetect.train import export as E

    train, _ = tiny_sets
    orig = E._ort_logits
    monkeypatch.setattr(E, "_ort_logits", lambda p, x, batch_size=16: orig(p, x, batch_size) + 0.5)
    out = tmp_path / "bad.onnx"
    with pytest.raises(E.ParityError) as ei:
        E.export_onnx(_tiny(), InputSpec(size=32), out, name="bad", architecture="x", parity_images=_images(train)[:2])
    assert ei.value.figures["max_abs_dprob"] > 1e-4
    assert not out.exists() and not (tmp_path / "bad.json").exists()
    assert not list(tmp_path.glob("*.onnx")) and not list(tmp_path.glob(".*onnx"))


def test_int8_variant(tiny_sets, tmp_path):
    from synthdetect.train.export import export_onnx

    train, _ = tiny_sets
    out = tmp_path / "q.onnx"
    card = export_onnx(_tiny(), InputSpec(size=32), out, name="q", architecture="resnet-narrow",
                       parity_images=_images(train)[:4], int8=True)
    q = ModelCard.load(tmp_path / "q.int8.json")
    assert (tmp_path / "q.int8.onnx").exists() and q.sha256 == sha256_file(tmp_path / "q.int8.onnx")
    assert card.parity["int8"]["tolerance"] == 0.05 and q.parity["passed"]


def test_card_fields_from_run_take_family_and_text_from_the_registry():
    from synthdetect.train import families
    from synthdetect.train.export import WEIGHTS_LICENCE, card_fields_from_run

    log = [{"epoch": 1, "val_acc": 0.5, "val_ap": 0.6, "val_n": 4}]
    for arch in families.names():
        fam = families.get(arch)
        cfg = {"arch": arch, "recipe": "r", "seed": 1, "pretrained_backbone": False, "result": {"best_epoch": 1},
               "train": {"sets": ["/x/set"], "licences": {"/x/set": ["CC-BY"]}}}
        f = card_fields_from_run(cfg, log)
        assert f["family"] == fam.family and f["description"].startswith(f"{fam.card_text}; recipe r")
        # only families whose recipe starts from a pretrained backbone warn about a random-init one
        assert ("(backbone NOT pretrained: random init)" in f["description"]) == (
            arch in ("resnet50", "resnet18", "efficientnet-lite0", "clip-probe"))
        assert f["licence"] == f"model: {WEIGHTS_LICENCE}; training data: set: CC-BY"
        assert f["metrics"]["validation"] == {"val_acc": 0.5, "val_ap": 0.6, "val_n": 4, "epoch": 1}
        assert f["training"]["train"]["sets"] == ["set"]
    f = card_fields_from_run({"arch": "resnet50", "recipe": "r", "pretrained_backbone": True}, [])
    assert "NOT pretrained" not in f["description"]
    with pytest.raises(ValueError, match="unknown architecture 'nope'"):
        card_fields_from_run({"arch": "nope"}, [])


def test_parity_images_alternate_the_classes_or_take_a_folder_without_labels(tiny_sets, tmp_path):
    from PIL import Image

    from synthdetect.train.export import _parity_paths

    train, _ = tiny_sets
    picked = _parity_paths({}, [str(train)], 4)
    assert [p.parent.name for p in picked] == ["0_real", "1_fake", "0_real", "1_fake"]
    plain = tmp_path / "plain"
    plain.mkdir()
    for i in range(6):
        Image.new("RGB", (40, 40), (i, 0, 0)).save(plain / f"p{i}.png")
    assert [p.name for p in _parity_paths({}, [str(plain)], 3)] == ["p0.png", "p2.png", "p4.png"]
    with pytest.raises(ValueError, match="no --parity-data"):
        _parity_paths({}, None, 3)
