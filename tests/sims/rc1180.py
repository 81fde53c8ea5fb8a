"""Radiocrafts RC1180-MBUS simulator: config mode (00 -> '>', '0' -> memory + '>', 'X' exits), data frames."""

from __future__ import annotations

from .endpoint import SimDevice


class Rc1180Sim(SimDevice):
    """``rssi``: memory byte 5 (RSSI mode); telegrams are sent only in data mode."""

    def __init__(self, *, rssi: bool = True) -> None:
        super().__init__()
        memory = bytearray(256)
        memory[5] = 1 if rssi else 0
        memory[0x19:0x21] = bytes.fromhex("a511785634120107")
        memory[0x30] = 0x05
        self.memory = memory
        self.config_mode = False
        self.exits = 0

    def handle(self, data: bytes) -> None:
        for byte in data:
            if not self.config_mode:
                if byte == 0x00:
                    self.config_mode = True
                    self.send(b">")
                continue
            if byte == ord("0"):
                self.send(bytes(self.memory) + b">")
            elif byte == ord("X"):
                self.config_mode = False
                self.exits += 1
            elif byte == 0x00:
                self.send(b">")

    def telegram_bytes(self, frame: bytes, rssi: int = 0x78) -> bytes:
        return frame + (bytes((rssi,)) if self.memory[5] == 1 else b"")

    def telegram(self, frame: bytes, rssi: int = 0x78) -> None:
        if not self.config_mode:
            self.send(self.telegram_bytes(frame, rssi))
