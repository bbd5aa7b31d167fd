"""``synthdetect weights``: list | pull | import | verify | forget | remove published detectors.

Only typer, rich and the standard library are imported here at module level; the hub
(stdlib) and the PyTorch converter (``synthdetect.train.published``) are imported by
the commands that need them.  Errors go through ``errors.fail``: a bad name, argument or
registry file is ``ExitCode.USAGE``; a download, checksum, conversion or verification that
went wrong is ``ExitCode.FAILED`` (see ``EPILOG``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, List, Optional

import typer
from rich.table import Table

from ..console import LazyConsole, ident, piped
from .errors import ExitCode, fail, missing_extra, output_checks, warn
from .options import ListFormat, list_format_option, models_dir_option

EPILOG = ("Exit codes: 0 success; 2 usage error, nothing was done (unknown entry, backbone or converter, missing "
          "--from file, bad registry file, no 'train' extra to convert with, model already installed without --force, "
          "refusing to remove a bundled or unknown model, nothing recorded to forget, removal not confirmed); "
          "4 the operation failed (download, checksum mismatch, wrong file type, conversion or parity check, "
          "verify found a MISMATCH, MISSING or BROKEN file or card).")

weights_app = typer.Typer(
    name="weights",
    help=("Published detectors (CNNDetection, UnivFD) and CLIP backbones: list, pull (download + convert "
          "to ONNX), import (same from local files), verify, forget (a digest recorded on first use), remove."),
    epilog=EPILOG,
    no_args_is_help=True,
    add_completion=False,
)

out = LazyConsole()  # stdout: wide and unwrapped when piped (synthdetect.console)
err = LazyConsole(stderr=True)

_MODELS_DIR_HELP = ("install into / look in this model directory (default: first $SYNTHDETECT_MODELS_DIR entry, "
                    "else the user model directory)")
_CACHE_HELP = "raw checkpoint cache (default: $SYNTHDETECT_CHECKPOINTS_DIR, else <user data dir>/checkpoints)"
_REGISTRY_HELP = "JSON file of hub entries replacing/extending the built-in ones (env SYNTHDETECT_HUB_REGISTRY)"
_BASE_URL_HELP = "mirror: fetch every file from BASE/ENTRY/FILENAME (env SYNTHDETECT_HUB_BASE_URL)"

# options shared by several weights commands
CACHE_DIR = typer.Option(None, "--cache-dir", help=_CACHE_HELP)
REGISTRY = typer.Option(None, "--registry", help=_REGISTRY_HELP)
BACKBONE = typer.Option(None, "--backbone", help="backbone entry for CLIP detectors")
PARITY_DATA = typer.Option(None, "--parity-data", help="images for the ONNX parity check (default: generated)")
INT8 = typer.Option(False, "--int8", help="also write an int8 (dynamic quantisation) model for CPUs")
TOLERANCE = typer.Option(1e-4, "--tolerance", help="max |Δprobability| ONNX vs PyTorch")


def _report_fetched(items: list[Any]) -> None:
    for f in items:
        if f.check == "first-use":
            err.print(f"[bold yellow]trust on first use:[/] {f.entry}/{f.filename}: no published sha256; "
                      f"recorded [bold]{f.sha256}[/] — compare it with a trusted source", highlight=False,
                      soft_wrap=True)
        else:
            err.print(f"[green]✓[/] {f.entry}/{f.filename}: sha256 {f.sha256[:16]}… matches "
                      f"({'registry' if f.check == 'registry' else 'digest recorded on first use'})"
                      f"{' — ' + f.message if f.message == 'already cached' else ''}", highlight=False)


def _lookup(name: str, registry: Optional[Path]) -> tuple[dict, Any]:
    """The registry (built-in + ``--registry``) and its entry ``name``; a usage error otherwise."""
    from .. import hub

    try:
        reg = hub.load_registry(registry)
        return reg, hub.get_entry(name, reg)
    except hub.HubError as e:
        raise fail(str(e)) from None


def _report_cached(items: list[Any]) -> None:
    for f in items:
        out.print(f"cached {f.entry}/{f.filename} → {f.path}", highlight=False)


def _sources(entry: Any, items: list[Any]) -> list[dict[str, Any]]:
    """The card's ``extra.hub.files``: per file, where its bytes came from (the URL fetched, or the
    local file imported) and whether its digest was published (``verified``) or only recorded on
    first use.  ``registry_url`` is the entry's URL, which an imported file did not come from."""
    by_name = {h.filename: h for h in entry.files}
    rows = []
    for f in items:
        hf = by_name.get(f.filename)
        src = getattr(f, "source", "") or ""
        imported = src.startswith("imported from ")
        url = src if src.startswith(("http://", "https://")) else (hf.url if hf and f.check == "registry" else None)
        rows.append({
            "entry": f.entry, "file": f.filename, "url": url, "registry_url": hf.url if hf else "",
            "imported_from": src[len("imported from "):] if imported else None, "from": src or None,
            "sha256": f.sha256, "verified": f.check == "registry",
            "digest": "published" if f.check == "registry" else "recorded on first use (not published)",
            "check": {"registry": "matches published sha256", "recorded": "matches digest recorded on first use",
                      "first-use": "no published sha256: recorded on first use"}.get(f.check, f.check),
        })
    return rows


