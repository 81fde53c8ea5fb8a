"""MQTT receivers through Home Assistant's own MQTT integration and a real Mosquitto broker.

The ``mqtt`` integration is set up with a real client (not phcc's ``mqtt_mock``,
which replaces paho with a mock and fires messages in-process) against the
``mosquitto`` fixture; telegrams are published by a real paho client as the
remote receivers "basement", "attic" and "garage" would.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta
import json
from types import MappingProxyType
from typing import Any
from unittest.mock import patch

from homeassistant.config_entries import (
    SOURCE_RECONFIGURE,
    SOURCE_USER,
    ConfigEntryState,
    ConfigSubentryData,
)
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.event import async_track_state_change_event
from homeassistant.util import dt as dt_util
import paho.mqtt.client as paho
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.oms.const import (
    CONF_AUTO_ADD,
    CONF_AVAILABLE_HOURS,
    CONF_DEVICE,
    CONF_KEY,
    CONF_KIND,
    CONF_LINK_MODE,
    CONF_METER_ID,
    CONF_MIN_RSSI,
    CONF_MQTT_TOPIC,
    DOMAIN,
    SUBENTRY_METER,
)
from custom_components.oms.diagnostics import async_get_config_entry_diagnostics
from custom_components.oms.hub import OmsHub
from tests import encoder as enc
from tests.mqtt_broker import Broker

from .conftest import KEY_HEX, heat_telegram, water_telegram

TOPIC = "wmbus/+/telegram"
VOLUME = "sensor.kam_water_12345678_volume"
ENERGY = "sensor.heat_meter_energy"


@pytest.fixture
async def mqtt_broker_entry(
    hass: HomeAssistant, mock_hass_config: None, mosquitto: Broker
) -> AsyncIterator[None]:
    """Home Assistant's MQTT integration, connected to the real broker."""
    entry = MockConfigEntry(domain="mqtt", data={"broker": mosquitto.host, "port": mosquitto.port})
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    yield
    if entry.state is ConfigEntryState.LOADED:
        assert await hass.config_entries.async_unload(entry.entry_id)


@pytest.fixture
def publish(mosquitto: Broker) -> Iterator[Callable[[str, str | bytes], None]]:
    """Publish as a remote receiver would: a real paho client with its own network thread."""
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="oms-test-publisher")
    client.connect(mosquitto.host, mosquitto.port)
    client.loop_start()

    def _publish(topic: str, payload: str | bytes) -> None:
        client.publish(topic, payload, qos=1)

    try:
        yield _publish
    finally:
        client.disconnect()
        client.loop_stop()


async def _wait_for(condition: Callable[[], bool], what: str, within: float = 10.0) -> None:
    """Poll: the messages travel through the broker and paho's socket, there is nothing to await."""
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.02)
    assert condition(), what


def _entry(
    hass: HomeAssistant, title: str = "wM-Bus over MQTT", options: dict[str, Any] | None = None, **data: Any
) -> MockConfigEntry:
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=title,
        options=options or {},
        data={CONF_DEVICE: TOPIC, CONF_KIND: "mqtt", CONF_LINK_MODE: "c1t1"} | data,
        unique_id=f"mqtt:{TOPIC}",
        subentries_data=[
            ConfigSubentryData(
                data=MappingProxyType({CONF_METER_ID: "12345678"}),
                subentry_type=SUBENTRY_METER,
                title="KAM water 12345678",
                unique_id="12345678",
            ),
            ConfigSubentryData(
                data=MappingProxyType({CONF_METER_ID: "87654321", CONF_KEY: KEY_HEX}),
                subentry_type=SUBENTRY_METER,
                title="Heat meter",
                unique_id="87654321",
            ),
        ],
    )
    entry.add_to_hass(hass)
    return entry


