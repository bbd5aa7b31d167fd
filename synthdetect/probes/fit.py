"""Fitting a linear probe on backbone features: numpy only (no torch, no scikit-learn).

Two methods, both giving one :class:`LinearHead`:

* ``"lda-average"`` (``train probe``'s default without a prior, :func:`fit_lda_average`): for
  every candidate feature group, Fisher's discriminant with the Ledoit-Wolf shrunk pooled
  covariance on standardised features; the groups' scores (unit sd on the training images)
  averaged with equal weights, then Platt-scaled on cross-validated scores.  No choice is made
  on the sample, which is what helps with a few dozen images a class (docs/train.md, measured).
  Given the images' crop spread (:class:`CropSpread`), the covariance is the crop-level one:
  the images' residuals from their class mean plus the crops' deviations from their image's
  mean, so directions in which the crops of one image differ (its content) weigh less than
  directions in which whole images differ.
* ``"logistic"`` (below; the method with a prior head).

The paper's recipe (frozen pretrained features + a linear layer retrained on a small sample
of the target distribution) as L2-regularised logistic regression:

* features are standardised (mean / std of the training images);
* the weights minimise  Σ log(1 + exp(−yᵢ fᵢ)) + ||w||² / (2C)  with an unpenalised bias;
* the fit is exact and fast when there are fewer images than feature dimensions: the
  minimiser lies in the row space of the data, so Newton's method runs in the
  ``rank ≤ N`` coordinates of a thin SVD (200 images x 4,000 features: milliseconds);
* ``C`` is chosen by stratified k-fold cross-validation (mean log-loss), *inside* every outer
  fold when out-of-fold scores are needed (nested cross-validation), so the out-of-fold
  scores that calibrate thresholds and fill Table 1 never saw the choice of ``C`` made on
  their own images.

With a ``prior`` head (e.g. one pre-trained on other data), the fit is *prior-centred ridge*:
the features are standardised with the prior's mean/scale, the prior's logits enter as a
fixed offset, and only the difference ``d = w − w_prior`` (and the bias shift) is fitted:

    minimise  Σ log(1 + exp(−yᵢ (oᵢ + x̃ᵢ·d + b)))  +  ||d||² / (2C),   oᵢ = prior logit of image i

so a small ``C`` keeps the prior head and a large one lets the new images move it freely; the
result is the head ``w_prior + d`` (intercept ``b_prior + b``), chosen by the same CV over ``C``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from ..scan.heads import LinearHead, sigmoid

DEFAULT_CS = tuple(float(c) for c in np.logspace(-4, 1, 11))
METHODS = ("logistic", "lda-average")


def _standardise(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = X.mean(0)
    scale = X.std(0)
    scale = np.where(scale > 1e-8 * max(1.0, float(np.abs(mean).max(initial=0.0))), scale, 1.0)
    return mean, scale


def _row_space(Xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``Z`` [N, r] and ``B`` [D, r] with ``Xs B = Z`` and orthonormal ``B``: the row space of
    ``Xs`` via the eigen-decomposition of the N x N Gram matrix (much cheaper than an SVD of a
    wide matrix)."""
    lam, U = np.linalg.eigh(Xs @ Xs.T)
    keep = lam > max(float(lam.max(initial=0.0)), 1e-300) * 1e-10
    s = np.sqrt(lam[keep])
    Z = U[:, keep] * s
    B = (Xs.T @ U[:, keep]) / s
    return Z, B


