"""synthdetect/evaluation/{scoring,report,threshold,ensemble_card}.py: evaluation of exported models without torch.

The tiny ONNX models of tests/conftest.py (``bright`` says synthetic on bright images) on a labelled set of
flat bright (synthetic) and dark (real) images; a training run directory is scored only through the
``run_scorer`` a caller passes (torch-free stand-in here)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from synthdetect.cards import CardError, ModelCard, Registry
from synthdetect.evaluation import scoring
from synthdetect.evaluation.report import evaluate_targets, table1_rows, three_way_rows
from tests.support import run_without_torch

pytestmark = pytest.mark.usefixtures("isolated_registry")


@pytest.fixture
def run_dir(tmp_path):
    d = tmp_path / "run7"
    d.mkdir()
    (d / "config.json").write_text("{}")
    (d / "best.pt").write_bytes(b"not read here")
    return d


class _ConstantRun(scoring.Scorer):
    """A stand-in for train.scoring.RunScorer: every crop scores ``p``."""

    kind = "run"

    def __init__(self, run_dir, device):
        self.name, self.spec, self.device = run_dir.name, ModelCard.load(run_dir.parent / "m" / "bright.json").input, device

    def probs(self, batch):
        return np.full(len(batch), 0.75)


def test_evaluate_onnx_models_and_an_ensemble(models_dir, labelled):
    rep = evaluate_targets(["bright", "trio"], [str(labelled)], models_dirs=[str(models_dir)], device="cpu")
    assert rep["n"] == 12 and rep["perturbations"] == []
    b, t = rep["models"]["bright"], rep["models"]["trio"]
    assert b["kind"] == "onnx" and t["kind"] == "ensemble" and set(t["members"]) == {"bright", "dark", "redprob"}
    assert b["roc_auc"] == 1.0 and b["at_threshold"]["confusion"] == {"tp": 6, "fp": 0, "tn": 6, "fn": 0}
    rows = table1_rows(rep)
    assert [r[0] for r in rows] == ["bright", "trio"] and rows[0][1] == "1.0000"
    assert three_way_rows(rep) == []  # no calibration sets in these cards
    blurred = evaluate_targets(["bright"], [str(labelled)], "crop:8,blur:3", [str(models_dir)], "cpu")
    assert blurred["perturbations"] == ["crop:8", "blur:3"]


def test_a_models_own_calibration_images_are_counted_and_can_be_left_out(models_dir, labelled, tmp_path):
    """A probe scored on the images it was fitted on gives training scores: evaluate counts them per
    model (its card keeps their SHA-256 prefixes) and, asked to, leaves them out for every model."""
    from synthdetect.cards import sha256_file
    from synthdetect.evaluation.report import data_notes
    from synthdetect.inputs.datasets import DataError

    d = tmp_path / "m"
    shutil.copytree(models_dir, d)
    card = json.loads((d / "bright.json").read_text())
    reals, fakes = sorted((labelled / "0_real").iterdir())[:3], sorted((labelled / "1_fake").iterdir())[:2]
    card["calibration"] = {"real_scores": [0.1, 0.2, 0.3], "fake_scores": [0.8, 0.9],
                           "real_ids": [sha256_file(p)[:16] for p in reals],
                           "fake_ids": [sha256_file(p)[:16] for p in fakes]}
    (d / "bright.json").write_text(json.dumps(card))
    rep = evaluate_targets(["bright", "dark"], [str(labelled)], models_dirs=[str(d)], device="cpu")
    assert rep["n"] == 12 and rep["models"]["bright"]["calibration_images"] == 5
    assert "calibration_images" not in rep["models"]["dark"]
    (note,) = data_notes(rep)
    assert note.startswith("warning: 5 of the 12 images are bright's own calibration images")
    from synthdetect.evaluation.report import write_metrics_to_cards

    # figures that include a card's own training scores are not written into it; the other card's are
    before = (d / "bright.json").read_bytes()
    assert write_metrics_to_cards(rep, [str(d)]) == [str(d / "dark.json")]
    assert (d / "bright.json").read_bytes() == before
    left = evaluate_targets(["bright", "dark"], [str(labelled)], models_dirs=[str(d)], device="cpu",
                            exclude_calibration_images=True)
    assert left["n"] == 7 and left["excluded_calibration_images"] == {"n": 5, "models": ["bright"]}
    assert left["models"]["dark"]["n"] == 7 and left["models"]["dark"]["n_real"] == 3
    assert data_notes(left) == ["left out 5 images that are calibration images of bright "
                                       "(--exclude-calibration-images)"]
    from typer.testing import CliRunner

    from synthdetect.cli import app

    for extra, said, n in (([], "warning: 5 of the 12 images are bright's own calibration images", 12),
                           (["--exclude-calibration-images"], "left out 5 images that are calibration images", 7)):
        r = CliRunner().invoke(app, ["evaluate", "bright", "--models-dir", str(d), "--data", str(labelled),
                                     "--out", str(tmp_path / "m.json"), *extra])
        assert r.exit_code == 0, r.output
        assert said in " ".join(r.output.split()) and json.loads((tmp_path / "m.json").read_text())["n"] == n
    every = sorted((labelled / "0_real").iterdir()) + sorted((labelled / "1_fake").iterdir())
    card["calibration"].update(real_scores=[0.1] * 6, fake_scores=[0.9] * 6,
                               real_ids=[sha256_file(p)[:16] for p in every[:6]],
                               fake_ids=[sha256_file(p)[:16] for p in every[6:]])
    (d / "bright.json").write_text(json.dumps(card))
    (labelled / "extra").mkdir()
    shutil.copy(every[0], labelled / "extra" / "unsorted.png")
    notes = data_notes(evaluate_targets(["dark"], [str(labelled)], models_dirs=[str(d)], device="cpu"))
    assert notes == [f"warning: {labelled}: 1 image outside 0_real/ and 1_fake/ not used (no label; e.g. "
                     "extra/unsorted.png)"]
    with pytest.raises(DataError, match="nothing is left"):
        evaluate_targets(["bright"], [str(labelled)], models_dirs=[str(d)], device="cpu",
                         exclude_calibration_images=True)


def test_a_run_directory_needs_the_run_scorer_it_is_given(models_dir, labelled, run_dir, tmp_path):
    with pytest.raises(CardError, match="training run directory"):
        scoring.resolve(str(run_dir), Registry([models_dir]))
    shutil.copytree(models_dir, tmp_path / "m")
    rep = evaluate_targets([str(run_dir)], [str(labelled)], models_dirs=[str(models_dir)], device="cpu",
                           run_scorer=_ConstantRun)
    m = rep["models"]["run7"]
    assert m["kind"] == "run" and m["at_threshold"]["confusion"]["tp"] == 6 and m["at_threshold"]["confusion"]["fp"] == 6


def test_calibrate_and_ensemble_build_refuse_runs_without_loading_them(models_dir, labelled, run_dir, tmp_path):
    from synthdetect.evaluation.ensemble_card import build_ensemble
    from synthdetect.evaluation.threshold import calibrate_card

    with pytest.raises(ValueError, match="calibrate works on cards"):
        calibrate_card(str(run_dir), [str(labelled)], [str(models_dir)], "cpu")
    with pytest.raises(ValueError, match="must be an exported model"):
        build_ensemble([str(run_dir), "bright"], [str(labelled)], tmp_path / "x.ensemble.json", "majority",
                       [str(models_dir)], "cpu")


def test_calibrate_writes_the_best_f1_threshold_into_the_card(models_dir, labelled, tmp_path):
    from synthdetect.evaluation.metrics import best_f1_threshold
    from synthdetect.evaluation.threshold import calibrate_card
    from synthdetect.inputs.datasets import list_items

    d = tmp_path / "m"
    shutil.copytree(models_dir, d)
    r = calibrate_card(str(d / "dark.json"), [str(labelled)], device="cpu", max_fpr=0.5)
    card = json.loads((d / "dark.json").read_text())
    items = list_items(labelled)
    p = scoring.score_items(scoring.OnnxScorer(ModelCard.load(d / "dark.json"), "cpu"), items)
    want = best_f1_threshold([i.label for i in items], p, max_fpr=0.5)
    assert card["calibrated_threshold"] == pytest.approx(want["threshold"]) == r["calibrated_threshold"]
    assert card["extra"]["calibration"]["max_fpr"] == 0.5 and r["n"] == 12


def test_evaluation_runs_with_torch_blocked(models_dir, labelled):
    code = (
        "import json, os\n"
        "os.environ.pop('SYNTHDETECT_MODELS_DIR', None)\n"
        "from synthdetect.evaluation.report import evaluate_targets\n"
        f"rep = evaluate_targets(['bright'], [{str(labelled)!r}], models_dirs=[{str(models_dir)!r}], device='cpu')\n"
        "bad = sorted(k for k in sys.modules if k.split('.')[0] == 'torch' or k.startswith('synthdetect.train'))\n"
        "print(json.dumps([rep['models']['bright']['roc_auc'], bad]))\n"
    )
    r = run_without_torch(code)
    assert r.returncode == 0, r.stderr[-2000:]
    assert json.loads(r.stdout.strip().splitlines()[-1]) == [1.0, []]


def test_ensemble_build_says_how_many_weighting_images_had_no_label(models_dir, labelled, tmp_path):
    from synthdetect.evaluation.ensemble_card import build_ensemble

    (labelled / "unsorted").mkdir()
    shutil.copy(next((labelled / "0_real").iterdir()), labelled / "unsorted" / "a.png")
    said: list[str] = []
    card = build_ensemble(["bright", "dark"], [str(labelled)], tmp_path / "duo.ensemble.json", "weighted",
                          [str(models_dir)], "cpu", unlabelled=said)
    assert set(card.weights) == {"bright", "dark"}
    assert said == [f"{labelled}: 1 image outside 0_real/ and 1_fake/ not used (no label; e.g. unsorted/a.png)"]


def test_files_in_a_codec_the_calibration_does_not_cover_are_counted(models_dir, labelled, tmp_path):
    """evaluate scores lossy WebP files as it scores any; scan withholds its verdicts on them unless
    the cards were calibrated on that codec: the report counts them per target and says so."""
    from types import SimpleNamespace

    from PIL import Image

    from synthdetect.evaluation.report import _unmeasured_codecs, data_notes

    data = tmp_path / "webp"
    shutil.copytree(labelled, data)
    for p in sorted((data / "1_fake").iterdir())[:4]:
        Image.open(p).save(p.with_suffix(".webp"), quality=60)
        p.unlink()
    rep = evaluate_targets(["bright", "trio"], [str(data)], models_dirs=[str(models_dir)], device="cpu")
    assert rep["models"]["bright"]["unmeasured_codec"] == {"n": 4, "codecs": ["webp"]}
    assert rep["models"]["trio"]["unmeasured_codec"] == {"n": 4, "codecs": ["webp"]}
    notes = data_notes(rep)
    assert any("4 of the 12 images are saved as lossy WebP in a codec or quality bright's calibration does not cover"
               in n for n in notes)
    assert "unmeasured_codec" not in evaluate_targets(["bright"], [str(labelled)], models_dirs=[str(models_dir)],
                                                      device="cpu")["models"]["bright"]
    covered = SimpleNamespace(card=SimpleNamespace(calibration={"image_codecs": {"covered": ["webp"]}}))
    assert _unmeasured_codecs([("webp", 40, 900), (None, None, 0), ("avif", None, 900)], covered) == {
        "n": 1, "codecs": ["avif"]}
    floor = SimpleNamespace(card=SimpleNamespace(calibration={"image_codecs": {"covered": ["webp"],
                                                                               "covered_quality": {"webp": 75}}}))
    assert _unmeasured_codecs([("webp", 80, 900), ("webp", 75, 900)], floor) is None
    assert _unmeasured_codecs([("webp", 80, 900), ("webp", 40, 900), ("webp", None, 900)], floor) == {
        "n": 2, "codecs": ["webp"]}
    # the bundle's way: no WebP among its calibration images, WebP conditions measured on copies
    conditions = {"original": {"min_side": 816, "min_jpeg_quality": 89},
                  "measured": {"webp75": {"side": None, "quality": 75, "codec": "webp"},
                               "720webp75": {"side": 720, "quality": 75, "codec": "webp"}}}
    measured = SimpleNamespace(card=SimpleNamespace(calibration={"conditions": conditions}))
    got = _unmeasured_codecs([("webp", 80, 900), ("webp", 80, 600), ("webp", 50, 900), ("avif", None, 900)], measured)
    assert got == {"n": 3, "codecs": ["avif", "webp"]}
    assert _unmeasured_codecs([("webp", 80, 900)], SimpleNamespace()) is None  # a training run: no card, no gate


def test_a_heics_size_and_quality_are_read_before_anything_else_opened_it(tmp_path):
    """The codec count reads a HEIC's shorter side through pillow-heif even when nothing decoded an
    image before it in the process (a side of 0 would put every HEIC outside the HEIF conditions)."""
    import subprocess
    import sys

    pillow_heif = pytest.importorskip("pillow_heif")
    pillow_heif.register_heif_opener()
    from PIL import Image

    path = tmp_path / "a.heic"
    Image.new("RGB", (900, 760), (120, 90, 60)).save(path, format="HEIF", quality=60)
    code = ("import sys; from synthdetect.evaluation.report import _file_codecs; "
            "from types import SimpleNamespace as S; print(_file_codecs([S(path=sys.argv[1])]))")
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[('heif', 60, 760)]"


def test_greyscale_images_the_calibration_does_not_cover_are_counted(models_dir, labelled, tmp_path):
    """scan withholds a verdict on a greyscale image for a card calibrated on colour images only
    (the greyscale gate): evaluate scores it, and counts such images per target and says so."""
    from types import SimpleNamespace

    from PIL import Image

    from synthdetect.evaluation.report import _greyscale_covered, data_notes

    data = tmp_path / "grey"
    shutil.copytree(labelled, data)
    for p in sorted((data / "0_real").iterdir())[:2] + sorted((data / "1_fake").iterdir())[:1]:
        with Image.open(p) as im:
            grey = im.convert("L")
        grey.convert("RGB").save(p)  # a grey picture stored in colour reads greyscale too
    with Image.open(next(iter(sorted((data / "0_real").iterdir())))) as im:
        assert im.mode == "RGB"
    rep = evaluate_targets(["bright", "trio"], [str(data)], models_dirs=[str(models_dir)], device="cpu")
    assert rep["models"]["bright"]["greyscale"] == {"n": 3}
    assert rep["models"]["trio"]["greyscale"] == {"n": 3}
    assert any("3 of the 12 images are greyscale, which bright's calibration does not cover" in n
               for n in data_notes(rep))
    assert "greyscale" not in evaluate_targets(["bright"], [str(labelled)], models_dirs=[str(models_dir)],
                                               device="cpu")["models"]["bright"]
    card = lambda cal: SimpleNamespace(card=SimpleNamespace(calibration=cal))  # noqa: E731
    assert not _greyscale_covered(card({}))
    assert _greyscale_covered(card({"image_greyscale": {"covered": True}}))
    assert not _greyscale_covered(card({"image_greyscale": {"covered": False}}))
    conditions = {"original": {"min_side": 816, "min_jpeg_quality": 89},
                  "measured": {"q85": {"side": None, "quality": 85}}}
    assert not _greyscale_covered(card({"conditions": conditions}))
    conditions["measured"]["grey90"] = {"side": None, "quality": 90, "codec": "grey"}
    assert _greyscale_covered(card({"conditions": conditions}))  # judged among the greyscale copies
    assert _greyscale_covered(SimpleNamespace())  # a training run: no card, no gate


def test_an_unreadable_image_is_named_and_left_out_and_the_rest_evaluated(models_dir, labelled, tmp_path):
    """evaluate, calibrate and ensemble weighting decode as scan does: a file that cannot be decoded
    gets its one-line reason and is left out of every figure; the others are scored (it used to
    stop the whole evaluation)."""
    from synthdetect.evaluation.ensemble_card import build_ensemble
    from synthdetect.evaluation.report import data_notes
    from synthdetect.evaluation.threshold import calibrate_card
    from synthdetect.inputs.datasets import DataError

    bad = labelled / "1_fake" / "broken.png"
    bad.write_bytes((labelled / "1_fake" / "0.png").read_bytes()[:60])
    (labelled / "0_real" / "empty.png").write_bytes(b"")
    rep = evaluate_targets(["bright", "trio"], [str(labelled)], models_dirs=[str(models_dir)], device="cpu")
    assert rep["n"] == 12 and rep["models"]["bright"]["roc_auc"] == 1.0
    assert [u["path"] for u in rep["unreadable"]] == [str(labelled / "0_real" / "empty.png"), str(bad)]
    assert "empty file" in rep["unreadable"][0]["error"]
    notes = data_notes(rep)
    assert any(n.startswith(f"warning: {bad}: ") and n.endswith("(left out)") for n in notes)
    d = tmp_path / "m"
    shutil.copytree(models_dir, d)
    r = calibrate_card(str(d / "dark.json"), [str(labelled)], device="cpu")
    assert r["n"] == 12 and len(r["unreadable"]) == 2
    said: list[str] = []
    build_ensemble(["bright", "dark"], [str(labelled)], tmp_path / "duo.ensemble.json", "weighted",
                   [str(models_dir)], "cpu", notes=said)
    assert sum(1 for n in said if "(left out)" in n) == 2  # once per file, not once per member
    for p in (labelled / "0_real").iterdir():
        p.write_bytes(b"")
    for p in (labelled / "1_fake").iterdir():
        p.write_bytes(b"")
    with pytest.raises(DataError, match="none of the 14 images is left to evaluate on"):
        evaluate_targets(["bright"], [str(labelled)], models_dirs=[str(models_dir)], device="cpu")


def test_evaluate_and_calibrate_exit_3_when_images_could_not_be_read(models_dir, labelled, tmp_path):
    """As scan: the figures are written over the readable images, and the exit code says some were not
    (it was 0: a script could not tell that the metrics cover fewer images than the set holds)."""
    from tests.support import cli

    (labelled / "1_fake" / "broken.png").write_bytes(b"not an image at all")
    out = tmp_path / "m.json"
    r = cli(["evaluate", "bright", "--data", labelled, "--models-dir", models_dir, "--out", out, "--device", "cpu"])
    assert r.exit_code == 3, r.output
    assert json.loads(out.read_text())["models"]["bright"]["n"] == 12
    assert "1 image could not be read and is left out of the figures (exit 3)" in r.stderr
    d = tmp_path / "models"
    shutil.copytree(models_dir, d)
    r = cli(["calibrate", str(d / "dark.json"), "--data", labelled, "--device", "cpu"])
    assert r.exit_code == 3, r.output
    (labelled / "1_fake" / "broken.png").unlink()
    r = cli(["evaluate", "bright", "--data", labelled, "--models-dir", models_dir, "--out", out, "--device", "cpu"])
    assert r.exit_code == 0, r.output
