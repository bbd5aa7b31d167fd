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

    def probs(self, batch: np.ndarray) -> np.ndarray:
        with self.torch.no_grad():
            logit = self.model(self.torch.from_numpy(batch).to(self.device)).float().reshape(-1)
        return sigmoid(logit.cpu().numpy())