def _newton(Z: np.ndarray, y: np.ndarray, C: float, iters: int = 50, tol: float = 1e-9,
            start: np.ndarray | None = None, offset: np.ndarray | None = None,
            weights: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """Minimise Σ wᵢ log(1+exp(-sᵢ fᵢ)) + ||c||²/(2C), f = offset + Z c + b, s = ±1; returns (c, b).

    ``offset``: fixed per-image logits (a prior head's), not fitted and not penalised.
    ``weights``: per-row weights w (default 1: every row counts once)."""
    n, r = Z.shape
    o = np.zeros(n) if offset is None else np.asarray(offset, dtype=np.float64)
    w_row = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    A = np.hstack([Z, np.ones((n, 1))])
    reg = np.full(r + 1, 1.0 / C)
    reg[-1] = 0.0  # the bias is not penalised
    theta = np.zeros(r + 1) if start is None else np.r_[start[0], start[1]]
    t = y.astype(np.float64)
    ridge = np.diag(reg + 1e-9)

    def objective(th: np.ndarray) -> tuple[float, np.ndarray]:
        f = o + A @ th
        return float(np.sum(w_row * (np.logaddexp(0.0, f) - t * f)) + 0.5 * np.dot(reg * th, th)), f

    loss, f = objective(theta)
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-f))
        g = A.T @ (w_row * (p - t)) + reg * theta
        w = w_row * p * (1.0 - p) + 1e-12
        step = np.linalg.solve((A.T * w) @ A + ridge, g)
        # backtracking keeps Newton monotone on separable data
        a = 1.0
        while True:
            th = theta - a * step
            lnew, fnew = objective(th)
            if lnew <= loss or a <= 1e-6:
                break
            a *= 0.5
        theta, f, prev, loss = th, fnew, loss, lnew
        if prev - lnew < tol * max(1.0, abs(lnew)):
            break
    return theta[:-1], float(theta[-1])


def _check_prior(prior: LinearHead | None, X: np.ndarray) -> None:
    if prior is not None and prior.coef.size != X.shape[1]:
        raise ValueError(f"prior head has {prior.coef.size} weights; the features have {X.shape[1]} dimensions")


def fit_logistic(X: np.ndarray, y: np.ndarray, C: float, prior: LinearHead | None = None) -> LinearHead:
    """Standardise ``X`` and fit the L2 logistic regression exactly (see module docstring).

    ``prior``: prior-centred ridge towards that head, in its standardisation (module docstring)."""
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y).astype(np.int64)
    if X.ndim != 2 or X.shape[0] != y.size:
        raise ValueError("X must be [N, D] with one label per row")
    if len(set(y.tolist())) != 2:
        raise ValueError("fitting a probe needs both real (0) and synthetic (1) images")
    _check_prior(prior, X)
    if prior is None:
        mean, scale = _standardise(X)
    else:
        mean, scale = prior.mean, prior.scale
    Xs = (X - mean) / scale
    # w = B c with orthonormal B spanning the rows: ||w|| = ||c||, f = Xs B c = Z c
    # (with a prior the same holds for the difference d = w - w_prior)
    Z, B = _row_space(Xs)
    offset = None if prior is None else Xs @ prior.coef + prior.intercept
    c, b = _newton(Z, y, C, offset=offset)
    coef = B @ c
    if prior is None:
        return LinearHead(mean, scale, coef, b, C=float(C))
    return LinearHead(mean.copy(), scale.copy(), prior.coef + coef, prior.intercept + b, C=float(C),
                      extra={"prior": "prior-centred ridge: penalty ||w - w_prior||^2 / (2C), prior's standardisation"})


class Stratum(str):
    """A cross-validation stratum (a category, a source: compared as the plain string) that also
    names the image's *scene* (``unit``): the images of one scene — shots of one subject, a
    re-rendered prompt — share a fold, so no fold scores an image whose near twin it was fitted
    on (within one stratum: a scene whose images carry both labels is dealt out per label).
    ``None``: a scene of one."""

    unit: int | None

    def __new__(cls, value: str, unit: int | None = None) -> "Stratum":
        obj = super().__new__(cls, value)
        obj.unit = unit
        return obj


def stratified_folds(y: Sequence[int], k: int, seed: int, groups: Sequence[str] | None = None) -> list[np.ndarray]:
    """Fold index of every image: stratified by label (and by ``groups`` within a label,
    e.g. category), shuffled with ``seed``.  Returns the test indices of each fold.  When
    ``groups`` are :class:`Stratum` with scenes, a scene's images are dealt out as one."""
    y = np.asarray(y).astype(np.int64)
    rng = np.random.default_rng(seed)
    units = [getattr(b, "unit", None) for b in groups] if groups is not None else [None] * y.size
    strata = [f"{a}|{b}" for a, b in zip(y.tolist(), groups if groups is not None else [""] * y.size)]
    assign = np.empty(y.size, dtype=np.int64)
    offset = 0
    for s in sorted(set(strata)):
        idx = np.array([i for i, v in enumerate(strata) if v == s])
        if all(units[i] is None for i in idx):
            rng.shuffle(idx)
            assign[idx] = (np.arange(idx.size) + offset) % k
            offset += idx.size
            continue
        blocks: dict[Any, list[int]] = {}
        for i in idx:
            blocks.setdefault(("scene", units[i]) if units[i] is not None else ("image", int(i)), []).append(int(i))
        found = list(blocks.values())
        order = [found[b] for b in rng.permutation(len(found))]
        load = np.zeros(k)  # this stratum's rows per fold: each scene, largest first, to the emptiest
        for block in sorted(order, key=len, reverse=True):
            f = int(np.argmin(load[(np.arange(k) + offset) % k])) + offset
            assign[block] = f % k
            load[f % k] += len(block)
        offset += len(order)
    return [np.nonzero(assign == f)[0] for f in range(k)]


