"""The ``synthdetect`` app itself (synthdetect/cli/__init__.py): start-up, --help, --version.

Each verb has its tests in tests/cli/test_<verb>.py.
"""

from tests.support import cli, imported_by


def test_help_imports_no_torch_nor_heavy_libs():
    r, mods = imported_by(["--help"])
    assert "scan" in r.stdout
    assert "torch" not in mods and "torchvision" not in mods
    assert "numpy" not in mods and "onnxruntime" not in mods  # lazy imports keep start-up fast


def test_version():
    r = cli(["--version"])
    assert r.exit_code == 0
    from synthdetect import __version__

    assert r.stdout.strip() == f"synthdetect {__version__}"
