"""IME electricity meters (wired and radio): manufacturer VIF ``FF`` + a marker + a standard VIB.

IME codes energies and powers as VIF 0xFF, then one marker VIFE naming the quantity, then an
ordinary VIF with its VIFEs (scale, forward/backward): ``84 10 FF 80 84 3B`` is active energy in
10 Wh (VIF 0x04), forward flow (VIFE 0x3B), tariff 1. Markers: 0x80 active, 0x81 reactive,
0x82 apparent energy; 0x84 active, 0x85 reactive, 0x86 apparent power, 0x8D active power demand,
0x8E maximum active power. Markers 0x87 (phase-neutral voltage), 0x88 (phase-phase voltage),
0x89 (current) and 0x8A (frequency) are followed by a byte scaled like the FD table's voltage
(``0x4n``: 10^(n-9)) and current (``0x5n``: 10^(n-12)) codes. The OMS decoder keeps such records
as unscaled manufacturer-specific numbers; this driver names and scales them.
"""

from __future__ import annotations

from dataclasses import replace

from ..errors import OmsError
from ..record import Function, Record
from ..vif import resolve
from .base import Driver, DriverInput, DriverResult

MARKERS: dict[int, tuple[str, str | None]] = {
    0x80: ("energy", None),
    0x81: ("reactive_energy", "kvarh"),
    0x82: ("apparent_energy", "kVAh"),
    0x84: ("power", None),
    0x85: ("reactive_power", "kvar"),
    0x86: ("apparent_power", "kVA"),
}
"""Marker VIFE -> quantity, unit (None: the standard VIF's own, kWh or kW)."""
POWER_MARKERS: dict[int, tuple[str, Function]] = {0x8D: ("demand", "instantaneous"), 0x8E: ("", "maximum")}
"""Marker -> (modifier, function) of active power records."""
ELECTRIC_MARKERS: dict[int, tuple[str, str, tuple[str, ...]]] = {
    0x87: ("voltage", "V", ("phase_to_neutral",)),
    0x88: ("voltage", "V", ("phase_to_phase",)),
    0x89: ("current", "A", ()),
    0x8A: ("frequency", "Hz", ()),
}
"""Marker -> quantity, unit, modifiers of the FD-scaled records."""


def _electric(rec: Record, raw: int) -> Record | None:
    quantity, unit, modifiers = ELECTRIC_MARKERS[rec.vib[1]]
    code = rec.vib[2] & 0x7F
    if not 0x40 <= code <= 0x5F:
        return None
    exponent = (code & 0x0F) - (12 if code >= 0x50 else 9)
    value = round(raw * 10.0**exponent, max(0, -exponent))
    return replace(rec, quantity=quantity, value=value, unit=unit, modifiers=modifiers)


def rename(rec: Record) -> Record | None:
    """The record read with IME's marker, or None when it is not one."""
    vib = rec.vib
    raw = rec.value
    if len(vib) < 3 or vib[0] != 0xFF or not isinstance(raw, int) or isinstance(raw, bool):
        return None
    if vib[1] in ELECTRIC_MARKERS:
        return _electric(rec, raw)
    function: Function = rec.function
    extra: tuple[str, ...] = ()
    if vib[1] in POWER_MARKERS:
        modifier, function = POWER_MARKERS[vib[1]]
        extra = (modifier,) if modifier else ()
        marker: tuple[str, str | None] = ("power", None)
    elif vib[1] in MARKERS:
        marker = MARKERS[vib[1]]
    else:
        return None
    try:
        std = resolve(vib[2:])
    except OmsError:
        return None
    quantity, unit = marker
    value = round(raw * std.factor * 10.0**std.exponent, max(0, -std.exponent) + 3)
    modifiers = std.modifiers + extra
    return replace(
        rec, quantity=quantity, value=value, unit=unit or std.unit, modifiers=modifiers, function=function
    )


def decode_ime_records(records: tuple[Record, ...]) -> tuple[Record, ...]:
    """The records with IME's marked ones named and scaled."""
    return tuple(rename(r) or r for r in records)


def decode_ime(data: DriverInput) -> DriverResult | None:
    records = decode_ime_records(data.records)
    changed = any(new is not old for new, old in zip(records, data.records, strict=True))
    return DriverResult(records, replace=True) if changed else None


DRIVERS = (Driver("ime", frozenset({"IME"}), decode_ime, description=__doc__ or ""),)
