"""``synthdetect`` command line: the typer app, the root options and the verb modules.

Each verb (or verb group) lives in its own module under ``synthdetect/cli/`` with a
``mount(app)`` function.  ``VERBS`` lists the commands in ``--help`` order, each with the module
that mounts it and the one line ``synthdetect --help`` shows for it.  A verb's module is
imported only when that verb runs (``synthdetect VERB ...``, ``synthdetect VERB --help``), so
``synthdetect --help`` loads typer and nothing of the verbs; its page is drawn by ``root_help``
(typer's rich renderer is used for the verbs' pages only: its imports alone took 40 % of
``--help``).  tests/test_cli.py keeps that budget; ``make help-time`` measures it.

Adding a verb: write ``cli/<verb>.py`` with ``mount(app)``, add ``"verb": ("<verb>", "<its one
line of help>")`` to ``VERBS`` (tests/test_cli.py checks the line against the command's own help
and that every command a module mounts is listed), and use ``errors.fail`` / ``ExitCode`` and
the option types of ``options.py`` in it.

Start-up must stay fast and torch-free: verb modules import typer, rich and the standard library
at module level; numpy, Pillow and onnxruntime are imported inside the commands.
"""

from __future__ import annotations

import sys
from importlib import import_module
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

from .. import __version__
from . import root_help
from .errors import ExitCode

# command -> (module under synthdetect/cli/ whose mount(app) adds it, its line in `synthdetect --help`).
# No import is optional: a verb whose module fails to import is a bug and must surface when it is run.
# Commands that need an extra (torch for training, ray, matplotlib) import it inside their body.
VERBS: dict[str, tuple[str, str]] = {
    "scan": ("scan", "Scan images and report, per image, each detector's probability and the verdict."),
    "report": ("report", "Turn saved scan results into the HTML case report (the same page as scan --format html)."),
    "models": ("models", "List installed models and ensembles with their card details."),
    "evaluate": ("evaluate", "Table 1 metrics per model: Acc/P/R/F1 at 0.5 and at the best-F1 threshold, AP, AUC, "
                             "EER, per generator."),
    "calibrate": ("evaluate", "Write the best-F1 threshold (calibrated_threshold, calibrated_on, f1) into the card."),
    "export": ("export", "Export a run to one ONNX graph + model card, with a parity check on real images."),
    "inspect": ("inspect", "Show explicit provenance (C2PA, XMP DigitalSourceType, generator chunks, EXIF) per "
                           "file."),
    "train": ("train", "Train detectors: probe (a linear probe on a labelled sample, no PyTorch) and the published recipes (PyTorch: the 'train' extra)."),
    "ensemble": ("ensemble", "Build ensemble cards."),
    "backbone": ("backbone", "Pretrained feature extractors (backbones) for probes."),
    "cache": ("cache", "The scan result cache: re-scans of unchanged files reuse stored records (scan --no-cache "
                       "bypasses it)."),
    "weights": ("weights", "Published detectors (CNNDetection, UnivFD) and CLIP backbones: list, pull (download + "
                           "convert to ONNX), import (same from local files), verify, forget (a digest recorded on first use), remove."),
}

_APP_SETTINGS: dict[str, Any] = dict(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def load_verb_module(module: str) -> dict[str, Any]:
    """The click commands that ``cli/<module>.py`` mounts, by name (imports the module)."""
    holder = typer.Typer(**_APP_SETTINGS)  # the root's settings: the commands come out as they would there
    import_module(f"{__name__}.{module}").mount(holder)
    return dict(typer.main.get_group(holder).commands)


class _VerbGroup(TyperGroup):
    """The root group: lists ``VERBS`` from the table (a placeholder command per verb, for --help
    and command suggestions) and swaps in a verb's real command when it is resolved to run.
    Its help page is ``root_help.render``'s, not typer's rich one."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        for name, (_, line) in VERBS.items():
            self.commands.setdefault(name, TyperCommand(name=name, help=line))

    def resolve_command(self, ctx, args):
        if args and args[0] in VERBS and args[0] not in self.loaded:
            self.load(VERBS[args[0]][0])
        return super().resolve_command(ctx, args)

    def parse_args(self, ctx, args):
        # ``synthdetect`` alone: the help page on stdout and exit 2, as click's no_args_is_help does,
        # but without typer's rich error handler (it imports the rich help renderer to print nothing)
        if not args and self.no_args_is_help and not ctx.resilient_parsing:
            typer.echo(ctx.get_help(), color=ctx.color)
            ctx.exit(int(ExitCode.USAGE))
        return super().parse_args(ctx, args)

    def format_help(self, ctx, formatter) -> None:
        """The root's page, drawn by ``root_help`` (typer's rich renderer costs ~120 ms of imports)."""
        formatter.write(root_help.render(self, ctx))

    @property
    def loaded(self) -> set[str]:
        return getattr(self, "_loaded", set())

    def load(self, module: str) -> None:
        """Replace the placeholders of ``module``'s verbs by the real commands."""
        real = load_verb_module(module)
        self.commands.update(real)
        self._loaded = self.loaded | set(real)


app = typer.Typer(
    name="synthdetect",
    cls=_VerbGroup,
    help="Detect AI-generated (synthetic) images. Read-only: evidence files are never modified.",
    **_APP_SETTINGS,
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


_ARGV: list[str] | None = None


def _command_line() -> list[str] | None:
    """The argument vector of this run (recorded in the report header), when started by ``main``."""
    return None if _ARGV is None else ["synthdetect", *_ARGV]


def main() -> None:
    global _ARGV
    _ARGV = list(sys.argv[1:])
    from .errors import on_sigterm, pipe_closed_exit, route_warnings

    route_warnings()
    on_sigterm()
    try:
        app(prog_name="synthdetect")
    except SystemExit as e:
        pipe_closed_exit(e)
        raise


if __name__ == "__main__":
    main()
