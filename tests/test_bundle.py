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

from synthdetect.cards import EnsembleCard, ModelCard, bundled_dir, sha256_file

WEIGHTS = bundled_dir()
SHARED = WEIGHTS.parent.parent / "shared" / "data"
SPLITS = WEIGHTS / "splits"
HOLDOUT_KEY = "val-inthewild@val-inthewild.holdout.txt"

model_cards = sorted(p for p in WEIGHTS.glob("*.json") if not p.name.endswith(".ensemble.json"))
ensemble_cards = sorted(WEIGHTS.glob("*.ensemble.json"))


def _lines(p: Path) -> list[str]:
    return [ln.strip() for ln in p.read_text().splitlines() if ln.strip() and not ln.startswith("#")]


def test_bundle_is_present_and_small():
    assert model_cards, "weights/ has no model cards: run `make weights`"
    assert (WEIGHTS / "default.ensemble.json").exists(), "no default ensemble"
    total = sum(p.stat().st_size for p in WEIGHTS.rglob("*") if p.is_file())
    assert total < 40 * 2**20, f"weights/ is {total / 2**20:.1f} MiB (budget 40 MiB)"
    assert not list(WEIGHTS.glob("*.onnx.data")), "external-data ONNX files are not allowed in the bundle"


@pytest.mark.parametrize("card_path", model_cards, ids=lambda p: p.stem)
def test_model_file_matches_card(card_path):
    card = ModelCard.load(card_path)
    assert card.name == card_path.stem
    assert card.model_path.exists(), f"{card.file} missing"
    assert sha256_file(card.model_path) == card.sha256, f"{card.file}: sha256 differs from its card"


@pytest.mark.parametrize("onnx_path", sorted(WEIGHTS.glob("*.onnx")), ids=lambda p: p.stem)
def test_every_onnx_file_has_a_card(onnx_path):
    assert onnx_path.with_suffix(".json").exists(), f"{onnx_path.name} has no card"


@pytest.mark.parametrize("card_path", model_cards, ids=lambda p: p.stem)
def test_card_is_complete(card_path):
    card = ModelCard.load(card_path)
    assert card.architecture and card.family
    assert card.output in ("logit", "probability")
    assert card.threshold == 0.5
    assert card.calibrated_threshold is not None and 0.0 <= card.calibrated_threshold <= 1.0
    assert card.calibrated_on and "calib" in card.calibrated_on, "thresholds are fitted on the calib part"
    assert card.f1 is not None and 0.0 < card.f1 <= 1.0
    assert card.licence, "training-data licences must be stated"
    assert card.training.get("train"), "training data must be recorded"
    assert card.parity.get("max_abs_diff_prob") is not None or card.parity, "export parity figures missing"
    assert HOLDOUT_KEY in card.metrics, "held-out Table-1 metrics missing from the card"
    m = card.metrics[HOLDOUT_KEY]
    for k in ("at_0.5", "best_f1_on_this_data", "at_calibrated_threshold", "ap", "roc_auc"):
        assert k in m


@pytest.mark.parametrize("card_path", model_cards, ids=lambda p: p.stem)
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


@pytest.mark.parametrize("card_path", model_cards, ids=lambda p: p.stem)
def test_model_runs_on_cpu_with_mixed_batch(card_path):
    from PIL import Image

    from synthdetect.preprocess import to_input
    from synthdetect.runtime import load_model

    card = ModelCard.load(card_path)
    rng = np.random.default_rng(0)
    imgs = [Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)) for h, w in ((300, 500), (700, 260), (90, 90))]
    x = np.stack([to_input(im, card.input) for im in imgs])
    model = load_model(card, device="cpu")
    p = np.asarray(model.predict(x))
    assert p.shape == (3,) and np.all((p >= 0) & (p <= 1))
    # batching does not change a result
    p1 = np.asarray(model.predict(x[1:2]))
    np.testing.assert_allclose(p1, p[1:2], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("ens_path", ensemble_cards, ids=lambda p: p.name)
def test_ensemble_cards_reference_bundled_members(ens_path):
    ens = EnsembleCard.load(ens_path)
    assert len(ens.members) >= 3, "voting needs at least three members"
    for m in ens.members:
        assert (WEIGHTS / f"{m}.json").exists(), f"{ens.name}: member {m} is not bundled"
    assert ens.method in ("majority", "weighted")
    if ens.method == "weighted":
        for m in ens.members:
            assert ens.weights.get(m, 0) > 0
    assert ens.calibrated_threshold is not None
    assert HOLDOUT_KEY in ens.metrics


def test_default_ensemble_is_weighted_vote():
    ens = EnsembleCard.load(WEIGHTS / "default.ensemble.json")
    assert ens.method == "weighted"
    assert len({ModelCard.load(WEIGHTS / f"{m}.json").family for m in ens.members}) >= 3, "members of different kinds"


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


@pytest.mark.shared_data
def test_no_member_trained_on_the_holdout():
    hold = set(_lines(SPLITS / "val-inthewild.holdout.txt"))
    for card_path in model_cards:
        card = ModelCard.load(card_path)
        blob = json.dumps(card.training)
        assert "holdout" not in blob, f"{card.name}: training data mentions the holdout"
        assert "holdout" not in (card.calibrated_on or "")
    assert hold


@pytest.mark.shared_data
def test_default_ensemble_holdout_figures_are_reproducible():
    """Recompute the default ensemble's held-out F1 from scratch and compare with its card."""
    if not (SHARED / "val-inthewild").is_dir():
        pytest.skip(f"{SHARED}/val-inthewild not present")
    from synthdetect.train.evaluate import evaluate_targets

    data = f"{SHARED / 'val-inthewild'}@{SPLITS / 'val-inthewild.holdout.txt'}"
    rep = evaluate_targets(["default"], [data], None, [str(WEIGHTS)], "cpu")
    got = rep["models"]["default"]
    claimed = EnsembleCard.load(WEIGHTS / "default.ensemble.json").metrics[HOLDOUT_KEY]
    assert got["at_threshold"]["f1"] == pytest.approx(claimed["at_0.5"]["f1"], abs=1e-6)
    assert got["at_model_threshold"]["f1"] == pytest.approx(claimed["at_calibrated_threshold"]["f1"], abs=1e-6)
