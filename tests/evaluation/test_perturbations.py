"""synthdetect/evaluation/perturbations.py: the test-time perturbations and the blur/JPEG image degradations."""

import numpy as np
import pytest
from PIL import Image

from synthdetect.evaluation import perturbations as P
from tests.support import textured_rgb as _img


def test_two_jpeg_encoders_differ():
    encs = P.jpeg_encoders()
    if len(encs) < 2:
        pytest.skip("simplejpeg not installed")
    img = Image.fromarray(_img(96, 96))
    a = np.asarray(P.jpeg(img, 50, "pil")).astype(int)
    b = np.asarray(P.jpeg(img, 50, "simplejpeg")).astype(int)
    assert a.shape == b.shape
    assert np.abs(a - b).sum() > 0  # genuinely different encoders
    assert np.abs(a - np.asarray(img)).mean() > 0.5  # and both lossy


def test_blur_sigma_zero_identity_and_blur_smooths():
    img = Image.fromarray(_img(64, 64))
    assert P.gaussian_blur(img, 0) is img
    b = np.asarray(P.gaussian_blur(img, 2.0)).astype(float)
    assert np.abs(np.diff(b, axis=1)).mean() < np.abs(np.diff(np.asarray(img).astype(float), axis=1)).mean()


def test_parse_perturbations():
    assert P.parse_perturbations("jpeg:50,blur:2,resize:0.5") == [("jpeg", 50.0), ("blur", 2.0), ("resize", 0.5)]
    assert P.parse_perturbations(None) == []
    for bad in ("jpeg", "jpeg:0", "noise:1", "resize:0"):
        with pytest.raises(ValueError):
            P.parse_perturbations(bad)
    img = Image.fromarray(_img(100, 80))
    out = P.apply_perturbations(img, P.parse_perturbations("resize:0.5"))
    assert out.size == (50, 40)


def test_perturbations_in_order_and_the_centre_crop():
    img = Image.fromarray(_img(100, 80))
    out = P.apply_perturbations(img, P.parse_perturbations("crop:40,resize:2"))
    assert out.size == (80, 80)
    a = np.asarray(P.apply_perturbations(img, [("crop", 40.0)]))
    np.testing.assert_array_equal(a, _img(100, 80)[20:60, 30:70])
    assert P.apply_perturbations(img, []) is img


def test_training_augmentation_uses_the_same_degradations():
    from synthdetect.train import augment as A

    assert A.jpeg is P.jpeg and A.gaussian_blur is P.gaussian_blur and A.jpeg_encoders is P.jpeg_encoders
