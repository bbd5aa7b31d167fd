"""The HTML case report without a browser: same page from scan and from JSONL, escaping, size."""

from __future__ import annotations

import base64
import io
import json
import re
import time
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from synthdetect.cards import sha256_file
from synthdetect.output.html import (
    NOTE_CHANGED,
    NOTE_MISSING,
    PAGE,
    THUMB_PX,
    page_rows,
    render_html,
    row,
    thumbnail_data_uri,
)

from .fake import example_thumbnails, fake_run

pytestmark = pytest.mark.usefixtures("isolated_registry")


def cli(*args):
    from synthdetect.cli import app

    return CliRunner().invoke(app, [str(a) for a in args])


def _decode_uri(uri: str) -> Image.Image:
    assert uri.startswith("data:image/jpeg;base64,")
    img = Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))
    img.load()
    return img


_VOLATILE = [
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d"), "TIME"),
    (re.compile(r"scan took [^<]*"), "scan took X"),
    (re.compile(r"<tr><th>made from</th><td>[^<]*</td></tr>"), ""),
]


def _static(page: str) -> str:
    start = page.index('id="sd-data">')
    page = page[:start] + page[page.index("</script>", start):]
    for rx, sub in _VOLATILE:
        page = rx.sub(sub, page)
    return page


def test_report_from_jsonl_is_the_scan_html_page(models_dir, images, tmp_path):
    before = {p: (sha256_file(p), p.stat().st_mtime_ns) for p in images.values()}
    a, jl, b = tmp_path / "a.html", tmp_path / "run.jsonl", tmp_path / "b.html"
    common = ["--models-dir", models_dir, "--models", "bright,dark", "--ensemble", "majority"]
    r = cli("scan", *images.values(), *common, "-f", "html", "-o", a)
    assert r.exit_code == 0, r.output
    r = cli("scan", *images.values(), *common, "-f", "jsonl", "-o", jl)
    assert r.exit_code == 0, r.output
    r = cli("report", jl, "-o", b)
    assert r.exit_code == 0, r.output
    pa, pb = a.read_text(encoding="utf-8"), b.read_text(encoding="utf-8")
    rows_a, rows_b = page_rows(pa), page_rows(pb)
    assert len(rows_a) == 3 and rows_a == rows_b  # thumbnails included, byte for byte
    assert _static(pa) == _static(pb)
    assert "made from" in pb and "made from" not in pa
    # thumbnails: small JPEGs of the decoded image; the evidence is untouched
    for r_ in rows_a:
        t = _decode_uri(r_["t"])
        assert max(t.size) <= THUMB_PX and t.format == "JPEG"
    white = next(r_ for r_ in rows_a if r_["path"].endswith("white.png"))
    assert min(_decode_uri(white["t"]).convert("L").getextrema()) > 200
    assert {p: (sha256_file(p), p.stat().st_mtime_ns) for p in images.values()} == before
    # the JSONL records do not carry the thumbnails
    assert "data:image" not in jl.read_text()
    # counts in the static summary
    for v, n in (("synthetic", sum(r_["v"] == "synthetic" for r_ in rows_a)), ("all", 3)):
        assert f'id="count-{v}">{n}<' in pa


def test_report_checks_sha256_before_showing_a_thumbnail(models_dir, images, tmp_path):
    jl = tmp_path / "run.jsonl"
    assert cli("scan", *images.values(), "--models-dir", models_dir, "--models", "bright", "-f", "jsonl",
               "-o", jl).exit_code == 0
    Image.new("RGB", (80, 60), (0, 0, 0)).save(images["white"])  # the file changed since the scan
    images["black"].unlink()  # and this one is gone
    out = tmp_path / "r.html"
    r = cli("report", jl, "-o", out)
    assert r.exit_code == 0, r.output
    rows = {Path(x["path"]).name: x for x in page_rows(out.read_text(encoding="utf-8"))}
    assert "t" not in rows["white.png"] and rows["white.png"]["tn"] == NOTE_CHANGED
    assert "t" not in rows["black.jpg"] and rows["black.jpg"]["tn"] == NOTE_MISSING
    assert rows["red.webp"]["t"].startswith("data:image/jpeg;base64,")
    r = cli("report", jl, "-o", out, "--no-thumbnails")
    assert r.exit_code == 0 and "data:image" not in out.read_text(encoding="utf-8")


