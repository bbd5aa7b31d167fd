"""Fixtures for synthdetect.train tests and the training CLI tests (tests/cli/conftest.py imports them): tiny
labelled image sets generated in tmp, `invoke` (run `synthdetect` in-process), two exported tiny models."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TORCHVISION_WARN_WHEN_EXTENSION_LOADING_FAILS", "")

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"


def _real(rng, w, h):
    # smooth "photo-like" gradient + mild noise
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([xx / w, yy / h, (xx + yy) / (w + h)], -1) * 200 + 20
    return np.clip(base + rng.normal(0, 4, base.shape), 0, 255).astype(np.uint8)


def _fake(rng, w, h):
    # periodic up-sampling-like checkerboard on noise
    small = rng.integers(0, 255, (h // 2 + 1, w // 2 + 1, 3), dtype=np.uint8)
    big = np.repeat(np.repeat(small, 2, 0), 2, 1)[:h, :w]
    return big


def make_set(root: Path, n_real: int = 6, n_fake: int = 6, seed: int = 0, sizes=((64, 48), (56, 72), (80, 64)),
             nested: str | None = None, manifest: bool = True) -> Path:
    rng = np.random.default_rng(seed)
    rows = []
    base = root / nested if nested else root
    for lab, n, fn, gen in (("0_real", n_real, _real, "camera"), ("1_fake", n_fake, _fake, "toygan")):
        d = base / lab
        d.mkdir(parents=True, exist_ok=True)
        for i in range(n):
            w, h = sizes[i % len(sizes)]
            ext = ".png" if i % 2 else ".jpg"
            p = d / f"{lab}_{i:03d}{ext}"
            Image.fromarray(fn(rng, w, h)).save(p, quality=95) if ext == ".jpg" else Image.fromarray(fn(rng, w, h)).save(p)
            rows.append({"path": p.relative_to(root).as_posix(), "label": lab[2:], "generator": gen, "licence": "test"})
    if manifest:
        with (root / "manifest.csv").open("w", newline="") as f:
            wr = csv.DictWriter(f, fieldnames=["path", "label", "generator", "licence"])
            wr.writeheader()
            wr.writerows(rows)
    return root


@pytest.fixture(name="make_set")
def make_set_fixture():
    return make_set


@pytest.fixture(scope="session")
def tiny_sets(tmp_path_factory):
    base = tmp_path_factory.mktemp("data")
    train = make_set(base / "train", 8, 8, seed=1)
    val = make_set(base / "val", 5, 5, seed=2)
    return train, val


@pytest.fixture
def shared_data():
    if not (SHARED / "val-inthewild").is_dir():
        pytest.skip("../shared/data not present")
    return SHARED


@pytest.fixture(autouse=True)
def _threads():
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    yield


@pytest.fixture
def invoke():
    """Run ``synthdetect`` in-process; returns the click Result (asserting exit code 0 by default)."""
    from typer.testing import CliRunner

    from synthdetect.cli import app

    runner = CliRunner()

    def run(args, code=0):
        res = runner.invoke(app, [str(a) for a in args])
        if code is not None:
            assert res.exit_code == code, (res.output, res.exception)
        return res

    return run


@pytest.fixture(scope="module")
def exported(tiny_sets, tmp_path_factory):
    """Two exported tiny models (one trained run, one re-seeded copy) in a models dir."""
    from synthdetect.train.augment import AugmentConfig
    from synthdetect.train.export import export_run
    from synthdetect.train.runs import train_images

    train, val = tiny_sets
    base = tmp_path_factory.mktemp("ev")
    runs = []
    for seed in (0, 1):
        run = base / f"run{seed}"
        train_images(recipe="t", arch="resnet-narrow", arch_kw={"widths": [4, 8]}, train=[str(train)],
                     val=[str(val)], aug=AugmentConfig(blur_prob=0, jpeg_prob=0, crop=32), resize_to=None, out=run,
                     epochs=2, batch_size=8, lr=1e-3, seed=seed, threads=1)
        export_run(run, base / "models" / f"m{seed}.onnx", parity_n=4)
        runs.append(run)
    return base, runs
