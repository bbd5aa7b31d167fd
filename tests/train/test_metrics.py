import numpy as np
import pytest

from synthdetect.evaluation import metrics as M

sk = pytest.importorskip("sklearn.metrics")


def test_at_threshold_hand_computed():
    y = [1, 1, 1, 0, 0, 0, 0]
    p = [0.9, 0.6, 0.4, 0.7, 0.2, 0.1, 0.5]
    m = M.at_threshold(y, p, 0.5)
    # predicted synthetic: 0.9, 0.6, 0.7, 0.5 -> tp=2, fp=2, fn=1, tn=2
    assert m["confusion"] == {"tp": 2, "fp": 2, "tn": 2, "fn": 1}
    assert m["acc"] == pytest.approx(4 / 7)
    assert m["precision"] == pytest.approx(0.5)
    assert m["recall"] == pytest.approx(2 / 3)
    assert m["f1"] == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))
    assert m["fpr_real"] == pytest.approx(0.5)


def test_best_f1_threshold_brute_force():
    rng = np.random.default_rng(0)
    for _ in range(20):
        y = rng.integers(0, 2, 40)
        p = np.round(rng.random(40), 2)  # ties on purpose
        best = M.best_f1_threshold(y, p)
        brute = max(sk.f1_score(y, p >= t, zero_division=0) for t in np.unique(p))
        assert best["f1"] == pytest.approx(brute)
        assert best["threshold"] in set(p.tolist())
        assert best["f1"] == pytest.approx(sk.f1_score(y, p >= best["threshold"], zero_division=0))


def test_best_f1_under_fpr_budget_brute_force():
    rng = np.random.default_rng(5)
    for budget in (0.0, 0.1, 0.25):
        for _ in range(20):
            y = rng.integers(0, 2, 40)
            if y.min() == y.max():
                continue
            p = np.round(rng.random(40), 2)
            best = M.best_f1_threshold(y, p, max_fpr=budget)
            assert best["fpr_real"] <= budget + 1e-12
            ok = [t for t in np.unique(p) if (p[y == 0] >= t).mean() <= budget]
            brute = max((sk.f1_score(y, p >= t, zero_division=0) for t in ok), default=0.0)
            assert best["f1"] == pytest.approx(brute)
    # the unconstrained optimum flags everything here; a 10% budget must not
    y = np.array([0, 1] * 10)
    p = np.r_[np.full(10, 0.3), np.full(10, 0.3)][np.argsort(np.arange(20) % 2, kind="stable")]
    assert M.best_f1_threshold(y, np.full(20, 0.3))["fpr_real"] == 1.0
    none = M.best_f1_threshold(y, np.full(20, 0.3), max_fpr=0.1)
    assert none["fpr_real"] == 0.0 and none["threshold"] > 0.3
    with pytest.raises(ValueError):
        M.best_f1_threshold(y, p, max_fpr=1.5)


def test_all_positive_gives_paper_like_0_6667():
    # a detector that says "synthetic" for everything on a balanced set: F1 = 2/3 at the lowest threshold
    y = np.array([0, 1] * 10)
    p = np.full(20, 1e-4)
    assert M.at_threshold(y, p, 0.5)["f1"] == 0.0
    assert M.best_f1_threshold(y, p)["f1"] == pytest.approx(2 / 3)


def test_ap_auc_match_sklearn():
    rng = np.random.default_rng(1)
    for _ in range(20):
        y = rng.integers(0, 2, 50)
        if y.min() == y.max():
            continue
        p = np.round(rng.random(50), 1)
        assert M.average_precision(y, p) == pytest.approx(sk.average_precision_score(y, p))
        assert M.roc_auc(y, p) == pytest.approx(sk.roc_auc_score(y, p))


def test_eer():
    # perfectly separable: EER 0
    assert M.eer([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9])["eer"] == pytest.approx(0.0)
    # perfectly inverted: EER 1
    assert M.eer([1, 1, 0, 0], [0.1, 0.2, 0.8, 0.9])["eer"] == pytest.approx(1.0)
    # compare with the ROC curve from sklearn: FPR and FNR cross at the EER
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 400)
    p = np.clip(y * 0.3 + rng.normal(0.35, 0.2, 400), 0, 1)
    e = M.eer(y, p)["eer"]
    fpr, tpr, _ = sk.roc_curve(y, p)
    k = np.argmin(np.abs(fpr - (1 - tpr)))
    assert abs(e - (fpr[k] + 1 - tpr[k]) / 2) < 0.02


def test_per_generator_and_summary():
    y = [0, 0, 1, 1, 1]
    p = [0.1, 0.6, 0.9, 0.4, 0.8]
    g = ["camera", "camera", "sd", "sd", "gan"]
    s = M.summary(y, p, g)
    pg = s["per_generator"]
    assert pg["camera"]["n"] == 2 and pg["camera"]["label"] == "real"
    assert pg["camera"]["acc@0.5"] == pytest.approx(0.5)
    assert pg["sd"]["acc@0.5"] == pytest.approx(0.5)
    assert pg["gan"]["mean_prob"] == pytest.approx(0.8)
    assert s["n_real"] == 2 and s["n_synthetic"] == 3
    with pytest.raises(ValueError):
        M.at_threshold([0, 2], [0.1, 0.2])
    # a name given to both classes (a manifest naming the source) gets a row per class
    mixed = M.per_generator([0, 0, 1], [0.2, 0.7, 0.9], ["src", "src", "src"], {"0.5": 0.5})
    assert set(mixed) == {"src (real)", "src (synthetic)"}
    assert mixed["src (real)"]["n"] == 2 and mixed["src (real)"]["acc@0.5"] == pytest.approx(0.5)
    assert mixed["src (synthetic)"]["label"] == "synthetic" and mixed["src (synthetic)"]["acc@0.5"] == 1.0
