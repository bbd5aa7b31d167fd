"""The registry of published checkpoints: entry types and lookup.

An entry is plain data (:class:`HubEntry` with its :class:`HubFile` s).  The built-in
entries are the dict literals in :mod:`synthdetect.hub.entries`; a JSON file named by
``registry_file=`` or ``$SYNTHDETECT_HUB_REGISTRY`` replaces or extends them, in the same
schema (``{"entries": [<HubEntry.to_dict()>, ...]}`` or a plain list).

To add a published checkpoint, append one dict to ``entries.BUILTIN``.  Its ``converter``
names the loader that turns the files into a torch model (the ``CONVERTERS`` table in
``synthdetect.train.published``); a detector of a new kind needs one new loader there.
"""

from __future__ import annotations

import copy
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .errors import HubError

ENV_REGISTRY = "SYNTHDETECT_HUB_REGISTRY"
_SEPARATORS = ("/", "\\", os.sep, os.altsep or "/")
FORMATS = ("torch", "torchscript", "safetensors")
KINDS = ("detector", "backbone")


def unsafe_component(value: object) -> str | None:
    """Why ``value`` cannot be one file or directory name inside the cache (None: it can).

    Entry and file names become ``<cache>/<entry>/<file>`` and ``<models dir>/<entry>.onnx``; a
    registry file is shared (mirrors), so it must not be able to point anywhere else.
    """
    if not isinstance(value, str) or not value:
        return "empty or not a string"
    if value in (".", ".."):
        return "'.' or '..'"
    if any(s in value for s in _SEPARATORS):
        return "contains a path separator"
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        return "contains a control character"
    if os.path.isabs(value) or os.path.splitdrive(value)[0]:
        return "an absolute path"
    return None


def _check_component(kind: str, value: object) -> None:
    why = unsafe_component(value)
    if why:
        raise ValueError(f"{kind} {value!r} must be a single file name ({why})")


@dataclass
class HubFile:
    """One file of an entry, with its original URL and (when published) digest."""

    filename: str
    url: str
    sha256: str | None
    role: str = "checkpoint"  # checkpoint | head | backbone
    format: str = "torch"  # torch (torch.save pickle) | torchscript | safetensors
    size: int | None = None
    sha256_note: str = ""
    sha256_source: str = ""

    def __post_init__(self) -> None:
        _check_component("filename", self.filename)
        if self.sha256 is not None:
            s = self.sha256.lower()
            if len(s) != 64 or any(c not in "0123456789abcdef" for c in s):
                raise ValueError(f"{self.filename}: sha256 must be 64 hex digits or null")
            self.sha256 = s
        elif not self.sha256_note:
            raise ValueError(f"{self.filename}: an entry without sha256 needs a sha256_note saying why")
        if self.format not in FORMATS:
            raise ValueError(f"{self.filename}: unknown format {self.format!r}")


@dataclass
class HubEntry:
    """A published detector (converted to ONNX on pull/import) or a backbone (cached only)."""

    name: str
    kind: str  # detector | backbone
    description: str
    source: str  # project page
    licence: str
    files: list[HubFile]
    family: str = ""
    architecture: str = ""
    paper: str = ""
    converter: str | None = None  # detectors: key of the loader in synthdetect.train.published.CONVERTERS
    input: dict[str, Any] = field(default_factory=dict)  # InputSpec fields for the ONNX card
    backbones: list[str] = field(default_factory=list)  # accepted backbone entries, preferred first
    open_clip: dict[str, Any] = field(default_factory=dict)  # backbones: open_clip model / model_cfg / hub name
    options: dict[str, Any] = field(default_factory=dict)  # loader options (cnndetection: layers, width_per_group)
    training: dict[str, Any] = field(default_factory=dict)  # what the published weights were trained on (card)

    def __post_init__(self) -> None:
        _check_component("name", self.name)
        self.files = [f if isinstance(f, HubFile) else HubFile(**f) for f in self.files]
        if self.kind not in KINDS:
            raise ValueError(f"{self.name}: kind must be 'detector' or 'backbone'")
        if self.kind == "detector" and not self.converter:
            raise ValueError(f"{self.name}: a detector entry needs a converter")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def builtin_entries() -> list[HubEntry]:
    """The built-in entries (``entries.BUILTIN``), validated."""
    from .entries import BUILTIN

    return [HubEntry(**copy.deepcopy(d)) for d in BUILTIN]  # a copy: callers may mutate their entries


def load_registry(registry_file: Path | str | None = None) -> dict[str, HubEntry]:
    """Built-in entries, replaced/extended by ``registry_file`` (or ``$SYNTHDETECT_HUB_REGISTRY``).

    The override file is JSON: ``{"entries": [<HubEntry.to_dict()>, ...]}`` or a plain list.
    """
    reg = {e.name: e for e in builtin_entries()}
    path = registry_file or os.environ.get(ENV_REGISTRY)
    if path:
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise HubError(f"cannot read hub registry file {path}: {e}") from e
        items = data.get("entries", []) if isinstance(data, dict) else data
        for i, d in enumerate(items if isinstance(items, list) else [items]):
            try:
                e = HubEntry(**d)
            except (TypeError, ValueError) as err:
                name = d.get("name") if isinstance(d, dict) else None
                raise HubError(f"bad entry in hub registry file {path}: entry #{i + 1} ({name!r}): {err}") from err
            reg[e.name] = e
    return reg


def get_entry(name: str, registry: dict[str, HubEntry] | None = None) -> HubEntry:
    """The entry ``name`` of ``registry`` (default: :func:`load_registry`); HubError listing the known names."""
    reg = registry if registry is not None else load_registry()
    if name not in reg:
        raise HubError(f"no published model named {name!r}; known: {', '.join(sorted(reg))}")
    return reg[name]
