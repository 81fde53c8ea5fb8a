"""CUL / nanoCUL running culfw (kind ``cul``): 38400 8N1, ASCII lines ending CRLF.

Handshake: ``V`` (after an empty line) -> a version line containing "CUL" (e.g. ``V 1.67 nanoCUL868``);
then the link mode ``brt`` (T1, answer "TMODE"), ``brc`` (C1, also hears T1,
answer "CMODE") or ``brs`` (S1, "SMODE"), one at a time (c1t1 uses ``brc``);
then ``X21`` starts reception with LQI and RSSI appended.

Received telegrams: ``b<hex>`` (frame format A) and ``bY<hex>`` (format B).
The hex *includes* the DLL block CRCs, followed by one LQI byte and one RSSI
byte (dBm = signed byte / 2 - 74). The CRCs are verified and removed; a frame
whose CRC fails is dropped and counted. An odd number of hex digits means the
firmware cut the line short (nanoCUL limits frames to roughly 148 bytes): the
line is dropped with a warning.
"""

from __future__ import annotations

import time

from ..errors import CrcError, LengthError
from ..frame import Frame
from ..link import BlockFormat, strip_block_crcs
from .base import (
    LINK_MODE_LABELS,
    LinkMode,
    ReceiverInfo,
    UnsupportedModeError,
    WrongDeviceError,
    display_device,
    register_receiver,
)
from .lines import BadLine, LineReceiver

MODE_COMMANDS: dict[LinkMode, tuple[str, str]] = {
    "t1": ("brt", "TMODE"),
    "c1": ("brc", "CMODE"),
    "c1t1": ("brc", "CMODE"),
    "s1": ("brs", "SMODE"),
}
"""culfw command and the answer it gives, per receive mode."""


_LABELS: dict[LinkMode, tuple[str, str]] = {
    "t1": ("T1", "T1"),
    "s1": ("S1", "S1"),
    "c1": (LINK_MODE_LABELS["c1t1"], "C1"),
    "c1t1": (LINK_MODE_LABELS["c1t1"], "C1"),
}
"""``Frame.link_mode`` per configured mode for (format A, format B) lines."""


def cul_rssi(value: int) -> float:
    """RSSI byte of culfw -> dBm."""
    return (value - 256 if value >= 128 else value) / 2 - 74


def parse_cul_line(line: str, *, mode: LinkMode = "c1t1", receiver_id: str = "") -> Frame | None:
    """Parse one culfw line (pure).

    Returns a Frame for ``b…`` / ``bY…``, None for any other line (answers to
    commands), and raises :class:`BadLine` with reason "truncated" (odd hex
    length), "crc" (a block CRC failed), "length" or "garbage".
    """
    line = line.strip()
    if line[:1] != "b":
        return None
    fmt: BlockFormat
    if line[1:2] == "Y":
        fmt, text = "B", line[2:]
    else:
        fmt, text = "A", line[1:]
    if len(text) & 1:
        raise BadLine(
            f"odd number of hex digits ({len(text)}): the firmware truncated the frame", "truncated"
        )
    try:
        data = bytes.fromhex(text)
    except ValueError:
        raise BadLine("not a hex telegram", "garbage") from None
    if len(data) < 14:
        raise BadLine(f"telegram of {len(data)} bytes is too short", "length")
    try:
        raw = strip_block_crcs(data[:-2], fmt)
    except (CrcError, LengthError) as exc:
        raise BadLine(str(exc), exc.code) from None
    rssi = data[-1]
    return Frame(
        raw,
        (rssi - 256 if rssi >= 128 else rssi) / 2 - 74,
        _LABELS[mode][fmt == "B"],
        time.time(),
        receiver_id,
        "none",  # block CRCs checked and removed above
    )


def _not_telegram(line: str) -> bool:
    return not line.startswith("b")


@register_receiver
class CulReceiver(LineReceiver):
    """A CUL on a serial port (or ``tcp://`` / ``socket://`` through ser2net)."""

    kind = "cul"
    model = "CUL"
    baudrate = 38400
    default_command = None

    def parse_line(self, line: str) -> Frame | None:
        return parse_cul_line(line, mode=self.link_mode, receiver_id=self.receiver_id)

    async def _identify(self) -> ReceiverInfo:
        # The leading CRLF flushes whatever an earlier probe left in culfw's line buffer.
        reply = await self._request(b"\r\nV\r\n", _not_telegram, what="the version request (V)")
        if "CUL" not in reply:
            raise WrongDeviceError(
                f"The device on {display_device(self.device)} answered {reply[:40]!r}, not a CUL (culfw)"
            )
        words = reply.split()
        model = next((word for word in reversed(words) if "CUL" in word), "CUL")
        firmware = words[1] if len(words) > 1 and words[0] == "V" else None
        return ReceiverInfo(kind=self.kind, model=model, firmware=firmware)

    async def _configure(self) -> None:
        command, answer = MODE_COMMANDS[self.link_mode]
        reply = await self._request(
            f"{command}\r\n".encode(), _not_telegram, what=f"the mode command {command}"
        )
        if answer not in reply:
            raise UnsupportedModeError(
                f"The CUL answered {reply[:40]!r} to {command}: its firmware cannot receive "
                f"{LINK_MODE_LABELS[self.link_mode]}"
            )
        self._write(b"X21\r\n")
