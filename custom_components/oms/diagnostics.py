"""Diagnostics of a receiver entry: settings, receiver, heard and configured meters. Keys are redacted."""

from __future__ import annotations

from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.core import HomeAssistant
from homeassistant.helpers.device_registry import DeviceEntry

from .const import CONF_KEY
from .hub import OmsConfigEntry
from .lpwan_mqtt import LpwanReceiver, lpwan_diagnostics
from .meter_diagnostics import device_diagnostics, receiver_counters, record_json
from .statistics import diagnostics as profile_statistics, series_json

TO_REDACT = {CONF_KEY}


async def async_get_config_entry_diagnostics(hass: HomeAssistant, entry: OmsConfigEntry) -> dict[str, Any]:
    """Everything the hub knows, without AES keys or raw telegrams."""
    hub = entry.runtime_data
    info = hub.info
    data: dict[str, Any] = {
        "entry": {
            "title": entry.title,
            "data": async_redact_data(dict(entry.data), TO_REDACT),
            "options": dict(entry.options),
            "subentries": [
                {
                    "title": sub.title,
                    "subentry_type": sub.subentry_type,
                    "unique_id": sub.unique_id,
                    "data": async_redact_data(dict(sub.data), TO_REDACT),
                }
                for sub in entry.subentries.values()
            ],
        },
        "receiver": {**receiver_counters(hub), "serial": info.serial if info else None},
        "meters": {
            meter.meter_id: {
                "manufacturer": meter.manufacturer,
                "medium": meter.medium,
                "version": meter.version,
                "available": meter.available,
                "problem": meter.problem,
                "rssi": meter.rssi,
                "access_number": meter.access_number,
                "status": meter.status.raw if meter.status else None,
                "has_key": meter.meter_id in hub.keyring,
                "rejected": dict(sorted(meter.rejected.items())),
                "max_rate": meter.max_rate,
                "trust": {
                    "identity": list(meter.identity) if meter.identity else None,
                    "message_counter": meter.freshness.counter,
                    "access_number": meter.freshness.access,
                    "record_layouts": len(meter.layouts),
                    "accepted_totals": {key: track.value for key, track in meter.totals.items()},
                },
                "records": [record_json(record) for record in meter.records.values()],
            }
            for meter in hub.meters.values()
        },
        "heard": [
            {
                "meter_id": heard.meter_id,
                "manufacturer": heard.manufacturer,
                "medium": heard.medium,
                "version": heard.version,
                "rssi": heard.rssi,
                "encrypted": heard.encrypted,
                "count": heard.count,
            }
            for heard in hub.heard_meters()
        ],
    }
    for meter in hub.meters.values():  # compact profiles (issue 12): the last decoded series per meter
        series = {r.key: series_json(r.series) for r in meter.records.values() if r.series is not None}
        if series:
            data["meters"][meter.meter_id]["series"] = series
            data["meters"][meter.meter_id]["profile_statistics"] = profile_statistics(hass, meter.meter_id)
    if hub.has_remotes:
        data["remote_receivers"] = {
            name: {
                "telegrams": stats.telegrams,
                "per_minute": stats.per_minute(),
                "last_seen": stats.last_seen,
                "unknown": stats.unknown,
                "reasons": dict(sorted(stats.reasons.items())),
            }
            for name, stats in hub.remote_stats.items()
        }
        for meter in hub.meters.values():
            data["meters"][meter.meter_id]["receivers"] = list(meter.receivers)
    if isinstance(hub.receiver, LpwanReceiver):
        data["lpwan"] = lpwan_diagnostics(hub.receiver)
    return data


async def async_get_device_diagnostics(
    hass: HomeAssistant, entry: OmsConfigEntry, device: DeviceEntry
) -> dict[str, Any]:
    """One meter's identity, counters, records and last telegrams (or the receiver's counters)."""
    return device_diagnostics(entry.runtime_data, device)
