"""A simulated wired M-Bus: several slaves behind a pseudo-terminal or a TCP gateway.

:class:`MbusBus` is a :class:`~tests.sims.endpoint.SimDevice`; put it behind a
:class:`~tests.sims.endpoint.PtyEndpoint` (a real pty, the master opens
``endpoint.path``) or a :class:`~tests.sims.endpoint.TcpEndpoint`
(``socket://127.0.0.1:<port>``). Frames are built with an implementation of
EN 13757-2 independent of the library's reader (only ``wired.long_frame`` is
reused, as a builder).

Bus semantics emulated:

* SND_NKE (``10 40 A``) → E5 from the slave at A and reset of its FCB state
  and telegram sequence; to 253 it deselects the selected slave (which acks).
* REQ_UD2 (``10 5B/7B A``) → RSP_UD long frame (C 08, CI 72 long header +
  records). With FCV set, a repeated FCB repeats the last telegram; a toggled
  FCB gives the next one of a multi-telegram readout (all but the last end
  with DIF 0x1F).
* Select (``68 0B 0B 68 73 FD 52 …``) with wildcards (ID nibble F, M FFFF,
  Ver FF, Med FF): matching slaves are selected and ack, the others deselect.
* Several slaves answering at once: the current-loop line is a wired AND of
  their bit streams. Replies are overlaid byte-wise with each slave's ``skew``
  (bytes of delay); an overlapped byte whose even parity no longer matches is a
  UART parity error and arrives as 0x00 (Linux INPCK without PARMRK). Two E5 in
  step are a clean E5; skewed they are two bytes; two different long frames
  give a frame with a wrong checksum or garbage.
* Line settings: on a pty the simulator reads the port's termios; a host
  opening it at another baud rate than the bus is not understood (silence).
  Linux ptys drop PARENB, so parity cannot be checked there.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
import termios
from typing import Literal

from custom_components.oms.omslib.wired import long_frame

from .endpoint import PtyEndpoint, SimDevice

Behaviour = Literal["ok", "silent", "bad_checksum"]


# -- record builders (EN 13757-3, hand-built) ----------------------------------


def bcd(value: int, digits: int) -> bytes:
    text = f"{value:0{digits}d}"
    return bytes.fromhex(text)[::-1]


def volume_litres(value: int) -> bytes:
    """``0C 13 <BCD8>``: volume in litres (m³ × 10⁻³)."""
    return bytes((0x0C, 0x13)) + bcd(value, 8)


def energy_kwh(value: int) -> bytes:
    """``04 06 <int32>``: energy in kWh."""
    return bytes((0x04, 0x06)) + value.to_bytes(4, "little", signed=True)


def fabrication_number(value: int) -> bytes:
    """``0C 78 <BCD8>``."""
    return bytes((0x0C, 0x78)) + bcd(value, 8)


def flow_temperature(tenths: int) -> bytes:
    """``02 5A <int16>``: flow temperature in 0.1 °C."""
    return bytes((0x02, 0x5A)) + tenths.to_bytes(2, "little", signed=True)


def secondary_wire(secondary: str) -> bytes:
    """``"12345678" "2D2C" "01" "07"`` → ``78 56 34 12 2D 2C 01 07``."""
    return bytes.fromhex(secondary[:8])[::-1] + bytes.fromhex(secondary[8:])


def _even_parity(byte: int) -> int:
    return bin(byte).count("1") & 1


# -- slaves ------------------------------------------------------------------------


@dataclass
class SimSlave:
    """One slave. ``telegrams`` are record blocks; the readout has ``len(telegrams)`` telegrams."""

    primary: int
    secondary: str
    """16 hex: ID (8 digits as printed), M (2 bytes, wire order), Ver, Med."""
    telegrams: list[bytes] = field(default_factory=lambda: [volume_litres(12345) + energy_kwh(678)])
    behaviour: Behaviour = "ok"
    skew: int = 0
    """Delay of this slave's answers in byte times when several answer at once."""
    drop_replies: int = 0
    """Answers lost on the line (the slave acts on the request, the master hears nothing)."""
    garble_replies: int = 0
    """Answers that arrive with a noise byte after them (the master sees a garbled answer)."""

    selected: bool = False
    last_fcb: int | None = None
    index: int = -1
    last_reply: bytes | None = None
    access: int = 0
    requests: list[int] = field(default_factory=list)
    """C fields of the requests this slave acted on."""

    def reset(self) -> None:
        self.last_fcb = None
        self.index = -1
        self.last_reply = None

    def matches(self, mask: str) -> bool:
        mask, own = mask.upper(), self.secondary.upper()
        if any(m not in ("F", s) for m, s in zip(mask[:8], own[:8], strict=True)):
            return False
        return all(mask[i : i + n] in ("F" * n, own[i : i + n]) for i, n in ((8, 4), (12, 2), (14, 2)))

    def rsp_ud(self, c_field: int) -> bytes:
        fcv, fcb = bool(c_field & 0x10), c_field & 0x20
        self.requests.append(c_field)
        if fcv and self.last_reply is not None and fcb == self.last_fcb:
            return self.last_reply  # the master did not hear it: repeat
        self.index = (self.index + 1) % len(self.telegrams)
        self.last_fcb = fcb if fcv else None
        self.access = (self.access + 1) & 0xFF
        more = self.index < len(self.telegrams) - 1
        records = self.telegrams[self.index] + (b"\x1f" if more else b"")
        header = secondary_wire(self.secondary) + bytes((self.access, 0x00, 0x00, 0x00))
        reply = long_frame(0x08, self.primary, 0x72, header + records)
        if self.behaviour == "bad_checksum":
            reply = reply[:-2] + bytes(((reply[-2] + 1) & 0xFF, 0x16))
        self.last_reply = reply
        return reply


