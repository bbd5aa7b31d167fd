#!/usr/bin/env python
"""What the batch domain check costs ``synthdetect scan`` (issue 20: at most 10 % slower).

The real CLI on the same images with ``--domain-check off`` and ``--domain-check enforce``,
in interleaved rounds (median of ``--repeat``), each in its own subprocess: ``--no-cache``,
``--no-provenance``, CPU, ``-f json``; wall-clock from process start to exit (model loading
included, as an analyst sees it).  Reported per mode: seconds, images/s, and for enforce the
domain stage's own time (``summary.domain.elapsed_s``: grouping + two-sample tests; the
per-batch part, each image's feature vector and typicality, runs inside the scan).

Usage: python benchmarks/domain_check_cost.py [--data ../shared/data/val-inthewild] [--models lite0-probe]
           [--repeat 1] [--json runs/domain-cost.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _output import emit  # benchmarks/, the script's own folder

REPO = Path(__file__).resolve().parents[1]


def run(data: Path, models: str, mode: str) -> dict:
    cmd = [sys.executable, "-m", "synthdetect", "scan", str(data), "--models-dir", str(REPO / "weights"), "--models",
           models, "--no-cache", "--no-provenance", "--no-progress", "--device", "cpu", "-f", "json",
           "--domain-check", mode]
    env = dict(os.environ, PYTHONPATH=str(REPO), HF_HUB_OFFLINE="1")
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO)
    wall = time.perf_counter() - t0
    if r.returncode not in (0, 3):
        raise SystemExit(f"scan failed ({r.returncode}): {r.stderr[-2000:]}")
    s = json.loads(r.stdout)["summary"]
    return {"wall_s": wall, "scanned": s["scanned"], "domain": s.get("domain")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "val-inthewild")
    ap.add_argument("--models", default="lite0-probe")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    runs: dict[str, list[dict]] = {"off": [], "enforce": []}
    for _ in range(a.repeat):
        for mode in runs:
            runs[mode].append(run(a.data, a.models, mode))
            print(mode, f"{runs[mode][-1]['wall_s']:.1f} s", flush=True)
    out = {}
    for mode, rs in runs.items():
        wall = statistics.median(r["wall_s"] for r in rs)
        out[mode] = {"wall_s": round(wall, 2), "images_per_s": round(rs[0]["scanned"] / wall, 3),
                     "scanned": rs[0]["scanned"]}
        if rs[0]["domain"]:
            out[mode]["domain_stage_s"] = statistics.median(r["domain"]["elapsed_s"] for r in rs)
            out[mode]["groups"] = [{k: g[k] for k in ("group", "n", "decision")} | {
                "statistic": g["tests"][0]["statistic"], "p_value": g["tests"][0]["p_value"]}
                for g in rs[0]["domain"]["groups"]]
    out["slowdown"] = round(out["enforce"]["wall_s"] / out["off"]["wall_s"] - 1.0, 4)
    emit(out, a.json)


if __name__ == "__main__":
    main()
