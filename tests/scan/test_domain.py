"""The calibration-domain reference and the batch domain check, on small synthetic feature matrices.

The world of these tests: 48-dimensional "backbone features"; the calibration source has two
classes (real around +a, synthetic around -a along the first dimensions), a foreign source is
the same two classes moved along other dimensions.  Figures on real images are in docs/domain.md.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from synthdetect.scan import domain_check as dc
from synthdetect.cards import CardError, ModelCard
from synthdetect.scan.domain import DomainReference, attach, decode_vector, encode_vector, load_for_card, sidecar_path
from synthdetect.scan.twosample import auc, c2st, knn_percentiles, loo_knn_scores

D = 48
BB = "ab" * 32


def source(n: int, rng, label: int | None = None, shift: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` images of the calibration source (``shift`` 0) or of a foreign one; half of each
    class unless ``label`` is given."""
    y = rng.integers(0, 2, n) if label is None else np.full(n, label)
    X = rng.standard_normal((n, D))
    X[:, :6] += np.where(y[:, None] == 1, -2.0, 2.0)
    X[:, 10:20] += shift
    return X, y


def probs_for(y: np.ndarray, rng) -> np.ndarray:
    """A detector that is right most of the time."""
    return np.clip(np.where(y == 1, 0.8, 0.2) + rng.normal(0, 0.1, y.size), 0.01, 0.99)


@pytest.fixture(scope="module")
def ref() -> DomainReference:
    rng = np.random.default_rng(0)
    X, y = source(160, rng)
    return DomainReference.build(X, backbone_sha256=BB, labels=y, scores=probs_for(y, rng))


# -- statistics ------------------------------------------------------------------------------
def test_auc_matches_the_definition():
    s = np.array([0.1, 0.4, 0.35, 0.8, 0.4])
    t = np.array([0, 0, 1, 1, 1])
    pairs = [(a > b) + 0.5 * (a == b) for a, ta in zip(s, t) if ta == 1 for b, tb in zip(s, t) if tb == 0]
    assert auc(s, t) == pytest.approx(np.mean(pairs))


def test_c2st_same_source_is_not_significant_and_a_shift_is():
    rng = np.random.default_rng(1)
    R, _ = source(150, rng)
    same = c2st(source(30, rng)[0], R, seed=0)
    moved = c2st(source(30, rng, shift=1.0)[0], R, seed=0)
    assert same.statistic < 0.7 and same.p_value > 0.05
    assert moved.statistic > 0.9 and moved.p_value <= 0.01 and moved.permutations == 100


def test_c2st_permutations_stop_early_when_p_is_large():
    rng = np.random.default_rng(2)
    R, _ = source(150, rng)
    r = c2st(source(20, rng)[0], R, seed=0)
    assert r.p_value > 0.1 and r.permutations < 100


def test_typicality_percentiles():
    rng = np.random.default_rng(3)
    R, _ = source(200, rng)
    loo = loo_knn_scores(R, 3)
    typ = knn_percentiles(source(200, rng)[0], R, loo, 3)
    assert 0.35 < typ.mean() < 0.65  # a new image of the source is as typical as a calibration image
    far = knn_percentiles(source(20, rng, shift=3.0)[0], R, loo, 3)
    assert np.all(far >= 0.95)


# -- the reference and its file --------------------------------------------------------------
def test_reference_round_trip_and_card(tmp_path, ref):
    card = ModelCard(name="p", file="p.head.json", sha256="0" * 64, architecture="probe",
                     backbone={"name": "bb", "sha256": BB, "dim": D})
    card_path = tmp_path / "p.json"
    side = attach(card, ref, card_path=card_path)
    assert side == sidecar_path(card_path) == tmp_path / "p.domain.npz"
    doc = json.loads(card_path.read_text())
    assert doc["domain"]["file"] == "p.domain.npz" and doc["domain"]["n"] == 160
    assert doc["domain"]["n_real"] + doc["domain"]["n_synthetic"] == 160
    got = load_for_card(ModelCard.load(card_path))
    assert np.array_equal(got.rows, ref.rows) and np.array_equal(got.loo, ref.loo)
    assert side.stat().st_size < 160 * D * 2 + 20_000  # float16 rows, compressed


def test_altered_or_missing_reference_is_refused(tmp_path, ref):
    card = ModelCard(name="p", file="p.head.json", sha256="0" * 64, architecture="probe",
                     backbone={"name": "bb", "sha256": BB, "dim": D})
    side = attach(card, ref, card_path=tmp_path / "p.json")
    data = bytearray(side.read_bytes())
    data[-40] ^= 0xFF
    side.write_bytes(bytes(data))
    with pytest.raises(CardError, match="sha256 mismatch"):
        load_for_card(ModelCard.load(tmp_path / "p.json"))
    side.unlink()
    with pytest.raises(CardError, match="missing"):
        load_for_card(ModelCard.load(tmp_path / "p.json"))
    other = ModelCard(name="q", file="q.head.json", sha256="0" * 64, architecture="probe",
                      backbone={"name": "bb", "sha256": "cd" * 32, "dim": D})
    attach(other, ref, card_path=tmp_path / "q.json")
    with pytest.raises(CardError, match="another backbone"):
        load_for_card(ModelCard.load(tmp_path / "q.json"))


def test_cards_without_a_reference_have_none():
    card = ModelCard(name="npr", file="npr.onnx", sha256="0" * 64, architecture="cnn")
    assert load_for_card(card) is None


def test_conditions_are_kept_and_standardisation_uses_originals():
    rng = np.random.default_rng(4)
    X, y = source(40, rng)
    copies = X + 5.0
    r = DomainReference.build(np.vstack([X, copies]), backbone_sha256=BB, labels=np.r_[y, y],
                              conditions=[""] * 40 + ["short720-q90"] * 40)
    assert r.summary()["conditions"] == {"original": 40, "short720-q90": 40}
    assert r.loo.shape == (40,)
    assert np.allclose(r.rows[:40].astype(float).mean(0), 0, atol=1e-2)


