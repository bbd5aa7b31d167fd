"""Exit codes (synthdetect/cli/errors.py): every documented code is produced by some command."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from synthdetect.cli import app
from synthdetect.cli.errors import ExitCode, fail

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.usefixtures("isolated_registry")


def run(*args, **kw):
    return CliRunner().invoke(app, [str(a) for a in args], **kw)


def _documented_in_errors_module() -> set[int]:
    import synthdetect.cli.errors as errors

    return {int(m) for m in re.findall(r"^(\d)\s{2,}", errors.__doc__, re.M)}


def _documented_in_readme() -> set[int]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    text = text[text.index("Exit codes (the same for every command):"):]
    text = text[:text.index("\n\n", text.index("| code |"))]
    return {int(m) for m in re.findall(r"^\| (\d) \| ", text, re.M)}


def test_the_codes_are_documented_once_and_alike():
    assert {int(c) for c in ExitCode} == {0, 1, 2, 3, 4}
    assert _documented_in_errors_module() == {int(c) for c in ExitCode}
    assert _documented_in_readme() == {int(c) for c in ExitCode}


def test_fail_prints_one_line_and_returns_the_exit():
    import typer

    e = fail("boom", ExitCode.FAILED)
    assert isinstance(e, typer.Exit) and e.exit_code == 4


def test_every_documented_code_is_produced_by_a_command(models_dir, images, tmp_path):
    from synthdetect import hub

    produced = {}
    produced[ExitCode.OK] = run("--version")
    base = ["scan", images["white"], "--models-dir", models_dir, "--models", "bright"]
    produced[ExitCode.FOUND] = run(*base, "--fail-on", "synthetic")
    produced[ExitCode.USAGE] = run(*base, "--threshold", "1.5")
    produced[ExitCode.UNREADABLE] = run(*base, tmp_path / "missing.png")
    # a cached checkpoint that no longer matches its published digest: verify fails
    e = hub.get_entry("univfd-clip-vitl14")
    ck = tmp_path / "checkpoints"
    p = hub.cached_path(e, e.files[0], ck)
    p.parent.mkdir(parents=True)
    p.write_bytes(b"\x80\x02not the published head")
    produced[ExitCode.FAILED] = run("weights", "verify", "--models-dir", tmp_path / "m", "--cache-dir", ck)
    for code, r in produced.items():
        assert r.exit_code == int(code), (code, r.output)
    assert "synthdetect: error: 1 problem(s): univfd-clip-vitl14/fc_weights.pth MISMATCH" in produced[ExitCode.FAILED].stderr
    assert set(produced) == set(ExitCode)


@pytest.mark.parametrize("args", [
    ["report", "no-such-results.jsonl"],
    ["models", "--format", "xml"],
    ["cache", "info", "--format", "xml"],
    ["weights", "pull", "no-such-detector"],
    ["weights", "remove", "ghost", "--yes"],
])
def test_usage_errors_of_every_verb_exit_2(args, tmp_path):
    r = run(*args)
    assert r.exit_code == int(ExitCode.USAGE), r.output


def test_errors_are_one_prefixed_line_on_stderr(tmp_path):
    r = run("report", tmp_path / "missing.jsonl")
    assert r.exit_code == 2
    assert r.stderr.startswith("synthdetect: error: cannot read ") and r.stderr.count("\n") == 1
    r = run("weights", "pull", "no-such-detector")
    assert r.stderr.startswith("synthdetect: error: no published model named 'no-such-detector'")


# --- evaluate, calibrate, ensemble build: a set-up error exits 2 (nothing scored or written), a failure 4 ---

@pytest.fixture
def labelled(images, tmp_path) -> Path:
    """A labelled DIR (0_real/ 1_fake/) the evaluation verbs read without complaint."""
    import shutil

    d = tmp_path / "labelled"
    for sub, names in (("0_real", ("black", "red")), ("1_fake", ("white",))):
        (d / sub).mkdir(parents=True)
        for n in names:
            shutil.copy(images[n], d / sub / images[n].name)
    return d


def _one_error_line(r, code: ExitCode) -> None:
    assert r.exit_code == int(code), (r.exit_code, r.output)
    assert r.stderr.startswith("synthdetect: error: ") and r.stderr.count("\n") == 1, r.stderr


def _calibration(tag: str) -> dict:
    """A cross-fitted calibration set over 6 real and 6 fake images whose ids start with ``tag``."""
    ids = [f"{tag}{i:015x}" for i in range(12)]
    return {"method": "cross-fitted (out-of-fold)", "data": tag, "real_scores": [0.05 * i for i in range(6)],
            "fake_scores": [0.6 + 0.05 * i for i in range(6)], "real_ids": ids[:6], "fake_ids": ids[6:]}


def test_evaluate_unknown_model_is_a_usage_error(models_dir, labelled, tmp_path):
    r = run("evaluate", "nosuch", "--data", labelled, "--models-dir", models_dir, "--out", tmp_path / "m.json")
    _one_error_line(r, ExitCode.USAGE)
    assert "'nosuch'" in r.stderr and not (tmp_path / "m.json").exists()


def test_calibrate_unknown_model_is_a_usage_error(models_dir, labelled):
    r = run("calibrate", "nosuch", "--data", labelled, "--models-dir", models_dir)
    _one_error_line(r, ExitCode.USAGE)
    assert "'nosuch'" in r.stderr


@pytest.mark.parametrize("members, out_name, said", [("bright,nosuch", "duo.ensemble.json", "'nosuch'"),
                                                     ("bright,dark", "x.json", ".ensemble.json")])
def test_ensemble_unknown_member_or_bad_out_name_is_a_usage_error(models_dir, labelled, tmp_path, members, out_name,
                                                                  said):
    out = tmp_path / out_name
    r = run("ensemble", "build", "--members", members, "--models-dir", models_dir, "--weights-from", labelled,
            "--out", out)
    _one_error_line(r, ExitCode.USAGE)
    assert said in r.stderr and not out.exists()


def test_ensemble_members_calibrated_on_other_images_is_a_usage_error(make_model, tmp_path):
    d = tmp_path / "m"
    d.mkdir()
    make_model(d, "p", 16, [1, 1, 1], 0.0, f1=0.8, calibration=_calibration("a"))
    make_model(d, "q", 16, [-1, -1, -1], 0.0, f1=0.7, calibration=_calibration("b"))
    out = d / "pq.ensemble.json"
    r = run("ensemble", "build", "--members", "p,q", "--models-dir", d, "--out", out)
    _one_error_line(r, ExitCode.USAGE)
    assert "not calibrated on the same images" in r.stderr and not out.exists()


def test_unreadable_card_is_a_usage_error(models_dir, labelled, tmp_path):
    (tmp_path / "broken.json").write_text("{not json")
    r = run("evaluate", "broken", "--data", labelled, "--models-dir", tmp_path, "--out", tmp_path / "m.json")
    _one_error_line(r, ExitCode.USAGE)
    assert "cannot read model card" in r.stderr


def test_a_member_failing_its_checksum_still_fails_the_run(models_dir, labelled, tmp_path):
    import shutil

    d = tmp_path / "m"
    d.mkdir()
    shutil.copy(models_dir / "bright.json", d / "bright.json")
    data = bytearray((models_dir / "bright.onnx").read_bytes())
    data[-1] ^= 1  # the model file no longer matches its card
    (d / "bright.onnx").write_bytes(bytes(data))
    r = run("ensemble", "build", "--members", "bright,dark", "--models-dir", d, "--models-dir", models_dir,
            "--weights-from", labelled, "--out", d / "duo.ensemble.json")
    _one_error_line(r, ExitCode.FAILED)
    assert "sha256 mismatch" in r.stderr
    r = run("calibrate", "bright", "--data", labelled, "--models-dir", d)
    _one_error_line(r, ExitCode.FAILED)
