"""Binary sensors: status byte flags and the FD 17 error flags."""

from __future__ import annotations

from collections.abc import Callable

from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNKNOWN
from homeassistant.core import HomeAssistant

from .conftest import feed, make_entry, setup_entry, water_subentry, water_telegram


async def test_status_and_error_flags(hass: HomeAssistant, write_capture: Callable[..., str]) -> None:
    entry = make_entry(write_capture(water_telegram()), [water_subentry()])
    hub = await setup_entry(hass, entry)
    assert hass.states.get("binary_sensor.kitchen_water_battery").state == STATE_OFF  # type: ignore[union-attr]
    assert hass.states.get("binary_sensor.kitchen_water_permanent_error").state == STATE_OFF  # type: ignore[union-attr]
    assert hass.states.get("binary_sensor.kitchen_water_error_flags").state == STATE_OFF  # type: ignore[union-attr]
    await feed(hass, hub, water_telegram(acc=2, status=0x04 | 0x10, error_flags=0x0100))
    assert hass.states.get("binary_sensor.kitchen_water_battery").state == STATE_ON  # type: ignore[union-attr]
    assert hass.states.get("binary_sensor.kitchen_water_temporary_error").state == STATE_ON  # type: ignore[union-attr]
    assert hass.states.get("binary_sensor.kitchen_water_permanent_error").state == STATE_OFF  # type: ignore[union-attr]
    assert hass.states.get("binary_sensor.kitchen_water_error_flags").state == STATE_ON  # type: ignore[union-attr]


async def test_no_telegram_yet(hass: HomeAssistant, write_capture: Callable[..., str]) -> None:
    from .conftest import gas_telegram

    entry = make_entry(write_capture(gas_telegram()), [water_subentry()])
    await setup_entry(hass, entry)
    assert hass.states.get("binary_sensor.kitchen_water_battery").state == STATE_UNKNOWN  # type: ignore[union-attr]
    assert hass.states.get("binary_sensor.kitchen_water_error_flags") is None
