"""Rendering scan results: table (humans), json / jsonl (scripts), csv (spreadsheets, MediaEval).

The formats themselves are listed in :mod:`synthdetect.output.writers` (one writer each); the
functions here produce their bytes.

The JSON schema is versioned by ``SCHEMA_VERSION`` and documented in docs/scan.md.
Bump the major number on any incompatible change (a field removed or renamed, a
type changed); adding fields is compatible.
"""

from __future__ import annotations

import csv
import json
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, TextIO

SCHEMA_VERSION = "1.0"
MEDIAEVAL_COLUMNS = ["image_id", "prob", "label", "threshold"]


def error_rates(card: Any, threshold: float | None) -> dict[str, Any] | None:
    """The card's measured error rates at ``threshold`` (the one the scan uses), or None.

    From the card's ``metrics`` entry that was measured at its calibrated threshold on a
    clean (not re-encoded) data set, preferring a holdout.  None when the scan runs at
    another threshold (``--threshold X``): the card's figures do not apply there.
    """
    metrics = getattr(card, "metrics", None)
    if not isinstance(metrics, dict) or threshold is None:
        return None
    keys = [k for k, m in metrics.items() if "[" not in k and isinstance(m, dict)
            and isinstance(m.get("at_calibrated_threshold"), dict)]
    keys.sort(key=lambda k: "holdout" not in k)
    for k in keys:
        m = metrics[k]
        at = m["at_calibrated_threshold"]
        thr, rec, fpr = at.get("threshold"), at.get("recall"), at.get("fpr_real")
        if thr is None or abs(float(thr) - float(threshold)) > 1e-9 or rec is None or fpr is None:
            continue
        return {"measured_on": k, "n": m.get("n"), "threshold": float(thr),
                "false_positive_rate": round(float(fpr), 4), "false_negative_rate": round(1.0 - float(rec), 4)}
    return None


def operating_rates(op: Any, measured_on: str) -> dict[str, Any]:
    """Header ``error_rates`` of a calibrated three-way operating point (``calibration.Operating``)."""
    fa, miss = op.false_alarm, op.miss
    text = (f"'synthetic' at >= {op.t_hi:.4g}: {fa.k}/{fa.n} calibration reals flagged ({100 * fa.value:.1f} %, "
            f"95 % upper bound {100 * fa.upper:.1f} %); 'real' below {op.t_lo:.4g}: {miss.k}/{miss.n} calibration "
            f"fakes missed ({100 * miss.value:.1f} %, upper bound {100 * miss.upper:.1f} %); definite verdicts on "
            f"{100 * op.coverage:.0f} % of the calibration images ({measured_on})")
    return {"measured_on": measured_on, "n": op.n_real + op.n_fake, "threshold": op.t_hi, "threshold_real": op.t_lo,
            "false_positive_rate": round(fa.value, 4), "false_positive_upper95": round(fa.upper, 4),
            "false_negative_rate": round(miss.value, 4), "false_negative_upper95": round(miss.upper, 4),
            "coverage": round(op.coverage, 4), "text": text}


def _rates_for(card: Any, op: Any, threshold: float | None) -> dict[str, Any] | None:
    if op is not None:
        cal = getattr(card, "calibration", None) or {}
        return operating_rates(op, f"{cal.get('data') or 'calibration set'}, {cal.get('method') or 'out-of-fold'}")
    return error_rates(card, threshold)


def header(plan, models, options: dict[str, Any] | None = None,
           command: list[str] | None = None) -> dict[str, Any]:
    """The run description shared by json (top level) and jsonl (first line).

    ``command``: the argument vector of the run (shown in reports), when known.
    """
    from .. import __version__

    loaded = {m.name: m for m in models}
    ens = plan.describe()
    ens_op = plan.ensemble_operating()
    if plan.ensemble_card is not None and plan.method == plan.ensemble_card.method and (
            ens_op is not None or plan.threshold_override is None):
        er = _rates_for(plan.ensemble_card, ens_op, ens.get("threshold"))
        if er:
            ens["error_rates"] = er
    head = {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "synthdetect", "version": __version__},
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "models": [
            {
                "name": c.name,
                "sha256": c.sha256,
                "architecture": c.architecture,
                "family": c.family,
                "threshold": plan.member_threshold(c),
                "weight": plan.weights.get(c.name),
                "input_size": c.input.size,
                "provider": loaded[c.name].providers[0] if c.name in loaded and loaded[c.name].providers else None,
                "threshold_real": None if plan.member_operating(c) is None else plan.member_operating(c).t_lo,
                "error_rates": _rates_for(c, plan.member_operating(c), plan.member_threshold(c)),
                **({"training_warnings": w} if (w := training_warnings(c)) else {}),
                **_unverified(c),
            }
            for c in plan.cards
        ],
        "ensemble": ens,
        "options": dict(options or {}),
    }
    if command is not None:
        head["command"] = list(command)
    return head


