"""Wireless M-Bus data link layer, EN 13757-4 §5 and §12.

Frames arrive from the L byte in one of three shapes: frame format A with block
CRCs, frame format B with block CRCs, or with the CRCs already removed (what most
sticks deliver). :func:`strip_crcs` finds out which and returns the CRC-free
frame; :func:`strip_block_crcs` strips a frame whose format is known (CUL) and
:func:`add_block_crcs` adds the CRCs (simulators, tests); :func:`parse_dll` reads
the 10-byte header ``L C M(2) ID(4) Ver Type``. This is the only implementation of
the block CRCs in the library.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from .crc import crc16
from .errors import CrcError, LengthError
from .telegram import Address

FrameFormat = Literal["A", "B", "none"]

DLL_SIZE = 10
"""L, C, M(2), ID(4), version, device type."""
_CI_NO_HEADER = 0x78


def _letters(value: int) -> str:
    return "".join(chr(((value >> shift) & 0x1F) + 64) for shift in (10, 5, 0))


_MANUFACTURERS: dict[int, str] = {}


def manufacturer_code(value: int) -> str:
    """Three letters from the 15-bit manufacturer field (EN 13757-7 §7.5.2, FLAG association)."""
    code = _MANUFACTURERS.get(value)
    if code is None:
        code = _MANUFACTURERS[value] = _letters(value)
    return code


def manufacturer_value(code: str) -> int:
    """Inverse of :func:`manufacturer_code`."""
    a, b, c = (ord(ch.upper()) - 64 for ch in code)
    return (a << 10) | (b << 5) | c


def decode_id(raw: bytes | bytearray | memoryview) -> str:
    """Eight BCD digits sent LSB byte first; non-BCD nibbles stay as hex digits."""
    return bytes(raw[::-1]).hex().upper()


_ADDRESSES: dict[bytes, Address] = {}
"""8 address bytes in link-layer order -> Address (immutable, so shared by every telegram of a meter)."""


def wireless_address(data: bytes | bytearray | memoryview, offset: int) -> Address:
    """Address in link-layer order: M(2) ID(4) version type."""
    key = bytes(data[offset : offset + 8])
    address = _ADDRESSES.get(key)
    if address is None:
        if len(key) < 8:
            raise LengthError("frame ends inside an address")
        m = key[0] | (key[1] << 8)
        address = Address(manufacturer_code(m), decode_id(key[2:6]), key[6], key[7])
        if len(_ADDRESSES) >= 4096:
            _ADDRESSES.clear()
        _ADDRESSES[key] = address
    return address


def long_header_address(id_bytes: bytes, rest: bytes) -> tuple[Address, bytes]:
    """TPL long header ``ID(4) M(2) Ver Type``: the Address and the bytes in link-layer order."""
    key = rest[:2] + id_bytes + rest[2:4]
    return wireless_address(key, 0), key


@dataclass(slots=True, unsafe_hash=True)
class Dll:
    """The wM-Bus link-layer header. Read-only by type, not frozen: see ``telegram.py``."""

    length: Final[int]
    c_field: Final[int]
    address: Final[Address]
    address_bytes: Final[bytes]
    """M(2) ID(4) Ver Type as sent: the first 8 bytes of mode-5 IVs and ELL counters."""


def format_a_length(l_field: int) -> int:
    """Total bytes of a format-A frame with CRCs for this L field (EN 13757-4 §5.4.2)."""
    rest = l_field - 9
    return 12 + rest + 2 * ((rest + 15) // 16)


def _strip_a(raw: bytes) -> bytes:
    """Remove format-A block CRCs (first block 10 bytes, then blocks of 16), verifying each."""
    l_field = raw[0]
    total = format_a_length(l_field)
    if len(raw) < total:
        raise LengthError(f"format A frame with L={l_field} needs {total} bytes, got {len(raw)}")
    if crc16(raw, 0, 10) != (raw[10] << 8) | raw[11]:
        raise CrcError("format A first block CRC mismatch at byte 10")
    out = bytearray(raw[:10])
    pos = 12
    end = total
    while pos < end:
        block_end = min(pos + 16, end - 2)
        crc = (raw[block_end] << 8) | raw[block_end + 1]
        if crc16(raw, pos, block_end) != crc:
            raise CrcError(f"format A block CRC mismatch at byte {block_end}")
        out += raw[pos:block_end]
        pos = block_end + 2
    return bytes(out)


def _format_b_crc_ok(raw: bytes) -> bool:
    l_field = raw[0]
    total = l_field + 1
    if l_field < 12 or len(raw) < total:
        return False
    first_end = min(total, 128) - 2
    if crc16(raw, 0, first_end) != (raw[first_end] << 8) | raw[first_end + 1]:
        return False
    if total > 128:
        return crc16(raw, 128, total - 2) == (raw[total - 2] << 8) | raw[total - 1]
    return True


def _strip_b(raw: bytes) -> bytes:
    """Remove format-B CRCs (after the first 126 data bytes and at the end) and fix L."""
    l_field = raw[0]
    total = l_field + 1
    first_end = min(total, 128) - 2
    out = bytearray(raw[:first_end])
    removed = 2
    if total > 128:
        out += raw[128 : total - 2]
        removed = 4
    out[0] = l_field - removed
    return bytes(out)


BlockFormat = Literal["A", "B"]
"""The two frame formats that carry DLL block CRCs."""

_B_FIRST = 126
"""Format B: data bytes (L included) covered by the first CRC of a long frame."""


def strip_block_crcs(raw: bytes | bytearray | memoryview, fmt: BlockFormat) -> bytes:
    """Verify and remove the block CRCs of a frame known to be in format ``fmt``.

    ``raw`` starts at the L byte and ends with the last CRC (no trailing bytes):
    what CUL sticks deliver. Raises :class:`LengthError` when the length does not
    fit the L field, :class:`CrcError` on a CRC mismatch. After stripping, the L
    byte equals ``len(frame) - 1`` (format B's L is rewritten, EN 13757-4 §5.4.3).
    """
    raw = bytes(raw)
    n = len(raw)
    if not n:
        raise LengthError("empty frame")
    l_field = raw[0]
    if fmt == "A":
        if l_field < DLL_SIZE - 1:
            raise LengthError(f"L field {l_field} too small for format A")
        expected = format_a_length(l_field)
        if n != expected:
            raise LengthError(f"format A frame with L={l_field} needs {expected} bytes, got {n}")
        return _strip_a(raw)
    if fmt == "B":
        if l_field < DLL_SIZE + 2 or n != l_field + 1:
            raise LengthError(f"format B frame with L={l_field} has {n} bytes")
        if _B_FIRST + 2 < n < _B_FIRST + 5:
            raise LengthError(f"format B block 3 of a {n}-byte frame is empty")
        if not _format_b_crc_ok(raw):
            raise CrcError("format B CRC mismatch")
        return _strip_b(raw)
    raise ValueError(f"unknown frame format {fmt!r}")


def _crc_bytes(data: bytes | bytearray) -> bytes:
    return crc16(data).to_bytes(2, "big")


def add_block_crcs(frame: bytes | bytearray, fmt: BlockFormat) -> bytes:
    """Inverse of :func:`strip_block_crcs`: ``frame`` starts at L and carries no CRCs.

    Format A keeps the L byte (it does not count CRCs); format B rewrites it to
    count them. Raises ValueError for a frame too short or (format B) too long.
    """
    frame = bytes(frame)
    if len(frame) < DLL_SIZE + 1:
        raise ValueError("a frame needs at least L C M A CI (11 bytes)")
    if fmt == "A":
        out = bytearray(frame[:DLL_SIZE] + _crc_bytes(frame[:DLL_SIZE]))
        for pos in range(DLL_SIZE, len(frame), 16):
            block = frame[pos : pos + 16]
            out += block + _crc_bytes(block)
        return bytes(out)
    if fmt == "B":
        data = bytearray(frame)
        if len(data) <= _B_FIRST:
            data[0] = len(data) + 1
            return bytes(data + _crc_bytes(data))
        if len(data) + 3 > 255:
            raise ValueError("frame too long for format B")
        data[0] = len(data) + 3
        head, tail = bytes(data[:_B_FIRST]), bytes(data[_B_FIRST:])
        return head + _crc_bytes(head) + tail + _crc_bytes(tail)
    raise ValueError(f"unknown frame format {fmt!r}")


def strip_crcs(raw: bytes, frame_format: FrameFormat | None = None) -> tuple[bytes, FrameFormat]:
    """The frame without DLL CRCs, and the format it arrived in.

    With ``frame_format`` None the format is detected: a matching first-block
    CRC means format A (every block must then match), a matching format-B CRC
    means format B, anything else is read as already stripped; the decoder then
    accepts it only as a complete, consistent frame (no bytes after L+1, no cut
    record), else it is a damaged frame (CrcError). With "none" given, trailing
    bytes after L (RSSI appended by some sticks) are cut off.
    """
    if len(raw) < DLL_SIZE + 1:
        raise LengthError(f"a wM-Bus frame has at least 11 bytes, got {len(raw)}")
    l_field = raw[0]
    if l_field < DLL_SIZE:
        raise LengthError(f"L field {l_field} is too small for a wM-Bus header")
    size = len(raw)
    if frame_format == "A" or (
        frame_format is None
        and size >= 12
        and (
            # exactly the length of a format-A frame (and not of a stripped one): A, CRCs checked
            size == format_a_length(l_field) != l_field + 1
            # else a matching first-block CRC (also catches an A frame cut to L+1 bytes)
            or crc16(raw, 0, 10) == (raw[10] << 8) | raw[11]
        )
    ):
        return _strip_a(raw), "A"
    if frame_format == "B":
        if not _format_b_crc_ok(raw):
            raise CrcError("format B CRC mismatch")
        return _strip_b(raw), "B"
    if frame_format is None and size == l_field + 1 and _format_b_crc_ok(raw):
        return _strip_b(raw), "B"
    if frame_format is None and size == DLL_SIZE + 1 and raw[DLL_SIZE] != _CI_NO_HEADER:
        # A CI byte alone (L=10) cannot be told from a format-A frame cut after its first block (its
        # byte 10 is then a CRC byte). Only CI 0x78 (no header, no records) means something alone.
        raise LengthError("an 11-byte frame may be a format-A frame cut after its first block")
    if len(raw) < l_field + 1:
        raise LengthError(f"L field says {l_field + 1} bytes, got {len(raw)}")
    return raw[: l_field + 1], "none"


def parse_dll(frame: bytes) -> Dll:
    """The link-layer header of a CRC-free frame (EN 13757-4 §12.5)."""
    if len(frame) < DLL_SIZE + 1:
        raise LengthError("frame ends inside the link-layer header")
    address_bytes = bytes(frame[2:10])
    return Dll(frame[0], frame[1], wireless_address(address_bytes, 0), address_bytes)