def test_vector_encoding_round_trip():
    v = np.linspace(-3, 3, D)
    back = decode_vector(encode_vector(v), D)
    assert np.allclose(back, v, atol=1e-2)
    assert decode_vector(encode_vector(v), D + 1) is None and decode_vector("not base64!", D) is None


# -- the batch check ---------------------------------------------------------------------------
def records(X: np.ndarray, y: np.ndarray, directory: str, rng, verdict: str | None = None) -> list[dict]:
    p = probs_for(y, rng)
    out = []
    for i, (x, pi) in enumerate(zip(X, p)):
        v = verdict or ("synthetic" if pi >= 0.5 else "real")
        out.append({"path": f"{directory}/img{i}.jpg", "error": None, "verdict": v, "verdict_source": "detectors",
                    "error_rate": 0.04, "models": {"p": {"probability": float(pi), "verdict": v, "error_rate": 0.04}},
                    "reasons": [], dc.FEATURES_KEY: {BB: encode_vector(x)}})
    return out


def test_in_source_batch_is_in_domain_and_untouched(ref):
    rng = np.random.default_rng(5)
    recs = records(*source(30, rng), "case", rng)
    before = json.loads(json.dumps(recs))
    rep = dc.check(recs, {"p": ref}, "enforce")
    (g,) = rep.groups
    assert g.decision == "in_domain" and g.n == 30
    t = g.tests[0]
    assert t["statistic"] < dc.MIN_EFFECT and set(t) >= {"statistic", "p_value", "n", "n_reference", "decision"}
    assert [r["verdict"] for r in recs] == [r["verdict"] for r in before]
    assert all(r["domain"]["decision"] == "in_domain" for r in recs)


@pytest.mark.parametrize("label", [0, 1])
def test_one_class_folder_of_the_source_is_in_domain(ref, label):
    """Only real photos (or only fakes) of the calibration source: compared with the reference
    rows of the class the detector assigns, not with the mixed calibration set."""
    rng = np.random.default_rng(6 + label)
    recs = records(*source(40, rng, label=label), "case", rng)
    (g,) = dc.check(recs, {"p": ref}, "enforce").groups
    assert g.decision == "in_domain", g.tests


def test_one_class_folder_would_read_as_shifted_without_conditioning(ref):
    """The pitfall the conditioning and the effect-size floor avoid: against all calibration
    images, a one-class folder is told apart by its class mix alone ("significant"); against the
    rows of its class it is not.  (Its AUC cannot exceed about 0.75 against a balanced reference:
    half of the reference is exactly like it.)"""
    rng = np.random.default_rng(8)
    X, y = source(40, rng, label=0)
    plain = c2st(ref.standardise(X), ref.originals(), seed=0)
    assert plain.p_value <= dc.ALPHA and plain.statistic > 0.65
    cond = dc.test_group(ref, X, probs_for(y, rng))
    assert cond["statistic"] < plain.statistic - 0.1 and cond["decision"] == "in_domain"


def test_foreign_batch_is_out_of_domain_and_enforce_withholds_verdicts(ref):
    rng = np.random.default_rng(9)
    recs = records(*source(20, rng, shift=1.2), "foreign", rng)
    recs[0]["verdict"], recs[0]["verdict_source"] = "synthetic", "provenance"
    rep = dc.check(recs, {"p": ref}, "enforce")
    (g,) = rep.groups
    assert g.decision == "out_of_domain"
    t = g.tests[0]
    assert t["statistic"] >= dc.MIN_EFFECT and t["p_value"] <= dc.ALPHA
    assert recs[0]["verdict"] == "synthetic" and "detector_verdict" not in recs[0]  # provenance stands
    for r in recs[1:]:
        assert r["verdict"] == "inconclusive" and r["detector_verdict"] in ("real", "synthetic")
        assert r["error_rate"] is None and "error_rate" not in r["models"]["p"]
        assert r["reasons"][0].startswith(dc.REASON)
        assert r["models"]["p"]["probability"] > 0  # the scores stay
    assert rep.to_dict()["out_of_domain"] == 20


def test_warn_reports_but_keeps_verdicts_and_off_does_nothing(ref):
    rng = np.random.default_rng(10)
    recs = records(*source(20, rng, shift=1.2), "foreign", rng)
    verdicts = [r["verdict"] for r in recs]
    rep = dc.check(recs, {"p": ref}, "warn")
    assert rep.groups[0].decision == "out_of_domain"
    assert [r["verdict"] for r in recs] == verdicts and all(r["error_rate"] == 0.04 for r in recs)
    assert all(r["domain"]["decision"] == "out_of_domain" for r in recs)
    assert dc.check(recs, {"p": ref}, "off") is None
    assert dc.check(recs, {}, "enforce") is None


def test_small_batch_is_untested_and_keeps_verdicts(ref):
    rng = np.random.default_rng(11)
    recs = records(*source(dc.MIN_N - 1, rng, shift=3.0), "few", rng)
    (g,) = dc.check(recs, {"p": ref}, "enforce").groups
    assert g.decision == "untested" and g.tests[0]["statistic"] is None
    assert all(r["verdict"] in ("real", "synthetic") for r in recs)


