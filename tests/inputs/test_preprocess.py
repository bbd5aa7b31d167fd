import numpy as np
from PIL import Image

from synthdetect.cards import CLIP_MEAN, CLIP_STD, InputSpec
import pytest

from synthdetect.cards import CardError
from synthdetect.inputs.preprocess import (
    batch,
    center_crop,
    mean_per_image,
    prepare,
    resize_shorter,
    stack_tiles,
    to_input,
    to_inputs,
)


def test_resize_shorter_keeps_aspect():
    img = Image.new("RGB", (400, 200))
    assert resize_shorter(img, 100).size == (200, 100)
    assert resize_shorter(Image.new("RGB", (200, 400)), 100).size == (100, 200)


def test_native_resolution_center_crop():
    arr = np.zeros((100, 120, 3), np.uint8)
    arr[50, 60] = 255  # centre pixel
    spec = InputSpec(size=10)
    out = prepare(Image.fromarray(arr), spec)
    assert out.size == (10, 10)
    assert np.asarray(out)[5, 5].tolist() == [255, 255, 255]  # no resize happened


def test_small_image_upscaled_not_padded():
    img = Image.new("RGB", (5, 5), (200, 200, 200))
    out = prepare(img, InputSpec(size=32))
    assert out.size == (32, 32)
    assert np.asarray(out).min() == 200  # no zero padding


def test_shorter_side_then_crop():
    spec = InputSpec(size=224, resize="shorter_side", resize_to=256)
    out = prepare(Image.new("RGB", (1000, 500)), spec)
    assert out.size == (224, 224)


def test_normalisation_values():
    spec = InputSpec(size=8, mean=CLIP_MEAN, std=CLIP_STD)
    x = to_input(Image.new("RGB", (8, 8), (255, 0, 128)), spec)
    assert x.shape == (3, 8, 8) and x.dtype == np.float32
    exp = [(1 - CLIP_MEAN[0]) / CLIP_STD[0], (0 - CLIP_MEAN[1]) / CLIP_STD[1], (128 / 255 - CLIP_MEAN[2]) / CLIP_STD[2]]
    assert np.allclose(x[:, 0, 0], exp, atol=1e-5)


def test_non_rgb_input_converted():
    x = to_input(Image.new("L", (20, 20), 255), InputSpec(size=16))
    assert x.shape == (3, 16, 16)


def test_batch_uniform_from_mixed_sizes():
    spec = InputSpec(size=16, resize="shorter_side", resize_to=20)
    arrs = [to_input(Image.new("RGB", s), spec) for s in ((30, 90), (500, 40), (16, 16), (7, 3))]
    b = batch(arrs)
    assert b.shape == (4, 3, 16, 16)
    assert batch([]).shape[0] == 0


def test_center_crop_position():
    arr = np.zeros((4, 6, 3), np.uint8)
    arr[1:3, 2:4] = 9
    assert np.asarray(center_crop(Image.fromarray(arr), 2)).min() == 9


def _numbered(w, h):
    a = (np.arange(w * h * 3) % 251).astype(np.uint8).reshape(h, w, 3)
    return Image.fromarray(a), a


def test_tiles_are_native_crops_of_the_centre_region():
    img, a = _numbered(70, 50)
    spec = InputSpec(size=16, resize="none", tiles=2, mean=(0, 0, 0), std=(1, 1, 1))
    t = to_inputs(img, spec)
    assert t.shape == (4, 3, 16, 16)
    left, top = (70 - 32) // 2, (50 - 32) // 2
    for k, (r, c) in enumerate([(0, 0), (0, 1), (1, 0), (1, 1)]):
        want = a[top + 16 * r: top + 16 * (r + 1), left + 16 * c: left + 16 * (c + 1)].astype(np.float32) / 255
        np.testing.assert_allclose(t[k], want.transpose(2, 0, 1), atol=1e-6)
    # tiles=1 is exactly the single centre crop
    one = to_inputs(img, InputSpec(size=16, resize="none", mean=(0, 0, 0), std=(1, 1, 1)))
    np.testing.assert_array_equal(one[0], to_input(img, InputSpec(size=16, resize="none", mean=(0, 0, 0),
                                                                  std=(1, 1, 1))))


