"""Result cache: re-scanning unchanged files returns the stored records.

Key
  ``(plan fingerprint, file SHA-256)``.  The file's SHA-256 is computed afresh on every
  scan (a changed file is never served stale); the plan fingerprint is the SHA-256 of a
  canonical JSON of everything that changes a number or a field of a record:

  * every loaded model card's full ``to_dict()`` (it carries the ONNX file's SHA-256,
    thresholds, weights, preprocessing; the file itself is verified against it when its
    session is created) and the ensemble card's ``to_dict()``;
  * the resolved plan: method, threshold override, each member's effective threshold and
    weight, ensemble threshold and margin;
  * provenance on/off and, when on, the SHA-256 of the C2PA trust-anchor PEM in use and the
    analyzers that make the record (:func:`provenance_identity`: each one's name, class,
    version and code digest, in run order, and the digest of the provenance package's code);
  * the execution providers the sessions really got (CPU and CUDA round differently);
  * tool version, report schema version, the digest of the inference code itself
    (:func:`inference_code_digest`: every ``.py`` file of the package outside ``train/``, so a
    changed gate, decoder or record field never serves records made by the old code, even
    without a version bump), and the versions of the libraries that decode, infer and parse
    metadata (onnxruntime, Pillow, pillow-heif, numpy, c2pa-python, exifread).

  Batch size, decoding threads and the engine are *not* in the key: a record does not
  depend on them (checked by the tests: local vs Ray, batch 1 vs 16).

What is stored
  Only records of images that were decoded and scored (``error`` is null) and whose
  provenance analysis finished inside its time budget.  Unreadable or undecodable files,
  inference failures and time-budget-limited provenance are recomputed on every scan
  (their outcome may depend on the moment).  A record is stored whole (provenance
  included: it depends on the file's bytes only); ``path`` (and ``provenance.path``) are
  replaced by the current path when it is served, so a copy of an exhibit under another
  name gets its own name.

Storage
  sqlite3 in WAL mode, ``platformdirs.user_cache_dir("synthdetect")/results.sqlite``
  (``$SYNTHDETECT_CACHE_DIR`` overrides the directory).  Each row carries a SHA-256 of
  its key and JSON; a row that fails the check or does not parse is ignored (counted as
  ``corrupt``) and rewritten by the scan.  A database that fails to open or fails
  ``PRAGMA quick_check`` is moved aside (``results.sqlite.corrupt-<time>``) and rebuilt,
  with a one-line warning on stderr.  Concurrent scans share the file through sqlite's
  locking (busy timeout 60 s); each writes its new rows in short transactions.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

CACHE_ENV = "SYNTHDETECT_CACHE_DIR"
DB_NAME = "results.sqlite"
FORMAT_VERSION = "1"
BUSY_TIMEOUT_S = 60.0
_LIB_DISTS = ("onnxruntime", "onnxruntime-gpu", "pillow", "pillow-heif", "numpy", "c2pa-python", "exifread")


def default_cache_dir() -> Path:
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("synthdetect"))


def _warn(msg: str) -> None:
    from ..console import warn

    warn(msg)


# --------------------------------------------------------------------------- fingerprint
def _lib_versions() -> dict[str, str | None]:
    from importlib import metadata

    out: dict[str, str | None] = {}
    for d in _LIB_DISTS:
        try:
            out[d] = metadata.version(d)
        except metadata.PackageNotFoundError:
            out[d] = None
    return out


def _trust_anchor_digest() -> str | None:
    try:
        from ..provenance import TRUST_ANCHORS_ENV
    except ImportError:
        return None
    p = os.environ.get(TRUST_ANCHORS_ENV)
    if not p:
        return None
    from ..cards import sha256_file

    try:
        return sha256_file(p)
    except OSError:
        return "unreadable"


def _code_digest(files: Iterable[str | None]) -> str | None:
    """SHA-256 over the bytes of source files (None when none can be read)."""
    h, n = hashlib.sha256(), 0
    for f in files:
        try:
            h.update(Path(f).read_bytes() if f else b"")
            n += 1
        except OSError:
            continue
    return h.hexdigest() if n else None


def inference_code_digest(root: Path | None = None) -> str | None:
    """SHA-256 over the relative path and bytes of every ``.py`` file of the package (``root``:
    the installed one) except the PyTorch side (``train/``, never run by ``scan``), in path
    order (≈ 5 ms)."""
    root = Path(root) if root is not None else Path(__file__).resolve().parents[1]
    files = sorted(p for p in root.rglob("*.py") if "train" not in p.relative_to(root).parts[:1])
    h = hashlib.sha256()
    for f in files:
        try:
            data = f.read_bytes()
        except OSError:
            continue
        h.update(f.relative_to(root).as_posix().encode() + b"\0" + hashlib.sha256(data).digest())
    return h.hexdigest() if files else None


def provenance_identity() -> dict[str, Any] | None:
    """What the provenance records depend on besides the file: each analyzer of
    ``provenance.sources.ANALYZERS`` in run order (name, class, ``version`` if it has one, the
    digest of the module that defines it) and the digest of the provenance package's code (the
    container and EXIF parsers every analyzer uses).  Adding, removing, reordering or editing
    an analyzer changes it, so the cache never serves records made without it."""
    try:
        from ..provenance import sources
    except ImportError:
        return None
    analyzers = []
    for a in sources.ANALYZERS:
        mod = sys.modules.get(type(a).__module__)
        analyzers.append({"name": a.name, "class": f"{type(a).__module__}.{type(a).__qualname__}",
                          "version": getattr(a, "version", None),
                          "code": _code_digest([getattr(mod, "__file__", None)])})
    package = sorted(str(p) for p in Path(sources.__file__).parent.glob("*.py"))
    return {"analyzers": analyzers, "package_code": _code_digest(package)}


def plan_description(plan, providers: list[str] | None, provenance: bool, quality_gates: bool = True) -> dict[str, Any]:
    """The canonical description hashed into the plan fingerprint (see the module doc)."""
    from .. import __version__
    from ..output.text import SCHEMA_VERSION

    return {
        "cache_format": FORMAT_VERSION,
        "tool_version": __version__,
        "code": inference_code_digest(),
        "schema_version": SCHEMA_VERSION,
        "models": [c.to_dict() for c in plan.cards],
        "backbones": {n: b.to_dict() for n, b in sorted(getattr(plan, "backbones", {}).items())},
        "ensemble_card": plan.ensemble_card.to_dict() if plan.ensemble_card is not None else None,
        # calibrated three-way verdicts: the budgets move the thresholds; the gates change verdicts
        "max_false_alarm": getattr(plan, "max_false_alarm", None),
        "max_miss": getattr(plan, "max_miss", None),
        "quality_gates": bool(quality_gates),
        "method": plan.method,
        "threshold_override": plan.threshold_override,
        "member_thresholds": {c.name: plan.member_threshold(c) for c in plan.cards},
        "weights": dict(sorted(plan.weights.items())),
        "ensemble_threshold": plan.ensemble_threshold,
        "ensemble_margin": plan.ensemble_margin,
        "provenance": bool(provenance),
        "trust_anchors_sha256": _trust_anchor_digest() if provenance else None,
        "provenance_analyzers": provenance_identity() if provenance else None,
        "providers": list(providers or []),
        "libraries": _lib_versions(),
    }


def fingerprint(description: dict[str, Any]) -> str:
    canon = json.dumps(description, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)
    return hashlib.sha256(canon.encode()).hexdigest()


def scanner_fingerprint(scanner) -> tuple[str, dict[str, Any]]:
    """Fingerprint of a loaded :class:`synthdetect.scan.pipeline.Scanner` (its plan, providers, options)."""
    providers = sorted({p for m in scanner.models for p in (m.providers or [])})
    desc = plan_description(scanner.plan, providers, scanner.provenance is not None,
                            getattr(scanner, "quality_gates", True))
    return fingerprint(desc), desc


# --------------------------------------------------------------------------- storage
def _row_checksum(plan: str, sha: str, body: str) -> str:
    return hashlib.sha256(f"{plan}\0{sha}\0{body}".encode("utf-8", "surrogatepass")).hexdigest()


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS plans (plan TEXT PRIMARY KEY, description TEXT NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS records (
  plan TEXT NOT NULL, sha256 TEXT NOT NULL, record TEXT NOT NULL, checksum TEXT NOT NULL,
  created REAL NOT NULL, PRIMARY KEY (plan, sha256)) WITHOUT ROWID;
"""


