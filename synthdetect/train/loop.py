"""The training loop shared by every ``synthdetect train`` command.

* :class:`EarlyStopping` — Wang et al.'s schedule: validation accuracy, patience 5, min gain
  0.001; on exhaustion lr /10 (1e-4 -> 1e-5 -> 1e-6), the next exhaustion stops.
* :class:`RunDir` — run directory: config.json, log.jsonl, best.pt / last.pt, split lists.
* :func:`fit` — epochs, validation, checkpoints, resume.
"""

from __future__ import annotations

from . import compat  # noqa: F401

import json
import math
import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
import torch
from torch import nn

from .. import __version__ as synthdetect_version
from ..evaluation.metrics import at_threshold, average_precision


class RunError(RuntimeError):
    """Bad run directory / resume state."""


class RunUsageError(RunError):
    """A run refused before anything is written (a non-empty ``--out``, a ``--resume`` that changes the
    run's data or settings): a usage error, exit 2."""


# --------------------------------------------------------------------------- early stopping
class EarlyStopping:
    """Early stopping with learning-rate drops.

    ``step(score)`` returns one of ``"improved"``, ``"wait"``, ``"lr_drop"`` (patience
    exhausted, the caller divides the lr by ``factor`` and continues), ``"stop"``.
    After a drop the patience count and the reference score restart (as in CNNDetection).
    """

    def __init__(self, lr: float, patience: int = 5, min_delta: float = 0.001, factor: float = 10.0,
                 min_lr: float = 1e-6):
        if patience < 1:
            raise ValueError("patience must be >= 1")
        self.lr = float(lr)
        self.patience = int(patience)
        self.min_delta = float(min_delta)
        self.factor = float(factor)
        self.min_lr = float(min_lr)
        self.best: float | None = None
        self.bad_epochs = 0
        self.stopped = False

    def step(self, score: float) -> str:
        if self.stopped:
            return "stop"
        if self.best is None or score > self.best + self.min_delta:
            self.best = float(score)
            self.bad_epochs = 0
            return "improved"
        self.bad_epochs += 1
        if self.bad_epochs < self.patience:
            return "wait"
        new_lr = self.lr / self.factor
        if new_lr < self.min_lr * (1 - 1e-9):
            self.stopped = True
            return "stop"
        self.lr = new_lr
        self.best = None
        self.bad_epochs = 0
        return "lr_drop"

    def state_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("lr", "patience", "min_delta", "factor", "min_lr", "best",
                                                 "bad_epochs", "stopped")}

    def load_state_dict(self, d: dict[str, Any]) -> None:
        for k, v in d.items():
            setattr(self, k, v)


# --------------------------------------------------------------------------- devices, progress
def pick_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RunError("--device cuda requested but CUDA is not available")
    if name not in ("cpu", "cuda"):
        raise RunError(f"--device must be auto, cpu or cuda, not {name!r}")
    return torch.device(name)


def set_threads(n: int | None = None) -> None:
    torch.set_num_threads(int(n or min(2, os.cpu_count() or 1)))


def progress():
    """A Rich progress bar on stderr."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        TimeRemainingColumn(), TextColumn("{task.fields[info]}"),
        console=Console(stderr=True), transient=False,
    )


def seed_everything(seed: int) -> None:
    import random

    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def versions() -> dict[str, str]:
    out = {"synthdetect": synthdetect_version, "python": sys.version.split()[0], "torch": torch.__version__,
           "numpy": np.__version__, "platform": platform.platform()}
    for mod in ("torchvision", "open_clip", "PIL", "onnxruntime", "simplejpeg"):
        try:
            m = __import__(mod)
            out[mod] = getattr(m, "__version__", "?")
        except Exception:
            pass
    return out


# --------------------------------------------------------------------------- run directory
class RunDir:
    FILES = ("config.json", "log.jsonl", "best.pt", "last.pt")
    # every file a run writes: ``--force`` replaces or removes an earlier run's (clear), keeps any other file
    OWN = (*FILES, "train.txt", "val.txt", "train.sha256", "val.sha256")

    def __init__(self, path: Path | str, *, resume: bool = False, force: bool = False, create: bool = True):
        self.path = Path(path)
        if create:
            if self.path.exists() and any(self.path.iterdir()) and not (resume or force):
                raise RunUsageError(f"{self.path} is not empty; use --resume to continue it or --force to write "
                                    "into it")
            if resume and not (self.path / "last.pt").exists():
                raise RunUsageError(f"--resume: {self.path / 'last.pt'} not found")
            self.path.mkdir(parents=True, exist_ok=True)

    def clear(self) -> None:
        """Remove an earlier run's own files (``OWN``) before a new run writes its own; others are kept."""
        for name in self.OWN:
            (self.path / name).unlink(missing_ok=True)

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    def config(self) -> dict[str, Any]:
        p = self.path / "config.json"
        if not p.exists():
            raise RunError(f"{self.path} is not a run directory (no config.json)")
        return json.loads(p.read_text())

    def write_config(self, cfg: dict[str, Any]) -> None:
        (self.path / "config.json").write_text(json.dumps(cfg, indent=2, default=str) + "\n")

    def log(self, record: dict[str, Any]) -> None:
        with (self.path / "log.jsonl").open("a") as f:
            f.write(json.dumps(record, default=float) + "\n")

    def read_log(self) -> list[dict[str, Any]]:
        p = self.path / "log.jsonl"
        return [json.loads(l) for l in p.read_text().splitlines() if l.strip()] if p.exists() else []

    def save(self, name: str, obj: Any) -> None:
        tmp = self.path / f".{name}.tmp"
        torch.save(obj, tmp)
        os.replace(tmp, self.path / name)

    def load(self, name: str) -> Any:
        p = self.path / name
        if not p.exists():
            raise RunError(f"{p} not found")
        return torch.load(p, map_location="cpu", weights_only=True)


