"""Compact and format frames, EN 13757-3 Annex G / OMS Vol2 §4.4."""

from __future__ import annotations

import contextlib

from hypothesis import given, settings, strategies as st
import pytest

from custom_components.oms.omslib.apl import parse_apl
from custom_components.oms.omslib.compact import (
    FormatCache,
    Layout,
    full_frame_crc,
    layout_from_headers,
    parse_compact,
    parse_format_frame,
    split_headers,
)
from custom_components.oms.omslib.crc import crc16
from custom_components.oms.omslib.errors import (
    CrcError,
    LengthError,
    MalformedError,
    OmsError,
    UnknownFormatError,
)

from ._oms_vectors import by_id

METER = ("ABC", 1, 0x07)


def _hex(vector_id: str, skip: int) -> bytes:
    """The vector's bytes after CI and ``skip - 1`` TPL header bytes."""
    return bytes.fromhex(by_id(vector_id)["frame_hex"])[skip:]


def test_full_frame_crc_g52() -> None:
    assert full_frame_crc(bytes.fromhex("0202D20402152E16022A3423")) == 0xA642


def test_g52_compact_expands_to_full_frame() -> None:
    full = _hex("en13757-3-G5.2-full", 1)
    cache = FormatCache()
    assert cache.learn(METER, full) == 0x3B31
    compact = _hex("en13757-3-G5.2-compact", 1)
    assert compact[:4] == bytes.fromhex("313B42A6")
    assert parse_compact(compact, METER, cache) == parse_apl(full)


def test_g52_format_frame() -> None:
    signature, layout = parse_format_frame(_hex("en13757-3-G5.2-format", 1))
    assert signature == 15153 == layout.signature
    assert layout.headers == (b"\x02\x02", b"\x02\x15", b"\x02\x2a")
    assert layout.sizes == (2, 2, 2)
    cache = FormatCache()
    assert cache.learn_format_frame(METER, _hex("en13757-3-G5.2-format", 1)) == 0x3B31
    records = parse_compact(_hex("en13757-3-G5.2-compact", 1), METER, cache).records
    assert [r.value for r in records] == [0.1234, 567.8, 0.9012]


def test_g53_short_header_variants() -> None:
    cache = FormatCache()
    cache.learn_format_frame(METER, _hex("en13757-3-G5.3-format", 5))
    from_format = parse_compact(_hex("en13757-3-G5.3-compact", 5), METER, cache)
    assert from_format == parse_apl(_hex("en13757-3-G5.3-full", 5))


def test_exmbus_regression_pair() -> None:
    vector = by_id("exmbus-compact-regression")
    cache = FormatCache()
    signature = cache.learn(METER, bytes.fromhex(vector["expected"]["full_frame_for_format"])[1:])
    assert signature == 0xF1E7
    apl = parse_compact(bytes.fromhex(vector["frame_hex"])[1:], METER, cache)
    assert apl.signature == 0xF1E7
    assert [r.quantity for r in apl.records] == [
        "energy",
        "energy",
        "volume",
        "date",
        "power",
        "manufacturer_specific",
    ]
    assert apl.records[0].value == 9453


def test_kamstrup_ell_compact_from_format_headers() -> None:
    vector = by_id("exmbus-kam-ell8d-compact")
    headers = split_headers(bytes.fromhex(vector["expected"]["format_frame_header_bytes"]))
    layout = layout_from_headers(headers)
    assert layout.signature == 0x2274
    cache = FormatCache()
    cache.store(("KAM", 0x33, 0x02), layout.signature, layout)
    plain = bytes.fromhex(vector["computed_check"]["decrypted_hex"])
    assert plain[2] == 0x79  # payload CRC(2), CI 79, then the compact APL
    apl = parse_compact(plain[3:], ("KAM", 0x33, 0x02), cache)
    assert [r.dif_vif for r in apl.records] == [h.hex().upper() for h in headers]
    assert apl.records[0].value == pytest.approx(282.7)  # VIF 05: Wh × 10^2
    assert apl.records[-1].quantity == "error_flags"