def test_report_finds_relative_paths_next_to_the_results(models_dir, images, tmp_path, monkeypatch):
    monkeypatch.chdir(images["white"].parent)
    jl = tmp_path / "elsewhere" / "run.jsonl"
    jl.parent.mkdir()
    assert cli("scan", "white.png", "--models-dir", models_dir, "--models", "bright", "-f", "jsonl",
               "-o", jl).exit_code == 0
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "r.html"
    assert cli("report", jl, "-o", out).exit_code == 0
    assert page_rows(out.read_text(encoding="utf-8"))[0]["tn"] == NOTE_MISSING
    assert cli("report", jl, "-o", out, "--base-dir", images["white"].parent).exit_code == 0
    assert "t" in page_rows(out.read_text(encoding="utf-8"))[0]


def test_report_reads_json_and_interrupted_jsonl_and_refuses_garbage(models_dir, images, tmp_path):
    js = tmp_path / "run.json"
    assert cli("scan", *images.values(), "--models-dir", models_dir, "--models", "bright", "-f", "json",
               "-o", js).exit_code == 0
    r = cli("report", js, "--no-thumbnails")
    assert r.exit_code == 0 and len(page_rows(r.stdout)) == 3
    doc = json.loads(js.read_text())
    cut = tmp_path / "cut.jsonl"  # a stream that stopped before its summary line
    cut.write_text("\n".join(json.dumps({"type": t, **o}) for t, o in
                             [("header", {k: v for k, v in doc.items() if k not in ("results", "summary")})]
                             + [("result", x) for x in doc["results"][:2]]) + "\n")
    r = cli("report", cut, "--no-thumbnails")
    assert r.exit_code == 0, r.output
    assert 'id="count-all">2<' in r.stdout
    whole = cut.read_text()  # a write cut off inside the third record (no newline after it)
    cut.write_text(whole + json.dumps({"type": "result", **doc["results"][2]})[:40])
    r = cli("report", cut, "--no-thumbnails")
    assert r.exit_code == 0, r.output
    assert 'id="count-all">2<' in r.stdout and "line 4 was cut off mid-write" in r.stderr
    cut.write_text(whole + "not json\n" + whole.splitlines()[1] + "\n")  # damage inside the file is refused
    assert cli("report", cut).exit_code == 2
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\n")
    r = cli("report", bad)
    assert r.exit_code == 2 and "line 1 is not JSON" in r.output
    r = cli("report", js, "-o", js)
    assert r.exit_code == 2 and "refusing" in r.output


HOSTILE = [
    '</script><script>window.__pwned=1</script>',
    '"><img src=x onerror="window.__pwned=1">',
    "caf\udcc3\udca9 & <b>bold</b> 'quoted'",
]


def _hostile_run():
    head, records, summary = fake_run(4)
    head["models"][0]["name"] = HOSTILE[1]
    head["command"] = ["synthdetect", "scan", HOSTILE[0]]
    for rec, h in zip(records, HOSTILE):
        rec["path"] = "/case/" + h + ".jpg"
        rec.setdefault("provenance", {})["notes"] = [h]
        rec["reasons"] = [h]
        rec["unknown_future_field"] = {"nested": [h, 1, None]}
    records.append({"path": HOSTILE[0]})  # almost every field missing
    records.append({"path": "/case/err.jpg", "error": HOSTILE[1], "verdict": None})
    return head, records, summary


def test_every_string_is_escaped_and_odd_records_do_not_crash():
    head, records, summary = _hostile_run()
    page = render_html(head, records, summary)
    page.encode("utf-8")  # lone surrogates were made writable
    assert page.count("<script") == 2  # the JSON block and the page script, nothing injected
    assert page.count("</script>") == 2
    assert "<img src=x" not in page and "<b>bold</b>" not in page
    assert "&lt;/script&gt;&lt;script&gt;" in page  # the command line, escaped in the static part
    assert "&quot;&gt;&lt;img src=x" in page  # the model name
    rows = page_rows(page)
    assert len(rows) == len(records)
    assert rows[0]["path"] == "/case/" + HOSTILE[0] + ".jpg" and rows[0]["reasons"] == [HOSTILE[0]]
    assert rows[2]["path"] == "/case/caf\\udcc3\\udca9 & <b>bold</b> 'quoted'.jpg"
    assert rows[4]["v"] == "error" and rows[4]["m"] == [] and rows[4]["e"] is None
    assert rows[5]["error"] == HOSTILE[1]
    assert "unknown_future_field" not in json.dumps(rows)


