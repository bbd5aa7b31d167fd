"""``synthdetect ensemble build`` (synthdetect/cli/ensemble.py): member weights, refusing to overwrite, evaluation."""

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from synthdetect.cards import EnsembleCard, ModelCard  # noqa: E402
from synthdetect.evaluation.metrics import at_threshold  # noqa: E402



def test_ensemble_build_and_evaluate(exported, tiny_sets, invoke, tmp_path):
    from synthdetect.inputs.datasets import list_items
    from synthdetect.scan.ensemble import ensemble_scores
    from synthdetect.evaluation.scoring import OnnxScorer, score_items

    base, _ = exported
    train, val = tiny_sets
    models = base / "models"
    out = models / "duo.ensemble.json"
    invoke(["ensemble", "build", "--members", "m0,m1", "--models-dir", models, "--weights-from", val, "--out", out])
    card = EnsembleCard.load(out)
    assert card.members == ["m0", "m1"] and card.method == "weighted"
    items = list_items(val)
    y = [i.label for i in items]
    probs = []
    for name in ("m0", "m1"):
        c = ModelCard.load(models / f"{name}.json")
        p = score_items(OnnxScorer(c), items)
        probs.append(p)
        assert card.weights[name] == pytest.approx(at_threshold(y, p, c.effective_threshold())["f1"])
    invoke(["ensemble", "build", "--members", "m0,m1", "--models-dir", models, "--weights-from", val, "--out", out],
           code=2)  # exists: a usage error
    mout = tmp_path / "m.json"
    invoke(["evaluate", "duo", "--models-dir", models, "--data", val, "--out", mout])
    rep = json.loads(mout.read_text())["models"]["duo"]
    assert rep["kind"] == "ensemble" and set(rep["members"]) == {"m0", "m1"}
    thr = np.array([ModelCard.load(models / f"{n}.json").effective_threshold() for n in ("m0", "m1")])
    w = np.array([card.weights["m0"], card.weights["m1"]])
    expect = ensemble_scores("weighted", np.stack(probs), thr, w)  # all-zero weights: equal weights
    assert rep["at_threshold"]["f1"] == pytest.approx(at_threshold(y, expect, 0.5)["f1"])
