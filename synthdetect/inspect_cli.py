"""`synthdetect inspect`: show all provenance found in files (C2PA, XMP, generator chunks, EXIF).

Only typer/rich/stdlib are imported at module level so that the CLI starts fast;
the provenance package (Pillow, exifread, c2pa) is imported when the command runs.
The main CLI registers :func:`inspect` as a command.
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

EXIT_OK = 0
EXIT_UNREADABLE = 3


def _kv_table(title: str, rows: list[tuple[str, Any]]) -> Table:
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


def _render(console: Console, info: dict) -> None:
    from rich.console import Group

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

    c = info.get("c2pa") or {}
    if c.get("present"):
        actions = [f"{a.get('action')}  agent={a.get('software_agent')}  "
                   f"source={a.get('digital_source_type')}" for a in c.get("actions", [])]
        parts.append(_kv_table("C2PA manifest", [
            ("validation", c.get("validation_state")),
            ("signature valid", c.get("signature_valid")),
            ("claim generator", c.get("claim_generator")),
            ("signer", c.get("signer")),
            ("issuer", c.get("issuer")),
            ("signing time", c.get("signing_time")),
            ("title", c.get("title")),
            ("actions", actions),
            ("digital source types", c.get("digital_source_types")),
            ("ingredient source types", c.get("ingredient_digital_source_types")),
            ("manifests", c.get("manifest_count")),
            ("validation messages", c.get("errors")),
        ]))
    else:
        parts.append("[dim]C2PA: none[/]")

    x = info.get("xmp") or {}
    if x.get("present"):
        parts.append(_kv_table("XMP / IPTC", [(k, v) for k, v in x.items() if k != "present"]))

    if info.get("generator_chunks"):
        t = Table(title="Generator metadata", title_justify="left")
        t.add_column("tool", style="magenta")
        t.add_column("where")
        t.add_column("key")
        t.add_column("excerpt", overflow="fold")
        for g in info["generator_chunks"]:
            t.add_row(escape(str(g.get("tool"))), escape(str(g.get("container", ""))),
                      escape(str(g.get("key"))), escape(str(g.get("excerpt"))))
        parts.append(t)

    if info.get("software_generator"):
        parts.append(_kv_table("Generator software strings",
                               [(s.get("field"), f"{s.get('generator')}: {s.get('value')}")
                                for s in info["software_generator"]]))

    e = info.get("exif") or {}
    if e.get("source"):
        parts.append(_kv_table(f"EXIF (via {e.get('source')})",
                               [(k, v) for k, v in e.items() if k != "source" and v not in (None, False)]))
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


def inspect(
    files: list[Path] = typer.Argument(..., help="Image files to inspect (read-only)."),
    format: str = typer.Option("rich", "--format", help="rich|json"),
) -> None:
    """Show explicit provenance (C2PA, XMP DigitalSourceType, generator chunks, EXIF) per file."""
    fmt = format.lower()
    if fmt not in ("rich", "json"):
        raise typer.BadParameter("must be 'rich' or 'json'", param_hint="--format")
    from synthdetect.provenance import analyze

    results = [analyze(Path(f)) for f in files]
    if fmt == "json":
        # always a list (one object per file, in argument order)
        sys.stdout.write(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    else:
        console = Console()
        for info in results:
            _render(console, info)
    if any(not r.get("readable", True) for r in results):
        raise typer.Exit(EXIT_UNREADABLE)
    raise typer.Exit(EXIT_OK)
