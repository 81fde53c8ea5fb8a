"""Wireless link layer: CRC, manufacturer codes, IDs, frame formats A and B."""

from __future__ import annotations

import pytest

from custom_components.oms.omslib.crc import crc16
from custom_components.oms.omslib.errors import CrcError, LengthError
from custom_components.oms.omslib.link import (
    decode_id,
    format_a_length,
    manufacturer_code,
    manufacturer_value,
    parse_dll,
    strip_crcs,
)
from tests import encoder as enc


def test_crc_check_value() -> None:
    assert crc16(b"123456789") == 0xC2B7
    assert crc16(b"xx123456789yy", 2, 11) == 0xC2B7


@pytest.mark.parametrize(
    ("code", "value"), [("ELS", 0x1593), ("KAM", 0x2C2D), ("QDS", 0x4493), ("WEP", 0x5CB0), ("PAD", 0x4024)]
)
def test_manufacturer_codes(code: str, value: int) -> None:
    assert manufacturer_code(value) == code
    assert manufacturer_value(code) == value


def test_ids_keep_non_bcd_nibbles() -> None:
    assert decode_id(bytes.fromhex("78563412")) == "12345678"
    assert decode_id(bytes.fromhex("785634F2")) == "F2345678"


# A synthetic frame: L C M(ELS) ID 12345678 v0x33 gas, CI 7A, then 32 arbitrary payload bytes.
PLAIN = bytes.fromhex("2E4493157856341233037A2A002025") + bytes(range(32))


def test_format_a_detected_and_stripped() -> None:
    framed = enc.add_crc_format_a(PLAIN)
    assert len(framed) == format_a_length(PLAIN[0])
    assert strip_crcs(framed) == (PLAIN, "A")


def test_format_a_bad_crc_in_a_later_block() -> None:
    framed = bytearray(enc.add_crc_format_a(PLAIN))
    framed[20] ^= 0x01
    with pytest.raises(CrcError):
        strip_crcs(bytes(framed))


def test_format_a_truncated() -> None:
    with pytest.raises(LengthError):
        strip_crcs(enc.add_crc_format_a(PLAIN)[:-3])


@pytest.mark.parametrize("extra", [0, 120])
def test_format_b_detected_and_stripped(extra: int) -> None:
    frame = bytearray(PLAIN + bytes(range(extra)))
    frame[0] = len(frame) - 1
    framed = enc.add_crc_format_b(bytes(frame))
    assert strip_crcs(framed) == (bytes(frame), "B")
    assert strip_crcs(framed, "B") == (bytes(frame), "B")


def test_format_b_bad_crc_when_told() -> None:
    framed = bytearray(enc.add_crc_format_b(PLAIN))
    framed[-1] ^= 0xFF
    with pytest.raises(CrcError):
        strip_crcs(bytes(framed), "B")


def test_stripped_frame_with_trailing_rssi() -> None:
    assert strip_crcs(PLAIN + b"\xc5") == (PLAIN, "none")


def test_short_inputs() -> None:
    with pytest.raises(LengthError):
        strip_crcs(PLAIN[:5])
    with pytest.raises(LengthError):
        strip_crcs(PLAIN[:-1])
    with pytest.raises(LengthError):
        strip_crcs(bytes([5]) + PLAIN[1:])


def test_parse_dll() -> None:
    dll = parse_dll(PLAIN)
    assert dll.c_field == 0x44
    assert dll.address.manufacturer == "ELS"
    assert dll.address.id == "12345678"
    assert dll.address.version == 0x33
    assert dll.address.device_type == 3
    assert dll.address.medium == "gas"
    assert dll.address_bytes == bytes.fromhex("9315785634123303")


def test_eleven_byte_hex_frame_is_ambiguous_unless_ci_78() -> None:
    """A format-A frame cut after its first block looks like a stripped L=10 frame whose CI is a CRC byte."""
    head = bytes.fromhex("0a4493157856341233 03".replace(" ", ""))
    with pytest.raises(LengthError, match="cut after its first block"):
        strip_crcs(head + b"\x77")
    assert strip_crcs(head + b"\x78") == (head + b"\x78", "none")
    assert strip_crcs(head + b"\x77", "none") == (head + b"\x77", "none")  # a stick said it is stripped