def _refuse_replace(entry: Any, models_dir: Path, force: bool) -> None:
    """A usage error (nothing done) when ``entry`` is already installed and ``--force`` was not given:
    its card may carry local edits, e.g. the threshold written by ``synthdetect calibrate``."""
    if force or entry.kind != "detector":
        return
    have = [p for p in (models_dir / f"{entry.name}.json", models_dir / f"{entry.name}.onnx") if p.exists()]
    if have:
        raise fail(f"{entry.name} is already installed ({have[0]}); pass --force to replace it "
                   f"(its card is rewritten: local edits such as a calibrated threshold are lost)")


def _check_install(entry: Any, models_dir: Path, sources: List[Path], parity_data: Optional[Path]) -> None:
    """The output check (:mod:`synthdetect.output.evidence`, docs/safety.md) before a conversion: the model files
    it installs are never one of the files it reads (the checkpoints, the parity images)."""
    from ..output.evidence import Inputs

    reads = Inputs(sources)
    if parity_data is not None:
        reads.update([parity_data, *(p for p in Path(parity_data).rglob("*") if p.is_file())]
                     if Path(parity_data).is_dir() else [parity_data])
    names = [f"{entry.name}{s}" for s in (".onnx", ".json", ".int8.onnx", ".int8.json")]
    with output_checks():
        reads.check_dir(models_dir, "--models-dir", names=names)


def _convert(entry: Any, items: list[Any], *, backbone: Any, backbone_items: list[Any], models_dir: Path,
             parity_data: Optional[Path], int8: bool, tolerance: float) -> None:
    _check_install(entry, models_dir, [f.path for f in items + backbone_items], parity_data)
    try:
        from ..train import published
    except ImportError as e:
        raise missing_extra("train", e) from None
    from ..train.export import ParityError

    files = {}
    for f in items:
        role = next(h.role for h in entry.files if h.filename == f.filename)
        files[role] = f.path
    bb_path = backbone_items[0].path if backbone_items else None
    sources = _sources(entry, items) + (_sources(backbone, backbone_items) if backbone is not None else [])
    err.print(f"converting {entry.name} to ONNX (parity check against PyTorch{', plus int8' if int8 else ''}) …")
    try:
        card = published.convert(entry, files, models_dir, sources=sources, backbone=backbone,
                                 backbone_path=bb_path, parity_data=parity_data, int8=int8, tolerance=tolerance)
    except ParityError as e:
        raise fail(f"{e} — nothing installed", ExitCode.FAILED) from None
    except published.HubError as e:
        raise fail(str(e), ExitCode.FAILED) from None
    except (RuntimeError, ValueError, OSError) as e:
        raise fail(f"converting {entry.name} failed: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}",
                   ExitCode.FAILED) from None
    p = card.parity
    out.print(f"installed [bold]{card.name}[/] → {card.model_path}", highlight=False)
    out.print(f"  sha256 {card.sha256}", highlight=False)
    out.print(f"  parity fp32: max |Δprob| {p.get('max_abs_dprob', float('nan')):.2e} "
              f"(max |Δlogit| {p.get('max_abs_dlogit', float('nan')):.2e}) on {p.get('n_images')} images, "
              f"tolerance {p.get('tolerance')}", highlight=False)
    if int8 and "int8" in p:
        q = p["int8"]
        out.print(f"installed [bold]{card.name}.int8[/] → {card.model_path.with_name(q['file'])}", highlight=False)
        out.print(f"  parity int8: max |Δprob| {q['max_abs_dprob']:.2e}, mean {q['mean_abs_dprob']:.2e} "
                  f"(max |Δlogit| {q['max_abs_dlogit']:.2e}), tolerance {q['tolerance']}", highlight=False)
    note = card.extra.get("parity_data", {})
    out.print(f"  parity images: {note.get('source', '?')}", highlight=False)
    for s in (s for s in sources if not s["verified"]):
        where = f"{s['imported_from']} (imported)" if s["imported_from"] else (s["from"] or "?")
        out.print(f"  [yellow]unverified:[/] {s['entry']}/{s['file']} has no published sha256; its digest was "
                  f"recorded on first use, from {where} (`synthdetect models` marks the model)",
                  highlight=False, soft_wrap=True)
    out.print(f"  use: synthdetect scan --models {card.name}"
              + (f" --models-dir {models_dir}" if _needs_models_dir(models_dir) else ""), highlight=False)


