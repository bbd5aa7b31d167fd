"""The hub's exceptions: one-line, user-facing messages (the CLI prints ``str(e)``)."""

from __future__ import annotations


class HubError(RuntimeError):
    """A one-line, user-facing problem with the hub (unknown name, HTTP error...)."""


class OfflineError(HubError):
    """The host cannot be reached (DNS failure, connection refused, timeout)."""


class ChecksumError(HubError):
    """A file's SHA-256 does not match the registry (or the digest recorded on first use)."""


class DownloadInterrupted(HubError):
    """The connection dropped mid-body; the ``.part`` file is kept for a resume."""
