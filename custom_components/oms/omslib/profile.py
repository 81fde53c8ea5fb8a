"""Compact profiles: a series of values in one record (EN 13757-3:2018 Annex F; OMS Vol2 Annex R).

A profile record has DIF data field D (LVAR length) and one of the combinable VIFEs 1F (compact
profile), 1E (with register numbers) or 13 (inverse compact profile). Its data is a spacing
control byte, a spacing value byte and N elements of equal size (Annex F.2):

- control bits 0–3: element size, coded like a DIF data field (fixed sizes only); bits 4–5: unit
  (s, min, h, days/months); bits 6–7: mode (absolute, increments, decrements, signed differences);
- spacing value 1–250 units, 0 = no time spacing, 253 = half month (unit 11), 254 = 1 month
  (unit 11), 3 months (unit 10) or 6 months (unit 01); everything else is reserved;
- the first element carrying the "illegal" code ends the series.

:func:`parse_profile` reads those bytes; :func:`resolve_profiles` finds each profile's base time
(a date/time record of the same storage, tariff and subunit) and base value (the record with the
same VIF/VIFEs minus the profile VIFE) among the telegram's records and attaches a
:class:`~.record.Series`. Nothing is guessed: what cannot be resolved gets a typed reason.
"""

from __future__ import annotations

from calendar import monthrange
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Literal

from .datatypes import decode_bcd, decode_float32
from .errors import LengthError, MalformedError, OmsError
from .record import Record, Series, SeriesPoint
from .vif import resolve

ProfileKind = Literal["forward", "inverse", "register"]
Mode = Literal["absolute", "increment", "decrement", "difference"]
StepUnit = Literal["s", "min", "h", "d", "month", "half_month"]

PROFILE_VIFES: dict[int, ProfileKind] = {0x1F: "forward", 0x13: "inverse", 0x1E: "register"}
"""Combinable VIFE (E bit stripped) → profile kind, EN 13757-3 Table 15."""
PROFILE_MODIFIERS = frozenset(("compact_profile", "inverse_compact_profile", "compact_profile_with_register"))
"""The record modifiers ``vif.py`` gives those VIFEs."""

MODES: tuple[Mode, ...] = ("absolute", "increment", "decrement", "difference")
"""Control bits 7–6, Annex F.2.3."""
UNITS: tuple[StepUnit, ...] = ("s", "min", "h", "d")
"""Control bits 5–4; unit 11 is days (spacing 1–250) or months (253/254)."""
SIGNED_MODES = frozenset(("absolute", "difference"))

ELEMENT_SIZES: dict[int, tuple[int, str]] = {
    0x1: (1, "int"),
    0x2: (2, "int"),
    0x3: (3, "int"),
    0x4: (4, "int"),
    0x5: (4, "real"),
    0x6: (6, "int"),
    0x7: (8, "int"),
    0x9: (1, "bcd"),
    0xA: (2, "bcd"),
    0xB: (3, "bcd"),
    0xC: (4, "bcd"),
    0xE: (6, "bcd"),
}
"""Control bits 3–0 (a DIF data field code) → element bytes and coding; 0, 8, D and F are invalid."""

CODING_NAMES = {"int": "integer", "real": "real32", "bcd": "BCD"}
_UNIT_NAMES = ("seconds", "minutes", "hours", "days/months")
_CLOCK_DESIGNATORS = {"s": "S", "min": "M", "h": "H"}
_SPACING_254: dict[str, tuple[StepUnit, int]] = {"d": ("month", 1), "h": ("month", 3), "min": ("month", 6)}


@dataclass(frozen=True, slots=True)
class Profile:
    """The data of one profile record, before resolution."""

    kind: ProfileKind
    control: int
    spacing: int
    """The spacing value byte as sent."""
    mode: Mode
    element_code: int
    """DIF data field code of each element (bits 3–0 of the control byte)."""
    step_unit: StepUnit | None
    """None: an array without time spacing (spacing value 0)."""
    step_count: int
    elements: tuple[int | float, ...]
    """Raw element values up to (not including) the first illegal one."""
    sent: int
    """Number of elements sent, illegal ones included."""

    @property
    def step(self) -> str | None:
        """The spacing as an ISO 8601 duration ("PT15M", "P1D", "P3M", "P0.5M")."""
        return iso_duration(self.step_unit, self.step_count)


