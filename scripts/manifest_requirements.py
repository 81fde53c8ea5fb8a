"""Print the requirements of a manifest and, recursively, of the HA components it depends on."""

from __future__ import annotations

import json
from pathlib import Path
import sys


def collect(manifest: Path, core: Path, seen: set[str], out: list[str]) -> None:
    data = json.loads(manifest.read_text())
    out.extend(data.get("requirements", []))
    for dep in data.get("dependencies", []) + data.get("after_dependencies", []):
        if dep in seen:
            continue
        seen.add(dep)
        path = core / dep / "manifest.json"
        if path.exists():
            collect(path, core, seen, out)


def main() -> None:
    import homeassistant.components as comps

    core = Path(comps.__file__).parent
    out: list[str] = []
    collect(Path(sys.argv[1]), core, set(), out)
    print(" ".join(dict.fromkeys(out)))


if __name__ == "__main__":
    main()