def test_issue_11_fields_are_shown_when_present():
    rec = {"path": "a.jpg", "sha256": "ab" * 32, "verdict": "inconclusive", "verdict_source": "detectors",
           "models": {"npr": {"probability": 0.56, "threshold": 0.567, "verdict": "inconclusive"}},
           "ensemble": {"method": "weighted", "score": 0.5, "threshold": 0.5, "verdict": "inconclusive",
                        "tie": True, "reason": "members split evenly"},
           "reasons": ["image is heavily blurred: npr and spectral scores are uninformative"],
           "error_rate": {"synthetic": "1 in 12 real photos is flagged at this threshold"},
           "quality": {"blur": "sigma ~2", "jpeg_quality": 40}}
    r = row(rec, 0)
    assert r["reasons"] == ["image is heavily blurred: npr and spectral scores are uninformative",
                            "members split evenly"]
    assert r["error_rate"] == ["synthetic: 1 in 12 real photos is flagged at this threshold"]
    assert r["quality"] == ["blur: sigma ~2", "jpeg_quality: 40"]
    assert r["v"] == "inconclusive" and r["score"] == 0.5
    tie_only = row({**rec, "reasons": None, "ensemble": {**rec["ensemble"], "reason": None}}, 1)
    assert tie_only["reasons"] == ["tie: the members' votes split evenly"]


def test_thumbnail_is_small_and_leaves_the_image_alone():
    img = Image.new("RGB", (1600, 900), (10, 200, 30))
    uri = thumbnail_data_uri(img)
    t = _decode_uri(uri)
    assert t.size == (96, 54) and img.size == (1600, 900)
    assert len(uri) < 2000
    tiny = Image.new("RGB", (20, 10), (1, 2, 3))
    assert _decode_uri(thumbnail_data_uri(tiny)).size == (20, 10)


def test_5000_images_small_file_fast_render():
    head, records, summary = fake_run(5000)
    thumbs = example_thumbnails()
    t0 = time.perf_counter()
    page = render_html(head, records, summary, thumbnails=[thumbs[i % len(thumbs)] for i in range(len(records))])
    elapsed = time.perf_counter() - t0
    bare = render_html(head, records, summary)
    per_image = len(page.encode()) / 5000
    per_image_bare = len(bare.encode()) / 5000
    print(f"\n5000 images: {len(page.encode()) / 1e6:.1f} MB, {per_image / 1024:.2f} KiB per image "
          f"({per_image_bare / 1024:.2f} KiB without thumbnails), rendered in {elapsed:.2f} s")
    assert elapsed < 20
    assert per_image < 4.5 * 1024  # README: ~3.4 KiB per image with thumbnails of real photos
    assert per_image_bare < 1.2 * 1024
    assert len(page_rows(page)) == 5000 and f'"page":{PAGE}' in page
    assert 'id="count-error">52<' in page


def test_ci_has_a_browser_for_the_report_tests():
    """CI sets SYNTHDETECT_REQUIRE_BROWSER=1 after installing chromium: the browser tests must not skip there."""
    import os

    from .cdp import find_chromium

    if os.environ.get("SYNTHDETECT_REQUIRE_BROWSER") != "1":
        pytest.skip("SYNTHDETECT_REQUIRE_BROWSER is not set (only CI requires the browser tests to run)")
    assert find_chromium() is not None, "chromium not found although CI installed it"
    import websocket  # noqa: F401  (websocket-client, dev extra)


def test_a_failing_thumbnail_never_turns_an_image_into_an_error(models_dir, images, tmp_path, monkeypatch):
    import synthdetect.output.html as rh

    def boom(img, *a, **k):
        raise OSError("encoder exploded")

    monkeypatch.setattr(rh, "thumbnail_data_uri", boom)
    out = tmp_path / "a.html"
    r = cli("scan", images["white"], "--models-dir", models_dir, "--models", "bright", "-f", "html", "-o", out)
    assert r.exit_code == 0, r.output
    (row_,) = page_rows(out.read_text(encoding="utf-8"))
    assert row_["v"] == "synthetic" and "t" not in row_ and "error" not in row_


def test_page_is_self_contained_and_survives_non_finite_scores():
    head, records, summary = fake_run(3)
    records[0]["models"]["npr"]["probability"] = float("nan")
    records[1]["ensemble"]["score"] = float("inf")
    records[2]["width"] = "not a number"
    page = render_html(head, records, summary, thumbnails=example_thumbnails()[:3])
    rows = page_rows(page)
    assert rows[0]["m"][0][1] is None and rows[1]["e"]["score"] is None and rows[2]["w"] is None
    low = page.lower()
    for needle in ("http://", "https://", "src=\"//", "@import", "url(", "<link", "<iframe", "fetch(",
                   "xmlhttprequest"):
        assert needle not in low, needle
    assert "default-src 'none'" in page  # CSP: nothing may be loaded from anywhere
