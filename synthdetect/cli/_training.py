"""What the training-side verbs (``train``, ``evaluate``, ``calibrate``, ``export``, ``ensemble``,
``backbone``) share: the option declarations of a training run and the guard that turns a missing
PyTorch into one clear line.

Torch-free: typer, rich and the standard library only.  A command imports what needs torch inside
its body, under ``with train_extra():`` (or calls the library under it), so that ``synthdetect
--help`` and every ``--help`` stay fast and work on an inference-only install.

To add a training option used by several recipes: declare it here once (``NAME = typer.Option(...)``)
and use it as the parameter default in each command (``name: int = NAME``).
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Iterable, Iterator, Optional

import typer
from rich.console import Console

from ..output.evidence import Inputs
from .errors import missing_extra
from .options import device_option

err = Console(stderr=True, soft_wrap=True)

# the top-level modules the 'train' extra installs (pyproject.toml [project.optional-dependencies] train)
TRAIN_EXTRA_MODULES = frozenset({"torch", "torchvision", "open_clip", "onnx", "onnxscript"})


@contextmanager
def train_extra() -> Iterator[None]:
    """Inside: an ImportError of a 'train' extra module becomes ``missing_extra("train", e)`` (exit 2).

    Any other ImportError is a bug and propagates unchanged.
    """
    try:
        yield
    except ImportError as e:
        if _missing_train_module(e):
            raise missing_extra("train", e) from None
        raise


def _missing_train_module(e: ImportError) -> bool:
    """Whether the import that failed is one of the 'train' extra's (by ``e.name``, else by the message)."""
    names = [e.name] if e.name else re.findall(r"[A-Za-z_][\w.]*", str(e))
    return any(n.split(".")[0] in TRAIN_EXTRA_MODULES for n in names)


def model_files(names: Iterable[str], models_dir: Optional[Iterable[Path]] = None) -> list[Path]:
    """Every file the named models read, for the output check: a run directory's files, a card
    path's card and network, an installed model's (by name) card, network and domain sidecar, an
    ensemble's card and its members'.  Names that do not resolve are left to the library's error."""
    from ..cards import CardError, ModelCard, Registry

    reg, out = Registry(list(models_dir or [])), []
    for n in names:
        p = Path(n)
        if p.is_dir():
            out += [f for f in p.rglob("*") if f.is_file()]
            continue
        try:
            if p.is_file():
                cards = [ModelCard.load(p)]
            elif n in reg.ensemble_names():
                ens = reg.ensemble(n)
                out += [ens.path] if getattr(ens, "path", None) else []
                cards = [reg.model(m) for m in ens.members]
            else:
                cards = [reg.model(n)]
        except (CardError, KeyError, TypeError, ValueError, OSError):
            continue
        for c in cards:
            out += [x for x in (c.path, c.model_path) if x is not None]
            if c.path is not None and getattr(c, "domain", None) and c.domain.get("file"):
                out.append(Path(c.path).parent / str(c.domain["file"]))
    return out


def data_inputs(specs: Optional[Iterable[str]], *files) -> Inputs:
    """The files a command reads from data arguments (DIR, DIR@LIST, CSV: roots, list files, images) and
    ``files`` (checkpoints, weights, run directories; None skipped), for the output check
    (:mod:`synthdetect.output.evidence`).  A bad data argument is left to the library's own error."""
    from ..inputs.datasets import DataError, DataSpec, list_items

    inputs = Inputs(f for f in files if f)
    for s in specs or []:
        try:
            spec = DataSpec.parse(s)
            inputs.update([spec.root, *([spec.listfile] if spec.listfile else [])])
            inputs.update(it.path for it in list_items(spec))
        except (DataError, OSError):
            continue
    return inputs


class Monitor(str, Enum):
    acc = "acc"
    ap = "ap"


# --------------------------------------------------------------------------- a training run's options
TRAIN = typer.Option(..., "--train", help="Training set DIR or DIR@LISTFILE (repeatable).")
VAL = typer.Option(None, "--val", help="Validation set DIR or DIR@LISTFILE (repeatable); drives early stopping.")
OUT = typer.Option(..., "--out", help="Run directory (must be empty unless --resume/--force).")
INIT = typer.Option(None, "--init-from", help="Fine-tune from an earlier run's best checkpoint.")
PAIRS = typer.Option(None, "--pairs", min=1, help="Draw N real + N synthetic training images with --seed.")
SEED = typer.Option(0, "--seed", min=0, help="Random seed (sampling, augmentation, init).")
RESUME = typer.Option(False, "--resume", help="Continue the run in --out from last.pt, with the run's data and settings "
                                              "(refused otherwise); only --epochs, --device, --threads, --workers may "
                                              "change.")
FORCE = typer.Option(False, "--force", help="Write into a non-empty --out: once the data are read, an earlier run's "
                                            "files there (config.json, log.jsonl, best.pt, last.pt, train/val.txt, "
                                            "train/val.sha256) are removed; other files are kept.")
DEVICE = device_option("auto uses CUDA when available.")
THREADS = typer.Option(2, "--threads", min=1, help="torch CPU threads.")
WORKERS = typer.Option(0, "--workers", min=0, max=8, help="DataLoader worker processes.")
CROPS = typer.Option(1, "--crops-per-image", min=1, max=256,
                     help="Random training views of every image per epoch (patch sampling on large photos).")
KEEP_FRAMES = typer.Option(False, "--keep-frames",
                           help="Train on the images as they are; by default a uniform frame or letterbox around a "
                                "picture is cut off first, so no crop shows it (a frame's colour can carry the label).")
PATIENCE = typer.Option(5, "--patience", min=1, help="Early-stopping patience in epochs (Wang et al.: 5).")
MONITOR = typer.Option(Monitor.acc, "--monitor",
                       help="Validation score for early stopping: accuracy at 0.5 (Wang et al.) or average precision.")
