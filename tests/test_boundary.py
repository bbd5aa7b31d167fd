"""The inference side never imports PyTorch: checked, not remembered.

Every module of the package outside ``synthdetect.train`` is imported in a fresh interpreter in
which ``torch``, ``torchvision`` and ``open_clip`` cannot be imported; then the CLI's help
(and ``train probe``, which needs no PyTorch) runs the same way."""

from __future__ import annotations

import pkgutil

import synthdetect
from tests.support import run_without_torch


def _inference_modules() -> list[str]:
    out = []
    for m in pkgutil.walk_packages(synthdetect.__path__, "synthdetect."):
        if m.name.startswith("synthdetect.train") or m.name == "synthdetect.__main__":
            continue
        out.append(m.name)
    return sorted(out)


def test_every_inference_module_imports_without_torch():
    mods = _inference_modules()
    assert "synthdetect.scan.pipeline" in mods and "synthdetect.probes.train" in mods and "synthdetect.cli" in mods
    r = run_without_torch("import importlib\nfor m in %r:\n    importlib.import_module(m)\n"
             "assert not any(k.split('.')[0] == 'torch' for k in sys.modules)\nprint('ok')" % mods)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr[-2000:]


def test_cli_help_and_train_probe_help_run_without_torch():
    r = run_without_torch("import sys\nfrom synthdetect.cli import app\nsys.argv=['synthdetect', 'train', 'probe', '--help']\n"
             "try:\n    app(prog_name='synthdetect')\nexcept SystemExit as e:\n    assert e.code == 0, e.code\n")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "--backbone" in r.stdout and "warning" not in r.stderr


def test_the_blocker_really_blocks():
    r = run_without_torch("import torch")
    assert r.returncode != 0 and "blocked for this test" in r.stderr


def test_only_the_cli_reaches_into_the_training_package():
    """Like open_clip's inference package: scanning, cards, runtime, reports, hub and provenance
    never import ``synthdetect.train``; only ``synthdetect.cli`` mounts the training verbs (and
    reads the torch-free name tables ``train.families`` / ``train.backbones`` for their --help)."""
    mods = [m for m in _inference_modules() if not m.startswith("synthdetect.cli")]
    assert "synthdetect.scan.pipeline" in mods and "synthdetect.hub.downloader" in mods
    r = run_without_torch("import importlib\nfor m in %r:\n    importlib.import_module(m)\n"
             "print(sorted(k for k in sys.modules if k.startswith('synthdetect.train') or k.startswith('synthdetect.cli')))"
             % mods)
    assert r.returncode == 0 and r.stdout.strip() == "[]", (r.stdout, r.stderr[-2000:])
