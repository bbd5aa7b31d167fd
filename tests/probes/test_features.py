"""``train probe``'s feature extraction: the mean feature and the crop spread of every image,
and their cache (synthdetect.probes.features)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.probes.test_train import build_backbone, make_images


@pytest.fixture
def sample(tmp_path):
    bbdir = tmp_path / "backbones"
    bbdir.mkdir()
    card = build_backbone(bbdir, tiles=4)
    card = type(card).load(bbdir / "tinybb.backbone.json")
    data = make_images(tmp_path / "sample", n=5)
    paths = sorted(data.glob("*/*.png"))
    return card, paths, tmp_path


class Counting:
    """A backbone that counts the crops it is run on."""

    def __init__(self, inner):
        self.inner, self.card, self.crops = inner, inner.card, 0

    def features(self, x):
        self.crops += len(x)
        return self.inner.features(x)


def _backbone(card):
    from synthdetect.scan.runtime import load_backbone

    return Counting(load_backbone(card, device="cpu"))


def test_the_crop_spread_is_each_image_s_crops_around_their_mean(sample):
    from PIL import Image

    from synthdetect.inputs.preprocess import to_inputs
    from synthdetect.probes.features import extract_features

    card, paths, _ = sample
    bb = _backbone(card)
    ex = extract_features(paths, bb, spread=True)
    assert ex.keep == list(range(len(paths))) and len(ex.spread) == len(paths)
    for row, p in enumerate(paths):
        with Image.open(p) as im:
            F = bb.inner.features(to_inputs(im.convert("RGB"), card.input)).astype(np.float64)
        assert len(F) == 6  # 48 x 40 px: 3 x 2 crops of 16 px
        np.testing.assert_allclose(ex.X[row], F.mean(0), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(ex.spread[row], (F - F.mean(0)) / np.sqrt(6), rtol=1e-4, atol=1e-6)
        # the spread's outer products are the crops' within-image covariance
        S = ex.spread[row].astype(np.float64)
        np.testing.assert_allclose(S.T @ S, np.cov(F.T, bias=True), rtol=1e-3, atol=1e-7)
    assert extract_features(paths, bb).spread is None  # only when asked


def test_a_single_crop_has_no_spread():
    from synthdetect.probes.features import crop_spread

    assert crop_spread(np.ones((1, 5), np.float32)).shape == (0, 5)
    h = 1 / np.sqrt(2)
    np.testing.assert_allclose(crop_spread(np.array([[0.0, 2.0], [2.0, 0.0]])), [[-h, h], [h, -h]], rtol=1e-6)


def test_spreads_are_cached_beside_the_features_and_a_bad_entry_is_recomputed(sample):
    from synthdetect.probes.features import FeatureCache, extract_features

    card, paths, tmp = sample
    cache = FeatureCache(tmp / "cache", dim=card.dim)
    bb = _backbone(card)
    first = extract_features(paths, bb, cache=cache)  # features only: no spread cached yet
    assert bb.crops == 6 * len(paths) and first.cache_hits == 0
    second = extract_features(paths, bb, cache=cache, spread=True)  # the spread is missing: computed
    assert bb.crops == 12 * len(paths) and second.cache_hits == 0
    third = extract_features(paths, bb, cache=cache, spread=True)
    assert bb.crops == 12 * len(paths) and third.cache_hits == len(paths)
    for a, b in zip(second.spread, third.spread):
        np.testing.assert_array_equal(a, b)
    spread_files = sorted((tmp / "cache" / "spread").rglob("*.npy"))
    assert len(spread_files) == len(paths)
    spread_files[0].write_bytes(b"not an array")  # corrupt: ignored and rewritten, never trusted
    fourth = extract_features(paths, bb, cache=cache, spread=True)
    assert bb.crops == 12 * len(paths) + 6 and fourth.cache_hits == len(paths) - 1  # that one image again
    row = [third.sha256[i] for i in third.keep].index(spread_files[0].stem)
    np.testing.assert_array_equal(np.load(spread_files[0]), third.spread[row])


def test_the_cache_refuses_a_matrix_of_the_wrong_width(tmp_path):
    from synthdetect.probes.features import FeatureCache

    c = FeatureCache(tmp_path, dim=3).companion("spread")
    c.put("ab" * 32, np.ones((2, 4), np.float32))
    assert c.get("ab" * 32) is None
    c.put("ab" * 32, np.zeros((0, 3), np.float32))  # a single crop: an empty matrix is a valid entry
    assert c.get("ab" * 32).shape == (0, 3)
    assert FeatureCache(None).companion("spread").get("ab" * 32) is None  # caching off stays off


def test_the_cache_is_kept_per_preparation_policy(sample):
    """A card that prepares images otherwise (another upscale or frame policy, same ONNX file)
    never reads features the first one wrote."""
    import dataclasses

    from synthdetect.cards import InputSpec
    from synthdetect.probes.features import backbone_cache, extract_features

    card, paths, tmp = sample
    other = dataclasses.replace(card, input=InputSpec(**{**card.input.to_dict(), "upscale_below": 2 * card.input.size,
                                                          "strip_frames": True}))
    a, b = backbone_cache(tmp / "c", card), backbone_cache(tmp / "c", other)
    assert a.root != b.root and a.root.parent == b.root.parent and a.root.name[:16] == card.sha256[:16]
    assert backbone_cache(tmp / "c", card).root == a.root  # stable
    bb = _backbone(card)
    extract_features(paths, bb, cache=a)
    assert extract_features(paths, bb, cache=b).cache_hits == 0
