"""The protocol library must stay free of Home Assistant (it could move to its own package)."""

from __future__ import annotations

import ast
from pathlib import Path

LIBRARY = Path(__file__).parents[2] / "custom_components" / "oms" / "omslib"


def _imports(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


def test_library_has_files() -> None:
    assert len(list(LIBRARY.rglob("*.py"))) > 10


def test_no_homeassistant_or_absolute_self_imports() -> None:
    offenders = {
        str(path.relative_to(LIBRARY)): name
        for path in LIBRARY.rglob("*.py")
        for name in _imports(path)
        if name.split(".")[0] in {"homeassistant", "custom_components"}
    }
    assert offenders == {}
