"""On-disk cache of frozen-backbone features (CLIP linear probe).

A feature is keyed by the image file's sha256, the backbone name, the backbone weights
digest (for a random-init tower: a digest of its parameters), the feature kind, the
transform (augmentation settings) and the view (train/val, seed, view index).  Retraining a
head on another validation sample therefore recomputes only the images not seen before.
"""

from __future__ import annotations

from . import compat  # noqa: F401

import hashlib
import json
import zlib
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import torch
from torch import nn

from .augment import AugmentConfig, train_view, val_view
from ..cards import sha256_file
from ..probes.features import FeatureCache
from ..inputs.datasets import DecodedCache, Item, UnreadableImage
from .loop import progress



def default_cache_dir() -> Path:
    """``features/`` in synthdetect's cache directory (``$SYNTHDETECT_CACHE_DIR`` or platformdirs)."""
    from ..scan.cache import default_cache_dir as root

    return root() / "features"


def params_digest(module: nn.Module) -> str:
    h = hashlib.sha256()
    for k, v in sorted(module.state_dict().items()):
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return "params:" + h.hexdigest()


class FeatureExtractor:
    def __init__(self, features: nn.Module, info: dict[str, Any], feature: str, cache: FeatureCache,
                 device: torch.device, resize_to: int | None = 256, batch_size: int = 32,
                 strip_frames: bool = False):
        self.model = features.eval()
        self.cache = cache
        self.device = device
        self.batch_size = batch_size
        self.resize_to = resize_to
        self.weights_id = info.get("weights_digest") or params_digest(features)
        self.base = {"backbone": info.get("backbone"), "weights": self.weights_id, "feature": feature,
                     "resize_to": resize_to, **({"frames": "stripped"} if strip_frames else {})}
        self.decoded = DecodedCache(resize_to=resize_to, strip_frames=strip_frames)
        self.computed = 0  # images run through the backbone (tests count these)
        self._sha: dict[str, str] = {}

    def know(self, paths: Iterable[Path], digests: Iterable[str | None]) -> None:
        """Digests already computed (the run's data step hashes every file): not hashed again."""
        for p, d in zip(paths, digests):
            if d is not None:
                st = Path(p).stat()
                self._sha[f"{p}|{st.st_size}|{st.st_mtime_ns}"] = d

    def _file_sha(self, p: Path) -> str:
        st = p.stat()
        k = f"{p}|{st.st_size}|{st.st_mtime_ns}"
        if k not in self._sha:
            self._sha[k] = sha256_file(p)
        return self._sha[k]

    def key(self, sha: str, aug: AugmentConfig, view: tuple) -> str:
        d = {**self.base, "file": sha, "transform": aug.key(), "view": list(view)}
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()

    @torch.no_grad()
    def features(self, items: Sequence[Item], aug: AugmentConfig, view: tuple) -> torch.Tensor:
        out: list[np.ndarray | None] = [None] * len(items)
        todo: list[tuple[int, str, str]] = []
        for i, it in enumerate(items):
            sha = self._file_sha(it.path)
            key = self.key(sha, aug, view)
            got = self.cache.get(key)
            if got is None:
                todo.append((i, sha, key))
            else:
                out[i] = got
        if todo:
            with progress() as prog:
                t = prog.add_task(f"features {view[0]} view {view[-1]}", total=len(todo), info="")
                for s in range(0, len(todo), self.batch_size):
                    chunk, xs = [], []
                    for i, sha, key in todo[s : s + self.batch_size]:
                        try:
                            arr = self.decoded.get(items[i].path)
                        except UnreadableImage:  # kept in decoded.unreadable; its row: NaN
                            continue
                        chunk.append((i, sha, key))
                        rng = np.random.default_rng([zlib.crc32(repr(view).encode()), int(sha[:12], 16)])
                        fn = val_view if view[0] == "val" else train_view
                        xs.append(fn(arr, aug, rng))
                    if chunk:
                        f = self.model(torch.from_numpy(np.stack(xs)).to(self.device)).float().cpu().numpy()
                        self.computed += len(chunk)
                        for (i, _, key), row in zip(chunk, f):
                            self.cache.put(key, row)
                            out[i] = row
                    prog.advance(t, min(self.batch_size, len(todo) - s))
        if not items:
            return torch.zeros(0, 0)
        dim = next((len(r) for r in out if r is not None), 0)
        return torch.from_numpy(np.stack([r if r is not None else np.full(dim, np.nan) for r in out]).astype(np.float32))
