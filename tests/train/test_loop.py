import re
from pathlib import Path

import pytest

from synthdetect.train.loop import EarlyStopping, RunDir, RunError


def test_wang_schedule():
    es = EarlyStopping(1e-4, patience=5, min_delta=0.001)
    assert es.step(0.70) == "improved"
    assert es.step(0.7005) == "wait"  # gain below min_delta
    assert es.step(0.71) == "improved"
    acts = [es.step(0.71) for _ in range(5)]
    assert acts == ["wait"] * 4 + ["lr_drop"]
    assert es.lr == pytest.approx(1e-5)
    # after a drop the reference restarts
    assert es.step(0.60) == "improved"
    acts = [es.step(0.60) for _ in range(5)]
    assert acts[-1] == "lr_drop" and es.lr == pytest.approx(1e-6)
    es.step(0.5)
    acts = [es.step(0.5) for _ in range(5)]
    assert acts[-1] == "stop" and es.stopped
    assert es.step(0.99) == "stop"


def test_state_roundtrip():
    es = EarlyStopping(1e-4)
    es.step(0.5), es.step(0.5)
    es2 = EarlyStopping(1.0)
    es2.load_state_dict(es.state_dict())
    assert es2.state_dict() == es.state_dict()


def test_rundir_refuses_nonempty(tmp_path):
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "x").write_text("keep")
    with pytest.raises(RunError):
        RunDir(tmp_path / "r")
    with pytest.raises(RunError):
        RunDir(tmp_path / "r", resume=True)  # no last.pt
    RunDir(tmp_path / "r", force=True)
    assert (tmp_path / "r" / "x").read_text() == "keep"


def test_every_torch_load_is_weights_only():
    src = Path(__file__).resolve().parents[2] / "synthdetect"
    calls = 0
    for p in src.rglob("*.py"):
        text = p.read_text()
        for m in re.finditer(r"torch\.load\(", text):
            calls += 1
            depth, i = 1, m.end()
            while depth:
                depth += {"(": 1, ")": -1}.get(text[i], 0)
                i += 1
            assert "weights_only=True" in text[m.end():i], f"{p}: torch.load without weights_only=True"
    assert calls >= 2