def test_strict_withholds_what_no_test_backs_and_keeps_the_in_domain_verdicts(ref):
    """``strict``: a group too small to test (and an image without features) loses its
    definite detector verdicts; a tested in-domain group keeps them; provenance stands."""
    rng = np.random.default_rng(31)
    home = records(*source(15, rng), "case/phone", rng)
    few = records(*source(dc.MIN_N - 1, rng), "case/few", rng)  # in-source, but too few to tell
    few[0]["verdict_source"] = "provenance"
    few[1]["verdict"] = "inconclusive"  # already inconclusive: gets the reason, is not counted
    bare = {"path": "case/bare/x.jpg", "error": None, "verdict": "real", "verdict_source": "detectors",
            "error_rate": 0.04, "models": {"p": {"probability": 0.1, "verdict": "real"}}, "reasons": []}
    broken = {"path": "case/bad.jpg", "error": "cannot decode", "verdict": None}
    recs = home + few + [bare, broken]
    rep = dc.check(recs, {"p": ref}, "strict")
    assert {g.group: g.decision for g in rep.groups} == {"case/phone": "in_domain", "case/few": "untested"}
    assert all(r["verdict"] in ("real", "synthetic") and not r["reasons"] for r in home)
    assert few[0]["verdict"] in ("real", "synthetic") and "detector_verdict" not in few[0]
    assert few[1]["reasons"][-1].startswith(dc.REASON_UNTESTED) and "detector_verdict" not in few[1]
    for r in few[2:] + [bare]:
        assert r["verdict"] == "inconclusive" and r["detector_verdict"] in ("real", "synthetic")
        assert r["error_rate"] is None and r["reasons"][0].startswith(dc.REASON_UNTESTED)
        assert dc.withheld_by_domain(r)
    assert "case/few holds 9 images with features" in few[2]["reasons"][0]
    assert "carried none of the features" in bare["reasons"][0] and broken["verdict"] is None
    d = rep.to_dict()
    assert d["withheld_untested"] == len(few) - 2 + 1
    from synthdetect.output.text import domain_lines

    assert any(f"{len(few) - 1} definite verdicts withheld (--domain-check strict)" in ln for ln in domain_lines(d))
    # enforce keeps what it cannot test, and says nothing of it
    recs = records(*source(dc.MIN_N - 1, rng), "case/few", rng)
    d = dc.check(recs, {"p": ref}, "enforce").to_dict()
    assert "withheld_untested" not in d and not any(dc.withheld_by_domain(r) for r in recs)


def test_strict_withholds_an_out_of_domain_group_like_enforce(ref):
    rng = np.random.default_rng(32)
    recs = records(*source(20, rng, shift=1.2), "foreign", rng)
    rep = dc.check(recs, {"p": ref}, "strict")
    assert rep.groups[0].decision == "out_of_domain" and rep.to_dict()["withheld_untested"] == 0
    assert all(r["verdict"] == "inconclusive" and r["reasons"][0].startswith(dc.REASON) for r in recs)


def _with_typicality(recs: list[dict], X: np.ndarray, ref) -> list[dict]:
    for r, t in zip(recs, ref.typicality(X)):  # as the scan pipeline records it
        r["domain"] = {"typicality": {"p": round(float(t), 4)}}
    return recs


def test_an_image_beyond_every_calibration_image_is_withheld_even_in_a_small_batch(ref):
    """The batch test cannot judge fewer than MIN_N images; an image farther from the
    calibration images than every one of them is outside what they measured, whatever the batch."""
    rng = np.random.default_rng(21)
    X_in, y_in = source(4, rng)
    X_far, y_far = source(3, rng, shift=6.0)
    X, y = np.vstack([X_in, X_far]), np.r_[y_in, y_far]
    recs = _with_typicality(records(X, y, "few", rng), X, ref)
    recs[-1]["verdict_source"] = "provenance"
    rep = dc.check(recs, {"p": ref}, "enforce")
    assert rep.groups[0].decision == "untested"
    assert [r["domain"]["typicality"]["p"] for r in recs[4:]] == [1.0, 1.0, 1.0]
    assert all(r["domain"]["typicality"]["p"] < 1.0 and "image" not in r["domain"] for r in recs[:4])
    assert all(r["verdict"] in ("real", "synthetic") for r in recs[:4])  # in-source images keep theirs
    for r in recs[4:6]:
        assert r["domain"]["image"] == dc.BEYOND and r["verdict"] == "inconclusive"
        assert r["detector_verdict"] in ("real", "synthetic") and r["error_rate"] is None
        assert r["reasons"][0].startswith(dc.REASON) and "typicality 1.0" in r["reasons"][0]
    assert recs[6]["verdict"] in ("real", "synthetic") and "detector_verdict" not in recs[6]  # provenance stands
    assert rep.to_dict()["beyond_calibration_images"] == 3
    from synthdetect.output.text import domain_lines

    assert any("3 images lie farther from the calibration images" in ln for ln in domain_lines(rep.to_dict()))


def test_warn_keeps_the_verdict_of_an_image_beyond_the_calibration_images(ref):
    rng = np.random.default_rng(22)
    X, y = source(2, rng, shift=6.0)
    recs = _with_typicality(records(X, y, "few", rng), X, ref)
    verdicts = [r["verdict"] for r in recs]
    dc.check(recs, {"p": ref}, "warn")
    assert [r["verdict"] for r in recs] == verdicts and all(r["domain"]["image"] == dc.BEYOND for r in recs)


def test_in_source_images_are_rarely_beyond_the_calibration_images(ref):
    """By exchangeability an image of the calibration source lies beyond all n calibration
    images about once in n + 1 (docs/domain.md: 0.7 % on val-inthewild at n = 136); on these
    synthetic features, whose standardisation is fitted on 160 rows of 48 dimensions, a few
    times that, still a small cost in coverage; a foreign source is beyond them nearly always."""
    rng = np.random.default_rng(23)
    assert float(np.mean(ref.typicality(source(2000, rng)[0]) >= 1.0)) < 0.05
    assert float(np.mean(ref.typicality(source(200, rng, shift=6.0)[0]) >= 1.0)) > 0.95


def test_mixed_folder_is_tested_per_directory(ref):
    rng = np.random.default_rng(12)
    home = records(*source(20, rng), "case/phone", rng)
    away = records(*source(20, rng, shift=1.2), "case/downloads", rng)
    recs = home + away
    rep = dc.check(recs, {"p": ref}, "enforce")
    by = {g.group: g.decision for g in rep.groups}
    assert by == {"case/phone": "in_domain", "case/downloads": "out_of_domain"}
    assert all(r["verdict"] != "inconclusive" for r in home)
    assert all(r["verdict"] == "inconclusive" for r in away)


