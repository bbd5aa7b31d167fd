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


def test_models_lists_broken_cards_with_the_reason_and_goes_on(models_dir, tmp_path):
    """issue 18: a card that is [1,2,3], has input.mean 5 or threshold "high", is not JSON, or
    names a file outside its directory: listed as broken (file + field), the others still listed."""
    from tests.card_builders import BROKEN, models_with_broken_cards

    d = models_with_broken_cards(models_dir, tmp_path / "m")
    r = cli(["models", "--models-dir", d, "-f", "json"])
    assert r.exit_code == 0 and "Traceback" not in r.output
    doc = json.loads(r.stdout)
    assert [m["name"] for m in doc["models"]] == ["bright", "dark", "redprob"]
    broken = {b["name"]: b for b in doc["broken"]}
    assert sorted(broken) == sorted(BROKEN)
    for name, (_, words) in BROKEN.items():
        reason = broken[name]["reason"]
        assert f"{name}.json" in reason and words in reason and "\n" not in reason, reason
    r = cli(["models", "--models-dir", d])
    assert r.exit_code == 0 and "broken cards" in r.stdout and "'input.mean'" in r.stdout and "trio" in r.stdout


def test_models_marks_first_use_digests_as_unverified(models_dir, tmp_path):
    """audit M6: a checkpoint imported under an entry with no published digest is converted to a model
    that `models` must not present like the published detector."""
    import shutil

    d = tmp_path / "m"
    shutil.copytree(models_dir, d)

    def hub_files(name, files):
        p = d / f"{name}.json"
        card = json.loads(p.read_text())
        card.setdefault("extra", {})["hub"] = {"entry": name, "converter": "cnndetection", "files": files}
        p.write_text(json.dumps(card))

    hub_files("bright", [{"file": "w.pth", "url": None, "imported_from": "/tmp/w.pth", "from": "imported from /tmp/w.pth",
                          "verified": False, "check": "no published sha256: recorded on first use"}])
    hub_files("dark", [{"file": "w.pth", "url": "https://example.invalid/w.pth",  # a card written before `verified`
                        "check": "matches digest recorded on first use"}])
    hub_files("redprob", [{"file": "w.pth", "url": "https://example.invalid/w.pth", "verified": True,
                           "check": "matches published sha256"}])
    r = cli(["models", "--models-dir", d, "-f", "json"])
    assert r.exit_code == 0
    doc = {m["name"]: m for m in json.loads(r.stdout)["models"]}
    assert doc["bright"]["unverified"] is True and doc["dark"]["unverified"] is True
    assert doc["redprob"]["unverified"] is False and doc["redprob"]["provenance"]["verified"] is True
    assert doc["bright"]["provenance"]["files"][0]["from"] == "imported from /tmp/w.pth"
    r = cli(["models", "--models-dir", d])
    assert r.exit_code == 0 and r.stdout.count("UNVERIFIED") == 3  # two rows and the note under the table
    r = cli(["models", "--models-dir", models_dir])
    assert "UNVERIFIED" not in r.stdout
    doc = json.loads(cli(["models", "--models-dir", models_dir, "-f", "json"]).stdout)
    assert all(m["unverified"] is False and m["provenance"] is None for m in doc["models"])


def test_scan_marks_a_model_with_unverified_weights(models_dir, images, tmp_path):
    """`models` said UNVERIFIED; the scan report using the model said nothing."""
    import shutil

    from tests.support import cli

    d = tmp_path / "m"
    shutil.copytree(models_dir, d)
    card = json.loads((d / "bright.json").read_text())
    card.setdefault("extra", {})["hub"] = {"entry": "bright-hub", "files": [
        {"file": "bright.pth", "verified": False, "from": "imported from /cases/bright.pth"}]}
    (d / "bright.json").write_text(json.dumps(card))
    r = cli(["scan", images["white"], "--models-dir", d, "--models", "bright", "-f", "json", "--no-cache"])
    doc = json.loads(r.stdout)
    m = doc["models"][0]
    assert m["unverified"] is True and m["provenance"]["files"][0]["from"] == "imported from /cases/bright.pth"
    assert "bright is UNVERIFIED" in r.stderr
    r = cli(["scan", images["white"], "--models-dir", d, "--models", "bright", "--no-cache"])
    assert "bright is UNVERIFIED: its weights' digest was recorded on first use, not published (from imported from " \
           "/cases/bright.pth)" in " ".join(r.stdout.split())
    r = cli(["scan", images["white"], "--models-dir", models_dir, "--models", "bright", "-f", "json", "--no-cache"])
    assert "unverified" not in json.loads(r.stdout)["models"][0]
