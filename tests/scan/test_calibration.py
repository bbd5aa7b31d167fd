"""Three-way calibrated verdicts: thresholds, error rates and exact confidence bounds."""

from __future__ import annotations

import numpy as np
import pytest

from synthdetect.scan.calibration import (
    CalibrationSet,
    clopper_pearson,
    definite_metrics,
    fixed_operating,
    operating_point,
)


@pytest.mark.parametrize("k,n,lo,up", [
    (4, 120, 0.0091555, 0.0831487),  # scipy.stats.beta.ppf(0.025, 4, 117), beta.ppf(0.975, 5, 116)
    (0, 50, 0.0, 0.0711217),
    (50, 50, 0.9288783, 1.0),
    (10, 20, 0.2719578, 0.7280422),
])
def test_clopper_pearson_matches_the_beta_quantiles(k, n, lo, up):
    got = clopper_pearson(k, n)
    assert got[0] == pytest.approx(lo, abs=1e-6)
    assert got[1] == pytest.approx(up, abs=1e-6)


def test_thresholds_respect_both_budgets_on_the_calibration_scores():
    rng = np.random.default_rng(0)
    real, fake = rng.normal(0, 1, 200), rng.normal(2, 1, 150)
    op = operating_point(real, fake, max_false_alarm=0.05, max_miss=0.2)
    assert np.mean(real >= op.t_hi) <= 0.05
    assert np.mean(fake < op.t_lo) <= 0.2
    assert op.t_lo <= op.t_hi
    # the thresholds are the loosest that keep the budgets: one step further breaks them
    assert np.mean(real >= np.sort(real)[::-1][op.false_alarm.k]) > 0.05 or op.false_alarm.k == 10
    assert op.false_alarm.k == int(np.sum(real >= op.t_hi))
    assert op.miss.k == int(np.sum(fake < op.t_lo))
    assert 0 < op.coverage < 1
    assert op.verdict(op.t_hi) == "synthetic"
    assert op.verdict(op.t_lo - 1e-9) == "real"
    assert op.verdict((op.t_lo + op.t_hi) / 2) in ("inconclusive", "real", "synthetic")
    text = op.rate_for("synthetic")["text"]
    assert f"{op.false_alarm.k}/200 real images" in text and "upper bound" in text


def test_ties_are_never_split_and_a_zero_budget_flags_no_calibration_real():
    real = [0.1, 0.5, 0.9, 0.9, 0.9]
    fake = [0.9, 0.95, 0.2]
    op = operating_point(real, fake, max_false_alarm=0.3, max_miss=0.0)
    # one real may be flagged, but three reals share the top score: flag none of them
    assert op.false_alarm.k == 0 and op.t_hi > 0.9
    assert op.miss.k == 0 and op.t_lo <= 0.2


def test_separable_scores_give_no_inconclusive_band():
    op = operating_point([0.1, 0.2, 0.3], [0.7, 0.8, 0.9], 0.05, 0.05)
    assert op.t_lo == op.t_hi and op.coverage == 1.0


def test_fixed_threshold_reports_its_measured_rates():
    op = fixed_operating([0.1, 0.6, 0.2, 0.3], [0.7, 0.4], 0.5)
    assert (op.false_alarm.k, op.false_alarm.n, op.miss.k, op.miss.n) == (1, 4, 1, 2)
    assert op.verdict(0.5) == "synthetic" and op.verdict(0.49) == "real"


def test_a_fixed_threshold_over_several_sources_states_the_worst_sources_rates():
    """``--threshold X`` on a card calibrated on several sources (or an image several measured
    conditions bound): the rates stated are the worst source's, not the pooled ones."""
    from synthdetect.scan.calibration import fixed_worst_case

    a = CalibrationSet([0.1, 0.2, 0.3, 0.4], [0.7, 0.8, 0.9, 0.95])  # clean at 0.5
    b = CalibrationSet([0.1, 0.6, 0.7, 0.2], [0.3, 0.8, 0.9, 0.6])  # 2/4 reals flagged, 1/4 fakes missed
    pooled = CalibrationSet(a.real + b.real, a.fake + b.fake, by_source={"A": a, "B": b})
    op = fixed_worst_case(pooled, 0.5)
    assert (op.false_alarm.k, op.false_alarm.n, op.miss.k, op.miss.n) == (2, 4, 1, 4)
    assert op.t_lo == op.t_hi == 0.5 and set(op.by_source) == {"A", "B"}
    plain = fixed_worst_case(a, 0.5)
    assert (plain.false_alarm.k, plain.false_alarm.n) == (0, 4) and plain.by_source is None


