"""``synthdetect`` command line.

Start-up must stay fast and torch-free: only typer is imported at module level;
numpy, Pillow, onnxruntime and rich are imported inside the commands.  Other
engineers' command groups are registered defensively (a missing module just means
its commands are absent).
"""

from __future__ import annotations

import os
import sys
import time
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer

from . import __version__

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


class Device(str, Enum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


class FailOn(str, Enum):
    synthetic = "synthetic"


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
    fail_on: Optional[FailOn] = typer.Option(None, "--fail-on", help="Exit with 1 when a synthetic verdict is found."),
    models_dir: Optional[List[Path]] = typer.Option(
        None, "--models-dir", help="Extra model directory (repeatable; also $SYNTHDETECT_MODELS_DIR)."
    ),
    no_provenance: bool = typer.Option(False, "--no-provenance", help="Skip provenance metadata analysis (C2PA, XMP, generator tags)."),
    progress: Optional[bool] = typer.Option(None, "--progress/--no-progress", help="Progress bar on stderr (default: when stderr is a terminal)."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Neither read nor write the result cache (see 'synthdetect cache info')."),
    engine: Engine = typer.Option(Engine.local, "--engine", case_sensitive=False, help="local: this process; ray: a Ray cluster (pip install 'synthdetect[ray]')."),
    address: Optional[str] = typer.Option(None, "--address", help="--engine ray: the cluster address (default: $RAY_ADDRESS, else a local Ray instance)."),
) -> None:
    """Scan images and report, per image, each detector's probability and the verdict.

    Exit codes: 0 success; 1 a synthetic verdict was found with --fail-on synthetic;
    2 usage error; 3 some inputs could not be read (they are still in the report).
    """
    thr = parse_threshold(threshold)
    if address is not None and engine != Engine.ray:
        raise _fail("--address needs --engine ray")
    from .cards import Registry
    from .report import header, render, jsonl_line
    from .runtime import RuntimeSetupError
    from .scan import ScanSetupError, Scanner, resolve_plan, run_scan

    if output is not None:
        out_real = os.path.realpath(output)
        for p in paths:
            if p != "-" and os.path.realpath(p) == out_real and os.path.isfile(p):
                raise _fail(f"--output {output} is one of the inputs; refusing to overwrite evidence")
    started = time.perf_counter()
    try:
        registry = Registry(models_dir or [])
        plan = resolve_plan(registry, _split_models(models), ensemble.value if ensemble else None, thr)
        scanner = Scanner(
            plan, device=device.value, batch_size=batch_size, workers=workers, provenance=not no_provenance
        )
    except (ScanSetupError, RuntimeSetupError) as e:
        raise _fail(str(e)) from None

    # -- issue 12: result cache and engines (synthdetect.cache, synthdetect.engines.ray_engine)
    cache = None
    if not no_cache:
        from .cache import CacheError, ScanCache

        try:
            cache = ScanCache.for_scanner(scanner)
        except (CacheError, OSError) as e:
            typer.echo(f"synthdetect: warning: result cache unavailable ({e}); scanning without it", err=True)
    ray_engine = None
    if engine == Engine.ray:
        from .engines.ray_engine import RayEngine, RayEngineError

        try:
            ray_engine = RayEngine(plan, address=address, device=device.value, batch_size=batch_size,
                                   workers=workers, provenance=not no_provenance)
        except RayEngineError as e:
            raise _fail(str(e)) from None
    # -- end issue 12

    options = {
        "threshold": threshold, "device": device.value, "providers": scanner.models[0].providers,
        "batch_size": batch_size, "workers": scanner.workers, "recursive": recursive,
        "provenance": scanner.provenance is not None,
        "cache": cache is not None, "engine": engine.value,
    }
    head = header(plan, scanner.models, options)

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

    def on_record(rec) -> None:
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
        else:
            render(fmt.value, out, head, result.records, summary, color=None if out is sys.stdout else False)
        if fmt != Fmt.table and sys.stderr.isatty():
            from .report import summary_lines

            for ln in summary_lines(summary):
                typer.echo(ln, err=True)
    finally:
        if out is not sys.stdout:
            out.close()
        else:
            out.flush()

    found = any(
        r.get("verdict") == "synthetic"
        or (plan.method == "none" and any(m.get("verdict") == "synthetic" for m in (r.get("models") or {}).values()))
        for r in result.records
    )
    if fail_on == FailOn.synthetic and found:
        raise typer.Exit(EXIT_SYNTHETIC)
    if result.summary.errors:
        raise typer.Exit(EXIT_UNREADABLE)
    raise typer.Exit(EXIT_OK)


@app.command("models")
def models_cmd(
    models_dir: Optional[List[Path]] = typer.Option(None, "--models-dir", help="Extra model directory (repeatable)."),
    fmt: Fmt = typer.Option(Fmt.table, "--format", "-f", case_sensitive=False, help="table or json."),
) -> None:
    """List installed models and ensembles with their card details."""
    import json

    from .cards import CardError, Registry

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
        from rich.console import Console
        from rich.table import Table

        con = Console()
        if not models and not ensembles:
            con.print("no models installed; looked in: " + ", ".join(map(str, reg.dirs)))
        if models:
            t = Table(title="models", title_justify="left")
            for col in ("name", "architecture", "family", "input", "threshold", "F1", "sha256", "card"):
                t.add_column(col, overflow="fold")
            for c in models:
                spec = c.input
                inp = f"{spec.size}px" + (f" (shorter side {spec.resize_to})" if spec.resize == "shorter_side" else " native")
                thr = f"{c.effective_threshold():g}" + (" cal." if c.calibrated_threshold is not None else "")
                t.add_row(c.name, c.architecture, c.family, inp, thr, "" if c.f1 is None else f"{c.f1:.3f}",
                          c.sha256[:12], str(c.path))
            con.print(t)
        if ensembles:
            t = Table(title="ensembles", title_justify="left")
            for col in ("name", "method", "members", "threshold", "F1", "card"):
                t.add_column(col, overflow="fold")
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


def _warn_plugin(name: str, e: BaseException) -> None:
    if os.environ.get("SYNTHDETECT_DEBUG"):
        raise e
    print(f"synthdetect: warning: '{name}' commands unavailable: {e.__class__.__name__}: {e}", file=sys.stderr)


def _register_plugins() -> None:
    """Mount other modules' commands; each registration fails independently."""
    try:
        from .train import cli as train_cli
    except ImportError:
        train_cli = None
    except Exception as e:
        _warn_plugin("train", e)
        train_cli = None
    if train_cli is not None:
        for attr, name in (("train_app", "train"), ("ensemble_app", "ensemble")):
            sub = getattr(train_cli, attr, None)
            if sub is not None:
                app.add_typer(sub, name=name)
        for fn in ("evaluate", "calibrate", "export"):
            f = getattr(train_cli, fn, None)
            if callable(f):
                app.command(fn)(f)
    try:
        from .inspect_cli import inspect as inspect_fn

        app.command("inspect")(inspect_fn)
    except ImportError:
        pass
    except Exception as e:
        _warn_plugin("inspect", e)
    try:
        from .cache_cli import cache_app

        app.add_typer(cache_app, name="cache")
    except ImportError:
        pass
    except Exception as e:
        _warn_plugin("cache", e)
    try:
        from .weights_cli import weights_app

        app.add_typer(weights_app, name="weights")
    except ImportError:
        pass
    except Exception as e:
        _warn_plugin("weights", e)


_register_plugins()


def main() -> None:
    app(prog_name="synthdetect")


if __name__ == "__main__":
    main()
