"""Build wM-Bus test telegrams: L C M A CI … with CRCs computed here, bit by bit.

The CRC code is deliberately independent of ``omslib.crc`` so that tests of the
library's CRC stripping do not check the library against itself.
"""

from __future__ import annotations


def crc_en13757(data: bytes) -> int:
    """CRC-16/EN-13757 (poly 0x3D65, init 0, xorout 0xFFFF), bit by bit."""
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x3D65) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc ^ 0xFFFF


def manufacturer(code: str) -> bytes:
    """Three letters -> the two M-field bytes as sent (LSB first)."""
    value = ((ord(code[0]) - 64) << 10) | ((ord(code[1]) - 64) << 5) | (ord(code[2]) - 64)
    return value.to_bytes(2, "little")


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
    body = bytes([c_field]) + manufacturer(mfct) + bytes.fromhex(ident)[::-1] + bytes([version, medium, ci])
    body += bytes((seed + i) & 0xFF for i in range(payload_len))
    return bytes([len(body)]) + body


def format_a(frame: bytes) -> bytes:
    """Insert format A block CRCs (block 1 = 10 bytes, then 16-byte blocks), MSB first."""
    blocks = [frame[:10]] + [frame[i : i + 16] for i in range(10, len(frame), 16)]
    return b"".join(block + crc_en13757(block).to_bytes(2, "big") for block in blocks)


def format_b(frame: bytes) -> bytes:
    """Insert format B CRCs and rewrite L to count them."""
    data = bytearray(frame)
    if len(data) <= 126:
        data[0] = len(data) + 1
        return bytes(data) + crc_en13757(bytes(data)).to_bytes(2, "big")
    data[0] = len(data) + 3
    head, tail = bytes(data[:126]), bytes(data[126:])
    return head + crc_en13757(head).to_bytes(2, "big") + tail + crc_en13757(tail).to_bytes(2, "big")
