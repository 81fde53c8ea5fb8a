"""Value information block (VIF/VIFE) tables and resolution, EN 13757-3 §6.4 and Annex B/C.

Tables are data, built once at import: primary VIF (Table 10), FD extension (Table 14), FB
extension (Table 12), combinable VIFE (Table 15) and the orthogonal FC table (OMS Vol2 Annex B).
Units are Home Assistant symbols; families are rescaled so one unit serves each quantity
(Wh → kWh, J → MJ, W → kW, J/h → MJ/h, m³/min and m³/s → m³/h).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .errors import LengthError, MalformedError

Kind = Literal["number", "unsigned", "datetime", "bytes"]
"""How a VIF wants its data read: scaled number, unsigned bit field, date/time point, raw bytes."""

MAX_VIFE = 10
"""EN 13757-3 §6.4.1: at most 10 VIFEs."""


@dataclass(frozen=True, slots=True)
class VifInfo:
    """What one table entry means. ``exponent`` is decimal and already in ``unit``."""

    quantity: str
    unit: str | None = None
    exponent: int = 0
    kind: Kind = "number"
    factor: int | float = 1
    """Non-decimal conversion (60 for m³/min → m³/h, 2⁻¹² for HCA rating factors)."""
    unit_shift: int = 0
    """Decimal shift from the standard's unit to ``unit`` (−3 for Wh → kWh); scales additive VIFEs."""


@dataclass(frozen=True, slots=True)
class Vib:
    """A fully resolved VIB: base entry plus the effect of every VIFE."""

    quantity: str
    unit: str | None
    exponent: int
    kind: Kind
    factor: int | float
    offset: int | float
    """Additive correction (VIFE 78–7B) in ``unit``, applied after scaling."""
    modifiers: tuple[str, ...]


_TIME_UNITS = ("s", "min", "h", "d")
_BIG_TIME_UNITS = ("h", "d", "m", "y")  # Home Assistant: "m" months, "y" years

# ---------------------------------------------------------------------------------------------
# Primary VIF table, EN 13757-3 Table 10 (key: VIF & 0x7F).


def _primary() -> dict[int, VifInfo]:
    t: dict[int, VifInfo] = {}
    for n in range(8):
        t[0x00 + n] = VifInfo("energy", "kWh", n - 6, unit_shift=-3)
        t[0x08 + n] = VifInfo("energy", "MJ", n - 6, unit_shift=-6)
        t[0x10 + n] = VifInfo("volume", "m³", n - 6)
        t[0x18 + n] = VifInfo("mass", "kg", n - 3)
        t[0x28 + n] = VifInfo("power", "kW", n - 6, unit_shift=-3)
        t[0x30 + n] = VifInfo("power", "MJ/h", n - 6, unit_shift=-6)
        t[0x38 + n] = VifInfo("volume_flow", "m³/h", n - 6)
        t[0x40 + n] = VifInfo("volume_flow", "m³/h", n - 7, factor=60)
        t[0x48 + n] = VifInfo("volume_flow", "m³/h", n - 9, factor=3600)
        t[0x50 + n] = VifInfo("mass_flow", "kg/h", n - 3)
    for n in range(4):
        t[0x20 + n] = VifInfo("on_time", _TIME_UNITS[n])
        t[0x24 + n] = VifInfo("operating_time", _TIME_UNITS[n])
        t[0x58 + n] = VifInfo("flow_temperature", "°C", n - 3)
        t[0x5C + n] = VifInfo("return_temperature", "°C", n - 3)
        t[0x60 + n] = VifInfo("temperature_difference", "K", n - 3)
        t[0x64 + n] = VifInfo("external_temperature", "°C", n - 3)
        t[0x68 + n] = VifInfo("pressure", "bar", n - 3)
        t[0x70 + n] = VifInfo("averaging_duration", _TIME_UNITS[n])
        t[0x74 + n] = VifInfo("actuality_duration", _TIME_UNITS[n])
    t[0x6C] = VifInfo("date", kind="datetime")
    t[0x6D] = VifInfo("date_time", kind="datetime")
    t[0x6E] = VifInfo("hca_units")
    t[0x6F] = VifInfo("reserved")
    t[0x78] = VifInfo("fabrication_number")
    t[0x79] = VifInfo("enhanced_identification")
    t[0x7A] = VifInfo("bus_address")
    t[0x7E] = VifInfo("any")
    t[0x7F] = VifInfo("manufacturer_specific")
    return t


PRIMARY: dict[int, VifInfo] = _primary()

# ---------------------------------------------------------------------------------------------
# FD extension table, EN 13757-3 Table 14 (key: VIFE & 0x7F).

