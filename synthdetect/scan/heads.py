"""Probe heads as ``scan`` applies them: a linear function of a backbone's feature vector and
the logistic link (numpy only).  Fitted by :mod:`synthdetect.probes.fit`, stored as
``NAME.head.json`` (format in docs/cards.md), loaded by :func:`synthdetect.scan.runtime.load_head`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


def sigmoid(x: np.ndarray) -> np.ndarray:
    """The logistic function, without overflow for large |x|."""
    x = np.asarray(x, dtype=np.float64)
    out = np.empty_like(x)
    pos = x >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-x[pos]))
    ex = np.exp(x[~pos])
    out[~pos] = ex / (1.0 + ex)
    return out


@dataclass
class LinearHead:
    """``logit = ((f[indices] - mean) / scale) · coef + intercept``.

    ``indices``: the backbone features the head reads (a feature group chosen by
    cross-validation); ``None`` = all of them (every head written before groups existed).
    ``input_dim``: the length of the backbone's vector (``None``: ``coef.size``)."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    C: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    indices: np.ndarray | None = None
    input_dim: int | None = None

    @property
    def dim(self) -> int:
        """Features the head expects from its backbone."""
        return int(self.input_dim if self.input_dim is not None else self.coef.size)

    def logits(self, features: np.ndarray) -> np.ndarray:
        f = np.asarray(features, dtype=np.float64)
        if f.ndim != 2 or f.shape[1] != self.dim:
            raise ValueError(f"features have shape {f.shape}; the head expects [N, {self.dim}]")
        if self.indices is not None:
            f = f[:, self.indices]
        return ((f - self.mean) / self.scale) @ self.coef + self.intercept

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        return sigmoid(self.logits(features))

    def expanded(self) -> "LinearHead":
        """The same function over the whole vector (zero weights outside ``indices``)."""
        if self.indices is None:
            return self
        mean, scale, coef = np.zeros(self.dim), np.ones(self.dim), np.zeros(self.dim)
        mean[self.indices], scale[self.indices], coef[self.indices] = self.mean, self.scale, self.coef
        return LinearHead(mean, scale, coef, self.intercept, self.C, dict(self.extra))

    def to_dict(self) -> dict[str, Any]:
        d = {
            "kind": "linear",
            "dim": int(self.coef.size),
            "mean": [float(v) for v in self.mean],
            "scale": [float(v) for v in self.scale],
            "coef": [float(v) for v in self.coef],
            "intercept": float(self.intercept),
            "C": self.C,
            **self.extra,
        }
        if self.indices is not None:
            d["features"] = {"input_dim": self.dim, "indices": [int(i) for i in self.indices]}
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "LinearHead":
        if d.get("kind", "linear") != "linear":
            raise ValueError(f"unknown head kind {d.get('kind')!r}")
        mean = np.asarray(d["mean"], dtype=np.float64)
        scale = np.asarray(d["scale"], dtype=np.float64)
        coef = np.asarray(d["coef"], dtype=np.float64)
        if not (mean.shape == scale.shape == coef.shape) or coef.ndim != 1:
            raise ValueError("head mean/scale/coef must be vectors of one length")
        if "dim" in d and int(d["dim"]) != coef.size:
            raise ValueError(f"head dim {d['dim']} does not match {coef.size} weights")
        if np.any(scale <= 0) or not np.all(np.isfinite(coef)):
            raise ValueError("head scale must be > 0 and weights finite")
        indices, input_dim = _read_indices(d.get("features"), coef.size)
        known = {"kind", "dim", "mean", "scale", "coef", "intercept", "C", "features"}
        return cls(mean, scale, coef, float(d["intercept"]), d.get("C"),
                   {k: v for k, v in d.items() if k not in known}, indices, input_dim)


def _read_indices(spec: Any, n: int) -> tuple[np.ndarray | None, int | None]:
    """A head's ``features`` entry: (indices, input_dim), checked; (None, None) when absent."""
    if spec is None:
        return None, None
    if not isinstance(spec, dict):
        raise ValueError("head 'features' must be an object with input_dim and indices")
    input_dim = int(spec["input_dim"])
    idx = np.asarray(spec["indices"], dtype=np.int64)
    if idx.ndim != 1 or idx.size != n:
        raise ValueError(f"head reads {idx.size} feature indices but has {n} weights")
    if idx.size and (idx.min() < 0 or idx.max() >= input_dim or np.any(np.diff(idx) <= 0)):
        raise ValueError(f"head feature indices must be increasing and lie in 0..{input_dim - 1}")
    return idx, input_dim
