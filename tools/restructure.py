#!/usr/bin/env python3
"""Move synthdetect's flat top-level modules into stage packages and rewrite every reference.

    python3 tools/restructure.py            # do it (git mv + rewrites), print what changed
    python3 tools/restructure.py --dry-run  # print what it would do, change nothing

Whole files move (``git mv``; nothing is split: splits are done by hand, later), per the tables
below: ``MOVES`` for the package, ``TEST_MOVES`` for the tests that mirror it.  Each new package
gets an ``__init__.py`` whose docstring states its public API (``PACKAGES``); the ``__init__``
files import nothing, so they cannot create an import cycle.  Then every reference to a moved
module is rewritten in synthdetect/, tests/, tools/, benchmarks/, examples/, docs/, README.md,
pyproject.toml, Makefile and .ci/:

* import statements, absolute and relative (``from . import x``, ``from ..scan import Scanner``,
  ``import synthdetect.x as y``), re-expressed from the file's new place; a module imported by
  name keeps its local name (``from synthdetect import report`` becomes
  ``from synthdetect.output import text as report``), so the code using it is unchanged;
* dotted names anywhere else: strings of ``monkeypatch.setattr("synthdetect.x.y", ...)``,
  ``mock.patch`` targets, ``importlib.import_module("...")``, ``"module:callable"`` factories,
  docstrings and docs;
* file paths (``synthdetect/scan.py`` -> ``synthdetect/scan/pipeline.py``), package data in
  pyproject.toml included;
* ``Path(__file__).resolve().parents[N]`` in a moved file, by its change of depth.

It is idempotent: a move already done is skipped, and rewriting already-rewritten text changes
nothing (run it again: "nothing to do").  It refuses to run (listing them) when a top-level
module of synthdetect/ is in no table: a module added since the tables were written must be
given a place first — add a line to ``MOVES`` (or to ``STAY``).
"""

from __future__ import annotations

import argparse
import ast
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# --------------------------------------------------------------------------- the tables (extend here)
# old module -> new module; a package (a directory) moves whole with everything under it.
MOVES: dict[str, str] = {
    # inputs/: from a path on disk to the pixels a model reads
    "synthdetect.discovery": "synthdetect.inputs.discovery",
    "synthdetect.decoding": "synthdetect.inputs.decoding",
    "synthdetect.preprocess": "synthdetect.inputs.preprocess",
    "synthdetect.quality": "synthdetect.inputs.quality",
    # scan/: the pipeline, the models it runs and how their scores become verdicts
    "synthdetect.scan": "synthdetect.scan.pipeline",
    "synthdetect.runtime": "synthdetect.scan.runtime",
    "synthdetect.ensemble": "synthdetect.scan.ensemble",
    "synthdetect.calibration": "synthdetect.scan.calibration",
    "synthdetect.cache": "synthdetect.scan.cache",
    "synthdetect.engines": "synthdetect.scan.engines",
    # output/: records -> the formats an analyst reads
    "synthdetect.writers": "synthdetect.output.writers",
    "synthdetect.report": "synthdetect.output.text",
    "synthdetect.report_html": "synthdetect.output.html",
    # evaluation/: how well the detectors do (torch-free)
    "synthdetect.metrics": "synthdetect.evaluation.metrics",
    "synthdetect.plots": "synthdetect.evaluation.plots",
    # probes/: linear heads over backbone features, fitted without torch
    "synthdetect.probe_fit": "synthdetect.probes.fit",
    "synthdetect.probe_train": "synthdetect.probes.train",
    # Modules other sessions are adding (issue 19 and neighbours); where each lands.  A module in
    # no table stops the script; one listed here but absent is skipped.
    "synthdetect.domain": "synthdetect.scan.domain",
    "synthdetect.conditions": "synthdetect.scan.conditions",
    "synthdetect.safety": "synthdetect.output.safety",
    "synthdetect.outputs": "synthdetect.output.files",
    "synthdetect.thumbnails": "synthdetect.inputs.thumbnails",
    "synthdetect.records": "synthdetect.output.records",
    "synthdetect.options": "synthdetect.scan.options",
    "synthdetect.hashing": "synthdetect.inputs.hashing",
    "synthdetect.pool": "synthdetect.inputs.pool",
    "synthdetect.decode_pool": "synthdetect.inputs.pool",
}