def _check_converter(entry: Any, hint: str = "") -> None:
    """Before any download or copy: the entry's converter exists (and PyTorch to run it).

    An entry naming an unknown converter (a typo in a registry file) is a set-up error, found
    before gigabytes are fetched rather than after.
    """
    if entry.kind != "detector":
        return
    try:
        from ..train import published
    except ImportError as e:
        raise missing_extra("train", e, what=f"converting {entry.name} to ONNX", hint=hint) from None
    try:
        published.get_converter(entry.converter)
    except published.HubError as e:
        raise fail(f"{entry.name}: {e}") from None


def _needs_models_dir(models_dir: Path) -> bool:
    from ..cards import search_dirs

    return models_dir.expanduser().resolve() not in search_dirs()


def _pick_backbone(entry: Any, reg: dict, choice: Optional[str]) -> list[str]:
    if not entry.backbones:
        return []
    if choice:
        if choice not in entry.backbones:
            raise fail(f"{entry.name} accepts the backbones {', '.join(entry.backbones)}, not {choice!r}")
        return [choice]
    return list(entry.backbones)


@weights_app.command("list")
def list_(
    fmt: ListFormat = list_format_option(),
    models_dir: Optional[Path] = models_dir_option(_MODELS_DIR_HELP),
    cache_dir: Optional[Path] = CACHE_DIR,
    registry: Optional[Path] = REGISTRY,
) -> None:
    """Registry entries with their sources, checksums, cache and install status."""
    from .. import hub
    from ..cards import Registry

    try:
        reg = hub.load_registry(registry)
        install = hub.default_install_dir(models_dir)
        installed = set(Registry([install]).model_names())
        rows = []
        for e in reg.values():
            files = []
            for hf in e.files:
                exp, origin = hub.expected_digest(e, hf, cache_dir)
                cp = hub.cached_path(e, hf, cache_dir)
                files.append({"filename": hf.filename, "url": hf.url, "sha256": hf.sha256,
                              "sha256_note": hf.sha256_note or None, "sha256_source": hf.sha256_source or None,
                              "recorded_sha256": exp if origin == "recorded" else None,
                              "size": hf.size, "format": hf.format, "cached": cp.is_file(),
                              "cached_path": str(cp) if cp.is_file() else None})
            rows.append({"name": e.name, "kind": e.kind, "family": e.family, "architecture": e.architecture,
                         "description": e.description, "source": e.source, "licence": e.licence,
                         "backbones": e.backbones, "files": files,
                         "installed": e.name in installed if e.kind == "detector" else None,
                         "installed_int8": (e.name + ".int8") in installed if e.kind == "detector" else None})
    except hub.HubError as ex:  # an unreadable registry file or digest record
        raise fail(str(ex)) from None
    if fmt == ListFormat.json:
        print(json.dumps({"models_dir": str(install), "cache_dir": str(hub.cache_dir(cache_dir)),
                          "entries": rows}, indent=2))
        return
    t = Table(title=f"published detectors (install dir: {install})", show_lines=False)
    for c in ("name", "kind", "sha256", "cached", "installed", "source"):
        t.add_column(c, overflow="fold", no_wrap=piped())
    for r in rows:
        shas = []
        for f in r["files"]:
            if f["sha256"]:
                shas.append(f"{f['filename']}: published {ident(f['sha256'], 12)}")
            elif f["recorded_sha256"]:
                shas.append(f"{f['filename']}: [yellow]recorded on first use[/] {ident(f['recorded_sha256'], 12)}")
            else:
                shas.append(f"{f['filename']}: [yellow]not published[/]")
        cached = "yes" if all(f["cached"] for f in r["files"]) else "no"
        inst = "—" if r["installed"] is None else ("yes" + (" (+int8)" if r["installed_int8"] else "")
                                                   if r["installed"] else "no")
        t.add_row(r["name"], r["kind"], "\n".join(shas), cached, inst, r["source"])
    out.print(t)


