"""``synthdetect scan`` (synthdetect/cli/scan.py): exit codes, formats, inputs, evidence safety."""

import csv
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from synthdetect.cards import sha256_file
from tests.support import cli, imported_by

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.usefixtures("isolated_registry")


def _sub(args, timeout=60, **kw):
    env = dict(os.environ, PYTHONPATH=str(REPO), HF_HUB_OFFLINE="1")
    env.pop("SYNTHDETECT_MODELS_DIR", None)
    return subprocess.run([sys.executable, "-m", "synthdetect", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, env=env, cwd=kw.pop("cwd", str(REPO)), **kw)


def test_scan_imports_no_torch(models_dir, images):
    r, mods = imported_by(["scan", str(images["white"]), "--models-dir", str(models_dir), "--models", "bright", "-f", "json"])
    assert json.loads(r.stdout)["results"][0]["verdict"] == "synthetic"
    assert "torch" not in mods and "onnxruntime" in mods


def test_exit_0_table(models_dir, images):
    r = cli(["scan", images["black"], images["white"], "--models-dir", models_dir, "--models", "bright"])
    assert r.exit_code == 0, r.output
    assert "black.jpg" in r.stdout and "synthetic" in r.stdout and "real" in r.stdout
    assert "2 inputs: 1 synthetic, 1 real, 0 inconclusive, 0 errors" in r.stdout
    assert "images/s" in r.stdout


def test_exit_1_fail_on_synthetic(models_dir, images):
    args = ["scan", images["white"], "--models-dir", models_dir, "--models", "bright"]
    assert cli(args + ["--fail-on", "synthetic"]).exit_code == 1
    assert cli(args).exit_code == 0
    real_only = ["scan", images["black"], "--models-dir", models_dir, "--models", "bright", "--fail-on", "synthetic"]
    assert cli(real_only).exit_code == 0


@pytest.mark.parametrize(
    "extra",
    [
        ["--threshold", "1.5"],
        ["--threshold", "high"],
        ["--ensemble", "vote"],
        ["--models", "nope"],
        ["--format", "xml"],
        ["--batch-size", "0"],
        ["--bogus-option"],
    ],
)
def test_exit_2_usage(models_dir, images, extra):
    r = cli(["scan", images["white"], "--models-dir", models_dir] + extra)
    assert r.exit_code == 2, (extra, r.output)


def test_exit_2_no_paths_and_no_models(tmp_path, images):
    assert cli(["scan"]).exit_code == 2
    r = cli(["scan", images["white"], "--models-dir", tmp_path])
    assert r.exit_code == 2 and "no models installed" in r.stderr


def test_exit_3_unreadable_but_reported(models_dir, images, tmp_path):
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    r = cli(["scan", images["white"], empty, tmp_path / "missing.jpg", "--models-dir", models_dir,
                 "--models", "bright", "-f", "json"])
    assert r.exit_code == 3
    doc = json.loads(r.stdout)
    errs = {os.path.basename(x["path"]): x["error"] for x in doc["results"] if x["error"]}
    assert errs == {"empty.png": "empty file (0 bytes)", "missing.jpg": "no such file or directory"}
    assert doc["summary"]["errors"] == 2 and doc["summary"]["scanned"] == 1


def test_fail_on_takes_precedence_over_unreadable(models_dir, images, tmp_path):
    r = cli(["scan", images["white"], tmp_path / "missing.jpg", "--models-dir", models_dir,
                 "--models", "bright", "--fail-on", "synthetic"])
    assert r.exit_code == 1


def test_json_schema_fields(models_dir, images):
    r = cli(["scan", *images.values(), "--models-dir", models_dir, "--models", "bright,dark,redprob",
                 "--ensemble", "weighted", "-f", "json", "--no-provenance"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    from synthdetect.output.text import SCHEMA_VERSION

    assert doc["schema_version"] == SCHEMA_VERSION
    assert doc["tool"]["name"] == "synthdetect" and doc["tool"]["version"]
    assert [m["name"] for m in doc["models"]] == ["bright", "dark", "redprob"]
    for m in doc["models"]:
        assert m["sha256"] == sha256_file(models_dir / f"{m['name']}.onnx")
    assert doc["ensemble"]["method"] == "weighted"
    r0 = doc["results"][0]
    for key in ("path", "format", "width", "height", "sha256", "models", "ensemble", "verdict", "verdict_source", "error"):
        assert key in r0
    assert r0["sha256"] == sha256_file(images["white"])
    assert set(r0["models"]["bright"]) == {"probability", "threshold", "verdict"}
    assert set(r0["ensemble"]) >= {"method", "score", "threshold", "verdict"}
    # weighted: bright (F1 .9) says synthetic, dark (.6) and redprob (.7) say real
    assert r0["ensemble"]["score"] == pytest.approx(0.9 / 2.2, abs=1e-6) and r0["verdict"] == "real"
    assert set(doc["summary"]) >= {"inputs", "scanned", "errors", "verdicts", "elapsed_s", "images_per_s"}


def test_jsonl_stream(models_dir, images):
    r = cli(["scan", *images.values(), "--models-dir", models_dir, "--models", "bright", "-f", "jsonl"])
    lines = [json.loads(l) for l in r.stdout.splitlines()]
    assert [l["type"] for l in lines] == ["header", "result", "result", "result", "summary"]
    assert lines[0]["schema_version"] and lines[0]["models"][0]["sha256"]


def test_csv_mediaeval_columns(models_dir, images, tmp_path):
    out = tmp_path / "sub.csv"
    r = cli(["scan", images["white"], images["black"], tmp_path / "gone.png", "--models-dir", models_dir,
                 "--models", "bright", "-f", "csv", "-o", out])
    assert r.exit_code == 3
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert list(rows[0])[:4] == ["image_id", "prob", "label", "threshold"]
    assert rows[0]["image_id"] == "white" and rows[0]["label"] == "1" and float(rows[0]["prob"]) > 0.9
    assert rows[1]["label"] == "0" and float(rows[1]["threshold"]) == 0.5
    assert rows[2]["error"] and rows[2]["prob"] == "" and rows[2]["verdict"] == "error"


def test_output_refuses_to_overwrite_input(models_dir, images):
    before = sha256_file(images["white"])
    r = cli(["scan", images["white"], "--models-dir", models_dir, "-o", images["white"]])
    assert r.exit_code == 2 and sha256_file(images["white"]) == before


def test_stdin_paths(models_dir, images):
    r = cli(["scan", "-", "--models-dir", models_dir, "--models", "bright", "-f", "jsonl"],
                input=f"{images['white']}\n{images['black']}\n")
    res = [json.loads(l) for l in r.stdout.splitlines()][1:-1]
    assert [os.path.basename(x["path"]) for x in res] == ["white.png", "black.jpg"]


def test_env_var_models_dir(models_dir, images, monkeypatch):
    monkeypatch.setenv("SYNTHDETECT_MODELS_DIR", str(models_dir))
    r = cli(["scan", images["white"], "--models", "bright", "-f", "json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["models"][0]["name"] == "bright"


def test_skipped_non_image_reported(models_dir, images):
    d = images["white"].parent
    (d / "notes.txt").write_text("case notes")
    r = cli(["scan", d, "--models-dir", models_dir, "--models", "bright"])
    assert r.exit_code == 0
    assert "skipped 1 non-image files" in r.stdout


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_every_bad_input_class_one_line_and_scan_continues(models_dir, tmp_path, monkeypatch):
    import numpy as np

    d = tmp_path / "case"
    d.mkdir()
    Image.new("RGB", (40, 40), (250, 246, 238)).save(d / "01_good.png")
    (d / "02_zero.jpg").write_bytes(b"")
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (120, 120, 3), dtype=np.uint8)).save(buf, "JPEG")
    (d / "03_trunc.jpg").write_bytes(buf.getvalue()[:600])
    (d / "04_text.png").write_text("not an image")
    Image.new("RGB", (300, 300)).save(d / "05_bomb.png")
    Image.new("CMYK", (30, 30)).save(d / "06_cmyk.jpg")
    Image.new("RGB", (5, 5)).save(d / "07_tiny.bmp")
    os.symlink(d, d / "08_loop")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 50_000)
    r = cli(["scan", d, "--models-dir", models_dir, "--models", "bright,redprob", "-f", "json"])
    assert r.exit_code == 3
    doc = json.loads(r.stdout)
    res = {os.path.basename(x["path"]): x for x in doc["results"]}
    assert res["01_good.png"]["verdict"] == "synthetic"
    assert "empty" in res["02_zero.jpg"]["error"]
    assert "truncated" in res["03_trunc.jpg"]["error"]
    assert "not a recognised image" in res["04_text.png"]["error"]
    assert "decompression" in res["05_bomb.png"]["error"]
    assert res["06_cmyk.jpg"]["error"] is None and res["07_tiny.bmp"]["error"] is None
    for x in doc["results"]:
        assert x["error"] is None or "\n" not in x["error"]
    assert doc["summary"]["symlink_loops"] == 1 and doc["summary"]["errors"] == 4


def test_evidence_files_unchanged_subprocess(models_dir, tmp_path):
    d = tmp_path / "exhibits"
    d.mkdir()
    Image.new("RGB", (64, 64), (10, 20, 30)).save(d / "a.jpg")
    Image.new("RGBA", (32, 32), (10, 20, 30, 100)).save(d / "b.png")
    exif = Image.Exif()
    exif[0x0112] = 8
    Image.new("RGB", (30, 20)).save(d / "c.jpg", exif=exif.tobytes())
    before = {p.name: (p.stat().st_mtime_ns, p.stat().st_size, sha256_file(p)) for p in d.iterdir()}
    time.sleep(0.01)
    r = _sub(["scan", d, "--models-dir", models_dir, "--models", "trio", "-f", "json"])
    assert r.returncode == 0, r.stderr
    after = {p.name: (p.stat().st_mtime_ns, p.stat().st_size, sha256_file(p)) for p in d.iterdir()}
    assert before == after
    doc = json.loads(r.stdout)
    assert {(x["width"], x["height"]) for x in doc["results"] if x["path"].endswith("c.jpg")} == {(20, 30)}


def test_symlink_loop_subprocess_does_not_hang(models_dir, tmp_path):
    d = tmp_path / "loop"
    d.mkdir()
    Image.new("RGB", (20, 20)).save(d / "x.png")
    os.symlink(d, d / "again")
    os.symlink(tmp_path, d / "parent")
    r = _sub(["scan", d, "--models-dir", models_dir, "--models", "dark", "-f", "jsonl"], timeout=60)
    assert r.returncode == 0, r.stderr
    results = [json.loads(l) for l in r.stdout.splitlines() if '"type":"result"' in l]
    assert [os.path.basename(x["path"]) for x in results] == ["x.png"]


def test_subprocess_exit_codes(models_dir, images, tmp_path):
    base = ["scan", "--models-dir", models_dir, "--models", "bright", "-f", "csv"]
    assert _sub(base + [images["black"]]).returncode == 0
    assert _sub(base + [images["white"], "--fail-on", "synthetic"]).returncode == 1
    assert _sub(base + [images["white"], "--device", "gpu"]).returncode == 2
    assert _sub(base + [images["white"], tmp_path / "nope.png"]).returncode == 3


@pytest.mark.shared_data
def test_cli_on_shared_val_inthewild(models_dir, shared_data, tmp_path):
    d = shared_data / "val-inthewild" / "1_fake"
    if not d.is_dir():
        pytest.skip(f"{d} absent")
    files = sorted(d.iterdir())[:5]
    r = cli(["scan", *files, "--models-dir", models_dir, "--models", "trio", "-f", "json"])
    assert r.exit_code == 0
    assert json.loads(r.stdout)["summary"]["scanned"] == 5


def test_exit_2_on_sha_mismatch(tmp_path, images, make_model):
    make_model(tmp_path, "m", 16, [1, 1, 1], 0.0)
    data = bytearray((tmp_path / "m.onnx").read_bytes())
    data[-1] ^= 1  # tamper with the model file
    (tmp_path / "m.onnx").write_bytes(bytes(data))
    r = cli(["scan", images["white"], "--models-dir", tmp_path])
    assert r.exit_code == 2 and "sha256 mismatch" in r.stderr


def test_device_cuda_without_working_cuda_is_usage_error(models_dir, images):
    from synthdetect.scan.runtime import RuntimeSetupError, load_model
    from synthdetect.cards import ModelCard

    try:
        load_model(ModelCard.load(models_dir / "bright.json"), device="cuda")
        pytest.skip("CUDA works on this machine")
    except RuntimeSetupError:
        pass
    r = cli(["scan", images["white"], "--models-dir", models_dir, "--device", "cuda"])
    assert r.exit_code == 2 and "cuda" in r.stderr.lower()


def test_progress_bar_forced_and_output_file(models_dir, images, tmp_path):
    out = tmp_path / "r.json"
    r = cli(["scan", *images.values(), "--models-dir", models_dir, "--models", "trio", "--progress",
                 "-f", "json", "-o", out])
    assert r.exit_code == 0, r.output
    doc = json.loads(out.read_text())
    assert doc["summary"]["scanned"] == 3 and doc["ensemble"]["name"] == "trio"
    assert doc["ensemble"]["method"] == "majority"


def test_provenance_integration_generator_chunk(models_dir, tmp_path):
    pytest.importorskip("synthdetect.provenance")
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "a cat\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1, Size: 64x64, Model: v1-5")
    p = tmp_path / "gen.png"
    Image.new("RGB", (64, 64), (14, 5, 0)).save(p, pnginfo=info)  # dark: 'bright' says real
    base = ["scan", p, "--models-dir", models_dir, "--models", "bright", "-f", "json"]
    r = cli(base + ["--fail-on", "synthetic"])
    assert r.exit_code == 1
    rec = json.loads(r.stdout)["results"][0]
    assert rec["verdict"] == "synthetic" and rec["verdict_source"] == "provenance"
    assert rec["ensemble"]["verdict"] == "real" and rec["evidence"]
    rec = json.loads(cli(base + ["--no-provenance"]).stdout)["results"][0]
    assert rec["verdict"] == "real" and "provenance" not in rec


def test_no_recursive(models_dir, images):
    d = images["white"].parent
    sub = d / "sub"
    sub.mkdir()
    Image.new("RGB", (20, 20)).save(sub / "deep.png")
    names = lambda r: sorted(os.path.basename(x["path"]) for x in json.loads(r.stdout)["results"])
    base = ["scan", d, "--models-dir", models_dir, "--models", "bright", "-f", "json"]
    assert "deep.png" in names(cli(base))
    assert names(cli(base + ["--no-recursive"])) == ["black.jpg", "red.webp", "white.png"]


def test_non_utf8_file_name(models_dir, tmp_path):
    """The documented escape (docs/scan.md): an undecodable byte 0xNN is written as the text \\udcNN."""
    d = tmp_path / "names"
    d.mkdir()
    for name in (b"caf\xe9.png", b"\xffimg.jpg"):
        Image.new("RGB", (20, 20), (250, 250, 250)).save(os.fsdecode(os.path.join(os.fsencode(d), name)))
    want = ("caf\\udce9.png", "\\udcffimg.jpg")
    for fmt in ("json", "csv", "table", "jsonl", "html"):
        r = _sub(["scan", d, "--models-dir", models_dir, "--models", "bright", "-f", fmt])
        assert r.returncode == 0, r.stderr
        assert "\\xe9" not in r.stdout and "\\xff" not in r.stdout, fmt
        if fmt == "json":
            got = [x["path"] for x in json.loads(r.stdout)["results"]]
        elif fmt == "jsonl":
            got = [json.loads(ln)["path"] for ln in r.stdout.splitlines()[1:-1]]
        elif fmt == "csv":
            rows = list(csv.DictReader(io.StringIO(r.stdout)))
            assert sorted(row["image_id"] for row in rows) == sorted(("caf\\udce9", "\\udcffimg"))
            got = [row["path"] for row in rows]
        else:
            got = [w for w in want if w in r.stdout or w.replace("\\", "\\\\") in r.stdout]
        assert sorted(os.path.basename(g) for g in got) == sorted(want), (fmt, got)


def test_local_and_ray_engines_get_the_same_options_object(models_dir, images, monkeypatch):
    """The CLI builds one ScanOptions from its flags and hands that very object to the local Scanner and
    to the Ray engine (a stand-in recording what it is given and scanning locally, so no Ray is needed)."""
    import synthdetect.scan.engines.ray_engine as ray_mod
    import synthdetect.scan.pipeline as pipeline

    seen: dict = {}
    real_scanner = pipeline.Scanner

    class Scanner(real_scanner):
        def __init__(self, plan, options=None):
            seen["local"] = options
            super().__init__(plan, options)

    class FakeRay:
        def __init__(self, plan, options=None, cluster=None):
            seen["ray"], seen["cluster"] = options, cluster
            self.inner = real_scanner(plan, options)

        def scan(self, files):
            seen["ray_scanned"] = True
            return self.inner.scan(files)

        def shutdown(self):
            seen["shutdown"] = True

    monkeypatch.setattr(pipeline, "Scanner", Scanner)
    monkeypatch.setattr(ray_mod, "RayEngine", FakeRay)
    args = ["scan", images["white"], images["black"], "--models-dir", models_dir, "--models", "bright", "-f", "json",
            "--no-progress", "--no-cache", "--device", "cpu", "-b", "3", "-j", "2", "--no-provenance",
            "--no-quality-gates", "--domain-check", "warn"]
    r = cli(args + ["--engine", "ray", "--address", "ray://head:10001"])
    assert r.exit_code == 0, r.output
    opts = seen["local"]
    assert seen["ray"] is opts and seen["ray_scanned"] and seen["shutdown"]
    assert (opts.device, opts.batch_size, opts.workers, opts.decode_workers) == ("cpu", 3, 2, 2)
    assert (opts.provenance, opts.quality_gates, opts.thumbnails, opts.domain_check) == (False, False, False, "warn")
    assert seen["cluster"].address == "ray://head:10001"
    ray_doc = json.loads(r.stdout)
    seen.clear()
    r = cli(args)
    assert r.exit_code == 0, r.output
    assert "ray" not in seen and seen["local"] == opts  # the local engine alone, with equal options
    local_doc = json.loads(r.stdout)
    assert [x["verdict"] for x in ray_doc["results"]] == [x["verdict"] for x in local_doc["results"]] == ["synthetic", "real"]
    for k in ("device", "batch_size", "workers", "provenance", "quality_gates", "domain_check"):
        assert ray_doc["options"][k] == local_doc["options"][k]
    assert ray_doc["options"]["engine"] == "ray" and local_doc["options"]["engine"] == "local"


def test_engine_ray_html_has_every_thumbnail(models_dir, images, monkeypatch, tmp_path):
    """Ray actors scan without thumbnails (records travel back as JSON); the CLI makes the missing
    ones from the files, so a Ray scan's HTML report shows every picture, like a local one."""
    import synthdetect.scan.engines.ray_engine as ray_mod
    import synthdetect.scan.pipeline as pipeline

    class FakeRay:  # scans locally with the actors' settings: no thumbnails
        def __init__(self, plan, options=None, cluster=None):
            self.inner = pipeline.Scanner(plan, ray_mod.actor_options(options, cluster))
            assert self.inner.thumbnails is False

        def scan(self, files):
            return self.inner.scan(files)

        def shutdown(self):
            pass

    monkeypatch.setattr(ray_mod, "RayEngine", FakeRay)
    page = tmp_path / "r.html"
    r = cli(["scan", images["white"], images["black"], "--models-dir", models_dir, "--models", "bright", "-f", "html",
             "-o", str(page), "--no-progress", "--no-cache", "--no-provenance", "--no-quality-gates",
             "--domain-check", "off", "--engine", "ray", "--address", "ray://head:10001"])
    assert r.exit_code == 0, r.output
    assert page.read_text().count("data:image/jpeg;base64") == 2
