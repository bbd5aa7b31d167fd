"""Calibration per condition (synthdetect.scan.conditions): the declared transformations, the rule that
maps a scanned image to one, out-of-fold scoring of the copies, the card's table, and scan
gating only where a condition is unmeasured or its rates break the budgets."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from synthdetect.scan.conditions import (
    ORIGINAL,
    Condition,
    ConditionError,
    assign,
    breaks_budgets,
    ensemble_conditions,
    oof_copy_scores,
    parse_conditions,
    usable,
)
from synthdetect.inputs.quality import jpeg_quality_from_file
from tests.probes.test_train import _train, runner, setup  # noqa: F401  (setup: a fixture)

TABLE = {
    "original": {"min_side": 816, "min_jpeg_quality": 89},
    "measured": {
        "q85": {"side": None, "quality": 85}, "q75": {"side": None, "quality": 75},
        "720q90": {"side": 720, "quality": 90}, "720q80": {"side": 720, "quality": 80},
    },
}


def test_parse_conditions():
    assert parse_conditions("none") == [] and parse_conditions(None) == []
    names = [c.name for c in parse_conditions("default")]
    assert names == ["q95", "q85", "q75", "1080q90", "720q90", "720q80"]
    assert parse_conditions("720q90, q85,720q90") == [Condition(720, 90), Condition(None, 85)]
    for bad in ("720", "q0", "q101", "10q90", "720x90", "q85,"):
        with pytest.raises(ConditionError):
            parse_conditions(bad)


def test_copies_are_made_in_memory_at_the_declared_size_and_quality():
    rng = np.random.default_rng(0)
    img = Image.fromarray(rng.integers(0, 255, (900, 1200, 3), dtype=np.uint8))
    data = Condition(720, 90).apply(img)
    with Image.open(io.BytesIO(data)) as im:
        assert im.format == "JPEG" and im.size == (960, 720)
    assert jpeg_quality_from_file(data) == 90
    small = Image.fromarray(rng.integers(0, 255, (500, 600, 3), dtype=np.uint8))
    with Image.open(io.BytesIO(Condition(720, 75).apply(small))) as im:
        assert im.size == (600, 500)  # never upscaled
    assert jpeg_quality_from_file(Condition(None, 75).apply(small)) == 75
    a, b = Condition(720, 90).cache_key("ab" * 32), Condition(720, 80).cache_key("ab" * 32)
    assert a != b and len(a) == 64 and a != Condition(720, 90).cache_key("cd" * 32)


@pytest.mark.parametrize("side,quality,expected", [
    (1000, 92, ORIGINAL), (1000, None, ORIGINAL), (816, 89, ORIGINAL),
    (1000, 88, "q85"), (1000, 84, "q75"), (1000, 75, "q75"),
    (800, 92, "720q90"), (800, None, "720q90"), (720, 90, "720q90"), (800, 89, "720q80"), (2000, 80, "q75"),
])
def test_assign_picks_the_mildest_measured_condition_at_least_as_harsh(side, quality, expected):
    assert assign(side, quality, TABLE).name == expected


@pytest.mark.parametrize("side,quality,bound", [
    (1000, 92, ()), (1000, 76, ()), (1000, 84, ("q75", "720q80")), (720, 90, ("720q90", "720q80")),
    (900, 85, ("q85", "q75", "720q80")),
    (2000, 80, ("q75", "720q80")), (800, 92, ("720q90", "720q80")),
])
def test_assign_lists_every_measured_condition_that_bounds_the_image(side, quality, bound):
    """The shorter side cannot tell a downscaled image from an original: every measured condition at
    least as harsh as the image could have produced it, mildest first (none listed when one alone)."""
    a = assign(side, quality, TABLE)
    assert a.bound == bound and (not bound or a.name == bound[0])


def test_a_bounded_image_gets_the_worst_case_over_its_conditions():
    """Conditions move scores in different directions (a full-size q85 re-encode raised the bundle's
    fakes' scores, a 720 px downscale lowered them): thresholds that keep the budgets on each, and
    the worst condition's rates at them, named in the stated rate."""
    from synthdetect.scan.calibration import CalibrationSet, operating_point
    from synthdetect.scan.conditions import bound_calibration, condition_key, condition_label, condition_rate

    rng = np.random.default_rng(4)
    high = {"real_scores": list(rng.uniform(0.0, 0.5, 60)), "fake_scores": list(rng.uniform(0.55, 1.0, 60))}
    low = {"real_scores": list(rng.uniform(0.0, 0.4, 60)), "fake_scores": list(rng.uniform(0.2, 0.9, 60))}
    table = {**TABLE, "measured": {"q85": {"side": None, "quality": 85, **high},
                                   "720q80": {"side": 720, "quality": 80, **low}}}
    assert bound_calibration(table, ("q85", "q75")) is None  # q75 not measured here: no bound to speak of
    assert bound_calibration(table, ("q85",))["fake_scores"] == high["fake_scores"]
    op = CalibrationSet.from_dict(bound_calibration(table, ("q85", "720q80"))).operating(0.05, 0.2)
    a, b = (operating_point(c["real_scores"], c["fake_scores"], 0.05, 0.2) for c in (high, low))
    assert op.t_lo == min(a.t_lo, b.t_lo) and op.t_hi == max(a.t_hi, b.t_hi) and op.t_lo < a.t_lo
    assert op.miss.value >= max(a.miss.value, b.miss.value) - 1e-12
    key = condition_key({"condition": "q85", "condition_bound": ["q85", "720q80"]})
    assert key == ("q85", "720q80") and condition_key({"condition": "q85"}) == "q85"
    assert condition_label(key) == "q85, 720q80"
    rate = condition_rate(op.rate_for("real"), key)
    assert rate["condition"] == "q85" and rate["conditions"] == ["q85", "720q80"]
    assert "the worst of those measured on the calibration images' q85, 720q80 copies" in rate["text"]
    assert "the worst of q85, 720q80" in breaks_budgets(op, 0.01, 0.01, key)


@pytest.mark.parametrize("side,quality,gate", [
    (719, 95, "below_calibrated_size"), (500, None, "below_calibrated_size"),
    (1000, 74, "recompressed"), (800, 78, "uncalibrated_condition"),
])
def test_assign_outside_every_measured_condition(side, quality, gate):
    a = assign(side, quality, TABLE)
    assert a.name is None and a.label == "outside" and a.gate == gate and a.reason


WEBP_TABLE = {**TABLE, "measured": {**TABLE["measured"], "webp90": {"side": None, "quality": 90, "codec": "webp"},
                                    "webp75": {"side": None, "quality": 75, "codec": "webp"},
                                    "720webp75": {"side": 720, "quality": 75, "codec": "webp"}}}


def _parsed_and_made(spec: str, last: Condition, shape: tuple[int, int], size: tuple[int, int]):
    """``spec`` parsed (``default`` first, ``last`` its last condition) and ``last`` applied to random
    pixels of ``shape`` (h, w): a file of the condition's codec, downscaled to ``size`` (w, h)."""
    conds = parse_conditions(spec)
    assert conds[-1] == last and [c.name for c in conds][:6] == [c.name for c in parse_conditions("default")]
    img = Image.fromarray(np.random.default_rng(0).integers(0, 255, (*shape, 3), dtype=np.uint8))
    data = last.apply(img)
    with Image.open(io.BytesIO(data)) as im:
        assert im.format == last.codec.upper() and im.size == size
    return conds, data


def test_webp_conditions_are_parsed_made_and_assigned_by_the_webp_quality():
    """``webpQ`` / ``SwebpQ``: copies saved as lossy WebP; a lossy WebP the card's calibration
    images do not cover is judged among the WebP conditions only, by its WebP quality, and a JPEG
    or lossless file never by a WebP condition."""
    from synthdetect.inputs.codecs import lossy_codec, lossy_quality

    conds, data = _parsed_and_made("default,webp75,720webp80", Condition(720, 80, "webp"), (900, 1200), (960, 720))
    assert lossy_codec("WEBP", data) == "webp" and 80 <= lossy_quality("WEBP", data) <= 82
    assert Condition(None, 75, "webp").cache_key("ab" * 32) != Condition(None, 75).cache_key("ab" * 32)
    keep, _ = usable(conds, 816, 89)
    assert {"webp75", "720webp80"} <= {c.name for c in keep}  # never inside the (JPEG) originals' range
    webp = lambda side, q: assign(side, None, WEBP_TABLE, ("webp", q))  # noqa: E731
    assert webp(1000, 95).name == "webp90" and webp(1000, 95).bound == ("webp90", "webp75", "720webp75")
    assert webp(1000, 80).name == "webp75" and webp(1000, 80).bound == ("webp75", "720webp75")
    assert webp(800, 95).name == "720webp75" and not webp(800, 95).bound
    for side, q in ((1000, 70), (700, 95), (1000, None)):
        a = webp(side, q)
        assert a.name is None and a.gate == "unmeasured_codec" and "measured: 720webp75, webp75, webp90" in a.reason
    assert assign(1000, 80, WEBP_TABLE).name == "q75"  # a JPEG: JPEG conditions only
    assert assign(1000, None, WEBP_TABLE).name == ORIGINAL  # a lossless file (or a WebP the card covers)
    assert assign(700, None, WEBP_TABLE).gate == "below_calibrated_size"
    none = assign(1000, None, TABLE, ("webp", 90))  # no WebP measured: the quality gate's own entry stands
    assert none.name is None and none.gate == "unmeasured_codec" and none.reason is None
    assert assign(1000, None, WEBP_TABLE, ("avif", None)).reason is None


@pytest.mark.parametrize("codec,fmt,letters", [("avif", "AVIF", "avif"), ("heif", "HEIF", "heic")])
def test_avif_and_heic_conditions_are_parsed_made_and_assigned_by_the_quality_read(codec, fmt, letters):
    """``avifQ`` / ``SavifQ`` (``heifQ`` / ``SheifQ``, ``heic`` accepted): copies saved as AVIF (HEIC);
    such a file is judged among them only, by the quality its frame (slice) header reads; neither a
    WebP nor a JPEG by them."""
    from synthdetect.inputs.codecs import lossy_codec, lossy_quality

    if codec == "heif":
        pytest.importorskip("pillow_heif")
    conds, data = _parsed_and_made(f"default,{letters}50,100{letters}60", Condition(100, 60, codec), (200, 300), (150, 100))
    assert lossy_codec(fmt, data) == codec and 60 <= lossy_quality(fmt, data) <= 61
    keep, _ = usable(conds, 816, 89)
    assert {f"{codec}50", f"100{codec}60"} <= {c.name for c in keep}
    table = {**TABLE, "measured": {**TABLE["measured"], f"{codec}50": {"side": None, "quality": 50, "codec": codec},
                                   f"720{codec}60": {"side": 720, "quality": 60, "codec": codec}}}
    judge = lambda side, q: assign(side, None, table, (codec, q))  # noqa: E731
    assert judge(1000, 61).bound == (f"{codec}50", f"720{codec}60") and judge(1000, 55).name == f"{codec}50"
    assert judge(800, 65).name == f"720{codec}60" and judge(800, 55).gate == "unmeasured_codec"
    assert f"measured: 720{codec}60, {codec}50" in judge(1000, 40).reason
    other = "avif" if codec == "heif" else "heif"
    assert assign(1000, None, table, (other, 80)).gate == "unmeasured_codec"  # not this codec's copies
    assert assign(1000, None, table, ("webp", 80)).gate == "unmeasured_codec"  # no WebP measured
    assert assign(1000, 80, table).name == "q75"  # a JPEG: JPEG conditions only


def test_usable_skips_conditions_inside_the_originals_range():
    keep, skipped = usable(parse_conditions("default"), 816, 89)
    assert [c.name for c in keep] == ["q85", "q75", "720q90", "720q80"]
    assert skipped == ["q95", "1080q90"]
    keep, skipped = usable(parse_conditions("default"), 1500, 100)  # larger, lossless originals: all measured
    assert not skipped and len(keep) == 6


def test_copies_are_scored_by_the_fold_model_that_did_not_see_their_original():
    from synthdetect.probes.fit import fit_probe

    rng = np.random.default_rng(1)
    y = np.repeat([0, 1], 30)
    X = rng.normal(size=(60, 12)) + y[:, None] * 0.8
    fit = fit_probe(X, y, folds=5, seed=3)
    assert len(fit.fold_heads) == len(fit.fold_tests) == 5
    # a copy identical to its original gets exactly its original's out-of-fold score
    np.testing.assert_allclose(oof_copy_scores(fit, X), fit.oof, rtol=0, atol=0)
    # and every copy is scored by the head whose test fold holds its original, none other
    Xc = X + rng.normal(scale=0.1, size=X.shape)
    Xc[7] = np.nan
    s = oof_copy_scores(fit, Xc)
    assert np.isnan(s[7]) and np.isfinite(np.delete(s, 7)).all()
    for head, test in zip(fit.fold_heads, fit.fold_tests):
        rows = [i for i in test if i != 7]
        np.testing.assert_allclose(s[rows], head.probabilities(Xc[rows]))
    fit.fold_heads = []
    with pytest.raises(ValueError):
        oof_copy_scores(fit, X)


def test_breaks_budgets():
    from synthdetect.scan.calibration import fixed_operating, operating_point

    real, fake = np.linspace(0, 0.6, 100), np.linspace(0.4, 1, 100)
    own = operating_point(real, fake, 0.05, 0.2)
    assert breaks_budgets(own, 0.05, 0.2, "720q90") is None  # its own thresholds hold by construction
    loose = fixed_operating(real, fake, 0.3)
    why = breaks_budgets(loose, 0.05, 0.2, "720q90")
    assert why and "720q90" in why and "real images called synthetic" in why
    assert breaks_budgets(loose, 0.05, 0.2, ORIGINAL) is None  # the clean calibration is not a condition


# -- end to end: train probe --conditions, ensemble build, scan ---------------------------------------
CONDS = "q60,32q90"  # the fixture images are 40x48 PNGs (lossless): both conditions are measured


def _write(path, img, **kw):
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, **kw)
    return path


