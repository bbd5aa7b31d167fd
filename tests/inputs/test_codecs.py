"""Lossy non-JPEG codecs: told from lossless ones by the file's bytes, recorded per class in a
probe's card, and the ``unmeasured_codec`` gate they raise in ``quality.assess``."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from synthdetect.inputs.codecs import (
    _libwebp_base_quantiser, codec_covered, codec_from_file, codec_range, covered_codecs, gate, lossy_codec, lossy_quality,
    vp8_base_quantiser, webp_quality)
from synthdetect.inputs.decoding import decode
from synthdetect.inputs.quality import assess, calibration_covers


def _noise(mode: str = "RGB") -> Image.Image:
    img = Image.fromarray((np.random.default_rng(0).random((64, 80, 3)) * 255).astype("uint8"))
    return img.convert(mode)


def _save(path, img, **kw):
    img.save(path, **kw)
    return path


@pytest.mark.parametrize("name, mode, kw, expected", [
    ("lossy.webp", "RGB", {"quality": 80}, "webp"),
    ("lossless.webp", "RGB", {"lossless": True}, None),
    ("alpha-lossy.webp", "RGBA", {"quality": 50}, "webp"),  # VP8X + ALPH before the VP8 chunk
    ("alpha-lossless.webp", "RGBA", {"lossless": True}, None),
    ("icc.webp", "RGB", {"quality": 70, "icc_profile": b"x" * 5001}, "webp"),  # a large chunk before the image
    ("big-icc.webp", "RGB", {"quality": 70, "icc_profile": b"x" * (5 << 20)}, "webp"),  # headers read where they lie
    ("a.avif", "RGB", {"quality": 50}, "avif"),
    ("a.png", "RGB", {}, None),
    ("a.jpg", "RGB", {"quality": 60}, None),  # JPEG: judged by its estimated quality instead
])
def test_the_codec_is_read_from_the_bytes_and_matches_what_decode_records(tmp_path, name, mode, kw, expected):
    p = _save(tmp_path / name, _noise(mode), **kw)
    assert codec_from_file(p)[0] == expected
    assert decode(p).lossy_codec == expected
    if expected == "webp":  # libwebp's quality, read back from the frame header (a point or two high at most)
        assert kw["quality"] <= decode(p).lossy_quality <= kw["quality"] + 2
    elif expected == "avif":  # libavif's, from the AV1 frame header (qualities that share a quantiser read alike)
        assert kw["quality"] <= decode(p).lossy_quality <= kw["quality"] + 2
    else:
        assert decode(p).lossy_quality is None


@pytest.mark.parametrize("name, convert, kw, expected", [
    ("a.gif", "RGB", {}, "palette"),  # Pillow quantises to an adaptive palette
    ("grey.gif", "L", {}, None),  # a table of greys: no colour lost
    ("q.png", "P", {}, "palette"),
    ("q16.png", "P16", {"optimize": True}, "palette"),
    ("greys.png", "LP", {}, None),  # colour type 3 with a grey palette
    ("grey.png", "L", {}, None),
    ("q.bmp", "P", {}, "palette"),
    ("grey.bmp", "L", {}, None),  # Pillow writes 8 bits a pixel with a grey table
    ("one.bmp", "1", {}, None),  # black and white: the greyscale gate's
    ("rgb.bmp", "RGB", {}, None),
    ("q.tif", "P", {}, "palette"),
    ("grey.tif", "L", {}, None),
    ("rgb.tif", "RGB", {"compression": "tiff_lzw"}, None),
])
def test_a_palette_of_colours_is_read_from_the_header_and_table(tmp_path, name, convert, kw, expected):
    img = _noise()
    img = {"P": lambda: img.quantize(256), "P16": lambda: img.quantize(16), "LP": lambda: img.convert("L").convert("P")
           }.get(convert, lambda: img.convert(convert))()
    p = _save(tmp_path / name, img, **kw)
    assert codec_from_file(p) == (expected, None)
    assert decode(p).lossy_codec == expected


def test_a_palette_whose_table_cannot_be_read_counts_as_colour():
    buf = io.BytesIO()
    _noise().quantize(256).save(buf, format="PNG")
    data = buf.getvalue()
    assert lossy_codec("PNG", data) == "palette"
    assert lossy_codec("PNG", data[:40]) == "palette"  # cut before its PLTE
    assert lossy_codec("PNG", data[:25]) is None  # not even the colour type
    assert lossy_codec("GIF", b"GIF89a" + bytes(7)) == "palette"  # no global table: colour unknown
    assert lossy_codec("TIFF", b"II*\x00\xff\xff\xff\x00") is None  # its directory out of reach
    assert lossy_codec("BMP", b"BM" + bytes(10)) is None


def test_assess_names_a_palette_file():
    rep = assess(_noise().resize((400, 400)), min_side=224, lossy_codec="palette")
    (entry,) = [g for g in rep.failed if g["gate"] == "unmeasured_codec"]
    assert entry["value"] == "palette (indexed-colour)" and "256 colours" in entry["reason"]


def test_an_animated_webp_is_judged_by_its_first_frame(tmp_path):
    img = _noise()
    lossy = tmp_path / "lossy.webp"
    img.save(lossy, save_all=True, append_images=[img.rotate(90)], quality=70)
    lossless = tmp_path / "lossless.webp"
    img.save(lossless, save_all=True, append_images=[img.rotate(90)], lossless=True)
    assert codec_from_file(lossy) == ("webp", None)  # the animation encoder's quality is not read
    assert codec_from_file(lossless) == (None, None)


def test_heif_is_a_lossy_codec(tmp_path):
    pillow_heif = pytest.importorskip("pillow_heif")
    pillow_heif.register_heif_opener()
    p = _save(tmp_path / "a.heic", _noise(), quality=50)
    assert codec_from_file(p) == ("heif", 50) and decode(p).lossy_codec == "heif"


def test_truncated_or_foreign_bytes_are_not_taken_for_lossy_webp():
    buf = io.BytesIO()
    _noise().save(buf, format="WEBP", quality=80)
    data = buf.getvalue()
    assert lossy_codec("WEBP", data) == "webp"
    assert lossy_codec("WEBP", data[:12]) is None  # no chunk left to read
    assert lossy_codec("WEBP", data[:40]) == "webp" and lossy_quality("WEBP", data[:40]) is None  # header cut short
    assert lossy_codec("WEBP", b"RIFF\x00\x00\x00\x00WAVEfmt ") is None
    assert lossy_codec("PNG", data) is None


def test_a_codec_is_covered_when_a_tenth_of_each_class_holds_it():
    labels = [0] * 10 + [1] * 10
    one_each = ["webp"] + [None] * 9 + ["webp"] + [None] * 9
    got = codec_range(one_each, labels)
    assert got["covered"] == ["webp"] and got["real"] == {"webp": 1, "n": 10} and "covered_quality" not in got
    qualities = [90] + [None] * 9 + [75] + [None] * 9
    got = codec_range(one_each, labels, qualities)
    assert got["real"]["webp_quality"] == {"min": 90, "max": 90} and got["covered_quality"] == {"webp": 90}
    assert codec_range(["webp"] * 10 + [None] * 10, labels)["covered"] == []  # only the reals: not measured
    avif = codec_range(["avif"] * 20, labels, [60] * 5 + [55] * 5 + [70] * 10)  # an AVIF's quality is read too
    assert avif["real"]["avif_quality"] == {"min": 55, "max": 60} and avif["covered_quality"] == {"avif": 70}
    assert covered_codecs([{"image_codecs": avif}]) == {"avif": 70}
    assert codec_range([None] * 20, labels) == {"real": {"n": 10}, "synthetic": {"n": 10}, "covered": []}
    assert codec_range([None] * 10, [0] * 10) is None


def test_every_card_must_cover_a_codec():
    webp = {"image_codecs": {"covered": ["webp"]}}
    both = {"image_codecs": {"covered": ["avif", "webp"]}}
    assert covered_codecs([webp, both]) == {"webp": None}
    assert covered_codecs([webp, {}]) == {}  # a card that records none (the bundle, older probes)
    assert covered_codecs([]) == {}
    q75 = {"image_codecs": {"covered": ["webp"], "covered_quality": {"webp": 75}}}
    q90 = {"image_codecs": {"covered": ["avif", "webp"], "covered_quality": {"webp": 90}}}
    assert covered_codecs([q75, q90]) == {"webp": 90} and covered_codecs([q75, both]) == {"webp": 75}
    assert calibration_covers(q90)["codec_quality"] == {"webp": 90}
    assert calibration_covers(both)["codecs"] == ["avif", "webp"]
    assert "unmeasured_codec" in calibration_covers(both)["lifted"]
    assert "unmeasured_codec" not in calibration_covers({})["lifted"]


def test_assess_gates_a_lossy_codec_and_names_it():
    img = _noise().resize((400, 400))
    rep = assess(img, min_side=224, lossy_codec="avif")
    assert "unmeasured_codec" in rep.gates and rep.lossy_codec == "avif"
    assert "saved as AVIF" in gate("avif")["reason"]
    assert "unmeasured_codec" not in assess(img, min_side=224).gates


def test_the_webp_quality_is_read_from_the_frame_header_for_every_quality():
    """The base quantiser of the VP8 frame header maps back to the quality libwebp (Pillow's
    encoder, default settings) was given, for every quality and two image sizes (one too small to
    be segmented): the quality itself, or up to two points above where its first segment sits
    short of the end of the range or qualities share a quantiser (they discard the same)."""
    kinds = set()
    for size in ((80, 64), (333, 251)):
        img = _noise().resize(size)
        for q in range(101):
            buf = io.BytesIO()
            img.save(buf, format="WEBP", quality=q)
            data = buf.getvalue()
            got = lossy_quality("WEBP", data)
            assert got is not None and q <= got <= q + 2, (size, q, got)
            seg = vp8_base_quantiser(data[20:])[1]
            kinds.add(seg)
            assert 0 <= _libwebp_base_quantiser(q, seg) - _libwebp_base_quantiser(got, seg) <= 2, (size, q, got)
    assert kinds == {True, False}  # segmented frames and unsegmented ones were read
    assert webp_quality(0) == 100 and webp_quality(127) == 0 and webp_quality(27) == 80 and webp_quality(36) == 75
    assert webp_quality(19, segmented=False) == 80
    assert vp8_base_quantiser(b"\x00" * 9) is None  # too short
    assert vp8_base_quantiser(b"\x01\x00\x00\x9d\x01\x2a" + b"\x00" * 40) is None  # an inter frame


def test_a_webp_is_covered_down_to_the_quality_its_calibration_measured():
    floors = {"webp": 75, "avif": None}
    assert codec_covered("webp", 80, floors) and codec_covered("webp", 75, floors)
    assert not codec_covered("webp", 74, floors) and not codec_covered("webp", None, floors)
    assert codec_covered("avif", None, floors) and not codec_covered("heif", None, floors)
    assert not codec_covered(None, None, floors)
    below = gate("webp", 40, 75)
    assert below["value"] == "lossy WebP at quality 40" and below["threshold"] == "lossy WebP at quality >= 75"
    assert "measured on lossy WebP files down to quality 75 only" in below["reason"]
    assert "saved as lossy WebP at quality 40: the detectors' error rates were not measured on lossy WebP files" \
        in gate("webp", 40)["reason"]