# -- the bus -------------------------------------------------------------------------


class MbusBus(SimDevice):
    """The slaves on one bus; answers the master like the real line would."""

    def __init__(self, slaves: list[SimSlave], baudrate: int = 2400, reply_delay: float = 0.001) -> None:
        super().__init__()
        self.slaves = slaves
        self.baudrate = baudrate
        self.reply_delay = reply_delay
        self.requests: list[bytes] = []
        """Every valid frame the master sent."""
        self.line_errors = 0
        """Requests the slaves could not receive (wrong line settings, bad checksum)."""
        self._rx = bytearray()

    def slave(self, primary: int) -> SimSlave:
        return next(s for s in self.slaves if s.primary == primary)

    # host side

    def _line_ok(self) -> bool:
        endpoint = self.endpoint
        if not isinstance(endpoint, PtyEndpoint) or endpoint._slave is None:
            return True  # a TCP gateway converts to the bus itself
        try:
            attrs = termios.tcgetattr(endpoint._slave)
        except (OSError, termios.error):
            return True
        speed = getattr(termios, f"B{self.baudrate}", None)
        return speed is None or attrs[4] == speed

    def handle(self, data: bytes) -> None:
        self._rx += data
        while self._rx:
            start = self._rx[0]
            if start == 0x10:
                if len(self._rx) < 5:
                    return
                raw = bytes(self._rx[:5])
                if raw[4] != 0x16 or (raw[1] + raw[2]) & 0xFF != raw[3]:
                    self.line_errors += 1
                    del self._rx[:1]
                    continue
                del self._rx[:5]
            elif start == 0x68:
                if len(self._rx) < 4:
                    return
                length = self._rx[1]
                if self._rx[2] != length or self._rx[3] != 0x68 or length < 3:
                    self.line_errors += 1
                    del self._rx[:1]
                    continue
                if len(self._rx) < length + 6:
                    return
                raw = bytes(self._rx[: length + 6])
                if raw[-1] != 0x16 or sum(raw[4 : 4 + length]) & 0xFF != raw[4 + length]:
                    self.line_errors += 1
                    del self._rx[:1]
                    continue
                del self._rx[: length + 6]
            else:
                self.line_errors += 1
                del self._rx[:1]
                continue
            if not self._line_ok():
                self.line_errors += 1
                continue
            self.requests.append(raw)
            self._answer(self._replies(raw))

    def _replies(self, raw: bytes) -> list[tuple[SimSlave, bytes]]:
        replies: list[tuple[SimSlave, bytes]] = []
        if raw[0] == 0x10:
            c_field, address = raw[1], raw[2]
            if address == 0xFD:
                targets = [s for s in self.slaves if s.selected]
            elif address in (0xFE, 0xFF):
                targets = list(self.slaves)
            else:
                targets = [s for s in self.slaves if s.primary == address]
            if c_field == 0x40:  # SND_NKE
                for slave in targets:
                    slave.reset()
                    if address == 0xFD:
                        slave.selected = False
                    slave.requests.append(c_field)
                    if address != 0xFF:
                        replies.append((slave, b"\xe5"))
            elif c_field & 0xCF == 0x4B and address != 0xFF:  # REQ_UD2
                replies.extend((slave, slave.rsp_ud(c_field)) for slave in targets)
            return replies
        c_field, address, ci = raw[4], raw[5], raw[6]
        if c_field & 0xCF == 0x43 and address == 0xFD and ci == 0x52 and raw[1] == 11:
            data = raw[7:15]
            mask = (data[3::-1].hex() + data[4:8].hex()).upper()
            for slave in self.slaves:
                slave.selected = slave.matches(mask)
                if slave.selected:
                    slave.reset()
                    slave.requests.append(c_field)
                    replies.append((slave, b"\xe5"))
        return replies

    def _answer(self, replies: list[tuple[SimSlave, bytes]]) -> None:
        heard: list[tuple[int, bytes]] = []
        for slave, reply in replies:
            if slave.behaviour == "silent":
                continue
            if slave.drop_replies > 0:
                slave.drop_replies -= 1
                continue
            noise = b""
            if slave.garble_replies > 0:
                slave.garble_replies -= 1
                noise = b"\x00"
            heard.append((slave.skew, reply + noise))
        if not heard:
            return
        data = overlay(heard)
        if self.reply_delay <= 0:
            self.send(data)
        else:
            asyncio.get_running_loop().call_later(self.reply_delay, self.send, data)


