"""From-scratch forensic architectures for the bundled detectors.

Both take the card-normalised ``[N, 3, S, S]`` tensor and return logits ``[N]``,
are fully convolutional up to a global pooling (so they train on small random
patches and infer on a larger centre crop), and export to ONNX opset 17 with
standard operators only.

* ``npr``: a residual network on neighbouring-pixel residuals (the NPR idea of
  Tan et al., CVPR 2024: ``x - up2(down2(x))`` exposes the local correlation that
  generator up-sampling leaves), ~1M parameters, trained from scratch.
* ``spectral``: fixed high-pass residual filters, then a 2-D power spectrum of the
  residual computed in-graph with DFT matrices (so ONNX needs no FFT operator),
  log-compressed and pooled, plus residual moment statistics, into a small MLP.
  It targets the periodic spectral peaks and the high-frequency energy deficit of
  up-sampled / diffusion-decoded images.

Both are registered as detector families (``npr``, ``spectral``) in ``families.py``, with
their card input (native resolution: resizing destroys the traces).
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..cards import IMAGENET_MEAN, IMAGENET_STD

_STD = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
_MEAN = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)


class _Denorm(nn.Module):
    """Undo the card normalisation: back to [0, 1] RGB, where residuals are meaningful."""

    def __init__(self, mean=IMAGENET_MEAN, std=IMAGENET_STD):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.std + self.mean


def npr_residual(x: torch.Tensor) -> torch.Tensor:
    """``x - nearest_up2(x[..., ::2, ::2])``: neighbouring-pixel relationships.

    Written with a reshape instead of strided slicing + interpolate so that the
    exported graph is simple and exact.  Needs even H and W.
    """
    n, c, h, w = x.shape
    blocks = x.reshape(n, c, h // 2, 2, w // 2, 2)
    anchor = blocks[:, :, :, :1, :, :1]
    return (blocks - anchor).reshape(n, c, h, w)


class _Basic(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int = 1):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.b1 = nn.BatchNorm2d(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(cout)
        self.short = None
        if stride != 1 or cin != cout:
            self.short = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.b1(self.c1(x)))
        y = self.b2(self.c2(y))
        return F.relu(y + (x if self.short is None else self.short(x)))


class NPRNet(nn.Module):
    """Residual CNN on NPR residuals; the default (width 32, three stages) has ~1.0M parameters."""

    pretrained = False  # trained from scratch: no backbone weights
    backbone_digest = None

    def __init__(self, width: int = 32, blocks: tuple[int, ...] = (2, 2, 2), residual_gain: float = 4.0, dropout: float = 0.2):
        super().__init__()
        self.denorm = _Denorm()
        self.gain = residual_gain
        w = width
        # No stride in the stem: the residual lives at pixel level.
        self.stem = nn.Sequential(nn.Conv2d(3, w, 3, 1, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True))
        layers: list[nn.Module] = []
        cin = w
        for i, nb in enumerate(blocks):
            cout = w * (2**i) if i else w
            for j in range(nb):
                layers.append(_Basic(cin, cout, stride=2 if j == 0 else 1))
                cin = cout
        self.body = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Conv2d(cin, cin * 2, 3, 2, 1, bias=False), nn.BatchNorm2d(cin * 2), nn.ReLU(inplace=True))
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(cin * 2, 1)
        nn.init.normal_(self.fc.weight, 0.0, 0.02)
        nn.init.zeros_(self.fc.bias)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.denorm(x)
        r = npr_residual(x) * (255.0 / 16.0) * (self.gain / 4.0)
        y = self.head(self.body(self.stem(r)))
        return y.mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.drop(self.features(x))).squeeze(1)


def _dft_mats(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    k = torch.arange(n, dtype=torch.float64)
    ang = 2 * math.pi * torch.outer(k, k) / n
    return torch.cos(ang).float(), torch.sin(ang).float()


class SpectralNet(nn.Module):
    """High-pass residual -> in-graph 2-D power spectrum -> pooled log-spectrum + moments -> MLP.

    The spectrum is computed on ``size`` x ``size`` windows (the card's crop) with
    fixed DFT matrices: ``|C X C^T - S X S^T|^2 + |C X S^T + S X C^T|^2`` (up to sign).
    """

    pretrained = False  # trained from scratch: no backbone weights
    backbone_digest = None

    def __init__(self, size: int = 256, pool: int = 8, hidden: int = 64, dropout: float = 0.3):
        super().__init__()
        self.size = size
        self.denorm = _Denorm()
        hp = torch.zeros(3, 1, 3, 3)
        hp[0, 0] = torch.tensor([[0, 0, 0], [-1, 2, -1], [0, 0, 0]]) / 2.0  # horizontal 2nd derivative
        hp[1, 0] = torch.tensor([[0, -1, 0], [0, 2, 0], [0, -1, 0]]) / 2.0  # vertical
        hp[2, 0] = torch.tensor([[-1, 2, -1], [2, -4, 2], [-1, 2, -1]]) / 4.0  # SRM 3x3 "square"
        self.register_buffer("hp", hp)
        c, s = _dft_mats(size)
        window = torch.hann_window(size, periodic=False, dtype=torch.float32)
        self.register_buffer("cos", c)
        self.register_buffer("sin", s)
        self.register_buffer("win", torch.outer(window, window))
        self.pool = pool
        nbins = (size // pool) * (size // 2 // pool)
        n_spec = 3 * nbins
        n_mom = 3 * 4 + 3
        self.spec_proj = nn.Sequential(nn.Linear(n_spec, hidden), nn.ReLU(inplace=True))
        self.mlp = nn.Sequential(
            nn.Linear(hidden + n_mom, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout), nn.Linear(hidden, 1)
        )
        self.norm_spec = nn.LayerNorm(n_spec)
        self.norm_mom = nn.LayerNorm(n_mom)

    def residuals(self, x: torch.Tensor) -> torch.Tensor:
        g = self.denorm(x).mean(dim=1, keepdim=True) * 255.0  # luminance-ish, 0..255
        return F.conv2d(g, self.hp, padding=1)  # [N, 3, S, S]

    def spectrum(self, r: torch.Tensor) -> torch.Tensor:
        r = r * self.win
        c, s = self.cos, self.sin
        # 2-D DFT of a real signal: Re = C R C - S R S, Im = -(C R S + S R C) (C, S symmetric)
        cr = torch.matmul(c, r)
        sr = torch.matmul(s, r)
        re = torch.matmul(cr, c) - torch.matmul(sr, s)
        im = torch.matmul(cr, s) + torch.matmul(sr, c)
        p = re * re + im * im
        half = p[..., : self.size // 2]  # real input: the other half mirrors
        logp = torch.log(F.avg_pool2d(half, self.pool) + 1.0)
        return logp.flatten(1)

    @staticmethod
    def moments(r: torch.Tensor) -> torch.Tensor:
        m = r.mean(dim=(2, 3), keepdim=True)
        d = r - m
        var = (d * d).mean(dim=(2, 3))
        ab = d.abs().mean(dim=(2, 3))
        k = (d**4).mean(dim=(2, 3)) / (var * var + 1e-6)
        logv = torch.log(var + 1e-3)
        corr = []
        for i, j in ((0, 1), (0, 2), (1, 2)):
            cov = (d[:, i] * d[:, j]).mean(dim=(1, 2))
            corr.append(cov / torch.sqrt(var[:, i] * var[:, j] + 1e-6))
        return torch.cat([logv, torch.log(ab + 1e-3), torch.log(k + 1e-3), ab / torch.sqrt(var + 1e-6), torch.stack(corr, 1)], 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        r = self.residuals(x)
        spec = self.norm_spec(self.spectrum(r))
        mom = self.norm_mom(self.moments(r))
        h = self.spec_proj(spec)
        return self.mlp(torch.cat([h, mom], 1)).squeeze(1)


def count_parameters(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters() if p.requires_grad)
