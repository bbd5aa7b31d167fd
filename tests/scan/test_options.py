"""synthdetect/scan/options.py: one frozen value for a scan's settings, checked in one place."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from synthdetect.inputs.pool import default_workers
from synthdetect.scan.options import ClusterOptions, ScanOptions, ScanSetupError

PKG = Path(__file__).resolve().parents[2] / "synthdetect"


@pytest.mark.parametrize("kw, message", [
    ({"batch_size": 0}, "--batch-size must be >= 1"),
    ({"batch_size": -3}, "--batch-size must be >= 1"),
    ({"workers": -1}, "--workers must be >= 1"),
    ({"device": "tpu"}, "unknown device 'tpu' (choose from auto, cpu, cuda)"),
    ({"domain_check": "strictly"}, "domain check must be one of enforce, strict, warn, off, not 'strictly'"),
])
def test_bad_values_are_refused_when_the_options_are_made(kw, message):
    with pytest.raises(ScanSetupError) as e:
        ScanOptions(**kw)
    assert str(e.value) == message


def test_defaults_and_the_worker_default_resolved_once(monkeypatch):
    o = ScanOptions()
    assert (o.device, o.batch_size, o.workers, o.threads) == ("auto", 16, None, None)
    assert (o.provenance, o.thumbnails, o.quality_gates, o.domain_check) == (True, False, True, "enforce")
    assert o.decode_workers == default_workers()
    calls = []
    import synthdetect.scan.options as mod

    monkeypatch.setattr(mod, "default_workers", lambda: calls.append(1) or 3)
    o = ScanOptions()
    assert o.decode_workers == 3 and calls == [1]
    o.decode_workers, o.decode_workers  # noqa: B018  (read twice: not recomputed)
    assert calls == [1]
    assert ScanOptions(workers=2).decode_workers == 2 and calls == [1]  # asked for: no default needed


def test_frozen_and_replace_checks_again():
    o = ScanOptions(batch_size=4)
    with pytest.raises(dataclasses.FrozenInstanceError):
        o.batch_size = 8  # type: ignore[misc]
    assert dataclasses.replace(o, workers=5).decode_workers == 5
    with pytest.raises(ScanSetupError):
        dataclasses.replace(o, batch_size=0)
    assert ScanOptions(batch_size=4) == o and hash(ScanOptions(batch_size=4)) == hash(o)


def test_ray_actors_get_the_scan_options_with_their_own_threads():
    from synthdetect.scan.engines.ray_engine import actor_options

    o = ScanOptions(device="cpu", batch_size=3, provenance=False, thumbnails=True, quality_gates=False,
                    domain_check="warn")
    a = actor_options(o, ClusterOptions(cpus_per_actor=2.0))
    assert (a.device, a.batch_size, a.provenance, a.quality_gates, a.domain_check) == ("cpu", 3, False, False, "warn")
    assert a.workers == 2 and a.threads == 2 and a.thumbnails is False  # as before the options object
    assert actor_options(ScanOptions(workers=5), ClusterOptions()).decode_workers == 5


def test_the_checks_live_in_one_module():
    """The settings' error messages are written once, in scan/options.py (not again in the engines or the CLI)."""
    needles = ["--batch-size must be >= 1", "--workers must be >= 1", "domain check must be one of",
               "(choose from {', '.join(DEVICES)})"]
    where = {n: sorted(str(p.relative_to(PKG)) for p in PKG.rglob("*.py") if n in p.read_text()) for n in needles}
    for n in needles[:3]:
        assert where[n] == ["scan/options.py"], where
    # the session loader keeps its own guard for library callers that bypass ScanOptions (probes, evaluation)
    assert where["(choose from {', '.join(DEVICES)})"] == ["scan/options.py", "scan/runtime.py"], where