# top-level names of synthdetect/ that stay where they are
STAY = {"__init__", "__main__", "cards", "console", "cli", "hub", "provenance", "train", "py.typed"}

# the tests mirror the package: old test module -> new one (its data files move with it: ``TEST_DATA``)
TEST_MOVES: dict[str, str] = {
    "tests.test_discovery": "tests.inputs.test_discovery",
    "tests.test_decoding": "tests.inputs.test_decoding",
    "tests.test_preprocess": "tests.inputs.test_preprocess",
    "tests.test_quality": "tests.inputs.test_quality",
    "tests.quality_builders": "tests.inputs.quality_builders",
    "tests.test_scan": "tests.scan.test_pipeline",
    "tests.test_runtime": "tests.scan.test_runtime",
    "tests.test_ensemble": "tests.scan.test_ensemble",
    "tests.test_calibration": "tests.scan.test_calibration",
    "tests.test_cache": "tests.scan.test_cache",
    "tests.test_ray_engine": "tests.scan.test_ray_engine",
    "tests.report": "tests.output",
    "tests.test_writers": "tests.output.test_writers",
    "tests.test_report": "tests.output.test_text",
    "tests.test_piped_output": "tests.output.test_piped_output",
    "tests.test_plots": "tests.evaluation.test_plots",
    "tests.test_probe_fit": "tests.probes.test_fit",
    "tests.test_probe_train": "tests.probes.test_train",
    "tests.test_domain": "tests.scan.test_domain",
    "tests.test_conditions": "tests.scan.test_conditions",
}

PACKAGES: dict[str, str] = {
    "synthdetect.inputs": '''From a path on disk to the pixels a model reads (no torch).

* ``discovery``: files, directories and stdin ``-`` -> ordered, de-duplicated candidates.
* ``decoding``: open read-only, decode with Pillow (EXIF orientation, RGB, bomb guard) -> ``Decoded``
  or ``DecodeError`` with a one-line reason.
* ``preprocess``: card-driven crops and normalisation (``to_input``, ``to_inputs``).
* ``quality``: the input-quality gates (docs/quality.md).

This ``__init__`` imports nothing: import the modules (``from synthdetect.inputs import decoding``).
''',
    "synthdetect.scan": '''The scan: plan, pipeline, the models it runs and how scores become verdicts (no torch).

* ``pipeline``: ``resolve_plan``, ``Scanner`` (the decode pool overlapping inference), result records.
* ``runtime``: onnxruntime sessions, networks, backbones, probe heads.
* ``ensemble``: how member scores combine; ``calibration``: thresholds from error budgets.
* ``cache``: the result cache; ``engines.ray_engine``: ``scan --engine ray``.

This ``__init__`` imports nothing (no cycle, a cheap ``import``): import the modules
(``from synthdetect.scan import pipeline``, ``from synthdetect.scan.pipeline import Scanner``).
''',
    "synthdetect.output": '''What an analyst reads: the output formats of ``scan`` and ``report``.

* ``writers``: one ``Writer`` per format in ``WRITERS`` (``register`` adds one), ``write``.
* ``text``: table, json, jsonl and csv renderers, the schema version, ``read_results``.
* ``html``: the HTML case report.

This ``__init__`` imports nothing: import the modules (``from synthdetect.output import writers``).
''',
    "synthdetect.evaluation": '''How well the detectors do, without torch.

* ``metrics``: acc/P/R/F1, best-F1 threshold, AP, ROC-AUC, EER, per generator.
* ``plots``: ROC / PR / histogram / reliability PNGs (matplotlib, optional).

This ``__init__`` imports nothing: import the modules.
''',
    "synthdetect.probes": '''Linear probes over a backbone's features, fitted without torch (``train probe``).

* ``fit``: exact L2-regularised logistic regression, nested cross-validation.
* ``train``: features (extraction + cache) -> a probe card.

This ``__init__`` imports nothing: import the modules.
''',
    "synthdetect.scan.engines": None,  # moves with its own __init__
    "tests.inputs": '"""Tests of synthdetect.inputs."""\n',
    "tests.scan": '"""Tests of synthdetect.scan."""\n',
    "tests.output": None,  # tests/report/ moves here with its __init__
    "tests.evaluation": '"""Tests of synthdetect.evaluation."""\n',
    "tests.probes": '"""Tests of synthdetect.probes."""\n',
}