@pytest.fixture
def trained(setup):
    bbdir, bb, data, tmp = setup
    out = tmp / "models"
    r = _train(bbdir, data, out, tmp / "cache", "--conditions", CONDS)
    assert r.exit_code == 0, r.output
    return bbdir, data, out, tmp, json.loads(r.stdout)


def test_train_probe_calibrates_each_condition_out_of_fold_and_caches_copies(trained):
    bbdir, data, out, tmp, doc = trained
    card = json.loads((out / "case42.json").read_text())
    cal = card["calibration"]
    table = cal["conditions"]
    assert table["original"] == {"min_side": 40, "min_jpeg_quality": 100}
    assert sorted(table["measured"]) == ["32q90", "q60"] and table["skipped"] == []
    assert card["training"]["conditions"] == ["q60", "32q90"]
    for name, m in table["measured"].items():
        assert m["n_real"] == 24 and m["n_fake"] == 24 and "did not see their original" in m["method"]
        assert sorted(m["real_ids"] + m["fake_ids"]) == sorted(cal["real_ids"] + cal["fake_ids"])
        assert m["at_default_budgets"]["false_alarm"]["k"] <= int(0.05 * 24)
        assert doc["conditions"]["measured"][name]["roc_auc"] == m["roc_auc"]
    # originals, their crop spreads, two copies each, the originals' sharpness and JPEG quality read from the pixels
    assert len(list((tmp / "cache").rglob("*.npy"))) == 48 * 6
    r = _train(bbdir, data, out, tmp / "cache", "--conditions", CONDS, "--force")
    assert r.exit_code == 0 and json.loads((out / "case42.json").read_text())["calibration"] == cal
    assert len(list((tmp / "cache").rglob("*.npy"))) == 48 * 6  # nothing extracted or measured again
    bad = _train(bbdir, data, out, tmp / "cache", "--conditions", "720x", "--force")
    assert bad.exit_code == 2 and "not a condition" in bad.output


