"""Make ``import torchvision`` work when its compiled ops cannot load.

Some environments pair a CPU-only torch with a torchvision wheel built for
CUDA.  torchvision's ``_C`` extension then fails to load, and its Python side
still registers fake (meta) kernels for ``torchvision::nms`` / ``qnms`` at import
time, which raises ``operator torchvision::nms does not exist``.

This module runs before anything imports torchvision or open_clip:

1. if torchvision's own ``_C`` library loads, nothing else happens;
2. otherwise it defines the op *schemas* torchvision touches at import (only those
   that are missing) and a CPU implementation of ``nms`` in plain torch.

Nothing here replaces a working extension, and every synthdetect code path that
imports torch imports this module first (``from . import compat``).
"""

from __future__ import annotations

import importlib.util
import os

import torch

# name -> schema (as declared by torchvision's C++ ops)
_SCHEMAS: dict[str, str] = {
    "nms": "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms": "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "roi_align": (
        "roi_align(Tensor input, Tensor rois, float spatial_scale, SymInt pooled_height, "
        "SymInt pooled_width, int sampling_ratio, bool aligned) -> Tensor"
    ),
    "_roi_align_backward": (
        "_roi_align_backward(Tensor grad, Tensor rois, float spatial_scale, SymInt pooled_height, "
        "SymInt pooled_width, SymInt batch_size, SymInt channels, SymInt height, SymInt width, "
        "int sampling_ratio, bool aligned) -> Tensor"
    ),
    "ps_roi_align": (
        "ps_roi_align(Tensor input, Tensor rois, float spatial_scale, SymInt pooled_height, "
        "SymInt pooled_width, int sampling_ratio) -> (Tensor, Tensor)"
    ),
    "_ps_roi_align_backward": (
        "_ps_roi_align_backward(Tensor grad, Tensor rois, Tensor channel_mapping, float spatial_scale, "
        "SymInt pooled_height, SymInt pooled_width, int sampling_ratio, SymInt batch_size, "
        "SymInt channels, SymInt height, SymInt width) -> Tensor"
    ),
    "roi_pool": (
        "roi_pool(Tensor input, Tensor rois, float spatial_scale, SymInt pooled_height, "
        "SymInt pooled_width) -> (Tensor, Tensor)"
    ),
    "_roi_pool_backward": (
        "_roi_pool_backward(Tensor grad, Tensor rois, Tensor argmax, float spatial_scale, "
        "SymInt pooled_height, SymInt pooled_width, SymInt batch_size, SymInt channels, "
        "SymInt height, SymInt width) -> Tensor"
    ),
    "ps_roi_pool": (
        "ps_roi_pool(Tensor input, Tensor rois, float spatial_scale, SymInt pooled_height, "
        "SymInt pooled_width) -> (Tensor, Tensor)"
    ),
    "_ps_roi_pool_backward": (
        "_ps_roi_pool_backward(Tensor grad, Tensor rois, Tensor channel_mapping, float spatial_scale, "
        "SymInt pooled_height, SymInt pooled_width, SymInt batch_size, SymInt channels, "
        "SymInt height, SymInt width) -> Tensor"
    ),
    "deform_conv2d": (
        "deform_conv2d(Tensor input, Tensor weight, Tensor offset, Tensor mask, Tensor bias, "
        "SymInt stride_h, SymInt stride_w, SymInt pad_h, SymInt pad_w, SymInt dilation_h, "
        "SymInt dilation_w, SymInt groups, SymInt offset_groups, bool use_mask) -> Tensor"
    ),
    "_deform_conv2d_backward": (
        "_deform_conv2d_backward(Tensor grad, Tensor input, Tensor weight, Tensor offset, Tensor mask, "
        "Tensor bias, SymInt stride_h, SymInt stride_w, SymInt pad_h, SymInt pad_w, SymInt dilation_h, "
        "SymInt dilation_w, SymInt groups, SymInt offset_groups, bool use_mask) "
        "-> (Tensor, Tensor, Tensor, Tensor, Tensor)"
    ),
}

_LIB: torch.library.Library | None = None  # kept alive: dropping it unregisters the schemas
DEFINED: list[str] = []  # the schemas this module had to define (empty when torchvision's _C loaded)
NATIVE_OPS: bool | None = None


def _op_exists(name: str) -> bool:
    try:
        getattr(torch.ops.torchvision, name)
        return True
    except (AttributeError, RuntimeError):
        return False


def _try_native() -> bool:
    spec = importlib.util.find_spec("torchvision")
    if spec is None or not spec.submodule_search_locations:
        return False
    base = spec.submodule_search_locations[0]
    for fname in sorted(os.listdir(base)):
        if fname.startswith("_C") and fname.endswith((".so", ".pyd", ".dll", ".dylib")):
            try:
                torch.ops.load_library(os.path.join(base, fname))
                return True
            except (OSError, ImportError, RuntimeError):
                return False
    return False


def nms_cpu(dets: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Greedy non-maximum suppression (boxes ``x1,y1,x2,y2``); indices by decreasing score."""
    if dets.numel() == 0:
        return torch.empty(0, dtype=torch.long, device=dets.device)
    x1, y1, x2, y2 = dets.unbind(1)
    areas = (x2 - x1).clamp(min=0) * (y2 - y1).clamp(min=0)
    order = scores.argsort(descending=True)
    suppressed = torch.zeros(dets.shape[0], dtype=torch.bool, device=dets.device)
    keep = []
    for idx in order.tolist():
        if suppressed[idx]:
            continue
        keep.append(idx)
        xx1 = torch.maximum(x1[idx], x1)
        yy1 = torch.maximum(y1[idx], y1)
        xx2 = torch.minimum(x2[idx], x2)
        yy2 = torch.minimum(y2[idx], y2)
        inter = (xx2 - xx1).clamp(min=0) * (yy2 - yy1).clamp(min=0)
        iou = inter / (areas[idx] + areas - inter)
        suppressed |= iou > iou_threshold
    return torch.tensor(keep, dtype=torch.long, device=dets.device)


def install() -> list[str]:
    """Idempotent.  Returns the op names whose schemas were defined here."""
    global _LIB, NATIVE_OPS
    if NATIVE_OPS is not None:
        return DEFINED
    if _op_exists("nms") or _try_native():
        NATIVE_OPS = True
        return DEFINED
    NATIVE_OPS = False
    missing = [n for n in _SCHEMAS if not _op_exists(n)]
    if not missing:
        return DEFINED
    _LIB = torch.library.Library("torchvision", "FRAGMENT")
    for n in missing:
        _LIB.define(_SCHEMAS[n])
        DEFINED.append(n)
    if "nms" in missing:
        _LIB.impl("nms", nms_cpu, "CPU")
    return DEFINED


install()
