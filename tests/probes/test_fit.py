"""The numpy probe fitter against scikit-learn's reference implementation."""

from __future__ import annotations

import json

import numpy as np
import pytest

from synthdetect.evaluation.metrics import roc_auc
from synthdetect.probes.fit import LinearHead, choose_C, fit_logistic, fit_probe, stratified_folds


def _data(n=80, d=300, seed=0):
    rng = np.random.default_rng(seed)
    y = np.r_[np.zeros(n // 2), np.ones(n // 2)].astype(int)
    X = rng.normal(0, 1, (n, d)) * rng.uniform(0.5, 3, d) + 5
    X[:, :10] += y[:, None] * 2.5  # a few informative dimensions
    return X, y


def test_exact_fit_matches_sklearn_on_standardised_features():
    sk = pytest.importorskip("sklearn.linear_model")
    X, y = _data()
    head = fit_logistic(X, y, C=0.05)
    Xs = (X - X.mean(0)) / X.std(0)
    ref = sk.LogisticRegression(C=0.05, tol=1e-10, max_iter=10000).fit(Xs, y)
    np.testing.assert_allclose(head.coef, ref.coef_[0], rtol=1e-4, atol=1e-6)
    assert head.intercept == pytest.approx(ref.intercept_[0], abs=1e-5)


def test_head_round_trips_through_json_and_rejects_bad_input():
    X, y = _data()
    head = fit_logistic(X, y, C=1.0)
    again = LinearHead.from_dict(head.to_dict())
    np.testing.assert_allclose(again.logits(X), head.logits(X))
    with pytest.raises(ValueError):
        head.logits(X[:, :10])
    bad = head.to_dict()
    bad["scale"][0] = 0.0
    with pytest.raises(ValueError):
        LinearHead.from_dict(bad)


def test_folds_are_stratified_and_cover_every_image_once():
    y = np.r_[np.zeros(23), np.ones(17)].astype(int)
    folds = stratified_folds(y, 5, seed=3)
    allidx = np.sort(np.concatenate(folds))
    assert (allidx == np.arange(40)).all()
    for f in folds:
        assert 3 <= np.sum(y[f] == 1) <= 4 and 4 <= np.sum(y[f] == 0) <= 5


def test_nested_cross_validation_gives_honest_out_of_fold_scores():
    X, y = _data(n=100)
    fit = fit_probe(X, y, folds=5, seed=0)
    assert fit.oof.shape == (100,) and np.all(np.isfinite(fit.oof))
    assert 0.75 < roc_auc(y, fit.oof) < 1.0
    # on pure noise the out-of-fold scores are near chance, while a training-set fit is not
    rng = np.random.default_rng(1)
    Xn = rng.normal(0, 1, (100, 300))
    noise = fit_probe(Xn, y, folds=5, seed=0)
    assert roc_auc(y, noise.oof) < 0.7
    assert roc_auc(y, noise.head.logits(Xn)) > 0.9
    C, losses = choose_C(X, y)
    assert C in losses and losses[C] == min(losses.values())


def test_too_few_images_of_a_class_is_a_clear_error():
    X, y = _data(n=10)
    with pytest.raises(ValueError, match="at least 2 real and 2 synthetic"):
        fit_probe(X[:6], np.array([0, 0, 0, 0, 0, 1]))


def test_prior_centred_ridge():
    """A prior head: tiny C keeps it, large C lets the data move it; CV and nested CV accept it."""
    import numpy as np

    from synthdetect.probes.fit import LinearHead, fit_logistic, fit_probe

    rng = np.random.default_rng(0)
    D = 30
    w_true = rng.normal(size=D)
    Xp = rng.normal(size=(200, D)) * 2 + 1
    yp = (Xp @ w_true + rng.normal(size=200) > w_true.sum()).astype(int)
    prior = fit_logistic(Xp, yp, 1.0)
    X = rng.normal(size=(24, D)) * 2 + 1
    y = (X @ w_true > w_true.sum()).astype(int)
    y[:2], y[-2:] = 0, 1
    near = fit_logistic(X, y, 1e-8, prior=prior)
    assert np.allclose(near.coef, prior.coef, atol=1e-5) and np.allclose(near.mean, prior.mean)
    assert abs(near.intercept - prior.intercept) < 2.0  # only the (unpenalised) bias adapts
    free = fit_logistic(X, y, 1e3, prior=prior)
    assert np.linalg.norm(free.coef - prior.coef) > 1e-2
    # the fitted difference lies in the data's row space (exact fit): same loss as an explicit offset solve
    assert free.extra["prior"].startswith("prior-centred")
    f = fit_probe(X, y, folds=3, seed=1, prior=prior)
    assert np.all(np.isfinite(f.oof)) and f.head.coef.size == D
    bad = LinearHead(np.zeros(3), np.ones(3), np.zeros(3), 0.0)
    with pytest.raises(ValueError, match="prior head"):
        fit_logistic(X, y, 1.0, prior=bad)


# --------------------------------------------------------------------------- feature groups
def _grouped(signal: slice, n: int = 40, D: int = 120, seed: int = 0, strength: float = 1.2):
    """Labels show only in the features of ``signal``; the rest is noise."""
    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1], n)
    X = rng.normal(size=(2 * n, D))
    X[:, signal] += strength * y[:, None]
    return X, y


