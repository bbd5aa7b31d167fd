"""Downloads: HTTP with ``Range`` resume and a progress bar, and :func:`fetch` of a whole entry.

:func:`download` writes through ``<dest>.part`` and resumes it (on the next call, and up
to ``retries`` times within one call), so a dropped link on the 932 MB CLIP checkpoint
costs only the missing bytes (docs/DESIGN.md says why this is not pooch).  The file's
SHA-256 is taken with :func:`synthdetect.cards.sha256_file` once it is complete.

:func:`fetch` downloads the files of an entry into the cache (:mod:`.store`), skipping
cached files that still match, from the original URLs or a mirror: ``base_url=`` or
``$SYNTHDETECT_HUB_BASE_URL`` gives ``{base}/{entry name}/{file name}`` (same digests).
"""

from __future__ import annotations

import http.client
import os
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Callable

from ..cards import sha256_file
from .catalog import HubEntry, HubFile
from .errors import ChecksumError, DownloadInterrupted, HubError, OfflineError
from .store import Fetched, accept, cached_path, expected_digest, record_digest, recorded_origin
from .verify import check_format

ENV_BASE_URL = "SYNTHDETECT_HUB_BASE_URL"
USER_AGENT = "synthdetect-weights/1 (+python urllib)"


def file_url(entry: HubEntry, hf: HubFile, base_url: str | None = None) -> str:
    """Original URL, or ``{base}/{entry}/{file}`` on a mirror (``$SYNTHDETECT_HUB_BASE_URL``)."""
    base = base_url if base_url is not None else os.environ.get(ENV_BASE_URL)
    if base:
        return f"{base.rstrip('/')}/{urllib.parse.quote(entry.name)}/{urllib.parse.quote(hf.filename)}"
    return hf.url


def _host(url: str) -> str:
    u = urllib.parse.urlsplit(url)
    return u.netloc or u.scheme or url


def _offline(url: str, reason: Any, name: str) -> OfflineError:
    return OfflineError(
        f"cannot reach {_host(url)}: {reason} "
        f"(offline? use `synthdetect weights import {name} --from FILE`)"
    )


class _Progress:
    """A rich progress bar on stderr (silent when disabled)."""

    def __init__(self, enabled: bool, label: str, total: int | None, done: int):
        self.enabled = enabled
        self._p = None
        if enabled:
            from rich.console import Console
            from rich.progress import (BarColumn, DownloadColumn, Progress, TimeRemainingColumn,
                                       TransferSpeedColumn)

            self._p = Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(),
                               TransferSpeedColumn(), TimeRemainingColumn(),
                               console=Console(stderr=True), transient=False)
            self._p.start()
            self._t = self._p.add_task(label, total=total, completed=done)

    def advance(self, n: int) -> None:
        if self._p is not None:
            self._p.advance(self._t, n)

    def close(self) -> None:
        if self._p is not None:
            self._p.stop()


