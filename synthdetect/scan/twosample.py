"""Two-sample statistics for the domain check (numpy only).

:func:`c2st` is a classifier two-sample test: an L2 logistic regression learns to tell the
batch's feature vectors from the reference's, its cross-validated ROC-AUC is the effect size
(0.5: indistinguishable; 1.0: every batch image is told apart), and a permutation test on
the pooled rows gives the p-value.  The pooled rows are first embedded in their top principal
directions (an unsupervised, label-free map: permutations stay exchangeable) so each fit is a
few Newton steps in ``dims`` coordinates.

:func:`knn_percentiles` is the per-image typicality: the percentile of an image's mean distance
to its ``k`` nearest reference rows among the reference rows' own leave-one-out distances
(0.5 typical, 1.0 farther from the reference than every reference image is from the rest).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

C2ST_C = 0.01  # L2 strength on standardised features (the measurement)
C2ST_DIMS = 32
C2ST_PERMUTATIONS = 100


@dataclass
class TestResult:
    statistic: float  # cross-validated ROC-AUC of batch vs reference
    p_value: float
    n: int  # batch rows
    n_reference: int  # reference rows compared with
    permutations: int = 0

    def to_dict(self) -> dict:
        return {"statistic": round(self.statistic, 4), "p_value": round(self.p_value, 4), "n": self.n,
                "n_reference": self.n_reference,
                "permutations": self.permutations}


def pairwise_distances(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Euclidean distances [len(A), len(B)]."""
    A = np.asarray(A, dtype=np.float64)
    B = np.asarray(B, dtype=np.float64)
    d2 = (A * A).sum(1)[:, None] + (B * B).sum(1)[None, :] - 2.0 * (A @ B.T)
    return np.sqrt(np.maximum(d2, 0.0))


def knn_score(dist: np.ndarray, k: int) -> np.ndarray:
    """Mean of each row's ``k`` smallest distances."""
    k = max(1, min(int(k), dist.shape[1]))
    return np.sort(np.partition(dist, k - 1, axis=1)[:, :k], axis=1).mean(1)


def loo_knn_scores(ref: np.ndarray, k: int) -> np.ndarray:
    """Each reference row's k-NN score against the other rows."""
    d = pairwise_distances(ref, ref)
    np.fill_diagonal(d, np.inf)
    return knn_score(d, k)


def knn_percentiles(batch: np.ndarray, ref: np.ndarray, ref_scores: np.ndarray, k: int) -> np.ndarray:
    """Typicality of each batch row: the share of reference rows whose leave-one-out k-NN score
    is below the row's k-NN score against the reference."""
    return distance_percentiles(pairwise_distances(batch, ref), ref_scores, k)


def distance_percentiles(dist: np.ndarray, ref_scores: np.ndarray, k: int) -> np.ndarray:
    """:func:`knn_percentiles` from the batch rows' distances to the reference rows [n, m]."""
    s = knn_score(dist, k)
    srt = np.sort(np.asarray(ref_scores, dtype=np.float64))
    return np.searchsorted(srt, s, side="left") / max(1, srt.size)


def _embed(X: np.ndarray, dims: int) -> np.ndarray:
    """The pooled rows' coordinates along their top ``dims`` principal directions (via the Gram
    matrix when rows <= features, else a thin SVD: linear in the number of rows)."""
    Xc = X - X.mean(0)
    if Xc.shape[0] > Xc.shape[1]:
        U, S, _ = np.linalg.svd(Xc, full_matrices=False)
        return U[:, :dims] * S[:dims]
    lam, U = np.linalg.eigh(Xc @ Xc.T)
    order = np.argsort(lam)[::-1][:dims]
    lam = np.maximum(lam[order], 0.0)
    return U[:, order] * np.sqrt(lam)


def _fit_logistic_many(Z: np.ndarray, T: np.ndarray, W: np.ndarray, C: float, iters: int = 30) -> np.ndarray:
    """Weighted L2 logistic regressions by Newton's method, one per row of ``T``/``W`` ([P, n]
    labels and weights; a zero weight leaves a row out), all sharing the design ``Z`` [n, r];
    returns [P, r + 1] (coefficients, then the bias)."""
    n, r = Z.shape
    A = np.hstack([Z, np.ones((n, 1))])
    reg = np.full(r + 1, 1.0 / C)
    reg[-1] = 1e-8  # the bias is (practically) not penalised
    theta = np.zeros((T.shape[0], r + 1))
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-np.clip(theta @ A.T, -30, 30)))  # [P, n]
        g = (W * (p - T)) @ A + reg * theta  # [P, r+1]
        H = ((W * p * (1 - p))[:, None, :] * A.T[None]) @ A + np.diag(reg)  # [P, r+1, r+1]
        step = np.linalg.solve(H, g[..., None])[..., 0]
        theta -= step
        if np.max(np.abs(step)) < 1e-6:
            break
    return theta