def _candidates(D: int = 120):
    from synthdetect.probes.feature_groups import FeatureGroup

    return [FeatureGroup("all", np.arange(D)), FeatureGroup("early", np.arange(0, 10)),
            FeatureGroup("late", np.arange(60, D))]


@pytest.mark.parametrize("signal, expected", [(slice(0, 10), "early"), (slice(60, 70), "late")])
def test_group_selection_finds_the_group_that_carries_the_signal(signal, expected):
    from synthdetect.evaluation.metrics import roc_auc

    X, y = _grouped(signal)
    f = fit_probe(X, y, folds=5, seed=0, feature_groups=_candidates())
    assert f.group == expected and f.oof_groups.count(expected) >= 4
    assert f.head.dim == 120 and f.head.coef.size == (10 if expected == "early" else 60)
    assert set(f.group_losses) == {"all", "early", "late"} and f.group_losses[expected] == min(f.group_losses.values())
    whole = fit_probe(X, y, folds=5, seed=0)  # no groups: every feature
    assert whole.group == "all" and whole.head.indices is None
    Xt, yt = _grouped(signal, seed=1)
    assert roc_auc(yt, f.head.logits(Xt)) >= roc_auc(yt, whole.head.logits(Xt)) - 0.02


def test_group_selection_on_noise_stays_honest():
    """Choosing among groups by nested CV does not turn noise into a detector: the out-of-fold
    scores (selection inside each outer fold) stay near chance."""
    from synthdetect.evaluation.metrics import roc_auc

    X, y = _grouped(slice(0, 0), n=30, seed=3)
    f = fit_probe(X, y, folds=5, seed=0, feature_groups=_candidates())
    assert roc_auc(y, f.oof) < 0.7


def test_head_with_feature_indices_round_trips_and_old_heads_still_load():
    X, y = _grouped(slice(0, 10))
    f = fit_probe(X, y, folds=3, seed=0, feature_groups=_candidates())
    d = f.head.to_dict()
    assert d["features"]["input_dim"] == 120 and len(d["features"]["indices"]) == d["dim"] == 10
    again = LinearHead.from_dict(json.loads(json.dumps(d)))
    np.testing.assert_allclose(again.logits(X), f.head.logits(X))
    np.testing.assert_allclose(f.head.expanded().logits(X), f.head.logits(X))
    with pytest.raises(ValueError, match=r"expects \[N, 120\]"):
        again.logits(X[:, :10])
    old = {k: v for k, v in d.items() if k != "features"}  # a head written before feature groups
    legacy = LinearHead.from_dict(old)
    assert legacy.indices is None and legacy.dim == 10
    for bad in ({"input_dim": 120, "indices": list(range(9))}, {"input_dim": 5, "indices": list(range(10))},
                {"input_dim": 120, "indices": list(range(10))[::-1]}):
        with pytest.raises(ValueError):
            LinearHead.from_dict({**d, "features": bad})


def test_a_grouped_head_can_be_a_prior():
    X, y = _grouped(slice(0, 10))
    prior = fit_probe(X, y, folds=3, seed=0, feature_groups=_candidates()).head
    f = fit_probe(X, y, folds=3, seed=1, prior=prior, feature_groups=_candidates())
    assert f.group == "all" and f.head.coef.size == 120  # prior-centred fits use every feature


