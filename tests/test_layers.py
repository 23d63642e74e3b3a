"""The package layers and the import graph of ``relpredict``, read from the source (nothing runs).

Each package imports only packages of its own layer or of layers before it::

    errors, paths, sql, suggest, workspace   (the foundation)
    → tables (and demo) → graph → query → labels → features → model
    → connectors → sinks → jobs → service → cli, api, web, kumoai (the kumoai-shaped SDK)

Data flows from jobs through sinks to the destinations, but ``sinks`` imports no job code (a job
hands it a picklable ``SinkSpec``), so it sits below ``jobs``. Every import counts, also one inside
a function; only imports for type checking (under ``if TYPE_CHECKING:``) do not. No two modules
import each other, directly or round about: a name imported from a package's ``__init__`` counts
as an import of the submodule that defines it, and an ``__init__`` imports its submodules.

An import inside a function is for start-up time (the command line loads torch only for the
commands that need it) or for an optional heavy dependency (torch, dask, snowflake, ...); one that
only keeps two modules from importing each other hides a cycle, and fails here with the path.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "relpredict"

LAYERS: list[set[str]] = [
    {"errors", "paths", "sql", "suggest", "workspace"},
    {"tables", "demo"},
    {"graph"},
    {"query"},
    {"labels"},
    {"features"},
    {"model"},
    {"connectors"},
    {"sinks"},
    {"jobs"},
    {"service"},
    {"cli", "api", "web", "kumoai"},
]

def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in SRC.rglob("*.py")}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


Import = ast.Import | ast.ImportFrom
FUNCTION = ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda


def _imports(tree: ast.AST, in_function: bool = False) -> Iterator[tuple[Import, bool]]:
    """Every import statement with whether it runs inside a function (not at import time)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node):
            yield from (n for child in node.orelse for n in _imports_of(child, in_function))
            continue
        yield from _imports_of(node, in_function)


def _imports_of(node: ast.AST, in_function: bool) -> Iterator[tuple[Import, bool]]:
    if isinstance(node, ast.Import | ast.ImportFrom):
        yield node, in_function
    else:
        yield from _imports(node, in_function or isinstance(node, FUNCTION))


def _targets(module: str, node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    """The relpredict modules an import statement loads (a submodule, else the package)."""
    if isinstance(node, ast.Import):
        yield from (a.name for a in node.names if a.name in MODULES)
        return
    base = node.module or ""
    if node.level:  # relative: from . import x / from .m import x
        package = module.split(".") if MODULES[module].name == "__init__.py" else module.split(".")[:-1]
        package = package[:len(package) - node.level + 1]
        base = ".".join(package + ([node.module] if node.module else []))
    for alias in node.names:
        sub = f"{base}.{alias.name}"
        if sub in MODULES:
            yield sub
        elif base in MODULES:
            yield REEXPORTS.get(base, {}).get(alias.name, base)


def _reexports(package: str) -> dict[str, str]:
    """Name → the submodule a package's ``__init__`` imports it from (at its top level)."""
    out: dict[str, str] = {}
    for node, in_function in _imports(ast.parse(MODULES[package].read_text())):
        if isinstance(node, ast.ImportFrom) and not in_function:
            for target in _targets(package, node):
                if target.startswith(package + "."):
                    out.update({a.asname or a.name: target for a in node.names})
    return out


REEXPORTS: dict[str, dict[str, str]] = {}
REEXPORTS.update({m: _reexports(m) for m, p in MODULES.items() if p.name == "__init__.py"})


def _edges(in_function: bool | None = None) -> dict[str, set[str]]:
    """Module → the relpredict modules it imports (``in_function``: only those inside functions
    (True), only those at import time (False), or all (None))."""
    edges: dict[str, set[str]] = {m: set() for m in MODULES}
    for module, path in MODULES.items():
        for node, inside in _imports(ast.parse(path.read_text(), str(path))):
            if in_function is None or inside == in_function:
                edges[module] |= {t for t in _targets(module, node) if t not in (module, "relpredict")}
    return edges


def _graph() -> dict[str, set[str]]:
    return _edges()


def _package(module: str) -> str:
    return module.split(".")[1]


def _rank(package: str) -> int:
    return next(i for i, layer in enumerate(LAYERS) if package in layer)


def test_every_package_has_a_layer() -> None:
    packages = {_package(m) for m in MODULES if m != "relpredict"}
    assert packages == set().union(*LAYERS)


def test_no_package_imports_a_later_layer() -> None:
    wrong = sorted(f"{src} imports {dst}" for src, dsts in _graph().items() if src != "relpredict"
                   for dst in dsts if _rank(_package(dst)) > _rank(_package(src)))
    assert wrong == []


def _cycles(edges: dict[str, set[str]]) -> set[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: set[frozenset[str]] = set()

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.add(frozenset(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles() -> None:
    assert _cycles(_graph()) == set()


def _path(edges: dict[str, set[str]], src: str, dst: str) -> list[str] | None:
    """A shortest import path from ``src`` to ``dst`` (breadth first), or None."""
    before: dict[str, str] = {src: src}
    frontier = [src]
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(edges[v]):
                if w not in before:
                    before[w] = v
                    nxt.append(w)
        frontier = nxt
    if dst not in before:
        return None
    path = [dst]
    while path[-1] != src:
        path.append(before[path[-1]])
    return path[::-1]


def test_no_import_inside_a_function_dodges_a_cycle() -> None:
    """Moving any function-level import to the top of its module would create no cycle."""
    everything, lazy = _graph(), _edges(in_function=True)
    dodges = sorted(f"{src} imports {dst} in a function, and {' -> '.join(path)}"
                    for src, dsts in lazy.items() for dst in dsts
                    if (path := _path(everything, dst, src)) is not None)
    assert dodges == []


def test_the_checks_see_a_cycle_dodged_in_a_function() -> None:
    """The two checks above on a made-up pair: a imports b at the top, b imports a in a function."""
    tree = ast.parse("from relpredict.graph.graph import Graph\n"
                     "def f():\n    from relpredict.graph.validate import Finding\n")
    found = [(list(_targets("relpredict.graph.validate", n)), inside) for n, inside in _imports(tree)]
    assert found == [(["relpredict.graph.graph"], False), (["relpredict.graph.validate"], True)]
    edges = {"a": {"b"}, "b": {"a"}, "c": {"a"}}
    assert _cycles(edges) == {frozenset({"a", "b"})}
    assert _path(edges, "c", "b") == ["c", "a", "b"]


def test_a_name_from_a_package_counts_as_its_submodule() -> None:
    assert REEXPORTS["relpredict.features"]["fit_feature_spec"] == "relpredict.features.fit"
    node = ast.parse("from relpredict.features import fit_feature_spec").body[0]
    assert isinstance(node, ast.ImportFrom)
    assert list(_targets("relpredict.model.fit", node)) == ["relpredict.features.fit"]
