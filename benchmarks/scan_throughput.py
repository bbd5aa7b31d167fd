#!/usr/bin/env python
"""End-to-end throughput of ``synthdetect scan`` against the reference repositories' pipelines.

Measured side by side, in interleaved rounds (median of ``--repeat``), each in its own
subprocess so that peak memory is measured per pipeline:

  * scan: the real CLI (``python -m synthdetect scan - ...`` with the image paths on
    stdin, ``--no-cache``, ``--no-provenance``, CPU), wall-clock from process start to exit:
    interpreter start-up, model loading and SHA-256 verification are charged to it.
  * reference "single": PIL decode + ``convert("RGB")``, torchvision transforms
    (``Resize`` to the card's shorter side when the card resizes, ``CenterCrop`` or the
    card's native tiles, ``ToTensor``, ``Normalize``), batches of the same size, the same
    network (``synthdetect.train.families.get(arch).build()``) in eval mode under ``no_grad`` in one
    process.  Only the decode+inference loop is timed.
  * reference "dataloader": the anchors' real pipeline (CNNDetection, UnivFD): the same
    transforms in a ``torch.utils.data.Dataset`` fed through a ``DataLoader`` with
    ``num_workers = os.cpu_count()`` worker processes (``pin_memory`` only when CUDA is
    available), same batch size, same network.  Timed from the first ``iter()`` (worker
    start-up included, as it is in every real evaluation) to the last batch.
  * peak RSS: the largest sum of resident memory over the pipeline's process tree
    (psutil, sampled every 20 ms; fork-shared pages of DataLoader workers count per process).
  * breakdown: single-threaded ms per image of scan's stages on the same images:
    read+SHA-256+decode, preprocess (resize/crop/tiles/normalise) per distinct input spec,
    onnxruntime inference per model (batch ``--batch-size``), and the same network in
    PyTorch eager for comparison.

``--model`` takes installed model or ensemble names (repeatable or comma-separated,
default: the default ensemble's members and the ensemble itself).  An ensemble is
measured with scan only (no reference runs one) and compared with its slowest member.
``--arch NAME`` exports a torch architecture (random or ``--checkpoint`` weights) to a
temporary ONNX model and benchmarks it the same way.

Usage:
  python benchmarks/scan_throughput.py --models-dir weights --n 200 --json runs/bench.json
  python benchmarks/scan_throughput.py --model npr --n 48 --repeat 1
  python benchmarks/scan_throughput.py --arch resnet50 --n 48
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from synthdetect.cards import IMAGENET_MEAN, IMAGENET_STD, CLIP_MEAN, CLIP_STD, InputSpec, ModelCard, Registry, sha256_file  # noqa: E402
from synthdetect.inputs.discovery import IMAGE_EXTENSIONS  # noqa: E402
from synthdetect.train import families  # noqa: E402  (torch-free: the family table)


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


def _probe_torch(card: ModelCard, reg: Registry):
    """A probe in PyTorch eager: the backbone's PyTorch network (its registered spec) + the linear head."""
    _torch_compat()
    import torch

    from synthdetect.train import backbones as B

    bb = reg.backbone_for(card)
    head = json.loads(card.model_path.read_text())
    trunk = B.build(bb.extra.get("backbone", bb.name))

    class Probe(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.trunk = trunk
            self.register_buffer("mean", torch.tensor(head["mean"], dtype=torch.float32))
            self.register_buffer("scale", torch.tensor(head["scale"], dtype=torch.float32))
            self.register_buffer("coef", torch.tensor(head["coef"], dtype=torch.float32))
            self.b = float(head["intercept"])

        def forward(self, x):
            return ((self.trunk(x) - self.mean) / self.scale) @ self.coef + self.b

    return Probe().eval()


def _torch_model(arch: str, checkpoint: str | None, card: ModelCard | None = None, reg: Registry | None = None):
    if card is not None and card.is_probe:
        return _probe_torch(card, reg or Registry([card.path.parent]))
    _torch_compat()
    import torch

    model = families.get(arch).build()
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


class Reference:
    """PyTorch eager pipeline: PIL + torchvision transforms + the same network, CPU, no_grad."""

    def __init__(self, card: ModelCard, arch: str, checkpoint: str | None, reg: Registry | None = None):
        _torch_compat()
        from torchvision import transforms as T

        spec = reg.backbone_for(card).input if card.is_probe and reg is not None else card.input
        self.model = _torch_model(arch, checkpoint, card, reg)
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

        from synthdetect.inputs.preprocess import tile_grid

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


class DataLoaderReference(Reference):
    """The anchors' evaluation loop: Dataset + DataLoader(num_workers=cpus) + the same network."""

    def run(self, files: list[Path], batch: int) -> float:
        import torch
        from PIL import Image
        from torch.utils.data import DataLoader, Dataset

        ref = self

        class Files(Dataset):
            def __len__(self):
                return len(files)

            def __getitem__(self, i):
                img = Image.open(files[i]).convert("RGB")
                return ref.tf(img) if ref.tiles == 1 else ref._tiles(img)

        def collate(items):
            return torch.cat(items) if ref.tiles > 1 else torch.stack(items), [1 if ref.tiles == 1 else len(x) for x in items]

        cuda = torch.cuda.is_available()
        loader = DataLoader(Files(), batch_size=batch, shuffle=False, num_workers=os.cpu_count() or 1,
                            pin_memory=cuda, collate_fn=collate)
        t0 = time.perf_counter()
        with torch.no_grad():
            for x, counts in loader:
                probs = torch.sigmoid(self.model(x))
                if self.tiles > 1:
                    torch.stack([t.mean() for t in probs.split(counts)])
        return time.perf_counter() - t0


class PeakRSS:
    """Peak of the summed RSS of a process and its descendants, sampled in a thread."""

    def __init__(self, pid: int, every: float = 0.02):
        import psutil

        self.proc = psutil.Process(pid)
        self.peak = 0
        self.every = every
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            try:
                procs = [self.proc, *self.proc.children(recursive=True)]
                total = 0
                for p in procs:
                    try:
                        total += p.memory_info().rss
                    except (psutil.NoSuchProcess, psutil.AccessDenied):
                        pass
                self.peak = max(self.peak, total)
            except psutil.NoSuchProcess:
                return
            self._stop.wait(self.every)

    def stop(self) -> int:
        self._stop.set()
        self._t.join()
        return self.peak


def _run_measured(cmd: list[str], stdin_text: str | None = None) -> tuple[float, int, str, str, int]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=env, cwd=REPO)
    mon = PeakRSS(p.pid)
    out, err = p.communicate(stdin_text)
    wall = time.perf_counter() - t0
    return wall, mon.stop(), out, err, p.returncode


