"""No import cycles among the omslib modules (issue 11).

The graph is built from the source with ``ast``: every ``import`` / ``from … import`` anywhere in a
module counts (at module level, inside functions, under ``TYPE_CHECKING``), relative or absolute.
``from . import name`` points at the submodule ``name`` when there is one, else at the package.
Importing a submodule also runs its package's ``__init__``; that implicit edge is left out, because
a package that imports its own submodules (``receivers/__init__`` registers the drivers) would
otherwise form a cycle with every one of them by construction. ``importlib.import_module`` with a
computed name (optional layer explainers, driver registration) is not visible to ``ast`` and is
not counted.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "custom_components" / "oms" / "omslib"
PACKAGE = "omslib"


def _module_name(path: Path) -> str:
    parts = [PACKAGE, *path.relative_to(ROOT).with_suffix("").parts]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted(ROOT.rglob("*.py"))}


def _resolve(importer: str, is_package: bool, level: int, module: str | None) -> str:
    """The absolute dotted name a (possibly relative) import refers to."""
    if level == 0:
        name = module or ""
        for prefix in ("custom_components.oms.omslib", "omslib"):
            if name == prefix or name.startswith(prefix + "."):
                return PACKAGE + name[len(prefix) :]
        return name
    base = importer.split(".")
    if not is_package:
        base.pop()
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, module] if module else base)


def import_graph() -> dict[str, set[str]]:
    """omslib module -> the omslib modules it imports."""
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [_resolve(name, is_package, 0, alias.name) for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                target = _resolve(name, is_package, node.level, node.module)
                for alias in node.names:
                    sub = f"{target}.{alias.name}"
                    targets.append(sub if sub in modules else target)
            for target in targets:
                if target in modules and target != name:
                    graph[name].add(target)
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph[node]):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
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

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_graph_sees_the_package() -> None:
    graph = import_graph()
    assert len(graph) > 40
    # a relative import at module level, one inside a function, and one of a parent package
    assert "omslib.link" in graph["omslib.receivers.cul"]
    assert "omslib.explain" in graph["omslib.cli"]  # imported lazily inside run_decode
    assert "omslib.receivers.base" in graph["omslib.receivers.detect"]


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"a": {"b"}, "b": {"a"}, "c": {"a"}}, [["a", "b"]]),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, [["a", "b", "c"]]),
        ({"a": {"b"}, "b": set(), "c": {"b"}}, []),
    ],
)
def test_find_cycles(graph: dict[str, set[str]], expected: list[list[str]]) -> None:
    assert find_cycles(graph) == expected


def test_no_import_cycles_in_omslib() -> None:
    assert find_cycles(import_graph()) == []
