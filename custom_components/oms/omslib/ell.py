"""Extended link layer, EN 13757-4 §13.2 (CI 8C–8F), with AES-128-CTR (§13.2.12)."""

from __future__ import annotations

from dataclasses import dataclass

from .crc import crc16
from .crypto import aes, ctr_crypt
from .errors import LengthError, NoKeyError, UnsupportedError, WrongKeyError
from .link import wireless_address
from .telegram import Address

# CI -> (size of the fields after CI, has receiver address, has SN + payload CRC)
ELL_LAYOUTS: dict[int, tuple[int, bool, bool]] = {
    0x8C: (2, False, False),
    0x8D: (8, False, True),
    0x8E: (10, True, False),
    0x8F: (16, True, True),
}
ELL_CI = frozenset(ELL_LAYOUTS) | {0x86}

ENC_NONE = 0
ENC_AES_CTR = 1


@dataclass(frozen=True, slots=True)
class Ell:
    """ELL fields. ``payload_offset`` is where the next layer (or the payload CRC) starts."""

    ci: int
    cc: int
    acc: int
    receiver_address: Address | None
    receiver_address_bytes: bytes
    session_number: int | None
    payload_crc_offset: int | None
    payload_offset: int

    @property
    def encryption(self) -> int:
        """SN bits 31..29: 0 none, 1 AES-128-CTR, others reserved."""
        return 0 if self.session_number is None else self.session_number >> 29


def parse_ell(frame: bytes, offset: int) -> Ell:
    """Parse the ELL whose CI is at ``offset``."""
    ci = frame[offset]
    if ci == 0x86:
        raise UnsupportedError("variable-length ELL (CI 0x86) is not supported")
    size, has_address, has_sn = ELL_LAYOUTS[ci]
    if len(frame) < offset + 1 + size:
        raise LengthError(f"frame ends inside the ELL (CI 0x{ci:02X})")
    pos = offset + 1
    cc, acc = frame[pos], frame[pos + 1]
    pos += 2
    address = None
    address_bytes = b""
    if has_address:
        address = wireless_address(frame, pos)
        address_bytes = bytes(frame[pos : pos + 8])
        pos += 8
    sn = None
    crc_offset = None
    if has_sn:
        sn = int.from_bytes(frame[pos : pos + 4], "little")
        pos += 4
        crc_offset = pos
        pos += 2
    return Ell(ci, cc, acc, address, address_bytes, sn, crc_offset, pos)


def _payload_crc_ok(data: bytes) -> bool:
    return len(data) >= 2 and crc16(data, 2) == data[0] | (data[1] << 8)


def counter_block(link_address: bytes, cc: int, session_number: int) -> bytes:
    """Initial CTR block M(2) A(6) CC SN(4) FN(2)=0 BC=0 (§13.2.12.4)."""
    return link_address + bytes((cc,)) + session_number.to_bytes(4, "little") + b"\x00\x00\x00"


def open_payload(frame: bytes, ell: Ell, link_address: bytes, key: bytes | None) -> tuple[bytes, bool]:
    """Check (and if needed decrypt) the ELL payload.

    Returns the frame with the plaintext spliced in (payload CRC removed) and
    whether a decryption took place. A payload that already carries a valid
    CRC is plaintext, whatever SN says (some captures are stored decrypted).
    """
    if ell.payload_crc_offset is None:
        return frame, False
    start = ell.payload_crc_offset
    body = frame[start:]
    for end in _candidate_ends(body):
        if _payload_crc_ok(body[:end]):
            return frame[:start] + body[2:end], False
    if ell.encryption == ENC_NONE:
        return frame[:start] + body[2:], False
    if ell.encryption != ENC_AES_CTR:
        raise UnsupportedError(f"ELL encryption method {ell.encryption} is reserved")
    if key is None:
        raise NoKeyError("ELL payload is encrypted (AES-CTR) and no key is known for this meter")
    assert ell.session_number is not None
    ctx = aes(key)
    # EN 13757-4 zeroes the H and R bits of CC in the counter block; some stacks clear only H.
    for cc in dict.fromkeys((ell.cc & 0xED, ell.cc & 0xEF)):
        plain = ctr_crypt(ctx, counter_block(link_address, cc, ell.session_number), body)
        for end in _candidate_ends(plain):
            if _payload_crc_ok(plain[:end]):
                return frame[:start] + plain[2:end], True
    raise WrongKeyError("ELL payload CRC does not match after AES-CTR decryption: wrong key")


def _candidate_ends(body: bytes) -> tuple[int, ...]:
    """Payload ends to try: all of it, then without 2 bytes some receivers append (Kamstrup C1)."""
    return (len(body), len(body) - 2) if len(body) > 4 else (len(body),)
