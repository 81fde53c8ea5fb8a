"""culfw (CUL / nanoCUL) simulator for :class:`~tests.sims.endpoint.PtyEndpoint` / ``TcpEndpoint``.

Answers ``V`` with :attr:`CulSim.version`, the wM-Bus mode commands ``brt`` /
``brc`` / ``brs`` with TMODE / CMODE / SMODE (or with :attr:`CulSim.unknown_reply`
for modes not in :attr:`CulSim.modes`), and ``X21`` by starting reception.
:func:`cul_line` builds the ``b…`` / ``bY…`` lines culfw prints for a telegram.
"""

from __future__ import annotations

from tests.encoder import add_crc_format_a, add_crc_format_b

from .endpoint import SimDevice

MODE_REPLIES = {b"brt": b"TMODE", b"brc": b"CMODE", b"brs": b"SMODE"}


def rssi_byte(dbm: float) -> int:
    """dBm -> culfw's RSSI byte (inverse of signed/2 - 74)."""
    return round((dbm + 74) * 2) & 0xFF


def cul_line(frame: bytes, fmt: str = "A", *, rssi_dbm: float = -70.0, lqi: int = 0x30) -> bytes:
    """The culfw line (CRLF included) for a CRC-free ``frame``: CRCs inserted, LQI and RSSI appended."""
    if fmt == "A":
        prefix, raw = b"b", add_crc_format_a(frame)
    else:
        prefix, raw = b"bY", add_crc_format_b(frame)
    return prefix + (raw + bytes([lqi, rssi_byte(rssi_dbm)])).hex().upper().encode() + b"\r\n"


class CulSim(SimDevice):
    """A culfw stick with wM-Bus support."""

    def __init__(
        self, version: bytes = b"V 1.67 nanoCUL868", modes: tuple[bytes, ...] = (b"brt", b"brc", b"brs")
    ):
        super().__init__()
        self.version = version
        self.modes = modes
        self.unknown_reply = (
            b"? (brc is unknown) Use one of B b C F i A Z E G M K U Y R T V W X e f m l t u x"
        )
        self.commands: list[bytes] = []
        self.mode: bytes | None = None
        self.receiving = False
        self._buf = bytearray()

    def handle(self, data: bytes) -> None:
        self._buf += data
        while (pos := self._buf.find(b"\n")) >= 0:
            line = bytes(self._buf[:pos]).strip()
            del self._buf[: pos + 1]
            if line:
                self.command(line)

    def command(self, line: bytes) -> None:
        self.commands.append(line)
        if line == b"V":
            self.send(self.version + b"\r\n")
        elif line in MODE_REPLIES:
            if line in self.modes:
                self.mode = line
                self.send(MODE_REPLIES[line] + b"\r\n")
            else:
                self.send(self.unknown_reply + b"\r\n")
        elif line.startswith(b"X"):
            self.receiving = line == b"X21"
