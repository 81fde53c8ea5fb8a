"""Small CRC-free wM-Bus test telegrams: L C M A CI + filler, two fixed frames, and how some rtl_433
versions print a format A frame.

Block CRCs (formats A and B) are added with ``tests.encoder.add_crc_format_a/_b``, whose bitwise
CRC is independent of ``omslib.crc``: tests of the library's CRC stripping do not check the
library against itself.
"""

from __future__ import annotations

from tests.encoder import crc16, id_bytes, manufacturer_bytes

FRAME = bytes.fromhex("1844AE4C4455223368077A55000000041389E20100023B0000")
"""A CRC-free telegram as a stick delivers it: SEN water meter 33225544, 25 bytes, volume and flow records."""
FRAME2 = bytes.fromhex("104493157856341233037A2A0000002F2F")
"""A second, shorter one: ELS gas meter 12345678, 17 bytes, no records."""


def telegram(
    payload_len: int = 20,
    *,
    ident: str = "12345678",
    mfct: str = "ABC",
    version: int = 1,
    medium: int = 7,
    c_field: int = 0x44,
    ci: int = 0x7A,
    seed: int = 0,
) -> bytes:
    """A CRC-free frame from the L byte: L C M(2) ID(4) Ver Type CI + ``payload_len`` bytes."""
    body = bytes([c_field]) + manufacturer_bytes(mfct) + id_bytes(ident) + bytes([version, medium, ci])
    body += bytes((seed + i) & 0xFF for i in range(payload_len))
    return bytes([len(body)]) + body


def rtl433_format_a_quirk(frame: bytes) -> bytes:
    """How some rtl_433 versions print a format A ``frame``: L-2, the data, then the last block's CRC."""
    last = 10 + 16 * ((frame[0] - 10) // 16)
    return bytes([frame[0] - 2]) + frame[1:] + crc16(frame[last:]).to_bytes(2, "big")
