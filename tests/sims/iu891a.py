"""iU891A simulator: SLIP-framed WiMOD HCI; device info, SET_ACTIVE_CONFIGURATION, ping, RX_MESSAGE_IND."""

from __future__ import annotations

from .endpoint import SimDevice, crc16_x25_bitwise

END, ESC = 0xC0, 0xDB


def slip(body: bytes) -> bytes:
    out = bytearray((END,))
    for byte in body:
        if byte == END:
            out += bytes((ESC, 0xDC))
        elif byte == ESC:
            out += bytes((ESC, 0xDD))
        else:
            out.append(byte)
    out.append(END)
    return bytes(out)


def unslip(data: bytes) -> bytes:
    return data.replace(bytes((ESC, 0xDC)), bytes((END,))).replace(bytes((ESC, 0xDD)), bytes((ESC,)))


def message(sap: int, msg_id: int, payload: bytes, status: int | None = None) -> bytes:
    body = bytes((sap, msg_id)) + (b"" if status is None else bytes((status,))) + payload
    return slip(body + crc16_x25_bitwise(body).to_bytes(2, "little"))


class Iu891aSim(SimDevice):
    """Answers DEVICE_INFO (01/03), PING (01/01), SET_ACTIVE_CONFIGURATION (09/03)."""

    def __init__(self, *, module_type: int = 0x6E, uid: int = 0x0BADCAFE) -> None:
        super().__init__()
        self.module_type = module_type
        self.uid = uid
        self.mode: int | None = None
        self.requests: list[tuple[int, int, bytes]] = []
        self._buf = bytearray()

    def handle(self, data: bytes) -> None:
        self._buf += data
        while (end := self._buf.find(END, 1)) >= 0:
            raw = unslip(bytes(self._buf[:end]).strip(bytes((END,))))
            del self._buf[:end]
            while self._buf[:1] == bytes((END,)):
                del self._buf[:1]
            if len(raw) < 4 or crc16_x25_bitwise(raw[:-2]) != int.from_bytes(raw[-2:], "little"):
                continue
            sap, msg, payload = raw[0], raw[1], raw[2:-2]
            self.requests.append((sap, msg, payload))
            if sap == 0x01 and msg == 0x03:
                self.send(message(0x01, 0x04, bytes((self.module_type,)) + self.uid.to_bytes(4, "little"), 0))
            elif sap == 0x01 and msg == 0x01:
                self.send(message(0x01, 0x02, b"", 0))
            elif sap == 0x09 and msg == 0x03 and len(payload) == 11:
                self.mode = payload[0]
                self.send(message(0x09, 0x04, b"", 0))

    def telegram_bytes(self, frame: bytes, rssi_dbm: int = -60, timestamp: int = 0x386D439F) -> bytes:
        payload = timestamp.to_bytes(4, "little") + bytes((0, 0, 2, rssi_dbm & 0xFF)) + frame
        return message(0x09, 0x20, payload)

    def telegram(self, frame: bytes, rssi_dbm: int = -60) -> None:
        self.send(self.telegram_bytes(frame, rssi_dbm))
