"""EXIF source: camera fields are weak evidence only; damaged EXIF becomes notes."""

from __future__ import annotations

import pytest

from synthdetect.provenance import analyze

from . import provenance_builders as B
from .helpers import A1111, has_note, timed

# Pillow prints its own warnings about the deliberately corrupt EXIF; the notes are what we test.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:PIL.TiffImagePlugin")


@pytest.mark.parametrize("kind", ["jpg", "webp", "heic"])
def test_camera_exif_is_weak_only(write, kind):
    ex = B.camera_exif(software="Adobe Photoshop Lightroom Classic 13.0 (Windows)")
    data = {"jpg": B.jpeg_bytes, "webp": B.webp_bytes, "heic": B.heic_bytes}[kind](exif=ex)
    r = analyze(write(f"cam.{kind}", data))
    e = r["exif"]
    assert (e["make"], e["model"], e["lens"]) == ("Canon", "EOS R5", "RF24-105mm F4 L IS USM")
    assert e["gps_present"] is True and e["datetime_original"] == "2024:05:06 07:08:09"
    assert e["source"] == ("exifread" if kind == "jpg" else "pillow")
    assert any("Canon EOS R5" in c for c in r["camera_evidence"])
    assert any("GPS" in c for c in r["camera_evidence"])
    assert r["verdict_hint"] is None and r["ai_evidence"] == []


def test_camera_exif_does_not_override_generator_chunk(write):
    r = analyze(write("both.png", B.png_bytes([(b"eXIf", B.camera_exif()),
                                              B.text_chunk("parameters", A1111)])))
    assert r["camera_evidence"] and r["verdict_hint"] == "synthetic"


def test_exif_loop_and_bad_offsets_jpeg(write):
    r = timed(write("loop.jpg", B.jpeg_bytes(segments=[(0xE1, b"Exif\x00\x00" + B.looping_exif())])))
    assert has_note(r, "IFD loop")
    assert has_note(r, "bad offset")
    assert has_note(r, "outside")


def test_exif_loop_webp(write):
    r = timed(write("loop.webp", B.webp_bytes(exif=B.looping_exif())))
    assert has_note(r, "IFD loop")

