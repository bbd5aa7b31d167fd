#!/usr/bin/env python
"""First scan vs re-scan of the same folder through the result cache.

Each round uses a fresh, empty cache directory: ``synthdetect scan DIR -f jsonl`` (the
default ensemble, provenance on: the CLI's defaults) runs once to fill the cache and
once more to re-scan.  Both are timed as subprocess wall clock (interpreter start, model
loading and SHA-256 of the model files included; the re-scan still reads and hashes
every image).  The re-scan's result lines must be byte-identical to the first scan's
(the header's ``created`` and the summary's timing/cache fields are the only lines
allowed to differ).

Usage:
  python benchmarks/cache_rescan.py                       # ../shared/data/val-inthewild, 3 rounds
  python benchmarks/cache_rescan.py --data DIR --repeat 1 -- --models npr
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def scan(data: Path, cache_dir: Path, extra: list[str]) -> tuple[float, list[str], dict]:
    env = dict(os.environ, PYTHONPATH=str(REPO), SYNTHDETECT_CACHE_DIR=str(cache_dir))
    cmd = [sys.executable, "-m", "synthdetect", "scan", str(data), "-f", "jsonl", "--no-progress", *extra]
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO)
    wall = time.perf_counter() - t0
    if r.returncode not in (0, 3):
        raise SystemExit(f"scan failed ({r.returncode}): {r.stderr[-2000:]}")
    lines = r.stdout.splitlines()
    results = [ln for ln in lines if ln.startswith('{"type":"result"')]
    return wall, results, json.loads(lines[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "val-inthewild")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", type=Path)
    ap.add_argument("extra", nargs="*", help="extra scan options after --")
    args = ap.parse_args()
    if not args.data.is_dir():
        raise SystemExit(f"no folder {args.data}")
    firsts, seconds, own1, own2, hashes = [], [], [], [], []
    identical = True
    n = None
    for r in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="synthdetect-cache-bench-") as d:
            w1, res1, s1 = scan(args.data, Path(d), args.extra)
            w2, res2, s2 = scan(args.data, Path(d), args.extra)
        identical &= res1 == res2
        if s2["cache"]["hits"] != s1["scanned"]:
            print(f"round {r + 1}: only {s2['cache']['hits']} of {s1['scanned']} served from the cache", file=sys.stderr)
        n = len(res1)
        firsts.append(w1)
        seconds.append(w2)
        own1.append(s1["elapsed_s"])
        own2.append(s2["elapsed_s"])
        hashes.append(s2["cache"]["hash_s"])
        print(f"round {r + 1}/{args.repeat}: first {w1:.2f} s, re-scan {w2:.2f} s", file=sys.stderr)
    med = statistics.median
    rep = {
        "images": n, "data": str(args.data), "options": args.extra,
        "first_wall_s": firsts, "rescan_wall_s": seconds,
        "first_own_elapsed_s": own1, "rescan_own_elapsed_s": own2, "rescan_hash_s": hashes,
        "ratio_wall": med(firsts) / med(seconds), "ratio_own": med(own1) / med(own2),
        "records_identical": identical,
    }
    print(f"\n{n} inputs from {args.data}, median of {args.repeat}")
    print("| | first scan | re-scan (cached) | ratio (target ≥ 20×) |\n|---|---:|---:|---:|")
    print(f"| wall clock, process start to exit | {med(firsts):.2f} s | {med(seconds):.2f} s | **{rep['ratio_wall']:.1f}×** |")
    print(f"| scan's own elapsed_s (model loading included) | {med(own1):.2f} s | {med(own2):.2f} s | {rep['ratio_own']:.1f}× |")
    print(f"re-scan: reading + SHA-256 of every image took {med(hashes):.3f} s; "
          f"result records byte-identical: {identical}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rep, indent=2))
    if not identical:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
