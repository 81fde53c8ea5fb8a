"""LoRaWAN / mioty receivers: network-server uplinks through a real Mosquitto and HA's MQTT integration.

Uplinks are published by a real paho client on the topics The Things Stack v3,
ChirpStack v4 and the mioty application centre use; the entry's meter subentries
map DevEUIs to meters. Every payload layout (TPL first with and without
encryption, full DLL, bridge fragments) must end up as meter entities.
"""

from __future__ import annotations

from collections.abc import Callable
import json
from types import MappingProxyType
from typing import Any
from unittest.mock import patch

from homeassistant.config_entries import SOURCE_RECONFIGURE, SOURCE_USER, ConfigSubentryData
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.oms.const import (
    CONF_DEV_EUI,
    CONF_DEVICE,
    CONF_DEVICE_TYPE,
    CONF_KEY,
    CONF_KIND,
    CONF_LINK_MODE,
    CONF_LPWAN_NETWORK,
    CONF_MANUFACTURER,
    CONF_METER_ID,
    CONF_NAME,
    CONF_VERSION,
    DOMAIN,
    LPWAN_TOPICS,
    SUBENTRY_METER,
)
from custom_components.oms.diagnostics import async_get_config_entry_diagnostics
from custom_components.oms.hub import OmsHub
from custom_components.oms.lpwan_mqtt import LpwanReceiver
from tests import encoder as enc
from tests.library.test_lpwan import FPORT1_PAYLOAD, chirpstack, mioty, tts

from . import test_mqtt
from .conftest import (
    GAS,
    HEAT,
    KEY,
    KEY_HEX,
    WATER,
    start_meter_flow,
    start_meter_reconfigure,
    water_records,
)
from .test_mqtt import _wait_for

mqtt_broker_entry = test_mqtt.mqtt_broker_entry
"""The MQTT integration connected to the real broker (fixture shared with test_mqtt)."""
publish = test_mqtt.publish
"""A real paho client publishing to it (fixture shared with test_mqtt)."""

SETUP_ENTRY = "custom_components.oms.async_setup_entry"
EUI_A = "70B3D5FFFE00000A"  # TPL-first, encrypted (mode 5)
EUI_C = "70B3D5FFFE00000C"  # TPL-first, no header: the FPort-1 payload
EUI_B = "70B3D5FFFE00000B"  # full DLL
EUI_BRIDGE = "70B3D5FFFE0000BB"  # a wM-Bus bridge forwarding GAS's telegrams in two parts
EUI_OTHER = "70B3D5FFFE0000FF"  # a vendor sensor on its own port


def _meter(title: str, meter_id: str, **data: Any) -> ConfigSubentryData:
    return ConfigSubentryData(
        data=MappingProxyType({CONF_METER_ID: meter_id, **data}),
        subentry_type=SUBENTRY_METER,
        title=title,
        unique_id=meter_id,
    )


def _entry(hass: HomeAssistant, network: str) -> MockConfigEntry:
    topic = LPWAN_TOPICS[network]
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=f"LPWAN {network}",
        data={CONF_DEVICE: topic, CONF_KIND: "lpwan", CONF_LINK_MODE: "c1t1", CONF_LPWAN_NETWORK: network},
        unique_id=f"lpwan:{topic}",
        subentries_data=[
            _meter(
                "Meter A",
                WATER.id,
                **{
                    CONF_DEV_EUI: EUI_A.lower(),
                    CONF_KEY: KEY_HEX,
                    CONF_MANUFACTURER: WATER.manufacturer,
                    CONF_VERSION: WATER.version,
                    CONF_DEVICE_TYPE: WATER.device_type,
                },
            ),
            _meter("Meter B", HEAT.id),
            _meter("Meter C", "22223333", **{CONF_DEV_EUI: EUI_C, CONF_DEVICE_TYPE: 0x07}),
            _meter("Meter D", GAS.id),
        ],
    )
    entry.add_to_hass(hass)
    return entry


def _message(
    network: str, eui: str, payload: bytes, f_cnt: int, f_port: int = 1, gateways: int = 1
) -> tuple[str, str]:
    if network == "tts":
        return f"v3/oms@ttn/devices/dev-{eui[-2:].lower()}/up", json.dumps(
            tts(payload, f_port=f_port, f_cnt=f_cnt, eui=eui, gateways=gateways)
        )
    if network == "chirpstack":
        return f"application/7/device/{eui.lower()}/event/up", json.dumps(
            chirpstack(payload, f_port=f_port, f_cnt=f_cnt, eui=eui)
        )
    return f"mioty/ac/{eui}/uplink", json.dumps(mioty(payload, cnt=f_cnt))


