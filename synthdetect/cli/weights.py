"""``synthdetect weights list|pull|import|verify|remove``."""

from __future__ import annotations

import typer


def mount(app: typer.Typer) -> None:
    from ..weights_cli import weights_app

    app.add_typer(weights_app, name="weights")