_FD_NAMES: dict[int, str] = {
    0x08: "access_number",
    0x09: "medium",
    0x0A: "manufacturer",
    0x0B: "parameter_set_id",
    0x0C: "model_version",
    0x0D: "hardware_version",
    0x0E: "firmware_version",
    0x0F: "software_version",
    0x10: "customer_location",
    0x11: "customer",
    0x12: "access_code_user",
    0x13: "access_code_operator",
    0x14: "access_code_system_operator",
    0x15: "access_code_developer",
    0x16: "password",
    0x19: "security_key",
    0x1C: "baud_rate",
    0x1D: "response_delay",
    0x1E: "retry",
    0x1F: "remote_control",
    0x20: "first_storage_number",
    0x21: "last_storage_number",
    0x22: "storage_block_size",
    0x23: "tariff_descriptor",
    0x2A: "operator_data",
    0x2B: "time_point_second",
    0x3A: "dimensionless",
    0x60: "reset_counter",
    0x61: "cumulation_counter",
    0x62: "control_signal",
    0x63: "day_of_week",
    0x64: "week_number",
    0x65: "day_change_time",
    0x66: "parameter_activation_state",
    0x67: "special_supplier_information",
    0x72: "daylight_saving",
    0x73: "listening_window",
    0x75: "meter_stop_count",
}


def _fd() -> dict[int, VifInfo]:
    t = {code: VifInfo(name) for code, name in _FD_NAMES.items()}
    for n in range(4):
        t[0x00 + n] = VifInfo("credit", None, n - 3)
        t[0x04 + n] = VifInfo("debit", None, n - 3)
        t[0x24 + n] = VifInfo("storage_interval", _TIME_UNITS[n])
        t[0x2C + n] = VifInfo("duration_since_readout", _TIME_UNITS[n])
        t[0x34 + n] = VifInfo("tariff_period", _TIME_UNITS[n])
        t[0x3C + n] = VifInfo("transmission_period", _TIME_UNITS[n])
        t[0x68 + n] = VifInfo("duration_since_cumulation", _BIG_TIME_UNITS[n])
        t[0x6C + n] = VifInfo("operating_time_battery", _BIG_TIME_UNITS[n])
    for n in range(1, 4):
        t[0x30 + n] = VifInfo("tariff_duration", _TIME_UNITS[n])
    for n in range(16):
        t[0x40 + n] = VifInfo("voltage", "V", n - 9)
        t[0x50 + n] = VifInfo("current", "A", n - 12)
    # The access number counts 0–255 (OMS Vol2 §7.2.2, like the TPL's ACC): unsigned, so that
    # "01 FD 08 F0" is 240 and not -16.
    t[0x08] = VifInfo(_FD_NAMES[0x08], kind="unsigned")
    t[0x17] = VifInfo("error_flags", kind="unsigned")
    t[0x18] = VifInfo("error_mask", kind="unsigned")
    t[0x1A] = VifInfo("digital_output", kind="unsigned")
    t[0x1B] = VifInfo("digital_input", kind="unsigned")
    t[0x28] = VifInfo("storage_interval", "m")
    t[0x29] = VifInfo("storage_interval", "y")
    t[0x30] = VifInfo("tariff_start", kind="datetime")
    t[0x38] = VifInfo("tariff_period", "m")
    t[0x39] = VifInfo("tariff_period", "y")
    t[0x3B] = VifInfo("data_container", kind="bytes")
    t[0x70] = VifInfo("date_time_battery_change", kind="datetime")
    t[0x71] = VifInfo("rf_level", "dBm")
    t[0x74] = VifInfo("remaining_battery_life", "d")
    t[0x76] = VifInfo("manufacturer_data_container", kind="bytes")
    return t


FD: dict[int, VifInfo] = _fd()

FD_SECOND: dict[int, VifInfo] = {n: VifInfo("remaining_battery_life", _BIG_TIME_UNITS[n]) for n in range(4)}
"""Second-level extension ``FD FD xx`` (EN 13757-3:2018; jMBus: FD FD 02 = battery life in months)."""

# ---------------------------------------------------------------------------------------------
# FB extension table, EN 13757-3 Table 12 (key: VIFE & 0x7F).


