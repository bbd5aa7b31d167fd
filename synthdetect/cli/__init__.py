"""``synthdetect`` command line.

Start-up must stay fast and torch-free: only typer is imported at module level;
numpy, Pillow, onnxruntime and rich are imported inside the commands.
"""

from __future__ import annotations

import os
import sys
import time
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer

from .. import __version__

EXIT_OK = 0
EXIT_SYNTHETIC = 1
EXIT_USAGE = 2
EXIT_UNREADABLE = 3

app = typer.Typer(
    name="synthdetect",
    help="Detect AI-generated (synthetic) images. Read-only: evidence files are never modified.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class Ensemble(str, Enum):
    none = "none"
    majority = "majority"
    weighted = "weighted"
    mean = "mean"
    soft_or = "soft-or"


class Fmt(str, Enum):
    table = "table"
    json = "json"
    jsonl = "jsonl"
    csv = "csv"
    html = "html"


class Device(str, Enum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


class FailOn(str, Enum):
    synthetic = "synthetic"
    inconclusive = "inconclusive"


class Engine(str, Enum):
    local = "local"
    ray = "ray"


def _version_cb(value: bool) -> None:
    if value:
        typer.echo(f"synthdetect {__version__}")
        raise typer.Exit(EXIT_OK)


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version_cb, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Detect AI-generated (synthetic) images. Read-only: evidence files are never modified."""


def _fail(msg: str, code: int = EXIT_USAGE) -> "typer.Exit":
    typer.echo(f"synthdetect: error: {msg}", err=True)
    return typer.Exit(code)


def parse_threshold(value: str) -> Optional[float]:
    v = value.strip().lower()
    if v == "auto":
        return None
    try:
        f = float(v)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is neither 'auto' nor a number") from None
    if not 0.0 <= f <= 1.0:
        raise typer.BadParameter(f"{value!r} is outside [0, 1]")
    return f


def _split_models(models: Optional[List[str]]) -> Optional[List[str]]:
    if not models:
        return None
    out = [n.strip() for m in models for n in m.split(",") if n.strip()]
    return out or None


@app.command()
def scan(
    paths: List[str] = typer.Argument(..., help="Image files or directories; '-' reads paths from stdin, one per line."),
    recursive: bool = typer.Option(True, "--recursive/--no-recursive", help="Descend into sub-directories."),
    ensemble: Optional[Ensemble] = typer.Option(
        None, "--ensemble", "-e", case_sensitive=False,
        help="How members are combined (default: the ensemble card's method, else weighted; none for a single model).",
    ),
    models: Optional[List[str]] = typer.Option(
        None, "--models", "-m", help="Comma-separated model or ensemble names (default: members of the 'default' ensemble, else all installed)."
    ),
    threshold: str = typer.Option("auto", "--threshold", "-t", help="'auto' (each card's calibrated threshold) or a number in [0,1] for every member."),
    fmt: Fmt = typer.Option(Fmt.table, "--format", "-f", case_sensitive=False, help="Output format."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the report to FILE instead of stdout."),
    device: Device = typer.Option(Device.auto, "--device", case_sensitive=False, help="auto = CUDA when it really works, else CPU."),
    batch_size: int = typer.Option(16, "--batch-size", "-b", min=1, help="Images per inference batch."),
    workers: Optional[int] = typer.Option(None, "--workers", "-j", min=1, help="Decoding threads (default: min(4, CPUs))."),
    fail_on: Optional[FailOn] = typer.Option(
        None, "--fail-on", help="Exit with 1 when a synthetic verdict is found (or, with 'inconclusive', when a "
                                "synthetic or an inconclusive verdict is found)."),
    max_false_alarm: float = typer.Option(
        0.05, "--max-false-alarm",
        help="'synthetic' only above the threshold that flags at most this share of the calibration's real images."),
    max_miss: float = typer.Option(
        0.20, "--max-miss",
        help="'real' only below the threshold that calls at most this share of the calibration's synthetic images real; "
             "'inconclusive' in between."),
    models_dir: Optional[List[Path]] = typer.Option(
        None, "--models-dir", help="Extra model directory (repeatable; also $SYNTHDETECT_MODELS_DIR)."
    ),
    no_quality_gates: bool = typer.Option(
        False, "--no-quality-gates",
        help="Keep the detectors' verdict on images they are known not to judge (too small, blurred or upscaled, "
             "heavily recompressed, composites); the measures are then not reported."),
    no_provenance: bool = typer.Option(False, "--no-provenance", help="Skip provenance metadata analysis (C2PA, XMP, generator tags)."),
    progress: Optional[bool] = typer.Option(None, "--progress/--no-progress", help="Progress bar on stderr (default: when stderr is a terminal)."),
    no_thumbnails: bool = typer.Option(False, "--no-thumbnails", help="--format html: no thumbnails (smaller file)."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Neither read nor write the result cache (see 'synthdetect cache info')."),
    engine: Engine = typer.Option(Engine.local, "--engine", case_sensitive=False, help="local: this process; ray: a Ray cluster (pip install 'synthdetect[ray]')."),
    address: Optional[str] = typer.Option(None, "--address", help="--engine ray: the cluster address (default: $RAY_ADDRESS, else a local Ray instance)."),
) -> None:
    """Scan images and report, per image, each detector's probability and the verdict.

    Verdicts: 'synthetic' above a threshold whose false-alarm rate on the calibration's real images is at
    most --max-false-alarm, 'real' below one whose miss rate is at most --max-miss, 'inconclusive' in between
    or when an input-quality gate says the detectors do not work on the image; each definite verdict carries
    its calibrated error rate.

    --format html writes one self-contained case report (open it offline in any browser).

    Exit codes: 0 success; 1 a synthetic verdict was found with --fail-on synthetic
    (or a synthetic or inconclusive one with --fail-on inconclusive);
    2 usage error; 3 some inputs could not be read (they are still in the report).
    """
    thr = parse_threshold(threshold)
    if address is not None and engine != Engine.ray:
        raise _fail("--address needs --engine ray")
    from ..cards import Registry
    from ..report import header, render, jsonl_line
    from ..runtime import RuntimeSetupError
    from ..scan import THUMBNAIL_KEY, ScanSetupError, Scanner, resolve_plan, run_scan

    if output is not None:
        out_real = os.path.realpath(output)
        for p in paths:
            if p != "-" and os.path.realpath(p) == out_real and os.path.isfile(p):
                raise _fail(f"--output {output} is one of the inputs; refusing to overwrite evidence")
    started = time.perf_counter()
    try:
        registry = Registry(models_dir or [])
        plan = resolve_plan(registry, _split_models(models), ensemble.value if ensemble else None, thr,
                            max_false_alarm=max_false_alarm, max_miss=max_miss)
        scanner = Scanner(
            plan, device=device.value, batch_size=batch_size, workers=workers, provenance=not no_provenance,
            thumbnails=fmt == Fmt.html and not no_thumbnails, quality_gates=not no_quality_gates,
        )
    except (ScanSetupError, RuntimeSetupError) as e:
        raise _fail(str(e)) from None

    # result cache and engines (synthdetect.cache, synthdetect.engines.ray_engine)
    cache = None
    if not no_cache:
        from ..cache import CacheError, ScanCache

        try:
            cache = ScanCache.for_scanner(scanner)
        except (CacheError, OSError) as e:
            typer.echo(f"synthdetect: warning: result cache unavailable ({e}); scanning without it", err=True)
    ray_engine = None
    if engine == Engine.ray:
        from ..engines.ray_engine import RayEngine, RayEngineError

        try:
            ray_engine = RayEngine(plan, address=address, device=device.value, batch_size=batch_size,
                                   workers=workers, provenance=not no_provenance,
                                   quality_gates=not no_quality_gates)
        except RayEngineError as e:
            raise _fail(str(e)) from None

    options = {
        "threshold": threshold, "device": device.value, "providers": scanner.models[0].providers,
        "batch_size": batch_size, "workers": scanner.workers, "recursive": recursive,
        "provenance": scanner.provenance is not None,
        "max_false_alarm": max_false_alarm, "max_miss": max_miss, "quality_gates": not no_quality_gates,
        "cache": cache is not None, "engine": engine.value,
    }
    head = header(plan, scanner.models, options, command=_command_line())

    try:
        out = open(output, "w", encoding="utf-8", newline="") if output else sys.stdout
    except OSError as e:
        raise _fail(f"cannot write {output}: {e.strerror or e}") from None

    show_progress = progress if progress is not None else sys.stderr.isatty()
    bar = None
    task = None

    def on_total(n: int) -> None:
        nonlocal bar, task
        if show_progress and n > 0:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            bar = Progress(
                TextColumn("scanning"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                console=Console(stderr=True), transient=True,
            )
            bar.start()
            task = bar.add_task("scan", total=n)

    stream = fmt == Fmt.jsonl
    if stream:
        out.write(jsonl_line({"type": "header", **head}))

    thumbs: list = []

    def on_record(rec) -> None:
        thumbs.append(rec.pop(THUMBNAIL_KEY, None))
        if bar is not None:
            bar.advance(task)
        if stream:
            out.write(jsonl_line({"type": "result", **rec}))
            out.flush()

    try:
        try:
            result = run_scan(
                paths, plan, recursive=recursive, stdin=sys.stdin, scanner=scanner,
                on_total=on_total, on_record=on_record, started=started,
                cache=cache, engine=ray_engine.scan if ray_engine is not None else None,
            )
        finally:
            if bar is not None:
                bar.stop()
            if cache is not None:
                cache.store.close()
            if ray_engine is not None:
                ray_engine.shutdown()  # stops the local Ray instance if this scan started it
        summary = result.summary.to_dict()
        if cache is not None:
            summary["cache"] = cache.stats.to_dict()
        if stream:
            out.write(jsonl_line({"type": "summary", **summary}))
        elif fmt == Fmt.html:
            from ..report_html import write_html

            write_html(out, head, result.records, summary, thumbnails=thumbs)
        else:
            render(fmt.value, out, head, result.records, summary, color=None if out is sys.stdout else False)
        if fmt != Fmt.table and sys.stderr.isatty():
            from ..report import summary_lines

            for ln in summary_lines(summary):
                typer.echo(ln, err=True)
    finally:
        if out is not sys.stdout:
            out.close()
        else:
            out.flush()

    flagged = {"synthetic"} if fail_on == FailOn.synthetic else {"synthetic", "inconclusive"}
    found = any(
        r.get("verdict") in flagged
        or (plan.method == "none" and any(m.get("verdict") == "synthetic" for m in (r.get("models") or {}).values()))
        for r in result.records
    )
    if fail_on is not None and found:
        raise typer.Exit(EXIT_SYNTHETIC)
    if result.summary.errors:
        raise typer.Exit(EXIT_UNREADABLE)
    raise typer.Exit(EXIT_OK)


@app.command("report")
def report_cmd(
    results: Path = typer.Argument(..., help="A scan's --format jsonl (or json) output."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the HTML report to FILE instead of stdout."),
    no_thumbnails: bool = typer.Option(False, "--no-thumbnails", help="Do not re-open the images for thumbnails."),
    base_dir: Optional[List[Path]] = typer.Option(
        None, "--base-dir", help="Also look for relative image paths under DIR (repeatable; default: the results file's directory)."
    ),
) -> None:
    """Turn saved scan results into the HTML case report (the same page as scan --format html).

    Thumbnails are made by re-reading each image read-only, and shown only when its
    SHA-256 still matches the record ("file changed" otherwise).
    """
    from ..report import read_results
    from ..report_html import thumbnails_for_records, write_html
    from ..scan import Summary

    try:
        head, records, summary = read_results(results)
    except (OSError, ValueError) as e:
        raise _fail(str(e) if isinstance(e, ValueError) else f"cannot read {results}: {e.strerror or e}") from None
    if summary is None:  # an interrupted stream: count what is there
        s = Summary()
        for r in records:
            s.add(r)
        summary = {k: v for k, v in s.to_dict().items() if k not in ("elapsed_s", "images_per_s")}
    thumbs = notes = None
    if not no_thumbnails:
        dirs = list(base_dir or []) or [results.resolve().parent]
        thumbs, notes = thumbnails_for_records(records, dirs)
    meta = {"source": f"{results} (synthdetect report)"}
    if output is not None and os.path.realpath(output) == os.path.realpath(results):
        raise _fail(f"--output {output} is the results file; refusing to overwrite it")
    try:
        out = open(output, "w", encoding="utf-8", newline="") if output else sys.stdout
    except OSError as e:
        raise _fail(f"cannot write {output}: {e.strerror or e}") from None
    try:
        write_html(out, head, records, summary, thumbnails=thumbs, notes=notes, meta=meta)
    finally:
        if out is not sys.stdout:
            out.close()


@app.command("models")
def models_cmd(
    models_dir: Optional[List[Path]] = typer.Option(None, "--models-dir", help="Extra model directory (repeatable)."),
    fmt: Fmt = typer.Option(Fmt.table, "--format", "-f", case_sensitive=False, help="table or json."),
) -> None:
    """List installed models and ensembles with their card details."""
    import json

    from ..cards import CardError, Registry

    reg = Registry(models_dir or [])
    models, ensembles, problems = [], [], []
    for n in reg.model_names():
        try:
            models.append(reg.model(n))
        except CardError as e:
            problems.append(str(e))
    for n in reg.ensemble_names():
        try:
            ensembles.append(reg.ensemble(n))
        except CardError as e:
            problems.append(str(e))
    if fmt == Fmt.json:
        doc = {
            "search_path": [str(d) for d in reg.dirs],
            "models": [{**c.to_dict(), "card_path": str(c.path)} for c in models],
            "ensembles": [{**e.to_dict(), "card_path": str(e.path)} for e in ensembles],
            "problems": problems,
        }
        typer.echo(json.dumps(doc, indent=2))
    elif fmt == Fmt.table:
        from rich.table import Table

        from ..console import ident, make_console, piped

        con = make_console()  # piped: no wrapping, whole hashes and paths
        nw = piped()
        if not models and not ensembles:
            con.print("no models installed; looked in: " + ", ".join(map(str, reg.dirs)))
        if models:
            t = Table(title="models", title_justify="left")
            for col in ("name", "architecture", "family", "input", "threshold", "F1", "sha256", "card"):
                t.add_column(col, overflow="fold", no_wrap=nw)
            for c in models:
                spec = c.input
                inp = f"{spec.size}px" + (f" (shorter side {spec.resize_to})" if spec.resize == "shorter_side" else " native")
                if spec.tiles > 1:
                    inp += f", up to {spec.tiles}x{spec.tiles} crops"
                if c.is_probe:
                    inp += f", features of {(c.backbone or {}).get('name')}"
                thr = f"{c.effective_threshold():g}" + (" cal." if c.calibrated_threshold is not None else "")
                t.add_row(c.name, c.architecture, c.family, inp, thr, "" if c.f1 is None else f"{c.f1:.3f}",
                          ident(c.sha256, 12), str(c.path))
            con.print(t)
        if ensembles:
            t = Table(title="ensembles", title_justify="left")
            for col in ("name", "method", "members", "threshold", "F1", "card"):
                t.add_column(col, overflow="fold", no_wrap=nw)
            for e in ensembles:
                t.add_row(e.name, e.method, ", ".join(e.members), f"{e.effective_threshold():g}",
                          "" if e.f1 is None else f"{e.f1:.3f}", str(e.path))
            con.print(t)
        for p in problems:
            con.print(f"[yellow]warning:[/] {p}")
        if models or ensembles:
            con.print("search path: " + ", ".join(map(str, reg.dirs)))
    else:
        raise _fail("models --format must be table or json")


# One module per verb (group) under synthdetect/cli/, each with ``mount(app)``; the order is
# the order of ``synthdetect --help``.  No import here is optional: a verb whose module fails
# to import is a bug and must surface, not vanish from --help.  Commands that need an extra
# (torch for training, ray, matplotlib) import it inside their body and say so when missing.
VERBS = ("evaluate", "export", "inspect", "train", "ensemble", "backbone", "cache", "weights")


def _mount_verbs() -> None:
    from importlib import import_module

    for verb in VERBS:
        import_module(f"{__name__}.{verb}").mount(app)


_mount_verbs()


_ARGV: list[str] | None = None


def _command_line() -> list[str] | None:
    """The argument vector of this run (recorded in the report header), when started by ``main``."""
    return None if _ARGV is None else ["synthdetect", *_ARGV]


def main() -> None:
    global _ARGV
    _ARGV = list(sys.argv[1:])
    app(prog_name="synthdetect")


if __name__ == "__main__":
    main()