def scan_cmd(models_dir: Path, model: str, batch: int, workers: int | None, engine: str = "local") -> list[str]:
    cmd = [sys.executable, "-m", "synthdetect", "scan", "-", "--models-dir", str(models_dir), "--models", model,
           "-f", "json", "--no-provenance", "--device", "cpu", "--batch-size", str(batch), "--no-progress",
           "--no-cache", "--engine", engine]
    if workers:
        cmd += ["--workers", str(workers)]
    return cmd


def run_scan(files: list[Path], models_dir: Path, model: str, batch: int, workers: int | None,
             engine: str = "local") -> dict:
    wall, rss, out, err, rc = _run_measured(scan_cmd(models_dir, model, batch, workers, engine),
                                            "\n".join(map(str, files)) + "\n")
    if rc not in (0, 3):
        raise SystemExit(f"scan failed ({rc}): {err[-2000:]}")
    return {"wall_s": wall, "rss": rss, "summary": json.loads(out)["summary"]}


def run_reference(kind: str, files_list: Path, models_dir: Path, model: str, arch: str, checkpoint: str | None,
                  batch: int) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--_child", kind, "--_files", str(files_list),
           "--models-dir", str(models_dir), "--model", model, "--torch-arch", arch, "--batch-size", str(batch)]
    if checkpoint:
        cmd += ["--checkpoint", checkpoint]
    wall, rss, out, err, rc = _run_measured(cmd)
    if rc != 0:
        raise RuntimeError(f"reference {kind} failed ({rc}): {err[-2000:]}")
    return {"loop_s": json.loads(out.strip().splitlines()[-1])["loop_s"], "rss": rss}


