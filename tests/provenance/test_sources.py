"""``sources.ANALYZERS``: a source appended to the list is used by ``analyze()``, the AI
evidence and verdict hint, ``inspect``'s output, ``provenance.short`` and the policy text,
with no other file edited."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from synthdetect import provenance
from synthdetect.cli.inspect import mount
from synthdetect.provenance import sources
from . import provenance_builders as B
from .helpers import TOY_KEY, ToyAnalyzer

@pytest.fixture
def toy():
    a = ToyAnalyzer()
    provenance.ANALYZERS.append(a)          # the documented registration: one line in sources.py
    try:
        yield a
    finally:
        provenance.ANALYZERS.remove(a)


def _png(write):
    return write("toy.png", B.png_bytes([B.text_chunk(TOY_KEY, "df-9000")]))


def test_toy_chunk_is_nothing_without_the_analyzer(write):
    r = provenance.analyze(_png(write))
    assert "dreamforge" not in r and r["verdict_hint"] is None and r["ai_evidence"] == []


def test_appended_analyzer_reaches_result_evidence_short_and_policy(write, toy, tmp_path):
    assert provenance.ANALYZERS is sources.ANALYZERS
    r = provenance.analyze(_png(write))
    assert r["dreamforge"] == {"present": True, "model": "df-9000"}
    line = "png:tEXt 'x-dreamforge' names DreamForge model df-9000"
    assert r["ai_evidence"] == [line] and r["verdict_hint"] == "synthetic"
    # a new source's field follows the built-in ones, before the combined evidence and notes
    keys = list(r)
    assert keys.index("software_generator") < keys.index("dreamforge") < keys.index("camera_evidence")
    assert json.loads(json.dumps(r)) == r
    assert provenance.short({"provenance": r}) == line
    letter = chr(ord("a") + sum(1 for a in sources.ANALYZERS if a.policy) - 1)  # the toy is the last item
    assert f"   {letter}. a PNG '{TOY_KEY}' text chunk" in provenance.policy()
    # an unreadable file still has the field, empty
    assert provenance.analyze(tmp_path / "missing.png")["dreamforge"] == {"present": False}


def test_appended_analyzer_shows_in_inspect(write, toy):
    app = typer.Typer()
    mount(app)

    @app.callback()
    def _root():
        pass

    res = CliRunner().invoke(app, ["inspect", str(_png(write))], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "\nDreamForge" in res.output.replace("│ ", "\n") and "model  df-9000" in res.output
    assert "names DreamForge model df-9000" in res.output and "synthetic" in res.output
    out = CliRunner().invoke(app, ["inspect", "--format", "json", str(_png(write))])
    assert json.loads(out.stdout)[0]["dreamforge"]["model"] == "df-9000"


def test_builtin_sources_are_named_once_and_pinned():
    names = [a.name for a in sources.ANALYZERS]
    assert len(names) == len(set(names))
    assert set(sources.DISPLAY_ORDER) <= set(names)
    fields = [k for a in sources.ANALYZERS for k in a.empty]
    assert len(fields) == len(set(fields)) and set(sources.RESULT_ORDER) <= set(fields)


def test_ordered_puts_unnamed_items_last_in_their_order():
    assert sources.ordered(["z", "b", "y", "a"], str, ("a", "b")) == ["a", "b", "z", "y"]
