"""The terminal summary's block about skipped tests (tests/skips.py, issue 15 item 12)."""

from __future__ import annotations

from pathlib import Path
import subprocess
import sys

from tests.skips import skip_reason, skip_summary

ROOT = Path(__file__).resolve().parents[2]


def test_summary_names_reason_count_and_command() -> None:
    reasons = ["mosquitto is not installed (apt-get install mosquitto)"] * 6 + ["corpus file x not found"]
    assert skip_summary(reasons) == [
        "6 tests SKIPPED: mosquitto is not installed (apt-get install mosquitto)",
        "    to run them: sudo apt-get install mosquitto",
        "1 test SKIPPED: corpus file x not found",
        "    to run them: put the conformance corpus in ../shared/corpus or set OMS_CORPUS=/path/to/corpus",
    ]
    assert skip_summary(["something else"]) == ["1 test SKIPPED: something else"]
    assert skip_summary([]) == []


def test_reason_from_a_report() -> None:
    assert skip_reason(("t.py", 3, "Skipped: mosquitto is not installed")) == "mosquitto is not installed"
    assert skip_reason("plain") == "plain"


def test_a_run_prints_the_block(tmp_path: Path) -> None:
    """A real pytest run with a skipped test ends with the loud block (the hook in tests/conftest.py)."""
    test = tmp_path / "test_probe.py"
    test.write_text('import pytest\n\n\ndef test_probe():\n    pytest.skip("mosquitto is not installed")\n')
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:homeassistant",  # the harness plugin needs nothing here (and its fixtures differ by release)
        "-p",
        "tests.conftest",
        str(test),
    ]
    out = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False).stdout
    assert "skipped tests: these did NOT run" in out
    assert "1 test SKIPPED: mosquitto is not installed" in out
    assert "to run them: sudo apt-get install mosquitto" in out