async def _setup(
    hass: HomeAssistant, entry: MockConfigEntry, publish: Callable[[str, str | bytes], None]
) -> OmsHub:
    """Set up the entry and wait until the broker delivers the subscription's messages."""
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    hub: OmsHub = entry.runtime_data

    def subscribed() -> bool:
        if "probe" in hub.remote_stats:
            return True
        publish("wmbus/probe/telegram", "probe")  # not a telegram: counted as unknown
        return False

    await _wait_for(subscribed, "the subscription is active")
    return hub


def _changes(hass: HomeAssistant, entity_id: str) -> list[str]:
    states: list[str] = []

    @callback
    def _changed(event: Event[EventStateChangedData]) -> None:
        if (new := event.data["new_state"]) is not None:
            states.append(new.state)

    async_track_state_change_event(hass, entity_id, _changed)
    return states


@pytest.mark.usefixtures("mqtt_broker_entry", "entity_registry_enabled_by_default")
async def test_one_reading_per_telegram(
    hass: HomeAssistant, publish: Callable[[str, str | bytes], None]
) -> None:
    """Three receivers, three payload forms (hex with CRCs, JSON, rtl_wmbus line): decoded once."""
    entry = _entry(hass)
    hub = await _setup(hass, entry, publish)
    volumes = _changes(hass, VOLUME)
    raw = water_telegram(123456, acc=1)
    publish("wmbus/basement/telegram", f"{enc.add_crc_format_a(raw).hex()};rssi=-82")  # with DLL CRCs
    publish("wmbus/attic/telegram", json.dumps({"telegram": raw.hex().upper(), "rssi": -61, "mode": "T1"}))
    publish("wmbus/garage/telegram", f"T1;1;1;2024-06-01 12:00:00.000;-70;;;0x{raw.hex()}")
    await _wait_for(lambda: hub.frames >= 3, "three receptions")
    await hass.async_block_till_done()

    assert hub.duplicates == 2
    assert volumes == ["123.456"]
    assert hass.states.get(VOLUME).state == "123.456"
    best = hass.states.get("sensor.kam_water_12345678_best_receiver")
    assert best.state == "attic"
    assert best.attributes["receivers"] == ["basement", "attic", "garage"]
    rssi = hass.states.get("sensor.kam_water_12345678_signal_strength")
    assert float(rssi.state) == -61
    assert rssi.attributes["receivers"] == ["basement", "attic", "garage"]

    # The next telegram (new access number) is a new reading, heard by one receiver.
    publish("wmbus/basement/telegram", water_telegram(123999, acc=2).hex())
    await _wait_for(lambda: hass.states.get(VOLUME).state == "123.999", "the second reading")
    assert volumes == ["123.456", "123.999"]
    assert hass.states.get("sensor.kam_water_12345678_best_receiver").state == "basement"
    assert hub.duplicates == 2

    # The same telegram again from another receiver is still a duplicate; an encrypted meter too.
    publish("wmbus/attic/telegram", water_telegram(123999, acc=2).hex())
    heat = heat_telegram(4321, acc=9)
    publish("wmbus/attic/telegram", heat.hex())
    publish("wmbus/garage/telegram", enc.add_crc_format_a(heat))
    await _wait_for(lambda: hub.frames >= 7, "the rest")
    await hass.async_block_till_done()
    assert hub.duplicates == 4
    assert volumes == ["123.456", "123.999"]
    assert hass.states.get(ENERGY).state == "4321"
    assert hass.states.get("sensor.heat_meter_best_receiver").attributes["receivers"] == ["attic", "garage"]

    assert await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.usefixtures("mqtt_broker_entry", "entity_registry_enabled_by_default")
