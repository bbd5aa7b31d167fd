"""tools/restructure.py on a tiny repository: moves, import rewriting from the new place, strings
and paths, idempotence, and the refusal to run with a top-level module in no table."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

TOOL = Path(__file__).resolve().parents[1] / "tools" / "restructure.py"

FILES = {
    "synthdetect/__init__.py": '__version__ = "1"\n',
    "synthdetect/cards.py": "X = 1\n",
    "synthdetect/scan.py": "from .cards import X\nfrom . import __version__\n\n\nclass Scanner:\n    pass\n",
    "synthdetect/report.py": "def f():\n    from .scan import Scanner\n    return Scanner\n",
    "synthdetect/cli/__init__.py": "",
    "synthdetect/cli/verb.py": ("from .. import scan, report\nfrom ..scan import Scanner\n\n\n"
                                "def run():\n    from ..report import f\n    return f, scan, report, Scanner\n"),
    "tests/test_scan.py": ("from pathlib import Path\n\nfrom synthdetect import scan\nfrom synthdetect.scan import Scanner\n"
                           "REPO = Path(__file__).resolve().parents[1]\n"
                           "TARGET = \"synthdetect.scan.Scanner\"  # a monkeypatch target\n"
                           "CODE = \"import sys\\nfrom synthdetect import report\\n\"\n"
                           "SCHEMA = \"synthdetect.scan-card/1\"\n"),
    "docs/design.md": "`synthdetect/scan.py` holds `synthdetect.scan.Scanner`; `synthdetect.report`.\n",
}


@pytest.fixture
def tool(tmp_path, monkeypatch):
    for rel, text in FILES.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    git = ["git", "-c", "user.email=t@t", "-c", "user.name=t"]
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run(["git", "add", "."], cwd=tmp_path, check=True)
    subprocess.run([*git, "commit", "-qm", "x"], cwd=tmp_path, check=True)
    spec = importlib.util.spec_from_file_location("restructure_under_test", TOOL)
    R = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(R)
    monkeypatch.setattr(R, "REPO", tmp_path)
    monkeypatch.setattr(R, "MOVES", {"synthdetect.scan": "synthdetect.scan.pipeline",
                                     "synthdetect.report": "synthdetect.output.text"})
    monkeypatch.setattr(R, "TEST_MOVES", {"tests.test_scan": "tests.scan.test_pipeline"})
    monkeypatch.setattr(R, "PACKAGES", {"synthdetect.scan": "The scan.\n", "synthdetect.output": "Output.\n",
                                        "tests.scan": '"""Tests."""\n'})
    monkeypatch.setattr(R, "STAY", {"__init__", "cards", "cli"})
    monkeypatch.setattr(sys, "argv", ["restructure.py"])
    return R


def test_moves_rewrites_and_is_idempotent(tool, tmp_path, capsys):
    assert tool.main() == 0
    out = capsys.readouterr().out
    assert "move  synthdetect/scan.py -> synthdetect/scan/pipeline.py" in out
    read = lambda rel: (tmp_path / rel).read_text()  # noqa: E731
    assert not (tmp_path / "synthdetect/scan.py").exists()
    assert read("synthdetect/scan/__init__.py") == '"""The scan.\n"""\n'
    assert read("synthdetect/scan/pipeline.py").startswith("from ..cards import X\nfrom .. import __version__\n")
    assert "    from ..scan.pipeline import Scanner\n" in read("synthdetect/output/text.py")
    verb = read("synthdetect/cli/verb.py")
    assert verb.startswith("from ..scan import pipeline as scan\nfrom ..output import text as report\n"
                           "from ..scan.pipeline import Scanner\n")
    assert "    from ..output.text import f\n" in verb
    test = read("tests/scan/test_pipeline.py")
    assert "from synthdetect.scan import pipeline as scan\nfrom synthdetect.scan.pipeline import Scanner\n" in test
    assert "parents[2]" in test and 'TARGET = "synthdetect.scan.pipeline.Scanner"' in test
    assert "from synthdetect.output import text as report\\n" in test
    assert 'SCHEMA = "synthdetect.scan-card/1"' in test  # an identifier, not a module
    assert read("docs/design.md") == ("`synthdetect/scan/pipeline.py` holds `synthdetect.scan.pipeline.Scanner`; "
                                      "`synthdetect.output.text`.\n")
    for rel in ("synthdetect/scan/pipeline.py", "synthdetect/output/text.py", "synthdetect/cli/verb.py",
                "tests/scan/test_pipeline.py"):
        compile(read(rel), rel, "exec")
    before = {p: p.read_text() for p in tmp_path.rglob("*") if p.is_file() and ".git" not in p.parts}
    assert tool.main() == 0
    assert "nothing to do" in capsys.readouterr().out
    assert before == {p: p.read_text() for p in tmp_path.rglob("*") if p.is_file() and ".git" not in p.parts}


def test_refuses_a_top_level_module_in_no_table(tool, tmp_path, capsys):
    (tmp_path / "synthdetect" / "domain.py").write_text("")
    assert tool.main() == 2
    err = capsys.readouterr().err
    assert "in no table" in err and "synthdetect/domain.py" in err
    assert (tmp_path / "synthdetect" / "scan.py").exists()  # nothing was moved
