"""Base entity of a meter: device info, availability and push updates."""

from __future__ import annotations

from typing import Any, cast

from homeassistant.core import callback
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity import Entity, EntityDescription

from .const import DOMAIN, signal_meter
from .devices import meter_device_fields
from .hub import OmsHub
from .models import MeterState

VIA_DEVICE_ID = "via_device_id" in DeviceInfo.__annotations__
"""Newer Home Assistant links a device to its parent by device-registry ID (``via_device`` is deprecated)."""


def meter_device_info(hub: OmsHub, meter: MeterState) -> DeviceInfo:
    """One device per meter, linked to the receiver's device."""
    info: dict[str, Any] = {
        "identifiers": {(DOMAIN, meter.meter_id)},
        "name": meter.name,
        **meter_device_fields(meter, hub.words),  # company name, "medium (CODE, version 0xNN)", version
        "serial_number": meter.meter_id,
    }
    if VIA_DEVICE_ID:
        if hub.receiver_device_id is not None:
            info["via_device_id"] = hub.receiver_device_id
    else:
        info["via_device"] = (DOMAIN, hub.receiver_identifier)
    return cast(DeviceInfo, info)


class OmsMeterEntity(Entity):
    """An entity of one configured meter; updated by the hub's dispatcher signal."""

    _attr_has_entity_name = True
    _attr_should_poll = False

    def __init__(self, hub: OmsHub, meter: MeterState, description: EntityDescription, unique: str) -> None:
        self.hub = hub
        self.meter = meter
        self.entity_description = description
        self._attr_unique_id = f"{meter.meter_id}_{unique}"
        self._attr_device_info = meter_device_info(hub, meter)

    @property
    def available(self) -> bool:
        return self.meter.available

    async def async_added_to_hass(self) -> None:
        await super().async_added_to_hass()
        self.async_on_remove(
            async_dispatcher_connect(
                self.hass, signal_meter(self.hub.entry.entry_id, self.meter.meter_id), self._handle_update
            )
        )

    @callback
    def _handle_update(self) -> None:
        self._update_from_meter()
        self.async_write_ha_state()

    @callback
    def _update_from_meter(self) -> None:
        """Take the new reading from :attr:`meter` (subclasses)."""
