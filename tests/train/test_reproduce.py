import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.shared_data
def test_reproduce_quick(shared_data, tmp_path):
    out = tmp_path / "paper"
    res = subprocess.run([sys.executable, str(REPO / "examples" / "reproduce_paper.py"), "--quick", "--data",
                          str(shared_data), "--out", str(out), "--threads", "1"],
                         capture_output=True, text=True, timeout=900, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert res.returncode == 0, res.stderr[-3000:]
    assert "Table 1 on the holdout" in res.stdout
    rows = [l for l in res.stdout.splitlines() if l[:2] in ("1 ", "2 ", "3 ", "4 ", "8 ", "9 ")]
    assert len(rows) == 6
    assert "runs 5–7 skipped" in res.stdout
    for k in (1, 2, 3, 4):
        assert (out / "weights" / f"paper-run{k}.onnx").exists()
    assert (out / "weights" / "paper-run9.ensemble.json").exists() and (out / "metrics.json").exists()
    # never overwrites results
    again = subprocess.run([sys.executable, str(REPO / "examples" / "reproduce_paper.py"), "--quick", "--out", str(out)],
                           capture_output=True, text=True, timeout=60)
    assert again.returncode == 2
