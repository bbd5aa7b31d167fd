"""Builders shared by the hub tests: deterministic payloads and registry override files."""

from __future__ import annotations

import hashlib
import json
import pickle
from pathlib import Path


def payload(n: int = 200_000, seed: int = 1) -> bytes:
    """Deterministic, incompressible-ish bytes."""
    out = bytearray()
    h = hashlib.sha256(str(seed).encode()).digest()
    while len(out) < n:
        h = hashlib.sha256(h).digest()
        out += h
    return bytes(out[:n])


def torchish(data: bytes) -> bytes:
    """A whole pickle (protocol 2, ending with STOP) holding ``data``: sniffs as a legacy torch file and
    passes the structure check made before a digest is recorded on first use."""
    return pickle.dumps({"weights": data}, protocol=2)


def write_registry(path: Path, entries: list[dict]) -> Path:
    """A ``$SYNTHDETECT_HUB_REGISTRY`` file holding ``entries``."""
    path.write_text(json.dumps({"entries": entries}))
    return path


def backbone_entry(name: str, filename: str, sha: str | None = None, fmt: str = "torch") -> dict:
    """A one-file backbone entry (backbones are cached only: no converter needed)."""
    f = {"filename": filename, "url": f"https://example.invalid/{filename}", "sha256": sha, "format": fmt,
         "role": "backbone"}
    if sha is None:
        f["sha256_note"] = "not published (test)"
    return {"name": name, "kind": "backbone", "description": "test", "source": "test", "licence": "test",
            "files": [f]}
