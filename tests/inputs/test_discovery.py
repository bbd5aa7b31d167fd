import io
import os
import threading

import pytest
from PIL import Image

from synthdetect.inputs.discovery import discover, has_image_extension, sniff, sniff_bytes


def _img(path, fmt=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8)).save(path, format=fmt)
    return path


def test_extensions_case_insensitive_and_suffix_only(tmp_path):
    from pathlib import Path

    assert has_image_extension(Path("A.JPG"))
    assert has_image_extension(Path("x.tar.png"))
    assert not has_image_extension(Path("photo.jpg.txt"))
    assert not has_image_extension(Path("noext"))


def test_sniff_signatures(tmp_path):
    for fmt, ext in (("PNG", "png"), ("JPEG", "jpg"), ("GIF", "gif"), ("BMP", "bmp"), ("TIFF", "tif"), ("WEBP", "webp")):
        p = _img(tmp_path / f"x.{ext}", fmt)
        assert sniff(p) == fmt
    assert sniff_bytes(b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1") == "AVIF"
    assert sniff_bytes(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic") == "HEIF"
    assert sniff_bytes(b"hello world") is None


def test_walk_sorted_recursive_and_skips_counted(tmp_path):
    _img(tmp_path / "b.png")
    _img(tmp_path / "a.jpg", "JPEG")
    _img(tmp_path / "sub" / "c.webp", "WEBP")
    _img(tmp_path / "sub" / "NOEXT", "PNG")  # found by magic bytes
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "sub" / "data.csv").write_text("x")
    res = discover([tmp_path], recursive=True)
    names = [p.name for p in res.files]
    assert names == ["a.jpg", "b.png", "NOEXT", "c.webp"]
    assert res.skipped_non_image == 2
    res2 = discover([tmp_path], recursive=False)
    assert [p.name for p in res2.files] == ["a.jpg", "b.png"]
    assert res2.skipped_non_image == 1


def test_explicit_files_always_attempted(tmp_path):
    t = tmp_path / "notes.txt"
    t.write_text("x")
    res = discover([t])
    assert res.files == [t] and res.skipped_non_image == 0


def test_missing_path_is_error(tmp_path):
    res = discover([tmp_path / "nope.jpg"])
    assert res.files == [] and len(res.errors) == 1
    assert "no such file" in res.errors[0].reason


def test_dedup_keeps_first(tmp_path):
    a = _img(tmp_path / "a.png")
    res = discover([a, tmp_path, a])
    assert res.files == [a]


def test_symlink_loop_does_not_hang(tmp_path):
    d = tmp_path / "d"
    _img(d / "x.png")
    os.symlink(tmp_path, d / "up")  # d/up -> parent: a cycle
    os.symlink("self", tmp_path / "self")  # self-referencing link
    out = {}

    def run():
        out["res"] = discover([tmp_path], recursive=True)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(10)
    assert not t.is_alive(), "discovery hung on a symlink loop"
    res = out["res"]
    assert [p.name for p in res.files] == ["x.png"]
    assert res.symlink_loops >= 1
    assert any("symbolic link" in e.reason for e in res.errors)


def test_stdin_paths(tmp_path):
    a = _img(tmp_path / "a b.png")  # spaces kept
    b = _img(tmp_path / "c.png")
    stdin = io.StringIO(f"{a}\n\n{b}\r\n")
    res = discover(["-"], stdin=stdin)
    assert res.files == [a, b]


def test_fifo_reported_not_opened(tmp_path):
    from synthdetect.inputs.decoding import DecodeError, decode

    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs on this platform")
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    res = discover([tmp_path])
    assert res.files == [] and res.errors[0].reason == "not a regular file"
    with pytest.raises(DecodeError, match="not a regular file"):  # explicit: must not block
        decode(fifo)


def test_one_record_per_path_for_errors_too(tmp_path):
    """A missing path named twice, or a link to a device named and found by the walk, is one input."""
    os.symlink("/dev/null", tmp_path / "dev.jpg")
    os.symlink("self.jpg", tmp_path / "self.jpg")
    res = discover([tmp_path / "nope.jpg", tmp_path / "nope.jpg", tmp_path / "dev.jpg", tmp_path])
    assert [(os.path.basename(e.path), e.reason.split(":")[0]) for e in res.errors] == [
        ("nope.jpg", "no such file or directory"), ("self.jpg", "cannot stat")]
    assert res.files == [tmp_path / "dev.jpg"]  # named: tried (and refused by the decoder, one record)
    res = discover([tmp_path])
    assert {os.path.basename(e.path): e.reason for e in res.errors}["dev.jpg"] == "not a regular file"  # not "broken"


def test_subdirectory_named_before_its_parent_is_no_loop(tmp_path):
    _img(tmp_path / "a.png")
    _img(tmp_path / "sub" / "b.png")
    res = discover([tmp_path / "sub", tmp_path])
    assert sorted(p.name for p in res.files) == ["a.png", "b.png"] and res.symlink_loops == 0


def test_file_that_cannot_be_read_to_sniff_is_an_error(tmp_path, monkeypatch):
    """An extension-less file whose first bytes cannot be read may be an image: an error, not 'skipped'."""
    import synthdetect.inputs.discovery as discovery

    _img(tmp_path / "IMG_0001", "JPEG")

    def denied(path):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(discovery, "open_regular", denied)
    res = discover([tmp_path])
    assert res.files == [] and res.skipped_non_image == 0
    assert [e.reason for e in res.errors] == ["cannot read: Permission denied"]
