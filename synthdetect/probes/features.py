"""Backbone features of a labelled sample for ``train probe`` (numpy + Pillow + onnxruntime).

Every image is decoded exactly as ``scan`` decodes it, prepared per the backbone card's
``InputSpec`` (up to its crops/tiles) and run through the backbone ONNX once.  Two things are
kept per image:

* the **feature**: the mean over the image's crops, what ``scan``'s heads read;
* optionally its **crop spread**: the deviations of the crops' features from that mean,
  scaled by ``1/sqrt(T)`` (``T`` crops; none for a single crop).  Summed over images, their
  outer products are the within-image covariance of the crops, what the averaged LDA probe adds
  to its within-class covariance (:class:`synthdetect.probes.fit.CropSpread`): directions in
  which the crops of one image differ are content, not a generator's trace.

Both are cached under ``sha256(image)`` in a directory per backbone SHA-256, so a second fit
on the same images costs no extraction.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ..cards import BackboneCard, sha256_file


def default_cache_dir() -> Path:
    """``probe-features/`` in synthdetect's cache directory (``$SYNTHDETECT_CACHE_DIR`` or platformdirs)."""
    from ..scan.cache import default_cache_dir as root

    return root() / "probe-features"


class FeatureCache:
    """One float32 feature vector per key (``rows=True``: one float32 matrix ``[t, dim]``, ``t``
    may be 0), as ``DIR/<key[:2]>/<key>.npy``.

    ``train probe`` keys by image SHA-256 under ``<backbone sha[:16]>-<input digest>/`` (:func:`backbone_cache`;
    the crop spreads in its ``spread/`` companion); the CLIP-probe trainer
    (``synthdetect.train.features``) keys by a digest of image, transform and view.  Writes are
    atomic (temporary file + rename), so concurrent runs never see half a file; a file that
    fails to load, is not finite float32 of the expected shape (``dim``) is ignored and
    rewritten, never trusted.  ``root=None``: caching off.
    """

    def __init__(self, root: Path | None, dim: int | None = None, rows: bool = False):
        self.root = None if root is None else Path(root)
        self.dim = dim
        self.rows = rows
        self.hits = 0
        self.misses = 0  # entries written (computed because they were not cached)

    def companion(self, name: str) -> "FeatureCache":
        """A matrix cache beside this one (``DIR/name/``; off when this one is off)."""
        return FeatureCache(None if self.root is None else self.root / name, dim=self.dim, rows=True)

    def _path(self, key: str) -> Path:
        assert self.root is not None
        return self.root / key[:2] / f"{key}.npy"

    def _valid(self, v: np.ndarray) -> bool:
        if v.dtype != np.float32 or v.ndim != (2 if self.rows else 1) or not np.all(np.isfinite(v)):
            return False
        return self.dim is None or v.shape[-1] == self.dim

    def get(self, key: str) -> np.ndarray | None:
        if self.root is None:
            return None
        try:
            v = np.load(self._path(key), allow_pickle=False)
        except (OSError, ValueError, EOFError):
            return None
        if not self._valid(v):
            return None
        self.hits += 1
        return v

    def put(self, key: str, vec: np.ndarray) -> None:
        if self.root is None:
            return
        p = self._path(key)
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=".tmp-", suffix=".npy")
        try:
            with os.fdopen(fd, "wb") as f:
                np.save(f, np.asarray(vec, dtype=np.float32), allow_pickle=False)
            os.replace(tmp, p)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self.misses += 1


def backbone_cache(root: Path, backbone: BackboneCard) -> FeatureCache:
    """The feature cache of one backbone under ``root``: by its SHA-256 and a digest of how its card
    prepares an image (``InputSpec.key``, and with ``strip_frames`` the frame guard), so a card that
    crops or resizes differently never reads features another policy wrote."""
    import hashlib

    from ..inputs.frames import frame_guard

    key = backbone.input.key()
    if (guard := frame_guard(backbone.input)) is not None:  # how far in frames are cut is part of the preparation
        key += f"|frame guard {guard}"
    prep = hashlib.sha256(key.encode()).hexdigest()[:8]
    return FeatureCache(Path(root) / f"{backbone.sha256[:16]}-{prep}", dim=backbone.dim)


