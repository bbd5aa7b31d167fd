"""The HTML case report: one self-contained file that opens offline.

Built from the same ``header`` + records + ``summary`` as every other format (see
``synthdetect.output.text``), so ``synthdetect report results.jsonl`` and
``synthdetect scan --format html`` give the same page.

* The summary (counts, models with SHA-256, thresholds, measured error rates, tool
  version, command line, times) is plain HTML, readable without JavaScript.
* The per-image rows live in one embedded JSON blob and are rendered by a small
  inline script in pages of ``PAGE`` rows as the reader scrolls (all of them before
  printing), so 5,000 images stay usable.  Sorting and filtering by verdict / text run
  in the page; no server, no external script, font, style sheet or image.
* Thumbnails are small JPEG data URIs (``THUMB_PX`` max side, quality ``THUMB_QUALITY``)
  made from the *decoded* image, never from the evidence bytes.  For a report made
  later from JSONL, a file is re-read (read-only) and its thumbnail shown only when its
  SHA-256 still matches the record; otherwise the row says "file changed".
* Every string reaches the page escaped: ``html.escape`` for the static part, JSON with
  ``<``, ``>``, ``&`` and non-ASCII escaped for the blob, ``textContent`` in the script.
  Unknown record fields are ignored; missing ones are shown as empty.

Only the standard library at import time; Pillow is imported for thumbnails only.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Sequence, TextIO

THUMB_PX = 96
THUMB_QUALITY = 70
PAGE = 200  # rows rendered per scroll step

VERDICTS = ("synthetic", "inconclusive", "real", "error")

# thumbnail states when there is no picture
NOTE_CHANGED = "file changed since the scan (SHA-256 differs): no thumbnail"
NOTE_MISSING = "file not found: no thumbnail"
NOTE_UNREADABLE = "file could not be decoded: no thumbnail"


# --------------------------------------------------------------------------- thumbnails


def thumbnail_data_uri(img: Any, px: int = THUMB_PX, quality: int = THUMB_QUALITY) -> str:
    """A ``data:image/jpeg;base64,...`` thumbnail of a decoded RGB ``PIL.Image`` (not modified)."""
    from PIL import Image

    w, h = img.size
    s = min(1.0, px / max(w, h, 1))
    size = (max(1, round(w * s)), max(1, round(h * s)))
    small = img.resize(size, Image.Resampling.BICUBIC, reducing_gap=2.0) if s < 1.0 else img.copy()
    if small.mode != "RGB":
        small = small.convert("RGB")
    buf = io.BytesIO()
    small.save(buf, "JPEG", quality=quality, optimize=True)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def record_paths(rec: dict[str, Any], base_dirs: Sequence[Path] = ()) -> list[Path]:
    """Where a record's file may be: its path (a name that was not UTF-8 as its bytes first, from the
    records' ``\\udcNN`` escapes), then (a relative one) under each of ``base_dirs``."""
    from ..inputs.discovery import undisplay_path

    path = rec.get("path")
    if not isinstance(path, str) or not path:
        return []
    names = list(dict.fromkeys([undisplay_path(path), path]))
    return [Path(n) for n in names] + [Path(b) / n for n in names for b in base_dirs if not Path(n).is_absolute()]


def thumbnail_for_record(rec: dict[str, Any], base_dirs: Sequence[Path] = ()) -> tuple[str | None, str | None]:
    """Re-open a recorded file read-only: (data URI, None) when its SHA-256 still matches, else (None, note)."""
    from ..inputs.decoding import DecodeError, decode_pixels, read_bytes

    import hashlib

    want = rec.get("sha256")
    if not want or rec.get("error"):
        return None, None
    # the first name that exists, whatever it is: a FIFO or directory is "could not be read", not "not found"
    p = next((c for c in record_paths(rec, base_dirs) if os.path.lexists(c)), None)
    if p is None:
        return None, NOTE_MISSING
    try:
        data = read_bytes(p)
    except DecodeError as e:
        return None, NOTE_MISSING if str(e) == "no such file" else f"file could not be read ({e}): no thumbnail"
    if hashlib.sha256(data).hexdigest() != want:
        return None, NOTE_CHANGED
    try:
        img = decode_pixels(data)[0]
        try:
            return thumbnail_data_uri(img), None
        finally:
            img.close()
    except Exception:
        return None, NOTE_UNREADABLE