def training_warnings(card: Any) -> list[str]:
    """What the card's training said of its sample (``train probe``'s shortcut warnings — format,
    size, JPEG quality or frames telling the classes apart — and its sample-size warning): an
    analyst reading a scan should not have to open the card to learn that its figures may
    measure a channel, or that its sample cannot show the budgets."""
    t = getattr(card, "training", None) or {}
    size = t.get("sample_size") if isinstance(t.get("sample_size"), dict) else {}
    return [str(w) for w in [*(t.get("data_warnings") or []), *(size.get("warnings") or [])] if w]


def _unverified(card: Any) -> dict[str, Any]:
    """``{"unverified": True, "provenance": …}`` for a model whose weights' digest was only recorded on
    first use (a published-detector entry without a published sha256, pulled or imported), else {}."""
    from ..cards import unverified_provenance

    prov = unverified_provenance(card)
    return {"unverified": True, "provenance": prov} if prov is not None else {}


def model_warning_lines(models: Any) -> list[str]:
    """One line per training warning of the header's ``models``, and one per model with unverified
    weights (the table footer, the HTML report)."""
    lines = [f"{m.get('name')} was fitted with a warning: {w}" for m in models or [] if isinstance(m, dict)
             for w in m.get("training_warnings") or []]
    return lines + [f"{m.get('name')} is UNVERIFIED: its weights' digest was recorded on first use, not published "
                    f"(from {', '.join(str(f.get('from')) for f in (m.get('provenance') or {}).get('files') or [])})"
                    for m in models or [] if isinstance(m, dict) and m.get("unverified")]


def read_results(path: str | Path, warnings: list[str] | None = None
                 ) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any] | None]:
    """(header, records, summary) from a ``--format jsonl`` or ``--format json`` file.

    The summary is None when the file has none (an interrupted JSONL stream); a last line cut off
    mid-write (no newline after it, not JSON) is dropped the same way, and ``warnings`` (when given)
    gets one line saying so.  Raises ValueError with a one-line reason for files that are neither.
    """
    text = Path(path).read_text(encoding="utf-8", errors="surrogateescape")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        doc = None
    if isinstance(doc, dict) and isinstance(doc.get("results"), list):  # --format json
        doc = dict(doc)
        records = doc.pop("results")
        summary = doc.pop("summary", None)
        return doc, records, summary
    head: dict[str, Any] = {}
    records, summary = [], None
    lines = text.splitlines()
    for n, ln in enumerate(lines, 1):  # --format jsonl
        if not ln.strip():
            continue
        try:
            o = json.loads(ln)
        except json.JSONDecodeError as e:
            if n == len(lines) and not text.endswith("\n") and (head or records):  # the write was cut off here
                if warnings is not None:
                    warnings.append(f"{path}: line {n} was cut off mid-write ({e.msg}); the report shows the "
                                    f"{len(records)} complete records before it")
                break
            raise ValueError(f"{path}: line {n} is not JSON ({e.msg}); expected scan --format jsonl or json") from None
        if not isinstance(o, dict) or o.get("type") not in ("header", "result", "summary"):
            raise ValueError(f"{path}: line {n} is not a scan header/result/summary line")
        t = o.pop("type")
        if t == "header":
            head = o
        elif t == "result":
            records.append(o)
        else:
            summary = o
    if not head and not records:
        raise ValueError(f"{path}: no scan results in this file")
    return head, records, summary


def _image_id(path: str) -> str:
    return Path(path).stem


def _fmt_p(v: float | None) -> str:
    return "" if v is None else f"{v:.4f}"


