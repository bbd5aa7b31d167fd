import io
import os

import numpy as np
import pytest
from PIL import Image

from synthdetect.inputs import decoding
from synthdetect.cards import sha256_file
from synthdetect.inputs.decoding import DecodeError, decode, to_rgb


def _save(img, path, **kw):
    img.save(path, **kw)
    return path


def test_jpeg_roundtrip_and_sha(tmp_path):
    p = _save(Image.new("RGB", (40, 30), (10, 200, 30)), tmp_path / "a.jpg", quality=95)
    d = decode(p)
    assert (d.format, d.width, d.height, d.mode) == ("JPEG", 40, 30, "RGB")
    assert d.sha256 == sha256_file(p)
    assert d.image.mode == "RGB"
    assert d.size_bytes == p.stat().st_size


def test_zero_byte(tmp_path):
    p = tmp_path / "empty.jpg"
    p.write_bytes(b"")
    with pytest.raises(DecodeError, match="empty file"):
        decode(p)


def test_truncated_jpeg(tmp_path):
    rng = np.random.default_rng(0)
    img = Image.fromarray(rng.integers(0, 255, (200, 200, 3), dtype=np.uint8))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90)
    p = tmp_path / "trunc.jpg"
    p.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 3])
    with pytest.raises(DecodeError) as ei:
        decode(p)
    assert "truncated" in str(ei.value).lower()
    assert ei.value.sha256 == sha256_file(p)  # the exhibit is still identified
    assert "\n" not in str(ei.value)


def test_non_image(tmp_path):
    p = tmp_path / "notes.jpg"
    p.write_text("this is not an image\n")
    with pytest.raises(DecodeError, match="not a recognised image format"):
        decode(p)


def test_unsupported_format_named(tmp_path):
    p = tmp_path / "doc.pdf"
    p.write_bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n")
    with pytest.raises(DecodeError):
        decode(p)


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_decompression_bomb(tmp_path, monkeypatch):
    p = _save(Image.new("RGB", (100, 100)), tmp_path / "big.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 5000)
    with pytest.raises(DecodeError, match="decompression"):
        decode(p)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 2000)  # > 2x the limit: Pillow's own error
    with pytest.raises(DecodeError, match="decompression"):
        decode(p)


def test_permission_denied_mocked(tmp_path, monkeypatch):
    p = _save(Image.new("RGB", (10, 10)), tmp_path / "secret.png")

    def deny(path, flags, *a, **k):
        raise PermissionError(13, "Permission denied", str(path))

    import synthdetect.inputs.discovery as discovery

    monkeypatch.setattr(discovery, "noatime_opener", deny)  # every evidence read opens through it
    with pytest.raises(DecodeError, match="permission denied"):
        decode(p)


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores file permissions")
def test_permission_denied_real(tmp_path):
    p = _save(Image.new("RGB", (10, 10)), tmp_path / "secret.png")
    p.chmod(0)
    try:
        with pytest.raises(DecodeError, match="permission denied"):
            decode(p)
    finally:
        p.chmod(0o644)


def test_directory_is_error(tmp_path):
    with pytest.raises(DecodeError, match="directory"):
        decode(tmp_path)


def test_cmyk(tmp_path):
    p = _save(Image.new("CMYK", (20, 20), (0, 255, 255, 0)), tmp_path / "cmyk.jpg", quality=95)
    d = decode(p)
    assert d.mode == "CMYK" and d.image.mode == "RGB"
    r, g, b = d.image.getpixel((10, 10))
    assert r > 200 and g < 60 and b < 60  # C=0,M=Y=255 -> red


def test_16bit_grey_png_scaled(tmp_path):
    arr = np.full((8, 8), 65535, np.uint16)
    arr[0, 0] = 0
    arr[0, 1] = 32896  # 128 * 257
    p = tmp_path / "g16.png"
    Image.fromarray(arr).save(p)
    d = decode(p)
    assert d.mode.startswith("I")
    assert d.image.mode == "RGB"
    a = np.asarray(d.image)
    assert a[5, 5].tolist() == [255, 255, 255]  # not clipped from 65535 to a wrong value
    assert a[0, 0].tolist() == [0, 0, 0]
    assert a[0, 1].tolist() == [128, 128, 128]