def thumbnails_for_records(records: Sequence[dict[str, Any]], base_dirs: Sequence[Path] = (),
                           workers: int | None = None) -> tuple[list[str | None], list[str | None]]:
    """Thumbnails for a report made from saved results (a small thread pool; Pillow releases the GIL)."""
    from ..inputs.decoding import init_codecs
    from ..inputs.pool import bounded_map

    init_codecs()
    pairs = list(bounded_map(lambda r: thumbnail_for_record(r, base_dirs), records, workers=workers,
                             name="synthdetect-thumbnails"))
    return [p[0] for p in pairs], [p[1] for p in pairs]


# --------------------------------------------------------------------------- data


def _s(v: Any) -> str:
    """Any value as text that can be written as UTF-8 (lone surrogates from odd file names escaped)."""
    if v is None:
        return ""
    if isinstance(v, (dict, list, tuple)):
        v = json.dumps(v, ensure_ascii=False, default=str)
    elif not isinstance(v, str):
        v = str(v)
    return v.encode("utf-8", "backslashreplace").decode("utf-8")


def _e(v: Any) -> str:
    return html.escape(_s(v), quote=True)


def _num(v: Any) -> float | None:
    """A finite number, else None (NaN/inf from a broken model must not break the page's JSON)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        return None
    return float(v)


def _texts(v: Any) -> list[str]:
    """A field that may be a string, a list of strings/objects, or an object -> list of display strings."""
    if v is None or v == "" or v == [] or v == {}:
        return []
    if isinstance(v, str):
        return [_s(v)]
    if isinstance(v, (list, tuple)):
        out: list[str] = []
        for x in v:
            out.extend(_texts(x) if isinstance(x, (list, tuple)) else [_s(x)])
        return [x for x in out if x]
    if isinstance(v, dict):
        if isinstance(v.get("text"), str):  # a calibrated error rate says itself in one sentence
            return [_s(v["text"])]
        if isinstance(v.get("failed"), list):  # quality gates: the named reasons
            return [_s(g.get("reason") or g.get("gate")) for g in v["failed"] if isinstance(g, dict)]
        return [f"{_s(k)}: {_s(x)}" for k, x in v.items() if x not in (None, "", [], {})]
    return [_s(v)]


def row_verdict(rec: dict[str, Any]) -> str:
    if rec.get("error"):
        return "error"
    v = rec.get("verdict")
    return v if v in ("synthetic", "real", "inconclusive") else "error" if v is None else _s(v)


def _reasons(rec: dict[str, Any]) -> list[str]:
    ens = rec.get("ensemble") if isinstance(rec.get("ensemble"), dict) else {}
    out: list[str] = []
    for v in (rec.get("reasons"), rec.get("reason"), ens.get("reasons"), ens.get("reason")):
        for t in _texts(v):
            if t not in out:
                out.append(t)
    if not out and ens.get("tie"):
        out.append("tie: the members' votes split evenly")
    return out


def _provenance(rec: dict[str, Any]) -> dict[str, Any]:
    prov = rec.get("provenance")
    if not isinstance(prov, dict):
        return {}
    out: dict[str, Any] = {}
    if prov.get("error"):
        out["error"] = _s(prov["error"])
    for key, name in (("ai_evidence", "ai"), ("software_generator", "software"),
                      ("camera_evidence", "camera"), ("notes", "notes")):
        t = _texts(prov.get(key))
        if t:
            out[name] = t
    return out


def row(rec: dict[str, Any], index: int, thumb: str | None = None, note: str | None = None) -> dict[str, Any]:
    """The compact per-image object the page script renders (unknown record keys are ignored)."""
    models = rec.get("models") if isinstance(rec.get("models"), dict) else {}
    members = []
    for name, m in models.items():
        m = m if isinstance(m, dict) else {}
        members.append([_s(name), _num(m.get("probability")), _num(m.get("threshold")), _s(m.get("verdict"))])
    ens = rec.get("ensemble") if isinstance(rec.get("ensemble"), dict) else None
    e = None
    if ens is not None:
        e = {"method": _s(ens.get("method")), "score": _num(ens.get("score")),
             "thr": _num(ens.get("threshold")), "verdict": _s(ens.get("verdict")), "tie": bool(ens.get("tie"))}
    score = e["score"] if e and e["score"] is not None else (members[0][1] if len(members) == 1 else None)
    r: dict[str, Any] = {
        "i": index,
        "path": _s(rec.get("path")),
        "sha256": _s(rec.get("sha256")),
        "fmt": _s(rec.get("format")),
        "w": rec.get("width") if isinstance(rec.get("width"), int) else None,
        "h": rec.get("height") if isinstance(rec.get("height"), int) else None,
        "bytes": rec.get("bytes") if isinstance(rec.get("bytes"), int) else None,
        "v": row_verdict(rec),
        "src": _s(rec.get("verdict_source")),
        "m": members,
        "e": e,
        "score": score,
    }
    from .text import calibration_note

    reasons = _reasons(rec)
    quality = [t for t in _texts(rec.get("quality")) if t not in reasons]  # a gate's reason is shown once
    for key, val in (("reasons", reasons), ("evidence", _texts(rec.get("evidence"))),
                     ("error_rate", _texts(rec.get("error_rate"))), ("quality", quality),
                     ("prov", _provenance(rec)), ("error", _s(rec.get("error"))),
                     ("cal", [t for t in [calibration_note(rec)] if t])):
        if val:
            r[key] = val
    if thumb:
        r["t"] = thumb
    elif note:
        r["tn"] = note
    return r


def _blob(obj: Any) -> str:
    """JSON safe inside <script>: ASCII only, and no '<', '>' or '&' that could end the element."""
    s = json.dumps(obj, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
    return s.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


# --------------------------------------------------------------------------- static part


def _fmt(v: Any, nd: int = 4) -> str:
    f = _num(v)
    return "" if f is None else f"{f:.{nd}g}"


def _rates(er: Any) -> str:
    """Header ``error_rates`` (``report.error_rates``) or any text the record schema puts there."""
    if not isinstance(er, dict):
        return _e("; ".join(_texts(er)))
    if isinstance(er.get("text"), str):
        return _e(er["text"])
    parts = []
    if er.get("false_positive_rate") is not None:
        parts.append(f"false alarms on real photos {100 * er['false_positive_rate']:.1f} %")
    if er.get("false_negative_rate") is not None:
        parts.append(f"synthetic images missed {100 * er['false_negative_rate']:.1f} %")
    if not parts:
        return _e("; ".join(_texts(er)))
    where = f" (at threshold {_fmt(er.get('threshold'))}, measured on {_s(er.get('measured_on'))}"
    where += f", n = {er['n']})" if er.get("n") else ")"
    return _e(", ".join(parts) + where)


def _command(v: Any) -> str:
    if isinstance(v, (list, tuple)):
        import shlex

        return shlex.join(_s(x) for x in v)
    return _s(v)


def _images_tested(g: dict[str, Any], t: dict[str, Any]) -> str:
    """The group's images, and how many the test used when fewer (copies of one picture count
    once; a large group is sampled)."""
    if t.get("n_tested") is not None:
        return f"{g.get('n')} ({t['n_tested']} tested)"
    if t.get("n_distinct") is not None:
        return f"{g.get('n')} ({t['n_distinct']} distinct)"
    return str(g.get("n"))


def _domain_html(dom: Any) -> str:
    """The batch domain check: one row per group (statistic, p-value, n, decision) and the way out."""
    if not isinstance(dom, dict):
        return ""
    from ..scan.domain_check import WAY_OUT
    from .text import untested_sentence

    untested = f'<p class="notes">{_e(untested_sentence(dom))}.</p>' if dom.get("withheld_untested") else ""
    if dom.get("available") is False:
        return f'<h3 id="domain">Calibration domain</h3><p class="notes">{_e(dom.get("note"))}</p>{untested}'
    rows = []
    for g in dom.get("groups") or []:
        for t in g.get("tests") or [{}]:
            rows.append("<tr>" + "".join(f"<td>{_e(v)}</td>" for v in (
                g.get("group"), t.get("model", ""), _images_tested(g, t), _fmt(t.get("statistic"), 3),
                _fmt(t.get("p_value"), 3), g.get("decision"))) + "</tr>")
    out = [f'<h3 id="domain">Calibration domain (--domain-check {_e(dom.get("mode"))})</h3>',
           '<table class="meta"><thead><tr><th>group</th><th>reference</th><th>images</th>'
           '<th>two-sample ROC-AUC</th><th>p-value</th><th>decision</th></tr></thead><tbody>',
           *rows, "</tbody></table>"]
    if dom.get("out_of_domain"):
        from .text import all_in_domain_for_some, in_domain_sentences

        way_out = "" if all_in_domain_for_some(dom) else f" To judge them, {_e(WAY_OUT)}."
        out.append(f'<p class="notes">{_e(dom["out_of_domain"])} images lie outside the calibration domain: '
                   f'the stated error rates do not apply to them.{way_out}</p>')
        out += [f'<p class="notes">{_e(alone)}.</p>' for alone in in_domain_sentences(dom)]
    from .text import borderline_sentences

    out += [f'<p class="notes">{_e(b)}.</p>' for b in borderline_sentences(dom)]
    if dom.get("beyond_calibration_images"):
        from .text import beyond_sentence

        out.append(f'<p class="notes">{_e(beyond_sentence(dom))}.</p>')
    out.append(untested)
    return "".join(out)


def _count_cards_html(summary: dict[str, Any], counts: dict[str, int]) -> str:
    """One card per count: images, each verdict, errors (the summary's, else the records' counts)."""
    v = summary.get("verdicts") if isinstance(summary.get("verdicts"), dict) else {}
    cells = [("images", summary.get("inputs", sum(counts.values()))),
             ("synthetic", v.get("synthetic", counts["synthetic"])),
             ("inconclusive", v.get("inconclusive", counts["inconclusive"])),
             ("real", v.get("real", counts["real"])),
             ("errors", summary.get("errors", counts["error"]))]
    out = ['<div class="cards">']
    for name, n in cells:
        cls = {"images": "all", "errors": "error"}.get(name, name)
        out.append(f'<div class="card c-{cls}"><span class="n" id="count-{cls}">{_e(n)}</span>'
                   f'<span class="l">{_e(name)}</span></div>')
    out.append("</div>")
    return "".join(out)


def _notes_html(summary: dict[str, Any]) -> str:
    """The scan's notes (provenance verdicts, skipped files, loops, speed, quality gates); "" without any."""
    extra = []
    if summary.get("provenance_overrides"):
        extra.append(f"{_e(summary['provenance_overrides'])} verdicts decided by provenance metadata "
                     "(C2PA / XMP / generator tags)")
    if summary.get("skipped_non_image"):
        extra.append(f"{_e(summary['skipped_non_image'])} non-image files skipped in directory walks")
    if summary.get("symlink_loops"):
        extra.append(f"{_e(summary['symlink_loops'])} directory symlink loops ignored")
    if summary.get("elapsed_s") is not None:
        extra.append(f"scan took {_e(summary.get('elapsed_s'))} s ({_e(summary.get('images_per_s'))} images/s)")
    from .text import calibration_lines, condition_lines, gate_lines

    extra += [_e(line) for line in condition_lines(summary) + gate_lines(summary.get("quality_gates"))
              + calibration_lines(summary)]
    if not extra:
        return ""
    return "<ul class=\"notes\">" + "".join(f"<li>{x}</li>" for x in extra) + "</ul>"