def iso_duration(unit: StepUnit | None, count: int) -> str | None:
    """ISO 8601 duration of ``count`` × ``unit``; None without a unit."""
    if unit is None:
        return None
    if unit == "half_month":
        return "P0.5M"
    if unit == "month":
        return f"P{count}M"
    if unit == "d":
        return f"P{count}D"
    return f"PT{count}{_CLOCK_DESIGNATORS[unit]}"


def decode_control(control: int, spacing: int) -> tuple[Mode, int, StepUnit | None, int]:
    """Mode, element code, step unit and step count of a control and spacing byte (Annex F.2.3/F.2.4).

    Raises MalformedError for an invalid element size or a reserved spacing value.
    """
    mode = MODES[control >> 6]
    code = control & 0x0F
    if code not in ELEMENT_SIZES:
        raise MalformedError(f"compact profile element data field 0x{code:X} is not a fixed size")
    unit = UNITS[(control >> 4) & 0x03]
    if spacing == 0:
        return mode, code, None, 0
    if spacing <= 250:
        return mode, code, unit, spacing
    if spacing == 253 and unit == "d":
        return mode, code, "half_month", 1
    if spacing == 254 and unit in _SPACING_254:
        step_unit, count = _SPACING_254[unit]
        return mode, code, step_unit, count
    raise MalformedError(f"compact profile spacing value {spacing} is reserved for unit {unit}")


def describe_control(control: int, spacing: int) -> str:
    """One line for ``decode --explain``: the control and spacing bytes in words."""
    mode = MODES[control >> 6]
    size = ELEMENT_SIZES.get(control & 0x0F)
    element = f"{size[0]}-byte {CODING_NAMES[size[1]]}" if size else f"invalid size 0x{control & 0x0F:X}"
    unit = _UNIT_NAMES[(control >> 4) & 0x03]
    try:
        _, _, step_unit, count = decode_control(control, spacing)
    except MalformedError:
        return f"control 0x{control:02X}: {mode}, unit {unit}, elements {element}; spacing {spacing} reserved"
    step = "no time spacing" if step_unit is None else f"every {iso_duration(step_unit, count)}"
    return f"control 0x{control:02X}: {mode}, unit {unit}, elements {element}; spacing {spacing} = {step}"


def _element(chunk: bytes, coding: str, signed: bool) -> int | float | None:
    """One element's raw value; None for the illegal code (Annex F.2.5) or an invalid element."""
    if coding == "int":
        value = int.from_bytes(chunk, "little", signed=signed)
        bits = 8 * len(chunk)
        illegal = -(1 << (bits - 1)) if signed else (1 << bits) - 1
        return None if value == illegal else value
    number: int | float | None = decode_bcd(chunk) if coding == "bcd" else decode_float32(chunk)
    if number is None or (not signed and number < 0):
        return None
    return number


def parse_profile(kind: ProfileKind, data: bytes) -> Profile:
    """Read a profile's data bytes (after the LVAR byte): control, spacing, elements."""
    if len(data) < 2:
        raise LengthError("a compact profile needs its spacing control and spacing value bytes")
    control, spacing = data[0], data[1]
    mode, code, step_unit, step_count = decode_control(control, spacing)
    size, coding = ELEMENT_SIZES[code]
    body = data[2:]
    if len(body) % size:
        raise LengthError(f"compact profile elements: {len(body)} bytes is no multiple of {size}")
    signed = mode in SIGNED_MODES
    elements: list[int | float] = []
    for offset in range(0, len(body), size):
        value = _element(body[offset : offset + size], coding, signed)
        if value is None:
            break
        elements.append(value)
    return Profile(
        kind, control, spacing, mode, code, step_unit, step_count, tuple(elements), len(body) // size
    )


# --------------------------------------------------------------------------- time arithmetic


def _month_end(year: int, month: int) -> int:
    return monthrange(year, month)[1]


def add_months(when: datetime, months: int) -> datetime:
    """``when`` shifted by whole months; the end of a month stays the end (05-31 → 04-30 → 02-29)."""
    index = when.year * 12 + when.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    last = _month_end(year, month)
    at_end = when.day == _month_end(when.year, when.month)
    return when.replace(year=year, month=month, day=last if at_end else min(when.day, last))


def _half_month_forward(when: datetime) -> datetime:
    """Half a month after ``when``: the 15th ↔ the end of the month; any other day ± 15 days."""
    last = _month_end(when.year, when.month)
    if when.day == 15:
        return when.replace(day=last)
    if when.day == last:
        return add_months(when.replace(day=15), 1)
    if when.day < 15:
        return when + timedelta(days=15)
    return add_months(when.replace(day=when.day - 15), 1)


