"""Images a probe was calibrated on, recognised when they are scanned (synthdetect.scan.calibration_images)."""

from __future__ import annotations

import hashlib
import json

import numpy as np
from pathlib import Path
from types import SimpleNamespace

from synthdetect.output.html import row
from synthdetect.output.text import calibration_note, csv_row, summary_lines, why_short
from synthdetect.scan import calibration_images as ci
from synthdetect.scan.pipeline import Summary


def _card(name, real, fake):
    return SimpleNamespace(name=name, calibration={"real_ids": [s[:16] for s in real], "real_scores": [0.1] * len(real),
                                                   "fake_ids": [s[:16] for s in fake], "fake_scores": [0.9] * len(fake)})


def _sha(i: int) -> str:
    return hashlib.sha256(str(i).encode()).hexdigest()


def test_index_and_mark():
    idx = ci.index([_card("a", [_sha(1)], [_sha(2)]), _card("b", [_sha(1)], []), SimpleNamespace(name="npr", calibration=None)])
    rec = {"sha256": _sha(1), "verdict": "real",  # a feature match for "a" is replaced, one for "c" kept
           "calibration_image": [{"model": "a", "label": "real", "match": "near copy", "distance": 0.1},
                                 {"model": "c", "label": "real", "match": "near copy", "distance": 0.2}]}
    assert ci.mark(rec, idx)
    assert rec["calibration_image"] == [
        {"model": "a", "label": "real", "out_of_fold_probability": 0.1, "match": "same file"},
        {"model": "b", "label": "real", "out_of_fold_probability": 0.1, "match": "same file"},
        {"model": "c", "label": "real", "match": "near copy", "distance": 0.2}]
    other = {"sha256": _sha(3)}
    assert not ci.mark(other, idx) and "calibration_image" not in other
    assert not ci.mark({"sha256": None}, idx) and not ci.mark({}, idx)
    fake = {"sha256": _sha(2).upper()}
    assert ci.mark(fake, idx) and fake["calibration_image"][0]["label"] == "synthetic"


def test_the_outputs_say_it():
    rec = {"path": "x/a.jpg", "sha256": _sha(1), "verdict": "real", "verdict_source": "detectors", "error": None,
           "error_rate": {"kind": "miss", "k": 1, "n": 10, "rate": 0.1, "upper95": 0.4},
           "calibration_image": [{"model": "case42", "label": "real", "out_of_fold_probability": 0.0781}]}
    note = "in the calibration sample of case42 (labelled real, out-of-fold 0.078): its score is a training score"
    near = {**rec, "calibration_image": [{"model": "case42", "label": "synthetic", "match": "near copy"}]}
    assert calibration_note(near) == ("a copy of an image in the calibration sample of case42 (labelled synthetic): "
                                      "its score is a training score")
    assert calibration_note(rec) == note
    assert why_short(rec) == "misses 10.0 % (≤ 40.0 %) on calibration; " + note
    assert csv_row(rec, [])["why"] == why_short(rec)
    assert row(rec, 0)["cal"] == [note]
    assert calibration_note({"calibration_image": "garbage"}) == "" and "cal" not in row({"path": "b"}, 1)
    s = Summary()
    s.add(rec)
    s.add({**rec, "calibration_image": None})
    d = s.to_dict()
    assert d["calibration_images"] == 1
    assert any(ln.startswith("1 images are in the detectors' calibration sample") for ln in summary_lines(d))
    assert "calibration_images" not in Summary().to_dict()
    from synthdetect.output.html import _notes_html

    assert "1 images are in the detectors&#x27; calibration sample" in _notes_html(d)
    assert "calibration sample" not in _notes_html(Summary().to_dict())


