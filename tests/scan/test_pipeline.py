import numpy as np
import pytest
from PIL import Image

from synthdetect.cards import Registry
from synthdetect.scan.options import ScanOptions
from synthdetect.scan.pipeline import Scanner, ScanSetupError, resolve_plan, run_scan

pytestmark = pytest.mark.usefixtures("isolated_registry")


def _scan(models_dir, inputs, models=None, method=None, threshold=None, **options):
    plan = resolve_plan(Registry([models_dir]), models, method, threshold)
    return run_scan([str(i) for i in inputs], plan, ScanOptions(device="cpu", **options))


def _by_name(res):
    return {r["path"].rsplit("/", 1)[-1]: r for r in res.records}


def test_known_behaviour_three_specs(models_dir, images):
    res = _scan(models_dir, images.values(), models=["trio"], provenance=False, batch_size=2)
    recs = _by_name(res)
    assert recs["white.png"]["models"]["bright"]["verdict"] == "synthetic"
    assert recs["white.png"]["models"]["dark"]["verdict"] == "real"
    assert recs["black.jpg"]["models"]["dark"]["verdict"] == "synthetic"
    assert recs["red.webp"]["models"]["redprob"]["verdict"] == "synthetic"
    assert recs["red.webp"]["models"]["redprob"]["probability"] > 0.99
    # trio is a majority ensemble
    assert res.plan.method == "majority"
    assert recs["white.png"]["verdict"] == "real" and recs["white.png"]["ensemble"]["score"] == pytest.approx(1 / 3, abs=1e-5)
    assert recs["red.webp"]["verdict"] == "synthetic"
    assert res.summary.scanned == 3 and res.summary.errors == 0


def test_order_preserved_with_errors_interleaved(models_dir, images, tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"garbage")
    inputs = [images["white"], bad, images["black"], images["red"]]
    res = _scan(models_dir, inputs, models=["bright"], batch_size=1, workers=2, provenance=False)
    assert [r["path"] for r in res.records] == [str(p) for p in inputs]
    assert res.records[1]["error"] and res.records[1]["verdict"] is None
    assert res.summary.errors == 1 and res.summary.scanned == 3


def test_batch_size_does_not_change_results(models_dir, tmp_path):
    rng = np.random.default_rng(1)
    paths = []
    for i, size in enumerate([(5, 5), (300, 40), (64, 64), (33, 97), (1000, 700), (17, 300), (50, 51)]):
        p = tmp_path / f"img{i}.png"
        Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).save(p)
        paths.append(p)
    a = _scan(models_dir, paths, models=["bright", "dark", "redprob"], method="mean", batch_size=1, provenance=False)
    b = _scan(models_dir, paths, models=["bright", "dark", "redprob"], method="mean", batch_size=4, workers=3, provenance=False)
    for ra, rb in zip(a.records, b.records):
        for n in ("bright", "dark", "redprob"):
            assert ra["models"][n]["probability"] == pytest.approx(rb["models"][n]["probability"], abs=1e-5)
        assert ra["ensemble"]["score"] == pytest.approx(rb["ensemble"]["score"], abs=1e-5)


def test_tiles_scored_separately_and_averaged(tmp_path, make_model):
    # logit = mean R + mean G + mean B in [0, 1]: a black tile gives 0.5, a white one sigmoid(3)
    zero, one = (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)
    make_model(tmp_path, "tiled", 16, [1, 1, 1], 0.0, mean=zero, std=one, tiles=2)
    make_model(tmp_path, "single", 16, [1, 1, 1], 0.0, mean=zero, std=one)
    half = np.zeros((16, 32, 3), np.uint8)
    half[:, 16:] = 255  # left tile black, right tile white
    Image.fromarray(half).save(tmp_path / "half.png")
    Image.fromarray(np.full((16, 16, 3), 255, np.uint8)).save(tmp_path / "small.png")  # room for one tile
    sig = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
    for batch in (1, 4):
        res = _scan(tmp_path, [tmp_path / "half.png", tmp_path / "small.png"], models=["tiled", "single"],
                    method="mean", batch_size=batch, provenance=False)
        recs = _by_name(res)
        assert recs["half.png"]["models"]["tiled"]["probability"] == pytest.approx((0.5 + sig(3.0)) / 2, abs=1e-5)
        assert recs["half.png"]["models"]["single"]["probability"] == pytest.approx(sig(1.5), abs=1e-5)
        assert recs["small.png"]["models"]["tiled"]["probability"] == pytest.approx(sig(3.0), abs=1e-5)


