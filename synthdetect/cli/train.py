"""``synthdetect train ...``: one command per training recipe.

``train resnet`` (Wang et al.), ``train clip-probe`` (Ojha et al.), ``train npr`` / ``train spectral``
(forensic networks from scratch) need the 'train' extra (PyTorch); ``train probe`` (a linear probe on
an installed ONNX backbone) needs only the inference install.

Module level stays torch-free (typer, rich, stdlib, torch-free synthdetect modules): each command
imports the training code inside its body under ``train_extra()``, so a missing PyTorch is one line
and exit 2.  Errors: bad arguments exit 2 (``ExitCode.USAGE``), a run that started and failed 4
(``ExitCode.FAILED``).

To add a recipe: write a function decorated ``@train_app.command("NAME")`` that takes the shared
options of :mod:`synthdetect.cli._training` (``TRAIN``, ``VAL``, ``OUT``, ...) plus its own, imports
its library function inside ``with train_extra():`` and hands it to :func:`_run`; copy the
``train resnet`` test in ``tests/cli/test_train.py``.
"""

from __future__ import annotations

import json
import os
import sys
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer
from rich.markup import escape

from ..train import families
from ..train.backbones import CLIP_MODEL, DEFAULT_PROBE_BACKBONE
from ._training import (
    CROPS, DEVICE, FORCE, INIT, KEEP_FRAMES, MONITOR, OUT, PAIRS, PATIENCE, RESUME, SEED, THREADS, TRAIN, VAL, WORKERS,
    Monitor, data_inputs, err, train_extra,
)
from .errors import ExitCode, fail, output_checks
from .options import Device, ListFormat, models_dir_option

train_app = typer.Typer(help="Train detectors: probe (a linear probe on a labelled sample, no PyTorch) and the published recipes (PyTorch: the 'train' extra).", no_args_is_help=True)

# The ``--arch`` choices of ``train resnet``: the families trained with Wang et al.'s recipe.
ResNetArch = Enum("ResNetArch", {n: n for n in families.names("wang")}, type=str)


class Feature(str, Enum):
    ojha = "ojha"
    cozzolino = "cozzolino"


def _done(result: dict, out: Path) -> None:
    err.print(f"[green]done[/]: {result.get('status')} after epoch {result.get('last_epoch')}, best epoch "
              f"{result.get('best_epoch')} (score {result.get('best_score'):.4f}); run in {out}")


def _run(fn, **kw):
    """Run a training function; its errors become one line: bad data or a refused run directory (not empty,
    a --resume that changes the run's data or settings) exits 2, a failed run 4.

    First the run directory goes through the output check: it may not be, or hold, a file the run
    reads (training/validation data, --init-from, backbone weights; docs/safety.md)."""
    reads = data_inputs([*kw["train"], *(kw.get("val") or [])], kw.get("init_from"), kw.get("backbone_weights"),
                        (kw.get("arch_kw") or {}).get("backbone_weights"))
    with output_checks():
        reads.check_dir(kw["out"], "--out")
    with train_extra():
        from ..inputs.datasets import DataError
        from ..train.loop import RunError, RunUsageError

        try:
            res = fn(**kw)
        except (DataError, RunUsageError) as e:  # refused before anything was written
            raise fail(str(e), ExitCode.USAGE) from None
        except (RunError, ValueError, FileNotFoundError) as e:
            raise fail(str(e), ExitCode.FAILED) from None
        except (RuntimeError, OSError) as e:  # e.g. a hub download that cannot reach the network
            raise fail(f"{type(e).__name__}: {e}", ExitCode.FAILED) from None
    _done(res, kw["out"])
    return res


