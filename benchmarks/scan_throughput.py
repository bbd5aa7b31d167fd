#!/usr/bin/env python
"""End-to-end throughput of ``synthdetect scan`` against a PyTorch-eager reference.

What is measured
  * scan: the real CLI in a subprocess (``python -m synthdetect scan - ...`` with the
    image paths on stdin), wall-clock from process start to exit, so interpreter
    start-up, model loading and SHA-256 verification are all charged to it.  The
    images/s figure reported by scan itself (summary) is shown too.
  * reference: the way the reference repositories evaluate: PIL decode +
    ``convert("RGB")``, torchvision transforms (``Resize`` to the card's shorter side
    when the card resizes, ``CenterCrop``, ``ToTensor``, ``Normalize``), batches of the
    same size, the same network built by ``synthdetect.train.archs.build_model`` in
    eval mode under ``torch.no_grad()`` on CPU.  Only the decode+inference loop is
    timed (model construction is not charged to the reference).
  * start-up: median wall time of ``python -m synthdetect --help``.

The ONNX model for scan is either an installed card (``--model NAME``, optionally with
``--models-dir DIR``; by default the bundled default ensemble's first member; the torch
architecture is the card's ``architecture`` or ``--torch-arch``) or ``--arch`` exported here
to a temporary directory from the same torch module (weights from ``--checkpoint`` if
given, else random init: throughput does not depend on the weights).

Usage:
  python benchmarks/scan_throughput.py                 # a bundled model if installed, else resnet50
  python benchmarks/scan_throughput.py --arch resnet50 --n 48
  python benchmarks/scan_throughput.py --models-dir weights --model cnndet-r50 --n 64
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from synthdetect.cards import IMAGENET_MEAN, IMAGENET_STD, CLIP_MEAN, CLIP_STD, InputSpec, ModelCard, Registry, sha256_file  # noqa: E402
from synthdetect.discovery import IMAGE_EXTENSIONS  # noqa: E402


def find_images(data: Path, n: int) -> list[Path]:
    files = sorted(p for p in data.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
    if not files:
        raise SystemExit(f"no images under {data}")
    if len(files) >= n:
        # take evenly spaced files so both classes/sub-folders are represented
        step = len(files) / n
        return [files[int(i * step)] for i in range(n)]
    return (files * (n // len(files) + 1))[:n]


def _torch_compat() -> None:
    """``synthdetect.train.compat`` must run before torchvision is imported on this machine."""
    try:
        import synthdetect.train.compat  # noqa: F401
    except ImportError:
        pass


def _torch_model(arch: str, checkpoint: str | None):
    _torch_compat()
    import torch

    from synthdetect.train.archs import build_model

    model = build_model(arch)
    if checkpoint:
        state = torch.load(checkpoint, map_location="cpu", weights_only=True)
        if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
            state = state["model"]
        model.load_state_dict(state)
    return model.eval()


def export_arch(arch: str, spec: InputSpec, checkpoint: str | None, out_dir: Path) -> ModelCard:
    import torch

    model = _torch_model(arch, checkpoint)
    onnx_path = out_dir / f"bench-{arch}.onnx"
    x = torch.zeros(2, 3, spec.size, spec.size)
    torch.onnx.export(
        model, (x,), str(onnx_path), dynamo=False, opset_version=17,
        input_names=["input"], output_names=["logit"],
        dynamic_axes={"input": {0: "N"}, "logit": {0: "N"}},
    )
    card = ModelCard(name=f"bench-{arch}", file=onnx_path.name, sha256=sha256_file(onnx_path),
                     architecture=arch, input=spec, description="benchmark export (random or given weights)")
    card.save(out_dir / f"bench-{arch}.json")
    return card


def run_scan(files: list[Path], models_dir: Path, model: str, batch: int, workers: int | None) -> tuple[float, dict]:
    import json

    cmd = [sys.executable, "-m", "synthdetect", "scan", "-", "--models-dir", str(models_dir), "--models", model,
           "-f", "json", "--no-provenance", "--device", "cpu", "--batch-size", str(batch), "--no-progress"]
    if workers:
        cmd += ["--workers", str(workers)]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    t0 = time.perf_counter()
    r = subprocess.run(cmd, input="\n".join(map(str, files)) + "\n", capture_output=True, text=True, env=env, cwd=REPO)
    wall = time.perf_counter() - t0
    if r.returncode not in (0, 3):
        raise SystemExit(f"scan failed ({r.returncode}): {r.stderr[-2000:]}")
    return wall, json.loads(r.stdout)["summary"]


class Reference:
    """PyTorch eager pipeline: PIL + torchvision transforms + the same network, CPU, no_grad."""

    def __init__(self, card: ModelCard, arch: str, checkpoint: str | None):
        _torch_compat()
        from torchvision import transforms as T

        spec = card.input
        self.model = _torch_model(arch, checkpoint)
        interp = {"bilinear": T.InterpolationMode.BILINEAR, "bicubic": T.InterpolationMode.BICUBIC,
                  "nearest": T.InterpolationMode.NEAREST, "lanczos": T.InterpolationMode.LANCZOS}[spec.interpolation]
        steps = []
        if spec.resize == "shorter_side":
            steps.append(T.Resize(int(spec.resize_to), interpolation=interp))
        self.spec, self.tiles, self.size = spec, spec.tiles, spec.size
        if spec.tiles == 1:
            steps += [T.CenterCrop(spec.size)]
        steps += [T.ToTensor(), T.Normalize(list(spec.mean), list(spec.std))]
        self.tf = T.Compose(steps)

    def _tiles(self, img):
        """Card ``tiles`` K > 1: up to K x K native crops of the centre region (as scan does)."""
        from torchvision.transforms import functional as F

        from synthdetect.preprocess import tile_grid

        s = self.size
        kx, ky = tile_grid(*img.size, self.spec)
        x = self.tf(F.center_crop(img, [ky * s, kx * s]))
        return x.unfold(1, s, s).unfold(2, s, s).permute(1, 2, 0, 3, 4).reshape(-1, 3, s, s)

    def run(self, files: list[Path], batch: int) -> float:
        import torch
        from PIL import Image

        t0 = time.perf_counter()
        with torch.no_grad():
            for i in range(0, len(files), batch):
                if self.tiles == 1:
                    xs = [self.tf(Image.open(p).convert("RGB")) for p in files[i : i + batch]]
                    torch.sigmoid(self.model(torch.stack(xs)))
                else:
                    xs = [self._tiles(Image.open(p).convert("RGB")) for p in files[i : i + batch]]
                    probs = torch.sigmoid(self.model(torch.cat(xs)))
                    torch.stack([t.mean() for t in probs.split([len(x) for x in xs])])  # per-image score
        return time.perf_counter() - t0


def help_startup(runs: int) -> float:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "synthdetect", "--help"], capture_output=True, env=env, cwd=REPO, check=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "val-inthewild",
                    help="folder of images (default ../shared/data/val-inthewild, else examples/images)")
    ap.add_argument("--n", type=int, default=48, help="number of images")
    ap.add_argument("--models-dir", type=Path, help="use an installed model card from this directory")
    ap.add_argument("--model", help="model name in --models-dir")
    ap.add_argument("--arch", help="architecture to export and compare (default: a bundled model when one is "
                    "installed, else resnet50)")
    ap.add_argument("--torch-arch", help="torch architecture for the reference (default: the card's)")
    ap.add_argument("--checkpoint", help="state_dict for the torch model (default random init)")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--resize", choices=["none", "shorter_side"], default="none")
    ap.add_argument("--resize-to", type=int, default=256)
    ap.add_argument("--norm", choices=["imagenet", "clip"], default="imagenet")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--help-runs", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=3, help="interleaved scan/reference rounds (median reported)")
    ap.add_argument("--skip-reference", action="store_true")
    args = ap.parse_args()

    data = args.data if args.data.is_dir() else REPO / "examples" / "images"
    files = find_images(data, args.n)
    tmp = tempfile.TemporaryDirectory(prefix="synthdetect-bench-")
    if not args.model and not args.arch:
        # the bundled models: the default ensemble's first member, else the first installed model
        reg = Registry([args.models_dir] if args.models_dir else [])
        default = reg.default_ensemble()
        names = list(default.members) if default else reg.model_names()
        if names:
            args.model = names[0]
            print(f"benchmarking installed model {args.model!r} (choose another with --model)")
        else:
            args.arch = "resnet50"
    if args.model:
        card = Registry([args.models_dir] if args.models_dir else []).model(args.model)
        models_dir = card.path.parent
        arch = args.torch_arch or card.architecture
    else:
        mean, std = (IMAGENET_MEAN, IMAGENET_STD) if args.norm == "imagenet" else (CLIP_MEAN, CLIP_STD)
        spec = InputSpec(size=args.size, resize=args.resize,
                         resize_to=args.resize_to if args.resize == "shorter_side" else None, mean=mean, std=std)
        models_dir = Path(tmp.name)
        arch = args.torch_arch or args.arch
        card = export_arch(arch, spec, args.checkpoint, models_dir)

    startup = help_startup(args.help_runs)
    ref = None
    if not args.skip_reference:
        try:
            ref = Reference(card, arch, args.checkpoint)
        except (ImportError, ValueError) as e:  # no torch, or an architecture build_model does not know
            print(f"reference skipped: {e}")
    scan_walls, scan_own, ref_times = [], [], []
    for _ in range(args.repeat):  # interleaved, so load from other processes hits both alike
        wall, summary = run_scan(files, models_dir, card.name, args.batch_size, args.workers)
        scan_walls.append(wall)
        scan_own.append(summary["images_per_s"])
        if ref is not None:
            ref_times.append(ref.run(files, args.batch_size))
    n = len(files)
    scan_wall = statistics.median(scan_walls)
    scan_ips = n / scan_wall
    rows = [("synthdetect --help start-up (median of %d)" % args.help_runs, f"{startup:.3f} s", "target < 0.3 s")]
    rows.append(("scan, end to end (subprocess wall clock, median)", f"{scan_ips:.2f} img/s",
                 f"{scan_wall:.2f} s for {n} images; runs: " + ", ".join(f"{w:.2f}" for w in scan_walls)))
    rows.append(("scan, own summary (incl. model load, median)", f"{statistics.median(scan_own):.2f} img/s", ""))
    if ref_times:
        rt = statistics.median(ref_times)
        ref_ips = n / rt
        rows.append(("PyTorch eager reference (decode + infer loop, median)", f"{ref_ips:.2f} img/s",
                     f"{rt:.2f} s; runs: " + ", ".join(f"{t:.2f}" for t in ref_times)))
        rows.append(("ratio scan / reference (end to end)", f"{scan_ips / ref_ips:.2f}x", "target >= 2x"))
    print(f"\nmodel {card.name} (arch {arch}, input {card.input.size}px, resize {card.input.resize}), "
          f"{len(files)} images from {data}, batch {args.batch_size}, CPU threads {os.cpu_count()}\n")
    print("| measurement | value | note |\n|---|---|---|")
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]} |")
    tmp.cleanup()


if __name__ == "__main__":
    main()
