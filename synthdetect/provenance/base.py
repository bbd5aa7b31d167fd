"""What a provenance source is: an :class:`Analyzer`, the :class:`Context` it reads, the
:class:`Findings` it returns and the :class:`Section` rows ``inspect`` shows for it.

A source reads one kind of metadata and returns its findings; it never writes into the
shared result.  ``analyze()`` (in ``__init__``) runs every analyzer of
``sources.ANALYZERS`` in order, merges their ``fields`` into the result, and then applies the
combining policy once (AI evidence -> ``verdict_hint``, camera evidence, notes).

To add a source, subclass :class:`Analyzer` in a module of this package and append an
instance to ``sources.ANALYZERS`` (see docs/provenance.md, "Adding a source").
Slow or fragile parsing goes through :meth:`Context.guarded`, which bounds it by the
per-stage cap in ``STAGE_CAP_S`` and by what is left of the per-file time budget.
"""

from __future__ import annotations

import copy
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ._containers import Extracted

# Per-stage wall-clock caps (seconds) inside the per-file budget; other stages get 3 s.
STAGE_CAP_S = {"c2pa": 5.0, "exifread": 3.0, "pillow": 3.0}


class Budget:
    """The per-file time budget: a deadline on the monotonic clock."""

    def __init__(self, seconds: float):
        self.deadline = time.monotonic() + seconds

    def left(self) -> float:
        return max(0.0, self.deadline - time.monotonic())


def guarded(fn: Callable[[], Any], stage: str, budget: Budget, notes: list[str]) -> tuple[bool, Any]:
    """Run fn in a daemon thread with a timeout.  Returns (ok, value_or_None); never raises."""
    timeout = min(STAGE_CAP_S.get(stage, 3.0), budget.left())
    if timeout <= 0:
        notes.append(f"time budget exhausted before {stage}; skipped")
        return False, None
    box: dict[str, Any] = {}

    def run():
        try:
            box["value"] = fn()
        except BaseException as e:  # noqa: BLE001 - reported as a note
            box["error"] = e

    t = threading.Thread(target=run, name=f"provenance-{stage}", daemon=True)
    t.start()
    t.join(timeout)
    if t.is_alive():
        notes.append(f"{stage} exceeded its time budget ({timeout:.1f} s); result abandoned")
        return False, None
    if "error" in box:
        e = box["error"]
        notes.append(f"{stage} could not parse this file ({type(e).__name__}: {_reproducible(str(e))[:200]})")
        return False, None
    return True, box.get("value")


_OBJECT_REPR = re.compile(r"<([\w.]+) object at 0x[0-9a-fA-F]+>")


def _reproducible(message: str) -> str:
    """An exception message without object addresses (Pillow names ``<_io.BytesIO object at 0x7f…>``), so a
    re-scan writes the same record."""
    return _OBJECT_REPR.sub(r"<\1 object>", message)


@dataclass
class Context:
    """What an analyzer reads: the file's (capped) bytes and what earlier analyzers found.

    ``result`` holds the fields merged so far (read them, do not write them);
    ``shared[name]`` is the ``Findings.shared`` of the earlier analyzer called ``name``.
    """

    path: Path
    data: bytes
    truncated: bool                  # the file was longer than max_bytes
    budget: Budget
    container: Extracted             # the container walk: format, text chunks, EXIF blobs, XMP packets
    trust_anchors_pem: str | None = None
    result: dict[str, Any] = field(default_factory=dict)
    shared: dict[str, dict[str, Any]] = field(default_factory=dict)

    def guarded(self, fn: Callable[[], Any], stage: str, notes: list[str]) -> tuple[bool, Any]:
        """:func:`guarded` under this file's budget."""
        return guarded(fn, stage, self.budget, notes)


@dataclass
class Findings:
    """What one analyzer found.

    ``fields``: its part of the result (keys declared in ``Analyzer.empty``);
    ``ai_evidence``: one line per explicit AI-provenance finding (makes the hint 'synthetic');
    ``camera_evidence``: weak real-capture lines; ``notes``: malformed data, caps, time-outs;
    ``shared``: parsed data that later analyzers may read from ``Context.shared[name]``.
    """

    fields: dict[str, Any] = field(default_factory=dict)
    ai_evidence: list[str] = field(default_factory=list)
    camera_evidence: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    shared: dict[str, Any] = field(default_factory=dict)


@dataclass
class Section:
    """One block of ``synthdetect inspect``'s rich output, free of any rich type.

    kind ``fields``: a borderless two-column table of ``(label, value)`` rows (rows whose value
    is None, '' or [] are left out; a list is shown one item a line).
    kind ``table``: a table with the header ``columns`` and one tuple of cells per row.
    kind ``line``: the single line ``title`` (dimmed).
    """

    kind: str
    title: str
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    columns: tuple[str, ...] = ()


class Analyzer:
    """One provenance source.  Subclasses set the class attributes and implement ``analyze``.

    ``name``: unique id (``Context.shared`` key, ordering in ``sources``);
    ``empty``: the source's result fields when nothing was found or the file was unreadable,
    in result order;  ``policy``: its item under rule 1 of ``POLICY`` (how it yields explicit AI
    evidence), '' when it yields none.
    """

    name: str = ""
    empty: dict[str, Any] = {}
    policy: str = ""

    def empty_fields(self) -> dict[str, Any]:
        return copy.deepcopy(self.empty)

    def analyze(self, ctx: Context) -> Findings:
        raise NotImplementedError

    def sections(self, result: dict[str, Any]) -> list[Section]:
        """What ``inspect`` shows for this source, read from an ``analyze()`` result."""
        return []
