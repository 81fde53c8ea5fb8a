"""Authentication and fragmentation layer, EN 13757-7 §6 (CI 0x90)."""

from __future__ import annotations

from dataclasses import dataclass
import hmac

from .crypto import Aes, cmac
from .errors import LengthError, MalformedError, UnsupportedError

AFL_CI = 0x90

# FCL bits (EN 13757-7 Table 6)
FCL_MF = 1 << 14
FCL_MCLP = 1 << 13
FCL_MLP = 1 << 12
FCL_MCRP = 1 << 11
FCL_MACP = 1 << 10
FCL_KIP = 1 << 9

# MCL AT field -> (algorithm, MAC length) (EN 13757-7 Table 9)
MAC_TYPES: dict[int, tuple[str, int]] = {
    0: ("none", 0),
    3: ("cmac", 2),
    4: ("cmac", 4),
    5: ("cmac", 8),
    6: ("cmac", 12),
    7: ("cmac", 16),
    8: ("gmac", 12),
    9: ("gmac", 16),
}


@dataclass(frozen=True, slots=True)
class Afl:
    """Parsed AFL header. Offsets index the CRC-free frame."""

    fcl: int
    mcl: int | None
    key_info: int | None
    counter: int | None
    mac: bytes
    message_length: int | None
    auth_bytes: bytes
    """MCL ‖ KI? ‖ MCR? ‖ ML?: the AFL part of the MAC input."""
    payload_offset: int

    @property
    def fragment_id(self) -> int:
        return self.fcl & 0xFF

    @property
    def more_fragments(self) -> bool:
        return bool(self.fcl & FCL_MF)

    @property
    def mac_type(self) -> str:
        return MAC_TYPES.get((self.mcl or 0) & 0x0F, ("reserved", 0))[0]


def parse_afl(frame: bytes, offset: int) -> Afl:
    """Parse the AFL whose CI (0x90) is at ``offset``; never reads past AFLL."""
    if len(frame) < offset + 4:
        raise LengthError("frame ends inside the AFL header")
    afll = frame[offset + 1]
    end = offset + 2 + afll
    if end > len(frame):
        raise LengthError(f"AFL length {afll} runs past the end of the frame")
    pos = offset + 2
    fcl = frame[pos] | (frame[pos + 1] << 8)
    pos += 2
    auth_start = pos
    mcl = ki = mcr = ml = None
    mac = b""
    if fcl & FCL_MCLP:
        if pos >= end:
            raise LengthError("AFL ends before MCL")
        mcl = frame[pos]
        pos += 1
    if fcl & FCL_KIP:
        ki = int.from_bytes(frame[pos : pos + 2], "little")
        pos += 2
    if fcl & FCL_MCRP:
        mcr = int.from_bytes(frame[pos : pos + 4], "little")
        pos += 4
    auth_before_mac = frame[auth_start:pos]
    if fcl & FCL_MACP:
        at = (mcl or 0) & 0x0F
        if at not in MAC_TYPES:
            raise MalformedError(f"AFL MCL names reserved authentication type {at}")
        mac_len = MAC_TYPES[at][1]
        mac = bytes(frame[pos : pos + mac_len])
        pos += mac_len
    auth_ml = b""
    if fcl & FCL_MLP:
        auth_ml = bytes(frame[pos : pos + 2])
        ml = int.from_bytes(auth_ml, "little")
        pos += 2
    if pos > end:
        raise LengthError("AFL fields run past AFLL")
    return Afl(fcl, mcl, ki, mcr, mac, ml, bytes(auth_before_mac) + auth_ml, end)


def verify_mac(afl: Afl, kmac: Aes, tpdu: bytes) -> bool:
    """Check the AFL CMAC over MCL ‖ KI? ‖ MCR? ‖ ML? ‖ TPDU (EN 13757-7 §6.4.6)."""
    if afl.mac_type != "cmac":
        raise UnsupportedError(f"AFL authentication type {afl.mac_type} cannot be verified with CMAC")
    expected = cmac(kmac, afl.auth_bytes + tpdu)[: len(afl.mac)]
    return hmac.compare_digest(expected, afl.mac)


class FragmentBuffer:
    """Reassembles AFL fragments (FID 1, 2, … with MF set until the last) per sender.

    Bounded: at most ``max_senders`` partial messages are kept, oldest dropped.
    """

    def __init__(self, max_senders: int = 64, max_bytes: int = 4096) -> None:
        self._parts: dict[bytes, tuple[Afl, int, bytearray]] = {}
        self._max_senders = max_senders
        self._max_bytes = max_bytes

    def add(self, sender: bytes, afl: Afl, payload: bytes) -> tuple[Afl, bytes] | None:
        """Add a fragment; returns (first fragment's AFL, whole payload) when complete."""
        fid = afl.fragment_id
        if fid <= 1:
            self._parts.pop(sender, None)
            if not afl.more_fragments:
                return afl, payload
            if len(self._parts) >= self._max_senders:
                self._parts.pop(next(iter(self._parts)))
            self._parts[sender] = (afl, fid, bytearray(payload))
            return None
        entry = self._parts.get(sender)
        if entry is None or fid != entry[1] + 1:
            self._parts.pop(sender, None)
            raise MalformedError(f"AFL fragment {fid} arrived without its predecessor")
        first, _, data = entry
        data += payload
        if len(data) > self._max_bytes:
            self._parts.pop(sender, None)
            raise LengthError("reassembled AFL message is too long")
        if afl.more_fragments:
            self._parts[sender] = (first, fid, data)
            return None
        del self._parts[sender]
        # The MAC travels in the fragment that carries it; prefer the last one's.
        merged = (
            first
            if not afl.mac
            else Afl(
                first.fcl & ~FCL_MF,
                first.mcl,
                first.key_info,
                first.counter,
                afl.mac,
                first.message_length,
                first.auth_bytes,
                first.payload_offset,
            )
        )
        return merged, bytes(data)
