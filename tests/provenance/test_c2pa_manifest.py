"""C2PA source: manifests signed here with a self-made CA chain (c2pa-python, no network, no TSA)."""

from __future__ import annotations

import hashlib
import json

import pytest

from synthdetect.provenance import analyze

from . import provenance_builders as B
from .helpers import has_note, timed


@pytest.mark.parametrize("fmt,mime", [("jpg", "image/jpeg"), ("png", "image/png")])
def test_signed_trained_algorithmic_media(write, chain_es256, fmt, mime):
    chain, key, _ca = chain_es256
    src = B.jpeg_bytes() if fmt == "jpg" else B.png_bytes()
    p = write(f"firefly.{fmt}", B.c2pa_sign(src, mime, chain, key))
    r = analyze(p)
    json.dumps(r)
    c = r["c2pa"]
    assert c["present"] is True
    assert c["validation_state"] == "valid"          # good signature, CA not on a trust list
    assert c["signature_valid"] is True
    assert c["claim_generator"].startswith("Adobe Firefly")
    assert c["signer"] == "synthdetect test signer"
    assert c["issuer"] == "synthdetect tests"
    assert [a["action"] for a in c["actions"]] == ["c2pa.created", "c2pa.resized"]
    assert c["digital_source_types"] == [B.IPTC_DST + "trainedAlgorithmicMedia"]
    assert r["verdict_hint"] == "synthetic"
    assert len(r["ai_evidence"]) == 1
    ev = r["ai_evidence"][0]
    assert "trainedAlgorithmicMedia" in ev and "Adobe Firefly" in ev and "signature valid" in ev


def test_ps256_signed_jpeg(write, chain_ps256):
    chain, key, _ = chain_ps256
    p = write("ps.jpg", B.c2pa_sign(B.jpeg_bytes(), "image/jpeg", chain, key, alg="ps256"))
    r = analyze(p)
    assert r["c2pa"]["validation_state"] == "valid"
    assert r["c2pa"]["signature_alg"].lower() == "ps256"
    assert r["verdict_hint"] == "synthetic"


def test_trust_anchor_makes_it_trusted(write, chain_es256, monkeypatch, tmp_path):
    chain, key, ca = chain_es256
    p = write("t.jpg", B.c2pa_sign(B.jpeg_bytes(), "image/jpeg", chain, key))
    r = analyze(p, trust_anchors_pem=ca.decode())
    assert r["c2pa"]["validation_state"] == "trusted"
    assert "certificate trusted" in r["ai_evidence"][0]
    anchors = tmp_path / "anchors.pem"
    anchors.write_bytes(ca)
    monkeypatch.setenv("SYNTHDETECT_C2PA_TRUST_ANCHORS", str(anchors))
    assert analyze(p)["c2pa"]["validation_state"] == "trusted"


def test_tampered_pixels_invalid_but_still_evidence(write, chain_es256):
    chain, key, _ = chain_es256
    signed = bytearray(B.c2pa_sign(B.jpeg_bytes(), "image/jpeg", chain, key))
    for i in range(len(signed) - 300, len(signed) - 200):     # inside the entropy-coded scan
        signed[i] ^= 0x5A
    p = write("tampered.jpg", bytes(signed))
    r = analyze(p)
    assert r["c2pa"]["validation_state"] == "invalid"
    assert any("dataHash.mismatch" in e for e in r["c2pa"]["errors"])
    # policy: a claim of AI origin counts even when validation fails, labelled as such
    assert r["verdict_hint"] == "synthetic"
    assert "invalid" in r["ai_evidence"][0].lower()
    assert any("dataHash.mismatch" in n for n in r["notes"])


def test_digital_capture_manifest_is_not_ai(write, chain_es256):
    chain, key, _ = chain_es256
    p = write("cam.jpg", B.c2pa_sign(B.jpeg_bytes(), "image/jpeg", chain, key,
                                      dst="digitalCapture", generator="TestCam"))
    r = analyze(p)
    assert r["c2pa"]["present"] and r["c2pa"]["digital_source_types"] == [B.IPTC_DST + "digitalCapture"]
    assert r["verdict_hint"] is None and r["ai_evidence"] == []


def test_composite_counts_algorithmic_media_does_not(write, chain_es256):
    chain, key, _ = chain_es256
    p = write("comp.png", B.c2pa_sign(B.png_bytes(), "image/png", chain, key,
                                       dst="compositeWithTrainedAlgorithmicMedia"))
    r = analyze(p)
    assert r["verdict_hint"] == "synthetic"
    assert "compositeWithTrainedAlgorithmicMedia" in r["ai_evidence"][0]
    p2 = write("fractal.png", B.c2pa_sign(B.png_bytes(seed=3), "image/png", chain, key,
                                           dst="algorithmicMedia", generator="Fractal Studio"))
    r2 = analyze(p2)
    assert r2["verdict_hint"] is None
    assert any("algorithmicMedia" in n and "not counted" in n for n in r2["notes"])


def test_evidence_file_not_modified(write, chain_es256):
    chain, key, _ = chain_es256
    p = write("keep.jpg", B.c2pa_sign(B.jpeg_bytes(), "image/jpeg", chain, key))
    before = (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
    analyze(p)
    assert (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns) == before


def test_max_bytes_truncation_reported(write, chain_es256):
    chain, key, _ = chain_es256
    data = B.c2pa_sign(B.jpeg_bytes(), "image/jpeg", chain, key)
    p = write("big.jpg", data)
    r = analyze(p, max_bytes=len(data) - 1000)
    assert r["bytes_read"] == len(data) - 1000
    assert any("larger than max_bytes" in n for n in r["notes"])
    # the manifest (at the start of the file) is still read, but hashes cannot be trusted
    assert r["c2pa"]["present"] and r["c2pa"]["validation_state"] in ("unknown", "invalid")


def test_bogus_jumbf_app11(write):
    bogus = b"JP" + b"\x00\x01" + b"\x00\x00\x00\x01" + b"\xff\xff\xff\xf0jumb" + b"\x00" * 20 + b"c2pa" + b"\x13" * 40
    r = timed(write("j.jpg", B.jpeg_bytes(segments=[(0xEB, bogus)])))
    c = r["c2pa"]
    assert (c.get("present") is False and has_note(r, "JUMBF")) or c.get("validation_state") in ("unreadable", "unknown")
    assert r["notes"]
    assert r["verdict_hint"] is None

