"""Which of our packages may import which, read from the source without importing it.

The layers, innermost first: ``domain`` (the rules, depending on nothing of
ours), ``ledger`` (the command engine, on the domain), ``projections`` and
``reconciliation`` (read models and checks, on both), then ``api`` and
``entrypoints`` (the HTTP API, the CLI and the app factory) on the outside.
Every ``.py`` file of the six packages is parsed with ``ast``; every import is
collected, including those inside functions and under ``if TYPE_CHECKING:``,
with relative imports resolved, and only imports of our own packages are kept.

The cycle check looks at module-level imports only: an import inside a function
or under ``if TYPE_CHECKING:`` is a deliberate deferral that does not run while
the module is being imported.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from itertools import pairwise
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("domain", "ledger", "projections", "reconciliation", "api", "entrypoints")


@dataclass(frozen=True)
class Import:
    """One import of one of our modules: who imports what, where, and whether it is deferred."""

    importer: str
    target: str
    path: str
    line: int
    statement: str
    deferred: str | None
    """``"function"`` or ``"TYPE_CHECKING"`` when the import does not run at module import."""

    def __str__(self) -> str:
        where = f" (inside {self.deferred})" if self.deferred else ""
        return f"{self.path}:{self.line}: {self.importer} imports {self.target}: " \
               f"`{self.statement}`{where}"


def package_of(module: str) -> str:
    return module.split(".", 1)[0]


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_files(root: Path = ROOT) -> dict[str, Path]:
    """Every module of our packages, by dotted name."""
    return {
        module_name(path, root): path
        for package in PACKAGES
        for path in sorted((root / package).rglob("*.py"))
        if "__pycache__" not in path.parts
    }


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports_in(tree: ast.AST) -> Iterator[tuple[ast.Import | ast.ImportFrom, str | None]]:
    """Every import statement, with why it is deferred (None when it runs at import time)."""

    def walk(node: ast.AST, deferred: str | None) -> Iterator[
            tuple[ast.Import | ast.ImportFrom, str | None]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom):
                yield child, deferred
            elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                yield from walk(child, deferred or "function")
            elif isinstance(child, ast.If) and _is_type_checking(child.test):
                for stmt in child.body:
                    yield from walk(ast.Module(body=[stmt], type_ignores=[]),
                                    deferred or "TYPE_CHECKING")
                for stmt in child.orelse:  # the else branch runs at import time
                    yield from walk(ast.Module(body=[stmt], type_ignores=[]), deferred)
            else:
                yield from walk(child, deferred)

    yield from walk(tree, None)


def _resolve_relative(importer: str, is_package: bool, level: int, module: str | None) -> str:
    base = importer.split(".") if is_package else importer.split(".")[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join([*base, *([module] if module else [])])


def imports_of(source: str, importer: str, path: str, *, is_package: bool,
               known: Iterable[str]) -> list[Import]:
    """The imports of our packages in one module's source.

    ``from a.b import c`` names the module ``a.b.c`` when that module exists,
    else the module ``a.b`` (``c`` is a name in it).
    """
    modules = set(known)
    found: list[Import] = []
    lines = source.splitlines()
    for node, deferred in _imports_in(ast.parse(source, filename=path)):
        statement = " ".join(line.strip() for line in
                             lines[node.lineno - 1:(node.end_lineno or node.lineno)])
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            base = (_resolve_relative(importer, is_package, node.level, node.module)
                    if node.level else (node.module or ""))
            targets = []
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                targets.append(submodule if submodule in modules else base)
        for target in dict.fromkeys(targets):
            if package_of(target) in PACKAGES:
                found.append(Import(importer, target, path, node.lineno, statement, deferred))
    return found


@cache
def all_imports() -> tuple[Import, ...]:
    files = source_files()
    found: list[Import] = []
    for name, path in files.items():
        found += imports_of(path.read_text(encoding="utf-8"), name,
                            str(path.relative_to(ROOT)),
                            is_package=path.name == "__init__.py", known=files)
    return tuple(found)


def violations(importers: Iterable[str], allowed: Iterable[str]) -> list[str]:
    """Imports by modules of ``importers`` of any of our packages outside ``allowed``."""
    importers, allowed = set(importers), set(allowed)
    return [str(i) for i in all_imports()
            if package_of(i.importer) in importers and package_of(i.target) not in allowed]


def report(rule: str, found: list[str], what: str = "import(s)") -> str:
    return f"{rule}; {len(found)} {what} break it:\n  " + "\n  ".join(found)


def find_cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """One cycle path (first node repeated at the end) per strongly connected component.

    Tarjan's algorithm, iterative, so a deep graph cannot hit the recursion limit.
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    counter = 0
    for start in sorted(edges):
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(edges.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1 or node in edges.get(node, ()):
                        components.append(sorted(component))
    return [_cycle_through(component, edges) for component in components]


def _cycle_through(component: list[str], edges: dict[str, set[str]]) -> list[str]:
    """A shortest cycle from the component's first module back to itself (breadth first)."""
    members = set(component)
    start = component[0]
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for child in sorted(edges.get(node, ())):
                if child not in members:
                    continue
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [start, *reversed(path[:-1]), start] if node != start \
                        else [start, start]
                if child not in previous:
                    previous[child] = node
                    following.append(child)
        frontier = following
    raise AssertionError(f"no cycle through {start} in {component}")  # unreachable


# ---- the harness reads imports the way Python runs them ---------------------------


def test_the_reader_finds_imports_in_functions_type_checking_blocks_and_relative_forms() -> None:
    source = (
        "from __future__ import annotations\n"
        "import json\n"
        "from typing import TYPE_CHECKING\n"
        "import domain.money\n"
        "from . import errors\n"
        "from .money import Money\n"
        "from ..ledger import engine\n"
        "if TYPE_CHECKING:\n"
        "    from ledger.application import EscrowLedger\n"
        "else:\n"
        "    from ledger import clock\n"
        "def f():\n"
        "    from api.main import create_app\n"
        "class C:\n"
        "    from projections import runner\n"
    )
    found = imports_of(source, "domain.deadlines", "domain/deadlines.py", is_package=False,
                       known={"domain.errors", "domain.money", "ledger.engine",
                              "ledger.application", "ledger.clock", "api.main",
                              "projections.runner"})
    assert [(i.target, i.line, i.deferred) for i in found] == [
        ("domain.money", 4, None),
        ("domain.errors", 5, None),
        ("domain.money", 6, None),
        ("ledger.engine", 7, None),
        ("ledger.application", 9, "TYPE_CHECKING"),
        ("ledger.clock", 11, None),
        ("api.main", 13, "function"),
        ("projections.runner", 15, None),
    ]


def test_the_reader_resolves_relative_imports_from_a_package_init() -> None:
    found = imports_of("from . import fixed_price\nfrom .. import engine\n",
                       "ledger.commands", "ledger/commands/__init__.py", is_package=True,
                       known={"ledger.commands.fixed_price", "ledger.engine"})
    assert [i.target for i in found] == ["ledger.commands.fixed_price", "ledger.engine"]


def test_the_cycle_finder_names_the_path_and_ignores_acyclic_graphs() -> None:
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [
        ["a", "b", "c", "a"]]
    assert find_cycles({"a": {"a"}}) == [["a", "a"]]


def test_every_package_is_read_and_some_of_its_imports_are_seen() -> None:
    files = source_files()
    missing = [p for p in PACKAGES if not any(package_of(m) == p for m in files)]
    assert not missing, f"no modules found for {missing} under {ROOT}"
    importing = {package_of(i.importer) for i in all_imports()}
    assert importing >= {"ledger", "projections", "reconciliation", "api", "entrypoints"}, (
        f"only {sorted(importing)} were seen importing our packages: is the reader broken?")


# ---- the layers --------------------------------------------------------------------


def test_the_domain_imports_nothing_of_ours_outside_itself() -> None:
    found = violations({"domain"}, allowed={"domain"})
    assert not found, report("domain may import only domain", found)


def test_the_ledger_imports_only_the_domain_and_itself() -> None:
    found = violations({"ledger"}, allowed={"domain", "ledger"})
    assert not found, report("ledger may import only domain and ledger", found)


def test_projections_and_reconciliation_never_import_the_api_or_the_entrypoints() -> None:
    inner = {"domain", "ledger", "projections", "reconciliation"}
    found = violations({"projections", "reconciliation"}, allowed=inner)
    assert not found, report(
        "projections and reconciliation may import only domain, ledger, projections and "
        "reconciliation", found)


def test_only_the_api_itself_and_the_entrypoints_import_the_api() -> None:
    found = [str(i) for i in all_imports() if package_of(i.target) == "api"
             and package_of(i.importer) not in ("api", "entrypoints")]
    assert not found, report("only api and entrypoints may import api", found)


def test_nothing_outside_the_entrypoints_imports_them() -> None:
    found = [str(i) for i in all_imports() if package_of(i.target) == "entrypoints"
             and package_of(i.importer) != "entrypoints"]
    assert not found, report("only entrypoints may import entrypoints", found)


def test_no_modules_import_each_other_in_a_cycle_at_module_level() -> None:
    runtime = [i for i in all_imports() if i.deferred is None and i.importer != i.target]
    edges: dict[str, set[str]] = {}
    for i in runtime:
        edges.setdefault(i.importer, set()).add(i.target)
    cycles = find_cycles(edges)
    where = {(i.importer, i.target): i for i in runtime}
    described = [
        " -> ".join(cycle) + "".join(
            f"\n      {where[(a, b)]}" for a, b in pairwise(cycle))
        for cycle in cycles
    ]
    assert not cycles, report("no module-level import cycles", described, "cycle(s)")
