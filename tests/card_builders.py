"""Malformed cards for the card-validation tests (issue 18): each beside good ones, with the words
its one-line error must carry (the card's file name and the field at fault)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

# name -> (card text from a good card's dict, what the error names)
BROKEN = {
    "listcard": (lambda d: "[1, 2, 3]", "not a JSON object"),
    "meanbad": (lambda d: json.dumps({**d, "input": {**d["input"], "mean": 5}}), "'input.mean'"),
    "thrbad": (lambda d: json.dumps({**d, "threshold": "high"}), "'threshold'"),
    "badjson": (lambda d: '{"name": ', "cannot read model card"),
    "outside": (lambda d: json.dumps({**d, "file": "../" + d["file"]}), "'file'"),
}


def models_with_broken_cards(src: Path, dest: Path, names=tuple(BROKEN)) -> Path:
    """A copy of model directory ``src`` at ``dest`` plus the broken cards ``names`` (from its
    first model card), each with the model file a good card would have beside it."""
    shutil.copytree(src, dest)
    good_card = next(p for p in sorted(dest.glob("*.json")) if not p.name.endswith((".ensemble.json", ".head.json")))
    d = json.loads(good_card.read_text())
    for n in names:
        make, _ = BROKEN[n]
        (dest / f"{n}.json").write_text(make({**d, "name": n}))
        shutil.copyfile(dest / d["file"], dest / f"{n}.onnx")
    return dest