def _models_html(models: Any) -> str:
    """The detectors table: name, SHA-256, architecture, threshold, weight, measured error rates."""
    out = ['<h3>Detectors</h3><table class="meta"><thead><tr><th>model</th><th>SHA-256 of the ONNX file</th>'
           '<th>architecture</th><th>threshold</th><th>vote weight</th><th>measured error rates</th></tr></thead><tbody>']
    for m in models or []:
        if not isinstance(m, dict):
            continue
        out.append(f"<tr><td>{_e(m.get('name'))}</td><td class=\"hash\">{_e(m.get('sha256'))}</td>"
                   f"<td>{_e(m.get('architecture'))}</td><td>{_e(_fmt(m.get('threshold')))}</td>"
                   f"<td>{_e(_fmt(m.get('weight'), 3))}</td><td>{_rates(m.get('error_rates'))}</td></tr>")
    out.append("</tbody></table>")
    from .text import model_warning_lines

    warned = model_warning_lines(models)
    if warned:
        out.append('<ul class="notes">' + "".join(f"<li>{_e(line)}</li>" for line in warned) + "</ul>")
    return "".join(out)


def _ensemble_html(ens: dict[str, Any]) -> str:
    """How the members are combined into the verdict; "" without an ensemble (method ``none``)."""
    if not ens.get("method") or ens.get("method") == "none":
        return ""
    name = f" '{_s(ens.get('name'))}'" if ens.get("name") else ""
    kind = "mean of the probabilities" if ens.get("method") == "mean" else "vote"
    real = (f", real below {_e(_fmt(ens.get('threshold_real')))}, inconclusive between"
            if _num(ens.get("threshold_real")) is not None and _num(ens.get("threshold_real")) < _num(ens.get("threshold"))
            else "")
    return (f"<p>Ensemble{_e(name)}: <b>{_e(ens.get('method'))}</b> {kind} of "
            f"{_e(', '.join(map(_s, ens.get('members') or [])))}; synthetic when the score ≥ "
            f"{_e(_fmt(ens.get('threshold')))}{real}"
            + (f", inconclusive within ±{_e(_fmt(ens.get('inconclusive_margin')))}"
               if _num(ens.get("inconclusive_margin")) else "")
            + (f". Measured error rates: {_rates(ens.get('error_rates'))}" if ens.get("error_rates") else "")
            + ".</p>")


