"""Telegrams forwarded over MQTT: payload parsing and receiver names (de-duplication: :mod:`.dedup`).

Pure functions; the MQTT subscription itself belongs to Home Assistant's
``mqtt`` integration. :func:`parse_payload` accepts what the common forwarders
publish (field names checked against their sources):

* plain hex of the frame from the L byte, with or without DLL CRCs, ``0x``,
  blanks, ``:``, ``-``, ``.``, ``_`` or ``|`` between bytes, optionally followed
  by ``;rssi=-71;mode=T1`` fields - ESPHome ``wmbus_radio`` ``frame->as_hex()``,
  bridges publishing to ``…/telegram``; a binary frame is taken too;
* an rtl_wmbus line ``T1;1;1;<time>;<rssi>;;;0x<hex>`` - ESPHome
  ``frame->as_rtlwmbus()`` and the ``wmbus`` component's ``mqtt_raw_format:
  RTLWMBUS`` (an RSSI below 0 there is dBm from the radio chip);
* ESPHome ``wmbus`` (SzczepanLeon, version 4) ``mqtt_raw`` JSON on
  ``<name>/wmbus/raw[/<id>]``: ``{"address": "…", "mode": "T", "rssi": -71,
  "frame": "<HEX>"}``;
* rtl_433 ``-F mqtt`` events (``rtl_433/<host>/events``): the ``-F json`` object,
  model ``"Wireless-MBus"``, hex in ``"data"``, ``"mode"`` ``"T"``/``"C"``/``"S"``
  (other models: None); and its device topic ``…/Wireless-MBus/…/data``
  (bare hex). Both go through :func:`~.receivers.rtl433.rtl433_frame`;
* wmbusmeters: the ``--logtelegrams`` line ``telegram=|<hex>_<hex>|+<s>``, its
  ``jsonl`` decode request ``{"_": "decode", "telegram": "<hex>", "format":
  "mbus"}`` and any JSON of it carrying ``"telegram"`` hex with ``"rssi_dbm"``.
  Its decoded meter JSON (``{"_": "telegram", "media": …}``) holds no raw
  telegram and is rejected with reason ``"decoded"``;
* generic JSON: hex under ``telegram``, ``frame``, ``hex``, ``raw``, ``data`` or
  ``payload``; RSSI (dBm) under ``rssi``, ``rssi_dbm``; mode under ``mode``,
  ``link_mode`` or ``format`` (``"T1 A"``). A JSON string is read as text.

Wired long frames ``68 L L 68 … 16`` are recognised in every hex form and get
link mode ``"mbus"``. Empty payloads (a cleared retained message) and status
words (``online``, ``offline``) give None; anything else that is not a telegram
raises :class:`PayloadError`, and nothing else is raised.
"""

from __future__ import annotations

import json
import math
import re
import time
from typing import Any, Final

from .frame import Frame
from .link import format_a_length
from .receivers.hexlines import read_fields
from .receivers.lines import MIN_FRAME, BadLine, SourceRestart, hex_bytes
from .receivers.rtl433 import MODEL as RTL433_MODEL, rtl433_frame
from .receivers.rtlwmbus import parse_rtlwmbus_line
from .wired import is_long_frame

MAX_PAYLOAD: Final = 8192
"""Longest accepted payload in bytes (a 255-byte frame as spaced hex inside JSON fits easily)."""

MAX_FRAME: Final = 512
"""Longest accepted frame in bytes (format A with CRCs of L=255 is 292)."""

_TELEGRAM_KEYS: Final = ("telegram", "frame", "hex", "raw", "data", "payload")
_RSSI_KEYS: Final = ("rssi_dbm", "rssi")
_MODE_KEYS: Final = ("link_mode", "mode", "format")
_MODES: Final = {
    "t": "T1",
    "t1": "T1",
    "t2": "T1",
    "c": "C1",
    "c1": "C1",
    "c2": "C1",
    "s": "S1",
    "s1": "S1",
    "s2": "S1",
    "c1t1": "C1/T1",
    "c1/t1": "C1/T1",
    "t1c1": "C1/T1",
    "mbus": "mbus",
}
_RTLWMBUS_MODES: Final = frozenset(("T1", "C1", "S1"))
_STATUS_WORDS: Final = frozenset(("online", "offline", "connected", "disconnected", "true", "false", "null"))
_SEPARATORS: Final = str.maketrans("", "", " \t:-._|")
_LOGTELEGRAM = re.compile(r"telegram=\|([0-9a-fA-F_]+)\|(?:\+\d+)?")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
"""Characters that make a bytes payload binary rather than text."""


