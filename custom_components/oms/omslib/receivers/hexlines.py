"""Hex-line receiver (kind ``hex``): one telegram per text line over TCP, stdin, a command or a serial port.

What ESPHome wM-Bus forwarders, ser2net bridges and scripts send. Accepted lines:

* ``<hex>`` - the frame from the L byte, with or without DLL block CRCs (the
  decoder tells), upper or lower case, optional ``0x`` prefix, blanks, ``:``,
  ``-`` or ``.`` between bytes allowed;
* ``<hex>;<field>;…`` - fields ``rssi=-71`` (dBm), ``mode=T1`` or a bare number (RSSI);
* ``{"telegram": "<hex>", "rssi": -71, "mode": "C1"}`` - JSON; the hex may also be
  under ``frame``, ``data``, ``hex`` or ``raw``, the RSSI under ``rssi_dbm``, the
  mode under ``link_mode``;
* blank lines and ``#`` comments are ignored.

The frame is passed on as is (no CRC stripping, no L correction); a line
whose L byte promises more bytes than it holds is rejected as truncated.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
import json
import math
from typing import Any

from ..frame import Frame
from .base import register_receiver
from .lines import MIN_FRAME, BadLine, LineReceiver, hex_bytes

_SEPARATORS = str.maketrans("", "", " \t:-._|")
_TELEGRAM_KEYS = ("telegram", "frame", "data", "hex", "raw")
_RSSI_KEYS = ("rssi", "rssi_dbm")
_MODE_KEYS = ("mode", "link_mode")
_MODES = {
    "t": "T1",
    "t1": "T1",
    "c": "C1",
    "c1": "C1",
    "s": "S1",
    "s1": "S1",
    "c1t1": "C1/T1",
    "c1/t1": "C1/T1",
    "t1c1": "C1/T1",
}


def telegram_bytes(text: str) -> bytes:
    """Bytes of a hex telegram with optional ``0x``, separators and ``telegram=`` prefix; raises BadLine."""
    text = text.strip()
    if text[:9].lower() == "telegram=":
        text = text[9:]
    if text[:2] in ("0x", "0X"):
        text = text[2:]
    try:
        raw = bytes.fromhex(text)  # fast path; also takes blanks between bytes
    except ValueError:
        raw = hex_bytes(text.translate(_SEPARATORS))
    if len(raw) < MIN_FRAME:
        raise BadLine(f"telegram of {len(raw)} bytes is too short", "length")
    if raw[0] + 1 > len(raw):
        raise BadLine(f"L={raw[0]} but only {len(raw) - 1} bytes follow", "truncated")
    return raw


def parse_rssi(value: Any) -> float:
    """An RSSI in dBm from a number or a numeric string; raises BadLine."""
    try:
        rssi = float(value)
    except (TypeError, ValueError):
        raise BadLine(f"bad RSSI {value!r}", "garbage") from None
    if not math.isfinite(rssi) or not -200.0 <= rssi <= 50.0:
        raise BadLine(f"RSSI {value!r} out of range", "garbage")
    return rssi


def parse_mode(value: Any) -> str:
    """``Frame.link_mode`` text of "T1", "t", "c1", "C1/T1" …; raises BadLine."""
    mode = _MODES.get(str(value).strip().lower())
    if mode is None:
        raise BadLine(f"unknown link mode {value!r}", "garbage")
    return mode


def read_fields[R, M](
    fields: Iterable[str],
    rssi_of: Callable[[str], R],
    mode_of: Callable[[str], M],
    rssi_keys: Collection[str] = _RSSI_KEYS,
    mode_keys: Collection[str] = _MODE_KEYS,
) -> tuple[R | None, M | None]:
    """``key=value`` (or ``key:value``) and bare-number fields after the hex -> (rssi, mode).

    A bare field is an RSSI; ``rssi_of`` / ``mode_of`` read the values (strict or lenient, as the
    caller wants); the last field of a kind wins; unknown keys are ignored. Shared by hex lines,
    replay files and MQTT payloads.
    """
    rssi: R | None = None
    mode: M | None = None
    for field in fields:
        key, sep, value = field.partition("=")
        if not sep:
            key, sep, value = field.partition(":")
        key = key.strip().lower()
        if not sep:
            if key:
                rssi = rssi_of(key)
        elif key in rssi_keys:
            rssi = rssi_of(value)
        elif key in mode_keys:
            mode = mode_of(value)
    return rssi, mode


def parse_fields(fields: list[str]) -> tuple[float | None, str | None]:
    """``rssi=…`` / ``mode=…`` / bare-number fields after the hex -> (rssi, mode); raises BadLine."""
    return read_fields(fields, parse_rssi, parse_mode)


def _from_json(line: str, receiver_id: str) -> Frame:
    try:
        obj = json.loads(line)
    except ValueError:
        raise BadLine("invalid JSON", "garbage") from None
    if not isinstance(obj, dict):
        raise BadLine("JSON line is not an object", "garbage")
    text = next((obj[key] for key in _TELEGRAM_KEYS if isinstance(obj.get(key), str)), None)
    if text is None:
        raise BadLine("JSON line without a telegram", "garbage")
    rssi_value = next((obj[key] for key in _RSSI_KEYS if obj.get(key) is not None), None)
    mode_value = next((obj[key] for key in _MODE_KEYS if obj.get(key)), None)
    return Frame(
        telegram_bytes(text),
        rssi_dbm=None if rssi_value is None else parse_rssi(rssi_value),
        link_mode=None if mode_value is None else parse_mode(mode_value),
        receiver_id=receiver_id,
    )


def parse_hex_line(line: str, *, receiver_id: str = "") -> Frame | None:
    """Parse one hex/JSON line (pure): Frame, None (blank or comment) or BadLine."""
    line = line.strip()
    if not line or line[0] == "#":
        return None
    if line[0] == "{":
        return _from_json(line, receiver_id)
    if ";" not in line:
        return Frame(telegram_bytes(line), receiver_id=receiver_id)
    head, *fields = line.split(";")
    rssi, mode = parse_fields(fields)
    return Frame(telegram_bytes(head), rssi_dbm=rssi, link_mode=mode, receiver_id=receiver_id)


@register_receiver
class HexLineReceiver(LineReceiver):
    """Hex lines from ``tcp://host:port``, stdin (``-``), ``cmd:<command>`` or a serial port."""

    kind = "hex"
    model = "hex lines"
    default_command = None

    def parse_line(self, line: str) -> Frame | None:
        return parse_hex_line(line, receiver_id=self.receiver_id)