def test_tiles_never_upscale_for_more_tiles():
    img, a = _numbered(40, 20)  # room for 2 x 1 tiles of 16 px, not 3 x 3
    t = to_inputs(img, InputSpec(size=16, resize="none", tiles=3, mean=(0, 0, 0), std=(1, 1, 1)))
    assert t.shape == (2, 3, 16, 16)
    np.testing.assert_allclose(t[0], a[2:18, 4:20].astype(np.float32).transpose(2, 0, 1) / 255, atol=1e-6)
    small, _ = _numbered(12, 12)  # smaller than one tile: the usual upscale-to-fit, one tile
    assert to_inputs(small, InputSpec(size=16, resize="none", tiles=3)).shape == (1, 3, 16, 16)
    with pytest.raises(CardError):
        InputSpec(size=16, tiles=0)


def test_stack_tiles_and_mean_per_image():
    x, counts = stack_tiles([np.zeros((1, 3, 4, 4)), np.ones((4, 3, 4, 4)), np.zeros((2, 3, 4, 4))])
    assert x.shape == (7, 3, 4, 4) and counts.tolist() == [1, 4, 2]
    np.testing.assert_allclose(mean_per_image(np.array([0.2, 0.1, 0.3, 0.5, 0.7, 0.4, 0.6]), counts),
                               [0.2, 0.4, 0.5])


def test_thin_strip_upscale_costs_the_crop_not_the_strip(monkeypatch):
    """A 20000x2 strip upscaled to a 224 px shorter side would be 2240000x224 px (2 GB); only
    the region kept is resampled (issue 18)."""
    from synthdetect.inputs import preprocess

    asked = []
    real = Image.Image.resize

    def spy(self, size, *a, **kw):
        asked.append(size[0] * size[1])
        return real(self, size, *a, **kw)

    monkeypatch.setattr(Image.Image, "resize", spy)
    strip = Image.new("RGB", (20000, 2), (90, 10, 200))
    for spec, tiles in ((InputSpec(size=224, tiles=4), 4), (InputSpec(size=224, resize="shorter_side", resize_to=256), 1),
                        (InputSpec(size=64, resize="shorter_side", resize_to=40), 1)):
        x = to_inputs(strip, spec)
        assert x.shape == (tiles, 3, spec.size, spec.size)  # a row of 4 tiles: one tile high
        assert np.allclose(x[:, :, 0, 0], x[0, :, 0, 0])  # a flat strip stays flat
    assert asked and max(asked) <= preprocess.WHOLE_RESIZE_MAX_PIXELS


@pytest.mark.parametrize("spec", [InputSpec(size=32, tiles=3), InputSpec(size=32, resize="shorter_side", resize_to=40),
                                  InputSpec(size=48, resize="shorter_side", resize_to=20, tiles=2)])
def test_region_resampling_matches_the_whole_resize(monkeypatch, spec):
    """The region path (forced here) gives the whole-resize pixels up to Pillow's rounding (<= 1 level)."""
    from synthdetect.inputs import preprocess

    from PIL import ImageFilter

    noise = np.random.default_rng(3).integers(0, 256, (40, 150, 3), dtype=np.uint8)
    img = Image.fromarray(noise).filter(ImageFilter.GaussianBlur(1.5))  # a photo's spectrum, not white noise
    whole = to_inputs(img, spec)
    monkeypatch.setattr(preprocess, "WHOLE_RESIZE_MAX_PIXELS", 0)
    region = to_inputs(img, spec)
    levels = np.abs(whole - region) * np.asarray(spec.std, np.float32)[None, :, None, None] * 255
    assert whole.shape == region.shape and levels.max() <= 1.01


