"""``synthdetect ensemble build``: an ensemble card over installed models (majority, weighted, mean).

The library side is :func:`synthdetect.evaluation.ensemble_card.build_ensemble` (onnxruntime scoring), imported
inside the command.  Errors as ``evaluate``'s (:func:`synthdetect.cli.evaluate.library_failure`): a refused
request exits 2 (an unknown member, ``--out`` not NAME.ensemble.json, members calibrated on other images,
bad data), a build that started and failed 4 (a missing or tampered member file, ...).

To add a sub-command: a function decorated ``@ensemble_app.command("NAME")``; the CLI tests are in
``tests/cli/test_ensemble.py``.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer
from rich.markup import escape

from ._training import DEVICE, data_inputs, err, model_files, train_extra
from .errors import refuse_overwrite
from .options import Device, models_dir_option

ensemble_app = typer.Typer(help="Build ensemble cards.", no_args_is_help=True)


class Method(str, Enum):
    weighted = "weighted"
    majority = "majority"
    mean = "mean"


@ensemble_app.command("build")
def ensemble_build(
    members: str = typer.Option(..., "--members", help="Comma-separated model names or card paths."),
    weights_from: Optional[List[str]] = typer.Option(None, "--weights-from",
                                                     help="Labelled data: weight = member F1 at its calibrated threshold."),
    out: Path = typer.Option(..., "--out", help="weights/NAME.ensemble.json"),
    method: Method = typer.Option(Method.weighted, "--method"),
    models_dir: Optional[List[Path]] = models_dir_option(),
    device: Device = DEVICE,
    force: bool = typer.Option(False, "--force", help="Overwrite an existing ensemble card."),
    description: str = typer.Option("", "--description", help="Why these members (stored in the card)."),
):
    """Paper runs 8 (majority) and 9 (weighted by member F1); 'mean' averages the probabilities.

    Members fitted by `train probe` on the same images need no --weights-from: the ensemble is calibrated
    on their combined out-of-fold scores (cross-fitting) and weighted by their cross-validated F1."""
    from ..evaluation.ensemble_card import build_ensemble
    from .evaluate import library_failure

    names = [m.strip() for m in members.split(",") if m.strip()]
    refuse_overwrite(out, force, data_inputs(weights_from, *model_files(names, models_dir)))
    unlabelled: list[str] = []
    notes: list[str] = []
    with train_extra():
        try:
            card = build_ensemble(names, weights_from or [], out,
                                  method.value, [str(p) for p in models_dir or []], device.value,
                                  description=description, unlabelled=unlabelled, notes=notes)
        except (ValueError, OSError, RuntimeError) as e:
            raise library_failure(e) from None
    for line in unlabelled:
        err.print(f"warning: {line}", markup=False)
    for line in notes:
        err.print(line, markup=False)
    err.print(f"[green]wrote[/] {escape(str(out))}: {card.method} of {', '.join(card.members)}; weights {card.weights}")


def mount(app: typer.Typer) -> None:
    app.add_typer(ensemble_app, name="ensemble")
