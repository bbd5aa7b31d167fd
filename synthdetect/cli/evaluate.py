"""``synthdetect evaluate`` and ``synthdetect calibrate``."""

from __future__ import annotations

import typer


def mount(app: typer.Typer) -> None:
    from ..train import cli as train_cli

    app.command("evaluate")(train_cli.evaluate)
    app.command("calibrate")(train_cli.calibrate)