def test_upscale_below_gives_a_small_image_several_crops():
    img, _ = _numbered(24, 20)  # shorter side 20 < 32: upscaled to 32 x 38 (aspect kept) -> 2 x 2 tiles of 16
    spec = InputSpec(size=16, resize="none", tiles=4, upscale_below=32, mean=(0, 0, 0), std=(1, 1, 1))
    t = to_inputs(img, spec)
    assert t.shape == (4, 3, 16, 16)
    big = img.resize((38, 32), Image.Resampling.BILINEAR)  # exactly the card's resample, then the 32 px centre
    want = np.asarray(big)[0:16, 3:19].astype(np.float32).transpose(2, 0, 1) / 255
    np.testing.assert_allclose(t[0], want, atol=1e-6)
    # without it the same image gives one tile; an image already at the floor is left as it is
    assert to_inputs(img, InputSpec(size=16, resize="none", tiles=4)).shape == (1, 3, 16, 16)
    large, a = _numbered(40, 34)
    np.testing.assert_array_equal(to_inputs(large, spec), to_inputs(large, InputSpec(
        size=16, resize="none", tiles=4, mean=(0, 0, 0), std=(1, 1, 1))))
    with pytest.raises(CardError, match="upscale_below"):
        InputSpec(size=16, upscale_below=8)


def test_strip_frames_cuts_the_canvas_before_the_crops():
    rng = np.random.default_rng(1)
    pic = rng.integers(0, 256, (60, 60, 3), dtype=np.uint8)
    canvas = np.zeros((100, 100, 3), np.uint8)
    canvas[:] = (250, 0, 0)
    canvas[20:80, 20:80] = pic
    img = Image.fromarray(canvas)
    plain = InputSpec(size=16, resize="none", tiles=4, mean=(0, 0, 0), std=(1, 1, 1))
    strip = InputSpec(size=16, resize="none", tiles=4, strip_frames=True, mean=(0, 0, 0), std=(1, 1, 1))
    # 100 px: 4 x 4 tiles of the centre 64 px (canvas in the outer ones); stripped: the 30 px inside
    # the frame and its guard (16 px, but at most a quarter of the 60 px picture: 15) -> one tile
    assert to_inputs(img, plain).shape == (16, 3, 16, 16)
    t = to_inputs(img, strip)
    assert t.shape == (1, 3, 16, 16)
    red = np.array([250, 0, 0], np.float32)[:, None, None] / 255
    assert all(np.abs(tile - red).max(axis=0).min() > 0 for tile in t)  # no canvas pixel in any tile
    np.testing.assert_array_equal(to_inputs(Image.fromarray(pic), strip), to_inputs(Image.fromarray(pic), plain))


def test_flip_adds_each_crops_mirror_after_the_crops():
    img, _ = _numbered(40, 34)
    plain = InputSpec(size=16, resize="none", tiles=4, mean=(0, 0, 0), std=(1, 1, 1))
    flip = InputSpec(size=16, resize="none", tiles=4, flip=True, mean=(0, 0, 0), std=(1, 1, 1))
    t, f = to_inputs(img, plain), to_inputs(img, flip)
    assert t.shape == (4, 3, 16, 16) and f.shape == (8, 3, 16, 16) and f.flags.c_contiguous
    np.testing.assert_array_equal(f[:4], t)
    np.testing.assert_array_equal(f[4:], t[..., ::-1])  # each crop mirrored left-right, same order
    mirrored = to_inputs(img.transpose(Image.Transpose.FLIP_LEFT_RIGHT), plain)  # the mirror image's crops:
    assert {m.tobytes() for m in mirrored} == {x.tobytes() for x in f[4:]}  # the same set on a symmetric grid
    one = InputSpec(size=16, resize="none", flip=True, mean=(0, 0, 0), std=(1, 1, 1))  # a single centre crop
    assert to_inputs(img, one).shape == (2, 3, 16, 16)
    with pytest.raises(CardError, match="flip"):
        InputSpec(size=16, flip="yes")


def test_new_input_fields_leave_older_cards_and_keys_as_they_were():
    old = InputSpec(size=224, tiles=4)
    assert not {"upscale_below", "strip_frames", "flip"} & set(old.to_dict())
    assert old.key() == InputSpec(**old.to_dict()).key()
    new = InputSpec(size=224, tiles=4, upscale_below=448, strip_frames=True)
    assert new.key() != old.key() and InputSpec(**new.to_dict()) == new
    flipped = InputSpec(size=224, tiles=4, upscale_below=448, strip_frames=True, flip=True)
    assert flipped.to_dict()["flip"] is True and flipped.key() != new.key() and InputSpec(**flipped.to_dict()) == flipped
    assert flipped.describe() == ("224px native, up to 4x4 crops, images below 448px upscaled, frames cut off, "
                                  "crops also mirrored")
