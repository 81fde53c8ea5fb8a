"""The receiver's own device: connected, telegrams per minute, last telegram and failure counters."""

from __future__ import annotations

from collections.abc import Callable, Generator
from datetime import timedelta
import time
from unittest.mock import patch

from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNKNOWN, EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import async_fire_time_changed

from custom_components.oms.const import DOMAIN
from custom_components.oms.hub import find_device
from custom_components.oms.omslib.frame import Frame
from custom_components.oms.receiver_entities import FrameRate
from tests import encoder as enc

from .conftest import heat_telegram, make_entry, setup_entry, water_subentry, water_telegram

CONNECTED = "binary_sensor.replay_connected"
RATE = "sensor.replay_telegrams_per_minute"
LAST = "sensor.replay_last_telegram"
CRC = "sensor.replay_crc_errors"
UNDECRYPTABLE = "sensor.replay_undecryptable_telegrams"
UNKNOWN = "sensor.replay_unknown_telegrams"


def crc_damaged() -> bytes:
    """A water telegram in frame format A whose last block CRC is wrong."""
    frame = bytearray(enc.add_crc_format_a(water_telegram(acc=9)))
    frame[-1] ^= 0xFF
    return bytes(frame)


def unknown_ci() -> bytes:
    """A telegram with a CI field no layer knows (0x99 is reserved)."""
    raw = water_telegram(acc=10)
    return raw[:10] + b"\x99" + raw[11:]


def state(hass: HomeAssistant, entity_id: str) -> str:
    current = hass.states.get(entity_id)
    assert current is not None, entity_id
    return current.state


class Clock:
    """Wall-clock time as the receiver entities see it (the hub's counters keep running)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Generator[Clock]:
    now = Clock()
    with patch("custom_components.oms.receiver_entities.wall_clock", now):
        yield now


async def poll(hass: HomeAssistant, clock: Clock, seconds: float = 31) -> None:
    """Let time pass and Home Assistant poll the receiver entities (every 30 s)."""
    clock.now += seconds
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=clock.now - time.time()))
    await hass.async_block_till_done()


def test_frame_rate_averages_over_the_window() -> None:
    rate = FrameRate(start=1000.0, window=300.0)
    assert rate.update(1005.0, 3) is None  # too soon after start for a rate
    assert rate.update(1030.0, 30) == 60.0  # 30 telegrams in 30 s
    assert rate.update(1300.0, 300) == 60.0
    assert rate.update(1330.0, 300) == pytest.approx(270 * 60 / 300)  # the window drops the first 30 s
    assert rate.update(1630.0, 300) == 0.0  # silent for five minutes


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_receiver_device_has_diagnostic_entities(
    hass: HomeAssistant, write_capture: Callable[..., str], clock: Clock
) -> None:
    # the heat meter is not configured: no key, so its telegram cannot be decrypted
    entry = make_entry(
        write_capture(water_telegram(), heat_telegram(), crc_damaged(), unknown_ci()), [water_subentry()]
    )
    hub = await setup_entry(hass, entry)
    entity_registry = er.async_get(hass)
    device = find_device(hass, entry.entry_id, (DOMAIN, hub.receiver_identifier))
    assert device is not None
    on_device = {e.entity_id for e in er.async_entries_for_device(entity_registry, device.id)}
    assert on_device == {CONNECTED, RATE, LAST, CRC, UNDECRYPTABLE, UNKNOWN}
    for entity_id in on_device:
        registered = entity_registry.async_get(entity_id)
        assert registered is not None
        assert registered.entity_category is EntityCategory.DIAGNOSTIC
    assert entity_registry.async_get(LAST).disabled_by is None  # enabled by the fixture here

    await poll(hass, clock, 90)
    assert state(hass, CONNECTED) == STATE_ON
    assert state(hass, CRC) == "1"
    assert state(hass, UNDECRYPTABLE) == "1"
    assert state(hass, UNKNOWN) == "1"
    assert float(state(hass, RATE)) == pytest.approx(4 * 60 / 90, abs=0.1)  # 4 frames in 90 s
    last = dt_util.parse_datetime(state(hass, LAST))
    assert last is not None
    assert hub.last_frame_at is not None
    assert last.timestamp() == pytest.approx(hub.last_frame_at)
    assert abs(hub.last_frame_at - hub.started_at) < 10

    receiver = hub.receiver
    assert receiver is not None
    receiver._connected = False  # type: ignore[attr-defined]
    hub._on_state(False)
    await poll(hass, clock)
    assert state(hass, CONNECTED) == STATE_OFF
    assert float(state(hass, RATE)) == pytest.approx(4 * 60 / 120, abs=0.1)


async def test_last_telegram_disabled_by_default_and_counts_start_at_zero(
    hass: HomeAssistant, write_capture: Callable[..., str], clock: Clock
) -> None:
    entry = make_entry(write_capture(water_telegram()), [water_subentry()])
    hub = await setup_entry(hass, entry)
    registered = er.async_get(hass).async_get(LAST)
    assert registered is not None
    assert registered.disabled_by is er.RegistryEntryDisabler.INTEGRATION
    assert state(hass, CRC) == "0"
    assert state(hass, UNDECRYPTABLE) == "0"
    assert state(hass, UNKNOWN) == "0"
    assert state(hass, RATE) == STATE_UNKNOWN  # no rate in the first seconds
    # counting costs nothing per telegram: no state is written until the next poll
    receiver = hub.receiver
    assert receiver is not None
    receiver._on_frame(Frame(crc_damaged(), rssi_dbm=-60, receiver_id="x"))  # type: ignore[attr-defined]
    await hass.async_block_till_done()
    assert state(hass, CRC) == "0"
    hub.errors["incomplete"] += 1  # a fragment kept for later is no failure
    hub.errors["integrity"] += 1  # decrypted, but the application layer is damaged
    await poll(hass, clock)
    assert state(hass, CRC) == "1"
    assert state(hass, UNKNOWN) == "1"
    assert state(hass, UNDECRYPTABLE) == "0"