def sharpness_store(cache: FeatureCache | None) -> FeatureCache | None:
    """Where every image's fine-detail ratio is kept, by image SHA-256: ``sharpness/`` beside ``cache``
    (one value; -1: measured, too flat to measure)."""
    return None if cache is None or cache.root is None else FeatureCache(cache.root / "sharpness", dim=1)


def _store_sharpness(store: FeatureCache | None, sha: str, img) -> float | None:
    """The decoded image's ratio (``quality.image_sharpness``), kept in ``store``; a measurement that
    fails is neither kept nor fatal (None: the image is left out of the range)."""
    from ..inputs.quality import image_sharpness

    try:
        v = image_sharpness(img)
    except Exception:
        return None
    if store is not None:
        store.put(sha, np.array([-1.0 if v is None else v]))
    return v


def jpeg_store(cache: FeatureCache | None) -> FeatureCache | None:
    """Where every non-JPEG image's JPEG quality read from its pixels (``inputs.jpeg_trace``) is kept,
    by image SHA-256: ``jpeg_pixels/`` beside ``cache`` (one value; -1: none read)."""
    return None if cache is None or cache.root is None else FeatureCache(cache.root / "jpeg_pixels", dim=1)


def _store_jpeg(store: FeatureCache | None, sha: str, d) -> float | None:
    """The decoded file's JPEG quality as scan reads it (``jpeg_trace.decoded_jpeg_quality``: a
    JPEG's tables, a lossless file's pixels), kept in ``store``; a failure is neither kept nor fatal."""
    from ..inputs.jpeg_trace import decoded_jpeg_quality

    try:
        q = decoded_jpeg_quality(d)[0]
    except Exception:
        return None
    if store is not None:
        store.put(sha, np.array([-1.0 if q is None else float(q)]))
    return None if q is None else float(q)


def sample_sharpness(paths: Sequence[Path], shas: Sequence[str], cache: FeatureCache | None = None,
                     workers: int | None = None) -> list[float | None]:
    """Every image's fine-detail ratio as scan's ``blurred_or_upscaled`` gate measures it
    (``quality.image_sharpness``; None: too flat to measure, or unreadable), read from
    :func:`sharpness_store` (``extract_features(..., sharpness=True)`` fills it while it has each image
    decoded); an image not there (features cached before) is decoded once and kept."""
    return _sample(paths, shas, sharpness_store(cache), lambda store, sha, d: _store_sharpness(store, sha, d.image),
                   workers)


def sample_jpeg_quality(paths: Sequence[Path], shas: Sequence[str], cache: FeatureCache | None = None,
                        workers: int | None = None) -> list[int | None]:
    """Every image's JPEG quality as scan reads it: a JPEG's from its header's tables; any other
    file's from its pixels where they carry a JPEG's quantisation (``inputs.jpeg_trace``), read from
    :func:`jpeg_store` (``extract_features(..., sharpness=True)`` fills it while it has each image
    decoded) or decoded once and kept.  None: neither."""
    from ..inputs.quality import jpeg_quality_from_file

    out: list[int | None] = [jpeg_quality_from_file(p) for p in paths]
    todo = [i for i, q in enumerate(out) if q is None]
    got = _sample([paths[i] for i in todo], [shas[i] for i in todo], jpeg_store(cache), _store_jpeg, workers)
    for i, q in zip(todo, got):
        out[i] = None if q is None else int(q)
    return out


