"""``synthdetect cache info|clear`` (synthdetect/cli/cache.py)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from tests.support import cli, scan_json

pytestmark = pytest.mark.usefixtures("isolated_registry")


def cache_db() -> Path:
    return Path(os.environ["SYNTHDETECT_CACHE_DIR"]) / "results.sqlite"


def test_cache_info_and_clear(models_dir, images):
    scan_json(models_dir, [images["white"], images["red"]], "--models", "bright")
    r = cli(["cache", "info", "-f", "json"])
    assert r.exit_code == 0, r.output
    info = json.loads(r.stdout)
    assert info["records"] == 2 and info["plans"] == 1 and info["path"] == str(cache_db())
    assert info["by_plan"][0]["models"] == ["bright"]
    r = cli(["cache", "info"])
    assert r.exit_code == 0 and "records: 2" in r.stdout
    r = cli(["cache", "clear"])
    assert r.exit_code == 0 and "removed 2 cached records" in r.stdout
    assert json.loads(cli(["cache", "info", "-f", "json"]).stdout)["records"] == 0
    doc, _ = scan_json(models_dir, [images["white"]], "--models", "bright")
    assert doc["summary"]["cache"]["hits"] == 0


def test_cache_info_format_is_table_or_json():
    r = cli(["cache", "info", "--format", "csv"])
    assert r.exit_code == 2
    r = cli(["cache", "info", "--format", "JSON"])
    assert r.exit_code == 0 and json.loads(r.stdout)["records"] == 0


def test_cache_help_documents_the_exit_codes():
    from typer.testing import CliRunner

    from synthdetect.cli import app

    r = CliRunner().invoke(app, ["cache", "--help"], env={"COLUMNS": "300"})
    assert r.exit_code == 0 and "Exit codes: 0 success; 2 usage error" in r.output