# --------------------------------------------------------------------------- fit
@dataclass
class FitConfig:
    lr: float = 1e-4
    epochs: int = 100
    patience: int = 5
    min_delta: float = 0.001
    min_lr: float = 1e-6
    log_every: int = 0
    monitor: str = "acc"  # validation score for early stopping: "acc" (Wang et al.) or "ap"

    def __post_init__(self) -> None:
        if self.monitor not in ("acc", "ap"):
            raise ValueError(f"monitor must be 'acc' or 'ap', not {self.monitor!r}")


def _eval_probs(model: nn.Module, batches: Iterable, device: torch.device) -> tuple[np.ndarray, np.ndarray]:
    ys, ps = [], []
    model.eval()
    with torch.no_grad():
        for x, y in batches:
            logit = model(x.to(device)).float().reshape(-1)
            ps.append(torch.sigmoid(logit).cpu().numpy())
            ys.append(y.numpy().reshape(-1))
    return (np.concatenate(ys) if ys else np.zeros(0)), (np.concatenate(ps) if ps else np.zeros(0))


def fit(
    run: RunDir,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    train_batches: Callable[[int], Iterable],
    n_train_batches: Callable[[int], int],
    val_batches: Callable[[], Iterable] | None,
    cfg: FitConfig,
    device: torch.device,
    *,
    resume: bool = False,
    state_fn: Callable[[nn.Module], dict] | None = None,
) -> dict[str, Any]:
    """Train with early stopping; returns a summary.  ``state_fn(model)`` picks what goes into
    the checkpoints (default: the whole ``state_dict``; the CLIP probe saves its head only)."""
    state_fn = state_fn or (lambda m: m.state_dict())
    loss_fn = nn.BCEWithLogitsLoss()
    stopper = EarlyStopping(cfg.lr, cfg.patience, cfg.min_delta, 10.0, cfg.min_lr)
    start_epoch, best_score, best_epoch = 1, -math.inf, 0
    if resume:
        st = run.load("last.pt")
        _load_model_state(model, st["model"])
        optimizer.load_state_dict(st["optimizer"])
        stopper.load_state_dict(st["stopper"])
        start_epoch = int(st["epoch"]) + 1
        best_score, best_epoch = float(st["best_score"]), int(st["best_epoch"])
        if "torch_rng" in st:
            torch.set_rng_state(st["torch_rng"])
    _set_lr(optimizer, stopper.lr)
    status = "stopped" if stopper.stopped else "running"
    epoch = start_epoch - 1
    with progress() as prog:
        for epoch in range(start_epoch, cfg.epochs + 1):
            if stopper.stopped:
                break
            t0 = time.time()
            model.train()
            n = n_train_batches(epoch)
            task = prog.add_task(f"epoch {epoch}", total=n, info=f"lr {stopper.lr:.0e}")
            losses = []
            for x, y in train_batches(epoch):
                x, y = x.to(device), y.to(device).float().reshape(-1)
                optimizer.zero_grad(set_to_none=True)
                loss = loss_fn(model(x).float().reshape(-1), y)
                loss.backward()
                optimizer.step()
                losses.append(float(loss.detach()))
                prog.update(task, advance=1, info=f"lr {stopper.lr:.0e} loss {np.mean(losses):.4f}")
            rec: dict[str, Any] = {"epoch": epoch, "lr": stopper.lr, "train_loss": float(np.mean(losses)) if losses else None,
                                   "n_batches": len(losses)}
            if val_batches is not None:
                y, p = _eval_probs(model, val_batches(), device)
                m = at_threshold(y, p, 0.5)
                ap = average_precision(y, p)
                score = m["acc"] if cfg.monitor == "acc" else ap
                rec.update(val_acc=m["acc"], val_f1=m["f1"], val_ap=ap, val_n=int(y.size), monitor=cfg.monitor)
            else:
                score = -rec["train_loss"] if rec["train_loss"] is not None else 0.0
                rec["monitor"] = "-train_loss (no --val)"
            improved_global = score > best_score
            if improved_global:
                best_score, best_epoch = score, epoch
                run.save("best.pt", state_fn(model))
            action = stopper.step(score)
            rec.update(action=action, best_epoch=best_epoch, seconds=round(time.time() - t0, 2))
            run.log(rec)
            prog.update(task, info=f"loss {rec['train_loss'] or 0:.4f} val {score:.4f} {action}")
            if action == "lr_drop":
                _set_lr(optimizer, stopper.lr)
            run.save("last.pt", {"model": state_fn(model), "optimizer": optimizer.state_dict(),
                                 "stopper": stopper.state_dict(), "epoch": epoch, "best_score": best_score,
                                 "best_epoch": best_epoch, "torch_rng": torch.get_rng_state()})
            if action == "stop":
                status = "early-stopped"
                break
        else:
            status = "max-epochs"
    return {"status": status, "last_epoch": epoch, "best_epoch": best_epoch, "best_score": best_score,
            "final_lr": stopper.lr}


def _set_lr(opt: torch.optim.Optimizer, lr: float) -> None:
    for g in opt.param_groups:
        g["lr"] = lr


def _load_model_state(model: nn.Module, sd: dict) -> None:
    head = getattr(model, "head", None)
    if head is not None and set(sd) <= set(head.state_dict()):
        head.load_state_dict(sd)
    else:
        model.load_state_dict(sd)
