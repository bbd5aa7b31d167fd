"""The ``synthdetect train`` recipes: image-based training (the ``wang`` and ``forensic`` recipes
of ``families.py``) and the CLIP linear probe on cached features; and loading a finished run
for inference/export.  Which network, which card input and what a checkpoint holds come from
the run's family (``families.get(cfg["arch"])``)."""

from __future__ import annotations

from . import compat  # noqa: F401

import csv
import json
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from ..cards import CLIP_MEAN, CLIP_STD, InputSpec
from . import archs, families
from ..inputs.preprocess import normalize
from .augment import AugmentConfig, train_view, val_crop
from ..inputs.datasets import (DecodedCache, Item, load_sets, sample_pairs, shortcut_warnings, without_unreadable,
                               write_split)
from .consistency import (checkpoint_digests, data_digest, digest_items, refuse_overlap,
                          resume_differences, write_digests)
from .loop import (FitConfig, RunDir, RunError, RunUsageError, fit, pick_device, progress, seed_everything, set_threads,
                   versions)


CLIP_PROBE = "clip-probe"  # the family train_clip_probe trains


# --------------------------------------------------------------------------- helpers
def _licences(items: Sequence[Item]) -> dict[str, list[str]]:
    out: dict[str, set[str]] = {}
    for root in sorted({it.root for it in items}):
        m = Path(root) / "manifest.csv"
        lic: set[str] = set()
        if m.is_file():
            with m.open(newline="") as f:
                for row in csv.DictReader(f):
                    if row.get("licence"):
                        lic.add(row["licence"])
        out[root] = sorted(lic)
    return {k: sorted(v) for k, v in out.items()}


def _data_summary(args: Sequence[str], items: Sequence[Item], digests: Sequence[str | None]) -> dict[str, Any]:
    """Sets, counts, licences and ``sha256`` (:func:`consistency.data_digest`: the images by content)."""
    return {"sets": [str(a) for a in args], "n": len(items), "n_real": sum(1 for i in items if i.label == 0),
            "n_synthetic": sum(1 for i in items if i.label == 1), "licences": _licences(items),
            "sha256": data_digest(items, digests)}


def _init_from(model: nn.Module, init_run: str | Path, arch: str) -> dict[str, Any]:
    rd = RunDir(init_run, create=False)
    cfg = rd.config()
    if cfg.get("arch") != arch:
        raise RunError(f"--init-from {init_run}: that run is {cfg.get('arch')!r}, this one {arch!r}")
    if isinstance(model, archs.ClipProbe):
        old = cfg.get("arch_kw") or {}
        now = {"backbone": model.info["backbone"], "feature": model.features.feature}
        for k, v in now.items():
            if old.get(k) != v:
                raise RunError(f"--init-from {init_run}: that run's {k} is {old.get(k)!r}, this one {v!r}")
    sd = rd.load("best.pt")
    target = model.head if families.get(arch).checkpoint == "head" else model
    target.load_state_dict(sd)
    return {"run": str(Path(init_run).resolve()), "arch": cfg.get("arch"), "seed": cfg.get("seed"),
            "recipe": cfg.get("recipe"), "train": cfg.get("train"), "val": cfg.get("val"),
            "frames": cfg.get("frames", "kept"), "frames_stripped": cfg.get("frames_stripped"),
            "data_warnings": cfg.get("data_warnings", [])}


def _warn(line: str) -> None:
    """``warning: LINE`` on stderr (the line printed as is: a path's brackets are not markup)."""
    from rich.console import Console
    from rich.markup import escape

    Console(stderr=True, soft_wrap=True, highlight=False).print(f"[yellow]warning:[/] {escape(line)}")


class _Data:
    """The training and validation images of a run, with every file's SHA-256."""

    def __init__(self, train: list[Item], val: list[Item]):
        self.train, self.val = train, val
        with progress() as prog:
            t = prog.add_task("hashing", total=len(train) + len(val), info="")
            self.train_sha = digest_items(train, lambda: prog.advance(t))
            self.val_sha = digest_items(val, lambda: prog.advance(t))

    def summaries(self, train_args: Sequence[str], val_args: Sequence[str] | None) -> dict[str, Any]:
        return {"train": _data_summary(train_args, self.train, self.train_sha),
                "val": _data_summary(val_args or [], self.val, self.val_sha) if self.val else None}

    def write(self, run: RunDir) -> None:
        """The split lists and their SHA-256 lists in the run directory."""
        write_split(run / "train.txt", self.train)
        write_digests(run / "train.sha256", self.train, self.train_sha)
        if self.val:
            write_split(run / "val.txt", self.val)
            write_digests(run / "val.sha256", self.val, self.val_sha)


