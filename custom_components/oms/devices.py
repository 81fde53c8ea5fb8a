"""A meter's identity in Home Assistant: device registry fields and the subentry's stored identity.

A meter added by typed ID starts without manufacturer, medium and version; its telegrams carry
them (EN 13757-7 §7.5: M field, version, device type). :func:`async_meter_identified` takes them
from every decoded telegram and, when they differ from what is stored, updates the meter's device
(manufacturer's company name, model "medium (CODE, version 0xNN)", firmware) and the meter
subentry's data, so the identity survives a restart before the next telegram.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from homeassistant.core import callback
from homeassistant.helpers import device_registry as dr

from .const import CONF_DEVICE_TYPE, CONF_MANUFACTURER, CONF_VERSION, DOMAIN
from .omslib.devices import device_type_name
from .omslib.manufacturers import manufacturer_name
from .omslib.telegram import Telegram

if TYPE_CHECKING:
    from .hub import OmsHub
    from .models import MeterState
    from .names import Words

FIRMWARE_QUANTITIES = ("firmware_version", "software_version")
"""Records (VIF FD 0E / FD 0F) whose value is the meter's firmware or software version."""


def meter_model(
    manufacturer: str | None, device_type: int | None, version: int | None, words: Words | None = None
) -> str | None:
    """``"Heat cost allocator (QDS, version 0x35)"``: medium (in ``words``' language), FLAG code and
    version byte."""
    if device_type is None:
        return None
    name = device_type_name(device_type)
    medium = name.replace("_", " ") if words is None else (words.medium(name) or name)
    medium = medium[:1].upper() + medium[1:]
    details = [manufacturer] if manufacturer and manufacturer.isalpha() else []  # "@@@": field 0, no maker
    if version is not None:
        details.append(f"version 0x{version:02X}")
    return f"{medium} ({', '.join(details)})" if details else medium


def meter_device_fields(meter: MeterState, words: Words | None = None) -> dict[str, Any]:
    """Manufacturer, model and hardware version of a meter's device (None while unknown)."""
    return {
        "manufacturer": manufacturer_name(meter.manufacturer),
        "model": meter_model(meter.manufacturer, meter.device_type, meter.version, words),
        "hw_version": None if meter.version is None else f"0x{meter.version:02X}",  # as in the model
    }


def firmware_version(telegram: Telegram) -> str | None:
    """The firmware or software version a telegram reports (current value, storage 0), as text."""
    for quantity in FIRMWARE_QUANTITIES:
        for record in telegram.records:
            if record.quantity == quantity and record.storage == 0 and record.value not in (None, b""):
                value = record.value
                return value.hex().upper() if isinstance(value, bytes) else str(value)
    return None


@callback
def async_meter_identified(hub: OmsHub, meter: MeterState, telegram: Telegram) -> None:
    """Bring the meter's device and subentry in line with the identity of a decoded telegram."""
    hass, entry = hub.hass, hub.entry
    sub = entry.subentries.get(meter.subentry_id)
    identity = {
        CONF_MANUFACTURER: meter.manufacturer,
        CONF_DEVICE_TYPE: meter.device_type,
        CONF_VERSION: meter.version,
    }
    if sub is not None and any(sub.data.get(k) != v for k, v in identity.items() if v is not None):
        hass.config_entries.async_update_subentry(entry, sub, data={**sub.data, **identity})
    from .hub import find_device  # here, not at the top: hub imports this module

    device = find_device(hass, entry.entry_id, (DOMAIN, meter.meter_id))
    if device is None:
        return  # not created yet: its entities bring the same fields (entity.meter_device_info)
    wanted = {k: v for k, v in meter_device_fields(meter, hub.words).items() if v is not None}
    if (firmware := firmware_version(telegram)) is not None:
        wanted["sw_version"] = firmware
    changes = {k: v for k, v in wanted.items() if getattr(device, k) != v}
    if changes:
        dr.async_get(hass).async_update_device(device.id, **changes)