def test_scanning_the_reference_sample_marks_it(tmp_path):
    """``train probe`` then ``scan`` of the same folder: every image is marked with its label and its
    out-of-fold score from the card; a new image of the source is not."""
    from typer.testing import CliRunner

    from synthdetect.cli import app
    from tests.probes.test_train import _train, build_backbone, make_images

    bbdir = tmp_path / "bb"
    bbdir.mkdir()
    build_backbone(bbdir)
    sample = make_images(tmp_path / "sample", n=12)
    assert _train(bbdir, sample, tmp_path / "models", tmp_path / "cache").exit_code == 0
    card = json.loads((tmp_path / "models" / "case42.json").read_text())
    from PIL import Image

    new = tmp_path / "new"
    new.mkdir()
    Image.open(sample / "1_fake" / "img04.png").save(new / "resaved.bmp")  # the same picture, other bytes
    Image.new("RGB", (48, 40), (250, 250, 250)).save(new / "blank.png")  # unlike any of them
    r = CliRunner().invoke(app, ["scan", str(sample), str(new), "--models", "case42", "--models-dir", str(tmp_path / "models"),
                                 "--models-dir", str(bbdir), "-f", "json", "--no-cache"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    marked = {str(Path(rec["path"]).relative_to(tmp_path)): rec["calibration_image"]
              for rec in doc["results"] if "calibration_image" in rec}
    assert len(marked) == 25 and doc["summary"]["calibration_images"] == 25 and "new/blank.png" not in marked
    (copy,) = marked["new/resaved.bmp"]
    assert copy["match"] == "near copy" and copy["label"] == "synthetic" and copy["distance"] < 0.01
    oof = dict(zip(card["calibration"]["fake_ids"], card["calibration"]["fake_scores"]))
    sha = hashlib.sha256((sample / "1_fake" / "img04.png").read_bytes()).hexdigest()
    assert abs(copy["out_of_fold_probability"] - oof[sha[:16]]) < 1e-6
    oof = dict(zip(card["calibration"]["real_ids"], card["calibration"]["real_scores"]))
    for rec in doc["results"]:
        if "/sample/0_real/" in rec["path"]:
            (hit,) = rec["calibration_image"]
            assert hit["label"] == "real" and hit["match"] == "same file"
            assert abs(hit["out_of_fold_probability"] - oof[rec["sha256"][:16]]) < 1e-6


def test_evaluate_and_calibrate_find_re_saved_copies_of_a_probes_calibration_images(tmp_path):
    """``evaluate`` counts a probe's calibration images also when they come as other files (the same
    picture re-saved: found by its features, as scan finds it) and leaves them out on request;
    ``calibrate`` and ``ensemble build --weights-from`` read them with the out-of-fold scores the
    card keeps, never with the training scores."""
    from PIL import Image
    from typer.testing import CliRunner

    from synthdetect.cli import app
    from synthdetect.evaluation.report import data_notes, evaluate_targets
    from synthdetect.evaluation.threshold import calibrate_card
    from tests.probes.test_train import _train, build_backbone, make_images

    bbdir = tmp_path / "bb"
    bbdir.mkdir()
    build_backbone(bbdir)
    sample = make_images(tmp_path / "sample", n=12)
    assert _train(bbdir, sample, tmp_path / "models", tmp_path / "cache").exit_code == 0
    other = make_images(tmp_path / "other", n=6, seed=5)  # new images of the source
    Image.open(sample / "0_real" / "img02.png").save(other / "0_real" / "copy_of_02.bmp")
    Image.open(sample / "1_fake" / "img07.png").save(other / "1_fake" / "copy_of_07.bmp")
    dirs = [str(tmp_path / "models"), str(bbdir)]
    rep = evaluate_targets(["case42"], [str(other)], models_dirs=dirs, device="cpu")
    m = rep["models"]["case42"]
    assert rep["n"] == 14 and m["calibration_images"] == 2 and m["calibration_copies"] == 2
    (note,) = data_notes(rep)
    assert "2 of the 14 images are case42's own calibration images" in note and "2 of them are copies" in note
    left = evaluate_targets(["case42"], [str(other)], models_dirs=dirs, device="cpu", exclude_calibration_images=True)
    assert left["n"] == 12 and left["excluded_calibration_images"] == {"n": 2, "models": ["case42"]}
    # calibrate and ensemble build --weights-from read those images with their out-of-fold scores
    card_before = json.loads((tmp_path / "models" / "case42.json").read_text())
    r = calibrate_card("case42", [str(other)], dirs, "cpu")
    assert r["n"] == 14 and r["calibration_images"] == 2
    r = CliRunner().invoke(app, ["calibrate", "case42", "--data", str(other), "--models-dir", dirs[0],
                                 "--models-dir", dirs[1]])
    assert r.exit_code == 0, r.output
    assert "2 images are case42's own calibration images" in " ".join(r.output.split())
    # on its own sample alone the threshold is the best-F1 one of its out-of-fold scores
    from synthdetect.evaluation.metrics import best_f1_threshold

    r = calibrate_card("case42", [str(sample)], dirs, "cpu")
    cal = card_before["calibration"]
    oof = np.r_[cal["real_scores"], cal["fake_scores"]]
    y = np.r_[np.zeros(len(cal["real_scores"])), np.ones(len(cal["fake_scores"]))]
    assert r["calibration_images"] == 24 and r["n"] == 24
    assert r["calibrated_threshold"] == best_f1_threshold(y, oof)["threshold"]
    from synthdetect.evaluation.ensemble_card import build_ensemble

    notes: list[str] = []
    build_ensemble(["case42"], [str(other)], tmp_path / "e" / "e.ensemble.json", "weighted", dirs, "cpu", notes=notes)
    assert notes == ["case42: 2 of the 14 images are its own calibration images (it was fitted on them, or they are "
                     "copies of those): its F1 counts their out-of-fold scores from its card"]
    r = calibrate_card(str(tmp_path / "e" / "e.ensemble.json"), [str(other)], dirs, "cpu")
    assert r["n"] == 14 and r["calibration_images"] == 2  # an ensemble: its members' scores so corrected
