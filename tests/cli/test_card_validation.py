"""Malformed cards through the CLI (issue 18 items 4, 5, 8): one validator for every card load; a
broken card is a one-line error for whoever asks for it, listed as broken by ``models`` and
``weights verify``, and said once (not silently) by a scan that does not use it."""

from __future__ import annotations

import json
import shutil

import pytest

from synthdetect.cards import ModelCard, sha256_file
from tests.card_builders import BROKEN, models_with_broken_cards
from tests.support import cli
from tests.probes.test_train import _train, setup  # noqa: F401  (setup: a fixture)

pytestmark = pytest.mark.usefixtures("isolated_registry")


def _one_error_line(r) -> str:
    assert "Traceback" not in r.output and r.stderr.count("\n") == 1, r.output
    assert r.stderr.startswith("synthdetect: error: ")
    return r.stderr


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_scan_with_a_broken_card_named_is_one_line_exit_2(models_dir, tmp_path, images, name):
    d = models_with_broken_cards(models_dir, tmp_path / "m", [name])
    r = cli(["scan", images["white"], "--models-dir", d, "--models", name, "-f", "jsonl", "--no-progress"])
    assert r.exit_code == 2, r.output
    line = _one_error_line(r)
    assert f"{name}.json" in line and BROKEN[name][1] in line and "no model named" not in line
    assert r.stdout == ""  # nothing scanned


def test_scan_ignores_an_unrelated_broken_card_but_says_so_once(default_models_dir, tmp_path, images):
    d = models_with_broken_cards(default_models_dir, tmp_path / "m", ["thrbad"])
    r = cli(["scan", images["white"], images["black"], "--models-dir", d, "-f", "jsonl", "--no-progress"])
    assert r.exit_code == 0, r.output
    warnings = [ln for ln in r.stderr.splitlines() if "thrbad.json" in ln]
    assert len(warnings) == 1 and "'threshold'" in warnings[0] and "ignored" in warnings[0]
    recs = [json.loads(ln) for ln in r.stdout.splitlines() if '"type":"result"' in ln.replace(" ", "")]
    assert len(recs) == 2 and all(rec["verdict"] for rec in recs)


def test_scan_without_a_default_ensemble_runs_the_cards_that_load(models_dir, tmp_path, images):
    d = models_with_broken_cards(models_dir, tmp_path / "m", ["listcard", "meanbad"])
    (d / "trio.ensemble.json").unlink()
    r = cli(["scan", images["red"], "--models-dir", d, "-f", "json", "--no-progress"])
    assert r.exit_code == 0, r.output
    assert {m["name"] for m in json.loads(r.stdout)["models"]} == {"bright", "dark", "redprob"}
    assert sum("listcard.json" in ln for ln in r.stderr.splitlines()) == 1


def test_a_broken_default_ensemble_stops_the_scan_with_one_line(default_models_dir, tmp_path, images):
    d = tmp_path / "m"
    shutil.copytree(default_models_dir, d)
    card = json.loads((d / "default.ensemble.json").read_text())
    (d / "default.ensemble.json").write_text(json.dumps({**card, "members": "bright"}))
    r = cli(["scan", images["white"], "--models-dir", d, "--no-progress"])
    assert r.exit_code == 2
    assert "default.ensemble.json" in _one_error_line(r) and "'members'" in r.stderr


def test_weights_verify_lists_broken_cards_and_checks_the_others(models_dir, tmp_path):
    d = models_with_broken_cards(models_dir, tmp_path / "m")
    r = cli(["weights", "verify", "--models-dir", d, "--cache-dir", tmp_path / "ck", "-f", "json"])
    assert r.exit_code == 4 and "Traceback" not in r.output
    rows = {row["name"]: row for row in json.loads(r.stdout)["rows"]}
    assert {n: rows[n]["status"] for n in ("bright", "dark", "redprob")} == {"bright": "OK", "dark": "OK", "redprob": "OK"}
    for name, (_, words) in BROKEN.items():
        assert rows[name]["status"] == "BROKEN" and words in rows[name]["detail"], rows[name]


def test_weights_verify_passes_probes_from_train_probe(setup):  # noqa: F811
    """issue 18 item 5: ``NAME.head.json`` is a probe's file, not a card."""
    bbdir, _, data, tmp = setup
    assert _train(bbdir, data, bbdir, tmp / "cache").exit_code == 0
    r = cli(["weights", "verify", "--models-dir", bbdir, "--cache-dir", tmp / "ck", "-f", "json"])
    assert r.exit_code == 0, r.output
    rows = {row["name"]: row for row in json.loads(r.stdout)["rows"] if row["kind"] != "domain"}
    assert {n: row["status"] for n, row in rows.items()} == {"case42": "OK", "tinybb": "OK"}
    assert rows["case42"]["path"].endswith("case42.head.json")
    head = bbdir / "case42.head.json"
    head.write_text(head.read_text().replace('"coef"', '"coefficients"'))  # a head that does not parse ...
    card = ModelCard.load(bbdir / "case42.json")
    card.sha256 = sha256_file(head)  # ... whose digest the card matches
    card.save(bbdir / "case42.json")
    r = cli(["weights", "verify", "--models-dir", bbdir, "--cache-dir", tmp / "ck", "-f", "json"])
    rows = {row["name"]: row for row in json.loads(r.stdout)["rows"] if row["kind"] != "domain"}
    assert r.exit_code == 4 and rows["case42"]["status"] == "BROKEN" and "head" in rows["case42"]["detail"]


def test_weights_verify_catches_a_truncated_onnx_whose_digest_matches(models_dir, tmp_path):
    """issue 18 item 8: the file must load (and meet the ONNX contract), not only hash right."""
    d = tmp_path / "m"
    shutil.copytree(models_dir, d)
    onnx_path = d / "dark.onnx"
    onnx_path.write_bytes(onnx_path.read_bytes()[: onnx_path.stat().st_size // 2])
    card = ModelCard.load(d / "dark.json")
    card.sha256 = sha256_file(onnx_path)
    card.save(d / "dark.json")
    card = ModelCard.load(d / "bright.json")
    card.input.size = 48  # the graph takes 32 px: the card and the ONNX disagree
    card.save(d / "bright.json")
    r = cli(["weights", "verify", "--models-dir", d, "--cache-dir", tmp_path / "ck", "-f", "json"])
    assert r.exit_code == 4
    rows = {row["name"]: row for row in json.loads(r.stdout)["rows"]}
    assert rows["dark"]["status"] == "BROKEN" and "does not load in onnxruntime" in rows["dark"]["detail"]
    assert rows["bright"]["status"] == "BROKEN" and "[N, 3, 48, 48]" in rows["bright"]["detail"]
    assert rows["redprob"]["status"] == "OK"
    assert all("\n" not in row["detail"] for row in rows.values())
    r = cli(["weights", "verify", "--models-dir", d, "--cache-dir", tmp_path / "ck"])
    assert r.exit_code == 4 and _one_error_line(r).count("BROKEN") == 2