def shift(base: datetime, unit: StepUnit, count: int, steps: int) -> datetime:
    """``base`` moved by ``steps`` (negative: back) spacings of ``count`` × ``unit``.

    Calendar steps are computed from the base, not step by step, so month ends stay month ends.
    The standard leaves the points of a half month open: here they are the 15th and the month end
    (a base on another day moves by 15 days within that grid's month).
    """
    if unit == "s":
        return base + timedelta(seconds=count * steps)
    if unit == "min":
        return base + timedelta(minutes=count * steps)
    if unit == "h":
        return base + timedelta(hours=count * steps)
    if unit == "d":
        return base + timedelta(days=count * steps)
    if unit == "month":
        return add_months(base, count * steps)
    months, half = divmod(steps, 2)
    moved = add_months(base, months)
    return _half_month_forward(moved) if half else moved


# --------------------------------------------------------------------------- resolution


def _vif_codes(vib: bytes) -> tuple[int, list[int]]:
    """Index of the first combinable VIFE in ``vib`` and the VIB's codes without E bits."""
    codes = [b & 0x7F for b in vib]
    if not vib:
        return 0, codes
    first = 1
    if vib[0] & 0x7F in (0x7B, 0x7D) and vib[0] & 0x80 and len(vib) > 1:
        first = 2
        if vib[0] & 0x7F == 0x7D and vib[1] & 0x7F == 0x7D and vib[1] & 0x80:
            first = 3
    return first, codes


def profile_vife(vib: bytes) -> tuple[int, ProfileKind] | None:
    """Position and kind of the compact-profile VIFE in a VIB (combinable VIFEs only)."""
    first, codes = _vif_codes(vib)
    index = first
    while index < len(codes):
        code = codes[index]
        if code == 0x7C:
            index += 2  # an orthogonal code follows
            continue
        if code == 0x7F:
            return None  # manufacturer-specific VIFEs follow
        kind = PROFILE_VIFES.get(code)
        if kind is not None:
            return index, kind
        index += 1
    return None


def _vib_without(vib: bytes, index: int) -> bytes:
    """``vib`` without the byte at ``index``, E bits set again on all but the last byte."""
    codes = [b & 0x7F for i, b in enumerate(vib) if i != index]
    if vib[0] in (0xFB, 0xFD) and codes:
        codes[0] = vib[0] & 0x7F  # FB/FD keep their E bit (the table code follows)
    return bytes(c | (0x80 if i < len(codes) - 1 else 0) for i, c in enumerate(codes))


def _plain_codes(vib: bytes) -> tuple[int, ...]:
    return tuple(b & 0x7F for b in vib)


def _base_time(profile: Record, records: list[Record]) -> tuple[datetime, bool] | None:
    """The base time (and whether it is a date only) from the date/time records of the same
    storage, tariff and subunit: type F or I, or type G (+ type J when both are sent)."""
    day: str | None = None
    clock: str | None = None
    for rec in records:
        if (
            rec.quantity not in ("date", "date_time")
            or rec.modifiers
            or rec.storage != profile.storage
            or rec.tariff != profile.tariff
            or rec.subunit != profile.subunit
            or not isinstance(rec.value, str)
            or not rec.value
        ):
            continue
        text = rec.value
        if "T" in text and len(text) >= 16:
            try:
                return datetime.fromisoformat(text), False
            except ValueError:
                continue
        if len(text) == 10 and day is None:
            day = text
        elif len(text) == 8 and text[2] == ":" and clock is None:
            clock = text
    if day is None:
        return None
    try:
        if clock is not None:
            return datetime.fromisoformat(f"{day}T{clock}"), False
        return datetime.combine(date.fromisoformat(day), datetime.min.time()), True
    except ValueError:
        return None


def _scaler(vib: bytes) -> tuple[str, str | None, int | float, int, int | float]:
    """Quantity, unit, multiplier, divisor and offset of a VIB (like ``apl.make_header``)."""
    info = resolve(vib)
    if info.exponent >= 0:
        return info.quantity, info.unit, info.factor * 10**info.exponent, 1, info.offset
    return info.quantity, info.unit, info.factor, 10**-info.exponent, info.offset


