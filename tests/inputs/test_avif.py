"""An AVIF's quality read from its AV1 frame header (synthdetect.inputs.avif), checked against the
encoder it maps: Pillow's (libavif + libaom)."""

import io
import struct

import pytest
from PIL import Image, features

from synthdetect.inputs.avif import avif_base_q_idx
from synthdetect.inputs.codecs import AVIF_QUANTISERS, codec_from_file, lossy_codec, lossy_quality

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
    got = lossy_quality("AVIF", data)
    assert got >= q and AVIF_QUANTISERS[got] == AVIF_QUANTISERS[q]
    assert lossy_codec("AVIF", data) == "avif"


def test_the_reading_holds_across_sizes_modes_speeds_and_subsampling():
    for img, kw in [(_picture(33, 517), {}), (_picture(700, 90), {"speed": 9}), (_picture(mode="L"), {}),
                    (_picture(mode="RGBA"), {}), (_picture(), {"subsampling": "4:4:4"}),
                    (_picture(1100, 40), {"speed": 2})]:
        assert avif_base_q_idx(_read(_avif(img, quality=60, **kw))) == AVIF_QUANTISERS[60], (img.size, img.mode, kw)


def test_a_file_is_read_from_a_few_hundred_bytes(tmp_path):
    path = tmp_path / "x.avif"
    path.write_bytes(_avif(_picture(), quality=50))
    assert codec_from_file(path) == ("avif", lossy_quality("AVIF", path.read_bytes())) and codec_from_file(path)[1]
    reads = []

    def read_at(pos, n):
        reads.append(n)
        with open(path, "rb") as f:
            f.seek(pos)
            return f.read(n)

    assert avif_base_q_idx(read_at) is not None and sum(reads) < 20000


def test_damaged_or_foreign_files_give_no_reading():
    data = _avif(_picture(), quality=50)
    for bad in (b"", b"\0" * 64, data[:40], data[:200], b"RIFF" + data[4:],
                struct.pack(">I4s", 16, b"ftyp") + b"avif" + b"\0" * 4 + b"\xff" * 50):
        assert avif_base_q_idx(_read(bad)) is None and lossy_quality("AVIF", bad) is None
    png = io.BytesIO()
    _picture().save(png, format="PNG")
    assert avif_base_q_idx(_read(png.getvalue())) is None


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def _full(kind: bytes, payload: bytes, version: int = 0) -> bytes:
    return _box(kind, bytes([version, 0, 0, 0]) + payload)


def _grid_file(tile: bytes, config: bytes = b"") -> bytes:
    """An AVIF whose primary item is a ``grid`` of one ``av01`` tile holding ``tile`` (the AV1 data
    of a real encode), built box by box as the HEIF specification lays it out; ``config``: OBUs for
    the ``av1C`` property (the sequence header may live there instead of in the item)."""
    def infe(item, kind):
        return _full(b"infe", struct.pack(">HH", item, 0) + kind + b"\0", version=2)

    grid = bytes([0, 0]) + struct.pack(">HH", 64, 96)  # ImageGrid: version, flags, 1x1, output size

    def meta(offset):
        iloc = _full(b"iloc", struct.pack(">HH", 0x4400, 2)
                     + struct.pack(">HHHII", 1, 0, 1, offset, len(grid))
                     + struct.pack(">HHHII", 2, 0, 1, offset + len(grid), len(tile)))
        return _full(b"meta", _full(b"pitm", struct.pack(">H", 1))
                     + _full(b"iinf", struct.pack(">H", 2) + infe(1, b"grid") + infe(2, b"av01"))
                     + _full(b"iref", _box(b"dimg", struct.pack(">HHH", 1, 1, 2)))
                     + _box(b"iprp", _box(b"ipco", _box(b"av1C", bytes([0x81, 0, 0x0C, 0]) + config))) + iloc)

    ftyp = _box(b"ftyp", b"avif" + b"\0" * 4 + b"mif1miaf")
    offset = len(ftyp) + len(meta(0)) + 8
    return ftyp + meta(offset) + _box(b"mdat", grid + tile)


def test_a_grid_is_read_through_its_first_tile():
    """Large AVIFs may be stored as a grid of tiles: the primary item is the grid, the quantiser is
    its first tile's (``iref``/``dimg``)."""
    from synthdetect.inputs import avif

    data = _avif(_picture(), quality=60)
    read = _read(data)
    meta = avif._meta(read)
    tile = avif._item_data(read, meta, avif._primary_id(read, meta), 1 << 20)
    grid = _grid_file(tile)
    assert avif_base_q_idx(_read(grid)) == AVIF_QUANTISERS[60] == avif_base_q_idx(read)
    no_tile = grid.replace(b"dimg", b"thmb")  # a grid whose tiles cannot be found: no reading
    assert avif_base_q_idx(_read(no_tile)) is None
    obus = list(avif._obus(tile))  # the sequence header moved from the item into av1C
    seq = b"".join(_obu(kind, payload) for kind, payload in obus if kind == avif.OBU_SEQUENCE_HEADER)
    bare = b"".join(_obu(kind, payload) for kind, payload in obus if kind != avif.OBU_SEQUENCE_HEADER)
    assert seq and avif_base_q_idx(_read(_grid_file(bare, seq))) == AVIF_QUANTISERS[60]
    assert avif_base_q_idx(_read(_grid_file(bare))) is None  # no sequence header anywhere


def _obu(kind: int, payload: bytes) -> bytes:
    """An OBU as an encoder writes it: header (type, size field present), LEB128 size, payload."""
    size, n = b"", len(payload)
    while True:
        byte, n = n & 0x7F, n >> 7
        size += bytes([byte | (0x80 if n else 0)])
        if not n:
            return bytes([(kind << 3) | 2]) + size + payload
