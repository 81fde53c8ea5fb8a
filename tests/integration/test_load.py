"""What keeps the event loop free under load (issue 10): one context per telegram, store snapshots.

Timings are measured by ``scripts/bench_mqtt.py``, not asserted here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from homeassistant.const import EVENT_STATE_CHANGED
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
import pytest

from custom_components.oms.omslib.frame import Frame

from .conftest import feed, make_entry, setup_entry, water_subentry, water_telegram


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_one_context_per_telegram(hass: HomeAssistant, write_capture: Callable[..., str]) -> None:
    """The state changes one telegram causes share one context; the next telegram has its own."""
    entry = make_entry(write_capture(water_telegram(123456)), [water_subentry()])
    hub = await setup_entry(hass, entry)
    contexts: list[list[str]] = []

    @callback
    def _changed(event: Event[EventStateChangedData]) -> None:
        if event.data["entity_id"].startswith(("sensor.kitchen_water_", "binary_sensor.kitchen_water_")):
            contexts[-1].append(event.context.id)

    unsub = hass.bus.async_listen(EVENT_STATE_CHANGED, _changed)
    for acc, volume in ((2, 123460), (3, 123470)):
        contexts.append([])
        raw = water_telegram(volume, acc=acc)
        await feed(hass, hub, raw)
        if acc == 2:  # a copy heard better by another receiver: the signal sensor changes
            receiver: Any = hub.receiver
            receiver._on_frame(Frame(raw, rssi_dbm=-50.0, receiver_id="attic"))
            await hass.async_block_till_done()
            assert hass.states.get("sensor.kitchen_water_signal_strength").state == "-50.0"  # type: ignore[union-attr]
    unsub()
    first, second = contexts
    assert len(first) >= 3
    assert len(set(first)) == 1
    assert len(set(second)) == 1
    assert first[0] != second[0]
    assert hass.states.get("sensor.kitchen_water_access_number").context.id == second[0]  # type: ignore[union-attr]


async def test_store_data_is_a_snapshot(hass: HomeAssistant, write_capture: Callable[..., str]) -> None:
    """The layouts handed to the store do not change when the hub learns more later (they may be
    serialised in a worker thread while the event loop goes on)."""
    entry = make_entry(write_capture(water_telegram(123456)), [water_subentry()])
    hub = await setup_entry(hass, entry)
    saved = hub._stored()
    layouts = dict(saved["meters"])
    hub._layouts["99999999"] = []
    hub.remote_names.append("attic")
    assert saved["meters"] == layouts
    assert "99999999" not in saved["meters"]
    assert saved["receivers"] == []
