"""Qundis walk-by data set (QDS, also LSE/ZRI/SIE variants): the ``0D FF 5F`` record, CI 0x78.

The record's data (LVAR, 53 bytes, "type 2" when byte 1 is 0x82):

====== ===========================================================================
0–8    header: transmission counter, flags; byte 8 the meter kind (B0 HCA, C0 heat, C1 water)
9      the primary VIF of every value below (13 litres, 05/06 energy, 0D/0E heat in J, 6E HCA)
10–11  error date (type G)
12–15  current value (BCD, 8 digits)
16–17  annual set date (type G), 18–21 value at that date (BCD)
22–23  last month-end date (type G), 24–27 value at that date (BCD)
28–51  twelve month deltas (int16 LE, scaled by the VIF; 0x8000 = none), newest first
====== ===========================================================================

Values are emitted as the records the meter's full telegram uses for the same readings
(``0C13``, ``4C13``, ``426C``, ``CC0813``, ``C2086C``), so both telegram kinds feed the same
entities; the month deltas are ``<quantity>_delta`` readings at storage 2–13. A radio converter
sending for a meter puts the meter's identity in an ``07 79`` record: it becomes the address.
"""

from __future__ import annotations

from ..link import wireless_address
from ..record import Record
from ..telegram import Address
from .base import Driver, DriverInput, DriverResult, keep, named, synth

MARKER = bytes.fromhex("0DFF5F")
BLOCK_SIZE = 53
TYPE_2 = 0x82
NO_DELTA = b"\x00\x80"


def _is_block(rec: Record) -> bool:
    return rec.dib == b"\x0d" and rec.vib == b"\xff\x5f"


def _block(records: tuple[Record, ...]) -> bytes | None:
    """The data set's bytes. The OMS decoder reads an LVAR below 0xC0 as text (ISO 8859-1, last
    character first): that reading is undone losslessly."""
    for rec in records:
        if _is_block(rec):
            if isinstance(rec.value, bytes):
                return rec.value
            if isinstance(rec.value, str):
                return rec.value.encode("latin-1")[::-1]
    return None


def walk_by_records(block: bytes) -> tuple[Record, ...]:
    """The readings of one walk-by data set (see the module docstring)."""
    if len(block) != BLOCK_SIZE or block[1] != TYPE_2:
        return ()
    vif = f"{block[9]:02X}"
    out: list[Record | None] = [
        synth("326C", block[10:12]),
        synth("0C" + vif, block[12:16]),
        synth("426C", block[16:18]),
        synth("4C" + vif, block[18:22]),
        synth("C2086C", block[22:24]),
        synth("CC08" + vif, block[24:28]),
    ]
    for k in range(12):
        raw = block[28 + 2 * k : 30 + 2 * k]
        delta = None if raw == NO_DELTA else synth("02" + vif, raw)
        if delta is not None and isinstance(delta.value, int | float):
            out.append(named(f"{delta.quantity}_delta", delta.value, delta.unit, storage=k + 2))
    return keep(out)


def meter_address(records: tuple[Record, ...]) -> Address | None:
    """The meter behind a radio converter: its enhanced identification record ``07 79``
    (``ID(4) M(2) version type``), when the telegram carries one."""
    for rec in records:
        if rec.dib == b"\x07" and rec.vib == b"\x79" and isinstance(rec.value, int):
            raw = (rec.value & 0xFFFF_FFFF_FFFF_FFFF).to_bytes(8, "little")
            return wireless_address(raw[4:6] + raw[:4] + raw[6:8], 0)
    return None


def decode_walk_by(data: DriverInput) -> DriverResult | None:
    block = _block(data.records)
    if block is None:
        return None
    records = walk_by_records(block)
    if not records:
        return None
    others = tuple(r for r in data.records if not _is_block(r))
    return DriverResult(others + records, replace=True, address=meter_address(data.records))


DRIVERS = (
    Driver(
        "qundis_walk_by",
        frozenset({"QDS", "LSE", "ZRI", "SIE"}),
        decode_walk_by,
        marker=MARKER,
        description=__doc__ or "",
    ),
)
