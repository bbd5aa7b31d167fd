"""An AVIF's quality read from its AV1 frame header (synthdetect.inputs.avif), checked against the
encoder it maps: Pillow's (libavif + libaom)."""

import io

import pytest
from PIL import features

from synthdetect.inputs import isobmff
from synthdetect.inputs.avif import avif_base_q_idx
from synthdetect.inputs.codecs import AVIF_QUANTISERS, lossy_codec, lossy_quality

from .heif_builders import box, grid_file, picture as _picture, reader as _read

pytestmark = pytest.mark.skipif(not features.check("avif"), reason="Pillow without AVIF")


def _avif(img, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="AVIF", **kw)
    return buf.getvalue()


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


def _grid_file(tile: bytes, config: bytes = b"") -> bytes:
    """An AVIF whose primary item is a ``grid`` of one ``av01`` tile holding ``tile`` (the AV1 data
    of a real encode); ``config``: OBUs for the ``av1C`` property (the sequence header may live
    there instead of in the item)."""
    return grid_file(b"avif", b"av01", tile, box(b"av1C", bytes([0x81, 0, 0x0C, 0]) + config))


def test_a_grid_is_read_through_its_first_tile():
    """Large AVIFs may be stored as a grid of tiles: the primary item is the grid, the quantiser is
    its first tile's (``iref``/``dimg``)."""
    from synthdetect.inputs import avif

    data = _avif(_picture(), quality=60)
    read = _read(data)
    meta = isobmff.meta_box(read)
    tile = isobmff.item_data(read, meta, isobmff.primary_id(read, meta), 1 << 20)
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
