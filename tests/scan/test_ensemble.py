import pytest

from synthdetect.scan.ensemble import Member, combine, verdict_for


def M(p, thr=0.5, w=1.0, margin=0.0, name="m"):
    return Member(name=name, probability=p, threshold=thr, weight=w, margin=margin)


def test_member_votes_with_own_threshold():
    assert M(0.3, thr=0.25).vote and M(0.3, thr=0.25).verdict == "synthetic"
    assert not M(0.3, thr=0.35).vote
    assert M(0.52, margin=0.05).verdict == "inconclusive"


def test_verdict_for_boundaries():
    assert verdict_for(0.5, 0.5) == "synthetic"  # >= threshold
    assert verdict_for(0.4999, 0.5) == "real"
    assert verdict_for(0.45, 0.5, margin=0.1) == "inconclusive"


def test_majority():
    c = combine("majority", [M(0.9), M(0.8), M(0.1)])
    assert c.score == pytest.approx(2 / 3) and c.verdict == "synthetic"
    c = combine("majority", [M(0.9), M(0.2), M(0.1)])
    assert c.verdict == "real"


def test_majority_tie_is_inconclusive():
    c = combine("majority", [M(0.9), M(0.1)])
    assert c.score == 0.5 and c.tie and c.verdict == "inconclusive"


def test_weighted_uses_weights():
    # the single strong (F1 0.9) member outweighs two weak ones
    c = combine("weighted", [M(0.9, w=0.9), M(0.1, w=0.3), M(0.2, w=0.3)])
    assert c.score == pytest.approx(0.9 / 1.5) and c.verdict == "synthetic"
    c = combine("weighted", [M(0.9, w=0.2), M(0.1, w=0.9)])
    assert c.score == pytest.approx(0.2 / 1.1) and c.verdict == "real"


def test_weighted_even_split_tie():
    c = combine("weighted", [M(0.9, w=0.5), M(0.1, w=0.5)])
    assert c.tie and c.verdict == "inconclusive"


def test_weighted_zero_weights_fall_back_to_equal():
    c = combine("weighted", [M(0.9, w=0), M(0.8, w=0), M(0.1, w=0)])
    assert c.score == pytest.approx(2 / 3)


def test_mean_and_soft_or():
    c = combine("mean", [M(0.9), M(0.2)])
    assert c.score == pytest.approx(0.55) and c.verdict == "synthetic"
    c = combine("soft-or", [M(0.3), M(0.4)])
    assert c.score == pytest.approx(1 - 0.7 * 0.6) and c.verdict == "synthetic"
    c = combine("soft-or", [M(0.1), M(0.2)])
    assert c.score == pytest.approx(0.28) and c.verdict == "real"


def test_mean_exact_half_not_a_tie():
    c = combine("mean", [M(0.9), M(0.1)])
    assert not c.tie and c.verdict == "synthetic"


def test_ensemble_threshold_and_margin():
    c = combine("mean", [M(0.6), M(0.6)], threshold=0.7)
    assert c.verdict == "real"
    c = combine("mean", [M(0.65), M(0.65)], threshold=0.7, margin=0.1)
    assert c.verdict == "inconclusive"


def test_none_single_and_multi():
    c = combine("none", [M(0.7, thr=0.6)])
    assert (c.score, c.threshold, c.verdict) == (0.7, 0.6, "synthetic")
    assert combine("none", [M(0.7), M(0.9)]).verdict == "synthetic"
    c = combine("none", [M(0.7), M(0.1)])
    assert c.score is None and c.verdict == "inconclusive"


def test_unknown_method_and_empty():
    with pytest.raises(ValueError):
        combine("vote", [M(0.5)])
    with pytest.raises(ValueError):
        combine("mean", [])
