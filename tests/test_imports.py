"""The kernel's modules import each other in one direction: no import cycle, not even through an
import inside a function (which only hides a cycle until the function runs)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

KERNEL = Path(__file__).resolve().parents[1] / "core" / "romanasn"


def module_name(path: Path) -> str:
    parts = ("romanasn", *path.relative_to(KERNEL).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, modules: set[str]) -> set[str]:
    """The kernel modules ``path`` imports anywhere in it (top, functions, ``TYPE_CHECKING``), but
    not its parent packages, which Python imports first anyway."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.update(f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in modules else node.module
                         for alias in node.names)
    own = module_name(path)
    return {name for name in found if name in modules and not own.startswith(name + ".") and name != own}


def graph() -> dict[str, set[str]]:
    paths = sorted(KERNEL.rglob("*.py"))
    modules = {module_name(path) for path in paths}
    return {module_name(path): imports(path, modules) for path in paths}


def cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules (first == last), or None."""
    state: dict[str, int] = {}  # 1: on the path being walked, 2: done
    path: list[str] = []

    def walk(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (found := walk(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (found := walk(node)):
            return found
    return None


def test_no_import_cycle_among_kernel_modules():
    found = cycle(graph())
    assert found is None, "import cycle: " + " -> ".join(found)


def test_the_graph_sees_imports_inside_functions():
    edges = graph()
    assert "romanasn.cluster" in edges["romanasn.output"]  # imported inside a function, for --engine dask
    assert "romanasn.explain" in edges["romanasn.cli"]


@pytest.mark.parametrize("edges, expected", [
    ({"a": {"b"}, "b": {"c"}, "c": set()}, None),
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, ["a", "b", "c", "a"]),
    ({"a": {"a"}}, ["a", "a"]),
])
def test_cycle_finder(edges, expected):
    assert cycle(edges) == expected
