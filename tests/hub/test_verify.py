"""Format sniffing, ``import_files`` and ``verify_all`` (no network, no torch)."""

from __future__ import annotations

import hashlib
import os

import pytest

from synthdetect import hub

from .helpers import backbone_entry, torchish, write_registry


def test_import_files_matches_by_digest_and_rejects_wrong_file(tmp_path, monkeypatch):
    good = torchish(b"good weights")
    sha = hashlib.sha256(good).hexdigest()
    monkeypatch.setenv("SYNTHDETECT_HUB_REGISTRY", str(write_registry(tmp_path / "r.json",
                                                                        [backbone_entry("known", "w.pth", sha)])))
    entry = hub.get_entry("known")
    renamed = tmp_path / "renamed.bin"
    renamed.write_bytes(good)
    other = tmp_path / "other.bin"
    other.write_bytes(b"\x80\x02other")
    items, rest = hub.import_files(entry, [other, renamed])
    assert [i.check for i in items] == ["registry"] and rest == [other]
    assert items[0].path == hub.cached_path(entry, entry.files[0]) and items[0].path.read_bytes() == good
    with pytest.raises(hub.ChecksumError, match="expected"):
        hub.import_files(entry, [other])


def test_verify_all_reports_ok_mismatch_missing(tmp_path, monkeypatch):
    from synthdetect.cards import InputSpec, ModelCard, sha256_file
    from tests.conftest import build_tiny_onnx

    models = tmp_path / "models"
    models.mkdir()
    for n in ("good", "bad", "gone"):
        build_tiny_onnx(models / f"{n}.onnx", 8, [1, 1, 1], 0.0)
        ModelCard(name=n, file=f"{n}.onnx", sha256=sha256_file(models / f"{n}.onnx"), architecture="t",
                  input=InputSpec(size=8)).save(models / f"{n}.json")
    (models / "bad.onnx").write_bytes(b"changed")
    os.remove(models / "gone.onnx")
    data = torchish(b"x")
    monkeypatch.setenv("SYNTHDETECT_HUB_REGISTRY", str(write_registry(
        tmp_path / "r.json", [backbone_entry("ck", "w.pth", hashlib.sha256(data).hexdigest())])))
    entry = hub.get_entry("ck")
    p = hub.cached_path(entry, entry.files[0])
    p.parent.mkdir(parents=True)
    p.write_bytes(data)
    rows = {r.name: r.status for r in hub.verify_all(models)}
    assert rows == {"good": "OK", "bad": "MISMATCH", "gone": "MISSING", "ck/w.pth": "OK"}
    p.write_bytes(b"\x80\x02flipped")
    assert {r.name: r.status for r in hub.verify_all(models)}["ck/w.pth"] == "MISMATCH"


def test_detect_format(tmp_path):
    (tmp_path / "a").write_bytes(b"\x80\x02abc")
    (tmp_path / "b").write_bytes((10).to_bytes(8, "little") + b'{"a":1}   ')
    (tmp_path / "c").write_bytes(b"<html>")
    assert [hub.detect_format(tmp_path / n) for n in "abc"] == ["torch", "safetensors", "unknown"]