def _run_html(head: dict[str, Any], meta: dict[str, Any]) -> str:
    """The run table: tool, schema, command line, times, options, who wrote the report and from what."""
    tool = head.get("tool") if isinstance(head.get("tool"), dict) else {}
    opts = head.get("options") if isinstance(head.get("options"), dict) else {}
    run = [("tool", f"{_s(tool.get('name') or 'synthdetect')} {_s(tool.get('version'))}"),
           ("schema version", head.get("schema_version")),
           ("command line", _command(head.get("command"))),
           ("scan started", head.get("created")),
           ("options", ", ".join(f"{_s(k)}={_s(x)}" for k, x in opts.items())),
           ("report written", meta.get("rendered")),
           ("report written by", meta.get("renderer"))]
    if meta.get("source"):
        run.append(("made from", meta["source"]))
    out = ['<h3>Run</h3><table class="meta kv"><tbody>']
    for k, x in run:
        if x not in (None, ""):
            out.append(f"<tr><th>{_e(k)}</th><td>{_e(x)}</td></tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _summary_html(head: dict[str, Any], summary: dict[str, Any], counts: dict[str, int],
                  meta: dict[str, Any]) -> str:
    """The summary section: counts, notes, the domain check, detectors, ensemble, run, caveat."""
    ens = head.get("ensemble") if isinstance(head.get("ensemble"), dict) else {}
    return "".join([
        '<section id="summary"><h2>Summary</h2>',
        _count_cards_html(summary, counts),
        _notes_html(summary),
        _domain_html(summary.get("domain")),
        _models_html(head.get("models")),
        _ensemble_html(ens),
        _run_html(head, meta),
        '<p class="caveat">Scores are the detectors\' probability that an image is synthetic. '
        "A detector is evidence, not proof: read every verdict with the error rates above. "
        "Evidence files were opened read-only; thumbnails are re-encoded copies of the decoded image, "
        "not the evidence.</p></section>",
    ])


