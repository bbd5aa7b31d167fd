"""The downloader (HTTP Range resume, errors, progress) and ``fetch`` against a real local HTTP server.

No network, no torch.
"""

from __future__ import annotations

import hashlib

import pytest

from synthdetect import hub

from .helpers import backbone_entry, payload, torchish, write_registry


def test_download_success_verifies_checksum(http_server, tmp_path):
    data = payload()
    digest = http_server.add("/a.bin", data)
    dest = tmp_path / "a.bin"
    got = hub.download(f"{http_server.base}/a.bin", dest, expected_sha256=digest, progress=False)
    assert got == digest
    assert dest.read_bytes() == data
    assert not (tmp_path / "a.bin.part").exists()
    assert http_server.ranges("/a.bin") == [None]


def test_download_checksum_mismatch_discards_file(http_server, tmp_path):
    http_server.add("/a.bin", payload())
    dest = tmp_path / "a.bin"
    with pytest.raises(hub.ChecksumError, match="sha256 mismatch"):
        hub.download(f"{http_server.base}/a.bin", dest, expected_sha256="0" * 64, progress=False)
    assert not dest.exists()
    assert not (tmp_path / "a.bin.part").exists()


def test_interrupted_download_is_resumed_with_range(http_server, tmp_path):
    data = payload(300_000)
    digest = http_server.add("/big.bin", data)
    http_server.drop_once.add("/big.bin")
    dest = tmp_path / "big.bin"
    part = tmp_path / "big.bin.part"
    with pytest.raises(hub.DownloadInterrupted, match="resume"):
        hub.download(f"{http_server.base}/big.bin", dest, expected_sha256=digest, retries=0, progress=False)
    assert not dest.exists()
    have = part.stat().st_size
    assert 0 < have < len(data)
    # second pull resumes where the first stopped
    got = hub.download(f"{http_server.base}/big.bin", dest, expected_sha256=digest, retries=0, progress=False)
    assert got == digest and dest.read_bytes() == data
    assert http_server.ranges("/big.bin") == [None, f"bytes={have}-"]


def test_interrupted_download_auto_resumes_within_one_call(http_server, tmp_path):
    data = payload(300_000, seed=2)
    digest = http_server.add("/big.bin", data)
    http_server.drop_once.add("/big.bin")
    dest = tmp_path / "big.bin"
    assert hub.download(f"{http_server.base}/big.bin", dest, expected_sha256=digest, retries=1,
                        progress=False) == digest
    r = http_server.ranges("/big.bin")
    assert r[0] is None and r[1] is not None and r[1].startswith("bytes=") and len(r) == 2


def test_server_ignoring_range_restarts_cleanly(http_server, tmp_path):
    data = payload(100_000, seed=3)
    digest = http_server.add("/x.bin", data)
    http_server.ignore_range = True
    part = tmp_path / "x.bin.part"
    part.write_bytes(b"garbage that must not survive")
    got = hub.download(f"{http_server.base}/x.bin", tmp_path / "x.bin", expected_sha256=digest, progress=False)
    assert got == digest
    assert http_server.ranges("/x.bin")[0] == f"bytes={len(b'garbage that must not survive')}-"


def test_complete_part_file_gets_416_and_is_accepted(http_server, tmp_path):
    data = payload(50_000, seed=4)
    digest = http_server.add("/x.bin", data)
    (tmp_path / "x.bin.part").write_bytes(data)
    assert hub.download(f"{http_server.base}/x.bin", tmp_path / "x.bin", expected_sha256=digest,
                        progress=False) == digest


def test_404_is_a_clear_error(http_server, tmp_path):
    with pytest.raises(hub.HubError, match="HTTP 404") as ei:
        hub.download(f"{http_server.base}/missing.bin", tmp_path / "m.bin", progress=False)
    assert not isinstance(ei.value, hub.OfflineError)


