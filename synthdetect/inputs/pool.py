"""The decode pool: images are decoded and prepared in a few threads while the main thread runs
inference (Pillow, NumPy and onnxruntime release the GIL).

One bounded, ordered map serves every reader of images — ``scan`` (:class:`synthdetect.scan.pipeline.Scanner`),
``train probe`` feature extraction (:func:`synthdetect.probes.train.extract_features`) and the
HTML report's thumbnails: at most ``max_inflight`` items are decoded ahead of the consumer, so
memory stays bounded by a few batches of decoded crops whatever the number of files.
"""

from __future__ import annotations

import os
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Iterable, Iterator, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def default_workers() -> int:
    """Decode threads when none are asked for: the CPUs, at most 4 (more only add memory)."""
    return max(1, min(4, os.cpu_count() or 1))


def bounded_map(fn: Callable[[T], R], items: Iterable[T], *, workers: int | None = None,
                max_inflight: int | None = None, name: str = "synthdetect-decode") -> Iterator[R]:
    """``fn(item)`` for every item in a thread pool, yielded in input order, with at most
    ``max_inflight`` (default ``4 * workers``) results pending at any time."""
    n = int(workers or default_workers())
    limit = max(1, int(max_inflight or 4 * n))
    it = iter(items)
    pending: deque[Future] = deque()
    with ThreadPoolExecutor(max_workers=n, thread_name_prefix=name) as pool:

        def refill() -> None:
            while len(pending) < limit:
                try:
                    item = next(it)
                except StopIteration:
                    return
                pending.append(pool.submit(fn, item))

        refill()
        while pending:
            result = pending.popleft().result()
            refill()
            yield result
