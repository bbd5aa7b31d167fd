"""An AVIF's quality read from its AV1 frame header (synthdetect.inputs.avif), checked against the
encoder it maps: Pillow's (libavif + libaom)."""

import io
import struct

import pytest
from PIL import Image, features

from synthdetect.inputs.avif import AVIF_QUANTISERS, avif_base_q_idx, avif_quality
from synthdetect.inputs.codecs import codec_from_file, lossy_codec, lossy_quality

pytestmark = pytest.mark.skipif(not features.check("avif"), reason="Pillow without AVIF")


def _picture(w=96, h=64, mode="RGB"):
    img = Image.new("RGB", (w, h))
    img.putdata([((x * 7 + y * 3) % 256, (x * y) % 256, (y * 11) % 256) for y in range(h) for x in range(w)])
    return img.convert(mode)


def _avif(img, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="AVIF", **kw)
    return buf.getvalue()


def _read(data: bytes):
    return lambda pos, n: data[pos:pos + n]


def test_the_quantiser_table_is_libavifs():
    """The table maps every quality to the base quantiser index Pillow's encoder writes."""
    img = _picture()
    for q in range(0, 101, 3):
        assert avif_base_q_idx(_read(_avif(img, quality=q))) == AVIF_QUANTISERS[q], q
    assert AVIF_QUANTISERS[100] == 0 and AVIF_QUANTISERS[0] == 255
    assert all(a >= b for a, b in zip(AVIF_QUANTISERS, AVIF_QUANTISERS[1:]))  # coarser at lower quality


@pytest.mark.parametrize("q", [30, 50, 60, 75, 90])
def test_the_quality_read_is_the_one_saved(q):
    """The highest quality with that quantiser: the quality saved, or one of the qualities the
    encoder quantises alike (libavif maps 101 qualities to 64 quantisers)."""
    data = _avif(_picture(), quality=q)
    got = avif_quality(_read(data))
    assert got >= q and AVIF_QUANTISERS[got] == AVIF_QUANTISERS[q]
    assert lossy_codec("AVIF", data) == "avif" and lossy_quality("AVIF", data) == got


def test_the_reading_holds_across_sizes_modes_speeds_and_subsampling():
    for img, kw in [(_picture(33, 517), {}), (_picture(700, 90), {"speed": 9}), (_picture(mode="L"), {}),
                    (_picture(mode="RGBA"), {}), (_picture(), {"subsampling": "4:4:4"}),
                    (_picture(1100, 40), {"speed": 2})]:
        assert avif_base_q_idx(_read(_avif(img, quality=60, **kw))) == AVIF_QUANTISERS[60], (img.size, img.mode, kw)


def test_a_file_is_read_from_a_few_hundred_bytes(tmp_path):
    path = tmp_path / "x.avif"
    path.write_bytes(_avif(_picture(), quality=50))
    assert codec_from_file(path) == ("avif", avif_quality(_read(path.read_bytes())))
    reads = []

    def read_at(pos, n):
        reads.append(n)
        with open(path, "rb") as f:
            f.seek(pos)
            return f.read(n)

    assert avif_quality(read_at) is not None and sum(reads) < 20000


def test_damaged_or_foreign_files_give_no_reading():
    data = _avif(_picture(), quality=50)
    for bad in (b"", b"\0" * 64, data[:40], data[:200], b"RIFF" + data[4:],
                struct.pack(">I4s", 16, b"ftyp") + b"avif" + b"\0" * 4 + b"\xff" * 50):
        assert avif_quality(_read(bad)) is None
    png = io.BytesIO()
    _picture().save(png, format="PNG")
    assert avif_quality(_read(png.getvalue())) is None
