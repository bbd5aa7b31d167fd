"""The calibration domain of a card: what it needs to recognise images like its calibration images.

A :class:`DomainReference` holds, for one backbone, the calibration images' feature vectors
standardised by their own mean and scale (float16), each row's label (0 real, 1 synthetic, -1
unknown), the detector's out-of-fold probability on it (NaN when unknown), the condition it
was made under ("" for the original image; e.g. "short720-q90" for a transformed copy), and
the original rows' leave-one-out k-NN distances (the yardstick of per-image typicality).

It lives in a sidecar ``NAME.domain.npz`` beside the card (written atomically, read with
``allow_pickle=False``); the card's ``domain`` field names the file with its SHA-256 (checked
when loaded, like a model file) and summarises it.  The test itself is in
:mod:`synthdetect.scan.domain_check`; the statistics in :mod:`synthdetect.scan.twosample`.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..cards import CardError, atomic_write, sha256_file
from .twosample import distance_percentiles, knn_score, loo_knn_scores, pairwise_distances

SIDECAR_SUFFIX = ".domain.npz"
FORMAT = "synthdetect.domain-reference/1"
KNN = 3  # neighbours of the typicality score
COPY_FRACTION = 0.3  # of the images' median nearest-neighbour distance: closer is a copy of one picture
SERIES_FRACTION = 0.6  # closer than this (and not a copy): shots of one scene, kept together in the batch test
ROWS_PER_CONTENT_DIRECTION = 10  # a content direction needs this many original rows (few images: PCA fits them)


@dataclass
class DomainReference:
    backbone_sha256: str
    mean: np.ndarray  # [D] float32
    scale: np.ndarray  # [D] float32
    rows: np.ndarray  # [N, D] float16, standardised
    labels: np.ndarray  # [N] int8: 0 real, 1 synthetic, -1 unknown
    scores: np.ndarray  # [N] float32: the detector's out-of-fold probability (NaN: unknown)
    conditions: np.ndarray  # [N] str: "" for the original images
    loo: np.ndarray  # [N_original] float32: leave-one-out k-NN scores of the original rows
    k: int = KNN

    # -- building ----------------------------------------------------------------------
    @classmethod
    def build(cls, features: np.ndarray, *, backbone_sha256: str, labels: Sequence[int] | None = None,
              scores: Sequence[float] | None = None, conditions: Sequence[str] | None = None,
              k: int = KNN) -> "DomainReference":
        """From the [N, D] backbone features of the calibration images (and, with ``conditions``,
        transformed copies of them tagged by condition name; "" marks an original image).
        Standardisation and the typicality yardstick come from the original rows only."""
        X = np.asarray(features, dtype=np.float64)
        if X.ndim != 2 or X.shape[0] < 3 or not np.all(np.isfinite(X)):
            raise ValueError(f"a domain reference needs >= 3 finite feature rows, got shape {X.shape}")
        n = X.shape[0]
        cond = np.array([str(c) for c in conditions] if conditions is not None else [""] * n)
        lab = np.asarray(labels if labels is not None else [-1] * n, dtype=np.int8)
        sc = np.asarray(scores if scores is not None else [np.nan] * n, dtype=np.float32)
        if not (cond.shape == lab.shape == sc.shape == (n,)):
            raise ValueError("labels, scores and conditions need one entry per feature row")
        orig = cond == ""
        if orig.sum() < 3:
            raise ValueError("a domain reference needs >= 3 original (untransformed) images")
        mean, scale = standardisation(X[orig])
        rows = ((X - mean) / scale).astype(np.float16)
        loo = loo_knn_scores(rows[orig].astype(np.float64), k).astype(np.float32)
        return cls(backbone_sha256, mean.astype(np.float32), scale.astype(np.float32), rows, lab, sc, cond, loo, int(k))

    # -- use -----------------------------------------------------------------------------
    @property
    def dim(self) -> int:
        return int(self.mean.size)

    def standardise(self, features: np.ndarray) -> np.ndarray:
        f = np.asarray(features, dtype=np.float64)
        if f.ndim != 2 or f.shape[1] != self.dim:
            raise ValueError(f"features of shape {f.shape}; the reference has {self.dim} dimensions")
        return (f - self.mean) / self.scale

    def originals(self) -> np.ndarray:
        """The original (untransformed) rows as float64, converted once (read-only: copy to modify)."""
        cached = self.__dict__.get("_originals")
        if cached is None:
            cached = self.rows[self.conditions == ""].astype(np.float64)
            cached.flags.writeable = False
            self.__dict__["_originals"] = cached
        return cached

    def copy_distance(self, fraction: float = COPY_FRACTION) -> float:
        """The distance (standardised features) below which two images count as copies of one
        picture (:func:`copy_limit` on the original rows); with ``fraction``
        :data:`SERIES_FRACTION`, as shots of one scene."""
        median, n = self._nearest_median()
        return copy_limit(median, n, self.dim, fraction)

    def _nearest_median(self, max_rows: int = 1000) -> tuple[float, int]:
        """The original rows' median nearest-neighbour distance and how many rows it was measured
        on (a seeded sample of at most ``max_rows``: the distances are quadratic in the rows)."""
        cached = self.__dict__.get("_nearest_median_value")
        if cached is None:
            o = self.originals()
            if o.shape[0] > max_rows:
                o = o[np.sort(np.random.default_rng(0).choice(o.shape[0], max_rows, replace=False))]
            median = float(np.median(nearest_distances(pairwise_distances(o, o))))
            cached = self.__dict__["_nearest_median_value"] = (median, int(o.shape[0]))
        return cached

    def content_directions(self, q: int) -> np.ndarray:
        """The top ``q`` principal directions [q, D] of the original rows: within the calibration
        source they are dominated by what the images show (city, people, nature...), not by how
        they were made, so the batch test leaves them out (:mod:`synthdetect.scan.domain_check`).
        At most one per :data:`ROWS_PER_CONTENT_DIRECTION` original rows: the top directions of a
        few images fit those images, and the rest of their source keeps more of its spread outside
        them (a 25 + 25 sample with 10 directions read one in six one-class folders of its own source
        as out of domain; docs/domain.md); and never most of a small space."""
        cache = self.__dict__.setdefault("_directions", {})
        if q not in cache:
            Xc = self.originals() - self.originals().mean(0)
            k = max(0, min(int(q), self.dim // 8, Xc.shape[0] // ROWS_PER_CONTENT_DIRECTION))
            lam, U = np.linalg.eigh(Xc @ Xc.T)  # via the Gram matrix: rows << dimensions
            top = np.argsort(lam)[::-1][:k]
            V = (Xc.T @ U[:, top]) / np.sqrt(np.maximum(lam[top], 1e-12))
            cache[q] = V.T
        return cache[q]

    def without_content(self, standardised: np.ndarray, q: int) -> np.ndarray:
        """``standardised`` rows with their components along :meth:`content_directions` removed."""
        V = self.content_directions(q)
        return standardised - (standardised @ V.T) @ V if V.size else standardised

    def typicality(self, features: np.ndarray) -> np.ndarray:
        """Per image: the share of calibration images that lie closer to the rest of the
        calibration images than this image lies to them (0.5 typical, 1.0 beyond all of them)."""
        return self.look_up(features)[0]

    def look_up(self, features: np.ndarray) -> tuple[np.ndarray, list[tuple[int, float] | None]]:
        """Per image, from one computation of its distances to the calibration images: its
        :meth:`typicality` (against the original rows), and (row index among all the rows,
        distance as a share of the originals' median nearest-neighbour distance) of the calibration
        image it is a copy of — closer than :meth:`copy_distance` to it or to one of its transformed
        copies (``conditions``), e.g. the same picture re-saved, re-encoded or downscaled — or None.
        Measured (docs/train.md, *A model's own calibration images*): 720 px JPEG q85 copies of a reference's own images lie at 0.14–0.32
        of that median from its ``720q80``/``720q90`` rows (0.34–1.0 from the originals); other images
        of the same source, 0.74 and further."""
        std = self.standardise(features)
        orig = self.conditions == ""
        d = pairwise_distances(std, self.originals())
        d_all = d if orig.all() else pairwise_distances(std, self._all_rows())
        near, limit = d_all.argmin(1), self.copy_distance()
        unit = self._nearest_median()[0] or 1.0
        copies = [(int(j), round(float(d_all[i, j]) / unit, 3)) if d_all[i, j] < limit else None
                  for i, j in enumerate(near)]
        return distance_percentiles(d, self.loo, self.k), copies

    def _all_rows(self) -> np.ndarray:
        """Every row (originals and transformed copies) as float64, converted once (read-only)."""
        cached = self.__dict__.get("_all_rows_value")
        if cached is None:
            cached = self.rows.astype(np.float64)
            cached.flags.writeable = False
            self.__dict__["_all_rows_value"] = cached
        return cached

    def summary(self) -> dict[str, Any]:
        conds: dict[str, int] = {}
        for c in self.conditions:
            conds[str(c) or "original"] = conds.get(str(c) or "original", 0) + 1
        orig = self.conditions == ""
        return {"n": int(orig.sum()), "n_real": int(np.sum(self.labels[orig] == 0)),
                "n_synthetic": int(np.sum(self.labels[orig] == 1)), "rows": int(self.rows.shape[0]),
                "conditions": conds, "dim": self.dim, "knn": self.k, "backbone_sha256": self.backbone_sha256}

    # -- files ---------------------------------------------------------------------------
    def save(self, path: Path | str) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        return atomic_write(path, lambda f: np.savez_compressed(
            f, format=np.array(FORMAT), backbone_sha256=np.array(self.backbone_sha256),
            mean=self.mean, scale=self.scale, rows=self.rows, labels=self.labels, scores=self.scores,
            conditions=self.conditions.astype(str), loo=self.loo, k=np.array(self.k)), binary=True)

    @classmethod
    def load(cls, path: Path | str) -> "DomainReference":
        try:
            with np.load(Path(path), allow_pickle=False) as z:
                if str(z["format"]) != FORMAT:
                    raise ValueError(f"format {str(z['format'])!r}, expected {FORMAT!r}")
                ref = cls(str(z["backbone_sha256"]), z["mean"].astype(np.float32), z["scale"].astype(np.float32),
                          z["rows"].astype(np.float16), z["labels"].astype(np.int8), z["scores"].astype(np.float32),
                          z["conditions"].astype(str), z["loo"].astype(np.float32), int(z["k"]))
        except (OSError, KeyError, ValueError, EOFError) as e:
            raise CardError(f"cannot read domain reference {path}: {e}") from None
        n, d = ref.rows.shape
        if ref.mean.shape != (d,) or ref.labels.shape != (n,) or ref.conditions.shape != (n,) \
                or ref.loo.shape != (int(np.sum(ref.conditions == "")),):
            raise CardError(f"domain reference {path}: inconsistent array shapes")
        return ref


# -- cards --------------------------------------------------------------------------------
def standardisation(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each feature's mean and standard deviation over the rows (a constant feature: scale 1)."""
    X = np.asarray(X, dtype=np.float64)
    scale = X.std(0)
    return X.mean(0), np.where(scale > 1e-6, scale, 1.0)


def nearest_distances(dist: np.ndarray) -> np.ndarray:
    """Each row's distance to its nearest other row, from the rows' square distance matrix."""
    d = np.array(dist, dtype=np.float64)
    np.fill_diagonal(d, np.inf)
    return knn_score(d, 1)


def copy_limit(median: float, n: int, dim: int, fraction: float = COPY_FRACTION) -> float:
    """Two images closer than this (standardised features) are copies of one picture:
    ``fraction`` of the ``n`` rows' ``median`` nearest-neighbour distance.  Measured
    (docs/domain.md): no two distinct images of the four sources here lie closer than 0.46 of it,
    and a byte copy, a re-save or a high-quality JPEG re-encode of one image does (a q85 re-encode
    half the time).  The median holds as long as fewer than half the rows are copies.  The rule
    needs many dimensions (backbones have hundreds to thousands): in few of them distinct images
    often lie that close by chance, so the fraction is capped where, for points spread evenly in
    ``dim`` dimensions, a pair of the ``n`` rows would fall that close with probability ~1 %
    (``(0.01 / n²)^(1/dim)``: 0.99 for 225 rows of 3,072 features, 0.13 for 50 rows of 6)."""
    if n < 2:
        return 0.0
    return float(min(fraction, (0.01 / n ** 2) ** (1.0 / max(1, dim))) * median)


def first_of_copies(dist: np.ndarray, limit: float) -> np.ndarray:
    """Per row of the square distance matrix ``dist``, True unless the row lies closer than
    ``limit`` to an earlier row that is itself kept (the first image of a picture stands for its copies)."""
    first = np.ones(len(dist), dtype=bool)
    for i in range(1, len(dist)):
        first[i] = not np.any(dist[i, :i][first[:i]] < limit)
    return first


def leader_groups(dist: np.ndarray, limit: float) -> np.ndarray:
    """A group id per row of the square distance matrix ``dist``: each row joins the first earlier
    *leader* closer than ``limit``, or leads a group of its own (leaders never merge, so a group
    spans at most twice ``limit``)."""
    group = np.arange(len(dist))
    for i in range(1, len(dist)):
        leaders = np.flatnonzero(group[:i] == np.arange(i))
        near = leaders[dist[i, leaders] < limit]
        if near.size:
            group[i] = near[0]
    return group


def sidecar_path(card_path: Path | str) -> Path:
    p = Path(card_path)
    return p.with_name(p.stem + SIDECAR_SUFFIX)


def attach(card, ref: DomainReference, *, card_path: Path | str | None = None, save_card: bool = True) -> Path:
    """Write ``ref`` beside ``card`` (a ``ModelCard``; at ``card_path``, default its ``path``) and
    record it in ``card.domain`` (file, SHA-256, summary); the card is saved again (atomically)
    unless ``save_card`` is off."""
    card_path = card_path or card.path
    if card_path is None:
        raise ValueError("the card has no path to write its domain reference beside")
    side = ref.save(sidecar_path(card_path))
    card.domain = {"file": side.name, "sha256": sha256_file(side), **ref.summary()}
    if save_card:
        card.path = atomic_write(card_path, lambda f: f.write(json.dumps(card.to_dict(), indent=2) + "\n"))
    return side


def load_for_card(card) -> DomainReference | None:
    """The card's domain reference, checked against the SHA-256 in the card; None when the card
    has none (npr, spectral, imported models...).  CardError when it is named but missing or altered."""
    info = getattr(card, "domain", None)
    if not info:
        return None
    base = Path(card.path).parent if card.path else Path(".")
    p = base / str(info.get("file", ""))
    if not p.is_file():
        raise CardError(f"{card.name}: domain reference {p} is missing")
    got = sha256_file(p)
    if got != info.get("sha256"):
        raise CardError(f"{card.name}: sha256 mismatch for {p.name}: card {str(info.get('sha256'))[:12]}…, "
                        f"file {got[:12]}…")
    ref = DomainReference.load(p)
    bb = (card.backbone or {}).get("sha256")
    if bb and ref.backbone_sha256 != bb:
        raise CardError(f"{card.name}: domain reference {p.name} was built on another backbone")
    return ref


# -- feature vectors carried in records ----------------------------------------------------
def encode_vector(v: np.ndarray) -> str:
    """A feature vector as base64 float16 (cache- and JSON-friendly)."""
    return base64.b64encode(np.asarray(v, dtype="<f2").tobytes()).decode("ascii")


def decode_vector(s: str, dim: int) -> np.ndarray | None:
    try:
        v = np.frombuffer(base64.b64decode(s.encode("ascii"), validate=True), dtype="<f2")
    except (ValueError, TypeError, AttributeError):
        return None
    if v.size != dim or not np.all(np.isfinite(v)):
        return None
    return v.astype(np.float64)
