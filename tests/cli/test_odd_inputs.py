"""Issue 18 item 9, run as a user would: big PNG text chunks, damaged EXIF (no raw warning lines)."""

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image, PngImagePlugin

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.usefixtures("isolated_registry")


def _sub(*args, timeout=120):
    env = dict(os.environ, PYTHONPATH=str(REPO), HF_HUB_OFFLINE="1")
    env.pop("SYNTHDETECT_MODELS_DIR", None)
    return subprocess.run([sys.executable, "-m", "synthdetect", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=str(REPO))


def _png_with_text(path: Path, kind: str, size: int) -> Path:
    info = PngImagePlugin.PngInfo()
    if kind == "zTXt":
        info.add_text("parameters", "steps: 20, sampler: x " * (size // 22), zip=True)
    elif kind == "iTXt":
        info.add_itxt("Description", "y" * size, zip=True)
    else:
        info.add_text("Comment", "z" * size)
    Image.new("RGB", (48, 40), (250, 250, 250)).save(path, pnginfo=info)
    return path


def test_png_with_text_chunks_over_a_megabyte_is_scanned(models_dir, tmp_path):
    files = [_png_with_text(tmp_path / f"{k}.png", k, 3_000_000) for k in ("zTXt", "iTXt", "tEXt")]
    r = _sub("scan", *files, "--models-dir", models_dir, "--models", "bright", "-f", "json", "--no-progress")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)["results"]
    assert [x["error"] for x in res] == [None, None, None]
    assert [(x["width"], x["height"]) for x in res] == [(48, 40)] * 3
    # the provenance parser read the chunks itself, with its own bound (noted when it truncates)
    assert res[0]["provenance"]["generator_chunks"] or res[0]["provenance"]["notes"]


def test_damaged_exif_gives_no_raw_warning_lines(models_dir, tmp_path):
    buf = io.BytesIO()
    exif = b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\x00\x05\x01\x12\x00\x03\x00\x00\x00\x01\x00\x06" + b"\xff" * 10
    Image.new("RGB", (40, 40), (120, 130, 140)).save(buf, "JPEG", exif=exif)
    (tmp_path / "bad_exif.jpg").write_bytes(buf.getvalue())
    r = _sub("scan", tmp_path / "bad_exif.jpg", "--models-dir", models_dir, "--models", "bright", "-f", "jsonl",
             "--no-progress")
    assert r.returncode == 0, r.stderr
    assert "Warning" not in r.stderr and "warnings.warn" not in r.stderr, r.stderr
    rec = json.loads(r.stdout.splitlines()[1])
    assert rec["error"] is None and any("EXIF" in n for n in rec["provenance"]["notes"])  # a note in the record


def test_any_library_warning_is_one_line(tmp_path):
    code = ("import warnings\nfrom synthdetect.cli.errors import route_warnings\nroute_warnings()\n"
            "warnings.warn('first line\\nsecond line', UserWarning)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=str(REPO))
    assert r.stderr == "synthdetect: warning: first line second line (UserWarning, <string>)\n"


def test_table_shows_names_as_they_are_one_row_per_line(models_dir, tmp_path):
    """A name with rich's markup brackets is shown whole (not eaten as a colour tag), a newline in a
    name is escaped (a piped table keeps one row per line), and the other formats keep the name exact."""
    names = ["[red]a.jpg", "new\nline.jpg", "tab\there.jpg"]
    for n in names:
        Image.new("RGB", (48, 40), (90, 120, 150)).save(tmp_path / n, "JPEG")
    r = _sub("scan", tmp_path, "--models-dir", models_dir, "--models", "bright", "--no-progress")
    assert r.returncode == 0, r.stderr
    rows = [ln for ln in r.stdout.splitlines() if ln.startswith("\u2502")]
    assert len(rows) == 3
    assert any("[red]a.jpg" in ln for ln in rows)
    assert any("new\\nline.jpg" in ln for ln in rows) and any("tab\\there.jpg" in ln for ln in rows)
    r = _sub("scan", tmp_path, "--models-dir", models_dir, "--models", "bright", "-f", "json", "--no-progress")
    assert sorted(Path(x["path"]).name for x in json.loads(r.stdout)["results"]) == sorted(names)
