import csv
import io
import json

import pytest

from synthdetect.cards import Registry
from synthdetect.output.text import (
    MEDIAEVAL_COLUMNS,
    SCHEMA_VERSION,
    csv_columns,
    csv_row,
    header,
    provenance_short,
    summary_lines,
)
from synthdetect.scan.pipeline import Summary, error_record, resolve_plan
from synthdetect.output.writers import write


pytestmark = pytest.mark.usefixtures("isolated_registry")


def _rec(path, p, verdict, thr=0.5, method="none", source="detectors", prov=None):
    r = {
        "path": path, "format": "PNG", "width": 10, "height": 12, "bytes": 100, "sha256": "ab" * 32,
        "models": {"bright": {"probability": p, "threshold": thr, "verdict": verdict}},
        "ensemble": {"method": method, "score": p, "threshold": thr, "verdict": verdict, "tie": False},
        "verdict": verdict, "verdict_source": source, "error": None,
    }
    if prov is not None:
        r["provenance"] = prov
    return r


@pytest.fixture
def head(models_dir):
    plan = resolve_plan(Registry([models_dir]), ["bright"])
    return header(plan, [], {"device": "cpu"})


def _summary(recs):
    s = Summary()
    for r in recs:
        s.add(r)
    s.elapsed_s = 2.0
    return s.to_dict()


def test_header(head, models_dir):
    assert head["schema_version"] == SCHEMA_VERSION
    assert head["models"][0]["name"] == "bright" and len(head["models"][0]["sha256"]) == 64
    assert head["ensemble"]["method"] == "none"


def test_summary_counts_and_rate():
    recs = [_rec("a.png", 0.9, "synthetic"), _rec("b.png", 0.1, "real"), error_record("c.png", "empty file (0 bytes)")]
    s = _summary(recs)
    assert s["verdicts"] == {"real": 1, "synthetic": 1, "inconclusive": 0}
    assert s["errors"] == 1 and s["scanned"] == 2 and s["images_per_s"] == 1.0
    lines = summary_lines({**s, "skipped_non_image": 3})
    assert lines[0] == "3 inputs: 1 synthetic, 1 real, 0 inconclusive, 1 errors"
    assert "skipped 3 non-image files in directory walks" in lines


def test_summary_counts_the_quality_gates_failed_and_lifted():
    """Per gate, the images it withheld and the images it was lifted for (the cards' calibration
    covers them): in the summary record, the text footer and the HTML report."""
    from synthdetect.output.html import _summary_html

    gated = {**_rec("a.jpg", 0.5, "inconclusive"), "quality": {"failed": [{"gate": "blurred_or_upscaled"}]}}
    lifted = {**_rec("b.jpg", 0.1, "real"), "quality": {"failed": [], "recompressed_calibrated": True,
                                                        "blurred_or_upscaled_calibrated": True}}
    both = {**_rec("c.jpg", 0.9, "inconclusive"), "quality": {"failed": [{"gate": "composite"}],
                                                              "recompressed_calibrated": True}}
    s = _summary([gated, lifted, both])
    assert s["quality_gates"] == {"failed": {"blurred_or_upscaled": 1, "composite": 1},
                                  "lifted": {"recompressed": 2, "blurred_or_upscaled": 1}}
    lines = summary_lines(s)
    assert "quality gates failed: blurred_or_upscaled 1, composite 1 (detector verdicts withheld)" in lines
    assert ("quality gates lifted (the models were calibrated on images like these): blurred_or_upscaled 1, "
            "recompressed 2") in lines
    html = _summary_html({}, s, {"synthetic": 0, "real": 1, "inconclusive": 2, "error": 0}, {})
    assert "quality gates lifted (the models were calibrated on images like these)" in html
    plain = _summary([_rec("d.png", 0.1, "real")])
    assert "quality_gates" not in plain and not any("quality gates" in ln for ln in summary_lines(plain))
    assert summary_lines({**plain, "quality_gates": "garbage"}) == summary_lines(plain)  # a malformed file: no line


def test_csv_rows(head):
    cols = csv_columns(["bright"])
    assert cols[:4] == MEDIAEVAL_COLUMNS and "bright_prob" in cols
    row = csv_row(_rec("/x/img_01.png", 0.75, "synthetic"), ["bright"])
    assert (row["image_id"], row["prob"], row["label"], row["threshold"]) == ("img_01", "0.750000", 1, 0.5)
    row = csv_row(_rec("/x/b.png", 0.2, "real"), ["bright"])
    assert row["label"] == 0
    # provenance decides the label even when detectors said real
    row = csv_row(_rec("/x/c.png", 0.2, "synthetic", source="provenance"), ["bright"])
    assert row["label"] == 1 and row["prob"] == "0.200000"
    row = csv_row(error_record("/x/d.png", "truncated file"), ["bright"])
    assert row["prob"] == "" and row["label"] == "" and row["error"] == "truncated file"
    assert row["why"] == row["gates"] == row["error_rate"] == ""


