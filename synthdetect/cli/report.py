"""``synthdetect report``: saved scan results (jsonl or json) -> the HTML case report."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from ..output.evidence import Inputs
from .errors import fail, warn
from .options import check_output, force_option, output_stream

# the format ``synthdetect report`` writes (a name in synthdetect.output.writers.WRITERS)
REPORT_FORMAT = "html"


def report(
    results: Path = typer.Argument(..., help="A scan's --format jsonl (or json) output."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the HTML report to FILE instead of stdout."),
    no_thumbnails: bool = typer.Option(False, "--no-thumbnails", help="Do not re-open the images for thumbnails."),
    force: bool = force_option(),
    base_dir: Optional[List[Path]] = typer.Option(
        None, "--base-dir", help="Also look for relative image paths under DIR (repeatable; default: the results file's directory)."
    ),
) -> None:
    """Turn saved scan results into the HTML case report (the same page as scan --format html).

    Thumbnails are made by re-reading each image read-only, and shown only when its
    SHA-256 still matches the record ("file changed" otherwise).
    """
    from ..output import writers
    from ..output.text import read_results
    from ..scan.pipeline import Summary

    writer = writers.get(REPORT_FORMAT)
    if output is not None:  # before the results are parsed (they may be large)
        check_output(output, Inputs([results]), force)
    cut: list[str] = []
    try:
        head, records, summary = read_results(results, cut)
    except (OSError, ValueError) as e:
        raise fail(str(e) if isinstance(e, ValueError) else f"cannot read {results}: {e.strerror or e}") from None
    for line in cut:
        warn(line)
    if summary is None:  # an interrupted stream: count what is there
        s = Summary()
        for r in records:
            s.add(r)
        summary = {k: v for k, v in s.to_dict().items() if k not in ("elapsed_s", "images_per_s")}
    from ..output.html import record_paths, thumbnails_for_records

    dirs = list(base_dir or []) or [results.resolve().parent]
    # the results file and every file its records point to (docs/safety.md): never the output
    inputs = Inputs([results, *(p for r in records if isinstance(r, dict) for p in record_paths(r, dirs))])
    for r in records:  # and by content, wherever the paths lead from here
        if isinstance(r, dict) and isinstance(r.get("sha256"), str) and isinstance(r.get("bytes"), int):
            inputs.add_content(r["sha256"], r["bytes"], str(r.get("path")))
    if output is not None:
        check_output(output, inputs, force)
    thumbs = notes = None
    if not no_thumbnails and writer.needs_thumbnails:
        thumbs, notes = thumbnails_for_records(records, dirs)
    meta = {"source": f"{results} (synthdetect report)"}
    with output_stream(output, inputs, force) as out:
        writers.write(REPORT_FORMAT, out, head, records, summary, thumbs, notes=notes, meta=meta)


EPILOG = ("Exit codes: 0 success; 2 usage error, nothing written (the results file cannot be read or is not "
          "scan output, --output is the results file, a file the records point to or one with the same bytes, an "
          "existing file that is not an earlier synthdetect result without --force, or cannot be written).")


def mount(app: typer.Typer) -> None:
    app.command("report", epilog=EPILOG)(report)
