"""Score labelled images with a training run (PyTorch): :class:`RunScorer`.

The torch-free scoring (ONNX models, ensembles, perturbations) is :mod:`synthdetect.evaluation.scoring`;
a run directory reaches it as ``resolve(..., run_scorer=RunScorer)``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..evaluation.scoring import Scorer
from ..scan.heads import sigmoid


class RunScorer(Scorer):
    kind = "run"

    def __init__(self, run_dir: Path, device: str = "auto"):
        from .loop import pick_device
        from .runs import load_run

        import torch

        self.torch = torch
        self.model, self.spec, self.config = load_run(run_dir)
        self.device = pick_device(device)
        self.model.to(self.device)
        self.name = Path(run_dir).name
        self.run_dir = Path(run_dir)

    def training_images(self, paths, digests: dict[int, str] | None = None) -> list[int]:
        """Positions of ``paths`` that are this run's training images (the same bytes, by SHA-256:
        :func:`synthdetect.train.consistency.training_images_among`; ``digests`` shared with other checks):
        the run's scores on them are training scores, not a test."""
        from .consistency import training_images_among

        return training_images_among(self.run_dir, paths, digests)

    def probs(self, batch: np.ndarray) -> np.ndarray:
        with self.torch.no_grad():
            logit = self.model(self.torch.from_numpy(batch).to(self.device)).float().reshape(-1)
        return sigmoid(logit.cpu().numpy())
