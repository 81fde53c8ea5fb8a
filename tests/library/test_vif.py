"""VIF/VIFE tables and resolution, EN 13757-3 §6.4."""

from __future__ import annotations

import pytest

from custom_components.oms.omslib import vif
from custom_components.oms.omslib.errors import LengthError, MalformedError


def _r(hex_: str) -> vif.Vib:
    return vif.resolve(bytes.fromhex(hex_))


@pytest.mark.parametrize(
    ("hex_", "quantity", "unit", "exponent"),
    [
        ("00", "energy", "kWh", -6),
        ("07", "energy", "kWh", 1),
        ("0E", "energy", "MJ", 0),
        ("13", "volume", "m³", -3),
        ("1B", "mass", "kg", 0),
        ("22", "on_time", "h", 0),
        ("27", "operating_time", "d", 0),
        ("2B", "power", "kW", -3),
        ("33", "power", "MJ/h", -3),
        ("3B", "volume_flow", "m³/h", -3),
        ("53", "mass_flow", "kg/h", 0),
        ("5A", "flow_temperature", "°C", -1),
        ("5E", "return_temperature", "°C", -1),
        ("61", "temperature_difference", "K", -2),
        ("65", "external_temperature", "°C", -2),
        ("69", "pressure", "bar", -2),
        ("6E", "hca_units", None, 0),
        ("71", "averaging_duration", "min", 0),
        ("76", "actuality_duration", "h", 0),
        ("78", "fabrication_number", None, 0),
        ("79", "enhanced_identification", None, 0),
        ("7A", "bus_address", None, 0),
        ("FD17", "error_flags", None, 0),
        ("FD08", "access_number", None, 0),
        ("FD0E", "firmware_version", None, 0),
        ("FD3A", "dimensionless", None, 0),
        ("FD46", "voltage", "V", -3),
        ("FD5C", "current", "A", 0),
        ("FD60", "reset_counter", None, 0),
        ("FD71", "rf_level", "dBm", 0),
        ("FD74", "remaining_battery_life", "d", 0),
        ("FD6D", "operating_time_battery", "d", 0),
        ("FD26", "storage_interval", "h", 0),
        ("FDFD02", "remaining_battery_life", "m", 0),  # jMBus: FD FD 02 = months
        ("FB00", "energy", "kWh", 2),  # MWh 10^-1
        ("FB08", "energy", "MJ", 2),  # GJ 10^-1 = J 10^8
        ("FB0D", "energy", "Mcal", 0),
        ("FB11", "volume", "m³", 3),
        ("FB19", "mass", "kg", 6),
        ("FB1A", "relative_humidity", "%", -1),
        ("FB29", "power", "kW", 3),
        ("FB2A", "phase_u_u", "°", -1),
        ("FB2E", "frequency", "Hz", -1),
        ("FB31", "power", "MJ/h", 3),
        ("FB36", "apparent_power", "kVA", -1),
        ("FB76", "temperature_limit", "°C", -1),
        ("FB78", "cumulative_max_power", "kW", -6),
    ],
)
def test_table_entries(hex_: str, quantity: str, unit: str | None, exponent: int) -> None:
    got = _r(hex_)
    assert (got.quantity, got.unit, got.exponent) == (quantity, unit, exponent)


def test_kinds() -> None:
    assert _r("6C").kind == "datetime"
    assert _r("6D").kind == "datetime"
    assert _r("FD70").kind == "datetime"
    assert _r("FD17").kind == "unsigned"
    assert _r("FD3B").kind == "bytes"
    assert _r("FD76").kind == "bytes"
    assert _r("13").kind == "number"


def test_volume_flow_per_minute_and_second_convert_to_per_hour() -> None:
    per_minute = _r("47")  # m³/min × 10^0
    assert (per_minute.unit, per_minute.exponent, per_minute.factor) == ("m³/h", 0, 60)
    per_second = _r("4F")  # m³/s × 10^-2
    assert (per_second.unit, per_second.exponent, per_second.factor) == ("m³/h", -2, 3600)


def test_hca_rating_factor() -> None:
    assert _r("FB68").factor == 2**-12
    assert _r("FB68").quantity == "hca_rating_factor_k"


