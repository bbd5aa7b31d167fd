"""Software-string source: known generator names in Software-like EXIF/XMP fields."""

from __future__ import annotations

import pytest

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