def _evidence(data, tmp):
    """Scanned images in four states: an original, a re-encoded copy, a downscaled copy, a too-small one."""
    src = Image.open(data / "1_fake" / "img03.png").convert("RGB")
    ev = tmp / "evidence"
    return {
        "original": _write(ev / "orig.png", src),
        "q60": _write(ev / "q70.jpg", src, quality=70),
        "32q90": _write(ev / "small.jpg", src.resize((40, 34)), quality=95),
        "outside": _write(ev / "tiny.png", src.resize((22, 26))),
        "low_q": _write(ev / "q40.jpg", src, quality=40),
    }


def _scan(out, bbdir, paths, **kw):
    from synthdetect.cards import Registry
    from synthdetect.scan.options import ScanOptions
    from synthdetect.scan.pipeline import resolve_plan, run_scan

    plan = resolve_plan(Registry([out, bbdir]), ["case42"], None, **kw)
    return {r["path"].rsplit("/", 1)[-1]: r for r in run_scan([str(p) for p in paths], plan, ScanOptions(provenance=False)).records}


def test_scan_uses_each_condition_operating_point_and_gates_only_outside(trained):
    bbdir, data, out, tmp, _ = trained
    ev = _evidence(data, tmp)
    recs = _scan(out, bbdir, ev.values())
    table = json.loads((out / "case42.json").read_text())["calibration"]["conditions"]
    assert recs["orig.png"]["condition"] == ORIGINAL
    for name, f in (("q60", "q70.jpg"), ("32q90", "small.jpg")):
        r = recs[f]
        assert r["condition"] == name
        op = table["measured"][name]["at_default_budgets"]
        m = r["models"]["case42"]
        assert (m["threshold"], m["threshold_real"]) == (op["t_hi"], op["t_lo"])
        assert not [g for g in r["quality"]["failed"] if g["gate"] != "blurred_or_upscaled"]
    # more copies in the two conditions: definite verdicts state that condition's rate
    more = []
    for cls in ("0_real", "1_fake"):
        for i in range(6):
            src = Image.open(data / cls / f"img{i:02d}.png").convert("RGB")
            more.append(_write(tmp / "more" / f"{cls}-{i}-q70.jpg", src, quality=70))
            more.append(_write(tmp / "more" / f"{cls}-{i}-small.jpg", src.resize((40, 34)), quality=95))
    definite = [r for r in _scan(out, bbdir, more).values() if r["verdict"] != "inconclusive"]
    assert definite
    for r in definite:
        name = "q60" if r["path"].endswith("q70.jpg") else "32q90"
        assert r["condition"] == name and r["error_rate"]["condition"] == name and r["error_rate"]["n"] == 24
        assert f"{name} copies" in r["error_rate"]["text"]
    tiny = recs["tiny.png"]
    assert tiny["condition"] == "outside" and tiny["verdict"] == "inconclusive"
    assert [g["gate"] for g in tiny["quality"]["failed"]] == ["below_calibrated_size"]
    assert "32 px" in tiny["reasons"][0]
    low = recs["q40.jpg"]
    assert low["condition"] == "outside" and "recompressed" in [g["gate"] for g in low["quality"]["failed"]]