SCOPE = ["synthdetect", "tests", "tools", "benchmarks", "examples", "docs", "README.md", "pyproject.toml",
         "Makefile", ".ci"]
TEXT_SUFFIXES = {".py", ".md", ".toml", ".txt", ".cfg", ".ini", ".sh", ".yml", ".yaml", ""}
# its own tables name the old modules on purpose; the draft module map describes the new tree
SKIP = {"tools/restructure.py", "docs/DESIGN-tree.md"}
SKIP_DIRS = {"__pycache__", "golden", "plots"}


# --------------------------------------------------------------------------- modules and paths
def module_path(mod: str) -> Path | None:
    """The file or package directory of a dotted module, or None."""
    base = REPO.joinpath(*mod.split("."))
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    if (base / "__init__.py").is_file():
        return base
    return None


def target_path(old: Path, new_mod: str) -> Path:
    base = REPO.joinpath(*new_mod.split("."))
    return base if old.is_dir() else base.with_suffix(".py")


def all_moves() -> dict[str, str]:
    return {**MOVES, **TEST_MOVES}


def unmapped() -> list[str]:
    """Top-level modules and packages of synthdetect/ that no table places."""
    moved = {m.split(".")[1] for m in MOVES}
    new_pkgs = {m.split(".")[1] for m in PACKAGES if m.startswith("synthdetect.")}
    out = []
    for p in sorted((REPO / "synthdetect").iterdir()):
        if p.is_file() and p.suffix == ".py":
            name = p.stem
        elif p.is_dir() and (p / "__init__.py").is_file():
            name = p.name
        else:
            continue  # data files (py.typed), __pycache__, directories that are no package
        if name not in STAY and name not in moved and name not in new_pkgs:
            out.append(f"synthdetect/{p.name}")
    return out


def plan_moves() -> tuple[list[tuple[str, str, Path, Path]], list[str]]:
    """(moves to do: old, new, old path, new path), notes."""
    todo, notes = [], []
    for old, new in all_moves().items():
        src = module_path(old)
        dst = module_path(new)
        if src is not None and dst is not None and not _inside(dst, src):
            raise SystemExit(f"restructure: both {src.relative_to(REPO)} and {dst.relative_to(REPO)} exist; "
                             "resolve by hand")
        if dst is not None or src is None:  # (src may be the package that now holds dst: scan/ for scan.py)
            notes.append(f"{old}: " + ("already moved" if dst is not None else "not present, skipped"))
            continue
        todo.append((old, new, src, target_path(src, new)))
    return todo, notes


def _inside(a: Path, b: Path) -> bool:
    try:
        a.relative_to(b)
        return True
    except ValueError:
        return False


def git(*args: str) -> None:
    subprocess.run(["git", *args], cwd=REPO, check=True)


def do_moves(todo, dry: bool) -> dict[Path, Path]:
    """git mv in two steps (via a temporary name, so ``scan.py`` can become ``scan/pipeline.py``).
    Returns new path -> old path of every file moved."""
    moved: dict[Path, Path] = {}
    staged = []
    for old, new, src, dst in todo:
        print(f"move  {src.relative_to(REPO)} -> {dst.relative_to(REPO)}")
        files = [src] if src.is_file() else [f for f in src.rglob("*") if f.is_file() and "__pycache__" not in f.parts]
        for f in files:
            moved[dst / f.relative_to(src) if src.is_dir() else dst] = f
        if dry:
            continue
        tmp = src.with_name(f".restructure-{src.name}")
        git("mv", str(src.relative_to(REPO)), str(tmp.relative_to(REPO)))
        staged.append((tmp, dst))
    for tmp, dst in staged:
        dst.parent.mkdir(parents=True, exist_ok=True)
        git("mv", str(tmp.relative_to(REPO)), str(dst.relative_to(REPO)))
    return moved


def make_packages(dry: bool) -> list[Path]:
    """An ``__init__.py`` (docstring only) in every new package directory; returns those written."""
    made = []
    for pkg, doc in PACKAGES.items():
        d = REPO.joinpath(*pkg.split("."))
        init = d / "__init__.py"
        if doc is None or init.exists() or not (dry or d.is_dir()):
            continue
        print(f"create {init.relative_to(REPO)}")
        made.append(init)
        if not dry:
            text = doc if doc.startswith('"""') else f'"""{doc.rstrip()}\n"""\n'
            init.write_text(text, encoding="utf-8")
            git("add", str(init.relative_to(REPO)))
    return made