@weights_app.command("pull")
def pull(
    name: str = typer.Argument(..., help="registry entry (see `synthdetect weights list`)"),
    models_dir: Optional[Path] = models_dir_option(_MODELS_DIR_HELP),
    cache_dir: Optional[Path] = CACHE_DIR,
    base_url: Optional[str] = typer.Option(None, "--base-url", help=_BASE_URL_HELP),
    registry: Optional[Path] = REGISTRY,
    backbone: Optional[str] = BACKBONE,
    parity_data: Optional[Path] = PARITY_DATA,
    int8: bool = INT8,
    tolerance: float = TOLERANCE,
    timeout: float = typer.Option(30.0, "--timeout", help="network timeout in seconds"),
    retries: int = typer.Option(2, "--retries", help="automatic resumes after a dropped connection"),
    force: bool = typer.Option(False, "--force", help=("download again even if cached, and replace the model if it "
                                                        "is installed (its card is rewritten)")),
    no_convert: bool = typer.Option(False, "--no-convert", help="only download and verify"),
    no_progress: bool = typer.Option(False, "--no-progress", help="no progress bar"),
) -> None:
    """Download a published detector (and its backbone), verify, convert to ONNX, install."""
    from .. import hub

    reg, entry = _lookup(name, registry)
    candidates = _pick_backbone(entry, reg, backbone)
    if not no_convert:
        _refuse_replace(entry, hub.default_install_dir(models_dir), force)
        _check_converter(entry, "; or download only with --no-convert")
    try:
        kw = dict(cache=cache_dir, base_url=base_url, timeout=timeout, retries=retries,
                  progress=not no_progress, force=force, log=lambda m: err.print(m, highlight=False))
        items = hub.fetch(entry, **kw)
        _report_fetched(items)
        bb, bb_items = None, []
        if candidates:
            have = next((c for c in candidates if hub.local_checkpoint(c, cache_dir, registry=reg)), None)
            bb = hub.get_entry(have or candidates[0], reg)
            bb_items = hub.fetch(bb, **kw)
            _report_fetched(bb_items)
    except hub.HubError as e:  # download failed or checksum mismatch
        raise fail(str(e), ExitCode.FAILED) from None
    if entry.kind == "backbone":
        _report_cached(items)
        return
    if no_convert:
        out.print(f"downloaded {entry.name}; convert later with `synthdetect weights import {entry.name} "
                  f"--from {' --from '.join(str(f.path) for f in items + bb_items)}`", highlight=False)
        return
    _convert(entry, items, backbone=bb, backbone_items=bb_items, models_dir=hub.default_install_dir(models_dir),
             parity_data=parity_data, int8=int8, tolerance=tolerance)


