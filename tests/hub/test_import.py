"""Import / pull of published-style checkpoints -> ONNX + card, with tiny random networks.

The checkpoints reproduce the original key layouts (CNNDetection ``{'model': {'module.*'}}``,
UnivFD ``fc_weights.pth`` saved on ``cuda:0``, OpenAI-layout CLIP TorchScript), around
networks small enough for a CPU test.
"""

from __future__ import annotations

import json
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from synthdetect.train import compat  # noqa: E402,F401  (before torchvision / open_clip)

import open_clip  # noqa: E402
from PIL import Image  # noqa: E402
from typer.testing import CliRunner  # noqa: E402
from torchvision.models.resnet import Bottleneck, ResNet  # noqa: E402

from synthdetect import hub  # noqa: E402
from synthdetect.cards import CLIP_MEAN, CLIP_STD, IMAGENET_MEAN, IMAGENET_STD, Registry, sha256_file  # noqa: E402
from synthdetect.inputs.preprocess import to_input  # noqa: E402
from synthdetect.train import published  # noqa: E402
from synthdetect.cli.weights import weights_app  # noqa: E402

TINY_CLIP_CFG = {
    "embed_dim": 16, "quick_gelu": True,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "patch_size": 8, "head_width": 16},
    "text_cfg": {"context_length": 8, "vocab_size": 64, "width": 32, "heads": 2, "layers": 1},
}
RESNET_OPTS = {"layers": [1, 1, 1, 1], "width_per_group": 4}

runner = CliRunner()


def _ort_logits(onnx_path: Path, x: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(onnx_path), so, providers=["CPUExecutionProvider"])
    return np.asarray(sess.run(["logit"], {"input": x})[0]).reshape(-1)


def _images(d: Path, n: int = 3) -> list[Path]:
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    out = []
    for i in range(n):
        arr = rng.integers(0, 256, (40 + 8 * i, 48, 3), dtype=np.uint8)
        p = d / f"img{i}.png"
        Image.fromarray(arr).save(p)
        out.append(p)
    return out