def test_unknown_signature_never_guesses() -> None:
    cache = FormatCache()
    compact = bytes.fromhex("313B42A6D2042E163423")
    with pytest.raises(UnknownFormatError, match="0x3B31"):
        parse_compact(compact, METER, cache)
    cache.learn(("XYZ", 1, 0x07), bytes.fromhex("0202D20402152E16022A3423"))
    with pytest.raises(UnknownFormatError):  # same signature, other meter type
        parse_compact(compact, METER, cache)


def test_wrong_crc() -> None:
    cache = FormatCache()
    cache.learn(METER, bytes.fromhex("0202D20402152E16022A3423"))
    with pytest.raises(CrcError):
        parse_compact(bytes.fromhex("313B42A6D2042E163424"), METER, cache)


def test_length_checks() -> None:
    cache = FormatCache()
    cache.learn(METER, bytes.fromhex("0202D20402152E16022A3423"))
    with pytest.raises(LengthError):
        parse_compact(bytes.fromhex("313B42A6D2042E1634"), METER, cache)
    with pytest.raises(LengthError):
        parse_compact(bytes.fromhex("313B42A6D2042E16342300"), METER, cache)
    with pytest.raises(LengthError):
        parse_compact(bytes.fromhex("313B"), METER, cache)
    # trailing idle fillers are fine
    assert len(parse_compact(bytes.fromhex("313B42A6D2042E1634232F2F"), METER, cache).records) == 3


def test_lvar_and_manufacturer_tail() -> None:
    full = bytes.fromhex("0DFD0C034342410213 05000F ABCD".replace(" ", ""))
    cache = FormatCache()
    signature = cache.learn(METER, full)
    layout = cache.get(METER, signature)
    assert layout is not None
    assert (layout.sizes, layout.tail) == ((-1, 2), b"\x0f")
    data = bytes.fromhex("035859580600EEFF")
    records = bytes.fromhex("0DFD0C03585958021306000FEEFF")
    compact = signature.to_bytes(2, "little") + crc16(records).to_bytes(2, "little") + data
    apl = parse_compact(compact, METER, cache)
    assert [r.value for r in apl.records] == ["XYX", 0.006]
    assert apl.manufacturer_data == b"\xee\xff"


def test_container_lvar_is_a_byte_count() -> None:
    layout = layout_from_headers((bytes.fromhex("0DFD3B"),))
    assert layout.sizes == (-2,)


def test_format_frame_errors() -> None:
    with pytest.raises(CrcError):
        parse_format_frame(bytes.fromhex("08323B02020215022A"))
    with pytest.raises(LengthError):
        parse_format_frame(bytes.fromhex("09313B02020215022A"))
    with pytest.raises(LengthError):
        parse_format_frame(b"\x01")
    with pytest.raises(MalformedError):
        parse_format_frame(bytes.fromhex("0400000F02"))


def test_cache_is_a_bounded_lru() -> None:
    cache = FormatCache(max_entries=2)
    layout = Layout((b"\x02\x13",), (2,))
    cache.store(METER, 1, layout)
    cache.store(METER, 2, layout)
    assert cache.get(METER, 1) is layout  # 1 is now the most recently used
    cache.store(METER, 3, layout)
    assert len(cache) == 2
    assert (*METER, 2) not in cache
    assert (*METER, 1) in cache
    assert (*METER, 3) in cache
    with pytest.raises(ValueError, match="at least 1"):
        FormatCache(max_entries=0)


def test_learn_accepts_parsed_apl() -> None:
    apl = parse_apl(bytes.fromhex("0C1329730600"))
    cache = FormatCache()
    assert cache.learn(METER, apl) == apl.signature
    layout = cache.get(METER, apl.signature)
    assert layout is not None
    assert layout.headers == (b"\x0c\x13",)


@settings(max_examples=1000, deadline=None)
@given(st.binary(max_size=40))
def test_fuzz_compact_and_format_only_oms_errors(data: bytes) -> None:
    cache = FormatCache()
    cache.learn(METER, bytes.fromhex("0DFD0C034342410213 05008C0413 75440600".replace(" ", "")))
    cache.learn(METER, bytes.fromhex("0202D20402152E16022A3423"))
    for payload in (data, bytes.fromhex("313B") + data, crc16(b"").to_bytes(2, "little") + data):
        with contextlib.suppress(OmsError):
            parse_compact(payload, METER, cache)
    with contextlib.suppress(OmsError):
        parse_format_frame(data)