def test_connection_refused_is_offline_error(closed_port, tmp_path):
    with pytest.raises(hub.OfflineError) as ei:
        hub.download(f"http://127.0.0.1:{closed_port}/a.bin", tmp_path / "a.bin", name="univfd-clip-vitl14",
                     progress=False)
    msg = str(ei.value)
    assert msg.startswith(f"cannot reach 127.0.0.1:{closed_port}:")
    assert "(offline? use `synthdetect weights import univfd-clip-vitl14 --from FILE`)" in msg
    assert "\n" not in msg


def test_timeout_is_offline_error(silent_port, tmp_path):
    with pytest.raises(hub.OfflineError, match="cannot reach 127.0.0.1"):
        hub.download(f"http://127.0.0.1:{silent_port}/a.bin", tmp_path / "a.bin", timeout=0.5, progress=False)


def test_progress_bar_goes_to_stderr(http_server, tmp_path, capsys):
    data = payload(150_000, seed=8)
    digest = http_server.add("/p.bin", data)
    assert hub.download(f"{http_server.base}/p.bin", tmp_path / "p.bin", expected_sha256=digest,
                        progress=True, chunk=8192) == digest
    cap = capsys.readouterr()
    assert cap.out == ""
    assert "p.bin" in cap.err


def test_mirror_base_url_env(monkeypatch):
    reg = hub.load_registry()
    e = reg["univfd-clip-vitl14"]
    assert hub.file_url(e, e.files[0]) == e.files[0].url
    monkeypatch.setenv("SYNTHDETECT_HUB_BASE_URL", "http://mirror.lab/w/")
    assert hub.file_url(e, e.files[0]) == "http://mirror.lab/w/univfd-clip-vitl14/fc_weights.pth"


def test_fetch_records_digest_on_first_use_then_enforces_it(http_server, tmp_path, monkeypatch):
    data = torchish(payload(10_000, seed=5))
    http_server.add("/tofu/w.pth", data)
    reg_file = write_registry(tmp_path / "reg.json", [backbone_entry("tofu", "w.pth")])
    monkeypatch.setenv("SYNTHDETECT_HUB_REGISTRY", str(reg_file))
    monkeypatch.setenv("SYNTHDETECT_HUB_BASE_URL", http_server.base)
    entry = hub.get_entry("tofu")
    (f,) = hub.fetch(entry, progress=False)
    assert f.check == "first-use" and f.sha256 == hashlib.sha256(data).hexdigest()
    rec = hub.recorded_digests()
    assert rec["tofu/w.pth"]["sha256"] == f.sha256
    assert hub.local_checkpoint("tofu") == f.path
    # the server now serves something else: the recorded digest catches it
    http_server.add("/tofu/w.pth", torchish(payload(10_000, seed=6)))
    with pytest.raises(hub.ChecksumError, match="mismatch"):
        hub.fetch(entry, progress=False, force=True)
    # a cached file that was tampered with is not offered for reuse
    f.path.write_bytes(b"\x80\x02tampered")
    assert hub.local_checkpoint("tofu") is None
    assert [r.status for r in hub.verify_all(tmp_path / "models")] == ["MISMATCH"]
    f.path.unlink()  # recorded once, gone now
    assert [r.status for r in hub.verify_all(tmp_path / "models")] == ["MISSING"]


def test_fetch_refuses_html_page_when_no_digest_is_known(http_server, tmp_path, monkeypatch):
    http_server.add("/tofu/w.pth", b"<!DOCTYPE html><html>sign in to Dropbox</html>")
    monkeypatch.setenv("SYNTHDETECT_HUB_REGISTRY", str(write_registry(tmp_path / "r.json",
                                                                        [backbone_entry("tofu", "w.pth")])))
    with pytest.raises(hub.HubError, match="not the expected torch file"):
        hub.fetch(hub.get_entry("tofu"), base_url=http_server.base, progress=False)
    assert hub.recorded_digests() == {}
    assert hub.local_checkpoint("tofu") is None
