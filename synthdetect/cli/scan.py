"""``synthdetect scan``: per-image verdicts in any format of :mod:`synthdetect.output.writers`.

The ``--format`` choices are the writer names, in ``writers.WRITERS`` order; a format added
there is a scan format without a change here.
"""

from __future__ import annotations

import sys
import time
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer

from ..output import writers
from .errors import ExitCode, fail, warn
from .options import Device, check_output, device_option, force_option, models_dir_option, output_stream, split_names


class Ensemble(str, Enum):
    none = "none"
    majority = "majority"
    weighted = "weighted"
    mean = "mean"
    soft_or = "soft-or"


# the --format choices: one per writer, built from the list
Fmt = Enum("Fmt", {n: n for n in writers.names()}, type=str)


class FailOn(str, Enum):
    synthetic = "synthetic"
    inconclusive = "inconclusive"


class DomainCheck(str, Enum):
    enforce = "enforce"
    strict = "strict"
    warn = "warn"
    off = "off"


class Engine(str, Enum):
    local = "local"
    ray = "ray"


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


def _discover_checked(paths: List[str], recursive: bool, plan, output: Optional[Path], force: bool):
    """Discovery first, then ``--output`` checked against every file the scan will read (the images
    found, the model files): (discovery, inputs) before anything is opened for writing (docs/safety.md).
    Without ``--output`` nothing is written but stdout, and no file is looked at twice (inputs None)."""
    from ..inputs.discovery import discover
    from ..output.evidence import Inputs

    disc = discover(paths, recursive=recursive, stdin=sys.stdin)
    if not disc.files and not disc.errors:  # a wrong mount point or an empty list must not look like success
        what = f" ({disc.skipped_non_image} non-image file{'s' if disc.skipped_non_image != 1 else ''})" \
            if disc.skipped_non_image else ""
        named = ', '.join('the paths read from stdin' if p == '-' else p for p in paths)
        warn(f"no images found in {named}{what}; nothing was scanned")
    if output is None:
        return disc, None
    inputs = Inputs([*disc.files, *plan.files()])
    check_output(output, inputs, force)
    return disc, inputs


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
    threshold: str = typer.Option("auto", "--threshold", "-t", help="'auto' (each card's calibrated threshold) or a number in [0,1] for every member and a mean/soft-or ensemble."),
    fmt: Fmt = typer.Option(Fmt.table, "--format", "-f", case_sensitive=False, help="Output format."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the report to FILE instead of stdout."),
    force: bool = force_option(),
    device: Device = device_option(),
    batch_size: int = typer.Option(16, "--batch-size", "-b", min=1, help="Images per inference batch."),
    workers: Optional[int] = typer.Option(None, "--workers", "-j", min=1, help="Decoding threads (default: min(4, CPUs))."),
    fail_on: Optional[FailOn] = typer.Option(
        None, "--fail-on", help="Exit with 1 when a synthetic verdict is found (or, with 'inconclusive', when a "
                                "synthetic or an inconclusive verdict is found)."),
    max_false_alarm: Optional[float] = typer.Option(
        None, "--max-false-alarm",
        help="'synthetic' only above the threshold that flags at most this share of the calibration's real images "
             "(default: the budget each card was calibrated for, e.g. train probe --max-false-alarm; else 0.05)."),
    max_miss: Optional[float] = typer.Option(
        None, "--max-miss",
        help="'real' only below the threshold that calls at most this share of the calibration's synthetic images real; "
             "'inconclusive' in between (default: each card's budget, else 0.20)."),
    models_dir: Optional[List[Path]] = models_dir_option(),
    no_quality_gates: bool = typer.Option(
        False, "--no-quality-gates",
        help="Keep the detectors' verdict on images they are known not to judge (too small, blurred or upscaled, "
             "heavily recompressed, saved as lossy WebP/AVIF/HEIC, composites); the measures are then not reported."),
    domain_check: DomainCheck = typer.Option(
        DomainCheck.enforce, "--domain-check", case_sensitive=False,
        help="Test each directory of images against the calibration images of the cards that carry them "
             "(two-sample test on the probes' features; groups of >= 10 images). enforce: an out-of-domain "
             "group's definite verdicts become inconclusive (outside_calibration_domain); strict: as enforce, and "
             "verdicts no test backs (groups under 10 images, models without calibration images) become "
             "inconclusive too (domain_untested); warn: report only; off: no test, records stream as they are "
             "scored. Unless off, records are written after the test."),
    no_provenance: bool = typer.Option(False, "--no-provenance", help="Skip provenance metadata analysis (C2PA, XMP, generator tags)."),
    progress: Optional[bool] = typer.Option(None, "--progress/--no-progress", help="Progress on stderr: a bar on a terminal, plain K/N lines in a log (default: when stderr is a terminal)."),
    no_thumbnails: bool = typer.Option(False, "--no-thumbnails", help="--format html: no thumbnails (smaller file)."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Neither read nor write the result cache (see 'synthdetect cache info')."),
    engine: Engine = typer.Option(Engine.local, "--engine", case_sensitive=False, help="local: this process; ray: a Ray cluster (pip install 'synthdetect\\[ray]')."),
    address: Optional[str] = typer.Option(None, "--address", help="--engine ray: the cluster address (default: $RAY_ADDRESS, else a local Ray instance)."),
) -> None:
    """Scan images and report, per image, each detector's probability and the verdict.

    Verdicts: 'synthetic' above a threshold whose false-alarm rate on the calibration's real images is at
    most --max-false-alarm, 'real' below one whose miss rate is at most --max-miss, 'inconclusive' in between
    or when an input-quality gate says the detectors do not work on the image, or when the batch is not
    from the source the detectors were calibrated on (--domain-check); each definite verdict carries
    its calibrated error rate.

    --format html writes one self-contained case report (open it offline in any browser).

    Exit codes: 0 success; 1 a synthetic verdict was found with --fail-on synthetic
    (or a synthetic or inconclusive one with --fail-on inconclusive);
    2 usage error; 3 some inputs could not be read (they are still in the report).
    """
    from . import _command_line
    from ..output.text import header

    thr = parse_threshold(threshold)
    if address is not None and engine != Engine.ray:
        raise fail("--address needs --engine ray")
    writer = writers.get(fmt.value)
    started = time.perf_counter()
    plan = _plan(models_dir, models, ensemble, thr, max_false_alarm, max_miss)
    disc, inputs = _discover_checked(paths, recursive, plan, output, force)
    options = _options(device=device.value, batch_size=batch_size, workers=workers, provenance=not no_provenance,
                       thumbnails=writer.needs_thumbnails and not no_thumbnails, quality_gates=not no_quality_gates,
                       domain_check=domain_check.value)
    scanner = _scanner(plan, options)
    cache = None if no_cache else _cache(scanner)
    ray_engine = None if engine != Engine.ray else _ray_engine(plan, options, address)
    settings = {"threshold": threshold, **_settings(scanner, recursive, max_false_alarm, max_miss),
                "cache": cache is not None, "engine": engine.value}
    head = header(plan, scanner.models, settings, command=_command_line())
    _warn_unverified(head, fmt)
    bar = _Bar(progress if progress is not None else sys.stderr.isatty())
    with output_stream(output, inputs, force) as out:
        result = _run(writer, out, head, paths, plan, scanner, disc, bar, cache, ray_engine, recursive, started)
    if fail_on is not None and _found(result.records, plan, fail_on):
        raise typer.Exit(int(ExitCode.FOUND))
    if result.summary.errors:
        raise typer.Exit(int(ExitCode.UNREADABLE))
    raise typer.Exit(int(ExitCode.OK))


def _warn_unverified(head: dict, fmt: "Fmt") -> None:
    """A model whose weights' digest was only recorded on first use, said on stderr (the table's footer says it)."""
    for m in head["models"]:
        if m.get("unverified") and fmt != Fmt.table:
            warn(f"{m['name']} is UNVERIFIED: its weights' digest was recorded on first use, not published")


def _settings(scanner, recursive: bool, max_false_alarm: Optional[float], max_miss: Optional[float]) -> dict:
    """The run's options as the header records them (budgets not given: each card's own, "card")."""
    o = scanner.options
    return {"device": o.device, "providers": scanner.models[0].providers, "batch_size": o.batch_size,
            "workers": scanner.workers, "recursive": recursive, "provenance": scanner.provenance is not None,
            "max_false_alarm": "card" if max_false_alarm is None else max_false_alarm,
            "max_miss": "card" if max_miss is None else max_miss, "quality_gates": o.quality_gates,
            "domain_check": o.domain_check}


def _plan(models_dir, models, ensemble, thr, max_false_alarm: Optional[float], max_miss: Optional[float]):
    """The models, ensemble and operating points of this scan; broken cards it does not use are named once."""
    from ..cards import Registry
    from ..scan.runtime import RuntimeSetupError
    from ..scan.pipeline import ScanSetupError, resolve_plan

    try:
        registry = Registry(models_dir or [])
        plan = resolve_plan(registry, split_names(models), ensemble.value if ensemble else None, thr,
                            max_false_alarm=max_false_alarm, max_miss=max_miss)
    except (ScanSetupError, RuntimeSetupError) as e:
        raise fail(str(e)) from None
    for b in registry.broken():  # not used by this scan (else resolve_plan failed): said once, not silently
        warn(f"{b.reason} (ignored: this scan does not use it)")
    return plan


def _options(**settings):
    """The scan's one :class:`synthdetect.scan.options.ScanOptions`, given to whichever engine runs it."""
    from ..scan.options import ScanOptions, ScanSetupError

    try:
        return ScanOptions(**settings)
    except ScanSetupError as e:
        raise fail(str(e)) from None


def _scanner(plan, options):
    from ..scan.runtime import RuntimeSetupError
    from ..scan.pipeline import ScanSetupError, Scanner

    try:
        return Scanner(plan, options)
    except (ScanSetupError, RuntimeSetupError) as e:
        raise fail(str(e)) from None


def _cache(scanner):
    """The result cache (synthdetect.scan.cache), or None with a warning when it cannot be opened."""
    from ..scan.cache import CacheError, ScanCache

    try:
        return ScanCache.for_scanner(scanner)
    except (CacheError, OSError) as e:
        warn(f"result cache unavailable ({e}); scanning without it")
        return None


def _ray_engine(plan, options, address):
    from ..scan.engines.ray_engine import RayEngine, RayEngineError
    from ..scan.options import ClusterOptions

    try:
        return RayEngine(plan, options, ClusterOptions(address=address))
    except RayEngineError as e:
        raise fail(str(e)) from None


class _Bar:
    """Progress on stderr, started when the number of inputs is known: a rich bar on a terminal; with
    ``--progress`` into a file or pipe (a batch log), a plain ``scanning: K/N images`` line at each
    tenth of the way and at least every 30 s."""

    PLAIN_EVERY_S = 30.0

    def __init__(self, show: bool) -> None:
        self.show, self.bar, self.task = show, None, None
        self.plain, self.done, self.n, self.said_at = False, 0, 0, 0.0

    def total(self, n: int) -> None:
        if not self.show or n <= 0:
            return
        if not sys.stderr.isatty():
            self.plain, self.n, self.said_at = True, n, time.monotonic()
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.bar = Progress(TextColumn("scanning"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                            console=Console(stderr=True), transient=True)
        self.bar.start()
        self.task = self.bar.add_task("scan", total=n)

    def advance(self) -> None:  # as each image is scored (records may follow the domain check)
        if self.bar is not None:
            self.bar.advance(self.task)
        elif self.plain:
            self.done += 1
            step = max(1, self.n // 10)
            now = time.monotonic()
            if self.done == self.n or self.done % step == 0 or now - self.said_at >= self.PLAIN_EVERY_S:
                self.said_at = now
                print(f"scanning: {self.done}/{self.n} images", file=sys.stderr, flush=True)

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def _fill_thumbnails(records: list, thumbs: list) -> list:
    """Records served from the result cache, and those Ray actors return, carry no thumbnail (the
    scanner makes one only from an image it decodes itself): make the missing ones here, from the
    files (re-read read-only, SHA-256 checked, as ``report`` does), so every row has its picture."""
    from ..output.html import thumbnails_for_records

    missing = [i for i, t in enumerate(thumbs) if t is None and i < len(records)]
    made, _ = thumbnails_for_records([records[i] for i in missing])
    for i, t in zip(missing, made):
        thumbs[i] = t
    return thumbs


def _run(writer, out, head, paths, plan, scanner, disc, bar: _Bar, cache, ray_engine, recursive: bool,
         started: float):
    """Scan, stream the records to ``writer`` and close the run (summary, cache, Ray)."""
    from ..scan.pipeline import THUMBNAIL_KEY, run_scan

    thumbs: list = []

    def on_record(rec) -> None:
        thumbs.append(rec.pop(THUMBNAIL_KEY, None))
        writer.record(out, rec)

    writer.begin(out, head)
    try:
        result = run_scan(
            paths, plan, scanner.options, recursive=recursive, stdin=sys.stdin, scanner=scanner,
            on_total=bar.total, on_record=on_record, on_scored=bar.advance, started=started,
            cache=cache, engine=ray_engine.scan if ray_engine is not None else None, discovery=disc,
        )
    finally:
        bar.stop()
        if cache is not None:
            cache.store.close()
        if ray_engine is not None:
            ray_engine.shutdown()  # stops the local Ray instance if this scan started it
    summary = result.summary.to_dict()
    if cache is not None:
        summary["cache"] = cache.stats.to_dict()
    if scanner.options.thumbnails:
        thumbs = _fill_thumbnails(result.records, thumbs)
    writer.end(out, head, result.records, summary, thumbs, color=None if out is sys.stdout else False)
    if not writer.prints_summary and sys.stderr.isatty():
        from ..output.text import summary_lines

        for ln in summary_lines(summary):
            typer.echo(ln, err=True)
    return result


def _found(records, plan, fail_on: FailOn) -> bool:
    """Whether ``--fail-on`` fires: a flagged verdict, or (``--ensemble none``) a member saying
    synthetic, unless the domain check withheld that image's verdict."""
    from ..scan.domain_check import withheld_by_domain

    flagged = {"synthetic"} if fail_on == FailOn.synthetic else {"synthetic", "inconclusive"}
    # the members' votes on an image whose verdict the domain check withheld are not calibrated claims
    return any(
        r.get("verdict") in flagged
        or (plan.method == "none" and any(m.get("verdict") == "synthetic" for m in (r.get("models") or {}).values())
            and not withheld_by_domain(r))
        for r in records
    )


def mount(app: typer.Typer) -> None:
    app.command("scan")(scan)
