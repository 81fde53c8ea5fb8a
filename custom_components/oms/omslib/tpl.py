"""Transport layer, EN 13757-7 §7: CI table, short/long headers, configuration field."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from .errors import LengthError
from .link import long_header_address
from .telegram import Address, Status

HeaderKind = Literal["none", "short", "long"]
Payload = Literal["full", "compact", "format", "none", "error", "alarm", "manufacturer", "unsupported"]

# CI -> (header, payload), EN 13757-7 Table 2 (meter -> other device) and wired legacy codes.
CI_TABLE: dict[int, tuple[HeaderKind, Payload]] = {
    0x66: ("none", "full"),
    0x67: ("short", "full"),
    0x68: ("long", "full"),
    0x69: ("none", "format"),
    0x6A: ("short", "format"),
    0x6B: ("long", "format"),
    0x6E: ("short", "error"),
    0x6F: ("long", "error"),
    0x70: ("none", "error"),
    0x71: ("none", "alarm"),
    0x72: ("long", "full"),
    0x73: ("long", "compact"),
    0x74: ("short", "alarm"),
    0x75: ("long", "alarm"),
    0x76: ("long", "full"),  # wired, variable data MSB first (legacy)
    0x78: ("none", "full"),
    0x79: ("none", "compact"),
    0x7A: ("short", "full"),
    0x7B: ("short", "compact"),
    0x7C: ("long", "unsupported"),  # DLMS
    0x7D: ("short", "unsupported"),
    0x7E: ("long", "unsupported"),  # OBIS-based
    0x7F: ("short", "unsupported"),
    0x8A: ("short", "none"),
    0x8B: ("long", "none"),
}
for _ci in range(0xA0, 0xB8):
    CI_TABLE[_ci] = ("none", "manufacturer")

CI_NAMES: dict[int, str] = {
    0x72: "full frame, long header",
    0x73: "compact frame, long header",
    0x76: "variable data, MSB first (wired)",
    0x78: "full frame, no header",
    0x79: "compact frame, no header",
    0x7A: "full frame, short header",
    0x7B: "compact frame, short header",
    0x69: "format frame, no header",
    0x6A: "format frame, short header",
    0x6B: "format frame, long header",
    0x8A: "TPL without APL, short header",
    0x8B: "TPL without APL, long header",
}

SECURITY_MODE_NAMES: dict[int, str] = {
    0: "none",
    2: "DES-CBC",
    3: "DES-CBC with IV",
    4: "AES-CBC static IV",
    5: "AES-128-CBC",
    7: "AES-128-CBC ephemeral key with CMAC",
    8: "AES-CTR with MAC",
    9: "AES-128-GCM",
    10: "AES-CCM",
    13: "TLS",
}


@dataclass(frozen=True, slots=True)
class ConfigField:
    """Configuration field (+CFE), EN 13757-7 §7.6. Layout depends on the mode."""

    raw: int
    mode: int
    blocks: int
    """Encrypted 16-byte blocks (modes 5 and 7)."""
    cfe: int | None = None
    counter: int | None = None
    """Mode 7 TPL message counter (CF bit Z)."""
    key_version: int | None = None

    @property
    def bidirectional(self) -> bool:
        return self.mode in (0, 5) and bool(self.raw & 0x8000)

    @property
    def accessibility(self) -> bool:
        return self.mode in (0, 5) and bool(self.raw & 0x4000)

    @property
    def synchronous(self) -> bool:
        return self.mode in (0, 5) and bool(self.raw & 0x2000)

    @property
    def key_id(self) -> int | None:
        return None if self.cfe is None else self.cfe & 0x0F

    @property
    def kdf(self) -> int | None:
        return None if self.cfe is None else (self.cfe >> 4) & 0x03


@dataclass(slots=True, unsafe_hash=True)
class Tpl:
    """Transport-layer header. ``payload_offset`` indexes the CRC-free frame.

    Read-only by type, not frozen: see ``telegram.py``.
    """

    ci: Final[int]
    header: Final[HeaderKind]
    payload: Final[Payload]
    address: Final[Address | None]
    address_bytes: Final[bytes]
    """Long header address in link-layer order M(2) ID(4) Ver Type, for IVs; else empty."""
    id_bytes: Final[bytes]
    """The 4 ID bytes as sent in the long header; else empty."""
    access_number: Final[int | None]
    status: Final[Status | None]
    config: Final[ConfigField | None]
    payload_offset: Final[int]


_STATUS = tuple(Status(value) for value in range(256))
"""Status objects are immutable: one per byte value."""


def parse_config(frame: bytes, pos: int) -> tuple[ConfigField, int]:
    """Read CF (and for mode 7 the CFE, counter and key version) at ``pos``."""
    if len(frame) < pos + 2:
        raise LengthError("frame ends inside the configuration field")
    raw = frame[pos] | (frame[pos + 1] << 8)
    pos += 2
    mode = (raw >> 8) & 0x1F
    if mode == 7:
        if len(frame) < pos + 1:
            raise LengthError("frame ends before the mode-7 CFE")
        cfe = frame[pos]
        pos += 1
        counter = key_version = None
        if raw & 0x2000:
            if len(frame) < pos + 4:
                raise LengthError("frame ends inside the mode-7 message counter")
            counter = int.from_bytes(frame[pos : pos + 4], "little")
            pos += 4
        if cfe & 0x40:
            if len(frame) < pos + 1:
                raise LengthError("frame ends before the mode-7 key version")
            key_version = frame[pos]
            pos += 1
        return ConfigField(raw, mode, (raw >> 4) & 0x0F, cfe, counter, key_version), pos
    config = _CONFIGS.get(raw)
    if config is None:
        config = ConfigField(raw, mode, 0) if mode == 13 else ConfigField(raw, mode, (raw >> 4) & 0x0F)
        if len(_CONFIGS) >= 1024:
            _CONFIGS.clear()
        _CONFIGS[raw] = config
    return config, pos


_CONFIGS: dict[int, ConfigField] = {}
"""CF value -> ConfigField for every mode but 7 (whose CFE/counter follow the CF)."""


def parse_tpl(frame: bytes, offset: int) -> Tpl:
    """Parse the transport header whose CI is at ``offset``.

    Unknown CIs yield payload "unsupported"; the caller decides what to do.
    """
    ci = frame[offset]
    header, payload = CI_TABLE.get(ci, ("none", "unsupported"))
    pos = offset + 1
    address = None
    address_bytes = id_bytes = b""
    acc = None
    status = None
    config = None
    if header == "long":
        if len(frame) < pos + 8:
            raise LengthError("frame ends inside the TPL long header")
        id_bytes = bytes(frame[pos : pos + 4])
        address, address_bytes = long_header_address(id_bytes, bytes(frame[pos + 4 : pos + 8]))
        pos += 8
    if header != "none":
        if len(frame) < pos + 2:
            raise LengthError("frame ends inside the TPL header")
        acc = frame[pos]
        status = _STATUS[frame[pos + 1]]
        pos += 2
        if payload != "unsupported" or ci in (0x7C, 0x7D, 0x7E, 0x7F):
            config, pos = parse_config(frame, pos)
    return Tpl(ci, header, payload, address, address_bytes, id_bytes, acc, status, config, pos)