def provenance_short(rec: dict[str, Any]) -> str:
    """The provenance column: see :func:`synthdetect.provenance.short`."""
    from ..provenance import short  # lazy: loading report does not need the metadata parsers

    return short(rec)


_GATE_SHORT = {
    "too_small": "too small ({value} px < {threshold} px)",
    "below_calibrated_size": "smaller than measured ({value} px < {threshold} px)",
    "uncalibrated_condition": "size/quality not measured ({value})",
    "condition_rates": "rates in condition {value} break the budgets",
    "blurred_or_upscaled": "blurred or upscaled (fine detail {value} < {threshold})",
    "recompressed": "heavily recompressed (JPEG quality {value} < {threshold})",
    "unmeasured_codec": "{value}: not measured",
    "greyscale": "greyscale: not measured",
    "composite": "composite: photo on a flat canvas (score {value} >= {threshold})",
    "median_filtered": "median-filtered or denoised (score {value} >= {threshold})",
}


def _failed_gates(rec: dict[str, Any]) -> list[dict[str, Any]]:
    """The record's failed quality-gate entries (``quality.failed``; nothing from a malformed one)."""
    q = rec.get("quality")
    failed = q.get("failed") if isinstance(q, dict) else None
    return [g for g in failed if isinstance(g, dict)] if isinstance(failed, list) else []


def _gate_text(g: dict[str, Any]) -> str:
    """A failed gate's short text (its name alone when the entry lacks what the text needs)."""
    try:
        return _GATE_SHORT.get(g.get("gate"), "{gate} {value}").format(**g)
    except (KeyError, IndexError, ValueError):
        return str(g.get("gate"))


def why_short(rec: dict[str, Any]) -> str:
    """One short reason for the verdict: the inconclusive reasons or the calibrated error rate,
    and whether the image was one the detectors were calibrated on."""
    note = calibration_note(rec)
    why = _why_verdict(rec)
    return f"{why}; {note}" if why and note else why or note


def _why_verdict(rec: dict[str, Any]) -> str:
    if rec.get("verdict_source") == "provenance":
        return "declared by its metadata"
    if rec.get("verdict") == "inconclusive":
        # the failed gates first (also when the score alone was inconclusive), then every other reason
        failed = _failed_gates(rec)
        gate_reasons = {g.get("reason") for g in failed}
        return "; ".join([_gate_text(g) for g in failed]
                         + [str(r) for r in rec.get("reasons") or [] if r not in gate_reasons])
    er = rec.get("error_rate")
    if isinstance(er, dict) and er.get("n"):
        kind = "false alarms" if er.get("kind") == "false_alarm" else "misses"
        conds = er.get("conditions") or ([er["condition"]] if er.get("condition") else [])
        where = f" ({', '.join(conds)} copies{', the worst' if len(conds) > 1 else ''})" if conds else ""
        return f"{kind} {100 * er['rate']:.1f} % (≤ {100 * er['upper95']:.1f} %) on calibration{where}"
    return ""


def calibration_note(rec: dict[str, Any]) -> str:
    """Whose calibration sample the image was in, with which label (``calibration_image``,
    :mod:`synthdetect.scan.calibration_images`); "" when it was in none."""
    hits = rec.get("calibration_image")
    parts = []
    for h in hits if isinstance(hits, list) else []:
        if isinstance(h, dict):
            oof = h.get("out_of_fold_probability")
            parts.append(("a copy of an image " if h.get("match") == "near copy" else "")
                         + f"in the calibration sample of {h.get('model')} (labelled {h.get('label')}"
                         + (f", out-of-fold {oof:.3f}" if isinstance(oof, (int, float)) else "") + ")")
    return ("; ".join(parts) + ": its score is a training score") if parts else ""


def write_json(out: TextIO, head: dict[str, Any], records: list[dict], summary: dict[str, Any]) -> None:
    doc = dict(head)
    doc["results"] = records
    doc["summary"] = summary
    json.dump(doc, out, indent=2, ensure_ascii=False)
    out.write("\n")


def jsonl_line(obj: dict[str, Any]) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n"


# After the earlier columns (whose order scripts may rely on): why the verdict is what it is, the
# quality gates the image failed, and the calibrated error rate a definite verdict
# comes with (``false_alarm``: share of calibration reals flagged; ``miss``: fakes called real).
VERDICT_COLUMNS = ["why", "gates", "error_rate_kind", "error_rate", "error_rate_upper95"]


