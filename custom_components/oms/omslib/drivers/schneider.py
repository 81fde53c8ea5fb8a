"""Schneider Electric iEM3000 electricity meters (SEC, versions 0x13/0x15/0x18, type 0x02, wired).

A few readings use manufacturer VIFs (``FF`` + one VIFE) without scaling: ``FF 0B`` frequency (Hz,
a 32-bit real), ``FF 24`` nominal frequency (Hz), ``FF 0A`` power factor. The OMS decoder keeps them
as unnamed manufacturer-specific numbers; this driver names them.
"""

from __future__ import annotations

from dataclasses import replace

from ..record import Record
from .base import Driver, DriverInput, DriverResult

VIFES: dict[int, tuple[str, str | None, tuple[str, ...]]] = {
    0x0B: ("frequency", "Hz", ()),
    0x24: ("frequency", "Hz", ("nominal",)),
    0x0A: ("power_factor", None, ()),
}
"""VIFE after the manufacturer VIF -> quantity, unit, modifiers."""


def rename(rec: Record) -> Record:
    """The record named when its VIB is one of :data:`VIFES`, else unchanged."""
    entry = VIFES.get(rec.vib[1]) if len(rec.vib) == 2 and rec.vib[0] == 0xFF else None
    if entry is None or isinstance(rec.value, bool) or not isinstance(rec.value, int | float):
        return rec
    quantity, unit, modifiers = entry
    return replace(rec, quantity=quantity, unit=unit, modifiers=modifiers)


def decode_schneider(data: DriverInput) -> DriverResult | None:
    records = tuple(rename(r) for r in data.records)
    changed = any(new is not old for new, old in zip(records, data.records, strict=True))
    return DriverResult(records, replace=True) if changed else None


DRIVERS = (
    Driver(
        "iem3000",
        frozenset({"SEC"}),
        decode_schneider,
        versions=frozenset({0x13, 0x15, 0x18}),
        device_types=frozenset({0x02}),
        description=__doc__ or "",
    ),
)
