"""Diagnostics of a receiver entry: settings, receiver, heard and configured meters. Keys are redacted."""

from __future__ import annotations

from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.core import HomeAssistant

from .const import CONF_KEY
from .hub import OmsConfigEntry

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
        "receiver": {
            "kind": info.kind if info else None,
            "model": info.model if info else None,
            "firmware": info.firmware if info else None,
            "serial": info.serial if info else None,
            "connected": hub.connected,
            "frames": hub.frames,
            "duplicates": hub.duplicates,
            "errors": dict(sorted(hub.errors.items())),
        },
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
                "records": [
                    {
                        "key": record.key,
                        "quantity": record.quantity,
                        "value": record.value.hex() if isinstance(record.value, bytes) else record.value,
                        "unit": record.unit,
                        "storage": record.storage,
                        "tariff": record.tariff,
                        "subunit": record.subunit,
                        "function": record.function,
                        "modifiers": list(record.modifiers),
                    }
                    for record in meter.records.values()
                ],
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
    return data
