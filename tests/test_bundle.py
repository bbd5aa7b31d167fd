"""The bundled detectors in weights/: files match their cards, cards are complete and honest.

These tests read the real ``weights/`` directory (no fixtures): they fail when a model file
is replaced without regenerating its card (``make weights``), when a card lacks what an
analyst needs, or when the figures a card claims cannot be reproduced on the data.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from synthdetect.cards import BackboneCard, EnsembleCard, ModelCard, Registry, bundled_dir, sha256_file

WEIGHTS = bundled_dir()
SHARED = WEIGHTS.parent.parent / "shared" / "data"
SPLITS = WEIGHTS / "splits"
HOLDOUT_KEY = "val-inthewild@val-inthewild.holdout.txt"


def _is_model_card(p: Path) -> bool:
    return not p.name.endswith((".ensemble.json", ".backbone.json", ".head.json"))


model_cards = sorted(p for p in WEIGHTS.glob("*.json") if _is_model_card(p))
network_cards = [p for p in model_cards if not ModelCard.load(p).is_probe]
probe_cards = [p for p in model_cards if ModelCard.load(p).is_probe]
backbone_cards = sorted(WEIGHTS.glob("*.backbone.json"))
ensemble_cards = sorted(WEIGHTS.glob("*.ensemble.json"))


def _lines(p: Path) -> list[str]:
    return [ln.strip() for ln in p.read_text().splitlines() if ln.strip() and not ln.startswith("#")]


def test_bundle_is_present_and_small():
    assert model_cards and probe_cards and backbone_cards, "weights/ lacks models, probes or a backbone"
    assert (WEIGHTS / "default.ensemble.json").exists(), "no default ensemble"
    total = sum(p.stat().st_size for p in WEIGHTS.rglob("*") if p.is_file())
    assert total < 60 * 2**20, f"weights/ is {total / 2**20:.1f} MiB (budget 60 MiB)"
    assert not list(WEIGHTS.glob("*.onnx.data")), "external-data ONNX files are not allowed in the bundle"


@pytest.mark.parametrize("card_path", model_cards, ids=lambda p: p.stem)
def test_model_file_matches_card(card_path):
    card = ModelCard.load(card_path)
    assert card.name == card_path.stem
    assert card.model_path.exists(), f"{card.file} missing"
    assert sha256_file(card.model_path) == card.sha256, f"{card.file}: sha256 differs from its card"


@pytest.mark.parametrize("onnx_path", sorted(WEIGHTS.glob("*.onnx")), ids=lambda p: p.stem)
def test_every_onnx_file_has_a_card(onnx_path):
    assert onnx_path.with_suffix(".json").exists() or onnx_path.with_name(onnx_path.stem + ".backbone.json").exists(), \
        f"{onnx_path.name} has no card"


@pytest.mark.parametrize("card_path", model_cards, ids=lambda p: p.stem)
def test_card_is_complete(card_path):
    card = ModelCard.load(card_path)
    assert card.architecture and card.family
    assert card.output in ("logit", "probability")
    assert card.threshold == 0.5
    assert card.calibrated_threshold is not None and 0.0 <= card.calibrated_threshold <= 1.0
    assert card.f1 is not None and 0.0 < card.f1 <= 1.0
    assert card.licence, "training-data licences must be stated"
    assert card.training, "training data must be recorded"
    assert HOLDOUT_KEY in card.metrics, "held-out Table-1 metrics missing from the card"
    m = card.metrics[HOLDOUT_KEY]
    for k in ("at_0.5", "ap", "roc_auc"):
        assert k in m
    if card.is_probe:
        assert "cross-fitted" in (card.calibrated_on or "")
        cal = card.calibration
        assert cal and len(cal["real_scores"]) == cal["n_real"] and len(cal["real_ids"]) == cal["n_real"]
        assert "cross_validated" in card.metrics
    else:
        assert card.calibrated_on and "calib" in card.calibrated_on, "thresholds are fitted on the calib part"
        assert card.parity, "export parity figures missing"


@pytest.mark.parametrize("card_path", network_cards, ids=lambda p: p.stem)
def test_onnx_contract(card_path):
    import onnx

    card = ModelCard.load(card_path)
    m = onnx.load(str(card.model_path))
    assert [i.name for i in m.graph.input] == ["input"]
    assert [o.name for o in m.graph.output] == ["logit"]
    assert any(o.domain in ("", "ai.onnx") and o.version == 17 for o in m.opset_import)
    dims = m.graph.input[0].type.tensor_type.shape.dim
    assert not dims[0].HasField("dim_value"), "batch dimension must be dynamic"
    assert [d.dim_value for d in dims[1:]] == [3, card.input.size, card.input.size]


@pytest.mark.parametrize("bb_path", backbone_cards, ids=lambda p: p.stem)
def test_backbone_card_file_and_provenance(bb_path):
    import onnx

    bb = BackboneCard.load(bb_path)
    assert sha256_file(bb.model_path) == bb.sha256
    m = onnx.load(str(bb.model_path))
    assert [o.name for o in m.graph.output] == ["features"]
    assert m.graph.output[0].type.tensor_type.shape.dim[1].dim_value == bb.dim
    assert bb.source.get("sha256") and bb.source.get("package") and bb.licence
    assert bb.parity.get("passed") is True
    try:
        from synthdetect.train.backbones import get
    except ImportError:  # inference-only install: nothing to compare with
        return
    assert get(bb.extra.get("backbone", bb.name)).weights_sha256 == bb.source["sha256"]


@pytest.mark.parametrize("card_path", probe_cards, ids=lambda p: p.stem)
def test_probe_is_bound_to_the_bundled_backbone(card_path):
    card = ModelCard.load(card_path)
    bb = Registry([WEIGHTS]).backbone_for(card)
    assert bb.path.parent == WEIGHTS and bb.sha256 == card.backbone["sha256"]
    head = json.loads(card.model_path.read_text())
    # a head over a feature group reads its indices of the backbone's vector (docs/cards.md)
    assert head.get("features", {}).get("input_dim", head["dim"]) == bb.dim and head["dim"] == len(head["coef"])


@pytest.mark.parametrize("card_path", probe_cards, ids=lambda p: p.stem)
def test_probe_carries_the_domain_of_its_calibration_images(card_path):
    """scan's domain check needs it: the sidecar matches the card and holds the calibration images."""
    from synthdetect.scan.domain import load_for_card

    card = ModelCard.load(card_path)
    ref = load_for_card(card)
    assert ref is not None, f"{card.name}: no domain reference (python tools/attach_domain.py {card.name})"
    assert ref.backbone_sha256 == card.backbone["sha256"]
    s = ref.summary()
    assert (s["n_real"], s["n_synthetic"]) == (card.calibration["n_real"], card.calibration["n_fake"])
    assert np.all(np.isfinite(ref.scores)), "every reference row needs its out-of-fold score"
    # compact: float16 rows (originals + the conditions' copies), no more than 2 bytes a value
    assert (card_path.parent / card.domain["file"]).stat().st_size < 1.1 * 2 * s["rows"] * s["dim"] + (64 << 10)


