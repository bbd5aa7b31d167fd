"""Exit codes and the one error helper every ``synthdetect`` command uses.

=====  ==========================================================================
code   meaning
=====  ==========================================================================
0      success (for ``scan``: every input was read; verdicts do not change this)
1      ``scan --fail-on``: a synthetic (or, with ``inconclusive``, an inconclusive)
       verdict was found.  Never used for errors.
2      usage or set-up error, nothing was done: bad arguments, an unknown model,
       an unreadable card, a missing optional extra, refusing to overwrite evidence
3      partial: some inputs could not be read; they are still in the report
4      the operation started and failed: a download, a checksum or parity check,
       a conversion, a training or export run
130    interrupted (Ctrl-C); 143: terminated (SIGTERM); an ``--output`` file is then
       left as it was, the records so far beside it (``scan``)
141    standard output was closed before the report was complete (``| head``)
=====  ==========================================================================
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from enum import IntEnum
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, Optional

import typer

if TYPE_CHECKING:  # the output check is imported where a command writes, not for --help
    from ..output.evidence import Inputs


class ExitCode(IntEnum):
    OK = 0
    FOUND = 1
    USAGE = 2
    UNREADABLE = 3
    FAILED = 4


PIPE_CLOSED = 141  # 128 + SIGPIPE, what a shell reports for a writer killed by a closed pipe
TERMINATED = 143  # 128 + SIGTERM


def pipe_closed_exit(e: SystemExit) -> None:
    """Click answers a closed standard output (``synthdetect scan -f jsonl | head -1``) with exit 1,
    which means "``--fail-on`` found a synthetic image": make it 141 and say so in one line."""
    if e.code == 1 and type(sys.stdout).__name__ == "PacifyFlushWrapper":  # click's, or typer's vendored copy
        try:
            print("synthdetect: error: standard output was closed before the report was complete", file=sys.stderr)
        except OSError:
            pass
        raise SystemExit(PIPE_CLOSED) from None


def on_sigterm() -> None:
    """SIGTERM (a batch scheduler's stop) unwinds like Ctrl-C, so ``finally`` blocks run: an
    ``--output`` file being replaced is left as it was."""
    import signal

    def stop(signum, frame):
        raise SystemExit(TERMINATED)

    try:
        signal.signal(signal.SIGTERM, stop)
    except ValueError:  # not the main thread (embedded use)
        pass


def fail(msg: str, code: ExitCode = ExitCode.USAGE) -> typer.Exit:
    """Print ``synthdetect: error: MSG`` on stderr and return the ``typer.Exit`` to raise.

    ``raise fail("...")`` keeps the control flow visible at the call site.
    """
    typer.echo(f"synthdetect: error: {msg}", err=True)
    return typer.Exit(int(code))


def warn(msg: str) -> None:
    """One ``synthdetect: warning: ...`` line on stderr (the command goes on): :func:`synthdetect.console.warn`."""
    from ..console import warn as _warn

    _warn(msg)


def route_warnings() -> None:
    """Every library warning (Pillow, onnxruntime, ...) as one ``synthdetect: warning: ...`` line on
    stderr, through :func:`warn`, instead of Python's two raw lines (message, then source line)."""
    import warnings

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        text = " ".join(str(message).split()) or category.__name__
        warn(f"{text} ({category.__name__}, {Path(filename).stem})")

    warnings.showwarning = show


def missing_extra(extra: str, e: ImportError, *, what: str = "this command", hint: str = "") -> typer.Exit:
    """An optional dependency group is not installed: say which and how to get it (exit 2).

    ``what`` needs it; ``hint`` is appended (e.g. a way to do without).
    """
    return fail(f"{what} needs the '{extra}' extra ({e.name or e}): pip install 'synthdetect[{extra}]'{hint}",
                ExitCode.USAGE)


@contextmanager
def output_checks() -> Iterator[None]:
    """Inside: :class:`synthdetect.output.evidence.OutputRefused` becomes one error line and exit 2 (nothing written)."""
    from ..output.evidence import OutputRefused

    try:
        yield
    except OutputRefused as e:
        raise fail(str(e)) from None


def refuse_overwrite(path: Path, force: bool, inputs: Optional[Inputs] = None, what: str = "--out",
                     replaceable: Optional[Callable[[Path], bool]] = None) -> None:
    """The one output check (:mod:`synthdetect.output.evidence`) as a usage error: never a file the command
    reads (``inputs``), never a directory, socket or block device, and an existing file only with ``--force``
    (or where ``replaceable`` accepts it)."""
    from ..output.evidence import Inputs

    with output_checks():
        (inputs if inputs is not None else Inputs()).check_file(path, what, force=force, replaceable=replaceable)