def overlay(replies: list[tuple[int, bytes]]) -> bytes:
    """What the master receives when ``(skew, bytes)`` replies share the line (wired AND, even parity)."""
    if len(replies) == 1:
        return replies[0][1]
    size = max(skew + len(data) for skew, data in replies)
    out = bytearray()
    for pos in range(size):
        parts = [data[pos - skew] for skew, data in replies if 0 <= pos - skew < len(data)]
        if not parts:
            continue  # the line idles (mark) between skewed answers: no character
        value = 0xFF
        parity = 1
        for part in parts:
            value &= part
            parity &= _even_parity(part)
        out.append(value if _even_parity(value) == parity else 0x00)
    return bytes(out)


def standard_slaves() -> list[SimSlave]:
    """Five slaves: two answer in step, one a byte late, one in two telegrams, one broken, one mute.

    ======= ================ =========================================
    primary secondary        behaviour
    ======= ================ =========================================
    1       10000001 2D2C0107 one telegram, answers one byte late
    2       20000002 2D2C0107 one telegram
    3       21000003 A5110407 two telegrams (0x1F, then FCB toggling)
    4       30000004 2D2C0107 RSP_UD with a wrong checksum
    5       40000005 2D2C0107 never answers
    ======= ================ =========================================
    """
    return [
        SimSlave(1, "100000012D2C0107", [volume_litres(1001) + energy_kwh(11)], skew=1),
        SimSlave(2, "200000022D2C0107", [volume_litres(2002) + energy_kwh(22)]),
        SimSlave(
            3,
            "21000003A5110407",
            [volume_litres(3003) + energy_kwh(33), fabrication_number(3) + flow_temperature(456)],
        ),
        SimSlave(4, "300000042D2C0107", behaviour="bad_checksum"),
        SimSlave(5, "400000052D2C0107", behaviour="silent"),
    ]