@weights_app.command("import")
def import_(
    name: str = typer.Argument(..., help="registry entry (see `synthdetect weights list`)"),
    from_: List[Path] = typer.Option(..., "--from", help="checkpoint file(s) on disk (repeat for several)"),
    models_dir: Optional[Path] = models_dir_option(_MODELS_DIR_HELP),
    cache_dir: Optional[Path] = CACHE_DIR,
    registry: Optional[Path] = REGISTRY,
    backbone: Optional[str] = BACKBONE,
    parity_data: Optional[Path] = PARITY_DATA,
    int8: bool = INT8,
    tolerance: float = TOLERANCE,
    force: bool = typer.Option(False, "--force", help=("replace the model if it is installed (its card is "
                                                        "rewritten: a calibrated threshold is lost)")),
) -> None:
    """Like pull, from files already on disk (verified against the registry where a sha256 is known)."""
    from .. import hub
    from ..cards import sha256_file

    reg, entry = _lookup(name, registry)
    candidates = _pick_backbone(entry, reg, backbone)
    _refuse_replace(entry, hub.default_install_dir(models_dir), force)
    for p in (Path(f).expanduser() for f in from_):
        if not p.is_file():
            raise fail(f"{p}: no such file")
    _check_converter(entry)
    if entry.kind == "detector":  # before anything is copied: the --from files are never written over
        _check_install(entry, hub.default_install_dir(models_dir), [Path(f).expanduser() for f in from_], parity_data)
    try:
        items, rest = hub.import_files(entry, from_, cache=cache_dir)
        _report_fetched(items)
        bb, bb_items = None, []
        if candidates:
            if rest:
                errors = []
                for c in candidates:
                    try:
                        bb_items, rest = hub.import_files(hub.get_entry(c, reg), rest, cache=cache_dir)
                        bb = hub.get_entry(c, reg)
                        break
                    except hub.HubError as e:
                        errors.append(str(e))
                else:
                    raise hub.HubError(errors[0])
                _report_fetched(bb_items)
            else:
                for c in candidates:
                    p = hub.local_checkpoint(c, cache_dir, registry=reg)
                    if p is not None:
                        bb = hub.get_entry(c, reg)
                        bb_items = [hub.Fetched(c, bb.files[0].filename, p, sha256_file(p),
                                                hub.expected_digest(bb, bb.files[0], cache_dir)[1], "cached",
                                                source=f"cached file {p}")]
                        err.print(f"using cached backbone {c}: {p}", highlight=False)
                        break
                else:
                    raise fail(
                        f"{entry.name} needs a CLIP backbone: pass its file with another --from "
                        f"(e.g. {reg[candidates[0]].files[0].filename}) or run "
                        f"`synthdetect weights pull {candidates[0]}`"
                    )
        for p in rest:
            warn(f"{p} was not used")
    except hub.HubError as e:  # checksum mismatch or not the expected kind of file
        raise fail(str(e), ExitCode.FAILED) from None
    if entry.kind == "backbone":
        _report_cached(items)
        return
    _convert(entry, items, backbone=bb, backbone_items=bb_items, models_dir=hub.default_install_dir(models_dir),
             parity_data=parity_data, int8=int8, tolerance=tolerance)


@weights_app.command("verify")
def verify(
    models_dir: Optional[Path] = models_dir_option(_MODELS_DIR_HELP),
    cache_dir: Optional[Path] = CACHE_DIR,
    registry: Optional[Path] = REGISTRY,
    fmt: ListFormat = list_format_option(),
) -> None:
    """Re-hash installed models against their cards and cached checkpoints against the registry."""
    from .. import hub

    try:
        reg = hub.load_registry(registry)
    except hub.HubError as e:
        raise fail(str(e)) from None
    try:
        install = hub.default_install_dir(models_dir)
        rows = hub.verify_all(install, cache=cache_dir, registry=reg)
    except hub.HubError as e:
        raise fail(str(e), ExitCode.FAILED) from None
    bad = [r for r in rows if r.status in ("MISMATCH", "MISSING", "BROKEN")]
    if fmt == ListFormat.json:
        print(json.dumps({"models_dir": str(install), "ok": not bad,
                          "rows": [r.__dict__ for r in rows]}, indent=2))
    else:
        t = Table(title=f"verify: models in {install}, checkpoints in {hub.cache_dir(cache_dir)}")
        for c in ("kind", "name", "status", "detail", "path"):
            t.add_column(c, overflow="fold", no_wrap=piped())
        colour = {"OK": "green", "MISMATCH": "bold red", "MISSING": "bold red", "BROKEN": "bold red", "UNVERIFIED": "yellow",
                  "PARTIAL": "yellow"}
        for r in rows:
            t.add_row(r.kind, r.name, f"[{colour[r.status]}]{r.status}[/]", r.detail, r.path)
        out.print(t)
        if not rows:
            out.print("nothing installed or cached")
    if bad:
        raise fail(f"{len(bad)} problem(s): " + ", ".join(f"{r.name} {r.status}" for r in bad), ExitCode.FAILED)


