"""Typer commands for training, export, evaluation, calibration and ensemble building.

Mounted by ``synthdetect/cli.py``: ``train_app`` as ``synthdetect train``, ``ensemble_app`` as
``synthdetect ensemble``, and the functions ``evaluate``, ``calibrate``, ``export`` as commands.
Only typer / rich / stdlib at module level: torch is imported inside the command bodies.
"""

from __future__ import annotations

import json
import sys
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console

err = Console(stderr=True, soft_wrap=True)

train_app = typer.Typer(help="Train detectors (PyTorch; needs the 'train' extra).", no_args_is_help=True)
ensemble_app = typer.Typer(help="Build ensemble cards.", no_args_is_help=True)
backbone_app = typer.Typer(help="Pretrained feature extractors (backbones) for probes.", no_args_is_help=True)


class Device(str, Enum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


class ResNetArch(str, Enum):
    resnet50 = "resnet50"
    resnet18 = "resnet18"
    narrow = "resnet-narrow"
    lite0 = "efficientnet-lite0"


class Feature(str, Enum):
    ojha = "ojha"
    cozzolino = "cozzolino"


class Fmt(str, Enum):
    table = "table"
    json = "json"


class Method(str, Enum):
    weighted = "weighted"
    majority = "majority"
    mean = "mean"


# shared option declarations
TRAIN = typer.Option(..., "--train", help="Training set DIR or DIR@LISTFILE (repeatable).")
VAL = typer.Option(None, "--val", help="Validation set DIR or DIR@LISTFILE (repeatable); drives early stopping.")
OUT = typer.Option(..., "--out", help="Run directory (must be empty unless --resume/--force).")
INIT = typer.Option(None, "--init-from", help="Fine-tune from an earlier run's best checkpoint.")
PAIRS = typer.Option(None, "--pairs", min=1, help="Draw N real + N synthetic training images with --seed.")
SEED = typer.Option(0, "--seed", min=0, help="Random seed (sampling, augmentation, init).")
RESUME = typer.Option(False, "--resume", help="Continue the run in --out from last.pt.")
FORCE = typer.Option(False, "--force", help="Write into a non-empty --out (files are overwritten, nothing deleted).")
DEVICE = typer.Option(Device.auto, "--device", help="auto uses CUDA when available.")
THREADS = typer.Option(2, "--threads", min=1, help="torch CPU threads.")
WORKERS = typer.Option(0, "--workers", min=0, max=8, help="DataLoader worker processes.")
CROPS = typer.Option(1, "--crops-per-image", min=1, max=256,
                     help="Random training views of every image per epoch (patch sampling on large photos).")
PATIENCE = typer.Option(5, "--patience", min=1, help="Early-stopping patience in epochs (Wang et al.: 5).")


class Monitor(str, Enum):
    acc = "acc"
    ap = "ap"


MONITOR = typer.Option(Monitor.acc, "--monitor",
                       help="Validation score for early stopping: accuracy at 0.5 (Wang et al.) or average precision.")


def _fail(msg: str, code: int = 1):
    err.print(f"[red]error:[/] {msg}")
    raise typer.Exit(code)


def _done(result: dict, out: Path) -> None:
    err.print(f"[green]done[/]: {result.get('status')} after epoch {result.get('last_epoch')}, best epoch "
              f"{result.get('best_epoch')} (score {result.get('best_score'):.4f}); run in {out}")


def _run(fn, **kw):
    from .data import DataError
    from .loop import RunError

    try:
        res = fn(**kw)
    except (DataError, RunError, ValueError, FileNotFoundError) as e:
        _fail(str(e))
    except (RuntimeError, OSError) as e:  # e.g. a hub download that cannot reach the network
        _fail(f"{type(e).__name__}: {e}")
    _done(res, kw["out"])
    return res


@train_app.command("resnet")
def train_resnet(
    train: List[str] = TRAIN,
    val: Optional[List[str]] = VAL,
    blur_jpeg_prob: float = typer.Option(..., "--blur-jpeg-prob", min=0.0, max=1.0,
                                         help="Probability of blur and (independently) of JPEG (Wang: 0.5 or 0.1)."),
    arch: ResNetArch = typer.Option(ResNetArch.resnet50, "--arch",
                                    help="efficientnet-lite0: the ImageNet-pretrained Lite0 from its pip package "
                                         "(SHA-256 checked), fine-tuned end to end with a new Linear(1280,1) head."),
    backbone_weights: Optional[Path] = typer.Option(None, "--backbone-weights", exists=True, dir_okay=False,
                                                    help="torchvision ImageNet ResNet weights file (local); for "
                                                         "efficientnet-lite0 another copy of its weights file."),
    init_from: Optional[Path] = INIT,
    pairs: Optional[int] = PAIRS,
    epochs: int = typer.Option(100, "--epochs", min=1, help="Maximum epochs (early stopping usually ends sooner)."),
    batch_size: int = typer.Option(64, "--batch-size", min=1),
    lr: float = typer.Option(1e-4, "--lr"),
    inference_resize: bool = typer.Option(
        False, "--inference-resize/--no-inference-resize",
        help="Card resizes the shorter side to 256 at inference as training did (default: Wang's test "
             "transform, no resize + centre crop 224)."),
    crops_per_image: int = CROPS,
    patience: int = PATIENCE,
    monitor: Monitor = MONITOR,
    seed: int = SEED,
    out: Path = OUT,
    resume: bool = RESUME,
    force: bool = FORCE,
    device: Device = DEVICE,
    threads: int = THREADS,
    workers: int = WORKERS,
):
    """Wang et al. (CVPR 2020) ResNet recipe: resize 256, blur/JPEG, crop 224, flip, Adam, early stopping.

    --arch efficientnet-lite0 fine-tunes the pretrained EfficientNet-Lite0 with the same recipe (CPU-sized)."""
    from . import compat  # noqa: F401
    from .augment import AugmentConfig
    from .runs import train_images

    if backbone_weights and arch == ResNetArch.narrow:
        _fail("--backbone-weights applies to resnet50/resnet18 (torchvision weights)")
    if backbone_weights is None and init_from is None and not resume and arch != ResNetArch.lite0:
        err.print("[yellow]note:[/] no --backbone-weights: the network starts from random init (recorded in config.json)")
    arch_kw = {"backbone_weights": str(backbone_weights)} if backbone_weights else {}
    aug = AugmentConfig(blur_prob=blur_jpeg_prob, jpeg_prob=blur_jpeg_prob, crop=224)
    _run(train_images, recipe="wang2020-resnet", arch=arch.value, arch_kw=arch_kw, train=train, val=val, aug=aug,
         resize_to=256, out=out, init_from=str(init_from) if init_from else None, pairs=pairs, epochs=epochs,
         batch_size=batch_size, lr=lr, optimizer="adam", seed=seed, resume=resume, force=force, device=device.value,
         workers=workers, threads=threads, extra={"blur_jpeg_prob": blur_jpeg_prob},
         crops_per_image=crops_per_image, patience=patience, monitor=monitor.value, card_resize=inference_resize)


@train_app.command("clip-probe")
def train_clip_probe(
    train: List[str] = TRAIN,
    val: Optional[List[str]] = VAL,
    backbone: str = typer.Option("ViT-L-14-quickgelu", "--backbone", help="open_clip model name."),
    backbone_weights: str = typer.Option("openai", "--backbone-weights",
                                         help="PATH to a local checkpoint, a backbone from `synthdetect weights list` "
                                              "(e.g. clip-vitl14-openai, once pulled or imported), an open_clip "
                                              "pretrained tag (needs network), or 'none' for random init (tests only)."),
    feature: Feature = typer.Option(Feature.ojha, "--feature",
                                    help="ojha: encode_image (768-d for ViT-L/14); cozzolino: pre-projection CLS, L2."),
    blur_jpeg_prob: float = typer.Option(0.5, "--blur-jpeg-prob", min=0.0, max=1.0),
    views: int = typer.Option(1, "--views", min=1, max=64,
                              help="Augmented views per training image (features cached; epoch e uses view e mod V)."),
    cache_dir: Optional[Path] = typer.Option(None, "--cache-dir", help="Feature cache (default: user cache dir)."),
    init_from: Optional[Path] = INIT,
    pairs: Optional[int] = PAIRS,
    epochs: int = typer.Option(100, "--epochs", min=1),
    batch_size: int = typer.Option(256, "--batch-size", min=1),
    lr: float = typer.Option(1e-4, "--lr"),
    seed: int = SEED,
    out: Path = OUT,
    resume: bool = RESUME,
    force: bool = FORCE,
    device: Device = DEVICE,
    threads: int = THREADS,
):
    """Ojha et al. (CVPR 2023) linear probe on a frozen CLIP image tower (AdamW, batch 256, early stopping)."""
    from . import compat  # noqa: F401
    from .runs import train_clip_probe as _train

    bw = resolve_backbone_weights(backbone_weights, backbone)
    if bw not in ("none", "") and ("/" in bw or "." in bw) and not Path(bw).is_file():
        _fail(f"--backbone-weights {bw}: file not found")
    _run(_train, backbone=backbone, backbone_weights=None if bw in ("none", "") else bw, feature=feature.value,
         train=train, val=val, blur_jpeg_prob=blur_jpeg_prob, views=views, out=out, cache_dir=cache_dir,
         init_from=str(init_from) if init_from else None, pairs=pairs, epochs=epochs, batch_size=batch_size, lr=lr,
         seed=seed, resume=resume, force=force, device=device.value, threads=threads)


@train_app.command("probe")
def train_probe(
    data: List[str] = typer.Option(..., "--data", help="Labelled DIR (0_real/ 1_fake/), DIR@LISTFILE or a CSV "
                                                      "(path,label; label 0/1/real/fake) (repeatable)."),
    name: str = typer.Option(..., "--name", help="Name of the new model (scan --models NAME)."),
    backbone: str = typer.Option("efficientnet-lite0", "--backbone", help="An installed backbone (synthdetect backbone list)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Directory for NAME.json + NAME.head.json "
                                                            "(default: the user model directory)."),
    folds: int = typer.Option(5, "--folds", min=2, max=20, help="Cross-validation folds (nested for calibration)."),
    seed: int = SEED,
    max_false_alarm: float = typer.Option(0.05, "--max-false-alarm", min=0.0, max=0.99,
                                          help="Budget for the 'synthetic' threshold: share of calibration reals flagged."),
    max_miss: float = typer.Option(0.20, "--max-miss", min=0.0, max=0.99,
                                   help="Budget for the 'real' threshold: share of calibration fakes called real."),
    models_dir: Optional[List[Path]] = typer.Option(None, "--models-dir", help="Extra directories to find the backbone."),
    cache_dir: Optional[Path] = typer.Option(None, "--cache-dir", help="Feature cache (default: the user cache dir)."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Extract every feature again; write no cache."),
    device: Device = DEVICE,
    force: bool = typer.Option(False, "--force", help="Replace an existing model of that name in --out."),
    prior: Optional[str] = typer.Option(None, "--prior", help="An installed probe over the same backbone (e.g. one fitted "
                                                              "on other data): prior-centred ridge pulls the new head "
                                                              "towards it (the paper's run 5)."),
    fmt: Fmt = typer.Option(Fmt.table, "--format", help="table (stderr summary) or json (stdout)."),
):
    """Fit a linear probe on frozen backbone features (the paper's runs 5-7): numpy + onnxruntime, no PyTorch.

    Features are cached by image and backbone SHA-256; C is chosen by cross-validation; thresholds are
    calibrated on out-of-fold scores (cross-fitting) and the card records Table 1 from them.
    """
    from ..cards import CardError, Registry, user_models_dir
    from ..probe_train import ProbeTrainError, train_probe as _train
    from ..runtime import RuntimeSetupError
    from .data import DataError, data_label, licences_of, load_sets

    prior_head, prior_note = None, None
    try:
        items = load_sets(data)
        reg = Registry(models_dir or [])
        bb = reg.backbone(backbone)
        if prior:
            from ..runtime import load_head

            pc = reg.model(prior)
            if not pc.is_probe or (pc.backbone or {}).get("sha256") != bb.sha256:
                raise CardError(f"--prior {prior}: not a probe over this {bb.name} ({bb.sha256[:12]}…)")
            prior_head = load_head(pc)
            prior_note = (f"prior-centred ridge towards {pc.name} (sha256 {pc.sha256[:16]}…, fitted on "
                          f"{pc.training.get('data', '?')}): penalty ||w - w_prior||^2 / (2C), C by cross-validation")
    except (DataError, CardError) as e:
        _fail(str(e), 2)
    target = out if out is not None else user_models_dir()
    show = sys.stderr.isatty() and fmt == Fmt.table
    bar = None
    if show:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        bar = Progress(TextColumn("features"), BarColumn(), MofNCompleteColumn(), console=err, transient=True)
        bar.start()
        task = bar.add_task("features", total=len(items))
    try:
        res = _train(items, bb, name, target, data_label=data_label(data), folds=folds, seed=seed,
                     max_false_alarm=max_false_alarm, max_miss=max_miss, device=device.value,
                     cache_dir=False if no_cache else cache_dir, force=force, licences=licences_of(items),
                     prior=prior_head, prior_note=prior_note,
                     progress=(lambda n: bar.update(task, completed=n)) if bar else None)
    except (ProbeTrainError, CardError, RuntimeSetupError, ValueError, OSError) as e:
        _fail(str(e), 2 if isinstance(e, ProbeTrainError) else 1)
    finally:
        if bar is not None:
            bar.stop()
    c = res.card
    cv = c.metrics["cross_validated"]
    tw = cv["three_way"]
    doc = {"model": c.name, "card": str(res.card_path), "head": str(res.head_path), "backbone": bb.name,
           "images": res.n_images, "unreadable": [{"path": p, "error": e} for p, e in res.errors],
           "cache_hits": res.cache_hits, "timings": res.timings, "C": c.training["C"], "cross_validated": cv}
    if fmt == Fmt.json:
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        return
    for p, e in res.errors:
        err.print(f"[yellow]unreadable[/] {p}: {e}")
    fa, ms = tw["false_alarm"], tw["miss"]
    err.print(
        f"[green]trained[/] {c.name}: {res.n_images} images ({c.training['n_real']} real / {c.training['n_synthetic']} "
        f"synthetic), C={c.training['C']:g}; features {res.timings['features_s']:.1f} s ({res.cache_hits} cached), "
        f"fit {res.timings['fit_s']:.1f} s\n"
        f"cross-validated: ROC-AUC {cv['roc_auc']:.3f}, AP {cv['ap']:.3f}, F1@0.5 {cv['at_0.5']['f1']:.3f}, "
        f"best F1 {cv['best_f1']['f1']:.3f} at {cv['best_f1']['threshold']:.3g}\n"
        f"verdicts: synthetic >= {tw['t_hi']:.4g} (false alarms {fa['k']}/{fa['n']} reals, upper 95 % "
        f"{100 * fa['upper95']:.1f} %), real < {tw['t_lo']:.4g} (misses {ms['k']}/{ms['n']}), "
        f"coverage {100 * tw['coverage']:.0f} %\n"
        f"card {res.card_path}; use: synthdetect scan PATH --models {c.name}"
        + ("" if out is None else f" --models-dir {target}")
    )


@backbone_app.command("list")
def backbone_list(
    models_dir: Optional[List[Path]] = typer.Option(None, "--models-dir", help="Extra model directories."),
    fmt: Fmt = typer.Option(Fmt.table, "--format", help="table or json."),
):
    """Installed backbones (ONNX feature extractors) and the ones this build can export."""
    from ..cards import CardError, Registry

    reg = Registry(models_dir or [])
    installed, problems = [], []
    for n in reg.backbone_names():
        try:
            installed.append(reg.backbone(n))
        except CardError as e:
            problems.append(str(e))
    try:
        from .backbones import BACKBONES

        exportable = sorted(BACKBONES)
    except ImportError:  # no torch: nothing to export here
        exportable = []
    if fmt == Fmt.json:
        sys.stdout.write(json.dumps({"installed": [{**b.to_dict(), "card_path": str(b.path)} for b in installed],
                                     "exportable": exportable, "problems": problems}, indent=2) + "\n")
        return
    from rich.table import Table

    from ..console import ident, make_console, piped

    con = make_console()  # piped: no wrapping, whole names, hashes and paths
    nw = piped()
    t = Table(title="backbones", title_justify="left")
    for col in ("name", "architecture", "dim", "input", "sha256", "card"):
        t.add_column(col, overflow="fold", no_wrap=nw)
    for b in installed:
        inp = (f"{b.input.size}px native, up to {b.input.tiles}x{b.input.tiles} crops" if b.input.resize == "none"
               else f"{b.input.size}px (shorter side {b.input.resize_to})")
        t.add_row(b.name, b.architecture, str(b.dim), inp, ident(b.sha256, 12), str(b.path))
    con.print(t)
    con.print("exportable here: " + (", ".join(exportable) or "none (needs the 'train' extra)"))
    for p in problems:
        con.print(f"warning: {p}")


@backbone_app.command("export")
def backbone_export(
    name: str = typer.Argument("efficientnet-lite0", help="A registered backbone (synthdetect backbone list)."),
    out: Path = typer.Option(..., "--out", help="Directory for NAME.onnx + NAME.backbone.json."),
    parity_data: List[str] = typer.Option(..., "--parity-data", help="Images (DIR or DIR@LIST) for the parity check."),
    parity_n: int = typer.Option(8, "--parity-n", min=1),
    weights: Optional[Path] = typer.Option(None, "--weights", help="Weights file (default: the one its package installs; "
                                                                   "its SHA-256 is checked either way)."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing backbone in --out."),
):
    """Export a pretrained backbone to ONNX (PyTorch needed) with a parity check against PyTorch."""
    from . import compat  # noqa: F401
    from .backbones import WeightsError, export_backbone, get, verified_weights
    from .data import DataError, load_sets

    if (out / f"{name}.onnx").exists() and not force:
        _fail(f"{out / (name + '.onnx')} exists (use --force to overwrite)", 2)
    try:
        weights = verified_weights(get(name), weights)  # before anything else: the weights decide
        items = load_sets(parity_data)
        pick = [it.path for it in items[:: max(1, len(items) // parity_n)]][:parity_n]
        card = export_backbone(name, out, pick, weights=weights)
    except (KeyError, WeightsError, DataError) as e:
        _fail(str(e).strip("'\""), 2)
    except (RuntimeError, OSError, ValueError) as e:
        _fail(f"{type(e).__name__}: {e}")
    p = card.parity
    err.print(f"[green]exported[/] {card.path} ({card.sha256[:12]}…, {card.dim} features): parity max relative "
              f"feature difference {p['max_rel_dfeature']:.3g} on {p['n_crops']} crops of {p['n_images']} images")


def resolve_backbone_weights(bw: str, backbone: str) -> str:
    """:func:`synthdetect.hub.resolve_backbone` for the CLI: a one-line error on failure."""
    from .. import hub

    try:
        value, note = hub.resolve_backbone(bw, backbone)
    except hub.HubError as e:
        _fail(f"--backbone-weights {e}")
    if note:
        err.print(f"backbone weights: {note}")
    return value


def _forensic(name: str, train, val, resize_prob, jpeg_prob, blur_prob, crop, no_resize, resize_to, init_from, pairs,
              epochs, batch_size, lr, seed, out, resume, force, device, threads, workers, width, crops_per_image,
              patience, monitor):
    from . import compat  # noqa: F401
    from .augment import AugmentConfig
    from .runs import train_images

    if crop % 2:
        _fail("--crop must be even")
    arch_kw = {}
    if name == "spectral":
        arch_kw["size"] = crop
    if name == "npr" and width:
        arch_kw["width"] = width
    aug = AugmentConfig(blur_prob=blur_prob, jpeg_prob=jpeg_prob, resize_prob=resize_prob, crop=crop)
    _run(train_images, recipe=f"{name}-from-scratch", arch=name, arch_kw=arch_kw, train=train, val=val, aug=aug,
         resize_to=None if no_resize else resize_to, out=out, init_from=str(init_from) if init_from else None,
         pairs=pairs, epochs=epochs, batch_size=batch_size, lr=lr, optimizer="adam", seed=seed, resume=resume,
         force=force, device=device.value, workers=workers, threads=threads, crops_per_image=crops_per_image,
         patience=patience, monitor=monitor.value)


def _forensic_command(name: str, default_crop: int, doc: str):
    def cmd(
        train: List[str] = TRAIN,
        val: Optional[List[str]] = VAL,
        resize_prob: float = typer.Option(0.0, "--resize-prob", min=0.0, max=1.0,
                                          help="Probability of a random rescale by U[0.5,1.5] (aspect kept)."),
        jpeg_prob: float = typer.Option(0.0, "--jpeg-prob", min=0.0, max=1.0, help="Probability of JPEG q~U{30..100}."),
        blur_prob: float = typer.Option(0.0, "--blur-prob", min=0.0, max=1.0, help="Probability of blur sigma~U[0,3]."),
        crop: int = typer.Option(default_crop, "--crop", min=8, help="Training crop (even)."),
        no_resize: bool = typer.Option(False, "--no-resize", help="Keep native resolution (inference: no resize)."),
        resize_to: int = typer.Option(256, "--resize-to", min=8,
                                      help="Shorter side before cropping, unless --no-resize."),
        width: Optional[int] = typer.Option(None, "--width", min=4, help="Network width (npr only)."),
        init_from: Optional[Path] = INIT,
        pairs: Optional[int] = PAIRS,
        epochs: int = typer.Option(100, "--epochs", min=1),
        batch_size: int = typer.Option(32, "--batch-size", min=1),
        lr: float = typer.Option(1e-4, "--lr"),
        crops_per_image: int = CROPS,
        patience: int = PATIENCE,
        monitor: Monitor = MONITOR,
        seed: int = SEED,
        out: Path = OUT,
        resume: bool = RESUME,
        force: bool = FORCE,
        device: Device = DEVICE,
        threads: int = THREADS,
        workers: int = WORKERS,
    ):
        if name != "npr" and width:
            _fail("--width applies to npr only")
        _forensic(name, train, val, resize_prob, jpeg_prob, blur_prob, crop, no_resize, resize_to, init_from, pairs,
                  epochs, batch_size, lr, seed, out, resume, force, device, threads, workers, width, crops_per_image,
                  patience, monitor)

    cmd.__doc__ = doc
    return cmd


train_app.command("npr")(_forensic_command(
    "npr", 128, "Train the NPR residual network from scratch (synthdetect.train.forensic), Wang-style loop."))
train_app.command("spectral")(_forensic_command(
    "spectral", 256, "Train the spectral detector from scratch (the crop is its DFT window)."))


# --------------------------------------------------------------------------- evaluate / calibrate / export
def evaluate(
    models: List[str] = typer.Argument(..., help="Model names, card/onnx paths, run directories or ensembles."),
    data: List[str] = typer.Option(..., "--data", help="Labelled DIR or DIR@LISTFILE (repeatable)."),
    perturb: Optional[str] = typer.Option(None, "--perturb", help="e.g. jpeg:50,blur:2,resize:0.5 (applied in order)."),
    fmt: Fmt = typer.Option(Fmt.table, "--format"),
    out: Path = typer.Option(Path("metrics.json"), "--out", help="Where metrics.json is written."),
    models_dir: Optional[List[Path]] = typer.Option(None, "--models-dir", help="Extra model directories."),
    write_cards: bool = typer.Option(False, "--write-cards",
                                     help="Also store the figures in each model's / ensemble's card (metrics[DATA])."),
    max_false_alarm: float = typer.Option(0.05, "--max-false-alarm", min=0.0, max=0.99,
                                          help="Budget of the calibrated 'synthetic' threshold (as scan)."),
    max_miss: float = typer.Option(0.2, "--max-miss", min=0.0, max=0.99,
                                   help="Budget of the calibrated 'real' threshold (as scan)."),
    plots: Optional[Path] = typer.Option(None, "--plots", file_okay=False,
                                         help="Write ROC, PR, score histograms and a reliability diagram per model "
                                              "and ensemble as PNG under DIR/NAME/ (needs the 'plots' extra)."),
    device: Device = DEVICE,
):
    """Table 1 metrics per model: Acc/P/R/F1 at 0.5 and at the best-F1 threshold, AP, AUC, EER, per generator."""
    from .data import DataError
    from .evaluate import evaluate_targets, render_table, write_metrics_to_cards

    if plots is not None:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            _fail("--plots needs matplotlib: pip install 'synthdetect[plots]'", 2)
    scores: dict = {}
    try:
        report = evaluate_targets(models, data, perturb, [str(p) for p in models_dir or []], device.value,
                                  max_false_alarm=max_false_alarm, max_miss=max_miss,
                                  scores=scores if plots is not None else None)
    except (DataError, ValueError, OSError, RuntimeError) as e:
        _fail(str(e))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    if fmt == Fmt.json:
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
    else:
        render_table(report)
    err.print(f"metrics written to {out}")
    if write_cards:
        for p in write_metrics_to_cards(report, [str(p) for p in models_dir or []]):
            err.print(f"card updated: {p}")
    if plots is not None:
        from ..plots import write_all

        written = write_all(plots, scores)
        err.print(f"{len(written)} plots written under {plots}")


def calibrate(
    model: str = typer.Argument(..., help="Model (or ensemble) name or card path."),
    data: List[str] = typer.Option(..., "--data", help="Labelled DIR or DIR@LISTFILE (repeatable)."),
    models_dir: Optional[List[Path]] = typer.Option(None, "--models-dir"),
    inconclusive_margin: Optional[float] = typer.Option(
        None, "--inconclusive-margin", min=0.0, max=0.5,
        help="Also set the card's band: |score - threshold| < MARGIN gives 'inconclusive' (default: keep the card's)."),
    max_fpr: Optional[float] = typer.Option(
        None, "--max-fpr", min=0.0, max=1.0,
        help="Best F1 among thresholds that flag at most this fraction of the real images (a false-alarm budget)."),
    device: Device = DEVICE,
):
    """Write the best-F1 threshold (calibrated_threshold, calibrated_on, f1) into the card."""
    from .data import DataError
    from .evaluate import calibrate_card

    try:
        r = calibrate_card(model, data, [str(p) for p in models_dir or []], device.value,
                           inconclusive_margin=inconclusive_margin, max_fpr=max_fpr)
    except (DataError, ValueError, OSError, RuntimeError) as e:
        _fail(str(e))
    err.print(f"[green]calibrated[/] {r['card']}: threshold {r['calibrated_threshold']:.6g}, F1 {r['f1']:.4f} "
              f"(P {r['precision']:.4f}, R {r['recall']:.4f}, FPR on reals {r['fpr_real']:.4f}, n={r['n']})")


def export(
    run: Path = typer.Argument(..., exists=True, file_okay=False, help="Training run directory."),
    out: Path = typer.Option(..., "--out", help="weights/NAME.onnx (the card NAME.json is written beside it)."),
    name: Optional[str] = typer.Option(None, "--name", help="Card name (default: file stem)."),
    parity_data: Optional[List[str]] = typer.Option(None, "--parity-data",
                                                    help="Real images for the parity check (default: the run's val set)."),
    parity_n: int = typer.Option(16, "--parity-n", min=1, help="How many parity images."),
    tolerance: float = typer.Option(1e-4, "--tolerance", help="Max |Δprob| PyTorch vs onnxruntime."),
    int8: bool = typer.Option(False, "--int8", help="Also write a dynamically quantised NAME.int8.onnx."),
    checkpoint: str = typer.Option("best.pt", "--checkpoint", help="best.pt or last.pt."),
    tiles: int = typer.Option(1, "--tiles", min=1, max=8,
                              help="Score up to KxK native crops around each image's centre and average them "
                                   "(card input.tiles; the graph is unchanged)."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing model file."),
):
    """Export a run to one ONNX graph + model card, with a parity check on real images."""
    from . import compat  # noqa: F401
    from .export import ParityError
    from .exporting import export_run

    if out.exists() and not force:
        _fail(f"{out} exists (use --force to overwrite)")
    try:
        card = export_run(run, out, name=name, parity_data=parity_data, parity_n=parity_n, tolerance=tolerance,
                          int8=int8, checkpoint=checkpoint, tiles=tiles)
    except ParityError as e:
        _fail(str(e))
    except (ValueError, OSError, RuntimeError) as e:
        _fail(f"{type(e).__name__}: {e}")
    p = card.parity
    err.print(f"[green]exported[/] {out} ({card.sha256[:12]}…): parity max |Δprob| {p['max_abs_dprob']:.3g} on "
              f"{p['n_images']} images (tolerance {p['tolerance']:g})")
    if "int8" in p:
        err.print(f"int8 {p['int8']['file']}: max |Δprob| {p['int8']['max_abs_dprob']:.3g} "
                  f"(tolerance {p['int8']['tolerance']:g})")


@ensemble_app.command("build")
def ensemble_build(
    members: str = typer.Option(..., "--members", help="Comma-separated model names or card paths."),
    weights_from: Optional[List[str]] = typer.Option(None, "--weights-from",
                                                     help="Labelled data: weight = member F1 at its calibrated threshold."),
    out: Path = typer.Option(..., "--out", help="weights/NAME.ensemble.json"),
    method: Method = typer.Option(Method.weighted, "--method"),
    models_dir: Optional[List[Path]] = typer.Option(None, "--models-dir"),
    device: Device = DEVICE,
    force: bool = typer.Option(False, "--force", help="Overwrite an existing ensemble card."),
    description: str = typer.Option("", "--description", help="Why these members (stored in the card)."),
):
    """Paper runs 8 (majority) and 9 (weighted by member F1); 'mean' averages the probabilities.

    Members fitted by `train probe` on the same images need no --weights-from: the ensemble is calibrated
    on their combined out-of-fold scores (cross-fitting) and weighted by their cross-validated F1."""
    from .data import DataError
    from .evaluate import build_ensemble

    if out.exists() and not force:
        _fail(f"{out} exists (use --force to overwrite)")
    try:
        card = build_ensemble([m.strip() for m in members.split(",") if m.strip()], weights_from or [], out,
                              method.value, [str(p) for p in models_dir or []], device.value, description=description)
    except (DataError, ValueError, OSError, RuntimeError) as e:
        _fail(str(e))
    err.print(f"[green]wrote[/] {out}: {card.method} of {', '.join(card.members)}; weights {card.weights}")


def make_app() -> typer.Typer:
    """A standalone app (``python -m synthdetect.train.cli``) until the main CLI mounts these."""
    app = typer.Typer(no_args_is_help=True, help="synthdetect training tools")
    app.add_typer(train_app, name="train")
    app.add_typer(ensemble_app, name="ensemble")
    app.add_typer(backbone_app, name="backbone")
    app.command("evaluate")(evaluate)
    app.command("calibrate")(calibrate)
    app.command("export")(export)
    return app


if __name__ == "__main__":  # pragma: no cover
    make_app()()
