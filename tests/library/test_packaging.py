"""The library builds as its own wheel (scripts/check_wheel proves it in CI); its package list is complete."""

from __future__ import annotations

from pathlib import Path
import tomllib

ROOT = Path(__file__).resolve().parents[2]
LIBRARY = ROOT / "custom_components" / "oms" / "omslib"


def test_every_library_package_is_in_the_wheel() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    setuptools = config["tool"]["setuptools"]
    assert setuptools["package-dir"] == {"omslib": "custom_components/oms/omslib"}
    on_disk = {
        ".".join(("omslib", *init.parent.relative_to(LIBRARY).parts))
        for init in LIBRARY.rglob("__init__.py")
        if "__pycache__" not in init.parts
    }
    assert set(setuptools["packages"]) == on_disk


def test_console_scripts_point_at_existing_functions() -> None:
    import importlib

    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert set(scripts) >= {"oms-decode", "oms-listen", "oms-keys"}
    for target in scripts.values():
        module, _, name = target.partition(":")
        loaded = importlib.import_module("custom_components.oms." + module)
        assert callable(getattr(loaded, name))
