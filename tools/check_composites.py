"""End-to-end check of the composite gate: real photos re-rendered as captioned cards.

Builds, in a temporary folder (never in the repository), a 1024x1536 captioned card from every
real photo of a val-inthewild split (varied backgrounds, photo positions, caption lines, JPEG
re-encoding; builders in tests/inputs/quality_builders.py), scans them with the bundled default exactly
as an analyst would (`synthdetect scan DIR -f jsonl`), with and without the quality gates, and
prints how many were called synthetic / real / inconclusive.

Usage: python tools/check_composites.py [--data ../shared/data] [--split holdout|train|all] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "inputs"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--split", default="all", choices=("holdout", "train", "all"))
    ap.add_argument("--label", default="0_real", choices=("0_real", "1_fake"))
    ap.add_argument("--keep", type=Path, help="write the cards here instead of a temporary folder")
    a = ap.parse_args()

    from PIL import Image

    from quality_builders import BACKGROUNDS, make_card
    from synthdetect.inputs.decoding import decode

    root = a.data / "val-inthewild"
    if a.split == "all":
        rels = sorted(str(p.relative_to(root)) for p in (root / a.label).glob("*.jpg"))
    else:
        lines = (REPO / "weights" / "splits" / f"val-inthewild.{a.split}.txt").read_text().splitlines()
        rels = [ln.strip() for ln in lines if ln.strip().startswith(a.label)]
    bgs = sorted(BACKGROUNDS)
    with tempfile.TemporaryDirectory() as tmp:
        out = a.keep or Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        for i, rel in enumerate(rels):
            photo = decode(root / rel).image
            card = make_card(photo, background=bgs[i % len(bgs)], lines=1 + i % 3,
                             position=("middle", "top")[i % 2], quality=80 + (i % 3) * 6, seed=i)
            card.save(out / f"card_{Path(rel).stem}.jpg", quality=90)
        results = {}
        for label, extra in (("gates on", []), ("gates off", ["--no-quality-gates"])):
            r = subprocess.run([sys.executable, "-m", "synthdetect", "scan", str(out), "-f", "jsonl", "--no-progress",
                                *extra], capture_output=True, text=True, cwd=REPO)
            recs = [json.loads(ln) for ln in r.stdout.splitlines() if ln.strip()]
            recs = [x for x in recs if x.get("type") == "result"]
            counts = Counter(x["verdict"] for x in recs)
            gates = Counter(g["gate"] for x in recs for g in (x.get("quality") or {}).get("failed", []))
            results[label] = {"n": len(recs), "verdicts": dict(counts), "gates": dict(gates)}
    n = results["gates on"]["n"]
    print(f"{n} captioned cards made from {a.label} photos of val-inthewild ({a.split}):")
    for label, r in results.items():
        v = r["verdicts"]
        print(f"  {label}: synthetic {v.get('synthetic', 0)} ({100 * v.get('synthetic', 0) / max(1, n):.1f} %), "
              f"real {v.get('real', 0)}, inconclusive {v.get('inconclusive', 0)}; gates failed: {r['gates']}")
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
