"""``synthdetect inspect``: show all provenance found in files (C2PA, XMP, generator chunks, EXIF).

Only typer/rich/stdlib are imported at module level so that the CLI starts fast; the
provenance package (Pillow, exifread, c2pa) is imported when the command runs.
The panel per file is a frame (format, verdict hint, AI evidence ... camera evidence, notes)
around the sections each provenance source describes (``Analyzer.sections``): a new source
shows up here without any change to this module.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from .errors import ExitCode, fail, warn


def _kv_table(title: str, rows: list[tuple[Any, ...]]) -> Table:
    t = Table(title=title, title_justify="left", show_header=False, box=None, pad_edge=False)
    t.add_column("field", style="bold cyan", no_wrap=True)
    t.add_column("value", overflow="fold")
    for k, v in rows:
        if v is None or v == [] or v == "":
            continue
        if isinstance(v, (list, tuple)):
            v = "\n".join(str(x) for x in v)
        t.add_row(escape(str(k)), escape(str(v)))
    return t


def _grid(title: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> Table:
    """A headed table: the first column names the finding, the last one folds long text."""
    t = Table(title=title, title_justify="left")
    for i, c in enumerate(columns):
        if i == 0:
            t.add_column(c, style="magenta")
        elif i == len(columns) - 1:
            t.add_column(c, overflow="fold")
        else:
            t.add_column(c)
    for r in rows:
        t.add_row(*(escape(str(x)) for x in r))
    return t


def _section(s) -> Any:
    if s.kind == "line":
        return f"[dim]{escape(s.title)}[/]"
    if s.kind == "table":
        return _grid(s.title, s.columns, s.rows)
    return _kv_table(s.title, s.rows)


def _render(console: Console, info: dict) -> None:
    from rich.console import Group

    from synthdetect.provenance import sections

    parts: list[Any] = []
    hint = info.get("verdict_hint")
    head = Table.grid(padding=(0, 1))
    head.add_column(style="bold")
    head.add_column()
    head.add_row("format", escape(str(info.get("format"))))
    head.add_row("bytes read", str(info.get("bytes_read")))
    head.add_row("verdict hint",
                 "[bold red]synthetic (explicit AI provenance)[/]" if hint == "synthetic"
                 else "[dim]none (no explicit AI provenance; detectors decide)[/]")
    parts.append(head)

    if info.get("ai_evidence"):
        t = Table(title="AI provenance evidence", title_justify="left", show_header=False, box=None)
        t.add_column(style="red")
        for e in info["ai_evidence"]:
            t.add_row("• " + escape(e))
        parts.append(t)

    parts.extend(_section(s) for s in sections(info))

    if info.get("camera_evidence"):
        parts.append(_kv_table("Camera evidence (weak, forgeable)",
                               [("", "\n".join(info["camera_evidence"]))]))
    if info.get("notes"):
        t = Table(title="Notes", title_justify="left", show_header=False, box=None)
        t.add_column(style="yellow", overflow="fold")
        for n in info["notes"]:
            t.add_row("• " + escape(n))
        parts.append(t)

    style = "red" if hint == "synthetic" else ("yellow" if not info.get("readable", True) else "green")
    console.print(Panel(Group(*parts), title=escape(str(info.get("path"))), border_style=style))


def _expand(args: list[Path]) -> list[tuple[Path, str | None]]:
    """The arguments expanded as ``scan`` expands them (synthdetect.inputs.discovery: directories walked,
    a file named twice once): (path, None) to analyse, or (path, reason) for an input that could not be
    used (missing, a FIFO, a loop...).  What the walks skipped is said on stderr, as ``scan`` says it."""
    from synthdetect.inputs.discovery import discover_in_order, display_path

    out, found = discover_in_order(args)  # one walk: a folder named twice (or inside another) is walked once
    if found.skipped:
        examples = ", ".join(display_path(x) for x in found.skipped[:5])
        warn(f"skipped {found.skipped_non_image} non-image files in directory walks (e.g. {examples})")
    if found.symlink_loops:
        warn(f"ignored {found.symlink_loops} directory symlink loops")
    return out


def inspect(
    files: list[Path] = typer.Argument(..., help="Image files or directories (walked as scan walks them), read-only."),
    format: str = typer.Option("rich", "--format", help="rich|json"),
) -> None:
    """Show explicit provenance (C2PA, XMP DigitalSourceType, generator chunks, EXIF) per file.

    Only regular files are read: a FIFO, device or socket is reported as not a regular file (exit 3)."""
    fmt = format.lower()
    if fmt not in ("rich", "json"):
        raise fail(f"inspect --format must be 'rich' or 'json', not {format!r}")
    from synthdetect.provenance import analyze, unreadable

    results = [analyze(p) if why is None else unreadable(p, why) for p, why in _expand(files)]
    if fmt == "json":
        # always a list (one object per file, in argument order)
        sys.stdout.write(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    else:
        console = Console()
        for info in results:
            _render(console, info)
    if any(not r.get("readable", True) for r in results):
        raise typer.Exit(int(ExitCode.UNREADABLE))
    raise typer.Exit(int(ExitCode.OK))


def mount(app: typer.Typer) -> None:
    app.command("inspect")(inspect)