class CacheError(RuntimeError):
    pass


# sqlite messages (and ours) that mean the file itself is damaged or foreign
_DAMAGE = ("not a database", "malformed", "quick_check", "cache format", "corrupt", "cannot switch to wal")


class ResultCache:
    """The sqlite store.  One connection per instance (not shared across threads)."""

    def __init__(self, directory: Path | str | None = None, check: bool = True):
        self.dir = Path(directory) if directory is not None else default_cache_dir()
        self.path = self.dir / DB_NAME
        self.corrupt_rows = 0
        self.rebuilt_from: Path | None = None
        self.conn = self._open(check)

    # -- opening, integrity, rebuild ----------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        self.dir.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(self.path), timeout=BUSY_TIMEOUT_S, isolation_level=None)
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        return conn

    @staticmethod
    def _wal(conn: sqlite3.Connection) -> None:
        """Switch to WAL.  A brand-new file that another scan is creating at the same moment can
        answer with its old mode (or "locked") instead of waiting: retried within the busy timeout,
        never taken for damage (it once moved a healthy cache aside under two concurrent scans)."""
        deadline, mode = time.monotonic() + min(BUSY_TIMEOUT_S, 10.0), None
        while True:
            try:
                mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            except sqlite3.OperationalError as e:
                if "locked" not in str(e).lower() and "busy" not in str(e).lower():
                    raise
            if str(mode).lower() == "wal":
                return
            if time.monotonic() > deadline:
                raise sqlite3.DatabaseError(f"cannot switch to WAL mode (got {mode})")
            time.sleep(0.05)

    def _init(self, conn: sqlite3.Connection, check: bool) -> None:
        self._wal(conn)
        conn.execute("PRAGMA synchronous = NORMAL")
        if check:
            res = [r[0] for r in conn.execute("PRAGMA quick_check").fetchall()]
            if res != ["ok"]:
                raise sqlite3.DatabaseError("quick_check: " + "; ".join(map(str, res[:3])))
        conn.executescript(_SCHEMA)
        row = conn.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
        if row is None:
            conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('format', ?)", (FORMAT_VERSION,))
        elif row[0] != FORMAT_VERSION:
            raise sqlite3.DatabaseError(f"cache format {row[0]!r}, expected {FORMAT_VERSION!r}")

    def _open(self, check: bool) -> sqlite3.Connection:
        conn = None
        try:
            conn = self._connect()
            self._init(conn, check)
            return conn
        except sqlite3.DatabaseError as e:  # includes "file is not a database", "malformed"
            if conn is not None:
                conn.close()
            reason = str(e).splitlines()[0] if str(e) else e.__class__.__name__
            if not any(k in reason.lower() for k in _DAMAGE):  # locked, unwritable, ...: not ours to move
                raise CacheError(f"result cache {self.path}: {reason}") from None
        self.rebuilt_from = self._move_aside()
        _warn(f"result cache {self.path} is unusable ({reason}); moved aside to {self.rebuilt_from.name} and rebuilt")
        conn = self._connect()
        self._init(conn, check=False)
        return conn

    def _move_aside(self) -> Path:
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        dest = self.path.with_name(f"{self.path.name}.corrupt-{stamp}-{os.getpid()}")
        for suffix in ("", "-wal", "-shm"):
            src = Path(str(self.path) + suffix)
            if src.exists():
                try:
                    os.replace(src, Path(str(dest) + suffix))
                except FileNotFoundError:  # another scan moved it first
                    pass
        return dest

    def close(self) -> None:
        try:
            self.conn.close()
        except sqlite3.Error:
            pass

    def __enter__(self) -> "ResultCache":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- records ------------------------------------------------------------------------
    def get_many(self, plan: str, shas: Iterable[str]) -> dict[str, str]:
        """Verified record JSON texts for ``shas`` under ``plan``; bad rows are skipped and counted."""
        want = list(dict.fromkeys(shas))
        out: dict[str, str] = {}
        for i in range(0, len(want), 500):
            chunk = want[i : i + 500]
            q = "SELECT sha256, record, checksum FROM records WHERE plan = ? AND sha256 IN (%s)" % ",".join("?" * len(chunk))
            try:
                rows = self.conn.execute(q, (plan, *chunk)).fetchall()
            except sqlite3.DatabaseError as e:
                _warn(f"result cache read failed ({e}); continuing without cached results")
                return out
            for sha, body, chk in rows:
                try:
                    if not isinstance(body, str) or _row_checksum(plan, sha, body) != chk:
                        raise ValueError("checksum mismatch")
                    rec = json.loads(body)
                    if not isinstance(rec, dict) or rec.get("sha256") != sha:
                        raise ValueError("record does not match its key")
                except (ValueError, TypeError, UnicodeError):
                    self.corrupt_rows += 1
                    continue
                out[sha] = body
        return out

    def put_many(self, plan: str, description: dict[str, Any], records: list[dict[str, Any]]) -> None:
        if not records:
            return
        now = time.time()
        rows = []
        for rec in records:
            body = encode_record(rec)
            rows.append((plan, rec["sha256"], body, _row_checksum(plan, rec["sha256"], body), now))
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                self.conn.execute(
                    "INSERT OR IGNORE INTO plans (plan, description, created) VALUES (?, ?, ?)",
                    (plan, json.dumps(description, sort_keys=True, default=str), now),
                )
                self.conn.executemany(
                    "INSERT OR REPLACE INTO records (plan, sha256, record, checksum, created) VALUES (?, ?, ?, ?, ?)", rows
                )
                self.conn.execute("COMMIT")
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
        except sqlite3.DatabaseError as e:
            _warn(f"result cache write failed ({e}); results of this scan were not stored")

    # -- maintenance --------------------------------------------------------------------
    def info(self) -> dict[str, Any]:
        n_rec = self.conn.execute("SELECT COUNT(*) FROM records").fetchone()[0]
        n_plans = self.conn.execute("SELECT COUNT(*) FROM plans").fetchone()[0]
        size = sum(
            Path(str(self.path) + s).stat().st_size for s in ("", "-wal") if Path(str(self.path) + s).exists()
        )
        per_plan = [
            {"plan": p[:16], "records": n, "models": _plan_models(d)}
            for p, n, d in self.conn.execute(
                "SELECT r.plan, COUNT(*), p.description FROM records r LEFT JOIN plans p ON p.plan = r.plan "
                "GROUP BY r.plan ORDER BY COUNT(*) DESC"
            ).fetchall()
        ]
        return {"path": str(self.path), "records": n_rec, "plans": n_plans, "bytes": size, "by_plan": per_plan}

    def clear(self) -> int:
        self.conn.execute("BEGIN IMMEDIATE")
        n = self.conn.execute("SELECT COUNT(*) FROM records").fetchone()[0]
        self.conn.execute("DELETE FROM records")
        self.conn.execute("DELETE FROM plans")
        self.conn.execute("COMMIT")
        try:
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self.conn.execute("VACUUM")
        except sqlite3.OperationalError:  # another scan holds it: space is reclaimed later
            pass
        return int(n)


