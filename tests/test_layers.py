"""The package layers and the import graph of ``relpredict``, read from the source (nothing runs).

Each package imports only packages of its own layer or of layers before it::

    errors, sql, suggest, workspace   (the foundation)
    → tables (and demo) → graph → query → labels → features → model
    → connectors → sinks → jobs → service → cli, api, web

Data flows from jobs through sinks to the destinations, but ``sinks`` imports no job code (a job
hands it a picklable ``SinkSpec``), so it sits below ``jobs``. Every import counts, also one inside
a function; only imports for type checking (under ``if TYPE_CHECKING:``) do not. No two modules
import each other, directly or round about, except the known cycles listed below.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "relpredict"

LAYERS: list[set[str]] = [
    {"errors", "sql", "suggest", "workspace"},
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
    {"cli", "api", "web"},
]

# Cycles inside packages whose owners are changing them now; each is dodged today by an import
# inside a function. Remove an entry when its cycle is broken (the test then insists).
KNOWN_CYCLES = {
    frozenset({"relpredict.model.artifact", "relpredict.model.trained"}),
}


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


def _imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node):
            yield from (n for child in node.orelse for n in _imports_of(child))
            continue
        yield from _imports_of(node)


def _imports_of(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    if isinstance(node, ast.Import | ast.ImportFrom):
        yield node
    else:
        yield from _imports(node)


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
            yield base


def _graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {m: set() for m in MODULES}
    for module, path in MODULES.items():
        for node in _imports(ast.parse(path.read_text(), str(path))):
            edges[module] |= {t for t in _targets(module, node) if t != module and t != "relpredict"}
    return edges


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


def test_no_import_cycles_but_the_known_ones() -> None:
    edges = _graph()
    for package in {m for m in MODULES if MODULES[m].name == "__init__.py"}:
        edges[package] = set()  # a package's own __init__ re-exports its modules: not a cycle
    assert _cycles(edges) == KNOWN_CYCLES
