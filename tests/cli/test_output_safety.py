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


def test_report_output_refused_by_record_path_even_with_force(models_dir, ev, tmp_path):
    run = tmp_path / "run.jsonl"
    assert _scan(models_dir, ev, "-f", "jsonl", "-o", run).exit_code == 0
    before = _digests(ev)
    r = cli(["report", run, "--force", "-o", ev / "city_10.jpg"])
    _refused(r, before, ev)
    assert "is a file this command reads" in r.stderr


def test_report_output_refused_by_content_where_the_paths_do_not_lead(models_dir, ev, tmp_path, monkeypatch):
    """Records with relative paths, the report run from a directory where they lead nowhere (and the
    results file elsewhere too): the evidence is still recognised, by its SHA-256, even with --force."""
    monkeypatch.chdir(ev.parent)
    run = tmp_path / "out" / "run.jsonl"
    run.parent.mkdir()
    assert _scan(models_dir, "ev", "-f", "jsonl", "-o", run).exit_code == 0
    monkeypatch.chdir(run.parent)
    before = _digests(ev)
    r = cli(["report", "run.jsonl", "--force", "-o", ev / "city_5.jpg"])
    _refused(r, before, ev)
    assert "same bytes as a file this command reads (ev/city_5.jpg, by SHA-256)" in r.stderr


def test_report_finds_and_protects_a_name_that_is_not_utf8(models_dir, ev, tmp_path):
    odd = ev / os.fsdecode(b"\xffimg.jpg")
    (ev / "city_1.jpg").rename(odd)
    run = tmp_path / "run.jsonl"
    assert _scan(models_dir, ev, "-f", "jsonl", "-o", run).exit_code == 0
    assert "\\udcffimg.jpg" in run.read_text()  # the records' escape (docs/scan.md)
    before = _digests(ev)
    _refused(cli(["report", run, "--force", "-o", odd]), before, ev)
    page = tmp_path / "case.html"
    assert cli(["report", run, "-o", page]).exit_code == 0
    assert page.read_text().count("data:image/jpeg;base64") == 10  # every thumbnail, the odd name's too


def test_existing_output_replaced_only_when_it_is_an_earlier_result_or_with_force(models_dir, ev, tmp_path):
    """``scan -o`` / ``report -o`` replace an earlier synthdetect result (any format) or an empty file; any
    other existing file (another photo, case notes) needs --force: it may be evidence."""
    notes = ev / "notes.txt"
    notes.write_text("case notes\n")
    other = tmp_path / "IMG_0002.jpg"
    Image.new("RGB", (32, 32), (1, 2, 3)).save(other)
    before = _digests(ev)
    for target in (notes, other):
        keep = target.read_bytes()
        r = _scan(models_dir, ev / "city_1.jpg", "-o", target)
        assert r.exit_code == 2 and "is not an earlier synthdetect result" in r.stderr, r.output
        assert target.read_bytes() == keep and _digests(ev) == before
    for fmt in ("table", "json", "jsonl", "csv", "html"):
        out = tmp_path / f"run.{fmt}"
        for _ in range(2):  # the second run replaces the first's result
            r = _scan(models_dir, ev / "city_1.jpg", "-f", fmt, "-o", out)
            assert r.exit_code == 0, (fmt, r.output)
    run = tmp_path / "run.jsonl"
    page = tmp_path / "run.html"
    assert cli(["report", run, "-o", page]).exit_code == 0  # over the earlier scan's page
    assert cli(["report", run, "-o", tmp_path / "run.csv"]).exit_code == 0  # a result of another format
    assert cli(["report", run, "-o", other]).exit_code == 2
    empty = tmp_path / "empty.json"
    empty.touch()
    assert _scan(models_dir, ev / "city_1.jpg", "-f", "json", "-o", empty).exit_code == 0
    r = _scan(models_dir, ev / "city_1.jpg", "--force", "-o", other)
    assert r.exit_code == 0 and other.read_text().startswith("\u250f")
    assert _digests(ev) == before
