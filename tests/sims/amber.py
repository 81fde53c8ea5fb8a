"""Amber AMB8465 simulator: FF command frames (XOR checksum), NV read, serial number, SET_MODE, DATA_IND."""

from __future__ import annotations

from functools import reduce
from operator import xor

from .endpoint import SimDevice


def command(cmd: int, payload: bytes) -> bytes:
    body = bytes((0xFF, cmd, len(payload))) + payload
    return body + bytes((reduce(xor, body),))


class AmberSim(SimDevice):
    """``rssi``: NV auto-RSSI (byte 69); ``transparent``: NV UART_CMD_Out_Enable (byte 5) = 0."""

    def __init__(self, *, rssi: bool = True, transparent: bool = False, nv_size: int = 120) -> None:
        super().__init__()
        nv = bytearray(nv_size)
        nv[5] = 0 if transparent else 1
        nv[69] = 1 if rssi else 0
        self.nv = nv
        self.mode: int | None = None
        self.requests: list[tuple[int, bytes]] = []
        self._buf = bytearray()

    @property
    def rssi(self) -> bool:
        return self.nv[69] == 1

    @property
    def transparent(self) -> bool:
        return self.nv[5] == 0

    def handle(self, data: bytes) -> None:
        self._buf += data
        while True:
            start = self._buf.find(0xFF)
            if start < 0:
                self._buf.clear()
                return
            del self._buf[:start]
            if len(self._buf) < 3 or len(self._buf) < self._buf[2] + 4:
                return
            total = self._buf[2] + 4
            frame = bytes(self._buf[:total])
            del self._buf[:total]
            if reduce(xor, frame[:-1]) != frame[-1]:
                continue
            cmd, payload = frame[1], frame[3:-1]
            self.requests.append((cmd, payload))
            if cmd == 0x0A:
                self.send(command(0x8A, bytes((0x00, len(self.nv))) + bytes(self.nv)))
            elif cmd == 0x0B:
                self.send(command(0x8B, bytes.fromhex("0042a1b2")))
            elif cmd == 0x04 and len(payload) == 1:
                self.mode = payload[0]
                self.send(command(0x84, b"\x00"))

    def telegram_bytes(self, frame: bytes, rssi: int = 0x1C) -> bytes:
        """DATA_IND (command mode: from C, + RSSI byte when on) or the bare frame (transparent)."""
        if self.transparent:
            return frame
        return command(0x03, frame[1:] + (bytes((rssi,)) if self.rssi else b""))

    def telegram(self, frame: bytes, rssi: int = 0x1C) -> None:
        self.send(self.telegram_bytes(frame, rssi))
