"""Expand command-line inputs (files, directories, ``-`` for stdin) into image candidates.

* Explicitly named files are always attempted, whatever their extension.
* In directory walks a file is a candidate when its extension (``Path.suffix.lower()``)
  is an image extension, or when its first bytes carry an image signature (so
  ``IMG_0001`` without an extension is not lost).  Other files are skipped and
  counted (``skipped_non_image``) so the report can say so: nothing is dropped
  silently.
* Directory symlink loops cannot hang the walk: the real path of every directory
  visited is remembered and a directory is entered at most once.
* The result is ordered (inputs in the order given, directory entries sorted by
  name) and de-duplicated by real path.
* Paths that do not exist or cannot be listed become per-input errors.

Only ``os``/``pathlib``: no image library is imported here.
"""

from __future__ import annotations

import os
import re
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Iterable, TextIO

IMAGE_EXTENSIONS = frozenset(
    {
        ".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".webp", ".avif", ".heic", ".heif",
        ".hif", ".tif", ".tiff", ".bmp", ".dib", ".gif",
    }
)

# Magic bytes -> format name (checked in order; see sniff()).
_MAGIC: tuple[tuple[bytes, int, str], ...] = (
    (b"\xff\xd8\xff", 0, "JPEG"),
    (b"\x89PNG\r\n\x1a\n", 0, "PNG"),
    (b"GIF87a", 0, "GIF"),
    (b"GIF89a", 0, "GIF"),
    (b"BM", 0, "BMP"),
    (b"II*\x00", 0, "TIFF"),
    (b"MM\x00*", 0, "TIFF"),
    (b"II+\x00", 0, "TIFF"),  # BigTIFF
    (b"MM\x00+", 0, "TIFF"),
)
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}
_AVIF_BRANDS = {b"avif", b"avis"}


def sniff_bytes(head: bytes) -> str | None:
    """Image format named by the first bytes of a file, or None."""
    for magic, off, name in _MAGIC:
        if head[off : off + len(magic)] == magic:
            return name
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        # compatible brands follow the minor version (bytes 12..16)
        brands = {brand} | {head[i : i + 4] for i in range(16, min(len(head), 64) - 3, 4)}
        if brands & _AVIF_BRANDS:
            return "AVIF"
        if brands & _HEIF_BRANDS:
            return "HEIF"
    return None


def noatime_opener(path: str, flags: int) -> int:
    """``open(..., opener=)`` hook: read without updating the access time where allowed.

    ``O_NOATIME`` (Linux) needs the caller to own the file (or CAP_FOWNER); otherwise
    the file is opened normally.
    """
    noatime = getattr(os, "O_NOATIME", 0)
    if noatime:
        try:
            return os.open(path, flags | noatime)
        except PermissionError:
            pass
    return os.open(path, flags)


class NotRegularFile(OSError):
    """The path is a directory, FIFO, socket or device: evidence is read from regular files only."""


