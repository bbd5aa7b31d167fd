"""``synthdetect cache info|clear``: the scan result cache (:mod:`synthdetect.scan.cache`)."""

from __future__ import annotations

import json

import typer

from .options import ListFormat, list_format_option

cache_app = typer.Typer(
    help="The scan result cache: re-scans of unchanged files reuse stored records (scan --no-cache bypasses it).",
    epilog="Exit codes: 0 success; 2 usage error (bad arguments).",
    no_args_is_help=True,
)


@cache_app.command("info")
def info(fmt: ListFormat = list_format_option()) -> None:
    """Where the cache is, how many records it holds, for which models."""
    from ..scan.cache import ResultCache

    with ResultCache() as c:
        d = c.info()
    if fmt == ListFormat.json:
        typer.echo(json.dumps(d, indent=2))
        return
    typer.echo(f"path:    {d['path']}")
    typer.echo(f"records: {d['records']} ({d['plans']} model/option set{'s' if d['plans'] != 1 else ''})")
    typer.echo(f"size:    {d['bytes'] / 1e6:.2f} MB")
    for p in d["by_plan"]:
        typer.echo(f"  {p['plan']}  {p['records']:>7} records  models: {', '.join(map(str, p['models']))}")


@cache_app.command("clear")
def clear() -> None:
    """Delete every cached record."""
    from ..scan.cache import ResultCache

    with ResultCache() as c:
        n = c.clear()
        path = c.path
    typer.echo(f"removed {n} cached record{'s' if n != 1 else ''} from {path}")


def mount(app: typer.Typer) -> None:
    app.add_typer(cache_app, name="cache")
