"""Sensors: one per measurement record of a meter, plus signal, last telegram and access number.

With remote (MQTT) receivers: each meter's best receiver (and every receiver that heard its
last telegram), and per remote receiver its telegrams per minute, last telegram and
unreadable payloads, on the hub's receiver device.

Where the descriptions come from: the fixed sets are tables (:data:`METER_SENSORS`,
:data:`RECEIVER_SENSORS` here; the receiver's own in :mod:`.receiver_entities`, LoRaWAN / mioty
in :mod:`.lpwan_entities`, flags and alarms in :mod:`.binary_sensor`); a record's sensor is
generated from its quantity by :func:`describe_record` with the :data:`QUANTITIES` table, the only
place that does so.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
import logging

from homeassistant.components.sensor import (
    RestoreSensor,
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.components.sensor.const import DEVICE_CLASS_UNITS
from homeassistant.const import SIGNAL_STRENGTH_DECIBELS_MILLIWATT, EntityCategory
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import StateType
from homeassistant.util import dt as dt_util

from .const import DOMAIN, signal_new_receiver, signal_new_records, signal_receivers, signal_reception
from .entity import OmsMeterEntity
from .hub import OmsConfigEntry, OmsHub
from .lpwan_entities import lpwan_sensors
from .models import MeterState
from .mqtt import ReceiverStats
from .names import Words, async_get_words
from .omslib.drivers.base import ALARM_PREFIX
from .omslib.record import Record
from .receiver_entities import receiver_sensors

_LOGGER = logging.getLogger(__name__)

PARALLEL_UPDATES = 0

type SensorValue = StateType | date | datetime


@dataclass(frozen=True, kw_only=True)
class OmsRecordSensorEntityDescription(SensorEntityDescription):
    """A sensor for one record layout; ``key`` is the record key (DIF/VIF hex)."""

    cumulative: bool = False
    """The record is a meter total that only goes up (the hub checks its plausibility)."""


@dataclass(frozen=True, kw_only=True)
class OmsMeterSensorEntityDescription(SensorEntityDescription):
    """A sensor for a fact of the meter's last telegram rather than a record."""

    value_fn: Callable[[MeterState], SensorValue]
    reception: bool = False
    """Also updated when another receiver hears the meter's last telegram."""
    remote_only: bool = False
    """Only on a hub with remote (MQTT) receivers, where a telegram can be heard by several receivers."""


@dataclass(frozen=True, kw_only=True)
class OmsReceiverSensorEntityDescription(SensorEntityDescription):
    """A statistic of one remote (MQTT) receiver."""

    value_fn: Callable[[ReceiverStats], SensorValue]


@dataclass(frozen=True, kw_only=True)
class _Kind:
    """How a record quantity becomes a sensor."""

    device_class: SensorDeviceClass | None = None
    state_class: SensorStateClass | None = SensorStateClass.MEASUREMENT
    entity_category: EntityCategory | None = None
    enabled: bool = True
    value: str = "number"
    """"number", "date" or "timestamp"."""


_CUMULATIVE = SensorStateClass.TOTAL_INCREASING
_DIAG = EntityCategory.DIAGNOSTIC

