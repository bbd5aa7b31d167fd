"""Does pooch resume an interrupted download?  Measured against synthdetect.hub.downloader.download.

A local HTTP server (Range support, like any CDN) serves one file; its first response
stops after ``--cut`` of the body and closes the connection (a dropped link).  Each
downloader then gets one automatic retry.  Printed per downloader: the HTTP requests,
their Range headers, the body bytes sent, whether the digest was checked, and the
time.  Used for the "why not pooch for the transfer" note in docs/DESIGN.md.

    python benchmarks/pooch_resume.py --mb 64 --cut 0.9
"""

from __future__ import annotations

import argparse
import hashlib
import os
import socket
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from synthdetect.cards import sha256_file  # noqa: E402


def serve(data: bytes, cut: float):
    log = {"requests": [], "sent": 0, "dropped": False}

    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def do_GET(self):  # noqa: N802
            rng = self.headers.get("Range")
            log["requests"].append(rng)
            start = int(rng.split("=")[1].split("-")[0]) if rng else 0
            body = data[start:]
            self.send_response(206 if rng else 200)
            if rng:
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Accept-Ranges", "bytes")
            self.end_headers()
            if not log["dropped"]:
                log["dropped"] = True
                n = int(len(body) * cut)
                self.wfile.write(body[:n])
                log["sent"] += n
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self.wfile.write(body)
            log["sent"] += len(body)

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, log


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=float, default=64.0)
    ap.add_argument("--cut", type=float, default=0.9, help="fraction of the body sent before the drop")
    a = ap.parse_args()
    data = os.urandom(int(a.mb * 1024 * 1024))
    sha = hashlib.sha256(data).hexdigest()
    with tempfile.TemporaryDirectory() as d:
        for name in ("pooch", "synthdetect.hub"):
            srv, log = serve(data, a.cut)
            url = f"http://127.0.0.1:{srv.server_address[1]}/w.bin"
            t0 = time.perf_counter()
            if name == "pooch":
                import pooch

                # pooch.retrieve has no retries; a Pooch registry has retry_if_failed
                reg = pooch.create(path=Path(d) / "pooch", base_url=url.rsplit("/", 1)[0] + "/",
                                   registry={"w.bin": f"sha256:{sha}"}, retry_if_failed=1)
                p = reg.fetch("w.bin", downloader=pooch.HTTPDownloader(timeout=30, progressbar=False))
                ok = sha256_file(p) == sha
            else:
                from synthdetect.hub.downloader import download

                ok = download(url, Path(d) / "hub" / "w.bin", expected_sha256=sha, retries=1, progress=False) == sha
            dt = time.perf_counter() - t0
            srv.shutdown()
            srv.server_close()
            print(f"{name:16s} requests={len(log['requests'])} ranges={log['requests']} "
                  f"body bytes sent={log['sent'] / len(data):.2f}x the file, ok={ok}, {dt:.2f} s")


if __name__ == "__main__":
    main()
