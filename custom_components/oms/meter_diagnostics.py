"""Device-level diagnostics: one meter's identity, counters, records and last telegrams (or the receiver's).

The meter's state is dumped field by field (:class:`~.models.MeterState`), so counters the hub
adds later (replay protection, plausibility…) appear without changes here. AES keys are
redacted from the subentry; raw telegrams are as received (an encrypted one stays encrypted).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields, is_dataclass
from datetime import date, datetime
from enum import Enum
from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.config_entries import ConfigSubentry
from homeassistant.helpers.device_registry import DeviceEntry
from homeassistant.util import dt as dt_util

from .const import CONF_KEY, CONF_METER_ID, DOMAIN, SUBENTRY_METER
from .hub import OmsHub
from .models import MeterState
from .omslib.record import Record
from .storage import record_meaning

SHOWN_ELSEWHERE = frozenset({"known", "records", "meter_id", "subentry_id", "name"})
"""MeterState fields this dump shows in their own sections (or that are identity)."""


def jsonable(value: Any) -> Any:
    """A JSON-friendly copy of a state value (dataclasses and mappings recursively, bytes as hex)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Enum):
        return jsonable(value.value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes | bytearray):
        return bytes(value).hex()
    if isinstance(value, Mapping):
        return {str(key): jsonable(item) for key, item in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(item) for item in value]
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in fields(value) if f.repr}
    return repr(value)


def record_json(record: Record) -> dict[str, Any]:
    """A record as both diagnostics show it: key, value (bytes as hex) and what it measures."""
    return {"key": record.key, "value": jsonable(record.value), **record_meaning(record)}


def meter_state_json(meter: MeterState) -> dict[str, Any]:
    """Every field of the meter's state that is not internal (``repr=False``) or shown elsewhere."""
    return {
        f.name: jsonable(getattr(meter, f.name))
        for f in fields(meter)
        if f.repr and f.name not in SHOWN_ELSEWHERE
    }


def _iso(timestamp: float) -> str:
    return dt_util.utc_from_timestamp(timestamp).isoformat()


def meter_diagnostics(hub: OmsHub, meter: MeterState, subentry: ConfigSubentry | None) -> dict[str, Any]:
    heard = hub.heard.get(meter.meter_id)
    return {
        "meter_id": meter.meter_id,
        "name": meter.name,
        "medium": meter.medium,
        "has_key": meter.meter_id in hub.keyring,
        "subentry": None
        if subentry is None
        else {
            "title": subentry.title,
            "unique_id": subentry.unique_id,
            "data": async_redact_data(dict(subentry.data), {CONF_KEY}),
        },
        "state": meter_state_json(meter),
        "records": [record_json(record) for record in meter.records.values()],
        "known_records": sorted(meter.known),
        "heard": None
        if heard is None
        else {
            "count": heard.count,
            "encrypted": heard.encrypted,
            "rssi": heard.rssi,
            "last_heard": _iso(heard.last_heard),
        },
        "last_telegrams": []
        if heard is None
        else [{"received_at": _iso(at), "rssi": rssi, "raw": raw.hex()} for at, rssi, raw in heard.recent],
    }


def receiver_counters(hub: OmsHub) -> dict[str, Any]:
    """The receiver's kind, model, firmware, connection and counters (both diagnostics show them)."""
    info = hub.info
    return {
        "kind": info.kind if info else None,
        "model": info.model if info else None,
        "firmware": info.firmware if info else None,
        "connected": hub.connected,
        "frames": hub.frames,
        "duplicates": hub.duplicates,
        "errors": dict(sorted(hub.errors.items())),
    }


def receiver_diagnostics(hub: OmsHub) -> dict[str, Any]:
    return {
        "title": hub.entry.title,
        **receiver_counters(hub),
        "last_frame_at": None if hub.last_frame_at is None else _iso(hub.last_frame_at),
        "meters": sorted(hub.meters),
    }


def device_diagnostics(hub: OmsHub, device: DeviceEntry) -> dict[str, Any]:
    """The part of the hub's knowledge that belongs to ``device`` (a meter or the receiver)."""
    ids = {identifier for domain, identifier in device.identifiers if domain == DOMAIN}
    if hub.receiver_identifier in ids:
        return {"receiver": receiver_diagnostics(hub)}
    subentries = {
        sub.data.get(CONF_METER_ID): sub
        for sub in hub.entry.subentries.values()
        if sub.subentry_type == SUBENTRY_METER
    }
    for meter_id in sorted(ids):
        meter = hub.meters.get(meter_id)
        if meter is not None:
            return {"meter": meter_diagnostics(hub, meter, subentries.get(meter_id))}
    return {"device": sorted(ids), "meter": None}