def _logloss(y: np.ndarray, logits: np.ndarray) -> float:
    return float(np.mean(np.logaddexp(0.0, logits) - y * logits))


def choose_C(X: np.ndarray, y: np.ndarray, Cs: Sequence[float] = DEFAULT_CS, k: int = 5, seed: int = 0,
             groups: Sequence[str] | None = None, prior: LinearHead | None = None) -> tuple[float, dict[str, float]]:
    """The ``C`` with the lowest mean cross-validated log-loss (ties: the smaller ``C``)."""
    y = np.asarray(y).astype(np.int64)
    k = max(2, min(k, int(min(np.sum(y == 0), np.sum(y == 1)))))
    folds = stratified_folds(y, k, seed, groups)
    losses: dict[float, list[float]] = {float(C): [] for C in Cs}
    for test in folds:
        train = np.setdiff1d(np.arange(y.size), test)
        if len(set(y[train].tolist())) < 2:
            continue
        # one decomposition per fold serves every C; the path over increasing C is warm-started
        mean, scale = _standardise(X[train]) if prior is None else (prior.mean, prior.scale)
        Xs_tr, Xs_te = (X[train] - mean) / scale, (X[test] - mean) / scale
        Z, B = _row_space(Xs_tr)
        Xt = Xs_te @ B
        o_tr = o_te = None
        if prior is not None:
            o_tr, o_te = Xs_tr @ prior.coef + prior.intercept, Xs_te @ prior.coef + prior.intercept
        sol = None
        for C in sorted(Cs):
            sol = _newton(Z, y[train], C, start=sol, offset=o_tr)
            losses[float(C)].append(_logloss(y[test], (0.0 if o_te is None else o_te) + Xt @ sol[0] + sol[1]))
    mean_loss = {C: float(np.mean(v)) for C, v in losses.items() if v}
    best = min(mean_loss, key=lambda C: (round(mean_loss[C], 12), C))
    return best, mean_loss


# --- the averaged shrinkage-LDA probe (the default without a prior) ---------------------------

PLATT_C = 1.0  # ridge on the slope of the 1-D logistic that turns the averaged score into a logit
# the least slope: a direction the inner cross-validation cannot confirm (a few images a class)
# keeps its sign, i.e. its ranking, with probabilities near the base rate; never flipped
PLATT_MIN_SLOPE = 0.1
# the leading directions of an image's crop spread kept (of T - 1 <= 15 for 4 x 4 crops): on the
# four sources the ROC-AUC at 10/25/50 per class is that of all of them (docs/train.md), at half the solve
SPREAD_RANK = 8
# train probe's default: the Ledoit-Wolf intensity times this.  Ledoit-Wolf minimises the
# covariance's Frobenius error, not the discriminant's: on the two photoreal sources here a tenth
# of it ranks better with 25-50 images a class (40 draws, docs/train.md); 1 is Ledoit-Wolf's own
LW_SCALE = 0.1
CROP_LEVEL = "crop-level (images' residuals from their class mean + crops' deviations from their image's mean)"


def _take(spread: "CropSpread | None", idx: np.ndarray) -> "CropSpread | None":
    return None if spread is None else spread.take(idx)


def ledoit_wolf_shrinkage(R: np.ndarray) -> tuple[float, float]:
    """(alpha, mu) of the Ledoit-Wolf estimator for rows ``R`` [n, p] that are already centred:
    the covariance ``(1 - alpha) R'R/n + alpha mu I`` (mu = mean variance) minimises the expected
    Frobenius error; the same formula as scikit-learn's ``ledoit_wolf_shrinkage``, in
    ``O(min(n, p)^2 max(n, p))``."""
    n, p = R.shape
    G = R @ R.T if n <= p else R.T @ R  # the same Frobenius norm
    return _lw_from(np.einsum("ij,ij->i", R, R), float(np.sum(G * G)), p)