def test_a_png_saved_from_a_jpeg_is_judged_by_the_quality_its_pixels_carry(trained):
    """A PNG written from a decoded JPEG q40 was a q100 "original" to the header; its pixels say
    q40: outside every condition (``recompressed``, the reason saying where it was read); one from a
    JPEG q70 is judged in ``q60``, as the JPEG itself would be."""
    from synthdetect.inputs.jpeg_trace import PIXELS_NOTE

    bbdir, data, out, tmp, _ = trained
    photo = Image.open(Path(__file__).resolve().parents[2] / "examples" / "images" / "rocket.jpg").convert("RGB")
    paths = []
    for q in (40, 70):
        jpeg = _write(tmp / "via" / f"q{q}.jpg", photo, quality=q)
        paths.append(_write(tmp / "png" / f"from-q{q}.png", Image.open(jpeg).convert("RGB")))
    recs = _scan(out, bbdir, paths)
    low, mid = recs["from-q40.png"], recs["from-q70.png"]
    assert (low["quality"]["jpeg_quality"], low["quality"]["jpeg_quality_source"]) == (40, "pixels")
    assert low["condition"] == "outside" and low["verdict"] == "inconclusive"
    (gate,) = [g for g in low["quality"]["failed"] if g["gate"] == "recompressed"]
    assert gate["reason"].endswith(PIXELS_NOTE)
    assert mid["condition"] == "q60" and mid["quality"]["jpeg_quality"] == 70


