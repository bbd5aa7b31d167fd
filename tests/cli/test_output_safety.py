"""Issue 18 items 1-2: no command overwrites a file it reads (docs/safety.md), run as a user would."""

import hashlib
import os
from pathlib import Path

import pytest
from PIL import Image

from tests.support import cli

pytestmark = pytest.mark.usefixtures("isolated_registry")


def _digests(d: Path) -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(d.iterdir()) if p.is_file()}


@pytest.fixture
def ev(tmp_path):
    d = tmp_path / "ev"
    d.mkdir()
    for i in range(1, 11):
        Image.new("RGB", (48, 48), (20 * i, 30, 40)).save(d / f"city_{i}.jpg", quality=95)
    return d


def _scan(models_dir, *args, input=None):
    return cli(["scan", *args, "--models-dir", models_dir, "--models", "bright", "--no-progress"], input=input)


def _refused(r, before, ev, out=None):
    assert r.exit_code == 2, r.output
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("synthdetect: error: ")
    assert _digests(ev) == before
    if out is not None:
        assert not Path(out).exists()


def test_scan_output_found_by_walking_a_directory(models_dir, ev):
    before = _digests(ev)
    r = _scan(models_dir, ev, "-f", "jsonl", "-o", ev / "city_1.jpg")
    _refused(r, before, ev)
    assert "refusing to overwrite evidence" in r.stderr


def test_scan_output_read_from_stdin(models_dir, ev, monkeypatch):
    monkeypatch.chdir(ev)
    before = _digests(ev)
    names = "".join(f"{p.name}\n" for p in sorted(ev.iterdir()))
    _refused(_scan(models_dir, "-", "-o", "city_1.jpg", input=names), before, ev)


def test_scan_output_through_a_symlink(models_dir, ev, tmp_path):
    link = tmp_path / "link-to-evidence.jpg"
    os.symlink(ev / "city_2.jpg", link)
    before = _digests(ev)
    r = _scan(models_dir, ev, "-o", link)
    _refused(r, before, ev)
    assert "city_2.jpg" in r.stderr


def test_scan_output_that_is_a_model_file(models_dir, ev):
    r = _scan(models_dir, ev / "city_1.jpg", "-o", models_dir / "bright.onnx")
    assert r.exit_code == 2 and "refusing" in r.stderr


def test_scan_output_directory_refused_and_dev_null_allowed(models_dir, ev, tmp_path):
    before = _digests(ev)
    _refused(_scan(models_dir, ev, "-o", tmp_path), before, ev)
    r = _scan(models_dir, ev, "-f", "jsonl", "-o", "/dev/null")  # a stream: written to, not overwritten
    assert r.exit_code == 0, r.output
    assert _digests(ev) == before


def test_scan_output_beside_the_evidence_is_written(models_dir, ev):
    before = _digests(ev)
    r = _scan(models_dir, ev, "-f", "jsonl", "-o", ev / "run.jsonl")
    assert r.exit_code == 0, r.output
    assert (ev / "run.jsonl").read_text().count("\n") == 12  # header, 10 records, summary
    assert {k: v for k, v in _digests(ev).items() if k != "run.jsonl"} == before


def test_report_output_is_a_file_the_records_point_to(models_dir, ev, tmp_path, monkeypatch):
    run = tmp_path / "run.jsonl"
    assert _scan(models_dir, ev, "-f", "jsonl", "-o", run).exit_code == 0
    run_bytes = run.read_bytes()
    before = _digests(ev)
    r = cli(["report", run, "-o", ev / "city_10.jpg"])
    _refused(r, before, ev)
    for args in (["-o", run], ["--no-thumbnails", "-o", ev / "city_3.jpg"]):
        _refused(cli(["report", run, *args]), before, ev)
    assert run.read_bytes() == run_bytes
    # a relative record path is found next to the results file (the report runs elsewhere)
    rel = ev / "run.jsonl"
    monkeypatch.chdir(ev)
    assert _scan(models_dir, "city_4.jpg", "-f", "jsonl", "-o", rel).exit_code == 0
    monkeypatch.chdir(tmp_path)
    before = _digests(ev)
    _refused(cli(["report", rel, "-o", ev / "city_4.jpg"]), before, ev)
    r = cli(["report", run, "-o", tmp_path / "case.html"])
    assert r.exit_code == 0 and (tmp_path / "case.html").stat().st_size > 0