async def test_receiver_statistics(hass: HomeAssistant, publish: Callable[[str, str | bytes], None]) -> None:
    """Per remote receiver: telegrams per minute, last telegram and unreadable payloads."""
    entry = _entry(hass)
    hub = await _setup(hass, entry, publish)
    for acc in range(1, 4):
        publish("wmbus/basement/telegram", water_telegram(100000 + acc, acc=acc).hex())
    publish("wmbus/attic/telegram", water_telegram(100003, acc=3).hex())
    publish("wmbus/attic/telegram", "not a telegram")
    publish("wmbus/attic/telegram", json.dumps({"_": "telegram", "media": "water"}))
    publish("wmbus/attic/telegram", "online")  # a status word: ignored, not counted
    publish("wmbus/attic/telegram", "")  # a cleared retained message: ignored
    await _wait_for(lambda: hub.frames >= 4 and hub.remote_stats["attic"].unknown >= 2, "every payload")
    await hass.async_block_till_done()
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=61))
    await hass.async_block_till_done()

    stats = hub.remote_stats
    assert stats["basement"].telegrams == 3
    assert stats["attic"].telegrams == 1
    assert stats["attic"].unknown == 2
    assert dict(stats["attic"].reasons) == {"garbage": 1, "decoded": 1}

    ent_reg = er.async_get(hass)

    def state(name: str, key: str) -> str:
        entity_id = ent_reg.async_get_entity_id("sensor", DOMAIN, f"{hub.receiver_identifier}_{name}_{key}")
        assert entity_id is not None, (name, key)
        return hass.states.get(entity_id).state

    assert state("basement", "telegrams_per_minute") == "3.0"
    assert state("attic", "telegrams_per_minute") == "1.0"
    assert state("attic", "unknown_payloads") == "2"
    assert state("basement", "receiver_last_seen") != "unknown"
    assert (
        ent_reg.async_get_entity_id("sensor", DOMAIN, f"{hub.receiver_identifier}_probe_unknown_payloads")
        is None
    )
    assert hass.states.get("sensor.wm_bus_over_mqtt_basement_telegrams_per_minute") is not None

    diagnostics = await async_get_config_entry_diagnostics(hass, entry)
    assert diagnostics["remote_receivers"]["attic"]["reasons"] == {"decoded": 1, "garbage": 1}
    assert diagnostics["meters"]["12345678"]["receivers"] == ["basement", "attic"]

    # The remote receivers are remembered: their sensors exist again after a reload.
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert set(entry.runtime_data.remote_stats) >= {"basement", "attic"}
    assert hass.states.get("sensor.wm_bus_over_mqtt_attic_telegrams_per_minute").state == "0.0"
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_mqtt_not_set_up(hass: HomeAssistant) -> None:
    """Without the MQTT integration the entry retries later."""
    entry = _entry(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_RETRY


@pytest.mark.usefixtures("mqtt_broker_entry")
async def test_mixed_stick_and_mqtt(
    hass: HomeAssistant, publish: Callable[[str, str | bytes], None], tmp_path: Any
) -> None:
    """A local receiver with an MQTT topic filter as option: one hub, one de-duplication."""
    raw = water_telegram(123456, acc=1)
    capture = tmp_path / "capture.txt"
    capture.write_text(f"{raw.hex()};rssi=-90\n")
    entry = _entry(
        hass,
        "Kitchen stick",
        {CONF_MQTT_TOPIC: TOPIC},
        **{CONF_DEVICE: f"{capture}?rate=1000&loop=0", CONF_KIND: "replay"},
    )
    volumes = _changes(hass, VOLUME)
    hub = await _setup(hass, entry, publish)
    await _wait_for(lambda: hub.frames >= 1, "the local telegram")
    publish("wmbus/attic/telegram", f"{raw.hex()};rssi=-60")
    await _wait_for(lambda: hub.duplicates >= 1, "the remote copy")
    await hass.async_block_till_done()
    assert volumes == ["123.456"]
    best = hass.states.get("sensor.kam_water_12345678_best_receiver")
    assert best.state == "attic"
    assert best.attributes["receivers"] == ["Kitchen stick", "attic"]
    assert await hass.config_entries.async_unload(entry.entry_id)


# --- config flow ----------------------------------------------------------------------------

SETUP_ENTRY = "custom_components.oms.async_setup_entry"


async def _mqtt_step(hass: HomeAssistant) -> Any:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.MENU
    assert "mqtt_receivers" in result["menu_options"]
    return await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "mqtt_receivers"}
    )


