"""Network-server uplinks: The Things Stack v3, ChirpStack v4 and mioty JSON -> :class:`Uplink`.

:func:`parse_uplink` detects the server from the field names (or is told), reads the device EUI,
port, counter, payload, time and every gateway's RSSI/SNR into one :class:`Uplink`, and raises
:class:`NotUplinkError` for anything that is not a data uplink. What the payload holds is
:mod:`.lpwan`'s business.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
import json
import re
from typing import Any, Literal

from .errors import OmsError

Network = Literal["tts", "chirpstack", "mioty"]
NETWORKS: tuple[Network, ...] = ("tts", "chirpstack", "mioty")


class NotUplinkError(OmsError):
    """The message is not a data uplink (join, status, downlink event) or not valid JSON."""

    code = "not_uplink"


# --------------------------------------------------------------------------- uplink


@dataclass(frozen=True, slots=True)
class Reception:
    """One gateway (LoRaWAN) or base station (mioty) that heard the uplink."""

    gateway: str
    rssi_dbm: float | None = None
    snr_db: float | None = None


@dataclass(frozen=True, slots=True)
class Uplink:
    """A network-server uplink, independent of the server's JSON dialect."""

    network: Network
    dev_eui: str
    """16 upper-case hex digits (or the server's device ID when it sent no EUI)."""
    f_port: int | None
    """LoRaWAN FPort; None for mioty."""
    f_cnt: int | None
    """LoRaWAN FCntUp / mioty packet counter."""
    payload: bytes
    receptions: tuple[Reception, ...] = ()
    received_at: float | None = None
    """Unix time (s) the network server stamped, if any."""
    topic: str | None = None

    @property
    def rssi_dbm(self) -> float | None:
        """Best RSSI over all gateways."""
        values = [r.rssi_dbm for r in self.receptions if r.rssi_dbm is not None]
        return max(values) if values else None

    @property
    def snr_db(self) -> float | None:
        """Best SNR over all gateways."""
        values = [r.snr_db for r in self.receptions if r.snr_db is not None]
        return max(values) if values else None

    @property
    def gateways(self) -> int:
        """Distinct gateways / base stations that heard it."""
        return len({r.gateway for r in self.receptions})


_FRACTION = re.compile(r"(\.\d{1,6})\d*")
_HEX_EUI = re.compile(r"[0-9A-F]{16}")


def _iso_time(value: object) -> float | None:
    """RFC 3339 (nanosecond fractions and ``Z`` allowed) -> Unix time; None when absent or bad."""
    if not isinstance(value, str) or not value:
        return None
    text = _FRACTION.sub(r"\1", value.strip()).replace("Z", "+00:00").replace("z", "+00:00")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _epoch(value: object) -> float | None:
    """A Unix time in s, ms, µs or ns (mioty stamps nanoseconds) -> seconds."""
    if isinstance(value, str):
        return _iso_time(value)
    if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
        return None
    number = float(value)
    for limit, scale in ((1e17, 1e9), (1e14, 1e6), (1e11, 1e3)):
        if number > limit:
            return number / scale
    return number