def test_scan_judges_an_image_several_conditions_bound_with_the_worst_case_of_them(trained):
    """A full-size JPEG q92 of the 40 px sample could be a ``q60`` re-encode's better twin or a
    ``32q90`` downscale's: both bound it, and its thresholds keep the budgets on each."""
    bbdir, data, out, tmp, _ = trained
    table = json.loads((out / "case42.json").read_text())["calibration"]["conditions"]["measured"]
    paths = []
    for cls in ("0_real", "1_fake"):
        for i in range(6):
            src = Image.open(data / cls / f"img{i:02d}.png").convert("RGB")
            paths.append(_write(tmp / "q92" / f"{cls}-{i}.jpg", src, quality=92))
    recs = list(_scan(out, bbdir, paths).values())
    lo = min(table[n]["at_default_budgets"]["t_lo"] for n in ("q60", "32q90"))
    hi = max(table[n]["at_default_budgets"]["t_hi"] for n in ("q60", "32q90"))
    for r in recs:
        assert r["condition"] == "q60" and r["condition_bound"] == ["q60", "32q90"]
        m = r["models"]["case42"]
        assert (m["threshold"], m["threshold_real"]) == (hi, lo)
    definite = [r for r in recs if r["verdict"] != "inconclusive"]
    assert definite
    for r in definite:
        assert r["error_rate"]["conditions"] == ["q60", "32q90"] and "the worst of those measured" in r["error_rate"]["text"]
    # the table's why column and the footer say which calibration the verdicts used
    from synthdetect.cards import Registry
    from synthdetect.output.text import condition_lines, why_short
    from synthdetect.scan.options import ScanOptions
    from synthdetect.scan.pipeline import resolve_plan, run_scan

    assert why_short(definite[0]).endswith("on calibration (q60, 32q90 copies, the worst)")
    orig = _write(tmp / "q92" / "orig.png", Image.open(data / "0_real" / "img00.png").convert("RGB"))
    res = run_scan([str(p) for p in [*paths, orig]], resolve_plan(Registry([out, bbdir]), ["case42"], None),
                   ScanOptions(provenance=False))
    summary = res.summary.to_dict()
    assert summary["conditions"] == {"q60, 32q90": 12, "original": 1}
    (line,) = condition_lines(summary)
    assert line.startswith("images by measured condition: original: 1 (the clean calibration); q60 / 32q90: 12 "
                           "(judged by the worst of them).")
    assert condition_lines({"conditions": {"original": 5, "outside": 2}}) == [] and condition_lines({}) == []


def test_scan_gates_a_condition_whose_rates_break_the_budgets(trained):
    bbdir, data, out, tmp, _ = trained
    ev = _evidence(data, tmp)
    recs = _scan(out, bbdir, [ev["original"], ev["q60"]], threshold=0.0)  # everything flagged synthetic
    gated = recs["q70.jpg"]
    assert gated["verdict"] == "inconclusive" and gated["detector_verdict"] == "synthetic"
    assert [g["gate"] for g in gated["quality"]["failed"]] == ["condition_rates"]
    assert "24/24 real images called synthetic" in gated["reasons"][0]
    assert recs["orig.png"]["verdict"] == "synthetic"  # the clean calibration: as before, stated, not gated


def test_cards_without_conditions_keep_the_size_and_quality_gates(trained):
    bbdir, data, out, tmp, _ = trained
    card = json.loads((out / "case42.json").read_text())
    del card["calibration"]["conditions"]
    (out / "case42.json").write_text(json.dumps(card))
    ev = _evidence(data, tmp)
    recs = _scan(out, bbdir, ev.values())
    assert all("condition" not in r for r in recs.values())
    gates = {f: [g["gate"] for g in r["quality"]["failed"]] for f, r in recs.items()}
    assert gates["small.jpg"] == ["below_calibrated_size"] and gates["tiny.png"] == ["below_calibrated_size"]
    assert "recompressed" in gates["q40.jpg"] and "recompressed" in gates["q70.jpg"]
    assert recs["orig.png"]["models"]["case42"]["threshold"] == card["calibrated_threshold"]


def test_ensembles_carry_the_members_conditions(trained):
    bbdir, data, out, tmp, _ = trained
    from synthdetect.cards import ModelCard

    card = ModelCard.load(out / "case42.json")
    table = ensemble_conditions([card], "mean", {}, 0.05, 0.2)
    from synthdetect.scan.calibration import CalibrationSet

    for name, m in card.calibration["conditions"]["measured"].items():
        e = table["measured"][name]  # a mean of one: the member's scores, image by image
        assert CalibrationSet.from_dict(e).by_id() == CalibrationSet.from_dict(m).by_id()
    assert table["original"] == card.calibration["conditions"]["original"]
    no = ModelCard.load(out / "case42.json")
    no.calibration = {k: v for k, v in no.calibration.items() if k != "conditions"}
    assert ensemble_conditions([card, no], "mean", {}, 0.05, 0.2) is None


