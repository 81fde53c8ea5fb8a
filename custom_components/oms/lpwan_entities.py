"""Diagnostic sensors of a meter heard through a LoRaWAN / mioty network server.

For meters whose subentry names a DevEUI: the SNR, the number of gateways (base
stations) that heard its last uplink and the uplink frame counter, read from the
receiver's record of that device (:attr:`.lpwan_mqtt.LpwanReceiver.devices`) whenever
the hub signals a new reading of the meter. The RSSI is the meter's ordinary signal
strength sensor (the best gateway's).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from homeassistant.components.sensor import SensorEntity, SensorEntityDescription, SensorStateClass
from homeassistant.const import SIGNAL_STRENGTH_DECIBELS, EntityCategory
from homeassistant.core import callback
from homeassistant.helpers.typing import StateType

from .const import CONF_DEV_EUI
from .entity import OmsMeterEntity
from .hub import OmsHub
from .lpwan_mqtt import LpwanDevice, LpwanReceiver
from .models import MeterState
from .omslib.lpwan_uplink import normalize_eui


@dataclass(frozen=True, kw_only=True)
class OmsLpwanSensorEntityDescription(SensorEntityDescription):
    """A fact of the meter's last uplink as the network server reported it."""

    value_fn: Callable[[LpwanDevice], StateType]


LPWAN_SENSORS: tuple[OmsLpwanSensorEntityDescription, ...] = (
    OmsLpwanSensorEntityDescription(
        key="snr",
        translation_key="snr",
        native_unit_of_measurement=SIGNAL_STRENGTH_DECIBELS,
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=lambda device: device.snr_db,
    ),
    OmsLpwanSensorEntityDescription(
        key="gateways",
        translation_key="gateways",
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=lambda device: device.gateways,
    ),
    OmsLpwanSensorEntityDescription(
        key="frame_counter",
        translation_key="frame_counter",
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=lambda device: device.f_cnt,
    ),
)


def lpwan_sensors(hub: OmsHub, meter: MeterState) -> list[OmsLpwanSensor]:
    """The LPWAN diagnostic sensors of a meter mapped to a DevEUI on an LPWAN receiver (else none)."""
    if not isinstance(hub.receiver, LpwanReceiver):
        return []
    sub = hub.entry.subentries.get(meter.subentry_id)
    eui = sub.data.get(CONF_DEV_EUI) if sub is not None else None
    if not eui:
        return []
    return [OmsLpwanSensor(hub, meter, description, normalize_eui(eui)) for description in LPWAN_SENSORS]


class OmsLpwanSensor(OmsMeterEntity, SensorEntity):
    """SNR, gateways heard or frame counter of the meter's device, updated with each reading."""

    entity_description: OmsLpwanSensorEntityDescription

    def __init__(
        self, hub: OmsHub, meter: MeterState, description: OmsLpwanSensorEntityDescription, dev_eui: str
    ) -> None:
        super().__init__(hub, meter, description, description.key)
        self.dev_eui = dev_eui

    async def async_added_to_hass(self) -> None:
        await super().async_added_to_hass()
        self._update_from_meter()

    @callback
    def _update_from_meter(self) -> None:
        receiver = self.hub.receiver
        device = receiver.devices.get(self.dev_eui) if isinstance(receiver, LpwanReceiver) else None
        if device is not None:
            self._attr_native_value = self.entity_description.value_fn(device)