def test_small_directories_are_pooled(ref):
    rng = np.random.default_rng(13)
    recs = []
    for d in range(4):
        recs += records(*source(4, rng, shift=1.2), f"case/d{d}", rng)
    recs += records(*source(12, rng), "case/big", rng)
    groups = dc.groups_of(recs)
    assert [(g[0], len(g[1]), g[2]) for g in groups] == [("case/big", 12, 1), ("4 smaller directories, pooled", 16, 4)]
    rep = dc.check(recs, {"p": ref}, "enforce")
    assert [g.decision for g in rep.groups] == ["in_domain", "out_of_domain"]


def test_records_without_features_or_with_errors_are_left_alone(ref):
    rng = np.random.default_rng(14)
    recs = records(*source(12, rng), "case", rng)
    recs.append({"path": "case/broken.jpg", "error": "cannot decode", "verdict": None})
    recs.append({"path": "case/other.jpg", "error": None, "verdict": "real", "verdict_source": "detectors"})
    rep = dc.check(recs, {"p": ref}, "enforce")
    assert rep.groups[0].n == 12
    assert "domain" not in recs[-1] and "domain" not in recs[-2]
    assert dc.strip(recs[0]) is recs[0] and dc.FEATURES_KEY not in recs[0]


def test_ensemble_members_with_one_reference_test_once(ref):
    rng = np.random.default_rng(15)
    recs = records(*source(15, rng), "case", rng)
    rep = dc.check(recs, {"p": ref, "p2": ref}, "enforce")
    assert len(rep.groups[0].tests) == 1 and rep.references == ["p", "p2"]


def test_a_group_out_of_domain_for_one_card_names_the_cards_it_fits(ref):
    """The bundle scanned beside a probe adapted to the case's source: the bundle's reference
    rejects the folder, the adapted probe's accepts it.  The combined verdict stays withheld (its
    gates and rates belong to the whole scan), and the reason, the footer and the report name the
    card whose calibration the folder fits and how to scan with it alone."""
    from synthdetect.output.html import _domain_html
    from synthdetect.output.text import domain_lines

    rng = np.random.default_rng(16)
    X, y = source(160, rng, shift=1.2)
    adapted = DomainReference.build(X, backbone_sha256=BB, labels=y, scores=probs_for(y, rng))
    recs = records(*source(20, rng, shift=1.2), "case", rng)
    for r in recs:
        r["models"]["case42"] = dict(r["models"]["p"])
    rep = dc.check(recs, {"p": ref, "p-twin": ref, "case42": adapted}, "enforce")
    (g,) = rep.groups
    assert g.decision == "out_of_domain" and g.rejected_by() == ["p"] and g.in_domain_for == ["case42"]
    assert [t["decision"] for t in g.tests] == ["out_of_domain", "in_domain"]
    assert rep.to_dict()["groups"][0]["in_domain_for"] == ["case42"]
    for r in recs:
        assert r["verdict"] == "inconclusive" and r["error_rate"] is None
        assert "not like p's calibration images" in r["reasons"][0] and "`--models case42`" in r["reasons"][0]
    dom = rep.to_dict()
    lines = domain_lines(dom)
    assert any(line.startswith("  case: out_of_domain (n = 20; p: ROC-AUC") and "(out_of_domain); case42: ROC-AUC" in line
               for line in lines), lines
    assert "  case is like the calibration images of case42: scan with `--models case42` for verdicts whose error rates apply" in lines
    assert not any("train probe" in line for line in lines)  # nothing to fit: a probe of this source is at hand
    html = _domain_html(dom)
    assert "scan with `--models case42`" in html and "train probe" not in html
    # a folder no card of the scan fits still gets the way out
    foreign = records(*source(20, rng, shift=-1.5), "elsewhere", rng)
    rep = dc.check(foreign, {"p": ref, "case42": adapted}, "enforce")
    assert rep.groups[0].decision == "out_of_domain" and rep.groups[0].in_domain_for == []
    assert "the detectors were calibrated on" in foreign[0]["reasons"][0]
    assert any("train probe" in line for line in domain_lines(rep.to_dict()))


# -- train probe writes it, scan uses it -------------------------------------------------------
def test_train_probe_writes_its_reference_and_scan_tests_against_it(tmp_path):
    """``train probe`` on a tiny backbone: the card names its sidecar; a new sample of the same
    source (one directory per class) is in domain, images of another making are not."""
    from PIL import Image

    from synthdetect.cards import Registry
    from synthdetect.scan.options import ScanOptions
    from synthdetect.scan.pipeline import resolve_plan, run_scan
    from tests.probes.test_train import _train, build_backbone, make_images

    bbdir = tmp_path / "bb"
    bbdir.mkdir()
    build_backbone(bbdir)
    out = tmp_path / "models"
    r = _train(bbdir, make_images(tmp_path / "sample", n=30), out, tmp_path / "cache")
    assert r.exit_code == 0, r.output
    card = json.loads((out / "case42.json").read_text())
    assert card["domain"]["file"] == "case42.domain.npz" and card["domain"]["n"] == 60
    ref = load_for_card(ModelCard.load(out / "case42.json"))
    assert np.all(np.isfinite(ref.scores)) and set(ref.labels.tolist()) == {0, 1}

    new = make_images(tmp_path / "new", n=12, seed=5)
    other = tmp_path / "other"
    other.mkdir()
    rng = np.random.default_rng(1)
    for i in range(12):  # another camera: dark, flat, with a colour cast (twelve pictures, not copies of one)
        arr = np.clip(rng.normal(0, 4 + i, (40, 48, 3)) + [30 + 3 * i, 90 - 2 * i, 20 + i], 0, 255).astype(np.uint8)
        Image.fromarray(arr).save(other / f"o{i}.png")
    plan = resolve_plan(Registry([out, bbdir]), ["case42"])
    assert set(plan.domains) == {"case42"}
    res = run_scan([str(new), str(other)], plan, ScanOptions(provenance=False))
    by = {Path(g["group"]).name: g["decision"] for g in res.summary.domain["groups"]}
    assert by == {"0_real": "in_domain", "1_fake": "in_domain", "other": "out_of_domain"}, res.summary.domain
    assert all(dc.FEATURES_KEY not in r for r in res.records)
    assert all(r["verdict"] == "inconclusive" for r in res.records if "/other/" in r["path"])
    off = run_scan([str(new), str(other)], plan, ScanOptions(provenance=False, domain_check="off"))
    assert off.summary.domain is None


