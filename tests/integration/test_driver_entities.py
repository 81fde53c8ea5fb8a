"""Manufacturer-driver readings in Home Assistant: a Diehl PRIOS water meter (omslib/drivers/diehl.py)."""

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
    SUBENTRY_METER,
)
from custom_components.oms.omslib.drivers import diehl

from .conftest import feed, make_entry, setup_entry


def prios_frame(litres: int, *, leak: bool = False) -> bytes:
    """A PRIOS telegram of DME water meter 12345678 (version 0x78), scrambled with a default key."""
    clear = b"\x4b" + litres.to_bytes(4, "little") + (1000).to_bytes(4, "little") + bytes((0x1F, 0x35))
    h2 = 0x14 | (0x80 if leak else 0)
    head = b"\xa5\x11\x78\x07" + bytes.fromhex("78563412") + bytes((0xA2, 0x01, h2, 0x00, 0x13))
    frame = bytes((len(head) + len(clear) + 1, 0x44)) + head
    return frame + diehl.lfsr(diehl.seed_of(frame, diehl.DEFAULT_KEYS[0]), clear)


def prios_subentry() -> dict[str, object]:
    return {
        "data": {
            CONF_METER_ID: "12345678",
            CONF_MANUFACTURER: "DME",
            CONF_DEVICE_TYPE: 0x07,
            CONF_VERSION: 0x78,
        },
        "subentry_id": "sub_prios",
        "subentry_type": SUBENTRY_METER,
        "title": "Garden water",
        "unique_id": "12345678",
    }


async def test_prios_volume_and_leak_alarm(hass: HomeAssistant, write_capture: Callable[..., str]) -> None:
    entry = make_entry(write_capture(prios_frame(12345)), [prios_subentry()])
    hub = await setup_entry(hass, entry)
    registry = er.async_get(hass)
    volume = [
        e.entity_id
        for e in er.async_entries_for_config_entry(registry, entry.entry_id)
        if e.domain == "sensor" and e.original_device_class == "water" and not e.disabled
    ]
    assert len(volume) == 1
    assert float(hass.states.get(volume[0]).state) == 12.345  # type: ignore[union-attr]
    leak = "binary_sensor.garden_water_leak"
    assert hass.states.get(leak).state == STATE_OFF  # type: ignore[union-attr]
    assert registry.async_get(leak).original_device_class == "moisture"  # type: ignore[union-attr]
    # flags are binary sensors, not "other" sensors
    assert not any(
        e.domain == "sensor" and "alarm" in (e.unique_id or "")
        for e in er.async_entries_for_config_entry(registry, entry.entry_id)
    )
    await feed(hass, hub, prios_frame(12350, leak=True))
    assert hass.states.get(leak).state == STATE_ON  # type: ignore[union-attr]
    assert float(hass.states.get(volume[0]).state) == 12.35  # type: ignore[union-attr]
