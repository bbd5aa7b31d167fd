"""``synthdetect weights`` (synthdetect/cli/weights.py): behaviour that needs no torch.

Exit codes: 2 for a bad name, file or argument (nothing done), 4 for a download, checksum or
verification that failed.
"""

from __future__ import annotations

import json
import subprocess
import sys

from typer.testing import CliRunner

from synthdetect.cli.weights import weights_app
from tests.hub.conftest import _isolated, closed_port, http_server  # noqa: F401  (hub fixtures: isolated data dir, local HTTP)

runner = CliRunner()


def test_module_imports_no_torch():
    code = ("import sys, synthdetect.cli.weights, synthdetect.hub; "
            "print(sorted(m for m in ('torch', 'numpy', 'onnxruntime', 'open_clip') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_pull_offline_is_one_clear_line(closed_port, tmp_path):
    r = runner.invoke(weights_app, ["pull", "univfd-clip-vitl14", "--base-url", f"http://127.0.0.1:{closed_port}",
                                    "--models-dir", str(tmp_path / "m"), "--no-progress", "--retries", "0"])
    assert r.exit_code == 4
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    err = [ln for ln in lines if ln.startswith("synthdetect: error:")]
    assert len(err) == 1, r.output
    assert f"cannot reach 127.0.0.1:{closed_port}:" in err[0]
    assert err[0].endswith("(offline? use `synthdetect weights import univfd-clip-vitl14 --from FILE`)")
    assert "Traceback" not in r.output


def test_pull_404_from_mirror(http_server, tmp_path):
    r = runner.invoke(weights_app, ["pull", "clip-vitl14-openai", "--base-url", http_server.base, "--no-progress"])
    assert r.exit_code == 4
    assert "HTTP 404" in r.output and "/clip-vitl14-openai/ViT-L-14.pt" in r.output
    assert http_server.requests[0][0] == "/clip-vitl14-openai/ViT-L-14.pt"


def test_unknown_name(tmp_path):
    r = runner.invoke(weights_app, ["pull", "no-such-detector"])
    assert r.exit_code == 2 and "no published model named 'no-such-detector'" in r.output


def test_list_json_shows_sources_and_digests(tmp_path):
    r = runner.invoke(weights_app, ["list", "--format", "json", "--models-dir", str(tmp_path / "m")])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    rows = {e["name"]: e for e in data["entries"]}
    assert data["models_dir"] == str(tmp_path / "m")
    f = rows["cnndetection-blur-jpg-prob0.1"]["files"][0]
    assert f["url"].startswith("https://www.dropbox.com/s/") and f["sha256"] is None and f["sha256_note"]
    assert rows["univfd-clip-vitl14"]["files"][0]["sha256"].startswith("477100745713bcc9")
    assert rows["univfd-clip-vitl14"]["installed"] is False
    assert rows["clip-vitl14-openai"]["installed"] is None  # backbones are cached, not installed


def test_list_table(tmp_path):
    r = runner.invoke(weights_app, ["list"], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    for name in ("cnndetection-blur-jpg-prob0.5", "univfd-clip-vitl14", "clip-vitl14-openai"):
        assert name in r.output
    assert "not published" in r.output and "published 477100745713" in r.output


def test_verify_nothing_installed_is_ok(tmp_path):
    r = runner.invoke(weights_app, ["verify", "--models-dir", str(tmp_path / "m")])
    assert r.exit_code == 0 and "nothing installed" in r.output


def test_verify_flags_tampered_checkpoint(tmp_path, monkeypatch):
    from synthdetect import hub

    e = hub.get_entry("univfd-clip-vitl14")
    p = hub.cached_path(e, e.files[0])
    p.parent.mkdir(parents=True)
    p.write_bytes(b"\x80\x02not the published head")
    r = runner.invoke(weights_app, ["verify", "--models-dir", str(tmp_path / "m")])
    assert r.exit_code == 4 and "MISMATCH" in r.output


def test_remove_refuses_bundled_and_unknown(tmp_path, monkeypatch):
    import synthdetect.cards as cards

    bundled = tmp_path / "bundled"
    bundled.mkdir()
    (bundled / "npr.json").write_text("{}")
    (bundled / "npr.onnx").write_bytes(b"x")
    monkeypatch.setattr(cards, "bundled_dir", lambda: bundled)
    r = runner.invoke(weights_app, ["remove", "npr", "--yes", "--models-dir", str(tmp_path / "user")])
    assert r.exit_code == 2 and "bundled" in r.output and (bundled / "npr.onnx").exists()
    r = runner.invoke(weights_app, ["remove", "npr", "--yes", "--models-dir", str(bundled)])
    assert r.exit_code == 2 and (bundled / "npr.onnx").exists()
    r = runner.invoke(weights_app, ["remove", "ghost", "--yes", "--models-dir", str(tmp_path / "user")])
    assert r.exit_code == 2 and "no installed model 'ghost'" in r.output


def test_import_missing_file(tmp_path):
    r = runner.invoke(weights_app, ["import", "cnndetection-blur-jpg-prob0.5", "--from", str(tmp_path / "nope.pth")])
    assert r.exit_code == 2 and "no such file" in r.output


def test_import_rejects_html_for_unpublished_digest(tmp_path):
    page = tmp_path / "blur_jpg_prob0.5.pth"
    page.write_text("<html>Dropbox</html>")
    r = runner.invoke(weights_app, ["import", "cnndetection-blur-jpg-prob0.5", "--from", str(page)])
    assert r.exit_code == 4 and "not the expected torch file" in r.output


def test_models_dir_env_is_the_default_install_dir(tmp_path, monkeypatch):
    from synthdetect import hub

    monkeypatch.setenv("SYNTHDETECT_MODELS_DIR", f"{tmp_path / 'a'}:{tmp_path / 'b'}")
    assert hub.default_install_dir() == tmp_path / "a"
    assert hub.default_install_dir(tmp_path / "c") == tmp_path / "c"


def test_failed_pull_leaves_nothing_for_verify_to_flag(closed_port, tmp_path):
    from synthdetect import hub

    r = runner.invoke(weights_app, ["pull", "cnndetection-blur-jpg-prob0.5", "--base-url",
                                    f"http://127.0.0.1:{closed_port}", "--no-progress"])
    assert r.exit_code == 4
    r = runner.invoke(weights_app, ["verify", "--models-dir", str(tmp_path / "m")])
    assert r.exit_code == 0, r.output
    # an interrupted download is reported, but is not a failure
    e = hub.get_entry("cnndetection-blur-jpg-prob0.5")
    part = hub.cached_path(e, e.files[0]).with_name("blur_jpg_prob0.5.pth.part")
    part.parent.mkdir(parents=True, exist_ok=True)
    part.write_bytes(b"\x80\x02partial")
    r = runner.invoke(weights_app, ["verify", "--models-dir", str(tmp_path / "m"), "--format", "json"])
    assert r.exit_code == 0 and [row["status"] for row in json.loads(r.stdout)["rows"]] == ["PARTIAL"]


def test_usage_errors_exit_2_and_say_so_on_stderr(tmp_path):
    r = runner.invoke(weights_app, ["list", "--format", "xml"])
    assert r.exit_code == 2
    r = runner.invoke(weights_app, ["pull", "univfd-clip-vitl14", "--backbone", "no-such-backbone"])
    assert r.exit_code == 2 and "synthdetect: error: univfd-clip-vitl14 accepts the backbones" in r.stderr
    bad = tmp_path / "r.json"
    bad.write_text("{not json")
    r = runner.invoke(weights_app, ["verify", "--registry", str(bad), "--models-dir", str(tmp_path / "m")])
    assert r.exit_code == 2 and f"cannot read hub registry file {bad}" in r.stderr


def test_remove_not_confirmed_is_exit_2_and_keeps_the_files(tmp_path):
    d = tmp_path / "user"
    d.mkdir()
    (d / "mine.json").write_text("{}")
    (d / "mine.onnx").write_bytes(b"x")
    r = runner.invoke(weights_app, ["remove", "mine", "--models-dir", str(d)], input="n\n")
    assert r.exit_code == 2 and "nothing removed" in r.output
    assert (d / "mine.json").exists() and (d / "mine.onnx").exists()


def test_help_documents_the_exit_codes():
    r = runner.invoke(weights_app, ["--help"], env={"COLUMNS": "300"})
    assert r.exit_code == 0
    assert "Exit codes: 0 success; 2 usage error" in r.output and "4 the operation failed" in r.output


def test_pull_or_import_over_an_installed_model_needs_force(tmp_path):
    """audit L2: a second pull/import would rewrite the card (a calibrated threshold, other local edits)."""
    models = tmp_path / "models"
    models.mkdir()
    card = models / "cnndetection-blur-jpg-prob0.5.json"
    card.write_text('{"calibrated_threshold": 0.7}')
    ckpt = tmp_path / "blur_jpg_prob0.5.pth"
    ckpt.write_bytes(b"\x80\x02N.")
    for args in (["import", "cnndetection-blur-jpg-prob0.5", "--from", str(ckpt)],
                 ["pull", "cnndetection-blur-jpg-prob0.5", "--base-url", "http://127.0.0.1:9"]):
        r = runner.invoke(weights_app, [*args, "--models-dir", str(models), "--cache-dir", str(tmp_path / "c")])
        assert r.exit_code == 2, r.output
        err = [ln for ln in r.output.splitlines() if ln.startswith("synthdetect: error:")]
        assert len(err) == 1 and "already installed" in err[0] and "--force" in err[0]
    assert card.read_text() == '{"calibrated_threshold": 0.7}' and not (tmp_path / "c").exists()
    # --no-convert installs nothing, so it is not refused
    r = runner.invoke(weights_app, ["pull", "cnndetection-blur-jpg-prob0.5", "--base-url", "http://127.0.0.1:9",
                                    "--models-dir", str(models), "--no-convert", "--no-progress", "--retries", "0"])
    assert r.exit_code == 4 and "cannot reach" in r.output
    for cmd in ("import", "pull"):
        assert "--force" in runner.invoke(weights_app, [cmd, "--help"], env={"COLUMNS": "200"}).output
