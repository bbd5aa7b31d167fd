"""``synthdetect backbone ...``."""

from __future__ import annotations

import typer


def mount(app: typer.Typer) -> None:
    from ..train import cli as train_cli

    app.add_typer(train_cli.backbone_app, name="backbone")
