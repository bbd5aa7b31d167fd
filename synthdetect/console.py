"""Consoles for tables: readable on a terminal, never wrapped or cut in a pipe.

On a terminal rich fits tables to the window (identifier columns fold).  When the
stream is not a terminal (``| grep``, ``> file``, CliRunner) nothing is fitted: the
console is as wide as the widest line needs (``PIPE_WIDTH``), so names, paths and
hashes stay whole, each on one line.  ``$COLUMNS`` still wins when set explicitly
wider.  Only rich is imported, and only when a console is made.
"""

from __future__ import annotations

import os
import sys
from typing import Any, TextIO

PIPE_WIDTH = 100_000  # "unbounded": rich never pads a table to the console width unless asked


def is_tty(stream: TextIO | None) -> bool:
    try:
        return bool(stream is not None and stream.isatty())
    except (AttributeError, ValueError):
        return False


def piped(stderr: bool = False) -> bool:
    """True when stdout (or stderr) is not a terminal."""
    return not is_tty(sys.stderr if stderr else sys.stdout)


def warn(msg: str) -> None:
    """The one warning path: a ``synthdetect: warning: ...`` line on stderr (the work goes on)."""
    print(f"synthdetect: warning: {msg}", file=sys.stderr, flush=True)


def make_console(file: TextIO | None = None, *, stderr: bool = False, **kw: Any):
    """A rich Console for ``file`` (default stdout/stderr, resolved now) that never wraps in a pipe."""
    from rich.console import Console

    stream = file if file is not None else (sys.stderr if stderr else sys.stdout)
    if not is_tty(stream):
        cols = int(os.environ.get("COLUMNS", "0") or 0)
        kw.setdefault("width", max(cols, PIPE_WIDTH))
        kw.setdefault("soft_wrap", True)
    return Console(file=file, stderr=stderr if file is None else False, **kw)


class LazyConsole:
    """A module-level console that picks the stream and width at each call.

    ``out = LazyConsole()`` at import time stays right when a test runner (or the
    caller) swaps ``sys.stdout`` later.
    """

    def __init__(self, *, stderr: bool = False, **kw: Any):
        self._stderr = stderr
        self._kw = kw

    def __getattr__(self, name: str) -> Any:
        return getattr(make_console(stderr=self._stderr, **self._kw), name)


def ident(full: str, short: int | None = None) -> str:
    """An identifier as a table shows it: whole in a pipe, ``short`` chars + '…' on a terminal."""
    if short is None or piped() or len(full) <= short:
        return full
    return full[:short] + "…"
