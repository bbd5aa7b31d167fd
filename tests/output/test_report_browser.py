"""The HTML report in a real browser: headless Chromium over the DevTools protocol.

Skipped (with the reason) when no Chromium binary is found; CI (.ci/run) installs
Debian's ``chromium``.  ``SYNTHDETECT_SCREENSHOT_DIR=docs`` also writes the README's
screenshot there.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from synthdetect.output.html import PAGE, page_rows, render_html

from .cdp import Browser, find_chromium
from .fake import example_thumbnails, fake_run

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = find_chromium()
pytestmark = [
    pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary on PATH (CI installs Debian's chromium; "
                                                "or set SYNTHDETECT_CHROMIUM)"),
]
pytest.importorskip("websocket", reason="websocket-client (dev extra) drives Chromium")


@pytest.fixture
def browser(tmp_path):
    b = Browser(CHROMIUM, tmp_path / "chromium-profile")
    try:
        yield b
    finally:
        b.close()


ROWS = "document.querySelectorAll('#rows tbody tr').length"


def _rows_verdicts(b):
    return b.js("Array.from(document.querySelectorAll('#rows tbody tr')).map(r => r.dataset.verdict)")


def test_bundled_example_report_counts_filter_and_screenshot(browser, tmp_path, monkeypatch):
    from synthdetect.cli import app

    html = tmp_path / "examples.html"
    monkeypatch.chdir(REPO)  # relative paths, as an analyst would type them
    # the example photos lie beyond what the calibration measured (smaller than its images, or saved as
    # lossy WebP / AVIF), so the domain check and the gates withhold every verdict; both are relaxed
    # here so the filters have more than one verdict to show (the README says so beside the screenshot)
    r = CliRunner().invoke(app, ["scan", "examples/images", "-f", "html", "-o", str(html), "--domain-check", "warn",
                                 "--no-quality-gates"])
    assert r.exit_code == 0, r.output
    text = html.read_text(encoding="utf-8")
    rows = page_rows(text)
    counts = {v: sum(x["v"] == v for x in rows) for v in ("synthetic", "real", "inconclusive")}
    # the bundled default on the six small example photos: some get no calibrated verdict
    assert len(rows) == 6 and sum(counts.values()) == 6 and 0 < counts["inconclusive"] < 6
    assert "farther from the calibration images than any of them" in text
    browser.goto(html.as_uri())
    assert browser.console_errors() == []
    assert browser.js("document.getElementById('nojs')") is None  # the script ran
    assert browser.js(ROWS) == 6
    assert browser.js("document.getElementById('count-all').textContent") == "6"
    for v, n in counts.items():
        assert browser.js(f"document.getElementById('count-{v}').textContent") == str(n)
    assert browser.js("document.getElementById('shown').textContent") == "6 of 6 images"
    # every thumbnail decoded (data: URIs, nothing fetched)
    assert browser.js("Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")
    assert browser.js("document.images.length") == 6
    # filter clicks
    for v, n in counts.items():
        browser.js(f"document.getElementById('filter-{v}').click()")
        assert browser.js(ROWS) == n
        assert set(_rows_verdicts(browser)) <= {v}
        assert browser.js("document.getElementById('shown').textContent") == f"{n} of 6 images"
    browser.js("document.getElementById('filter-all').click()")
    # sort by score, highest first
    browser.js("var s=document.getElementById('sort'); s.value='score-desc'; s.dispatchEvent(new Event('change'))")
    scores = sorted((x["score"] for x in rows if x["score"] is not None), reverse=True)
    shown = browser.js("Array.from(document.querySelectorAll('#rows tbody tr')).map(r => r.dataset.score)")
    assert [float(v) for v in shown if v not in (None, "")][:len(scores)] == pytest.approx(scores, abs=1e-4)
    browser.js("var s=document.getElementById('sort'); s.value='input'; s.dispatchEvent(new Event('change'))")
    # the README's screenshot: the same folder as an analyst scans it, every verdict withheld with its reason
    default = tmp_path / "default.html"
    r = CliRunner().invoke(app, ["scan", "examples/images", "-f", "html", "-o", str(default)])
    assert r.exit_code == 0, r.output
    assert [x["v"] for x in page_rows(default.read_text(encoding="utf-8"))] == ["inconclusive"] * 6
    browser.goto(default.as_uri())
    assert browser.js("document.getElementById('count-inconclusive').textContent") == "6"
    shot = browser.screenshot(tmp_path / "report.png", full_page=True)
    img = Image.open(shot)
    assert img.format == "PNG" and img.width >= 1000 and img.height > 1000
    # not blank: the page has text, bars and thumbnails in it
    assert len(img.convert("L").getcolors(1 << 16) or []) > 50
    target = os.environ.get("SYNTHDETECT_SCREENSHOT_DIR")
    if target:
        dest = Path(target) / "report-screenshot.png"
        img.convert("RGB").quantize(colors=128).save(dest, optimize=True)


def test_hostile_names_stay_text_in_the_browser(browser, tmp_path):
    from .test_report_html import HOSTILE, _hostile_run

    head, records, summary = _hostile_run()
    page = tmp_path / "hostile.html"
    page.write_text(render_html(head, records, summary), encoding="utf-8")
    browser.goto(page.as_uri())
    assert browser.js("window.__pwned === undefined")
    assert browser.js(ROWS) == len(records)
    paths = browser.js("Array.from(document.querySelectorAll('#rows .path')).map(e => e.textContent)")
    assert paths[0] == "/case/" + HOSTILE[0] + ".jpg" and paths[1] == "/case/" + HOSTILE[1] + ".jpg"
    assert browser.js("document.querySelectorAll('#rows b b, #rows .path *').length") == 0
    assert browser.js("document.querySelectorAll('script').length") == 2


def test_5000_images_load_fast_and_render_progressively(browser, tmp_path):
    head, records, summary = fake_run(5000)
    thumbs = example_thumbnails()
    page = tmp_path / "big.html"
    page.write_text(render_html(head, records, summary,
                                thumbnails=[thumbs[i % len(thumbs)] for i in range(len(records))]), encoding="utf-8")
    secs = browser.goto(page.as_uri())
    print(f"\n5000-image report ({page.stat().st_size / 1e6:.1f} MB) loaded in {secs:.2f} s")
    assert secs < 20, f"5000-image report took {secs:.1f} s to load"
    assert browser.js(ROWS) == PAGE  # only the first page of rows is in the DOM
    assert browser.js("document.getElementById('shown').textContent") == "5000 of 5000 images"
    browser.js("window.scrollTo(0, document.body.scrollHeight)")
    browser.js("new Promise(r => setTimeout(r, 300))")
    assert browser.js(ROWS) > PAGE  # scrolling renders more
    n_err = sum(1 for r in records if r.get("error"))
    browser.js("document.getElementById('filter-error').click()")
    assert browser.js(ROWS) == n_err and set(_rows_verdicts(browser)) == {"error"}
    browser.js("var q=document.getElementById('q'); q.value='IMG_04999'; q.dispatchEvent(new Event('input'))")
    browser.js("document.getElementById('filter-all').click()")
    assert browser.js(ROWS) == 1
    assert browser.js("document.querySelector('#rows .path').textContent") == "/case/04/IMG_04999.jpg"
    assert browser.console_errors() == []

