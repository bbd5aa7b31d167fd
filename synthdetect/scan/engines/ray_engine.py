"""``scan --engine ray``: the same scan pipeline on a Ray cluster (Ray Data).

* The driver (the ``synthdetect scan`` process) discovers the inputs exactly as the
  local engine does and makes a dataset of ``(index, path)`` rows
  (``ray.data.from_items``).
* ``map_batches`` runs :class:`_ScanActor`, a callable class: each actor builds one
  :class:`synthdetect.scan.pipeline.Scanner` (one onnxruntime session per model, per actor) and
  scans the paths of each batch it gets with the same code as the local engine, so
  decoding, preprocessing, provenance, error records for unreadable files and the
  records themselves are the local engine's.  Records travel back as JSON text.
* The driver puts records back in input order (by index) and yields them, so the
  JSONL/CSV output is the local engine's, and the result cache and ``--fail-on`` work
  unchanged.

What the nodes need: the image paths must be readable at the same path on every node
(shared storage); the ONNX files are shipped by the driver through the object store;
the ``synthdetect`` package is shipped as a ``py_modules`` runtime environment, and
its dependencies (numpy, Pillow, onnxruntime, ...) must be installed on the nodes.

``ray`` is imported only here, only under ``--engine ray`` (``pip install 'synthdetect[ray]'``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterable, Iterator

from ..options import ClusterOptions, ScanOptions

PKG_DIR = Path(__file__).resolve().parents[2]  # the synthdetect package


class RayEngineError(RuntimeError):
    pass


REACH_TIMEOUT_S = 10.0


def host_port(address: str) -> tuple[str, int] | None:
    """``HOST:PORT`` or ``ray://HOST:PORT`` -> ``(HOST, PORT)``; None for the forms Ray resolves
    itself (``auto``, ``local``, a bare host) or that name no TCP endpoint."""
    rest = address.strip()
    if "://" in rest:
        scheme, rest = rest.split("://", 1)
        if scheme != "ray":
            return None
    host, sep, port = rest.rpartition(":")
    if not sep or not host or not port.isdigit():
        return None
    return host.strip("[]"), int(port)


def check_reachable(address: str, timeout: float = REACH_TIMEOUT_S) -> None:
    """Ray's own connect retries for minutes against a head that is not there; one TCP connect
    with a timeout first turns that into a one-line error."""
    import socket

    hp = host_port(address)
    if hp is None:
        return
    try:
        with socket.create_connection(hp, timeout=timeout):
            pass
    except OSError as e:
        reason = "timed out" if isinstance(e, TimeoutError) else (e.strerror or str(e))
        raise RayEngineError(
            f"--engine ray: cannot reach the Ray cluster at {address} ({reason} within "
            f"{timeout:g} s); is `ray start --head` running there and the port open?") from None


def actor_options(options: ScanOptions, cluster: ClusterOptions) -> ScanOptions:
    """Each actor's Scanner settings: the scan's, with the actor's own decoding threads (the
    scan's ``workers`` when asked for, else ``cluster.actor_workers``), one onnxruntime thread
    per reserved CPU, and no thumbnails (records travel back as JSON text without them)."""
    return dataclasses.replace(options, workers=options.workers or cluster.actor_workers,
                               threads=max(1, int(cluster.cpus_per_actor)), thumbnails=False)


def runtime_env() -> dict[str, Any]:
    """The job runtime environment: this synthdetect package, uploaded to every node."""
    return {"py_modules": [str(PKG_DIR)]}


def _import_ray():
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as e:
        raise RayEngineError(
            f"--engine ray needs Ray Data: pip install 'synthdetect[ray]' ({e.__class__.__name__}: {e})"
        ) from None
    return ray


class _ScanActor:
    """One Scanner (one session per model) per actor; called with batches of paths."""

    def __init__(self, payload: list, options: ScanOptions):
        import ray

        from ..pipeline import Scanner

        plan, blobs, bb_blobs = ray.get(payload[0])
        self._tmp = tempfile.TemporaryDirectory(prefix="synthdetect-ray-")
        cards = []
        for i, card in enumerate(plan.cards):
            d = Path(self._tmp.name) / str(i)
            d.mkdir()
            (d / card.file).write_bytes(blobs[i])
            cards.append(dataclasses.replace(card, path=d / f"{card.name}.json"))
        # the backbones of probes: one file each, shared by every head that names it
        moved = {}
        for j, (sha, data) in enumerate(sorted(bb_blobs.items())):
            d = Path(self._tmp.name) / f"bb{j}"
            d.mkdir()
            bb = next(b for b in plan.backbones.values() if b.sha256 == sha)
            (d / bb.file).write_bytes(data)
            moved[sha] = dataclasses.replace(bb, path=d / f"{bb.name}.backbone.json")
        backbones = {name: moved[b.sha256] for name, b in plan.backbones.items()}
        plan = dataclasses.replace(plan, cards=cards, backbones=backbones)
        self.scanner = Scanner(plan, options)

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        import numpy as np

        paths = [Path(os.fsdecode(bytes(p))) for p in batch["path"]]
        recs = list(self.scanner.scan(paths))
        if len(recs) != len(paths):  # Scanner yields exactly one record per path
            raise RuntimeError(f"scanner returned {len(recs)} records for {len(paths)} files")
        return {
            "idx": np.asarray(batch["idx"], dtype=np.int64),
            "rec": np.array([json.dumps(r, ensure_ascii=True) for r in recs], dtype=object),
        }


class RayEngine:
    """``scan(files) -> records in input order`` on a Ray cluster."""

    def __init__(self, plan, options: ScanOptions | None = None, cluster: ClusterOptions | None = None):
        """``options``: the scan's settings, the same object the local engine takes; ``cluster``: the
        settings only a cluster has (address, actors, CPUs per actor, files per call)."""
        self.ray = _import_ray()
        self.plan = plan
        self.options = options if options is not None else ScanOptions()
        self.cluster = cluster if cluster is not None else ClusterOptions()
        self.files_per_call = int(self.cluster.files_per_call or 4 * self.options.batch_size)
        self.actor_options = actor_options(self.options, self.cluster)
        self.started_ray = False
        try:
            blobs = [Path(c.model_path).read_bytes() for c in plan.cards]
            bb_blobs = {b.sha256: Path(b.model_path).read_bytes() for b in plan.backbones.values()}
        except OSError as e:
            raise RayEngineError(f"cannot read a model file to ship to the cluster: {e}") from None
        self._connect()
        self._payload = [self.ray.put((plan, blobs, bb_blobs))]

    def _connect(self) -> None:
        ray = self.ray
        if ray.is_initialized():
            return
        kw: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                              "configure_logging": True, "logging_level": "ERROR",
                              "runtime_env": runtime_env()}
        address = self.cluster.address or os.environ.get("RAY_ADDRESS")
        if address:
            check_reachable(address)
        try:
            if address:
                ray.init(address=address, **kw)
            else:
                ray.init(**kw)
        except Exception as e:  # ConnectionError, ValueError, RuntimeError, ...
            where = f"the Ray cluster at {address}" if address else "a local Ray instance"
            raise RayEngineError(f"--engine ray: cannot start or reach {where}: {e.__class__.__name__}: {e}") from None
        self.started_ray = True
        self._quiet()

    @staticmethod
    def _quiet() -> None:
        """Ray Data's progress bars, INFO lines and concurrency hints would mix with the report."""
        import logging
        import warnings

        warnings.filterwarnings("ignore", category=UserWarning, module=r"ray\..*")
        for name in ("ray", "ray.data"):
            logging.getLogger(name).setLevel(logging.ERROR)
        try:
            from ray.data import DataContext

            ctx = DataContext.get_current()
            ctx.enable_progress_bars = False
            ctx.print_on_execution_start = False
        except Exception:
            pass

    def _n_actors(self) -> int:
        if self.cluster.actors:
            return max(1, int(self.cluster.actors))
        cpus = float(self.ray.cluster_resources().get("CPU", 1.0))
        return max(1, int(cpus // float(self.cluster.cpus_per_actor)))

    def scan(self, files: Iterable[Path]) -> Iterator[dict[str, Any]]:
        files = list(files)
        if not files:
            return
        ray = self.ray
        self._quiet()
        n = self._n_actors()
        rows = [{"idx": i, "path": os.fsencode(p)} for i, p in enumerate(files)]
        blocks = max(1, min(len(files) // self.files_per_call + 1, 4 * n))
        ds = ray.data.from_items(rows, override_num_blocks=blocks)
        ds = ds.map_batches(
            _ScanActor,
            batch_size=self.files_per_call,
            batch_format="numpy",
            concurrency=n,
            num_cpus=float(self.cluster.cpus_per_actor),
            fn_constructor_kwargs={"payload": self._payload, "options": self.actor_options},
        )
        waiting: dict[int, dict[str, Any]] = {}
        nxt = 0
        for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
            for i, r in zip(batch["idx"], batch["rec"]):
                waiting[int(i)] = json.loads(r)
            while nxt in waiting:
                yield waiting.pop(nxt)
                nxt += 1
        if nxt != len(files):
            raise RayEngineError(f"the Ray engine returned {nxt} of {len(files)} records in order")

    def shutdown(self) -> None:
        if self.started_ray:
            self.ray.shutdown()
            self.started_ray = False
