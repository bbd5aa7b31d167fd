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


def test_every_card_field_has_a_type_check():
    """The one validator checks each field by its annotation: none may fall through unchecked."""
    from synthdetect.cards import _OPT, BackboneCard

    for cls in (ModelCard, EnsembleCard, BackboneCard, InputSpec):
        for name, f in cls.__dataclass_fields__.items():
            if name != "path":
                assert str(f.type).replace(" | None", "") in _OPT, (cls.__name__, name, f.type)


@pytest.mark.parametrize("change, field", [
    ({"input": {"size": 224, "mean": [0.5, 0.5]}}, "'input.mean'"),
    ({"input": {"size": "224"}}, "'input.size'"),
    ({"input": {"sise": 224}}, "'input.sise'"),
    ({"input": [224]}, "'input'"),
    ({"output": 1}, "'output'"),
    ({"threshold": 1.5}, "'threshold'"),
    ({"threshold": True}, "'threshold'"),
    ({"f1": "0.9"}, "'f1'"),
    ({"sha256": "abc"}, "'sha256'"),
    ({"file": "/etc/passwd"}, "'file'"),
    ({"file": ".."}, "'file'"),
    ({"training": [1]}, "'training'"),
    ({"extra": 3}, "'extra'"),
    ({"calibration": {"real_scores": [0.1], "fake_scores": []}}, "'calibration'"),
    ({"calibration": {"real_scores": ["x"], "fake_scores": [0.5]}}, "'calibration'"),
    ({"calibration": {"real_scores": [float("nan")], "fake_scores": [0.5]}}, "'calibration'"),
    ({"calibration": {"real_scores": [5.0], "fake_scores": [0.5]}}, "'calibration'"),
    ({"calibration": {"real_scores": [0.1], "fake_scores": [0.5], "by_source": 5}}, "'calibration'"),
    ({"threshold": 10 ** 400}, "'threshold'"),
    ({"sha256": "A" * 64}, "'sha256'"),
    ({"schema": "synthdetect.ensemble-card/1"}, "not a model card"),
])
def test_malformed_model_card_fields_are_one_line_errors(models_dir, tmp_path, change, field):
    d = json.loads((models_dir / "dark.json").read_text())
    p = tmp_path / "c.json"
    p.write_text(json.dumps({**d, **change}))
    with pytest.raises(CardError) as e:
        ModelCard.load(p)
    msg = str(e.value)
    assert str(p) in msg and field in msg and "\n" not in msg


@pytest.mark.parametrize("change, field", [({"members": []}, "'members'"), ({"members": "a"}, "'members'"),
                                           ({"method": "vote"}, "'method'"), ({"weights": {"a": "x"}}, "'weights'")])
def test_malformed_ensemble_card_fields(tmp_path, change, field):
    p = tmp_path / "e.ensemble.json"
    p.write_text(json.dumps({**EnsembleCard(name="e", members=["a"]).to_dict(), **change}))
    with pytest.raises(CardError, match=field):
        EnsembleCard.load(p)


def test_a_calibrated_threshold_just_above_a_score_of_one_is_valid(models_dir, tmp_path):
    """calibration.operating_point puts t_hi at nextafter(1.0) when the top real score is 1.0."""
    import math

    d = json.loads((models_dir / "dark.json").read_text())
    p = tmp_path / "c.json"
    p.write_text(json.dumps({**d, "calibrated_threshold": math.nextafter(1.0, 2.0)}))
    assert ModelCard.load(p).calibrated_threshold > 1.0


def test_atomic_write_leaves_a_readable_file_and_no_temporary(tmp_path):
    """Model files are written whole (temp + rename) and readable like the others (0644)."""
    import os
    import stat

    from synthdetect.cards import atomic_write

    p = atomic_write(tmp_path / "m.json", lambda f: f.write("{}\n"))
    assert p.read_text() == "{}\n" and stat.S_IMODE(os.stat(p).st_mode) == 0o644
    with pytest.raises(RuntimeError):
        atomic_write(tmp_path / "m.json", lambda f: (_ for _ in ()).throw(RuntimeError("boom")))
    assert p.read_text() == "{}\n" and sorted(x.name for x in tmp_path.iterdir()) == ["m.json"]
