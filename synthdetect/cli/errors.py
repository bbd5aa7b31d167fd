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
=====  ==========================================================================
"""

from __future__ import annotations

from enum import IntEnum
from pathlib import Path

import typer


class ExitCode(IntEnum):
    OK = 0
    FOUND = 1
    USAGE = 2
    UNREADABLE = 3
    FAILED = 4


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


def missing_extra(extra: str, e: ImportError, *, what: str = "this command", hint: str = "") -> typer.Exit:
    """An optional dependency group is not installed: say which and how to get it (exit 2).

    ``what`` needs it; ``hint`` is appended (e.g. a way to do without).
    """
    return fail(f"{what} needs the '{extra}' extra ({e.name or e}): pip install 'synthdetect[{extra}]'{hint}",
                ExitCode.USAGE)


def refuse_overwrite(path: Path, force: bool) -> None:
    """An existing output file is only replaced with ``--force`` (a usage error otherwise)."""
    if path.exists() and not force:
        raise fail(f"{path} exists (use --force to overwrite)")
