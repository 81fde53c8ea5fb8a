"""BFW 240 radio heat cost allocator (BFW, version 0x02, type 0x08, CI 0x7A, plain payload).

The APL is not made of data records (its third byte reads as a reserved DIF). Layout after the
``2F2F`` fill, as offsets into the APL:

======= =====================================================================================
0–3     ``2F 2F xx 1F``
4–5     value at the last set date (HCA units, big-endian)
6–7     current value (HCA units, big-endian)
8–9     unknown
10–36   18 month-end values, 12 bits each, packed in nine 3-byte groups ``b0 b1 b2`` from the
        oldest pair (months 18, 17) to the newest (2, 1): even month ``(b1 >> 4) << 8 | b0``,
        odd month ``(b1 & 0x0F) << 8 | b2``
37–39   date of the reading: day, month, year (BCD, 20yy)
======= =====================================================================================
"""

from __future__ import annotations

from datetime import date

from ..record import Record
from .base import Driver, DriverInput, DriverResult, named, synth, value_record

SIZE = 40
MONTHS = 18


def _bcd(byte: int) -> int:
    return (byte >> 4) * 10 + (byte & 0x0F)


def month_values(packed: bytes) -> list[int]:
    """The 18 month-end values, newest (month 1) first."""
    values = [0] * MONTHS
    for i in range(MONTHS // 2):
        b0, b1, b2 = packed[3 * i : 3 * i + 3]
        values[MONTHS - 1 - 2 * i] = (b1 >> 4) << 8 | b0
        values[MONTHS - 2 - 2 * i] = (b1 & 0x0F) << 8 | b2
    return values


def decode_apl(apl: bytes) -> tuple[Record, ...]:
    """The readings of one BFW 240 radio APL (see the module docstring)."""
    if len(apl) != SIZE or apl[:2] != b"\x2f\x2f":
        return ()
    out: list[Record] = []
    for dif_vif, raw in (("026E", apl[6:8]), ("426E", apl[4:6])):
        rec = synth(dif_vif, raw[::-1])
        if rec is not None:
            out.append(rec)
    for month, value in enumerate(month_values(apl[10:37]), start=1):
        out.append(named("hca_units", value, None, storage=month + 1))
    try:
        day = date(2000 + _bcd(apl[39]), _bcd(apl[38]), _bcd(apl[37])).isoformat()
    except ValueError:
        pass
    else:
        out.append(value_record("026C", day, "date", None))
    return tuple(out)


def decode_bfw(data: DriverInput) -> DriverResult | None:
    if data.payload is None:
        return None
    records = decode_apl(data.payload)
    return DriverResult(records, replace=True) if records else None


DRIVERS = (
    Driver(
        "bfw240radio",
        frozenset({"BFW"}),
        decode_bfw,
        versions=frozenset({0x02}),
        device_types=frozenset({0x08}),
        cis=frozenset({0x7A}),
        description=__doc__ or "",
    ),
)