def _fb() -> dict[int, VifInfo]:
    t: dict[int, VifInfo] = {}
    for n in range(2):
        t[0x00 + n] = VifInfo("energy", "kWh", n + 2, unit_shift=3)
        t[0x02 + n] = VifInfo("reactive_energy", "kvarh", n)
        t[0x04 + n] = VifInfo("apparent_energy", "kVAh", n)
        t[0x08 + n] = VifInfo("energy", "MJ", n + 2, unit_shift=3)
        t[0x10 + n] = VifInfo("volume", "m³", n + 2)
        t[0x18 + n] = VifInfo("mass", "kg", n + 5, unit_shift=3)
        t[0x1A + n] = VifInfo("relative_humidity", "%", n - 1)
        t[0x28 + n] = VifInfo("power", "kW", n + 2, unit_shift=3)
        t[0x30 + n] = VifInfo("power", "MJ/h", n + 2, unit_shift=3)
    for n in range(4):
        t[0x0C + n] = VifInfo("energy", "Mcal", n - 1)
        t[0x14 + n] = VifInfo("reactive_power", "kvar", n - 3)
        t[0x2C + n] = VifInfo("frequency", "Hz", n - 3)
        t[0x34 + n] = VifInfo("apparent_power", "kVA", n - 3)
        t[0x58 + n] = VifInfo("flow_temperature", "°F", n - 3)
        t[0x5C + n] = VifInfo("return_temperature", "°F", n - 3)
        t[0x60 + n] = VifInfo("temperature_difference", "°F", n - 3)
        t[0x64 + n] = VifInfo("external_temperature", "°F", n - 3)
        t[0x70 + n] = VifInfo("temperature_limit", "°F", n - 3)
        t[0x74 + n] = VifInfo("temperature_limit", "°C", n - 3)
    for n in range(8):
        t[0x78 + n] = VifInfo("cumulative_max_power", "kW", n - 6, unit_shift=-3)
    t[0x20] = VifInfo("volume", "ft³")
    t[0x21] = VifInfo("volume", "ft³", -1)
    t[0x22] = VifInfo("volume", "gal", -1)
    t[0x23] = VifInfo("volume", "gal")
    t[0x24] = VifInfo("volume_flow", "gal/min", -3)
    t[0x25] = VifInfo("volume_flow", "gal/min")
    t[0x26] = VifInfo("volume_flow", "gal/h")
    t[0x2A] = VifInfo("phase_u_u", "°", -1)
    t[0x2B] = VifInfo("phase_u_i", "°", -1)
    t[0x68] = VifInfo("hca_rating_factor_k", factor=2**-12)
    t[0x69] = VifInfo("hca_thermal_output_factor", factor=2**-12)
    return t


FB: dict[int, VifInfo] = _fb()

UNKNOWN = VifInfo("unknown")
MANUFACTURER = PRIMARY[0x7F]
PLAIN_TEXT = "plain_text_unit"

# ---------------------------------------------------------------------------------------------
# Combinable VIFE table, EN 13757-3 Table 15 (key: VIFE & 0x7F). An entry is
# (modifiers, unit override): override None keeps the VIF's unit and exponent; otherwise the
# value stops being the VIF's quantity (a duration, a date, a count) and takes that unit/kind.

_Override = tuple[str | None, Kind] | None
_UNITLESS: _Override = (None, "number")
_DATE: _Override = (None, "datetime")

_VIFE_NAMES: dict[int, str] = {
    0x12: "average",
    0x13: "inverse_compact_profile",
    0x14: "relative_deviation",
    0x1D: "standard_conform",
    0x1E: "compact_profile_with_register",
    0x1F: "compact_profile",
    0x20: "per_second",
    0x21: "per_minute",
    0x22: "per_hour",
    0x23: "per_day",
    0x24: "per_week",
    0x25: "per_month",
    0x26: "per_year",
    0x27: "per_revolution",
    0x28: "per_input_pulse_0",
    0x29: "per_input_pulse_1",
    0x2A: "per_output_pulse_0",
    0x2B: "per_output_pulse_1",
    0x2C: "per_litre",
    0x2D: "per_m3",
    0x2E: "per_kg",
    0x2F: "per_kelvin",
    0x30: "per_kwh",
    0x31: "per_gj",
    0x32: "per_kw",
    0x33: "per_kelvin_litre",
    0x34: "per_volt",
    0x35: "per_ampere",
    0x36: "times_second",
    0x37: "times_second_per_volt",
    0x38: "times_second_per_ampere",
    0x3A: "uncorrected",
    0x3B: "forward_flow",
    0x3C: "backward_flow",
    0x3D: "non_metric",
    0x3E: "at_base_conditions",
    0x3F: "obis_declaration",
    0x40: "limit_lower",
    0x48: "limit_upper",
    0x68: "during_limit_lower_exceed",
    0x69: "leakage",
    0x6C: "during_limit_upper_exceed",
    0x6D: "overflow",
    0x7E: "future_value",
}