def _lw_from(row2: np.ndarray, frob2: float, p: int) -> tuple[float, float]:
    """Ledoit-Wolf (alpha, mu) from the centred rows' squared norms and ``||R'R||_F^2``."""
    n = row2.size
    total = float(row2.sum())
    mu = total / (n * p)
    delta_ = frob2 / n ** 2  # ||R'R / n||_F^2
    beta = (float(np.sum(row2 ** 2)) / n - delta_) / (p * n)
    delta = (delta_ - 2.0 * mu * total / n + p * mu ** 2) / p
    beta = min(beta, delta)
    return (0.0 if beta <= 0 or delta <= 0 else float(beta / delta)), mu


class _Scatter:
    """The within-class rows ``R`` [m, P] of one fit (images' residuals, then crop-spread rows;
    ``n`` images) and the products the shrinkage-LDA solve of every column group needs.  Each
    group takes the cheaper route: its own ``p x p`` product ``R_g'R_g`` (few columns), or the
    ``m x m`` product ``R_g R_g'`` (the Woodbury route: fewer rows than columns), summed from
    the column atoms the Woodbury groups share (the columns that belong to the same groups),
    each computed once."""

    def __init__(self, R: np.ndarray, n: int, col_sets: Sequence[np.ndarray], shrinkage_scale: float = 1.0):
        m, _ = R.shape
        self.R, self.n, self.col_sets, self.scale = R, n, list(col_sets), float(shrinkage_scale)
        self.primal = [m * len(c) ** 2 + len(c) ** 3 * 2 / 3 < m ** 3 * 2 / 3 for c in self.col_sets]
        self.atoms: list[tuple[np.ndarray, np.ndarray]] = []  # (the Woodbury groups holding it, its R R')
        wood = [g for g, p in enumerate(self.primal) if not p]
        for g in wood[62:]:  # a bit per Woodbury group in an int64 signature: any beyond 62 go primal
            self.primal[g] = True
        wood = np.array(wood[:62], dtype=np.int64)
        sig = np.zeros(R.shape[1], dtype=np.int64)
        for bit, g in enumerate(wood):
            sig[self.col_sets[g]] |= np.int64(1) << bit
        for code in np.unique(sig[sig != 0]):  # an atom: the columns held by the same Woodbury groups
            cols = np.nonzero(sig == code)[0]
            holders = np.zeros(len(self.col_sets), dtype=bool)
            holders[wood[(int(code) >> np.arange(wood.size)) & 1 == 1]] = True
            self.atoms.append((holders, R[:, cols] @ R[:, cols].T))

    def direction(self, group: int, v: np.ndarray) -> tuple[np.ndarray, float]:
        """``S^-1 v`` over the columns of ``col_sets[group]`` (``v`` over all columns; the result
        over the group's) with the Ledoit-Wolf covariance ``S`` of the rows (``R'R / n`` shrunk
        over all ``m`` rows; the intensity times ``shrinkage_scale``).  Returns it and the intensity used."""
        cols = self.col_sets[group]
        Rg, v = self.R[:, cols], v[cols]
        m, p = Rg.shape
        s2 = m / self.n  # the rows scaled by sqrt(m/n) have covariance R'R/n over m rows
        if self.primal[group]:
            M = Rg.T @ Rg
        else:
            M = sum(G for sig, G in self.atoms if sig[group])
        alpha, mu = _lw_from(np.einsum("ij,ij->i", Rg, Rg) * s2, float(np.sum(M * M)) * s2 ** 2, p)
        alpha = min(1.0, max(alpha * self.scale, 1e-6))
        c, d = alpha * max(mu, 1e-12), (1.0 - alpha) / self.n
        if d <= 0:  # fully shrunk: S = c I
            return v / c, alpha
        if self.primal[group]:
            return np.linalg.solve(c * np.eye(p) + d * M, v), alpha
        inner = np.linalg.solve((c / d) * np.eye(m) + M, Rg @ v)
        return (v - Rg.T @ inner) / c, alpha


