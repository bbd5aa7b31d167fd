"""Published detectors and backbones: registry, checkpoint cache, download, verification.

No torch here (the CLI imports this package); turning a checkpoint into an ONNX model
lives in ``synthdetect.train.published`` and is imported only when needed.

Modules, one concern each:
  * :mod:`.entries` - the built-in entries as plain data (add a checkpoint here);
  * :mod:`.catalog` - ``HubEntry`` / ``HubFile``, ``load_registry`` (``$SYNTHDETECT_HUB_REGISTRY``
    JSON override), ``get_entry``;
  * :mod:`.store` - the checkpoint cache (``$SYNTHDETECT_CHECKPOINTS_DIR``), digests recorded
    on first use (``forget_digests``), ``expected_digest``, ``local_checkpoint``, ``resolve_backbone``;
  * :mod:`.downloader` - HTTP with ``Range`` resume, progress, ``fetch`` (``$SYNTHDETECT_HUB_BASE_URL``
    mirrors);
  * :mod:`.formats` - format sniffing and structure checks (a whole zip / pickle / safetensors
    file, before a digest is recorded on first use);
  * :mod:`.verify` - ``check_format``, ``import_files``, ``verify_all``;
  * :mod:`.errors` - ``HubError`` and its kinds.

This module re-exports the public names so callers write ``from synthdetect import hub;
hub.fetch(...)``.  Patch a name in the module that defines it (``synthdetect.hub.downloader.urllib``),
not here.
"""

from __future__ import annotations

from .catalog import ENV_REGISTRY, HubEntry, HubFile, get_entry, load_registry
from .downloader import ENV_BASE_URL, download, fetch, file_url
from .errors import ChecksumError, DownloadInterrupted, HubError, OfflineError
from .store import (ENV_CACHE_DIR, Fetched, cache_dir, cached_path, default_install_dir, expected_digest,
                    forget_digests, local_checkpoint, recorded_digests, resolve_backbone)
from .formats import detect_format, is_torchscript
from .verify import VerifyRow, import_files, verify_all

__all__ = [
    "HubError", "OfflineError", "ChecksumError", "DownloadInterrupted", "HubFile", "HubEntry",
    "load_registry", "get_entry", "file_url", "cache_dir", "cached_path", "local_checkpoint", "resolve_backbone",
    "recorded_digests", "expected_digest", "forget_digests", "download", "fetch", "import_files", "is_torchscript",
    "detect_format", "verify_all", "VerifyRow", "Fetched", "default_install_dir",
    "ENV_BASE_URL", "ENV_REGISTRY", "ENV_CACHE_DIR",
]
