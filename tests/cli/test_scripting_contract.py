"""What a batch job relies on: exit codes that mean what the table says, an --output file that a
stopped run leaves as it was, and commands that answer in one line (audit of 2026-12-08)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from tests.support import cli

pytestmark = pytest.mark.usefixtures("isolated_registry")


@pytest.fixture
def ev(tmp_path):
    d = tmp_path / "ev"
    d.mkdir()
    for i in range(1, 9):
        Image.new("RGB", (48, 48), (25 * i, 30, 40)).save(d / f"im_{i}.png")
    return d


def test_closed_stdout_is_141_with_one_line_not_1(models_dir, ev):
    """`scan -f jsonl | head -1` exited 1, the code for "--fail-on found a synthetic image"."""
    p = subprocess.Popen([sys.executable, "-m", "synthdetect", "scan", str(ev), "--models-dir", str(models_dir),
                          "--models", "bright", "-f", "jsonl", "--no-cache", "--no-progress"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = p.stdout.readline()
    p.stdout.close()
    err = p.stderr.read().decode()
    assert p.wait(timeout=120) == 141
    assert json.loads(first)["type"] == "header"
    assert err.strip().splitlines() == ["synthdetect: error: standard output was closed before the report was complete"]


def test_interrupted_run_leaves_the_earlier_output_and_its_records_beside_it(tmp_path):
    from synthdetect.cli.options import output_stream

    out = tmp_path / "case.jsonl"
    out.write_text('{"type":"header"}\n{"earlier":"complete"}\n')
    before = out.read_bytes()
    with pytest.raises(KeyboardInterrupt):
        with output_stream(out, force=True) as f:
            f.write('{"type":"header"}\n{"path":"a.jpg"}\n')
            raise KeyboardInterrupt
    assert out.read_bytes() == before
    partial = list(tmp_path.glob("case.jsonl.*.partial"))
    assert len(partial) == 1 and partial[0].read_text().endswith('{"path":"a.jpg"}\n')
    with output_stream(out, force=True) as f:  # a completed run replaces it, nothing left beside it
        f.write("new\n")
    assert out.read_text() == "new\n" and set(tmp_path.iterdir()) == {out, partial[0]}
    assert (out.stat().st_mode & 0o777) == (0o666 & ~_umask())


def _umask() -> int:
    m = os.umask(0)
    os.umask(m)
    return m


def test_output_to_a_device_is_written_in_place():
    from synthdetect.cli.options import output_stream

    with output_stream(Path(os.devnull)) as f:
        f.write("x")
    assert Path(os.devnull).exists() and not Path(os.devnull).is_file()


def test_sigterm_unwinds_like_ctrl_c():
    from synthdetect.cli.errors import on_sigterm

    old = signal.getsignal(signal.SIGTERM)
    try:
        on_sigterm()
        with pytest.raises(SystemExit) as e:
            os.kill(os.getpid(), signal.SIGTERM)
            signal.sigtimedwait([], 0) if hasattr(signal, "sigtimedwait") else None
        assert e.value.code == 143
    finally:
        signal.signal(signal.SIGTERM, old)


def test_sigterm_during_a_scan_keeps_the_earlier_output(models_dir, ev, tmp_path):
    """A scheduler's SIGTERM emptied the earlier complete result (the file was truncated at start)."""
    out = tmp_path / "r.jsonl"
    base = [sys.executable, "-m", "synthdetect", "scan", "-", "--models-dir", str(models_dir), "--models", "bright",
            "-f", "jsonl", "-o", str(out), "--no-cache", "--no-progress"]
    names = "\n".join(str(p) for p in sorted(ev.iterdir())) + "\n"
    assert subprocess.run(base, input=names.encode(), capture_output=True, timeout=120).returncode == 0
    before = out.read_bytes()
    p = subprocess.Popen(base, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdin.write(names.encode())
    p.stdin.flush()  # stdin stays open: the scan waits for the end of its input list
    import time

    time.sleep(3)
    p.send_signal(signal.SIGTERM)
    p.stdin.close()
    assert p.wait(timeout=60) == 143
    assert out.read_bytes() == before


def test_cache_commands_before_any_scan_create_nothing(tmp_path, monkeypatch):
    d = tmp_path / "no-cache-yet"
    monkeypatch.setenv("SYNTHDETECT_CACHE_DIR", str(d))
    r = cli(["cache", "info", "-f", "json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["exists"] is False and not d.exists()
    r = cli(["cache", "clear"])
    assert r.exit_code == 0 and "nothing to remove" in r.stdout and not d.exists()


def test_unusable_cache_is_one_line_exit_2(tmp_path, monkeypatch):
    d = tmp_path / "c"
    d.mkdir()
    (d / "results.sqlite").mkdir()  # the database path is a directory: sqlite cannot open it
    monkeypatch.setenv("SYNTHDETECT_CACHE_DIR", str(d))
    for args in (["cache", "info"], ["cache", "clear"]):
        r = cli(args)
        assert r.exit_code == 2, r.output
        assert r.stderr.startswith("synthdetect: error: result cache at") and r.stderr.count("\n") == 1
        assert "Traceback" not in r.output


def test_no_images_found_is_said_not_silent(models_dir, tmp_path):
    empty = tmp_path / "mount-point"
    empty.mkdir()
    (empty / "notes.txt").write_text("case notes")
    r = cli(["scan", empty, "--models-dir", models_dir, "--models", "bright", "-f", "json", "--no-cache"])
    assert r.exit_code == 0
    assert f"synthdetect: warning: no images found in {empty} (1 non-image file); nothing was scanned" in r.stderr
    assert json.loads(r.stdout)["summary"]["inputs"] == 0


def test_forced_progress_into_a_batch_log_prints_plain_lines(models_dir, ev):
    """--progress with stderr not a terminal drew nothing (rich's live bar): now plain count lines."""
    r = cli(["scan", ev, "--models-dir", models_dir, "--models", "bright", "-f", "json", "--no-cache", "--progress"])
    assert r.exit_code == 0, r.output
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("scanning: ")]
    assert lines and lines[-1] == "scanning: 8/8 images"
    r = cli(["scan", ev, "--models-dir", models_dir, "--models", "bright", "-f", "json", "--no-cache"])
    assert "scanning:" not in r.stderr  # off by default when stderr is not a terminal


def test_a_mistyped_models_dir_is_said(tmp_path):
    r = cli(["models", "--models-dir", tmp_path / "typo", "-f", "json"])
    assert r.exit_code == 0
    assert f"synthdetect: warning: --models-dir {tmp_path / 'typo'} is not a directory" in r.stderr
    assert "warning" not in cli(["models", "--models-dir", tmp_path, "-f", "json"]).stderr
