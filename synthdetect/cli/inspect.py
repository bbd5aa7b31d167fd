"""``synthdetect inspect`` (provenance per file)."""

from __future__ import annotations

import typer


def mount(app: typer.Typer) -> None:
    from ..inspect_cli import inspect

    app.command("inspect")(inspect)
