"""``synthdetect cache info|clear``."""

from __future__ import annotations

import typer


def mount(app: typer.Typer) -> None:
    from ..cache_cli import cache_app

    app.add_typer(cache_app, name="cache")
