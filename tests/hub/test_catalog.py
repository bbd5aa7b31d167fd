"""The registry: built-in entries as data, the JSON override file, lookup (no network, no torch)."""

from __future__ import annotations

import json

import pytest

from synthdetect import hub
from synthdetect.cards import CLIP_MEAN, IMAGENET_MEAN, InputSpec
from synthdetect.hub import catalog, entries

from .helpers import backbone_entry, write_registry


def test_builtin_registry_has_the_published_detectors():
    reg = hub.load_registry()
    for name in ("cnndetection-blur-jpg-prob0.5", "cnndetection-blur-jpg-prob0.1", "univfd-clip-vitl14",
                 "clip-vitl14-openai"):
        assert name in reg
    fc = reg["univfd-clip-vitl14"].files[0]
    assert fc.sha256.startswith("477100745713bcc9") and fc.sha256.endswith("c7847")
    vit = reg["clip-vitl14-openai"].files[0]
    # openai/CLIP embeds the file's sha256 in the URL
    assert vit.url.split("/")[-2] == vit.sha256 and vit.format == "torchscript"
    for e in reg.values():
        for f in e.files:
            assert f.url.startswith("https://")
            assert f.sha256 or f.sha256_note  # never a silent missing digest
    assert reg["cnndetection-blur-jpg-prob0.5"].files[0].sha256 is None
    assert reg["univfd-clip-vitl14"].backbones[0] == "clip-vitl14-openai"


def test_entry_without_digest_needs_a_note():
    with pytest.raises(ValueError, match="sha256_note"):
        hub.HubFile(filename="x.pth", url="https://x/x.pth", sha256=None)
    with pytest.raises(ValueError, match="64 hex"):
        hub.HubFile(filename="x.pth", url="https://x/x.pth", sha256="abc")


def test_builtin_entries_are_plain_data_in_the_override_schema():
    """Every built-in dict survives JSON unchanged: the same schema as a registry file."""
    assert len({d["name"] for d in entries.BUILTIN}) == len(entries.BUILTIN)
    for d in entries.BUILTIN:
        assert json.loads(json.dumps(d)) == d
        e = catalog.HubEntry(**json.loads(json.dumps(d)))
        assert catalog.HubEntry(**json.loads(json.dumps(e.to_dict()))) == e


def test_builtin_entries_are_consistent():
    reg = hub.load_registry()
    for e in reg.values():
        for b in e.backbones:  # a detector's backbones are backbone entries of the registry
            assert reg[b].kind == "backbone", (e.name, b)
        if e.kind == "detector":
            assert e.converter and e.input
            InputSpec(**e.input)  # a valid card input spec
        else:
            assert e.open_clip.get("model") or e.open_clip.get("model_cfg"), e.name
    assert reg["cnndetection-blur-jpg-prob0.5"].input["mean"] == list(IMAGENET_MEAN)
    assert reg["univfd-clip-vitl14"].input["mean"] == list(CLIP_MEAN)


def test_entries_are_copies():
    e = hub.load_registry()["univfd-clip-vitl14"]
    e.input["size"] = 1
    e.backbones.append("x")
    again = hub.load_registry()["univfd-clip-vitl14"]
    assert again.input["size"] == 224 and "x" not in again.backbones


def test_detector_entry_needs_a_converter():
    d = backbone_entry("d", "w.pth", "a" * 64)
    d["kind"] = "detector"
    with pytest.raises(ValueError, match="needs a converter"):
        hub.HubEntry(**d)
    with pytest.raises(ValueError, match="kind must be"):
        hub.HubEntry(**{**d, "kind": "other", "converter": "x"})


def test_registry_file_extends_and_replaces(tmp_path, monkeypatch):
    new = backbone_entry("extra", "w.pth", "b" * 64)
    replaced = backbone_entry("clip-vitl14-openai", "other.pt", "c" * 64)
    path = write_registry(tmp_path / "r.json", [new, replaced])
    reg = hub.load_registry(path)
    assert reg["extra"].files[0].sha256 == "b" * 64
    assert reg["clip-vitl14-openai"].files[0].filename == "other.pt"
    assert "univfd-clip-vitl14" in reg  # the other built-ins stay
    monkeypatch.setenv("SYNTHDETECT_HUB_REGISTRY", str(path))
    assert hub.get_entry("extra").name == "extra"
    # a plain list works too
    (tmp_path / "l.json").write_text(json.dumps([new]))
    assert "extra" in hub.load_registry(tmp_path / "l.json")


def test_bad_registry_file_is_one_hub_error(tmp_path):
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(hub.HubError, match="cannot read hub registry file"):
        hub.load_registry(tmp_path / "bad.json")
    entry = backbone_entry("x", "w.pth", "abc")
    with pytest.raises(hub.HubError, match="bad entry in hub registry file.*64 hex"):
        hub.load_registry(write_registry(tmp_path / "r.json", [entry]))
    with pytest.raises(hub.HubError, match="bad entry"):
        hub.load_registry(write_registry(tmp_path / "r.json", [{**backbone_entry("x", "w.pth", "a" * 64),
                                                                 "colour": "red"}]))


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(hub.HubError, match=r"no published model named 'nope'; known: .*univfd-clip-vitl14"):
        hub.get_entry("nope")
