"""``analyze()`` results pinned byte for byte: keys, order and values for every builder-made case.

The golden files under ``golden/`` were recorded from the implementation before the
provenance sources became a list of analyzers; any change in a result (a new key, a
reordered note, a reworded finding) fails here.  Regenerate deliberately with
``SYNTHDETECT_REGEN_GOLDEN=1`` and review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from synthdetect.provenance import analyze

from .golden_cases import CASES, normalise

GOLDEN = Path(__file__).parent / "golden"

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:PIL.TiffImagePlugin")


@pytest.fixture(scope="module")
def chains(chain_es256, chain_ps256):
    return {"es256": chain_es256, "ps256": chain_ps256}


@pytest.mark.parametrize("name", sorted(CASES))
def test_result_matches_golden(name, chains, tmp_path):
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
    got = json.dumps(normalise(analyze(path, **kw), str(tmp_path), signed=name.startswith("c2pa_")), indent=1, ensure_ascii=False) + "\n"
    gold = GOLDEN / f"{name}.json"
    if os.environ.get("SYNTHDETECT_REGEN_GOLDEN") == "1":
        gold.write_text(got, encoding="utf-8")
    assert gold.exists(), f"no golden file {gold.name}; run with SYNTHDETECT_REGEN_GOLDEN=1"
    assert got == gold.read_text(encoding="utf-8")