@pytest.mark.parametrize("card_path", model_cards, ids=lambda p: p.stem)
def test_model_runs_on_cpu_with_mixed_batch(card_path):
    from PIL import Image

    from synthdetect.scan.options import ScanOptions
    from synthdetect.scan.pipeline import resolve_plan, Scanner

    card = ModelCard.load(card_path)
    plan = resolve_plan(Registry([WEIGHTS]), [card.name], "none")
    sc = Scanner(plan, ScanOptions(device="cpu", provenance=False))
    rng = np.random.default_rng(0)
    imgs = [Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)) for h, w in ((300, 500), (700, 260), (90, 90))]
    from synthdetect.inputs.preprocess import to_inputs
    from synthdetect.scan.pipeline import input_spec

    spec = input_spec(sc.models[0])
    items = [({"path": f"x{i}"}, {spec.key(): to_inputs(im, spec)}) for i, im in enumerate(imgs)]
    recs = sc._run_batch(items)
    p = np.array([r["models"][card.name]["probability"] for r in recs])
    assert p.shape == (3,) and np.all((p >= 0) & (p <= 1))
    # batching does not change a result
    one = sc._run_batch([({"path": "x1"}, items[1][1])])[0]["models"][card.name]["probability"]
    assert one == pytest.approx(p[1], abs=1e-5)


@pytest.mark.parametrize("ens_path", ensemble_cards, ids=lambda p: p.name)
def test_ensemble_cards_reference_bundled_members(ens_path):
    ens = EnsembleCard.load(ens_path)
    assert ens.members and ens.description
    for m in ens.members:
        assert (WEIGHTS / f"{m}.json").exists(), f"{ens.name}: member {m} is not bundled"
    assert ens.method in ("majority", "weighted", "mean")
    if ens.method == "weighted":
        for m in ens.members:
            assert ens.weights.get(m, 0) > 0
    # a calibrated threshold, or a plain majority (more than half of the members flag it)
    assert ens.calibrated_threshold is not None or (ens.method == "majority" and ens.threshold == 0.5)
    assert HOLDOUT_KEY in ens.metrics


@pytest.mark.parametrize("name", ["lite0-probe", "lite0-probe-train", "default.ensemble"])
def test_stated_cross_validated_rates_are_those_of_the_stored_calibration(name):
    """The rates a card states (metrics.cross_validated.three_way) are the ones scan derives from
    the calibration scores the card stores (rounded), not from the unrounded scores of the fit."""
    from synthdetect.scan.calibration import CalibrationSet

    d = json.loads((WEIGHTS / f"{name}.json").read_text())
    op = CalibrationSet.from_dict(d["calibration"]).operating(0.05, 0.2).to_dict()
    stated = d["metrics"]["cross_validated"]["three_way"]
    assert [(op[k]["k"], op[k]["n"]) for k in ("false_alarm", "miss")] == \
        [(stated[k]["k"], stated[k]["n"]) for k in ("false_alarm", "miss")]