def normalize_eui(value: object) -> str:
    """An EUI as 16 upper-case hex digits (``-``, ``:`` and spaces dropped; integers allowed).

    Anything that is not an EUI (a TTS device ID) is returned trimmed, unchanged.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:016X}"
    text = str(value).strip()
    cleaned = re.sub(r"[-: ]", "", text).upper()
    if cleaned.startswith("0X"):
        cleaned = cleaned[2:].rjust(16, "0")
    return cleaned if _HEX_EUI.fullmatch(cleaned) else text


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _base64(value: object, what: str) -> bytes:
    if value is None or value == "":
        return b""
    if not isinstance(value, str):
        raise NotUplinkError(f"{what} is not a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise NotUplinkError(f"{what} is not valid base64") from None


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _parse_tts(obj: dict[str, Any], topic: str | None) -> Uplink:
    """The Things Stack v3 uplink (``v3/{app}[@{tenant}]/devices/{device}/up``)."""
    message = obj.get("uplink_message")
    if not isinstance(message, dict):
        raise NotUplinkError(
            "The Things Stack message without uplink_message (join, downlink or other event)"
        )
    ids = _dict(obj.get("end_device_ids"))
    eui = ids.get("dev_eui") or ids.get("device_id")
    if not eui:
        raise NotUplinkError("The Things Stack uplink without end_device_ids.dev_eui")
    receptions = tuple(
        Reception(
            str(
                _dict(meta.get("gateway_ids")).get("gateway_id")
                or _dict(meta.get("gateway_ids")).get("eui")
                or i
            ),
            _number(meta.get("rssi", meta.get("channel_rssi"))),
            _number(meta.get("snr")),
        )
        for i, meta in enumerate(_list(message.get("rx_metadata")))
        if isinstance(meta, dict)
    )
    return Uplink(
        "tts",
        normalize_eui(eui),
        _int(message.get("f_port", 0)),
        _int(message.get("f_cnt", 0)),  # protobuf JSON leaves out zero values
        _base64(message.get("frm_payload"), "uplink_message.frm_payload"),
        receptions,
        _iso_time(message.get("received_at")) or _iso_time(obj.get("received_at")),
        topic,
    )


def _parse_chirpstack(obj: dict[str, Any], topic: str | None) -> Uplink:
    """ChirpStack v4 uplink event (``application/{app}/device/{dev eui}/event/up``)."""
    if topic is not None and "/event/" in topic and not topic.endswith("/event/up"):
        raise NotUplinkError(f"ChirpStack {topic.rsplit('/', 1)[-1]} event, not an uplink")
    if not any(name in obj for name in ("rxInfo", "fPort", "fCnt", "data", "txInfo")):
        raise NotUplinkError("ChirpStack event without uplink fields (join, status, ack or log)")
    info = _dict(obj.get("deviceInfo"))
    eui = info.get("devEui")
    if not eui and topic:
        parts = topic.split("/")
        if len(parts) >= 4 and parts[2] == "device":
            eui = parts[3]
    if not eui:
        raise NotUplinkError("ChirpStack uplink without deviceInfo.devEui")
    receptions = tuple(
        Reception(str(rx.get("gatewayId") or i), _number(rx.get("rssi")), _number(rx.get("snr")))
        for i, rx in enumerate(_list(obj.get("rxInfo")))
        if isinstance(rx, dict)
    )
    return Uplink(
        "chirpstack",
        normalize_eui(eui),
        _int(obj.get("fPort", 0)),
        _int(obj.get("fCnt", 0)),
        _base64(obj.get("data"), "data"),
        receptions,
        _iso_time(obj.get("time")),
        topic,
    )


def _mioty_eui(obj: dict[str, Any], topic: str | None) -> str | None:
    if topic:
        parts = topic.strip("/").split("/")
        if len(parts) >= 3 and parts[-1] == "uplink":
            return parts[-2]
    for name in ("epEui", "endpointEui", "eui"):
        if obj.get(name):
            return str(obj[name])
    return None


def _parse_mioty(obj: dict[str, Any], topic: str | None) -> Uplink:
    """mioty application centre ACMQTTI uplink (``mioty/<root>/<endpoint EUI>/uplink``)."""
    if topic is not None and not topic.rstrip("/").endswith("/uplink"):
        raise NotUplinkError(f"mioty {topic.rsplit('/', 1)[-1]} message, not an uplink")
    eui = _mioty_eui(obj, topic)
    if not eui:
        raise NotUplinkError("mioty uplink without endpoint EUI (it is part of the MQTT topic)")
    data = obj.get("data")
    if not isinstance(data, list) or not all(
        isinstance(b, int) and not isinstance(b, bool) and 0 <= b <= 255 for b in data
    ):
        raise NotUplinkError("mioty data is not an array of byte values")
    stations = [s for s in _list(obj.get("baseStations")) if isinstance(s, dict)]
    receptions = tuple(
        Reception(normalize_eui(s.get("bsEui", i)), _number(s.get("rssi")), _number(s.get("snr")))
        for i, s in enumerate(stations)
    )
    times = [t for t in (_epoch(s.get("rxTime")) for s in stations) if t is not None]
    received = _epoch(obj.get("rxTime")) or (min(times) if times else None)
    return Uplink(
        "mioty", normalize_eui(eui), None, _int(obj.get("cnt")), bytes(data), receptions, received, topic
    )


_PARSERS = {"tts": _parse_tts, "chirpstack": _parse_chirpstack, "mioty": _parse_mioty}


def detect_network(obj: Mapping[str, Any]) -> Network | None:
    """Which network server wrote this JSON object, from its field names."""
    if "end_device_ids" in obj or "uplink_message" in obj:
        return "tts"
    if "deviceInfo" in obj:
        return "chirpstack"
    if "baseStations" in obj or ("cnt" in obj and isinstance(obj.get("data"), list)):
        return "mioty"
    return None


def parse_uplink(
    message: bytes | str | Mapping[str, Any],
    topic: str | None = None,
    network: Network | Literal["auto"] = "auto",
) -> Uplink:
    """One MQTT message of a network server -> :class:`Uplink`; raises :class:`NotUplinkError`.

    ``message`` may also be a ``mosquitto_sub -F %j`` line (``{"topic": …, "payload": …}``),
    which carries the topic along (mioty needs it for the endpoint EUI).
    """
    if isinstance(message, bytes | str):
        try:
            obj = json.loads(message)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise NotUplinkError("the message is not JSON") from None
    else:
        obj = dict(message)
    if not isinstance(obj, dict):
        raise NotUplinkError("the message is not a JSON object")
    if "topic" in obj and "payload" in obj and detect_network(obj) is None:
        topic = str(obj["topic"])
        inner = obj["payload"]
        if isinstance(inner, str):
            try:
                inner = json.loads(inner)
            except (ValueError, RecursionError):
                raise NotUplinkError("the payload is not JSON") from None
        if not isinstance(inner, dict):
            raise NotUplinkError("the payload is not a JSON object")
        obj = inner
    kind = detect_network(obj) if network == "auto" else network
    if kind is None:
        raise NotUplinkError("not an uplink of The Things Stack, ChirpStack or mioty")
    if network != "auto" and detect_network(obj) not in (None, network):
        raise NotUplinkError(f"not a {network} uplink")
    return _PARSERS[kind](obj, topic)
