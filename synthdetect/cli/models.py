"""``synthdetect models``: installed models and ensembles with their card details."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from .options import ListFormat, list_format_option, models_dir_option

UNVERIFIED_NOTE = ("converted from a published-detector entry whose checkpoint has no published sha256; "
                   "its digest was only recorded on first use (pulled or imported: see the card's extra.hub.files)")


def models(
    models_dir: Optional[List[Path]] = models_dir_option("Extra model directory (repeatable)."),
    fmt: ListFormat = list_format_option(),
) -> None:
    """List installed models and ensembles with their card details.

    A model converted by `synthdetect weights` from a checkpoint with no published sha256 (its
    digest only recorded on first use, e.g. an imported file) is marked (UNVERIFIED); in
    --format json every model has "unverified" and "provenance" (null for models not from the hub).
    """
    import json

    from ..cards import Registry, unverified_provenance

    reg = Registry(models_dir or [])
    models, ensembles, broken = reg.models(), reg.ensembles(), reg.broken()
    if fmt == ListFormat.json:
        doc = {
            "search_path": [str(d) for d in reg.dirs],
            "models": [_model_json(c) for c in models],
            "ensembles": [{**e.to_dict(), "card_path": str(e.path)} for e in ensembles],
            "broken": [b.to_dict() for b in broken],
            "problems": [b.reason for b in broken],
        }
        typer.echo(json.dumps(doc, indent=2))
        return
    from rich.table import Table

    from ..console import ident, make_console, piped

    con = make_console()  # piped: no wrapping, whole hashes and paths
    nw = piped()
    if not models and not ensembles and not broken:
        con.print("no models installed; looked in: " + ", ".join(map(str, reg.dirs)))
    if models:
        unverified = False
        t = Table(title="models", title_justify="left")
        for col in ("name", "architecture", "family", "input", "threshold", "F1", "sha256", "card"):
            t.add_column(col, overflow="fold", no_wrap=nw)
        for c in models:
            inp = c.input.describe()
            if c.is_probe:
                inp += f", features of {(c.backbone or {}).get('name')}"
            thr = f"{c.effective_threshold():g}" + (" cal." if c.calibrated_threshold is not None else "")
            bad = unverified_provenance(c) is not None
            name = c.name + (" [bold yellow](UNVERIFIED)[/]" if bad else "")
            t.add_row(name, c.architecture, c.family, inp, thr, "" if c.f1 is None else f"{c.f1:.3f}",
                      ident(c.sha256, 12), str(c.path))
            unverified = unverified or bad
        con.print(t)
        if unverified:
            con.print(f"[bold yellow](UNVERIFIED)[/] {UNVERIFIED_NOTE}", highlight=False, soft_wrap=True)
    if ensembles:
        t = Table(title="ensembles", title_justify="left")
        for col in ("name", "method", "members", "threshold", "F1", "card"):
            t.add_column(col, overflow="fold", no_wrap=nw)
        for e in ensembles:
            t.add_row(e.name, e.method, ", ".join(e.members), f"{e.effective_threshold():g}",
                      "" if e.f1 is None else f"{e.f1:.3f}", str(e.path))
        con.print(t)
    if broken:  # listed, never skipped: each with the file and the field at fault
        t = Table(title="broken cards (not loaded)", title_justify="left")
        for col in ("name", "kind", "reason"):
            t.add_column(col, overflow="fold", no_wrap=nw)
        for b in broken:
            t.add_row(b.name, b.kind, f"[yellow]{b.reason}[/]")
        con.print(t)
    if models or ensembles or broken:
        con.print("search path: " + ", ".join(map(str, reg.dirs)))


def _model_json(c) -> dict:
    """A card in ``--format json``, plus ``unverified`` (bool) and ``provenance`` (:func:`hub_provenance`)."""
    from ..cards import hub_provenance, unverified_provenance

    return {**c.to_dict(), "card_path": str(c.path), "unverified": unverified_provenance(c) is not None,
            "provenance": hub_provenance(c)}


EPILOG = "Exit codes: 0 success (malformed cards are listed as broken, with the reason); 2 usage error."


def mount(app: typer.Typer) -> None:
    app.command("models", epilog=EPILOG)(models)
