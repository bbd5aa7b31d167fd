"""``synthdetect evaluate`` and ``synthdetect calibrate`` (synthdetect/cli/evaluate.py) on two tiny exported models."""

import json

import pytest

torch = pytest.importorskip("torch")

from synthdetect.cards import ModelCard, sha256_file  # noqa: E402
from synthdetect.evaluation.metrics import best_f1_threshold  # noqa: E402



def test_evaluate_run_and_onnx_agree(exported, tiny_sets, invoke, tmp_path):
    base, runs = exported
    _, val = tiny_sets
    out = tmp_path / "metrics.json"
    res = invoke(["evaluate", str(runs[0]), str(base / "models" / "m0.onnx"), "--data", val, "--format", "json",
                  "--out", out])
    rep = json.loads(out.read_text())
    assert json.loads(res.stdout[res.stdout.index("{"):]) == rep
    a, b = rep["models"]["run0"], rep["models"]["m0"]
    assert a["kind"] == "run" and b["kind"] == "onnx"
    for key in ("acc", "f1", "precision", "recall"):
        assert a["at_threshold"][key] == pytest.approx(b["at_threshold"][key])
    assert a["ap"] == pytest.approx(b["ap"], abs=1e-6)
    assert set(b["per_generator"]) == {"camera", "toygan"}
    assert b["n"] == 10 and sum(b["at_threshold"]["confusion"].values()) == 10
    assert {"ap", "roc_auc", "eer", "best_f1"} <= set(b)


def test_calibrate_writes_threshold_only(exported, tiny_sets, invoke):
    base, _ = exported
    train, _ = tiny_sets
    models = base / "models"
    card_path = models / "m1.json"
    before = json.loads(card_path.read_text())
    onnx_sha = sha256_file(models / "m1.onnx")
    invoke(["calibrate", "m1", "--models-dir", models, "--data", train])
    after = json.loads(card_path.read_text())
    assert sha256_file(models / "m1.onnx") == onnx_sha == after["sha256"]
    changed = {k for k in after if after[k] != before.get(k)}
    assert changed == {"calibrated_threshold", "calibrated_on", "f1", "extra"}
    assert {k for k in after["extra"] if after["extra"][k] != before["extra"].get(k)} == {"calibration"}
    assert after["extra"]["calibration"]["criterion"] == "best F1"
    # the threshold is the best-F1 one on that data
    from synthdetect.inputs.datasets import list_items
    from synthdetect.evaluation.scoring import OnnxScorer, score_items

    items = list_items(train)
    p = score_items(OnnxScorer(ModelCard.load(card_path)), items)
    best = best_f1_threshold([i.label for i in items], p)
    assert after["calibrated_threshold"] == pytest.approx(best["threshold"])
    assert after["f1"] == pytest.approx(best["f1"])
    # with a false-alarm budget: best F1 among thresholds flagging at most that share of the reals
    invoke(["calibrate", "m1", "--models-dir", models, "--data", train, "--max-fpr", "0"])
    capped = json.loads(card_path.read_text())
    want = best_f1_threshold([i.label for i in items], p, max_fpr=0.0)
    assert capped["calibrated_threshold"] == pytest.approx(want["threshold"])
    assert capped["extra"]["calibration"]["max_fpr"] == 0.0
    assert capped["extra"]["calibration"]["fpr_real"] == 0.0


def test_tampered_model_is_refused(exported, tiny_sets, invoke, tmp_path):
    import shutil

    base, _ = exported
    _, val = tiny_sets
    d = tmp_path / "m"
    d.mkdir()
    shutil.copy(base / "models" / "m0.json", d / "m0.json")
    data = bytearray((base / "models" / "m0.onnx").read_bytes())
    data[-1] ^= 1
    (d / "m0.onnx").write_bytes(bytes(data))
    res = invoke(["evaluate", str(d / "m0.json"), "--data", val, "--out", tmp_path / "x.json"], code=4)
    assert "sha256" in res.output