def encode_record(rec: dict[str, Any]) -> str:
    return json.dumps(rec, sort_keys=False, separators=(",", ":"), ensure_ascii=True)


def _plan_models(desc: str | None) -> list[str]:
    try:
        return [m.get("name") for m in json.loads(desc or "{}").get("models", [])]
    except (ValueError, AttributeError):
        return []


# --------------------------------------------------------------------------- scanning
def _hash_file(path: Path) -> str | None:
    """SHA-256 of a readable regular file, else None (the scan then reports why)."""
    import stat

    from ..cards import sha256_file
    from ..inputs.discovery import noatime_opener

    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return None
        return sha256_file(path, opener=noatime_opener)
    except OSError:
        return None


def _cacheable(rec: dict[str, Any]) -> bool:
    if rec.get("error") is not None or not rec.get("sha256"):
        return False
    prov = rec.get("provenance")
    if isinstance(prov, dict):
        if prov.get("error"):
            return False
        if any("time budget" in str(n) for n in prov.get("notes") or []):
            return False
    return True


def _stored(rec: dict[str, Any]) -> dict[str, Any]:
    """What the cache keeps of a record: a copy without its thumbnail (made per scan, for ``--format html``
    only, so a stored row does not depend on the format that filled the cache); the private features the
    domain check reads stay."""
    from .pipeline import THUMBNAIL_KEY

    return json.loads(encode_record({k: v for k, v in rec.items() if k != THUMBNAIL_KEY}))