def test_weights_verify_checks_the_sidecar(tmp_path, ref):
    from synthdetect.hub.verify import verify_all

    import json

    from synthdetect.cards import sha256_file
    from synthdetect.scan.heads import LinearHead

    head = LinearHead(np.zeros(D), np.ones(D), np.ones(D) / D, 0.0, C=1.0)  # a head that loads
    (tmp_path / "p.head.json").write_text(json.dumps(head.to_dict()))

    card = ModelCard(name="p", file="p.head.json", sha256=sha256_file(tmp_path / "p.head.json"), architecture="probe",
                     backbone={"name": "bb", "sha256": BB, "dim": D})
    side = attach(card, ref, card_path=tmp_path / "p.json")
    rows = {r.kind: r.status for r in verify_all(tmp_path, cache=tmp_path / "hub", registry={})}
    assert rows == {"model": "OK", "domain": "OK"}
    side.write_bytes(side.read_bytes()[:-10])
    rows = {r.kind: r.status for r in verify_all(tmp_path, cache=tmp_path / "hub", registry={})}
    assert rows["domain"] == "MISMATCH"


def test_models_without_a_reference_say_not_available(models_dir, images):
    """npr-like networks carry no calibration images: the check says so and changes nothing."""
    from synthdetect.cards import Registry
    from synthdetect.output.text import summary_lines
    from synthdetect.scan.options import ScanOptions
    from synthdetect.scan.pipeline import resolve_plan, run_scan

    plan = resolve_plan(Registry([models_dir]), ["bright"])
    assert plan.domains == {}
    res = run_scan([str(images["white"]), str(images["black"])], plan, ScanOptions(provenance=False))
    assert res.summary.domain["available"] is False and "not available" in res.summary.domain["note"]
    assert any(ln.startswith("domain check: not available") for ln in summary_lines(res.summary.to_dict()))
    assert all("domain" not in r for r in res.records)
    assert run_scan([str(images["white"])], plan, ScanOptions(provenance=False, domain_check="off")).summary.domain is None
    # strict: nothing can back a verdict, so none is definite; the footer says why
    strict = run_scan([str(images["white"]), str(images["black"])], plan,
                      ScanOptions(provenance=False, domain_check="strict"))
    assert strict.summary.domain["withheld_untested"] == sum(r.get("detector_verdict") is not None for r in strict.records)
    assert strict.summary.domain["withheld_untested"] == sum(r["verdict"] != "inconclusive" for r in res.records) >= 1
    assert all(r["verdict"] == "inconclusive" for r in strict.records)
    assert all(r["reasons"][-1].startswith(dc.REASON_UNTESTED) and "carries its calibration images" in r["reasons"][-1]
               for r in strict.records)
    assert any("withheld (--domain-check strict)" in ln for ln in summary_lines(strict.summary.to_dict()))


def _copies_reference(seed: int, condition: str):
    """A reference of 160 images plus a copy of each under ``condition`` (features shifted as a
    transformation shifts them), and a batch of 20 such copies with their probabilities."""
    rng = np.random.default_rng(seed)
    X, y = source(160, rng)
    cond = X.copy()
    cond[:, 20:30] += 1.2  # what the transformation does to the features
    scores = probs_for(y, rng)
    both = DomainReference.build(np.vstack([X, cond]), backbone_sha256=BB, labels=np.r_[y, y],
                                 scores=np.r_[scores, scores], conditions=[""] * 160 + [condition] * 160)
    B, yb = source(20, rng)
    B[:, 20:30] += 1.2
    return X, y, scores, both, B, probs_for(yb, rng), rng


def test_transformed_copies_in_the_reference_absorb_their_condition():
    """A reference holding downscaled/re-encoded copies of its images (the ``conditions`` rows)
    takes a folder of such images as in domain; without them it is out of domain."""
    X, y, scores, both, B, pb, rng = _copies_reference(16, "short720-q90")
    plain = DomainReference.build(X, backbone_sha256=BB, labels=y, scores=scores)
    assert dc.test_group(plain, B, pb)["decision"] == "out_of_domain"
    t = dc.test_group(both, B, pb)
    assert t["decision"] == "in_domain" and t["condition"] == "short720-q90"
    orig = dc.test_group(both, source(20, rng)[0], pb)
    assert orig["decision"] == "in_domain" and orig["condition"] == "original"


def test_the_webp_copies_are_tried_only_for_a_group_of_lossy_webp_files():
    """A group of JPEGs is judged by the JPEG conditions' rates: the reference's WebP copies are one
    more chance to pass it should not get; a group of lossy WebPs tries them."""
    *_, ref, B, pb, _ = _copies_reference(17, "720webp75")
    assert dc.test_group(ref, B, pb)["decision"] == "out_of_domain"
    t = dc.test_group(ref, B, pb, forms={"webp"})
    assert t["decision"] == "in_domain" and t["condition"] == "720webp75"
    assert dc.test_group(ref, B, pb, forms={"grey"})["decision"] == "out_of_domain"  # not WebP copies' kind
    recs = [{"quality": {"lossy_codec": "webp"}}, {"quality": {"lossy_codec": None}, "format": "WEBP"},
            {"format": "WEBP"}, {"format": "JPEG"}]
    webp = lambda idx: "webp" in dc.group_forms(recs, idx)  # noqa: E731
    assert webp([0, 1]) and webp([0, 2, 3]) and not webp([1, 3])