def _vife() -> dict[int, tuple[tuple[str, ...], _Override]]:
    t: dict[int, tuple[tuple[str, ...], _Override]] = {
        code: ((name,), None) for code, name in _VIFE_NAMES.items()
    }
    for code in (*range(0x01, 0x10), *range(0x15, 0x1D)):
        t[code] = ((f"record_error_{code}",), None)
    t[0x00] = ((), None)  # record error "none"
    for code in (0x13, 0x1E, 0x1F):  # compact profiles: keep the raw profile bytes
        t[code] = ((_VIFE_NAMES[code],), (None, "bytes"))
    t[0x39] = (("start_date_time",), _DATE)
    t[0x41] = (("limit_lower", "limit_exceed_count"), _UNITLESS)
    t[0x49] = (("limit_upper", "limit_exceed_count"), _UNITLESS)
    for code in (0x42, 0x43, 0x46, 0x47, 0x4A, 0x4B, 0x4E, 0x4F):
        limit = "limit_upper" if code & 0x08 else "limit_lower"
        which = "last" if code & 0x04 else "first"
        edge = "end" if code & 0x01 else "begin"
        t[code] = ((limit, f"date_{which}_{edge}_limit_exceed"), _DATE)
    for code in range(0x50, 0x60):
        limit = "limit_upper" if code & 0x08 else "limit_lower"
        which = "last" if code & 0x04 else "first"
        t[code] = ((limit, f"duration_limit_exceed_{which}"), (_TIME_UNITS[code & 3], "number"))
    for code in range(0x60, 0x68):
        which = "last" if code & 0x04 else "first"
        t[code] = ((f"duration_{which}",), (_TIME_UNITS[code & 3], "number"))
    for code in (0x6A, 0x6B, 0x6E, 0x6F):
        which = "last" if code & 0x04 else "first"
        edge = "end" if code & 0x01 else "begin"
        t[code] = ((f"date_{which}_{edge}",), _DATE)
    return t


VIFE: dict[int, tuple[tuple[str, ...], _Override]] = _vife()

ORTHOGONAL: dict[int, str] = {
    0x01: "phase_l1",
    0x02: "phase_l2",
    0x03: "phase_l3",
    0x04: "phase_n",
    0x05: "phase_l1_l2",
    0x06: "phase_l2_l3",
    0x07: "phase_l3_l1",
    0x0C: "delta",
    0x10: "absolute",
}
"""Orthogonal VIFE codes after VIFE 7C/FC (OMS Vol2 Annex B)."""

# ---------------------------------------------------------------------------------------------


def _base(vib: bytes | memoryview, start: int) -> tuple[VifInfo, int]:
    """Table entry for the VIF at ``vib[start]`` and the index of the first combinable VIFE."""
    vif = vib[start]
    code = vif & 0x7F
    if code in (0x7B, 0x7D) and vif & 0x80:
        if start + 1 >= len(vib):
            raise LengthError("VIF extension byte missing")
        ext = vib[start + 1] & 0x7F
        if code == 0x7B:
            return FB.get(ext, UNKNOWN), start + 2
        if ext == 0x7D and vib[start + 1] & 0x80:
            if start + 2 >= len(vib):
                raise LengthError("second-level VIF extension byte missing")
            return FD_SECOND.get(vib[start + 2] & 0x7F, UNKNOWN), start + 3
        return FD.get(ext, UNKNOWN), start + 2
    return PRIMARY.get(code, UNKNOWN), start + 1


