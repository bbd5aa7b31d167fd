"""What the AVIF and HEIC quality readers share: a file read through a few kilobytes, and no reading
(never an exception) from damaged or foreign bytes."""

import io
import struct

import pytest
from PIL import Image, features

from synthdetect.inputs.avif import avif_base_q_idx
from synthdetect.inputs.codecs import codec_from_file, lossy_quality
from synthdetect.inputs.heif import heif_slice_qp

from .heif_builders import picture, reader


def _heif_ready():
    try:
        import pillow_heif
    except ImportError:
        return False
    pillow_heif.register_heif_opener()
    return "HEIF" in Image.SAVE


CODECS = [
    pytest.param("AVIF", "avif", avif_base_q_idx, 20000, id="avif",
                 marks=pytest.mark.skipif(not features.check("avif"), reason="Pillow without AVIF")),
    pytest.param("HEIF", "heic", heif_slice_qp, 30000, id="heic",
                 marks=pytest.mark.skipif(not _heif_ready(), reason="no HEIF encoder")),
]


def _encode(fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    picture(400, 300).save(buf, format=fmt, **kw)
    return buf.getvalue()


@pytest.mark.parametrize("fmt,brand,read,budget", CODECS)
def test_a_file_is_read_from_a_few_kilobytes(tmp_path, fmt, brand, read, budget):
    path = tmp_path / f"x.{brand}"
    path.write_bytes(_encode(fmt, quality=50))
    codec, quality = codec_from_file(path)
    assert quality == lossy_quality(fmt, path.read_bytes()) and 50 <= quality <= 51
    reads = []

    def read_at(pos, n):
        reads.append(n)
        with open(path, "rb") as f:
            f.seek(pos)
            return f.read(n)

    assert read(read_at) is not None and sum(reads) < budget


@pytest.mark.parametrize("fmt,brand,read,budget", CODECS)
def test_damaged_or_foreign_files_give_no_reading(fmt, brand, read, budget):
    data = _encode(fmt, quality=50)
    for bad in (b"", b"\0" * 64, data[:40], data[:200], b"RIFF" + data[4:],
                struct.pack(">I4s", 16, b"ftyp") + brand.encode() + b"\0" * 4 + b"\xff" * 50):
        assert read(reader(bad)) is None and lossy_quality(fmt, bad) is None
    png = io.BytesIO()
    picture().save(png, format="PNG")
    assert read(reader(png.getvalue())) is None
