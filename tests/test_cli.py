"""The ``synthdetect`` app itself (synthdetect/cli/__init__.py): start-up, --help, --version.

Each verb has its tests in tests/cli/test_<verb>.py.
"""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_cli(args, input=None):
    from typer.testing import CliRunner

    from synthdetect.cli import app

    return CliRunner().invoke(app, [str(a) for a in args], input=input)


def _probe(argv):
    """Run the CLI in a fresh interpreter and report which heavy modules got imported."""
    code = (
        "import sys\n"
        f"sys.argv = {['synthdetect', *argv]!r}\n"
        "from synthdetect.cli import main\n"
        "try:\n    main()\nexcept SystemExit as e:\n    code = e.code\n"
        "print('MODS', sorted(m for m in ('torch', 'torchvision', 'open_clip', 'numpy', 'onnxruntime', 'PIL') if m in sys.modules), file=sys.stderr)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO))
    env.pop("SYNTHDETECT_MODELS_DIR", None)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    line = [l for l in r.stderr.splitlines() if l.startswith("MODS")][-1]
    return r, eval(line[5:])


def test_help_imports_no_torch_nor_heavy_libs():
    r, mods = _probe(["--help"])
    assert "scan" in r.stdout
    assert "torch" not in mods and "torchvision" not in mods
    assert "numpy" not in mods and "onnxruntime" not in mods  # lazy imports keep start-up fast


def test_version():
    r = run_cli(["--version"])
    assert r.exit_code == 0
    from synthdetect import __version__

    assert r.stdout.strip() == f"synthdetect {__version__}"
