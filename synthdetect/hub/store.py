"""The raw checkpoint cache and the digests each cached file is checked against.

Layout: ``<cache>/<entry name>/<file name>`` (``cache_dir``: ``cache=`` argument, else
``$SYNTHDETECT_CHECKPOINTS_DIR``, else ``<user data dir>/checkpoints``), plus
``<cache>/recorded_sha256.json``: the digest of the first copy of every file whose entry
publishes none (trust on first use).  :func:`expected_digest` says what a file must hash
to; :func:`local_checkpoint` and :func:`resolve_backbone` hand out verified cached files.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..cards import sha256_file
from .catalog import HubEntry, HubFile, get_entry, load_registry, unsafe_component
from .errors import HubError

ENV_CACHE_DIR = "SYNTHDETECT_CHECKPOINTS_DIR"
TOFU_FILE = "recorded_sha256.json"


def cache_dir(override: Path | str | None = None) -> Path:
    if override:
        return Path(override).expanduser()
    env = os.environ.get(ENV_CACHE_DIR)
    if env:
        return Path(env).expanduser()
    from ..cards import user_models_dir

    return user_models_dir().parent / "checkpoints"


def cached_path(entry: HubEntry, hf: HubFile, cache: Path | str | None = None) -> Path:
    """``<cache>/<entry>/<file>``; HubError for a name that would leave the cache (entries are checked
    when loaded: this is the second guard)."""
    return _inside(cache_dir(cache), entry.name, hf.filename)


def _inside(root: Path, *names: str) -> Path:
    for n in names:
        why = unsafe_component(n)
        if why:
            raise HubError(f"refusing the hub file name {n!r}: {why}")
    p = root.joinpath(*names)
    base = os.path.normpath(os.path.abspath(root))
    if os.path.commonpath([base, os.path.normpath(os.path.abspath(p))]) != base:
        raise HubError(f"refusing {p}: outside the checkpoint cache {root}")
    return p


def default_install_dir(models_dir: Path | str | None = None) -> Path:
    """``--models-dir``, else the first ``$SYNTHDETECT_MODELS_DIR`` entry, else the user model dir."""
    from ..cards import ENV_MODELS_DIR, user_models_dir

    if models_dir:
        return Path(models_dir).expanduser()
    env = os.environ.get(ENV_MODELS_DIR)
    if env:
        first = [p for p in env.split(os.pathsep) if p]
        if first:
            return Path(first[0]).expanduser()
    return user_models_dir()


# --------------------------------------------------------------------------- digests


def _tofu_path(cache: Path | str | None) -> Path:
    return cache_dir(cache) / TOFU_FILE


def recorded_digests(cache: Path | str | None = None) -> dict[str, dict[str, Any]]:
    """``{"<entry>/<file>": {"sha256", "recorded", "origin", "note"}}`` recorded on first use."""
    p = _tofu_path(cache)
    if not p.exists():
        return {}
    try:
        return json.loads(p.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise HubError(f"cannot read {p}: {e}") from e


def record_digest(entry: HubEntry, hf: HubFile, digest: str, origin: str, cache: Path | str | None) -> None:
    """Record ``digest`` as the trusted one for ``entry/hf`` (no published digest: trust on first use)."""
    data = recorded_digests(cache)
    data[f"{entry.name}/{hf.filename}"] = {
        "sha256": digest,
        "recorded": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "origin": origin,
        "note": "trust on first use: no published digest",
    }
    _write_records(data, cache)


def _write_records(data: dict[str, Any], cache: Path | str | None) -> None:
    p = _tofu_path(cache)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    tmp.replace(p)


def expected_digest(entry: HubEntry, hf: HubFile, cache: Path | str | None = None) -> tuple[str | None, str]:
    """(digest, where it comes from): ``registry``, ``recorded`` (trust on first use) or ``none``."""
    if hf.sha256:
        return hf.sha256, "registry"
    rec = recorded_digests(cache).get(f"{entry.name}/{hf.filename}")
    if rec:
        return rec["sha256"], "recorded"
    return None, "none"


@dataclass
class Fetched:
    """A file of an entry now in the cache (pulled, imported or found there), with its check."""

    entry: str
    filename: str
    path: Path
    sha256: str
    check: str  # "registry" | "recorded" | "first-use"
    message: str = ""
    source: str = ""  # where the bytes came from: the URL fetched, "imported from PATH", or the record's origin


def accept(entry: HubEntry, hf: HubFile, dest: Path, got: str, exp: str | None, origin: str,
           src: str, cache: Path | str | None) -> Fetched:
    """The :class:`Fetched` for a file whose digest ``got`` matched ``exp``; with no ``exp``, record ``got``."""
    if exp is None:
        record_digest(entry, hf, got, src, cache)
        return Fetched(entry.name, hf.filename, dest, got, "first-use",
                       f"no published sha256 for {hf.filename}; recorded {got} on first use (trust on first use)",
                       src)
    return Fetched(entry.name, hf.filename, dest, got, origin, f"sha256 OK ({origin})", src)


def recorded_origin(entry: HubEntry, hf: HubFile, cache: Path | str | None = None) -> str:
    """Where the file whose digest was recorded on first use came from ("" when none was recorded)."""
    return str(recorded_digests(cache).get(f"{entry.name}/{hf.filename}", {}).get("origin", ""))


def forget_digests(name: str, filename: str | None = None,
                   cache: Path | str | None = None) -> list[tuple[str, list[Path]]]:
    """Drop the digests recorded on first use for entry ``name`` (or its file ``filename``) and delete
    the cached copies they were taken from (and any ``.part``), so the next pull/import records anew.

    Returns ``[(key, [deleted files])]``; an empty list when nothing was recorded.
    """
    data = recorded_digests(cache)
    keys = [k for k in data if k.split("/", 1)[0] == name and (filename is None or k == f"{name}/{filename}")]
    out = []
    root = cache_dir(cache)
    for k in keys:
        gone = []
        parts = k.split("/", 1)
        if len(parts) == 2 and not any(unsafe_component(x) for x in parts):  # an old record may hold anything
            for p in (_inside(root, *parts), _inside(root, parts[0], parts[1] + ".part")):
                if p.is_file():
                    p.unlink()
                    gone.append(p)
        del data[k]
        out.append((k, gone))
    if out:
        _write_records(data, cache)
    return out


# --------------------------------------------------------------------------- verified cached files


def local_checkpoint(name: str, cache: Path | str | None = None, *,
                     registry: dict[str, HubEntry] | None = None) -> Path | None:
    """The cached raw checkpoint of entry ``name`` (its first file), or None when not cached.

    Used e.g. by ``train clip-probe --backbone-weights`` to reuse a pulled backbone.
    The file is returned only if its digest still matches the registry / recorded digest.
    """
    try:
        entry = get_entry(name, registry)
    except HubError:
        return None
    hf = entry.files[0]
    p = cached_path(entry, hf, cache)
    if not p.is_file():
        return None
    exp, _ = expected_digest(entry, hf, cache)
    if exp is not None and sha256_file(p) != exp:
        return None
    return p


def resolve_backbone(value: str, architecture: str) -> tuple[str, str | None]:
    """``--backbone-weights`` value -> (what to load, note).

    A backbone entry's name -> its verified cached checkpoint (HubError when it is not
    cached, altered, or of another architecture); the open_clip tag ``openai`` -> the cached
    OpenAI checkpoint of that architecture when one was pulled/imported (no network needed);
    anything else (a path, another tag, ``none``) is returned as given.
    """
    try:
        entries = {e.name: e for e in load_registry().values() if e.kind == "backbone"}
    except HubError:  # a broken user registry must not block training from a plain path
        entries = {}
    if value in entries:
        e = entries[value]
        if e.architecture and e.architecture != architecture:
            raise HubError(f"{value} is a {e.architecture} checkpoint; pass --backbone {e.architecture}")
        p = local_checkpoint(value)
        if p is None:
            raise HubError(f"{value}: not in the checkpoint cache (or its SHA-256 no longer matches); run "
                           f"`synthdetect weights pull {value}` or `synthdetect weights import {value} --from FILE`")
        return str(p), f"{value} -> {p}"
    if value == "openai":
        for e in entries.values():
            if e.open_clip.get("pretrained") == "openai" and e.architecture == architecture:
                p = local_checkpoint(e.name)
                if p is not None:
                    return str(p), f"openai -> cached {e.name} ({p})"
    return value, None
