"""``"package.module:Callable"`` targets: how the torch-free name tables (``families.py``,
``backbones.py``) name the PyTorch code they build, without importing it.

The target's module is imported only when something is built, so the tables (and the CLI's
``--help``, which reads them) stay torch-free, and a table never imports the modules that
implement its entries (no import cycle between ``backbones`` and ``archs``).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping


def check_target(target: str) -> None:
    """ValueError unless ``target`` reads ``package.module:Callable``."""
    mod, _, attr = str(target).partition(":")
    if not mod or not attr:
        raise ValueError(f"factory must be 'package.module:Callable', not {target!r}")


def resolve(target: str) -> Any:
    """The object named by ``package.module:Attr[.Attr...]`` (imports the module)."""
    check_target(target)
    mod, _, attr = target.partition(":")
    obj = importlib.import_module(mod)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


@dataclass(frozen=True)
class LazyFactory:
    """A backbone factory ``weights path -> nn.Module`` that imports its code when called:
    ``LazyFactory("pkg.mod:fn", kw)(weights)`` == ``pkg.mod.fn(weights, **kw)``."""

    target: str
    kw: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_target(self.target)

    def __call__(self, weights: Path) -> Any:
        return resolve(self.target)(weights, **self.kw)