def download(url: str, dest: Path | str, *, expected_sha256: str | None = None, name: str = "NAME",
             timeout: float = 30.0, retries: int = 2, progress: bool = True, chunk: int = 1 << 16,
             headers_log: list[dict[str, str]] | None = None, info: dict[str, Any] | None = None) -> str:
    """Download ``url`` to ``dest`` through ``dest.part`` with resume; returns the file's SHA-256.

    * an existing ``.part`` is resumed with an HTTP ``Range`` request (a server that
      ignores it and answers 200 restarts the file from zero);
    * a dropped connection keeps the ``.part``; up to ``retries`` automatic resumes follow,
      then :class:`DownloadInterrupted` (the next call resumes);
    * unreachable host -> :class:`OfflineError`; HTTP errors -> :class:`HubError`;
    * digest mismatch -> :class:`ChecksumError`, and the ``.part`` is deleted;
    * ``info`` (a dict) gets ``length_known``: False when the server sent no ``Content-Length``,
      so the body was taken as complete when the connection closed (check the file's structure).
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    attempt = 0
    while True:
        try:
            known = _fetch_once(url, part, name=name, timeout=timeout, progress=progress, chunk=chunk,
                                headers_log=headers_log, label=dest.name)
            if info is not None:
                info["length_known"] = known
            break
        except DownloadInterrupted:
            attempt += 1
            if attempt > retries:
                raise
            time.sleep(min(2.0 ** attempt * 0.25, 4.0))
    digest = sha256_file(part)
    if expected_sha256 is not None and digest != expected_sha256:
        part.unlink(missing_ok=True)
        raise ChecksumError(
            f"sha256 mismatch for {dest.name} from {_host(url)}: expected {expected_sha256}, got {digest} "
            f"(file discarded)"
        )
    part.replace(dest)
    return digest


def _fetch_once(url: str, part: Path, *, name: str, timeout: float, progress: bool, chunk: int,
                headers_log: list[dict[str, str]] | None, label: str) -> bool:
    """One request; True when the server said how long the body is (False: taken as whole at close)."""
    have = part.stat().st_size if part.exists() else 0
    req = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    if have:
        req.add_header("Range", f"bytes={have}-")
    if headers_log is not None:
        headers_log.append(dict(req.header_items()))
    try:
        resp = urllib.request.urlopen(req, timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:
            # Range not satisfiable: the .part is already complete (or larger than the file).
            total = _content_range_total(e.headers.get("Content-Range"))
            if total is not None and total == have:
                return True
            part.unlink(missing_ok=True)
            raise DownloadInterrupted(f"server refused to resume {label}; restarting") from e
        raise HubError(f"HTTP {e.code} {e.reason} for {url}") from e
    except urllib.error.URLError as e:
        raise _offline(url, e.reason, name) from e
    except (socket.timeout, TimeoutError, ConnectionError) as e:
        raise _offline(url, e, name) from e
    with resp:
        status = getattr(resp, "status", None) or 200
        if have and status == 206:
            start = _content_range_start(resp.headers.get("Content-Range"))
            if start is not None and start != have:
                part.unlink(missing_ok=True)
                raise DownloadInterrupted(f"server resumed {label} at byte {start}, not {have}; restarting")
            mode, done = "ab", have
        else:
            mode, done = "wb", 0
        length = resp.headers.get("Content-Length")
        body = int(length) if length and length.isdigit() else None
        total = (done + body) if body is not None else None
        bar = _Progress(progress, label, total, done)
        got = 0
        try:
            with open(part, mode) as f:
                while True:
                    try:
                        b = resp.read(chunk)
                    except (http.client.IncompleteRead, ConnectionError, socket.timeout, TimeoutError) as e:
                        f.write(getattr(e, "partial", b"") or b"")
                        raise DownloadInterrupted(
                            f"download of {label} interrupted after {done + got} bytes ({type(e).__name__}); "
                            f"run the same command again to resume"
                        ) from e
                    if not b:
                        break
                    f.write(b)
                    got += len(b)
                    bar.advance(len(b))
        finally:
            bar.close()
        if body is not None and got < body:
            raise DownloadInterrupted(
                f"download of {label} interrupted after {done + got} of {total} bytes; "
                f"run the same command again to resume"
            )
        return body is not None


def _content_range_start(v: str | None) -> int | None:
    # "bytes 100-999/1000"
    try:
        return int(v.split()[1].split("-")[0]) if v else None
    except (IndexError, ValueError):
        return None


def _content_range_total(v: str | None) -> int | None:
    try:
        t = v.rsplit("/", 1)[1] if v else None
        return int(t) if t and t != "*" else None
    except (IndexError, ValueError):
        return None


# --------------------------------------------------------------------------- fetch


def fetch(entry: HubEntry, *, cache: Path | str | None = None, base_url: str | None = None,
          timeout: float = 30.0, retries: int = 2, progress: bool = True, force: bool = False,
          log: Callable[[str], None] | None = None,
          headers_log: list[dict[str, str]] | None = None) -> list[Fetched]:
    """Download every file of ``entry`` into the cache (skipping verified cached files).

    With no published or recorded digest, a file is recorded (trust on first use) only when it is
    a whole file of its format (:func:`~synthdetect.hub.verify.check_format`); otherwise it is
    deleted and HubError says why (e.g. a body cut short by a server that sent no length).
    """
    out = []
    for hf in entry.files:
        dest = cached_path(entry, hf, cache)
        exp, origin = expected_digest(entry, hf, cache)
        if dest.is_file() and not force:
            hit = _cached(entry, hf, dest, exp, origin, cache)
            if hit is not None:
                out.append(hit)
                continue
            dest.unlink()
        url = file_url(entry, hf, base_url)
        if log:
            log(f"downloading {hf.filename} from {_host(url)}")
        info: dict[str, Any] = {}
        got = download(url, dest, expected_sha256=exp, name=entry.name, timeout=timeout, retries=retries,
                       progress=progress, headers_log=headers_log, info=info)
        if exp is None:
            why = "" if info.get("length_known", True) else (
                f" ({_host(url)} sent no Content-Length: the download may have been cut short)")
            try:  # nothing to compare with: at least refuse an HTML page or a cut file before trusting it
                check_format(entry, hf, dest, why)
            except HubError:
                dest.unlink(missing_ok=True)
                raise
        out.append(accept(entry, hf, dest, got, exp, origin, url, cache))
    return out


def _cached(entry: HubEntry, hf: HubFile, dest: Path, exp: str | None, origin: str,
            cache: Path | str | None) -> Fetched | None:
    """The cached file when it matches ``exp`` (or, with none, is a whole file: then its digest is
    recorded); None when it must be fetched again."""
    got = sha256_file(dest)
    if exp is not None:
        if got != exp:
            return None
        return Fetched(entry.name, hf.filename, dest, got, origin, "already cached",
                       recorded_origin(entry, hf, cache) if origin == "recorded" else f"cached file {dest}")
    try:
        check_format(entry, hf, dest)
    except HubError:
        return None
    record_digest(entry, hf, got, f"cached file {dest}", cache)
    return Fetched(entry.name, hf.filename, dest, got, "first-use", "already cached", f"cached file {dest}")