def test_ensembles_cover_the_jpeg_quality_and_sharpness_every_member_covers(trained):
    """An ensemble's calibration covers the worst JPEG quality (and sharpness) all its members were
    measured at (``covered``); with a member that does not say, the ensemble does not either."""
    from synthdetect.cards import ModelCard
    from synthdetect.evaluation.ensemble_card import calibrate_from_members

    bbdir, data, out, tmp, _ = trained
    card = ModelCard.load(out / "case42.json")
    assert card.calibration["image_jpeg_quality"]["covered"] == 100  # the PNG fixture: lossless
    worse = ModelCard.load(out / "case42.json")
    worse.name, worse.calibration["image_jpeg_quality"]["covered"] = "other", 80
    assert calibrate_from_members([card, worse], "mean", {}, 0.05, 0.2)[0]["image_jpeg_quality"] == {"covered": 100}
    worse.calibration["image_jpeg_quality"]["covered"], card.calibration["image_jpeg_quality"]["covered"] = 80, 75
    assert calibrate_from_members([card, worse], "mean", {}, 0.05, 0.2)[0]["image_jpeg_quality"] == {"covered": 80}
    del worse.calibration["image_jpeg_quality"]
    assert "image_jpeg_quality" not in calibrate_from_members([card, worse], "mean", {}, 0.05, 0.2)[0]
    assert card.calibration["image_sharpness"] is None  # 40 x 48 px: too small to measure
    assert "image_sharpness" not in calibrate_from_members([card, worse], "mean", {}, 0.05, 0.2)[0]
    card.calibration["image_sharpness"], worse.calibration["image_sharpness"] = {"covered": 0.2}, {"covered": 0.15}
    assert calibrate_from_members([card, worse], "mean", {}, 0.05, 0.2)[0]["image_sharpness"] == {"covered": 0.2}


def test_ensembles_cover_the_codecs_every_member_covers(trained):
    """An ensemble's calibration covers a lossy codec only when every member's does (``image_codecs``),
    so that scan lifts its ``unmeasured_codec`` gate for the ensemble exactly where it would for each member."""
    from synthdetect.cards import ModelCard
    from synthdetect.evaluation.ensemble_card import calibrate_from_members

    _, _, out, _, _ = trained
    card = ModelCard.load(out / "case42.json")
    assert card.calibration["image_codecs"]["covered"] == []  # the PNG fixture: lossless
    other = ModelCard.load(out / "case42.json")
    other.name = "other"
    card.calibration["image_codecs"]["covered"], other.calibration["image_codecs"]["covered"] = ["avif", "webp"], ["webp"]
    assert calibrate_from_members([card, other], "mean", {}, 0.05, 0.2)[0]["image_codecs"] == {"covered": ["webp"]}
    del other.calibration["image_codecs"]  # an older probe: records none
    assert calibrate_from_members([card, other], "mean", {}, 0.05, 0.2)[0]["image_codecs"] == {"covered": []}


def test_scan_judges_a_lossy_webp_in_its_measured_webp_condition(setup):
    """A probe calibrated with ``--conditions webp60`` on lossless images: a WebP copy at quality 70
    is judged in ``webp60`` (its rates, the unmeasured_codec gate lifted); one at quality 40 is
    withheld naming what was measured; a JPEG is never judged by a WebP condition."""
    bbdir, bb, data, tmp = setup
    out = tmp / "models"
    r = _train(bbdir, data, out, tmp / "cache", "--conditions", "q60,webp60")
    assert r.exit_code == 0, r.output
    table = json.loads((out / "case42.json").read_text())["calibration"]["conditions"]
    assert table["measured"]["webp60"]["codec"] == "webp" and "codec" not in table["measured"]["q60"]
    src = Image.open(data / "1_fake" / "img03.png").convert("RGB")
    ev = tmp / "webp-evidence"
    recs = _scan(out, bbdir, [_write(ev / "w70.webp", src, quality=70), _write(ev / "w40.webp", src, quality=40),
                              _write(ev / "j70.jpg", src, quality=70)])
    w70, w40, j70 = recs["w70.webp"], recs["w40.webp"], recs["j70.jpg"]
    assert w70["condition"] == "webp60" and w70["quality"]["lossy_quality"] >= 70
    assert not [g for g in w70["quality"]["failed"] if g["gate"] == "unmeasured_codec"]
    assert w70["quality"].get("unmeasured_codec_calibrated") is True
    op = table["measured"]["webp60"]["at_default_budgets"]
    assert (w70["models"]["case42"]["threshold"], w70["models"]["case42"]["threshold_real"]) == (op["t_hi"], op["t_lo"])
    assert w40["condition"] == "outside" and w40["verdict"] == "inconclusive"
    (entry,) = [g for g in w40["quality"]["failed"] if g["gate"] == "unmeasured_codec"]
    assert "no measured condition is as harsh as it (measured: webp60)" in entry["reason"]
    assert j70["condition"] == "q60"