# --------------------------------------------------------------------------- the name mapping
class Names:
    """Old -> new dotted names.  ``modules``: every module of the tree (moved ones under their old
    names); ``fresh``: the old names moved by this run."""

    def __init__(self, moves: dict[str, str], modules: set[str], fresh: set[str]):
        self.moves = moves
        self.new = set(moves.values()) | set(PACKAGES)
        self.modules = modules | set(moves)
        self.fresh = fresh

    @staticmethod
    def _longest(name: str, table) -> str | None:
        parts = name.split(".")
        for i in range(len(parts), 0, -1):
            cand = ".".join(parts[:i])
            if cand in table:
                return cand
        return None

    def remap(self, name: str) -> str:
        """The new name of a dotted reference (a module, or an attribute of one); unchanged if it
        names nothing moved or is already new (``synthdetect.scan.pipeline.X`` stays).

        A package with the name of the module it replaces (``synthdetect.scan``): ``synthdetect.scan.X``
        with X no module of the package is the old module's X (the package's ``__init__`` exports
        nothing); a bare ``synthdetect.scan`` is the old module only in the run that moves it."""
        old = self._longest(name, self.moves)
        if old is None:
            return name
        new = self._longest(name, self.new)
        if new is not None and len(new) > len(old):
            return name
        if new == old and name == old and old not in self.fresh:
            return name
        return self.moves[old] + name[len(old):]

    def is_module(self, name: str) -> bool:
        return name in self.modules or name in self.new


def tree_modules(moved_back: dict[Path, Path]) -> set[str]:
    """Dotted names of every module under synthdetect/ and tests/, moved files under their old names."""
    out = set()
    for top in ("synthdetect", "tests"):
        for p in (REPO / top).rglob("*.py"):
            p = moved_back.get(p, p)
            rel = p.relative_to(REPO).with_suffix("")
            parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
            out.add(".".join(parts))
    return out


def package_of(path: Path) -> list[str]:
    """The dotted package a file's relative imports start from."""
    rel = path.relative_to(REPO)
    return list(rel.parts[:-1])


# --------------------------------------------------------------------------- rewriting python
def _relative(target: str, pkg: list[str]) -> tuple[int, str]:
    t = target.split(".")
    c = 0
    while c < min(len(t), len(pkg)) and t[c] == pkg[c]:
        c += 1
    return len(pkg) - c + 1, ".".join(t[c:])


def _render_from(level: int, module: str, names: list[tuple[str, str | None]], indent: str) -> str:
    head = f"from {'.' * level}{module} import " if level else f"from {module} import "
    items = [n if a is None or a == n else f"{n} as {a}" for n, a in names]
    line = head + ", ".join(items)
    if len(indent) + len(line) <= 120:
        return line
    return head + "(\n" + "".join(f"{indent}    {i},\n" for i in items) + indent + ")"


def _rewrite_import(node, names: Names, old_pkg: list[str], new_pkg: list[str], indent: str | None) -> str | None:
    """New text for one import statement, or None when it stays."""
    if isinstance(node, ast.Import):
        out, changed = [], False
        for a in node.names:
            n = names.remap(a.name)
            changed |= n != a.name
            out.append(n if a.asname is None else f"{n} as {a.asname}")
        return f"import {', '.join(out)}" if changed else None
    if node.module == "__future__" or any(a.name == "*" for a in node.names):
        return None
    if node.level:
        base = old_pkg[: len(old_pkg) - node.level + 1]
        src = ".".join(base + ([node.module] if node.module else []))
    else:
        src = node.module or ""
    groups: dict[str, list[tuple[str, str | None]]] = {}
    for a in node.names:
        full = f"{src}.{a.name}" if src else a.name
        if names.is_module(full):
            nfull = names.remap(full)
            mod, _, name = nfull.rpartition(".")
            bind = a.asname or a.name
            groups.setdefault(mod, []).append((name, None if bind == name else bind))
        else:
            mod, _, name = names.remap(full).rpartition(".")
            groups.setdefault(mod, []).append((name, a.asname))
    if node.level:
        render = [(_relative(m, new_pkg), ns) for m, ns in groups.items()]
        same = (len(render) == 1 and render[0][0] == (node.level, node.module or "")
                and render[0][1] == [(a.name, a.asname) for a in node.names])
        if same:
            return None
        return _join([_render_from(lv, m, ns, indent or "") for (lv, m), ns in render], indent)
    if list(groups) == [src] and groups[src] == [(a.name, a.asname) for a in node.names]:
        return None
    return _join([_render_from(0, m, ns, indent or "") for m, ns in groups.items()], indent)