def _on_cuda0(src: Path, dst: Path) -> Path:
    """Rewrite a torch.save zip so its storages say they were saved on cuda:0 (as UnivFD's head was)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as zout:
        for n in zin.namelist():
            data = zin.read(n)
            if n.endswith("/data.pkl"):
                assert b"X\x03\x00\x00\x00cpu" in data
                data = data.replace(b"X\x03\x00\x00\x00cpu", b"X\x06\x00\x00\x00cuda:0")
            zout.writestr(n, data)
    return dst


def _registry(path: Path, entries: list[dict]) -> Path:
    path.write_text(json.dumps({"entries": entries}))
    return path


def _cnndet_entry(sha: str | None = None) -> dict:
    f = {"filename": "blur_jpg_prob0.5.pth", "url": "https://example.invalid/blur_jpg_prob0.5.pth",
         "sha256": sha, "role": "checkpoint", "format": "torch"}
    if sha is None:
        f["sha256_note"] = "not published (test)"
    return {"name": "tiny-cnndet", "kind": "detector", "family": "cnndetection", "architecture": "resnet50",
            "converter": "cnndetection", "options": RESNET_OPTS, "description": "tiny CNNDetection-layout net",
            "source": "test", "licence": "test",
            "input": {"size": 64, "resize": "none", "mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD)},
            "files": [f]}


def _univfd_entries(head_sha: str, backbone_sha: str | None = None, backbone_format: str = "torch") -> list[dict]:
    bb = {"filename": "tiny_clip.pt", "url": "https://example.invalid/tiny_clip.pt", "sha256": backbone_sha,
          "role": "backbone", "format": backbone_format}
    if backbone_sha is None:
        bb["sha256_note"] = "not published (test)"
    return [
        {"name": "tiny-clip", "kind": "backbone", "architecture": "tiny-vit-quickgelu", "description": "tiny",
         "source": "test", "licence": "test", "open_clip": {"model": "tiny", "model_cfg": TINY_CLIP_CFG},
         "files": [bb]},
        {"name": "tiny-univfd", "kind": "detector", "family": "univfd", "architecture": "clip+linear",
         "converter": "univfd", "backbones": ["tiny-clip"], "description": "tiny UnivFD-layout detector",
         "source": "test", "licence": "test",
         "input": {"size": 32, "resize": "none", "mean": list(CLIP_MEAN), "std": list(CLIP_STD)},
         "files": [{"filename": "fc_weights.pth", "url": "https://example.invalid/fc_weights.pth",
                    "sha256": head_sha, "role": "head", "format": "torch"}]},
    ]


@pytest.fixture
def cnndet_ckpt(tmp_path):
    torch.manual_seed(0)
    net = ResNet(Bottleneck, RESNET_OPTS["layers"], num_classes=1, width_per_group=RESNET_OPTS["width_per_group"])
    net.fc.weight.data.normal_(0, 0.02)
    # DataParallel prefixes, plus the training state CNNDetection stores beside the weights
    sd = {"module." + k: v for k, v in net.state_dict().items()}
    p = tmp_path / "blur_jpg_prob0.5.pth"
    torch.save({"model": sd, "total_steps": 123, "optimizer": {"param_groups": [{"lr": 1e-4}]}}, p)
    return net.eval(), p


@pytest.fixture
def univfd_files(tmp_path):
    torch.manual_seed(1)
    clip = open_clip.CLIP(**TINY_CLIP_CFG).eval()
    bb = tmp_path / "tiny_clip.pt"
    torch.save(clip.state_dict(), bb)
    w = torch.randn(1, 16) * 0.5
    b = torch.tensor([0.1])
    torch.save({"weight": w, "bias": b}, tmp_path / "fc_cpu.pth")
    head = _on_cuda0(tmp_path / "fc_cpu.pth", tmp_path / "fc_weights.pth")
    return clip, w, b, head, bb


def test_cuda0_head_needs_map_location_and_loads_on_cpu(univfd_files):
    _, w, b, head, _ = univfd_files
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError):
            torch.load(head, weights_only=True)
    lin = published.load_linear_head(head)
    assert torch.equal(lin.weight, w) and torch.equal(lin.bias, b)


def test_cnndetection_import_end_to_end(cnndet_ckpt, tmp_path, monkeypatch):
    net, ckpt = cnndet_ckpt
    monkeypatch.setenv("SYNTHDETECT_HUB_REGISTRY", str(_registry(tmp_path / "r.json", [_cnndet_entry()])))
    models = tmp_path / "models"
    r = runner.invoke(weights_app, ["import", "tiny-cnndet", "--from", str(ckpt), "--models-dir", str(models)])
    assert r.exit_code == 0, r.output
    assert "trust on first use" in r.output  # no published digest: recorded and shown
    card = Registry([models]).model("tiny-cnndet")
    assert card.input.size == 64 and card.input.resize == "none" and card.output == "logit"
    assert card.parity["passed"] and card.parity["max_abs_dprob"] <= 1e-4
    assert card.extra["parity_data"]["source"].startswith("generated")
    assert len(card.extra["parity_data"]["images"]) == 4
    (src,) = card.extra["hub"]["files"]
    assert src["sha256"] == sha256_file(ckpt) and "first use" in src["check"]
    assert hub.recorded_digests()["tiny-cnndet/blur_jpg_prob0.5.pth"]["sha256"] == sha256_file(ckpt)
    # onnxruntime on the inference preprocessing == the original PyTorch network
    imgs = _images(tmp_path / "imgs")
    x = np.stack([to_input(Image.open(p).convert("RGB"), card.input) for p in imgs]).astype(np.float32)
    with torch.no_grad():
        ref = net(torch.from_numpy(x))[:, 0].numpy()
    got = _ort_logits(card.model_path, x)
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4)
    assert hub.local_checkpoint("tiny-cnndet") is not None
    # and `synthdetect scan --models NAME` uses the installed model
    from synthdetect.cli import app

    r = runner.invoke(app, ["scan", "--models", "tiny-cnndet", "--models-dir", str(models), "--format", "json",
                            str(tmp_path / "imgs")])
    assert r.exit_code == 0, r.output
    res = {Path(x["path"]).name: x["models"]["tiny-cnndet"]["probability"] for x in json.loads(r.stdout)["results"]}
    expect = 1 / (1 + np.exp(-ref.astype(np.float64)))
    np.testing.assert_allclose([res[p.name] for p in imgs], expect, atol=2e-5)


def test_cnndetection_pull_over_http(cnndet_ckpt, http_server, tmp_path, monkeypatch):
    net, ckpt = cnndet_ckpt
    data = ckpt.read_bytes()
    sha = http_server.add("/tiny-cnndet/blur_jpg_prob0.5.pth", data)
    http_server.drop_once.add("/tiny-cnndet/blur_jpg_prob0.5.pth")
    monkeypatch.setenv("SYNTHDETECT_HUB_REGISTRY", str(_registry(tmp_path / "r.json", [_cnndet_entry(sha)])))
    models = tmp_path / "models"
    r = runner.invoke(weights_app, ["pull", "tiny-cnndet", "--base-url", http_server.base, "--models-dir",
                                    str(models), "--no-progress"])
    assert r.exit_code == 0, r.output
    ranges = http_server.ranges("/tiny-cnndet/blur_jpg_prob0.5.pth")
    assert ranges[0] is None and ranges[1].startswith("bytes=")  # resumed after the drop
    card = Registry([models]).model("tiny-cnndet")
    src = card.extra["hub"]["files"][0]
    assert src["check"] == "matches published sha256" and src["verified"] is True
    assert src["url"] == f"{http_server.base}/tiny-cnndet/blur_jpg_prob0.5.pth"  # the URL it came from
    # a second pull uses the verified cache: no new request
    n = len(http_server.requests)
    r = runner.invoke(weights_app, ["pull", "tiny-cnndet", "--base-url", http_server.base, "--models-dir",
                                    str(models), "--no-progress", "--no-convert"])
    assert r.exit_code == 0, r.output
    assert len(http_server.requests) == n
    assert "already cached" in r.output


def test_univfd_import_int8_verify_remove(univfd_files, tmp_path, monkeypatch):
    clip, w, b, head, bb = univfd_files
    monkeypatch.setenv("SYNTHDETECT_HUB_REGISTRY",
                       str(_registry(tmp_path / "r.json", _univfd_entries(sha256_file(head)))))
    models = tmp_path / "models"
    parity_dir = tmp_path / "parity"
    _images(parity_dir, 3)
    r = runner.invoke(weights_app, ["import", "tiny-univfd", "--from", str(head), "--from", str(bb),
                                    "--models-dir", str(models), "--int8", "--parity-data", str(parity_dir)])
    assert r.exit_code == 0, r.output
    assert "parity int8: max |Δprob|" in r.output and "parity fp32" in r.output
    reg = Registry([models])
    assert {"tiny-univfd", "tiny-univfd.int8"} <= set(reg.model_names())
    card = reg.model("tiny-univfd")
    assert card.extra["parity_data"] == {"source": "directory", "dir": str(parity_dir.resolve()),
                                         "images": ["img0.png", "img1.png", "img2.png"]}
    assert card.parity["int8"]["passed"]
    assert card.extra["hub"]["backbone"] == "tiny-clip"
    # independent reference: CLIP encode_image (not normalised) -> linear head
    imgs = _images(tmp_path / "imgs", 2)
    x = np.stack([to_input(Image.open(p).convert("RGB"), card.input) for p in imgs]).astype(np.float32)
    with torch.no_grad():
        ref = (clip.encode_image(torch.from_numpy(x)) @ w.T + b)[:, 0].numpy()
    np.testing.assert_allclose(_ort_logits(card.model_path, x), ref, rtol=1e-4, atol=1e-4)
    q = reg.model("tiny-univfd.int8")
    assert np.max(np.abs(_ort_logits(q.model_path, x) - ref)) < 0.5

    r = runner.invoke(weights_app, ["list", "--format", "json", "--models-dir", str(models)])
    rows = {e["name"]: e for e in json.loads(r.stdout)["entries"]}
    assert rows["tiny-univfd"]["installed"] and rows["tiny-univfd"]["installed_int8"]
    assert rows["tiny-clip"]["files"][0]["cached"]
    # the cached backbone is reusable (train clip-probe --backbone-weights)
    assert hub.local_checkpoint("tiny-clip") is not None
    visual = published.load_backbone("tiny-clip")
    with torch.no_grad():
        np.testing.assert_allclose(visual(torch.from_numpy(x)).numpy(), clip.encode_image(torch.from_numpy(x)).numpy(),
                                   rtol=1e-5, atol=1e-5)

    r = runner.invoke(weights_app, ["verify", "--models-dir", str(models)])
    assert r.exit_code == 0, r.output
    card.model_path.write_bytes(card.model_path.read_bytes() + b"\0")
    r = runner.invoke(weights_app, ["verify", "--models-dir", str(models), "--format", "json"])
    assert r.exit_code == 4  # verify found a MISMATCH
    status = {row["name"]: row["status"] for row in json.loads(r.stdout)["rows"]}
    assert status["tiny-univfd"] == "MISMATCH" and status["tiny-univfd.int8"] == "OK"
    assert status["tiny-univfd/fc_weights.pth"] == "OK" and status["tiny-clip/tiny_clip.pt"] == "OK"

    r = runner.invoke(weights_app, ["remove", "tiny-univfd", "--models-dir", str(models)], input="n\n")
    assert r.exit_code == 2 and card.model_path.exists()  # not confirmed: nothing done
    r = runner.invoke(weights_app, ["remove", "tiny-univfd", "--models-dir", str(models), "--yes"])
    assert r.exit_code == 0, r.output
    assert "tiny-univfd" not in Registry([models]).model_names()
    assert not list(models.glob("tiny-univfd*"))

    # the backbone is cached now: importing the head alone reuses it
    r = runner.invoke(weights_app, ["import", "tiny-univfd", "--from", str(head), "--models-dir", str(models)])
    assert r.exit_code == 0, r.output
    assert "using cached backbone tiny-clip" in r.output


def test_import_rejects_head_with_wrong_digest(univfd_files, tmp_path, monkeypatch):
    _, _, _, head, bb = univfd_files
    monkeypatch.setenv("SYNTHDETECT_HUB_REGISTRY", str(_registry(tmp_path / "r.json", _univfd_entries("a" * 64))))
    models = tmp_path / "models"
    r = runner.invoke(weights_app, ["import", "tiny-univfd", "--from", str(head), "--from", str(bb),
                                    "--models-dir", str(models)])
    assert r.exit_code == 4  # the checksum check failed
    assert "sha256 mismatch" in r.output and "Traceback" not in r.output
    assert not models.exists() or not list(models.iterdir())


def test_torchscript_backbone_needs_the_registry_digest(tmp_path, monkeypatch):
    cfg = {"embed_dim": 16, "quick_gelu": True,
           "vision_cfg": {"image_size": 32, "layers": 1, "width": 64, "patch_size": 8},
           "text_cfg": {"context_length": 8, "vocab_size": 64, "width": 64, "heads": 1, "layers": 1}}
    torch.manual_seed(2)
    m = open_clip.CLIP(**cfg).eval()
    m.half().float()  # the OpenAI release stores fp16 weights
    mask = m.attn_mask  # OpenAI's archive keeps the causal mask out of the state dict
    del m._buffers["attn_mask"]
    m.attn_mask = mask
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(m, (torch.randn(1, 3, 32, 32), torch.randint(0, 64, (1, 8))), strict=False)
    arch = tmp_path / "ViT-tiny.pt"
    traced.save(str(arch))
    assert hub.is_torchscript(arch) and hub.detect_format(arch) == "torchscript"
    with pytest.raises(published.CheckpointError, match="TorchScript"):
        published.safe_load(arch)
    with pytest.raises(published.UntrustedArchiveError, match="refusing"):
        published.load_clip_visual(arch)
    with pytest.raises(published.UntrustedArchiveError):
        published.load_clip_visual(arch, trusted_sha256="0" * 64)
    visual = published.load_clip_visual(arch, trusted_sha256=sha256_file(arch))
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        np.testing.assert_allclose(visual(x).numpy(), m.encode_image(x).numpy(), rtol=1e-4, atol=1e-4)


def test_cnndetection_loader_checks_layout(tmp_path):
    torch.manual_seed(3)
    net = ResNet(Bottleneck, [1, 1, 1, 1], num_classes=2, width_per_group=4)
    p = tmp_path / "two.pth"
    torch.save({"model": net.state_dict()}, p)
    with pytest.raises(published.CheckpointError, match=r"expected \[1, C\]"):
        published.load_cnndetection(p, **RESNET_OPTS)
    sd = {k: v for k, v in net.state_dict().items() if not k.startswith("fc.")}
    torch.save({"model": sd}, p)
    with pytest.raises(published.CheckpointError, match="no fc.weight"):
        published.load_cnndetection(p, **RESNET_OPTS)
    net1 = ResNet(Bottleneck, [1, 1, 1, 1], num_classes=1, width_per_group=4)
    torch.save({"model": net1.state_dict()}, p)
    with pytest.raises(published.CheckpointError, match="does not match"):
        published.load_cnndetection(p, "resnet50")  # real ResNet-50 has more blocks


class _Evil:
    def __reduce__(self):
        return (print, ("code ran",))


def test_safe_load_refuses_pickled_code(tmp_path):
    p = tmp_path / "evil.pth"
    torch.save({"model": _Evil()}, p)
    with pytest.raises(published.CheckpointError, match="weights_only=True"):
        published.safe_load(p)


@pytest.mark.slow
def test_builtin_cnndetection_entry_with_a_resnet50_in_the_published_layout(tmp_path):
    """The real registry entry (ResNet-50, 224, ImageNet norm) on a random ResNet-50 checkpoint."""
    import torchvision

    torch.manual_seed(4)
    net = torchvision.models.resnet50(weights=None, num_classes=1).eval()
    ckpt = tmp_path / "blur_jpg_prob0.1.pth"
    torch.save({"model": {"module." + k: v for k, v in net.state_dict().items()}, "total_steps": 1}, ckpt)
    models = tmp_path / "models"
    r = runner.invoke(weights_app, ["import", "cnndetection-blur-jpg-prob0.1", "--from", str(ckpt),
                                    "--models-dir", str(models)])
    assert r.exit_code == 0, r.output
    card = Registry([models]).model("cnndetection-blur-jpg-prob0.1")
    assert card.input.size == 224 and card.input.resize == "none" and tuple(card.input.mean) == IMAGENET_MEAN
    assert card.architecture == "resnet50" and card.family == "cnndetection"
    img = Image.fromarray(np.random.default_rng(0).integers(0, 256, (300, 260, 3), dtype=np.uint8))
    x = to_input(img, card.input)[None].astype(np.float32)
    with torch.no_grad():
        ref = net(torch.from_numpy(x))[:, 0].numpy()
    np.testing.assert_allclose(_ort_logits(card.model_path, x), ref, rtol=1e-4, atol=1e-4)


# ---------------------------------------------------------------- the converter table (extension points)


def test_builtin_detectors_name_a_registered_converter():
    for e in hub.load_registry().values():
        if e.kind == "detector":
            assert published.get_converter(e.converter) is published.CONVERTERS[e.converter], e.name


def test_registry_entry_of_an_existing_kind_is_pulled_and_converted(univfd_files, http_server, tmp_path,
                                                                     monkeypatch):
    """A checkpoint added through a registry file (no code) with an existing converter: pull end to end."""
    clip, w, b, head, bb = univfd_files
    head_sha = http_server.add("/tiny-univfd/fc_weights.pth", head.read_bytes())
    http_server.add("/tiny-clip/tiny_clip.pt", bb.read_bytes())
    monkeypatch.setenv("SYNTHDETECT_HUB_REGISTRY", str(_registry(tmp_path / "r.json", _univfd_entries(head_sha))))
    models = tmp_path / "models"
    r = runner.invoke(weights_app, ["pull", "tiny-univfd", "--base-url", http_server.base, "--models-dir",
                                    str(models), "--no-progress"])
    assert r.exit_code == 0, r.output
    assert [p for p, _ in http_server.requests] == ["/tiny-univfd/fc_weights.pth", "/tiny-clip/tiny_clip.pt"]
    assert "trust on first use" in r.output  # the backbone has no published digest in this entry
    card = Registry([models]).model("tiny-univfd")
    assert card.architecture == "tiny-vit-quickgelu+linear" and card.family == "univfd"
    assert card.extra["hub"]["converter"] == "univfd" and card.extra["hub"]["backbone"] == "tiny-clip"
    assert [f["file"] for f in card.extra["hub"]["files"]] == ["fc_weights.pth", "tiny_clip.pt"]
    x = np.random.default_rng(0).normal(size=(2, 3, 32, 32)).astype(np.float32)
    with torch.no_grad():
        ref = (clip.encode_image(torch.from_numpy(x)) @ w.T + b)[:, 0].numpy()
    np.testing.assert_allclose(_ort_logits(card.model_path, x), ref, rtol=1e-4, atol=1e-4)


def test_unknown_converter_fails_with_a_clear_message(cnndet_ckpt, tmp_path, monkeypatch):
    _, ckpt = cnndet_ckpt
    entry = {**_cnndet_entry(), "converter": "no-such-loader"}
    monkeypatch.setenv("SYNTHDETECT_HUB_REGISTRY", str(_registry(tmp_path / "r.json", [entry])))
    models = tmp_path / "models"
    r = runner.invoke(weights_app, ["import", "tiny-cnndet", "--from", str(ckpt), "--models-dir", str(models)])
    assert r.exit_code == 2  # a set-up error, found before anything is copied
    assert "tiny-cnndet: unknown converter 'no-such-loader'; known: cnndetection, univfd" in r.output
    assert "Traceback" not in r.output
    assert not models.exists() or not list(models.iterdir())
    with pytest.raises(hub.HubError, match="unknown converter None"):
        published.get_converter(None)


class _MeanLinear(torch.nn.Module):
    def __init__(self, head: torch.nn.Linear):
        super().__init__()
        self.head = head

    def forward(self, x):
        return self.head(x.mean(dim=(2, 3)))[:, 0]


def test_a_new_kind_is_one_registered_converter(tmp_path, monkeypatch):
    """A new kind of checkpoint: one decorated loader + entries naming its key; convert and card follow."""
    monkeypatch.setattr(published, "CONVERTERS", dict(published.CONVERTERS))

    @published.converter("mean-linear")
    def _mean_linear(entry, files, backbone, backbone_path):
        return _MeanLinear(published.load_linear_head(files["checkpoint"])).eval(), "mean-rgb+linear"

    with pytest.raises(ValueError, match="already registered"):
        published.converter("mean-linear")(_mean_linear)
    w, b = torch.tensor([[1.0, -2.0, 0.5]]), torch.tensor([0.25])
    ckpt = tmp_path / "ml.pth"
    torch.save({"weight": w, "bias": b}, ckpt)
    entry = {**_cnndet_entry(), "name": "tiny-ml", "family": "toy", "architecture": "", "options": {},
             "converter": "mean-linear"}
    entry["files"] = [{**entry["files"][0], "filename": "ml.pth"}]
    monkeypatch.setenv("SYNTHDETECT_HUB_REGISTRY", str(_registry(tmp_path / "r.json", [entry])))
    models = tmp_path / "models"
    r = runner.invoke(weights_app, ["import", "tiny-ml", "--from", str(ckpt), "--models-dir", str(models)])
    assert r.exit_code == 0, r.output
    card = Registry([models]).model("tiny-ml")
    assert card.architecture == "mean-rgb+linear" and card.extra["hub"]["converter"] == "mean-linear"
    x = np.random.default_rng(1).normal(size=(2, 3, 64, 64)).astype(np.float32)
    ref = x.mean(axis=(2, 3)) @ w.numpy().T + b.numpy()
    np.testing.assert_allclose(_ort_logits(card.model_path, x), ref[:, 0], rtol=1e-4, atol=1e-4)


def test_first_use_import_is_recorded_as_unverified_and_never_silently_replaced(cnndet_ckpt, tmp_path, monkeypatch):
    """audit M6: the card says the file was imported and its digest only recorded on first use, and
    `models` marks it; audit L2: importing again does not rewrite the card (a calibrated threshold)
    without --force."""
    from synthdetect.cli import app

    _, ckpt = cnndet_ckpt
    monkeypatch.setenv("SYNTHDETECT_HUB_REGISTRY", str(_registry(tmp_path / "r.json", [_cnndet_entry()])))
    models = tmp_path / "models"
    args = ["import", "tiny-cnndet", "--from", str(ckpt), "--models-dir", str(models)]
    r = runner.invoke(weights_app, args)
    assert r.exit_code == 0, r.output
    assert "unverified:" in r.output
    (src,) = Registry([models]).model("tiny-cnndet").extra["hub"]["files"]
    assert src["verified"] is False and src["url"] is None and src["imported_from"] == str(ckpt)
    assert src["registry_url"] == "https://example.invalid/blur_jpg_prob0.5.pth"
    assert src["digest"].startswith("recorded on first use")
    doc = json.loads(runner.invoke(app, ["models", "--models-dir", str(models), "--format", "json"]).stdout)
    m = next(x for x in doc["models"] if x["name"] == "tiny-cnndet")
    assert m["unverified"] is True and m["provenance"]["files"][0]["from"] == f"imported from {ckpt}"
    assert "tiny-cnndet (UNVERIFIED)" in runner.invoke(app, ["models", "--models-dir", str(models)]).stdout

    card_path = models / "tiny-cnndet.json"
    card = json.loads(card_path.read_text())
    card["calibrated_threshold"] = 0.7  # as `synthdetect calibrate` writes it
    card_path.write_text(json.dumps(card))
    r = runner.invoke(weights_app, args)
    assert r.exit_code == 2 and "already installed" in r.output and "--force" in r.output
    assert json.loads(card_path.read_text())["calibrated_threshold"] == 0.7
    r = runner.invoke(weights_app, [*args, "--force"])
    assert r.exit_code == 0, r.output
    assert json.loads(card_path.read_text()).get("calibrated_threshold") is None
    # --force never lets the install land on a file the command reads (the output check still applies)
    src_in_models = models / "tiny-cnndet.onnx"
    src_in_models.write_bytes(ckpt.read_bytes())
    r = runner.invoke(weights_app, ["import", "tiny-cnndet", "--from", str(src_in_models), "--models-dir",
                                    str(models), "--force"])
    assert r.exit_code == 2 and src_in_models.read_bytes() == ckpt.read_bytes()