@pytest.mark.parametrize("codec,ext,name", [("avif", "avif", "AVIF"), ("heif", "heic", "HEIF/HEIC")])
def test_scan_judges_an_avif_or_heic_in_its_measured_condition(setup, codec, ext, name):
    """A probe calibrated with ``--conditions q60,avif50`` (``heif50``): an AVIF (HEIC) at quality 70
    is judged in that condition (its rates, the unmeasured_codec gate lifted, its quality recorded);
    one at quality 30 is withheld naming what was measured; a lossy WebP is not judged by it."""
    if codec == "heif":
        pytest.importorskip("pillow_heif").register_heif_opener()
    bbdir, bb, data, tmp = setup
    out = tmp / "models"
    r = _train(bbdir, data, out, tmp / "cache", "--conditions", f"q60,{codec}50")
    assert r.exit_code == 0, r.output
    table = json.loads((out / "case42.json").read_text())["calibration"]["conditions"]
    assert table["measured"][f"{codec}50"]["codec"] == codec
    src = Image.open(data / "1_fake" / "img03.png").convert("RGB")
    ev = tmp / f"{codec}-evidence"
    recs = _scan(out, bbdir, [_write(ev / f"a70.{ext}", src, quality=70), _write(ev / f"a30.{ext}", src, quality=30),
                              _write(ev / "w70.webp", src, quality=70)])
    a70, a30, w70 = recs[f"a70.{ext}"], recs[f"a30.{ext}"], recs["w70.webp"]
    assert a70["condition"] == f"{codec}50" and a70["quality"]["lossy_codec"] == codec
    assert 70 <= a70["quality"]["lossy_quality"] <= 71
    assert not [g for g in a70["quality"]["failed"] if g["gate"] == "unmeasured_codec"]
    op = table["measured"][f"{codec}50"]["at_default_budgets"]
    assert (a70["models"]["case42"]["threshold"], a70["models"]["case42"]["threshold_real"]) == (op["t_hi"], op["t_lo"])
    assert a30["condition"] == "outside" and a30["verdict"] == "inconclusive"
    (entry,) = [g for g in a30["quality"]["failed"] if g["gate"] == "unmeasured_codec"]
    assert f"saved as {name} at quality 3" in entry["reason"] and f"(measured: {codec}50)" in entry["reason"]
    assert w70["condition"] == "outside" and w70["verdict"] == "inconclusive"


GREY_TABLE = {
    "original": {"min_side": 816, "min_jpeg_quality": 89},
    "measured": {**TABLE["measured"], "grey90": {"side": None, "quality": 90, "codec": "grey"},
                 "grey75": {"side": None, "quality": 75, "codec": "grey"}},
}


def test_greyscale_conditions_are_parsed_made_and_judge_only_greyscale_images():
    """``greyQ`` / ``SgreyQ``: copies turned greyscale and saved as greyscale JPEG; a greyscale image
    under a card with such conditions is judged among them only (rule 2, by its JPEG quality), never
    as ``original``; a colour image never by them; a card without them judges it as before."""
    conds = parse_conditions("default,grey90,720grey75")
    assert [c.name for c in conds][-2:] == ["grey90", "720grey75"] and conds[-1] == Condition(720, 75, "grey")
    img = Image.fromarray(np.random.default_rng(0).integers(0, 255, (900, 1200, 3), dtype=np.uint8))
    with Image.open(io.BytesIO(Condition(720, 75, "grey").apply(img))) as im:
        assert im.format == "JPEG" and im.mode == "L" and im.size == (960, 720)
        assert jpeg_quality_from_file(Condition(None, 75, "grey").apply(img)) == 75
    assert Condition(None, 90, "grey").cache_key("ab" * 32) != Condition(None, 90).cache_key("ab" * 32)
    keep, _ = usable(conds, 816, 89)
    assert {"grey90", "720grey75"} <= {c.name for c in keep}  # never inside the colour originals' range
    grey = lambda side, q: assign(side, q, GREY_TABLE, grey=True)  # noqa: E731
    assert grey(1000, 95).name == "grey90" and grey(1000, 95).bound == ("grey90", "grey75")
    assert grey(1000, None).bound == ("grey90", "grey75")  # lossless: bounded like quality 100
    assert grey(1000, 80).name == "grey75" and not grey(1000, 80).bound
    for side, q, gate in ((1000, 70, "recompressed"), (700, 95, "below_calibrated_size")):
        a = grey(side, q)
        assert a.name is None and a.gate == gate and "greyscale" in a.reason
        assert "grey75, grey90 copies only" in a.reason
    sized = {**GREY_TABLE, "measured": {"900grey80": {"side": 900, "quality": 80, "codec": "grey"},
                                        "720grey80": {"side": 720, "quality": 80, "codec": "grey"},
                                        "grey90": {"side": None, "quality": 90, "codec": "grey"}}}
    odd = assign(900, 95, sized, grey=True)  # as large as the calibration images: the full-size copies judge it
    assert odd.name == "grey90" and not odd.bound and odd.form == "grey"
    odd = assign(900, 85, sized, grey=True)  # harsher than every full-size copy: rule 2 among all of them
    assert odd.name == "900grey80" and odd.bound == ("900grey80", "720grey80")
    odd = assign(800, 95, sized, grey=True)  # smaller than the calibration images: rule 2, the worst case
    assert odd.name == "720grey80" and not odd.bound
    odd = assign(810, 85, {**GREY_TABLE, "measured": {"800grey90": {"side": 800, "quality": 90, "codec": "grey"},
                                                      "grey80": {"side": None, "quality": 80, "codec": "grey"}}}, grey=True)
    assert odd.name is None and odd.gate == "uncalibrated_condition" and odd.value == "greyscale 810px/q85"
    assert assign(1000, 95, GREY_TABLE).name == ORIGINAL  # a colour image: never by a grey condition
    assert assign(1000, 80, GREY_TABLE).name == "q75"
    assert assign(1000, 95, TABLE, grey=True).name == ORIGINAL  # no grey conditions: judged as before
    with pytest.raises(ConditionError):
        parse_conditions("gray90")


