"""Amber / Würth Elektronik AMB8465, AMB8665 (868 MHz) and AMB3665 (169 MHz) in command mode, 9600 8N1.

Command frame: ``FF | cmd | len | payload | CS`` with CS the XOR of every byte before it;
a response has ``cmd | 0x80``. A received telegram is ``DATA_IND`` (0x03): the payload starts
at the C field, and ends with an RSSI byte when the stick's auto-RSSI setting is on.
With UART command output disabled ("transparent mode") a telegram arrives as a bare
``L C M …`` frame instead; command responses still use ``FF`` frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..frame import Frame
from .base import (
    LINK_MODE_LABELS,
    FramerStats,
    LinkMode,
    NoAnswerError,
    ReceiverInfo,
    StreamReceiver,
    UnsupportedModeError,
    WrongDeviceError,
    display_device,
    plausible_frame_start,
    register_receiver,
)

SOF = 0xFF
CMD_DATA_IND = 0x03
CMD_SET_MODE = 0x04
CMD_GET = 0x0A
CMD_SERIALNO = 0x0B
RESPONSE = 0x80

NV_CMD_OUT_ENABLE = 5
NV_AUTO_RSSI = 69
NV_READ_LENGTH = 0x80

MODE_BYTES: dict[LinkMode, int] = {"c1t1": 0x09, "s1": 0x03, "t1": 0x08, "c1": 0x0E}
"""Receive mode -> SET_MODE byte (the "-Other" modes hear meters, not other gateways)."""


@dataclass(frozen=True, slots=True)
class AmberMessage:
    """A command frame with a good checksum, or (``cmd`` None) a bare frame from its L byte."""

    cmd: int | None
    payload: bytes


def xor8(data: bytes | bytearray | memoryview) -> int:
    """XOR of all bytes (folded as one big integer: C speed)."""
    n = len(data)
    value = int.from_bytes(data, "big")
    width = 1
    while width < n:
        width <<= 1
    while width > 1:
        width >>= 1
        bits = width * 8
        value = (value >> bits) ^ (value & ((1 << bits) - 1))
    return value & 0xFF


def encode_amber(cmd: int, payload: bytes = b"") -> bytes:
    """One command frame with its checksum."""
    body = bytes((SOF, cmd, len(payload))) + payload
    return body + bytes((xor8(body),))


def _feed(buffer: bytearray, stats: FramerStats | None, transparent: bool) -> list[AmberMessage]:
    out: list[AmberMessage] = []
    while buffer:
        if buffer[0] != SOF:
            if transparent:
                start = plausible_frame_start(buffer)
                if start is None:
                    break
                if start:
                    size = buffer[0] + 1
                    if len(buffer) < size:
                        break
                    out.append(AmberMessage(None, bytes(buffer[:size])))
                    del buffer[:size]
                    continue
                skip = 1
            else:
                pos = buffer.find(SOF)
                skip = len(buffer) if pos < 0 else pos
            if stats is not None:
                stats.garbage_bytes += skip
            del buffer[:skip]
            continue
        if len(buffer) < 3:
            break
        total = buffer[2] + 4
        if len(buffer) < total:
            break
        if xor8(memoryview(buffer)[: total - 1]) != buffer[total - 1]:
            if stats is not None:
                stats.bad_checksum += 1
            del buffer[:1]
            continue
        out.append(AmberMessage(buffer[1], bytes(buffer[3 : total - 1])))
        del buffer[:total]
    if stats is not None:
        stats.messages += len(out)
    return out


def feed_amber(buffer: bytearray, stats: FramerStats | None = None, /) -> list[AmberMessage]:
    """Pure framer for command mode: ``FF`` frames only, anything else is garbage."""
    return _feed(buffer, stats, False)


def feed_amber_transparent(buffer: bytearray, stats: FramerStats | None = None, /) -> list[AmberMessage]:
    """Pure framer for transparent mode: ``FF`` command frames and bare ``L C …`` frames."""
    return _feed(buffer, stats, True)


def rssi_to_dbm(rssi: int) -> float:
    """Amber RSSI byte (two's complement, half dB) -> dBm."""
    return (rssi - 256 if rssi >= 128 else rssi) / 2 - 74


@register_receiver
class AmberReceiver(StreamReceiver[AmberMessage]):
    """Amber/Würth AMB8465, AMB8665 or AMB3665 stick."""

    kind: ClassVar[str] = "amber"
    model: ClassVar[str] = "Amber AMB8465"
    baudrate: ClassVar[int] = 9600
    has_keepalive: ClassVar[bool] = True
    rssi_enabled = True
    transparent = False
    band_169 = False

    def _frame(self, buffer: bytearray, stats: FramerStats | None) -> list[AmberMessage]:
        return _feed(buffer, stats, self.transparent)

    async def _read_nv(self) -> bytes:
        reply = await self._request(
            encode_amber(CMD_GET, bytes((0x00, NV_READ_LENGTH))),
            lambda m: m.cmd == CMD_GET | RESPONSE,
            what="the configuration read",
        )
        return reply.payload

    async def _identify(self) -> ReceiverInfo:
        self.transparent = True  # accept a stick in either output mode until the NV says which
        payload = await self._read_nv()
        if len(payload) < 2 + NV_AUTO_RSSI + 1:
            raise WrongDeviceError(f"Port {display_device(self.device)} sent a short Amber configuration")
        nv = payload[2:]
        self.transparent = nv[NV_CMD_OUT_ENABLE] == 0
        self.rssi_enabled = nv[NV_AUTO_RSSI] == 1
        # the reply length tells the family: 120 bytes of NV (868 MHz) or 128 (AMB3665, 169 MHz)
        self.band_169 = len(nv) >= 128
        model = "AMB3665" if self.band_169 else "AMB8465"
        serial: str | None = None
        try:
            reply = await self._request(
                encode_amber(CMD_SERIALNO),
                lambda m: m.cmd == CMD_SERIALNO | RESPONSE,
                within=min(self.timing.response_timeout, 0.5),
                what="the serial-number request",
            )
        except NoAnswerError:  # the serial number is optional
            reply = None
        if reply is not None and len(reply.payload) >= 4:
            serial = reply.payload[:4].hex()
        return ReceiverInfo(kind=self.kind, model=model, serial=serial)

    async def _configure(self) -> None:
        mode = self.link_mode
        if self.band_169:
            raise UnsupportedModeError(
                f"The AMB3665 receives 169 MHz N modes only, not {LINK_MODE_LABELS[mode]}"
            )
        reply = await self._request(
            encode_amber(CMD_SET_MODE, bytes((MODE_BYTES[mode],))),
            lambda m: m.cmd == CMD_SET_MODE | RESPONSE,
            what="the link-mode configuration",
        )
        if reply.payload[:1] not in (b"", b"\x00"):
            raise UnsupportedModeError(
                f"Amber stick rejected link mode {LINK_MODE_LABELS[mode]} (status {reply.payload[0]})"
            )

    async def _keepalive(self) -> None:
        await self._request(
            encode_amber(CMD_SERIALNO), lambda m: m.cmd == CMD_SERIALNO | RESPONSE, what="a keep-alive"
        )

    def _to_frame(self, message: AmberMessage) -> Frame | None:
        label = LINK_MODE_LABELS[self.link_mode]
        if message.cmd is None:
            return Frame(
                raw=message.payload, link_mode=label, receiver_id=self.receiver_id, frame_format="none"
            )
        if message.cmd != CMD_DATA_IND or len(message.payload) < 2:
            return None
        payload = message.payload
        rssi: float | None = None
        if self.rssi_enabled:
            rssi = rssi_to_dbm(payload[-1])
            payload = payload[:-1]
        return Frame(
            raw=bytes((len(payload),)) + payload,
            rssi_dbm=rssi,
            link_mode=label,
            receiver_id=self.receiver_id,
            frame_format="none",  # the stick checked and removed the block CRCs
        )