@pytest.mark.parametrize("codec,fmt", [("avif", "AVIF"), ("heif", "HEIF")])
def test_the_avif_or_heic_copies_are_tried_only_for_a_group_of_such_files(codec, fmt):
    *_, ref, B, pb, _ = _copies_reference(19, f"{codec}50")
    assert dc.test_group(ref, B, pb)["decision"] == "out_of_domain"
    assert dc.test_group(ref, B, pb, forms={"webp"})["decision"] == "out_of_domain"  # not the WebP copies' kind
    t = dc.test_group(ref, B, pb, forms={codec})
    assert t["decision"] == "in_domain" and t["condition"] == f"{codec}50"
    recs = [{"quality": {"lossy_codec": codec}}, {"format": fmt}, {"quality": {"lossy_codec": "webp"}},
            {"format": "JPEG"}]
    forms = lambda idx: dc.group_forms(recs, idx)  # noqa: E731
    assert codec in forms([0, 1]) and codec in forms([0, 3]) and forms([2, 3]) == {"webp"}


def test_the_greyscale_copies_are_tried_only_for_a_group_of_greyscale_images():
    """A folder of colour images is not given the greyscale copies as a further chance to pass; a
    folder of greyscale images (measured by the quality report, or a greyscale file mode) is."""
    *_, ref, B, pb, _ = _copies_reference(18, "grey80")
    assert dc.test_group(ref, B, pb)["decision"] == "out_of_domain"
    assert dc.test_group(ref, B, pb, forms={"webp"})["decision"] == "out_of_domain"
    t = dc.test_group(ref, B, pb, forms={"grey"})
    assert t["decision"] == "in_domain" and t["condition"] == "grey80"
    recs = [{"quality": {"greyscale": True}}, {"quality": {"greyscale": False}, "mode": "L"},
            {"mode": "L"}, {"mode": "RGB"}, {"mode": "I;16"}]
    grey = lambda idx: "grey" in dc.group_forms(recs, idx)  # noqa: E731
    assert grey([0, 2]) and grey([0, 1, 2]) and not grey([1, 3]) and grey([3, 4]) and not grey([])


def test_a_large_group_is_tested_on_a_bounded_sample(ref):
    """A folder of thousands of images costs no more than MAX_TESTED rows (seeded sample)."""
    import time

    from synthdetect.scan import domain_check as dc

    rng = np.random.default_rng(5)
    big, y = source(3 * dc.MAX_TESTED, rng, shift=1.2)  # a foreign source, as in the tests above
    t0 = time.perf_counter()
    out = dc.test_group(ref, big, probs_for(y, rng))
    assert out["n"] == 3 * dc.MAX_TESTED and out["n_tested"] == dc.MAX_TESTED
    assert out["decision"] == "out_of_domain" and time.perf_counter() - t0 < 60