def test_scan_judges_a_greyscale_image_in_its_measured_grey_condition(setup):
    """A probe calibrated with ``--conditions q60,grey60``: a greyscale evidence file (saved as an
    ``L`` JPEG, or as a colour PNG holding a grey picture) is judged by ``grey60``'s thresholds and
    rates; the same picture in colour is not; a greyscale file below the measured quality is withheld."""
    bbdir, bb, data, tmp = setup
    out = tmp / "models"
    r = _train(bbdir, data, out, tmp / "cache", "--conditions", "q60,grey60")
    assert r.exit_code == 0, r.output
    table = json.loads((out / "case42.json").read_text())["calibration"]["conditions"]
    assert table["measured"]["grey60"]["codec"] == "grey" and "grey conditions" in table["transform"]
    src = Image.open(data / "1_fake" / "img03.png").convert("RGB")
    ev = tmp / "grey-evidence"
    recs = _scan(out, bbdir, [_write(ev / "g.jpg", src.convert("L"), quality=90),
                              _write(ev / "g.png", src.convert("L").convert("RGB")),
                              _write(ev / "c.png", src), _write(ev / "g40.jpg", src.convert("L"), quality=40),
                              _write(ev / "g.webp", src.convert("L").convert("RGB"), quality=80)])
    op = table["measured"]["grey60"]["at_default_budgets"]
    for f in ("g.jpg", "g.png"):
        rec = recs[f]
        assert rec["condition"] == "grey60" and rec["quality"]["greyscale"] is True, f
        assert (rec["models"]["case42"]["threshold"], rec["models"]["case42"]["threshold_real"]) == (op["t_hi"], op["t_lo"])
    assert recs["c.png"]["condition"] == ORIGINAL and recs["c.png"]["quality"]["greyscale"] is False
    g40 = recs["g40.jpg"]
    assert g40["condition"] == "outside" and g40["verdict"] == "inconclusive"
    (entry,) = [g for g in g40["quality"]["failed"] if g["gate"] == "recompressed"]
    assert "greyscale" in entry["reason"] and "grey60" in entry["reason"]
    for f in ("g.jpg", "g.png", "g40.jpg"):  # the greyscale gate: lifted, the grey conditions decide
        assert recs[f]["quality"]["greyscale_calibrated"] is True
        assert "greyscale" not in [g["gate"] for g in recs[f]["quality"]["failed"]]
    # a greyscale lossy WebP: the grey copies are JPEG, so the gate stays, saying what was measured
    webp = recs["g.webp"]
    assert webp["verdict"] == "inconclusive" and webp["quality"]["greyscale"] is True
    (entry,) = [g for g in webp["quality"]["failed"] if g["gate"] == "greyscale"]
    assert entry["reason"].startswith("The image is greyscale, saved as lossy WebP at quality 8")
    assert "greyscale JPEG copies of the calibration images (grey60)" in entry["reason"]
    assert "and not on lossy WebP files at all" in entry["reason"]  # this card measured no WebP


def test_greyscale_images_are_withheld_unless_the_card_measured_greyscale(setup):
    """A probe fitted on colour images without greyscale conditions: a greyscale file gets the
    ``greyscale`` gate (no verdict, the reason says how to calibrate for it), a colour one not; a
    probe fitted on a sample a tenth of each class of which is greyscale covers them."""
    bbdir, bb, data, tmp = setup
    out = tmp / "models"
    assert _train(bbdir, data, out, tmp / "cache").exit_code == 0
    card = json.loads((out / "case42.json").read_text())
    assert card["calibration"]["image_greyscale"] == {"real": {"checked": 24, "greyscale": 0},
                                                      "synthetic": {"checked": 24, "greyscale": 0}, "covered": False}
    src = Image.open(data / "1_fake" / "img03.png").convert("RGB")
    ev = tmp / "grey-evidence"
    paths = [_write(ev / "g.png", src.convert("L")), _write(ev / "c.png", src)]
    recs = _scan(out, bbdir, paths)
    (gate,) = recs["g.png"]["quality"]["failed"]
    assert gate["gate"] == "greyscale" and "--conditions default,grey90,grey75" in gate["reason"]
    assert recs["g.png"]["verdict"] == "inconclusive" and recs["g.png"]["detector_verdict"] in ("real", "synthetic", "inconclusive")
    assert recs["c.png"]["quality"]["failed"] == [] and recs["c.png"]["quality"]["greyscale"] is False
    for cls in ("0_real", "1_fake"):  # three of 24 a class greyscale: a tenth or more
        for p in sorted((data / cls).iterdir())[:3]:
            Image.open(p).convert("L").save(p)
    out2 = tmp / "models2"
    r = _train(bbdir, data, out2, tmp / "cache")
    assert r.exit_code == 0, r.output
    assert json.loads((out2 / "case42.json").read_text())["calibration"]["image_greyscale"]["covered"] is True
    assert "greyscale" in json.loads(r.stdout)["calibration_covers"]["lifted"]
    g = _scan(out2, bbdir, paths)["g.png"]
    assert g["quality"]["failed"] == [] and g["quality"]["greyscale_calibrated"] is True