_CSS = """
:root{--syn:#b3261e;--real:#1e6b34;--inc:#a06100;--err:#6b3fa0;--mut:#666;}
*{box-sizing:border-box}
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;margin:0 auto;padding:16px 20px;max-width:1400px;color:#111;background:#fff}
h1{font-size:20px;margin:0 0 4px}h2{font-size:17px;margin:18px 0 8px}h3{font-size:15px;margin:14px 0 6px}
.cards{display:flex;gap:10px;flex-wrap:wrap}
.card{border:1px solid #ccc;border-radius:6px;padding:6px 14px;min-width:92px;text-align:center}
.card .n{display:block;font-size:22px;font-weight:700}.card .l{color:var(--mut)}
.c-synthetic .n{color:var(--syn)}.c-real .n{color:var(--real)}.c-inconclusive .n{color:var(--inc)}.c-error .n{color:var(--err)}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;vertical-align:top;padding:4px 6px;border-bottom:1px solid #e3e3e3}
table.meta{font-size:13px}table.kv th{width:150px;color:var(--mut);font-weight:600}
.hash,.path{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px;word-break:break-all}
.notes{margin:6px 0;padding-left:18px;color:#333}.caveat{color:var(--mut);font-size:12px}
#controls{position:sticky;top:0;background:#fff;padding:8px 0;border-bottom:1px solid #ccc;display:flex;gap:8px;flex-wrap:wrap;align-items:center;z-index:2}
#controls button{border:1px solid #999;background:#f6f6f6;border-radius:14px;padding:3px 12px;cursor:pointer;font:inherit}
#controls button.on{background:#222;color:#fff;border-color:#222}
#controls input{flex:1;min-width:180px;padding:3px 6px;font:inherit}
#shown{color:var(--mut)}
#rows td.th{width:112px}
#rows img{display:block;max-width:96px;max-height:96px;border:1px solid #ddd}
.nothumb{width:96px;font-size:11px;color:var(--mut)}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;color:#fff;font-weight:600;font-size:12px}
.b-synthetic{background:var(--syn)}.b-real{background:var(--real)}.b-inconclusive{background:var(--inc)}.b-error{background:var(--err)}
.bars{display:grid;grid-template-columns:auto 140px auto;gap:2px 8px;align-items:center;font-size:12px}
.bars span,.bars b{white-space:nowrap}
.bar{position:relative;height:10px;background:#eee;border-radius:2px}
.bar .f{position:absolute;left:0;top:0;bottom:0;border-radius:2px}
.bar .f.hi{background:var(--syn)}.bar .f.lo{background:var(--real)}.bar .f.mid{background:var(--inc)}
.bar .t{position:absolute;top:-3px;bottom:-3px;width:2px;background:#000}
.small{font-size:12px;color:#333}.small li{margin:0}.small ul{margin:2px 0;padding-left:16px}
.err{color:var(--err);font-weight:600}
#more{padding:12px;color:var(--mut);text-align:center}
@media print{#controls,#more{display:none}#rows img{max-width:72px}}
"""