def csv_columns(model_names: list[str]) -> list[str]:
    cols = list(MEDIAEVAL_COLUMNS) + [
        "path", "format", "width", "height", "sha256", "verdict", "verdict_source",
        "ensemble_method", "ensemble_score",
    ]
    for n in model_names:
        cols += [f"{n}_prob", f"{n}_verdict"]
    cols += ["typicality", "domain", "provenance", "error", "condition", *VERDICT_COLUMNS]
    return cols


def csv_row(rec: dict[str, Any], model_names: list[str]) -> dict[str, Any]:
    ens = rec.get("ensemble") or {}
    score = ens.get("score")
    thr = ens.get("threshold")
    label = ""
    if rec.get("verdict") == "synthetic" and rec.get("verdict_source") == "provenance":
        label = 1
    elif score is not None and thr is not None:
        label = int(score >= thr)
    row = {
        "image_id": _image_id(rec["path"]),
        "prob": "" if score is None else f"{score:.6f}",
        "label": label,
        "threshold": "" if thr is None else thr,
        "path": rec["path"],
        "format": rec.get("format") or "",
        "width": rec.get("width") or "",
        "height": rec.get("height") or "",
        "sha256": rec.get("sha256") or "",
        "verdict": rec.get("verdict") or ("error" if rec.get("error") else ""),
        "verdict_source": rec.get("verdict_source") or "",
        "ensemble_method": ens.get("method", ""),
        "ensemble_score": "" if score is None else f"{score:.6f}",
        "provenance": provenance_short(rec),
        "error": rec.get("error") or "",
        "condition": _condition_cell(rec),
        **domain_cells(rec),
        **verdict_cells(rec),
    }
    models = rec.get("models") or {}
    for n in model_names:
        m = models.get(n) or {}
        row[f"{n}_prob"] = "" if m.get("probability") is None else f"{m['probability']:.6f}"
        row[f"{n}_verdict"] = m.get("verdict", "")
    return row


def _condition_cell(rec: dict[str, Any]) -> str:
    """The measured condition the verdict was judged in (``720q90``; several, the worst case of them:
    ``720q90 / 720q80``; ``original``; ``outside``); "" without per-condition calibration."""
    from ..scan.conditions import condition_key, condition_label

    return (condition_label(condition_key(rec)) or "").replace(", ", " / ")


def verdict_cells(rec: dict[str, Any]) -> dict[str, Any]:
    """CSV cells that explain the verdict (:data:`VERDICT_COLUMNS`): the table's *why* text, the
    failed quality gates' names (``;``-separated) and the verdict's calibrated error rate."""
    er = rec.get("error_rate") if isinstance(rec.get("error_rate"), dict) else {}
    gates = [str(g["gate"]) for g in _failed_gates(rec) if g.get("gate")]
    rate, upper = er.get("rate"), er.get("upper95")
    return {"why": "" if rec.get("error") else why_short(rec), "gates": ";".join(gates),
            "error_rate_kind": er.get("kind", "") if er.get("n") else "",
            "error_rate": f"{rate:.4f}" if er.get("n") and isinstance(rate, (int, float)) else "",
            "error_rate_upper95": f"{upper:.4f}" if er.get("n") and isinstance(upper, (int, float)) else ""}


def domain_cells(rec: dict[str, Any]) -> dict[str, Any]:
    """CSV cells of the domain check: the image's typicality (the highest over the cards'
    references) and its group's decision."""
    dom = rec.get("domain") if isinstance(rec.get("domain"), dict) else {}
    typ = [v for v in (dom.get("typicality") or {}).values() if isinstance(v, (int, float))]
    return {"typicality": f"{max(typ):.4f}" if typ else "", "domain": dom.get("decision", "")}