def _join(stmts: list[str], indent: str | None) -> str:
    """Statements on their own lines at ``indent``; after other code on the line (indent None), with '; '."""
    return "; ".join(stmts) if indent is None else ("\n" + indent).join(stmts)


def _offsets(text: str) -> list[int]:
    out, pos = [0], 0
    for line in text.splitlines(keepends=True):
        pos += len(line)
        out.append(pos)
    return out


def rewrite_python(text: str, path: Path, old_path: Path, names: Names) -> tuple[str, int, list[tuple[int, int]]]:
    """(new text, number of import statements rewritten, spans of every import statement in the new text)."""
    tree = ast.parse(text)
    starts = _offsets(text)
    old_pkg, new_pkg = package_of(old_path), package_of(path)  # an __init__'s own package: its directory
    edits, spans = [], []
    for node in ast.walk(tree):
        if not isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        a = starts[node.lineno - 1] + node.col_offset
        b = starts[node.end_lineno - 1] + node.end_col_offset
        indent = text[starts[node.lineno - 1]: a]
        indent = indent if indent.strip() == "" else None
        new = _rewrite_import(node, names, old_pkg, new_pkg, indent)
        edits.append((a, b, new))
    out, last, n = [], 0, 0
    for a, b, new in sorted(edits):
        out.append(text[last:a])
        start = sum(len(x) for x in out)
        seg = text[a:b] if new is None else new
        n += new is not None
        out.append(seg)
        spans.append((start, start + len(seg)))
        last = b
    out.append(text[last:])
    return "".join(out), n, spans


# --------------------------------------------------------------------------- rewriting any text
DOTTED = re.compile(r"(?<![\w.])((?:synthdetect|tests)(?:\.[A-Za-z_]\w*)+)(?![\w-])")  # not "synthdetect.model-card/1"
# an import statement inside a string or a doc (one line, no parentheses)
TEXT_IMPORT = re.compile(r"(?:(?<=\\n)|(?<!\w))from (?:synthdetect|tests)(?:\.\w+)* import \w+(?: as \w+)?(?:, \w+(?: as \w+)?)*")
PARENTS = re.compile(r"(Path\(__file__\)\.resolve\(\)\.parents\[)(\d+)(\])")


