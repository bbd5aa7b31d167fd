"""Measure the input-quality gates (synthdetect/inputs/quality.py) on val-inthewild.

For every image of ``../shared/data/val-inthewild`` (both classes, reported separately so a
gate cannot act as a hidden class detector): the clean image, synthetic perturbations
(Gaussian blur, downscale+upscale back, 2x upscaled crop, JPEG re-encoding, plain
downscaling), and composites built from it (captioned 1024x1536 cards, 2x2 collages,
screenshot-like frames; tests/inputs/quality_builders.py).  Everything is made in memory; nothing
derived from the data set is written.  Prints, per condition and class, each gate's rate and
the measured values, and writes a small JSON summary (docs/quality-gates.json).

    python tools/measure_gates.py                      # all 225 images, ~5 min on one core
    python tools/measure_gates.py --step 4 --out /tmp/g.json   # every 4th image, quick look
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import random
import sys
import time
from pathlib import Path

import numpy as np
import PIL
from PIL import Image, ImageOps

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "inputs"))

from quality_builders import (  # noqa: E402
    BACKGROUNDS, blur, down_up, jpeg, make_card, make_collage, make_screenshot, upscale_crop,
)

from synthdetect.inputs.quality import DEFAULT_THRESHOLDS, GATES, assess, jpeg_quality_estimate  # noqa: E402


def _down(img: Image.Image, f: float) -> Image.Image:
    return img.resize((max(1, round(img.width * f)), max(1, round(img.height * f))), Image.Resampling.BILINEAR)


# name -> (function of the clean image, whether the result carries its own JPEG tables)
PERTURBATIONS = {
    "blur 1": lambda im: blur(im, 1.0),
    "blur 1.5": lambda im: blur(im, 1.5),
    "blur 2": lambda im: blur(im, 2.0),
    "blur 3": lambda im: blur(im, 3.0),
    "blur 2 + jpeg 75": lambda im: jpeg(blur(im, 2.0), 75),
    "down-up 0.5": lambda im: down_up(im, 0.5),
    "down-up 0.5 + jpeg 85": lambda im: jpeg(down_up(im, 0.5), 85),
    "down-up 0.25": lambda im: down_up(im, 0.25),
    "upscale 2x crop": lambda im: upscale_crop(im, 2.0),
    "upscale 2x crop + jpeg 85": lambda im: jpeg(upscale_crop(im, 2.0), 85),
    "jpeg 95": lambda im: jpeg(im, 95),
    "jpeg 75": lambda im: jpeg(im, 75),
    "jpeg 50": lambda im: jpeg(im, 50),
    "jpeg 30": lambda im: jpeg(im, 30),
    "jpeg 20": lambda im: jpeg(im, 20),
    "resize 0.5 (downscale only)": lambda im: _down(im, 0.5),
    "resize to 200 px (shorter side)": lambda im: _down(im, 200 / min(im.size)),
}
# which gate each perturbation is meant to trigger (None: it should pass)
TARGET = {
    "blur 1": None, "blur 1.5": "blurred_or_upscaled", "blur 2": "blurred_or_upscaled",
    "blur 3": "blurred_or_upscaled", "blur 2 + jpeg 75": "blurred_or_upscaled",
    "down-up 0.5": "blurred_or_upscaled", "down-up 0.5 + jpeg 85": "blurred_or_upscaled",
    "down-up 0.25": "blurred_or_upscaled", "upscale 2x crop": "blurred_or_upscaled",
    "upscale 2x crop + jpeg 85": "blurred_or_upscaled",
    "jpeg 95": None, "jpeg 75": None, "jpeg 50": None, "jpeg 30": "recompressed", "jpeg 20": "recompressed",
    "resize 0.5 (downscale only)": None, "resize to 200 px (shorter side)": "too_small",
    "card": "composite", "card (jpeg 60)": "composite", "card variant: gradient background": "composite",
    "card variant: 600 px photo": "composite", "card variant: full-width photo flush at top": "composite", "collage 2x2": "composite", "screenshot": "composite",
}


def load(path: Path) -> tuple[Image.Image, int | None]:
    with Image.open(path) as im:
        q = jpeg_quality_estimate(im)
        im.load()
        im = ImageOps.exif_transpose(im)
        return im.convert("RGB"), q


def pct(values: list[float], ps=(0, 2, 5, 10, 50, 90, 95, 98, 100)) -> dict[str, float] | None:
    v = [x for x in values if x is not None]
    if not v:
        return None
    return {f"p{p}": round(float(np.percentile(v, p)), 4) for p in ps}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "val-inthewild")
    ap.add_argument("--step", type=int, default=1, help="use every STEP-th image of each class")
    ap.add_argument("--min-side", type=int, default=256, help="the members' largest input (bundle: 256)")
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "quality-gates.json")
    ap.add_argument("--no-perturb", action="store_true", help="clean images and composites only")
    args = ap.parse_args()
    if not (args.data / "manifest.csv").is_file():
        sys.exit(f"no manifest.csv under {args.data}")

    rows = list(csv.DictReader(open(args.data / "manifest.csv", newline="")))
    by_class = {"real": sorted(r["path"] for r in rows if r["label"] == "real"),
                "fake": sorted(r["path"] for r in rows if r["label"] == "fake")}
    by_class = {k: v[:: args.step] for k, v in by_class.items()}
    bg_names = list(BACKGROUNDS)
    # results[condition][class] = list of QualityReport dicts
    results: dict[str, dict[str, list[dict]]] = {}
    times: list[float] = []  # wall seconds
    cpu_times: list[float] = []  # this process's CPU seconds (robust when other jobs share the cores)
    conds = ["clean"] + ([] if args.no_perturb else list(PERTURBATIONS)) + [
        "card", "card (jpeg 60)", "card variant: gradient background", "card variant: 600 px photo",
        "card variant: full-width photo flush at top", "collage 2x2", "screenshot"]
    for c in conds:
        results[c] = {"real": [], "fake": []}

    def run(cond: str, cls: str, img: Image.Image, q: int | None = None, timed: bool = False) -> None:
        t0, c0 = time.perf_counter(), time.process_time()
        rep = assess(img, min_side=args.min_side, jpeg_quality=q)
        if timed:
            times.append(time.perf_counter() - t0)
            cpu_times.append(time.process_time() - c0)
        results[cond][cls].append(rep.to_dict())

    t_start = time.time()
    for cls, paths in by_class.items():
        recent: list[Image.Image] = []
        for i, rel in enumerate(paths):
            img, q = load(args.data / rel)
            run("clean", cls, img, q, timed=max(img.size) >= 1500)
            if not args.no_perturb:
                for name, fn in PERTURBATIONS.items():
                    run(name, cls, fn(img))  # JPEG outputs carry their tables; others: no JPEG
            rnd = random.Random(i * 7919 + (cls == "fake"))
            card_kw = dict(background=bg_names[i % len(bg_names)], position=("middle", "top")[i % 2],
                           lines=1 + i % 3, seed=i)
            run("card", cls, make_card(img, quality=rnd.randint(80, 92), **card_kw))
            run("card (jpeg 60)", cls, make_card(img, quality=60, **card_kw))
            if cls == "real":  # variants: how far the composite gate generalises
                kw = dict(card_kw, quality=85)
                run("card variant: gradient background", cls, make_card(img, **dict(kw, background="gradient")))
                run("card variant: 600 px photo", cls, make_card(img, photo_width=600, **kw))
                run("card variant: full-width photo flush at top", cls,
                    make_card(img, photo_width=1024, **dict(kw, position="flush")))
            run("screenshot", cls, make_screenshot(img, dark=i % 2 == 1, seed=i))
            recent = (recent + [img])[-4:]
            if i % 4 == 3:
                bgc = BACKGROUNDS[("white", "black", "cream")[(i // 4) % 3]]
                run("collage 2x2", cls, make_collage(recent, background=bgc, gutter=8 + 4 * ((i // 4) % 3)))
            print(f"\r{cls} {i + 1}/{len(paths)}  {time.time() - t_start:.0f} s", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)

    thr = DEFAULT_THRESHOLDS
    summary: dict = {
        "data": f"val-inthewild (every {args.step}. image per class)" if args.step > 1 else "val-inthewild",
        "n": {c: len(v) for c, v in by_class.items()},
        "min_side": args.min_side,
        "thresholds": {"min_sharpness": thr.min_sharpness, "min_jpeg_quality": thr.min_jpeg_quality,
                       "max_composite": thr.max_composite, "too_small_below": args.min_side,
                       "sharpness_region": thr.sharpness_region},
        "timing_ms_per_image": {
            "median": round(1000 * float(np.median(times)), 2) if times else None,
            "p90": round(1000 * float(np.percentile(times, 90)), 2) if times else None,
            "cpu_median": round(1000 * float(np.median(cpu_times)), 2) if cpu_times else None,
            "cpu_p90": round(1000 * float(np.percentile(cpu_times, 90)), 2) if cpu_times else None,
            "n": len(times), "what": "assess() on clean images with a side >= 1500 px, one thread: wall and process CPU time",
        },
        "environment": {"python": platform.python_version(), "numpy": np.__version__, "pillow": PIL.__version__},
        "conditions": {},
    }
    hdr = f"{'condition':34s} {'cls':4s} {'n':>4s} " + " ".join(f"{g[:12]:>12s}" for g in GATES) + f" {'any':>6s}"
    print(hdr)
    print("-" * len(hdr))
    for cond, per in results.items():
        entry = {"target_gate": TARGET.get(cond), "classes": {}}
        for cls, reps in per.items():
            if not reps:
                continue
            n = len(reps)
            rates = {g: round(sum(any(f["gate"] == g for f in r["failed"]) for r in reps) / n, 4) for g in GATES}
            rates["any"] = round(sum(bool(r["failed"]) for r in reps) / n, 4)
            entry["classes"][cls] = {
                "n": n, "rates": rates,
                "sharpness": pct([r["sharpness"] for r in reps]),
                "composite": pct([r["composite"] for r in reps]),
                "jpeg_quality": pct([r["jpeg_quality"] for r in reps]),
            }
            print(f"{cond[:34]:34s} {cls:4s} {n:4d} " + " ".join(f"{100 * rates[g]:11.1f}%" for g in GATES)
                  + f" {100 * rates['any']:5.1f}%")
        summary["conditions"][cond] = entry
    print("\nmeasured values (percentiles p0 p2 p5 p10 p50 p90 p95 p98 p100):")
    for key in ("sharpness", "composite", "jpeg_quality"):
        print(f"== {key}")
        for cond, entry in summary["conditions"].items():
            for cls, e in entry["classes"].items():
                if e[key]:
                    print(f"{cond[:34]:34s} {cls:4s} " + " ".join(f"{v:8.3f}" for v in e[key].values()))
    tm = summary["timing_ms_per_image"]
    print(f"\nassess() per image (side >= 1500 px): wall median {tm['median']} ms, p90 {tm['p90']} ms; "
          f"CPU median {tm['cpu_median']} ms, p90 {tm['cpu_p90']} ms")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=1) + "\n")
    print(f"summary written to {args.out}")


if __name__ == "__main__":
    main()
