"""What keeps the event loop free under load (issue 10): store snapshots; and what must not be traded for it.

Timings are measured by ``scripts/bench_mqtt.py``, not asserted here.
"""

from __future__ import annotations

from collections.abc import Callable

from homeassistant.const import EVENT_STATE_CHANGED
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
import pytest

from .conftest import feed, make_entry, setup_entry, water_subentry, water_telegram


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_each_state_change_has_its_own_context(
    hass: HomeAssistant, write_capture: Callable[..., str]
) -> None:
    """A telegram's state changes do not share one context: the logbook would then say that one of a
    meter's entities was "triggered by" another (a shared context saved garbage, but told users that)."""
    entry = make_entry(write_capture(water_telegram(123456)), [water_subentry()])
    hub = await setup_entry(hass, entry)
    contexts: list[str] = []

    @callback
    def _changed(event: Event[EventStateChangedData]) -> None:
        if event.data["entity_id"].startswith(("sensor.kitchen_water_", "binary_sensor.kitchen_water_")):
            contexts.append(event.context.id)

    unsub = hass.bus.async_listen(EVENT_STATE_CHANGED, _changed)
    await feed(hass, hub, water_telegram(123460, acc=2, error_flags=1))
    unsub()
    assert len(contexts) >= 3
    assert len(set(contexts)) == len(contexts)


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
