"""Fixtures shared by every test directory."""

from __future__ import annotations

from collections.abc import Iterator
import os
from pathlib import Path

from hypothesis import settings
import pytest

from tests.mqtt_broker import Broker, BrokerError, mosquitto_path, start_broker


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


# CI runs the property tests on fixed examples, so both lanes test the same cases on every run
# (a failure there is reproducible); developers' runs stay randomised and keep exploring.
if os.environ.get("CI"):
    settings.register_profile("ci", derandomize=True, print_blob=True)
    settings.load_profile("ci")