def breakdown(files: list[Path], cards: list[ModelCard], arch_of: dict[str, str], checkpoint: str | None,
              batch: int, reg: Registry | None = None) -> dict:
    """Single-threaded ms/image of each stage of scan's pipeline (and torch eager inference)."""
    import numpy as np

    from synthdetect.inputs.decoding import decode, init_codecs
    from synthdetect.inputs.preprocess import stack_tiles, to_inputs
    from synthdetect.scan.runtime import load_models

    init_codecs()
    reg = reg or Registry()
    bbs = {c.name: reg.backbone_for(c) for c in cards if c.is_probe}
    spec_of = {c.name: (bbs[c.name].input if c.is_probe else c.input) for c in cards}
    n = len(files)
    t0 = time.perf_counter()
    imgs = []
    for p in files:
        imgs.append(decode(p).image)
    out: dict = {"decode_ms": 1000 * (time.perf_counter() - t0) / n, "models": {}}
    specs: dict[str, list] = {}
    for c in cards:
        key = spec_of[c.name].key()
        if key not in specs:
            t0 = time.perf_counter()
            specs[key] = [to_inputs(im, spec_of[c.name]) for im in imgs]
            out.setdefault("preprocess_ms", {})[key] = 1000 * (time.perf_counter() - t0) / n
    for c in cards:
        arrays = specs[spec_of[c.name].key()]
        (m,) = load_models([c], device="cpu", threads=1, backbones=bbs)
        m.predict(stack_tiles(arrays[:2])[0])  # warm-up
        t0 = time.perf_counter()
        for i in range(0, n, batch):
            m.predict(stack_tiles(arrays[i : i + batch])[0])
        ort_ms = 1000 * (time.perf_counter() - t0) / n
        torch_ms = None
        try:
            import torch

            torch.set_num_threads(1)
            tm = _torch_model(arch_of[c.name], checkpoint, c, reg)
            with torch.no_grad():
                tm(torch.from_numpy(stack_tiles(arrays[:2])[0]))
                t0 = time.perf_counter()
                for i in range(0, n, batch):
                    tm(torch.from_numpy(np.ascontiguousarray(stack_tiles(arrays[i : i + batch])[0])))
            torch_ms = 1000 * (time.perf_counter() - t0) / n
        except (ImportError, ValueError):
            pass
        out["models"][c.name] = {
            "preprocess_ms": out["preprocess_ms"][spec_of[c.name].key()],
            "ort_infer_ms": ort_ms,
            "torch_infer_ms": torch_ms,
            "tiles_per_image": float(np.mean([a.shape[0] for a in arrays])),
        }
    return out


