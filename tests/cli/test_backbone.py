"""``synthdetect backbone ...`` (synthdetect/cli/backbone.py): listing and export errors."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

runner = CliRunner()


def test_clip_vitl14_without_cached_weights_is_a_one_line_error(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    from synthdetect import hub
    from synthdetect.cli import app

    monkeypatch.setattr(hub, "local_checkpoint", lambda name: None)
    r = runner.invoke(app, ["backbone", "export", "clip-vitl14-openai", "--out", str(tmp_path),
                            "--parity-data", str(tmp_path)])
    assert r.exit_code == 2
    assert "weights pull clip-vitl14-openai" in r.output and "Traceback" not in r.output


def test_backbone_list_json_and_existing_export_refused(tmp_path):
    from synthdetect.cli import app

    r = runner.invoke(app, ["backbone", "list", "--models-dir", str(tmp_path), "-f", "json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert set(doc) == {"installed", "exportable", "problems"}
    residual = next(b for b in doc["installed"] if b["name"] == "efficientnet-lite0-residual")
    assert set(residual["gates"]) == {"median_filtered"}  # the bundled backbone's filter gate
    r = runner.invoke(app, ["backbone", "list", "--models-dir", str(tmp_path)])
    row = next(ln for ln in r.stdout.splitlines() if "efficientnet-lite0-residual" in ln)
    assert "median_filtered" in row
    (tmp_path / "efficientnet-lite0.onnx").write_bytes(b"x")
    r = runner.invoke(app, ["backbone", "export", "--out", str(tmp_path), "--parity-data", str(tmp_path)])
    assert r.exit_code == 2 and "exists (use --force to overwrite)" in r.output
