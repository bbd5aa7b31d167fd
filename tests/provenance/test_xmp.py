"""XMP sources: the packet summary, DigitalSourceType declarations, malformed and hostile packets."""

from __future__ import annotations

import pytest

from synthdetect.provenance import analyze

from . import provenance_builders as B
from .helpers import has_note, timed


@pytest.mark.parametrize("element_form", [False, True])
def test_xmp_digital_source_type_jpeg(write, element_form):
    pkt = B.xmp_packet(dst="trainedAlgorithmicMedia", element_form=element_form)
    r = analyze(write("x.jpg", B.jpeg_bytes(segments=[(0xE1, B.XMP_SIG + pkt)])))
    assert r["xmp"]["present"] and r["xmp"]["digital_source_type"].endswith("/trainedAlgorithmicMedia")
    assert r["verdict_hint"] == "synthetic"
    assert any("XMP Iptc4xmpExt:DigitalSourceType trainedAlgorithmicMedia" in e for e in r["ai_evidence"])


def test_xmp_in_webp_and_png(write):
    pkt = B.xmp_packet(dst="compositeWithTrainedAlgorithmicMedia", creator_tool="Adobe Photoshop 25.9")
    r = analyze(write("x.webp", B.webp_bytes(xmp=pkt)))
    assert r["xmp"]["creator_tool"] == "Adobe Photoshop 25.9" and r["verdict_hint"] == "synthetic"
    r2 = analyze(write("x.png", B.png_bytes([B.itxt_chunk("XML:com.adobe.xmp", pkt.decode())])))
    assert r2["xmp"]["digital_source_type"].endswith("compositeWithTrainedAlgorithmicMedia")
    assert r2["software_generator"] == []     # Photoshop is not a generator


def test_xmp_digital_capture_is_not_ai(write):
    pkt = B.xmp_packet(dst="digitalCapture", creator_tool="Adobe Lightroom Classic 13.0")
    r = analyze(write("cap.jpg", B.jpeg_bytes(segments=[(0xE1, B.XMP_SIG + pkt)])))
    assert r["xmp"]["digital_source_type"].endswith("digitalCapture")
    assert r["verdict_hint"] is None


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

