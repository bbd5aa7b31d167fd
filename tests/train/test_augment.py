
import numpy as np
from PIL import Image

from synthdetect.inputs.preprocess import center_crop, normalize
from synthdetect.train import augment as A
from tests.support import textured_rgb as _img


def test_p0_is_identity_crop():
    arr = _img()
    cfg = A.AugmentConfig(blur_prob=0, jpeg_prob=0, crop=64, random_crop=False, flip=False)
    log = {}
    x = A.train_view(arr, cfg, np.random.default_rng(0), log)
    ref = normalize(np.asarray(center_crop(Image.fromarray(arr), 64)), cfg.spec())
    assert log == {}
    np.testing.assert_array_equal(x, ref)


def test_p1_always_and_ranges():
    arr = _img(120, 100)
    cfg = A.AugmentConfig(blur_prob=1, jpeg_prob=1, crop=32)
    sig, q, enc = [], [], set()
    for i in range(200):
        log = {}
        A.train_view(arr, cfg, np.random.default_rng(i), log)
        assert "sigma" in log and "quality" in log
        sig.append(log["sigma"]), q.append(log["quality"]), enc.add(log["encoder"])
    assert 0.0 <= min(sig) and max(sig) <= 3.0 and max(sig) > 2.5 and min(sig) < 0.5
    assert min(q) >= 30 and max(q) <= 100 and min(q) < 40 and max(q) > 90
    assert all(isinstance(v, int) for v in q)
    assert enc == set(A.jpeg_encoders())


def test_probability_is_respected():
    arr = _img(80, 80)
    cfg = A.AugmentConfig(blur_prob=0.1, jpeg_prob=0.5, crop=32)
    nb = nj = 0
    n = 600
    for i in range(n):
        log = {}
        A.train_view(arr, cfg, np.random.default_rng(i), log)
        nb += "sigma" in log
        nj += "quality" in log
    assert 0.05 < nb / n < 0.15
    assert 0.42 < nj / n < 0.58


def test_window_trick_matches_full_image():
    # blur + JPEG on a window around the crop == on the whole image, then crop
    arr = _img(300, 260, seed=4)
    cfg = A.AugmentConfig(blur_prob=1, jpeg_prob=1, crop=64, flip=False)
    for i in range(6):
        x = A.train_view(arr, cfg, np.random.default_rng(i))
        r = np.random.default_rng(i)
        left = int(r.integers(0, 300 - 64 + 1))
        top = int(r.integers(0, 260 - 64 + 1))
        full = np.asarray(A._blur_jpeg(Image.fromarray(arr), cfg, r, None))
        ref = normalize(np.ascontiguousarray(full[top : top + 64, left : left + 64]), cfg.spec())
        np.testing.assert_allclose(x, ref, atol=1e-6)


def test_val_view_deterministic_and_fixed_params():
    arr = _img(90, 90)
    cfg = A.AugmentConfig(blur_prob=1, jpeg_prob=1, crop=48)
    a = A.val_view(arr, cfg, np.random.default_rng(5))
    b = A.val_view(arr, cfg, np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)
    img = A.gaussian_blur(Image.fromarray(arr), A.VAL_SIGMA)
    enc = A.jpeg_encoders()
    r = np.random.default_rng(5)
    r.random(), r.random()
    img = A.jpeg(img, A.VAL_QUALITY, enc[int(r.integers(len(enc)))])
    np.testing.assert_allclose(a, normalize(np.asarray(center_crop(img, 48)), cfg.spec()), atol=1e-6)


def test_small_image_upscaled_not_padded():
    arr = _img(20, 30)
    cfg = A.AugmentConfig(blur_prob=0, jpeg_prob=0, crop=32, flip=False)
    x = A.train_view(arr, cfg, np.random.default_rng(0))
    assert x.shape == (3, 32, 32)
    # no zero padding: normalised zero would be -mean/std
    assert not np.any(np.all(x == x.min(), axis=0).all(axis=0))
