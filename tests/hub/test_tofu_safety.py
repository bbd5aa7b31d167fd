"""Trust on first use and registry files that cannot be trusted (no torch).

* a first-use digest is recorded only for a whole file of its format (a body cut short by a
  server that sends no Content-Length, or garbage with the right first bytes, is refused);
* ``weights forget`` drops a wrong record;
* entry and file names of a registry file never leave the checkpoint cache.
"""

from __future__ import annotations

import hashlib
import io
import json
import pickle
import struct
import zipfile

import pytest
from typer.testing import CliRunner

from synthdetect import hub
from synthdetect.cli.weights import weights_app
from synthdetect.hub import formats

from .helpers import backbone_entry, payload, torchish, write_registry

runner = CliRunner()


# --------------------------------------------------------------------------- structure checks


def _legacy_torch(storages: list[tuple[str, str, bytes, int]]) -> bytes:
    """A legacy ``torch.save`` byte stream, written by hand: five pickles, then each storage as
    ``<i8 numel>`` + raw bytes.  ``storages``: (key, raw bytes, element size)."""

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            return obj if isinstance(obj, tuple) and obj and obj[0] == "storage" else None

    buf = io.BytesIO()
    for v in (formats.LEGACY_MAGIC, 1001, {"protocol_version": 1001, "little_endian": True}):
        pickle.dump(v, buf, protocol=2)
    # the storage class is pickled by reference (GLOBAL), as torch.FloatStorage is; any importable class will do
    ids = {k: ("storage", pickle.PickleError, k, "cpu", len(raw) // es, None) for k, raw, es in storages}
    Pickler(buf, protocol=2).dump({"model": {f"w{i}": ids[k] for i, (k, *_) in enumerate(storages)}})
    pickle.dump(sorted(ids), buf, protocol=2)
    for key in sorted(ids):
        _, raw, es = next(s for s in storages if s[0] == key)
        buf.write(struct.pack("<q", len(raw) // es) + raw)
    return buf.getvalue()


def test_legacy_torch_file_must_be_whole(tmp_path, monkeypatch):
    monkeypatch.setitem(formats._ELEMENT_SIZE, "PickleError", 4)  # the stand-in storage class above
    data = _legacy_torch([("1", payload(400, 1), 4), ("2", payload(64, 2), 4)])
    p = tmp_path / "legacy.pth"
    p.write_bytes(data)
    assert formats.detect_format(p) == "torch" and formats.incomplete(p) is None
    for cut in (len(data) - 1, len(data) - 100, len(data) // 2, 40):
        p.write_bytes(data[:cut])
        assert formats.incomplete(p), cut
    p.write_bytes(data + b"\0")
    assert "after its last storage" in formats.incomplete(p)


def test_plain_pickle_zip_and_safetensors_must_be_whole(tmp_path):
    p = tmp_path / "f"
    whole = torchish(payload(3000))
    p.write_bytes(whole)
    assert formats.incomplete(p) is None
    p.write_bytes(whole[:-1])  # no STOP opcode
    assert "pickle" in formats.incomplete(p)
    p.write_bytes(b"\x80\x02" + payload(5000))  # garbage with a pickle header
    assert formats.detect_format(p) == "torch" and formats.incomplete(p)

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", pickle.dumps({}, protocol=2))
        z.writestr("archive/data/0", payload(20_000))
    data = buf.getvalue()
    p.write_bytes(data)
    assert formats.detect_format(p) == "torch" and formats.incomplete(p) is None
    p.write_bytes(data[:5000])  # the first bytes of a torch zip, as the audit's mirror sent
    assert formats.detect_format(p) == "torch" and "zip" in formats.incomplete(p)

    header = json.dumps({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}).encode()
    st = struct.pack("<Q", len(header)) + header + payload(16)
    p.write_bytes(st)
    assert formats.detect_format(p) == "safetensors" and formats.incomplete(p) is None
    p.write_bytes(st[:-1])
    assert "truncated" in formats.incomplete(p)


# --------------------------------------------------------------------------- first use over HTTP


@pytest.fixture
def tofu(http_server, tmp_path, monkeypatch):
    monkeypatch.setenv("SYNTHDETECT_HUB_REGISTRY", str(write_registry(tmp_path / "r.json",
                                                                        [backbone_entry("tofu", "w.pth")])))
    monkeypatch.setenv("SYNTHDETECT_HUB_BASE_URL", http_server.base)
    return http_server


def test_download_cut_short_without_content_length_is_refused_and_not_recorded(tofu, tmp_path):
    data = torchish(payload(50_000, seed=3))
    tofu.add("/tofu/w.pth", data)
    tofu.no_length["/tofu/w.pth"] = 5000
    r = runner.invoke(weights_app, ["pull", "tofu", "--no-progress"])
    assert r.exit_code == 4, r.output
    assert "sent no Content-Length" in r.output and "no digest recorded" in r.output
    assert hub.recorded_digests() == {}
    assert not hub.cached_path(hub.get_entry("tofu"), hub.get_entry("tofu").files[0]).exists()
    # the whole file (no length either) is recorded, and `verify` shows it OK
    tofu.no_length["/tofu/w.pth"] = len(data)
    r = runner.invoke(weights_app, ["pull", "tofu", "--no-progress"])
    assert r.exit_code == 0, r.output
    assert hub.recorded_digests()["tofu/w.pth"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert "OK" in runner.invoke(weights_app, ["verify", "--models-dir", str(tmp_path / "m")]).output


def test_garbage_with_a_pickle_header_is_refused(tofu):
    tofu.add("/tofu/w.pth", b"\x80\x02" + payload(20_000, seed=4))
    with pytest.raises(hub.HubError, match="not a complete torch file"):
        hub.fetch(hub.get_entry("tofu"), progress=False)
    assert hub.recorded_digests() == {}


def test_cut_file_left_in_the_cache_is_not_recorded_but_fetched_again(tofu):
    data = torchish(payload(20_000, seed=5))
    tofu.add("/tofu/w.pth", data)
    e = hub.get_entry("tofu")
    dest = hub.cached_path(e, e.files[0])
    dest.parent.mkdir(parents=True)
    dest.write_bytes(data[:1000])
    (f,) = hub.fetch(e, progress=False)
    assert dest.read_bytes() == data and hub.recorded_digests()["tofu/w.pth"]["sha256"] == f.sha256


def test_forget_drops_a_wrong_record_and_its_cached_copy(tofu, tmp_path):
    wrong, right = torchish(payload(2000, seed=6)), torchish(payload(2000, seed=7))
    tofu.add("/tofu/w.pth", wrong)
    (f,) = hub.fetch(hub.get_entry("tofu"), progress=False)
    good = tmp_path / "w.pth"
    good.write_bytes(right)
    r = runner.invoke(weights_app, ["import", "tofu", "--from", str(good)])
    assert r.exit_code == 4 and "weights forget tofu" in r.output
    r = runner.invoke(weights_app, ["forget", "tofu"], input="n\n")
    assert r.exit_code == 2 and "tofu/w.pth" in hub.recorded_digests()
    r = runner.invoke(weights_app, ["forget", "tofu", "--yes"])
    assert r.exit_code == 0, r.output
    assert "forgot tofu/w.pth" in r.output and not f.path.exists() and hub.recorded_digests() == {}
    r = runner.invoke(weights_app, ["import", "tofu", "--from", str(good)])
    assert r.exit_code == 0, r.output
    assert hub.recorded_digests()["tofu/w.pth"]["origin"] == f"imported from {good}"
    r = runner.invoke(weights_app, ["forget", "nothing-here", "--yes"])
    assert r.exit_code == 2 and "no digest recorded" in r.output
    assert "forget" in runner.invoke(weights_app, ["--help"]).output


# --------------------------------------------------------------------------- registry names


@pytest.mark.parametrize("field,value", [
    ("filename", "../../../victim/notes.pth"), ("filename", "/etc/passwd"), ("filename", "a/b.pth"),
    ("filename", ".."), ("filename", "x\nevil.pth"), ("filename", "a\\b.pth"), ("name", "../evil"),
    ("name", "."), ("name", ""),
])
def test_registry_entry_with_an_unsafe_name_is_refused(tmp_path, field, value):
    e = backbone_entry("evil-bb", "w.pth")
    if field == "name":
        e["name"] = value
    else:
        e["files"][0]["filename"] = value
    reg = write_registry(tmp_path / "evil.json", [e])
    with pytest.raises(hub.HubError) as ei:
        hub.load_registry(reg)
    msg = str(ei.value)
    assert str(reg) in msg and "entry #1" in msg and "single file name" in msg and "\n" not in msg


def test_pull_from_an_evil_registry_writes_nothing(http_server, tmp_path):
    victim = tmp_path / "victim" / "notes.pth"
    victim.parent.mkdir()
    victim.write_bytes(b"notes")
    e = backbone_entry("evil-bb", "../../victim/notes.pth")
    reg = write_registry(tmp_path / "evil.json", [e])
    cache = tmp_path / "ckpts" / "sub"
    r = runner.invoke(weights_app, ["pull", "evil-bb", "--registry", str(reg), "--cache-dir", str(cache),
                                    "--base-url", http_server.base, "--force", "--no-progress"])
    assert r.exit_code == 2 and "bad entry in hub registry file" in r.output
    assert victim.read_bytes() == b"notes" and not (tmp_path / "ckpts").exists()
    assert http_server.requests == []


def test_store_refuses_a_path_outside_the_cache(tmp_path):
    e = hub.HubEntry(**backbone_entry("ok", "w.pth"))
    e.files[0].filename = "../../x.pth"  # past the load-time check: the store is the second guard
    with pytest.raises(hub.HubError, match="refusing"):
        hub.cached_path(e, e.files[0], tmp_path)
    e.files[0].filename, e.name = "w.pth", ".."
    with pytest.raises(hub.HubError, match="refusing"):
        hub.cached_path(e, e.files[0], tmp_path)
