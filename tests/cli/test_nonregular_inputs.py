"""Issue 18 item 7: FIFOs, devices and directories given to inspect / report, run as a user would.

Every command runs in a subprocess with a timeout, so a regression (a read that blocks on a FIFO)
fails the test instead of hanging the suite."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[2]


def _run(*args, timeout=60, cwd=None):
    env = dict(os.environ, PYTHONPATH=str(REPO), HF_HUB_OFFLINE="1")
    env.pop("SYNTHDETECT_MODELS_DIR", None)
    return subprocess.run([sys.executable, "-m", "synthdetect", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=cwd or str(REPO))


@pytest.fixture
def case(tmp_path):
    d = tmp_path / "case"
    (d / "sub").mkdir(parents=True)
    Image.new("RGB", (40, 30), (200, 10, 10)).save(d / "a.jpg")
    Image.new("RGB", (30, 40), (10, 200, 10)).save(d / "sub" / "b.png")
    (d / "notes.txt").write_text("not an image")
    os.mkfifo(d / "pipe.jpg")
    return d


def test_inspect_fifo_and_device_are_not_read(case):
    r = _run("inspect", "--format", "json", case / "pipe.jpg", "/dev/zero", case / "a.jpg", timeout=30)
    assert r.returncode == 3, r.stderr
    out = json.loads(r.stdout)
    assert [o["readable"] for o in out] == [False, False, True]
    assert out[0]["notes"] == ["cannot read file: not a regular file"] and out[1]["bytes_read"] == 0
    assert out[1]["notes"] == ["cannot read file: not a regular file"]
    assert "Traceback" not in r.stderr


def test_inspect_directory_is_walked_like_scan(case):
    r = _run("inspect", "--format", "json", case, timeout=30)
    assert r.returncode == 3, r.stderr  # the FIFO found in the walk is reported, unread
    out = {Path(o["path"]).name: o for o in json.loads(r.stdout)}
    assert set(out) == {"a.jpg", "b.png", "pipe.jpg"}  # notes.txt is not an image; sub/ is walked
    assert out["a.jpg"]["format"] == "jpeg" and out["b.png"]["readable"] is True
    assert out["pipe.jpg"]["readable"] is False and "not a regular file" in out["pipe.jpg"]["notes"][0]
    r = _run("inspect", "--format", "json", case / "sub", case / "a.jpg", timeout=30)  # argument order kept
    assert r.returncode == 0, r.stderr
    assert [Path(o["path"]).name for o in json.loads(r.stdout)] == ["b.png", "a.jpg"]
    r = _run("inspect", case / "sub", timeout=30)  # rich output
    assert r.returncode == 0 and "IsADirectoryError" not in r.stdout + r.stderr


def test_report_names_a_fifo_that_exists(case, tmp_path):
    sha = "0" * 64
    run = tmp_path / "run.jsonl"
    recs = [{"type": "header", "schema_version": "1.0", "models": []},
            {"type": "result", "path": str(case / "pipe.jpg"), "sha256": sha, "verdict": "real"},
            {"type": "result", "path": str(case / "gone.jpg"), "sha256": sha, "verdict": "real"}]
    run.write_text("".join(json.dumps(r) + "\n" for r in recs))
    r = _run("report", run, "-o", tmp_path / "case.html", timeout=30)
    assert r.returncode == 0, r.stderr
    page = (tmp_path / "case.html").read_text()
    assert "file could not be read (not a regular file): no thumbnail" in page
    assert page.count("file not found: no thumbnail") == 1  # only gone.jpg