@dataclass(frozen=True)
class CropSpread:
    """The within-image spread of a backbone's per-crop features over a set of images: for image
    ``i`` with ``T_i`` crops the rows ``(f_ij - mean_i) / sqrt(T_i)`` (none for a single crop),
    so that ``rows' rows = sum_i (1/T_i) sum_j d_ij d_ij'`` (every image weighs once), and the
    image each row belongs to (``synthdetect.probes.features.crop_spread`` makes the rows)."""

    rows: np.ndarray  # [M, D]
    owner: np.ndarray  # [M] position of the image in the set

    @classmethod
    def from_images(cls, per_image: Sequence[np.ndarray], X: np.ndarray, rank: int | None = None) -> "CropSpread":
        """From every image's spread rows (``[T_i, D]``, aligned with the features ``X``).
        ``rank``: keep each image's ``rank`` leading directions only (a truncated SVD in the
        coordinates of ``X``'s per-feature standard deviation): the solve then costs a fraction,
        and the directions dropped carry little of the spread (:data:`SPREAD_RANK`, measured)."""
        dim = X.shape[1]
        scale = _standardise(np.asarray(X, dtype=np.float64))[1]
        kept = []
        for r in per_image:
            r = np.asarray(r, dtype=np.float64).reshape(-1, dim)
            if rank is not None and len(r) > rank:
                _, sv, Vt = np.linalg.svd(r / scale, full_matrices=False)
                r = (sv[:rank, None] * Vt[:rank]) * scale
            kept.append(r.astype(np.float32))
        owner = np.concatenate([np.full(len(r), i, dtype=np.int64) for i, r in enumerate(kept)] or
                               [np.zeros(0, np.int64)])
        rows = np.concatenate(kept or [np.zeros((0, dim), np.float32)])
        return cls(rows, owner)

    def take(self, idx: np.ndarray) -> "CropSpread":
        """The spread of images ``idx`` (positions in this set), renumbered to positions in ``idx``."""
        idx = np.asarray(idx, dtype=np.int64)
        pos = np.full(int(max(idx.max(initial=-1), self.owner.max(initial=-1))) + 1, -1, dtype=np.int64)
        pos[idx] = np.arange(idx.size)
        m = pos[self.owner] >= 0
        return CropSpread(self.rows[m], pos[self.owner[m]])


def lda_direction(Z: np.ndarray, y: np.ndarray, spread: np.ndarray | None = None,
                  shrinkage_scale: float = 1.0) -> tuple[np.ndarray, float]:
    """Fisher's discriminant ``S^-1 (m1 - m0)`` with the Ledoit-Wolf pooled within-class
    covariance ``S`` of the (standardised) rows ``Z``; returns (direction, shrinkage).

    ``spread``: crop-spread rows in the same coordinates (:class:`CropSpread`); ``S`` is then
    the crop-level within-class covariance ``(R'R + spread'spread) / n`` (``R`` the images'
    residuals from their class mean, ``n`` images), shrunk by the Ledoit-Wolf estimate over all
    those rows.  With fewer rows than features ``S^-1`` is applied through the Woodbury identity.
    ``shrinkage_scale``: the Ledoit-Wolf intensity times this (:data:`LW_SCALE`)."""
    R, v = _within_rows(Z, y, spread)
    return _Scatter(R, len(Z), [np.arange(Z.shape[1])], shrinkage_scale).direction(0, v)


