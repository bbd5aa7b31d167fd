"""What ordinary edits do to the bundle's verdicts: the val-inthewild holdout, edited, through `scan`.

An image reaches an analyst after a channel has worked on it: a colour profile converted, colours or
contrast boosted, a watermark or a credit line drawn on it, straightened, sharpened, denoised. This
check makes an edited copy of both classes of the holdout split for each such edit (in a temporary
folder, never in the repository; JPEG q95, the quality the bundle judges as `original`), scans each
folder with `lite0-probe-train` — the bundled probe fitted without the holdout, so these are held-out
figures — exactly as an analyst would (`synthdetect scan DIR --models lite0-probe-train -f jsonl`),
once with the batch domain check (the default) and once without it, and prints, per edit, ROC-AUC,
the definite verdicts, the real photos called synthetic, the synthetic images called real, and the
images the ``median_filtered`` gate withheld. A last
row mixes the median-filtered copies of 10 photos and 10 renders among the 89 unedited images, as a
few laundered files in an otherwise ordinary folder.

Each folder holds both classes (file names say which), as an analyst's case folder does; the domain
check tests it as one group.

Usage: python tools/check_edits.py [--data ../shared/data] [--only EDIT,...] [--keep DIR]
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageCms, ImageDraw, ImageEnhance, ImageFilter, ImageFont

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "inputs"))
MODEL = "lite0-probe-train"


def _convert(profile: bytes) -> Callable[[Image.Image], tuple[Image.Image, bytes]]:
    srgb = ImageCms.createProfile("sRGB")
    to = ImageCms.buildTransform(srgb, ImageCms.ImageCmsProfile(io.BytesIO(profile)), "RGB", "RGB",
                                 renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC)
    return lambda im: (ImageCms.applyTransform(im, to), profile)


def _gamma(im: Image.Image) -> Image.Image:
    return im.point([round(255 * (i / 255) ** 0.8) for i in range(256)] * 3)


def _rotate(im: Image.Image) -> Image.Image:
    """Straightened by 3 degrees (bicubic), the empty corners cropped away."""
    w, h = im.size
    m = int(0.06 * max(w, h))
    return im.rotate(3, resample=Image.BICUBIC).crop((m, m, w - m, h - m))


def _noise(im: Image.Image, seed: int) -> Image.Image:
    a = np.asarray(im, dtype=np.float32)
    a = a + np.random.default_rng(seed).normal(0.0, 3.0, a.shape)
    return Image.fromarray(np.clip(np.rint(a), 0, 255).astype(np.uint8))


def _credit(im: Image.Image) -> Image.Image:
    """A credit line in the bottom-left corner, white with a black outline."""
    im = im.copy()
    w, h = im.size
    font = ImageFont.load_default(size=max(20, w // 30))
    ImageDraw.Draw(im).text((w * 0.05, h * 0.9), "@newsdesk  photo: agency", fill=(255, 255, 255), font=font,
                            stroke_width=2, stroke_fill=(0, 0, 0))
    return im


def _watermark(im: Image.Image) -> Image.Image:
    """A diagonal, tiled, 27 % opaque white text watermark over the whole picture."""
    w, h = im.size
    layer = Image.new("RGBA", (w * 2, h * 2), (0, 0, 0, 0))
    draw, font, step = ImageDraw.Draw(layer), ImageFont.load_default(size=max(24, w // 18)), max(80, w // 5)
    for y in range(0, h * 2, step):
        for x in range(0, w * 2, step * 3):
            draw.text((x + (y // step % 2) * step, y), "SAMPLE NEWS", fill=(255, 255, 255, 70), font=font)
    layer = layer.rotate(30, resample=Image.BICUBIC).crop((w // 2, h // 2, w // 2 + w, h // 2 + h))
    return Image.alpha_composite(im.convert("RGBA"), layer).convert("RGB")


def edits() -> dict[str, tuple[str, Callable[[Image.Image, int], Image.Image | tuple[Image.Image, bytes]]]]:
    from icc_builders import ADOBE_RGB, DISPLAY_P3, display_profile

    p3, adobe = _convert(display_profile(**DISPLAY_P3)), _convert(display_profile(**ADOBE_RGB))
    return {
        "none": ("re-saved, no edit (the control)", lambda im, s: im),
        "p3": ("converted to Display P3, profile embedded", lambda im, s: p3(im)),
        "adobe": ("converted to Adobe RGB (1998), profile embedded", lambda im, s: adobe(im)),
        "saturation": ("saturation x 1.4", lambda im, s: ImageEnhance.Color(im).enhance(1.4)),
        "contrast": ("contrast x 1.3", lambda im, s: ImageEnhance.Contrast(im).enhance(1.3)),
        "gamma": ("gamma 0.8 (brightened)", lambda im, s: _gamma(im)),
        "rotate": ("straightened 3 degrees, corners cropped", lambda im, s: _rotate(im)),
        "credit": ("credit line drawn in a corner", lambda im, s: _credit(im)),
        "watermark": ("tiled diagonal text watermark, 27 % opaque", lambda im, s: _watermark(im)),
        "sharpen-light": ("unsharp mask, radius 1, 80 %", lambda im, s: im.filter(ImageFilter.UnsharpMask(1, 80, 2))),
        "sharpen": ("unsharp mask, radius 2, 150 %", lambda im, s: im.filter(ImageFilter.UnsharpMask(2, 150, 3))),
        "noise": ("Gaussian noise, sigma 3 levels", _noise),
        "blur-light": ("Gaussian blur, sigma 0.7", lambda im, s: im.filter(ImageFilter.GaussianBlur(0.7))),
        "median": ("median filter 3 x 3 (denoised)", lambda im, s: im.filter(ImageFilter.MedianFilter(3))),
    }


def _holdout(data: Path) -> list[tuple[str, int]]:
    lines = (REPO / "weights" / "splits" / "val-inthewild.holdout.txt").read_text().splitlines()
    rels = [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]
    return [(rel, int(rel.startswith("1_fake"))) for rel in rels]


def _write(folder: Path, data: Path, items: list[tuple[str, int]], edit, prefix: str = "") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, (rel, label) in enumerate(items):
        out = edit(Image.open(data / "val-inthewild" / rel).convert("RGB"), i)
        im, icc = out if isinstance(out, tuple) else (out, None)
        name = f"{prefix}{('real', 'fake')[label]}_{Path(rel).stem}.jpg"
        im.save(folder / name, quality=95, **({"icc_profile": icc} if icc else {}))


def _scan(folder: Path, domain_check: str) -> list[dict]:
    r = subprocess.run([sys.executable, "-m", "synthdetect", "scan", str(folder), "--models", MODEL, "-f", "jsonl",
                        "--no-progress", "--no-provenance", "--no-cache", "--domain-check", domain_check],
                       capture_output=True, text=True, cwd=REPO)
    recs = [json.loads(ln) for ln in r.stdout.splitlines() if ln.strip()]
    return [x for x in recs if x.get("type") == "result"]


def _row(recs: list[dict], only: str = "") -> dict:
    from synthdetect.evaluation.metrics import roc_auc

    recs = [x for x in recs if Path(x["path"]).name.startswith(only)]
    labels = [int("fake_" in Path(x["path"]).name) for x in recs]
    scores = [x["models"][MODEL]["probability"] for x in recs]
    verdicts = [x["verdict"] for x in recs]
    return {
        "n": len(recs), "auc": round(float(roc_auc(np.array(labels), np.array(scores))), 3),
        "definite": sum(v in ("real", "synthetic") for v in verdicts),
        "false_alarms": sum(v == "synthetic" and y == 0 for v, y in zip(verdicts, labels)), "reals": labels.count(0),
        "misses": sum(v == "real" and y == 1 for v, y in zip(verdicts, labels)), "fakes": labels.count(1),
        "out_of_domain": sum((x.get("domain") or {}).get("decision") == "out_of_domain" for x in recs),
        "median_gated": sum(any(g.get("gate") == "median_filtered" for g in (x.get("quality") or {}).get("failed", []))
                            for x in recs),
    }


def _line(name: str, what: str, on: dict, off: dict) -> str:
    return (f"| {name}: {what} | {on['auc']:.3f} | {on['definite']}/{on['n']} | {on['false_alarms']}/{on['reals']} | "
            f"{on['misses']}/{on['fakes']} | {on['out_of_domain']} | {on['median_gated']} | {off['definite']}/{off['n']} | "
            f"{off['false_alarms']}/{off['reals']} | {off['misses']}/{off['fakes']} |")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--only", help="comma-separated edit names (default: all, and the mixed folder)")
    ap.add_argument("--keep", type=Path, help="write the edited copies here instead of a temporary folder")
    a = ap.parse_args()
    table, items = edits(), _holdout(a.data)
    names = a.only.split(",") if a.only else [*table, "mixed"]
    print("| edit | ROC-AUC | definite | real called synthetic | synthetic called real | out of domain "
          "| gated median_filtered | definite, check off | real called synthetic | synthetic called real |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        root = a.keep or Path(tmp)
        for name in names:
            folder = root / name
            if name == "mixed":
                _write(folder, a.data, items, table["none"][1])
                picked = [it for it in items if it[1] == 0][:10] + [it for it in items if it[1] == 1][:10]
                _write(folder, a.data, picked, table["median"][1], prefix="median_")
                on, off = _scan(folder, "enforce"), _scan(folder, "off")
                print(_line("mixed", "20 median-filtered files among the 89 (rates on those 20)",
                            _row(on, "median_"), _row(off, "median_")))
                continue
            if name not in table:
                raise SystemExit(f"unknown edit {name!r}: one of {', '.join(table)}, mixed")
            _write(folder, a.data, items, table[name][1])
            print(_line(name, table[name][0], _row(_scan(folder, "enforce")), _row(_scan(folder, "off"))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
