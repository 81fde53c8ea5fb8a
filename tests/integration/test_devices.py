"""A meter's device: company name, model and firmware from its telegrams; alarms; the last-telegram sensor."""

from __future__ import annotations

from collections.abc import Callable

from homeassistant.const import STATE_OFF, STATE_ON
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er

from custom_components.oms.const import (
    CONF_DEVICE_TYPE,
    CONF_MANUFACTURER,
    CONF_METER_ID,
    CONF_VERSION,
    DOMAIN,
)
from custom_components.oms.devices import meter_model
from custom_components.oms.hub import find_device
from custom_components.oms.models import meter_title
from tests import encoder as enc

from .conftest import (
    HEAT,
    feed,
    gas_telegram,
    heat_subentry,
    heat_telegram,
    make_entry,
    setup_entry,
)

SMOKE = enc.Addr("EIE", "45009120", 0x1B, 0x1A)
GAS_DETECTOR = enc.Addr("EIE", "45009121", 0x1B, 0x1C)


def alarm_telegram(meter: enc.Addr, *, status: int = 0, acc: int = 1) -> bytes:
    """An unencrypted smoke/gas detector telegram: error flags and firmware version (FD 0E)."""
    records = [
        enc.record(0x1, enc.vib(0x17, table=0xFD), enc.int_bytes(0, 1)),
        enc.record(0x1, enc.vib(0x0E, table=0xFD), enc.int_bytes(0x12, 1)),
    ]
    return enc.build(enc.TelegramSpec(records=records, meter=meter, acc=acc, status=status))


def typed(meter: enc.Addr, title: str) -> dict[str, object]:
    """A meter subentry as a user adds it by typed ID: no manufacturer, medium or version yet."""
    return {
        "data": {CONF_METER_ID: meter.id},
        "subentry_id": f"sub_{meter.id}",
        "subentry_type": "meter",
        "title": title,
        "unique_id": meter.id,
    }


def test_model_and_title_texts() -> None:
    assert meter_model("QDS", 0x08, 0x35) == "Heat cost allocator (QDS, version 0x35)"
    assert meter_model(None, 0x07, None) == "Water"
    assert meter_model("@@@", 0x07, 0x01) == "Water (version 0x01)"  # manufacturer field 0 (LoRaWAN mapping)
    assert meter_model("KAM", None, 1) is None
    assert meter_title("QDS", "heat_cost_allocator", "16180339") == "Qundis heat cost allocator 16180339"
    assert meter_title("XYZ", None, "1") == "XYZ 1"


async def test_typed_meter_gets_company_model_and_firmware(
    hass: HomeAssistant, write_capture: Callable[..., str]
) -> None:
    """Issue 15 items 2/3: a meter added by typed ID takes its identity from its first telegram."""
    entry = make_entry(write_capture(gas_telegram()), [heat_subentry(), typed(SMOKE, "Hallway")])
    hub = await setup_entry(hass, entry)
    heat = find_device(hass, entry.entry_id, (DOMAIN, HEAT.id))
    assert heat is not None
    assert (heat.manufacturer, heat.model) == (None, None)  # nothing heard of it yet

    await feed(hass, hub, heat_telegram())
    heat = find_device(hass, entry.entry_id, (DOMAIN, HEAT.id))
    assert heat is not None
    assert heat.manufacturer == "Qundis GmbH"
    assert heat.model == "Heat (QDS, version 0x35)"
    assert heat.hw_version == "0x35"
    sub = entry.subentries["sub_heat"]
    assert (sub.data[CONF_MANUFACTURER], sub.data[CONF_DEVICE_TYPE], sub.data[CONF_VERSION]) == (
        "QDS",
        4,
        0x35,
    )

    await feed(hass, hub, alarm_telegram(SMOKE))
    smoke = find_device(hass, entry.entry_id, (DOMAIN, SMOKE.id))
    assert smoke is not None
    assert smoke.manufacturer == "Ei Electronics"
    assert smoke.model == "Smoke detector (EIE, version 0x1B)"
    assert smoke.sw_version == "18"  # FD 0E firmware version 0x12


async def test_identity_survives_a_restart(hass: HomeAssistant, write_capture: Callable[..., str]) -> None:
    """The identity is stored in the subentry: after a reload the alarm entity exists before a telegram."""
    entry = make_entry(write_capture(alarm_telegram(SMOKE)), [typed(SMOKE, "Hallway")])
    await setup_entry(hass, entry)
    assert entry.subentries[f"sub_{SMOKE.id}"].data[CONF_DEVICE_TYPE] == 0x1A
    assert await hass.config_entries.async_unload(entry.entry_id)
    hass.config_entries.async_update_entry(
        entry, data={**entry.data, "device": write_capture(gas_telegram())}
    )
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert hass.states.get("binary_sensor.hallway_smoke") is not None


async def test_smoke_and_gas_alarms_go_on_and_off(
    hass: HomeAssistant, write_capture: Callable[..., str]
) -> None:
    """Issue 15 item 4: the status byte's alarm state (bits 1..0 = 11) is the detector's alarm."""
    entry = make_entry(
        write_capture(alarm_telegram(SMOKE), alarm_telegram(GAS_DETECTOR)),
        [typed(SMOKE, "Hallway"), typed(GAS_DETECTOR, "Boiler room")],
    )
    hub = await setup_entry(hass, entry)
    smoke = hass.states.get("binary_sensor.hallway_smoke")
    assert smoke is not None
    assert smoke.state == STATE_OFF
    assert smoke.attributes["device_class"] == "smoke"
    assert hass.states.get("binary_sensor.hallway_gas") is None
    assert hass.states.get("binary_sensor.boiler_room_gas").state == STATE_OFF  # type: ignore[union-attr]

    await feed(hass, hub, alarm_telegram(SMOKE, status=0x03, acc=2))
    assert hass.states.get("binary_sensor.hallway_smoke").state == STATE_ON  # type: ignore[union-attr]
    assert hass.states.get("binary_sensor.boiler_room_gas").state == STATE_OFF  # type: ignore[union-attr]
    await feed(hass, hub, alarm_telegram(GAS_DETECTOR, status=0x03, acc=2))
    assert hass.states.get("binary_sensor.boiler_room_gas").state == STATE_ON  # type: ignore[union-attr]
    await feed(hass, hub, alarm_telegram(SMOKE, status=0x02, acc=3))  # an application error, not an alarm
    assert hass.states.get("binary_sensor.hallway_smoke").state == STATE_OFF  # type: ignore[union-attr]


async def test_last_telegram_disabled_by_default(
    hass: HomeAssistant, entity_registry: er.EntityRegistry, write_capture: Callable[..., str]
) -> None:
    """Issue 15 item 6: a timestamp sensor changing with every telegram stays out of the logbook."""
    entry = make_entry(write_capture(alarm_telegram(SMOKE)), [typed(SMOKE, "Hallway")])
    await setup_entry(hass, entry)
    entity_id = entity_registry.async_get_entity_id("sensor", DOMAIN, f"{SMOKE.id}_last_telegram")
    assert entity_id is not None
    entity = entity_registry.async_get(entity_id)
    assert entity is not None
    assert entity.disabled_by is er.RegistryEntryDisabler.INTEGRATION
    assert entity.original_device_class == "timestamp"
    assert hass.states.get(entity_id) is None
