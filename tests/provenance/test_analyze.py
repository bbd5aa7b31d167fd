"""``analyze()``: the result contract, the policy text, files with nothing or garbage in them."""

from __future__ import annotations

import json

import pytest

from synthdetect.provenance import POLICY, analyze

from . import provenance_builders as B
from .helpers import A1111, has_note, mutate, timed

# Pillow prints its own warnings about the deliberately corrupt EXIF; the notes are what we test.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:PIL.TiffImagePlugin")


def test_plain_photo_nothing(write):
    r = analyze(write("plain.jpg", B.jpeg_bytes()))
    assert r["verdict_hint"] is None
    assert r["ai_evidence"] == [] and r["generator_chunks"] == [] and r["software_generator"] == []
    assert r["c2pa"] == {"present": False} and r["xmp"] == {"present": False}
    assert r["notes"] == []
    r2 = analyze(write("plain.png", B.png_bytes([B.text_chunk("Title", "Holiday 2019")])))
    assert r2["verdict_hint"] is None and r2["notes"] == []


def test_result_schema_and_policy():
    assert "trainedAlgorithmicMedia" in POLICY and "INVALID" in POLICY and "weak" in POLICY
    assert "compositeWithTrainedAlgorithmicMedia" in POLICY and "algorithmicMedia" in POLICY


def test_contract_keys_json(write):
    r = analyze(write("k.png", B.png_bytes([B.text_chunk("parameters", A1111)])))
    for k in ("ai_evidence", "verdict_hint", "c2pa", "xmp", "generator_chunks", "exif",
              "software_generator", "camera_evidence", "notes"):
        assert k in r
    for k in ("make", "model", "software", "datetime_original", "lens", "gps_present", "source"):
        assert k in r["exif"]
    assert set(r["generator_chunks"][0]) >= {"tool", "key", "excerpt"}
    assert json.loads(json.dumps(r)) == r


def test_garbage_and_empty_and_directory(write, tmp_path):
    assert has_note(timed(write("g.jpg", b"\xff\xd8\xff" + b"\x00" * 100)), "marker")
    assert has_note(timed(write("e.png", b"")), "empty")
    r = timed(tmp_path)
    assert r["readable"] is False and has_note(r, "cannot read")
    r = timed(write("rnd.bin", bytes((i * 97) % 251 for i in range(50000))))
    assert r["verdict_hint"] is None


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
        r = timed(write(f"fz{i}.bin", mutate(rng.choice(seeds), rng)))
        assert not any("aborted" in n for n in r["notes"]), r["notes"]



def test_short_is_the_first_finding_and_a_count():
    from synthdetect.provenance import short

    assert short({}) == "" and short({"provenance": None}) == ""
    assert short({"provenance": {"error": "OSError: x"}}) == "error"
    assert short({"provenance": {"ai_evidence": []}}) == ""
    assert short({"provenance": {"ai_evidence": ["a"]}}) == "a"
    assert short({"provenance": {"ai_evidence": ["a", "b", "c"]}}) == "a (+2)"


def test_short_matches_the_report_column(write):
    from synthdetect.output import text as report
    from synthdetect.provenance import short

    r = analyze(write("k.png", B.png_bytes([B.text_chunk("parameters", A1111), B.text_chunk("Software", "NovelAI")])))
    rec = {"provenance": r}
    assert short(rec) == report.provenance_short(rec) != ""
