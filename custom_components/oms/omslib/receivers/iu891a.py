"""IMST iU891A(-XL): WiMOD HCI in SLIP frames (RFC 1055), 115200 8N1.

Inside a SLIP frame: ``SAP | msg id | [status, responses only] | payload | CRC-16/X-25 (LE)``.
SAP 0x01 device management, 0x09 wM-Bus gateway; ``RX_MESSAGE_IND`` (0x20) carries a
received telegram: 4-byte timestamp, 3 bytes, RSSI (int8, dBm), then the frame from its L byte.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..frame import Frame
from .base import (
    LINK_MODE_LABELS,
    FramerStats,
    ReceiverInfo,
    UnsupportedModeError,
    WrongDeviceError,
    display_device,
    register_receiver,
)
from .ccitt import crc16_x25, x25_ok
from .imst import ImstReceiver

END = 0xC0
ESC = 0xDB
ESC_END = 0xDC
ESC_ESC = 0xDD
WAKE_UP = bytes((END,)) * 30
"""Sent before the first request: wakes a sleeping stick."""

SAP_DEVMGMT = 0x01
SAP_WMBUSGW = 0x09
DEVMGMT_PING_REQ = 0x01
DEVMGMT_PING_RSP = 0x02
DEVMGMT_GET_DEVICE_INFO_REQ = 0x03
DEVMGMT_GET_DEVICE_INFO_RSP = 0x04
WMBUSGW_SET_ACTIVE_CONFIGURATION_REQ = 0x03
WMBUSGW_SET_ACTIVE_CONFIGURATION_RSP = 0x04
WMBUSGW_RX_MESSAGE_IND = 0x20

MODE_BYTES: dict[str, int] = {"s1": 1, "t1": 2, "c1t1": 3, "c1": 5}
MODULE_TYPES = {0x6D: "iM891A-XL", 0x6E: "iU891A-XL", 0xA3: "iM881A-XL", 0x71: "iU893A-XL"}

MAX_FRAME = 600
"""Longest SLIP frame kept while waiting for its END (a telegram is at most ~270 bytes)."""


@dataclass(frozen=True, slots=True)
class WimodMessage:
    """One unescaped HCI message with a good CRC; ``status`` is set on responses only."""

    sap: int
    msg_id: int
    payload: bytes
    status: int | None = None


def _is_indication(sap: int, msg_id: int) -> bool:
    return sap == SAP_WMBUSGW and msg_id in (0x20, 0x24, 0x34, 0x38)


def slip_encode(data: bytes) -> bytes:
    """SLIP-frame ``data``: END, escaped data, END."""
    body = data.replace(bytes((ESC,)), bytes((ESC, ESC_ESC))).replace(bytes((END,)), bytes((ESC, ESC_END)))
    return bytes((END,)) + body + bytes((END,))


def slip_decode(data: bytes) -> bytes | None:
    """Undo SLIP escaping of one frame's body; None when an escape is invalid."""
    if ESC not in data:
        return data
    out = bytearray()
    it = iter(data)
    for byte in it:
        if byte == ESC:
            nxt = next(it, None)
            if nxt == ESC_END:
                out.append(END)
            elif nxt == ESC_ESC:
                out.append(ESC)
            else:
                return None
        else:
            out.append(byte)
    return bytes(out)


def encode_wimod(sap: int, msg_id: int, payload: bytes = b"", status: int | None = None) -> bytes:
    """One SLIP-framed HCI message (``status`` for responses, as a stick sends them)."""
    body = bytes((sap, msg_id)) + (b"" if status is None else bytes((status,))) + payload
    return slip_encode(body + crc16_x25(body).to_bytes(2, "little"))