def open_regular(path: Path | str) -> BinaryIO:
    """Open a regular file for reading only (``O_NOATIME`` where allowed) without ever blocking.

    The file is opened with ``O_NONBLOCK`` and checked with ``fstat`` on the open descriptor
    (no window between the check and the open): a FIFO (reading would wait for a writer),
    a device (``/dev/zero`` never ends), a socket or a directory raises
    :class:`NotRegularFile` ("is a directory" / "not a regular file").  The one check used by
    every reader of evidence (scan, inspect, report thumbnails; docs/safety.md).
    """
    fd = noatime_opener(os.fspath(path), os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFile("is a directory" if stat.S_ISDIR(mode) else "not a regular file")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def sniff(path: Path | str) -> str | None:
    """Read (read-only) the first 64 bytes of ``path`` and name its image format; OSError when it
    cannot be read (the caller reports it: an unreadable file may well be an image)."""
    with open_regular(path) as f:
        return sniff_bytes(f.read(64))


def display_path(path: Path | str) -> str:
    """The path as text for reports: the one escape rule of every writer (docs/scan.md, docs/safety.md).

    File names that are not valid UTF-8 (possible on POSIX) carry surrogate escapes in
    Python (byte 0xNN becomes U+DCNN) and cannot be written as UTF-8; each such code point is
    written as the six characters ``\\udcNN`` instead (byte ``0xff`` -> ``\\udcff``), so
    reports never crash, the name stays recognisable and its bytes can be recovered.
    """
    s = os.fsdecode(path)
    try:
        s.encode("utf-8")
        return s
    except UnicodeEncodeError:
        return s.encode("utf-8", "backslashreplace").decode("utf-8")


_ESCAPED_BYTE = re.compile(r"\\udc([89a-f][0-9a-f])")


def undisplay_path(text: str) -> str:
    """The file name :func:`display_path` wrote as ``text``: each ``\\udcNN`` back to byte 0xNN (as the
    surrogate escape ``os.fsencode`` turns into that byte).  A name that really contains the six characters
    is ambiguous: callers try ``text`` itself too."""
    return _ESCAPED_BYTE.sub(lambda m: chr(0xDC00 + int(m.group(1), 16)), text)


def has_image_extension(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS


@dataclass
class InputError:
    path: str
    reason: str


@dataclass
class Discovery:
    files: list[Path] = field(default_factory=list)
    errors: list[InputError] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)  # the non-image files the walks found, in walk order
    symlink_loops: int = 0

    @property
    def skipped_non_image(self) -> int:
        return len(self.skipped)


def read_stdin_paths(stream: TextIO) -> list[str]:
    """One path per line; blank lines ignored; trailing newline/CR stripped (spaces kept)."""
    out = []
    for line in stream:
        p = line.rstrip("\r\n")
        if p.strip():
            out.append(p)
    return out


def _input_items(inputs: Iterable[str | Path], stdin: TextIO | None) -> list[str]:
    """The inputs as strings, in order, ``-`` replaced by the paths read from ``stdin``."""
    items: list[str] = []
    for raw in inputs:
        raw = str(raw)
        if raw == "-":
            items.extend(read_stdin_paths(stdin if stdin is not None else sys.stdin))
        else:
            items.append(raw)
    return items


class _Walker:
    """Builds one :class:`Discovery`: files de-duplicated by real path, each directory entered once."""

    def __init__(self, recursive: bool):
        self.recursive = recursive
        self.res = Discovery()
        self.seen_files: set[str] = set()
        self.seen_dirs: set[str] = set()
        self.seen_errors: set[str] = set()

    def error(self, path: str, reason: str) -> None:
        """One record per path (a path named twice, or named and found by a walk, is one input: an error
        or a file, whichever came first)."""
        key = os.path.realpath(path)
        if key not in self.seen_errors and key not in self.seen_files:
            self.seen_errors.add(key)
            self.res.errors.append(InputError(path, reason))

    def add_input(self, raw: str) -> None:
        """One named input: a directory walked, a file added, anything else an error."""
        p = Path(raw).expanduser()
        try:
            if p.is_dir():
                self.walk(p, 0)
            elif p.exists():
                self.add_file(p)
            elif p.is_symlink():
                self.error(raw, "broken or looping symbolic link")
            else:
                self.error(raw, "no such file or directory")
        except OSError as e:  # e.g. ELOOP on a self-referencing symlink given by name
            self.error(raw, f"cannot access: {e.strerror or e}")

    def add_file(self, p: Path) -> None:
        """``p`` as a candidate, unless its real path was added before."""
        key = os.path.realpath(p)
        if key in self.seen_files or key in self.seen_errors:
            return
        self.seen_files.add(key)
        self.res.files.append(p)

    def walk(self, d: Path, depth: int, above: frozenset[str] = frozenset()) -> None:
        """Directory ``d``'s entries in name order, then (``recursive``) its subdirectories.  A directory
        walked before is not walked again (its files are in already): a symlink loop when it is one of
        the directories the walk came through (``above``), else a directory named twice or reached by
        two routes (a subdirectory named before its parent), which is no loop."""
        real = os.path.realpath(d)
        if real in self.seen_dirs:
            if depth > 0 and real in above:
                self.res.symlink_loops += 1
            return
        self.seen_dirs.add(real)
        try:
            with os.scandir(d) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as e:
            self.error(str(d), f"cannot list directory: {e.strerror or e}")
            return
        subdirs: list[Path] = []
        for e in entries:
            self._add_entry(d, e, subdirs)
        if self.recursive:
            for s in subdirs:
                self.walk(s, depth + 1, above | {real})

    def _add_entry(self, d: Path, e: os.DirEntry, subdirs: list[Path]) -> None:
        """One directory entry: a subdirectory noted in ``subdirs``, an image candidate added, a
        non-image file counted as skipped, anything else an error."""
        p = d / e.name
        try:
            is_dir = e.is_dir(follow_symlinks=True)
            is_file = not is_dir and e.is_file(follow_symlinks=True)
        except OSError as err:
            self.error(str(p), f"cannot stat: {err.strerror or err}")
            return
        if is_dir:
            subdirs.append(p)
        elif is_file:
            self._add_found_file(p)
        elif e.is_symlink() and not os.path.exists(p):
            self.error(str(p), "broken or looping symbolic link")
        else:  # FIFO, socket, device (or a link to one): never opened (a FIFO would block)
            self.error(str(p), "not a regular file")

    def _add_found_file(self, p: Path) -> None:
        """A regular file a walk found: an image candidate by its extension or first bytes, else counted as
        skipped; one that cannot be read to tell is an error (it may be an image: nothing silently lost)."""
        res = self.res
        try:
            image = has_image_extension(p) or sniff(p) is not None
        except OSError as err:
            self.error(str(p), f"cannot read: {err.strerror or err}")
            return
        if image:
            self.add_file(p)
        else:
            res.skipped.append(p)


def discover(
    inputs: Iterable[str | Path],
    recursive: bool = True,
    stdin: TextIO | None = None,
) -> Discovery:
    """Expand ``inputs`` into candidate image files (see the module docstring)."""
    walker = _Walker(recursive)
    for raw in _input_items(inputs, stdin):
        walker.add_input(raw)
    return walker.res


def discover_in_order(inputs: Iterable[str | Path], recursive: bool = True
                      ) -> tuple[list[tuple[Path, str | None]], Discovery]:
    """:func:`discover`, and what each input gave in argument order: ``(path, None)`` for a file,
    ``(path, reason)`` for an input that could not be used (``inspect`` lists them so)."""
    walker = _Walker(recursive)
    ordered: list[tuple[Path, str | None]] = []
    for raw in inputs:
        n_files, n_errors = len(walker.res.files), len(walker.res.errors)
        walker.add_input(str(raw))
        ordered += [(f, None) for f in walker.res.files[n_files:]]
        ordered += [(Path(e.path), e.reason) for e in walker.res.errors[n_errors:]]
    return ordered, walker.res
