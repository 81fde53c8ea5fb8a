"""Zenner (ZRI) water meters with version 0x0B (type 0x16): readings in the manufacturer block.

After ``2F 2F 0F`` come three uint32 LE: a status word, the volume at the last set date and the
total volume, both in 1/256 litre.
"""

from __future__ import annotations

from ..record import Record
from .base import Driver, DriverInput, DriverResult, value_record

SCALE = 256_000
"""Raw units per m³."""


def decode_block(data: bytes) -> tuple[Record, ...]:
    """The volumes of the manufacturer block (after DIF 0x0F)."""
    if len(data) < 12:
        return ()
    target = int.from_bytes(data[4:8], "little") / SCALE
    total = int.from_bytes(data[8:12], "little") / SCALE
    return (
        value_record("0413", round(total, 6), "volume", "m³"),
        value_record("4413", round(target, 6), "volume", "m³"),
    )


def decode_zenner(data: DriverInput) -> DriverResult | None:
    records = decode_block(data.manufacturer_data)
    return DriverResult(records) if records else None


DRIVERS = (
    Driver(
        "zenner0b",
        frozenset({"ZRI"}),
        decode_zenner,
        versions=frozenset({0x0B}),
        device_types=frozenset({0x16}),
        description=__doc__ or "",
    ),
)
