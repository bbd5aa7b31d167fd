"""End-to-end: ``synthdetect scan`` over the seeded hostile corpus (tests/fuzz/corpus.py) in a
subprocess, with its peak RSS measured: every input reported once (a verdict or a one-line error),
no traceback, exit 0 or 3, and not one evidence byte changed (issue 18)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import write_model
from tests.fuzz.corpus import build_corpus

RSS_BOUND_MB = 2048
ADDRESS_SPACE_CAP = 8 << 30  # a regression fails here with MemoryError instead of exhausting the machine
# runs the command given in argv[1:] (address space capped) and prints the largest resident set of it
# (its only child), in MB
_MEASURE = ("import resource, subprocess, sys; cap = int(sys.argv[1]); "
            "r = subprocess.run(sys.argv[2:], preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (cap, cap))); "
            "print('PEAK_RSS_MB', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, file=sys.stderr); "
            "sys.exit(r.returncode)")


def scan_measured(args: list, env_extra: dict | None = None, timeout: float = 300):
    """``synthdetect scan ARGS`` in a fresh process: (completed process, peak RSS in MB, records)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "200", **(env_extra or {})}
    r = subprocess.run([sys.executable, "-c", _MEASURE, str(ADDRESS_SPACE_CAP), sys.executable, "-m", "synthdetect", "scan",
                        *map(str, args)], capture_output=True, text=True, timeout=timeout, env=env)
    peak = [float(ln.split()[1]) for ln in r.stderr.splitlines() if ln.startswith("PEAK_RSS_MB")]
    print(f"scan {' '.join(map(str, args[:1]))}: exit {r.returncode}, peak RSS {peak[-1]:.0f} MB")
    lines = [json.loads(ln) for ln in r.stdout.splitlines() if ln.strip()]
    return r, peak[-1], lines


def _hashes(paths) -> dict[str, str]:
    return {str(p): hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in paths}


def _check_reported(r, records, inputs) -> dict[str, dict]:
    assert r.returncode in (0, 3), r.stderr[-3000:]
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout, r.stderr[-3000:]
    results = [x for x in records if x.get("type") == "result"]
    by_path = {x["path"]: x for x in results}
    assert len(results) == len(by_path) == len(inputs), "one record per input"
    assert set(by_path) == {str(p) for p in inputs}
    for rec in results:
        if rec.get("error"):
            assert "\n" not in rec["error"] and len(rec["error"]) < 400, rec
        else:
            assert rec["verdict"] in ("real", "synthetic", "inconclusive"), rec
    return by_path


@pytest.fixture(scope="module")
def fuzz_models(tmp_path_factory) -> Path:
    """Tiny detectors with the input shapes that cost memory: 224 px crops in 4x4 tiles, and a
    shorter-side resize (a strip is upscaled for both)."""
    d = tmp_path_factory.mktemp("fuzz-models")
    write_model(d, "tiles224", 224, [1, -1, 0.5], 0.1, tiles=4)
    write_model(d, "short256", 224, [-1, 1, 0.2], 0.0, resize="shorter_side", resize_to=256)
    return d


def test_scan_of_the_hostile_corpus_reports_everything_in_bounded_memory(tmp_path, fuzz_models):
    corpus = tmp_path / "evidence"
    inputs = build_corpus(corpus, seed=18)
    assert len(inputs) >= 200
    before = _hashes(inputs)
    r, peak, records = scan_measured([corpus, "--models-dir", fuzz_models, "-f", "jsonl", "--no-progress",
                                      "--no-cache", "--workers", "2"],
                                     {"SYNTHDETECT_MODELS_DIR": "", "SYNTHDETECT_CACHE_DIR": str(tmp_path / "c")})
    by_path = _check_reported(r, records, inputs)
    assert peak < RSS_BOUND_MB, f"peak RSS {peak:.0f} MB"
    assert _hashes(inputs) == before and sorted(p for p in corpus.rglob("*") if p.is_file()) == inputs
    summary = records[-1]
    assert summary["type"] == "summary" and summary["inputs"] == len(inputs)
    assert summary["skipped_non_image"] == 0
    # the corpus is what it says: readable images get verdicts, the budget refuses the strips
    for name in ("valid/base.jpg", "valid/cmyk.tiff", "valid/animated.png", "shape/strip_100x1.png",
                 "shape/strip_3000x30.png", "meta/idat_bomb_within_budget.png", "names/with space é.jpg"):
        assert by_path[str(corpus / name)]["verdict"], by_path[str(corpus / name)]
    for name in ("strip_100000x1.png", "strip_1x100000.png", "strip_7x50000.png", "strip_20000x2.png",
                 "strip_101x1.png"):
        assert "100:1" in by_path[str(corpus / "shape" / name)]["error"]
    for name in ("header_100000x100000.png", "header_20000x20000.png", "header_12000x8000.png"):
        assert "decompression" in by_path[str(corpus / "shape" / name)]["error"]
    assert r.returncode == 3  # some inputs are unreadable, and the exit code says so


def test_the_100000x1_png_with_the_bundled_models(tmp_path):
    """The issue's case with the default ensemble: one-line error, peak RSS far below 2 GB, the
    rest of the batch scanned."""
    from PIL import Image

    ev = tmp_path / "evidence"
    ev.mkdir()
    Image.new("RGB", (100000, 1), (120, 30, 200)).save(ev / "strip.png", optimize=True)
    Image.new("RGB", (300, 240), (20, 160, 90)).save(ev / "photo.png")
    r, peak, records = scan_measured([ev, "-f", "jsonl", "--no-progress", "--no-cache"],
                                     {"SYNTHDETECT_CACHE_DIR": str(tmp_path / "c")})
    by_path = _check_reported(r, records, [ev / "photo.png", ev / "strip.png"])
    assert r.returncode == 3 and peak < RSS_BOUND_MB / 4, f"peak RSS {peak:.0f} MB"
    assert "100:1" in by_path[str(ev / "strip.png")]["error"] and by_path[str(ev / "photo.png")]["verdict"]