QUANTITIES: dict[str, _Kind] = {
    "volume": _Kind(device_class=SensorDeviceClass.WATER, state_class=_CUMULATIVE),
    "energy": _Kind(device_class=SensorDeviceClass.ENERGY, state_class=_CUMULATIVE),
    "reactive_energy": _Kind(
        device_class=getattr(SensorDeviceClass, "REACTIVE_ENERGY", None), state_class=_CUMULATIVE
    ),
    "apparent_energy": _Kind(state_class=_CUMULATIVE),
    "mass": _Kind(device_class=SensorDeviceClass.WEIGHT, state_class=_CUMULATIVE),
    "hca_units": _Kind(state_class=SensorStateClass.TOTAL),
    "power": _Kind(device_class=SensorDeviceClass.POWER),
    "apparent_power": _Kind(device_class=SensorDeviceClass.APPARENT_POWER),
    "reactive_power": _Kind(device_class=SensorDeviceClass.REACTIVE_POWER),
    "cumulative_max_power": _Kind(device_class=SensorDeviceClass.POWER, enabled=False),
    "volume_flow": _Kind(device_class=SensorDeviceClass.VOLUME_FLOW_RATE),
    "mass_flow": _Kind(),
    "flow_temperature": _Kind(device_class=SensorDeviceClass.TEMPERATURE),
    "return_temperature": _Kind(device_class=SensorDeviceClass.TEMPERATURE),
    "external_temperature": _Kind(device_class=SensorDeviceClass.TEMPERATURE),
    "temperature_difference": _Kind(device_class=getattr(SensorDeviceClass, "TEMPERATURE_DELTA", None)),
    "pressure": _Kind(device_class=SensorDeviceClass.PRESSURE),
    "voltage": _Kind(device_class=SensorDeviceClass.VOLTAGE),
    "current": _Kind(device_class=SensorDeviceClass.CURRENT),
    "frequency": _Kind(device_class=SensorDeviceClass.FREQUENCY),
    "relative_humidity": _Kind(device_class=SensorDeviceClass.HUMIDITY),
    "on_time": _Kind(device_class=SensorDeviceClass.DURATION, state_class=_CUMULATIVE, entity_category=_DIAG),
    "operating_time": _Kind(
        device_class=SensorDeviceClass.DURATION, state_class=_CUMULATIVE, entity_category=_DIAG
    ),
    "operating_time_battery": _Kind(
        device_class=SensorDeviceClass.DURATION, state_class=_CUMULATIVE, entity_category=_DIAG
    ),
    "remaining_battery_life": _Kind(device_class=SensorDeviceClass.DURATION, entity_category=_DIAG),
    "rf_level": _Kind(device_class=SensorDeviceClass.SIGNAL_STRENGTH, entity_category=_DIAG, enabled=False),
    "date": _Kind(device_class=SensorDeviceClass.DATE, state_class=None, entity_category=_DIAG, value="date"),
    "date_time": _Kind(
        device_class=SensorDeviceClass.TIMESTAMP,
        state_class=None,
        entity_category=_DIAG,
        enabled=False,
        value="timestamp",
    ),
}
"""Record quantity -> sensor kind. Each name here has a translation key of the same name."""

SKIPPED = frozenset({"error_flags", "error_mask", "access_number", "fabrication_number", "bus_address"})
"""Records that are shown elsewhere (binary sensors, diagnostics) or are identity, not readings."""

FLOW_MODIFIERS = frozenset({"forward_flow", "backward_flow"})
GAS_TYPES = frozenset({0x03})
_FUNCTION_LABELS = {"maximum": "max", "minimum": "min", "error": "error"}


def _detail(record: Record) -> str:
    """Language-neutral detail that tells a record from its quantity's main reading."""
    parts = [m.replace("_", " ") for m in record.modifiers]
    if record.function != "instantaneous":
        parts.append(_FUNCTION_LABELS[record.function])
    if record.tariff:
        parts.append(f"T{record.tariff}")
    if record.subunit:
        parts.append(f"U{record.subunit}")
    if record.storage:
        parts.append(f"#{record.storage}")
    return ", ".join(parts)


def describe_record(record: Record, device_type: int | None) -> OmsRecordSensorEntityDescription | None:
    """The sensor description of a record, or None when it is no reading."""
    quantity = record.quantity
    kind = QUANTITIES.get(quantity)
    if quantity in SKIPPED or quantity.startswith(ALARM_PREFIX) or isinstance(record.value, bytes):
        return None
    if kind is None:
        if isinstance(record.value, str):
            return None
        kind = _Kind(state_class=None, enabled=False)
        translation_key = "other"
    else:
        translation_key = quantity
        if kind.value == "number" and isinstance(record.value, str):
            return None
    device_class = kind.device_class
    if quantity == "volume" and device_type in GAS_TYPES:
        device_class = SensorDeviceClass.GAS
    if device_class is not None and record.unit not in DEVICE_CLASS_UNITS.get(device_class, {record.unit}):
        device_class = None
    main = not (record.storage or record.tariff or record.subunit or record.function != "instantaneous")
    state_class = kind.state_class
    cumulative = state_class is _CUMULATIVE
    if record.storage:
        state_class, cumulative = None, False
    elif record.function != "instantaneous":
        state_class = None if cumulative else state_class
        cumulative = False
    if record.modifiers and not set(record.modifiers) <= FLOW_MODIFIERS:
        main = False
    detail = _detail(record)
    return OmsRecordSensorEntityDescription(
        key=record.key,
        translation_key=f"{translation_key}_detail" if detail else translation_key,
        device_class=device_class,
        state_class=state_class,
        native_unit_of_measurement=record.unit,
        entity_category=kind.entity_category,
        entity_registry_enabled_default=kind.enabled and main,
        cumulative=cumulative,
    )


