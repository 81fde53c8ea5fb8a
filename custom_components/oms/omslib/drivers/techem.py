"""Techem (TCH) radio telegrams with manufacturer CIs 0xA0/0xA2: offsets after the CI byte.

* MK-Radio 3 water meter (version 0x74, type 0x62/0x72): ``x, last period's end date (2),
  its volume (2), current date (2), volume since then (2)``, volumes uint16 LE in 0.1 m³.
  Period end date: day ``d & 0x1F``, month ``d >> 5 & 0x0F``, year ``2000 + (d >> 9)``; current
  date: day ``d >> 4 & 0x1F``, month ``d >> 9 & 0x0F``, in the year after the period end when it
  is not later in the year than that.
* MK-Radio 4 water meter (version 0x95/0x70): last period's volume at 3–4, volume since then at
  7–8 (uint16 LE, 0.1 m³).
* FHKV data III heat cost allocator (version 0x69/0x94, type 0x80): ``layout, period end date (2),
  its units (2), current date (2), units since then (2), [one more byte when layout is 0x0F],
  room temperature (2), radiator temperature (2)`` (uint16 LE, temperatures in 0.01 °C).
* vario 451 heat meter (version 0x27, type 0x04/0xC3): last period's energy at 3–4, energy since
  then at 7–8 (uint16 LE, MJ).
* MK-Radio 3a water meter (version 0x50, type 0x72): ``x x, current date (2: day, month, year as
  in the period end date above), total (uint24 LE, 0.1 m³)``, then twelve ``x, lo, hi`` groups. The
  consumption of the k-th month back (0.1 m³) is ``lo[0]`` (plus ``hi[0]`` after the 15th) for the
  last month, else ``hi[k-1] + lo[k]`` up to the 15th and ``lo[k] + hi[k]`` after it.
* compact V heat meter (versions 0x22/0x39/0x45, type 0x04/0x43/0xC3): last period's energy at
  3–5, energy since then at 7–9 (uint24 LE, kWh).

The meter's total is the last period's value plus the value since then (also reported alone).
"""

from __future__ import annotations

from datetime import date

from ..record import Record
from .base import Decode, Driver, DriverInput, DriverResult, keep, synth, this_period, value_record

TCH = frozenset({"TCH"})
CIS = frozenset({0xA0, 0xA1, 0xA2})
FHKV_LAYOUTS = {0x01: 9, 0x11: 9, 0x0F: 10}
"""Layout byte -> offset of the room temperature."""


def _u16(data: bytes, pos: int) -> int:
    return int.from_bytes(data[pos : pos + 2], "little")


def period_dates(prev: int, curr: int) -> tuple[str | None, str | None]:
    """(period end, current date) from the two packed date words."""
    p_day, p_month, p_year = prev & 0x1F, prev >> 5 & 0x0F, 2000 + (prev >> 9)
    c_day, c_month = curr >> 4 & 0x1F, curr >> 9 & 0x0F
    c_year = p_year + ((c_month, c_day) <= (p_month, p_day))
    return _iso(p_year, p_month, p_day), _iso(c_year, c_month, c_day)


def _iso(year: int, month: int, day: int) -> str | None:
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        return None


def _dates(data: bytes, prev_at: int, curr_at: int) -> list[Record | None]:
    prev, curr = period_dates(_u16(data, prev_at), _u16(data, curr_at))
    return [
        None if prev is None else value_record("426C", prev, "date", None),
        None if curr is None else value_record("026C", curr, "date", None),
    ]


def _water(data: bytes, prev_at: int, curr_at: int) -> list[Record | None]:
    prev, curr = _u16(data, prev_at), _u16(data, curr_at)
    return [
        value_record("0415", (prev + curr) / 10, "volume", "m³"),
        synth("4215", data[prev_at : prev_at + 2]),
        this_period("volume", curr / 10, "m³"),
    ]


def decode_mkradio3(data: DriverInput) -> DriverResult | None:
    p = data.payload
    if p is None or len(p) < 9:
        return None
    return DriverResult(keep(_water(p, 3, 7) + _dates(p, 1, 5)), replace=True)