def domain_lines(dom: dict[str, Any] | None) -> list[str]:
    """The domain check's result per group, and the way out when a group is out of domain."""
    if not isinstance(dom, dict):
        return []
    from ..scan.domain_check import WAY_OUT

    if dom.get("available") is False:
        return [f"domain check: {dom.get('note')}"] + ([f"  {untested_sentence(dom)}"] if dom.get("withheld_untested")
                                                       else [])
    lines = [f"domain check ({dom.get('mode')}, against the calibration images of {', '.join(dom.get('references') or [])}):"]
    for g in dom.get("groups") or []:
        tests = [t for t in g.get("tests") or [] if t.get("statistic") is not None]
        named = len(g.get("tests") or []) > 1  # several references: say whose test each figure is
        stat = "; ".join((f"{t.get('model')}: " if named else "") + f"ROC-AUC {t['statistic']:.2f}, p = {t['p_value']:.3g}"
                         + (f", closest to the {t['condition']} copies" if t.get("condition", "original") != "original"
                            else "") + (f" ({t.get('decision')})" if named else "")
                         for t in tests)
        distinct = [t["n_distinct"] for t in g.get("tests") or [] if t.get("n_distinct") is not None]
        why = stat or (f"{min(distinct)} distinct pictures, fewer than {dom.get('min_n')}: not tested" if distinct
                       else f"fewer than {dom.get('min_n')} images: not tested")
        tested = [t["n_tested"] for t in tests if t.get("n_tested") is not None]
        size = f"n = {g.get('n')}" + (f", {min(tested)} tested" if tested else "")
        lines.append(f"  {g.get('group')}: {g.get('decision')} ({size}; {why})")
    if dom.get("note"):
        lines.append(f"  {dom['note']}")
    if dom.get("out_of_domain"):
        act = ("their definite verdicts are withheld (inconclusive)" if dom.get("mode") in ("enforce", "strict")
               else "their verdicts are kept (--domain-check warn) but the stated error rates do not apply")
        alone = in_domain_sentences(dom)
        way_out = "" if all_in_domain_for_some(dom) else f"; to judge them, {WAY_OUT}"
        lines.append(f"  {dom['out_of_domain']} images are outside the calibration domain: {act}{way_out}")
        lines += [f"  {sentence}" for sentence in alone]
    lines += [f"  {sentence}" for sentence in borderline_sentences(dom)]
    if dom.get("beyond_calibration_images"):
        lines.append(f"  {beyond_sentence(dom)}")
    if dom.get("withheld_untested"):
        lines.append(f"  {untested_sentence(dom)}")
    return lines


def borderline_sentences(dom: dict[str, Any]) -> list[str]:
    """A sentence per group that is in domain only for want of images (``borderline``): its verdicts
    stand, but the test could not confirm that their rates apply."""
    out = []
    for g in dom.get("groups") or []:
        if not g.get("borderline"):
            continue
        top = max((t for t in g.get("tests") or [] if t.get("statistic") is not None), key=lambda t: t["statistic"])
        out.append(f"{g.get('group')}: borderline — told from the calibration images at ROC-AUC {top['statistic']:.2f} "
                   f"(>= {dom.get('min_effect')}) but p = {top['p_value']:.3g} > {dom.get('alpha')} with {g.get('n')} "
                   "images: too few to decide; its verdicts stand, but their stated rates may not apply (scan more images "
                   "of this source together, or fit a probe on a labelled sample of it: synthdetect train probe)")
    return out


def in_domain_sentences(dom: dict[str, Any]) -> list[str]:
    """For each out-of-domain group that some cards of the scan found in domain (an adapted probe
    scanned beside the bundle): which cards, and how to scan with them alone."""
    from ..scan.domain_check import scan_alone

    out = []
    for g in dom.get("groups") or []:
        names = g.get("in_domain_for") or []
        if g.get("decision") == "out_of_domain" and names:
            out.append(f"{g.get('group')} is like the calibration images of {', '.join(names)}: "
                       f"{scan_alone(names)} for verdicts whose error rates apply")
    return out


def all_in_domain_for_some(dom: dict[str, Any]) -> bool:
    """Whether every out-of-domain group is in domain for some card of the scan (no probe to fit)."""
    out = [g for g in dom.get("groups") or [] if g.get("decision") == "out_of_domain"]
    return bool(out) and all(g.get("in_domain_for") for g in out)


def untested_sentence(dom: dict[str, Any]) -> str:
    """``--domain-check strict``: what the footer and the HTML report say of the verdicts no test backed."""
    n = dom["withheld_untested"]
    return (f"{n} definite verdict{'s' if n != 1 else ''} withheld (--domain-check strict): no domain test backs "
            f"{'them' if n != 1 else 'it'} (a group under {dom.get('min_n') or 10} images, or no calibration images "
            "to test against)")


