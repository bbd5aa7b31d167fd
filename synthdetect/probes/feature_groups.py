"""Named groups of a backbone's features, from the layout its card describes (numpy only).

A backbone card may say how its feature vector is laid out (``features.layout``: one entry
per block of consecutive values, e.g. the channel means of one stage) and which unions of
blocks are worth trying as a probe's input (``features.groups``: name -> block names).
``train probe`` chooses among these candidates by nested cross-validation
(:func:`synthdetect.probes.fit.fit_probe`): on a small sample, a probe over the early stages
of a CNN often generalises better than one over all of them (fewer weights, the pixel-level
traces live early).  The whole vector (``all``) is always a candidate; a card without a
layout offers only ``all``.

Card format (``NAME.backbone.json``)::

    "features": {
      "layout": [{"name": "blocks[2].mean", "start": 0, "stop": 24}, ...],   # [start, stop)
      "groups": {"stages1-3": ["blocks[2].mean", "blocks[2].std", ...], ...}
    }
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

ALL = "all"


class FeatureGroupError(ValueError):
    """A backbone card's layout or groups are inconsistent (one-line reason)."""


@dataclass(frozen=True)
class FeatureGroup:
    name: str
    indices: np.ndarray  # sorted feature indices into the backbone's vector
    blocks: tuple[str, ...] = ()

    @property
    def size(self) -> int:
        return int(self.indices.size)

    def describe(self) -> str:
        return f"{self.name} ({self.size} features)"


def stage_layout(layers: Sequence[str], channels: Sequence[int], stats: Sequence[str] = ("mean", "std")) -> list[dict]:
    """The layout of a per-layer ``[stat1 over channels, stat2 over channels, ...]`` vector."""
    out, start = [], 0
    for layer, c in zip(layers, channels):
        for s in stats:
            out.append({"name": f"{layer}.{s}", "start": start, "stop": start + int(c)})
            start += int(c)
    return out


def stage_groups(layers: Sequence[str], stats: Sequence[str] = ("mean", "std")) -> dict[str, list[str]]:
    """Candidate groups for a CNN with mean/std pooled stage ends (EfficientNet-Lite0's six):
    the first half and first two thirds of the stages, the channel means of all stages and of
    the first two thirds, and each stage of the middle third alone."""
    n = len(layers)
    half, two_thirds = max(1, n // 2), max(1, (2 * n + 2) // 3)

    def blocks(idx: Sequence[int], which: Sequence[str] = stats) -> list[str]:
        return [f"{layers[i]}.{s}" for i in idx for s in which]

    groups = {
        f"stages1-{half}": blocks(range(half)),
        f"stages1-{two_thirds}": blocks(range(two_thirds)),
        "means": blocks(range(n), ("mean",)),
        f"stages1-{two_thirds}-means": blocks(range(two_thirds), ("mean",)),
    }
    for i in range(n // 3, two_thirds):
        groups[f"stage{i + 1}"] = blocks([i])
    return {k: v for k, v in groups.items() if v}


def candidate_groups(features: dict[str, Any] | None, dim: int) -> list[FeatureGroup]:
    """``all`` first, then the card's groups (in the card's order).  Raises FeatureGroupError
    on a layout that does not fit ``dim`` or a group naming an unknown block."""
    everything = FeatureGroup(ALL, np.arange(int(dim)))
    features = features or {}
    layout, groups = features.get("layout"), features.get("groups")
    if not layout or not groups:
        return [everything]
    if not isinstance(layout, list) or not isinstance(groups, dict) or not all(
            isinstance(v, list) for v in groups.values()):
        raise FeatureGroupError("features.layout must be a list of blocks and features.groups a mapping of lists")
    spans: dict[str, tuple[int, int]] = {}
    for b in layout:
        try:
            start, stop = int(b["start"]), int(b["stop"])
        except (KeyError, TypeError, ValueError):
            raise FeatureGroupError(f"feature layout entry {b!r} needs name, start and stop") from None
        if not 0 <= start < stop <= dim:
            raise FeatureGroupError(f"feature layout block {b.get('name')!r} [{start}, {stop}) lies outside 0..{dim}")
        spans[str(b["name"])] = (start, stop)
    out = [everything]
    for name, names in groups.items():
        missing = [n for n in names if n not in spans]
        if missing or not names:
            raise FeatureGroupError(f"feature group {name!r} names unknown layout blocks {missing or '(none)'}")
        idx = np.unique(np.concatenate([np.arange(*spans[n]) for n in names]))
        if idx.size < dim:
            out.append(FeatureGroup(str(name), idx, tuple(names)))
    return out
