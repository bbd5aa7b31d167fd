import json

import pytest

from synthdetect.cards import (
    CardError, EnsembleCard, InputSpec, ModelCard, Registry, sha256_file, verify_sha256,
)

pytestmark = pytest.mark.usefixtures("isolated_registry")


def test_card_roundtrip_and_unknown_fields(tmp_path, models_dir):
    c = ModelCard.load(models_dir / "bright.json")
    d = c.to_dict()
    d["future_field"] = 1
    p = tmp_path / "x.json"
    p.write_text(json.dumps(d))
    c2 = ModelCard.load(p)
    assert c2.input == c.input and c2.extra["future_field"] == 1


def test_effective_threshold():
    c = ModelCard(name="a", file="a.onnx", sha256="", architecture="x")
    assert c.effective_threshold() == 0.5
    c.calibrated_threshold = 0.3
    assert c.effective_threshold() == 0.3 and c.effective_threshold(0.9) == 0.9


def test_bad_specs_rejected():
    with pytest.raises(CardError):
        InputSpec(resize="square")
    with pytest.raises(CardError):
        InputSpec(resize="shorter_side")
    with pytest.raises(CardError):
        ModelCard(name="a", file="a", sha256="", architecture="x", output="softmax")


def test_registry_search_order(tmp_path, models_dir, monkeypatch):
    reg = Registry([models_dir])
    assert reg.model_names() == ["bright", "dark", "redprob"]
    assert reg.ensemble_names() == ["trio"]
    assert reg.ensemble("trio").members == ["bright", "dark", "redprob"]
    assert reg.default_ensemble() is None
    monkeypatch.setenv("SYNTHDETECT_MODELS_DIR", str(models_dir))
    assert "bright" in Registry().model_names()
    with pytest.raises(CardError, match="no model named"):
        reg.model("nope")


def test_verify_sha256(tmp_path, models_dir):
    c = ModelCard.load(models_dir / "dark.json")
    verify_sha256(c)
    assert sha256_file(c.model_path) == c.sha256
    c.sha256 = "f" * 64
    with pytest.raises(CardError):
        verify_sha256(c)


def test_ensemble_card_schema_checked(tmp_path):
    p = tmp_path / "x.ensemble.json"
    p.write_text(json.dumps({"schema": "other", "name": "x", "members": []}))
    with pytest.raises(CardError):
        EnsembleCard.load(p)


def test_ensemble_card_unknown_fields_and_required_keys(tmp_path):
    p = tmp_path / "x.ensemble.json"
    card = EnsembleCard(name="x", members=["a", "b", "c"], method="majority")
    card.extra["calibration"] = {"criterion": "best F1"}
    card.save(p)
    d = json.loads(p.read_text())
    d["from_a_newer_version"] = 1
    p.write_text(json.dumps(d))
    back = EnsembleCard.load(p)
    assert back.members == ["a", "b", "c"] and back.method == "majority"
    assert back.extra == {"calibration": {"criterion": "best F1"}, "from_a_newer_version": 1}
    del d["members"]
    p.write_text(json.dumps(d))
    with pytest.raises(CardError, match="members"):
        EnsembleCard.load(p)
