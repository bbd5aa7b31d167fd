"""Header fields the report shows: the command line and the cards' measured error rates."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from synthdetect.cards import Registry
from synthdetect.output.text import error_rates, header
from synthdetect.scan.pipeline import resolve_plan

REPO = Path(__file__).resolve().parents[2]


class _Loaded:
    def __init__(self, name):
        self.name, self.providers = name, ["CPUExecutionProvider"]


def test_bundled_cards_give_calibrated_error_rates(monkeypatch):
    monkeypatch.delenv("SYNTHDETECT_MODELS_DIR", raising=False)
    import synthdetect.cards as cards

    monkeypatch.setattr(cards, "user_models_dir", lambda: REPO / "no-such-dir")
    reg = Registry([REPO / "weights"])
    plan = resolve_plan(reg)
    head = header(plan, [_Loaded(c.name) for c in plan.cards])
    probe = next(m for m in head["models"] if m["name"] == "lite0-probe")
    card = json.loads((REPO / "weights" / "lite0-probe.json").read_text())
    cal = card["calibration"]
    er = probe["error_rates"]
    # the probe's rates come from its cross-fitted calibration set at the default 5 % / 20 % budgets
    assert er["n"] == cal["n_real"] + cal["n_fake"]
    flagged = sum(v >= er["threshold"] for v in cal["real_scores"])
    assert er["false_positive_rate"] == pytest.approx(flagged / cal["n_real"], abs=1e-4)
    assert er["false_positive_rate"] <= 0.05
    assert f"{flagged}/{cal['n_real']} calibration reals flagged" in er["text"]
    assert probe["threshold_real"] <= probe["threshold"]
    assert head["ensemble"]["error_rates"]["false_positive_rate"] <= 0.05
    # a legacy member (no calibration set): the holdout figures its card measured at its threshold
    plan_n = resolve_plan(reg, ["npr"])
    npr = header(plan_n, [_Loaded("npr")])["models"][0]
    at = json.loads((REPO / "weights" / "npr.json").read_text())["metrics"][
        "val-inthewild@val-inthewild.holdout.txt"]["at_calibrated_threshold"]
    assert npr["error_rates"]["threshold"] == at["threshold"]
    assert npr["error_rates"]["false_positive_rate"] == round(at["fpr_real"], 4)
    # another threshold: a legacy card's figures do not apply; a calibration set measures that threshold too
    plan2 = resolve_plan(reg, ["lite0-probe", "npr"], threshold=0.5)
    head2 = header(plan2, [_Loaded(c.name) for c in plan2.cards])
    rates = {m["name"]: m["error_rates"] for m in head2["models"]}
    assert rates["npr"] is None
    assert rates["lite0-probe"]["threshold"] == 0.5
    assert rates["lite0-probe"]["false_positive_rate"] == pytest.approx(
        sum(v >= 0.5 for v in cal["real_scores"]) / cal["n_real"], abs=1e-4)


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


def test_a_cards_training_warnings_reach_the_header_footer_and_report(monkeypatch):
    """A probe fitted on a sample whose classes differ by channel (or too small for the budgets)
    says so in every scan with it, not only in its card; the bundled default says nothing."""
    import io

    from synthdetect.output.html import _models_html
    from synthdetect.output.text import training_warnings, write_table

    monkeypatch.delenv("SYNTHDETECT_MODELS_DIR", raising=False)
    import synthdetect.cards as cards

    monkeypatch.setattr(cards, "user_models_dir", lambda: REPO / "no-such-dir")
    reg = Registry([REPO / "weights"])
    plan = resolve_plan(reg, ["lite0-probe"])
    assert "training_warnings" not in header(plan, [_Loaded("lite0-probe")])["models"][0]
    card = plan.cards[0]
    shortcut = "JPEG quality separates the classes (real: q89–94; synthetic: q85): re-encode both classes"
    monkeypatch.setitem(card.training, "data_warnings", [shortcut])
    monkeypatch.setitem(card.training, "sample_size", {"warnings": ["25 real photos can show at best 13.7 %"]})
    assert training_warnings(card) == [shortcut, "25 real photos can show at best 13.7 %"]
    head = header(plan, [_Loaded("lite0-probe")])
    assert head["models"][0]["training_warnings"] == training_warnings(card)
    out = io.StringIO()
    write_table(out, head, [], {"inputs": 0, "errors": 0, "elapsed_s": 0.0, "images_per_s": 0.0,
                               "verdicts": {"synthetic": 0, "real": 0, "inconclusive": 0}}, color=False)
    assert f"lite0-probe was fitted with a warning: {shortcut}" in " ".join(out.getvalue().split())
    html = _models_html(head["models"])
    assert "lite0-probe was fitted with a warning: JPEG quality separates the classes" in html
