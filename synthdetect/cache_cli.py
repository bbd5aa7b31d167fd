"""``synthdetect cache info|clear``: the result cache (synthdetect.cache)."""

from __future__ import annotations

import json

import typer

cache_app = typer.Typer(
    help="The scan result cache: re-scans of unchanged files reuse stored records (scan --no-cache bypasses it).",
    no_args_is_help=True,
)


@cache_app.command("info")
def info(fmt: str = typer.Option("table", "--format", "-f", help="table or json.")) -> None:
    """Where the cache is, how many records it holds, for which models."""
    from .cache import ResultCache

    if fmt not in ("table", "json"):
        typer.echo("synthdetect: error: cache info --format must be table or json", err=True)
        raise typer.Exit(2)
    with ResultCache() as c:
        d = c.info()
    if fmt == "json":
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
    from .cache import ResultCache

    with ResultCache() as c:
        n = c.clear()
        path = c.path
    typer.echo(f"removed {n} cached record{'s' if n != 1 else ''} from {path}")
