"""Option types shared by several commands (one definition each)."""

from __future__ import annotations

import os
import sys
import tempfile
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Iterator, List, Optional, TextIO

import typer

from ..output.evidence import Inputs
from .errors import fail, refuse_overwrite


class Device(str, Enum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


class ListFormat(str, Enum):
    """Listings (models, weights, backbones, cache info): a table for people, JSON for scripts."""

    table = "table"
    json = "json"


def list_format_option(default: ListFormat = ListFormat.table) -> ListFormat:
    return typer.Option(default, "--format", "-f", case_sensitive=False, help="table or json.")


def device_option(help: str = "auto = CUDA when it really works, else CPU.") -> Device:
    return typer.Option(Device.auto, "--device", case_sensitive=False, help=help)


def models_dir_option(help: str = "Extra model directory (repeatable; also $SYNTHDETECT_MODELS_DIR).") -> Optional[List[Path]]:
    return typer.Option(None, "--models-dir", help=help, callback=_said_if_missing)


def _said_if_missing(value: Optional[List[Path]]) -> Optional[List[Path]]:
    """A mistyped ``--models-dir`` is said (the models then come from the rest of the search path).  A
    single directory (``weights``: where models are installed, created when missing) is not a search path."""
    from .errors import warn

    if not isinstance(value, (list, tuple)):
        return value
    for d in value:
        if not Path(d).is_dir():
            warn(f"--models-dir {d} is not a directory: no models are read from it")
    return value


def split_names(values: Optional[List[str]]) -> Optional[List[str]]:
    """``-m a,b -m c`` -> ``[a, b, c]`` (None when nothing was given)."""
    if not values:
        return None
    out = [n.strip() for v in values for n in v.split(",") if n.strip()]
    return out or None


@contextmanager
def output_stream(path: Optional[Path], inputs: Optional[Inputs] = None, force: bool = False) -> Iterator[TextIO]:
    """``--output FILE`` for writing (UTF-8, newlines as written), else stdout; a one-line error
    (exit 2) when it cannot be opened.  Closed (a file) or flushed (stdout) afterwards.

    Before anything is opened, FILE goes through :func:`check_output`.  A regular FILE is written
    as ``FILE.<random>.partial`` beside it and moved over FILE only when the command completes:
    an interrupted or failed run (Ctrl-C, SIGTERM, a crash) leaves an earlier FILE as it was and
    the records so far in the ``.partial`` file, and says so.  Devices and pipes
    (``-o /dev/null``, a FIFO), and an existing file in a folder that is not writable, are written directly."""
    if path is None:
        try:
            yield sys.stdout
        finally:
            sys.stdout.flush()
        return
    check_output(path, inputs, force)
    target = Path(os.path.realpath(path))
    in_place = target.exists() and (not target.is_file() or not os.access(target.parent, os.W_OK))
    if in_place:  # a device or pipe; or a writable file in a folder where no file can be made beside it
        with _open_for_writing(path) as out:
            yield out
        return
    tmp = _partial_file(target)
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as out:
            yield out
        os.replace(tmp, target)
    except BaseException:
        _say_partial(path, tmp)
        raise


@contextmanager
def _open_for_writing(path: Path) -> Iterator[TextIO]:
    try:
        out = open(path, "w", encoding="utf-8", newline="")
    except OSError as e:
        raise fail(f"cannot write {path}: {e.strerror or e}") from None
    with out:
        yield out


def _partial_file(target: Path) -> Path:
    """A new ``TARGET.<random>.partial`` in TARGET's folder (so the final move is a rename), with the
    mode a plainly created file would get."""
    try:
        fd, name = tempfile.mkstemp(prefix=f"{target.name}.", suffix=".partial", dir=target.parent)
    except OSError as e:
        raise fail(f"cannot write {target}: {e.strerror or e}") from None
    mask = os.umask(0)
    os.umask(mask)
    os.fchmod(fd, 0o666 & ~mask)
    os.close(fd)
    return Path(name)


def _say_partial(path: Path, tmp: Path) -> None:
    try:
        if tmp.exists() and tmp.stat().st_size == 0:
            tmp.unlink()
            print(f"synthdetect: stopped before any result was written; {path} left as it was", file=sys.stderr)
        elif tmp.exists():
            print(f"synthdetect: stopped: {path} left as it was; the records written so far are in {tmp}",
                  file=sys.stderr)
    except OSError:
        pass


def check_output(path: Path, inputs: Optional[Inputs], force: bool) -> None:
    """The one output check (:mod:`synthdetect.output.evidence`) for a results file (``scan``/``report -o``):
    never one of ``inputs`` (the files the command reads), never a directory or block device, and an
    existing file only when it is empty or an earlier synthdetect result, or with ``--force``."""
    from ..output.writers import replaceable

    refuse_overwrite(path, force, inputs, "--output", replaceable=replaceable)


def force_option():
    return typer.Option(False, "--force", help="Replace an existing --output file that is not an earlier synthdetect "
                                               "result (never a file the command reads).")
