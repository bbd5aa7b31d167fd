"""``synthdetect models`` (synthdetect/cli/models.py)."""

import json

import pytest
from tests.support import cli

pytestmark = pytest.mark.usefixtures("isolated_registry")


def test_models_command(models_dir):
    r = cli(["models", "--models-dir", models_dir, "-f", "json"])
    assert r.exit_code == 0
    doc = json.loads(r.stdout)
    assert [m["name"] for m in doc["models"]] == ["bright", "dark", "redprob"]
    assert doc["ensembles"][0]["name"] == "trio"
    r = cli(["models", "--models-dir", models_dir])
    assert "bright" in r.stdout and "trio" in r.stdout and "majority" in r.stdout




def test_models_format_is_table_or_json(models_dir):
    r = cli(["models", "--models-dir", models_dir, "--format", "csv"])
    assert r.exit_code == 2
    r = cli(["models", "--models-dir", models_dir, "--format", "JSON"])
    assert r.exit_code == 0 and json.loads(r.stdout)["models"]


def test_models_help_documents_the_exit_codes():
    from typer.testing import CliRunner

    from synthdetect.cli import app

    r = CliRunner().invoke(app, ["models", "--help"], env={"COLUMNS": "300"})
    assert r.exit_code == 0 and "Exit codes: 0 success" in r.output and "2 usage error" in r.output