def _serve(rec: dict[str, Any], path: Path) -> dict[str, Any]:
    from ..inputs.discovery import display_path

    rec["path"] = display_path(path)
    prov = rec.get("provenance")
    if isinstance(prov, dict) and "path" in prov:
        prov["path"] = display_path(str(path))
    return rec


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    stored: int = 0
    corrupt_rows: int = 0
    hash_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"hits": self.hits, "misses": self.misses, "stored": self.stored,
                "corrupt_rows": self.corrupt_rows, "hash_s": round(self.hash_s, 3)}


class ScanCache:
    """Wraps a scan function (``files -> records in order``) with the result cache."""

    def __init__(self, store: ResultCache, plan_fp: str, description: dict[str, Any], workers: int = 2,
                 flush_every: int = 64):
        self.store = store
        self.plan_fp = plan_fp
        self.description = description
        self.workers = max(1, int(workers))
        self.flush_every = flush_every
        self.stats = CacheStats()

    @classmethod
    def for_scanner(cls, scanner, store: ResultCache | None = None) -> "ScanCache":
        fp, desc = scanner_fingerprint(scanner)
        return cls(store or ResultCache(), fp, desc, workers=getattr(scanner, "workers", 2))

    def scan(self, scan_fn: Callable[[list[Path]], Iterable[dict[str, Any]]], files: Iterable[Path]) -> Iterator[dict[str, Any]]:
        """Yield one record per file in input order: cached ones for known (plan, sha256), the
        rest from ``scan_fn(misses)`` (which must yield them in the order given)."""
        files = list(files)
        t0 = time.perf_counter()
        if len(files) > 1 and self.workers > 1:
            with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="synthdetect-hash") as pool:
                shas = list(pool.map(_hash_file, files))
        else:
            shas = [_hash_file(p) for p in files]
        self.stats.hash_s = time.perf_counter() - t0
        before = self.store.corrupt_rows
        found = self.store.get_many(self.plan_fp, [s for s in shas if s])
        self.stats.corrupt_rows = self.store.corrupt_rows - before
        misses = [p for p, s in zip(files, shas) if not (s and s in found)]
        self.stats.misses = len(misses)
        self.stats.hits = len(files) - len(misses)
        fresh = iter(scan_fn(misses)) if misses else iter(())
        pending: list[dict[str, Any]] = []
        try:
            for p, s in zip(files, shas):
                if s and s in found:
                    yield _serve(json.loads(found[s]), p)  # a fresh dict: the same content may recur
                    continue
                rec = next(fresh)
                if _cacheable(rec):
                    pending.append(_stored(rec))  # a snapshot: the caller may change rec
                    if len(pending) >= self.flush_every:
                        self._flush(pending)
                yield rec
        finally:
            self._flush(pending)

    def _flush(self, pending: list[dict[str, Any]]) -> None:
        if pending:
            self.store.put_many(self.plan_fp, self.description, pending)
            self.stats.stored += len(pending)
            pending.clear()