def test_csv_says_why_and_the_rate():
    """The CSV explains each verdict as the table does (why, the failed gates by name) and gives a
    definite verdict's calibrated rate as numbers; the columns come after the older ones."""
    cols = csv_columns(["bright"])
    assert cols[-5:] == ["why", "gates", "error_rate_kind", "error_rate", "error_rate_upper95"]
    assert cols.index("error") < cols.index("why")
    rate = {"kind": "false_alarm", "k": 5, "n": 115, "rate": 5 / 115, "upper95": 0.0988, "text": "..."}
    row = csv_row({**_rec("/x/a.png", 0.9, "synthetic"), "error_rate": rate}, ["bright"])
    assert (row["error_rate_kind"], row["error_rate"], row["error_rate_upper95"]) == ("false_alarm", "0.0435", "0.0988")
    assert row["why"] == "false alarms 4.3 % (≤ 9.9 %) on calibration" and row["gates"] == "" and row["condition"] == ""
    assert cols.index("error") < cols.index("condition") < cols.index("why")
    bound = {**_rec("/x/a.png", 0.9, "synthetic"), "condition": "720q90", "condition_bound": ["720q90", "720q80"],
             "error_rate": {**rate, "condition": "720q90", "conditions": ["720q90", "720q80"]}}
    row = csv_row(bound, ["bright"])
    assert row["condition"] == "720q90 / 720q80"
    assert row["why"] == "false alarms 4.3 % (≤ 9.9 %) on calibration (720q90, 720q80 copies, the worst)"
    assert csv_row({**bound, "condition_bound": None, "error_rate": {**rate, "condition": "720q90"}},
                   ["bright"])["why"].endswith("on calibration (720q90 copies)")
    blur = {"gate": "blurred_or_upscaled", "value": 0.12, "threshold": 0.25, "reason": "The image is blurred."}
    domain = "outside_calibration_domain: this image lies farther from the detectors' calibration images"
    gated = {**_rec("/x/b.png", 0.9, "inconclusive"), "detector_verdict": "synthetic",
             "quality": {"failed": [blur, {"gate": "recompressed", "value": 70, "threshold": 85, "reason": "q"}]},
             "reasons": ["The image is blurred.", "q", domain], "error_rate": None}
    row = csv_row(gated, ["bright"])
    assert row["gates"] == "blurred_or_upscaled;recompressed" and row["error_rate"] == row["error_rate_kind"] == ""
    # the gates' short texts, then any other reason (here the domain check's), none dropped
    assert row["why"] == ("blurred or upscaled (fine detail 0.12 < 0.25); heavily recompressed (JPEG quality 70 < 85); "
                          + domain)
    between = {**_rec("/x/c.png", 0.7, "inconclusive"),
               "reasons": ["score between the calibrated 'real' and 'synthetic' thresholds"]}
    assert csv_row(between, ["bright"])["why"] == "score between the calibrated 'real' and 'synthetic' thresholds"
    # inconclusive by its score *and* gated: the gate is named too (it is why the score means little)
    small = {"gate": "below_calibrated_size", "value": 300, "threshold": 720, "reason": "small"}
    both = {**between, "quality": {"failed": [small]}}
    assert csv_row(both, ["bright"])["why"] == ("smaller than measured (300 px < 720 px); "
                                               "score between the calibrated 'real' and 'synthetic' thresholds")
    odd = {**between, "quality": {"failed": [{"gate": "new_gate"}, "garbage"]}}  # a results file from elsewhere
    assert csv_row(odd, ["bright"])["why"].startswith("new_gate; score between")
    assert csv_row({**between, "quality": "garbage"}, ["bright"])["why"].startswith("score between")


def render_to_string(fmt, head, records, summary) -> str:
    buf = io.StringIO()
    write(fmt, buf, head, records, summary, color=False)
    return buf.getvalue()


def test_render_all_formats(head):
    recs = [_rec("a.png", 0.9, "synthetic", prov={"ai_evidence": ["C2PA: trainedAlgorithmicMedia"], "verdict_hint": "synthetic"}),
            error_record("b.png", "not a recognised image format")]
    s = _summary(recs)
    doc = json.loads(render_to_string("json", head, recs, s))
    assert doc["results"] == recs and doc["summary"] == s
    lines = render_to_string("jsonl", head, recs, s).splitlines()
    assert json.loads(lines[0])["type"] == "header" and json.loads(lines[-1])["type"] == "summary"
    rows = list(csv.DictReader(io.StringIO(render_to_string("csv", head, recs, s))))
    assert len(rows) == 2 and rows[0]["provenance"] == "C2PA: trainedAlgorithmicMedia"
    table = render_to_string("table", head, recs, s)
    assert "C2PA: trainedAlgorithmicMedia" in table and "not a recognised image format" in table
    assert "1 synthetic" in table
    with pytest.raises(ValueError):
        render_to_string("xml", head, recs, s)


def test_provenance_short():
    assert provenance_short({"provenance": {"ai_evidence": ["a", "b", "c"]}}) == "a (+2)"
    assert provenance_short({"provenance": {"ai_evidence": []}}) == ""
    assert provenance_short({}) == ""


def test_csv_file_name_with_a_bare_carriage_return_stays_one_row():
    """A name holding '\\r' (legal on POSIX) split its row in two for csv readers: the score and the
    verdict landed in the wrong columns."""
    from synthdetect.output.text import write_csv

    recs = [_rec("ok.png", 0.2, "real"), _rec("evil\rname.png", 0.9, "synthetic"),
            _rec('a,"b"\nc.png', 0.4, "real")]
    buf = io.StringIO()
    write_csv(buf, ["bright"], recs)
    rows = list(csv.DictReader(io.StringIO(buf.getvalue(), newline="")))
    assert [r["path"] for r in rows] == ["ok.png", "evil\rname.png", 'a,"b"\nc.png']
    assert [r["verdict"] for r in rows] == ["real", "synthetic", "real"]
