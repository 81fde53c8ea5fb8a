"""Brand images, quality scale and licence of the repository (issue 15 item 11)."""

from __future__ import annotations

from pathlib import Path
import tomllib

from PIL import Image
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BRAND = ROOT / "custom_components" / "oms" / "brand"


@pytest.mark.parametrize("prefix", ["", "dark_"])
def test_brand_images(prefix: str) -> None:
    """Home Assistant 2026.3+ shows a custom integration's own brand/ images: sizes as its rules ask."""
    sizes = {}
    for name in ("icon", "icon@2x", "logo", "logo@2x"):
        with Image.open(BRAND / f"{prefix}{name}.png") as image:
            assert image.mode == "RGBA", name
            assert image.getpixel((0, image.height - 1))[3] == 0, f"{name}: background is not transparent"
            assert image.getbbox() is not None, f"{name} is empty"
            sizes[name] = image.size
    assert sizes["icon"] == (256, 256)
    assert sizes["icon@2x"] == (512, 512)
    assert 128 <= min(sizes["logo"]) <= 256
    assert sizes["logo"][0] > sizes["logo"][1]
    assert sizes["logo@2x"][1] == 2 * sizes["logo"][1]


def test_quality_scale_lists_every_rule() -> None:
    rules = yaml.safe_load((ROOT / "custom_components" / "oms" / "quality_scale.yaml").read_text())["rules"]
    assert len(rules) == 54  # Home Assistant's rule count since docs-conditions and docs-triggers
    assert {"docs-conditions", "docs-triggers", "brands"} <= set(rules)
    todo = [
        name
        for name, rule in rules.items()
        if rule == "todo" or (isinstance(rule, dict) and rule["status"] == "todo")
    ]
    assert todo == []


def test_licence_file_matches_pyproject() -> None:
    licence = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["license"]
    assert licence == "MIT"
    assert (ROOT / "LICENSE").read_text().startswith("MIT License\n")
