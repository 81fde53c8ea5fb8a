"""DLL block CRCs of wireless M-Bus frame formats A and B (EN 13757-4).

Receivers that hand over the frame *with* its block CRCs (CUL / culfw, some
captures) use :func:`strip_block_crcs` to verify and remove them; simulators
and tests use :func:`add_block_crcs` to build such frames.

* Format A: block 1 = L C M(2) A(6) (10 bytes) + CRC, then blocks of 16 data
  bytes + CRC, the last one shorter. L counts the data bytes only.
* Format B: L counts the CRCs too. One CRC after the first 126 bytes
  (L included) or at the end when the frame is shorter; a longer frame has a
  second block with its own CRC at the end.

Block CRCs are CRC-16/EN-13757, sent most significant byte first. After
stripping, the L byte always equals ``len(frame) - 1`` (format B's L is
rewritten accordingly).
"""

from __future__ import annotations

from typing import Literal

from ..crc import crc16

FrameFormat = Literal["A", "B"]

_A_FIRST = 10
_A_BLOCK = 16
_B_FIRST = 126
_B_MAX = 255


class BlockCrcError(ValueError):
    """The block CRCs do not verify or the length does not fit the L field.

    ``reason`` is ``"crc"`` or ``"length"``.
    """

    def __init__(self, message: str, reason: Literal["crc", "length"]) -> None:
        super().__init__(message)
        self.reason = reason


def format_a_length(l_field: int) -> int:
    """Bytes on air (L byte included) of a format A frame with this L field."""
    rest = l_field - (_A_FIRST - 1)
    return _A_FIRST + 2 + rest + 2 * ((rest + _A_BLOCK - 1) // _A_BLOCK)


def _crc_error(start: int, end: int) -> BlockCrcError:
    return BlockCrcError(f"block CRC mismatch in bytes {start}..{end + 1}", "crc")


def strip_block_crcs(raw: bytes | bytearray | memoryview, fmt: FrameFormat) -> bytes:
    """Verify and remove the DLL block CRCs of a frame in format ``fmt``.

    ``raw`` starts at the L byte and ends with the last CRC. Raises
    :class:`BlockCrcError` on a wrong length or a CRC mismatch.
    """
    if not isinstance(raw, bytes):
        raw = bytes(raw)
    n = len(raw)
    if not n:
        raise BlockCrcError("empty frame", "length")
    l_field = raw[0]
    crc = crc16
    if fmt == "A":
        if l_field < _A_FIRST - 1:
            raise BlockCrcError(f"L field {l_field} too small for format A", "length")
        expected = format_a_length(l_field)
        if n != expected:
            raise BlockCrcError(f"format A frame with L={l_field} needs {expected} bytes, got {n}", "length")
        if crc(raw, 0, _A_FIRST) != (raw[_A_FIRST] << 8 | raw[_A_FIRST + 1]):
            raise _crc_error(0, _A_FIRST)
        parts = [raw[:_A_FIRST]]
        pos = _A_FIRST + 2
        last = n - 2
        while pos < n:
            end = pos + _A_BLOCK
            end = min(end, last)
            if crc(raw, pos, end) != (raw[end] << 8 | raw[end + 1]):
                raise _crc_error(pos, end)
            parts.append(raw[pos:end])
            pos = end + 2
        return b"".join(parts)
    if fmt == "B":
        if l_field < _A_FIRST + 2 or n != l_field + 1:
            raise BlockCrcError(f"format B frame with L={l_field} has {n} bytes", "length")
        if n <= _B_FIRST + 2:
            if crc(raw, 0, n - 2) != (raw[n - 2] << 8 | raw[n - 1]):
                raise _crc_error(0, n - 2)
            return bytes((n - 3,)) + raw[1:-2]
        if n < _B_FIRST + 2 + 3:
            raise BlockCrcError(f"format B block 3 of a {n}-byte frame is empty", "length")
        if crc(raw, 0, _B_FIRST) != (raw[_B_FIRST] << 8 | raw[_B_FIRST + 1]):
            raise _crc_error(0, _B_FIRST)
        if crc(raw, _B_FIRST + 2, n - 2) != (raw[n - 2] << 8 | raw[n - 1]):
            raise _crc_error(_B_FIRST + 2, n - 2)
        return bytes((n - 5,)) + raw[1:_B_FIRST] + raw[_B_FIRST + 2 : -2]
    raise ValueError(f"unknown frame format {fmt!r}")


def _crc_bytes(data: bytes | bytearray) -> bytes:
    return crc16(data).to_bytes(2, "big")


def add_block_crcs(frame: bytes | bytearray, fmt: FrameFormat) -> bytes:
    """Inverse of :func:`strip_block_crcs`: ``frame`` starts at L, carries no CRCs.

    For format A the L byte is kept as given (it does not count CRCs); for
    format B it is rewritten to count them.
    """
    frame = bytes(frame)
    if len(frame) < _A_FIRST + 1:
        raise ValueError("a frame needs at least L C M A CI (11 bytes)")
    if fmt == "A":
        out = bytearray(frame[:_A_FIRST] + _crc_bytes(frame[:_A_FIRST]))
        for pos in range(_A_FIRST, len(frame), _A_BLOCK):
            block = frame[pos : pos + _A_BLOCK]
            out += block + _crc_bytes(block)
        return bytes(out)
    if fmt == "B":
        data = bytearray(frame)
        if len(data) <= _B_FIRST:
            data[0] = len(data) + 1
            return bytes(data + _crc_bytes(data))
        data[0] = len(data) + 3
        if data[0] > _B_MAX:
            raise ValueError("frame too long for format B")
        head, tail = bytes(data[:_B_FIRST]), bytes(data[_B_FIRST:])
        return head + _crc_bytes(head) + tail + _crc_bytes(tail)
    raise ValueError(f"unknown frame format {fmt!r}")
