"""What the end of a test run says about skipped tests: each reason, how many, and how to run them.

A fresh clone without a Mosquitto broker or the conformance corpus skips those tests; one line in
pytest's output is easy to miss, so ``tests/conftest.py`` prints this block in the terminal summary.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

ENABLE: tuple[tuple[str, str], ...] = (
    ("mosquitto is not installed", "sudo apt-get install mosquitto"),
    ("corpus", "put the conformance corpus in ../shared/corpus or set OMS_CORPUS=/path/to/corpus"),
    ("no .venv", "scripts/setup"),
)
"""(text in a skip reason, the one command that makes those tests run)."""


def skip_summary(reasons: Iterable[str]) -> list[str]:
    """Lines for the terminal summary: ``N tests SKIPPED: reason``, then the command that enables them."""
    counts = Counter(reasons)
    lines: list[str] = []
    for reason, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        lines.append(f"{count} test{'s' if count != 1 else ''} SKIPPED: {reason}")
        fix = next((command for text, command in ENABLE if text in reason), None)
        if fix is not None:
            lines.append(f"    to run them: {fix}")
    return lines


def skip_reason(longrepr: object) -> str:
    """The reason of a skipped test report (pytest keeps ``(path, line, "Skipped: reason")``)."""
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)
