"""What a receiver entry keeps in Home Assistant's storage, as JSON.

Two stores per entry (:class:`~.hub.OmsHub` owns them): ``oms.<entry_id>`` holds every
record layout each meter has sent (so its entities exist after a restart, before its next
telegram) and the names of the remote receivers heard; ``oms.<entry_id>.trust`` holds what
replay protection and plausibility (:mod:`.omslib.trust`) must remember of each meter.
A LoRaWAN / mioty entry has a third, ``oms.<entry_id>.lpwan``, that its
:class:`~.lpwan_mqtt.LpwanReceiver` owns: the last frame counter per DevEUI
(:meth:`.omslib.lpwan.FrameCounters.to_json`). Removing the entry deletes all three.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers.storage import Store

from .const import DOMAIN, STORAGE_VERSION
from .models import MeterState
from .omslib.record import Record
from .omslib.trust import Freshness, TotalTrack

STORE_PARTS = ("", "trust", "lpwan")
"""The stores of an entry, by the suffix of their key (see the module docstring)."""


def store_key(entry_id: str, part: str = "") -> str:
    """The storage key of an entry's store: ``oms.<entry_id>`` or ``oms.<entry_id>.<part>``."""
    return f"{DOMAIN}.{entry_id}.{part}" if part else f"{DOMAIN}.{entry_id}"


async def async_remove_stores(hass: HomeAssistant, entry_id: str) -> None:
    """Delete every store of a removed entry (layouts, trust state, frame counters)."""
    for part in STORE_PARTS:
        await Store[dict[str, object]](hass, STORAGE_VERSION, store_key(entry_id, part)).async_remove()


def record_meaning(record: Record) -> dict[str, Any]:
    """What a record measures (quantity, unit, storage, tariff, subunit, function, modifiers) as JSON.

    The part of a record that storage (:func:`record_to_json`) and the diagnostics share.
    """
    return {
        "quantity": record.quantity,
        "unit": record.unit,
        "storage": record.storage,
        "tariff": record.tariff,
        "subunit": record.subunit,
        "function": record.function,
        "modifiers": list(record.modifiers),
    }


def record_to_json(record: Record) -> dict[str, Any]:
    """A record's layout (not its value: the type only) for storage."""
    return {
        "dib": record.dib.hex(),
        "vib": record.vib.hex(),
        **record_meaning(record),
        "type": type(record.value).__name__,
    }


def record_from_json(data: Mapping[str, Any]) -> Record:
    """A layout-only record (value None, or an empty string for dates) restored from storage."""
    kind = data.get("type")
    value: str | bytes | None = "" if kind == "str" else b"" if kind == "bytes" else None
    return Record(
        dib=bytes.fromhex(data["dib"]),
        vib=bytes.fromhex(data["vib"]),
        quantity=data["quantity"],
        value=value,
        unit=data.get("unit"),
        storage=data.get("storage", 0),
        tariff=data.get("tariff", 0),
        subunit=data.get("subunit", 0),
        function=data.get("function", "instantaneous"),
        modifiers=tuple(data.get("modifiers", ())),
    )


def trust_to_json(meter: MeterState) -> dict[str, Any]:
    """What replay protection and plausibility must remember of a meter across restarts."""
    fresh = meter.freshness
    return {
        "identity": list(meter.identity) if meter.identity else None,
        "counter": fresh.counter,
        "access": fresh.access,
        "totals": {key: [track.value, track.at] for key, track in meter.totals.items()},
        "layouts": sorted(meter.layouts),
    }


def trust_from_json(meter: MeterState, data: Mapping[str, Any]) -> None:
    """Restore :func:`trust_to_json`'s data; anything malformed is dropped, not trusted."""
    identity = data.get("identity")
    if isinstance(identity, list) and len(identity) == 3:
        meter.identity = (str(identity[0]), int(identity[1]), int(identity[2]))
    counter, access = data.get("counter"), data.get("access")
    meter.freshness = Freshness(
        counter if isinstance(counter, int) else None, access if isinstance(access, int) else None
    )
    layouts = data.get("layouts")
    if isinstance(layouts, list):
        meter.layouts = {layout for layout in layouts if isinstance(layout, int)}
    totals = data.get("totals")
    if isinstance(totals, dict):
        for key, pair in totals.items():
            if isinstance(pair, list) and len(pair) == 2 and all(isinstance(v, int | float) for v in pair):
                meter.totals[str(key)] = TotalTrack(float(pair[0]), float(pair[1]))
