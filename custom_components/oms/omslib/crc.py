"""CRC-16/EN-13757 (poly 0x3D65, init 0, xorout 0xFFFF), EN 13757-4 §5.

``crc16(b"123456789") == 0xC2B7``. The CRC runs for every telegram (block
checks, format detection, compact-frame signatures), so it consumes 16 bits
per step from a 65,536-entry table instead of 8 (built in milliseconds from its linearity,
looked up in an array, or a list when bulk decoding asks for it).
"""

from __future__ import annotations

from array import array
import sys

_POLY = 0x3D65


def _byte_table() -> tuple[int, ...]:
    out = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ _POLY) if crc & 0x8000 else (crc << 1)
        out.append(crc & 0xFFFF)
    return tuple(out)


_T8 = _byte_table()


def _word_table() -> array[int]:
    """T[v] = CRC register after shifting 16 zero bits through register value v.

    With a little-endian host the register is kept byte-swapped so that native
    16-bit words of the input can be XORed in directly. The CRC is linear, so
    ``T[hi << 8 | lo] = A[hi] ^ T8[lo]`` with ``A[hi] = T[hi << 8]``: each 256-entry
    row is one vector XOR a constant, done as one big-integer XOR per row (the
    table is built in about a millisecond instead of 100 ms of start-up).
    """
    t8 = _T8
    a = [((t8[hi] << 8) & 0xFFFF) ^ t8[t8[hi] >> 8] for hi in range(256)]
    swap = sys.byteorder == "little"
    if swap:
        # index lo << 8 | hi holds swap(A[hi] ^ T8[lo]): rows by lo, vector swap(A), constant swap(T8[lo])
        vector = [((x & 0xFF) << 8) | (x >> 8) for x in a]
        constants = [((x & 0xFF) << 8) | (x >> 8) for x in t8]
    else:
        vector, constants = list(t8), a
    order = sys.byteorder
    base = int.from_bytes(array("H", vector).tobytes(), order)
    lanes = int.from_bytes(array("H", [1] * 256).tobytes(), order)  # 1 in every 16-bit lane
    rows = b"".join((base ^ (c * lanes)).to_bytes(512, order) for c in constants)
    table = array("H")
    table.frombytes(rows)
    return table


_T16 = _word_table()
_table: array[int] | list[int] = _T16
"""The word table in use: the 128 KiB array by default."""


def use_fast_table() -> None:
    """Index a list copy of the word table instead of the array (about 10 % faster decoding).

    A list hands out existing int objects instead of creating one per lookup, but holds
    65,536 of them (about 2.3 MB). Worth it for bulk decoding (``scripts/decode``), not for
    a Home Assistant receiver that hears a telegram a second.
    """
    global _table
    if not isinstance(_table, list):
        _table = _T16.tolist()


_SWAPPED = sys.byteorder == "little"


def _parity_masks() -> tuple[int, ...]:
    """Masks for the CRC of a message given as one big integer, by parities instead of a byte loop.

    With init 0 the register is ``M(x)·x^16 mod P``, linear in the message bits: message bit p
    (counted from the end) flips register bits ``x^(p+16) mod P``. So register bit k is the parity
    of ``M & mask_k``, where mask_k collects the positions p whose ``x^(p+16) mod P`` has bit k:
    16 AND + bit_count operations in C whatever the length (up to 256 bytes here), faster than the
    table loop from about 48 bytes on (format-B detection runs over whole frames).
    """
    powers = []
    reg = _POLY  # x^16 mod P
    for _ in range(8 * _PARITY_MAX):
        powers.append(reg)
        reg = ((reg << 1) ^ _POLY) & 0xFFFF if reg & 0x8000 else (reg << 1) & 0xFFFF
    powers.reverse()
    digits = bytes.maketrans(b"\x00\x01", b"01")
    return tuple(int(bytes((x >> k) & 1 for x in powers).translate(digits), 2) for k in range(16))


_PARITY_MIN = 48
_PARITY_MAX = 256
_M0, _M1, _M2, _M3, _M4, _M5, _M6, _M7, _M8, _M9, _M10, _M11, _M12, _M13, _M14, _M15 = _parity_masks()


def _parity_register(v: int) -> int:
    """The CRC register of the message ``v`` (at most :data:`_PARITY_MAX` bytes), one parity per bit."""
    return (
        ((v & _M0).bit_count() & 1)
        | (((v & _M1).bit_count() & 1) << 1)
        | (((v & _M2).bit_count() & 1) << 2)
        | (((v & _M3).bit_count() & 1) << 3)
        | (((v & _M4).bit_count() & 1) << 4)
        | (((v & _M5).bit_count() & 1) << 5)
        | (((v & _M6).bit_count() & 1) << 6)
        | (((v & _M7).bit_count() & 1) << 7)
        | (((v & _M8).bit_count() & 1) << 8)
        | (((v & _M9).bit_count() & 1) << 9)
        | (((v & _M10).bit_count() & 1) << 10)
        | (((v & _M11).bit_count() & 1) << 11)
        | (((v & _M12).bit_count() & 1) << 12)
        | (((v & _M13).bit_count() & 1) << 13)
        | (((v & _M14).bit_count() & 1) << 14)
        | (((v & _M15).bit_count() & 1) << 15)
    )


def crc16(data: bytes | bytearray | memoryview, start: int = 0, end: int | None = None) -> int:
    """CRC-16/EN-13757 of ``data[start:end]``."""
    view = memoryview(data)[start:end]
    n = len(view)
    if _PARITY_MIN <= n <= _PARITY_MAX:
        return _parity_register(int.from_bytes(view, "big")) ^ 0xFFFF
    even = n & ~1
    reg = 0
    if even:
        table = _table
        for word in view[:even].cast("H"):
            reg = table[reg ^ word]
        if _SWAPPED:
            reg = ((reg & 0xFF) << 8) | (reg >> 8)
    if n & 1:
        reg = ((reg << 8) & 0xFFFF) ^ _T8[(reg >> 8) ^ view[even]]
    return reg ^ 0xFFFF