@weights_app.command("forget")
def forget(
    name: str = typer.Argument(..., help="registry entry whose digest was recorded on first use"),
    file: Optional[str] = typer.Option(None, "--file", help="only this file of the entry (default: all its files)"),
    cache_dir: Optional[Path] = CACHE_DIR,
    yes: bool = typer.Option(False, "--yes", "-y", help="do not ask for confirmation"),
) -> None:
    """Forget the digest recorded on first use for NAME and delete the cached copy it was taken from.

    For a wrong or incomplete first file (a cut download, the wrong checkpoint): the next pull or
    import records the digest of the file it gets.  Published digests are never forgotten;
    an installed model is kept (`weights remove NAME`).
    """
    from .. import hub

    try:
        keys = [k for k in hub.recorded_digests(cache_dir)
                if k.split("/", 1)[0] == name and (file is None or k == f"{name}/{file}")]
    except hub.HubError as e:
        raise fail(str(e), ExitCode.FAILED) from None
    if not keys:
        raise fail(f"no digest recorded on first use for {name}{'/' + file if file else ''} "
                   f"in {hub.cache_dir(cache_dir)}")
    if not yes and not typer.confirm(f"forget the recorded digest of {', '.join(keys)} and delete the cached "
                                     f"copy?", default=False):
        raise fail("not confirmed; nothing forgotten")
    try:
        done = hub.forget_digests(name, file, cache_dir)
    except hub.HubError as e:
        raise fail(str(e), ExitCode.FAILED) from None
    for key, gone in done:
        out.print(f"forgot {key}" + (f"; deleted {', '.join(str(p) for p in gone)}" if gone else ""),
                  highlight=False)


@weights_app.command("remove")
def remove(
    name: str = typer.Argument(..., help="installed model name"),
    models_dir: Optional[Path] = models_dir_option(_MODELS_DIR_HELP),
    yes: bool = typer.Option(False, "--yes", "-y", help="do not ask for confirmation"),
) -> None:
    """Delete an installed model (ONNX + card, and its .int8 companion) from the user model directory."""
    from .. import hub
    from ..cards import CardError, ModelCard, bundled_dir

    d = hub.default_install_dir(models_dir)
    if d.expanduser().resolve() == bundled_dir().resolve():
        raise fail("refusing to remove from the bundled weights/ directory")
    card_path = d / f"{name}.json"
    if not card_path.is_file():
        if (bundled_dir() / f"{name}.json").is_file():
            raise fail(f"{name} is a bundled model (weights/); `weights remove` never deletes bundled models")
        raise fail(f"no installed model {name!r} in {d}")
    targets = [card_path]
    try:
        card = ModelCard.load(card_path)
        targets.append(card.model_path)
    except CardError:
        targets.append(d / f"{name}.onnx")
    for comp in (d / f"{name}.int8.json", d / f"{name}.int8.onnx"):
        if comp.exists():
            targets.append(comp)
    targets = [t for t in dict.fromkeys(targets) if t.exists()]
    for t in targets:
        if t.resolve().parent != d.resolve():
            raise fail(f"{t} is outside {d}; refusing to delete it")
    if not yes:
        if not typer.confirm(f"delete {', '.join(t.name for t in targets)} from {d}?", default=False):
            raise fail("not confirmed; nothing removed")
    for t in targets:
        t.unlink()
    out.print(f"removed {name} ({len(targets)} files) from {d}", highlight=False)


def mount(app: typer.Typer) -> None:
    app.add_typer(weights_app, name="weights")