# --------------------------------------------------------------------------- averaged shrinkage LDA
def _dense_ledoit_wolf(R):
    """The Ledoit-Wolf (2004) estimator written out with the p x p sample covariance."""
    n, p = R.shape
    S = R.T @ R / n
    mu = np.trace(S) / p
    d2 = np.sum((S - mu * np.eye(p)) ** 2) / p
    b2 = sum(np.sum((np.outer(r, r) - S) ** 2) for r in R) / n ** 2 / p
    return min(b2, d2) / d2, mu


@pytest.mark.parametrize("n, p", [(20, 50), (60, 15)])
def test_ledoit_wolf_shrinkage_and_the_woodbury_solve_match_the_dense_formulas(n, p):
    from synthdetect.probes.fit import lda_direction, ledoit_wolf_shrinkage

    rng = np.random.default_rng(n)
    R = rng.normal(size=(n, p)) @ rng.normal(size=(p, p)) * 0.3
    R -= R.mean(0)
    alpha, mu = ledoit_wolf_shrinkage(R)
    ref_alpha, ref_mu = _dense_ledoit_wolf(R)
    assert 0 < alpha < 1 and alpha == pytest.approx(ref_alpha, rel=1e-9) and mu == pytest.approx(ref_mu)
    y = np.r_[np.zeros(n // 2), np.ones(n - n // 2)].astype(int)
    Z = R + 0.5 * y[:, None]
    w, a = lda_direction(Z, y)
    m0, m1 = Z[y == 0].mean(0), Z[y == 1].mean(0)
    W = np.vstack([Z[y == 0] - m0, Z[y == 1] - m1])
    a_ref, mu_w = _dense_ledoit_wolf(W)
    S = (1 - a_ref) * W.T @ W / n + a_ref * mu_w * np.eye(p)
    assert a == pytest.approx(a_ref, rel=1e-9)
    np.testing.assert_allclose(w, np.linalg.solve(S, m1 - m0), rtol=1e-8, atol=1e-10)


def test_average_lda_is_one_linear_head_equal_to_the_mean_of_the_group_scores():
    from synthdetect.probes.fit import average_lda, lda_direction

    X, y = _grouped(slice(0, 10), n=30)
    cands = _candidates()
    head = average_lda(X, y, cands)
    assert head.indices is None and head.coef.size == 120  # 'all' is a candidate: every feature
    mean, scale = X.mean(0), X.std(0)
    Z = (X - mean) / scale
    parts = []
    for c in cands:
        s = Z[:, c.indices] @ lda_direction(Z[:, c.indices], y)[0]
        parts.append(s / s.std())
    np.testing.assert_allclose(head.logits(X), np.mean(parts, 0), atol=1e-9)
    two = average_lda(X, y, cands[1:])  # early + late: the head reads only those 70 features
    assert list(two.indices) == list(range(10)) + list(range(60, 120)) and two.dim == 120
    assert LinearHead.from_dict(json.loads(json.dumps(two.to_dict()))).logits(X) == pytest.approx(two.logits(X))


def test_lda_average_probe_is_honest_scaled_and_beats_the_chance_on_held_out_images():
    from synthdetect.probes.fit import averaged_name

    X, y = _grouped(slice(0, 10), n=30)
    f = fit_probe(X, y, folds=5, seed=0, feature_groups=_candidates(), method="lda-average")
    assert f.method == "lda-average" and f.group == averaged_name(_candidates()) == "average(all+early+late)"
    assert len(f.fold_heads) == 5 and sorted(np.concatenate(f.fold_tests).tolist()) == list(range(60))
    for h, test in zip(f.fold_heads, f.fold_tests):  # the out-of-fold scores come from the fold's model
        np.testing.assert_allclose(f.oof[test], h.probabilities(X[test]))
    assert roc_auc(y, f.oof) > 0.8
    Xt, yt = _grouped(slice(0, 10), n=100, seed=5)
    p = f.head.probabilities(Xt)
    assert roc_auc(yt, p) > 0.85
    # Platt scaling on cross-validated scores: probabilities are not the overconfident 0/1 of a
    # training-set fit; their log-loss on new images is well below chance's log(2)
    assert 0.02 < p.mean() < 0.98 and -np.mean(yt * np.log(p) + (1 - yt) * np.log(1 - p)) < 0.6
    assert f.head.extra["platt"]["slope"] > 0 and set(f.head.extra["shrinkage"]) == {"all", "early", "late"}
    # on noise the out-of-fold scores stay near chance
    Xn, yn = _grouped(slice(0, 0), n=30, seed=3)
    assert roc_auc(yn, fit_probe(Xn, yn, folds=5, seed=0, feature_groups=_candidates(), method="lda-average").oof) < 0.7


def test_lda_average_refuses_a_prior_and_unknown_methods():
    X, y = _data(n=40, d=20)
    prior = fit_logistic(X, y, 1.0)
    with pytest.raises(ValueError, match="prior head needs the logistic method"):
        fit_probe(X, y, prior=prior, method="lda-average")
    with pytest.raises(ValueError, match="unknown probe method"):
        fit_probe(X, y, method="svm")


def test_platt_scaling_never_flips_the_averaged_direction():
    """When the inner cross-validation cannot confirm the direction (noise, few images) the
    slope stays at the floor: the head ranks as the averaged LDA does, probabilities near 0.5."""
    from synthdetect.probes.fit import PLATT_MIN_SLOPE, average_lda, fit_lda_average

    slopes = []
    for seed in range(6):
        X, y = _grouped(slice(0, 0), n=10, seed=seed)
        head, _ = fit_lda_average(X, y, _candidates(), k=5, seed=seed)
        raw = average_lda(X, y, _candidates())
        slopes.append(head.extra["platt"]["slope"])
        assert head.extra["platt"]["slope"] >= PLATT_MIN_SLOPE
        Xt, _ = _grouped(slice(0, 0), n=20, seed=100 + seed)
        assert np.corrcoef(head.logits(Xt), raw.logits(Xt))[0, 1] > 0.999
    assert min(slopes) == PLATT_MIN_SLOPE  # the floor was reached on some noise draw


def test_newton_row_weights_equal_repeated_rows():
    """``_newton(weights=...)``: a row of weight 2 counts as that row twice (the weighted loss the
    per-tile experiment, tools/measure_tiles.py, fits)."""
    from synthdetect.probes.fit import _newton

    rng = np.random.default_rng(3)
    Z = rng.normal(size=(30, 4))
    y = (Z[:, 0] + 0.5 * rng.normal(size=30) > 0).astype(int)
    w = rng.integers(1, 4, size=30)
    c_w, b_w = _newton(Z, y, 0.5, weights=w.astype(float), tol=1e-14)
    rep = np.repeat(np.arange(30), w)
    c_r, b_r = _newton(Z[rep], y[rep], 0.5, tol=1e-14)
    np.testing.assert_allclose(c_w, c_r, rtol=1e-7, atol=1e-9)
    assert abs(b_w - b_r) < 1e-7
    c_1, b_1 = _newton(Z, y, 0.5, weights=np.ones(30))
    c_0, b_0 = _newton(Z, y, 0.5)
    assert np.array_equal(c_1, c_0) and b_1 == b_0


# --------------------------------------------------------------------------- crop-level covariance
def test_crop_spread_keeps_each_image_s_rows_renumbers_on_take_and_truncates_to_its_leading_directions():
    from synthdetect.probes.fit import CropSpread

    rng = np.random.default_rng(0)
    per = [rng.normal(size=(3, 5)), np.zeros((0, 5)), rng.normal(size=(2, 5)) * 4]
    X = rng.normal(size=(3, 5)) * np.array([1, 2, 3, 4, 5])
    cs = CropSpread.from_images(per, X)
    assert cs.owner.tolist() == [0, 0, 0, 2, 2] and cs.rows.shape == (5, 5)
    sub = cs.take(np.array([2, 0]))  # image 2 first: its rows now belong to position 0
    assert sub.owner.tolist() == [1, 1, 1, 0, 0]
    np.testing.assert_allclose(sub.rows, np.vstack([per[0], per[2]]), rtol=1e-6)
    assert len(cs.take(np.array([1])).rows) == 0
    one = CropSpread.from_images(per, X, rank=1)
    assert one.owner.tolist() == [0, 2]
    scale = X.std(0)
    for img, row in zip((0, 2), one.rows):  # the leading singular direction in standardised units
        _, s, Vt = np.linalg.svd(per[img] / scale)
        np.testing.assert_allclose(np.abs(row / scale), np.abs(s[0] * Vt[0]), rtol=1e-5)


def _spread_case(n, p, m_spread, seed=0):
    rng = np.random.default_rng(seed)
    y = np.r_[np.zeros(n // 2), np.ones(n - n // 2)].astype(int)
    Z = rng.normal(size=(n, p)) @ rng.normal(size=(p, p)) * 0.3 + 0.5 * y[:, None]
    D = rng.normal(size=(m_spread, p)) * rng.uniform(0.1, 2, p)
    return Z, y, D


@pytest.mark.parametrize("n, p, m_spread", [(20, 50, 12), (60, 15, 30)])  # the Woodbury and the p x p routes
def test_the_crop_level_lda_solves_the_dense_crop_level_formula(n, p, m_spread):
    from synthdetect.probes.fit import lda_direction

    Z, y, D = _spread_case(n, p, m_spread)
    w, a = lda_direction(Z, y, D)
    m0, m1 = Z[y == 0].mean(0), Z[y == 1].mean(0)
    W = np.vstack([Z[y == 0] - m0, Z[y == 1] - m1, D])
    a_ref, mu = _dense_ledoit_wolf(W * np.sqrt(len(W) / n))  # the covariance W'W / n, shrunk over all rows
    S = (1 - a_ref) * W.T @ W / n + a_ref * mu * np.eye(p)
    assert a == pytest.approx(a_ref, rel=1e-9)
    np.testing.assert_allclose(w, np.linalg.solve(S, m1 - m0), rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("n, spread_rows", [(15, 4), (30, 0)])  # few rows: Woodbury over shared atoms; many: R'R
def test_average_lda_with_a_spread_is_the_mean_of_the_groups_crop_level_directions(n, spread_rows):
    from synthdetect.probes.fit import CropSpread, average_lda, lda_direction

    X, y = _grouped(slice(0, 10), n=n)
    rng = np.random.default_rng(1)
    per = [rng.normal(size=(spread_rows or 40, 120)) * 0.5 for _ in range(len(y))]
    cs = CropSpread.from_images(per, X)
    head = average_lda(X, y, _candidates(), cs)
    assert "crop-level" in head.extra["covariance"]
    mean, scale = X.mean(0), X.std(0)
    Z, Dz = (X - mean) / scale, cs.rows / scale
    parts = []
    for c in _candidates():
        s = Z[:, c.indices] @ lda_direction(Z[:, c.indices], y, Dz[:, c.indices])[0]
        parts.append(s / s.std())
    np.testing.assert_allclose(head.logits(X), np.mean(parts, 0), atol=1e-8)
    assert "image-level" in average_lda(X, y, _candidates()).extra["covariance"]


def test_the_crop_spread_discounts_a_direction_that_varies_within_images():
    """Samples where the label happens to go with a content direction (it varies a lot between
    the crops of one image) as well as with a trace (the same in every crop of an image): with
    the crop spread the probe leans on the trace, and ranks new images, where content says
    nothing, better than without it."""
    from synthdetect.probes.fit import CropSpread, fit_probe

    def images(n, confounded, seed, p=10, T=8):
        rng = np.random.default_rng(seed)
        y = np.repeat([0, 1], n)
        crops = rng.normal(size=(2 * n, 1, p)) * 0.5 + rng.normal(size=(2 * n, T, p)) * 0.3  # image + crop noise
        content = rng.normal(size=2 * n) + (2 * y - 1 if confounded else 0)
        crops[:, :, 0] += content[:, None] + rng.normal(size=(2 * n, T)) * 3.0
        crops[:, :, 1] = rng.normal(size=(2 * n, 1)) * 0.5 + 0.5 * y[:, None] + rng.normal(size=(2 * n, T)) * 0.05
        return crops.mean(1), y, [(c - c.mean(0)) / np.sqrt(T) for c in crops]

    gains = []
    for seed in range(3):
        X, y, per = images(40, True, seed)
        Xt, yt, _ = images(200, False, 100 + seed)
        plain = fit_probe(X, y, folds=5, seed=0, method="lda-average")
        crops = fit_probe(X, y, folds=5, seed=0, method="lda-average", spread=CropSpread.from_images(per, X))
        w_plain, w_crops = plain.head.expanded().coef, crops.head.expanded().coef
        assert abs(w_crops[0] / w_crops[1]) < 0.5 * abs(w_plain[0] / w_plain[1])  # content weighs less
        gains.append(roc_auc(yt, crops.head.logits(Xt)) - roc_auc(yt, plain.head.logits(Xt)))
    assert min(gains) > 0 and np.mean(gains) > 0.03


def test_each_group_takes_its_cheaper_route_and_both_give_the_dense_direction():
    """One scatter, two routes: the 120- and 60-column groups through the m x m (Woodbury)
    products of their shared column atoms, the 10-column group through its own p x p product."""
    from synthdetect.probes.fit import _Scatter, _within_rows, ledoit_wolf_shrinkage

    X, y = _grouped(slice(0, 10), n=20)
    rng = np.random.default_rng(3)
    Z = (X - X.mean(0)) / X.std(0)
    R, v = _within_rows(Z, y, rng.normal(size=(30, 120)) * 0.5)
    cols = [c.indices for c in _candidates()]
    scatter = _Scatter(R, len(Z), cols)
    assert scatter.primal == [False, True, False]  # m = 70 rows: 10 columns p x p, 60 and 120 Woodbury
    for g, c in enumerate(cols):
        Rg = R[:, c]
        alpha, mu = ledoit_wolf_shrinkage(Rg * np.sqrt(len(R) / len(Z)))
        S = (1 - alpha) * Rg.T @ Rg / len(Z) + alpha * mu * np.eye(len(c))
        w, a = scatter.direction(g, v)
        assert a == pytest.approx(alpha, rel=1e-9)
        np.testing.assert_allclose(w, np.linalg.solve(S, v[c]), rtol=1e-7, atol=1e-10)


def test_the_cross_validated_lda_scores_are_what_the_platt_step_is_fitted_on():
    from synthdetect.probes.fit import PLATT_C, _newton, fit_lda_average, lda_average_cv_scores

    X, y = _grouped(slice(0, 10), n=25)
    cv = lda_average_cv_scores(X, y, _candidates(), k=5, seed=1)
    assert cv.shape == (50,) and roc_auc(y, cv) > 0.8
    head, _ = fit_lda_average(X, y, _candidates(), k=5, seed=1)
    a, b = _newton(cv[:, None], y, PLATT_C)
    assert head.extra["platt"]["slope"] == pytest.approx(float(a[0]), abs=1e-6)
    assert head.extra["platt"]["intercept"] == pytest.approx(b, abs=1e-6)
    whole = lda_average_cv_scores(X, y, [], k=5, seed=1)  # no candidates: every feature
    np.testing.assert_allclose(whole, lda_average_cv_scores(X, y, [_candidates()[0]], k=5, seed=1))


@pytest.mark.parametrize("scale", [0.1, 1.0])
def test_the_shrinkage_scale_multiplies_the_ledoit_wolf_intensity(scale):
    from synthdetect.probes.fit import _within_rows, average_lda, ledoit_wolf_shrinkage, lda_direction

    X, y = _grouped(slice(0, 10), n=20)
    Z = (X - X.mean(0)) / X.std(0)
    R, v = _within_rows(Z, y, None)
    alpha, mu = ledoit_wolf_shrinkage(R)
    w, a = lda_direction(Z, y, shrinkage_scale=scale)
    assert a == pytest.approx(alpha * scale, rel=1e-9)
    S = (1 - a) * R.T @ R / len(Z) + a * mu * np.eye(Z.shape[1])
    np.testing.assert_allclose(w, np.linalg.solve(S, v), rtol=1e-7, atol=1e-10)
    head = average_lda(X, y, _candidates(), shrinkage_scale=scale)
    assert head.extra["shrinkage_rule"] == f"Ledoit-Wolf x {scale:g}"


def test_more_folds_than_the_smaller_class_are_said_with_the_folds_used():
    from synthdetect.probes.train import _folds_warning

    X, y = _data(n=80)
    keep = np.r_[np.arange(40), np.arange(40, 44)]  # 40 real, 4 fake
    fit = fit_probe(X[keep], y[keep], folds=10, seed=0)
    assert fit.folds == 4
    assert _folds_warning(10, fit.folds) == [
        "--folds 10: the smaller class has 4 images, so the cross-validation used 4 folds"]
    assert _folds_warning(4, fit.folds) == [] and _folds_warning(5, fit_probe(X, y, folds=5, seed=0).folds) == []
