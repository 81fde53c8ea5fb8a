"""CRC-16/EN-13757 (poly 0x3D65, init 0, xorout 0xFFFF), EN 13757-4 §5.

Table driven; ``crc16(b"123456789") == 0xC2B7``.
"""

from __future__ import annotations


def _table(poly: int) -> tuple[int, ...]:
    out = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ poly) if crc & 0x8000 else (crc << 1)
        out.append(crc & 0xFFFF)
    return tuple(out)


_TABLE = _table(0x3D65)


def crc16(data: bytes | bytearray | memoryview, start: int = 0, end: int | None = None) -> int:
    """CRC-16/EN-13757 of ``data[start:end]``."""
    table = _TABLE
    crc = 0
    for byte in data[start:end] if (start or end is not None) else data:
        crc = ((crc << 8) & 0xFFFF) ^ table[(crc >> 8) ^ byte]
    return crc ^ 0xFFFF