@pytest.mark.parametrize(
    ("hex_", "quantity", "exponent", "modifiers"),
    [
        ("907D", "volume", -3, ()),  # OMS Annex B: 0C 90 7D, exponent -3
        ("E873", "pressure", -6, ()),  # 0C E8 73
        ("FDD0FC01", "current", -12, ("phase_l1",)),  # 0C FD D0 FC 01
        ("FDC0FC03", "voltage", -9, ("phase_l3",)),
        ("FBAAFC05", "phase_u_u", -1, ("phase_l1_l2",)),
        ("A8FC0C", "power", -6, ("delta",)),
        ("80FC10", "energy", -6, ("absolute",)),
        ("FB80FDFC10", "energy", 5, ("absolute",)),
        ("903B", "volume", -6, ("forward_flow",)),
        ("90FD3C", "volume", -3, ("backward_flow",)),
        ("883C", "energy", -6, ("backward_flow",)),
        ("903A", "volume", -6, ("uncorrected",)),
        ("E83E", "pressure", -3, ("at_base_conditions",)),
        ("E848", "pressure", -3, ("limit_upper",)),
        ("E8C073", "pressure", -6, ("limit_lower",)),
        ("93A2", "volume", -3, ("per_hour",)),
        ("9312", "volume", -3, ("average",)),
        ("FD8E00", "firmware_version", 0, ()),  # record error "none"
        ("9318", "volume", -3, ("record_error_24",)),
        # a manufacturer-specific VIFE: no longer "volume" (issue 16), the base kept as a modifier
        ("93FF07", "manufacturer_specific", -3, ("manufacturer_vife", "base_volume")),
        ("937E", "volume", -3, ("future_value",)),
    ],
)
def test_combinable_vife(hex_: str, quantity: str, exponent: int, modifiers: tuple[str, ...]) -> None:
    got = _r(hex_)
    assert (got.quantity, got.exponent, got.modifiers) == (quantity, exponent, modifiers)


def test_vife_changing_what_the_value_is() -> None:
    duration = _r("AADA")  # power, duration of upper limit exceed, first, in hours
    assert (duration.quantity, duration.unit, duration.exponent) == ("power", "h", 0)
    assert duration.modifiers == ("limit_upper", "duration_limit_exceed_first")
    dated = _r("93EF")  # volume, date of last end
    assert (dated.kind, dated.unit) == ("datetime", None)
    profile = _r("9313")  # inverse compact profile: raw bytes
    assert profile.kind == "bytes"


def test_additive_correction_in_reported_unit() -> None:
    volume = _r("937B")  # m³ with +10^0 m³
    assert volume.offset == 1
    energy = _r("8679")  # Wh family reported in kWh: +10^-2 Wh = 10^-5 kWh
    assert energy.offset == pytest.approx(1e-5)
    assert _r("13").offset == 0


def test_manufacturer_vif_keeps_raw() -> None:
    got = _r("FF07")
    assert (got.quantity, got.unit, got.exponent, got.modifiers) == ("manufacturer_specific", None, 0, ())


def test_unknown_codes_do_not_fail() -> None:
    assert _r("FB7F").quantity == "cumulative_max_power"
    assert _r("FB06").quantity == "unknown"
    assert _r("FD7E").quantity == "unknown"
    assert _r("7B").quantity == "unknown"  # FB table without its extension byte
    assert _r("9355").modifiers == ("limit_lower", "duration_limit_exceed_last")


def test_extension_byte_missing() -> None:
    with pytest.raises(LengthError):
        vif.resolve(b"\xfd")
    with pytest.raises(LengthError):
        vif.resolve(b"\xfd\xfd")


@pytest.mark.parametrize(
    "hex_record",
    [
        # Elvaco CMa10 (libmbus order): 02 FC 03 48 52 25 74 D4 11 -> "%RH", VIFE 74 (x10^-2)
        pytest.param("02FC0348522574D411", id="libmbus-order"),
        # EN 13757-3 C.2: VIF FC, VIFE 74, then LVAR 03 "HR%", then int16 data
        pytest.param("02FC7403485225D411", id="standard-order"),
    ],
)
def test_plain_text_unit(hex_record: str) -> None:
    data = bytes.fromhex(hex_record)
    ts, te, vs, ve, end = vif.split_plain_text(data, 1, len(data), 2)
    assert data[ts:te] == b"HR%"
    assert data[vs:ve] == b"\x74"
    assert end == 7
    got = vif.resolve(data[1:2], "%RH", data[vs:ve])
    assert (got.quantity, got.unit, got.exponent) == ("plain_text_unit", "%RH", -2)


def test_plain_text_without_vife() -> None:
    data = bytes.fromhex("047C03335344A0810800")
    ts, te, vs, ve, end = vif.split_plain_text(data, 1, len(data), 4)
    assert (data[ts:te], vs == ve, end) == (b"3SD", True, 6)


def test_plain_text_errors() -> None:
    with pytest.raises(LengthError):
        vif.split_plain_text(bytes.fromhex("027C05414243"), 1, 6, 2)
    with pytest.raises(MalformedError):
        vif.split_plain_text(bytes.fromhex("027CC0"), 1, 3, 2)
    with pytest.raises(LengthError):
        vif.split_plain_text(bytes.fromhex("02FC"), 1, 2, 2)


def test_tables_are_built_once() -> None:
    assert vif.PRIMARY[0x13] is vif.PRIMARY[0x13]
    assert len(vif.PRIMARY) == 128 - 3  # 00..7F minus 7B/7C/7D (extensions and plain text)
    assert all(isinstance(v, vif.VifInfo) for v in (*vif.FD.values(), *vif.FB.values()))