@train_app.command("resnet")
def train_resnet(
    train: List[str] = TRAIN,
    val: Optional[List[str]] = VAL,
    blur_jpeg_prob: float = typer.Option(..., "--blur-jpeg-prob", min=0.0, max=1.0,
                                         help="Probability of blur and (independently) of JPEG (Wang: 0.5 or 0.1)."),
    arch: ResNetArch = typer.Option(ResNetArch("resnet50"), "--arch",
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
    keep_frames: bool = KEEP_FRAMES,
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
    fam = families.get(arch.value)
    if backbone_weights and not fam.pretrained_backbone:
        raise fail("--backbone-weights applies to resnet50/resnet18 (torchvision weights)")
    with train_extra():
        from ..train import compat  # noqa: F401
        from ..train.augment import AugmentConfig
        from ..train.runs import train_images

    if backbone_weights is None and init_from is None and not resume and not fam.weights_installed:
        err.print("[yellow]note:[/] no --backbone-weights: the network starts from random init (recorded in config.json)")
    arch_kw = {"backbone_weights": str(backbone_weights)} if backbone_weights else {}
    aug = AugmentConfig(blur_prob=blur_jpeg_prob, jpeg_prob=blur_jpeg_prob, crop=224)
    _run(train_images, recipe="wang2020-resnet", arch=arch.value, arch_kw=arch_kw, train=train, val=val, aug=aug,
         resize_to=256, out=out, init_from=str(init_from) if init_from else None, pairs=pairs, epochs=epochs,
         batch_size=batch_size, lr=lr, optimizer="adam", seed=seed, resume=resume, force=force, device=device.value,
         workers=workers, threads=threads, extra={"blur_jpeg_prob": blur_jpeg_prob},
         crops_per_image=crops_per_image, patience=patience, monitor=monitor.value, card_resize=inference_resize,
         strip_frames=not keep_frames)


def resolve_backbone_weights(bw: str, backbone: str) -> str:
    """:func:`synthdetect.hub.resolve_backbone` for ``--backbone-weights``: a one-line error (exit 2) on failure."""
    from .. import hub

    try:
        value, note = hub.resolve_backbone(bw, backbone)
    except hub.HubError as e:
        raise fail(f"--backbone-weights {e}") from None
    if note:
        err.print(f"backbone weights: {note}")
    return value


@train_app.command("clip-probe")
def train_clip_probe(
    train: List[str] = TRAIN,
    val: Optional[List[str]] = VAL,
    backbone: str = typer.Option(CLIP_MODEL, "--backbone", help="open_clip model name."),
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
    keep_frames: bool = KEEP_FRAMES,
    seed: int = SEED,
    out: Path = OUT,
    resume: bool = RESUME,
    force: bool = FORCE,
    device: Device = DEVICE,
    threads: int = THREADS,
):
    """Ojha et al. (CVPR 2023) linear probe on a frozen CLIP image tower (AdamW, batch 256, early stopping)."""
    with train_extra():
        from ..train import compat  # noqa: F401
        from ..train.runs import train_clip_probe as _train

    bw = resolve_backbone_weights(backbone_weights, backbone)
    if bw not in ("none", "") and ("/" in bw or "." in bw) and not Path(bw).is_file():
        raise fail(f"--backbone-weights {bw}: file not found")
    _run(_train, backbone=backbone, backbone_weights=None if bw in ("none", "") else bw, feature=feature.value,
         train=train, val=val, blur_jpeg_prob=blur_jpeg_prob, views=views, out=out, cache_dir=cache_dir,
         init_from=str(init_from) if init_from else None, pairs=pairs, epochs=epochs, batch_size=batch_size, lr=lr,
         seed=seed, resume=resume, force=force, device=device.value, threads=threads, strip_frames=not keep_frames)


@train_app.command("probe")
def train_probe(
    data: List[str] = typer.Option(..., "--data", help="Labelled DIR (0_real/ 1_fake/, or real/ fake/), DIR@LISTFILE or a CSV "
                                                      "(path,label; label 0/1/real/fake) (repeatable)."),
    name: str = typer.Option(..., "--name", help="Name of the new model (scan --models NAME)."),
    backbone: str = typer.Option(DEFAULT_PROBE_BACKBONE, "--backbone", help="An installed backbone (synthdetect backbone "
                                 "list). Default: EfficientNet-Lite0 on the image and its high-pass residual, which "
                                 "adapts best here (the bundled probes' too); efficientnet-lite0 (the image alone) "
                                 "scans three times as fast."),
    out: Optional[Path] = typer.Option(None, "--out", help="Directory for NAME.json + NAME.head.json "
                                                            "(default: the first $SYNTHDETECT_MODELS_DIR entry, else "
                                                            "the user model directory)."),
    folds: int = typer.Option(5, "--folds", min=2, max=20, help="Cross-validation folds (nested for calibration)."),
    seed: int = SEED,
    max_false_alarm: float = typer.Option(0.05, "--max-false-alarm", min=0.0, max=0.99,
                                          help="Budget for the 'synthetic' threshold: share of calibration reals flagged."),
    max_miss: float = typer.Option(0.20, "--max-miss", min=0.0, max=0.99,
                                   help="Budget for the 'real' threshold: share of calibration fakes called real."),
    models_dir: Optional[List[Path]] = models_dir_option("Extra directories to find the backbone."),
    cache_dir: Optional[Path] = typer.Option(None, "--cache-dir", help="Feature cache (default: the user cache dir)."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Extract every feature again; write no cache."),
    device: Device = DEVICE,
    force: bool = typer.Option(False, "--force", help="Replace an existing model of that name in --out."),
    prior: Optional[str] = typer.Option(None, "--prior", help="An installed probe over the same backbone (e.g. one fitted "
                                                              "on other data): prior-centred ridge pulls the new head "
                                                              "towards it (the paper's run 5)."),
    conditions: str = typer.Option("none", "--conditions", help="Also calibrate on in-memory copies of the images: "
                                   "'default' (q95,q85,q75,1080q90,720q90,720q80), 'none', or a list such as "
                                   "q85,720q90 or default,webp75 (qQ: JPEG re-encode; SqQ: shorter side S px, then "
                                   "JPEG Q; webpQ, SwebpQ: the same as lossy WebP; avifQ, SavifQ: as AVIF; heifQ, SheifQ: as HEIC; "
                                   "greyQ, SgreyQ: greyscale JPEG, for "
                                   "greyscale images). scan then gives images in those "
                                   "conditions their measured rates (docs/quality.md)."),
    feature_group: str = typer.Option("auto", "--feature-group", help="auto: the shrinkage-LDA probes of the backbone's "
                                      "feature groups (all, early stages, channel means, ...) averaged; a group's name "
                                      "restricts the probe to it (with --prior: all only)."),
    method: str = typer.Option("auto", "--method", help="auto (lda-average; logistic with --prior), lda-average "
                               "(shrinkage-LDA probes of the feature groups, averaged) or logistic (L2 logistic "
                               "regression, feature group and C by nested CV: how probes were fitted before)."),
    shrinkage_scale: Optional[float] = typer.Option(
        None, "--shrinkage-scale", help="The averaged LDA's covariance shrinkage: the Ledoit-Wolf intensity times "
        "this, in (0, 1] (default 0.1, measured best for 25-50 images a class; 1: Ledoit-Wolf's own, how the "
        "bundled probes were fitted)."),
    fmt: ListFormat = typer.Option(ListFormat.table, "--format", help="table (stderr summary) or json (stdout)."),
):
    """Fit a linear probe on frozen backbone features (the paper's runs 5-7): numpy + onnxruntime, no PyTorch.

    Features are cached by image and backbone SHA-256; the head (the averaged shrinkage-LDA probes of the
    feature groups, or --method logistic with C by cross-validation) is fitted on them; thresholds are
    calibrated on out-of-fold scores (cross-fitting) and the card records Table 1 from them.
    """
    from ..cards import CardError
    from ..probes.train import ProbeTrainError, train_probe as _train
    from ..scan.runtime import RuntimeSetupError
    from ..inputs.datasets import data_label, licences_of

    target = _probe_target(name, out, models_dir)
    conds, items, sources, bb, prior_card, prior_head, prior_note = _probe_inputs(
        data, backbone, models_dir, prior, conditions)
    reads = data_inputs(data, bb.path, bb.model_path, *((prior_card.path, prior_card.model_path) if prior else ()))
    with output_checks():  # never a file the probe reads (docs/safety.md); --force is probe_train's
        reads.check_dir(target, "--out", names=[f"{name}.json", f"{name}.head.json", f"{name}.domain.npz"])
    _writable_dir(target)
    bar = _feature_bar(sys.stderr.isatty() and fmt == ListFormat.table, len(items))
    try:
        res = _train(items, bb, name, target, data_label=data_label(data), folds=folds, seed=seed,
                     max_false_alarm=max_false_alarm, max_miss=max_miss, device=device.value,
                     cache_dir=False if no_cache else cache_dir, force=force, licences=licences_of(items),
                     prior=prior_head, prior_note=prior_note, prior_images=_calibration_ids(prior_card),
                     sources=sources, conditions=conds,
                     feature_group=feature_group, method=method, shrinkage_scale=shrinkage_scale,
                     progress=bar.update if bar else None)
    except (ProbeTrainError, CardError, RuntimeSetupError, ValueError, OSError) as e:
        raise fail(str(e), ExitCode.USAGE if isinstance(e, ProbeTrainError) else ExitCode.FAILED) from None
    finally:
        if bar is not None:
            bar.stop()
    _report_probe(res, bb, fmt, None if out is None else target)


def _probe_target(name: str, out: Optional[Path], models_dir) -> Path:
    """Where ``train probe`` writes: ``--out``, else where ``weights pull`` installs (the first
    ``$SYNTHDETECT_MODELS_DIR`` entry, else the user model directory).  A name that a card in another
    directory of the model search path already has is refused: ``scan --models NAME`` (or an ensemble
    naming it, the bundled default included) would run whichever comes first, with that one's rates."""
    from ..cards import card_files, search_dirs
    from ..hub.store import default_install_dir

    target = out if out is not None else default_install_dir()
    here = os.path.realpath(target)
    for d in search_dirs([target, *(models_dir or [])]):
        if os.path.realpath(d) == here or not d.is_dir():
            continue
        for kind, other, path in card_files(d):
            if other == name:
                raise fail(f"--name {name}: {'an' if kind == 'ensemble' else 'a'} {kind} of that name is already "
                           f"installed ({path}); scan --models {name} would run whichever comes first on the model "
                           "search path: choose another --name")
    return target


def _writable_dir(target: Path) -> None:
    """An ``--out`` that cannot be written fails in one line before any extraction: a scratch directory is
    made and removed in it (or in its nearest existing parent, where it would be made); nothing is left."""
    import tempfile

    base = Path(target).absolute()
    while not base.exists() and base != base.parent:
        base = base.parent
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".synthdetect-write-check-", dir=base))
    except OSError as e:
        raise fail(f"--out {target}: cannot write there: {e.strerror or e}") from None


def _calibration_ids(card) -> frozenset:
    """The images a cross-fitted card was fitted on (its calibration set's SHA-256 prefixes, as ``scan`` indexes
    them); empty for none."""
    from ..scan.calibration_images import index

    return frozenset(index([card])) if card is not None else frozenset()


def _probe_inputs(data: List[str], backbone: str, models_dir, prior: Optional[str], conditions: str):
    """What ``train probe`` reads: conditions, labelled items and their sources, the backbone card and
    the prior (card, head, note); a one-line usage error (exit 2) for any of them."""
    from ..cards import CardError, Registry
    from ..scan.conditions import ConditionError, parse_conditions
    from ..inputs.datasets import DataError, load_sets

    prior_card, prior_head, prior_note = None, None, None
    try:
        conds = parse_conditions(conditions)
        unlabelled: list[str] = []
        per_arg = [load_sets([d], unlabelled) for d in data]
        for line in unlabelled:
            err.print(f"[yellow]warning[/]: {escape(line)}", highlight=False)
        items = [it for its in per_arg for it in its]
        sources = _source_names(data, per_arg)
        reg = Registry(models_dir or [])
        bb = reg.backbone(backbone)
        if prior:
            from ..scan.runtime import load_head

            prior_card = reg.model(prior)
            if not prior_card.is_probe or (prior_card.backbone or {}).get("sha256") != bb.sha256:
                other = (prior_card.backbone or {}).get("name") if prior_card.is_probe else None
                raise CardError(f"--prior {prior}: not a probe over this {bb.name} ({bb.sha256[:12]}…)"
                                + (f"; it is over {other}: add --backbone {other}" if other else ""))
            prior_head = load_head(prior_card)
            prior_note = (f"prior-centred ridge towards {prior_card.name} (sha256 {prior_card.sha256[:16]}…, fitted "
                          f"on {prior_card.training.get('data', '?')}): penalty ||w - w_prior||^2 / (2C), C by "
                          "cross-validation")
    except (DataError, CardError, ConditionError) as e:
        raise fail(str(e), ExitCode.USAGE) from None
    return conds, items, sources, bb, prior_card, prior_head, prior_note


class _FeatureBar:
    def __init__(self, total: int) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self.bar = Progress(TextColumn("features"), BarColumn(), MofNCompleteColumn(), console=err, transient=True)
        self.bar.start()
        self.task = self.bar.add_task("features", total=total)

    def update(self, n: int) -> None:
        self.bar.update(self.task, completed=n)

    def stop(self) -> None:
        self.bar.stop()


def _feature_bar(show: bool, total: int) -> Optional[_FeatureBar]:
    return _FeatureBar(total) if show else None


def _report_probe(res, bb, fmt: ListFormat, models_dir: Optional[Path]) -> None:
    """The fitted probe: JSON on stdout, or the summary on stderr."""
    from ..inputs.quality import calibration_covers

    c = res.card
    cv = c.metrics["cross_validated"]
    tw = cv["three_way"]
    doc = {"model": c.name, "card": str(res.card_path), "head": str(res.head_path), "backbone": bb.name,
           "images": res.n_images, "unreadable": [{"path": p, "error": e} for p, e in res.errors],
           "cache_hits": res.cache_hits, "timings": res.timings, "C": c.training["C"], "cross_validated": cv,
           "duplicates_dropped": [{"path": d, "same_bytes_as": k} for d, k in res.duplicates],
           "near_copies_dropped": [{"path": d, "copy_of": k, "distance": x} for d, k, x in res.near_copies],
           "scenes_kept_together": res.scenes,
           **{k: c.training.get(k) for k in ("feature_group", "learning_curve", "sample_size")}, "warnings": res.warnings,
           "calibration_covers": calibration_covers(c.calibration)}
    fa, ms, which = _stated_rates(c.calibration or {}, tw)
    doc["stated_rates"] = {"false_alarm": fa, "miss": ms, "worst_source": bool(which)}  # what scan states
    for w in res.warnings:
        err.print(f"[yellow]warning[/]: {escape(w)}")
    table = (c.calibration or {}).get("conditions")
    if table:
        doc["conditions"] = {"skipped": table.get("skipped", []), "measured": {
            n: {k: m[k] for k in ("side", "quality", "n_real", "n_fake", "roc_auc", "at_default_budgets")}
            for n, m in (table.get("measured") or {}).items()}}
    if fmt == ListFormat.json:
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        return
    for p, e in res.errors:
        err.print(f"[yellow]unreadable[/] {escape(p)}: {escape(e)}")
    for p, k in res.duplicates:
        err.print(f"[yellow]duplicate[/] {escape(p)}: byte-identical to {escape(k)}; counted once", highlight=False)
    for p, k, x in res.near_copies:
        err.print(f"[yellow]near copy[/] {escape(p)}: a copy of {escape(k)} (a re-save or re-encode: features {x:.2f} of the "
                  "sample's typical distance apart); counted once", highlight=False)
    if res.scenes:
        k = res.scenes["scenes"]
        err.print(f"[yellow]series[/]: {res.scenes['images']} images form {k} scene{'s' if k != 1 else ''} (shots of "
                  f"one subject); {'each scene is' if k != 1 else 'it is'} kept within one cross-validation fold",
                  highlight=False)
    err.print(
        f"[green]trained[/] {c.name}: {res.n_images} images ({c.training['n_real']} real / {c.training['n_synthetic']} "
        f"synthetic), " + (f"C={c.training['C']:g}; " if c.training.get("C") is not None else "") + f"features {res.timings['features_s']:.1f} s ({res.cache_hits} cached), "
        f"fit {res.timings['fit_s']:.1f} s\n"
        f"cross-validated: ROC-AUC {cv['roc_auc']:.3f}, AP {cv['ap']:.3f}, F1@0.5 {cv['at_0.5']['f1']:.3f}, "
        f"best F1 {cv['best_f1']['f1']:.3f} at {cv['best_f1']['threshold']:.3g}\n"
        f"verdicts: synthetic >= {tw['t_hi']:.4g} (false alarms {fa['k']}/{fa['n']} reals, upper 95 % "
        f"{100 * fa['upper95']:.1f} %), real < {tw['t_lo']:.4g} (misses {ms['k']}/{ms['n']}, upper 95 % "
        f"{100 * ms['upper95']:.1f} %){which}, coverage {100 * tw['coverage']:.0f} %\n"
        + _probe_diagnostics(c.training, cv) + _covers_line(doc["calibration_covers"])
        + _conditions_line(c.calibration or {}) +
        f"card {escape(str(res.card_path))}; use: synthdetect scan PATH --models {c.name}"
        + ("" if models_dir is None else f" --models-dir {escape(str(models_dir))}")
    )


def _stated_rates(calibration: dict, three_way: dict) -> tuple[dict, dict, str]:
    """The false-alarm and miss rates ``scan`` states for the probe (the worst source's when it was
    calibrated on several: a pooled rate holds for no source) and the words saying which."""
    from ..scan.calibration import CalibrationSet, budgets_of

    by = calibration.get("by_source") or {}
    if len(by) < 2:
        return three_way["false_alarm"], three_way["miss"], ""
    op = CalibrationSet.from_dict(calibration).operating(*budgets_of(calibration))
    return op.false_alarm.to_dict(), op.miss.to_dict(), f" (the worst of its {len(by)} sources, as scan states them)"


def _codec_floor(codec: str, floors: dict) -> str:
    """``lossy WebP at quality >= 75`` (the calibration's floor for the codec), ``AVIF``."""
    from ..inputs.codecs import describe

    return describe(codec) + (f" at quality >= {floors[codec]}" if codec in floors else "")


def _covers_line(covers: dict) -> str:
    """The calibration images' range (``quality.calibration_covers``) and the gates scan lifts for it."""
    parts = ([f"shorter side >= {covers['min_side']} px"] if covers.get("min_side") else []) + (
        [f"JPEG quality >= {covers['min_jpeg_quality']}"] if (covers.get("min_jpeg_quality") or 100) < 100 else []) + (
        [f"fine-detail ratio >= {covers['min_sharpness']:.2f}"] if covers.get("min_sharpness") is not None else []) + (
        ["mostly composites"] if covers.get("composites") else []) + (
        ["a tenth of each class greyscale"] if covers.get("greyscale") else []) + (
        [f"saved as {', '.join(_codec_floor(c, covers.get('codec_quality') or {}) for c in covers['codecs'])}"]
        if covers.get("codecs") else [])
    if not parts:
        return ""
    lifted = covers.get("lifted") or []
    return ("calibration images: " + ", ".join(parts)
            + (f"; inside this range scan lifts its {', '.join(lifted)} gate{'s' if len(lifted) > 1 else ''}"
               if lifted else "")
            + "\n")


def _conditions_line(calibration: dict) -> str:
    """One line per measured condition (its out-of-fold ROC-AUC and rates at its own thresholds)."""
    table = calibration.get("conditions")
    if not table:
        return ""
    lines = []
    for name, m in (table.get("measured") or {}).items():
        op = m["at_default_budgets"]
        lines.append(f"  {name}: ROC-AUC {m['roc_auc']:.3f}, synthetic >= {op['t_hi']:.4g} (false alarms "
                     f"{op['false_alarm']['k']}/{op['false_alarm']['n']}), real < {op['t_lo']:.4g} (misses "
                     f"{op['miss']['k']}/{op['miss']['n']}), coverage {100 * op['coverage']:.0f} %")
    skipped = f" (skipped, inside the originals' range: {', '.join(table['skipped'])})" if table.get("skipped") else ""
    return "conditions" + skipped + ":\n" + "\n".join(lines) + "\n"


def _source_names(data: List[str], per_arg: list) -> list[str]:
    """The source (its --data, named as in the card; distinct per argument) of every item."""
    from ..inputs.datasets import data_label

    names = [data_label([d]) for d in data]
    names = [n if names.count(n) == 1 else f"{n}#{i + 1}" for i, n in enumerate(names)]
    return [n for n, its in zip(names, per_arg) for _ in its]


def _probe_diagnostics(training: dict, cv: dict) -> str:
    """Per-source rates, the feature group chosen and the learning curve of ``train probe`` (a few lines)."""
    fg, lc = training.get("feature_group") or {}, training.get("learning_curve") or {}
    lines = []
    if cv.get("by_source"):
        lines.append("sources calibrated separately (thresholds hold on each; stated rates: the worst source's):")
    for k, v in (cv.get("by_source") or {}).items():
        t, fa = v["three_way"], v["three_way"]["false_alarm"]
        lines.append(f"  {k}: ROC-AUC {v['roc_auc']:.3f}, false alarms {fa['k']}/{fa['n']} (upper 95 % "
                     f"{100 * fa['upper95']:.1f} %), misses {t['miss']['k']}/{t['miss']['n']}, "
                     f"coverage {100 * t['coverage']:.0f} %")
    if fg and fg.get("chosen_by", "").startswith("given"):
        lines.append(f"feature group: {fg['name']} ({fg['n_features']} features; given by --feature-group)")
    elif fg and fg.get("method") == "lda-average":
        lines.append(f"features: {fg['n_features']}, the shrinkage-LDA probes of {len(fg.get('candidates', {}))} "
                     f"feature groups averaged ({fg['name']})")
    elif fg:
        lines.append(f"feature group: {fg['name']} ({fg['n_features']} features; chosen by cross-validation among "
                     f"{len(fg.get('candidates', {}))}; per outer fold: {', '.join(fg.get('outer_fold_groups', []))})")
    if lc.get("points"):
        pts = lc["points"]
        lines.append("learning curve (cross-validated ROC-AUC):  "
                     + "  ".join(f"{100 * p['fraction']:.0f} % n={p['n']}: {p['roc_auc']:.3f}"
                                 + (f"±{p['sd']:.3f}" if p.get("sd") else "") for p in pts))
        lines.append(f"  -> {lc['reading']}")
    return "".join(line + "\n" for line in lines)


def _forensic(name: str, train, val, resize_prob, jpeg_prob, blur_prob, crop, no_resize, resize_to, init_from, pairs,
              epochs, batch_size, lr, seed, out, resume, force, device, threads, workers, width, crops_per_image,
              patience, monitor, keep_frames):
    if crop % 2:
        raise fail("--crop must be even")
    with train_extra():
        from ..train import compat  # noqa: F401
        from ..train.augment import AugmentConfig
        from ..train.runs import train_images

    given = {"crop": crop, "width": width}
    arch_kw = {kw: given[opt] for opt, kw in families.get(name).train_kw.items() if given[opt]}
    aug = AugmentConfig(blur_prob=blur_prob, jpeg_prob=jpeg_prob, resize_prob=resize_prob, crop=crop)
    _run(train_images, recipe=f"{name}-from-scratch", arch=name, arch_kw=arch_kw, train=train, val=val, aug=aug,
         resize_to=None if no_resize else resize_to, out=out, init_from=str(init_from) if init_from else None,
         pairs=pairs, epochs=epochs, batch_size=batch_size, lr=lr, optimizer="adam", seed=seed, resume=resume,
         force=force, device=device.value, workers=workers, threads=threads, crops_per_image=crops_per_image,
         patience=patience, monitor=monitor.value, strip_frames=not keep_frames)


def _takes(option: str) -> str:
    """The from-scratch families whose network takes ``--OPTION`` (their ``train_kw``)."""
    return ", ".join(n for n in families.names("forensic") if option in families.get(n).train_kw)


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
        width: Optional[int] = typer.Option(None, "--width", min=4, help=f"Network width ({_takes('width')} only)."),
        init_from: Optional[Path] = INIT,
        pairs: Optional[int] = PAIRS,
        epochs: int = typer.Option(100, "--epochs", min=1),
        batch_size: int = typer.Option(32, "--batch-size", min=1),
        lr: float = typer.Option(1e-4, "--lr"),
        crops_per_image: int = CROPS,
        patience: int = PATIENCE,
        monitor: Monitor = MONITOR,
        keep_frames: bool = KEEP_FRAMES,
        seed: int = SEED,
        out: Path = OUT,
        resume: bool = RESUME,
        force: bool = FORCE,
        device: Device = DEVICE,
        threads: int = THREADS,
        workers: int = WORKERS,
    ):
        if width and "width" not in families.get(name).train_kw:
            raise fail(f"--width applies to {_takes('width')} only")
        _forensic(name, train, val, resize_prob, jpeg_prob, blur_prob, crop, no_resize, resize_to, init_from, pairs,
                  epochs, batch_size, lr, seed, out, resume, force, device, threads, workers, width, crops_per_image,
                  patience, monitor, keep_frames)

    cmd.__doc__ = doc
    return cmd


for _name in families.names("forensic"):  # one ``train NAME`` per from-scratch family (train npr, train spectral)
    train_app.command(_name)(_forensic_command(_name, families.get(_name).crop, families.get(_name).summary))


def mount(app: typer.Typer) -> None:
    app.add_typer(train_app, name="train")
