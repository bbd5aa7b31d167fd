"""``synthdetect cache info|clear``: the scan result cache (:mod:`synthdetect.scan.cache`)."""

from __future__ import annotations

import json
import sqlite3
from contextlib import contextmanager
from typing import TYPE_CHECKING, Iterator

import typer

from .errors import fail
from .options import ListFormat, list_format_option

if TYPE_CHECKING:
    from ..scan.cache import ResultCache

cache_app = typer.Typer(
    help="The scan result cache: re-scans of unchanged files reuse stored records (scan --no-cache bypasses it).",
    epilog="Exit codes: 0 success; 2 usage error (bad arguments, a cache directory that cannot be used).",
    no_args_is_help=True,
)


@contextmanager
def _opened() -> Iterator["ResultCache"]:
    """The cache, or one ``synthdetect: error:`` line (exit 2) when its directory cannot be used
    (``scan`` goes on without it; these commands have nothing else to do)."""
    from ..scan.cache import CacheError, ResultCache, default_cache_dir

    try:
        with ResultCache() as c:
            yield c
    except (CacheError, OSError, sqlite3.Error) as e:
        raise fail(f"result cache at {default_cache_dir()} cannot be used: {getattr(e, 'strerror', None) or e}") from None


def _empty_info() -> dict | None:
    """``cache info`` before any scan made a cache: said without creating the directory."""
    from ..scan.cache import DB_NAME, default_cache_dir

    path = default_cache_dir() / DB_NAME
    if path.exists():
        return None
    return {"path": str(path), "records": 0, "plans": 0, "bytes": 0, "by_plan": [], "exists": False}


@cache_app.command("info")
def info(fmt: ListFormat = list_format_option()) -> None:
    """Where the cache is, how many records it holds, for which models."""
    d = _empty_info()
    if d is None:
        with _opened() as c:
            d = {**c.info(), "exists": True}
    if fmt == ListFormat.json:
        typer.echo(json.dumps(d, indent=2))
        return
    typer.echo(f"path:    {d['path']}{'' if d['exists'] else '  (not created yet: no scan has used it)'}")
    typer.echo(f"records: {d['records']} ({d['plans']} model/option set{'s' if d['plans'] != 1 else ''})")
    typer.echo(f"size:    {d['bytes'] / 1e6:.2f} MB")
    for p in d["by_plan"]:
        typer.echo(f"  {p['plan']}  {p['records']:>7} records  models: {', '.join(map(str, p['models']))}")


@cache_app.command("clear")
def clear() -> None:
    """Delete every cached record."""
    if _empty_info() is not None:
        typer.echo("no result cache yet: nothing to remove")
        return
    with _opened() as c:
        n = c.clear()
        path = c.path
    typer.echo(f"removed {n} cached record{'s' if n != 1 else ''} from {path}")


def mount(app: typer.Typer) -> None:
    app.add_typer(cache_app, name="cache")
