"""Output formats of ``synthdetect scan`` / ``synthdetect report``: one writer per format.

A writer is driven in three steps while a scan runs::

    w.begin(out, head)                       # once, before the first record
    w.record(out, rec)                       # once per record, as it is produced
    w.end(out, head, records, summary, thumbnails, color=..., notes=..., meta=...)

Streaming writers (jsonl) write in ``begin``/``record`` so the output grows while the scan
runs (``streams`` says so); the others write everything in ``end``.  ``needs_thumbnails`` asks the scanner for
thumbnails (html); ``prints_summary`` says the output already holds the human summary lines
(table), so ``scan`` does not repeat them on a terminal's stderr.

``WRITERS`` is the ordered list behind ``scan --format`` (its choices and their order),
:func:`write` and ``synthdetect report``.

Adding a format: write one subclass of :class:`Writer` (a ``name`` and an ``end``, plus
``begin``/``record`` if it streams) and :func:`register` one instance (it appends to
``WRITERS``; a name already taken is refused, and :func:`names` refuses a list holding one twice).  The rendering
functions themselves live in :mod:`synthdetect.output.text` and :mod:`synthdetect.output.html`.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence, TextIO

from . import text as report


class Writer:
    """One output format; the base writes nothing."""

    name: str = ""
    needs_thumbnails: bool = False
    prints_summary: bool = False

    @property
    def streams(self) -> bool:
        """Whether it writes records as they come (it overrides :meth:`record`)."""
        return type(self).record is not Writer.record

    def begin(self, out: TextIO, head: dict[str, Any]) -> None:
        """Before the first record."""

    def record(self, out: TextIO, rec: dict[str, Any]) -> None:
        """One finished record (streaming writers write it now)."""

    def end(self, out: TextIO, head: dict[str, Any], records: Sequence[dict[str, Any]], summary: dict[str, Any],
            thumbnails: Sequence[str | None] | None = None, *, color: bool | None = None,
            notes: Sequence[str | None] | None = None, meta: dict[str, Any] | None = None) -> None:
        """After the last record: ``records`` is every record, ``thumbnails`` runs parallel to it.

        ``color``: table colouring (None: when ``out`` is a terminal); ``notes``/``meta``: html only.
        """

    def wrote(self, start: str) -> bool:
        """Whether a file beginning with ``start`` (its first characters) is this writer's output."""
        return False

    def __repr__(self) -> str:
        return f"<writer {self.name}>"


class TableWriter(Writer):
    name = "table"
    prints_summary = True

    def end(self, out, head, records, summary, thumbnails=None, *, color=None, notes=None, meta=None):
        report.write_table(out, head, list(records), summary, color=color)

    def wrote(self, start):
        return start.startswith("\u250f") and "\n\u2503path " in start


class JsonWriter(Writer):
    name = "json"

    def end(self, out, head, records, summary, thumbnails=None, *, color=None, notes=None, meta=None):
        report.write_json(out, head, list(records), summary)

    def wrote(self, start):
        return start.startswith('{\n  "schema_version"') and '"name": "synthdetect"' in start[:400]


class JsonlWriter(Writer):
    name = "jsonl"

    def begin(self, out, head):
        out.write(report.jsonl_line({"type": "header", **head}))

    def record(self, out, rec):
        out.write(report.jsonl_line({"type": "result", **rec}))
        out.flush()

    def end(self, out, head, records, summary, thumbnails=None, *, color=None, notes=None, meta=None):
        out.write(report.jsonl_line({"type": "summary", **summary}))

    def wrote(self, start):
        return start.startswith('{"type":"header"') and '"tool":{"name":"synthdetect"' in start.split("\n", 1)[0]


class CsvWriter(Writer):
    name = "csv"

    def end(self, out, head, records, summary, thumbnails=None, *, color=None, notes=None, meta=None):
        report.write_csv(out, [m["name"] for m in head["models"]], records)

    def wrote(self, start):
        return start.startswith("image_id,prob,label,threshold,path,")


class HtmlWriter(Writer):
    name = "html"
    needs_thumbnails = True

    def end(self, out, head, records, summary, thumbnails=None, *, color=None, notes=None, meta=None):
        from .html import write_html

        write_html(out, head, records, summary, thumbnails=thumbnails, notes=notes, meta=meta)

    def wrote(self, start):
        return start.startswith("<!DOCTYPE html>") and '<meta name="generator" content="synthdetect ' in start


WRITERS: list[Writer] = [TableWriter(), JsonWriter(), JsonlWriter(), CsvWriter(), HtmlWriter()]


def _checked(ws: Sequence[Writer]) -> list[str]:
    out: list[str] = []
    for w in ws:
        if not w.name or w.name in out:
            raise ValueError(f"writer {w!r}: " + ("a writer needs a name" if not w.name else "the name is taken"))
        out.append(w.name)
    return out


def register(writer: Writer) -> Writer:
    """Append ``writer`` to ``WRITERS`` (a new ``scan --format`` choice); ValueError if its name is taken."""
    _checked([*WRITERS, writer])
    WRITERS.append(writer)
    return writer


def names() -> list[str]:
    """The format names, in ``WRITERS`` order; ValueError when two writers share a name."""
    return _checked(WRITERS)


def get(name: str) -> Writer:
    """The writer called ``name``; ValueError naming the known formats otherwise."""
    for w in WRITERS:
        if w.name == name:
            return w
    raise ValueError(f"unknown format {name!r}; known: {', '.join(names())}")


def write(name: str, out: TextIO, head: dict[str, Any], records: Sequence[dict[str, Any]], summary: dict[str, Any],
          thumbnails: Sequence[str | None] | None = None, **kw: Any) -> None:
    """The whole run through one writer at once (saved results, tests)."""
    w = get(name)
    w.begin(out, head)
    for r in records:
        w.record(out, r)
    w.end(out, head, records, summary, thumbnails, **kw)


def empty_or(path, recognise: Callable[[str], bool], n: int = 4096) -> bool:
    """Whether the existing file ``path`` is empty or ``recognise`` accepts its first ``n`` bytes (as
    text): the test for an output a command may replace without ``--force``; False when unreadable."""
    try:
        with open(path, "rb") as f:
            start = f.read(n).decode("utf-8", errors="replace")
    except OSError:
        return False
    return not start or recognise(start)


def replaceable(path) -> bool:
    """Whether an existing file may be replaced by ``scan -o`` / ``report -o`` without ``--force``: it is
    empty or an earlier synthdetect result in one of the formats above (recognised by its first 4 KiB).
    Anything else (a photo, case notes, another tool's output) may be evidence (docs/safety.md)."""
    return empty_or(path, lambda start: any(w.wrote(start) for w in WRITERS))