def beyond_sentence(dom: dict[str, Any]) -> str:
    """What the footer and the HTML report say of images beyond every calibration image."""
    n = dom["beyond_calibration_images"]
    act = ("verdict withheld (inconclusive)" if dom.get("mode") in ("enforce", "strict")
           else "verdict kept (--domain-check warn) but the stated error rates do not apply")
    return (f"{n} image{'s' if n != 1 else ''} lie{'' if n != 1 else 's'} farther from the calibration images than "
            f"any of them does from the rest (typicality 1.0): {act}")


def write_csv(out: TextIO, model_names: list[str], records: Iterable[dict]) -> None:
    """One line per record, fields quoted where needed.  Python's writer (before 3.12.x) does not quote
    a field holding a bare carriage return when lines end in ``\n``, and a reader splits the row
    there (a file name may hold one): such a row is written with every field quoted."""
    cols = csv_columns(model_names)
    w = csv.DictWriter(out, fieldnames=cols, lineterminator="\n")
    quoted = csv.DictWriter(out, fieldnames=cols, lineterminator="\n", quoting=csv.QUOTE_ALL)
    w.writeheader()
    for r in records:
        row = csv_row(r, model_names)
        has_cr = any(isinstance(v, str) and "\r" in v for v in row.values())
        (quoted if has_cr else w).writerow(row)


def summary_lines(summary: dict[str, Any]) -> list[str]:
    v = summary["verdicts"]
    lines = [
        f"{summary['inputs']} inputs: {v['synthetic']} synthetic, {v['real']} real, "
        f"{v['inconclusive']} inconclusive, {summary['errors']} errors",
        f"elapsed {summary['elapsed_s']:.2f} s, {summary['images_per_s']:.2f} images/s",
    ]
    if summary.get("provenance_overrides"):
        lines.append(f"{summary['provenance_overrides']} verdicts from provenance metadata (C2PA/XMP/generator tags)")
    if summary.get("skipped_non_image"):
        lines.append(f"skipped {summary['skipped_non_image']} non-image files in directory walks")
    if summary.get("symlink_loops"):
        lines.append(f"ignored {summary['symlink_loops']} directory symlink loops")
    lines += calibration_lines(summary)
    return (lines + condition_lines(summary) + gate_lines(summary.get("quality_gates"))
            + domain_lines(summary.get("domain")))


def condition_lines(summary: dict[str, Any]) -> list[str]:
    """How many images were judged in each measured condition (when any was judged in one): their
    thresholds and rates are that condition's, or the worst case of several, not the clean ones."""
    conds = summary.get("conditions")
    if not isinstance(conds, dict) or not any(k not in ("original", "outside") for k in conds):
        return []  # no verdict used other thresholds than the clean ones (outside: the gate line says so)
    note = {"original": " (the clean calibration)", "outside": " (no measured condition: no calibrated verdict)"}
    parts = [f"{k.replace(', ', ' / ')}: {v}" + note.get(k, " (judged by the worst of them)" if ", " in k else "")
             for k, v in sorted(conds.items())]
    return ["images by measured condition: " + "; ".join(parts) + ". A verdict in a condition uses its thresholds "
            "and rates, measured on copies of the calibration images, not the clean ones above (docs/quality.md)"]


def calibration_lines(summary: dict[str, Any]) -> list[str]:
    """The count of scanned files that are the detectors' own calibration images."""
    n = summary.get("calibration_images")
    if not isinstance(n, int) or n <= 0:
        return []
    return [f"{n} images are in the detectors' calibration sample (labels known): their scores are training "
            "scores, not evidence; the card's out-of-fold scores are in each record (calibration_image)"]


def gate_lines(gates: dict[str, Any] | None) -> list[str]:
    """The quality gates' counts: images each gate withheld, and images a gate was lifted for
    because the models' calibration images were like them (``train probe`` on such a source)."""
    if not isinstance(gates, dict):
        return []

    def counts(d: dict[str, int]) -> str:
        return ", ".join(f"{k} {v}" for k, v in sorted(d.items(), key=lambda kv: str(kv[0])))

    lines = []
    if isinstance(gates.get("failed"), dict) and gates["failed"]:
        lines.append(f"quality gates failed: {counts(gates['failed'])} (detector verdicts withheld)")
    if isinstance(gates.get("lifted"), dict) and gates["lifted"]:
        lines.append(f"quality gates lifted (the models were calibrated on images like these): {counts(gates['lifted'])}")
    return lines


