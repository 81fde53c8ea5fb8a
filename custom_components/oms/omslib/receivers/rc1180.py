"""Radiocrafts RC1180-MBUS(3) module, 19200 8N1 by default.

Configuration mode: ``00`` -> prompt ``>``; ``0`` -> the 256-byte configuration memory
followed by ``>``; ``X`` leaves configuration mode. Memory: RSSI mode at 0x05,
meter address at 0x19-0x20, UART baud at 0x30, data interface at 0x36.
In data mode a telegram arrives as a bare ``L C M …`` frame without block CRCs,
followed by one RSSI byte when the RSSI mode is 1. The module listens in T1 only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..frame import Frame
from .base import (
    FramerStats,
    LinkMode,
    ReceiverInfo,
    StreamReceiver,
    WrongDeviceError,
    display_device,
    plausible_frame_start,
    register_receiver,
)

PROMPT = b">"
ENTER_CONFIG = b"\x00"
READ_MEMORY = b"0"
EXIT_CONFIG = b"X"
MEMORY_SIZE = 256
MEM_RSSI_MODE = 0x05
MEM_ADDRESS = slice(0x19, 0x21)


@dataclass(frozen=True, slots=True)
class Rc1180Frame:
    """A bare frame from its L byte and the RSSI byte after it (when the module appends one)."""

    raw: bytes
    rssi: int | None = None


def _feed_frames(buffer: bytearray, stats: FramerStats | None, rssi: bool) -> list[Rc1180Frame]:
    out: list[Rc1180Frame] = []
    extra = 1 if rssi else 0
    while buffer:
        start = plausible_frame_start(buffer)
        if start is None:
            break
        if not start:
            if stats is not None:
                stats.garbage_bytes += 1
            del buffer[:1]
            continue
        first = buffer[0]
        total = first + 1 + extra
        if len(buffer) < total:
            break
        out.append(Rc1180Frame(bytes(buffer[: first + 1]), buffer[first + 1] if rssi else None))
        del buffer[:total]
    if stats is not None:
        stats.messages += len(out)
    return out


def feed_rc1180(buffer: bytearray, stats: FramerStats | None = None, /) -> list[Rc1180Frame]:
    """Pure framer for data mode with RSSI mode on: ``L C … RSSI``; resyncs on L >= 10 and a valid C field."""
    return _feed_frames(buffer, stats, True)


def feed_rc1180_no_rssi(buffer: bytearray, stats: FramerStats | None = None, /) -> list[Rc1180Frame]:
    """Pure framer for data mode with RSSI mode off."""
    return _feed_frames(buffer, stats, False)


def rssi_to_dbm(rssi: int) -> float:
    """RC1180 RSSI byte -> dBm (the module reports −2·dBm)."""
    return -rssi / 2


@register_receiver
class Rc1180Receiver(StreamReceiver[Rc1180Frame | bytes]):
    """Radiocrafts RC1180-MBUS: T1 only; the link mode is not changed."""

    kind: ClassVar[str] = "rc1180"
    model: ClassVar[str] = "RC1180"
    baudrate: ClassVar[int] = 19200
    supported_modes: ClassVar[tuple[LinkMode, ...]] = ("t1",)

    _config_mode = False
    _rssi = True
    _config_reply: bytearray

    def _frame(self, buffer: bytearray, stats: FramerStats | None) -> list[Rc1180Frame | bytes]:
        if self._config_mode:
            # configuration replies: hand the whole reply so far to the waiting request
            self._config_reply += buffer
            buffer.clear()
            del self._config_reply[: -(MEMORY_SIZE + 64)]
            return [bytes(self._config_reply)]
        return list(_feed_frames(buffer, stats, self._rssi))

    async def _config_request(self, data: bytes, size: int, what: str) -> bytes:
        self._config_reply = bytearray()
        reply = await self._request(
            data,
            lambda m: isinstance(m, bytes) and len(m) >= size and m.endswith(PROMPT),
            what=what,
        )
        assert isinstance(reply, bytes)
        return reply

    async def _identify(self) -> ReceiverInfo:
        self._config_mode = True
        self._config_reply = bytearray()
        try:
            await self._config_request(ENTER_CONFIG, 1, "the configuration-mode request")
            memory = await self._config_request(READ_MEMORY, MEMORY_SIZE + 1, "the memory read")
        finally:
            if self._transport is not None and not self._transport.is_closing():
                self._write(EXIT_CONFIG)
            self._config_mode = False
            self._buffer.clear()
        memory = memory[-(MEMORY_SIZE + 1) : -1]
        if len(memory) != MEMORY_SIZE:
            raise WrongDeviceError(f"Port {display_device(self.device)} sent a short RC1180 memory dump")
        self._rssi = memory[MEM_RSSI_MODE] == 1
        return ReceiverInfo(kind=self.kind, model="RC1180-MBUS", serial=memory[MEM_ADDRESS].hex())

    def _to_frame(self, message: Rc1180Frame | bytes) -> Frame | None:
        if isinstance(message, bytes):
            return None
        return Frame(
            raw=message.raw,
            rssi_dbm=None if message.rssi is None else rssi_to_dbm(message.rssi),
            link_mode="T1",
            receiver_id=self.receiver_id,
            frame_format="none",  # data mode: the module checked and removed the block CRCs
        )