def path_map(moves: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """(files, directories): 'synthdetect/scan.py' -> 'synthdetect/scan/pipeline.py'; for a moved
    package 'synthdetect/engines/' -> 'synthdetect/scan/engines/' (a prefix of the paths under it)."""
    files, dirs = {}, {}
    for old, new in moves.items():
        o, n = old.replace(".", "/"), new.replace(".", "/")
        where = module_path(new) or module_path(old)
        if where is not None and where.is_dir():
            dirs[o + "/"] = n + "/"
        else:
            files[o + ".py"] = n + ".py"
    return files, dirs


def _alternatives(keys) -> str:
    return "|".join(re.escape(k) for k in sorted(keys, key=len, reverse=True)) or r"(?!x)x"


def rewrite_text(text: str, names: Names, paths: tuple[dict[str, str], dict[str, str]],
                 skip: list[tuple[int, int]]) -> tuple[str, int]:
    """Dotted names and file paths outside the ``skip`` spans (import statements already done)."""
    count = 0
    files, dirs = paths
    file_re = re.compile(r"(?<![\w/.])(" + _alternatives(files) + r")(?!\w)")
    dir_re = re.compile(r"(?<![\w/.])(" + _alternatives(dirs) + r")")

    def sub_dotted(m):
        nonlocal count
        new = names.remap(m.group(1))
        count += new != m.group(1)
        return new

    def sub_with(table):
        def sub(m):
            nonlocal count
            count += 1
            return table[m.group(1)]
        return sub

    def plain(chunk: str) -> str:
        chunk = DOTTED.sub(sub_dotted, chunk)
        chunk = file_re.sub(sub_with(files), chunk)
        return dir_re.sub(sub_with(dirs), chunk)

    def with_statements(chunk: str) -> str:
        """``from synthdetect import x`` written in a string or a doc: rewritten as a statement."""
        nonlocal count
        out, pos = [], 0
        for m in TEXT_IMPORT.finditer(chunk):
            try:
                node = ast.parse(m.group(0).strip()).body[0]
            except (SyntaxError, IndexError):
                continue
            new = _rewrite_import(node, names, [], [], None)
            if new is None:
                continue
            count += 1
            out += [plain(chunk[pos:m.start()]), new]
            pos = m.end()
        return "".join(out) + plain(chunk[pos:])

    pieces, last = [], 0
    for a, b in sorted(skip) + [(len(text), len(text))]:
        pieces.append(with_statements(text[last:a]))
        pieces.append(text[a:b])
        last = b
    return "".join(pieces), count


def fix_parents(text: str, depth_change: int) -> tuple[str, int]:
    if not depth_change:
        return text, 0
    n = 0

    def sub(m):
        nonlocal n
        k = int(m.group(2))
        if k == 0:
            return m.group(0)
        n += 1
        return f"{m.group(1)}{k + depth_change}{m.group(3)}"

    return PARENTS.sub(sub, text), n


def files_in_scope() -> list[Path]:
    out = []
    for s in SCOPE:
        p = REPO / s
        cands = [p] if p.is_file() else (p.rglob("*") if p.is_dir() else [])
        for f in cands:
            rel = f.relative_to(REPO).as_posix()
            if not f.is_file() or rel in SKIP or SKIP_DIRS & set(f.relative_to(REPO).parts):
                continue
            if f.suffix in TEXT_SUFFIXES or f.name in ("Makefile", "run"):
                out.append(f)
    return sorted(out)


def rewrite_all(names: Names, moved: dict[Path, Path], dry: bool) -> int:
    paths = path_map(names.moves)
    generated = {REPO.joinpath(*p.split("."), "__init__.py") for p, doc in PACKAGES.items() if doc is not None}
    total = 0
    for f in files_in_scope():
        if f in generated:
            continue
        try:
            text = f.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        old_path = moved.get(f, f)
        new, n_imp, n_txt, n_par, spans = text, 0, 0, 0, []
        if f.suffix == ".py":
            try:
                new, n_imp, spans = rewrite_python(text, f, old_path, names)
            except SyntaxError:
                spans = []
            change = len(f.relative_to(REPO).parts) - len(old_path.relative_to(REPO).parts)
            new, n_par = fix_parents(new, change)
        new, n_txt = rewrite_text(new, names, paths, spans)
        if new != text:
            total += 1
            what = ", ".join(f"{k} {v}" for k, v in (("imports", n_imp), ("names/paths", n_txt),
                                                     ("parents[]", n_par)) if v)
            print(f"edit  {f.relative_to(REPO)}: {what}")
            if not dry:
                f.write_text(new, encoding="utf-8")
    return total


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dry-run", action="store_true", help="print what would change; change nothing")
    a = ap.parse_args()
    missing = unmapped()
    if missing:
        print("restructure: these top-level modules are in no table (add them to MOVES or STAY in "
              "tools/restructure.py):\n  " + "\n  ".join(missing), file=sys.stderr)
        return 2
    todo, notes = plan_moves()
    for n in notes:
        print(f"note  {n}")
    done_before = {o: n for o, n in all_moves().items() if module_path(n) is not None}
    moved = do_moves(todo, a.dry_run)
    made = make_packages(a.dry_run)
    if a.dry_run:  # the files are still in their old places: the counts below are indicative
        moved = {}
    active = {o: n for o, n in all_moves().items() if o in {t[0] for t in todo} or o in done_before}
    names = Names(active, tree_modules(moved), fresh={t[0] for t in todo})
    edited = rewrite_all(names, moved, a.dry_run)
    if not todo and not made and not edited:
        print("restructure: nothing to do (already restructured)")
    else:
        print(f"restructure: {len(todo)} moves, {len(made)} packages created, {edited} files edited"
              + (" (dry run: nothing changed)" if a.dry_run else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
