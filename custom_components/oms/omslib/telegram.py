"""Decoded telegram: identity header, layer facts and records.

``Header`` and ``Telegram`` (and the link and transport headers ``link.Dll`` and ``tpl.Tpl``) are
built for every telegram, so they are slotted dataclasses with ``Final`` fields rather than
``frozen=True``: a frozen dataclass's ``__init__`` sets each field through ``object.__setattr__``,
several times the cost of a plain slotted one (about a tenth of a plaintext telegram's decoding).
``Final`` keeps them read-only for the type checker (mypy --strict rejects any assignment);
``unsafe_hash`` keeps them hashable like frozen ones. Each is new per telegram, never shared
between telegrams; records, which the decoder does share, stay frozen (``record.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Literal

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


@dataclass(slots=True, unsafe_hash=True)
class Header:
    """What is known of a telegram before (or without) decryption."""

    link: Final[Link]
    c_field: Final[int]
    address: Final[Address]
    """The meter: the TPL long-header address when present, else the link address."""
    link_address: Final[Address | None]
    """The radio link address (wM-Bus DLL), or None for wired frames."""
    ci: Final[int]
    """CI of the transport layer (after ELL/AFL)."""
    access_number: Final[int | None] = None
    status: Final[Status | None] = None
    security_mode: Final[int] = 0
    encrypted: Final[bool] = False
    receiver_address: Final[Address | None] = None
    """ELL 8E/8F: the address of the receiver the telegram was sent to."""
    primary_address: Final[int | None] = None
    """Wired M-Bus: the A field of the reply (1–250 primary, 253 selected secondary)."""


@dataclass(slots=True, unsafe_hash=True)
class Telegram:
    """A fully decoded telegram."""

    header: Final[Header]
    records: Final[tuple[Record, ...]]
    decrypted: Final[bool] = False
    """True when a layer was decrypted with a key (mode 5/7/9 or ELL CTR)."""
    authenticated: Final[bool] = False
    """True when an AFL MAC verified."""
    more_records_follow: Final[bool] = False
    """The record list ended with DIF 0x1F (wired multi-telegram readout)."""
    manufacturer_data: Final[bytes] = b""
    """Bytes after DIF 0x0F/0x1F, or the whole payload of a manufacturer-specific CI."""
    format_signature: Final[int | None] = None
    """Compact-frame format signature of these records (CRC-16 of the DIF/VIF bytes)."""
    extra: Final[dict[str, object]] = field(default_factory=dict, compare=False, hash=False)
    encrypted_records: Final[int] = 0
    """How many leading ``records`` came from the protected part: decrypted (mode 5 blocks, ELL
    AES-CTR) or authenticated (mode 7/9: the AFL MAC covers the whole TPDU). 0 for plaintext;
    records after the encrypted blocks of a partially encrypted mode-5 telegram are not counted."""

    @property
    def address(self) -> Address:
        return self.header.address
