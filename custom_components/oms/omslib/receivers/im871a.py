"""IMST iM871A / iM170A: WiMOD HCI over a serial port (WMBus HCI spec v1.6), 57600 8N1.

HCI message: ``A5 | ctrl<<4 | endpoint | msg id | len | payload | [timestamp 4] | [RSSI 1] | [CRC 2]``.
ctrl bits: 0x2 timestamp, 0x4 RSSI, 0x8 CRC (CRC-16/X-25 over ctrl..RSSI, little endian).
A received telegram is RADIOLINK ``WMBUSMSG_IND`` whose payload starts at the C field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..frame import Frame
from .base import (
    LINK_MODE_LABELS,
    FramerStats,
    NoAnswerError,
    ReceiverInfo,
    UnsupportedModeError,
    WrongDeviceError,
    display_device,
    register_receiver,
)
from .ccitt import crc16_x25, x25_ok
from .imst import ImstReceiver

SOF = 0xA5
CTRL_TIMESTAMP = 0x2
CTRL_RSSI = 0x4
CTRL_CRC = 0x8

EP_DEVMGMT = 0x01
EP_RADIOLINK = 0x02
EP_RADIOLINKTEST = 0x03
EP_HWTEST = 0x04

DEVMGMT_PING_REQ = 0x01
DEVMGMT_PING_RSP = 0x02
DEVMGMT_SET_CONFIG_REQ = 0x03
DEVMGMT_SET_CONFIG_RSP = 0x04
DEVMGMT_GET_CONFIG_REQ = 0x05
DEVMGMT_GET_CONFIG_RSP = 0x06
DEVMGMT_GET_DEVICEINFO_REQ = 0x0F
DEVMGMT_GET_DEVICEINFO_RSP = 0x10
RADIOLINK_WMBUSMSG_IND = 0x03

MODULE_IM871A = 0x33
MODULE_IM170A = 0x36

MODE_BYTES: dict[str, int] = {"s1": 0x00, "t1": 0x03, "c1": 0x07, "c1t1": 0x0A}
"""Receive link mode -> LinkModeIM871A byte (S1, T1, C1b, C/T)."""
FIRMWARE_C_AND_T = 0x14
"""First firmware that receives C1 and T1 at once."""

MAX_PAYLOAD = 255


@dataclass(frozen=True, slots=True)
class HciMessage:
    """One HCI message with a good CRC (or none)."""

    endpoint: int
    msg_id: int
    payload: bytes
    rssi: int | None = None
    timestamp: int | None = None


def encode_hci(endpoint: int, msg_id: int, payload: bytes = b"", *, crc: bool = False) -> bytes:
    """One HCI request; ``crc`` adds the optional CRC (ctrl bit 0x8)."""
    body = bytes(((CTRL_CRC if crc else 0) << 4 | endpoint, msg_id, len(payload))) + payload
    if crc:
        body += crc16_x25(body).to_bytes(2, "little")
    return bytes((SOF,)) + body


def feed_hci(buffer: bytearray, stats: FramerStats | None = None, /) -> list[HciMessage]:
    """Pure framer for iM871A HCI: complete messages out, garbage skipped, partial left in ``buffer``."""
    out: list[HciMessage] = []
    while buffer:
        if buffer[0] != SOF:
            pos = buffer.find(SOF)
            skipped = len(buffer) if pos < 0 else pos
            if stats is not None:
                stats.garbage_bytes += skipped
            del buffer[:skipped]
            continue
        if len(buffer) < 4:
            break
        head = buffer[1]
        ctrl, endpoint = head >> 4, head & 0x0F
        if ctrl & 0x1 or not EP_DEVMGMT <= endpoint <= EP_HWTEST:
            # not a plausible header: this A5 was garbage
            if stats is not None:
                stats.garbage_bytes += 1
            del buffer[:1]
            continue
        length = buffer[3]
        end = 4 + length
        ts_at = end
        if ctrl & CTRL_TIMESTAMP:
            end += 4
        rssi_at = end
        if ctrl & CTRL_RSSI:
            end += 1
        total = end + (2 if ctrl & CTRL_CRC else 0)
        if len(buffer) < total:
            break
        if ctrl & CTRL_CRC and not x25_ok(memoryview(buffer)[1:total]):
            if stats is not None:
                stats.bad_checksum += 1
            del buffer[:1]
            continue
        out.append(
            HciMessage(
                endpoint,
                buffer[2],
                bytes(buffer[4 : 4 + length]),
                buffer[rssi_at] if ctrl & CTRL_RSSI else None,
                int.from_bytes(buffer[ts_at : ts_at + 4], "little") if ctrl & CTRL_TIMESTAMP else None,
            )
        )
        del buffer[:total]
    if stats is not None:
        stats.messages += len(out)
    return out


def rssi_to_dbm(rssi: int) -> float:
    """iM871A RSSI byte -> dBm: linear from 45 (−100 dBm) to 205 (−20 dBm), 0 dBm from 230 up."""
    if rssi >= 230:
        return 0.0
    return -100.0 + (80.0 / 160.0) * (rssi - 45)


def parse_device_info(payload: bytes) -> tuple[str, str, str]:
    """(model, firmware, serial) from a GET_DEVICEINFO_RSP payload.

    Payload: module type, device mode, firmware version, HCI version, 4-byte unique ID (LE).
    """
    if len(payload) < 8:
        raise ValueError("device info too short")
    model = "iM871A" if payload[0] == MODULE_IM871A else "iM170A"
    firmware = f"{payload[2]:02x}"
    serial = f"{int.from_bytes(payload[4:8], 'little'):08x}"
    return model, firmware, serial


@register_receiver
class Im871aReceiver(ImstReceiver[HciMessage]):
    """IMST iM871A (and iM170A) USB stick."""

    kind: ClassVar[str] = "im871a"
    model: ClassVar[str] = "iM871A"
    baudrate: ClassVar[int] = 57600
    ping = (EP_DEVMGMT, DEVMGMT_PING_REQ, DEVMGMT_PING_RSP)
    firmware_version = 0

    def _frame(self, buffer: bytearray, stats: FramerStats | None) -> list[HciMessage]:
        return feed_hci(buffer, stats)

    def _encode(self, endpoint: int, msg_id: int, payload: bytes) -> bytes:
        return encode_hci(endpoint, msg_id, payload)

    def _source(self, message: HciMessage) -> tuple[int, int]:
        return message.endpoint, message.msg_id

    async def _identify(self) -> ReceiverInfo:
        reply = await self._call(
            EP_DEVMGMT, DEVMGMT_GET_DEVICEINFO_REQ, DEVMGMT_GET_DEVICEINFO_RSP, what="the device-info request"
        )
        try:
            model, firmware, serial = parse_device_info(reply.payload)
        except ValueError as err:
            raise WrongDeviceError(
                f"Port {display_device(self.device)} sent an invalid iM871A device info"
            ) from err
        self.firmware_version = reply.payload[2]
        return ReceiverInfo(kind=self.kind, model=model, firmware=firmware, serial=serial)

    async def _configure(self) -> None:
        mode = self.link_mode
        if mode == "c1t1" and self.firmware_version < FIRMWARE_C_AND_T:
            raise UnsupportedModeError(
                f"iM871A firmware {self.firmware_version:02x} cannot receive C1 and T1 at once; "
                "update it to 0x14 or later or pick C1 or T1"
            )
        # volatile; IIFlag1: link mode; IIFlag2: RSSI + timestamp fields; RSSI on, timestamp off
        payload = bytes((0x00, 0x02, MODE_BYTES[mode], 0x30, 0x01, 0x00))
        reply = await self._call(
            EP_DEVMGMT,
            DEVMGMT_SET_CONFIG_REQ,
            DEVMGMT_SET_CONFIG_RSP,
            payload,
            what="the link-mode configuration",
        )
        if reply.payload and reply.payload[0] != 0:
            raise UnsupportedModeError(
                f"iM871A rejected link mode {LINK_MODE_LABELS[mode]} (status {reply.payload[0]})"
            )

    def _to_frame(self, message: HciMessage) -> Frame | None:
        if message.endpoint != EP_RADIOLINK or message.msg_id != RADIOLINK_WMBUSMSG_IND:
            return None
        payload = message.payload
        if not payload:
            return None
        return Frame(
            raw=bytes((len(payload),)) + payload,
            rssi_dbm=None if message.rssi is None else rssi_to_dbm(message.rssi),
            link_mode=LINK_MODE_LABELS[self.link_mode],
            receiver_id=self.receiver_id,
            frame_format="none",  # the stick checked and removed the block CRCs
        )


__all__ = ["HciMessage", "Im871aReceiver", "NoAnswerError", "encode_hci", "feed_hci", "rssi_to_dbm"]