def _sample(paths: Sequence[Path], shas: Sequence[str], store: FeatureCache | None,
            measure: Callable[[FeatureCache | None, str, Any], float | None], workers: int | None) -> list[float | None]:
    """``measure(store, sha, decoded)`` of every image, from ``store`` where it holds the image (-1:
    measured, nothing to read), else decoded once (None when undecodable)."""
    from ..inputs.decoding import DecodeError, decode
    from ..inputs.pool import bounded_map

    def one(i: int) -> float | None:
        hit = None if store is None else store.get(shas[i])
        if hit is not None:
            return None if hit[0] < 0 else float(hit[0])
        try:
            d = decode(Path(paths[i]))
        except DecodeError:
            return None
        try:
            return measure(store, shas[i], d)
        finally:
            d.image.close()

    return list(bounded_map(one, range(len(paths)), workers=workers))


def crop_spread(crops: np.ndarray) -> np.ndarray:
    """``(f_j - mean) / sqrt(T)`` for the ``T`` crops' features ``[T, D]`` of one image, float32;
    ``[0, D]`` for a single crop (nothing varies within it)."""
    F = np.asarray(crops, dtype=np.float64)
    if len(F) < 2:
        return np.zeros((0, F.shape[1]), np.float32)
    return ((F - F.mean(0)) / np.sqrt(len(F))).astype(np.float32)


@dataclass
class Extracted:
    X: np.ndarray  # [N, dim] for the images that could be read
    keep: list[int]  # indices into the input list of those images
    errors: list[tuple[int, str]]  # (index, one-line reason) of the others
    sha256: list[str]
    seconds: float = 0.0
    cache_hits: int = 0
    sides: list[int] = field(default_factory=list)  # shorter side (px) of every input, 0 if unknown
    spread: list[np.ndarray] | None = None  # with spread=True: the crop spread of every kept image

    def drop(self, rows: Sequence[int]) -> None:
        """Keep only these rows (positions in ``keep``)."""
        self.keep = [self.keep[r] for r in rows]
        self.X = self.X[list(rows)]
        if self.spread is not None:
            self.spread = [self.spread[r] for r in rows]


def _cached_side(p: Path) -> int:
    try:  # the header is enough for the size
        from PIL import Image

        with Image.open(p) as im:
            return min(im.size)
    except Exception:
        return 0


