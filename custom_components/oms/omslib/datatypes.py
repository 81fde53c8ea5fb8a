"""Data field codings of EN 13757-3 Annex A: integers, BCD, real, LVAR, date/time types F, G, I, J.

Every function is total: invalid input gives ``None`` (or raises an :class:`OmsError`
subclass where a length is wrong), never another exception.
"""

from __future__ import annotations

from datetime import date, datetime, time
import math
import struct
from typing import Literal

from .errors import LengthError, MalformedError

_FLOAT = struct.Struct("<f")

LvarKind = Literal["text", "bcd", "negative_bcd", "binary"]


def decode_int(data: bytes, signed: bool = True) -> int:
    """Little-endian two's-complement integer of 1–8 bytes (Annex A type B; type C when unsigned)."""
    return int.from_bytes(data, "little", signed=signed)


def decode_float32(data: bytes) -> float | None:
    """IEEE 754 single precision, little endian (Annex A type H); NaN and infinities give None."""
    if len(data) != 4:
        raise LengthError(f"real32 needs 4 bytes, got {len(data)}")
    value: float = _FLOAT.unpack(data)[0]
    return value if math.isfinite(value) else None


def decode_bcd(data: bytes) -> int | None:
    """Packed BCD, least significant byte first (Annex A type A).

    A top nibble of F marks a negative value (``44 44 44 F4`` → −4444444). Any other
    nibble above 9 makes the value invalid: None.
    """
    value = 0
    negative = False
    last = len(data) - 1
    for index in range(last, -1, -1):
        byte = data[index]
        high = byte >> 4
        low = byte & 0x0F
        if index == last and high == 0x0F:
            negative = True
            high = 0
        if high > 9 or low > 9:
            return None
        value = value * 100 + high * 10 + low
    return -value if negative else value


def decode_text(data: bytes) -> str:
    """LVAR text: ISO 8859-1, sent last character first (EN 13757-3 §6.3.3)."""
    return data[::-1].decode("latin-1")


def _lvar_entry(lvar: int) -> tuple[LvarKind, int] | None:
    if lvar <= 0xBF:
        return ("text", lvar)
    if 0xC0 <= lvar <= 0xC9:
        return ("bcd", lvar - 0xC0)
    if 0xD0 <= lvar <= 0xD9:
        return ("negative_bcd", lvar - 0xD0)
    if 0xE0 <= lvar <= 0xEF:
        return ("binary", lvar - 0xE0)
    if 0xF0 <= lvar <= 0xF4:
        return ("binary", 4 * (lvar - 0xEC))
    if lvar == 0xF5:
        return ("binary", 48)
    if lvar == 0xF6:
        return ("binary", 64)
    return None


LVAR_TABLE: tuple[tuple[LvarKind, int] | None, ...] = tuple(_lvar_entry(i) for i in range(256))
"""LVAR byte → (kind, number of data bytes), None for reserved values (EN 13757-3 Table A.3)."""


def lvar_layout(lvar: int) -> tuple[LvarKind, int]:
    """Kind and byte count for an LVAR byte; MalformedError for reserved values."""
    entry = LVAR_TABLE[lvar & 0xFF]
    if entry is None:
        raise MalformedError(f"reserved LVAR value 0x{lvar:02X}")
    return entry


def decode_lvar(lvar: int, data: bytes) -> int | str | bytes | None:
    """Value of an LVAR data field whose bytes (after the LVAR byte) are ``data``."""
    kind, size = lvar_layout(lvar)
    if len(data) != size:
        raise LengthError(f"LVAR 0x{lvar:02X} needs {size} bytes, got {len(data)}")
    if kind == "text":
        return decode_text(data)
    if kind == "binary":
        return data
    value = decode_bcd(data)
    if value is None or kind == "bcd":
        return value
    return -value


def _year(raw: int, century: int | None) -> int:
    """Year from a 7-bit year and optional hundred-year bits; compatibility rule of Annex A type F."""
    if century is None or century == 0:
        return 2000 + raw if raw <= 80 else 1900 + raw
    return 1900 + 100 * century + raw


def decode_date_g(data: bytes) -> str | None:
    """Type G date (16 bit) → "YYYY-MM-DD"; None when invalid (FFFF) or periodic."""
    if len(data) != 2:
        raise LengthError(f"type G date needs 2 bytes, got {len(data)}")
    b0, b1 = data[0], data[1]
    day = b0 & 0x1F
    month = b1 & 0x0F
    raw_year = ((b1 & 0xF0) >> 1) | ((b0 & 0xE0) >> 5)
    if raw_year == 127 or not 1 <= month <= 12 or day == 0:
        return None
    try:
        return date(_year(raw_year, None), month, day).isoformat()
    except ValueError:
        return None


def decode_datetime_f(data: bytes) -> str | None:
    """Type F date and time (32 bit) → "YYYY-MM-DDTHH:MM:00"; None when IV is set or invalid."""
    if len(data) != 4:
        raise LengthError(f"type F date/time needs 4 bytes, got {len(data)}")
    b0, b1, b2, b3 = data[0], data[1], data[2], data[3]
    if b0 & 0x80:
        return None
    minute = b0 & 0x3F
    hour = b1 & 0x1F
    century = (b1 >> 5) & 0x03
    day = b2 & 0x1F
    month = b3 & 0x0F
    raw_year = ((b3 & 0xF0) >> 1) | ((b2 & 0xE0) >> 5)
    if raw_year == 127 or day == 0 or not 1 <= month <= 12:
        return None
    try:
        return datetime(_year(raw_year, century), month, day, hour, minute).isoformat()
    except ValueError:
        return None


def decode_time_j(data: bytes) -> str | None:
    """Type J time of day (24 bit) → "HH:MM:SS"; None when out of range."""
    if len(data) != 3:
        raise LengthError(f"type J time needs 3 bytes, got {len(data)}")
    try:
        return time(data[2] & 0x1F, data[1] & 0x3F, data[0] & 0x3F).isoformat()
    except ValueError:
        return None


def decode_datetime_i(data: bytes) -> str | None:
    """Type I date and time with seconds (48 bit) → "YYYY-MM-DDTHH:MM:SS"; None when IV set or invalid."""
    if len(data) != 6:
        raise LengthError(f"type I date/time needs 6 bytes, got {len(data)}")
    if data[1] & 0x80:
        return None
    second = data[0] & 0x3F
    minute = data[1] & 0x3F
    hour = data[2] & 0x1F
    day = data[3] & 0x1F
    month = data[4] & 0x0F
    raw_year = ((data[4] & 0xF0) >> 1) | ((data[3] & 0xE0) >> 5)
    if raw_year == 127 or day == 0 or not 1 <= month <= 12:
        return None
    try:
        return datetime(_year(raw_year, None), month, day, hour, minute, second).isoformat()
    except ValueError:
        return None


def decode_timepoint(data: bytes) -> str | None:
    """A time point by size: 2 bytes type G, 3 type J, 4 type F, 6 type I (EN 13757-3 §6.4.2)."""
    size = len(data)
    if size == 2:
        return decode_date_g(data)
    if size == 4:
        return decode_datetime_f(data)
    if size == 6:
        return decode_datetime_i(data)
    if size == 3:
        return decode_time_j(data)
    raise LengthError(f"no date/time type has {size} bytes")
