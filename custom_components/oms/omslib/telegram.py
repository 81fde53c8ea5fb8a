"""Decoded telegram: identity header, layer facts and records."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from .devices import device_type_name
from .record import Record

Link = Literal["wmbus", "mbus"]


@dataclass(frozen=True, slots=True)
class Address:
    """Manufacturer, ID, version and device type of a meter or radio adapter."""

    manufacturer: str
    """Three letters, e.g. "KAM"."""
    id: str
    """Eight digits as printed on the meter; non-BCD nibbles kept as hex."""
    version: int
    device_type: int

    @property
    def medium(self) -> str:
        """Name of the device type ("water", "heat", …)."""
        return device_type_name(self.device_type)


_APPLICATION_STATES: tuple[Literal["ok", "busy", "error", "alarm"], ...] = ("ok", "busy", "error", "alarm")


@dataclass(frozen=True, slots=True)
class Status:
    """TPL status byte, EN 13757-7 §7.5.6 / OMS Vol2 Table 8."""

    raw: int

    @property
    def application(self) -> Literal["ok", "busy", "error", "alarm"]:
        return _APPLICATION_STATES[self.raw & 0x03]

    @property
    def power_low(self) -> bool:
        return bool(self.raw & 0x04)

    @property
    def permanent_error(self) -> bool:
        return bool(self.raw & 0x08)

    @property
    def temporary_error(self) -> bool:
        return bool(self.raw & 0x10)

    @property
    def manufacturer_bits(self) -> int:
        return self.raw >> 5


@dataclass(frozen=True, slots=True)
class Header:
    """What is known of a telegram before (or without) decryption."""

    link: Link
    c_field: int
    address: Address
    """The meter: the TPL long-header address when present, else the link address."""
    link_address: Address | None
    """The radio link address (wM-Bus DLL), or None for wired frames."""
    ci: int
    """CI of the transport layer (after ELL/AFL)."""
    access_number: int | None = None
    status: Status | None = None
    security_mode: int = 0
    encrypted: bool = False
    receiver_address: Address | None = None
    """ELL 8E/8F: the address of the receiver the telegram was sent to."""
    primary_address: int | None = None
    """Wired M-Bus: the A field of the reply (1–250 primary, 253 selected secondary)."""


@dataclass(frozen=True, slots=True)
class Telegram:
    """A fully decoded telegram."""

    header: Header
    records: tuple[Record, ...]
    decrypted: bool = False
    """True when a layer was decrypted with a key (mode 5/7/9 or ELL CTR)."""
    authenticated: bool = False
    """True when an AFL MAC verified."""
    more_records_follow: bool = False
    """The record list ended with DIF 0x1F (wired multi-telegram readout)."""
    manufacturer_data: bytes = b""
    """Bytes after DIF 0x0F/0x1F, or the whole payload of a manufacturer-specific CI."""
    format_signature: int | None = None
    """Compact-frame format signature of these records (CRC-16 of the DIF/VIF bytes)."""
    extra: dict[str, object] = field(default_factory=dict, compare=False, hash=False)
    encrypted_records: int = 0
    """How many leading ``records`` came from the protected part: decrypted (mode 5 blocks, ELL
    AES-CTR) or authenticated (mode 7/9: the AFL MAC covers the whole TPDU). 0 for plaintext;
    records after the encrypted blocks of a partially encrypted mode-5 telegram are not counted."""

    @property
    def address(self) -> Address:
        return self.header.address
