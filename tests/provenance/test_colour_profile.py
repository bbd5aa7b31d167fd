"""The colour-profile source: an embedded ICC profile read from JPEG / PNG / WebP / TIFF, parsed bounded."""

from __future__ import annotations

import random
import struct

import pytest
from PIL import Image

from synthdetect.provenance import analyze, sections
from synthdetect.provenance.colour_profile import parse
from tests.inputs.icc_builders import DISPLAY_P3, display_profile

from .helpers import mutate, timed

SRGB_PRIMARIES = ((0.64, 0.33), (0.30, 0.60), (0.15, 0.06))
NIKON = display_profile("Nikon sRGB 4.0.0.3001", SRGB_PRIMARIES)


def _image_file(tmp_path, fmt: str, icc: bytes | None, name: str = "img"):
    if fmt == "HEIF":
        import pillow_heif

        pillow_heif.register_heif_opener()
    p = tmp_path / f"{name}.{fmt.lower()}"
    kw = {"icc_profile": icc} if icc is not None else {}
    Image.new("RGB", (32, 24), (120, 80, 40)).save(p, fmt, **kw)
    return p


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "TIFF", "AVIF", "HEIF"])
def test_a_display_p3_profile_is_read_and_named(tmp_path, fmt):
    r = timed(_image_file(tmp_path, fmt, display_profile(**DISPLAY_P3)))
    p = r["colour_profile"]
    assert p["present"] and p["valid"]
    assert (p["description"], p["colour_space"], p["device_class"], p["version"]) == ("Display P3", "RGB", "display",
                                                                                        "2.1")
    assert p["cmm"] == "lcms" and p["bytes"] == len(display_profile(**DISPLAY_P3))
    assert r["camera_evidence"] == [] and r["verdict_hint"] is None and r["notes"] == []


def test_no_profile(tmp_path):
    r = timed(_image_file(tmp_path, "JPEG", None))
    assert r["colour_profile"] == {"present": False}


def test_a_camera_makers_profile_is_weak_camera_evidence_never_ai_evidence(tmp_path):
    r = timed(_image_file(tmp_path, "JPEG", NIKON))
    assert r["colour_profile"]["description"] == "Nikon sRGB 4.0.0.3001"
    assert r["camera_evidence"] == ["colour profile 'Nikon sRGB 4.0.0.3001' is a camera maker's (Nikon) profile "
                                    "(weak: copied with the file)"]
    assert r["verdict_hint"] is None and r["ai_evidence"] == []


def test_an_editors_profile_names_no_camera(tmp_path):
    r = timed(_image_file(tmp_path, "PNG", display_profile("sRGB IEC61966-2.1", SRGB_PRIMARIES)))
    assert r["colour_profile"]["description"] == "sRGB IEC61966-2.1" and r["camera_evidence"] == []


def test_inspect_shows_the_profile(tmp_path):
    r = analyze(_image_file(tmp_path, "JPEG", NIKON))
    titles = {s.title: s for s in sections(r)}
    block = next(s for t, s in titles.items() if t.startswith("Colour profile"))
    assert ("description", "Nikon sRGB 4.0.0.3001") in block.rows


def test_a_profile_that_is_not_one_is_noted(tmp_path):
    r = timed(_image_file(tmp_path, "PNG", b"not a profile" * 20))
    assert r["colour_profile"] == {"present": True, "valid": False, "bytes": 260}
    assert "embedded ICC profile is not a valid profile" in r["notes"]


def test_a_declared_size_that_disagrees_and_a_tag_past_the_end_are_noted():
    icc = bytearray(NIKON)
    icc[:4] = struct.pack(">I", len(icc) + 10)
    _, notes = parse(bytes(icc))
    assert notes == [f"ICC profile declares {len(icc) + 10} bytes, holds {len(icc)}"]
    profile, notes = parse(bytes(NIKON[:200]))  # the description tag starts past byte 200
    assert profile["valid"] and profile["description"] is None
    assert notes[1:] == ["ICC profile's desc tag runs past the profile's end"]


def test_mutated_profiles_never_raise():
    rng = random.Random(7)
    for _ in range(3000):
        profile, notes = parse(mutate(NIKON, rng))
        assert profile["present"] is True and all(isinstance(n, str) for n in notes)


def test_a_mutated_profile_in_a_file_never_breaks_analyze(tmp_path):
    rng = random.Random(3)
    for i in range(40):
        r = timed(_image_file(tmp_path, "PNG", mutate(NIKON, rng), name=str(i)))
        assert r["colour_profile"]["present"] is True


def test_an_icc_v4_profile_names_itself_through_its_mluc_tag(tmp_path):
    from PIL import ImageCms

    v4 = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()  # littlecms writes ICC v4
    p = timed(_image_file(tmp_path, "PNG", v4))["colour_profile"]
    assert p["version"].startswith("4.") and p["description"] == "sRGB built-in" and p["creator"] == "lcms"


def test_a_profile_of_another_maker_than_exif_make_is_noted(tmp_path):
    from . import provenance_builders as B

    def jpeg(make):
        p = tmp_path / f"{make}.jpg"
        p.write_bytes(B.jpeg_bytes(exif=B.camera_exif(make=make, model="X"),
                                   segments=[(0xE2, b"ICC_PROFILE\x00\x01\x01" + NIKON)]))
        return timed(p)

    assert jpeg("Canon")["notes"] == ["colour profile names Nikon, EXIF Make 'Canon': the metadata was edited, or "
                                      "another maker's software wrote the file"]
    assert jpeg("NIKON CORPORATION")["notes"] == []
