"""``synthdetect evaluate`` (Table 1 metrics on labelled data) and ``synthdetect calibrate`` (a card's
best-F1 threshold).

Both score exported models with onnxruntime; training runs (a run directory as MODEL) need the
'train' extra (:class:`synthdetect.train.scoring.RunScorer`).  The library side is the torch-free
:mod:`synthdetect.evaluation.report` and :mod:`synthdetect.evaluation.threshold`, imported inside the
commands.  Errors (:func:`library_failure`, shared with ``ensemble build``): a refused request exits 2
(an unknown model, an unusable card, bad data or arguments), an evaluation that started and failed 4
(a missing or tampered model file, a model onnxruntime cannot run, ...).

To add an option: declare it on the command and pass it on to ``evaluate_targets`` / ``calibrate_card``;
the CLI tests are in ``tests/cli/test_evaluate.py``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import List, Optional

import typer
from rich.markup import escape

from ._training import DEVICE, data_inputs, err, model_files, train_extra
from .errors import ExitCode, fail, missing_extra, output_checks, warn
from .options import Device, ListFormat, models_dir_option


def library_failure(e: Exception) -> typer.Exit:
    """An error of the evaluation library (``evaluate``, ``calibrate``, ``ensemble build``) as one line:
    a request it refused before any result exits 2 (a ValueError: an unknown model or member, an unusable
    card, bad data, a bad ``--out`` name, members that do not go together); one that started and failed
    exits 4 (a model file missing or failing its SHA-256 check, :class:`~synthdetect.cards.IntegrityError`;
    onnxruntime unable to load or run a model; a file that cannot be read or written)."""
    from ..cards import IntegrityError

    usage = isinstance(e, ValueError) and not isinstance(e, IntegrityError)
    return fail(" ".join(str(e).split()) or type(e).__name__, ExitCode.USAGE if usage else ExitCode.FAILED)


def _earlier_metrics(path) -> bool:
    """Whether ``path`` is empty or an earlier ``evaluate`` metrics file (its schema key comes first)."""
    from ..evaluation.report import METRICS_SCHEMA
    from ..output.writers import empty_or

    return empty_or(path, lambda start: start.startswith(f'{{\n  "schema": "{METRICS_SCHEMA}"'), 256)


def evaluate(
    models: List[str] = typer.Argument(..., help="Model names, card/onnx paths, run directories or ensembles."),
    data: List[str] = typer.Option(..., "--data", help="Labelled DIR (0_real/ 1_fake/, or real/ fake/), DIR@LISTFILE or a CSV (repeatable)."),
    perturb: Optional[str] = typer.Option(None, "--perturb", help="e.g. jpeg:50,blur:2,resize:0.5 (applied in order)."),
    fmt: ListFormat = typer.Option(ListFormat.table, "--format"),
    out: Path = typer.Option(Path("metrics.json"), "--out", help="Where metrics.json is written (an existing file "
                             "only when it is an earlier metrics file, or with --force)."),
    force: bool = typer.Option(False, "--force", help="Replace an existing --out file that is not an earlier "
                                                      "metrics file (never a file the command reads)."),
    models_dir: Optional[List[Path]] = models_dir_option("Extra model directories."),
    write_cards: bool = typer.Option(False, "--write-cards",
                                     help="Also store the figures in each model's / ensemble's card (metrics[DATA])."),
    max_false_alarm: float = typer.Option(0.05, "--max-false-alarm", min=0.0, max=0.99,
                                          help="Budget of the calibrated 'synthetic' threshold (as scan)."),
    max_miss: float = typer.Option(0.2, "--max-miss", min=0.0, max=0.99,
                                   help="Budget of the calibrated 'real' threshold (as scan)."),
    plots: Optional[Path] = typer.Option(None, "--plots", file_okay=False,
                                         help="Write ROC, PR, score histograms and a reliability diagram per model "
                                              "and ensemble as PNG under DIR/NAME/ (needs the 'plots' extra)."),
    exclude_calibration_images: bool = typer.Option(
        False, "--exclude-calibration-images",
        help="Leave out the images a model was calibrated on (its card lists them: a probe was fitted on them), "
             "and copies of them its domain reference recognises (re-saved, re-encoded, downscaled), for every "
             "model; without it they are scored and a warning counts them."),
    device: Device = DEVICE,
):
    """Table 1 metrics per model: Acc/P/R/F1 at 0.5 and at the best-F1 threshold, AP, AUC, EER, per generator."""
    from ..evaluation.report import data_notes, evaluate_targets, render_table, write_metrics_to_cards
    from ..train.scoring import RunScorer

    if plots is not None:
        try:
            import matplotlib  # noqa: F401
        except ImportError as e:
            raise missing_extra("plots", e) from None
    reads = data_inputs(data, *model_files(models, models_dir))  # the output check (docs/safety.md)
    with output_checks():
        reads.check_file(out, "--out", force=force, replaceable=_earlier_metrics)
        if plots is not None:
            reads.check_dir(plots, "--plots")
    scores: dict = {}
    with train_extra():  # a training run as MODEL needs PyTorch
        try:
            report = evaluate_targets(models, data, perturb, [str(p) for p in models_dir or []], device.value,
                                      max_false_alarm=max_false_alarm, max_miss=max_miss,
                                      scores=scores if plots is not None else None, run_scorer=RunScorer,
                                      exclude_calibration_images=exclude_calibration_images)
        except (ValueError, OSError, RuntimeError) as e:
            raise library_failure(e) from None
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    if fmt == ListFormat.json:
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
    else:
        render_table(report)
    for note in data_notes(report):
        err.print(note, markup=False)
    err.print(f"metrics written to {out}")
    if write_cards:
        for p in write_metrics_to_cards(report, [str(p) for p in models_dir or []]):
            err.print(f"card updated: {p}")
    if plots is not None:
        from ..evaluation.plots import write_all

        written = write_all(plots, scores)
        err.print(f"{len(written)} plots written under {plots}")
    _partial_exit(report.get("unreadable"))


def _partial_exit(unreadable) -> None:
    """Exit 3, as scan does, when images of the data could not be read (the figures leave them out)."""
    if unreadable:
        n = len(unreadable)
        err.print(f"{n} image{'s' if n != 1 else ''} could not be read and {'are' if n != 1 else 'is'} left out "
                  "of the figures (exit 3)", markup=False)
        raise typer.Exit(int(ExitCode.UNREADABLE))


def calibrate(
    model: str = typer.Argument(..., help="Model (or ensemble) name or card path."),
    data: List[str] = typer.Option(..., "--data", help="Labelled DIR (0_real/ 1_fake/, or real/ fake/), DIR@LISTFILE or a CSV (repeatable)."),
    models_dir: Optional[List[Path]] = models_dir_option(),
    inconclusive_margin: Optional[float] = typer.Option(
        None, "--inconclusive-margin", min=0.0, max=0.5,
        help="Also set the card's band: |score - threshold| < MARGIN gives 'inconclusive' (default: keep the card's)."),
    max_fpr: Optional[float] = typer.Option(
        None, "--max-fpr", min=0.0, max=1.0,
        help="Best F1 among thresholds that flag at most this fraction of the real images (a false-alarm budget)."),
    device: Device = DEVICE,
):
    """Write the best-F1 threshold (calibrated_threshold, calibrated_on, f1) into the card."""
    from ..evaluation.threshold import calibrate_card

    with train_extra():
        try:
            r = calibrate_card(model, data, [str(p) for p in models_dir or []], device.value,
                               inconclusive_margin=inconclusive_margin, max_fpr=max_fpr)
        except (ValueError, OSError, RuntimeError) as e:
            raise library_failure(e) from None
    for line in (r.get("unlabelled") or []) + (r.get("unreadable") or []):
        err.print(f"warning: {line}", markup=False)
    if r.get("calibration_images"):
        err.print(f"{r['calibration_images']} images are {model}'s own calibration images (it was fitted on them, or they "
                  "are copies of those): their out-of-fold scores from its card were used, not its training scores",
                  markup=False)
    err.print(f"[green]calibrated[/] {escape(str(r['card']))}: threshold {r['calibrated_threshold']:.6g}, F1 {r['f1']:.4f} "
              f"(P {r['precision']:.4f}, R {r['recall']:.4f}, FPR on reals {r['fpr_real']:.4f}, n={r['n']})")
    if r.get("three_way"):
        warn(f"{model} has a calibration set: scan takes its verdict thresholds from that set at the scan's budgets "
             "and does not use this best-F1 threshold (recorded, with the F1 a weighted vote reads); to verdict on "
             "this data's terms, fit a probe on it (synthdetect train probe)")
    _partial_exit(r.get("unreadable"))


def mount(app: typer.Typer) -> None:
    app.command("evaluate")(evaluate)
    app.command("calibrate")(calibrate)
