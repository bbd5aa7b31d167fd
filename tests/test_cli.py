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


# --------------------------------------------------------------------------- lazy verbs: the import budget
_SHOW = ("import sys\n{pre}sys.argv = {argv!r}\nfrom synthdetect import cli\n"
         "try:\n    cli.main()\nexcept SystemExit:\n    pass\n"
         "print('MODS', sorted(m for m in sys.modules if m.startswith('synthdetect')"
         " or m.split('.')[0] in ('numpy', 'PIL', 'onnxruntime', 'torch')), file=sys.stderr)\n")


def _run(argv, pre: str = ""):
    import json
    import os
    import subprocess
    import sys

    from tests.support import REPO

    env = dict(os.environ, PYTHONPATH=str(REPO), COLUMNS="120")
    env.pop("SYNTHDETECT_MODELS_DIR", None)
    r = subprocess.run([sys.executable, "-c", _SHOW.format(pre=pre, argv=["synthdetect", *argv])],
                       capture_output=True, text=True, timeout=120, env=env)
    line = [ln for ln in r.stderr.splitlines() if ln.startswith("MODS")][-1]
    return r, json.loads(line[5:].replace("'", '"'))


def test_import_budget_of_the_cli_and_its_help():
    """``import synthdetect.cli`` and ``synthdetect --help`` load the app and its error codes, no verb module,
    nothing of the pipeline (cards, writers, provenance, train) and none of numpy / Pillow / onnxruntime."""
    budget = ["synthdetect", "synthdetect.cli", "synthdetect.cli.errors"]
    for argv in (["--version"], ["--help"], []):
        r, mods = _run(argv)
        assert mods == budget, (argv, mods)
    assert "scan" in r.stdout and "weights" in r.stdout


def test_a_verb_loads_only_its_own_module():
    r, mods = _run(["inspect", "--help"])
    assert r.returncode == 0 and "--format" in r.stdout
    assert "synthdetect.cli.inspect" in mods
    assert not {"synthdetect.cli.scan", "synthdetect.cli.train", "synthdetect.cli.weights"} & set(mods), mods
    assert not {"numpy", "PIL", "onnxruntime", "torch"} & set(mods), mods


def test_help_from_the_table_is_the_help_of_the_loaded_verbs():
    """The root --help lists ``VERBS`` from the table; loading every verb first prints the same bytes,
    so each one-line help in the table is its command's own, in the same order."""
    from synthdetect.cli import VERBS

    lazy, _ = _run(["--help"])
    modules = sorted({m for m, _ in VERBS.values()})
    pre = ("from synthdetect import cli\n_init = cli._VerbGroup.__init__\n"
           f"def _eager(self, **kw):\n    _init(self, **kw)\n    for m in {modules!r}:\n        self.load(m)\n"
           "cli._VerbGroup.__init__ = _eager\n")
    eager, mods = _run(["--help"], pre)
    assert {f"synthdetect.cli.{m}" for m in modules} <= set(mods)
    assert lazy.stdout == eager.stdout and lazy.returncode == eager.returncode == 0


def test_every_mounted_command_is_listed_with_its_module():
    from synthdetect.cli import VERBS, load_verb_module

    for module in sorted({m for m, _ in VERBS.values()}):
        for name in load_verb_module(module):
            assert VERBS.get(name, ("?",))[0] == module, f"cli/{module}.py mounts {name!r}: list it in VERBS"


def test_unknown_verb_is_a_usage_error_with_a_suggestion():
    r = cli(["scna"])
    assert r.exit_code == 2 and "Did you mean 'scan'" in r.output
