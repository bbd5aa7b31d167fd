"""The from-scratch forensic architectures (npr, spectral) and the tiling wrapper."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import synthdetect.train.compat  # noqa: E402,F401
from synthdetect.cards import IMAGENET_MEAN, IMAGENET_STD  # noqa: E402
from synthdetect.train import families  # noqa: E402
from synthdetect.train.forensic import (  # noqa: E402
    NPRNet,
    SpectralNet,
    count_parameters,
    npr_residual,
)


def build(name, **kw):
    return families.get(name).build(**kw)


def test_npr_residual_is_zero_on_nearest_upsampled_images():
    small = torch.rand(2, 3, 8, 8)
    up = small.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)
    assert torch.count_nonzero(npr_residual(up)) == 0
    noisy = torch.rand(2, 3, 16, 16)
    r = npr_residual(noisy)
    assert torch.all(r[:, :, ::2, ::2] == 0)  # the anchor pixel of every 2x2 block
    assert r.abs().sum() > 0


def test_npr_size_and_output_shape():
    m = NPRNet().eval()
    assert 0.8e6 < count_parameters(m) < 2e6, "NPR-style network of ~1-2M parameters"
    with torch.no_grad():
        y = m(torch.randn(3, 3, 64, 96))  # fully convolutional: any even size
    assert y.shape == (3,)


def test_spectral_dft_matches_torch_fft():
    m = SpectralNet(size=32, pool=4)
    r = torch.randn(2, 3, 32, 32)
    c, s = m.cos, m.sin
    w = r * m.win
    re = c @ w @ c - s @ w @ s
    im = c @ w @ s + s @ w @ c
    ref = torch.fft.fft2(w).abs() ** 2
    torch.testing.assert_close(re * re + im * im, ref, rtol=1e-3, atol=1e-3)


def test_spectral_sees_periodic_upsampling_traces():
    """Power at the Nyquist-adjacent bins differs between a noisy patch and its 2x-upsampled version."""
    m = SpectralNet(size=64, pool=8).eval()
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 255, (1, 3, 64, 64)).astype(np.float32) / 255
    small = rng.integers(0, 255, (1, 3, 32, 32)).astype(np.float32) / 255
    up = small.repeat(2, axis=2).repeat(2, axis=3)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    spec = [m.spectrum(m.residuals((torch.from_numpy(a) - mean) / std)) for a in (noise, up)]
    assert not torch.allclose(spec[0], spec[1], atol=0.1)


def test_build_and_default_inputs():
    assert isinstance(build("npr"), NPRNet)
    assert isinstance(build("spectral", size=64), SpectralNet)
    with pytest.raises(ValueError):
        build("nope")
    for name in ("npr", "spectral"):
        spec = families.get(name).input_spec()
        assert spec.resize == "none", "forensic detectors run at native resolution"
        assert spec.size == 256 and spec.crop == "center"
        assert (spec.mean, spec.std) == (IMAGENET_MEAN, IMAGENET_STD)


@pytest.mark.parametrize("arch,size", [("npr", 32), ("spectral", 32)])
def test_forensic_onnx_export_parity(arch, size, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    kw = {"width": 8} if arch == "npr" else {"size": size, "pool": 4}
    m = build(arch, **kw).eval()
    x = torch.randn(3, 3, size, size)
    path = tmp_path / f"{arch}.onnx"
    torch.onnx.export(m, (x,), str(path), dynamo=False, opset_version=17, input_names=["input"],
                      output_names=["logit"], dynamic_axes={"input": {0: "N"}, "logit": {0: "N"}})
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    with torch.no_grad():
        ref = m(x).numpy()
    got = sess.run(["logit"], {"input": x.numpy()})[0]
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4)