def test_16bit_tiff(tmp_path):
    arr = np.full((6, 6), 200 * 257, np.uint16)
    p = tmp_path / "g16.tif"
    Image.fromarray(arr).save(p)
    d = decode(p)
    assert d.mode.startswith("I")
    assert np.asarray(d.image)[0, 0].tolist() == [200, 200, 200]


def test_float_image():
    img = Image.fromarray(np.full((4, 4), 0.5, np.float32), mode="F")
    assert np.asarray(to_rgb(img))[0, 0].tolist() == [128, 128, 128]


def test_palette_with_transparency_on_white(tmp_path):
    img = Image.new("P", (10, 10), 0)
    img.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    img.putpixel((0, 0), 1)
    img.info["transparency"] = 0
    p = _save(img, tmp_path / "pal.png", transparency=0)
    d = decode(p)
    a = np.asarray(d.image)
    assert a[5, 5].tolist() == [255, 255, 255]  # transparent -> white
    assert a[0, 0].tolist() == [255, 0, 0]


def test_rgba_and_la_on_white(tmp_path):
    rgba = Image.new("RGBA", (4, 4), (0, 0, 255, 0))
    assert np.asarray(to_rgb(rgba))[0, 0].tolist() == [255, 255, 255]
    half = Image.new("RGBA", (4, 4), (0, 0, 0, 128))
    v = np.asarray(to_rgb(half))[0, 0]
    assert 120 <= v[0] <= 135
    la = Image.new("LA", (4, 4), (0, 255))
    assert np.asarray(to_rgb(la))[0, 0].tolist() == [0, 0, 0]
    p = _save(Image.new("LA", (4, 4), (0, 0)), tmp_path / "la.png")
    assert np.asarray(decode(p).image)[0, 0].tolist() == [255, 255, 255]


def test_greyscale_and_1bit(tmp_path):
    p = _save(Image.new("L", (9, 7), 77), tmp_path / "g.png")
    d = decode(p)
    assert d.image.mode == "RGB" and np.asarray(d.image)[0, 0].tolist() == [77, 77, 77]
    p1 = _save(Image.new("1", (9, 7), 1), tmp_path / "b.bmp")
    assert np.asarray(decode(p1).image)[0, 0].tolist() == [255, 255, 255]


def test_tiny_image(tmp_path):
    p = _save(Image.new("RGB", (5, 5), (1, 2, 3)), tmp_path / "tiny.png")
    d = decode(p)
    assert (d.width, d.height) == (5, 5)


def test_exif_orientation_applied(tmp_path):
    img = Image.new("RGB", (40, 20), (0, 0, 0))
    img.paste((255, 255, 255), (0, 0, 20, 20))  # left half white
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW when displayed
    p = tmp_path / "rot.jpg"
    img.save(p, quality=95, exif=exif.tobytes())
    d = decode(p)
    assert (d.width, d.height) == (20, 40)
    a = np.asarray(d.image).astype(int)
    assert a[5, 10].mean() > 200 and a[35, 10].mean() < 50  # white half now on top


def test_animated_gif_first_frame(tmp_path):
    frames = [Image.new("RGB", (16, 16), c) for c in ((255, 0, 0), (0, 0, 255))]
    p = tmp_path / "anim.gif"
    frames[0].save(p, save_all=True, append_images=frames[1:], duration=100, loop=0)
    d = decode(p)
    assert d.frames == 2
    r, g, b = d.image.getpixel((8, 8))
    assert r > 200 and b < 50


def test_heic(tmp_path):
    pillow_heif = pytest.importorskip("pillow_heif")
    pillow_heif.register_heif_opener()
    p = tmp_path / "photo.heic"
    try:
        Image.new("RGB", (64, 48), (200, 100, 50)).save(p, format="HEIF", quality=90)
    except Exception as e:  # encoder not built in
        pytest.skip(f"HEIF encoder unavailable: {e}")
    d = decode(p)
    assert d.format == "HEIF" and (d.width, d.height) == (64, 48)
    r, g, b = d.image.getpixel((30, 20))
    assert abs(r - 200) < 20 and abs(g - 100) < 20


def test_avif(tmp_path):
    from PIL import features

    if not features.check("avif"):
        pytest.skip("Pillow built without AVIF")
    p = _save(Image.new("RGB", (32, 32), (20, 200, 20)), tmp_path / "a.avif", quality=90)
    d = decode(p)
    assert d.format == "AVIF"
    assert d.image.getpixel((16, 16))[1] > 150


