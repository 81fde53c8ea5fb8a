"""Diagnostic entities of the receiver's own device: connected, telegrams per minute, last telegram, failures.

The hub only counts on its hot path (``frames``, ``errors`` by code, ``last_frame_at``); these
entities read the counts when Home Assistant polls them (every 30 s, the platforms' default
scan interval), so a busy receiver costs nothing extra per telegram.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
import time

from homeassistant.components.binary_sensor import (
    BinarySensorDeviceClass,
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import EntityCategory
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import Entity, EntityDescription
from homeassistant.util import dt as dt_util

from .const import DOMAIN
from .hub import OmsHub
from .omslib.errors import DECRYPTION_ERRORS, CrcError, IncompleteError

RATE_WINDOW = 300.0
"""Telegrams per minute are averaged over the last five minutes (or since start)."""
MIN_RATE_SPAN = 10.0
"""No rate before this many seconds of counting (a rate from a few seconds would jump)."""

CRC_CODES = frozenset({CrcError.code})
DECRYPTION_CODES = frozenset(error.code for error in DECRYPTION_ERRORS)
IGNORED_CODES = frozenset({"unencrypted", IncompleteError.code})
"""Counted by the hub but not failures of the receiver's telegrams: plaintext from a meter that has a key
(the hub refuses it), a fragment kept until the rest of its message arrives."""


def wall_clock() -> float:
    """Unix time of a rate sample (the hub stamps frames with the same clock)."""
    return time.time()


class FrameRate:
    """Telegrams per minute from samples of a running count (no per-telegram work)."""

    def __init__(self, start: float, window: float = RATE_WINDOW) -> None:
        self.window = window
        self._samples: deque[tuple[float, int]] = deque([(start, 0)])

    def update(self, now: float, count: int) -> float | None:
        """Add a sample; the rate since the newest sample at least ``window`` old (None right after start)."""
        samples = self._samples
        samples.append((now, count))
        while len(samples) > 2 and now - samples[1][0] >= self.window:
            samples.popleft()
        since, before = samples[0]
        span = now - since
        if span < MIN_RATE_SPAN:
            return None
        return round((count - before) * 60.0 / span, 1)


class ReceiverStatus:
    """What the receiver's entities show, read from the hub's counters."""

    def __init__(self, hub: OmsHub) -> None:
        self.hub = hub
        self._rate = FrameRate(hub.started_at)

    @property
    def connected(self) -> bool:
        return self.hub.connected

    def per_minute(self) -> float | None:
        return self._rate.update(wall_clock(), self.hub.frames)

    @property
    def last_telegram(self) -> datetime | None:
        at = self.hub.last_frame_at
        return None if at is None else dt_util.utc_from_timestamp(at)

    @property
    def crc_errors(self) -> int:
        return self._count(lambda code: code in CRC_CODES)

    @property
    def undecryptable(self) -> int:
        return self._count(lambda code: code in DECRYPTION_CODES)

    @property
    def unknown(self) -> int:
        """Frames that pass the CRC but cannot be decoded (unsupported, unknown format, malformed…)."""
        known = CRC_CODES | DECRYPTION_CODES | IGNORED_CODES
        return self._count(lambda code: code not in known)

    def _count(self, wanted: Callable[[str], bool]) -> int:
        return sum(count for code, count in self.hub.errors.items() if wanted(code))


@dataclass(frozen=True, kw_only=True)
class OmsReceiverStatusSensorDescription(SensorEntityDescription):
    """A statistic of the hub's receiver."""

    value_fn: Callable[[ReceiverStatus], int | float | datetime | None]


@dataclass(frozen=True, kw_only=True)
class OmsReceiverStatusBinaryDescription(BinarySensorEntityDescription):
    """A flag of the hub's receiver."""

    value_fn: Callable[[ReceiverStatus], bool | None]


_DIAG = EntityCategory.DIAGNOSTIC

