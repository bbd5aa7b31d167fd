"""Header fields the report shows: the command line and the cards' measured error rates."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from synthdetect.cards import Registry
from synthdetect.report import error_rates, header
from synthdetect.scan import resolve_plan

REPO = Path(__file__).resolve().parents[2]


class _Loaded:
    def __init__(self, name):
        self.name, self.providers = name, ["CPUExecutionProvider"]


def test_bundled_cards_give_holdout_error_rates_at_the_calibrated_threshold(monkeypatch):
    monkeypatch.delenv("SYNTHDETECT_MODELS_DIR", raising=False)
    import synthdetect.cards as cards

    monkeypatch.setattr(cards, "user_models_dir", lambda: REPO / "no-such-dir")
    plan = resolve_plan(Registry([REPO / "weights"]))
    head = header(plan, [_Loaded(c.name) for c in plan.cards])
    npr = next(m for m in head["models"] if m["name"] == "npr")
    card = json.loads((REPO / "weights" / "npr.json").read_text())
    at = card["metrics"]["val-inthewild@val-inthewild.holdout.txt"]["at_calibrated_threshold"]
    assert npr["error_rates"] == {
        "measured_on": "val-inthewild@val-inthewild.holdout.txt", "n": 89, "threshold": at["threshold"],
        "false_positive_rate": round(at["fpr_real"], 4), "false_negative_rate": round(1 - at["recall"], 4)}
    assert head["ensemble"]["error_rates"]["false_positive_rate"] == pytest.approx(0.2391, abs=1e-4)
    # another threshold: the card's figures do not apply
    plan2 = resolve_plan(Registry([REPO / "weights"]), threshold=0.5)
    head2 = header(plan2, [_Loaded(c.name) for c in plan2.cards])
    assert all(m["error_rates"] is None for m in head2["models"]) and "error_rates" not in head2["ensemble"]


def test_error_rates_without_metrics_is_none():
    class C:
        metrics = {"x [jpeg:50]": {"at_calibrated_threshold": {"threshold": 0.5, "recall": 1, "fpr_real": 0}}}

    assert error_rates(C(), 0.5) is None  # perturbed runs are not the operating figures
    assert error_rates(object(), 0.5) is None


@pytest.mark.usefixtures("isolated_registry")
def test_command_line_is_recorded_when_run_as_a_command(models_dir, images):
    env = dict(os.environ, PYTHONPATH=str(REPO), HF_HUB_OFFLINE="1")
    args = ["scan", str(images["white"]), "--models-dir", str(models_dir), "--models", "bright", "-f", "json"]
    r = subprocess.run([sys.executable, "-m", "synthdetect", *args], capture_output=True, text=True, env=env,
                       timeout=120, cwd=REPO)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["command"] == ["synthdetect", *args]
