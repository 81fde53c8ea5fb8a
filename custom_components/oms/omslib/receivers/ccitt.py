"""CRC-16/CCITT as IMST sticks use it (iM871A HCI, iU891A): reflected, poly 0x8408, init 0xFFFF, inverted.

That is the CRC-16/X-25 (IBM-SDLC) parameter set: ``crc16_x25(b"123456789") == 0x906E``.
It is sent least significant byte first; over data plus its CRC the result is the
constant :data:`X25_RESIDUE`. Computed with :func:`binascii.crc_hqx` (C speed) on
bit-reversed bytes, since the reflected CRC of the data is the bit-reversed
unreflected CRC of the bit-reversed data.
"""

from __future__ import annotations

import binascii

_REV8 = bytes(int(f"{i:08b}"[::-1], 2) for i in range(256))
X25_RESIDUE = 0x0F47
"""``crc16_x25(data + crc.to_bytes(2, "little")) == X25_RESIDUE`` for every correct frame."""


def crc16_x25(data: bytes | bytearray | memoryview) -> int:
    """CRC-16/X-25 of ``data`` (the value sent, before little-endian serialisation)."""
    crc = binascii.crc_hqx(bytes(data).translate(_REV8), 0xFFFF)
    return (_REV8[crc & 0xFF] << 8 | _REV8[crc >> 8]) ^ 0xFFFF


def x25_ok(data: bytes | bytearray | memoryview) -> bool:
    """True when ``data`` ends with its own little-endian CRC-16/X-25 (residue check)."""
    return crc16_x25(data) == X25_RESIDUE
