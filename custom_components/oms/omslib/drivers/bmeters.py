"""BMeters: Hydrodigit water meters and Hydroclima heat cost allocators.

Hydrodigit (BMT, versions 0x13/0x15/0x17, types 0x06/0x07).

The OMS records carry the total and the meter time; the manufacturer data after DIF 0x0F start
with a content byte whose bits say which blocks follow, in this order:

====== ====== ==============================================================================
bit    size   block
====== ====== ==============================================================================
0x01   1      battery: low nibble indexes a voltage table
0x02   4      fraud: type (0x80 magnetic, 0x40 sensor, 0x20 module removed), date (BCD yy, m, dd)
0x80   3      leak date (BCD yy mm dd)
0x04   4      back-flow volume (uint32 LE, litres)
0x10   36     month-end totals January … December (uint24 LE, 10 l; 10,000,000 and above: none)
====== ====== ==============================================================================

Hydroclima (BMP, versions 0x53/0x85, type 0x08) manufacturer data: a layout byte, then fields
of fixed size. Fields named by a DIF/VIF are read as that record (int16: temperatures in 0.01 °C
as external (room) or flow (radiator) temperature, storage 1 the previous period, maxima with
function "maximum"; storages 2–5 of HCA units and 2–4 of room temperatures the period history);
``total`` is the units of all periods (uint24). The rest (status, times, counters) is skipped.
"""

from __future__ import annotations

from ..record import Record
from .base import Driver, DriverInput, DriverResult, alarm, alarms, keep, named, synth

BATTERY = 0x01
FRAUD = 0x02
BACKFLOW = 0x04
MONTHLY = 0x10
LEAK = 0x80
VOLTS: dict[int, float] = {
    1: 1.9,
    2: 2.1,
    3: 2.2,
    4: 2.3,
    5: 2.4,
    6: 2.5,
    7: 2.65,
    8: 2.8,
    9: 2.9,
    10: 3.05,
    11: 3.2,
    12: 3.35,
    13: 3.5,
}
FULL_VOLTS = 3.7
"""Nibbles 0, 14 and 15."""
MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
FRAUD_KINDS = ("magnetic_fraud", "sensor_fraud", "module_removed")
NO_MONTH = 10_000_000


def month_end(month: str, litres_10: int) -> Record:
    """A month-end total (a reading of that month, not a storage the standard defines)."""
    return Record(
        b"", f"volume@{month}".encode(), "volume", litres_10 / 100, "m³", 1, modifiers=(f"end_of_{month}",)
    )


def decode_blocks(data: bytes) -> tuple[Record, ...]:
    """The readings of the manufacturer data (see the module docstring)."""
    if not data:
        return ()
    contents = data[0]
    pos = 1
    out: list[Record] = []
    if contents & BATTERY:
        out.append(named("voltage", VOLTS.get(data[pos] & 0x0F, FULL_VOLTS), "V"))
        pos += 1
    out.append(alarm("fraud", bool(contents & FRAUD)))
    if contents & FRAUD:
        out.extend(alarms(FRAUD_KINDS, data[pos] >> 5))
        pos += 4
    out.append(alarm("leak", bool(contents & LEAK)))
    if contents & LEAK:
        pos += 3
    if contents & BACKFLOW:
        rec = synth("04933C", data[pos : pos + 4])
        if rec is not None:
            out.append(rec)
        pos += 4
    if contents & MONTHLY and len(data) >= pos + 36:
        for i, month in enumerate(MONTHS):
            raw = int.from_bytes(data[pos + 3 * i : pos + 3 * i + 3], "little")
            if raw < NO_MONTH:
                out.append(month_end(month, raw))
    return tuple(out)


HYDROCLIMA_V10 = (
    ("status", 2),
    ("time", 2),
    ("date", 2),
    ("0265", 2),
    ("1265", 2),
    ("max_date", 2),
    ("count", 2),
    ("4265", 2),
    ("4259", 2),
    ("units", 2),
    ("total", 3),
)
HYDROCLIMA_V11 = (
    ("status", 2),
    ("time", 2),
    ("date", 2),
    ("open_date", 2),
    ("0259", 2),
    ("0265", 2),
    ("1265", 2),
    ("max_date", 2),
    ("4259", 2),
    ("4265", 2),
    ("82016E", 2),
    ("C2016E", 2),
    ("82026E", 2),
    ("C2026E", 2),
    ("820165", 2),
    ("C20165", 2),
    ("820265", 2),
    ("bins", 9),
    ("total", 3),
)
HYDROCLIMA_LAYOUTS = {0x10: HYDROCLIMA_V10, 0x11: HYDROCLIMA_V11}


def decode_hydroclima_data(data: bytes) -> tuple[Record, ...]:
    """The readings of Hydroclima manufacturer data (see :data:`HYDROCLIMA_LAYOUTS`)."""
    layout = HYDROCLIMA_LAYOUTS.get(data[0]) if data else None
    if layout is None or len(data) < 1 + sum(size for _, size in layout):
        return ()
    out: list[Record | None] = []
    pos = 1
    for name, size in layout:
        raw = data[pos : pos + size]
        pos += size
        if name == "total":
            value = int.from_bytes(raw, "little")
            out.append(Record(b"", b"hca_units@total", "hca_units", value, modifiers=("all_periods",)))
        elif name[0].isdigit() or name[0] in "ABCDEF":
            out.append(synth(name, raw))
    return keep(out)


def decode_hydroclima(data: DriverInput) -> DriverResult | None:
    records = decode_hydroclima_data(data.manufacturer_data)
    return DriverResult(records) if records else None


def decode_hydrodigit(data: DriverInput) -> DriverResult | None:
    records = decode_blocks(data.manufacturer_data)
    return DriverResult(records) if records else None


DRIVERS = (
    Driver(
        "hydrodigit",
        frozenset({"BMT"}),
        decode_hydrodigit,
        versions=frozenset({0x13, 0x15, 0x17}),
        device_types=frozenset({0x06, 0x07}),
        description=__doc__ or "",
    ),
    Driver(
        "hydroclima",
        frozenset({"BMP"}),
        decode_hydroclima,
        versions=frozenset({0x53, 0x85}),
        device_types=frozenset({0x08}),
        description=__doc__ or "",
    ),
)
