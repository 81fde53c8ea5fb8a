"""Data field codings, EN 13757-3 Annex A."""

from __future__ import annotations

import contextlib
from typing import Any

from hypothesis import given, strategies as st
import pytest

from custom_components.oms.omslib import datatypes as dt
from custom_components.oms.omslib.errors import LengthError, MalformedError, OmsError

from ._oms_vectors import scoped


@pytest.mark.parametrize(
    ("hex_", "signed", "expected"),
    [
        ("FF", True, -1),
        ("7F", True, 127),
        ("FEFF", True, -2),
        ("FEFF", False, 65534),
        ("E40500", True, 1508),
        ("FFFFFF", True, -1),
        ("000080", True, -(2**23)),
        ("E4050000", True, 1508),
        ("010000000080", True, -(2**47) + 1),
        ("1223344556677812", True, 1330927310113874706),
        ("FFFFFFFFFFFFFFFF", True, -1),
    ],
)
def test_int(hex_: str, signed: bool, expected: int) -> None:
    assert dt.decode_int(bytes.fromhex(hex_), signed) == expected


@pytest.mark.parametrize(
    ("hex_", "expected"),
    [
        ("44444444", 44444444),
        ("44444404", 4444444),
        ("444444F4", -4444444),
        ("4000F0", -40),
        ("12", 12),
        ("3412", 1234),
        ("785634123412", 123412345678),
        ("785634129078563412907856", 567890123456789012345678),
        ("4A", None),  # non-BCD low nibble
        ("A4", None),  # non-BCD high nibble, not the sign position of a longer value
        ("44F4FF", None),  # F elsewhere than the top nibble
        ("FFFF", None),
    ],
)
def test_bcd(hex_: str, expected: int | None) -> None:
    assert dt.decode_bcd(bytes.fromhex(hex_)) == expected


@pytest.mark.parametrize("vector", scoped("bcd_value"))
def test_bcd_corpus(vector: dict[str, Any]) -> None:
    assert dt.decode_bcd(bytes.fromhex(vector["frame_hex"])) == vector["expected"]["int_value"]


def test_float32() -> None:
    assert dt.decode_float32(bytes.fromhex("0000C03F")) == 1.5
    assert dt.decode_float32(bytes.fromhex("000080BF")) == -1.0
    assert dt.decode_float32(bytes.fromhex("0000C07F")) is None  # NaN
    assert dt.decode_float32(bytes.fromhex("0000807F")) is None  # +inf
    with pytest.raises(LengthError):
        dt.decode_float32(b"\x00")


def test_text_is_sent_last_character_first() -> None:
    # wmbusmeters' ABB test: 07 30 2E 38 32 2E 31 42 is firmware "B1.28.0"
    assert dt.decode_text(bytes.fromhex("302E38322E3142")) == "B1.28.0"
    assert dt.decode_text(b"HR%") == "%RH"
    assert dt.decode_text(b"\xb0") == "°"


@pytest.mark.parametrize(
    ("lvar", "kind", "size"),
    [
        (0x00, "text", 0),
        (0xBF, "text", 0xBF),
        (0xC0, "bcd", 0),
        (0xC9, "bcd", 9),
        (0xD3, "negative_bcd", 3),
        (0xE0, "binary", 0),
        (0xEF, "binary", 15),
        (0xF0, "binary", 16),
        (0xF4, "binary", 32),
        (0xF5, "binary", 48),
        (0xF6, "binary", 64),
    ],
)
def test_lvar_layout(lvar: int, kind: str, size: int) -> None:
    assert dt.lvar_layout(lvar) == (kind, size)


@pytest.mark.parametrize("lvar", [0xCA, 0xCF, 0xDA, 0xDF, 0xF7, 0xFF])
def test_lvar_reserved(lvar: int) -> None:
    with pytest.raises(MalformedError):
        dt.lvar_layout(lvar)


