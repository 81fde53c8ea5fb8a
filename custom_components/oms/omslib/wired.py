"""Wired M-Bus link layer, EN 13757-2 §5: single character, short, control and long frames."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .errors import CrcError, LengthError, MalformedError

ACK = 0xE5
START_LONG = 0x68
START_SHORT = 0x10
STOP = 0x16

# C-field values, EN 13757-2 §5.5
SND_NKE = 0x40
SND_UD = 0x53
REQ_UD1 = 0x5A
REQ_UD2 = 0x5B
FCB = 0x20
RSP_UD = 0x08

ADDRESS_SELECTED = 0xFD
ADDRESS_BROADCAST_REPLY = 0xFE
ADDRESS_BROADCAST = 0xFF

WiredKind = Literal["ack", "short", "control", "long"]


@dataclass(frozen=True, slots=True)
class WiredFrame:
    """One wired M-Bus frame. ``data`` is what follows the CI field of long frames."""

    kind: WiredKind
    c_field: int = 0
    address: int = 0
    ci: int | None = None
    data: bytes = b""


def checksum(data: bytes | bytearray | memoryview) -> int:
    """Arithmetic sum modulo 256 (EN 13757-2 §5.3)."""
    return sum(data) & 0xFF


def is_long_frame(raw: bytes) -> bool:
    """True when ``raw`` has the shape of a long frame ``68 L L 68 … 16``."""
    return (
        len(raw) >= 9
        and raw[0] == START_LONG
        and raw[3] == START_LONG
        and raw[1] == raw[2]
        and len(raw) >= raw[1] + 6
        and raw[raw[1] + 5] == STOP
    )


def parse_wired(raw: bytes) -> WiredFrame:
    """Parse one complete wired frame (exactly one; trailing bytes are an error)."""
    if not raw:
        raise LengthError("empty wired frame")
    start = raw[0]
    if start == ACK:
        if len(raw) != 1:
            raise LengthError("bytes after the single-character ACK")
        return WiredFrame("ack")
    if start == START_SHORT:
        if len(raw) != 5:
            raise LengthError(f"a short frame has 5 bytes, got {len(raw)}")
        if raw[4] != STOP:
            raise MalformedError("short frame without stop byte 0x16")
        if checksum(raw[1:3]) != raw[3]:
            raise CrcError("short frame checksum mismatch")
        return WiredFrame("short", raw[1], raw[2])
    if start != START_LONG:
        raise MalformedError(f"0x{start:02X} starts no wired M-Bus frame")
    if len(raw) < 9:
        raise LengthError("long frame shorter than 9 bytes")
    length = raw[1]
    if raw[2] != length or raw[3] != START_LONG:
        raise MalformedError("long frame header is not 68 L L 68")
    if length < 3:
        raise MalformedError(f"long frame L={length} is below 3")
    if len(raw) != length + 6:
        raise LengthError(f"long frame with L={length} has {length + 6} bytes, got {len(raw)}")
    if raw[-1] != STOP:
        raise MalformedError("long frame without stop byte 0x16")
    body = raw[4 : 4 + length]
    if checksum(body) != raw[4 + length]:
        raise CrcError("long frame checksum mismatch")
    kind: WiredKind = "control" if length == 3 else "long"
    return WiredFrame(kind, body[0], body[1], body[2], bytes(body[3:]))


def short_frame(c_field: int, address: int) -> bytes:
    """``10 C A CS 16``."""
    return bytes((START_SHORT, c_field, address, (c_field + address) & 0xFF, STOP))


def long_frame(c_field: int, address: int, ci: int, data: bytes = b"") -> bytes:
    """``68 L L 68 C A CI data CS 16``."""
    body = bytes((c_field, address, ci)) + data
    if len(body) > 255:
        raise LengthError("long frame data longer than 252 bytes")
    return bytes((START_LONG, len(body), len(body), START_LONG)) + body + bytes((checksum(body), STOP))
