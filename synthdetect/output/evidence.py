"""The one place that decides whether a command may write a path: evidence is never overwritten.

A command collects every file it reads or will read (:class:`Inputs`: the images a scan
discovered, the files a results file points to, training data, model and checkpoint files)
and asks :meth:`Inputs.check_file` (one output file) or :meth:`Inputs.check_dir` (an output
directory) *before* it opens anything for writing.  A refusal is :class:`OutputRefused` with a
one-line reason; the CLI turns it into ``synthdetect: error: ...`` and exit 2, with nothing
written.

How a path is compared
  * Files are identified by ``(st_dev, st_ino)`` of ``os.stat`` (symlinks followed), so the
    same file reached through another name, a symbolic link, a hard link, ``..`` or a
    relative path is still recognised.  Inputs that cannot be stat'ed (gone, unreadable)
    are remembered by their resolved path only.
  * An output that exists must be a regular file, a pipe (FIFO, ``>(gzip)``) or a character
    device (``/dev/null``, ``/dev/stdout``): nothing is overwritten there.  A directory, socket
    or block device (a disk) is refused.  A symbolic link whose target does not exist is refused
    too (the file would be created wherever the link points).
  * ``check_file(..., force=False)`` also refuses an existing file (``--force`` to replace
    one that is *not* an input; an input is never replaced, whatever the flags), except one its
    ``replaceable`` test accepts (``scan``/``report -o``: an empty file or an earlier synthdetect
    result, ``output.writers.replaceable``).
  * ``check_dir`` refuses a directory that is an input file or that holds an input
    anywhere below it (a command that writes an open-ended set of files there, such as a
    training run or plots, could otherwise meet one); with ``names`` it checks just those
    files in it.

Standard library only (no image library, no torch).  Documented in docs/safety.md.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Callable, Iterable


class OutputRefused(ValueError):
    """Writing this path is refused; ``str(e)`` is a one-line reason."""


FileId = tuple[int, int]


def file_id(path: Path | str) -> FileId | None:
    """``(st_dev, st_ino)`` of the file ``path`` names (symlinks followed), None when it cannot be stat'ed."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return st.st_dev, st.st_ino


def _shown(path: Path | str) -> str:
    from ..inputs.discovery import display_path

    return display_path(path)


class Inputs:
    """The files a command reads: outputs are checked against them (see the module doc)."""

    def __init__(self, paths: Iterable[Path | str] = ()) -> None:
        self._by_id: dict[FileId, str] = {}
        self._reals: dict[str, str] = {}  # resolved path -> the name the command was given
        self._digests: dict[int, dict[str, str]] = {}  # size -> SHA-256 -> name: inputs known by content
        self.update(paths)

    def __len__(self) -> int:
        return len(self._reals)

    def add(self, path: Path | str) -> None:
        name = os.fspath(path)
        fid = file_id(name)
        if fid is not None:
            self._by_id.setdefault(fid, name)
        self._reals.setdefault(os.path.realpath(name), name)

    def update(self, paths: Iterable[Path | str]) -> None:
        for p in paths:
            self.add(p)

    def add_content(self, sha256: str, size: int, name: str) -> None:
        """An input known by its bytes (``report``: a record's SHA-256 and size), for where its path no
        longer leads to it (another working directory, a moved folder): a file with those bytes is refused."""
        self._digests.setdefault(int(size), {}).setdefault(str(sha256).lower(), name)

    def _same_content(self, path: Path | str, size: int) -> str | None:
        """The input known by content that ``path`` (``size`` bytes) holds, or None (the file is hashed by
        the one file hash, opened as evidence is: its access time untouched)."""
        from ..cards import sha256_file
        from ..inputs.discovery import noatime_opener

        wanted = self._digests.get(size)
        if not wanted:
            return None
        try:
            return wanted.get(sha256_file(path, opener=noatime_opener))
        except OSError:
            return None

    def which(self, path: Path | str) -> str | None:
        """The input ``path`` is (by device and inode, else by resolved path), or None."""
        fid = file_id(path)
        if fid is not None and fid in self._by_id:
            return self._by_id[fid]
        return self._reals.get(os.path.realpath(path))

    def check_file(self, path: Path | str, what: str = "--output", *, force: bool = True,
                   replaceable: Callable[[Path | str], bool] | None = None) -> None:
        """Raise :class:`OutputRefused` unless ``path`` may be opened for writing (module doc).

        ``replaceable``: without ``force``, an existing regular file for which it answers True may be
        replaced all the same (``scan -o``: an earlier result of the command; its message says so)."""
        shown = f"{what} {_shown(path)}".strip()
        hit = self.which(path)
        if hit is not None:
            same = "" if _shown(hit) == _shown(path) else f" ({_shown(hit)})"
            raise OutputRefused(f"{shown} is a file this command reads{same}; refusing to overwrite evidence")
        try:
            lst = os.lstat(path)
        except FileNotFoundError:
            return
        except OSError as e:
            raise OutputRefused(f"{shown}: cannot check it: {e.strerror or e}") from None
        try:
            st = os.stat(path)
        except OSError:
            if stat.S_ISLNK(lst.st_mode):
                raise OutputRefused(f"{shown} is a symbolic link to a missing file; refusing to write through it") \
                    from None
            raise
        if stat.S_ISDIR(st.st_mode):
            raise OutputRefused(f"{shown} is a directory")
        if stat.S_ISFIFO(st.st_mode) or stat.S_ISCHR(st.st_mode):
            return  # a stream (pipe, /dev/null, a terminal): written to, never overwritten
        if not stat.S_ISREG(st.st_mode):
            raise OutputRefused(f"{shown} is not a regular file, pipe or character device (a socket or a "
                                "block device); write to a file, or omit it to use standard output")
        if (hit := self._same_content(path, st.st_size)) is not None:
            raise OutputRefused(f"{shown} holds the same bytes as a file this command reads ({_shown(hit)}, by "
                                "SHA-256); refusing to overwrite evidence")
        if force:
            return
        if replaceable is None:
            raise OutputRefused(f"{_shown(path)} exists (use --force to overwrite)")
        if not replaceable(path):
            raise OutputRefused(f"{shown} exists and is not an earlier synthdetect result; refusing to replace "
                                "it (it may be evidence): use --force to replace it, or write elsewhere")

    def check_dir(self, path: Path | str, what: str = "--out", *, names: Iterable[str] | None = None,
                  force: bool = True) -> None:
        """Raise :class:`OutputRefused` unless files may be written into the directory ``path``.

        ``names``: the files the command writes there (each checked with :meth:`check_file`);
        without it, no input may lie anywhere below ``path``.
        """
        shown = f"{what} {_shown(path)}".strip()
        if os.path.exists(path) and not os.path.isdir(path):
            hit = self.which(path)
            raise OutputRefused(f"{shown} is a file this command reads; refusing to overwrite evidence" if hit
                                else f"{shown} is not a directory")
        if names is not None:
            for n in names:
                self.check_file(Path(path) / n, what, force=force)
            return
        root = os.path.realpath(path)
        prefix = root if root.endswith(os.sep) else root + os.sep
        for real, name in self._reals.items():
            if real == root or real.startswith(prefix):
                raise OutputRefused(f"{shown} holds a file this command reads ({_shown(name)}); "
                                    "refusing to write there")