async def _subscribed(
    receiver: LpwanReceiver, publish: Callable[[str, str | bytes], None], topic: str
) -> None:
    """Publish a probe until the receiver counts one: then its subscription is active."""

    def subscribed() -> bool:
        if receiver.unknown:
            return True
        publish(topic, "probe")  # not JSON: counted, not raised
        return False

    await _wait_for(subscribed, "the subscription is active")


def _volume_of(hass: HomeAssistant, slug: str) -> str | None:
    state = hass.states.get(f"sensor.{slug}_volume")
    return None if state is None else state.state


@pytest.mark.parametrize("network", ["tts", "chirpstack", "mioty"])
@pytest.mark.usefixtures("mqtt_broker_entry", "entity_registry_enabled_by_default")
async def test_uplinks_become_meter_entities(
    hass: HomeAssistant, publish: Callable[[str, str | bytes], None], network: str
) -> None:
    entry = _entry(hass, network)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    hub: OmsHub = entry.runtime_data
    receiver = hub.receiver
    assert isinstance(receiver, LpwanReceiver)
    assert hub.info is not None
    assert hub.info.kind == "lpwan"

    await _subscribed(receiver, publish, _message(network, EUI_OTHER, b"\x01", 1)[0])

    encrypted = enc.build(
        enc.TelegramSpec(records=water_records(654321), meter=WATER, acc=5, mode=5, key=KEY)
    )
    dll = enc.build(enc.TelegramSpec(records=water_records(111000), meter=HEAT, acc=1))
    uplinks = [
        _message(network, EUI_A, encrypted[10:], 10, gateways=2),  # TPL first, short header, mode 5
        _message(network, EUI_A, encrypted[10:], 10, gateways=2),  # the same uplink again: a duplicate
        _message(network, EUI_C, FPORT1_PAYLOAD, 3),  # TPL first, no header
        _message(network, EUI_B, dll, 1),  # full DLL
        _message(network, EUI_OTHER, b"\x01\x02\x03", 2, f_port=2),  # not OMS
    ]
    if network != "mioty":  # bridge fragments are LoRaWAN FPorts
        gas = enc.build(enc.TelegramSpec(records=water_records(222000), meter=GAS, acc=1))
        uplinks += [
            _message(network, EUI_BRIDGE, gas[:20], 100, f_port=12),
            _message(network, EUI_BRIDGE, gas[20:], 101, f_port=22),
        ]
    for topic, payload in uplinks:
        publish(topic, payload)

    await _wait_for(lambda: _volume_of(hass, "meter_b") == "111.0", "the DLL meter")
    await _wait_for(lambda: _volume_of(hass, "meter_a") == "654.321", "the encrypted TPL-first meter")
    await _wait_for(
        lambda: any(s.state == "0.003" for s in hass.states.async_all("sensor") if "meter_c" in s.entity_id),
        "the FPort-1 payload's 0.003 m³",
    )
    if network != "mioty":
        await _wait_for(lambda: _volume_of(hass, "meter_d") == "222.0", "the bridged meter")
    await _wait_for(lambda: receiver.reasons["not_oms"] == 1, "the non-OMS uplink counted")
    await hass.async_block_till_done()

    assert receiver.duplicates == 1
    assert receiver.devices[EUI_A].layout == "tpl"
    assert receiver.devices[EUI_B].layout == "dll"
    assert not receiver.devices[EUI_OTHER].looks_oms
    assert receiver.devices[EUI_OTHER].problem == "not_oms"
    if network != "mioty":
        assert receiver.devices[EUI_BRIDGE].layout == "bridge"
    rssi = hass.states.get("sensor.meter_a_signal_strength")
    assert rssi is not None
    assert float(rssi.state) == (-90.0 if network == "tts" else -57.0 if network == "chirpstack" else -110.0)
    assert hub.meters[WATER.id].last_heard is not None
    snr, gateways = {"tts": (2.5, 2), "chirpstack": (10.5, 1), "mioty": (8.25, 2)}[network]
    assert float(hass.states.get("sensor.meter_a_signal_to_noise_ratio").state) == snr
    assert hass.states.get("sensor.meter_a_gateways").state == str(gateways)
    assert hass.states.get("sensor.meter_a_frame_counter").state == "10"
    assert hass.states.get("sensor.meter_b_gateways") is None  # no DevEUI: its frames name the meter
    diagnostics = (await async_get_config_entry_diagnostics(hass, entry))["lpwan"]
    assert diagnostics["duplicates"] == 1
    assert diagnostics["reasons"]["not_oms"] == 1
    assert diagnostics["devices"][EUI_A]["layout"] == "tpl"
    assert diagnostics["devices"][EUI_A]["f_cnt"] == 10
    assert KEY_HEX not in json.dumps(diagnostics)
    assert await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.usefixtures("mqtt_broker_entry", "entity_registry_enabled_by_default")