def test_webp_bmp_tiff(tmp_path):
    for ext, fmt in ((".webp", "WEBP"), (".bmp", "BMP"), (".tif", "TIFF")):
        p = _save(Image.new("RGB", (12, 10), (9, 9, 9)), tmp_path / f"x{ext}")
        assert decode(p).format == fmt


def test_wrong_extension_decodes_by_content(tmp_path):
    p = _save(Image.new("RGB", (12, 10)), tmp_path / "really_png.jpg", format="PNG")
    assert decode(p).format == "PNG"


def test_file_not_modified(tmp_path):
    p = _save(Image.new("RGB", (30, 30), (1, 2, 3)), tmp_path / "e.jpg")
    st = p.stat()
    h = sha256_file(p)
    decode(p)
    assert p.stat().st_mtime_ns == st.st_mtime_ns and sha256_file(p) == h


def test_access_time_preserved_when_allowed(tmp_path):
    p = _save(Image.new("RGB", (30, 30)), tmp_path / "atime.png")
    os.utime(p, ns=(1_000_000_000, 2_000_000_000))
    decode(p)
    st = p.stat()
    assert st.st_mtime_ns == 2_000_000_000
    if hasattr(os, "O_NOATIME"):
        assert st.st_atime_ns == 1_000_000_000


def test_rgb_with_transparent_colour_on_white(tmp_path):
    img = Image.new("RGB", (6, 6), (0, 255, 0))
    img.putpixel((0, 0), (10, 20, 30))
    p = _save(img, tmp_path / "trns.png", transparency=(0, 255, 0))
    a = np.asarray(decode(p).image)
    assert a[3, 3].tolist() == [255, 255, 255] and a[0, 0].tolist() == [10, 20, 30]


@pytest.mark.parametrize("size", [(100000, 1), (7, 50000), (20000, 2)])
def test_extreme_aspect_ratio_refused_from_the_header(tmp_path, monkeypatch, size):
    """The decoding budget is checked before any pixel is decoded (issue 18: 100000x1 drove a scan to 23 GB)."""
    from PIL import ImageFile

    p = _save(Image.new("RGB", size, (120, 30, 200)), tmp_path / "strip.png", optimize=True)

    def no_decoding(self):
        raise AssertionError("pixels decoded before the budget check")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    with pytest.raises(DecodeError) as e:
        decode(p)
    msg = str(e.value)
    assert "\n" not in msg and f"{size[0]}x{size[1]}" in msg and f"{decoding.MAX_ASPECT_RATIO}:1" in msg
    assert e.value.sha256 == sha256_file(p)  # the exhibit is still identified


def test_aspect_ratio_at_the_budget_decodes(tmp_path):
    r = decoding.MAX_ASPECT_RATIO
    d = decode(_save(Image.new("RGB", (3 * r, 3), (1, 2, 3)), tmp_path / "ok.png"))
    assert (d.width, d.height) == (3 * r, 3)
    with pytest.raises(DecodeError, match="aspect ratio"):
        decode(_save(Image.new("RGB", (3 * r + 1, 3)), tmp_path / "over.png"))


def test_conversions_run_in_bands_with_the_same_pixels(monkeypatch):
    """RGBA/P/16-bit/float conversions go band by band (bounded temporaries) and give exactly
    the pixels of a whole-image conversion."""
    rng = np.random.default_rng(0)
    pal = Image.fromarray(rng.integers(0, 256, (70, 90), dtype=np.uint8)).convert("P")
    pal.info["transparency"] = 5
    f = rng.random((70, 90)).astype(np.float32)
    f[3, 4], f[5, 5] = np.nan, np.inf
    cases = [Image.fromarray(rng.integers(0, 256, (70, 90, 4), dtype=np.uint8)), pal,
             Image.fromarray(rng.integers(0, 65536, (70, 90), dtype=np.uint16)),
             Image.fromarray(rng.integers(0, 2 ** 30, (70, 90), dtype=np.int32)), Image.fromarray(f)]
    whole = [np.asarray(to_rgb(c)) for c in cases]
    monkeypatch.setattr(decoding, "_BAND_PIXELS", 500)  # 5-row bands
    for c, w in zip(cases, whole):
        assert np.array_equal(np.asarray(to_rgb(c)), w), c.mode


