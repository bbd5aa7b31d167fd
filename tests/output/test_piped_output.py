"""Tables printed into a pipe (CliRunner output is not a terminal) never wrap or cut identifiers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from synthdetect.cards import sha256_file

REPO = Path(__file__).resolve().parents[2]
runner = CliRunner()

LONG = "a-very-long-detector-name-" + "x" * 90 + "-end"  # 120 chars: wraps at 80 columns


def _line_with(output: str, needle: str) -> str:
    hits = [ln for ln in output.splitlines() if needle in ln]
    assert hits, f"{needle!r} not on any single line of:\n{output}"
    return hits[0]


@pytest.fixture
def long_registry(tmp_path, monkeypatch):
    sha = "f" * 63 + "1"
    reg = {"entries": [{
        "name": LONG, "kind": "backbone", "description": "d", "licence": "MIT",
        "source": "https://example.org/" + "deep/" * 20 + "page",
        "files": [{"filename": "w.pth", "url": "https://example.org/w.pth", "sha256": sha, "role": "backbone"}],
    }]}
    p = tmp_path / "reg.json"
    p.write_text(json.dumps(reg))
    monkeypatch.setenv("SYNTHDETECT_HUB_REGISTRY", str(p))
    monkeypatch.setenv("SYNTHDETECT_CHECKPOINTS_DIR", str(tmp_path / "ck"))
    monkeypatch.delenv("COLUMNS", raising=False)
    return sha, reg["entries"][0]["source"]


def test_weights_list_piped_keeps_names_hashes_urls_whole(long_registry, tmp_path):
    from synthdetect.cli.weights import weights_app

    sha, source = long_registry
    r = runner.invoke(weights_app, ["list", "--models-dir", str(tmp_path / "m")])
    assert r.exit_code == 0, r.output
    for name in ("cnndetection-blur-jpg-prob0.5", "univfd-clip-vitl14", LONG):
        _line_with(r.stdout, name)
    line = _line_with(r.stdout, LONG)
    assert sha in line and source in line  # whole hash (no "…"), whole URL, same row
    assert "477100745713bcc957beb2b40859536859b6483fd6301b3b9293151b194c7847" in r.stdout


def test_weights_list_through_a_real_pipe_grep_finds_cnndetection():
    env = dict(os.environ, PYTHONPATH=str(REPO), HF_HUB_OFFLINE="1")
    env.pop("COLUMNS", None)
    p = subprocess.run(f"{sys.executable} -m synthdetect weights list | grep cnndetection", shell=True,
                       capture_output=True, text=True, env=env, cwd=REPO, timeout=60)
    assert p.returncode == 0, p.stderr
    names = sorted(n for ln in p.stdout.splitlines() for n in ln.split() if n.startswith("cnndetection-"))
    assert names == ["cnndetection-blur-jpg-prob0.1", "cnndetection-blur-jpg-prob0.5"]


def test_weights_verify_has_json(tmp_path):
    from synthdetect.cli.weights import weights_app

    r = runner.invoke(weights_app, ["verify", "--models-dir", str(tmp_path / "m"), "--format", "json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["rows"] == []


@pytest.mark.usefixtures("isolated_registry")
def test_models_table_piped_shows_whole_sha_and_card_path(tmp_path, monkeypatch):
    from conftest import write_model

    from synthdetect.cli import app

    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    card = write_model(deep, "m" * 40, 16, [1, 1, 1], 0.0)
    monkeypatch.delenv("COLUMNS", raising=False)
    r = runner.invoke(app, ["models", "--models-dir", str(deep)])
    assert r.exit_code == 0, r.output
    line = _line_with(r.stdout, "m" * 40)
    assert card.sha256 in line and str(deep / ("m" * 40 + ".json")) in line
    js = runner.invoke(app, ["models", "--models-dir", str(deep), "--format", "json"])
    assert json.loads(js.stdout)["models"][0]["sha256"] == card.sha256


@pytest.mark.usefixtures("isolated_registry")
def test_scan_table_piped_keeps_long_paths_on_one_line(models_dir, tmp_path, monkeypatch):
    from PIL import Image

    from synthdetect.cli import app

    d = tmp_path / ("case-" + "p" * 70) / ("sub-" + "q" * 70)
    d.mkdir(parents=True)
    img = d / ("IMG_" + "9" * 60 + ".png")
    Image.new("RGB", (40, 40), (250, 246, 238)).save(img)
    monkeypatch.delenv("COLUMNS", raising=False)
    r = runner.invoke(app, ["scan", str(img), "--models-dir", str(models_dir), "--models", "bright"])
    assert r.exit_code == 0, r.output
    line = _line_with(r.stdout, str(img))
    assert "synthetic" in line
    assert sha256_file(img)  # the evidence is still there and readable


def test_weights_verify_piped_shows_whole_digests(tmp_path, monkeypatch):
    import hashlib

    from synthdetect import hub
    from synthdetect.cli.weights import weights_app

    monkeypatch.setenv("SYNTHDETECT_CHECKPOINTS_DIR", str(tmp_path / "ck"))
    monkeypatch.delenv("SYNTHDETECT_HUB_REGISTRY", raising=False)
    monkeypatch.delenv("COLUMNS", raising=False)
    e = hub.get_entry("univfd-clip-vitl14")
    p = hub.cached_path(e, e.files[0])
    p.parent.mkdir(parents=True)
    p.write_bytes(b"\x80\x02not the published head")
    r = runner.invoke(weights_app, ["verify", "--models-dir", str(tmp_path / "m")])
    assert r.exit_code == 4
    line = _line_with(r.stdout, "univfd-clip-vitl14/fc_weights.pth")
    assert "MISMATCH" in line and e.files[0].sha256 in line
    assert hashlib.sha256(p.read_bytes()).hexdigest() in line and str(p) in line


def test_backbone_list_in_a_pipe_keeps_whole_names_and_hashes():
    from typer.testing import CliRunner

    from synthdetect.cards import BackboneCard, bundled_dir
    from synthdetect.cli import app

    bb = BackboneCard.load(bundled_dir() / "efficientnet-lite0.backbone.json")
    r = CliRunner().invoke(app, ["backbone", "list", "--models-dir", str(bundled_dir())])
    assert r.exit_code == 0, r.output
    line = next(ln for ln in r.output.splitlines() if "efficientnet-lite0" in ln and bb.sha256 in ln)
    assert str(bb.path) in line