class PayloadError(ValueError):
    """A payload is not a telegram this module understands.

    ``reason``: ``"garbage"`` (not hex/JSON of a known form), ``"truncated"``
    (fewer bytes than the L field promises, odd hex), ``"length"`` (too short or
    too long), ``"crc"`` (the forwarder flagged a failed check), ``"no_telegram"``
    (JSON without a telegram field), ``"decoded"`` (wmbusmeters' decoded JSON).
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(detail or reason)
        self.reason = reason


def parse_payload(
    payload: bytes | str,
    topic: str,
    *,
    receiver_id: str | None = None,
    received_at: float | None = None,
) -> Frame | None:
    """One MQTT message -> Frame; None for an empty payload or a status word; else PayloadError.

    ``receiver_id`` defaults to ``topic``; ``received_at`` to now.
    """
    try:
        frame = _parse(payload, topic)
    except PayloadError:
        raise
    except BadLine as err:
        raise PayloadError(err.reason, str(err)) from None
    except (ValueError, TypeError, KeyError, IndexError, OverflowError, RecursionError, SourceRestart) as err:
        raise PayloadError("garbage", f"unreadable payload ({type(err).__name__})") from None
    if frame is None:
        return None
    raw, rssi, mode = frame
    return Frame(
        raw,
        rssi_dbm=rssi,
        link_mode=mode,
        received_at=time.time() if received_at is None else received_at,
        receiver_id=topic if receiver_id is None else receiver_id,
    )


_Parsed = tuple[bytes, float | None, str | None]


def _parse(payload: bytes | str, topic: str) -> _Parsed | None:
    if len(payload) > MAX_PAYLOAD:
        raise PayloadError("length", f"payload of {len(payload)} bytes is too long")
    if isinstance(payload, bytes | bytearray | memoryview):
        data = bytes(payload)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return _binary(data)
        if _CONTROL.search(text):
            return _binary(data)
    else:
        text = payload
    text = text.strip().lstrip("\ufeff")
    if not text:
        return None
    if "\n" in text or "\r" in text:
        raise PayloadError("garbage", "several lines in one payload")
    if text[0] == "{" or text[0] == '"':
        return _from_json(text, topic)
    if text.lower() in _STATUS_WORDS:
        return None
    if text[:10] == "telegram=|":
        return _from_logtelegram(text)
    if _is_rtl433_data_topic(topic):
        return rtl433_frame(text.removeprefix("0x")), None, None
    head, _, tail = text.partition(";")
    if head.strip() in _RTLWMBUS_MODES:
        return _from_rtlwmbus(text)
    raw, wired = _telegram_bytes(head)
    rssi, mode = _fields(tail.split(";")) if tail else (None, None)
    return raw, rssi, mode or wired


def _binary(data: bytes) -> _Parsed:
    """A frame sent as bytes: its length must fit the L field (no CRCs, format A or format B)."""
    if is_long_frame(data, exact=True):
        return data, None, "mbus"
    if len(data) < MIN_FRAME:
        raise PayloadError("length", f"binary payload of {len(data)} bytes is too short")
    length = data[0]
    if len(data) != length + 1 and not (length >= 9 and len(data) == format_a_length(length)):
        raise PayloadError("garbage", "binary payload whose length does not fit its L field")
    return data, None, None


def _telegram_bytes(text: str) -> tuple[bytes, str | None]:
    """Bytes of a hex telegram (``0x``, separators allowed) and "mbus" for a wired frame."""
    text = text.strip()
    if text[:2] in ("0x", "0X"):
        text = text[2:]
    raw = hex_bytes(text.translate(_SEPARATORS))
    if is_long_frame(raw, exact=True):
        return raw, "mbus"
    if len(raw) < MIN_FRAME:
        raise PayloadError("length", f"telegram of {len(raw)} bytes is too short")
    if len(raw) > MAX_FRAME:
        raise PayloadError("length", f"telegram of {len(raw)} bytes is too long")
    if raw[0] + 1 > len(raw):
        raise PayloadError("truncated", f"L={raw[0]} but only {len(raw) - 1} bytes follow")
    return raw, None


def _from_logtelegram(text: str) -> _Parsed:
    """wmbusmeters ``--logtelegrams``: ``telegram=|<header>_<content>[_<suffix>]|+<seconds>``."""
    match = _LOGTELEGRAM.fullmatch(text)
    if match is None:
        raise PayloadError("garbage", "malformed telegram=|…| line")
    raw, wired = _telegram_bytes(match.group(1))
    return raw, None, wired


def _from_rtlwmbus(text: str) -> _Parsed:
    """rtl_wmbus line; the RSSI column is taken when negative (dBm from an ESP radio chip)."""
    frame = parse_rtlwmbus_line(text)
    if frame is None:  # pragma: no cover - a line with ';' always yields a frame or raises
        raise PayloadError("garbage", "not an rtl_wmbus line")
    fields = text.split(";")
    rssi = _rssi(fields[4]) if len(fields) > 4 else None
    return frame.raw, rssi if rssi is not None and rssi < 0 else None, frame.link_mode


def _is_rtl433_data_topic(topic: str) -> bool:
    """rtl_433's per-field device topic ``…/devices[/type]/Wireless-MBus[/…]/data``."""
    parts = topic.split("/")
    return len(parts) >= 2 and parts[-1] == "data" and RTL433_MODEL in parts


