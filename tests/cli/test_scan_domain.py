"""``scan --domain-check``: a case folder with one directory from the calibration source and one
from another source, scanned with the bundled protocol probe (its reference: the val-inthewild
train split; the in-source images come from the held-out split)."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest

from synthdetect.scan.domain_check import FEATURES_KEY, REASON
from tests.support import cli

REPO = Path(__file__).resolve().parents[2]
WEIGHTS = REPO / "weights"

pytestmark = [pytest.mark.usefixtures("isolated_registry"), pytest.mark.shared_data, pytest.mark.slow]


def _holdout(n: int) -> list[str]:
    """``n`` held-out images spread over the list (both classes, several kinds of scene: a folder of
    one kind of scene only can read as shifted at n = 10, see docs/domain.md)."""
    rels = [ln.strip() for ln in (WEIGHTS / "splits" / "val-inthewild.holdout.txt").read_text().splitlines()
            if ln.strip() and not ln.startswith("#")]
    return rels[:: len(rels) // n][:n]


@pytest.fixture
def case(shared_data, tmp_path) -> Path:
    """case/phone: 10 held-out val-inthewild images; case/downloads: 10 train-gan2019 images."""
    if not (shared_data / "train-gan2019").is_dir():
        pytest.skip("train-gan2019 absent")
    phone, dl = tmp_path / "case" / "phone", tmp_path / "case" / "downloads"
    phone.mkdir(parents=True)
    dl.mkdir()
    for rel in _holdout(10):
        shutil.copy(shared_data / "val-inthewild" / rel, phone / rel.replace("/", "_"))
    for sub in ("0_real", "1_fake"):
        for p in sorted((shared_data / "train-gan2019" / sub).iterdir())[:5]:
            shutil.copy(p, dl / f"{sub}_{p.name}")
    return tmp_path / "case"


def _scan(case: Path, *extra: str):
    r = cli(["scan", str(case), "--models-dir", str(WEIGHTS), "--models", "lite0-probe-train", "--no-quality-gates",
             "--no-provenance", *extra])
    assert r.exit_code == 0, r.output
    return r


def test_mixed_folder_enforce_warn_off_and_the_result_cache(case):
    doc = json.loads(_scan(case, "-f", "json").stdout)
    dom = doc["summary"]["domain"]
    assert doc["options"]["domain_check"] == "enforce"
    by = {Path(g["group"]).name: g for g in dom["groups"]}
    assert by["downloads"]["decision"] == "out_of_domain" and by["phone"]["decision"] == "in_domain"
    t = by["downloads"]["tests"][0]
    assert t["model"] == "lite0-probe-train" and t["statistic"] >= 0.75 and t["p_value"] <= 0.01 and t["n"] == 10
    recs = {Path(r["path"]).name: r for r in doc["results"]}
    for name, r in recs.items():
        assert FEATURES_KEY not in r
        assert 0.0 <= r["domain"]["typicality"]["lite0-probe-train"] <= 1.0
        if "downloads" in r["path"]:
            assert r["verdict"] == "inconclusive" and r["error_rate"] is None
            assert r["reasons"][-1].startswith(REASON)
        else:
            assert not any(REASON in x for x in r["reasons"])
    assert any(r.get("detector_verdict") in ("real", "synthetic") for r in recs.values())
    assert doc["summary"]["cache"]["misses"] == 20

    # warn: the same test (records served by the result cache, features included), verdicts kept
    warn = json.loads(_scan(case, "-f", "json", "--domain-check", "warn").stdout)
    assert warn["summary"]["cache"]["hits"] == 20
    assert [g["decision"] for g in warn["summary"]["domain"]["groups"]] == [g["decision"] for g in dom["groups"]]
    for r in warn["results"]:
        before = recs[Path(r["path"]).name]
        assert r["verdict"] == before.get("detector_verdict", before["verdict"])

    # off: no batch test, no grouping; the per-image typicality stays
    off = json.loads(_scan(case, "-f", "json", "--domain-check", "off").stdout)
    assert "domain" not in off["summary"]
    assert all("decision" not in r["domain"] for r in off["results"])


def test_formats_carry_the_check(case):
    table = _scan(case).stdout
    assert "domain check (enforce" in table and "out_of_domain" in table
    assert "synthdetect train probe --data SAMPLE --name NAME" in table
    lines = [json.loads(ln) for ln in _scan(case, "-f", "jsonl").stdout.splitlines()]
    assert lines[-1]["type"] == "summary" and lines[-1]["domain"]["out_of_domain"] == 10
    assert all(FEATURES_KEY not in ln for ln in lines)
    rows = list(csv.DictReader(io.StringIO(_scan(case, "-f", "csv").stdout)))
    assert {r["domain"] for r in rows} == {"in_domain", "out_of_domain"} and all(r["typicality"] for r in rows)
    html = _scan(case, "-f", "html", "--no-thumbnails").stdout
    assert 'id="domain"' in html and "out_of_domain" in html


def test_strict_withholds_a_directory_too_small_to_test(case, shared_data):
    """case/few holds 3 more held-out in-source images: untested. enforce keeps their verdicts,
    strict withholds them (domain_untested) and says so in the footer; phone and downloads as before."""
    few = case / "few"
    few.mkdir()
    for rel in _holdout(13)[-3:]:
        shutil.copy(shared_data / "val-inthewild" / rel, few / rel.replace("/", "_"))
    enforce = json.loads(_scan(case, "-f", "json").stdout)
    strict = json.loads(_scan(case, "-f", "json", "--domain-check", "strict").stdout)
    for doc in (enforce, strict):
        by = {Path(g["group"]).name: g["decision"] for g in doc["summary"]["domain"]["groups"]}
        assert by == {"phone": "in_domain", "downloads": "out_of_domain", "few": "untested"}
    before = {Path(r["path"]).name: r for r in enforce["results"]}
    n = 0
    for r in strict["results"]:
        b = before[Path(r["path"]).name]
        if "/few/" in r["path"]:
            assert r["verdict"] == "inconclusive" and r["reasons"][-1].startswith("domain_untested")
            n += b["verdict"] in ("real", "synthetic")
        else:
            assert r["verdict"] == b["verdict"]
    assert strict["summary"]["domain"]["withheld_untested"] == n >= 1
    assert strict["options"]["domain_check"] == "strict"
    assert "withheld (--domain-check strict)" in _scan(case, "--domain-check", "strict").stdout