def help_startup(runs: int) -> float:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "synthdetect", "--help"], capture_output=True, env=env, cwd=REPO, check=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _child(args) -> None:
    """``--_child single|dataloader|breakdown``: one measurement in a fresh process."""
    files = [Path(x) for x in Path(args._files).read_text().splitlines() if x]
    reg = Registry([args.models_dir] if args.models_dir else [])
    names = [n for m in args.model for n in m.split(",") if n]
    if args._child == "breakdown":
        cards = [reg.model(n) for n in names]
        arch_of = {c.name: c.architecture for c in cards}
        if args.torch_arch:
            arch_of.update(dict(kv.split("=", 1) for kv in args.torch_arch.split(",") if "=" in kv))
        print(json.dumps(breakdown(files, cards, arch_of, args.checkpoint, args.batch_size, reg)))
        return
    card = reg.model(names[0])
    cls = Reference if args._child == "single" else DataLoaderReference
    ref = cls(card, args.torch_arch or card.architecture, args.checkpoint, reg)
    print(json.dumps({"loop_s": ref.run(files, args.batch_size)}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "val-inthewild",
                    help="folder of images (default ../shared/data/val-inthewild, else examples/images)")
    ap.add_argument("--n", type=int, default=48, help="number of images")
    ap.add_argument("--models-dir", type=Path, help="also search this model directory (e.g. weights)")
    ap.add_argument("--model", action="append", help="installed model or ensemble name(s); repeatable, comma-separated")
    ap.add_argument("--arch", choices=families.names(), help="export this torch architecture to a temporary ONNX model and benchmark it")
    ap.add_argument("--torch-arch", help="torch architecture for the reference (default: the card's)")
    ap.add_argument("--checkpoint", help="state_dict for the torch model (default random init)")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--resize", choices=["none", "shorter_side"], default="none")
    ap.add_argument("--resize-to", type=int, default=256)
    ap.add_argument("--norm", choices=["imagenet", "clip"], default="imagenet")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--help-runs", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=3, help="interleaved rounds (median reported)")
    ap.add_argument("--skip-reference", action="store_true")
    ap.add_argument("--skip-breakdown", action="store_true")
    ap.add_argument("--engines", default="local", help="comma-separated scan engines to time (local,ray)")
    ap.add_argument("--json", type=Path, help="also write every measurement here")
    ap.add_argument("--_child", help=argparse.SUPPRESS)
    ap.add_argument("--_files", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args._child:
        _child(args)
        return

    data = args.data if args.data.is_dir() else REPO / "examples" / "images"
    files = find_images(data, args.n)
    tmp = tempfile.TemporaryDirectory(prefix="synthdetect-bench-")
    files_list = Path(tmp.name) / "files.txt"
    files_list.write_text("\n".join(map(str, files)) + "\n")
    extra = [args.models_dir] if args.models_dir else []
    reg = Registry(extra)
    targets: list[str] = [n.strip() for m in (args.model or []) for n in m.split(",") if n.strip()]
    models_dir = args.models_dir
    if args.arch:
        mean, std = (IMAGENET_MEAN, IMAGENET_STD) if args.norm == "imagenet" else (CLIP_MEAN, CLIP_STD)
        spec = InputSpec(size=args.size, resize=args.resize,
                         resize_to=args.resize_to if args.resize == "shorter_side" else None, mean=mean, std=std)
        models_dir = Path(tmp.name)
        card = export_arch(args.arch, spec, args.checkpoint, models_dir)
        reg = Registry([models_dir, *extra])
        targets = [card.name]
    if not targets:
        default = reg.default_ensemble()
        targets = [*default.members, default.name] if default else reg.model_names()[:1]
    if models_dir is None:
        models_dir = REPO / "weights"
    ensembles = set(reg.ensemble_names())
    members: dict[str, list[str]] = {}
    torch_arch: dict[str, str] = {}
    for t in targets:
        if t in ensembles:
            members[t] = list(reg.ensemble(t).members)
        else:
            c = reg.model(t)
            members[t] = [t]
            torch_arch[t] = args.torch_arch or (args.arch or c.architecture)
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]

    startup = help_startup(args.help_runs)
    res: dict = {t: {"scan": {e: [] for e in engines}, "single": [], "dataloader": []} for t in targets}
    for r in range(args.repeat):  # interleaved, so load from other processes hits every pipeline alike
        for t in targets:
            for e in engines:
                res[t]["scan"][e].append(run_scan(files, models_dir, t, args.batch_size, args.workers, e))
            if args.skip_reference or t in ensembles:
                continue
            for kind in ("single", "dataloader"):
                try:
                    res[t][kind].append(run_reference(kind, files_list, models_dir, t, torch_arch[t],
                                                      args.checkpoint, args.batch_size))
                except RuntimeError as ex:
                    print(f"{t}: reference {kind} skipped: {str(ex).splitlines()[-1]}")
        print(f"round {r + 1}/{args.repeat} done", file=sys.stderr)

    bd = None
    singles = [t for t in targets if t not in ensembles]
    if not args.skip_breakdown and singles:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--_child", "breakdown", "--_files", str(files_list),
               "--models-dir", str(models_dir), "--model", ",".join(singles), "--batch-size", str(args.batch_size),
               "--torch-arch", ",".join(f"{k}={v}" for k, v in torch_arch.items())]
        if args.checkpoint:
            cmd += ["--checkpoint", args.checkpoint]
        _, _, out, err, rc = _run_measured(cmd)
        bd = json.loads(out.strip().splitlines()[-1]) if rc == 0 else None
        if bd is None:
            print(f"breakdown failed: {err[-1500:]}")

    n = len(files)
    med = statistics.median
    report: dict = {"images": n, "data": str(data), "batch_size": args.batch_size, "cpus": os.cpu_count(),
                    "help_startup_s": startup, "models": {}, "breakdown": bd}
    for t in targets:
        row: dict = {"members": members[t]}
        for e in engines:
            runs = res[t]["scan"][e]
            row[f"scan_{e}"] = {"img_s": n / med([x["wall_s"] for x in runs]),
                                "walls": [x["wall_s"] for x in runs],
                                "peak_rss_mb": max(x["rss"] for x in runs) / 2**20}
        for kind in ("single", "dataloader"):
            runs = res[t][kind]
            if runs:
                row[kind] = {"img_s": n / med([x["loop_s"] for x in runs]), "loops": [x["loop_s"] for x in runs],
                             "peak_rss_mb": max(x["rss"] for x in runs) / 2**20}
        refs = [row[k]["img_s"] for k in ("single", "dataloader") if k in row]
        if refs:
            row["ratio_vs_faster_reference"] = row["scan_local"]["img_s"] / max(refs) if "scan_local" in row else None
        report["models"][t] = row
    for t in targets:
        if t in ensembles and "scan_local" in report["models"][t]:
            mem = [report["models"][m]["scan_local"]["img_s"] for m in members[t] if m in report["models"]]
            if mem:
                report["models"][t]["ratio_vs_slowest_member"] = report["models"][t]["scan_local"]["img_s"] / min(mem)

    print(f"\n{n} images from {data}, batch {args.batch_size}, {os.cpu_count()} CPUs; "
          f"synthdetect --help start-up {startup:.3f} s (median of {args.help_runs})\n")
    print("| model | scan img/s | scan peak RSS | ref single img/s | RSS | ref DataLoader img/s | RSS | scan / faster ref |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for t, row in report["models"].items():
        def cell(k):
            return (f"{row[k]['img_s']:.1f}", f"{row[k]['peak_rss_mb']:.0f} MB") if k in row else ("—", "—")
        s, d = cell("single"), cell("dataloader")
        sc = cell("scan_local")
        ratio = row.get("ratio_vs_faster_reference")
        rtxt = f"**{ratio:.2f}×**" if ratio else (f"{row['ratio_vs_slowest_member']:.2f}× slowest member" if "ratio_vs_slowest_member" in row else "—")
        print(f"| {t} | {sc[0]} | {sc[1]} | {s[0]} | {s[1]} | {d[0]} | {d[1]} | {rtxt} |")
    if "ray" in engines:
        print("\n| model | local img/s | ray img/s (one node) | ray peak RSS (driver + local cluster) |\n|---|---:|---:|---:|")
        for t, row in report["models"].items():
            print(f"| {t} | {row['scan_local']['img_s']:.1f} | {row['scan_ray']['img_s']:.1f} | {row['scan_ray']['peak_rss_mb']:.0f} MB |")
    if bd:
        print(f"\nbreakdown, ms per image, one thread: read+SHA-256+decode {bd['decode_ms']:.1f}")
        print("| model | tiles/img | preprocess | onnxruntime infer | torch eager infer |\n|---|---:|---:|---:|---:|")
        for m, b in bd["models"].items():
            tt = "—" if b["torch_infer_ms"] is None else f"{b['torch_infer_ms']:.1f}"
            print(f"| {m} | {b['tiles_per_image']:.2f} | {b['preprocess_ms']:.1f} | {b['ort_infer_ms']:.1f} | {tt} |")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))
    tmp.cleanup()


if __name__ == "__main__":
    main()
