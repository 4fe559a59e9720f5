"""The shape of the code: imports go one way, no cycles, no module too large to read.

These are the rules of docs/design.md ("Modules and the direction of imports"), checked on the
source so that a change that breaks them fails here rather than in a reviewer's head.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("searcher", "index", "webui", "corpus")
MAX_LINES = 520  # "about 500": a module a newcomer reads in one sitting

# Who may import whom: webui → searcher ← index; index's CLI starts webui lazily.
FORBIDDEN = {"searcher": ("index", "webui"), "webui": ("index",), "index": ("webui",)}


def _module_files() -> dict[str, Path]:
    files = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            files[name.removesuffix(".__init__")] = path
    return files


MODULES = _module_files()


def _top_level_imports(path: Path) -> set[str]:
    """Project modules imported with ``path`` (not those inside functions or TYPE_CHECKING)."""
    found: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            submodules = {f"{node.module}.{a.name}" for a in node.names} & MODULES.keys()
            found.update(submodules)
            if len(submodules) < len(node.names):
                found.add(node.module)
    return {name for name in found if name in MODULES}


GRAPH = {name: _top_level_imports(path) - {name} for name, path in MODULES.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        order[node] = low[node] = len(order)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in order:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], order[nxt])
        if low[node] == order[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in order:
            visit(node)
    return cycles


def test_the_checker_sees_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycle_among_the_projects_modules() -> None:
    assert _cycles(GRAPH) == []


@pytest.mark.parametrize("importer", sorted(FORBIDDEN))
def test_imports_go_one_way(importer: str) -> None:
    wrong = sorted(
        f"{module} → {target}"
        for module, targets in GRAPH.items()
        if module.split(".")[0] == importer
        for target in targets
        if target.split(".")[0] in FORBIDDEN[importer]
    )
    assert wrong == []


def test_no_module_is_too_long_to_read() -> None:
    long = {
        name: lines
        for name, path in MODULES.items()
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}
