"""Write a stratified train/holdout split of a labelled set as relative-path lists.

Strata = label x category (from manifest.csv).  Deterministic for a given seed.
Usage (the committed splits):
  python tools/make_split.py ../shared/data/val-inthewild --holdout 0.4 --seed 2025
  python tools/make_split.py ../shared/data/val-inthewild --within weights/splits/val-inthewild.train.txt \
      --holdout 0.25 --seed 2026 --names fit,calib
"""
from __future__ import annotations

import argparse
import csv
import random
from collections import defaultdict
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("root", type=Path)
    ap.add_argument("--holdout", type=float, default=0.4)
    ap.add_argument("--seed", type=int, default=2025)
    ap.add_argument("--out", type=Path, default=Path("weights/splits"))
    ap.add_argument("--within", type=Path, help="split only the paths listed in this file")
    ap.add_argument("--names", default="train,holdout", help="names of the two parts: kept,held")
    a = ap.parse_args()
    keep = None
    if a.within:
        keep = {ln.strip() for ln in a.within.read_text().splitlines() if ln.strip() and not ln.startswith("#")}
    strata: dict[tuple[str, str], list[str]] = defaultdict(list)
    with open(a.root / "manifest.csv", newline="") as f:
        for row in csv.DictReader(f):
            if keep is None or row["path"] in keep:
                strata[(row["label"], row.get("category", ""))].append(row["path"])
    rng = random.Random(a.seed)
    train, hold = [], []
    for key in sorted(strata):
        files = sorted(strata[key])
        rng.shuffle(files)
        k = round(len(files) * a.holdout)
        hold += files[:k]
        train += files[k:]
    a.out.mkdir(parents=True, exist_ok=True)
    name = a.root.resolve().name
    kept_name, held_name = a.names.split(",")
    scope = f" of {a.within.name}" if a.within else ""
    header = f"# {name}: stratified (label x category) split{scope}, {held_name} fraction={a.holdout}, seed={a.seed}; paths relative to the set\n"
    for part, files in ((kept_name, train), (held_name, hold)):
        (a.out / f"{name}.{part}.txt").write_text(header + "\n".join(sorted(files)) + "\n")
        print(part, len(files), sum(p.startswith("1_fake") for p in files), "fake")


if __name__ == "__main__":
    main()