def _fields(fields: list[str]) -> tuple[float | None, str | None]:
    """``rssi=-71`` / ``mode=T1`` / bare-number fields after the hex, leniently (bad values: None)."""
    rssi, mode = read_fields(fields, _rssi, _mode, _RSSI_KEYS, _MODE_KEYS)
    return rssi, mode


def _rssi(value: Any) -> float | None:
    """An RSSI in dBm from a number or numeric string; None when absent or implausible."""
    if value is None or isinstance(value, bool):
        return None
    try:
        rssi = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    if not math.isfinite(rssi) or not -200.0 <= rssi <= 50.0:
        return None
    return rssi


def _mode(value: Any) -> str | None:
    """``Frame.link_mode`` of "T", "t1", "C1 A" (ESPHome frame format), "mbus" …; None if unknown."""
    if not isinstance(value, str):
        return None
    text = value.strip().lower()
    mode = _MODES.get(text)
    if mode is None and text:
        mode = _MODES.get(text.split()[0])
    return mode


def _from_json(text: str, topic: str) -> _Parsed | None:
    try:
        obj = json.loads(text)
    except ValueError:
        raise PayloadError("garbage", "invalid JSON") from None
    if isinstance(obj, str):
        return None if not obj.strip() else _parse(obj, topic)
    if not isinstance(obj, dict):
        raise PayloadError("garbage", "JSON payload is not an object")
    if "model" in obj and not any(isinstance(obj.get(key), str) for key in _TELEGRAM_KEYS[:4]):
        return _from_rtl433(obj)
    hex_text = next((obj[key] for key in _TELEGRAM_KEYS if isinstance(obj.get(key), str) and obj[key]), None)
    if hex_text is None:
        if obj.get("_") == "telegram":
            raise PayloadError("decoded", "wmbusmeters' decoded JSON carries no raw telegram")
        raise PayloadError("no_telegram", "JSON without a telegram field")
    raw, wired = _telegram_bytes(hex_text)
    rssi = next((r for key in _RSSI_KEYS if (r := _rssi(obj.get(key))) is not None), None)
    mode = next((m for key in _MODE_KEYS if (m := _mode(obj.get(key))) is not None), None)
    return raw, rssi, mode or wired


def _from_rtl433(obj: dict[str, Any]) -> _Parsed | None:
    """rtl_433 event: None for its other devices; ``rssi`` is dB below full scale, not dBm, so dropped."""
    if obj.get("model") != RTL433_MODEL:
        return None
    data = obj.get("data")
    if not isinstance(data, str) or not data:
        raise PayloadError("garbage", "Wireless-MBus event without a data field")
    return rtl433_frame(data), None, _mode(obj.get("mode"))


# ---------------------------------------------------------------------------
# Receiver names
# ---------------------------------------------------------------------------


def receiver_name(topic: str, topic_filter: str) -> str:
    """The receiver a message came from: the ``+`` level(s) of ``topic_filter`` in ``topic``.

    ``receiver_name("wmbus/kitchen/telegram", "wmbus/+/telegram") == "kitchen"``;
    several ``+`` levels are joined with ``/``. Without a ``+``, on a mismatch
    or an empty level, the topic itself. ``$share/<group>/`` prefixes are
    ignored; wildcards never match a ``$…`` first level (MQTT 3.1.1 §4.7.2).
    """
    if topic_filter.startswith("$share/"):
        topic_filter = topic_filter.split("/", 2)[2] if topic_filter.count("/") >= 2 else ""
    levels = topic.split("/")
    patterns = topic_filter.split("/")
    if topic.startswith("$") and patterns[0] in ("+", "#"):
        return topic
    picked: list[str] = []
    for index, pattern in enumerate(patterns):
        if pattern == "#":
            if index != len(patterns) - 1:
                return topic
            break
        if index >= len(levels):
            return topic
        if pattern == "+":
            if not levels[index]:
                return topic
            picked.append(levels[index])
        elif pattern != levels[index]:
            return topic
    else:
        if len(levels) != len(patterns):
            return topic
    return "/".join(picked) if picked else topic