def resolve(vib: bytes | memoryview, text_unit: str | None = None, vifes: bytes | None = None) -> Vib:
    """Resolve a VIB (VIF plus VIFEs, E bits intact).

    For a plain-text VIF (7C/FC) pass the decoded ``text_unit`` and the VIFE bytes in ``vifes``
    (``vib`` then holds just the VIF); the unit becomes the text.
    """
    if text_unit is not None:
        info = VifInfo(PLAIN_TEXT, text_unit)
        chain: bytes | memoryview = vifes or b""
        index = 0
    else:
        if not vib:
            raise LengthError("empty VIB")
        info, index = _base(vib, 0)
        chain = vib
        if info is MANUFACTURER:
            return Vib(info.quantity, None, 0, "number", 1, 0, ())
    unit = info.unit
    exponent = info.exponent
    kind = info.kind
    factor = info.factor
    offset: int | float = 0
    modifiers: list[str] = []
    orthogonal_next = False
    end = len(chain)
    while index < end:
        code = chain[index] & 0x7F
        index += 1
        if orthogonal_next:
            modifiers.append(ORTHOGONAL.get(code, f"orthogonal_{code:02x}"))
            orthogonal_next = False
        elif code == 0x7C:
            orthogonal_next = True
        elif code == 0x7F:
            # A manufacturer-specific VIFE changes the record's meaning (EN 13757-3 Table 15): it is
            # no longer the base quantity (Kamstrup's "04 EE FF 07" is a counter, not HCA units): it is
            # not named (nor becomes a sensor) as that quantity; the base's scaling and unit are kept
            # as the best reading of the number, the base quantity as a modifier.
            extra = ("manufacturer_vife", f"base_{info.quantity}")
            return Vib(MANUFACTURER.quantity, unit, exponent, kind, factor, offset, (*modifiers, *extra))
        elif code >= 0x70 and code <= 0x77:
            exponent += (code & 0x07) - 6
        elif code == 0x7D:
            exponent += 3
        elif code >= 0x78 and code <= 0x7B:
            shift = (code & 0x03) - 3 + info.unit_shift
            offset = factor * (10**shift if shift >= 0 else 1 / 10**-shift)
        else:
            entry = VIFE.get(code)
            if entry is None:
                modifiers.append(f"vife_{code:02x}")
                continue
            names, override = entry
            modifiers.extend(names)
            if override is not None:
                unit, kind = override
                exponent, factor, offset = 0, 1, 0
    return Vib(info.quantity, unit, exponent, kind, factor, offset, tuple(modifiers))


def is_printable(text: bytes | memoryview) -> bool:
    """Plausible plain-text unit: ISO 8859-1 printable characters only."""
    return all(0x20 <= ch <= 0x7E or ch >= 0xA0 for ch in text)


def _chain_end(data: bytes | memoryview, pos: int, end: int) -> int:
    """End of a VIFE chain starting at ``pos`` (follows E bits); -1 if it runs past ``end``."""
    count = 0
    while pos < end:
        byte = data[pos]
        pos += 1
        count += 1
        if count > MAX_VIFE:
            return -1
        if not byte & 0x80:
            return pos
    return -1


def split_plain_text(
    data: bytes | memoryview, pos: int, end: int, data_size: int
) -> tuple[int, int, int, int, int]:
    """Locate the parts of a plain-text VIB whose VIF is at ``pos`` (EN 13757-3 Annex C.2).

    Returns (text_start, text_end, vife_start, vife_end, vib_end). Two byte orders exist:
    the standard's (VIF, VIFEs, LVAR, text) and libmbus/Elvaco's (VIF, LVAR, text, VIFEs).
    The order whose text is printable and leaves room for ``data_size`` data bytes wins
    (``data_size`` < 0: don't check); the standard's order on a tie.
    """
    vif = data[pos]
    if not vif & 0x80:
        text_start, text_end = _text_at(data, pos + 1, end)
        return text_start, text_end, text_end, text_end, text_end

    candidates: list[tuple[bool, tuple[int, int, int, int, int]]] = []
    # EN order: VIFEs first.
    chain = _chain_end(data, pos + 1, end)
    if chain >= 0 and chain < end:
        size = data[chain]
        if size <= 0xBF and chain + 1 + size <= end:
            parts = (chain + 1, chain + 1 + size, pos + 1, chain, chain + 1 + size)
            candidates.append((_plausible(data, parts, end, data_size), parts))
    # libmbus order: LVAR + text first.
    if pos + 1 < end:
        size = data[pos + 1]
        text_end = pos + 2 + size
        if size <= 0xBF and text_end <= end:
            chain = _chain_end(data, text_end, end)
            if chain >= 0:
                parts = (pos + 2, text_end, text_end, chain, chain)
                candidates.append((_plausible(data, parts, end, data_size), parts))
    for good, parts in candidates:
        if good:
            return parts
    if candidates:
        return candidates[0][1]
    raise LengthError("plain-text VIB runs past the end of the data")


def _text_at(data: bytes | memoryview, pos: int, end: int) -> tuple[int, int]:
    if pos >= end:
        raise LengthError("plain-text VIF without its LVAR byte")
    size = data[pos]
    if size > 0xBF:
        raise MalformedError(f"plain-text VIF with LVAR 0x{size:02X}")
    if pos + 1 + size > end:
        raise LengthError("plain-text unit runs past the end of the data")
    return pos + 1, pos + 1 + size


def _plausible(data: bytes | memoryview, parts: tuple[int, int, int, int, int], end: int, size: int) -> bool:
    text_start, text_end, _, _, vib_end = parts
    if text_end == text_start or not is_printable(data[text_start:text_end]):
        return False
    return size < 0 or vib_end + size <= end