async def test_flow_needs_the_mqtt_integration(hass: HomeAssistant) -> None:
    result = await _mqtt_step(hass)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "mqtt_not_configured"


async def test_flow_mqtt(hass: HomeAssistant) -> None:
    MockConfigEntry(domain="mqtt", data={"broker": "127.0.0.1"}).add_to_hass(hass)
    result = await _mqtt_step(hass)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "mqtt_receivers"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {CONF_DEVICE: "wmbus/#/x"})
    assert result["errors"] == {CONF_DEVICE: "invalid_topic"}
    with patch(SETUP_ENTRY, return_value=True):
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_DEVICE: f" {TOPIC} "}
        )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == f"MQTT {TOPIC}"
    assert result["data"] == {CONF_DEVICE: TOPIC, CONF_KIND: "mqtt", CONF_LINK_MODE: "c1t1"}
    entry = result["result"]
    assert entry.unique_id == f"mqtt:{TOPIC}"

    result = await _mqtt_step(hass)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {CONF_DEVICE: TOPIC})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"

    # Reconfigure: a new topic filter.
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_RECONFIGURE, "entry_id": entry.entry_id}
    )
    assert result["step_id"] == "reconfigure_mqtt"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {CONF_DEVICE: "a/#/b"})
    assert result["errors"] == {CONF_DEVICE: "invalid_topic"}
    with patch(SETUP_ENTRY, return_value=True):
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_DEVICE: "radio/+/frame"}
        )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert entry.data[CONF_DEVICE] == "radio/+/frame"
    assert entry.unique_id == "mqtt:radio/+/frame"

    # Reconfigure onto a filter another entry already uses: refused, nothing changes.
    other = MockConfigEntry(
        domain=DOMAIN,
        unique_id=f"mqtt:{TOPIC}",
        data={CONF_DEVICE: TOPIC, CONF_KIND: "mqtt", CONF_LINK_MODE: "c1t1"},
    )
    other.add_to_hass(hass)
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_RECONFIGURE, "entry_id": entry.entry_id}
    )
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {CONF_DEVICE: TOPIC})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert entry.data[CONF_DEVICE] == "radio/+/frame"


async def test_options_extra_mqtt_topic(hass: HomeAssistant, tmp_path: Any) -> None:
    """A local receiver takes an MQTT topic filter as option (only when MQTT is set up)."""
    capture = tmp_path / "capture.txt"
    capture.write_text(f"{water_telegram().hex()}\n")
    entry = _entry(hass, "Stick", **{CONF_DEVICE: f"{capture}?loop=0", CONF_KIND: "replay"})
    with patch(SETUP_ENTRY, return_value=True):
        result = await hass.config_entries.options.async_init(entry.entry_id)
        assert CONF_MQTT_TOPIC not in result["data_schema"].schema
        MockConfigEntry(domain="mqtt", data={"broker": "127.0.0.1"}).add_to_hass(hass)
        result = await hass.config_entries.options.async_init(entry.entry_id)
        assert CONF_MQTT_TOPIC in result["data_schema"].schema
        base = {CONF_AUTO_ADD: False, CONF_MIN_RSSI: -110, CONF_AVAILABLE_HOURS: 4}
        result = await hass.config_entries.options.async_configure(
            result["flow_id"], base | {CONF_MQTT_TOPIC: "a/#/b"}
        )
        assert result["errors"] == {CONF_MQTT_TOPIC: "invalid_topic"}
        result = await hass.config_entries.options.async_configure(
            result["flow_id"], base | {CONF_MQTT_TOPIC: TOPIC}
        )
        assert result["type"] is FlowResultType.CREATE_ENTRY
        assert entry.options == base | {CONF_MQTT_TOPIC: TOPIC}
