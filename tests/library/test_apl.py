"""Application layer records, EN 13757-3 §6."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given, settings, strategies as st
import pytest

from custom_components.oms.omslib.apl import Apl, parse_apl, read_header
from custom_components.oms.omslib.crc import crc16
from custom_components.oms.omslib.errors import LengthError, MalformedError, OmsError
from custom_components.oms.omslib.explain import apl_lines, format_lines
from custom_components.oms.omslib.record import Record

from ._oms_vectors import by_id, scoped


def _one(hex_: str) -> Record:
    apl = parse_apl(bytes.fromhex(hex_))
    assert len(apl.records) == 1
    return apl.records[0]


# --- worked examples (OMS Vol2 Annex B via jMBus, EN 13757-3, libmbus, pyMeterBus) -----------


def test_en13757_3_g52_full_frame() -> None:
    apl = parse_apl(bytes.fromhex("0202D20402152E16022A3423"))
    got = [(r.quantity, r.value, r.unit) for r in apl.records]
    assert got == [("energy", 0.1234, "kWh"), ("volume", 567.8, "m³"), ("power", 0.9012, "kW")]
    assert apl.signature == 0x3B31
    assert apl.signature == crc16(bytes.fromhex("020202150 22A".replace(" ", "")))
    assert (apl.more_records_follow, apl.manufacturer_data) == (False, b"")


@pytest.mark.parametrize(
    ("hex_", "quantity", "value", "unit", "modifiers"),
    [
        ("0C907D01000000", "volume", 0.001, "m³", ()),
        ("0CE87301000000", "pressure", 1e-6, "bar", ()),
        ("0CFDD0FC0101000000", "current", 1e-12, "A", ("phase_l1",)),
        ("0C883C01000000", "energy", 1e-6, "MJ", ("backward_flow",)),
        ("0CFB80FDFC1001000000", "energy", 100000, "kWh", ("absolute",)),
        ("02FC0348522574D411", "plain_text_unit", 45.64, "%RH", ()),  # Elvaco CMa10 (libmbus order)
        ("0B6118 00F0", "temperature_difference", -0.18, "K", ()),  # libmbus SLB CF Compact: negative BCD
        ("0C1329730600", "volume", 67.329, "m³", ()),
        ("0413E4050000", "volume", 1.508, "m³", ()),
        ("02430A00", "volume_flow", 0.06, "m³/h", ()),  # 10 × 10^-4 m³/min = 0.06 m³/h
        ("02FD1701 80", "error_flags", 0x8001, None, ()),  # bit field: unsigned
        ("02FD71C4FF", "rf_level", -60, "dBm", ()),
        ("01FF2100", "manufacturer_specific", 0, None, ()),
    ],
)
def test_worked_examples(
    hex_: str, quantity: str, value: object, unit: str | None, modifiers: tuple[str, ...]
) -> None:
    record = _one(hex_.replace(" ", ""))
    assert (record.quantity, record.unit, record.modifiers) == (quantity, unit, modifiers)
    if isinstance(value, float):
        assert record.value == pytest.approx(value)
    else:
        assert record.value == value
        assert type(record.value) is type(value)


def test_real32_per_second_flow_is_converted() -> None:
    # VIF 4A: m³/s × 10^(2-9); 1.5 m³/s × 10^-7 = 1.5e-7 m³/s = 5.4e-4 m³/h
    assert _one("054A0000C03F").value == pytest.approx(1.5e-7 * 3600)


def test_dife_chain_pymeterbus() -> None:
    # pyMeterBus: DIB DA FF…7F -> device 1023, tariff 1048575, storage 2199023255551
    record = _one("DA" + "FF" * 9 + "7F" + "13" + "3412")
    assert (record.subunit, record.tariff, record.storage) == (1023, 1048575, 2199023255551)
    assert record.function == "maximum"
    assert record.value == pytest.approx(1.234)


def test_too_many_difes() -> None:
    with pytest.raises(MalformedError):
        parse_apl(bytes.fromhex("8A" + "80" * 10 + "00" + "13" + "3412"))


def test_too_many_vifes() -> None:
    with pytest.raises(MalformedError):
        parse_apl(bytes.fromhex("02" + "93" + "92" * 10 + "12" + "3412"))


def test_storage_tariff_subunit_function() -> None:
    apl = parse_apl(bytes.fromhex("426CBF2C841013 010000009420 13 02000000E440 13 03000000".replace(" ", "")))
    got = [(r.storage, r.tariff, r.subunit, r.function) for r in apl.records]
    assert got == [
        (1, 0, 0, "instantaneous"),
        (0, 1, 0, "instantaneous"),
        (0, 2, 0, "maximum"),
        (1, 0, 1, "minimum"),
    ]
    assert apl.records[0].value == "2021-12-31"


def test_function_error_value() -> None:
    assert _one("3426 00000000".replace(" ", "")).function == "error"


def test_dates_and_times() -> None:
    apl = parse_apl(bytes.fromhex("046D32371F15026C9421066D221AE0100100036D0C3217046DFFFFFFFF"))
    assert [r.value for r in apl.records] == [
        "2008-05-31T23:50:00",
        "2020-01-20",
        "2000-01-16T00:26:34",
        "23:50:12",
        None,
    ]
    assert [r.quantity for r in apl.records] == ["date_time", "date", "date_time", "date_time", "date_time"]


@pytest.mark.parametrize(
    ("hex_", "value"),
    [
        ("0DFD0C 03 434241", "ABC"),  # text, last character first
        ("0D13 C2 3412", 1.234),  # +BCD
        ("0D13 D2 3412", -1.234),  # -BCD
        ("0D13 C1 4A", None),  # invalid BCD
        ("0D7F E3 010203", b"\x01\x02\x03"),  # binary
        ("0DFD3B C5" + "AA" * 0xC5, b"\xaa" * 0xC5),  # wM-Bus container: LVAR is a byte count
        ("04FD3B 01020304", b"\x01\x02\x03\x04"),
        ("0D93 13 02 ABCD", b"\xab\xcd"),  # inverse compact profile: raw bytes
    ],
)
def test_lvar_and_bytes(hex_: str, value: object) -> None:
    got = _one(hex_.replace(" ", "")).value
    assert got == (pytest.approx(value) if isinstance(value, float) else value)


def test_lvar_reserved() -> None:
    with pytest.raises(MalformedError):
        parse_apl(bytes.fromhex("0D13F7"))


def test_special_difs() -> None:
    apl = parse_apl(bytes.fromhex("2F2F 0213 0100 2F 7F 0213 0200 0F 0102 03".replace(" ", "")))
    assert [r.value for r in apl.records] == [0.001, 0.002]
    assert (apl.manufacturer_data, apl.more_records_follow) == (b"\x01\x02\x03", False)
    more = parse_apl(bytes.fromhex("02130100 1F".replace(" ", "")))
    assert (more.manufacturer_data, more.more_records_follow) == (b"", True)
    assert parse_apl(b"\x2f\x2f").records == ()


@pytest.mark.parametrize("dif", [0x3F, 0x4F, 0x5F, 0x6F, 0x8F])
def test_reserved_special_dif(dif: int) -> None:
    with pytest.raises(MalformedError):
        parse_apl(bytes([0x02, 0x13, 0x01, 0x00, dif]))


def test_trailing_ff_is_fill() -> None:
    # Some meters (Maddalena evo868) end the APL with FF bytes: fill, not data (issue 16).
    assert [r.value for r in parse_apl(bytes([0x02, 0x13, 0x01, 0x00, 0xFF, 0xFF])).records] == [0.001]
    with pytest.raises(MalformedError):
        parse_apl(bytes([0x02, 0x13, 0x01, 0x00, 0xFF, 0x01]))


def test_no_data_and_selection() -> None:
    apl = parse_apl(bytes.fromhex("0013 0813 0213 0500"))
    assert [r.value for r in apl.records] == [None, None, 0.005]


def test_truncation_raises_length_error() -> None:
    full = bytes.fromhex("0C1329730600 8C0413754406 00 0DFD0C03434241 046D32371F15".replace(" ", ""))
    assert len(parse_apl(full).records) == 4
    record_ends = {6, 13, 20, 26}
    for cut in range(1, len(full)):
        if cut in record_ends:
            assert len(parse_apl(full[:cut]).records) == sorted(record_ends).index(cut) + 1
        else:
            with pytest.raises(LengthError):
                parse_apl(full[:cut])


def test_accepts_memoryview_and_bytearray() -> None:
    data = bytes.fromhex("0C1329730600")
    assert parse_apl(memoryview(data)) == parse_apl(bytearray(data)) == parse_apl(data)


def test_repeated_records_are_reused_and_immutable() -> None:
    data = bytes.fromhex("0C1329730600")
    first, second = parse_apl(data).records[0], parse_apl(data).records[0]
    assert first is second
    with pytest.raises(AttributeError):
        first.value = 1  # type: ignore[misc]
    assert first == Record(b"\x0c", b"\x13", "volume", 67.329, "m³")


def test_signature_covers_all_headers() -> None:
    apl = parse_apl(bytes.fromhex("0C1329730600 2F 8C0413754406 00 02FD170000".replace(" ", "")))
    assert apl.signature == crc16(bytes.fromhex("0C13 8C0413 02FD17".replace(" ", "")))
    assert isinstance(apl, Apl)


# --- corpus: scoped vectors ------------------------------------------------------------------

_JMBUS_QUANTITY = {
    "ENERGY": "energy",
    "VOLUME": "volume",
    "ON_TIME": "on_time",
    "OPERATING_TIME": "operating_time",
    "FLOW_TEMPERATURE": "flow_temperature",
    "RETURN_TEMPERATURE": "return_temperature",
    "TEMPERATURE_DIFFERENCE": "temperature_difference",
    "CURRENT": "current",
    "VOLTAGE": "voltage",
    "POWER": "power",
    "MAX_POWER": "cumulative_max_power",
    "PRESSURE": "pressure",
    "VOLUME_FLOW": "volume_flow",
    "PHASE": "phase_u_u",
    "REMAINING_BATTERY_LIFE_TIME": "remaining_battery_life",
    "DATE_TIME": "date_time",
}
# jMBus unit -> (our unit, decimal shift from jMBus's unit to ours)
_JMBUS_UNIT: dict[str | None, tuple[str | None, int]] = {
    "WATT_HOUR": ("kWh", -3),
    "JOULE": ("MJ", -6),
    "CALORIFIC_VALUE": ("Mcal", -6),
    "WATT": ("kW", -3),
    "CUBIC_METRE": ("m³", 0),
    "CUBIC_FEET": ("ft³", 0),
    "US_GALLON": ("gal", 0),
    "CUBIC_METRE_PER_HOUR": ("m³/h", 0),
    "HOUR": ("h", 0),
    "MONTH": ("m", 0),
    "DEGREE_CELSIUS": ("°C", 0),
    "KELVIN": ("K", 0),
    "BAR": ("bar", 0),
    "AMPERE": ("A", 0),
    "VOLT": ("V", 0),
    "DEGREE": ("°", 0),
    None: (None, 0),
}
_JMBUS_EXTENSION = {
    "PHASE_L1": "phase_l1",
    "PHASE_L2": "phase_l2",
    "PHASE_L3": "phase_l3",
    "NEUTRAL_CONDUCTOR": "phase_n",
    "PHASE_L1_L2": "phase_l1_l2",
    "PHASE_L2_L3": "phase_l2_l3",
    "PHASE_L3_L1": "phase_l3_l1",
    "NEGATIVE_ACCUMULATION": "backward_flow",
    "POSITIVE_ACCUMULATION": "forward_flow",
    "ABSOLUTE": "absolute",
    "DELTA": "delta",
    "BASE_CONDITION": "at_base_conditions",
    "UNCORRECTED_UNIT": "uncorrected",
    "UPPER_LIMIT": "limit_upper",
    "LOWER_LIMIT": "limit_lower",
}


@pytest.mark.parametrize("vector", scoped("data_record"))
def test_corpus_data_record(vector: dict[str, Any]) -> None:
    data = bytes.fromhex(vector["frame_hex"])
    expected = vector["expected"]
    record = _one(vector["frame_hex"])
    if "description" not in expected:  # jMBus raw integer only
        raw = expected.get("data_value_long", expected.get("data_value"))
        header, _ = read_header(data, 0, len(data))
        assert record.value == pytest.approx(raw * header.mul / header.div, rel=1e-12)
        return
    if expected["description"] not in _JMBUS_QUANTITY:
        # exmbus record-error vector: FD 0E + VIFE 00 ("none"), LVAR text. exmbus does not reverse
        # LVAR text; libmbus and wmbusmeters do (ABB "B1.28.0"), so we expect the reversed string.
        assert record.quantity == "firmware_version"
        assert record.modifiers == ()
        assert record.value == expected["value"][::-1]
        return
    assert record.quantity == _JMBUS_QUANTITY[expected["description"]]
    if expected["description"] == "DATE_TIME":
        # jMBus gives epoch ms in Europe/Berlin; type I carries its 2001 year-base quirk.
        local = datetime.fromtimestamp(expected["data_value"] / 1000, ZoneInfo("Europe/Berlin"))
        if "quirk" in expected.get("note", ""):
            local = local.replace(year=local.year - 1)
        assert record.value == local.replace(tzinfo=None).isoformat()
        return
    unit, shift = _JMBUS_UNIT[expected["unit"]]
    assert record.unit == unit
    value = expected["data_value"] * 10.0 ** (expected["multiplier_exponent"] + shift)
    assert record.value == pytest.approx(value, rel=1e-12)
    extensions = tuple(_JMBUS_EXTENSION[e] for e in expected.get("description_extensions", ()))
    assert record.modifiers == extensions


@pytest.mark.parametrize("vector", scoped("apl"))
def test_corpus_apl(vector: dict[str, Any]) -> None:
    apl = parse_apl(bytes.fromhex(vector["frame_hex"]))
    first, second = vector["expected"]["records_first3"][:2]
    assert apl.records[0].dib.hex().upper() == first["dib"]
    assert (apl.records[0].quantity, apl.records[0].unit, apl.records[0].value) == (
        "plain_text_unit",
        first["unit"],
        first["value"],
    )
    assert (apl.records[1].quantity, apl.records[1].value) == (second["quantity"], second["value"])
    assert apl.records[1].vib.hex().upper() == second["vib"]
    assert [r.subunit for r in apl.records if r.quantity == "dimensionless"] == [0, 1, 2]


def test_corpus_zri_decrypted_payload() -> None:
    vector = by_id("zri-mode5-longhdr-2")
    apl = parse_apl(bytes.fromhex(vector["expected"]["decrypted_payload_hex"]))
    # The fifth expected record is expanded from the inverse compact profile; we keep its bytes.
    for got, want in zip(apl.records[:4], vector["expected"]["records_first5"][:4], strict=True):
        assert got.quantity == want["quantity"]
        assert got.storage == want.get("storage", got.storage)
        if "multiplier" in want:
            assert got.value == pytest.approx(want["value"] * want["multiplier"])
            assert got.unit == "m³"
        else:
            assert got.value == want["value"]
    assert apl.records[-1].quantity == "error_flags"
    assert apl.records[4].storage == 8  # DIF 8D (storage bit 0), DIFE 04
    assert apl.records[4].modifiers == ("inverse_compact_profile",)
    assert isinstance(apl.records[4].value, bytes)


def test_corpus_lvar_text_matches_wmbusmeters_convention() -> None:
    # wmbusmeters' ABB test decodes this FD 0E record as "B1.28.0".
    assert _one("0DFD8E0007302E38322E3142").value == "B1.28.0"


# --- explain ----------------------------------------------------------------------------------


def test_explain_groups_every_byte() -> None:
    data = bytes.fromhex("2F 8C0413754406 00 02FC03485225 74D411 0F AB".replace(" ", ""))
    lines = apl_lines(data)
    assert b"".join(chunk for _, chunk, _ in lines) == data
    assert [offset for offset, _, _ in lines] == [0, 1, 2, 3, 4, 8, 9, 15, 17, 18]
    assert "64.475 m³" in lines[4][2]
    assert "%RH" in lines[6][2]
    assert "manufacturer" in lines[-1][2]
    assert "idle filler" in format_lines(lines)


def test_explain_stops_at_the_failure() -> None:
    lines = apl_lines(bytes.fromhex("0213 0100 0C13 2973"))
    assert lines[-1][0] == 4
    assert lines[-1][2].startswith("error:")
    assert "0.001" in lines[2][2]


# --- fuzz -------------------------------------------------------------------------------------

_INTERESTING = st.sampled_from(
    (
        *(0x00, 0x02, 0x04, 0x0C, 0x0D, 0x0F, 0x1F, 0x2F, 0x3F, 0x7C, 0x7F, 0x80, 0x8C, 0xC0, 0xD2, 0xE3),
        *(0xF5, 0xFB, 0xFC, 0xFD, 0xFF, 0x3B, 0x76, 0x13, 0x6D, 0x6C, 0x05, 0x03, 0x07, 0x06, 0x4A, 0x74),
    )
)


def _check_total(data: bytes) -> None:
    try:
        apl = parse_apl(data)
    except OmsError:
        failed = True
    else:
        failed = False
        assert all(isinstance(r, Record) for r in apl.records)
        assert 0 <= apl.signature <= 0xFFFF
    lines = apl_lines(data)
    assert lines == [] or isinstance(lines[-1][2], str)
    if failed:
        assert lines
        assert lines[-1][2].startswith("error:")


@settings(max_examples=1500, deadline=None)
@given(st.binary(max_size=80))
def test_fuzz_arbitrary_bytes_only_oms_errors(data: bytes) -> None:
    _check_total(data)


@settings(max_examples=1500, deadline=None)
@given(st.lists(_INTERESTING, max_size=60).map(bytes))
def test_fuzz_structured_bytes_only_oms_errors(data: bytes) -> None:
    _check_total(data)
