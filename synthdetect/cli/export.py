"""``synthdetect export RUN``."""

from __future__ import annotations

import typer


def mount(app: typer.Typer) -> None:
    from ..train import cli as train_cli

    app.command("export")(train_cli.export)
