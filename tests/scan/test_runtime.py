import numpy as np
import pytest

from synthdetect.cards import CardError, ModelCard
from synthdetect.scan.runtime import RuntimeSetupError, load_model, sigmoid

pytestmark = pytest.mark.usefixtures("isolated_registry")


def test_sigmoid_stable():
    x = np.array([-1000.0, -1.0, 0.0, 1.0, 1000.0])
    s = sigmoid(x)
    assert np.all(np.isfinite(s))
    assert s[2] == 0.5 and s[0] == 0.0 and s[-1] == 1.0
    assert s[3] == pytest.approx(1 / (1 + np.exp(-1)))


def test_logit_model_dynamic_batch(models_dir):
    m = load_model(ModelCard.load(models_dir / "bright.json"), device="cpu")
    assert m.providers == ["CPUExecutionProvider"] and m.device == "cpu"
    for n in (1, 3, 7):
        x = np.zeros((n, 3, 32, 32), np.float32)
        x[:, :, :, :] = 1.0  # logit = 3
        p = m.predict(x)
        assert p.shape == (n,)
        assert np.allclose(p, 1 / (1 + np.exp(-3.0)), atol=1e-6)
    assert m.predict(np.zeros((0, 3, 32, 32), np.float32)).shape == (0,)


def test_probability_model_with_n1_output(models_dir):
    m = load_model(ModelCard.load(models_dir / "redprob.json"), device="cpu")
    x = np.zeros((2, 3, 24, 24), np.float32)
    x[:, 0] = 1.0  # 4*1 -> sigmoid(4)
    assert np.allclose(m.predict(x), 1 / (1 + np.exp(-4.0)), atol=1e-6)


def test_auto_device_falls_back_to_cpu_quietly(models_dir, capfd):
    m = load_model(ModelCard.load(models_dir / "bright.json"), device="auto")
    assert m.providers[-1] == "CPUExecutionProvider"
    err = capfd.readouterr().err
    assert "libcublas" not in err and "Failed to load library" not in err


def test_cuda_requested_without_gpu(models_dir):
    import onnxruntime as ort

    m = None
    try:
        m = load_model(ModelCard.load(models_dir / "bright.json"), device="cuda")
    except RuntimeSetupError as e:
        assert "cuda" in str(e).lower()
        return
    # a machine where CUDA really works
    assert "CUDAExecutionProvider" in m.providers and "CUDAExecutionProvider" in ort.get_available_providers()


def test_sha_mismatch_refused(tmp_path, make_model):
    card = make_model(tmp_path, "m", 16, [1, 1, 1], 0.0)
    card.sha256 = "0" * 64
    with pytest.raises(CardError, match="sha256 mismatch"):
        load_model(card, device="cpu")


def test_card_size_mismatch_refused(tmp_path, make_model):
    card = make_model(tmp_path, "m", 16, [1, 1, 1], 0.0)
    card.input.size = 32
    with pytest.raises(CardError, match="input.size"):
        load_model(card, device="cpu")


def test_bad_device(models_dir):
    with pytest.raises(RuntimeSetupError):
        load_model(ModelCard.load(models_dir / "bright.json"), device="tpu")
