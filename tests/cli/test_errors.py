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
