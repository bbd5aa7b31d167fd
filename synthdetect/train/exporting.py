"""``synthdetect export RUN``: a run directory -> ONNX + card via :func:`export.export_onnx`."""

from __future__ import annotations

from . import compat  # noqa: F401

from pathlib import Path
from typing import Any, Sequence

from ..cards import ModelCard
from .data import data_label, load_sets
from .export import export_onnx
from .loop import RunDir
from .runs import load_run

ARCH_TEXT = {
    "resnet50": "ResNet-50 + Linear(2048,1) (Wang et al. 2020)",
    "resnet18": "ResNet-18 + Linear(512,1)",
    "resnet-narrow": "narrow ResNet (synthdetect) + Linear",
    "efficientnet-lite0": "EfficientNet-Lite0 (ImageNet-pretrained, fine-tuned end to end) + Linear(1280,1)",
    "clip-probe": "frozen CLIP image tower + Linear (Ojha et al. 2023)",
    "npr": "NPR residual CNN (synthdetect.train.forensic)",
    "spectral": "spectral residual detector (synthdetect.train.forensic)",
}
FAMILY = {"resnet50": "resnet", "resnet18": "resnet", "resnet-narrow": "resnet",
          "efficientnet-lite0": "efficientnet-lite", "clip-probe": "clip-probe",
          "npr": "npr-residual", "spectral": "spectral-residual"}
WEIGHTS_LICENCE = "Apache-2.0 (weights trained by the synthdetect project)"


def _portable(summary: dict[str, Any] | None) -> dict[str, Any] | None:
    """A run's data summary without this machine's paths: ``SET[@LIST]`` labels."""
    if not summary:
        return summary
    out = dict(summary)
    out["sets"] = [data_label([s]) for s in summary.get("sets", [])]
    out["licences"] = {Path(k).name: v for k, v in (summary.get("licences") or {}).items()}
    return out


def _rel(p: str | Path) -> str:
    p = Path(p).resolve()
    try:
        return str(p.relative_to(Path.cwd()))
    except ValueError:
        return str(p)


def _parity_paths(cfg: dict[str, Any], parity_data: Sequence[str] | None, n: int) -> list[Path]:
    sets = list(parity_data or [])
    if not sets:
        src = cfg.get("val") or cfg.get("train") or {}
        sets = src.get("sets", [])
    if not sets:
        raise ValueError("no --parity-data and the run records no data sets")
    items = load_sets(sets)
    # alternate classes so both are represented
    real = [i for i in items if i.label == 0]
    fake = [i for i in items if i.label == 1]
    picked = []
    for a, b in zip(real, fake):
        picked += [a, b]
    picked += real[len(fake):] + fake[len(real):]
    return [i.path for i in picked[:n]]


def card_fields_from_run(cfg: dict[str, Any], log: list[dict[str, Any]]) -> dict[str, Any]:
    arch = cfg["arch"]
    best = next((r for r in log if r.get("epoch") == cfg.get("result", {}).get("best_epoch")), None)
    training = {k: cfg.get(k) for k in ("recipe", "seed", "epochs", "batch_size", "lr", "optimizer", "pairs",
                                        "init_from", "pretrained_backbone", "backbone_digest", "augment",
                                        "train_resize_shorter_to", "blur_jpeg_prob", "feature", "backbone", "arch_kw",
                                        "crops_per_image", "patience", "monitor")
                if cfg.get(k) is not None}
    training["train"] = _portable(cfg.get("train"))
    training["val"] = _portable(cfg.get("val"))
    training["result"] = cfg.get("result")
    init = cfg.get("init_from")
    if init:
        training["init_from"] = {**init, "run": _rel(init["run"]) if init.get("run") else None,
                                 "train": _portable(init.get("train")), "val": _portable(init.get("val"))}
    lic: dict[str, set] = {}
    summaries = [cfg.get("train"), cfg.get("val"), (init or {}).get("train"), (init or {}).get("val")]
    for summary in summaries:
        for k, v in ((summary or {}).get("licences") or {}).items():
            lic.setdefault(Path(k).name, set()).update(v)
    metrics = {}
    if best:
        metrics["validation"] = {k: best[k] for k in ("val_acc", "val_f1", "val_ap", "val_n", "epoch") if k in best}
    desc = f"{ARCH_TEXT.get(arch, arch)}; recipe {cfg.get('recipe')}"
    if not cfg.get("pretrained_backbone") and arch in ("resnet50", "resnet18", "efficientnet-lite0", "clip-probe"):
        desc += " (backbone NOT pretrained: random init)"
    return {"family": FAMILY.get(arch, ""), "description": desc, "training": training,
            "licence": f"model: {WEIGHTS_LICENCE}; training data: "
                       + "; ".join(f"{k}: {', '.join(sorted(v))}" for k, v in sorted(lic.items())),
            "metrics": metrics}


def export_run(run: Path, out: Path, *, name: str | None = None, parity_data: Sequence[str] | None = None,
               parity_n: int = 16, tolerance: float = 1e-4, int8: bool = False, checkpoint: str = "best.pt",
               tiles: int = 1) -> ModelCard:
    """``tiles`` K > 1: the card asks inference to score up to K x K native crops of each image
    and average them (``InputSpec.tiles``); the ONNX graph itself stays the single-crop network."""
    model, spec, cfg = load_run(run, checkpoint)
    log = RunDir(run, create=False).read_log()
    fields = card_fields_from_run(cfg, log)
    fields["extra"] = {"run": _rel(run), "checkpoint": checkpoint}
    if tiles > 1:
        from dataclasses import replace

        spec = replace(spec, tiles=tiles)
        fields["description"] += f"; averages up to {tiles}x{tiles} native {spec.size} px crops per image"
    paths = _parity_paths(cfg, parity_data, parity_n)
    return export_onnx(model, spec, Path(out), name=name or Path(out).stem, architecture=cfg["arch"],
                       parity_images=paths, tolerance=tolerance, int8=int8, card_fields=fields)
