"""What the hub knows of meters, as plain data: heard meters, bus-scan finds, configured meters.

:class:`HeardMeter` is every meter in range (:mod:`.heard` keeps the list), :class:`FoundMeter`
a slave a wired bus scan found, :class:`MeterState` a configured meter (one subentry) as
:class:`~.hub.OmsHub` routes telegrams to it and its entities read it.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime

from .omslib.devices import device_type_name
from .omslib.manufacturers import manufacturer_brand
from .omslib.record import Record
from .omslib.telegram import Status
from .omslib.trust import Freshness, TotalTrack

RECENT_TELEGRAMS = 5
"""Raw telegrams kept per heard meter for its device diagnostics."""


@dataclass(slots=True)
class HeardMeter:
    """A meter in range of the receiver, configured or not."""

    meter_id: str
    manufacturer: str
    device_type: int
    version: int
    rssi: float | None
    last_heard: float
    encrypted: bool
    raw: bytes = field(repr=False)
    """The last telegram, for checking a key before it is saved."""
    count: int = 1
    recent: deque[tuple[float, float | None, bytes]] = field(
        default_factory=lambda: deque(maxlen=RECENT_TELEGRAMS), repr=False
    )
    """The last few telegrams as (received at, RSSI, raw), newest last (device diagnostics)."""

    @property
    def medium(self) -> str:
        return device_type_name(self.device_type)


@dataclass(frozen=True, slots=True)
class FoundMeter:
    """A slave a bus scan found: its address and, when it could be read, who it is."""

    address: int | str
    meter_id: str | None = None
    manufacturer: str | None = None
    device_type: int | None = None
    version: int | None = None
    encrypted: bool | None = None
    """Whether its reply was encrypted (None: not known)."""

    @property
    def medium(self) -> str | None:
        return None if self.device_type is None else device_type_name(self.device_type)


@dataclass(slots=True)
class MeterState:
    """What the hub knows of one configured meter (one subentry)."""

    meter_id: str
    subentry_id: str
    name: str
    manufacturer: str | None = None
    device_type: int | None = None
    version: int | None = None
    known: dict[str, Record] = field(default_factory=dict)
    """Every record layout this meter has sent (kept in storage so entities exist after a restart)."""
    records: dict[str, Record] = field(default_factory=dict)
    """Records of the last decoded telegram since start, by record key."""
    status: Status | None = None
    rssi: float | None = None
    last_heard: datetime | None = None
    access_number: int | None = None
    available: bool = True
    problem: str | None = None
    """Code of the decryption failure a repair issue is open for."""
    dedup: tuple[object, ...] | None = field(default=None, repr=False)
    dedup_at: float = 0.0
    address: int | str | None = None
    """Wired meters: the primary (int) or secondary (16-hex) address it is polled by."""
    failures: int = 0
    """Wired meters: failed polls in a row."""
    receivers: tuple[str, ...] = ()
    """Receivers that heard the last telegram, first one first."""
    best_receiver: str | None = None
    """The receiver that heard the last telegram best (:attr:`rssi` is its RSSI)."""
    reception: tuple[bytes, float] | None = field(default=None, repr=False)
    """Link address and de-duplication start of the last telegram (later copies find the meter by it)."""
    identity: tuple[str, int, int] | None = None
    """Manufacturer, version and device type of its first trusted telegram: other ones are not this meter."""
    freshness: Freshness = field(default_factory=Freshness)
    """Last accepted message counter / access number (replay protection)."""
    totals: dict[str, TotalTrack] = field(default_factory=dict)
    """Accepted value of each meter total, by record key (plausibility)."""
    max_rate: float | None = None
    """The user's limit for the main total per hour (m³ or kWh), overriding the medium's default."""
    rejected: Counter[str] = field(default_factory=Counter)
    """Telegrams not taken, by reason (unprotected, identity, stale, implausible, backwards)."""
    decrypt_failures: list[float] = field(default_factory=list)
    """Times of recent decryption failures (a repair issue needs several)."""
    layouts: set[int] = field(default_factory=set)
    """Record layouts (format signatures) of its trusted telegrams: mode 5 has no MAC, so a telegram of
    a keyed meter with a new layout waits for a second one to confirm it."""
    pending_layout: int | None = None

    @property
    def medium(self) -> str | None:
        return None if self.device_type is None else device_type_name(self.device_type)


def meter_title(manufacturer: str | None, medium: str | None, meter_id: str) -> str:
    """Default name of a meter: "Kamstrup water 12345678" (the company's short name for its FLAG code)."""
    parts = [manufacturer_brand(manufacturer), medium.replace("_", " ") if medium else None, meter_id]
    return " ".join(part for part in parts if part)