def test_default_ensemble_used(default_models_dir, images):
    plan = resolve_plan(Registry([default_models_dir]))
    assert [c.name for c in plan.cards] == ["bright"] and plan.method == "weighted"
    assert plan.ensemble_card.name == "default" and plan.weights["bright"] == 0.8
    plan2 = resolve_plan(Registry([default_models_dir]), method="mean")
    assert plan2.method == "mean"


def test_all_models_when_no_default(models_dir):
    plan = resolve_plan(Registry([models_dir]))
    assert [c.name for c in plan.cards] == ["bright", "dark", "redprob"]
    assert plan.method == "weighted"
    assert plan.weights == {"bright": 0.9, "dark": 0.6, "redprob": 0.7}  # card F1


def test_single_model_defaults_to_none(models_dir):
    plan = resolve_plan(Registry([models_dir]), ["dark"])
    assert plan.method == "none"


def test_unknown_model_and_no_models(models_dir, tmp_path):
    with pytest.raises(ScanSetupError, match="no model or ensemble named"):
        resolve_plan(Registry([models_dir]), ["nope"])
    with pytest.raises(ScanSetupError, match="no models installed"):
        resolve_plan(Registry([tmp_path]))


def test_threshold_override_applies_to_every_member(models_dir, images):
    res = _scan(models_dir, [images["red"]], models=["redprob"], threshold=0.999999999, provenance=False)
    r = res.records[0]
    assert r["models"]["redprob"]["threshold"] == 0.999999999
    assert r["verdict"] == "real"


def _calibrated_mean_ensemble(tmp_path, make_model, method="mean"):
    """Two toy members and a calibrated ``method`` ensemble card over them (scores spread over [0, 1])."""
    from synthdetect.cards import EnsembleCard

    make_model(tmp_path, "bright", 32, [1, 1, 1], 0.0)
    make_model(tmp_path, "dark", 16, [-1, -1, -1], 0.0)
    grid = [i / 20 for i in range(21)]
    cal = {"real_scores": [g * 0.7 for g in grid], "fake_scores": [0.3 + g * 0.7 for g in grid], "data": "toy"}
    EnsembleCard(name="ens", members=["bright", "dark"], method=method, calibration=cal).save(
        tmp_path / "ens.ensemble.json")


def test_threshold_override_applies_to_a_calibrated_score_ensemble(tmp_path, images, make_model):
    """``--threshold X`` makes the final verdict at X (two verdicts) with the ensemble's rates measured at X,
    not the ensemble card's calibrated thresholds; a vote ensemble keeps its vote threshold, without rates."""
    from synthdetect.output.text import header

    _calibrated_mean_ensemble(tmp_path, make_model)
    auto = _scan(tmp_path, [images["white"]], models=["ens"], provenance=False).records[0]
    score = auto["ensemble"]["score"]
    for t, verdict in ((min(1.0, score + 0.01), "real"), (max(0.0, score - 0.01), "synthetic")):
        res = _scan(tmp_path, [images["white"]], models=["ens"], threshold=t, provenance=False)
        r = res.records[0]
        assert r["ensemble"]["score"] == pytest.approx(score)
        assert r["verdict"] == verdict and r["ensemble"]["threshold"] == pytest.approx(t)
        assert r["error_rate"] is not None  # the calibration's rates at X
        h = header(res.plan, [])
        assert h["ensemble"]["threshold"] == pytest.approx(t) and h["ensemble"]["error_rates"]
    _calibrated_mean_ensemble(tmp_path, make_model, method="majority")
    r = _scan(tmp_path, [images["white"]], models=["ens"], threshold=0.5, provenance=False).records[0]
    assert r["ensemble"]["threshold"] == 0.5 and r["error_rate"] is None


def test_calibrated_threshold_used(tmp_path, images, make_model):
    make_model(tmp_path, "cal", 16, [1, 1, 1], 0.0, calibrated_threshold=0.9999999)
    res = _scan(tmp_path, [images["white"]], provenance=False)
    assert res.records[0]["models"]["cal"]["threshold"] == 0.9999999
    assert res.records[0]["verdict"] == "real"


