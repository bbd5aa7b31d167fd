"""evaluate --plots: ROC, PR, histograms and reliability diagrams as valid PNGs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("matplotlib", reason="the 'plots' extra (matplotlib) is not installed")

from synthdetect.evaluation import plots  # noqa: E402
from synthdetect.evaluation.metrics import average_precision, precision_recall_curve, reliability, roc_curve  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


def _png(p: Path) -> Image.Image:
    assert p.is_file(), p
    assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    img = Image.open(p)
    img.load()
    assert img.format == "PNG"
    return img


def test_write_plots_four_valid_small_pngs(tmp_path):
    rng = np.random.default_rng(0)
    y = np.r_[np.zeros(100, int), np.ones(80, int)]
    p = np.clip(np.r_[rng.normal(0.35, 0.15, 100), rng.normal(0.6, 0.15, 80)], 0, 1)
    out = plots.write_plots(tmp_path, "m/odd name", y, p, threshold=0.55)
    assert [f.name for f in out] == ["roc.png", "pr.png", "hist.png", "reliability.png"]
    assert {f.parent for f in out} == {tmp_path / "m_odd name"}
    for f in out:
        img = _png(f)
        assert img.size == (460, 360)
        assert f.stat().st_size < 100_000
        assert len(img.convert("L").getcolors(1 << 16)) > 20  # something was drawn


@pytest.mark.parametrize("y,p", [
    ([0, 0, 1, 1], [0.5, 0.5, 0.5, 0.5]),  # all tied
    ([1, 1, 1], [0.2, 0.9, 0.4]),  # one class only
    ([0, 1], [0.0, 1.0]),
])
def test_degenerate_inputs_still_plot(tmp_path, y, p):
    for f in plots.write_plots(tmp_path, "x", y, p, threshold=0.3, vote=True):
        _png(f)


def test_curves_agree_with_the_metrics():
    y = [0, 0, 1, 1, 0, 1]
    p = [0.1, 0.4, 0.35, 0.8, 0.8, 0.9]
    prec, rec, thr = precision_recall_curve(y, p)
    assert list(thr) == [0.9, 0.8, 0.4, 0.35, 0.1]
    assert prec[0] == 1.0 and rec[-1] == 1.0
    ap = float(np.sum((rec - np.r_[0.0, rec[:-1]]) * prec))
    assert ap == pytest.approx(average_precision(y, p))
    fpr, tpr, _ = roc_curve(y, p)
    assert fpr[-1] == 1.0 and tpr[-1] == 1.0
    r = reliability(y, p, bins=2)
    assert list(r["count"]) == [3, 3]
    assert r["fraction_synthetic"][0] == pytest.approx(1 / 3) and r["fraction_synthetic"][1] == pytest.approx(2 / 3)
    # ECE = sum_bins n_b/N * |frac_b - mean_b|
    m0, m1 = np.mean([0.1, 0.4, 0.35]), np.mean([0.8, 0.8, 0.9])
    assert r["ece"] == pytest.approx(0.5 * abs(1 / 3 - m0) + 0.5 * abs(2 / 3 - m1))


@pytest.mark.usefixtures("isolated_registry")
def test_evaluate_cli_writes_plots_per_model_and_ensemble(models_dir, labelled, tmp_path):
    from typer.testing import CliRunner

    from synthdetect.cli import app

    data = labelled
    out = tmp_path / "plots"
    r = CliRunner().invoke(app, ["evaluate", "bright", "trio", "--models-dir", str(models_dir), "--data", str(data),
                                 "--out", str(tmp_path / "m.json"), "--plots", str(out)])
    assert r.exit_code == 0, r.output
    for name in ("bright", "trio"):
        for kind in plots.PLOTS:
            _png(out / name / f"{kind}.png")
    assert json.loads((tmp_path / "m.json").read_text())["models"]["bright"]["roc_auc"] == 1.0


def test_plots_module_is_not_imported_by_the_cli_start():
    code = "import sys, synthdetect.cli; print('matplotlib' in sys.modules, 'synthdetect.evaluation.plots' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.split() == ["False", "False"]
