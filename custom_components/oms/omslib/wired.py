"""Wired M-Bus link layer, EN 13757-2 §5: frames, timing and addressing.

Single character, short, control and long frames (:func:`parse_wired`, :func:`short_frame`,
:func:`long_frame`, and :func:`take_frame` for a byte stream); the answer window and settle time
per baud rate; primary and secondary addresses (EN 13757-3 Annex B, the select frame CI 52 with
wildcards); :func:`merge_telegrams` for a multi-telegram readout. The bus master that uses them is
:mod:`omslib.receivers.mbus_master`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
import re
from typing import TYPE_CHECKING, Literal

from .errors import CrcError, LengthError, MalformedError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .telegram import Telegram

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


def is_long_frame(raw: bytes, *, exact: bool = False) -> bool:
    """True when ``raw`` has the shape of a long (or control) frame ``68 L L 68 … 16``; with
    ``exact``, only when nothing follows the stop byte."""
    size = len(raw)
    return (
        size >= 9
        and raw[0] == START_LONG
        and raw[3] == START_LONG
        and raw[1] == raw[2]
        and (size == raw[1] + 6 if exact else size >= raw[1] + 6)
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


# -- timing and addresses ---------------------------------------------------------

BAUD_RATES: tuple[int, ...] = (300, 600, 1200, 2400, 4800, 9600, 19200, 38400)
DEFAULT_BAUD = 2400
MAX_PRIMARY = 250
"""Highest primary address; 0 is "unconfigured", 251–252 reserved, 253 selected, 254/255 broadcast."""
CI_SELECT = 0x52
"""CI of the secondary-address select frame (libmbus, pyMeterBus)."""
WILDCARD_MASK = "FFFFFFFFFFFFFFFF"
MAX_FRAME = 255 + 6
"""The longest wired frame: L is one byte."""
LONG_HEADER_CIS = (0x72, 0x76)
"""Reply CIs whose data starts with the 8-byte secondary address (ID M Ver Med)."""

_SECONDARY_RE = re.compile(r"^[0-9A-F]{16}$")


def default_timeout(baudrate: int) -> float:
    """Answer window after our request went out: 330 bit times + 50 ms (EN 13757-2) + 100 ms latency margin.

    USB converters and TCP gateways add latency, hence the margin; the time to
    transmit the request itself is added per request.
    """
    return 330 / baudrate + 0.05 + 0.1


def default_settle(baudrate: int) -> float:
    """Quiet time after a reply before a scan trusts it (extra bytes = collision): 3 characters + 20 ms."""
    return 3 * 11 / baudrate + 0.02


def normalize_secondary(secondary: str) -> str:
    """Upper-case 16-hex secondary address (mask): 8 ID digits (F = wildcard), M(2) in wire order, Ver, Med.

    Raises :class:`ValueError` for anything else.
    """
    text = secondary.strip().upper()
    if not _SECONDARY_RE.match(text):
        raise ValueError(
            f"secondary address {secondary!r} is not 16 hex digits: ID (F = wildcard), M, Ver, Med"
        )
    return text


def secondary_bytes(secondary: str) -> bytes:
    """The 8 bytes of a select frame: ID (BCD, little-endian) M(2) Ver Med.

    ``"00000001DADAFA1B"`` → ``01 00 00 00 DA DA FA 1B``.
    """
    text = normalize_secondary(secondary)
    return bytes.fromhex(text[:8])[::-1] + bytes.fromhex(text[8:])


def select_frame(secondary: str) -> bytes:
    """``68 0B 0B 68 73 FD 52 ID(4) M(2) Ver Med CS 16``."""
    return long_frame(SND_UD | FCB, ADDRESS_SELECTED, CI_SELECT, secondary_bytes(secondary))


def secondary_from_frame(raw: bytes) -> str:
    """The 16-hex secondary address of a RSP_UD long frame with a long header (CI 72/76)."""
    wf = parse_wired(raw)
    if wf.ci not in LONG_HEADER_CIS or len(wf.data) < 8:
        raise MalformedError(f"reply with CI {wf.ci} carries no secondary address")
    data = wf.data
    return (data[3::-1].hex() + data[4:8].hex()).upper()


def secondary_matches(mask: str, secondary: str) -> bool:
    """Whether ``secondary`` answers a select for ``mask`` (ID nibble F, M FFFF, Ver FF, Med FF)."""
    mask, secondary = normalize_secondary(mask), normalize_secondary(secondary)
    if any(m not in ("F", s) for m, s in zip(mask[:8], secondary[:8], strict=True)):
        return False
    return all(mask[i : i + n] in ("F" * n, secondary[i : i + n]) for i, n in ((8, 4), (12, 2), (14, 2)))


def parse_address(text: str | int) -> int | str:
    """A primary address 0–250 (decimal) or a 16-hex secondary address."""
    if isinstance(text, int):
        address = text
    else:
        text = text.strip()
        if len(text) == 16:
            return normalize_secondary(text)
        if not text.isdigit():
            raise ValueError(f"{text!r} is neither a primary address 0–250 nor a 16-hex secondary address")
        address = int(text)
    if not 0 <= address <= MAX_PRIMARY:
        raise ValueError(f"primary address {address} is outside 0–{MAX_PRIMARY}")
    return address


FrameKind = Literal["incomplete", "frame", "bad_checksum", "garbage"]


def take_frame(buffer: bytearray) -> tuple[FrameKind, bytes]:
    """Take the first wired frame (E5, short or long) off the front of ``buffer``.

    Returns ``("incomplete", b"")`` (nothing consumed) while a plausible frame is
    still arriving, ``("frame", bytes)`` for a complete frame whose length,
    stop byte and checksum are valid, ``("bad_checksum", bytes)`` for a
    well-formed frame with a wrong checksum (only its start byte is consumed,
    so a frame hidden inside is still found), and ``("garbage", bytes)`` for
    bytes that start no frame (consumed up to the next possible start byte).
    L is one byte, so no frame is ever awaited beyond 261 bytes.
    """
    if not buffer:
        return "incomplete", b""
    start = buffer[0]
    if start == ACK:
        del buffer[:1]
        return "frame", bytes((ACK,))
    if start == START_SHORT:
        if len(buffer) < 5:
            return "incomplete", b""
        if buffer[4] == STOP:
            raw = bytes(buffer[:5])
            if checksum(raw[1:3]) == raw[3]:
                del buffer[:5]
                return "frame", raw
            del buffer[:1]
            return "bad_checksum", raw
    elif start == START_LONG:
        if len(buffer) < 4:
            return "incomplete", b""
        length = buffer[1]
        if buffer[2] == length and buffer[3] == START_LONG and length >= 3:
            total = length + 6
            if len(buffer) < total:
                return "incomplete", b""
            if buffer[total - 1] == STOP:
                raw = bytes(buffer[:total])
                if checksum(raw[4 : 4 + length]) == raw[4 + length]:
                    del buffer[:total]
                    return "frame", raw
                del buffer[:1]
                return "bad_checksum", raw
    # Not a frame here: skip to the next byte that could start one.
    end = next((i for i in range(1, len(buffer)) if buffer[i] in (ACK, START_SHORT, START_LONG)), len(buffer))
    garbage = bytes(buffer[:end])
    del buffer[:end]
    return "garbage", garbage


def header_secondary(raw: bytes) -> str | None:
    """The secondary address in a long frame's header, checksum not checked."""
    if len(raw) < 15 or raw[0] != START_LONG or raw[6] not in LONG_HEADER_CIS:
        return None
    try:
        return normalize_secondary((raw[10:6:-1].hex() + raw[11:15].hex()).upper())
    except ValueError:
        return None


def check_primary(address: int, *, allow_selected: bool = False) -> int:
    """``address`` when it is a primary address 0–250 (or 253, selected, when allowed), else ValueError."""
    if 0 <= address <= MAX_PRIMARY or (allow_selected and address == ADDRESS_SELECTED):
        return address
    raise ValueError(f"primary address {address} is outside 0–{MAX_PRIMARY}")


def merge_telegrams(telegrams: Sequence[Telegram]) -> Telegram:
    """One telegram holding the records of a multi-telegram readout, in order (identity of the first)."""
    if not telegrams:
        raise ValueError("no telegrams to merge")
    first, last = telegrams[0], telegrams[-1]
    if len(telegrams) == 1:
        return first
    return replace(
        first,
        records=tuple(record for telegram in telegrams for record in telegram.records),
        more_records_follow=last.more_records_follow,
        manufacturer_data=b"".join(telegram.manufacturer_data for telegram in telegrams),
        decrypted=any(telegram.decrypted for telegram in telegrams),
        authenticated=all(telegram.authenticated for telegram in telegrams),
        extra={**first.extra, "telegrams": len(telegrams)},
    )