def auc(scores: np.ndarray, t: np.ndarray) -> float:
    """ROC-AUC of ``scores`` for ``t == 1`` vs ``t == 0`` (ties count half; 0.5 with one class):
    :func:`synthdetect.evaluation.metrics.roc_auc`."""
    from ..evaluation.metrics import roc_auc

    a = roc_auc(t, scores)
    return 0.5 if a != a else a


def _folds(t: np.ndarray, k: int, rng: np.random.Generator, groups: np.ndarray | None = None) -> np.ndarray:
    """Stratified fold index per row.  With ``groups`` (an id 0..G-1 per row), the rows of one
    group share a fold: each group goes, largest first, to the fold holding the fewest rows of
    its majority class so far."""
    f = np.empty(t.size, dtype=np.int64)
    if groups is None:
        for c in (0, 1):
            idx = np.flatnonzero(t == c)
            f[rng.permutation(idx)] = np.arange(idx.size) % k
        return f
    sizes = np.bincount(groups)
    major = (np.bincount(groups, weights=t, minlength=sizes.size) * 2 >= sizes).astype(int)
    load = np.zeros((2, k))
    fold_of = np.empty(sizes.size, dtype=np.int64)
    order = rng.permutation(sizes.size)
    for g in order[np.argsort(-sizes[order], kind="stable")]:  # largest first, ties in random order
        j = int(np.argmin(load[major[g]] + rng.random(k) * 1e-9))
        fold_of[g] = j
        load[major[g], j] += sizes[g]
    return fold_of[groups]


def cv_aucs(Z: np.ndarray, T: np.ndarray, folds: np.ndarray, C: float = C2ST_C) -> np.ndarray:
    """Cross-validated ROC-AUC of a class-balanced logistic regression for each labelling in
    ``T`` [P, n] with its fold assignment ``folds`` [P, n] (fold ids 0..k-1)."""
    n1 = np.maximum(T.sum(1, keepdims=True), 1)
    n0 = np.maximum(T.shape[1] - n1, 1)
    w = np.where(T == 1, T.shape[1] / (2.0 * n1), T.shape[1] / (2.0 * n0))
    out = np.zeros(T.shape)
    A = np.hstack([Z, np.ones((Z.shape[0], 1))])
    for f in range(int(folds.max()) + 1):
        held = folds == f
        theta = _fit_logistic_many(Z, T, w * ~held, C)
        out = np.where(held, theta @ A.T, out)
    return np.array([auc(o, t) for o, t in zip(out, T)])


def c2st(batch: np.ndarray, ref: np.ndarray, *, permutations: int = C2ST_PERMUTATIONS, dims: int = C2ST_DIMS,
         folds: int = 5, seed: int = 0, stop_after: int = 10, chunk: int = 25,
         batch_groups: np.ndarray | None = None) -> TestResult:
    """Classifier two-sample test of ``batch`` [n, D] against ``ref`` [m, D] (standardised rows).

    Every permutation relabels the pooled rows and draws its stratified folds afresh, as the
    observed statistic did; ``p = (1 + #{perm >= obs}) / (1 + permutations)``, or, when the
    permutations stop early because ``stop_after`` of them reached the observed value,
    ``stop_after / permutations done`` (a valid p-value too, Besag & Clifford 1991).
    ``batch_groups``: an id per batch row; rows of one id (shots of one scene) share a fold, in
    the observed split and in every permutation's, so the classifier cannot learn a scene in one
    fold and recognise it in another."""
    n, m = len(batch), len(ref)
    rng = np.random.default_rng(seed)
    X = np.vstack([np.asarray(ref, dtype=np.float64), np.asarray(batch, dtype=np.float64)])
    Z = _embed(X, dims)
    t = np.r_[np.zeros(m), np.ones(n)]
    groups = None
    if batch_groups is not None:  # reference rows are groups of one
        groups = np.r_[np.arange(m), m + np.unique(np.asarray(batch_groups), return_inverse=True)[1]]
    k = max(2, min(folds, n if groups is None else int(groups.max()) + 1 - m))
    obs = float(cv_aucs(Z, t[None], _folds(t, k, rng, groups)[None])[0])
    # sequential Monte-Carlo p-value (Besag & Clifford 1991): permutations in chunks, stopping once
    # ``stop_after`` of them reach the observed value (p is then clearly large)
    ge, done = 0, 0
    while done < permutations and ge < stop_after:
        P = min(chunk, permutations - done)
        T = np.array([rng.permutation(t) for _ in range(P)])
        F = np.array([_folds(tp, k, rng, groups) for tp in T])
        ge += int(np.sum(cv_aucs(Z, T, F) >= obs - 1e-12))
        done += P
    p = (1 + ge) / (1 + done) if ge < stop_after else ge / done
    return TestResult(statistic=obs, p_value=float(min(1.0, p)), n=n, n_reference=m, permutations=done)
