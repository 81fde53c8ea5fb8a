"""Binary sensors: the status byte of the transport layer, the error flags record (FD 17), alarms."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from homeassistant.components.binary_sensor import (
    BinarySensorDeviceClass,
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import signal_new_records
from .entity import OmsMeterEntity
from .hub import OmsConfigEntry
from .models import MeterState
from .omslib.drivers.base import ALARM_PREFIX, ALARMS
from .omslib.record import Record
from .receiver_entities import receiver_binary_sensors

PARALLEL_UPDATES = 0

ERROR_FLAGS = "error_flags"


def _error_flags(meter: MeterState) -> bool | None:
    """True when the current error flags record (storage 0) has any bit set."""
    for record in meter.records.values():
        if record.quantity == ERROR_FLAGS and record.storage == 0 and isinstance(record.value, int):
            return record.value != 0
    return None


@dataclass(frozen=True, kw_only=True)
class OmsBinarySensorEntityDescription(BinarySensorEntityDescription):
    """A flag of the meter's last telegram."""

    value_fn: Callable[[MeterState], bool | None]


STATUS_SENSORS: tuple[OmsBinarySensorEntityDescription, ...] = (
    OmsBinarySensorEntityDescription(
        key="battery_low",
        device_class=BinarySensorDeviceClass.BATTERY,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda meter: meter.status.power_low if meter.status else None,
    ),
    OmsBinarySensorEntityDescription(
        key="permanent_error",
        translation_key="permanent_error",
        device_class=BinarySensorDeviceClass.PROBLEM,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda meter: meter.status.permanent_error if meter.status else None,
    ),
    OmsBinarySensorEntityDescription(
        key="temporary_error",
        translation_key="temporary_error",
        device_class=BinarySensorDeviceClass.PROBLEM,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda meter: meter.status.temporary_error if meter.status else None,
    ),
)

ERROR_FLAGS_SENSOR = OmsBinarySensorEntityDescription(
    key=ERROR_FLAGS,
    translation_key=ERROR_FLAGS,
    device_class=BinarySensorDeviceClass.PROBLEM,
    value_fn=_error_flags,
)


def _alarm(meter: MeterState) -> bool | None:
    """True while the TPL status byte says "alarm" (bits 1..0 = 11, EN 13757-7 §7.5.6).

    An alarm-type device (smoke or gas detector) sets it in every telegram while it alarms, including
    the alarm telegrams (CI 0x74/0x75, whose header carries the same status byte); it clears it again.
    """
    return meter.status.application == "alarm" if meter.status else None


ALARM_SENSORS: dict[int, OmsBinarySensorEntityDescription] = {
    0x1A: OmsBinarySensorEntityDescription(  # smoke detector (EN 13757-7 device type)
        key="smoke", device_class=BinarySensorDeviceClass.SMOKE, value_fn=_alarm
    ),
    0x1C: OmsBinarySensorEntityDescription(  # gas detector
        key="gas", device_class=BinarySensorDeviceClass.GAS, value_fn=_alarm
    ),
}
"""Device type -> the alarm it raises; named by its device class ("Smoke", "Gas"), translated by HA."""


_DRIVER_ALARM_CLASSES: dict[str, BinarySensorDeviceClass] = {
    "leak": BinarySensorDeviceClass.MOISTURE,
    "battery_low": BinarySensorDeviceClass.BATTERY,
    **dict.fromkeys(
        (
            "sensor_fraud",
            "sensor_fraud_earlier",
            "mechanical_fraud",
            "mechanical_fraud_earlier",
            "fraud",
            "magnetic_fraud",
            "module_removed",
        ),
        BinarySensorDeviceClass.TAMPER,
    ),
}
"""Driver flag -> device class (PROBLEM for the others)."""


def _driver_alarm(quantity: str) -> Callable[[MeterState], bool | None]:
    def value(meter: MeterState) -> bool | None:
        for record in meter.records.values():
            if record.quantity == quantity and isinstance(record.value, bool):
                return record.value
        return None

    return value


DRIVER_ALARM_SENSORS: dict[str, OmsBinarySensorEntityDescription] = {
    ALARM_PREFIX + name: OmsBinarySensorEntityDescription(
        key=ALARM_PREFIX + name,
        translation_key=ALARM_PREFIX + name,
        device_class=_DRIVER_ALARM_CLASSES.get(name, BinarySensorDeviceClass.PROBLEM),
        value_fn=_driver_alarm(ALARM_PREFIX + name),
    )
    for name in ALARMS
}
"""Record quantity ``alarm_<name>`` (manufacturer drivers, omslib/drivers) -> its binary sensor."""


async def async_setup_entry(
    hass: HomeAssistant, entry: OmsConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """Status flags for every meter; an error-flags sensor once a meter sends that record."""
    hub = entry.runtime_data
    async_add_entities(receiver_binary_sensors(hub))
    added: set[tuple[str, str]] = set()

    @callback
    def add(meter: MeterState, records: Iterable[Record]) -> None:
        descriptions: list[OmsBinarySensorEntityDescription] = []
        if (meter.subentry_id, "") not in added:
            added.add((meter.subentry_id, ""))
            descriptions.extend(STATUS_SENSORS)
        if (meter.subentry_id, ERROR_FLAGS) not in added and any(
            r.quantity == ERROR_FLAGS and r.storage == 0 for r in records
        ):
            added.add((meter.subentry_id, ERROR_FLAGS))
            descriptions.append(ERROR_FLAGS_SENSOR)
        alarm = ALARM_SENSORS.get(meter.device_type) if meter.device_type is not None else None
        if alarm is not None and (meter.subentry_id, alarm.key) not in added:
            added.add((meter.subentry_id, alarm.key))
            descriptions.append(alarm)
        for record in records:
            flag = DRIVER_ALARM_SENSORS.get(record.quantity)
            if flag is not None and (meter.subentry_id, flag.key) not in added:
                added.add((meter.subentry_id, flag.key))
                descriptions.append(flag)
        if descriptions:
            async_add_entities(
                [OmsBinarySensor(hub, meter, d, d.key) for d in descriptions],
                config_subentry_id=meter.subentry_id,
            )

    for meter in hub.meters.values():
        add(meter, list(meter.known.values()))
    entry.async_on_unload(async_dispatcher_connect(hass, signal_new_records(entry.entry_id), add))


class OmsBinarySensor(OmsMeterEntity, BinarySensorEntity):
    """A status or error flag of a meter."""

    entity_description: OmsBinarySensorEntityDescription

    async def async_added_to_hass(self) -> None:
        await super().async_added_to_hass()
        self._update_from_meter()

    @callback
    def _update_from_meter(self) -> None:
        value = self.entity_description.value_fn(self.meter)
        if value is not None:
            self._attr_is_on = value