def test_provenance_override(models_dir, images, monkeypatch):
    import synthdetect.scan.pipeline as scan_mod

    def fake_analyze(path):
        hint = "synthetic" if path.name == "black.jpg" else None
        return {"ai_evidence": ["C2PA: trainedAlgorithmicMedia"] if hint else [], "verdict_hint": hint, "notes": []}

    monkeypatch.setattr(scan_mod, "_provenance_fn", lambda: fake_analyze)
    res = _scan(models_dir, [images["black"], images["white"]], models=["bright"])
    black, white = res.records
    assert black["ensemble"]["verdict"] == "real"  # detectors' own verdict kept
    assert black["verdict"] == "synthetic" and black["verdict_source"] == "provenance"
    assert black["evidence"] == ["C2PA: trainedAlgorithmicMedia"]
    assert white["verdict_source"] == "detectors" and "provenance" in white
    assert res.summary.provenance_overrides == 1


def test_provenance_errors_do_not_stop_scan(models_dir, images, monkeypatch):
    import synthdetect.scan.pipeline as scan_mod

    def boom(path):
        raise RuntimeError("broken metadata")

    monkeypatch.setattr(scan_mod, "_provenance_fn", lambda: boom)
    res = _scan(models_dir, [images["white"]], models=["bright"])
    assert res.records[0]["provenance"] == {"error": "RuntimeError: broken metadata"}
    assert res.records[0]["verdict"] == "synthetic"


def test_no_provenance_flag(models_dir, images, monkeypatch):
    import synthdetect.scan.pipeline as scan_mod

    monkeypatch.setattr(scan_mod, "_provenance_fn", lambda: (lambda p: {"verdict_hint": "synthetic"}))
    res = _scan(models_dir, [images["black"]], models=["bright"], provenance=False)
    assert "provenance" not in res.records[0] and res.records[0]["verdict"] == "real"


def test_scanner_validates(models_dir):
    plan = resolve_plan(Registry([models_dir]), ["bright"])
    with pytest.raises(ScanSetupError, match="--batch-size must be >= 1"):
        Scanner(plan, ScanOptions(device="cpu", batch_size=0))


def test_preprocess_once_per_distinct_spec(tmp_path, images, monkeypatch, make_model):
    make_model(tmp_path, "a", 16, [1, 1, 1], 0.0)
    make_model(tmp_path, "b", 16, [-1, -1, -1], 0.0)
    make_model(tmp_path, "c", 24, [1, 0, 0], 0.0)
    import synthdetect.inputs.preprocess as pre

    calls = []
    orig = pre.to_input
    monkeypatch.setattr(pre, "to_input", lambda img, spec: calls.append(spec.size) or orig(img, spec))
    res = _scan(tmp_path, [images["white"]], provenance=False)
    assert sorted(calls) == [16, 24]
    assert set(res.records[0]["models"]) == {"a", "b", "c"}


@pytest.mark.shared_data
def test_val_inthewild_end_to_end(models_dir, shared_data):
    d = shared_data / "val-inthewild"
    if not d.is_dir():
        pytest.skip(f"{d} absent")
    files = sorted((d / "0_real").iterdir())[:6] + sorted((d / "1_fake").iterdir())[:6]
    res = _scan(models_dir, files, models=["trio"], batch_size=4, provenance=False)
    assert res.summary.errors == 0 and res.summary.scanned == len(files)
    assert all(r["width"] > 100 for r in res.records)


