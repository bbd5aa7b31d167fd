"""Analyzer plumbing: the per-stage time guard."""

from __future__ import annotations

import time

from synthdetect.provenance import base


def test_guard_abandons_slow_stage():
    notes = []
    t0 = time.monotonic()
    ok, val = base.guarded(lambda: time.sleep(30), "c2pa", base.Budget(0.3), notes)
    assert not ok and val is None and time.monotonic() - t0 < 2
    assert "exceeded its time budget" in notes[0]
    notes = []
    ok, _ = base.guarded(lambda: 1 / 0, "exifread", base.Budget(5), notes)
    assert not ok and "ZeroDivisionError" in notes[0]



def test_notes_of_a_non_image_are_reproducible(tmp_path):
    """A parser's message naming an object address (Pillow: '<_io.BytesIO object at 0x7f...>') is written
    without it, so two analyses of the same file give the same record."""
    from synthdetect.provenance import analyze

    p = tmp_path / "notimage.jpg"
    p.write_bytes(b"hello, not an image\n")
    a, b = analyze(p), analyze(p)
    assert a["notes"] == b["notes"] and a["notes"]
    assert not any(" at 0x" in n for n in a["notes"])
