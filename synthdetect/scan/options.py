"""How a scan runs, as one value: :class:`ScanOptions`, checked once when it is made.

The CLI builds one ``ScanOptions`` from its flags and hands the same object to whichever engine
runs the scan (:class:`synthdetect.scan.pipeline.Scanner` here, or
:class:`synthdetect.scan.engines.ray_engine.RayEngine` with its :class:`ClusterOptions`), and to
:func:`synthdetect.scan.pipeline.run_scan`.  A bad value is a :class:`ScanSetupError` (exit code 2)
from here, before any model is loaded, whichever engine is asked for.

To add a scan setting: a field here (with its check in ``__post_init__``), read by the code that
uses it (``options.NAME``), set from its flag in ``synthdetect/cli/scan.py``; tests in
``tests/scan/test_options.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..inputs.pool import default_workers
from .domain_check import MODES as DOMAIN_MODES
from .runtime import DEVICES


class ScanSetupError(ValueError):
    """The requested models/ensemble or scan settings cannot be used (maps to exit code 2)."""


@dataclass(frozen=True)
class ScanOptions:
    """The settings of one scan (not which models run: that is the plan's).

    * ``device``: ``auto`` | ``cpu`` | ``cuda`` (:mod:`synthdetect.scan.runtime`).
    * ``batch_size``: images per inference batch.
    * ``workers``: decoding threads asked for; ``None`` (or 0): :func:`synthdetect.inputs.pool.default_workers`.
      ``decode_workers`` is the number used, resolved once here.
    * ``threads``: onnxruntime threads per session; ``None``: onnxruntime's default.
    * ``provenance``: analyse each file's metadata (C2PA, XMP, generator tags).
    * ``thumbnails``: each decoded image's small JPEG data URI in the record (``--format html``).
    * ``quality_gates``: measure every image and turn verdicts on inputs the detectors are known not
      to judge into ``inconclusive`` (:mod:`synthdetect.inputs.quality`).
    * ``domain_check``: ``enforce`` | ``strict`` | ``warn`` | ``off`` (:mod:`synthdetect.scan.domain_check`).
    """

    device: str = "auto"
    batch_size: int = 16
    workers: int | None = None
    threads: int | None = None
    provenance: bool = True
    thumbnails: bool = False
    quality_gates: bool = True
    domain_check: str = "enforce"
    decode_workers: int = field(init=False)

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ScanSetupError("--batch-size must be >= 1")
        workers = int(self.workers) if self.workers else default_workers()
        if workers < 1:
            raise ScanSetupError("--workers must be >= 1")
        if self.device not in DEVICES:
            raise ScanSetupError(f"unknown device {self.device!r} (choose from {', '.join(DEVICES)})")
        if self.domain_check not in DOMAIN_MODES:
            raise ScanSetupError(
                f"domain check must be one of {', '.join(DOMAIN_MODES)}, not {self.domain_check!r}")
        set_ = object.__setattr__  # frozen: the normalised values are set once, here
        set_(self, "batch_size", int(self.batch_size))
        set_(self, "decode_workers", workers)
        set_(self, "provenance", bool(self.provenance))
        set_(self, "thumbnails", bool(self.thumbnails))
        set_(self, "quality_gates", bool(self.quality_gates))


@dataclass(frozen=True)
class ClusterOptions:
    """What only ``--engine ray`` needs besides the :class:`ScanOptions`.

    * ``address``: the Ray cluster (``None``: ``$RAY_ADDRESS``, else a local Ray instance).
    * ``actors``: scan actors (``None``: the cluster's CPUs // ``cpus_per_actor``).
    * ``cpus_per_actor``: CPUs reserved per actor (also its onnxruntime threads).
    * ``files_per_call``: paths per actor call (``None``: 4 x the batch size).
    * ``actor_workers``: each actor's decoding threads when the scan asks for none.
    """

    address: str | None = None
    actors: int | None = None
    cpus_per_actor: float = 1.0
    files_per_call: int | None = None
    actor_workers: int = 2
