"""iM871A simulator: WiMOD HCI (A5 framing) with device info, SET_CONFIG, ping and WMBUSMSG_IND."""

from __future__ import annotations

from .endpoint import SimDevice, crc16_x25_bitwise

MODES = {0x00: "S1", 0x03: "T1", 0x07: "C1", 0x0A: "C1/T1"}


def hci(endpoint: int, msg_id: int, payload: bytes, *, rssi: int | None = None, crc: bool = True) -> bytes:
    """One HCI message as the stick sends it (CRC over ctrl..RSSI)."""
    ctrl = (0x4 if rssi is not None else 0) | (0x8 if crc else 0)
    body = bytes((ctrl << 4 | endpoint, msg_id, len(payload))) + payload
    if rssi is not None:
        body += bytes((rssi,))
    if crc:
        body += crc16_x25_bitwise(body).to_bytes(2, "little")
    return b"\xa5" + body


class Im871aSim(SimDevice):
    """Answers GET_DEVICEINFO (0x0F), SET_CONFIG (0x03), GET_CONFIG (0x05), PING (0x01)."""

    def __init__(self, *, module_type: int = 0x33, firmware: int = 0x15, uid: int = 0x12345678) -> None:
        super().__init__()
        self.module_type = module_type
        self.firmware = firmware
        self.uid = uid
        self.mode: int | None = None
        self.rssi_enabled = False
        self.requests: list[tuple[int, int, bytes]] = []
        self._buf = bytearray()

    def handle(self, data: bytes) -> None:
        self._buf += data
        while True:
            start = self._buf.find(0xA5)
            if start < 0:
                self._buf.clear()
                return
            del self._buf[:start]
            if len(self._buf) < 4 or len(self._buf) < 4 + self._buf[3]:
                return
            ep, msg, n = self._buf[1] & 0x0F, self._buf[2], self._buf[3]
            payload = bytes(self._buf[4 : 4 + n])
            del self._buf[: 4 + n + (2 if self._buf[1] & 0x80 else 0)]
            self.requests.append((ep, msg, payload))
            self.answer(ep, msg, payload)

    def answer(self, ep: int, msg: int, payload: bytes) -> None:
        if ep != 0x01:
            return
        if msg == 0x0F:
            info = bytes((self.module_type, 0x00, self.firmware, 0x02)) + self.uid.to_bytes(4, "little")
            self.send(hci(0x01, 0x10, info))
        elif msg == 0x03 and len(payload) >= 3:
            self.mode = payload[2]
            self.rssi_enabled = len(payload) >= 5 and bool(payload[3] & 0x10) and payload[4] == 1
            self.send(hci(0x01, 0x04, b"\x00"))
        elif msg == 0x05:
            self.send(hci(0x01, 0x06, bytes((0x02, self.mode or 0, 0x10, int(self.rssi_enabled)))))
        elif msg == 0x01:
            self.send(hci(0x01, 0x02, b""))

    def telegram_bytes(self, frame: bytes, rssi: int = 125) -> bytes:
        """WMBUSMSG_IND for ``frame`` (from its L byte): the stick drops L and appends RSSI + CRC."""
        return hci(0x02, 0x03, frame[1:], rssi=rssi if self.rssi_enabled else None)

    def telegram(self, frame: bytes, rssi: int = 125) -> None:
        self.send(self.telegram_bytes(frame, rssi))
