"""Synthetic scan runs for report tests: header, records and summary in the scan schema."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "images"


def example_thumbnails() -> list[str]:
    """Thumbnails of the bundled example photographs (real photos: realistic sizes)."""
    from synthdetect.inputs.decoding import decode
    from synthdetect.output.html import thumbnail_data_uri

    out = []
    for p in sorted(EXAMPLES.iterdir()):
        if p.suffix.lower() in (".jpg", ".png", ".webp", ".avif"):
            d = decode(p)
            out.append(thumbnail_data_uri(d.image))
            d.image.close()
    return out


def fake_run(n: int, seed: int = 0) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
    rnd = random.Random(seed)
    names = ["npr", "spectral", "resnet"]
    thr = {"npr": 0.567, "spectral": 0.552, "resnet": 0.658}
    head = {
        "schema_version": "1.0", "tool": {"name": "synthdetect", "version": "0.1.0"},
        "created": "2026-11-29T00:00:00+00:00",
        "models": [{"name": m, "sha256": f"{i:x}" * 64, "architecture": m, "threshold": thr[m], "weight": 0.5,
                    "error_rates": {"measured_on": "holdout", "n": 89, "threshold": thr[m],
                                    "false_positive_rate": 0.087, "false_negative_rate": 0.63}}
                   for i, m in enumerate(names, 1)],
        "ensemble": {"method": "weighted", "name": "default", "threshold": 0.5, "inconclusive_margin": 0.0,
                     "members": names},
        "options": {"threshold": "auto"}, "command": ["synthdetect", "scan", "/case", "-f", "jsonl"],
    }
    records = []
    counts = {"real": 0, "synthetic": 0, "inconclusive": 0}
    errors = 0
    for i in range(n):
        path = f"/case/{i // 1000:02d}/IMG_{i:05d}.jpg"
        sha = f"{rnd.getrandbits(256):064x}"
        if i % 97 == 13:
            errors += 1
            records.append({"path": path, "format": None, "width": None, "height": None, "bytes": 1234,
                            "sha256": sha, "models": {}, "ensemble": None, "verdict": None,
                            "verdict_source": None, "error": "truncated file (image file is truncated)"})
            continue
        models = {}
        votes = 0.0
        for m in names:
            p = round(rnd.random(), 6)
            models[m] = {"probability": p, "threshold": thr[m], "verdict": "synthetic" if p >= thr[m] else "real"}
            votes += (p >= thr[m]) / 3
        score = round(votes, 6)
        verdict = "inconclusive" if abs(score - 0.5) < 1e-9 else ("synthetic" if score >= 0.5 else "real")
        rec = {"path": path, "format": "JPEG", "width": 4032, "height": 3024, "mode": "RGB", "frames": 1,
               "bytes": 2_000_000 + i, "sha256": sha,
               "provenance": {"ai_evidence": [], "verdict_hint": None, "camera_evidence": ["EXIF Make/Model: Canon"],
                              "notes": []},
               "models": models,
               "ensemble": {"method": "weighted", "score": score, "threshold": 0.5, "verdict": verdict, "tie": False},
               "verdict": verdict, "verdict_source": "detectors", "error": None}
        counts[verdict] += 1
        records.append(rec)
    summary = {"inputs": n, "scanned": n - errors, "errors": errors, "verdicts": counts, "provenance_overrides": 0,
               "skipped_non_image": 0, "symlink_loops": 0, "elapsed_s": 123.4, "images_per_s": 40.0}
    return head, records, summary
