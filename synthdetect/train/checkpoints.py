"""Reading checkpoint files safely: the loading rules of docs/weights.md in one place.

* ``torch.load(path, map_location="cpu", weights_only=True)`` for every pickle checkpoint
  (:func:`safe_load`): tensors and plain containers only, no code runs.
* A TorchScript archive *is code*: a CLIP archive is accepted only when its SHA-256 equals
  the digest the caller trusts (the hub registry's), then read through open_clip's
  ``load_openai_model`` (:func:`load_clip_visual`).

Used by the published-checkpoint converters (``published.py``) and by the CLIP backbones of
the training networks (``archs.py``); it imports neither.
"""

from __future__ import annotations

from . import compat  # noqa: F401  (before torchvision / open_clip)

from pathlib import Path
from typing import Any, Mapping

import torch
from torch import nn

from ..cards import sha256_file
from ..hub import HubError, is_torchscript


class CheckpointError(HubError):
    """A checkpoint does not have the layout of the published model."""


class UntrustedArchiveError(CheckpointError):
    """A TorchScript archive whose digest is not the registry's: refused (it carries code)."""


def safe_load(path: Path | str) -> Any:
    """``torch.load`` with ``weights_only=True`` on CPU, with one-line errors."""
    path = Path(path)
    if is_torchscript(path):
        raise CheckpointError(
            f"{path.name} is a TorchScript archive (it contains code), not a state dict; "
            "only registry-verified archives are accepted, through the backbone loader"
        )
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # pickle with disallowed globals, truncated file, ...
        raise CheckpointError(f"cannot load {path.name} safely (weights_only=True): {type(e).__name__}: "
                              f"{str(e).splitlines()[0] if str(e) else ''}") from e


def tensor_dict(obj: Any, what: str) -> dict[str, torch.Tensor]:
    if not isinstance(obj, Mapping) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError(f"{what}: expected a state dict of tensors")
    return dict(obj)


def strip_prefix(sd: Mapping[str, torch.Tensor], prefix: str = "module.") -> dict[str, torch.Tensor]:
    """Remove a DataParallel-style prefix from every key that has it."""
    return {(k[len(prefix):] if k.startswith(prefix) else k): v for k, v in sd.items()}


def load_clip_visual(path: Path | str, *, model_name: str = "ViT-L-14-quickgelu",
                     model_cfg: dict[str, Any] | None = None,
                     trusted_sha256: str | None = None) -> nn.Module:
    """The image tower of a CLIP checkpoint, fp32 on CPU; ``visual(x)`` = ``encode_image(x)``.

    * TorchScript archive: accepted only if ``sha256(path) == trusted_sha256`` (the registry's).
    * torch pickle / safetensors state dict (open_clip or OpenAI layout): loaded with
      ``weights_only=True`` into ``open_clip.CLIP(**cfg)``; ``cfg`` is ``model_cfg`` or
      open_clip's config for ``model_name``.
    """
    import open_clip

    path = Path(path)
    if is_torchscript(path):
        got = sha256_file(path)
        if trusted_sha256 is None or got != trusted_sha256:
            raise UntrustedArchiveError(
                f"{path.name} is a TorchScript archive (code) with sha256 {got[:16]}…, which is not the "
                f"registry's published digest{'' if trusted_sha256 is None else ' ' + trusted_sha256[:16] + '…'}; "
                "refusing to load it"
            )
        import warnings

        with warnings.catch_warnings():  # torch.jit.load's deprecation notice is not actionable here
            warnings.simplefilter("ignore", DeprecationWarning)
            model = open_clip.load_openai_model(str(path), precision="fp32", device="cpu")
    else:
        cfg = dict(model_cfg) if model_cfg else open_clip.get_model_config(model_name)
        if cfg is None:
            raise CheckpointError(f"unknown open_clip model {model_name!r}")
        cfg = dict(cfg)
        for k in ("custom_text", "hf_model_name"):
            if cfg.get(k):
                raise CheckpointError(f"{model_name}: custom text towers are not supported here")
            cfg.pop(k, None)
        model = open_clip.CLIP(**cfg)
        try:
            open_clip.load_checkpoint(model, str(path), strict=True, weights_only=True)
        except Exception as e:
            raise CheckpointError(f"{path.name}: not a {model_name} checkpoint: "
                                  f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}") from e
    visual = model.visual.float().eval()
    for p in visual.parameters():
        p.requires_grad_(False)
    return visual
