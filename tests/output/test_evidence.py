"""synthdetect/output/evidence.py: the one output check (docs/safety.md)."""

import os

import pytest

from synthdetect.output.evidence import Inputs, OutputRefused


@pytest.fixture
def ev(tmp_path):
    d = tmp_path / "ev"
    d.mkdir()
    (d / "a.jpg").write_bytes(b"photo a")
    (d / "b.jpg").write_bytes(b"photo b")
    return d


def test_same_file_by_any_name_is_refused(ev, tmp_path, monkeypatch):
    inputs = Inputs([ev / "a.jpg"])
    os.symlink(ev / "a.jpg", tmp_path / "link.jpg")
    os.link(ev / "a.jpg", tmp_path / "hard.jpg")
    monkeypatch.chdir(ev)
    for p in (ev / "a.jpg", "a.jpg", ev / ".." / "ev" / "a.jpg", tmp_path / "link.jpg", tmp_path / "hard.jpg"):
        with pytest.raises(OutputRefused, match="refusing to overwrite evidence"):
            inputs.check_file(p)
    inputs.check_file(ev / "b.jpg")  # not an input: allowed (force defaults to True)
    inputs.check_file(tmp_path / "new.jsonl")


def test_non_regular_outputs(ev, tmp_path):
    """Streams (a pipe, /dev/null) are written to, never overwritten: allowed, unless they are an
    input.  Directories, sockets and dangling links are refused."""
    import socket

    os.mkfifo(tmp_path / "fifo")
    os.symlink(tmp_path / "nowhere", tmp_path / "dangling")
    inputs = Inputs()
    inputs.check_file(tmp_path / "fifo", force=False)
    inputs.check_file("/dev/null", force=False)
    with pytest.raises(OutputRefused, match="refusing to overwrite evidence"):
        Inputs([tmp_path / "fifo"]).check_file(tmp_path / "fifo")
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(tmp_path / "sock"))
        with pytest.raises(OutputRefused, match="not a regular file"):
            inputs.check_file(tmp_path / "sock")
    finally:
        sock.close()
    with pytest.raises(OutputRefused, match="is a directory"):
        inputs.check_file(ev)
    with pytest.raises(OutputRefused, match="missing file"):
        inputs.check_file(tmp_path / "dangling")
    assert not (tmp_path / "nowhere").exists()


def test_force_only_replaces_files_that_are_not_inputs(ev):
    inputs = Inputs([ev / "a.jpg"])
    with pytest.raises(OutputRefused, match="exists"):
        inputs.check_file(ev / "b.jpg", force=False)
    with pytest.raises(OutputRefused, match="evidence"):
        inputs.check_file(ev / "a.jpg", force=True)


def test_directories(ev, tmp_path):
    inputs = Inputs([ev / "a.jpg"])
    with pytest.raises(OutputRefused, match="holds a file this command reads"):
        inputs.check_dir(tmp_path)
    with pytest.raises(OutputRefused, match="holds"):
        inputs.check_dir(ev)
    inputs.check_dir(ev / "run")  # nothing read below it
    inputs.check_dir(ev, names=["b.json"])  # only these files are written there
    with pytest.raises(OutputRefused, match="evidence"):
        inputs.check_dir(ev, names=["a.jpg"])
    with pytest.raises(OutputRefused, match="evidence"):
        inputs.check_dir(ev / "a.jpg")
