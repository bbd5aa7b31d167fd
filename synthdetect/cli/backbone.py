"""``synthdetect backbone list`` and ``synthdetect backbone export``: the pretrained feature extractors
(ONNX backbones) that ``train probe`` fits heads on.

``list`` runs on the inference install; ``export`` needs the 'train' extra and imports
:mod:`synthdetect.train.backbones` inside its body (module level stays torch-free).  Errors: an
unknown backbone, unverified weights, bad data or refusing to overwrite exit 2, a failed export 4.

To add a sub-command: a function decorated ``@backbone_app.command("NAME")``; the CLI tests are in
``tests/cli/test_backbone.py``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import List, Optional

import typer
from rich.markup import escape

from ._training import data_inputs, err, train_extra
from .errors import ExitCode, fail, output_checks, refuse_overwrite
from .options import ListFormat, list_format_option, models_dir_option

backbone_app = typer.Typer(help="Pretrained feature extractors (backbones) for probes.", no_args_is_help=True)


@backbone_app.command("list")
def backbone_list(
    models_dir: Optional[List[Path]] = models_dir_option("Extra model directories."),
    fmt: ListFormat = list_format_option(),
):
    """Installed backbones (ONNX feature extractors) and the ones this build can export."""
    from ..cards import CardError, Registry

    reg = Registry(models_dir or [])
    installed, problems = [], []
    for n in reg.backbone_names():
        try:
            installed.append(reg.backbone(n))
        except CardError as e:
            problems.append(str(e))
    from importlib.util import find_spec

    from ..train.backbones import BACKBONES  # the spec table imports without torch; exporting needs it

    exportable = sorted(BACKBONES) if find_spec("torch") is not None else []
    if fmt == ListFormat.json:
        sys.stdout.write(json.dumps({"installed": [{**b.to_dict(), "card_path": str(b.path)} for b in installed],
                                     "exportable": exportable, "problems": problems}, indent=2) + "\n")
        return
    from rich.table import Table

    from ..console import ident, make_console, piped

    con = make_console()  # piped: no wrapping, whole names, hashes and paths
    nw = piped()
    t = Table(title="backbones", title_justify="left")
    for col in ("name", "architecture", "dim", "input", "gates", "sha256", "card"):
        t.add_column(col, overflow="fold", no_wrap=nw)
    for b in installed:
        t.add_row(b.name, b.architecture, str(b.dim), b.input.describe(), ", ".join(sorted(b.gates)) or "-",
                  ident(b.sha256, 12), str(b.path))
    con.print(t)
    con.print("exportable here: " + (", ".join(exportable) or "none (needs the 'train' extra)"))
    for p in problems:
        con.print(f"warning: {p}")


@backbone_app.command("export")
def backbone_export(
    name: str = typer.Argument("efficientnet-lite0", help="A registered backbone (synthdetect backbone list)."),
    out: Path = typer.Option(..., "--out", help="Directory for NAME.onnx + NAME.backbone.json."),
    parity_data: List[str] = typer.Option(..., "--parity-data", help="Images (DIR or DIR@LIST; no labels needed) for the parity check."),
    parity_n: int = typer.Option(8, "--parity-n", min=1),
    weights: Optional[Path] = typer.Option(None, "--weights", help="Weights file (default: the one its package installs; "
                                                                   "its SHA-256 is checked either way)."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing backbone in --out."),
):
    """Export a pretrained backbone to ONNX (PyTorch needed) with a parity check against PyTorch."""
    reads = data_inputs(parity_data, weights)  # never written over (docs/safety.md)
    refuse_overwrite(out / f"{name}.onnx", force, reads)
    with output_checks():
        reads.check_dir(out, "--out", names=[f"{name}.onnx", f"{name}.backbone.json"])
    with train_extra():
        from ..train import compat  # noqa: F401
        from ..train.backbones import WeightsError, get, verified_weights
        from ..train.export import export_backbone
        from ..inputs.datasets import DataError, image_files

        try:
            weights = verified_weights(get(name), weights)  # before anything else: the weights decide
            found = image_files(parity_data)  # labelled or not: parity needs no label
            pick = found[:: max(1, len(found) // parity_n)][:parity_n]
            card = export_backbone(name, out, pick, weights=weights)
        except (KeyError, WeightsError, DataError) as e:
            raise fail(str(e).strip("'\""), ExitCode.USAGE) from None
        except (RuntimeError, OSError, ValueError) as e:
            raise fail(f"{type(e).__name__}: {e}", ExitCode.FAILED) from None
    p = card.parity
    err.print(f"[green]exported[/] {escape(str(card.path))} ({card.sha256[:12]}…, {card.dim} features): parity max relative "
              f"feature difference {p['max_rel_dfeature']:.3g} on {p['n_crops']} crops of {p['n_images']} images")


def mount(app: typer.Typer) -> None:
    app.add_typer(backbone_app, name="backbone")
