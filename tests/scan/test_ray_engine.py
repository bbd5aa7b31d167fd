"""`scan --engine ray`: a local Ray instance gives the local engine's records, in input order."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
VAL = REPO.parent / "shared" / "data" / "val-inthewild"

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("isolated_registry")]


@pytest.fixture(scope="module")
def ray_local():
    ray = pytest.importorskip("ray")
    pytest.importorskip("ray.data")
    from synthdetect.scan.engines.ray_engine import runtime_env

    if ray.is_initialized():
        ray.shutdown()
    ray.init(num_cpus=2, include_dashboard=False, runtime_env=runtime_env(), log_to_driver=False)
    try:
        yield ray
    finally:
        ray.shutdown()
        assert not ray.is_initialized()


def _evidence(tmp_path, images) -> list[Path]:
    bad = tmp_path / "evidence" / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 truncated")
    empty = tmp_path / "evidence" / "empty.png"
    empty.write_bytes(b"")
    copy = tmp_path / "evidence" / "white copy.png"  # same content under another name
    copy.write_bytes(images["white"].read_bytes())
    files = [images["white"], bad, images["black"], images["red"], empty, copy]
    if VAL.is_dir():
        real = sorted((VAL / "0_real").glob("*"))[:3]
        fake = sorted((VAL / "1_fake").glob("*"))[:3]
        files += [p for pair in zip(real, fake) for p in pair]
    return files


def test_ray_records_equal_local_records(ray_local, tmp_path, images):
    from synthdetect.cards import Registry
    from synthdetect.scan.engines.ray_engine import RayEngine
    from synthdetect.scan.options import ClusterOptions, ScanOptions
    from synthdetect.scan.pipeline import Scanner, resolve_plan

    files = _evidence(tmp_path, images)
    weights = REPO / "weights"
    reg = Registry([weights])
    plan = resolve_plan(reg)  # the bundled default ensemble
    local = list(Scanner(plan, ScanOptions(device="cpu", batch_size=4)).scan(files))
    eng = RayEngine(plan, ScanOptions(device="cpu", batch_size=4), ClusterOptions(files_per_call=3))
    assert not eng.started_ray  # it joined the running instance
    remote = list(eng.scan(files))
    assert [r["path"] for r in remote] == [str(p) for p in files]
    assert remote == local
    errs = [r for r in remote if r["error"]]
    assert len(errs) == 2 and all(r["verdict"] is None for r in errs)


def test_ray_engine_with_result_cache(ray_local, models_dir, images):
    from synthdetect.scan.cache import ScanCache
    from synthdetect.cards import Registry
    from synthdetect.scan.engines.ray_engine import RayEngine
    from synthdetect.scan.options import ClusterOptions, ScanOptions
    from synthdetect.scan.pipeline import Scanner, resolve_plan, run_scan

    plan = resolve_plan(Registry([models_dir]), ["trio"])
    sc = Scanner(plan, ScanOptions(device="cpu", batch_size=2))
    eng = RayEngine(plan, ScanOptions(device="cpu", batch_size=2), ClusterOptions(files_per_call=2))
    paths = [str(images[k]) for k in ("white", "black", "red")]
    cache = ScanCache.for_scanner(sc)
    first = run_scan(paths, plan, scanner=sc, cache=cache, engine=eng.scan)
    assert cache.stats.misses == 3 and cache.stats.stored == 3
    cache2 = ScanCache.for_scanner(sc)
    second = run_scan(paths, plan, scanner=sc, cache=cache2, engine=eng.scan)
    assert cache2.stats.hits == 3
    assert first.records == second.records == run_scan(paths, plan, scanner=sc).records


def test_cli_engine_ray_jsonl_equals_local(tmp_path, images):
    """The CLI starts (and stops) its own local Ray instance."""
    pytest.importorskip("ray")
    files = _evidence(tmp_path, images)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    env.pop("SYNTHDETECT_MODELS_DIR", None)
    env.pop("RAY_ADDRESS", None)
    base = [sys.executable, "-m", "synthdetect", "scan", "-", "--models-dir", str(REPO / "weights"),
            "-f", "jsonl", "--no-progress", "--no-cache", "--device", "cpu"]
    stdin = "\n".join(map(str, files)) + "\n"
    loc = subprocess.run(base, input=stdin, capture_output=True, text=True, env=env, cwd=REPO, timeout=300)
    ray = subprocess.run(base + ["--engine", "ray"], input=stdin, capture_output=True, text=True, env=env,
                         cwd=REPO, timeout=300)
    assert loc.returncode == ray.returncode == 3, ray.stderr[-3000:]  # two unreadable inputs

    def results(out):
        return [ln for ln in out.splitlines() if ln.startswith('{"type":"result"')]

    assert len(results(loc.stdout)) == len(files)
    assert results(ray.stdout) == results(loc.stdout)  # byte-identical records, same order
    head = json.loads(ray.stdout.splitlines()[0])
    assert head["options"]["engine"] == "ray"


def test_address_needs_engine_ray(models_dir, images):
    from typer.testing import CliRunner

    from synthdetect.cli import app

    r = CliRunner().invoke(app, ["scan", str(images["white"]), "--models-dir", str(models_dir), "--address", "x:1"])
    assert r.exit_code == 2 and "--engine ray" in r.stderr


def test_engine_ray_without_ray_is_a_usage_error(models_dir, images, monkeypatch):
    import builtins

    from typer.testing import CliRunner

    from synthdetect.cli import app

    real_import = builtins.__import__

    def no_ray(name, *a, **k):
        if name == "ray" or name.startswith("ray."):
            raise ImportError("No module named 'ray'")
        return real_import(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    r = CliRunner().invoke(app, ["scan", str(images["white"]), "--models-dir", str(models_dir), "--engine", "ray",
                                 "--no-cache"])
    assert r.exit_code == 2 and "pip install 'synthdetect[ray]'" in r.stderr


def test_ray_records_carry_features_for_the_domain_check(ray_local, tmp_path, images):
    """Remote records bring their feature vectors back, so the batch domain check after the scan
    reads the same as with the local engine."""
    from synthdetect.cards import Registry
    from synthdetect.scan.domain_check import FEATURES_KEY
    from synthdetect.scan.engines.ray_engine import RayEngine
    from synthdetect.scan.options import ClusterOptions, ScanOptions
    from synthdetect.scan.pipeline import Scanner, resolve_plan, run_scan

    if not VAL.is_dir():
        pytest.skip(f"{VAL} absent")
    files = [str(p) for p in sorted((VAL / "0_real").glob("*"))[:6] + sorted((VAL / "1_fake").glob("*"))[:6]]
    plan = resolve_plan(Registry([REPO / "weights"]))
    assert plan.domains, "the bundled default probe carries a domain reference"
    eng = RayEngine(plan, ScanOptions(device="cpu", batch_size=4), ClusterOptions(files_per_call=4))
    remote_raw = list(eng.scan([Path(f) for f in files]))
    assert all(isinstance(r.get(FEATURES_KEY), dict) for r in remote_raw)
    sc = Scanner(plan, ScanOptions(device="cpu", batch_size=4))
    local = run_scan(files, plan, scanner=sc)
    remote = run_scan(files, plan, scanner=sc, engine=eng.scan)
    timeless = [{k: v for k, v in r.summary.domain.items() if k != "elapsed_s"} for r in (remote, local)]
    assert timeless[0] == timeless[1] and local.summary.domain["groups"]
    assert remote.records == local.records
    assert all(FEATURES_KEY not in r for r in remote.records)

