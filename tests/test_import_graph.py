"""The import graph: no circles in service/ (between modules or between packages), core/ imports no domain, and
the server, the clients and the libraries import one another only in the allowed direction.

Every import counts, also one inside a function: a function-level import hides a circle, it does not remove it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
Graph = dict[str, set[str]]


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(tree: ast.AST, package: str) -> Iterator[str]:
    """Every name an import statement may refer to (a module, or a name inside one), made absolute."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def imports_of(top: str) -> Graph:
    """Module -> the modules it imports, for every module under the top-level package `top`."""
    graph: Graph = {}
    for path in sorted((ROOT / top).rglob("*.py")):
        name = _module_name(path)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        graph[name] = set(_imported(ast.parse(path.read_text(encoding="utf-8")), package))
    return graph


def internal(graph: Graph) -> Graph:
    """The graph restricted to its own modules."""
    return {name: {d for d in deps if d in graph and d != name} for name, deps in graph.items()}


def cycles(graph: Graph) -> list[list[str]]:
    """The strongly connected components with more than one node (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
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
                    if len(component) > 1:
                        found.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph[child]))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return found


def package_graph(graph: Graph) -> Graph:
    """service.<package>.x -> service.<package>: the graph between the service's packages (and top modules)."""

    def package(name: str) -> str:
        return ".".join(name.split(".")[:2])

    packages: Graph = {package(name): set() for name in graph}
    for name, deps in graph.items():
        packages[package(name)] |= {package(d) for d in deps if package(d) != package(name)}
    return packages


def external(graph: Graph, top: str) -> set[tuple[str, str]]:
    """(module, import) pairs that reach into the top-level package `top`."""
    return {(name, d) for name, deps in graph.items() for d in deps if d == top or d.startswith(top + ".")}


def test_the_checker_finds_a_circle_and_its_members() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_checker_reads_relative_and_function_level_imports() -> None:
    tree = ast.parse("def f():\n    from . import x\n    from ..core.y import z\n")
    assert set(_imported(tree, "service.batches")) >= {"service.batches.x", "service.core.y", "service.core.y.z"}


def test_no_module_of_the_service_imports_itself_in_a_circle() -> None:
    graph = internal(imports_of("service"))
    assert len(graph) > 100
    assert cycles(graph) == []


def test_no_package_of_the_service_imports_itself_in_a_circle() -> None:
    packages = package_graph(internal(imports_of("service")))
    assert {"service.batches", "service.eligibility", "service.records", "service.core"} <= set(packages)
    assert cycles(packages) == []


def test_the_batch_pipeline_knows_no_batch_kind() -> None:
    packages = package_graph(internal(imports_of("service")))
    assert packages["service.batches"] <= {"service.core", "service.accounts"}, packages["service.batches"]


def test_core_imports_no_domain() -> None:
    graph = internal(imports_of("service"))
    outside = {(name, d) for name, deps in graph.items() if name.startswith("service.core.")
               for d in deps if not d.startswith("service.core")}
    assert outside == set()


@pytest.mark.parametrize(
    ("top", "forbidden"),
    [("service", "terminals"), ("facematch", "service"), ("facematch", "terminals"), ("virtualcard", "service"),
     ("virtualcard", "terminals")],
)
def test_packages_import_only_in_the_allowed_direction(top: str, forbidden: str) -> None:
    assert external(imports_of(top), forbidden) == set()
