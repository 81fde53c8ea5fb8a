"""What a manufacturer driver is: its match keys, its input, its result, and record helpers.

A driver is a pure function from one telegram's bytes to :class:`~..record.Record` objects, the
shape the OMS decoder produces, so the Home Assistant side maps driver readings like any other.
Readings are emitted as *synthetic data records*: the DIF/VIF an OMS meter would have used for
the same meaning (EN 13757-3 §6), which gives each reading its standard quantity, unit, storage
and a stable key. Flags are records with quantity ``alarm_<name>`` and a ``bool`` value.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..apl import parse_apl
from ..errors import OmsError
from ..record import Record
from ..telegram import Address, Header, Telegram

ALARM_PREFIX = "alarm_"
ALARMS: tuple[str, ...] = (
    "general",
    "leak",
    "leak_earlier",
    "blocked",
    "backflow",
    "underflow",
    "overflow",
    "submarine",
    "sensor_fraud",
    "sensor_fraud_earlier",
    "mechanical_fraud",
    "mechanical_fraud_earlier",
    "fraud",
    "magnetic_fraud",
    "module_removed",
    "minimum_flow",
    "maximum_flow",
    "no_change",
    "disconnected",
    "battery_low",
    "dry",
    "burst",
)
"""Every flag a driver may emit (record quantity ``alarm_<name>``, a binary sensor each)."""


@dataclass(frozen=True, slots=True)
class DriverInput:
    """One telegram as a driver sees it."""

    header: Header
    frame: bytes
    """The whole frame from the L byte (CRCs removed)."""
    ci_offset: int
    """Where the transport layer's CI byte is in ``frame``."""
    payload: bytes | None
    """The APL (decrypted when a key was used), or the bytes after a manufacturer CI; None when the
    generic decoder failed on an encrypted payload."""
    records: tuple[Record, ...] = ()
    """What the OMS decoder read from the payload (empty when it could not)."""
    manufacturer_data: bytes = b""
    """Bytes after DIF 0x0F/0x1F in the APL."""
    key: bytes | None = None
    """The keyring's key for this meter (drivers with their own encryption)."""
    reopen: Callable[[bytes], Telegram] | None = None
    """Decode this frame afresh with the given key as its key (meters with a public default key);
    the decoder supplies it, so drivers need not import the decoder that imports them."""


@dataclass(frozen=True, slots=True)
class DriverResult:
    """What a driver read."""

    records: tuple[Record, ...]
    replace: bool = False
    """True: these records replace the OMS decoder's (whose reading of these bytes is wrong)."""
    address: Address | None = None
    """The meter's real identity when the frame codes it differently (Diehl PRIOS)."""


Decode = Callable[[DriverInput], DriverResult | None]


@dataclass(frozen=True, slots=True)
class Driver:
    """A driver and the telegrams it takes (None = any)."""

    name: str
    manufacturers: frozenset[str]
    decode: Decode
    versions: frozenset[int] | None = None
    device_types: frozenset[int] | None = None
    cis: frozenset[int] | None = None
    marker: bytes | None = None
    """Bytes the frame must contain after the CI (e.g. the ``0DFF5F`` block of Qundis)."""
    raw: bool = False
    """The driver reads the frame itself (own scrambling, non-OMS CI): the OMS decoder runs only
    when the driver returns None."""
    description: str = ""
    """The byte layout in one paragraph (``--explain``)."""

    def matches(self, header: Header, frame: bytes, ci_offset: int) -> bool:
        if self.raw and header.link != "wmbus":
            return False  # raw drivers index the radio frame
        addr = header.address
        link = header.link_address or addr
        return (
            (self.versions is None or addr.version in self.versions or link.version in self.versions)
            and (
                self.device_types is None
                or addr.device_type in self.device_types
                or link.device_type in self.device_types
            )
            and (self.cis is None or header.ci in self.cis)
            and (self.marker is None or self.marker in frame[ci_offset:])
        )


def synth(dif_vif: str, data: bytes) -> Record | None:
    """The record an OMS meter would send as ``dif_vif`` (hex) followed by ``data``; None when the
    bytes do not make one (wrong length, invalid BCD)."""
    try:
        apl = parse_apl(bytes.fromhex(dif_vif) + data)
    except OmsError:
        return None
    return apl.records[0] if len(apl.records) == 1 else None


def value_record(dif_vif: str, value: int | float | str | None, quantity: str, unit: str | None) -> Record:
    """A record for a value the driver computed itself, keyed like the standard ``dif_vif``."""
    key = bytes.fromhex(dif_vif)
    dif_len = 1
    while key[dif_len - 1] & 0x80:
        dif_len += 1
    dib, vib = key[:dif_len], key[dif_len:]
    storage = (dib[0] >> 6) & 1
    tariff = 0
    for i, dife in enumerate(dib[1:]):
        storage |= (dife & 0x0F) << (1 + 4 * i)
        tariff |= ((dife >> 4) & 0x03) << (2 * i)
    return Record(dib, vib, quantity, value, unit, storage, tariff)


def named(
    quantity: str, value: int | float | str | None, unit: str | None = None, storage: int = 0
) -> Record:
    """A reading no data record describes; keyed by its name (and storage)."""
    key = quantity if not storage else f"{quantity}@{storage}"
    return Record(b"", key.encode(), quantity, value, unit, storage)


def this_period(quantity: str, value: int | float, unit: str) -> Record:
    """What was consumed since the last billing date (resets there)."""
    return Record(b"", f"{quantity}@period".encode(), quantity, value, unit, modifiers=("current_period",))


def alarm(name: str, on: bool) -> Record:
    """A named flag (one of :data:`ALARMS`); its key is the flag's name (no data record has one)."""
    quantity = ALARM_PREFIX + name
    return Record(b"", quantity.encode(), quantity, on)


def alarms(names: tuple[str, ...], bits: int) -> list[Record]:
    """One flag per name, ``names[0]`` at the most significant of ``len(names)`` bits; "" skips a bit."""
    n = len(names)
    return [alarm(name, bool(bits >> (n - 1 - i) & 1)) for i, name in enumerate(names) if name]


def keep(records: list[Record | None]) -> tuple[Record, ...]:
    """The records that were made."""
    return tuple(r for r in records if r is not None)