async def test_wrong_mapping_and_unmapped_devices_are_counted_not_decoded(
    hass: HomeAssistant, publish: Callable[[str, str | bytes], None]
) -> None:
    entry = _entry(hass, "tts")
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    hub: OmsHub = entry.runtime_data
    receiver = hub.receiver
    assert isinstance(receiver, LpwanReceiver)
    await _subscribed(receiver, publish, "v3/x/devices/y/up")
    other = enc.build(enc.TelegramSpec(records=water_records(999000), meter=HEAT, acc=2))
    for topic, payload in (
        _message("tts", EUI_A, other, 1),  # EUI_A is mapped to WATER, but this DLL names HEAT
        _message("tts", "00000000000000AA", FPORT1_PAYLOAD, 1),  # nobody mapped this DevEUI
    ):
        publish(topic, payload)
    await _wait_for(lambda: receiver.reasons["unmapped_device"] == 1, "the unmapped device")
    await _wait_for(lambda: receiver.reasons["mapping_mismatch"] == 1, "the wrong mapping")
    await hass.async_block_till_done()
    assert _volume_of(hass, "meter_b") in (None, "unknown")  # HEAT's reading did not arrive through EUI_A
    assert hub.meters[WATER.id].last_heard is None
    assert receiver.devices["00000000000000AA"].looks_oms  # OMS, waiting for its mapping
    assert await hass.config_entries.async_unload(entry.entry_id)


# -- flows ----------------------------------------------------------------------------------------


async def _lpwan_step(hass: HomeAssistant) -> Any:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.MENU
    return await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": "lpwan"})


async def test_receiver_flow(hass: HomeAssistant) -> None:
    """Network server and topic filter; the filter defaults to the server's uplink topic."""
    result = await _lpwan_step(hass)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "mqtt_not_configured"

    MockConfigEntry(domain="mqtt", data={"broker": "127.0.0.1"}).add_to_hass(hass)
    result = await _lpwan_step(hass)
    assert result["step_id"] == "lpwan"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_LPWAN_NETWORK: "mioty", CONF_DEVICE: "mioty/#/x"}
    )
    assert result["errors"] == {CONF_DEVICE: "invalid_topic"}
    with patch(SETUP_ENTRY, return_value=True):
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_LPWAN_NETWORK: "chirpstack"}
        )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    topic = "application/+/device/+/event/up"
    assert result["data"] == {
        CONF_DEVICE: topic,
        CONF_KIND: "lpwan",
        CONF_LINK_MODE: "c1t1",
        CONF_LPWAN_NETWORK: "chirpstack",
    }
    entry = result["result"]
    assert entry.unique_id == f"lpwan:{topic}"

    result = await _lpwan_step(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_LPWAN_NETWORK: "auto", CONF_DEVICE: topic}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"

    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_RECONFIGURE, "entry_id": entry.entry_id}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_lpwan"