def _copies(X: np.ndarray, y: np.ndarray, k: int, rng, jitter: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Each image ``k`` times: the first as it is, the others moved by ``jitter`` (a re-encode)."""
    reps = [X] + [X + rng.normal(0, jitter, X.shape) for _ in range(k - 1)]
    return np.concatenate(reps), np.tile(y, k)


def test_copies_of_one_picture_count_once(ref):
    """A folder that holds its pictures several times (the same file, a re-save, a re-encode) is
    tested on one row per picture: otherwise the classifier learns a copy in one fold and meets
    its twin in the other, and an in-source folder reads as foreign (measured on val-inthewild:
    ROC-AUC 0.95 for 10 photos held three times each; 0.52 counted once)."""
    rng = np.random.default_rng(40)
    X, y = source(12, rng)
    C, yc = _copies(X, y, 3, rng, jitter=0.05 * ref.copy_distance() / np.sqrt(D))
    p = probs_for(yc, rng)
    naive = c2st(ref.without_content(ref.standardise(C), dc.CONTENT_DIMS),
                 ref.without_content(ref.originals(), dc.CONTENT_DIMS), seed=0)
    assert naive.statistic >= dc.MIN_EFFECT and naive.p_value <= dc.ALPHA  # the pitfall
    t = dc.test_group(ref, C, p)
    assert t["decision"] == "in_domain" and t["n"] == 36 and t["n_tested"] == 12
    # too few distinct pictures to test, however many files
    few = _copies(*source(dc.MIN_N - 2, rng), 4, rng)[0]
    t = dc.test_group(ref, few, probs_for(np.zeros(len(few), int), rng))
    assert t["decision"] == "untested" and t["n"] == 4 * (dc.MIN_N - 2) and t["n_distinct"] == dc.MIN_N - 2
    # a foreign source held in copies is still foreign
    F, yf = source(15, rng, shift=1.2)
    t = dc.test_group(ref, *(lambda a, b: (a, probs_for(b, rng)))(*_copies(F, yf, 2, rng)))
    assert t["decision"] == "out_of_domain" and t["n_tested"] == 15


def _shots(S: np.ndarray, k: int, ref: DomainReference, rng) -> np.ndarray:
    """``k`` shots of each scene in ``S``: the first as it is, the others moved (in standardised
    units) halfway between the copy and the series distance: not copies, but one scene."""
    step = 0.5 * (ref.copy_distance() + ref.copy_distance(dc.SERIES_FRACTION))
    return np.concatenate([S] + [S + rng.normal(0, step / np.sqrt(D), S.shape) * ref.scale for _ in range(k - 1)])


def test_shots_of_one_scene_share_a_fold(ref):
    """A folder of series (three shots of each scene, as phones take them) of the calibration
    source: the rows of one scene share a fold of the test, or the classifier learns a scene in
    one fold and recognises it in another (measured on val-inthewild: three shifted, re-lit crops
    of each of 10 photos read ROC-AUC 0.93, out of domain; 0.54 with the scenes kept together)."""
    rng = np.random.default_rng(50)
    S, ys = source(12, rng)
    B, yb = _shots(S, 3, ref, rng), np.tile(ys, 3)
    pb = probs_for(yb, rng)
    naive = c2st(ref.without_content(ref.standardise(B), dc.CONTENT_DIMS),
                 ref.without_content(ref.originals(), dc.CONTENT_DIMS), seed=0)
    assert naive.statistic >= dc.MIN_EFFECT and naive.p_value <= dc.ALPHA  # the pitfall
    t = dc.test_group(ref, B, pb)
    assert t["decision"] == "in_domain" and t["n_scenes"] == 12 and "n_tested" not in t
    F = _shots(source(12, rng, shift=1.2)[0], 3, ref, rng)  # a foreign source's series stays foreign
    t = dc.test_group(ref, F, probs_for(yb, rng))
    assert t["decision"] == "out_of_domain" and t["n_scenes"] == 12
    # a folder without series is tested as before (no groups: the same folds, the same figures)
    plain = source(30, rng)
    t = dc.test_group(ref, plain[0], probs_for(plain[1], rng))
    assert "n_scenes" not in t


def test_grouped_folds_keep_a_group_together_and_stay_balanced():
    from synthdetect.scan.twosample import _folds

    rng = np.random.default_rng(0)
    t = np.r_[np.zeros(40), np.ones(30)]
    groups = np.r_[np.arange(40), 40 + np.repeat(np.arange(10), 3)]  # the batch: 10 scenes of 3
    f = _folds(t, 5, rng, groups)
    for g in range(40, 50):
        assert len(set(f[groups == g])) == 1
    assert sorted(np.bincount(f[t == 0], minlength=5)) == [8] * 5
    assert sorted(np.bincount(f[t == 1], minlength=5)) == [6] * 5


def test_distinct_images_of_the_source_are_never_taken_for_copies(ref):
    rng = np.random.default_rng(41)
    X = ref.standardise(source(300, rng)[0])
    assert dc.distinct_images(X, ref.copy_distance()).size == 300
    assert 0 < ref.copy_distance() < np.median(np.linalg.norm(X[1:] - X[:-1], axis=1)) / 2


def test_the_footer_and_the_report_say_how_many_pictures_were_tested():
    from synthdetect.output.text import domain_lines

    dom = {"mode": "enforce", "references": ["p"], "min_n": 10,
           "groups": [{"group": "dups", "n": 30, "decision": "in_domain",
                       "tests": [{"statistic": 0.52, "p_value": 0.4, "n": 30, "n_tested": 10}]},
                      {"group": "few", "n": 24, "decision": "untested",
                       "tests": [{"statistic": None, "p_value": None, "n": 24, "n_distinct": 8}]}]}
    lines = domain_lines(dom)
    assert "  dups: in_domain (n = 30, 10 tested; ROC-AUC 0.52, p = 0.4)" in lines
    assert "  few: untested (n = 24; 8 distinct pictures, fewer than 10: not tested)" in lines
    from synthdetect.output.html import _domain_html

    html = _domain_html(dom)
    assert "<td>30 (10 tested)</td>" in html and "<td>24 (8 distinct)</td>" in html


def test_usable_keeps_a_downscale_below_the_originals_quality():
    """A copy is inside the clean calibration only when both its size and its quality are."""
    from synthdetect.scan.conditions import parse_conditions, usable

    keep, skipped = usable(parse_conditions("1080q60,1080q95,q75"), 816, 89)
    assert [c.name for c in keep] == ["1080q60", "q75"] and skipped == ["1080q95"]


def test_the_plan_counts_domain_sidecars_among_the_files_it_reads():
    """``scan -o`` is checked against every file the scan reads: a probe's NAME.domain.npz too."""
    from synthdetect.cards import Registry
    from synthdetect.scan.pipeline import resolve_plan

    weights = Path(__file__).resolve().parents[2] / "weights"
    files = {p.name for p in resolve_plan(Registry([weights])).files()}
    assert "lite0-probe.domain.npz" in files and "lite0-probe.head.json" in files


def test_a_transformed_copy_of_a_calibration_image_is_found_through_the_reference_copies():
    """A downscaled / re-encoded copy of a calibration image lies far from its original's features
    but close to the reference's own transformed copy of it (measured on the bundle: 0.14–0.32 of
    the median neighbour distance against 0.34–1.0): look_up finds it there, names that row (its
    label, score and condition); another image of the source, or the same transform of another
    image, is not taken for a copy."""
    from synthdetect.scan.calibration_images import add_copy

    rng = np.random.default_rng(21)
    X, y = source(120, rng)
    cond = X.copy()
    cond[:, 20:30] += 1.5  # the transformation moves the features well beyond the copy distance
    scores = probs_for(y, rng)
    plain = DomainReference.build(X, backbone_sha256=BB, labels=y, scores=scores)
    both = DomainReference.build(np.vstack([X, cond]), backbone_sha256=BB, labels=np.r_[y, y],
                                 scores=np.r_[scores, scores * 0.5], conditions=[""] * 120 + ["720q80"] * 120)
    jitter = 0.02 * both.copy_distance() * both.scale / np.sqrt(D)
    queries = np.vstack([cond[7] + rng.standard_normal(D) * jitter,  # a transformed copy of image 7
                         X[9] + rng.standard_normal(D) * jitter,  # a re-save of image 9
                         source(1, rng)[0][0] + np.r_[np.zeros(20), np.full(10, 1.5), np.zeros(D - 30)]])
    assert np.linalg.norm(both.standardise(queries[:1]) - both.originals()[7]) > both.copy_distance()
    assert [c is None for c in plain.look_up(queries)[1]] == [True, False, True]  # no copies to match
    typ, found = both.look_up(queries)
    assert found[0][0] == 127 and found[1][0] == 9 and found[2] is None
    np.testing.assert_allclose(typ, plain.look_up(queries)[0])  # typicality: against the originals alone
    rec: dict = {}
    add_copy(rec, "case42", both, *found[0])
    (entry,) = rec["calibration_image"]
    assert entry["condition"] == "720q80" and entry["label"] == ("synthetic" if y[7] else "real")
    assert abs(entry["out_of_fold_probability"] - scores[7] * 0.5) < 1e-5 and entry["match"] == "near copy"
    rec = {}
    add_copy(rec, "case42", both, *found[1])
    assert "condition" not in rec["calibration_image"][0]


def _as_format(recs: list[dict], fmt: str) -> list[dict]:
    for r in recs:
        r["format"] = fmt
    return recs


def test_a_directory_of_several_formats_is_tested_per_format(ref):
    """Files of one format (one channel) diluted among another's can pass together: a directory
    holding several formats, each with at least MIN_N images, is tested per format; a format with
    fewer images keeps the directory whole."""
    rng = np.random.default_rng(21)
    home = _as_format(records(*source(20, rng), "case", rng), "JPEG")
    away = _as_format(records(*source(12, rng, shift=3.0), "case", rng), "WEBP")
    assert [(g[0], len(g[1])) for g in dc.groups_of(home + away)] == [("case [JPEG]", 20), ("case [WEBP]", 12)]
    rep = dc.check(home + away, {"p": ref}, "enforce")
    assert {g.group: g.decision for g in rep.groups} == {"case [JPEG]": "in_domain", "case [WEBP]": "out_of_domain"}
    assert all(r["verdict"] != "inconclusive" for r in home)
    assert all(r["verdict"] == "inconclusive" for r in away)
    few = _as_format(records(*source(dc.MIN_N - 1, rng), "case", rng), "PNG")
    assert [(g[0], len(g[1])) for g in dc.groups_of(home + few)] == [("case", 20 + dc.MIN_N - 1)]
    assert [g[0] for g in dc.groups_of(home)] == ["case"]  # one format: the directory, named as before


def test_a_group_in_domain_only_for_want_of_images_is_said_to_be_borderline():
    """A 24-image folder told apart at ROC-AUC 0.82 with p 0.02 read `in_domain` like a confirmation."""
    from synthdetect.output.html import _domain_html
    from synthdetect.output.text import domain_lines

    t = {"model": "p", "statistic": 0.82, "p_value": 0.02, "n": 24, "decision": "in_domain"}
    g = dc.GroupResult(group="case", n=24, decision="in_domain", tests=[t])
    assert g.borderline() and g.to_dict()["borderline"] is True
    dom = {"mode": "enforce", "available": True, "references": ["p"], "min_n": 10, "min_effect": dc.MIN_EFFECT,
           "alpha": dc.ALPHA, "groups": [g.to_dict()], "out_of_domain": 0}
    said = [ln for ln in domain_lines(dom) if "borderline" in ln]
    assert said == ["  case: borderline — told from the calibration images at ROC-AUC 0.82 (>= 0.8) but p = 0.02 > 0.01 "
                    "with 24 images: too few to decide; its verdicts stand, but their stated rates may not apply (scan "
                    "more images of this source together, or fit a probe on a labelled sample of it: synthdetect train "
                    "probe)"]
    assert "borderline" in _domain_html(dom)
    for quiet in (dc.GroupResult("a", 24, "in_domain", [{**t, "statistic": 0.79}]),
                  dc.GroupResult("b", 24, "out_of_domain", [{**t, "p_value": 0.001, "decision": "out_of_domain"}])):
        assert not quiet.borderline() and "borderline" not in quiet.to_dict()


def test_a_group_is_tested_only_against_the_conditions_its_verdicts_use():
    """Each condition tried is one more chance for a foreign batch to pass: a group is tested against
    the conditions its images are judged by (a folder of 720 px JPEGs against the 720 px copies, not
    the full-size originals it cannot be); a named condition the reference lacks tries them all."""
    *_, ref, B, pb, rng = _copies_reference(18, "720q90")
    assert dc.test_group(ref, B, pb, conditions={""})["decision"] == "out_of_domain"
    t = dc.test_group(ref, B, pb, conditions={"", "720q90"})
    assert t["decision"] == "in_domain" and t["condition"] == "720q90"
    assert dc.test_group(ref, B, pb, conditions={"q85"})["condition"] == "720q90"  # not in the reference: all
    assert dc.test_group(ref, B, pb, conditions=None)["condition"] == "720q90"
    # through check(): the records' own conditions choose
    recs = records(B, (pb >= 0.5).astype(int), "case", rng)
    for r in recs:
        r["condition"] = "original"
    (g,) = dc.check(recs, {"p": ref}, "warn").groups
    assert g.decision == "out_of_domain" and g.tests[0]["condition"] == "original"
    for r in recs:
        r["condition"], r["condition_bound"] = "720q90", ["720q90", "720q80"]
    (g,) = dc.check(recs, {"p": ref}, "warn").groups
    assert g.decision == "in_domain" and g.tests[0]["condition"] == "720q90"


def test_group_conditions_reads_each_records_condition_and_bound():
    recs = [{"condition": "original"}, {"condition": "q85", "condition_bound": ["q85", "720q80"]},
            {"condition": "outside"}, {"error": "unreadable"}]
    assert dc.group_conditions(recs, [0, 1, 2, 3]) == {"", "q85", "720q80"}
    assert dc.group_conditions(recs, [2]) == set()  # every image outside: all conditions tried
    assert dc.group_conditions(recs, [3]) is None  # no per-condition calibration


@pytest.mark.parametrize("n, want", [(20, 2), (50, 5), (136, 10), (225, 10)])
def test_content_directions_are_at_most_one_per_ten_calibration_images(n, want):
    """The top principal directions of few images fit those images: a small reference (an adapted
    probe's 25 + 25) leaves out one content direction per ten of its images, the bundle's ten."""
    X = np.random.default_rng(n).standard_normal((n, 400))
    ref = DomainReference.build(X, backbone_sha256=BB)
    V = ref.content_directions(dc.CONTENT_DIMS)
    assert V.shape == (want, 400)
    assert np.allclose(V @ V.T, np.eye(want), atol=1e-8)