def _unscale(value: int | float, mul: int | float, div: int, offset: int | float) -> int | float:
    """The raw number behind a scaled record value; an integer when it is one (BCD, int data)."""
    raw = (value - offset) * div / mul
    nearest = round(raw)
    if abs(raw - nearest) <= 1e-9 * max(1.0, abs(raw)):
        return nearest
    return raw


def _series(record: Record, records: list[Record]) -> Series | None:
    """The series of one profile record, or None when ``record`` is not a profile record."""
    found = profile_vife(record.vib)
    if found is None:
        return None
    index, kind = found
    stripped = _vib_without(record.vib, index)
    try:
        quantity, unit, mul, div, offset = _scaler(stripped)
    except OmsError:
        quantity, unit, mul, div, offset = record.quantity, None, 1, 1, 0

    def scale(raw: int | float) -> int | float:
        value = raw * mul if div == 1 else raw * mul / div
        return value + offset if offset else value

    def unresolved(reason: Literal["malformed"], detail: str) -> Series:
        return Series(kind, "absolute", None, quantity, unit, None, (), reason, detail)

    if record.dib[0] & 0x0F != 0x0D or not isinstance(record.value, bytes):
        return unresolved("malformed", "a compact profile needs DIF data field D (variable length)")
    try:
        profile = parse_profile(kind, record.value)
    except OmsError as err:
        return unresolved("malformed", err.message)

    # Base value: same storage, tariff, subunit, function and VIB minus the profile VIFE.
    codes = _plain_codes(stripped)
    base_raw: int | float | None = None
    for rec in records:
        if (
            rec is not record
            and rec.storage == record.storage
            and rec.tariff == record.tariff
            and rec.subunit == record.subunit
            and rec.function == record.function
            and isinstance(rec.value, int | float)
            and _plain_codes(rec.vib) == codes
        ):
            base_raw = _unscale(rec.value, mul, div, offset)
            break
    base_time = _base_time(record, records)

    reason: Literal["no_base_time", "no_base_value"] | None = None
    detail = ""
    values: list[int | float | None]
    mode = profile.mode
    if mode == "absolute":
        values = list(profile.elements)
    elif base_raw is None:
        values = [None] * len(profile.elements)
        if values:
            reason, detail = (
                "no_base_value",
                f"{mode}s need the base value (its VIF without the profile VIFE)",
            )
    else:
        values = []
        running = base_raw
        # forward/register: younger = older + increment / − decrement / + difference;
        # inverse: older = younger − increment / + decrement / − difference.
        sign = {"increment": 1, "decrement": -1, "difference": 1}[mode]
        if kind == "inverse":
            sign = -sign
        for element in profile.elements:
            running = running + sign * element
            values.append(running)

    times: list[str | None]
    date_only = base_time is not None and base_time[1] and profile.step_unit in ("d", "month", "half_month")

    def iso(when: datetime) -> str:
        return when.date().isoformat() if date_only else when.isoformat()

    if profile.step_unit is None:
        times = [None] * len(values)
    elif base_time is None:
        times = [None] * len(values)
        if reason is None and values:
            reason, detail = "no_base_time", "no date/time record with the profile's storage, tariff, subunit"
    else:
        direction = -1 if kind == "inverse" else 1
        times = [
            iso(shift(base_time[0], profile.step_unit, profile.step_count, direction * (i + 1)))
            for i in range(len(values))
        ]
    storages: list[int | None] = (
        [record.storage + 1 + i for i in range(len(values))] if kind == "register" else [None] * len(values)
    )
    points = tuple(
        SeriesPoint(when, None if raw is None else scale(raw), storage)
        for when, raw, storage in zip(times, values, storages, strict=True)
    )
    base: SeriesPoint | None = None
    if base_raw is not None or base_time is not None:
        base = SeriesPoint(
            None if base_time is None else iso(base_time[0]),
            None if base_raw is None else scale(base_raw),
            record.storage if kind == "register" else None,
        )
    return Series(kind, mode, profile.step, quantity, unit, base, points, reason, detail)


def resolve_profiles(records: list[Record]) -> None:
    """Replace each compact-profile record in ``records`` by a copy carrying its :class:`Series`.

    Records are shared between telegrams (``apl`` caches them by their bytes) while a series depends
    on the other records of its telegram, so the copy is made here, after the parse.
    """
    for position, record in enumerate(records):
        if record.series is None and PROFILE_MODIFIERS.intersection(record.modifiers):
            series = _series(record, records)
            if series is not None:
                records[position] = replace(record, series=series)