RECEIVER_STATUS_SENSORS: tuple[OmsReceiverStatusSensorDescription, ...] = (
    OmsReceiverStatusSensorDescription(
        key="receiver_telegrams_per_minute",
        translation_key="receiver_telegrams_per_minute",
        native_unit_of_measurement="telegrams/min",
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=_DIAG,
        value_fn=lambda status: status.per_minute(),
    ),
    OmsReceiverStatusSensorDescription(
        # Disabled by default: it changes with every poll on a busy receiver and would fill the logbook.
        key="receiver_last_telegram",
        translation_key="receiver_last_telegram",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=_DIAG,
        entity_registry_enabled_default=False,
        value_fn=lambda status: status.last_telegram,
    ),
    OmsReceiverStatusSensorDescription(
        key="crc_errors",
        translation_key="crc_errors",
        state_class=SensorStateClass.TOTAL_INCREASING,
        entity_category=_DIAG,
        value_fn=lambda status: status.crc_errors,
    ),
    OmsReceiverStatusSensorDescription(
        key="undecryptable_telegrams",
        translation_key="undecryptable_telegrams",
        state_class=SensorStateClass.TOTAL_INCREASING,
        entity_category=_DIAG,
        value_fn=lambda status: status.undecryptable,
    ),
    OmsReceiverStatusSensorDescription(
        key="unknown_telegrams",
        translation_key="unknown_telegrams",
        state_class=SensorStateClass.TOTAL_INCREASING,
        entity_category=_DIAG,
        value_fn=lambda status: status.unknown,
    ),
)

RECEIVER_STATUS_BINARY_SENSORS: tuple[OmsReceiverStatusBinaryDescription, ...] = (
    OmsReceiverStatusBinaryDescription(
        key="receiver_connected",
        translation_key="receiver_connected",
        device_class=BinarySensorDeviceClass.CONNECTIVITY,
        entity_category=_DIAG,
        value_fn=lambda status: status.connected,
    ),
)


class _ReceiverStatusEntity(Entity):
    """An entity of the receiver's device, polled (the hub sends no per-telegram signal)."""

    _attr_has_entity_name = True
    _attr_should_poll = True

    def __init__(self, status: ReceiverStatus, description: EntityDescription) -> None:
        hub = status.hub
        self.status = status
        self.entity_description = description
        self._attr_unique_id = f"{hub.receiver_identifier}_{description.key}"
        self._attr_device_info = DeviceInfo(identifiers={(DOMAIN, hub.receiver_identifier)})


class OmsReceiverStatusSensor(_ReceiverStatusEntity, SensorEntity):
    """A statistic of the receiver."""

    entity_description: OmsReceiverStatusSensorDescription

    def __init__(self, status: ReceiverStatus, description: OmsReceiverStatusSensorDescription) -> None:
        super().__init__(status, description)
        self._attr_native_value = description.value_fn(status)

    async def async_update(self) -> None:
        self._attr_native_value = self.entity_description.value_fn(self.status)


class OmsReceiverStatusBinarySensor(_ReceiverStatusEntity, BinarySensorEntity):
    """Whether the receiver is connected."""

    entity_description: OmsReceiverStatusBinaryDescription

    def __init__(self, status: ReceiverStatus, description: OmsReceiverStatusBinaryDescription) -> None:
        super().__init__(status, description)
        self._attr_is_on = description.value_fn(status)

    async def async_update(self) -> None:
        self._attr_is_on = self.entity_description.value_fn(self.status)


def receiver_sensors(hub: OmsHub) -> list[OmsReceiverStatusSensor]:
    status = ReceiverStatus(hub)
    return [OmsReceiverStatusSensor(status, description) for description in RECEIVER_STATUS_SENSORS]


def receiver_binary_sensors(hub: OmsHub) -> list[OmsReceiverStatusBinarySensor]:
    status = ReceiverStatus(hub)
    return [OmsReceiverStatusBinarySensor(status, d) for d in RECEIVER_STATUS_BINARY_SENSORS]
