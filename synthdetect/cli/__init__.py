"""``synthdetect`` command line: the typer app, the root options and the verb modules.

Each verb (or verb group) lives in its own module under ``synthdetect/cli/`` with a
``mount(app)`` function, listed in ``VERBS`` in ``--help`` order.  Adding a verb: write
``cli/<verb>.py`` with ``mount(app)``, add its name to ``VERBS``, and use ``errors.fail`` /
``ExitCode`` and the option types of ``options.py`` in it.

Start-up must stay fast and torch-free: verb modules import typer, rich and the standard library
at module level; numpy, Pillow and onnxruntime are imported inside the commands (tests/test_cli.py).
"""

from __future__ import annotations

import sys

import typer

from .. import __version__
from .errors import ExitCode

app = typer.Typer(
    name="synthdetect",
    help="Detect AI-generated (synthetic) images. Read-only: evidence files are never modified.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version_cb(value: bool) -> None:
    if value:
        typer.echo(f"synthdetect {__version__}")
        raise typer.Exit(int(ExitCode.OK))


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version_cb, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Detect AI-generated (synthetic) images. Read-only: evidence files are never modified."""


# One module per verb (group) under synthdetect/cli/, each with ``mount(app)``; the order is
# the order of ``synthdetect --help``.  No import here is optional: a verb whose module fails
# to import is a bug and must surface, not vanish from --help.  Commands that need an extra
# (torch for training, ray, matplotlib) import it inside their body and say so when missing.
VERBS = ("scan", "report", "models", "evaluate", "export", "inspect", "train", "ensemble", "backbone", "cache", "weights")


def _mount_verbs() -> None:
    from importlib import import_module

    for verb in VERBS:
        import_module(f"{__name__}.{verb}").mount(app)


_mount_verbs()


_ARGV: list[str] | None = None


def _command_line() -> list[str] | None:
    """The argument vector of this run (recorded in the report header), when started by ``main``."""
    return None if _ARGV is None else ["synthdetect", *_ARGV]


def main() -> None:
    global _ARGV
    _ARGV = list(sys.argv[1:])
    from .errors import route_warnings

    route_warnings()
    app(prog_name="synthdetect")


if __name__ == "__main__":
    main()