_VERDICT_STYLE = {"synthetic": "bold red", "real": "green", "inconclusive": "yellow"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def printable(text: str) -> str:
    """``text`` for one table cell: control characters (a newline in a file name) as escapes (``\\n``,
    ``\\x1b``), so a piped table keeps one row per line and no name can move the cursor or recolour."""
    return _CONTROL.sub(lambda m: repr(m.group(0))[1:-1], text)


def write_table(out: TextIO, head: dict[str, Any], records: list[dict], summary: dict[str, Any], color: bool | None = None) -> None:
    from rich.table import Table
    from rich.text import Text

    from ..console import is_tty, make_console

    # a terminal: fit the window; a pipe or file: never wrap or cut a path (synthdetect.console)
    tty = is_tty(out)
    # no markup: paths, messages and metadata are the files' text, never rich's "[red]" tags
    console = make_console(out, force_terminal=color, no_color=color is False, highlight=False, markup=False)
    names = [m["name"] for m in head["models"]]
    ens = head["ensemble"]
    show_prov = any(provenance_short(r) for r in records)
    t = Table(show_lines=False, header_style="bold", pad_edge=False)
    t.add_column("path", overflow="fold", no_wrap=not tty)
    t.add_column("format")
    t.add_column("size", justify="right")
    for n in names:
        t.add_column(n, justify="right")
    multi = ens["method"] != "none"  # an ensemble score column
    if multi:
        t.add_column(f"{ens['method']}", justify="right")
    t.add_column("verdict")
    t.add_column("why", overflow="fold")
    if show_prov:
        t.add_column("provenance", overflow="fold", no_wrap=not tty)
    for r in records:
        if r.get("error"):
            cells = [Text(printable(r["path"])), r.get("format") or "", ""] + [""] * len(names)
            if multi:
                cells.append("")
            if r.get("verdict_source") == "provenance":  # undecodable pixels, AI generation declared
                cells.append(Text("synthetic (provenance)", style=_VERDICT_STYLE["synthetic"]))
            else:
                cells.append(Text("error", style="magenta"))
            cells.append(Text(printable(r["error"]), style="magenta"))
        else:
            cells = [Text(printable(r["path"])), r.get("format") or "", f"{r['width']}x{r['height']}"]
            for n in names:
                m = r["models"].get(n, {})
                p = m.get("probability")
                cells.append(Text(_fmt_p(p), style=_VERDICT_STYLE.get(m.get("verdict"), "")))
            e = r.get("ensemble") or {}
            if multi:
                cells.append(_fmt_p(e.get("score")) + (" (tie)" if e.get("tie") else ""))
            v = r.get("verdict") or ""
            if r.get("verdict_source") == "provenance":
                v += " (provenance)"
            cells.append(Text(v, style=_VERDICT_STYLE.get(r.get("verdict"), "")))
            cells.append(why_short(r))
        if show_prov:
            cells.append(Text(printable(provenance_short(r))))
        t.add_row(*cells)
    console.print(t)
    def band(d: dict[str, Any]) -> str:
        lo = d.get("threshold_real")
        return f"synthetic >= {d['threshold']:.4g}" + (f", real < {lo:.4g}" if lo is not None and lo < d["threshold"] else "")

    thr = "; ".join(f"{m['name']}: {band(m)}" for m in head["models"])
    line = f"models: {thr}"
    if multi:
        line += (f"; ensemble {ens['method']}" + (f" '{ens['name']}'" if ens.get("name") else "")
                 + f": {band(ens)}")
    console.print(line)
    rates = ens.get("error_rates") if multi else (head["models"][0].get("error_rates") if len(names) == 1 else None)
    if isinstance(rates, dict) and rates.get("text"):
        console.print("calibrated error rates: " + rates["text"])
    for line in model_warning_lines(head["models"]):
        console.print(line)
    for ln in summary_lines(summary):
        console.print(ln)