METER_SENSORS: tuple[OmsMeterSensorEntityDescription, ...] = (
    OmsMeterSensorEntityDescription(
        key="rssi",
        translation_key="rssi",
        device_class=SensorDeviceClass.SIGNAL_STRENGTH,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=SIGNAL_STRENGTH_DECIBELS_MILLIWATT,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=lambda meter: meter.rssi,
        reception=True,
    ),
    OmsMeterSensorEntityDescription(
        key="best_receiver",
        translation_key="best_receiver",
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda meter: meter.best_receiver,
        reception=True,
        remote_only=True,
    ),
    OmsMeterSensorEntityDescription(
        key="last_telegram",
        translation_key="last_telegram",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        # Disabled by default: it changes with every telegram (every 2-5 minutes per meter), which
        # floods the logbook and the recorder with heartbeats; availability already tells a silent meter.
        entity_registry_enabled_default=False,
        value_fn=lambda meter: meter.last_heard,
    ),
    OmsMeterSensorEntityDescription(
        key="access_number",
        translation_key="access_number",
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=lambda meter: meter.access_number,
    ),
)


RECEIVER_SENSORS: tuple[OmsReceiverSensorEntityDescription, ...] = (
    OmsReceiverSensorEntityDescription(
        key="telegrams_per_minute",
        translation_key="telegrams_per_minute",
        native_unit_of_measurement="telegrams/min",
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda stats: stats.per_minute(),
    ),
    OmsReceiverSensorEntityDescription(
        key="receiver_last_seen",
        translation_key="receiver_last_seen",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda stats: (
            None if stats.last_seen is None else dt_util.utc_from_timestamp(stats.last_seen)
        ),
    ),
    OmsReceiverSensorEntityDescription(
        key="unknown_payloads",
        translation_key="unknown_payloads",
        state_class=SensorStateClass.TOTAL_INCREASING,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=lambda stats: stats.unknown,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant, entry: OmsConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """Sensors for every configured meter, and for records and meters that appear later."""
    hub = entry.runtime_data
    words = await async_get_words(hass)
    async_add_entities(receiver_sensors(hub))
    added: set[tuple[str, str]] = set()

    @callback
    def add(meter: MeterState, records: Iterable[Record]) -> None:
        entities: list[OmsMeterEntity] = []
        if (meter.subentry_id, "") not in added:
            added.add((meter.subentry_id, ""))
            entities.extend(
                OmsMeterSensor(hub, meter, description)
                for description in METER_SENSORS
                if hub.has_remotes or not description.remote_only
            )
            entities.extend(lpwan_sensors(hub, meter))
        for record in records:
            description = describe_record(record, meter.device_type)
            if description is None or (meter.subentry_id, record.key) in added:
                continue
            added.add((meter.subentry_id, record.key))
            entities.append(OmsRecordSensor(hub, meter, description, record, words))
        if entities:
            async_add_entities(entities, config_subentry_id=meter.subentry_id)

    for meter in hub.meters.values():
        add(meter, list(meter.known.values()))
    entry.async_on_unload(async_dispatcher_connect(hass, signal_new_records(entry.entry_id), add))

    if not hub.has_remotes:
        return
    remotes: set[str] = set()

    @callback
    def add_receiver(stats: ReceiverStats) -> None:
        if stats.name in remotes:
            return
        remotes.add(stats.name)
        async_add_entities(OmsReceiverSensor(hub, stats, description) for description in RECEIVER_SENSORS)

    for stats in hub.remote_stats.values():
        add_receiver(stats)
    entry.async_on_unload(async_dispatcher_connect(hass, signal_new_receiver(entry.entry_id), add_receiver))


def record_value(record: Record, description: SensorEntityDescription) -> SensorValue:
    """The state of a record: a number, a date or an aware datetime (meter time is local time)."""
    value = record.value
    if value is None or isinstance(value, bytes):
        return None
    if description.device_class is SensorDeviceClass.DATE:
        return date.fromisoformat(value[:10]) if isinstance(value, str) and value else None
    if description.device_class is SensorDeviceClass.TIMESTAMP:
        if not isinstance(value, str) or not value:
            return None
        moment = datetime.fromisoformat(value)
        return moment if moment.tzinfo else moment.replace(tzinfo=dt_util.get_default_time_zone())
    return value


class OmsRecordSensor(OmsMeterEntity, RestoreSensor):
    """The reading of one record; keeps its last value across restarts."""

    entity_description: OmsRecordSensorEntityDescription

    def __init__(
        self,
        hub: OmsHub,
        meter: MeterState,
        description: OmsRecordSensorEntityDescription,
        record: Record,
        words: Words | None = None,
    ) -> None:
        super().__init__(hub, meter, description, description.key)
        # "Volume at billing date", "Volume flow, maximum": qualifiers in Home Assistant's language
        detail = (words or Words()).record_detail(record) if _detail(record) else ""
        placeholders = {"detail": detail} if detail else {}
        if description.translation_key in ("other", "other_detail"):
            placeholders["quantity"] = record.quantity.replace("_", " ")
        if placeholders:
            self._attr_translation_placeholders = placeholders

    async def async_added_to_hass(self) -> None:
        await super().async_added_to_hass()
        if self.entity_description.key in self.meter.records:
            self._update_from_meter()
        elif (last := await self.async_get_last_sensor_data()) is not None:
            self._attr_native_value = last.native_value

    @callback
    def _update_from_meter(self) -> None:
        record = self.meter.records.get(self.entity_description.key)
        if record is None:
            return
        value = record_value(record, self.entity_description)
        if value is None:
            return
        # Totals that go backwards never reach this point unconfirmed: the hub holds them
        # (plausibility, omslib/trust.py) and takes a lower total only after several telegrams agree.
        self._attr_native_value = value


class OmsMeterSensor(OmsMeterEntity, RestoreSensor):
    """Signal strength, time and access number of the meter's last telegram."""

    entity_description: OmsMeterSensorEntityDescription

    def __init__(self, hub: OmsHub, meter: MeterState, description: OmsMeterSensorEntityDescription) -> None:
        super().__init__(hub, meter, description, description.key)

    async def async_added_to_hass(self) -> None:
        await super().async_added_to_hass()
        if self.entity_description.reception:
            self.async_on_remove(
                async_dispatcher_connect(
                    self.hass,
                    signal_reception(self.hub.entry.entry_id, self.meter.meter_id),
                    self._handle_update,
                )
            )
        if self.meter.last_heard is not None:
            self._update_from_meter()
        elif (last := await self.async_get_last_sensor_data()) is not None:
            self._attr_native_value = last.native_value

    @callback
    def _update_from_meter(self) -> None:
        self._attr_native_value = self.entity_description.value_fn(self.meter)
        if self.entity_description.reception and self.hub.has_remotes and self.meter.receivers:
            self._attr_extra_state_attributes = {"receivers": list(self.meter.receivers)}


class OmsReceiverSensor(SensorEntity):
    """A statistic of one remote receiver (refreshed every minute), on the hub's receiver device."""

    _attr_has_entity_name = True
    _attr_should_poll = False
    entity_description: OmsReceiverSensorEntityDescription

    def __init__(
        self, hub: OmsHub, stats: ReceiverStats, description: OmsReceiverSensorEntityDescription
    ) -> None:
        self.hub = hub
        self.stats = stats
        self.entity_description = description
        self._attr_unique_id = f"{hub.receiver_identifier}_{stats.name}_{description.key}"
        self._attr_translation_placeholders = {"receiver": stats.name}
        self._attr_device_info = DeviceInfo(identifiers={(DOMAIN, hub.receiver_identifier)})

    @property
    def available(self) -> bool:
        return self.hub.connected

    @property
    def native_value(self) -> SensorValue:
        return self.entity_description.value_fn(self.stats)

    async def async_added_to_hass(self) -> None:
        await super().async_added_to_hass()
        self.async_on_remove(
            async_dispatcher_connect(
                self.hass, signal_receivers(self.hub.entry.entry_id), self.async_write_ha_state
            )
        )
