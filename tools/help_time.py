#!/usr/bin/env python3
"""How long ``synthdetect --help`` takes, and what it imports (``make help-time``).

Runs ``python -m synthdetect --help`` N times in fresh interpreters (from the repository root, so
this checkout's package is the one measured) and prints the median wall-clock and CPU time, then
the ``-X importtime`` cumulative cost of the slowest top-level imports of one more run.  Wall
time depends on how busy the machine is; CPU time (user + sys of the child) much less.

    python tools/help_time.py [-n 10] [-- ARGS...]   # ARGS default: --help (`-- -h`, `-- --version`)
    python tools/help_time.py --bare                 # ``synthdetect`` alone (prints the help, exit 2)
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def once(cmd: list[str]) -> tuple[float, float]:
    t0 = time.perf_counter()
    before = os.times()
    subprocess.run(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    after = os.times()
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return time.perf_counter() - t0, cpu


def top_imports(cmd: list[str], n: int = 8) -> list[tuple[int, str]]:
    r = subprocess.run([cmd[0], "-X", "importtime", *cmd[1:]], cwd=REPO, capture_output=True, text=True)
    rows = []
    for ln in r.stderr.splitlines():
        if not ln.startswith("import time:") or "|" not in ln:
            continue
        _, cum, raw = ln[len("import time:"):].split("|")
        depth = len(raw) - len(raw.lstrip()) - 1  # one space after the bar, two more per level
        if cum.strip().isdigit() and depth <= 2:
            rows.append((int(cum), "  " * (depth // 2) + raw.strip()))
    return sorted(rows, reverse=True)[:n]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=10, help="runs (default 10)")
    ap.add_argument("--bare", action="store_true", help="time `synthdetect` with no arguments")
    ap.add_argument("args", nargs="*", default=["--help"])
    a = ap.parse_args()
    if a.bare:
        a.args = []
    cmd = [sys.executable, "-m", "synthdetect", *a.args]
    once(cmd)  # warm the file cache and .pyc files
    runs = [once(cmd) for _ in range(a.n)]
    wall = statistics.median(w for w, _ in runs)
    cpu = statistics.median(c for _, c in runs)
    print(f"synthdetect {' '.join(a.args) or '(no arguments)'}: median of {a.n}: wall {wall:.3f} s, cpu {cpu:.3f} s "
          f"(min wall {min(w for w, _ in runs):.3f} s; load average {os.getloadavg()[0]:.1f})")
    print("slowest imports, two levels (-X importtime, cumulative):")
    for us, name in top_imports(cmd):
        print(f"  {us / 1000:7.1f} ms  {name}")


if __name__ == "__main__":
    main()
