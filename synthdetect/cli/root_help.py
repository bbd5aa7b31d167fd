"""``synthdetect --help`` (and ``synthdetect`` alone): the root's help page, drawn without rich.

A verb's help (``synthdetect VERB --help``) is typer's rich page.  The root's would cost more than
the rest of start-up together: typer's rich renderer imports rich.markdown, markdown_it,
rich.traceback, ... (about 120 ms of the 0.3 s ``--help`` took).  This module draws the same page
— usage line, description, the Options panel, the Commands panel in ``list_commands`` order with
each command's first help paragraph — in the same boxes and colours, with the standard library and
typer's ``style`` only.  The text is plain (no rich markup is interpreted in the root's help).

Colour: ANSI styles unless ``NO_COLOR`` is set or ``TERM=dumb``; click's ``echo`` drops them when
the output is not a terminal, so ``synthdetect --help | less`` reads plain.  Width: ``TERMINAL_WIDTH``
(as typer honours), else ``COLUMNS`` / the terminal's, else 80.
"""

from __future__ import annotations

import inspect
import os
import re
import shutil
import textwrap
from typing import Any, Iterable

import typer

# typer's rich help styles (typer.rich_utils), so the root page looks like a verb's
_STYLES: dict[str, dict[str, Any]] = {
    "border": dict(dim=True),
    "usage": dict(fg="yellow"),
    "command_path": dict(bold=True),
    "long": dict(fg="cyan", bold=True),
    "short": dict(fg="green", bold=True),
    "type": dict(fg="yellow", bold=True),
    "command": dict(fg="cyan", bold=True),
}

# option names in help text, highlighted as typer's OptionHighlighter does
_OPTION_NAME = re.compile(r"(?<![\w-])(--[\w-]+|-\w+)(?![a-zA-Z0-9])")


def _colour(ctx: Any) -> bool:
    if ctx.color is not None:
        return bool(ctx.color)
    return not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


def _width() -> int:
    forced = os.environ.get("TERMINAL_WIDTH", "")
    return int(forced) if forced.isdigit() else shutil.get_terminal_size().columns


class _Page:
    """Lines of the page, styled or not, wrapped to ``width`` columns."""

    def __init__(self, width: int, colour: bool) -> None:
        self.width, self.colour, self.lines = max(width, 40), colour, []

    def style(self, text: str, kind: str) -> str:
        return typer.style(text, **_STYLES[kind]) if self.colour and text else text

    def highlight(self, line: str) -> str:
        if not self.colour:
            return line
        return _OPTION_NAME.sub(lambda m: self.style(m[1], "long" if m[1][1] == "-" else "short"), line)

    def wrap(self, text: str, width: int) -> list[str]:
        return textwrap.wrap(text, max(width, 10), break_on_hyphens=False, break_long_words=False) or [""]

    def paragraph(self, text: str) -> None:
        self.lines += [" " + self.highlight(ln) for ln in self.wrap(text, self.width - 2)] + [""]

    def panel(self, title: str, rows: list[tuple[list[tuple[str, str]], str]]) -> None:
        """A box titled ``title``: per row, left cells ``(text, style)`` aligned in columns, then help text."""
        inner = self.width - 4
        cols = [max(len(r[0][i][0]) for r in rows) for i in range(len(rows[0][0]))]
        used = sum(w + 2 for w in cols if w)
        top = f"╭─ {title} " + "─" * max(inner - len(title) - 1, 0) + "╮"
        self.lines.append(self.style(top, "border"))
        for cells, text in rows:
            left = "".join(self.style(t, s) + " " * (w - len(t) + 2) for (t, s), w in zip(cells, cols) if w)
            for i, ln in enumerate(self.wrap(text, inner - used)):
                body = (left if i == 0 else " " * used) + self.highlight(ln)
                pad = " " * max(inner - used - len(ln), 0)
                self.lines.append(self.style("│ ", "border") + body + pad + self.style(" │", "border"))
        self.lines.append(self.style("╰" + "─" * (inner + 2) + "╯", "border"))


def first_paragraph(help_text: str | None) -> str:
    """The part of a command's help its group lists: the first paragraph, on one line."""
    return " ".join(inspect.cleandoc(help_text or "").partition("\f")[0].split("\n\n")[0].split())


def _param_rows(ctx: Any, params: Iterable[Any]) -> list[tuple[list[tuple[str, str]], str]]:
    rows = []
    for p in params:
        opts = [*p.opts, *p.secondary_opts]
        shown_type = getattr(p, "display_type_rich", lambda ctx: None)(ctx) or ""
        cells = [(",".join(o for o in opts if o.startswith("--")), "long"),
                 (",".join(o for o in opts if not o.startswith("--")), "short"), (shown_type, "type")]
        rows.append((cells, first_paragraph(getattr(p, "help", None))))
    return rows


def render(group: Any, ctx: Any) -> str:
    """The root group's help page for ``ctx`` (a string for click's formatter)."""
    page = _Page(_width(), _colour(ctx))
    usage = group.get_usage(ctx).partition(" ")[2]  # "Usage: synthdetect ..." -> "synthdetect ..."
    page.lines += ["", " " + page.style("Usage:", "usage") + " " + page.style(usage, "command_path"), ""]
    for par in inspect.cleandoc(group.help or "").partition("\f")[0].split("\n\n"):
        if par.strip():
            page.paragraph(" ".join(par.split()))
    params = [p for p in group.get_params(ctx) if not getattr(p, "hidden", False)]
    for title, kind in (("Arguments", "argument"), ("Options", "option")):
        rows = _param_rows(ctx, [p for p in params if p.param_type_name == kind])
        if rows:
            page.panel(title, rows)
    commands = [(n, group.get_command(ctx, n)) for n in group.list_commands(ctx)]
    rows = [([(name, "command")], ("(deprecated) " if cmd.deprecated else "")
             + first_paragraph(cmd.short_help or cmd.help)) for name, cmd in commands if cmd and not cmd.hidden]
    if rows:
        page.panel("Commands", rows)
    if group.epilog:
        page.lines.append("")
        for par in inspect.cleandoc(group.epilog).split("\n\n"):
            page.paragraph(" ".join(par.split()))
    return "\n".join(page.lines) + "\n"