def test_decode_lvar() -> None:
    assert dt.decode_lvar(0x03, b"HR%") == "%RH"
    assert dt.decode_lvar(0xC2, bytes.fromhex("3412")) == 1234
    assert dt.decode_lvar(0xD2, bytes.fromhex("3412")) == -1234
    assert dt.decode_lvar(0xE2, b"\x01\x02") == b"\x01\x02"
    assert dt.decode_lvar(0xC1, b"\xaa") is None
    with pytest.raises(LengthError):
        dt.decode_lvar(0x03, b"ab")


@pytest.mark.parametrize(
    ("hex_", "expected"),
    [
        ("32371F15", "2008-05-31T23:50:00"),  # EN 13757-3 Annex A vector
        ("2B117811", "2011-01-24T17:43:00"),  # jMBus testDataRecords (type F, hundred-year bits 0)
        ("00000101", "2000-01-01T00:00:00"),  # hundred-year 0, year 0 -> 2000 (compatibility rule)
        ("000021A1", "1981-01-01T00:00:00"),  # hundred-year 0, year 81 -> 1981
        ("B2371F15", None),  # IV bit
        ("FFFFFFFF", None),
        ("32373F15", "2009-05-31T23:50:00"),  # year LSBs in the day byte
        ("3237000F", None),  # day 0 / month 15
        ("32371E12", None),  # 30 February
        ("3C371F15", None),  # minute 60
        ("32381F15", None),  # hour 24
    ],
)
def test_type_f(hex_: str, expected: str | None) -> None:
    assert dt.decode_datetime_f(bytes.fromhex(hex_)) == expected


@pytest.mark.parametrize(
    ("hex_", "expected"),
    [
        ("9421", "2020-01-20"),  # ZRI vector, exmbus regression
        ("8121", "2020-01-01"),
        ("5F1C", "2010-12-31"),  # libmbus siemens wfh21 record 426C5F1C
        ("FFFF", None),
        ("0021", None),  # day 0
        ("810F", None),  # month 15: periodic
        ("FF2F", None),  # year 127 every-year marker / day 31 in month 15
        ("5D12", None),  # 29 February 2010
    ],
)
def test_type_g(hex_: str, expected: str | None) -> None:
    assert dt.decode_date_g(bytes.fromhex(hex_)) == expected


def test_type_g_leap_day() -> None:
    # 2016-02-29: year 16 = 0b0010000 -> b0 bits 7..5 = 000, b1 bits 7..4 = 0010
    assert dt.decode_date_g(bytes([29, 0x22])) == "2016-02-29"


def test_type_j_and_i() -> None:
    assert dt.decode_time_j(bytes([12, 50, 23])) == "23:50:12"
    assert dt.decode_time_j(bytes([60, 0, 0])) is None
    # jMBus testDataRecords p10 (type I): spec decoding gives year 2000 (jMBus reports 2001).
    assert dt.decode_datetime_i(bytes.fromhex("221AE0100100")) == "2000-01-16T00:26:34"
    assert dt.decode_datetime_i(bytes.fromhex("229AE0100100")) is None  # IV bit


def test_timepoint_dispatches_on_size() -> None:
    assert dt.decode_timepoint(bytes.fromhex("9421")) == "2020-01-20"
    assert dt.decode_timepoint(bytes.fromhex("32371F15")) == "2008-05-31T23:50:00"
    assert dt.decode_timepoint(bytes([1, 2, 3])) == "03:02:01"
    with pytest.raises(LengthError):
        dt.decode_timepoint(b"\x00")


@given(st.binary(max_size=12))
def test_decoders_total(data: bytes) -> None:
    """Every decoder returns a value or None, or raises an OmsError: never anything else."""
    for func in (
        dt.decode_bcd,
        dt.decode_text,
        dt.decode_timepoint,
        dt.decode_date_g,
        dt.decode_datetime_f,
        dt.decode_datetime_i,
        dt.decode_time_j,
        dt.decode_float32,
    ):
        with contextlib.suppress(OmsError):
            func(data)
    if data:
        with contextlib.suppress(OmsError):
            dt.decode_lvar(data[0], data[1:])
