import numpy as np
import pytest

torch = pytest.importorskip("torch")


def test_perturbation_changes_scores(exported, tiny_sets, tmp_path):
    from synthdetect.evaluation.report import evaluate_targets

    base, _ = exported
    _, val = tiny_sets
    m = str(base / "models" / "m0.json")
    clean = evaluate_targets([m], [str(val)])
    pert = evaluate_targets([m], [str(val)], perturb="blur:2,jpeg:40")
    assert pert["perturbations"] == ["blur:2", "jpeg:40"]
    assert clean["models"]["m0"]["ap"] != pert["models"]["m0"]["ap"] or \
        clean["models"]["m0"]["best_f1"]["threshold"] != pert["models"]["m0"]["best_f1"]["threshold"]


def test_combine_methods():
    from synthdetect.scan.ensemble import ensemble_scores as combine

    P = np.array([[0.9, 0.2, 0.6], [0.4, 0.1, 0.7], [0.8, 0.3, 0.2]])
    thr = np.array([0.5, 0.5, 0.5])
    np.testing.assert_allclose(combine("majority", P, thr, np.ones(3)), [2 / 3, 0, 2 / 3])
    np.testing.assert_allclose(combine("weighted", P, thr, np.array([1.0, 2.0, 1.0])), [0.5, 0, 0.75])
    np.testing.assert_allclose(combine("weighted", P, thr, np.zeros(3)), [2 / 3, 0, 2 / 3])  # no weights: equal
    np.testing.assert_allclose(combine("mean", P, thr, np.ones(3)), P.mean(0))
    np.testing.assert_allclose(combine("soft-or", P, thr, np.ones(3)), 1 - np.prod(1 - P, 0))


def test_scan_and_evaluate_share_the_ensemble_score():
    """scan combines one image at a time, evaluate whole sets: both must give the same score."""
    from synthdetect.scan.ensemble import Member, combine, ensemble_scores

    rng = np.random.default_rng(3)
    P = rng.random((4, 50))
    thr = np.array([0.3, 0.5, 0.6, 0.45])
    w = np.array([0.9, 0.2, 0.7, 0.5])
    for method in ("majority", "weighted", "mean", "soft-or"):
        vec = ensemble_scores(method, P, thr, w)
        one = [combine(method, [Member(f"m{i}", float(P[i, j]), float(thr[i]), float(w[i])) for i in range(4)]).score
               for j in range(P.shape[1])]
        np.testing.assert_allclose(one, vec, err_msg=method)


