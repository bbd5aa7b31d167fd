"""A HEIC's quality read from its HEVC slice header (synthdetect.inputs.heif), checked against the
encoder it maps: pillow-heif's (libheif + x265)."""

import io

import pytest

from synthdetect.inputs import heif, isobmff
from synthdetect.inputs.codecs import HEIF_QUANTISERS, heif_quality, lossy_codec, lossy_quality
from synthdetect.inputs.heif import heif_slice_qp

from .heif_builders import box, grid_file, picture as _picture, reader as _read

pillow_heif = pytest.importorskip("pillow_heif")
pillow_heif.register_heif_opener()


def _heic(img, **kw) -> bytes:
    buf = io.BytesIO()
    try:
        img.save(buf, format="HEIF", **kw)
    except (OSError, ValueError, KeyError) as e:  # a pillow-heif built without an HEVC encoder
        pytest.skip(f"HEIF encoder unavailable: {e}")
    return buf.getvalue()


def test_the_quantiser_table_is_libheifs():
    """The table maps every quality to the slice quantiser pillow-heif's encoder writes."""
    img = _picture()
    for q in list(range(0, 101, 3)) + [50, 100]:
        assert heif_slice_qp(_read(_heic(img, quality=q))) == HEIF_QUANTISERS[q], q
    assert HEIF_QUANTISERS[0] == 47 and HEIF_QUANTISERS[50] == 22 and HEIF_QUANTISERS[100] == 0
    assert all(a >= b for a, b in zip(HEIF_QUANTISERS, HEIF_QUANTISERS[1:]))  # coarser at lower quality


@pytest.mark.parametrize("q", [30, 50, 60, 75, 90])
def test_the_quality_read_is_the_one_saved(q):
    """The highest quality with that quantiser: the quality saved or the one beside it that the
    encoder quantises alike."""
    data = _heic(_picture(), quality=q)
    got = lossy_quality("HEIF", data)
    assert got in (q, q + 1) and HEIF_QUANTISERS[got] == HEIF_QUANTISERS[q]
    assert lossy_codec("HEIF", data) == "heif"
    assert heif_quality(0) == 100 and heif_quality(47) == 0 and heif_quality(60) == 0


def test_the_reading_holds_across_sizes_modes_and_chroma():
    want = HEIF_QUANTISERS[60]
    for img, kw in [(_picture(33, 517), {}), (_picture(700, 90), {}), (_picture(mode="L"), {}),
                    (_picture(mode="RGBA"), {}), (_picture(), {"chroma": 444}), (_picture(), {"chroma": 422})]:
        assert heif_slice_qp(_read(_heic(img, quality=60, **kw))) == want, (img.size, img.mode, kw)


def _parts(data: bytes) -> tuple[bytes, bytes]:
    """The primary item's coded data and its ``hvcC`` property box of a pillow-heif encode."""
    read = _read(data)
    meta, item = isobmff.primary_coded_item(read, b"hvc1")
    start, stop = isobmff.item_property(read, meta, item, b"hvcC")
    return isobmff.item_data(read, meta, item, 1 << 20), box(b"hvcC", data[start:stop])


def test_a_grid_is_read_through_its_first_tile_and_its_own_configuration():
    """Phones store a HEIC as a grid of tiles: the quantiser is the first tile's, with the parameter
    sets of the ``hvcC`` that ``ipma`` assigns to that tile."""
    data = _heic(_picture(), quality=60)
    tile, config = _parts(data)
    assert heif_slice_qp(_read(grid_file(b"heic", b"hvc1", tile, config))) == HEIF_QUANTISERS[60]
    assert heif_slice_qp(_read(grid_file(b"heic", b"hvc1", tile, config, associate=False))) is None
    no_tile = grid_file(b"heic", b"hvc1", tile, config).replace(b"dimg", b"thmb")
    assert heif_slice_qp(_read(no_tile)) is None


def test_only_the_first_intra_slice_of_an_idr_picture_is_read():
    """A CRA picture's reference set precedes the quantiser (not read); a later slice segment or a
    predicted slice is not a picture's base quantiser."""
    data = _heic(_picture(), quality=60)
    tile, config = _parts(data)
    read = _read(config[8:])
    units = heif.hvcc_parameter_sets(read(0, 1 << 16))
    sps = {s.id: s for s in (heif._Sps(heif.rbsp(u)) for u in units if heif.nal_type(u) == heif.SPS)}
    pps = {p.id: p for p in (heif._Pps(heif.rbsp(u)) for u in units if heif.nal_type(u) == heif.PPS)}
    size = (config[8 + 21] & 3) + 1
    first = tile[size:size + int.from_bytes(tile[:size], "big")]
    assert heif.nal_type(first) in (heif.IDR_W_RADL, heif.IDR_N_LP)
    assert heif.slice_qp(first, sps, pps) == HEIF_QUANTISERS[60]
    cra = bytes([(21 << 1) | (first[0] & 0x81)]) + first[1:]
    assert heif.slice_qp(cra, sps, pps) is None
    later = first[:2] + bytes([first[2] & 0x7F]) + first[3:]  # first_slice_segment_in_pic_flag cleared
    assert heif.slice_qp(later, sps, pps) is None
    trail = bytes([(1 << 1) | (first[0] & 0x81)]) + first[1:]  # a non-IRAP (inter) picture
    assert heif.slice_qp(trail, sps, pps) is None


def test_emulation_prevention_bytes_are_removed():
    assert heif.rbsp(b"\x40\x01" + b"\x00\x00\x03\x01\x00\x00\x03\x00\x03") == b"\x00\x00\x01\x00\x00\x00\x03"
    assert heif.rbsp(b"\x40\x01\x12\x00\x03") == b"\x12\x00\x03"  # one zero before 03: kept
