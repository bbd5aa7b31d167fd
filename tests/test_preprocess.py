import numpy as np
from PIL import Image

from synthdetect.cards import CLIP_MEAN, CLIP_STD, InputSpec
from synthdetect.preprocess import batch, center_crop, prepare, resize_shorter, to_input


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
