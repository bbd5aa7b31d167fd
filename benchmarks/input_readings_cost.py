#!/usr/bin/env python
"""What scan's readings of a non-JPEG file cost, per image, against decoding it.

Every image of ``--data`` is written (in a temporary folder, never beside the data) as a PNG
saved from a JPEG at ``--quality`` and as a GIF; then, per file on one thread: ``decode``
(read + SHA-256 + Pillow decode, what scan does anyway), the palette reading from the header
(``inputs.codecs.codec_from_file``) and the JPEG quality read from the pixels
(``inputs.jpeg_trace.jpeg_quality_from_pixels``; PNGs only).  Reported: median ms per image and
the readings' share of the decode, with how many PNGs read the quality they were saved at.

Usage: python benchmarks/input_readings_cost.py [--data ../shared/data/val-inthewild] [--n 60]
           [--quality 70] [--json runs/input-readings.json]
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _output import emit  # benchmarks/, the script's own folder

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _copies(data: Path, n: int, quality: int, out: Path) -> list[tuple[Path, Path]]:
    from PIL import Image

    files = sorted(p for p in data.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp"))[:n]
    pairs = []
    for i, p in enumerate(files):
        img = Image.open(p).convert("RGB")
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=quality)
        buf.seek(0)
        png, gif = out / f"{i:04d}.png", out / f"{i:04d}.gif"
        Image.open(buf).convert("RGB").save(png)
        img.save(gif)
        pairs.append((png, gif))
    return pairs


def _ms(fn, *args) -> tuple[float, object]:
    t0 = time.perf_counter()
    got = fn(*args)
    return (time.perf_counter() - t0) * 1000, got


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "val-inthewild")
    ap.add_argument("--n", type=int, default=60)
    ap.add_argument("--quality", type=int, default=70)
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()

    from synthdetect.inputs.codecs import codec_from_file
    from synthdetect.inputs.decoding import decode
    from synthdetect.inputs.jpeg_trace import jpeg_quality_from_pixels

    rows = {"decode_png": [], "jpeg_trace": [], "decode_gif": [], "palette_header": []}
    read = 0
    with tempfile.TemporaryDirectory() as tmp:
        pairs = _copies(a.data, a.n, a.quality, Path(tmp))
        for png, gif in pairs:
            t, d = _ms(decode, png)
            rows["decode_png"].append(t)
            t, q = _ms(jpeg_quality_from_pixels, d.image)
            rows["jpeg_trace"].append(t)
            read += q == a.quality
            rows["decode_gif"].append(_ms(decode, gif)[0])
            rows["palette_header"].append(_ms(codec_from_file, gif)[0])
    med = {k: round(statistics.median(v), 2) for k, v in rows.items()}
    out = {"images": len(pairs), "quality": a.quality, "median_ms": med, "read_exactly": read,
           "trace_share_of_png_decode": round(med["jpeg_trace"] / med["decode_png"], 3),
           "palette_share_of_gif_decode": round(med["palette_header"] / med["decode_gif"], 4)}
    emit(out, a.json)


if __name__ == "__main__":
    main()