def _within_rows(Z: np.ndarray, y: np.ndarray, spread: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """The images' residuals from their class mean (then the spread rows) and ``m1 - m0``."""
    m0, m1 = Z[y == 0].mean(0), Z[y == 1].mean(0)
    R = np.vstack([Z[y == 0] - m0, Z[y == 1] - m1] + ([] if spread is None or not len(spread) else [spread]))
    return R, m1 - m0


def average_lda(X: np.ndarray, y: np.ndarray, candidates: Sequence[Any], spread: CropSpread | None = None,
                shrinkage_scale: float = 1.0) -> LinearHead:
    """One linear head: the mean of the candidates' shrinkage-LDA scores, each scaled to unit
    standard deviation on the training images (no scaling to probabilities yet: :func:`fit_lda_average`).
    Every group shares the standardisation of the whole vector (it is per feature), so the
    average is a single weight vector over the union of the groups.  ``spread``: the images'
    crop spread (:func:`lda_direction`); ``shrinkage_scale``: the Ledoit-Wolf intensity times this."""
    mean, scale = _standardise(X)
    Z = (X - mean) / scale
    crops = spread is not None and len(spread.rows) > 0
    R, v = _within_rows(Z, y, spread.rows / scale if crops else None)  # type: ignore[union-attr]
    col_sets = [np.arange(X.shape[1]) if (c := _columns(cand, X.shape[1])) is None else c for cand in candidates]
    scatter = _Scatter(R, len(Z), col_sets, shrinkage_scale)
    coef, used, shrink = np.zeros(X.shape[1]), np.zeros(X.shape[1], dtype=bool), {}
    for g, (cand, cols) in enumerate(zip(candidates, col_sets)):
        w, shrink[cand.name] = scatter.direction(g, v)
        sd = float(np.std(Z[:, cols] @ w))
        if sd > 1e-12:
            coef[cols] += w / sd / len(candidates)
        used[cols] = True
    intercept = -float(np.mean(Z @ coef))  # centred on the training images (0 up to rounding)
    head = LinearHead(mean, scale, coef, intercept, C=None,
                      extra={"method": "average of shrinkage-LDA probes over feature groups",
                             "covariance": CROP_LEVEL if crops else "image-level (images' residuals from their class mean)",
                             "groups": [c.name for c in candidates],
                             "shrinkage_rule": f"Ledoit-Wolf x {shrinkage_scale:g}",
                             "shrinkage": {k: round(v, 6) for k, v in shrink.items()}})
    if not used.all():
        cols = np.nonzero(used)[0]
        head = LinearHead(mean[cols], scale[cols], coef[cols], intercept, None, head.extra, cols, X.shape[1])
    return head


def lda_average_cv_scores(X: np.ndarray, y: np.ndarray, candidates: Sequence[Any], k: int = 5, seed: int = 0,
                          groups: Sequence[str] | None = None, spread: CropSpread | None = None,
                          shrinkage_scale: float = 1.0) -> np.ndarray:
    """The out-of-fold scores of :func:`average_lda` (``k``-fold, stratified): each image scored
    by the average fitted without it, before any scaling to probabilities.  Each fold's score is
    centred with unit standard deviation on its training images, so the pooled scores rank the
    images as the scaled ones would, up to the folds' slightly different scalings: what the
    Platt step of :func:`fit_lda_average` is fitted on, and the learning curve's ROC-AUC."""
    y = np.asarray(y).astype(np.int64)
    candidates = list(candidates) or [_Whole()]
    k = max(2, min(k, int(min(np.sum(y == 0), np.sum(y == 1)))))
    cv = np.zeros(y.size)
    for test in stratified_folds(y, k, seed, groups):
        train = np.setdiff1d(np.arange(y.size), test)
        cv[test] = average_lda(X[train], y[train], candidates, _take(spread, train), shrinkage_scale).logits(X[test])
    return cv


def fit_lda_average(X: np.ndarray, y: np.ndarray, candidates: Sequence[Any], k: int = 5, seed: int = 0,
                    groups: Sequence[str] | None = None, spread: CropSpread | None = None,
                    shrinkage_scale: float = 1.0) -> tuple[LinearHead, float]:
    """:func:`average_lda` on every image, its score turned into a logit by a 1-D logistic
    (slope ridge ``PLATT_C``) fitted on the scores of a ``k``-fold cross-validation of the same
    procedure, so the head's probabilities are out-of-sample ones (the slope is kept at least
    ``PLATT_MIN_SLOPE``: never a flipped direction).  ``spread``: the images' crop spread
    (:class:`CropSpread`; each fold uses its training images').  Returns (head, the mean
    cross-validated log-loss of the scaled scores)."""
    k = max(2, min(k, int(min(np.sum(y == 0), np.sum(y == 1)))))
    cv = lda_average_cv_scores(X, y, candidates, k=k, seed=seed, groups=groups, spread=spread,
                               shrinkage_scale=shrinkage_scale)
    a, b = _newton(cv[:, None], y, PLATT_C)
    if a[0] < PLATT_MIN_SLOPE:  # only the intercept is refitted, the slope held at the floor
        a = np.array([PLATT_MIN_SLOPE])
        b = _newton(np.zeros((y.size, 0)), y, PLATT_C, offset=PLATT_MIN_SLOPE * cv)[1]
    head = average_lda(X, y, candidates, spread, shrinkage_scale)
    head.coef, head.intercept = head.coef * float(a[0]), head.intercept * float(a[0]) + b
    head.extra["platt"] = {"slope": round(float(a[0]), 6), "intercept": round(float(b), 6), "folds": k}
    return head, _logloss(y, a[0] * cv + b)


@dataclass
class ProbeFit:
    head: LinearHead  # fitted on every image
    oof: np.ndarray  # out-of-fold probabilities (nested CV), one per image
    oof_C: list[float]  # the C chosen inside each outer fold
    cv_losses: dict[float, float]  # the final choice of C over all images
    folds: int
    seed: int
    group: str = "all"  # the feature group of the final head
    group_losses: dict[str, float] = field(default_factory=dict)  # best CV log-loss of every candidate
    oof_groups: list[str] = field(default_factory=list)  # the group chosen inside each outer fold
    # the outer-fold models and the images each one scored (out of fold): transformed copies of
    # an image are scored by the model of its fold (synthdetect.scan.conditions)
    fold_heads: list[LinearHead] = field(default_factory=list)
    fold_tests: list[np.ndarray] = field(default_factory=list)
    method: str = "logistic"  # "lda-average": the candidates' shrinkage-LDA probes averaged (no choice)


@dataclass(frozen=True)
class _Whole:
    """The one candidate when no feature groups are given: every feature."""

    indices: None = None
    name: str = "all"


def select_group(X: np.ndarray, y: np.ndarray, candidates: Sequence[Any], Cs: Sequence[float] = DEFAULT_CS,
                 k: int = 5, seed: int = 0, groups: Sequence[str] | None = None,
                 prior: LinearHead | None = None) -> tuple[Any, float, dict[str, float], dict[float, float]]:
    """The candidate feature group (``.name``, ``.indices``; ``None`` = all) and ``C`` with the
    lowest cross-validated log-loss (ties: the earlier candidate, the smaller ``C``).
    Returns (group, C, best loss per group, the chosen group's loss per C)."""
    best, table, curves = None, {}, {}
    for i, cand in enumerate(candidates):
        cols = _columns(cand, X.shape[1])
        Xg = X if cols is None else X[:, cols]
        C, losses = choose_C(Xg, y, Cs, k=k, seed=seed, groups=groups, prior=prior)
        table[cand.name], curves[cand.name] = losses[C], losses
        key = (round(losses[C], 12), i)
        if best is None or key < best[0]:
            best = (key, cand, C)
    assert best is not None, "no candidate feature group"
    return best[1], best[2], table, curves[best[1].name]


def fit_group(X: np.ndarray, y: np.ndarray, group: Any, C: float, prior: LinearHead | None = None) -> LinearHead:
    """:func:`fit_logistic` on one feature group; the head records the indices it reads
    (none when the group is every feature: the head format of old)."""
    cols = _columns(group, X.shape[1])
    if cols is None:
        return fit_logistic(X, y, C, prior=prior)
    head = fit_logistic(X[:, cols], y, C, prior=prior)
    head.indices, head.input_dim = cols, int(X.shape[1])
    return head


def _columns(group: Any, dim: int) -> np.ndarray | None:
    """The group's sorted feature indices; ``None`` for every feature."""
    if group.indices is None:
        return None
    cols = np.unique(np.asarray(group.indices, dtype=np.int64))
    if cols.size and (cols[0] < 0 or cols[-1] >= dim):
        raise ValueError(f"feature group {group.name!r} reaches beyond the {dim} features")
    return None if cols.size == dim else cols


def fit_probe(X: np.ndarray, y: Sequence[int], *, Cs: Sequence[float] = DEFAULT_CS, folds: int = 5, seed: int = 0,
              groups: Sequence[str] | None = None, prior: LinearHead | None = None,
              feature_groups: Sequence[Any] | None = None, method: str = "logistic",
              spread: CropSpread | None = None, shrinkage_scale: float = 1.0) -> ProbeFit:
    """Nested cross-validation: out-of-fold probabilities for calibration and Table 1, then
    the final head on every image with the feature group and ``C`` chosen by cross-validation
    on all of them.  ``feature_groups``: candidates (``.name``, ``.indices``, see
    :mod:`synthdetect.probes.feature_groups`), chosen inside every outer fold so the out-of-fold
    scores never saw the choice; ``None``: all features.  ``groups``: strata (e.g. category).
    ``prior``: every fit (inner, outer, final) is prior-centred ridge towards that head, over
    all features (feature groups are then not used).  ``method``: ``"logistic"`` (one group and
    ``C`` chosen) or ``"lda-average"`` (:func:`fit_lda_average` over every candidate, no choice;
    not with a prior).  ``spread``: the images' crop spread, used by ``"lda-average"``, as is
    ``shrinkage_scale`` (the Ledoit-Wolf intensity times this; :data:`LW_SCALE`)."""
    if method not in METHODS:
        raise ValueError(f"unknown probe method {method!r} (one of {', '.join(METHODS)})")
    if prior is not None and method != "logistic":
        raise ValueError("a prior head needs the logistic method (prior-centred ridge)")
    try:  # hundreds of tiny solves: BLAS threads only add overhead (10x slower on a busy machine)
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl is a dependency
        return _fit_probe(X, y, Cs=Cs, folds=folds, seed=seed, groups=groups, prior=prior, cands=feature_groups,
                          method=method, spread=spread, shrinkage_scale=shrinkage_scale)
    with threadpool_limits(limits=1, user_api="blas"):
        return _fit_probe(X, y, Cs=Cs, folds=folds, seed=seed, groups=groups, prior=prior, cands=feature_groups,
                          method=method, spread=spread, shrinkage_scale=shrinkage_scale)


def _fit_probe(X, y, *, Cs, folds, seed, groups, prior=None, cands=None, method="logistic", spread=None,
               shrinkage_scale=1.0) -> ProbeFit:
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y).astype(np.int64)
    if prior is not None:
        prior = prior.expanded()
        cands = None
    _check_prior(prior, X)
    cands = list(cands) if cands else [_Whole()]
    n_min = int(min(np.sum(y == 0), np.sum(y == 1)))
    if n_min < 2:
        raise ValueError(f"need at least 2 real and 2 synthetic images (got {int(np.sum(y == 0))} real, "
                         f"{int(np.sum(y == 1))} synthetic)")
    k = max(2, min(folds, n_min))
    oof = np.full(y.size, np.nan)
    oof_C, oof_groups = [], []
    heads, tests = [], []
    for test in stratified_folds(y, k, seed, groups):
        train = np.setdiff1d(np.arange(y.size), test)
        g = None if groups is None else [groups[i] for i in train]
        if method == "lda-average":
            heads.append(fit_lda_average(X[train], y[train], cands, k=k, seed=seed + 1, groups=g,
                                         spread=_take(spread, train), shrinkage_scale=shrinkage_scale)[0])
            oof_groups.append(averaged_name(cands))
        else:
            grp, C, _, _ = select_group(X[train], y[train], cands, Cs, k=k, seed=seed + 1, groups=g, prior=prior)
            oof_C.append(C)
            oof_groups.append(grp.name)
            heads.append(fit_group(X[train], y[train], grp, C, prior=prior))
        tests.append(test)
        oof[test] = sigmoid(heads[-1].logits(X[test]))
    if method == "lda-average":
        head, loss = fit_lda_average(X, y, cands, k=k, seed=seed + 1, groups=groups, spread=spread,
                                     shrinkage_scale=shrinkage_scale)
        grp, table, losses = _Whole(name=averaged_name(cands)), {averaged_name(cands): loss}, {}
    else:
        grp, C, table, losses = select_group(X, y, cands, Cs, k=k, seed=seed + 1, groups=groups, prior=prior)
        head = fit_group(X, y, grp, C, prior=prior)
    return ProbeFit(head=head, oof=oof, oof_C=oof_C, cv_losses=losses, folds=k, seed=seed, group=grp.name,
                    group_losses=table, oof_groups=oof_groups, fold_heads=heads, fold_tests=tests, method=method)


def averaged_name(cands: Sequence[Any]) -> str:
    """The name of an averaged probe's input: the one group, or ``average(a+b+...)``."""
    return cands[0].name if len(cands) == 1 else "average(" + "+".join(c.name for c in cands) + ")"
