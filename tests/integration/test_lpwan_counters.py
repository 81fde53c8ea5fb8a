"""LoRaWAN / mioty frame counters survive a reload: an old uplink replayed afterwards is still rejected.

The counters live in the store ``oms.<entry_id>.lpwan`` of the entry's
:class:`~custom_components.oms.lpwan_mqtt.LpwanReceiver`; uplinks travel through a real
Mosquitto and Home Assistant's MQTT integration (fixtures of test_lpwan).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import json
from typing import Any
from unittest.mock import patch

from homeassistant.const import EVENT_HOMEASSISTANT_FINAL_WRITE
from homeassistant.core import HomeAssistant
from homeassistant.helpers.storage import Store
import pytest

from custom_components.oms.const import DOMAIN, TRUST_SAVE_DELAY
from custom_components.oms.hub import OmsHub
from custom_components.oms.lpwan_mqtt import LpwanReceiver
from tests import encoder as enc
from tests.library.test_lpwan import tts

from . import test_mqtt
from .conftest import KEY, KEY_HEX, WATER, water_records
from .test_lpwan import EUI_A, EUI_C, EUI_OTHER, _entry, _message, _subscribed, _volume_of
from .test_mqtt import _wait_for

mqtt_broker_entry = test_mqtt.mqtt_broker_entry
publish = test_mqtt.publish

PROBE_TOPIC = _message("tts", EUI_OTHER, b"\x01", 1)[0]


def _litres(value: int) -> bytes:
    """A TPL-first payload without header (CI 0x78): one volume record in litres (DIF 0x04, VIF 0x13)."""
    return bytes((0x78, 0x04, 0x13)) + value.to_bytes(4, "little")


async def _receiver(
    hass: HomeAssistant, entry_id: str, publish: Callable[[str, str | bytes], None]
) -> OmsHub:
    entry = hass.config_entries.async_get_entry(entry_id)
    assert entry is not None
    hub: OmsHub = entry.runtime_data
    assert isinstance(hub.receiver, LpwanReceiver)
    await _subscribed(hub.receiver, publish, PROBE_TOPIC)
    return hub


@pytest.mark.usefixtures("mqtt_broker_entry")
async def test_frame_counters_survive_a_reload(
    hass: HomeAssistant, publish: Callable[[str, str | bytes], None], hass_storage: dict[str, Any]
) -> None:
    entry = _entry(hass, "tts")
    key = f"{DOMAIN}.{entry.entry_id}.lpwan"
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    hub = await _receiver(hass, entry.entry_id, publish)
    encrypted = enc.build(
        enc.TelegramSpec(records=water_records(654321), meter=WATER, acc=5, mode=5, key=KEY)
    )
    publish(*_message("tts", EUI_A, encrypted[10:], 10))  # a keyed meter's DevEUI
    publish(*_message("tts", EUI_C, _litres(1000), 100))
    await _wait_for(lambda: _volume_of(hass, "meter_c") == "1.0", "the first uplink")
    await _wait_for(lambda: _volume_of(hass, "meter_a") == "654.321", "the keyed meter's uplink")
    assert key not in hass_storage  # a delayed save, not one per uplink

    hass.bus.async_fire(EVENT_HOMEASSISTANT_FINAL_WRITE)  # Home Assistant stops: pending saves are written
    await hass.async_block_till_done()
    assert hass_storage[key]["data"] == {EUI_A: 10, EUI_C: 100}
    assert KEY_HEX not in json.dumps(hass_storage[key]).lower()

    await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    hub = await _receiver(hass, entry.entry_id, publish)
    receiver = hub.receiver
    assert isinstance(receiver, LpwanReceiver)
    publish(*_message("tts", EUI_C, _litres(1000), 100))  # the accepted uplink, replayed
    await _wait_for(lambda: receiver.duplicates == 1, "the replayed uplink dropped")
    publish(
        *_message("tts", EUI_C, _litres(1002), 50)
    )  # an older uplink (a higher reading, as a forger sends)
    await _wait_for(lambda: receiver.reasons["replay"] == 1, "the older uplink rejected")
    await hass.async_block_till_done()
    assert hub.frames == 0
    assert _volume_of(hass, "meter_c") == "1.0"

    publish(*_message("tts", EUI_C, _litres(1001), 101))  # the next uplink
    await _wait_for(lambda: _volume_of(hass, "meter_c") == "1.001", "the next uplink")
    assert hub.frames == 1
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert hass_storage[key]["data"] == {EUI_A: 10, EUI_C: 101}  # written on unload


@pytest.mark.parametrize(
    "data", [["70B3D5FFFE00000C", 100], {EUI_C: "100", "70b3d5fffe00000c!": 100, EUI_A: -1}, "x"]
)
@pytest.mark.usefixtures("mqtt_broker_entry")
async def test_malformed_stored_counters_are_dropped(
    hass: HomeAssistant, publish: Callable[[str, str | bytes], None], hass_storage: dict[str, Any], data: Any
) -> None:
    entry = _entry(hass, "tts")
    hass_storage[f"{DOMAIN}.{entry.entry_id}.lpwan"] = {
        "version": 1,
        "minor_version": 1,
        "key": f"{DOMAIN}.{entry.entry_id}.lpwan",
        "data": data,
    }
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    hub = await _receiver(hass, entry.entry_id, publish)
    receiver = hub.receiver
    assert isinstance(receiver, LpwanReceiver)
    assert receiver.framer.counters is not None
    assert receiver.framer.counters.to_json() == {}
    publish(*_message("tts", EUI_C, _litres(1000), 100))
    await _wait_for(lambda: _volume_of(hass, "meter_c") == "1.0", "an uplink taken with empty counters")
    assert receiver.duplicates == 0
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_counter_saves_are_delayed_to_a_fixed_deadline(hass: HomeAssistant) -> None:
    """Each change hands the store a snapshot taken then; later uplinks do not push the write back."""
    receiver = LpwanReceiver(
        hass, "v3/+/devices/+/up", on_frame=lambda frame: None, network="tts", store_key="oms.test.lpwan"
    )
    saves: list[tuple[Callable[[], dict[str, int]], float]] = []

    def delay_save(
        store: Store[dict[str, int]], data: Callable[[], dict[str, int]], delay: float = 0
    ) -> None:
        saves.append((data, delay))

    topic = "v3/oms@ttn/devices/dev-0c/up"
    with patch.object(Store, "async_delay_save", delay_save):
        receiver._on_payload(json.dumps(tts(_litres(1000), f_cnt=100, eui=EUI_C)), topic)
        await asyncio.sleep(0.05)
        receiver._on_payload(json.dumps(tts(_litres(1000), f_cnt=100, eui=EUI_C)), topic)  # duplicate
        receiver._on_payload(json.dumps(tts(_litres(1000), f_cnt=50, eui=EUI_C)), topic)  # replay
        receiver._on_payload(json.dumps(tts(_litres(1001), f_cnt=101, eui=EUI_C)), topic)
    assert receiver.reasons["unmapped_device"] == 2  # no mapping here: the counter is taken all the same
    assert (receiver.duplicates, receiver.reasons["replay"]) == (1, 1)
    assert len(saves) == 2  # nothing to save after the duplicate and the replay
    assert saves[0][1] == TRUST_SAVE_DELAY
    assert TRUST_SAVE_DELAY - 5 < saves[1][1] < saves[0][1]  # the same deadline, not 30 s from now
    assert saves[0][0]() == {EUI_C: 100}  # the snapshot of its time, not the live counters
    assert saves[1][0]() == {EUI_C: 101}