def _select(train: Sequence[str], val: Sequence[str] | None, pairs: int | None, seed: int) -> _Data:
    """The images, hashed; a validation image that is a training image (the same file or the same bytes) is refused."""
    unlabelled: list[str] = []
    train_items = load_sets(train, unlabelled)
    if pairs:
        train_items = sample_pairs(train_items, pairs, seed)
    val_items = load_sets(val, unlabelled) if val else []
    for line in unlabelled:
        _warn(line)
    data = _Data(train_items, val_items)
    refuse_overlap(data.train, data.train_sha, data.val, data.val_sha)
    return data


def _warn_shortcuts(items: Sequence[Item]) -> list[str]:
    warns = shortcut_warnings(items)
    for w in warns:
        _warn(f"training data: {w}")
    return warns


class _ImageSet(torch.utils.data.Dataset):
    """Training: ``repeats`` independent random views of every image per epoch (patch
    sampling: small target sets of large photos hold far more than one crop of evidence).
    Validation: one fixed view per image."""

    def __init__(self, items: Sequence[Item], cache: DecodedCache, aug: AugmentConfig, seed: int, train: bool,
                 repeats: int = 1):
        self.items, self.cache, self.aug, self.seed, self.train = list(items), cache, aug, seed, train
        self.repeats = max(1, int(repeats)) if train else 1
        self.epoch = 0
        self._val: dict[int, np.ndarray] = {}  # validation crops are the same every epoch: keep them (uint8)

    def __len__(self) -> int:
        return len(self.items) * self.repeats

    def __getitem__(self, i: int):
        it = self.items[i % len(self.items)]
        arr = self.cache.get(it.path)
        if self.train:
            x = train_view(arr, self.aug, np.random.default_rng([self.seed, self.epoch, i]))
        else:
            crop = self._val.get(i)
            if crop is None:
                crop = self._val[i] = val_crop(arr, self.aug, np.random.default_rng([self.seed, 7919, i]))
            x = normalize(crop, self.aug.spec())
        return torch.from_numpy(x), torch.tensor(float(it.label))


# --------------------------------------------------------------------------- image training
def _start(out: Path, train: Sequence[str], val: Sequence[str] | None, pairs: int | None, seed: int, *,
           threads: int | None, device: str, resume: bool, force: bool):
    """Threads, seeds, device, the run directory (checked; nothing written in it yet) and the data."""
    set_threads(threads)
    seed_everything(seed)
    dev = pick_device(device)
    run = RunDir(out, resume=resume, force=force)
    data = _select(train, val, pairs, seed)
    return dev, run, data


def _check_resume(run: RunDir, cfg: dict[str, Any]) -> None:
    """``--resume``: the run's data (by content) and settings unchanged, or a :class:`RunUsageError` naming
    every difference (the weights would go on from a run the new config.json does not describe).
    ``--init-from`` may be left out (the run's is kept); ``--epochs`` may grow."""
    old = run.config()
    if cfg.get("init_from") is None:
        cfg["init_from"] = old.get("init_from")
    done = max((int(r.get("epoch") or 0) for r in run.read_log()), default=0)
    diffs = resume_differences(old, json.loads(json.dumps(cfg, default=str)), done)
    if diffs:
        raise RunUsageError(f"--resume {run.path}: not the run's data or settings: {'; '.join(diffs)} (on resume only "
                            "--epochs, --device, --threads, --workers may change; train into a new --out for other "
                            "data or settings)")
    cfg["resumed_from_epoch"] = done


def _begin(run: RunDir, cfg: dict[str, Any], data: _Data, resume: bool) -> None:
    """Once the data are read: an earlier run's files removed (``--force``), the split lists and the config
    written, with no result yet (a run interrupted from here on is unfinished, and export refuses it)."""
    if not resume:
        run.clear()
    data.write(run)
    run.write_config(cfg)


