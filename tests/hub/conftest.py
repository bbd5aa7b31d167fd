"""Fixtures for the hub tests: an isolated user data dir and a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    """User data dir in tmp; no hub/model overrides from the environment; no model hubs."""
    import synthdetect.cards as cards

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for k in ("SYNTHDETECT_HUB_BASE_URL", "SYNTHDETECT_HUB_REGISTRY", "SYNTHDETECT_CHECKPOINTS_DIR",
              "SYNTHDETECT_MODELS_DIR"):
        monkeypatch.delenv(k, raising=False)
    # per-test user model dir (the checkpoint cache defaults to its sibling ``checkpoints/``)
    user_models = tmp_path / "xdg-data" / "synthdetect" / "models"
    monkeypatch.setattr(cards, "user_models_dir", lambda: user_models)


class FileServer:
    """Serves ``files`` (url path -> bytes) with HTTP Range support.

    ``drop_once``: paths whose first GET sends the full headers but only half the body,
    then closes the connection.  ``no_length``: path -> n, answered with no Content-Length and only
    the first n bytes, then the connection is closed (a body cut short that looks complete).
    ``ignore_range``: answer 200 with the whole body.
    Every request's headers are kept in ``requests`` as (path, {header: value}).
    """

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.drop_once: set[str] = set()
        self.no_length: dict[str, int] = {}
        self.ignore_range = False
        self.requests: list[tuple[str, dict[str, str]]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):  # quiet
                pass

            def do_GET(self):  # noqa: N802
                server.requests.append((self.path, {k: v for k, v in self.headers.items()}))
                body = server.files.get(self.path)
                if body is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                rng = self.headers.get("Range")
                start = 0
                if rng and not server.ignore_range:
                    start = int(rng.split("=", 1)[1].split("-", 1)[0])
                    if start >= len(body):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(body)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                part = body[start:]
                if self.path in server.no_length:
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(part[: server.no_length[self.path]])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.send_header("Content-Length", str(len(part)))
                self.send_header("Accept-Ranges", "bytes")
                self.end_headers()
                if self.path in server.drop_once:
                    server.drop_once.discard(self.path)
                    self.wfile.write(part[: len(part) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.wfile.write(part)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)

    def add(self, path: str, data: bytes) -> str:
        self.files[path] = data
        return hashlib.sha256(data).hexdigest()

    def ranges(self, path: str) -> list[str | None]:
        return [h.get("Range") for p, h in self.requests if p == path]


@pytest.fixture
def http_server():
    s = FileServer()
    s.thread.start()
    yield s
    s.httpd.shutdown()
    s.httpd.server_close()


@pytest.fixture
def closed_port():
    """A local port with nothing listening (connection refused)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture
def silent_port():
    """A listening socket that never answers (connect succeeds, reads time out)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(8)
    yield s.getsockname()[1]
    s.close()
