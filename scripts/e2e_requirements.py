"""Print the requirements a real ``hass --skip-pip`` of the end-to-end test needs beyond ``homeassistant``.

``pip install homeassistant`` brings the core only; the integrations Home Assistant always loads
(bootstrap's core, logging/HTTP, frontend and default sets), those of the test's configuration
(scripts/provision.py MINIMAL_YAML) and this integration's dependencies each name their own
requirements in their manifest. Used by the newest-release lane of ``.ci/run``::

    pip install $(python scripts/e2e_requirements.py)

``home-assistant-frontend`` is left out: the test configuration serves an empty stand-in.
"""

from __future__ import annotations

import json
from pathlib import Path
import sys

ROOT = Path(__file__).resolve().parent.parent
TEST_CONFIG = ("api", "config", "energy", "frontend", "http", "onboarding", "recorder", "logger")
"""Top-level keys of the test configuration (scripts/provision.py MINIMAL_YAML)."""
LEFT_OUT = ("home-assistant-frontend",)
ALWAYS_LOADED = (
    "CORE_INTEGRATIONS",
    "LOGGING_AND_HTTP_DEPS_INTEGRATIONS",
    "FRONTEND_INTEGRATIONS",
    "RECORDER_INTEGRATIONS",
    "DEFAULT_INTEGRATIONS",
)
"""Sets of ``homeassistant.bootstrap`` that every start loads (the names differ little between releases)."""


def requirements() -> list[str]:
    """Requirements of every integration the test's hass loads, each once, in a stable order."""
    from homeassistant import bootstrap, components

    core = Path(components.__file__).parent
    domains: set[str] = set(TEST_CONFIG)
    for name in ALWAYS_LOADED:
        domains |= set(getattr(bootstrap, name, ()))
    manifests = [core / d / "manifest.json" for d in sorted(domains)]
    manifests.append(ROOT / "custom_components" / "oms" / "manifest.json")
    seen: set[str] = set()
    out: dict[str, None] = {}
    while manifests:
        path = manifests.pop(0)
        if not path.exists():
            continue
        data = json.loads(path.read_text(encoding="utf-8"))
        for requirement in data.get("requirements", []):
            if not requirement.startswith(LEFT_OUT):
                out[requirement] = None
        for dep in data.get("dependencies", []) + data.get("after_dependencies", []):
            if dep not in seen:
                seen.add(dep)
                manifests.append(core / dep / "manifest.json")
    return list(out)


def main() -> int:
    print(" ".join(requirements()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
