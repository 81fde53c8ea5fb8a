"""Diagnostics: everything useful, never an AES key."""

from __future__ import annotations

from collections.abc import Callable
import json
import logging

from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.components.diagnostics import get_diagnostics_for_config_entry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from syrupy.assertion import SnapshotAssertion

from .conftest import (
    KEY_HEX,
    heat_subentry,
    heat_telegram,
    make_entry,
    setup_entry,
    water_subentry,
    water_telegram,
)


async def test_diagnostics(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    write_capture: Callable[..., str],
    snapshot: SnapshotAssertion,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    assert await async_setup_component(hass, "diagnostics", {})
    entry = make_entry(write_capture(water_telegram(), heat_telegram()), [water_subentry(), heat_subentry()])
    await setup_entry(hass, entry)
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    text = json.dumps(diagnostics)
    assert KEY_HEX not in text
    assert KEY_HEX.upper() not in text
    assert KEY_HEX not in caplog.text
    assert KEY_HEX.upper() not in caplog.text
    diagnostics["entry"]["data"]["device"] = "<capture>"
    assert diagnostics == snapshot
