import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from synthdetect.cards import EnsembleCard, ModelCard, sha256_file  # noqa: E402
from synthdetect.metrics import at_threshold, best_f1_threshold  # noqa: E402


@pytest.fixture(scope="module")
def exported(tiny_sets, tmp_path_factory):
    """Two exported tiny models (one trained run, one re-seeded copy) in a models dir."""
    from synthdetect.train.augment import AugmentConfig
    from synthdetect.train.export import export_run
    from synthdetect.train.runs import train_images

    train, val = tiny_sets
    base = tmp_path_factory.mktemp("ev")
    runs = []
    for seed in (0, 1):
        run = base / f"run{seed}"
        train_images(recipe="t", arch="resnet-narrow", arch_kw={"widths": [4, 8]}, train=[str(train)],
                     val=[str(val)], aug=AugmentConfig(blur_prob=0, jpeg_prob=0, crop=32), resize_to=None, out=run,
                     epochs=2, batch_size=8, lr=1e-3, seed=seed, threads=1)
        export_run(run, base / "models" / f"m{seed}.onnx", parity_n=4)
        runs.append(run)
    return base, runs


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


def test_perturbation_changes_scores(exported, tiny_sets, tmp_path):
    from synthdetect.train.evaluate import evaluate_targets

    base, _ = exported
    _, val = tiny_sets
    m = str(base / "models" / "m0.json")
    clean = evaluate_targets([m], [str(val)])
    pert = evaluate_targets([m], [str(val)], perturb="blur:2,jpeg:40")
    assert pert["perturbations"] == ["blur:2", "jpeg:40"]
    assert clean["models"]["m0"]["ap"] != pert["models"]["m0"]["ap"] or \
        clean["models"]["m0"]["best_f1"]["threshold"] != pert["models"]["m0"]["best_f1"]["threshold"]


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
    from synthdetect.train.data import list_items
    from synthdetect.train.scoring import OnnxScorer, score_items

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


def test_ensemble_build_and_evaluate(exported, tiny_sets, invoke, tmp_path):
    from synthdetect.train.data import list_items
    from synthdetect.ensemble import ensemble_scores
    from synthdetect.train.scoring import OnnxScorer, score_items

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
           code=1)  # exists
    mout = tmp_path / "m.json"
    invoke(["evaluate", "duo", "--models-dir", models, "--data", val, "--out", mout])
    rep = json.loads(mout.read_text())["models"]["duo"]
    assert rep["kind"] == "ensemble" and set(rep["members"]) == {"m0", "m1"}
    thr = np.array([ModelCard.load(models / f"{n}.json").effective_threshold() for n in ("m0", "m1")])
    w = np.array([card.weights["m0"], card.weights["m1"]])
    expect = ensemble_scores("weighted", np.stack(probs), thr, w)  # all-zero weights: equal weights
    assert rep["at_threshold"]["f1"] == pytest.approx(at_threshold(y, expect, 0.5)["f1"])


def test_combine_methods():
    from synthdetect.ensemble import ensemble_scores as combine

    P = np.array([[0.9, 0.2, 0.6], [0.4, 0.1, 0.7], [0.8, 0.3, 0.2]])
    thr = np.array([0.5, 0.5, 0.5])
    np.testing.assert_allclose(combine("majority", P, thr, np.ones(3)), [2 / 3, 0, 2 / 3])
    np.testing.assert_allclose(combine("weighted", P, thr, np.array([1.0, 2.0, 1.0])), [0.5, 0, 0.75])
    np.testing.assert_allclose(combine("weighted", P, thr, np.zeros(3)), [2 / 3, 0, 2 / 3])  # no weights: equal
    np.testing.assert_allclose(combine("mean", P, thr, np.ones(3)), P.mean(0))
    np.testing.assert_allclose(combine("soft-or", P, thr, np.ones(3)), 1 - np.prod(1 - P, 0))


def test_scan_and_evaluate_share_the_ensemble_score():
    """scan combines one image at a time, evaluate whole sets: both must give the same score."""
    from synthdetect.ensemble import Member, combine, ensemble_scores

    rng = np.random.default_rng(3)
    P = rng.random((4, 50))
    thr = np.array([0.3, 0.5, 0.6, 0.45])
    w = np.array([0.9, 0.2, 0.7, 0.5])
    for method in ("majority", "weighted", "mean", "soft-or"):
        vec = ensemble_scores(method, P, thr, w)
        one = [combine(method, [Member(f"m{i}", float(P[i, j]), float(thr[i]), float(w[i])) for i in range(4)]).score
               for j in range(P.shape[1])]
        np.testing.assert_allclose(one, vec, err_msg=method)


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
    res = invoke(["evaluate", str(d / "m0.json"), "--data", val, "--out", tmp_path / "x.json"], code=1)
    assert "sha256" in res.output
