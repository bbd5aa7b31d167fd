"""Malformed metadata: a note, no exception, bounded time (a correctness bound, not a benchmark)."""

from __future__ import annotations

import json
import time
import zlib

import pytest

from . import provenance_builders as B
from synthdetect import provenance
from synthdetect.provenance import analyze

BOUND_S = 5.0

# Pillow prints its own warnings about the deliberately corrupt EXIF; the notes are what we test.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:PIL.TiffImagePlugin")


def timed(p, **kw):
    t0 = time.monotonic()
    r = analyze(p, **kw)
    dt = time.monotonic() - t0
    assert dt < BOUND_S, f"analyze took {dt:.1f} s"
    json.dumps(r)
    return r


def has_note(r, *words):
    return any(all(w.lower() in n.lower() for w in words) for n in r["notes"])


def test_truncated_xmp_salvaged(write):
    pkt = B.xmp_packet(dst="trainedAlgorithmicMedia", creator_tool="X")
    cut = pkt[: pkt.index(b"</rdf:Description>") - 2]     # unclosed elements
    r = timed(write("tx.jpg", B.jpeg_bytes(segments=[(0xE1, B.XMP_SIG + cut)])))
    assert has_note(r, "truncated XMP") or has_note(r, "malformed")
    assert r["xmp"]["salvaged"] is True
    assert r["verdict_hint"] == "synthetic"
    assert any("salvaged" in e for e in r["ai_evidence"])


def test_xmp_entity_bomb_not_expanded(write):
    bomb = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
            + b"".join(b'<!ENTITY %c "&%c;&%c;&%c;&%c;&%c;&%c;&%c;&%c;&%c;&%c;">' % ((98 + i,) + (97 + i,) * 10)
                       for i in range(8))
            + b']><x:xmpmeta xmlns:x="adobe:ns:meta/">&i;</x:xmpmeta>')
    r = timed(write("bomb.jpg", B.jpeg_bytes(segments=[(0xE1, B.XMP_SIG + bomb)])))
    assert has_note(r, "DTD")


def test_bogus_jumbf_app11(write):
    bogus = b"JP" + b"\x00\x01" + b"\x00\x00\x00\x01" + b"\xff\xff\xff\xf0jumb" + b"\x00" * 20 + b"c2pa" + b"\x13" * 40
    r = timed(write("j.jpg", B.jpeg_bytes(segments=[(0xEB, bogus)])))
    c = r["c2pa"]
    assert (c.get("present") is False and has_note(r, "JUMBF")) or c.get("validation_state") in ("unreadable", "unknown")
    assert r["notes"]
    assert r["verdict_hint"] is None


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


def test_exif_loop_and_bad_offsets_jpeg(write):
    r = timed(write("loop.jpg", B.jpeg_bytes(segments=[(0xE1, b"Exif\x00\x00" + B.looping_exif())])))
    assert has_note(r, "IFD loop")
    assert has_note(r, "bad offset")
    assert has_note(r, "outside")


def test_exif_loop_webp(write):
    r = timed(write("loop.webp", B.webp_bytes(exif=B.looping_exif())))
    assert has_note(r, "IFD loop")


def test_truncated_png_and_jpeg(write):
    png = B.png_bytes([B.text_chunk("parameters", "Steps: 20, Sampler: Euler a")])
    r = timed(write("t.png", png[:-30]))
    assert has_note(r, "truncated") or has_note(r, "IEND")
    jpg = bytearray(B.jpeg_bytes(segments=[(0xFE, b"hello")]))
    jpg[4:6] = b"\xff\xf0"                                     # COM length beyond file end
    r2 = timed(write("t.jpg", bytes(jpg)))
    assert has_note(r2, "truncated")


def test_garbage_and_empty_and_directory(write, tmp_path):
    assert has_note(timed(write("g.jpg", b"\xff\xd8\xff" + b"\x00" * 100)), "marker")
    assert has_note(timed(write("e.png", b"")), "empty")
    r = timed(tmp_path)
    assert r["readable"] is False and has_note(r, "cannot read")
    r = timed(write("rnd.bin", bytes((i * 97) % 251 for i in range(50000))))
    assert r["verdict_hint"] is None


def test_guard_abandons_slow_stage():
    notes = []
    t0 = time.monotonic()
    ok, val = provenance._guarded(lambda: time.sleep(30), "c2pa", provenance._Budget(0.3), notes)
    assert not ok and val is None and time.monotonic() - t0 < 2
    assert "exceeded its time budget" in notes[0]
    notes = []
    ok, _ = provenance._guarded(lambda: 1 / 0, "exifread", provenance._Budget(5), notes)
    assert not ok and "ZeroDivisionError" in notes[0]


def test_seeded_mutation_fuzz(write, chain_es256):
    """Random byte damage to annotated files: never an internal abort, always bounded."""
    import random

    chain, key, _ = chain_es256
    seeds = [
        B.c2pa_sign(B.jpeg_bytes(exif=B.camera_exif()), "image/jpeg", chain, key),
        B.c2pa_sign(B.png_bytes([B.text_chunk("parameters", "x\nSteps: 20, Sampler: Euler")]), "image/png",
                    chain, key),
        B.webp_bytes(exif=B.camera_exif(), xmp=B.xmp_packet(dst="trainedAlgorithmicMedia")),
        B.jpeg_bytes(segments=[(0xE1, B.XMP_SIG + B.xmp_packet(dst="trainedAlgorithmicMedia"))]),
    ]
    rng = random.Random(20261128)
    for i in range(60):
        d = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 12)):
            op = rng.random()
            pos = rng.randrange(len(d))
            if op < 0.7:
                d[pos] = rng.randrange(256)
            elif op < 0.85:
                del d[pos:pos + rng.randint(1, 400)]
            else:
                d[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
        r = timed(write(f"fz{i}.bin", bytes(d)))
        assert not any("aborted" in n for n in r["notes"]), r["notes"]


def test_xmp_is_parsed_by_defusedxml_which_refuses_dtds_in_the_body():
    import defusedxml.ElementTree

    from synthdetect.provenance import _xmp

    assert _xmp._safe_fromstring is defusedxml.ElementTree.fromstring
    # no x:xmpmeta / rdf:RDF root: the DTD stays in the parsed body and defusedxml refuses it
    props, notes = _xmp.parse_xmp(b'<!DOCTYPE r [<!ENTITY a "x">]><r xmlns:xmp="http://ns.adobe.com/xap/1.0/" '
                                  b'xmp:CreatorTool="&a;"/>')
    assert any("DTD" in n for n in notes)
    assert props.get("xmp:CreatorTool") == ["&a;"]  # salvaged as written, the entity never expanded
    # external entity (XXE) in the body: refused, nothing read from the file system
    props, notes = _xmp.parse_xmp(b'<!DOCTYPE r [<!ENTITY e SYSTEM "file:///etc/passwd">]><r>&e;</r>')
    assert any("DTD" in n for n in notes) and not any("root:" in v for vs in props.values() for v in vs)
    # a well-formed packet still parses
    props, notes = _xmp.parse_xmp(b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
                                  b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
                                  b'xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:CreatorTool="GIMP"/></rdf:RDF>'
                                  b'</x:xmpmeta>')
    assert props == {"xmp:CreatorTool": ["GIMP"]} and notes == []
