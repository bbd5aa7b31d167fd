"""Software-string source: known generator names in Software-like EXIF/XMP fields."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from synthdetect.provenance import analyze

from . import provenance_builders as B


@pytest.mark.parametrize("software,gen", [("Adobe Firefly", "Adobe Firefly"), ("DALL·E 3", "DALL-E"),
                                          ("Midjourney v6", "Midjourney"), ("Google Imagen 3", "Imagen"),
                                          ("Made with Google AI", "Google AI")])
def test_software_generator_strings(write, software, gen):
    r = analyze(write("s.jpg", B.jpeg_bytes(exif=B.camera_exif(make="", model="", software=software,
                                                              gps=False, lens=None))))
    assert [s["generator"] for s in r["software_generator"]] == [gen]
    assert r["software_generator"][0]["field"] == "EXIF Software"
    assert r["verdict_hint"] == "synthetic"


def test_xmp_creator_tool_generator(write):
    pkt = B.xmp_packet(creator_tool="Midjourney")
    r = analyze(write("m.jpg", B.jpeg_bytes(segments=[(0xE1, B.XMP_SIG + pkt)])))
    assert r["software_generator"][0] == {"field": "XMP CreatorTool", "value": "Midjourney",
                                          "generator": "Midjourney"}



@pytest.mark.parametrize("caption", ["Firefly (Photinus pyralis) glowing at dusk over a meadow",
                                     "Gemini North telescope on Maunakea at sunset",
                                     "Sam Altman, CEO of OpenAI, speaks at a conference",
                                     "Protest against Midjourney and Stable Diffusion in London",
                                     "Made with love in Firefly, Idaho"])
def test_caption_that_mentions_a_generator_is_a_note_not_evidence(write, caption):
    """A news or nature caption names the picture's subject, not the tool that made it: no hint."""
    r = analyze(write("c.jpg", B.jpeg_bytes(exif=B.camera_exif(description=caption))))
    assert r["software_generator"] == [] and r["verdict_hint"] is None
    assert any("EXIF ImageDescription mentions" in n and "not counted" in n for n in r["notes"])


def test_artist_and_credit_names_are_not_evidence_but_credit_lines_are(write):
    ex = Image.Exif()
    ex[0x013B] = "Gemini Studio Photography"  # Artist
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (90, 120, 150)).save(buf, "JPEG", exif=ex.tobytes())
    r = analyze(write("a.jpg", buf.getvalue()))
    assert r["verdict_hint"] is None and r["software_generator"] == []
    pkt = B.xmp_packet(extra="<photoshop:Credit>Photo: Firefly Aerials Ltd</photoshop:Credit>")
    r = analyze(write("n.jpg", B.jpeg_bytes(segments=[(0xE1, B.XMP_SIG + pkt)])))
    assert r["verdict_hint"] is None
    for credit, gen in [("Made with Google AI", "Google AI"), ("Generated with Midjourney v6", "Midjourney"),
                        ("Created with Adobe Firefly", "Adobe Firefly")]:
        pkt = B.xmp_packet(extra=f"<photoshop:Credit>{credit}</photoshop:Credit>")
        r = analyze(write("g.jpg", B.jpeg_bytes(segments=[(0xE1, B.XMP_SIG + pkt)])))
        assert r["verdict_hint"] == "synthetic", credit
        assert r["software_generator"][0]["field"] == "XMP photoshop:Credit" and r["software_generator"][0]["generator"] == gen