# The page script.  It only ever sets textContent / attributes, never innerHTML.
_JS = r"""
(function(){
"use strict";
var D=JSON.parse(document.getElementById("sd-data").textContent);
var R=D.rows, PAGE=D.page, ORDER={synthetic:0,inconclusive:1,real:2,error:3};
var state={f:"all",sort:"input",q:""}, view=[], shown=0;
var tbody=document.querySelector("#rows tbody"), more=document.getElementById("more");
function el(tag,cls,text){var e=document.createElement(tag);if(cls)e.className=cls;if(text!=null)e.textContent=String(text);return e;}
function num(x,n){return x==null?"":(+x).toFixed(n==null?4:n);}
function bar(p,t,v){var b=el("div","bar"),f=el("div","f");
  if(p!=null){f.style.width=Math.max(0,Math.min(100,p*100))+"%";
    f.className="f "+(v==="inconclusive"?"mid":v==="synthetic"||(!v&&t!=null&&p>=t)?"hi":"lo");}
  b.appendChild(f);if(t!=null){var m=el("div","t");m.style.left="calc("+Math.max(0,Math.min(100,t*100))+"% - 1px)";m.title="threshold "+t;b.appendChild(m);}
  return b;}
function list(title,items,cls){var d=el("div","small"+(cls?" "+cls:""));d.appendChild(el("b",null,title));var u=el("ul");
  items.forEach(function(x){u.appendChild(el("li",null,x));});d.appendChild(u);return d;}
function tr(r){
  var row=el("tr");row.dataset.verdict=r.v;if(r.score!=null)row.dataset.score=r.score;
  var c0=el("td","th");
  if(r.t){var im=el("img");im.loading="lazy";im.decoding="async";im.alt="thumbnail of "+r.path;im.src=r.t;c0.appendChild(im);}
  else c0.appendChild(el("div","nothumb",r.tn||"no thumbnail"));
  row.appendChild(c0);
  var c1=el("td");c1.appendChild(el("div","path",r.path));
  var meta=[];if(r.fmt)meta.push(r.fmt);if(r.w!=null)meta.push(r.w+"\u00d7"+r.h);if(r.bytes!=null)meta.push(r.bytes.toLocaleString("en")+" bytes");
  c1.appendChild(el("div","small",meta.join(" \u00b7 ")));
  if(r.sha256)c1.appendChild(el("div","hash","SHA-256 "+r.sha256));
  if(r.error)c1.appendChild(el("div","err","error: "+r.error));
  row.appendChild(c1);
  var c2=el("td");
  if(r.m.length){var g=el("div","bars");
    r.m.forEach(function(m){g.appendChild(el("span",null,m[0]));g.appendChild(bar(m[1],m[2],m[3]));
      g.appendChild(el("span",null,num(m[1])+(m[2]!=null?" / thr "+num(m[2],3):"")+(m[3]?" "+m[3]:"")));});
    if(r.e&&r.e.score!=null){g.appendChild(el("b",null,r.e.method));g.appendChild(bar(r.e.score,r.e.thr,r.e.verdict));
      g.appendChild(el("b",null,num(r.e.score)+(r.e.thr!=null?" / thr "+num(r.e.thr,3):"")+(r.e.tie?" (tie)":"")));}
    c2.appendChild(g);}
  row.appendChild(c2);
  var c3=el("td");c3.appendChild(el("span","badge b-"+(ORDER[r.v]!=null?r.v:"error"),r.v));
  if(r.src==="provenance")c3.appendChild(el("div","small","decided by provenance metadata"));
  if(r.e&&r.src==="provenance"&&r.e.verdict)c3.appendChild(el("div","small","detectors: "+r.e.verdict));
  if(r.reasons)c3.appendChild(list("why inconclusive",r.reasons));
  if(r.error_rate)c3.appendChild(list("error rate",r.error_rate));
  if(r.quality)c3.appendChild(list("quality",r.quality));
  if(r.cal)c3.appendChild(list("calibration image",r.cal));
  row.appendChild(c3);
  var c4=el("td"),p=r.prov||{};
  if(r.evidence)c4.appendChild(list("evidence",r.evidence));
  if(p.ai)c4.appendChild(list("AI provenance",p.ai));
  if(p.software)c4.appendChild(list("generator software",p.software));
  if(p.camera)c4.appendChild(list("camera metadata (weak)",p.camera));
  if(p.notes)c4.appendChild(list("notes",p.notes));
  if(p.error)c4.appendChild(el("div","err","provenance error: "+p.error));
  row.appendChild(c4);
  return row;}
function key(r){return state.sort==="score-desc"?-(r.score==null?-1:r.score):state.sort==="score-asc"?(r.score==null?2:r.score):0;}
function apply(){
  var q=state.q.toLowerCase();
  view=R.filter(function(r){return (state.f==="all"||r.v===state.f)&&(!q||r.path.toLowerCase().indexOf(q)>=0||r.sha256.indexOf(q)>=0);});
  if(state.sort==="path")view.sort(function(a,b){return a.path<b.path?-1:a.path>b.path?1:a.i-b.i;});
  else if(state.sort==="verdict")view.sort(function(a,b){return (ORDER[a.v]-ORDER[b.v])||(a.i-b.i);});
  else if(state.sort!=="input")view.sort(function(a,b){return (key(a)-key(b))||(a.i-b.i);});
  while(tbody.firstChild)tbody.removeChild(tbody.firstChild);
  shown=0;renderMore();
  document.getElementById("shown").textContent=view.length+" of "+R.length+" images";
  document.body.dataset.filter=state.f;}
function renderMore(all){
  var end=all?view.length:Math.min(view.length,shown+PAGE),frag=document.createDocumentFragment();
  for(var k=shown;k<end;k++)frag.appendChild(tr(view[k]));
  tbody.appendChild(frag);shown=end;
  more.textContent=shown<view.length?("showing "+shown+" of "+view.length+" \u2014 scroll for more"):"";
  more.style.display=shown<view.length?"":"none";}
Array.prototype.forEach.call(document.querySelectorAll("#controls button[data-filter]"),function(b){
  b.addEventListener("click",function(){state.f=b.dataset.filter;
    Array.prototype.forEach.call(document.querySelectorAll("#controls button[data-filter]"),function(x){x.classList.toggle("on",x===b);});
    apply();});});
document.getElementById("sort").addEventListener("change",function(e){state.sort=e.target.value;apply();});
document.getElementById("q").addEventListener("input",function(e){state.q=e.target.value;apply();});
more.addEventListener("click",function(){renderMore();});
if("IntersectionObserver" in window){new IntersectionObserver(function(es){if(es.some(function(x){return x.isIntersecting;}))renderMore();},{rootMargin:"800px"}).observe(more);}
window.addEventListener("beforeprint",function(){renderMore(true);});
document.getElementById("nojs").remove();
apply();
})();
"""