def test_png_without_text_keeps_every_other_chunk(tmp_path):
    import io

    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("a", "x" * 2_000_000, zip=True)
    info.add_itxt("b", "y" * 10)
    info.add_text("c", "z")
    buf = io.BytesIO()
    Image.new("RGB", (7, 5), (1, 2, 3)).save(buf, "PNG", pnginfo=info)
    data = buf.getvalue()
    with pytest.raises(DecodeError, match="MAX_TEXT"):
        decoding.decode_bytes(data)
    stripped = decoding.png_without_text(data)
    assert b"zTXt" not in stripped and b"iTXt" not in stripped and b"tEXt" not in stripped
    img = Image.open(io.BytesIO(stripped))
    assert img.size == (7, 5) and img.getpixel((0, 0)) == (1, 2, 3)
    rgb = decoding.decode_pixels(data)[0]
    assert rgb.size == (7, 5) and rgb.getpixel((3, 3)) == (1, 2, 3)
    truncated = data[:60]  # a chunk running past the end: kept as is, the walk ends
    assert decoding.png_without_text(truncated) == truncated


@pytest.mark.parametrize("profile", ["DISPLAY_P3", "ADOBE_RGB"])
def test_embedded_colour_profile_is_not_applied(tmp_path, profile):
    """The detectors read the stored values, as their calibration images were read: a wide-gamut profile is not
    converted to sRGB (measured through scan, tools/check_edits.py: the holdout converted to Display P3 or Adobe RGB
    reads as the unconverted copies do, docs/quality.md)."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import icc_builders
    from PIL import ImageCms

    icc = icc_builders.display_profile(**getattr(icc_builders, profile))
    to_wide = ImageCms.buildTransform(ImageCms.createProfile("sRGB"), ImageCms.ImageCmsProfile(io.BytesIO(icc)),
                                      "RGB", "RGB")
    stored = ImageCms.applyTransform(Image.new("RGB", (32, 32), (255, 0, 0)), to_wide)
    assert stored.getpixel((0, 0)) != (255, 0, 0)  # the conversion did something: sRGB red is inside the wider gamut
    p = _save(stored, tmp_path / "wide.png", icc_profile=icc)
    d = decode(p)
    assert d.image.getpixel((0, 0)) == stored.getpixel((0, 0))


def test_truncated_multipage_tiff_is_a_decode_error_with_its_digest(tmp_path):
    """Pillow fails counting a cut TIFF's frames with a TypeError: one decode error, the file's hash kept."""
    buf = io.BytesIO()
    im = Image.new("RGB", (256, 192), (10, 200, 30))
    im.save(buf, "TIFF", save_all=True, append_images=[im.rotate(10)])
    data = buf.getvalue()
    p = tmp_path / "half.tif"
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(DecodeError) as e:
        decode(p)
    assert "TIFF" in str(e.value) and "\n" not in str(e.value)
    assert e.value.sha256 == sha256_file(p) and e.value.size_bytes == len(data) // 2


def test_unexpected_decoder_failure_keeps_the_digest(tmp_path, monkeypatch):
    p = tmp_path / "a.png"
    Image.new("RGB", (32, 32)).save(p)

    def boom(data):
        raise RuntimeError("decoder bug")

    monkeypatch.setattr(decoding, "decode_pixels", boom)
    with pytest.raises(DecodeError, match="internal error while decoding: RuntimeError: decoder bug") as e:
        decode(p)
    assert e.value.sha256 == sha256_file(p)


def test_large_file_with_no_image_header_is_refused_without_reading_it_whole(tmp_path, monkeypatch):
    """A big non-image named .jpg (a video, a disk fragment) is hashed by streaming and refused; its bytes
    are never held in memory at once."""
    import hashlib

    p = tmp_path / "video.jpg"
    with open(p, "wb") as f:
        f.write(b"\x00\x00\x00\x20ftypisom")  # an MP4 box, not an image brand
        f.truncate(decoding.LARGE_FILE + 4096)

    def whole(path):
        raise AssertionError("the whole file was read")

    monkeypatch.setattr(decoding, "read_bytes", whole)
    with pytest.raises(DecodeError, match="not a recognised image format") as e:
        decode(p)
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    assert e.value.sha256 == h.hexdigest() and e.value.size_bytes == decoding.LARGE_FILE + 4096
