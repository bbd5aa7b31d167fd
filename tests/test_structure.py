"""The package's shape, checked rather than remembered: no import cycle between modules (imports
inside functions count) and no function longer than ``MAX_LINES``.

The import graph is read from the source with ``ast``, the way
``python3 /work/shared/tools/structure.py synthdetect`` reads it: every ``import`` /
``from ... import`` statement anywhere in a module (also inside functions) is an edge; relative
imports are resolved; ``from pkg import name`` is an edge to ``pkg.name`` when that is a module,
else to ``pkg``; a package's ``__init__`` importing its own submodules is not counted (it is how a
package states its public API).  Names given as strings (``"pkg.mod:Callable"`` factories,
``importlib.import_module``) are not imports.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "synthdetect"
MAX_LINES = 100

def _modules(root: Path = PACKAGE) -> dict[str, Path]:
    mods = {}
    for p in sorted(root.rglob("*.py")):
        rel = p.relative_to(root.parent).with_suffix("")
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        mods[".".join(parts)] = p
    return mods


def _targets(mods: dict[str, Path], cur: str, node: ast.Import | ast.ImportFrom) -> set[str]:
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    else:
        if node.level:
            base = cur.split(".")
            base = base[: len(base) - node.level + (1 if mods[cur].name == "__init__.py" else 0)]
            stem = ".".join(base + ([node.module] if node.module else []))
        else:
            stem = node.module or ""
        names = [stem] + [f"{stem}.{a.name}" for a in node.names]
    out = set()
    for n in names:
        while n and n not in mods and "." in n:
            n = n.rsplit(".", 1)[0]
        if n in mods and n != cur:
            out.add(n)
    return out


def import_graph(root: Path = PACKAGE) -> dict[str, set[str]]:
    """module -> the package modules it imports (anywhere in its body)."""
    mods = _modules(root)
    graph = {}
    for m, p in mods.items():
        deps: set[str] = set()
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                deps |= _targets(mods, m, node)
        own_init = p.name == "__init__.py"
        graph[m] = {d for d in deps if not (own_init and d.startswith(m + "."))}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on.add(start)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(graph.get(w, ())))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return sorted(out)


def long_functions(root: Path = PACKAGE, limit: int = MAX_LINES) -> dict[str, int]:
    """``path:function`` -> lines, for every function (also methods, nested) over ``limit`` lines."""
    out = {}
    for p in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > limit:
                    out[f"{p.relative_to(root.parent).as_posix()}:{node.name}"] = n
    return out


def _path(graph: dict[str, set[str]], comp: list[str]) -> str:
    """One closed import path through a cycle, for the failure message."""
    inside = set(comp)
    path = [comp[0]]
    while True:
        nxt = sorted(d for d in graph[path[-1]] if d in inside)
        back = [d for d in nxt if d == path[0]]
        if back and len(path) > 1:
            return " -> ".join(path + [path[0]])
        step = next((d for d in nxt if d not in path), None)
        if step is None:
            return " -> ".join(path + [nxt[0] if nxt else "?"])
        path.append(step)


def test_the_graph_sees_every_kind_of_import(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from . import a\n")
    (pkg / "a.py").write_text("def f():\n    from .sub import b\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "b.py").write_text("import pkg.c as c\n")
    (pkg / "c.py").write_text("from .sub.b import x\nfrom pkg import a\n")
    g = import_graph(pkg)
    assert g["pkg.a"] == {"pkg.sub", "pkg.sub.b"}  # inside a function; the package and its module
    assert g["pkg.sub.b"] == {"pkg.c"}  # absolute, aliased
    assert g["pkg.c"] == {"pkg.sub.b", "pkg", "pkg.a"}  # relative from a module; `from pkg import a`
    assert g["pkg"] == set()  # a package's __init__ importing its own submodules
    assert cycles(g) == [["pkg.a", "pkg.c", "pkg.sub.b"]]
    assert _path(g, ["pkg.a", "pkg.c", "pkg.sub.b"]) == "pkg.a -> pkg.sub.b -> pkg.c -> pkg.a"
    (pkg / "a.py").write_text("def f():\n" + "    x = 1\n" * 120)
    assert long_functions(pkg, 100) == {"pkg/a.py:f": 121}


def test_no_import_cycle():
    g = import_graph()
    found = cycles(g)
    assert not found, "import cycles between modules of synthdetect:\n" + "\n".join(_path(g, c) for c in found)


def test_no_function_over_the_limit():
    assert not long_functions(), f"functions over {MAX_LINES} lines (split them): {long_functions()}"
