"""Output formats as a list of writers (synthdetect/output/writers.py).

Every writer must write exactly the bytes of the rendering function it wraps, driven the way
``scan`` drives it (begin, one record() per record, end); a writer registered (appended to
``WRITERS``) is a ``scan --format`` choice with no other change, and no test here pins the whole
list: a new format only appends.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from synthdetect.output import text as report, html as report_html, writers

from tests.output.fake import fake_run

REPO = Path(__file__).resolve().parents[2]
BUILTIN = ["table", "json", "jsonl", "csv", "html"]  # the built-in formats, first and in this order
META = {"rendered": "2026-11-29T00:00:00+00:00", "renderer": "synthdetect test"}


def _thumbs(n: int) -> list:
    from PIL import Image

    uri = report_html.thumbnail_data_uri(Image.new("RGB", (40, 30), (200, 10, 10)))
    return [uri if i % 3 else None for i in range(n)]


def _old(name: str, head, records, summary, thumbs) -> str:
    """The pre-writer output of each format: the rendering functions as scan called them."""
    buf = io.StringIO()
    if name == "table":
        report.write_table(buf, head, records, summary, color=False)
    elif name == "json":
        report.write_json(buf, head, records, summary)
    elif name == "jsonl":
        buf.write(report.jsonl_line({"type": "header", **head}))
        for r in records:
            buf.write(report.jsonl_line({"type": "result", **r}))
        buf.write(report.jsonl_line({"type": "summary", **summary}))
    elif name == "csv":
        report.write_csv(buf, [m["name"] for m in head["models"]], records)
    elif name == "html":
        report_html.write_html(buf, head, records, summary, thumbnails=thumbs, meta=META)
    return buf.getvalue()


def _driven(w: writers.Writer, head, records, summary, thumbs) -> str:
    buf = io.StringIO()
    w.begin(buf, head)
    for r in records:
        w.record(buf, r)
    w.end(buf, head, records, summary, thumbs, color=False, meta=META)
    return buf.getvalue()


def test_the_builtin_formats_come_first_in_their_order():
    assert writers.names()[: len(BUILTIN)] == BUILTIN
    builtin = writers.WRITERS[: len(BUILTIN)]
    assert [w.name for w in builtin if w.streams] == ["jsonl"]
    assert [w.name for w in builtin if w.needs_thumbnails] == ["html"]
    assert [w.name for w in builtin if w.prints_summary] == ["table"]


def test_writer_names_are_unique(monkeypatch):
    class Dup(writers.Writer):
        name = "json"

    monkeypatch.setattr(writers, "WRITERS", list(writers.WRITERS))
    with pytest.raises(ValueError, match="the name is taken"):
        writers.register(Dup())
    with pytest.raises(ValueError, match="needs a name"):
        writers.register(writers.Writer())
    assert writers.names()[: len(BUILTIN)] == BUILTIN  # nothing was appended
    writers.WRITERS.append(Dup())  # appended by hand: refused where the formats are listed
    with pytest.raises(ValueError, match="the name is taken"):
        writers.names()


@pytest.mark.parametrize("name", BUILTIN)
def test_every_writer_writes_the_bytes_of_its_function(name):
    head, records, summary = fake_run(60, seed=3)
    records.append({"path": "/case/x.png", "format": None, "width": None, "height": None, "sha256": None,
                    "models": {}, "ensemble": None, "verdict": "synthetic", "verdict_source": "provenance",
                    "provenance": {"ai_evidence": ["C2PA: trainedAlgorithmicMedia"]},
                    "error": "truncated file (image file is truncated)"})
    thumbs = _thumbs(len(records))
    w = writers.get(name)
    assert w.name == name
    expected = _old(name, head, records, summary, thumbs)
    assert expected
    assert _driven(w, head, records, summary, thumbs) == expected
    if name != "html":  # writers.write: the same bytes (html there has no thumbnails and a live timestamp)
        buf = io.StringIO()
        writers.write(name, buf, head, records, summary, color=False)
        assert buf.getvalue() == expected


def test_streaming_writer_writes_each_record_as_it_comes():
    head, records, summary = fake_run(3)
    w = writers.get("jsonl")
    buf = io.StringIO()
    w.begin(buf, head)
    assert [json.loads(ln)["type"] for ln in buf.getvalue().splitlines()] == ["header"]
    w.record(buf, records[0])
    assert [json.loads(ln)["type"] for ln in buf.getvalue().splitlines()] == ["header", "result"]


def test_unknown_format_fails_at_lookup_naming_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown format 'xml'; known: table, json, jsonl, csv, html"):
        writers.get("xml")
    head, records, summary = fake_run(2)
    with pytest.raises(ValueError, match="unknown format 'xml'"):
        writers.write("xml", io.StringIO(), head, records, summary)


def test_scan_format_choices_are_the_writer_names():
    from synthdetect.cli import scan

    assert [f.value for f in scan.Fmt] == writers.names()


@pytest.mark.usefixtures("isolated_registry")
def test_a_writer_added_to_the_list_is_a_scan_format(models_dir, images):
    code = (
        "import sys\n"
        "from synthdetect.output import writers\n"
        "class Tsv(writers.Writer):\n"
        "    name = 'tsv'\n"
        "    def end(self, out, head, records, summary, thumbnails=None, **kw):\n"
        "        for r in records:\n"
        "            out.write(r['path'] + '\\t' + r['verdict'] + '\\n')\n"
        "writers.register(Tsv())\n"
        "from synthdetect.cli import main\n"
        "sys.argv = ['synthdetect'] + sys.argv[1:]\n"
        "main()\n"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO), COLUMNS="200")
    env.pop("SYNTHDETECT_MODELS_DIR", None)

    def run(*args):
        return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True,
                              timeout=120, env=env)

    h = run("scan", "--help")
    assert h.returncode == 0, h.stderr
    assert "table|json|jsonl|csv|html|tsv" in h.stdout.replace(" ", "").replace("│", "").replace("\n", "")
    r = run("scan", images["white"], "--models-dir", models_dir, "--models", "bright", "-f", "tsv")
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"{images['white']}\tsynthetic\n"