@pytest.mark.usefixtures("mqtt_broker_entry", "entity_registry_enabled_by_default")
async def test_add_meter_by_dev_eui(hass: HomeAssistant, publish: Callable[[str, str | bytes], None]) -> None:
    """Devices heard are offered (OMS first); the DevEUI mapping is given in the add-meter step."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="LPWAN",
        data={
            CONF_DEVICE: LPWAN_TOPICS["tts"],
            CONF_KIND: "lpwan",
            CONF_LINK_MODE: "c1t1",
            CONF_LPWAN_NETWORK: "tts",
        },
        unique_id="lpwan:tts",
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    receiver = entry.runtime_data.receiver
    assert isinstance(receiver, LpwanReceiver)
    await _subscribed(receiver, publish, "v3/a/devices/b/up")
    for topic, payload in (
        _message("tts", EUI_C, FPORT1_PAYLOAD, 1),
        _message("tts", EUI_OTHER, b"\x01\x02", 1, f_port=5),
    ):
        publish(topic, payload)
    await _wait_for(lambda: len(receiver.devices) == 2, "both devices heard")

    result = await start_meter_flow(hass, entry.entry_id)
    assert result["step_id"] == "lpwan"
    assert result["description_placeholders"] == {"count": "2"}
    options = result["data_schema"].schema[CONF_DEV_EUI].config["options"]
    assert [o["value"] for o in options] == [EUI_C, EUI_OTHER]  # the one that sends OMS first
    assert "OMS" in options[0]["label"]
    assert "not OMS" in options[1]["label"]
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {CONF_DEV_EUI: "12-34", CONF_METER_ID: "22223333"}
    )
    assert result["errors"] == {CONF_DEV_EUI: "invalid_dev_eui"}
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {CONF_DEV_EUI: EUI_C.lower(), CONF_METER_ID: "22223333", CONF_DEVICE_TYPE: "water"}
    )
    assert result["step_id"] == "meter"
    result = await hass.config_entries.subentries.async_configure(result["flow_id"], {"name": "Garden water"})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == {CONF_METER_ID: "22223333", CONF_DEV_EUI: EUI_C, CONF_DEVICE_TYPE: 0x07}
    await hass.async_block_till_done()

    publish(*_message("tts", EUI_C, FPORT1_PAYLOAD, 2))
    await _wait_for(
        lambda: any(
            s.state == "0.003" for s in hass.states.async_all("sensor") if "garden_water" in s.entity_id
        ),
        "the mapped meter's reading",
    )
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_dev_eui_changed_in_reconfigure(hass: HomeAssistant) -> None:
    """A meter's DevEUI can be changed or removed later; one DevEUI maps one meter of the entry."""
    entry = _entry(hass, "tts")
    subentry_id = next(sid for sid, sub in entry.subentries.items() if sub.title == "Meter C")

    result = await start_meter_flow(hass, entry.entry_id)
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {CONF_DEV_EUI: EUI_C.lower(), CONF_METER_ID: "33334444"}
    )
    assert result["errors"] == {CONF_DEV_EUI: "dev_eui_taken"}
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"],
        {CONF_DEV_EUI: "70b3d5fffe0000dd", CONF_METER_ID: "33334444", CONF_MANUFACTURER: "KAMX"},
    )
    assert result["errors"] == {CONF_MANUFACTURER: "invalid_manufacturer"}

    result = await start_meter_reconfigure(hass, entry.entry_id, subentry_id)
    assert result["step_id"] == "reconfigure_lpwan"
    field = next(key for key in result["data_schema"].schema if key == CONF_DEV_EUI)
    assert field.description == {"suggested_value": EUI_C}
    for typed, error in (
        (EUI_A.lower(), "dev_eui_taken"),
        ("12-34", "invalid_dev_eui"),
        (EUI_C + "xyz", "invalid_dev_eui"),  # 16 hex digits and more: not a DevEUI
    ):
        result = await hass.config_entries.subentries.async_configure(
            result["flow_id"], {CONF_DEV_EUI: typed}
        )
        assert result["errors"] == {CONF_DEV_EUI: error}
    assert entry.subentries[subentry_id].data[CONF_DEV_EUI] == EUI_C  # nothing saved yet
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {CONF_DEV_EUI: "70b3d5fffe0000dd", CONF_NAME: "Meter C"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert dict(entry.subentries[subentry_id].data) == {
        CONF_METER_ID: "22223333",
        CONF_DEV_EUI: "70B3D5FFFE0000DD",
        CONF_DEVICE_TYPE: 0x07,
    }

    result = await start_meter_reconfigure(hass, entry.entry_id, subentry_id)
    result = await hass.config_entries.subentries.async_configure(result["flow_id"], {})
    assert result["reason"] == "reconfigure_successful"
    assert CONF_DEV_EUI not in entry.subentries[subentry_id].data  # no longer mapped

    # a meter of another receiver kind has no DevEUI field
    other = MockConfigEntry(
        domain=DOMAIN,
        data={CONF_DEVICE: "oms/#", CONF_KIND: "mqtt", CONF_LINK_MODE: "c1t1"},
        subentries_data=[_meter("Water", WATER.id)],
    )
    other.add_to_hass(hass)
    result = await start_meter_reconfigure(hass, other.entry_id, next(iter(other.subentries)))
    assert result["step_id"] == "reconfigure"
    assert CONF_DEV_EUI not in result["data_schema"].schema