def feed_wimod(buffer: bytearray, stats: FramerStats | None = None, /) -> list[WimodMessage]:
    """Pure framer for SLIP-framed WiMOD HCI messages.

    Runs of END bytes are skipped; a frame whose unescaping or CRC fails is
    dropped; an END-less tail longer than :data:`MAX_FRAME` is discarded.
    """
    out: list[WimodMessage] = []
    start = 0
    size = len(buffer)
    while True:
        while start < size and buffer[start] == END:
            start += 1
        if start >= size:
            break
        end = buffer.find(END, start)
        if end < 0:
            if size - start > MAX_FRAME:
                if stats is not None:
                    stats.garbage_bytes += size - start
                start = size
            break
        raw = slip_decode(bytes(buffer[start:end]))
        if raw is None or len(raw) < 4:
            if stats is not None:
                stats.garbage_bytes += end - start
            start = end
            continue
        start = end
        if not x25_ok(raw):
            if stats is not None:
                stats.bad_checksum += 1
            continue
        sap, msg_id = raw[0], raw[1]
        if _is_indication(sap, msg_id) or len(raw) < 5:
            out.append(WimodMessage(sap, msg_id, raw[2:-2]))
        else:
            out.append(WimodMessage(sap, msg_id, raw[3:-2], raw[2]))
    if start:
        del buffer[:start]
    if stats is not None:
        stats.messages += len(out)
    return out


@register_receiver
class Iu891aReceiver(ImstReceiver[WimodMessage]):
    """IMST iU891A-XL USB stick (and the other WiMOD wM-Bus gateway modules)."""

    kind: ClassVar[str] = "iu891a"
    model: ClassVar[str] = "iU891A"
    baudrate: ClassVar[int] = 115200
    ping = (SAP_DEVMGMT, DEVMGMT_PING_REQ, DEVMGMT_PING_RSP)

    def _frame(self, buffer: bytearray, stats: FramerStats | None) -> list[WimodMessage]:
        return feed_wimod(buffer, stats)

    def _encode(self, endpoint: int, msg_id: int, payload: bytes) -> bytes:
        return encode_wimod(endpoint, msg_id, payload)

    def _source(self, message: WimodMessage) -> tuple[int, int]:
        return message.sap, message.msg_id

    async def _identify(self) -> ReceiverInfo:
        self._write(WAKE_UP)
        reply = await self._call(
            SAP_DEVMGMT,
            DEVMGMT_GET_DEVICE_INFO_REQ,
            DEVMGMT_GET_DEVICE_INFO_RSP,
            what="the device-info request",
        )
        payload = reply.payload
        if len(payload) < 5:
            raise WrongDeviceError(f"Port {display_device(self.device)} sent an invalid iU891A device info")
        model = MODULE_TYPES.get(payload[0], f"WiMOD 0x{payload[0]:02x}")
        serial = f"{int.from_bytes(payload[1:5], 'little'):08x}"
        return ReceiverInfo(kind=self.kind, model=model, serial=serial)

    async def _configure(self) -> None:
        mode = self.link_mode
        # link mode; option bits: receive all (bit 0 clear) + RX/TX indications;
        # UI option bits 0; LED flash 0 ms; recalibrate 0 ms
        body = bytes((MODE_BYTES[mode], 0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0, 0, 0, 0))
        reply = await self._call(
            SAP_WMBUSGW,
            WMBUSGW_SET_ACTIVE_CONFIGURATION_REQ,
            WMBUSGW_SET_ACTIVE_CONFIGURATION_RSP,
            body,
            what="the link-mode configuration",
        )
        if reply.status:
            raise UnsupportedModeError(
                f"iU891A rejected link mode {LINK_MODE_LABELS[mode]} (status {reply.status})"
            )

    def _to_frame(self, message: WimodMessage) -> Frame | None:
        if message.sap != SAP_WMBUSGW or message.msg_id != WMBUSGW_RX_MESSAGE_IND:
            return None
        payload = message.payload
        if len(payload) < 10:
            return None
        rssi = payload[7] - 256 if payload[7] >= 128 else payload[7]
        return Frame(
            raw=bytes(payload[8:]),
            rssi_dbm=float(rssi),
            link_mode=LINK_MODE_LABELS[self.link_mode],
            receiver_id=self.receiver_id,
            frame_format="none",  # the stick checked and removed the block CRCs
        )