class _Extraction:
    """One :func:`extract_features` run: every image's results so far and the batch waiting for the backbone."""

    def __init__(self, paths: Sequence[Path], backbone, cache: FeatureCache | None, spread: bool, sharpness: bool):
        n = len(paths)
        self.paths = paths
        self.backbone = backbone
        self.spec = backbone.card.input
        self.cache = cache
        self.spread = spread
        self.feats: list[np.ndarray | None] = [None] * n
        self.spreads: list[np.ndarray | None] = [None] * n
        self.shas: list[str] = [""] * n
        self.errors: list[tuple[int, str]] = []
        self.sides = [0] * n
        self.hits = 0
        self.spread_cache = None if cache is None or not spread else cache.companion("spread")
        self.sharp_store = sharpness_store(cache) if sharpness else None
        self.jpeg_store = jpeg_store(cache) if sharpness else None  # kept beside the sharpness, for the same card
        self.pending: list[tuple[int, np.ndarray]] = []

    def cached(self, sha: str) -> tuple[np.ndarray, np.ndarray | None] | None:
        """The image's cached feature (and crop spread, when asked for); None: not all of it cached."""
        v = None if self.cache is None else self.cache.get(sha)
        s = None if self.spread_cache is None or v is None else self.spread_cache.get(sha)
        return None if v is None or (self.spread and s is None) else (v, s)

    def prepare(self, i: int):
        """Worker side: image ``i``'s (index, SHA-256, cached features or prepared input, error)."""
        from ..inputs.decoding import DecodeError, decode
        from ..inputs.preprocess import to_inputs

        p = Path(self.paths[i])
        try:
            sha = sha256_file(p)
        except OSError as e:
            return i, "", None, f"cannot read: {e.strerror or e}"
        hit = self.cached(sha)
        if hit is not None:
            self.sides[i] = _cached_side(p)
            return i, sha, hit, None
        try:
            d = decode(p)
        except DecodeError as e:
            return i, sha, None, str(e)
        self.sides[i] = min(d.width, d.height)
        if self.sharp_store is not None:
            _store_sharpness(self.sharp_store, sha, d.image)
            _store_jpeg(self.jpeg_store, sha, d)
        try:
            return i, sha, to_inputs(d.image, self.spec), None
        except Exception as e:  # one bad image never stops the run
            return i, sha, None, f"preprocessing failed: {e.__class__.__name__}: {e}"
        finally:
            d.image.close()

    def take(self, i: int, sha: str, got, err: str | None, batch_size: int) -> None:
        """Main side: keep one prepared image's outcome; a full batch runs through the backbone."""
        self.shas[i] = sha
        if err is not None:
            self.errors.append((i, err))
        elif isinstance(got, tuple):  # cached feature (and spread)
            self.feats[i], self.spreads[i] = got
            self.hits += 1
        else:
            self.pending.append((i, got))
            if len(self.pending) >= batch_size:
                self.flush()

    def flush(self) -> None:
        """The pending images' features (and crop spreads), cached."""
        from ..inputs.preprocess import mean_per_image, stack_tiles

        pending = self.pending
        if not pending:
            return
        x, counts = stack_tiles([a for _, a in pending])
        F = self.backbone.features(x)
        per = mean_per_image(F, counts).astype(np.float32)
        crops = np.split(np.asarray(F), np.cumsum(counts)[:-1]) if self.spread else [None] * len(pending)
        for (i, _), v, c in zip(pending, per, crops):
            self.feats[i] = v
            if self.cache is not None:
                self.cache.put(self.shas[i], v)
            if self.spread:
                self.spreads[i] = crop_spread(c)
                if self.spread_cache is not None:
                    self.spread_cache.put(self.shas[i], self.spreads[i])
        pending.clear()

    def result(self, t0: float) -> Extracted:
        """The features of the images that could be read (``t0``: when the run began)."""
        feats, spreads = self.feats, self.spreads
        keep = [i for i in range(len(feats)) if feats[i] is not None]
        X = np.stack([feats[i] for i in keep]) if keep else np.zeros((0, self.backbone.card.dim), np.float32)
        return Extracted(X=X, keep=keep, errors=self.errors, sha256=self.shas, seconds=time.perf_counter() - t0,
                         cache_hits=self.hits, sides=self.sides,
                         spread=[spreads[i] for i in keep] if self.spread else None)


def extract_features(paths: Sequence[Path], backbone, *, cache: FeatureCache | None = None, batch_size: int = 16,
                     workers: int | None = None, progress: Callable[[int], None] | None = None,
                     spread: bool = False, sharpness: bool = False) -> Extracted:
    """Features of ``paths`` with a loaded backbone (``runtime.FeatureModel``), decoding in a
    thread pool while onnxruntime runs; unreadable images are reported, not skipped silently.
    ``spread``: also every image's crop spread (:func:`crop_spread`; cached beside the features).
    ``sharpness``: also measure every decoded image's fine-detail ratio into :func:`sharpness_store`
    (read by :func:`sample_sharpness`)."""
    from ..inputs.decoding import init_codecs
    from ..inputs.pool import bounded_map, default_workers

    init_codecs()
    t0 = time.perf_counter()
    run = _Extraction(paths, backbone, cache, spread, sharpness)
    done = 0
    # bounded: decoded crops are ~10 MB an image
    for i, sha, got, err in bounded_map(run.prepare, range(len(paths)), workers=workers,
                                          max_inflight=max(batch_size, 2 * (workers or default_workers()))):
        done += 1
        run.take(i, sha, got, err, batch_size)
        if progress:
            progress(done)
    run.flush()
    return run.result(t0)