def test_undecodable_png_declaring_ai_generation_gets_a_provenance_verdict(tmp_path, models_dir):
    """A zTXt 'parameters' chunk beyond Pillow's MAX_TEXT_CHUNK declaring Automatic1111: the pixels are
    decoded without the text chunks (issue 18 item 9) and the verdict is synthetic from provenance."""
    import io
    import struct
    import zlib

    from PIL import Image

    from synthdetect.cards import Registry
    from synthdetect.scan.pipeline import resolve_plan, run_scan

    buf = io.BytesIO()
    Image.new("RGB", (32, 32), (120, 30, 200)).save(buf, "PNG")
    data = buf.getvalue()

    def chunk(t: bytes, d: bytes) -> bytes:
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)

    text = b"a photo of a cat, Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1 " * 40000
    i = data.index(b"IDAT") - 4
    p = tmp_path / "a1111.png"
    p.write_bytes(data[:i] + chunk(b"zTXt", b"parameters\x00\x00" + zlib.compress(text)) + data[i:])
    plan = resolve_plan(Registry([models_dir]), ["bright"])
    res = run_scan([str(p)], plan, ScanOptions(provenance=True))
    (rec,) = res.records
    assert rec["error"] is None and (rec["width"], rec["height"]) == (32, 32)
    assert rec["verdict"] == "synthetic" and rec["verdict_source"] == "provenance"
    assert any("parameters" in e for e in rec["evidence"])
    assert res.summary.errors == 0 and res.summary.verdicts["synthetic"] == 1
    # pixels that really cannot be decoded (IDAT cut short): the decode error is kept beside the verdict
    j = data.index(b"IEND") - 4
    small = chunk(b"zTXt", b"parameters\x00\x00" + zlib.compress(text[:2000]))
    cut = tmp_path / "a1111-cut.png"
    cut.write_bytes(data[:i] + small + data[i:i + 20] + data[j:])
    (rec,) = run_scan([str(cut)], plan, ScanOptions(provenance=True)).records
    assert rec["error"] and rec["verdict"] == "synthetic" and rec["verdict_source"] == "provenance"


def test_scan_keeps_the_budgets_a_probe_was_calibrated_for(tmp_path, images, make_model):
    """A probe fitted with --max-false-alarm 0.01 is scanned at 1 % unless the scan names its own budget
    (a scan at 5 % by default would be looser than the analyst asked for)."""
    grid = [i / 100 for i in range(101)]
    cal = {"real_scores": [g * 0.8 for g in grid], "fake_scores": [0.2 + g * 0.8 for g in grid],
           "default_budgets": {"max_false_alarm": 0.01, "max_miss": 0.1}}
    make_model(tmp_path, "strict", 16, [1, 1, 1], 0.0, calibration=cal)
    reg = Registry([tmp_path])
    card = reg.model("strict")
    own = resolve_plan(reg, ["strict"]).member_operating(card)
    assert (own.max_false_alarm, own.max_miss) == (0.01, 0.1) and own.false_alarm.k <= 1
    given = resolve_plan(reg, ["strict"], max_false_alarm=0.05, max_miss=0.2).member_operating(card)
    assert (given.max_false_alarm, given.max_miss) == (0.05, 0.2) and given.t_hi < own.t_hi
    make_model(tmp_path, "plain", 16, [1, 1, 1], 0.0, calibration={k: cal[k] for k in ("real_scores", "fake_scores")})
    plain = resolve_plan(reg, ["plain"]).member_operating(reg.model("plain"))
    assert (plain.max_false_alarm, plain.max_miss) == (0.05, 0.2)  # no budgets in the card: the defaults


def test_ensemble_refuses_a_member_that_is_not_the_one_it_was_built_over(tmp_path, images, make_model):
    """A model of a member's name found first on the search path (or replaced since) is not the model the
    ensemble's weights and rates belong to: refused in one line, not scanned with them."""
    from synthdetect.cards import EnsembleCard

    built = tmp_path / "built"
    built.mkdir()
    card = make_model(built, "member", 16, [1, 1, 1], 0.0)
    EnsembleCard(name="pinned", members=["member"], method="mean",
                 member_sha256={"member": card.sha256}).save(built / "pinned.ensemble.json")
    assert resolve_plan(Registry([built]), ["pinned"]).cards[0].sha256 == card.sha256
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    make_model(shadow, "member", 16, [-1, -1, -1], 0.5)  # another network under the same name, earlier on the path
    with pytest.raises(ScanSetupError, match="ensemble pinned was built over member .* is another model"):
        resolve_plan(Registry([shadow, built]), ["pinned"])


def test_bundled_ensembles_name_their_members_files():
    from pathlib import Path

    from synthdetect.cards import EnsembleCard

    weights = Path(__file__).resolve().parents[2] / "weights"
    reg = Registry([weights])
    for e in (EnsembleCard.load(p) for p in weights.glob("*.ensemble.json")):
        assert e.member_sha256 == {m: reg.model(m).sha256 for m in e.members}
