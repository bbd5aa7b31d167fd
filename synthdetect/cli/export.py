"""``synthdetect export RUN``: a training run to one ONNX graph + model card, parity-checked.

Needs the 'train' extra; the library side is :mod:`synthdetect.train.export`, imported inside the
command (module level stays torch-free).  Errors: refusing to overwrite (any file it would write:
NAME.onnx, NAME.json and, with --int8, NAME.int8.onnx and NAME.int8.json) or to export a run that did
not finish exits 2, an export or parity check that fails 4 (and replaces nothing).

To add an option: declare it on the command and pass it on to ``export_run``; the CLI tests are in
``tests/cli/test_export.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.markup import escape

from ._training import data_inputs, err, train_extra
from .errors import ExitCode, fail, refuse_overwrite


def export(
    run: Path = typer.Argument(..., exists=True, file_okay=False, help="Training run directory."),
    out: Path = typer.Option(..., "--out", help="weights/NAME.onnx (the card NAME.json is written beside it)."),
    name: Optional[str] = typer.Option(None, "--name", help="Card name (default: file stem)."),
    parity_data: Optional[List[str]] = typer.Option(None, "--parity-data",
                                                    help="Real images for the parity check (default: the run's val set)."),
    parity_n: int = typer.Option(16, "--parity-n", min=1, help="How many parity images."),
    tolerance: float = typer.Option(1e-4, "--tolerance", help="Max |Δprob| PyTorch vs onnxruntime."),
    int8: bool = typer.Option(False, "--int8", help="Also write a dynamically quantised NAME.int8.onnx."),
    checkpoint: str = typer.Option("best.pt", "--checkpoint", help="best.pt or last.pt."),
    tiles: int = typer.Option(1, "--tiles", min=1, max=8,
                              help="Score up to KxK native crops around each image's centre and average them "
                                   "(card input.tiles; the graph is unchanged)."),
    force: bool = typer.Option(False, "--force", help="Replace existing files of that name (NAME.onnx, NAME.json, "
                                                      "with --int8 NAME.int8.onnx, NAME.int8.json)."),
):
    """Export a run to one ONNX graph + model card, with a parity check on real images."""
    # the run's files and the parity images are read; the model, its card and int8 copies are written
    reads = data_inputs(parity_data, *(p for p in run.rglob("*") if p.is_file()))
    for path in written_files(out, int8):  # all checked before anything is written
        refuse_overwrite(path, force, reads)
    with train_extra():
        from ..train import compat  # noqa: F401
        from ..train.export import ParityError
        from ..train.export import export_run
        from ..train.loop import RunUsageError

        try:
            card = export_run(run, out, name=name, parity_data=parity_data, parity_n=parity_n, tolerance=tolerance,
                              int8=int8, checkpoint=checkpoint, tiles=tiles)
        except RunUsageError as e:
            raise fail(str(e), ExitCode.USAGE) from None
        except ParityError as e:
            raise fail(str(e), ExitCode.FAILED) from None
        except (ValueError, OSError, RuntimeError) as e:
            raise fail(f"{type(e).__name__}: {e}", ExitCode.FAILED) from None
    p = card.parity
    err.print(f"[green]exported[/] {escape(str(out))} ({card.sha256[:12]}…): parity max |Δprob| {p['max_abs_dprob']:.3g} on "
              f"{p['n_images']} images (tolerance {p['tolerance']:g})")
    if "int8" in p:
        err.print(f"int8 {p['int8']['file']}: max |Δprob| {p['int8']['max_abs_dprob']:.3g} "
                  f"(tolerance {p['int8']['tolerance']:g})")


def written_files(out: Path, int8: bool) -> list[Path]:
    """Every file ``export --out OUT`` writes: the graph, its card and, with ``--int8``, the int8 graph and card."""
    suffixes = (".json", ".int8.onnx", ".int8.json") if int8 else (".json",)
    return [out, *(out.with_name(out.stem + suffix) for suffix in suffixes)]


def mount(app: typer.Typer) -> None:
    app.command("export")(export)
