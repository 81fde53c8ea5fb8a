"""Fixtures shared by every test directory."""

from __future__ import annotations

from collections.abc import Iterator
import os
from pathlib import Path

from hypothesis import settings
import pytest

from tests.mqtt_broker import Broker, BrokerError, mosquitto_path, start_broker
from tests.skips import skip_reason, skip_summary


@pytest.fixture
def mosquitto(tmp_path_factory: pytest.TempPathFactory, socket_enabled: None) -> Iterator[Broker]:
    """A real Mosquitto broker on a free 127.0.0.1 port (``.host``, ``.port``); skipped when not installed.

    Requests ``socket_enabled``: pytest-homeassistant-custom-component blocks
    sockets for every test (only 127.0.0.1 is allowed once they are enabled).
    """
    if mosquitto_path() is None:
        pytest.skip("mosquitto is not installed (apt-get install mosquitto; see .ci/apt-packages)")
    directory: Path = tmp_path_factory.mktemp("mosquitto")
    try:
        broker = start_broker(directory)
    except BrokerError as err:
        pytest.fail(str(err))
    try:
        yield broker
    finally:
        broker.stop()


# CI (scripts/test, .ci/run) passes ``--hypothesis-profile=ci --hypothesis-seed=N`` with N from the
# commit hash (printed at the start of the run): every commit explores new examples, and a failure
# reproduces with the same seed. The profile fixes the example budget (tests that set their own keep
# it) and keeps no example database, so a run depends on the seed alone. Developers' runs stay random.
settings.register_profile("ci", max_examples=100, derandomize=False, database=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say loudly what was skipped (e.g. the MQTT tests without mosquitto) and how to run it."""
    reasons = [skip_reason(report.longrepr) for report in terminalreporter.stats.get("skipped", [])]
    if lines := skip_summary(reasons):
        terminalreporter.section("skipped tests: these did NOT run", sep="!", yellow=True, bold=True)
        for line in lines:
            terminalreporter.write_line(line, yellow=True, bold=not line.startswith(" "))
