"""How often an adapted probe's own domain reference calls a held-out batch of its own source foreign.

For each source and seed: `train probe` on K random images a class (the analyst's reference sample), then
`scan --models NAME` of two mixed batches of 6 + 6 other images of the same source, and of the rest of the
source as one folder per class (one-class folders: the harder case for the class-conditioned test); counts the
batches and folders read `out_of_domain` (docs/domain.md, "A small reference").  Works in a temporary directory (links to the
data, never copies beside it); models go to that directory, never to the user model directory.

Usage: python tools/measure_own_domain.py [--data ../shared/data] [--seeds 5] [--k 25]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOURCES = ("val-firefly", "val-inthewild")


def run(args: list[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "synthdetect", *args], env=env, capture_output=True, text=True,
                          cwd=REPO)


def linked(folder: Path, files: list[tuple[Path, str]]) -> Path:
    for src, name in files:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(src, folder / name)
    return folder


def one_draw(data: Path, src: str, seed: int, k: int, tmp: Path, env: dict) -> list[dict]:
    rng = random.Random(seed)
    cls = {c: sorted(os.listdir(data / src / c)) for c in ("0_real", "1_fake")}
    for names in cls.values():
        rng.shuffle(names)
    name = f"own-{src}-{seed}"
    sample = linked(tmp / name / "sample", [(data / src / c / f, f"{c}/{f}") for c in cls for f in cls[c][:k]])
    r = run(["train", "probe", "--data", str(sample), "--name", name, "--out", str(tmp / "models"), "--format", "json"],
            env)
    if r.returncode:
        raise SystemExit(r.stderr)
    rows = []
    for b in range(2):
        batch = linked(tmp / name / f"batch{b}", [(data / src / c / f, f"{c}_{f}") for c in cls
                                                  for f in cls[c][k + 6 * b:k + 6 * (b + 1)]])
        doc = json.loads(run(["scan", str(batch), "--models", name, "-f", "json", "--no-provenance", "--no-cache"],
                             env).stdout)
        g = doc["summary"]["domain"]["groups"][0]
        t = (g.get("tests") or [{}])[0]
        rows.append({"source": src, "seed": seed, "kind": "batch", "batch": b, "decision": g["decision"],
                     "roc_auc": t.get("statistic"), "p": t.get("p_value")})
        print(json.dumps(rows[-1]), flush=True)
    rest = linked(tmp / name / "rest", [(data / src / c / f, f"{c}/{f}") for c in cls for f in cls[c][k + 12:]])
    doc = json.loads(run(["scan", str(rest), "--models", name, "-f", "json", "--no-provenance", "--no-cache"],
                         env).stdout)
    for g in doc["summary"]["domain"]["groups"]:
        t = (g.get("tests") or [{}])[0]
        rows.append({"source": src, "seed": seed, "kind": "folder", "batch": f"rest {Path(g['group']).name}", "n": g["n"],
                     "decision": g["decision"], "roc_auc": t.get("statistic"), "p": t.get("p_value")})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--k", type=int, default=25)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        env = dict(os.environ, HF_HUB_OFFLINE="1", SYNTHDETECT_MODELS_DIR=str(tmp / "models"))
        rows = [r for src in SOURCES for s in range(a.seeds) for r in one_draw(a.data, src, s, a.k, tmp, env)]
    for src in SOURCES:
        for kind, what in (("batch", "6 + 6 batches"), ("folder", "one-class folders")):
            mine = [r for r in rows if r["source"] == src and r["kind"] == kind]
            print(f"{src}: {sum(r['decision'] == 'out_of_domain' for r in mine)} / {len(mine)} held-out {what} out of domain"
                  f" (ROC-AUC {min(r['roc_auc'] for r in mine):.2f}-{max(r['roc_auc'] for r in mine):.2f})")


if __name__ == "__main__":
    main()