def test_default_ensemble_is_calibrated_by_cross_fitting():
    ens = EnsembleCard.load(WEIGHTS / "default.ensemble.json")
    assert ens.calibration and "cross-fitted" in ens.calibration["method"]
    for m in ens.members:
        assert ModelCard.load(WEIGHTS / f"{m}.json").is_probe
    tw = ens.metrics["cross_validated"]["three_way"]
    assert tw["false_alarm"]["rate"] <= 0.05 + 1e-9


def test_splits_are_disjoint_and_nested():
    train = set(_lines(SPLITS / "val-inthewild.train.txt"))
    hold = set(_lines(SPLITS / "val-inthewild.holdout.txt"))
    fit = set(_lines(SPLITS / "val-inthewild.fit.txt"))
    calib = set(_lines(SPLITS / "val-inthewild.calib.txt"))
    assert train and hold and fit and calib
    assert not train & hold
    assert fit | calib == train and not fit & calib
    for part in (hold, calib):
        labels = {p.split("/")[0] for p in part}
        assert labels == {"0_real", "1_fake"}, "each part holds both classes"


@pytest.mark.shared_data
def test_splits_cover_the_data_set():
    if not (SHARED / "val-inthewild" / "manifest.csv").exists():
        pytest.skip(f"{SHARED}/val-inthewild not present")
    import csv

    with open(SHARED / "val-inthewild" / "manifest.csv", newline="") as f:
        all_paths = {row["path"] for row in csv.DictReader(f)}
    parts = set(_lines(SPLITS / "val-inthewild.train.txt")) | set(_lines(SPLITS / "val-inthewild.holdout.txt"))
    assert parts == all_paths


def test_holdout_figures_come_from_models_that_never_saw_the_holdout():
    """A model refitted on all of val-inthewild must report holdout figures measured with its
    protocol twin, and every model whose own figures stand there must not have trained on it."""
    for card_path in model_cards:
        card = ModelCard.load(card_path)
        entry = card.metrics[HOLDOUT_KEY]
        measured_with = entry.get("measured_with", card.name)
        twin = ModelCard.load(WEIGHTS / f"{measured_with}.json")
        blob = json.dumps(twin.training) + (twin.calibrated_on or "")
        assert "holdout" not in blob, f"{twin.name}: training or calibration data mention the holdout"
        if twin.is_probe:
            assert twin.training["data"].endswith("@val-inthewild.train.txt"), twin.training["data"]
        if measured_with != card.name:
            assert twin.metrics[HOLDOUT_KEY]["roc_auc"] == entry["roc_auc"]


@pytest.mark.shared_data
def test_protocol_probe_holdout_figures_are_reproducible():
    """Recompute the protocol probe's held-out figures from scratch and compare with its card."""
    if not (SHARED / "val-inthewild").is_dir():
        pytest.skip(f"{SHARED}/val-inthewild not present")
    from synthdetect.evaluation.report import evaluate_targets

    data = f"{SHARED / 'val-inthewild'}@{SPLITS / 'val-inthewild.holdout.txt'}"
    rep = evaluate_targets(["lite0-probe-train"], [data], None, [str(WEIGHTS)], "cpu")
    got = rep["models"]["lite0-probe-train"]
    claimed = ModelCard.load(WEIGHTS / "lite0-probe-train.json").metrics[HOLDOUT_KEY]
    assert got["roc_auc"] == pytest.approx(claimed["roc_auc"], abs=1e-6)
    assert got["at_threshold"]["f1"] == pytest.approx(claimed["at_0.5"]["f1"], abs=1e-6)
    assert got["three_way"]["false_alarm"]["k"] == claimed["three_way"]["false_alarm"]["k"]
    assert got["three_way"]["coverage"] == pytest.approx(claimed["three_way"]["coverage"], abs=1e-9)


@pytest.mark.parametrize("name", ["lite0-probe", "lite0-probe-train", "default.ensemble"])
def test_bundled_default_is_calibrated_per_condition(name):
    """The shipped default covers downscaled / re-encoded copies of its calibration images: every
    condition's out-of-fold scores are over exactly the clean calibration images, and its own
    thresholds hold the default budgets on them."""
    from synthdetect.scan.calibration import CalibrationSet

    path = WEIGHTS / f"{name}.json"
    card = (EnsembleCard if name.endswith("ensemble") else ModelCard).load(path)
    cal = card.calibration
    table = cal["conditions"]
    assert {"720q90", "q85"} <= set(table["measured"])
    assert table["original"]["min_side"] == cal["image_min_side"]["min"]
    clean = CalibrationSet.from_dict(cal).by_id()
    budgets = cal["default_budgets"]
    for cname, m in table["measured"].items():
        cs = CalibrationSet.from_dict(m)
        assert {k: v[0] for k, v in cs.by_id().items()} == {k: v[0] for k, v in clean.items()}, cname
        op = cs.operating(budgets["max_false_alarm"], budgets["max_miss"])
        assert op.false_alarm.value <= budgets["max_false_alarm"] and op.miss.value <= budgets["max_miss"]
        assert m["at_default_budgets"]["t_hi"] == op.t_hi