def decode_mkradio4(data: DriverInput) -> DriverResult | None:
    p = data.payload
    if p is None or len(p) < 9:
        return None
    return DriverResult(keep(_water(p, 3, 7)), replace=True)


def decode_fhkv3(data: DriverInput) -> DriverResult | None:
    p = data.payload
    if p is None or not p or p[0] not in FHKV_LAYOUTS:
        return None
    temps = FHKV_LAYOUTS[p[0]]
    if len(p) < temps + 4:
        return None
    records = [
        synth("026E", p[7:9]),
        synth("426E", p[3:5]),
        synth("0265", p[temps : temps + 2]),
        synth("0259", p[temps + 2 : temps + 4]),
        *_dates(p, 1, 5),
    ]
    return DriverResult(keep(records), replace=True)


def decode_vario451(data: DriverInput) -> DriverResult | None:
    p = data.payload
    if p is None or len(p) < 9:
        return None
    prev, curr = _u16(p, 3), _u16(p, 7)
    records: list[Record | None] = [
        value_record("040E", prev + curr, "energy", "MJ"),
        synth("420E", p[3:5]),
        this_period("energy", curr, "MJ"),
    ]
    return DriverResult(keep(records), replace=True)


def decode_compact5(data: DriverInput) -> DriverResult | None:
    p = data.payload
    if p is None or len(p) < 10:
        return None
    prev, curr = int.from_bytes(p[3:6], "little"), int.from_bytes(p[7:10], "little")
    records: list[Record | None] = [
        value_record("0406", prev + curr, "energy", "kWh"),
        synth("4306", p[3:6]),
        this_period("energy", curr, "kWh"),
    ]
    return DriverResult(keep(records), replace=True)


MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


def month_consumption(early: bool, groups: list[tuple[int, int]]) -> list[int]:
    """Consumption per month back (0.1 m³), newest first, from the (lo, hi) groups."""
    out = []
    for k, (lo, hi) in enumerate(groups):
        if early:
            out.append(lo if k == 0 else groups[k - 1][1] + lo)
        else:
            out.append(lo + hi)
    return out


def decode_mkradio3a(data: DriverInput) -> DriverResult | None:
    p = data.payload
    if p is None or len(p) < 8 + 3 * 12 - 1:
        return None
    raw_date = _u16(p, 2)
    day, month = raw_date & 0x1F, raw_date >> 5 & 0x0F
    if not 1 <= month <= 12:
        return None
    groups = [(p[8 + 3 * k], p[9 + 3 * k]) for k in range(12)]
    records: list[Record | None] = [
        value_record("0415", int.from_bytes(p[4:7], "little") / 10, "volume", "m³"),
        _iso_record(2000 + (raw_date >> 9), month, day),
    ]
    for back, tenths in enumerate(month_consumption(day <= 15, groups)):
        name = MONTHS[(month - 1 - back) % 12]
        key = f"volume@{name}".encode()
        records.append(Record(b"", key, "volume", tenths / 10, "m³", 1, modifiers=(f"consumed_in_{name}",)))
    return DriverResult(keep(records), replace=True)


def _iso_record(year: int, month: int, day: int) -> Record | None:
    iso = _iso(year, month, day)
    return None if iso is None else value_record("026C", iso, "date", None)


def _driver(name: str, decode: Decode, versions: set[int], types: set[int], doc: str) -> Driver:
    return Driver(name, TCH, decode, frozenset(versions), frozenset(types), CIS, raw=True, description=doc)


DRIVERS = (
    _driver("mkradio3", decode_mkradio3, {0x74}, {0x62, 0x72}, __doc__ or ""),
    _driver("mkradio4", decode_mkradio4, {0x95, 0x70}, {0x62, 0x72}, __doc__ or ""),
    _driver("mkradio3a", decode_mkradio3a, {0x50}, {0x72}, __doc__ or ""),
    _driver("fhkvdataiii", decode_fhkv3, {0x69, 0x94}, {0x80}, __doc__ or ""),
    _driver("vario451", decode_vario451, {0x27}, {0x04, 0xC3}, __doc__ or ""),
    _driver("compact5", decode_compact5, {0x22, 0x39, 0x45}, {0x04, 0x43, 0xC3}, __doc__ or ""),
)
