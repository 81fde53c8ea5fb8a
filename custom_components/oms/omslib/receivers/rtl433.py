"""rtl_433 receiver: wM-Bus telegrams from rtl_433's JSON (``-F json``) or CSV (``-F csv``) output.

rtl_433's M-Bus decoder (``src/devices/m_bus.c``) reports a telegram as model
``"Wireless-MBus"`` with ``"mode"`` ``"T"``, ``"C"`` or ``"S"`` and the frame,
CRCs removed, as lower-case hex in ``"data"``, e.g.::

    {"time" : "@0.038s", "model" : "Wireless-MBus", "mode" : "T", "M" : "IMT", "id" : 10025571,
     "version" : 5, "type" : 14, "C" : 68, "data" : "4644b425…", "CI" : 114, "mic" : "CRC"}

Its L byte is not always the frame length: for format A some versions print
``L-2`` followed by the L data bytes *and* the last block's 2 CRC bytes. That
shape is recognised (the trailing CRC is verified) and undone; any other
disagreement is fixed by rewriting L. Other models (rtl_433 decodes hundreds
of devices) and ``"KNX-RF"`` lines are ignored. rtl_433's ``rssi`` is dB
relative to full scale, not dBm, so frames carry no RSSI.

CSV: the header row (``time,…,model,…,data,…``) names the columns; without a
header a row is taken when it mentions Wireless-MBus and holds a hex field
whose length fits its L byte.
"""

from __future__ import annotations

import csv
import json
from typing import Any, ClassVar

from ..crc import crc16
from ..frame import Frame
from .base import register_receiver
from .lines import BadLine, LineReceiver, SdrSettings, Stages, fix_l_field, hex_bytes

DEFAULT_COMMAND = "rtl_433 -f 868.95M -s 1200k -F json"
"""The shell form of the command started for ``device`` "" / "default": modes C and T at 868.95 MHz,
JSON lines (run without a shell: :meth:`Rtl433Receiver.sdr_stages`)."""
SAMPLE_RATE = "1200k"

MODEL = "Wireless-MBus"
_MODES = {"T": "T1", "C": "C1", "S": "S1", "T1": "T1", "C1": "C1", "S1": "S1"}
_HEX = frozenset("0123456789abcdefABCDEF")


def rtl433_frame(data: str) -> bytes:
    """The CRC-free frame (L corrected) from rtl_433's ``data`` hex; raises BadLine."""
    raw = hex_bytes(data.strip())
    if len(raw) >= 13 and raw[0] + 5 == len(raw):
        # Format A quirk: printed L is L-2 and the last block's CRC follows the data.
        l_field = raw[0] + 2
        body = bytes((l_field,)) + raw[1 : l_field + 1]
        last = 10 + 16 * ((l_field - 10) // 16) if l_field > 9 else 0
        if crc16(body, last) == int.from_bytes(raw[l_field + 1 : l_field + 3], "big"):
            return body
    return fix_l_field(raw)


def _frame_from_fields(fields: dict[str, Any], receiver_id: str) -> Frame | None:
    if str(fields.get("model", "")) != MODEL:
        return None
    data = fields.get("data")
    if not isinstance(data, str) or not data:
        raise BadLine("Wireless-MBus line without a data field", "garbage")
    mode = _MODES.get(str(fields.get("mode", "")))
    return Frame(rtl433_frame(data), link_mode=mode, receiver_id=receiver_id, frame_format="none")


def _plausible_hex(field: str) -> bool:
    if len(field) < 22 or len(field) % 2 or not _HEX.issuperset(field):
        return False
    length = int(field[:2], 16)
    return len(field) // 2 in (length + 1, length + 5)


class Rtl433Parser:
    """Parses rtl_433 JSON or CSV lines; remembers the CSV header it has seen (hence a class)."""

    def __init__(self) -> None:
        self.columns: list[str] | None = None

    def __call__(self, line: str, *, receiver_id: str = "") -> Frame | None:
        """One line -> Frame, None (another device, a header, a banner) or BadLine."""
        line = line.strip()
        if line.startswith("{"):
            try:
                fields = json.loads(line)
            except ValueError:
                raise BadLine("invalid JSON", "garbage") from None
            if not isinstance(fields, dict):
                raise BadLine("JSON line is not an object", "garbage")
            return _frame_from_fields(fields, receiver_id)
        if "," not in line:
            return None
        row = next(csv.reader([line]))
        if "model" in row and "data" in row:
            self.columns = row
            return None
        if MODEL not in row:
            return None
        if self.columns is not None and len(row) == len(self.columns):
            return _frame_from_fields(dict(zip(self.columns, row, strict=True)), receiver_id)
        for field in row:
            if _plausible_hex(field):
                return Frame(rtl433_frame(field), receiver_id=receiver_id, frame_format="none")
        raise BadLine("Wireless-MBus CSV row without a telegram", "garbage")


def parse_rtl433_line(line: str, *, receiver_id: str = "") -> Frame | None:
    """Stateless form of :class:`Rtl433Parser` (JSON lines; CSV rows without a header)."""
    return Rtl433Parser()(line, receiver_id=receiver_id)


@register_receiver
class Rtl433Receiver(LineReceiver):
    """rtl_433 output from a command (default :data:`DEFAULT_COMMAND`), stdin (``-``) or ``tcp://``."""

    kind = "rtl433"
    model = "rtl_433"
    default_command: ClassVar[str | None] = DEFAULT_COMMAND
    sdr_programs: ClassVar[frozenset[str]] = frozenset({"rtl_433"})

    @classmethod
    def sdr_stages(cls, settings: SdrSettings) -> Stages:
        argv = [settings.program or "rtl_433", "-d", str(settings.device_index)]
        argv += ["-f", str(settings.frequency), "-s", SAMPLE_RATE, "-F", "json"]
        if settings.gain is not None:
            argv += ["-g", f"{settings.gain:g}"]
        return (tuple(argv),)

    def __init__(self, device: str, **kwargs: Any) -> None:
        super().__init__(device, **kwargs)
        self._parser = Rtl433Parser()

    def parse_line(self, line: str) -> Frame | None:
        return self._parser(line, receiver_id=self.receiver_id)
