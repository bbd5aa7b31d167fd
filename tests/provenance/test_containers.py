"""Container walk: oversized, binary, compressed-bomb and truncated chunks become notes, in bounded time."""

from __future__ import annotations

import zlib

from . import provenance_builders as B
from .helpers import has_note, timed


def test_huge_binary_text_chunk(write):
    blob = bytes(range(256)) * (10 * 1024 * 1024 // 256)       # 10 MB binary
    chunk = (b"tEXt", b"parameters\x00" + blob)
    r = timed(write("big.png", B.png_bytes([chunk])))
    assert has_note(r, "binary") and has_note(r, "oversized")
    assert r["verdict_hint"] is None          # garbage under a generator key is not evidence


def test_ztxt_decompression_bomb_capped(write):
    raw = b"A" * (64 * 1024 * 1024)
    chunk = (b"zTXt", b"Comment\x00\x00" + zlib.compress(raw, 9))
    r = timed(write("zb.png", B.png_bytes([chunk])))
    assert has_note(r, "exceeds")


def test_truncated_png_and_jpeg(write):
    png = B.png_bytes([B.text_chunk("parameters", "Steps: 20, Sampler: Euler a")])
    r = timed(write("t.png", png[:-30]))
    assert has_note(r, "truncated") or has_note(r, "IEND")
    jpg = bytearray(B.jpeg_bytes(segments=[(0xFE, b"hello")]))
    jpg[4:6] = b"\xff\xf0"                                     # COM length beyond file end
    r2 = timed(write("t.jpg", bytes(jpg)))
    assert has_note(r2, "truncated")

