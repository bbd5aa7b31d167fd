"""Helpers shared by several test modules (fixtures live in the conftest.py files).

* :func:`run_without_torch`: Python code in a fresh interpreter in which ``torch``,
  ``torchvision`` and ``open_clip`` cannot be imported (the inference boundary).
* :func:`imported_by`: run the CLI in a fresh interpreter and list the heavy modules it loaded.
* :func:`cli` / :func:`scan_json`: the CLI in-process (typer's CliRunner).
* :func:`textured_rgb`: a deterministic textured uint8 RGB array (stripes, products, noise).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Sequence

REPO = Path(__file__).resolve().parents[1]

TORCH_BLOCKER = """
import sys, importlib.abc
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('torch', 'torchvision', 'open_clip'):
            raise ImportError('blocked for this test: ' + name)
        return None
sys.meta_path.insert(0, Block())
"""

HEAVY = ("torch", "torchvision", "open_clip", "numpy", "onnxruntime", "PIL")


def run_without_torch(code: str, *, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """``python -c CODE`` from the repository root with torch, torchvision and open_clip blocked."""
    return subprocess.run([sys.executable, "-c", TORCH_BLOCKER + code], capture_output=True, text=True, cwd=REPO,
                          timeout=timeout, env=env)


def imported_by(argv: Sequence[str]) -> tuple[subprocess.CompletedProcess, list[str]]:
    """Run ``synthdetect ARGV`` in a fresh interpreter; return the process and which of :data:`HEAVY` it imported."""
    code = (
        "import sys\n"
        f"sys.argv = {['synthdetect', *argv]!r}\n"
        "from synthdetect.cli import main\n"
        "try:\n    main()\nexcept SystemExit as e:\n    code = e.code\n"
        f"print('MODS', sorted(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO))
    env.pop("SYNTHDETECT_MODELS_DIR", None)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    line = [ln for ln in r.stderr.splitlines() if ln.startswith("MODS")][-1]
    return r, json.loads(line[5:].replace("'", '"'))


def cli(args: Sequence[Any], input: str | None = None):
    """``synthdetect ARGS`` in-process (typer's CliRunner); arguments are str()-ed."""
    from typer.testing import CliRunner

    from synthdetect.cli import app

    return CliRunner().invoke(app, [str(a) for a in args], input=input)


def scan_json(models_dir, paths, *extra):
    """``scan PATHS --models-dir DIR -f json``: the parsed document and the CliRunner result."""
    r = cli(["scan", *paths, "--models-dir", models_dir, "-f", "json", "--no-progress", *extra])
    assert r.exit_code in (0, 3), r.output
    return json.loads(r.stdout), r


def textured_rgb(w: int = 200, h: int = 150, seed: int = 0):
    """A ``[h, w, 3]`` uint8 image with periodic stripes, a product pattern and seeded noise:
    enough texture for JPEG, blur and crop to change it measurably."""
    import numpy as np

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    a = np.stack([xx % 37 * 6, yy % 23 * 10, (xx * yy) % 251], -1).astype(np.uint8)
    return np.clip(a + rng.integers(0, 20, a.shape), 0, 255).astype(np.uint8)