def test_calibration_set_round_trip_and_definite_metrics():
    y = [0, 0, 0, 1, 1, 1]
    s = [0.1, 0.2, 0.8, 0.3, 0.9, 0.95]
    cal = CalibrationSet.from_labels(y, s, "oof", "unit")
    again = CalibrationSet.from_dict(cal.to_dict())
    assert again.real == [0.1, 0.2, 0.8] and again.fake == [0.3, 0.9, 0.95]
    op = again.operating(0.0, 0.0)
    m = definite_metrics(y, s, op)
    assert m["false_alarm"]["k"] == 0  # nothing real at or above t_hi
    assert m["counts"]["synthetic"] + m["counts"]["real"] + m["counts"]["inconclusive"] == 6
    assert m["coverage"] == pytest.approx(1 - m["inconclusive"] / 6)
    with pytest.raises(ValueError):
        CalibrationSet.from_dict({"real_scores": [], "fake_scores": [0.5]})


def test_several_sources_get_thresholds_that_hold_on_each_and_the_worst_rate():
    """Two sources with different score scales: the pooled thresholds would break the budget on
    one of them; the worst-case thresholds keep it on both and state the worse source's rate."""
    from synthdetect.scan.calibration import CalibrationSet, operating_point

    rng = np.random.default_rng(0)
    a_real, a_fake = rng.uniform(0.0, 0.5, 60), rng.uniform(0.4, 1.0, 60)
    b_real, b_fake = rng.uniform(0.3, 0.8, 60), rng.uniform(0.6, 1.0, 60)
    a, b = CalibrationSet(list(a_real), list(a_fake), data="a"), CalibrationSet(list(b_real), list(b_fake), data="b")
    pooled = CalibrationSet(list(a_real) + list(b_real), list(a_fake) + list(b_fake))
    assert np.mean(b_real >= pooled.operating().t_hi) > 0.05  # a pooled threshold breaks source b's budget
    multi = CalibrationSet.from_dict({**pooled.to_dict(), "by_source": {"a": a.to_dict(), "b": b.to_dict()}})
    assert set(multi.by_source) == {"a", "b"}
    op = multi.operating(0.05, 0.20)
    for src in (a, b):
        r, f = np.array(src.real), np.array(src.fake)
        assert np.mean(r >= op.t_hi) <= 0.05 and np.mean(f < op.t_lo) <= 0.20
    assert op.t_hi == max(operating_point(s.real, s.fake).t_hi for s in (a, b))
    assert set(op.to_dict()["by_source"]) == {"a", "b"}
    worst = max((op.by_source[k]["false_alarm"] for k in "ab"), key=lambda d: d["upper95"])
    assert op.false_alarm.to_dict() == worst
    again = CalibrationSet.from_dict(multi.to_dict())  # round trip through the card
    assert again.operating().t_hi == op.t_hi


def test_a_rate_over_no_images_is_json_null_not_nan():
    """A verdict class no calibration image reached (budgets of 0) has no rate: ``null`` in cards and
    ``--format json`` (NaN is not JSON: other tools refuse the file)."""
    import json

    from synthdetect.scan.calibration import Rate, fixed_operating

    assert Rate.of(0, 0).to_dict()["rate"] is None
    op = fixed_operating([0.1, 0.2, 0.3], [0.4, 0.5, 0.6], 1.0)  # nothing at or above 1.0: no 'synthetic'
    d = op.to_dict()
    assert d["synthetic_correct"]["n"] == 0 and d["synthetic_correct"]["rate"] is None
    json.dumps(d, allow_nan=False)
