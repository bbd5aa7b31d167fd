"""Filter gates on a backbone's features (scan.filter_gate): card entries, scores, records, end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter, ImageOps

from synthdetect.cards import BackboneCard, CardError, bundled_dir
from synthdetect.scan.filter_gate import FilterGate, apply, calibrated, card_gates, sample_counts, sample_warnings
from tests.support import scan_json

WEIGHTS = bundled_dir()
RESIDUAL = WEIGHTS / "efficientnet-lite0-residual.backbone.json"
SHARED = WEIGHTS.parent.parent / "shared" / "data"


def _entry(n: int = 3, **kw) -> dict:
    d = {"columns": [[2, 2 + n]], "mean": [0.0] * n, "scale": [1.0] * n, "coef": [1.0] * n, "intercept": -1.0,
         "threshold": 0.5}
    d.update(kw)
    return d


def test_score_is_the_linear_function_of_the_named_columns():
    rng = np.random.default_rng(0)
    mean, scale, coef = rng.normal(size=5), rng.uniform(0.5, 2, 5), rng.normal(size=5)
    gate = FilterGate.from_dict("g", {"columns": [[1, 3], [6, 9]], "mean": mean.tolist(), "scale": scale.tolist(),
                                      "coef": coef.tolist(), "intercept": 0.25, "threshold": 0.0}, dim=10)
    f = rng.normal(size=(4, 10))
    want = ((f[:, [1, 2, 6, 7, 8]] - mean) / scale) @ coef + 0.25
    assert np.allclose(gate.scores(f), want)


@pytest.mark.parametrize("bad, says", [
    ({"columns": [[8, 12]]}, "columns"),  # beyond the backbone's 10 features
    ({"columns": [[3, 2]]}, "columns"),
    ({"columns": []}, "columns"),
    ({"mean": [0.0, 0.0]}, "'mean'"),
    ({"coef": [1.0, float("nan"), 1.0]}, "'coef'"),
    ({"scale": [1.0, 0.0, 1.0]}, "'scale'"),
    ({"threshold": "high"}, "'threshold'"),
    ({"intercept": True}, "'intercept'"),
])
def test_a_malformed_gate_is_refused_naming_the_field(bad, says):
    with pytest.raises(ValueError, match=says):
        FilterGate.from_dict("g", _entry(**bad), dim=10)


def test_a_card_with_a_malformed_gate_is_a_one_line_card_error(tmp_path):
    d = json.loads(RESIDUAL.read_text())
    d["gates"] = {"median_filtered": _entry(coef=[1.0])}
    p = tmp_path / "x.backbone.json"
    p.write_text(json.dumps(d))
    with pytest.raises(CardError, match=r"gate 'median_filtered': 'coef'") as e:
        card_gates(BackboneCard.load(p))
    assert "\n" not in str(e.value)


def test_apply_records_the_score_and_fails_the_gate_at_the_threshold():
    gate = FilterGate.from_dict("median_filtered", _entry(), dim=10)
    below = {"quality": {"failed": [], "ok": True}}
    assert not apply(below, gate, 0.49)
    assert below["quality"] == {"failed": [], "ok": True, "median_filtered_score": 0.49}
    at = {"quality": {"failed": [], "ok": True}}
    assert apply(at, gate, 0.5)
    (g,) = at["quality"]["failed"]
    assert g["gate"] == "median_filtered" and at["quality"]["ok"] is False
    assert "median-filtered" in g["reason"] and "\n" not in g["reason"]
    off = {"path": "x"}  # the quality gates are off: nothing recorded
    assert not apply(off, gate, 9.0)
    assert off == {"path": "x"}


def test_the_bundled_residual_backbone_carries_a_measured_median_gate():
    card = BackboneCard.load(RESIDUAL)
    (gate,) = card_gates(card)
    assert gate.name == "median_filtered"
    entry = card.gates["median_filtered"]
    measured = entry["measured"]["leave_one_source_out"]
    assert set(measured) == {"val-firefly", "val-inthewild", "train-gan2019", "train-sd14"}
    for m in measured.values():  # what the card states is what the tool measured, per unseen source
        assert 0 <= m["originals_gated"] <= 0.1 and m["median_copies_gated"]["q95"] >= 0.6
    photoreal = [measured[s] for s in ("val-firefly", "val-inthewild")]
    assert all(m["originals_gated"] <= 0.03 and m["median_copies_gated"]["q95"] >= 0.8 for m in photoreal)
    assert "holdout" in entry["training"]["excluded"]
    assert set(entry["training"]["licences"]) == set(measured)  # the training data's licences, per set
    assert BackboneCard.load(RESIDUAL).to_dict()["gates"] == card.gates  # a round trip keeps it


def _holdout_pair(tmp_path: Path) -> list[Path]:
    """A holdout render (never seen by the gate's fit) re-saved, and median-filtered then saved (JPEG q95)."""
    src = SHARED / "val-inthewild" / "1_fake" / "city_34.jpg"
    if not src.is_file():
        pytest.skip("shared data not present")
    with Image.open(src) as im:
        im = ImageOps.exif_transpose(im).convert("RGB")
    plain, median = tmp_path / "resaved.jpg", tmp_path / "median.jpg"
    im.save(plain, quality=95)
    im.filter(ImageFilter.MedianFilter(3)).save(median, quality=95)
    return [plain, median]


def test_scan_withholds_a_median_filtered_render_and_says_why(tmp_path):
    paths = _holdout_pair(tmp_path)
    before = [p.read_bytes() for p in paths]
    doc, _ = scan_json(WEIGHTS, paths, "--no-provenance", "--domain-check", "off")
    recs = {Path(r["path"]).name: r for r in doc["results"]}
    plain, median = recs["resaved.jpg"], recs["median.jpg"]
    assert plain["verdict"] == "synthetic"
    assert not any(g["gate"] == "median_filtered" for g in plain["quality"]["failed"])
    assert median["verdict"] == "inconclusive"
    assert any(g["gate"] == "median_filtered" for g in median["quality"]["failed"])
    assert median["quality"]["median_filtered_score"] > plain["quality"]["median_filtered_score"]
    assert "median_filtered" in doc["summary"]["quality_gates"]["failed"]
    assert [p.read_bytes() for p in paths] == before
    off, _ = scan_json(WEIGHTS, paths, "--no-provenance", "--domain-check", "off", "--no-quality-gates")
    assert all("median_filtered_score" not in (r.get("quality") or {}) for r in off["results"])


def test_sample_counts_cover_a_gate_only_with_a_tenth_of_each_class(tmp_path):
    d = json.loads(RESIDUAL.read_text())
    d["gates"] = {"median_filtered": {**_entry(1), "columns": [[0, 1]], "intercept": 0.0, "threshold": 0.5}}
    p = tmp_path / "x.backbone.json"
    p.write_text(json.dumps(d))
    card = BackboneCard.load(p)
    X = np.zeros((40, card.dim))
    y = np.r_[np.zeros(20, int), np.ones(20, int)]
    X[[0, 1, 20, 21], 0] = 1.0  # 2 of 20 in each class read as filtered
    (c,) = sample_counts(card, X, y).values()
    assert c == {"real": {"checked": 20, "gated": 2}, "fake": {"checked": 20, "gated": 2}, "covered": True}
    assert calibrated({"filter_gates": {"median_filtered": c}}, "median_filtered")
    (w,) = sample_warnings({"median_filtered": c})
    assert w.startswith("4 of 40 sample images (2 real, 2 synthetic) read as median-filtered") and "does not" in w
    X[21, 0] = 0.0  # one fake fewer: not covered, and a warning that scan withholds them
    (c,) = sample_counts(card, X, y).values()
    assert c["covered"] is False and not calibrated({"filter_gates": {"median_filtered": c}}, "median_filtered")
    assert "scan withholds" in sample_warnings({"median_filtered": c})[0]
    for bad in (None, [], {"filter_gates": []}, {"filter_gates": {"median_filtered": {"covered": 1}}}):
        assert not calibrated(bad, "median_filtered")


def test_a_lifted_gate_records_the_score_and_that_the_calibration_covers_it():
    from synthdetect.scan.pipeline import Scanner

    gate = FilterGate.from_dict("median_filtered", _entry(), dim=10)
    rec = {"quality": {"failed": [], "ok": True}}
    assert apply(rec, gate, 2.0)  # failed, then lifted as scan lifts every gate the calibration covers
    Scanner._calibration_covers(rec["quality"], gate.name, True)
    assert rec["quality"] == {"failed": [], "ok": True, "median_filtered_score": 2.0, "median_filtered_calibrated": True}


def test_a_gate_failed_by_an_image_already_between_the_thresholds_is_named_in_its_reasons():
    """The record said only "score between the thresholds" while the footer counted its failed gate."""
    from types import SimpleNamespace

    from synthdetect.scan.pipeline import Scanner

    between = "score between the calibrated 'real' and 'synthetic' thresholds"
    gate = {"gate": "median_filtered", "value": 2.1, "threshold": 1.38, "reason": "looks median-filtered"}
    me = SimpleNamespace(plan=None, models=[], _condition_gate=lambda *a: None)
    rec = {"verdict": "inconclusive", "reasons": [between], "quality": {"ok": False, "failed": [gate]}}
    Scanner._apply_quality_gates(me, rec, None, object())
    assert rec["verdict"] == "inconclusive" and rec["reasons"] == ["looks median-filtered", between]
    assert "detector_verdict" not in rec
    rec = {"verdict": "real", "reasons": [], "error_rate": {"rate": 0.2}, "quality": {"ok": False, "failed": [gate]}}
    Scanner._apply_quality_gates(me, rec, None, object())
    assert rec["verdict"] == "inconclusive" and rec["detector_verdict"] == "real" and rec["reasons"] == ["looks median-filtered"]


def _gate_tool():
    import importlib.util

    path = Path(__file__).resolve().parents[2] / "tools" / "make_filter_gate.py"
    spec = importlib.util.spec_from_file_location("make_filter_gate", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_gate_tool_fits_a_gate_on_several_edits_and_measures_every_edit_per_source():
    """tools/make_filter_gate.py: a gate's positive class may hold several edits (smoothing, sharpening);
    the other gates' edits are left out of its fit but measured, per unseen source."""
    tool = _gate_tool()
    assert tool.GATES == {"median_filtered": ("median",)}  # what the bundled card carries
    assert tool.parse_gates(["sharpened"]) == {"sharpened": ("sharpen", "unsharp")}
    assert tool.parse_gates(["smoothed=smooth_more,gauss"]) == {"smoothed": ("smooth_more", "gauss")}
    rng = np.random.default_rng(0)
    n = 1400
    kind = rng.choice(["original", "resave", "median", "smooth_more", "gauss", "sharpen", "unsharp"], n)
    src = rng.choice(tool.SOURCES, n)
    quality = np.where(kind == "original", 0, rng.choice(tool.QUALITIES, n))
    X = rng.normal(size=(n, 12))
    X[np.isin(kind, ["median", "smooth_more", "gauss"]), :4] += 3.0  # the smoothing edits read in columns 0-3
    X[np.isin(kind, ["sharpen", "unsharp"]), :4] -= 3.0  # sharpening the other way
    out = tool.leave_one_out("median_filtered", tool.TRIED["median_filtered"], X, kind, src, rng.integers(0, 2, n),
                             quality, [[0, 8]])
    assert set(out) == set(tool.SOURCES)
    for m in out.values():
        assert m["roc_auc"] > 0.95 and m["originals_gated"] <= 0.05
        assert all(m["copies_gated"][e]["q95"] >= 0.8 for e in ("median", "smooth_more", "gauss"))
        assert m["copies_gated"]["sharpen"]["q95"] == 0.0  # measured, not fitted on
        assert set(m["renders_gated"]) == {"median", "smooth_more", "gauss"}
        assert m["median_copies_gated"] == m["copies_gated"]["median"]  # the card's earlier keys stay
