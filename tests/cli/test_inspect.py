"""`inspect` command, mounted on a throwaway typer app (the main CLI mounts it the same way)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from synthdetect.cli.inspect import mount
from tests.provenance import provenance_builders as B


@pytest.fixture(scope="module")
def chain_es256():
    return B.make_chain("es256")


@pytest.fixture
def write(tmp_path):
    def _w(name: str, data: bytes):
        p = tmp_path / name
        p.write_bytes(data)
        return p

    return _w


def _app():
    app = typer.Typer()
    mount(app)

    @app.callback()
    def _root():
        pass

    return app


def test_json_output_and_exit_codes(write, chain_es256):
    chain, key, _ = chain_es256
    signed = write("s.jpg", B.c2pa_sign(B.jpeg_bytes(), "image/jpeg", chain, key))
    plain = write("p.jpg", B.jpeg_bytes(exif=B.camera_exif()))
    res = CliRunner().invoke(_app(), ["inspect", "--format", "json", str(signed), str(plain)])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert [o["verdict_hint"] for o in out] == ["synthetic", None]
    assert out[1]["exif"]["model"] == "EOS R5"
    res = CliRunner().invoke(_app(), ["inspect", "--format", "json", str(plain), str(plain.parent / "missing.jpg")])
    assert res.exit_code == 3
    assert json.loads(res.stdout)[1]["readable"] is False


def test_rich_output(write):
    p = write("a.png", B.png_bytes([B.text_chunk("parameters", "cat\nSteps: 20, Sampler: Euler a, Seed: 1")]))
    res = CliRunner().invoke(_app(), ["inspect", str(p)], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "Automatic1111/Forge" in res.output and "synthetic" in res.output
    bad = CliRunner().invoke(_app(), ["inspect", "--format", "xml", str(p)])
    assert bad.exit_code != 0


def test_module_imports_are_light():
    code = ("import sys, synthdetect.cli.inspect; "
            "bad = [m for m in ('PIL', 'c2pa', 'exifread', 'numpy', 'torch', 'onnxruntime') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


PINNED = ("a1111_png", "comfy_webp", "xmp_rich_jpg", "xmp_truncated_jpg", "sw_firefly_jpg", "camera_jpg",
          "camera_and_params_png", "plain_png", "exif_loop_jpg", "c2pa_jpg", "c2pa_tampered_jpg")
GOLDEN = Path(__file__).with_name("inspect_rich.golden.txt")


@pytest.mark.filterwarnings("ignore::UserWarning:PIL.TiffImagePlugin")
def test_rich_output_is_pinned(tmp_path, monkeypatch, chain_es256):
    """The whole rich panel, byte for byte, for cases covering every section of every source."""
    from tests.provenance.golden_cases import CASES

    chains = {"es256": chain_es256}
    names = []
    for case in PINNED:
        fname, build, _ = CASES[case]
        (tmp_path / f"{case}-{fname}").write_bytes(build(chains))
        names.append(f"{case}-{fname}")
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(_app(), ["inspect", *names, "missing.jpg"], env={"COLUMNS": "120"})
    assert res.exit_code == 3
    # a signature made in this run varies in length by a byte
    got = re.sub(r"(c2pa_\w+-\w+\.jpg.*\n.*\n│ bytes read +)\d+ +│", r"\1<n> │", res.output)
    if os.environ.get("SYNTHDETECT_REGEN_GOLDEN") == "1":
        GOLDEN.write_text(got, encoding="utf-8")
    assert got == GOLDEN.read_text(encoding="utf-8")


def test_directory_walk_says_what_it_skipped_and_names_each_file_once(tmp_path, monkeypatch):
    """``inspect DIR`` walks as ``scan`` does: non-image files and symlink loops are counted on stderr (not
    silently dropped), and a file named twice (or named and walked) is inspected once."""
    from PIL import Image

    d = tmp_path / "insp"
    d.mkdir()
    Image.new("RGB", (32, 32)).save(d / "a.jpg")
    (d / "notes.txt").write_text("chat log\n")
    os.symlink(".", d / "loop")
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(_app(), ["inspect", "insp", "insp/a.jpg", "insp/a.jpg", "--format", "json"])
    assert res.exit_code == 0, res.output
    assert [x["path"] for x in json.loads(res.stdout)] == ["insp/a.jpg"]
    assert "skipped 1 non-image files in directory walks (e.g. insp/notes.txt)" in res.stderr
    assert "ignored 1 directory symlink loops" in res.stderr


def test_inspect_walks_a_folder_named_twice_once(tmp_path):
    """Each argument had its own walk: a folder named twice, or a subfolder beside it, counted its non-image
    files again (2 skipped files said as 5)."""
    from PIL import Image

    from tests.support import cli

    d = tmp_path / "case"
    (d / "sub").mkdir(parents=True)
    Image.new("RGB", (16, 16), (9, 9, 9)).save(d / "a.png")
    (d / "notes.txt").write_text("x")
    (d / "sub" / "more.txt").write_text("y")
    r = cli(["inspect", d, d / "sub", d, "--format", "json"])
    assert r.exit_code == 0, r.output
    assert "skipped 2 non-image files" in r.stderr
    assert len(json.loads(r.stdout)) == 1