def _finish(run: RunDir, cfg: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    """The result, with the checkpoints' SHA-256 (export checks them), into config.json."""
    cfg["result"] = {**result, "checkpoints": checkpoint_digests(run.path)}
    run.write_config(cfg)
    return cfg["result"]


def _provenance() -> dict[str, Any]:
    """The config keys every run records last: library versions, command line, time."""
    return {"versions": versions(), "argv": sys.argv, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def _optimizer(model: nn.Module, optimizer: str, lr: float) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if optimizer == "adam":
        return torch.optim.Adam(params, lr=lr, betas=(0.9, 0.999), weight_decay=0.0)
    if optimizer == "adamw":
        return torch.optim.AdamW(params, lr=lr, betas=(0.9, 0.999), weight_decay=0.0)
    raise RunError(f"unknown optimizer {optimizer!r}")


def _decoded(train_items: Sequence[Item], val_items: Sequence[Item], resize_to: int | None,
             min_side: int, strip_frames: bool) -> DecodedCache:
    """Every image decoded once (frame cut off, then the deterministic shorter-side resize), with a progress bar."""
    cache = DecodedCache(resize_to=resize_to, min_side=min_side, strip_frames=strip_frames)
    everything = list(train_items) + list(val_items)
    with progress() as prog:
        t = prog.add_task("decoding", total=len(everything), info="")
        cache.warm(everything, lambda: prog.advance(t))
        prog.update(t, info=f"{cache.nbytes() / 2**20:.0f} MiB in memory")
    if cache.stripped:
        from rich.console import Console

        Console(stderr=True, soft_wrap=True).print(
            f"note: a uniform frame was cut off {cache.stripped} of {len(everything)} images before training "
            "(--keep-frames keeps them)")
    return cache


def _leave_out_unreadable(cfg: dict[str, Any], unreadable: dict[str, str], train_items: Sequence[Item],
                          val_items: Sequence[Item]) -> tuple[list[Item], list[Item]]:
    """The training and validation images without those that could not be decoded: each named on
    stderr with its reason (one line) and in ``cfg["unreadable"]``; training without one of the two
    classes left is a ``RunError``."""
    if not unreadable:
        return list(train_items), list(val_items)
    for path, why in unreadable.items():
        _warn(f"{path}: {why} (left out)")
    cfg["unreadable"] = [{"path": p, "error": why} for p, why in unreadable.items()]
    train_items, val_items = without_unreadable(train_items, unreadable), without_unreadable(val_items, unreadable)
    if {int(it.label) for it in train_items} != {0, 1}:
        raise RunError(f"{len(unreadable)} images could not be decoded: the training data no longer holds both "
                       "classes, nothing was trained")
    return train_items, val_items


def _image_batches(train_set: _ImageSet, val_set: _ImageSet | None, batch_size: int, workers: int, seed: int):
    """(train_batches(epoch), n_batches(epoch), val_batches or None) for ``fit``."""

    def train_batches(epoch: int):
        train_set.epoch = epoch
        g = torch.Generator().manual_seed(seed * 1000003 + epoch)
        return torch.utils.data.DataLoader(train_set, batch_size=batch_size, shuffle=True, generator=g,
                                           num_workers=workers, drop_last=False)

    def n_batches(epoch: int) -> int:
        return (len(train_set) + batch_size - 1) // batch_size

    def val_batches():
        return torch.utils.data.DataLoader(val_set, batch_size=batch_size, shuffle=False, num_workers=workers)

    return train_batches, n_batches, (val_batches if val_set else None)


def train_images(
    *,
    recipe: str,
    arch: str,
    arch_kw: dict[str, Any],
    train: Sequence[str],
    val: Sequence[str] | None,
    aug: AugmentConfig,
    resize_to: int | None,
    out: Path,
    init_from: str | None = None,
    pairs: int | None = None,
    epochs: int = 100,
    batch_size: int = 64,
    lr: float = 1e-4,
    optimizer: str = "adam",
    seed: int = 0,
    resume: bool = False,
    force: bool = False,
    device: str = "auto",
    workers: int = 0,
    threads: int | None = None,
    extra: dict[str, Any] | None = None,
    crops_per_image: int = 1,
    patience: int = 5,
    monitor: str = "acc",
    card_resize: bool = False,
    strip_frames: bool = True,
) -> dict[str, Any]:
    """``arch``: a registered family (``families.py``).  ``card_resize``: the card resizes the shorter
    side to ``resize_to`` at inference (families with ``inference_resize="opt-in"``, e.g. ResNets).
    ``strip_frames``: uniform frames are cut off the images before any resize or crop."""
    dev, run, data = _start(out, train, val, pairs, seed, threads=threads, device=device, resume=resume, force=force)
    train_items, val_items = data.train, data.val
    fam = families.get(arch)
    model = fam.build(**arch_kw)
    init = _init_from(model, init_from, arch) if init_from else None
    model.to(dev)
    spec = fam.input_spec(crop=aug.crop,
                          resize_to=resize_to if (fam.inference_resize == "as-trained" or card_resize) else None)
    if (tuple(aug.mean), tuple(aug.std)) != (tuple(spec.mean), tuple(spec.std)):
        aug = replace(aug, mean=tuple(spec.mean), std=tuple(spec.std))  # training normalises as the card does
    cfg = {
        "recipe": recipe, "arch": arch, "arch_kw": arch_kw, "seed": seed, "epochs": epochs, "batch_size": batch_size,
        "lr": lr, "optimizer": optimizer, "device": str(dev), "threads": threads, "workers": workers,
        **data.summaries(train, val), "pairs": pairs, "init_from": init,
        "augment": asdict(aug), "train_resize_shorter_to": resize_to, "crops_per_image": crops_per_image,
        "patience": patience, "monitor": monitor, "frames": "stripped" if strip_frames else "kept",
        "pretrained_backbone": bool(getattr(model, "pretrained", False)),
        "backbone_digest": getattr(model, "backbone_digest", None),
        "input_spec": json.loads(spec.key()), "data_warnings": _warn_shortcuts(train_items),
        **_provenance(), **(extra or {}),
    }
    if resume:
        _check_resume(run, cfg)
    cache = _decoded(train_items, val_items, resize_to, max(aug.crop, spec.size), strip_frames)
    train_items, val_items = _leave_out_unreadable(cfg, cache.unreadable, train_items, val_items)
    cfg["decoded_cache_mib"] = round(cache.nbytes() / 2**20, 1)
    cfg["frames_stripped"] = cache.stripped
    _begin(run, cfg, data, resume)
    train_set = _ImageSet(train_items, cache, aug, seed, True, repeats=crops_per_image)
    # validate on the view inference will see: the card's crop size, centred
    val_aug = AugmentConfig(**{**asdict(aug), "random_crop": False, "flip": False, "crop": spec.size})
    val_set = _ImageSet(val_items, cache, val_aug, seed, False) if val_items else None
    opt = _optimizer(model, optimizer, lr)
    result = fit(run, model, opt, *_image_batches(train_set, val_set, batch_size, workers, seed),
                 FitConfig(lr=lr, epochs=epochs, patience=patience, monitor=monitor), dev, resume=resume)
    return _finish(run, cfg, result)


# --------------------------------------------------------------------------- CLIP probe
class _Head(nn.Module):
    def __init__(self, head: nn.Linear):
        super().__init__()
        self.head = head

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        return self.head(f).squeeze(1)


def _feature_batches(xs: list[torch.Tensor], ytr: torch.Tensor, val_x: torch.Tensor | None,
                     yva: torch.Tensor | None, batch_size: int, seed: int):
    """(train_batches(epoch), n_batches(epoch), val_batches or None) over cached features: epoch e
    uses view ``(e - 1) % len(xs)``, shuffled with a per-epoch seed."""

    def train_batches(epoch: int):
        x = xs[(epoch - 1) % len(xs)]
        g = torch.Generator().manual_seed(seed * 1000003 + epoch)
        perm = torch.randperm(len(x), generator=g)
        for i in range(0, len(x), batch_size):
            idx = perm[i : i + batch_size]
            yield x[idx], ytr[idx]

    def n_batches(epoch: int) -> int:
        return (len(xs[0]) + batch_size - 1) // batch_size

    def val_batches():
        for i in range(0, len(val_x), 1024):
            yield val_x[i : i + 1024], yva[i : i + 1024]

    return train_batches, n_batches, (val_batches if val_x is not None else None)


def train_clip_probe(
    *,
    backbone: str,
    backbone_weights: str | None,
    feature: str,
    train: Sequence[str],
    val: Sequence[str] | None,
    blur_jpeg_prob: float,
    views: int,
    out: Path,
    cache_dir: Path | None = None,
    init_from: str | None = None,
    pairs: int | None = None,
    epochs: int = 100,
    batch_size: int = 256,
    lr: float = 1e-4,
    seed: int = 0,
    resume: bool = False,
    force: bool = False,
    device: str = "auto",
    threads: int | None = None,
    strip_frames: bool = True,
) -> dict[str, Any]:
    from .features import FeatureCache, FeatureExtractor, default_cache_dir as default_feature_dir

    dev, run, data = _start(out, train, val, pairs, seed, threads=threads, device=device, resume=resume, force=force)
    train_items, val_items = data.train, data.val
    fam = families.get(CLIP_PROBE)
    model = fam.build(backbone=backbone, backbone_weights=backbone_weights, feature=feature)
    init = _init_from(model, init_from, fam.name) if init_from else None
    spec = fam.input_spec(clip_size=model.info["image_size"])
    size = spec.size
    resize_to = 256 if size == 224 else max(size, round(size * 256 / 224))
    aug = AugmentConfig(blur_prob=blur_jpeg_prob, jpeg_prob=blur_jpeg_prob, crop=size, mean=CLIP_MEAN, std=CLIP_STD)
    val_aug = AugmentConfig(**{**asdict(aug), "random_crop": False, "flip": False})
    cfg = {
        "recipe": "ojha-clip-linear-probe" if feature == "ojha" else "cozzolino-clip-linear-probe",
        "arch": fam.name, "arch_kw": {"backbone": backbone, "backbone_weights": backbone_weights, "feature": feature},
        "backbone": model.info, "pretrained_backbone": model.pretrained, "backbone_digest": model.backbone_digest,
        "feature": feature, "feature_dim": model.features.dim, "seed": seed, "epochs": epochs,
        "batch_size": batch_size, "lr": lr, "optimizer": "adamw", "weight_decay": 0.0, "views": views,
        "device": str(dev), "threads": threads, **data.summaries(train, val), "pairs": pairs, "init_from": init,
        "augment": asdict(aug), "train_resize_shorter_to": resize_to, "input_spec": json.loads(spec.key()),
        "frames": "stripped" if strip_frames else "kept",
        "data_warnings": _warn_shortcuts(train_items), "checkpoint_contents": "head state dict (weight [1,D], bias [1]); the frozen backbone is rebuilt from arch_kw",
        **_provenance(),
    }
    if not model.pretrained:
        cfg["warning"] = "random-init CLIP backbone: the probe's features carry no pretrained semantics"
    if resume:
        _check_resume(run, cfg)

    fc = FeatureCache(Path(cache_dir) if cache_dir else default_feature_dir())
    ext = FeatureExtractor(model.features.to(dev), model.info, feature, fc, dev, resize_to=resize_to,
                           strip_frames=strip_frames)
    ext.know([it.path for it in (*data.train, *data.val)], [*data.train_sha, *data.val_sha])
    xs = []
    for v in range(views):
        xs.append(ext.features(train_items, aug, view=("train", seed, v)))
    val_x = ext.features(val_items, val_aug, view=("val", seed, 0)) if val_items else None
    bad = ext.decoded.unreadable  # their rows hold no features (NaN)
    rows = [torch.tensor([str(it.path) not in bad for it in its], dtype=torch.bool) for its in (train_items, val_items)]
    train_items, val_items = _leave_out_unreadable(cfg, bad, train_items, val_items)
    xs = [x[rows[0]] for x in xs]
    val_x = val_x[rows[1]] if val_x is not None else None
    ytr = torch.tensor([float(i.label) for i in train_items])
    yva = torch.tensor([float(i.label) for i in val_items]) if val_items else None
    cfg["feature_cache"] = {"dir": str(fc.root), "hits": fc.hits, "computed": fc.misses}
    _begin(run, cfg, data, resume)

    head = _Head(model.head).to(dev)
    opt = torch.optim.AdamW(head.parameters(), lr=lr, betas=(0.9, 0.999), weight_decay=0.0)
    result = fit(run, head, opt, *_feature_batches(xs, ytr, val_x, yva, batch_size, seed),
                 FitConfig(lr=lr, epochs=epochs), dev, resume=resume, state_fn=lambda m: m.head.state_dict())
    return _finish(run, cfg, result)


# --------------------------------------------------------------------------- loading runs
def load_run(run_dir: Path | str, checkpoint: str = "best.pt") -> tuple[nn.Module, InputSpec, dict[str, Any]]:
    """(model in eval mode on CPU, inference InputSpec, config) of a finished run."""
    rd = RunDir(run_dir, create=False)
    cfg = rd.config()
    fam = families.get(cfg["arch"])
    kw = dict(cfg.get("arch_kw") or {})
    if fam.checkpoint == "head":  # the frozen backbone is rebuilt from arch_kw: it must be the recorded one
        model = fam.build(**kw)
        want = cfg.get("backbone_digest")
        if want and model.backbone_digest != want:
            raise RunError(f"{run_dir}: backbone weights digest {model.backbone_digest} != recorded {want}")
        model.head.load_state_dict(rd.load(checkpoint))
    else:
        kw.pop("backbone_weights", None)  # the checkpoint holds every weight
        model = fam.build(**{**kw, **fam.load_kw})
        model.load_state_dict(rd.load(checkpoint))
    model.eval()
    return model, InputSpec(**cfg["input_spec"]), cfg
