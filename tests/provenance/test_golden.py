"""``analyze()`` results pinned byte for byte: keys, order and values for every builder-made case.

The golden files under ``golden/`` were recorded from the implementation before the
provenance sources became a list of analyzers, with the sources of ``RECORDED_WITH``; any change
in a result (a new key, a reordered note, a reworded finding) fails here.  A source appended
later adds its own result fields, which the files do not hold: they are left out of the
comparison (only they; a new key from a recorded source still fails), so adding a source that
finds nothing in these cases changes no golden file (``test_an_appended_source_changes_no_golden_file``).
Regenerate deliberately with ``SYNTHDETECT_REGEN_GOLDEN=1`` and review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from synthdetect import provenance
from synthdetect.provenance import analyze

from .golden_cases import CASES, normalise
from .helpers import ToyAnalyzer

GOLDEN = Path(__file__).parent / "golden"
# the provenance sources (Analyzer.name) whose fields the golden files hold
RECORDED_WITH = ("exif", "xmp", "c2pa", "xmp_source_type", "generator_chunks", "software_strings")

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:PIL.TiffImagePlugin")


@pytest.fixture(scope="module")
def chains(chain_es256, chain_ps256):
    return {"es256": chain_es256, "ps256": chain_ps256}


def _result(name, chains, tmp_path) -> dict:
    fname, build, kw = CASES[name]
    kw = dict(kw)
    if build is None:
        path = tmp_path
    else:
        data = build(chains)
        path = tmp_path / fname
        if "cut" in kw:
            kw["max_bytes"] = len(data) - kw.pop("cut")
        path.write_bytes(data)
    if "trust_anchors" in kw:
        kw["trust_anchors_pem"] = chains[kw.pop("trust_anchors")][2].decode()
    return normalise(analyze(path, **kw), str(tmp_path), signed=name.startswith("c2pa_"))


def _recorded_part(result: dict) -> dict:
    """The result without the fields of sources added after the golden files were recorded."""
    later = {k for a in provenance.sources.ANALYZERS if a.name not in RECORDED_WITH for k in a.empty}
    return {k: v for k, v in result.items() if k not in later}


def _check(name, chains, tmp_path) -> None:
    got = json.dumps(_recorded_part(_result(name, chains, tmp_path)), indent=1, ensure_ascii=False) + "\n"
    gold = GOLDEN / f"{name}.json"
    if os.environ.get("SYNTHDETECT_REGEN_GOLDEN") == "1":
        gold.write_text(got, encoding="utf-8")
    assert gold.exists(), f"no golden file {gold.name}; run with SYNTHDETECT_REGEN_GOLDEN=1"
    assert got == gold.read_text(encoding="utf-8")


def test_the_recorded_sources_are_the_builtin_ones():
    assert [a.name for a in provenance.sources.ANALYZERS][: len(RECORDED_WITH)] == list(RECORDED_WITH)


@pytest.mark.parametrize("name", sorted(CASES))
def test_result_matches_golden(name, chains, tmp_path):
    _check(name, chains, tmp_path)


def test_an_appended_source_changes_no_golden_file(chains, tmp_path, monkeypatch):
    """docs/DESIGN.md "How to add a provenance source": one appended analyzer, no golden file edited."""
    monkeypatch.setattr(provenance.sources, "ANALYZERS", provenance.sources.ANALYZERS + [ToyAnalyzer()])
    for i, name in enumerate(sorted(CASES)):
        (tmp_path / str(i)).mkdir()
        result = _result(name, chains, tmp_path / str(i))
        assert result["dreamforge"] == {"present": False}, name  # the toy ran, found nothing
        _check(name, chains, tmp_path / str(i))
