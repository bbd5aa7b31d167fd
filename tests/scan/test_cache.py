"""The scan result cache (synthdetect/scan/cache.py) and `scan --no-cache`; `cache info|clear` is in tests/cli/test_cache.py."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from tests.support import scan_json

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.usefixtures("isolated_registry")


def cache_db() -> Path:
    return Path(os.environ["SYNTHDETECT_CACHE_DIR"]) / "results.sqlite"


def test_cache_dir_from_env_and_platformdirs(monkeypatch, tmp_path):
    from synthdetect.scan.cache import default_cache_dir

    assert default_cache_dir() == Path(os.environ["SYNTHDETECT_CACHE_DIR"])
    monkeypatch.delenv("SYNTHDETECT_CACHE_DIR")
    from platformdirs import user_cache_dir

    assert default_cache_dir() == Path(user_cache_dir("synthdetect"))


def test_rescan_hits_skip_decoding_and_give_identical_records(models_dir, images, monkeypatch):
    paths = [images["white"], images["black"], images["red"]]
    first, _ = scan_json(models_dir, paths, "--models", "trio")
    assert first["summary"]["cache"] == {**first["summary"]["cache"], "hits": 0, "misses": 3, "stored": 3}

    import synthdetect.inputs.decoding as dec

    def no_decode(*a, **k):
        raise AssertionError("a cache hit must not decode")

    monkeypatch.setattr(dec, "decode", no_decode)
    second, _ = scan_json(models_dir, paths, "--models", "trio")
    assert second["summary"]["cache"]["hits"] == 3 and second["summary"]["cache"]["misses"] == 0
    assert second["results"] == first["results"]
    assert json.dumps(second["results"]) == json.dumps(first["results"])  # byte-identical, key order included


def test_no_cache_neither_reads_nor_writes(models_dir, images):
    doc, _ = scan_json(models_dir, [images["white"]], "--models", "bright", "--no-cache")
    assert "cache" not in doc["summary"] and doc["options"]["cache"] is False
    assert not cache_db().exists()
    scan_json(models_dir, [images["white"]], "--models", "bright")
    doc, _ = scan_json(models_dir, [images["white"]], "--models", "bright", "--no-cache")
    assert "cache" not in doc["summary"]


@pytest.mark.parametrize("change", [
    ["--threshold", "0.3"],
    ["--ensemble", "mean"],
    ["--no-provenance"],
    ["--models", "bright,dark"],
    ["--max-false-alarm", "0.2"],
    ["--max-miss", "0.4"],
    ["--no-quality-gates"],
])
def test_any_option_change_recomputes(models_dir, images, change):
    base = ["--models", "bright,dark,redprob", "--ensemble", "majority"]
    scan_json(models_dir, [images["white"], images["red"]], *base)
    again, _ = scan_json(models_dir, [images["white"], images["red"]], *base)
    assert again["summary"]["cache"]["hits"] == 2
    args = list(base)
    for i in range(0, len(change), 2):
        opt = change[i]
        if opt in args:
            args[args.index(opt) + 1] = change[i + 1]
        else:
            args += change[i : i + 2]
    changed, _ = scan_json(models_dir, [images["white"], images["red"]], *args)
    assert changed["summary"]["cache"]["hits"] == 0 and changed["summary"]["cache"]["misses"] == 2
    fresh, _ = scan_json(models_dir, [images["white"], images["red"]], *args, "--no-cache")
    assert changed["results"] == fresh["results"]


def test_card_or_model_change_recomputes(tmp_path, images, make_model):
    d = tmp_path / "m"
    d.mkdir()
    make_model(d, "bright", 32, [1, 1, 1], 0.0, resize="shorter_side", resize_to=40)
    scan_json(d, [images["white"]], "--models", "bright")
    assert scan_json(d, [images["white"]], "--models", "bright")[0]["summary"]["cache"]["hits"] == 1
    # a card field that changes a number (calibrated threshold)
    card = json.loads((d / "bright.json").read_text())
    card["calibrated_threshold"] = 0.99
    (d / "bright.json").write_text(json.dumps(card))
    doc, _ = scan_json(d, [images["white"]], "--models", "bright")
    assert doc["summary"]["cache"]["hits"] == 0
    assert doc["results"][0]["models"]["bright"]["threshold"] == 0.99
    # another ONNX file (and sha256) under the same name
    make_model(d, "bright", 32, [-1, -1, -1], 0.0, resize="shorter_side", resize_to=40)
    doc, _ = scan_json(d, [images["white"]], "--models", "bright")
    assert doc["summary"]["cache"]["hits"] == 0
    assert doc["results"][0]["verdict"] == "real"


def test_changed_file_is_rehashed_and_same_content_elsewhere_gets_its_own_path(models_dir, images, tmp_path):
    from tests.conftest import flat

    p = images["white"]
    first, _ = scan_json(models_dir, [p], "--models", "bright")
    assert first["results"][0]["verdict"] == "synthetic"
    flat((14, 5, 0), (80, 60)).save(p)  # same path, new content (dark, tinted: not greyscale)
    doc, _ = scan_json(models_dir, [p], "--models", "bright")
    assert doc["summary"]["cache"]["hits"] == 0 and doc["results"][0]["verdict"] == "real"
    copy = tmp_path / "renamed copy.png"
    shutil.copyfile(p, copy)
    doc, _ = scan_json(models_dir, [copy], "--models", "bright")
    rec = doc["results"][0]
    assert doc["summary"]["cache"]["hits"] == 1
    assert rec["path"] == str(copy) and rec["provenance"]["path"] == str(copy)
    assert rec["verdict"] == "real"


def test_unreadable_files_are_not_cached(models_dir, images, tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    for _ in range(2):
        doc, r = scan_json(models_dir, [images["white"], bad], "--models", "bright")
        assert r.exit_code == 3
        assert doc["results"][1]["error"]
    assert doc["summary"]["cache"] == {**doc["summary"]["cache"], "hits": 1, "misses": 1}
    with sqlite3.connect(cache_db()) as c:
        assert c.execute("SELECT COUNT(*) FROM records").fetchone()[0] == 1


def test_corrupt_row_is_ignored_and_rewritten(models_dir, images):
    first, _ = scan_json(models_dir, [images["white"], images["black"]], "--models", "bright")
    with sqlite3.connect(cache_db()) as c:
        (body,) = c.execute("SELECT record FROM records WHERE sha256 = ?", (first["results"][0]["sha256"],)).fetchone()
        forged = body.replace('"verdict":"synthetic"', '"verdict":"real"')
        assert forged != body
        c.execute("UPDATE records SET record = ? WHERE sha256 = ?", (forged, first["results"][0]["sha256"]))
    doc, _ = scan_json(models_dir, [images["white"], images["black"]], "--models", "bright")
    assert doc["summary"]["cache"] == {**doc["summary"]["cache"], "hits": 1, "misses": 1, "corrupt_rows": 1}
    assert doc["results"] == first["results"]
    doc, _ = scan_json(models_dir, [images["white"], images["black"]], "--models", "bright")
    assert doc["summary"]["cache"]["hits"] == 2 and doc["summary"]["cache"]["corrupt_rows"] == 0


@pytest.mark.parametrize("damage", ["truncate", "garbage"])
def test_damaged_database_is_moved_aside_and_rebuilt(models_dir, images, damage):
    paths = [images["white"], images["black"], images["red"]]
    first, _ = scan_json(models_dir, paths, "--models", "trio")
    db = cache_db()
    with sqlite3.connect(db) as c:  # fold the WAL into the main file so damage hits real pages
        c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = db.stat().st_size
    if damage == "truncate":
        with open(db, "r+b") as f:
            f.truncate(size // 2)
    else:
        db.write_bytes(os.urandom(size))
    doc, r = scan_json(models_dir, paths, "--models", "trio")
    assert "moved aside" in r.stderr and "rebuilt" in r.stderr
    assert doc["summary"]["cache"]["hits"] == 0
    assert doc["results"] == first["results"]
    assert list(db.parent.glob("results.sqlite.corrupt-*"))
    doc, _ = scan_json(models_dir, paths, "--models", "trio")
    assert doc["summary"]["cache"]["hits"] == 3


def test_two_concurrent_scans_share_the_cache(models_dir, tmp_path):
    from tests.conftest import flat

    d = tmp_path / "many"
    d.mkdir()
    for i in range(40):
        flat((i * 6, 255 - i * 6, (i * 37) % 256), (40 + i, 50)).save(d / f"img{i:02d}.png")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    env.pop("SYNTHDETECT_MODELS_DIR", None)
    cmd = [sys.executable, "-m", "synthdetect", "scan", str(d), "--models-dir", str(models_dir), "--models", "trio",
           "-f", "jsonl", "--no-progress", "--batch-size", "2"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)
             for _ in range(2)]
    outs = [p.communicate(timeout=180) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
        assert "warning" not in err
    res = [[json.loads(ln) for ln in out.splitlines() if '"type":"result"' in ln] for out, _ in outs]
    assert len(res[0]) == 40 and res[0] == res[1]
    with sqlite3.connect(cache_db()) as c:
        assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert c.execute("SELECT COUNT(*) FROM records").fetchone()[0] == 40
    third = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, timeout=120)
    summary = json.loads(third.stdout.splitlines()[-1])
    assert summary["cache"]["hits"] == 40
    assert [json.loads(ln) for ln in third.stdout.splitlines() if '"type":"result"' in ln] == res[0]


def test_fingerprint_covers_every_card_field_and_option(models_dir):
    import dataclasses

    from synthdetect.scan.cache import fingerprint, plan_description
    from synthdetect.cards import Registry
    from synthdetect.scan.pipeline import resolve_plan

    reg = Registry([models_dir])
    plan = resolve_plan(reg, ["trio"])
    base = fingerprint(plan_description(plan, ["CPUExecutionProvider"], True))
    assert base == fingerprint(plan_description(resolve_plan(reg, ["trio"]), ["CPUExecutionProvider"], True))
    variants = [
        plan_description(plan, ["CPUExecutionProvider"], False),
        plan_description(plan, ["CUDAExecutionProvider", "CPUExecutionProvider"], True),
        plan_description(resolve_plan(reg, ["trio"], threshold=0.4), ["CPUExecutionProvider"], True),
        plan_description(resolve_plan(reg, ["trio"], method="mean"), ["CPUExecutionProvider"], True),
    ]
    c0 = plan.cards[0]
    for change in ({"sha256": "0" * 64}, {"inconclusive_margin": 0.1}, {"extra": {"probe": "x"}},
                   {"input": dataclasses.replace(c0.input, size=c0.input.size + 1)}):
        p2 = dataclasses.replace(plan, cards=[dataclasses.replace(c0, **change), *plan.cards[1:]])
        variants.append(plan_description(p2, ["CPUExecutionProvider"], True))
    fps = {fingerprint(v) for v in variants}
    assert base not in fps and len(fps) == len(variants)


def test_records_do_not_depend_on_batch_size(images, tmp_path):
    """Batch size is not in the cache key: check that it changes no number (bundled models)."""
    weights = REPO / "weights"
    if not (weights / "default.ensemble.json").exists():
        pytest.skip("bundled weights absent")
    ex = sorted((REPO / "examples" / "images").glob("*.*"))
    paths = [p for p in ex if p.suffix.lower() in (".jpg", ".png", ".webp", ".avif")]
    a, _ = scan_json(weights, paths, "--models", "default", "-b", "1", "--no-cache")
    b, _ = scan_json(weights, paths, "--models", "default", "-b", "16", "--no-cache")
    assert a["results"] == b["results"]


def test_unusable_cache_directory_scans_without_cache(models_dir, images, tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache directory should be")
    monkeypatch.setenv("SYNTHDETECT_CACHE_DIR", str(blocker / "sub"))
    doc, r = scan_json(models_dir, [images["white"]], "--models", "bright")
    assert r.exit_code == 0
    assert "result cache unavailable" in r.stderr
    assert doc["options"]["cache"] is False and doc["results"][0]["verdict"] == "synthetic"
    assert blocker.read_text().startswith("a file")  # nothing moved aside or overwritten


def test_adding_a_provenance_analyzer_invalidates_the_cache(models_dir, images, monkeypatch):
    """Issue 18 item 10: the analyzers are part of the key; a new one is never answered from stale records."""
    from synthdetect.provenance import sources
    from synthdetect.provenance.base import Analyzer, Findings

    class Toy(Analyzer):
        name = "toy"
        empty = {"toy": None}

        def analyze(self, ctx):
            return Findings(fields={"toy": len(ctx.data)})

    first, _ = scan_json(models_dir, [images["white"]], "--models", "bright")
    assert "toy" not in first["results"][0]["provenance"]
    monkeypatch.setattr(sources, "ANALYZERS", [*sources.ANALYZERS, Toy()])
    doc, _ = scan_json(models_dir, [images["white"]], "--models", "bright")
    assert doc["summary"]["cache"]["hits"] == 0 and doc["summary"]["cache"]["misses"] == 1
    assert doc["results"][0]["provenance"]["toy"] == images["white"].stat().st_size
    again, _ = scan_json(models_dir, [images["white"]], "--models", "bright")
    assert again["summary"]["cache"]["hits"] == 1 and again["results"] == doc["results"]


def _open_cache(directory, barrier, results):
    from synthdetect.scan.cache import ResultCache

    try:
        barrier.wait(timeout=60)  # a sibling that never starts breaks the barrier instead of hanging the rest
        c = ResultCache(directory)
        results.put("moved" if c.rebuilt_from else "ok")
    except Exception as e:  # noqa: BLE001 - the test counts every failure
        results.put(f"{type(e).__name__}: {e}")


def test_scans_creating_the_cache_at_the_same_moment_all_open_it(tmp_path):
    """Six processes opening a cache that does not exist yet, at once (10 rounds): switching the new
    file to WAL raced ("database is locked", about 1 open in 20 before the retry).

    The children come from a forkserver, not a fork of this process: by this point the test process
    holds onnxruntime and sqlite threads, a forked child can inherit one of their locks held and hang
    (it did once in CI, and the hung, non-daemon children then kept pytest from exiting). Daemon
    children, killed if they outlive the round, can never hold the run open."""
    import multiprocessing as mp
    import queue

    ctx = mp.get_context("forkserver")
    got = []
    for r in range(10):
        barrier, results = ctx.Barrier(6), ctx.Queue()
        procs = [ctx.Process(target=_open_cache, args=(tmp_path / f"c{r}", barrier, results), daemon=True)
                 for _ in range(6)]
        try:
            for p in procs:
                p.start()
            for _ in procs:
                try:
                    got.append(results.get(timeout=60))
                except queue.Empty:
                    got.append("no answer within 60 s")
        finally:
            for p in procs:
                p.join(5)
                if p.is_alive():
                    p.kill()
                    p.join(5)
    assert got == ["ok"] * 60, [g for g in got if g != "ok"]


def test_inference_code_digest_follows_the_scan_code_not_the_training_code(tmp_path):
    """A code change without a version bump never serves records made by the old code; the
    PyTorch side (train/) is not part of a scan and does not invalidate it."""
    from synthdetect.scan.cache import inference_code_digest

    pkg = tmp_path / "synthdetect"
    shutil.copytree(REPO / "synthdetect", pkg, ignore=shutil.ignore_patterns("__pycache__"))
    base = inference_code_digest(pkg)
    assert base == inference_code_digest() and len(base) == 64
    (pkg / "train" / "loop.py").write_text((pkg / "train" / "loop.py").read_text() + "\n# edit\n")
    assert inference_code_digest(pkg) == base
    gate = pkg / "inputs" / "quality.py"
    gate.write_text(gate.read_text() + "\n# edit\n")
    assert inference_code_digest(pkg) != base


def test_changed_inference_code_recomputes(models_dir, images, monkeypatch):
    from synthdetect.scan import cache

    scan_json(models_dir, [images["white"]], "--models", "bright")
    again, _ = scan_json(models_dir, [images["white"]], "--models", "bright")
    assert again["summary"]["cache"]["hits"] == 1
    monkeypatch.setattr(cache, "inference_code_digest", lambda root=None: "0" * 64)
    doc, _ = scan_json(models_dir, [images["white"]], "--models", "bright")
    assert doc["summary"]["cache"]["hits"] == 0 and doc["summary"]["cache"]["misses"] == 1


@pytest.mark.parametrize("first", ["json", "html"])
def test_html_page_is_the_same_whichever_format_filled_the_cache(models_dir, images, tmp_path, first):
    """A hit gets its thumbnail (re-read, SHA-256 checked) when the scan makes them; stored rows never hold one."""
    from tests.support import cli

    paths = [images["white"], images["black"], images["red"]]
    args = ["--models-dir", models_dir, "--models", "bright", "--no-progress"]
    assert cli(["scan", *paths, *args, "-f", first, "-o", tmp_path / f"first.{first}"]).exit_code == 0
    page = tmp_path / "page.html"
    r = cli(["scan", *paths, *args, "-f", "html", "-o", page])
    assert r.exit_code == 0, r.output
    assert page.read_text().count("data:image/jpeg;base64") == 3
    doc, _ = scan_json(models_dir, paths, "--models", "bright")
    assert doc["summary"]["cache"]["hits"] == 3 and not any("_thumbnail" in x for x in doc["results"])
    with sqlite3.connect(cache_db()) as db:
        rows = [r[0] for r in db.execute("select record from records")]
    assert rows and not any(b"_thumbnail" in (r if isinstance(r, bytes) else r.encode()) for r in rows)
