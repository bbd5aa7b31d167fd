"""The checkpoint cache: locations, digests recorded on first use, verified cached files.

``train clip-probe --backbone-weights NAME`` reuses a backbone pulled or imported with
``synthdetect weights`` through ``resolve_backbone``.
"""

from __future__ import annotations

import hashlib
import json

import pytest
import typer

from synthdetect import hub
from synthdetect.cli.train import resolve_backbone_weights


def _registry(tmp_path, sha):
    entries = [{"name": "tiny-clip-openai", "kind": "backbone", "architecture": "ViT-tiny-quickgelu",
                "description": "tiny", "source": "test", "licence": "test",
                "open_clip": {"model": "ViT-tiny-quickgelu", "pretrained": "openai"},
                "files": [{"filename": "tiny.pt", "url": "https://example.invalid/tiny.pt", "sha256": sha,
                           "role": "backbone", "format": "torch"}]}]
    p = tmp_path / "r.json"
    p.write_text(json.dumps({"entries": entries}))
    return p


@pytest.fixture
def cached(tmp_path, monkeypatch):
    data = b"not really a checkpoint, only its digest matters here"
    sha = hashlib.sha256(data).hexdigest()
    monkeypatch.setenv("SYNTHDETECT_HUB_REGISTRY", str(_registry(tmp_path, sha)))
    monkeypatch.setenv("SYNTHDETECT_CHECKPOINTS_DIR", str(tmp_path / "ckpt"))
    entry = hub.get_entry("tiny-clip-openai")
    path = hub.cached_path(entry, entry.files[0])
    return path, data


def test_hub_name_resolves_to_verified_cache(cached):
    path, data = cached
    with pytest.raises(hub.HubError, match="weights pull tiny-clip-openai"):  # not pulled: no network attempt
        hub.resolve_backbone("tiny-clip-openai", "ViT-tiny-quickgelu")
    path.parent.mkdir(parents=True)
    path.write_bytes(data)
    assert hub.resolve_backbone("tiny-clip-openai", "ViT-tiny-quickgelu")[0] == str(path)
    # the 'openai' tag uses the cached OpenAI checkpoint of that architecture instead of the network
    assert hub.resolve_backbone("openai", "ViT-tiny-quickgelu")[0] == str(path)
    assert hub.resolve_backbone("openai", "ViT-L-14") == ("openai", None)
    # a wrong architecture is refused
    with pytest.raises(hub.HubError, match="--backbone ViT-tiny-quickgelu"):
        hub.resolve_backbone("tiny-clip-openai", "ViT-L-14")
    # a tampered cache file is not used
    path.write_bytes(data + b"x")
    with pytest.raises(hub.HubError):
        hub.resolve_backbone("tiny-clip-openai", "ViT-tiny-quickgelu")


def test_cli_turns_errors_into_one_line_exit(cached):
    path, data = cached
    with pytest.raises(typer.Exit):
        resolve_backbone_weights("tiny-clip-openai", "ViT-tiny-quickgelu")
    path.parent.mkdir(parents=True)
    path.write_bytes(data)
    assert resolve_backbone_weights("tiny-clip-openai", "ViT-tiny-quickgelu") == str(path)


def test_plain_values_pass_through(cached, tmp_path):
    f = tmp_path / "local.pt"
    f.write_bytes(b"x")
    assert resolve_backbone_weights(str(f), "ViT-L-14") == str(f)
    assert resolve_backbone_weights("none", "ViT-L-14") == "none"
    assert hub.resolve_backbone(str(f), "ViT-L-14") == (str(f), None)


def test_cache_locations(tmp_path, monkeypatch):
    e = hub.get_entry("univfd-clip-vitl14")
    default = hub.cache_dir()
    assert default.name == "checkpoints"
    assert hub.cached_path(e, e.files[0]) == default / "univfd-clip-vitl14" / "fc_weights.pth"
    monkeypatch.setenv("SYNTHDETECT_CHECKPOINTS_DIR", str(tmp_path / "env"))
    assert hub.cache_dir() == tmp_path / "env"
    assert hub.cache_dir(tmp_path / "arg") == tmp_path / "arg"


def test_expected_digest_registry_then_recorded(tmp_path):
    from synthdetect.hub import store

    e = hub.get_entry("cnndetection-blur-jpg-prob0.5")
    hf = e.files[0]
    assert hub.expected_digest(e, hf) == (None, "none")
    f = store.accept(e, hf, tmp_path / "w.pth", "d" * 64, None, "none", "test origin", None)
    assert f.check == "first-use" and "trust on first use" in f.message
    assert hub.expected_digest(e, hf) == ("d" * 64, "recorded")
    rec = hub.recorded_digests()["cnndetection-blur-jpg-prob0.5/blur_jpg_prob0.5.pth"]
    assert rec["sha256"] == "d" * 64 and rec["origin"] == "test origin"
    u = hub.get_entry("univfd-clip-vitl14")
    assert hub.expected_digest(u, u.files[0]) == (u.files[0].sha256, "registry")


def test_unreadable_recorded_digests_is_a_hub_error():
    p = hub.cache_dir() / "recorded_sha256.json"
    p.parent.mkdir(parents=True)
    p.write_text("{")
    with pytest.raises(hub.HubError, match="cannot read"):
        hub.recorded_digests()


def test_local_checkpoint_of_unknown_or_uncached_entry_is_none():
    assert hub.local_checkpoint("no-such-entry") is None
    assert hub.local_checkpoint("clip-vitl14-openai") is None