def render_html(head: dict[str, Any], records: Sequence[dict[str, Any]], summary: dict[str, Any], *,
                thumbnails: Sequence[str | None] | None = None, notes: Sequence[str | None] | None = None,
                meta: dict[str, Any] | None = None) -> str:
    """The whole page as a string.  ``thumbnails``/``notes`` run parallel to ``records``."""
    from .. import __version__

    meta = dict(meta or {})
    meta.setdefault("rendered", datetime.now(timezone.utc).isoformat(timespec="seconds"))
    meta.setdefault("renderer", f"synthdetect {__version__}")
    rows = []
    counts = {v: 0 for v in VERDICTS}
    for i, rec in enumerate(records):
        if not isinstance(rec, dict):
            continue
        t = thumbnails[i] if thumbnails is not None and i < len(thumbnails) else None
        n = notes[i] if notes is not None and i < len(notes) else None
        r = row(rec, i, t, n)
        counts[r["v"] if r["v"] in counts else "error"] += 1
        rows.append(r)
    title = f"synthdetect report: {len(rows)} images"
    buttons = [("all", "all", len(rows))] + [(v, v, counts[v]) for v in VERDICTS]
    btn_html = "".join(
        f'<button type="button" data-filter="{_e(f)}" id="filter-{_e(f)}"{" class=on" if f == "all" else ""}>'
        f'{_e(label)} <span class="k">{n}</span></button>' for f, label, n in buttons)
    return "".join([
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
        "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">",
        # no network at all: only inline style/script and data: images
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; "
        "style-src 'unsafe-inline'; script-src 'unsafe-inline'\">",
        f"<meta name=\"generator\" content=\"{_e(meta['renderer'])}\">",
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        _summary_html(head, summary, counts, meta),
        "<section id=\"images\"><h2>Images</h2>",
        "<p id=\"nojs\" class=\"err\">The per-image table needs JavaScript (inline, no network); "
        "the data is in the sd-data block of this file.</p>",
        f"<div id=\"controls\">{btn_html}<label>sort <select id=\"sort\">"
        "<option value=\"input\">scan order</option><option value=\"score-desc\">score, highest first</option>"
        "<option value=\"score-asc\">score, lowest first</option><option value=\"verdict\">verdict</option>"
        "<option value=\"path\">path</option></select></label>"
        "<input id=\"q\" type=\"search\" placeholder=\"filter by path or SHA-256\">"
        "<span id=\"shown\"></span></div>",
        "<table id=\"rows\"><thead><tr><th>thumbnail</th><th>file</th><th>scores (bar = probability, "
        "black mark = threshold)</th><th>verdict</th><th>provenance</th></tr></thead><tbody></tbody></table>",
        "<div id=\"more\"></div></section>",
        f"<script type=\"application/json\" id=\"sd-data\">{_blob({'page': PAGE, 'rows': rows})}</script>",
        f"<script>{_JS}</script></body></html>\n",
    ])


def write_html(out: TextIO, head: dict[str, Any], records: Sequence[dict[str, Any]], summary: dict[str, Any],
               **kw: Any) -> None:
    out.write(render_html(head, records, summary, **kw))


def page_rows(page: str) -> list[dict[str, Any]]:
    """The embedded per-image objects of a page written by :func:`render_html` (tests, tooling)."""
    start = page.index('id="sd-data">') + len('id="sd-data">')
    end = page.index("</script>", start)
    return json.loads(page[start:end])["rows"]


__all__ = ["render_html", "write_html", "thumbnail_data_uri", "thumbnail_for_record", "thumbnails_for_records",
           "row", "page_rows", "THUMB_PX", "THUMB_QUALITY", "PAGE"]
