"""Device diagnostics: a meter's own identity, counters, records and last telegrams; never its key."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
import json
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.components.diagnostics import get_diagnostics_for_device
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from syrupy.assertion import SnapshotAssertion

from custom_components.oms.const import DOMAIN
from custom_components.oms.hub import find_device
from custom_components.oms.meter_diagnostics import jsonable, meter_state_json

from .conftest import (
    HEAT,
    KEY_HEX,
    WATER,
    feed,
    heat_subentry,
    heat_telegram,
    make_entry,
    setup_entry,
    water_subentry,
    water_telegram,
)


def _stable(data: Any) -> Any:
    """Receive times vary from run to run: replace them (and only them) by a marker."""
    if isinstance(data, dict):
        return {
            key: "<time>"
            if key in ("last_heard", "received_at", "dedup_at", "last_frame_at")
            else _stable(value)
            for key, value in data.items()
        }
    if isinstance(data, list):
        return [_stable(item) for item in data]
    return data


async def test_meter_device_diagnostics(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    write_capture: Callable[..., str],
    snapshot: SnapshotAssertion,
) -> None:
    assert await async_setup_component(hass, "diagnostics", {})
    entry = make_entry(write_capture(water_telegram(), heat_telegram()), [water_subentry(), heat_subentry()])
    hub = await setup_entry(hass, entry)
    await feed(hass, hub, heat_telegram(4200, acc=8))
    heat = find_device(hass, entry.entry_id, (DOMAIN, HEAT.id))
    water = find_device(hass, entry.entry_id, (DOMAIN, WATER.id))
    assert heat is not None
    assert water is not None

    data = await get_diagnostics_for_device(hass, hass_client, entry, heat)
    text = json.dumps(data)
    assert KEY_HEX not in text.lower()
    meter = data["meter"]
    assert meter["meter_id"] == HEAT.id
    assert meter["has_key"] is True
    assert meter["subentry"]["data"]["key"] == "**REDACTED**"
    assert WATER.id not in text  # only this meter, not the whole entry
    # its last telegrams, newest last, as received (encrypted)
    assert [t["raw"] for t in meter["last_telegrams"]] == [
        heat_telegram().hex(),
        heat_telegram(4200, acc=8).hex(),
    ]
    assert meter["state"]["access_number"] == 8
    assert meter["heard"]["count"] == 2
    assert meter["state"]["available"] is True
    # the state is dumped field by field (tested below); the snapshot holds the rest
    assert _stable({**data, "meter": {**meter, "state": "<fields>"}}) == snapshot(name="heat")

    data = await get_diagnostics_for_device(hass, hass_client, entry, water)
    assert data["meter"]["meter_id"] == WATER.id
    assert data["meter"]["has_key"] is False
    assert HEAT.id not in json.dumps(data)

    receiver = find_device(hass, entry.entry_id, (DOMAIN, hub.receiver_identifier))
    assert receiver is not None
    data = await get_diagnostics_for_device(hass, hass_client, entry, receiver)
    assert data["receiver"]["frames"] == 3
    assert data["receiver"]["meters"] == sorted([HEAT.id, WATER.id])


@dataclass
class _Inner:
    count: int = 0
    hidden: object = field(default=None, repr=False)


@dataclass
class _State:
    number: int = 1
    stamp: bytes = b"\x01\x02"
    inner: _Inner = field(default_factory=_Inner)
    counts: dict[str, int] = field(default_factory=lambda: {"b": 2, "a": 1})


def test_state_is_dumped_generically() -> None:
    """Counters added to the meter state later show up without changes to the dump."""
    assert jsonable(_State()) == {
        "number": 1,
        "stamp": "0102",
        "inner": {"count": 0},  # repr=False fields are internal
        "counts": {"a": 1, "b": 2},
    }


async def test_meter_state_fields(hass: HomeAssistant, write_capture: Callable[..., str]) -> None:
    entry = make_entry(write_capture(water_telegram()), [water_subentry()])
    hub = await setup_entry(hass, entry)
    state = meter_state_json(hub.meters[WATER.id])
    assert "records" not in state  # shown in their own section
    assert "dedup" not in state  # internal
    assert state["available"] is True
    assert state["manufacturer"] == "KAM"
    json.dumps(state)  # everything is JSON
