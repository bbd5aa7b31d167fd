"""The ``synthdetect`` app itself (synthdetect/cli/__init__.py): start-up, --help, --version.

Each verb has its tests in tests/cli/test_<verb>.py.
"""

import re

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
         "code = 0\ntry:\n    cli.main()\nexcept SystemExit as e:\n    code = e.code\n"
         "print('MODS', sorted(m for m in sys.modules if m.startswith('synthdetect')"
         " or m.split('.')[0] in ('numpy', 'PIL', 'onnxruntime', 'torch', 'rich', 'markdown_it')), file=sys.stderr)\n"
         "sys.exit(code)\n")


def _run(argv, pre: str = "", **env_extra: str):
    import json
    import os
    import subprocess
    import sys

    from tests.support import REPO

    env = dict(os.environ, PYTHONPATH=str(REPO), COLUMNS="120")
    env.update(env_extra)
    env.pop("SYNTHDETECT_MODELS_DIR", None)
    r = subprocess.run([sys.executable, "-c", _SHOW.format(pre=pre, argv=["synthdetect", *argv])],
                       capture_output=True, text=True, timeout=120, env=env)
    line = [ln for ln in r.stderr.splitlines() if ln.startswith("MODS")][-1]
    return r, json.loads(line[5:].replace("'", '"'))


def test_import_budget_of_the_cli_and_its_help():
    """``import synthdetect.cli`` and ``synthdetect --help`` load the app, its error codes and the root's help
    page, no verb module, nothing of the pipeline (cards, writers, provenance, train), none of numpy / Pillow /
    onnxruntime, and no rich at all: typer's rich help renderer (rich.markdown, markdown_it, rich.traceback,
    ...) was 40 % of ``--help``'s time; the root page is drawn by cli/root_help.py."""
    budget = ["synthdetect", "synthdetect.cli", "synthdetect.cli.errors", "synthdetect.cli.root_help"]
    for argv in (["--version"], ["--help"], ["-h"], []):
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


def _words(page: str) -> list[str]:
    return re.sub(r"[│╭╮╰╯─]", " ", page).split()


def test_root_help_says_what_typers_rich_page_said():
    """Word for word what typer's rich renderer prints for the root (usage, description, options with
    their types and help, every command with its line), only without its imports."""
    ours, _ = _run(["--help"])
    pre = "from synthdetect import cli\ncli._VerbGroup.format_help = cli.TyperGroup.format_help\n"
    typers, mods = _run(["--help"], pre)
    assert "rich.markdown" in mods  # the reference really is typer's rich page
    assert ours.returncode == typers.returncode == 0
    assert _words(ours.stdout) == _words(typers.stdout)


def test_root_help_lists_every_verb_with_its_line_in_order():
    from synthdetect.cli import VERBS

    r, _ = _run(["--help"], COLUMNS="250")  # wide enough for every line on one row
    rows = [ln.strip("│ ").split(None, 1) for ln in r.stdout.split("Commands")[1].splitlines()[1:-1]]
    assert rows == [[name, line] for name, (_, line) in VERBS.items()]
    narrow, _ = _run(["--help"], COLUMNS="60")  # wrapped: no line wider than the terminal, no word lost
    assert max(len(ln) for ln in narrow.stdout.splitlines()) <= 60
    assert _words(narrow.stdout) == _words(r.stdout)
    assert "Print the version and exit." in r.stdout and "-h" in r.stdout and "--help" in r.stdout


def test_root_help_is_plain_when_piped_or_no_color_and_styled_on_a_terminal():
    from typer.testing import CliRunner

    from synthdetect.cli import app

    piped, _ = _run(["--help"])
    assert "\x1b[" not in piped.stdout and "Commands" in piped.stdout
    on_a_terminal = CliRunner().invoke(app, ["--help"], color=True, env={"NO_COLOR": None, "COLUMNS": "120"})
    assert "\x1b[36m\x1b[1mscan\x1b[0m" in on_a_terminal.stdout  # the command names bold cyan, as typer's
    no_color = CliRunner().invoke(app, ["--help"], color=True, env={"NO_COLOR": "1", "COLUMNS": "120"})
    assert no_color.exit_code == 0 and no_color.stdout == piped.stdout  # the same page, unstyled


def test_no_arguments_prints_the_help_and_is_a_usage_error():
    bare, _ = _run([])
    helped, _ = _run(["--help"])
    assert bare.returncode == 2 and bare.stdout == helped.stdout and bare.stderr.startswith("MODS")


def test_every_mounted_command_is_listed_with_its_module():
    from synthdetect.cli import VERBS, load_verb_module

    for module in sorted({m for m, _ in VERBS.values()}):
        for name in load_verb_module(module):
            assert VERBS.get(name, ("?",))[0] == module, f"cli/{module}.py mounts {name!r}: list it in VERBS"


def test_unknown_verb_is_a_usage_error_with_a_suggestion():
    r = cli(["scna"])
    assert r.exit_code == 2 and "Did you mean 'scan'" in r.output
    r, _ = _run(["scna"])  # as the command runs: typer's error panel on stderr
    assert r.returncode == 2 and "No such command 'scna'. Did you mean 'scan'?" in r.stderr and not r.stdout
