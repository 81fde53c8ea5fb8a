"""What a homeowner sees in the forms: no pre-selected meter, typed keys kept, no key for plaintext
meters, removable keys, friendly receiver titles (issue 15, item 8)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from unittest.mock import patch

from homeassistant.config_entries import SOURCE_USER
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr
import voluptuous as vol

from custom_components.oms.const import (
    CONF_DEVICE,
    CONF_KEY,
    CONF_KIND,
    CONF_LINK_MODE,
    CONF_METER_ID,
    CONF_NAME,
    DOMAIN,
)
from custom_components.oms.demo import CAPTURE
from custom_components.oms.flow_meter import REMOVE_KEY
from custom_components.oms.flow_receiver import DEMO_TITLE, async_receiver_title
from custom_components.oms.omslib.receivers import ReceiverInfo

from .conftest import (
    HEAT,
    KEY_HEX,
    WATER,
    heat_subentry,
    heat_telegram,
    make_entry,
    setup_entry,
    start_meter_flow,
    start_meter_reconfigure,
    water_subentry,
    water_telegram,
)


def field(result: Any, name: str) -> vol.Marker | None:
    """The schema marker of a form field, or None when the form has no such field."""
    return next((marker for marker in result["data_schema"].schema if str(marker) == name), None)


def suggested(result: Any, name: str) -> Any:
    marker = field(result, name)
    assert marker is not None, name
    return (marker.description or {}).get("suggested_value")


async def test_add_meter_selects_nothing_by_default(
    hass: HomeAssistant, write_capture: Callable[..., str]
) -> None:
    entry = make_entry(write_capture(water_telegram(), heat_telegram()))
    await setup_entry(hass, entry)
    result = await start_meter_flow(hass, entry.entry_id)
    marker = field(result, CONF_METER_ID)
    # The frontend fills a required select with its first option (a neighbour's meter), not an optional one.
    assert isinstance(marker, vol.Optional)
    assert marker.default is vol.UNDEFINED
    assert len(result["data_schema"].schema[marker].config["options"]) == 2
    result = await hass.config_entries.subentries.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_METER_ID: "meter_required"}


async def test_key_field_keeps_what_was_typed(hass: HomeAssistant, write_capture: Callable[..., str]) -> None:
    entry = make_entry(write_capture(heat_telegram()))
    await setup_entry(hass, entry)
    result = await start_meter_flow(hass, entry.entry_id)
    result = await hass.config_entries.subentries.async_configure(result["flow_id"], {CONF_METER_ID: HEAT.id})
    assert result["step_id"] == "meter"
    assert isinstance(field(result, CONF_KEY), vol.Required)  # heard encrypted
    typo = KEY_HEX[:-1] + "x"
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {CONF_NAME: "Radiators", CONF_KEY: typo}
    )
    assert result["errors"] == {CONF_KEY: "invalid_key"}
    assert suggested(result, CONF_KEY) == typo
    assert suggested(result, CONF_NAME) == "Radiators"
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {CONF_NAME: "Radiators", CONF_KEY: KEY_HEX}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_unencrypted_meter_is_not_asked_for_a_key(
    hass: HomeAssistant, write_capture: Callable[..., str]
) -> None:
    entry = make_entry(write_capture(water_telegram()))
    await setup_entry(hass, entry)
    result = await start_meter_flow(hass, entry.entry_id)
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {CONF_METER_ID: WATER.id}
    )
    assert result["step_id"] == "meter_unencrypted"
    assert field(result, CONF_KEY) is None
    assert field(result, CONF_NAME) is not None
    result = await hass.config_entries.subentries.async_configure(result["flow_id"], {CONF_NAME: "Garden"})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert CONF_KEY not in result["data"]
    # a meter typed by ID and never heard may encrypt: the key field stays (optional)
    result = await start_meter_flow(hass, entry.entry_id)
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {CONF_METER_ID: "99887766"}
    )
    assert result["step_id"] == "meter"
    assert isinstance(field(result, CONF_KEY), vol.Optional)


async def test_reconfigure_can_remove_the_key(hass: HomeAssistant, write_capture: Callable[..., str]) -> None:
    entry = make_entry(write_capture(heat_telegram()), [heat_subentry(), water_subentry()])
    hub = await setup_entry(hass, entry)
    assert HEAT.id in hub.keyring
    # a meter without a key has nothing to remove
    result = await start_meter_reconfigure(hass, entry.entry_id, "sub_water")
    assert field(result, REMOVE_KEY) is None
    result = await start_meter_reconfigure(hass, entry.entry_id, "sub_heat")
    assert field(result, REMOVE_KEY) is not None
    # an error keeps the typed values
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {CONF_NAME: "Heat", CONF_KEY: "12 34"}
    )
    assert result["errors"] == {CONF_KEY: "invalid_key"}
    assert suggested(result, CONF_KEY) == "12 34"
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {CONF_NAME: "Heat", REMOVE_KEY: True}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert CONF_KEY not in entry.subentries["sub_heat"].data
    assert entry.subentries["sub_heat"].data[CONF_METER_ID] == HEAT.id
    assert HEAT.id not in hub.keyring


async def test_demo_receiver_title_and_device_name(hass: HomeAssistant) -> None:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": "receiver"})
    device = f"{CAPTURE}?rate=1000&loop=0"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_DEVICE: device, CONF_KIND: "replay", CONF_LINK_MODE: "c1t1"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == DEMO_TITLE == "Demo receiver"
    await hass.async_block_till_done()
    entry = result["result"]
    (receiver,) = [
        d
        for d in dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id)
        if any(i[1].startswith("receiver_") for i in d.identifiers)
    ]
    assert receiver.name == "Demo receiver"
    await hass.config_entries.async_unload(entry.entry_id)


async def test_friendly_titles(hass: HomeAssistant) -> None:
    stick = ReceiverInfo(kind="im871a", model="iM871A")
    assert await async_receiver_title(hass, stick, "im871a", "/dev/ttyUSB0") == "iM871A on /dev/ttyUSB0"
    with patch("custom_components.oms.flow_receiver.os.path.realpath", return_value="/dev/ttyUSB1"):
        by_id = "/dev/serial/by-id/usb-IMST_GmbH_iM871A-USB_0001-if00-port0"
        assert await async_receiver_title(hass, stick, "im871a", by_id) == "iM871A on /dev/ttyUSB1"
    gateway = ReceiverInfo(kind="mbus", model="M-Bus master")
    assert await async_receiver_title(hass, gateway, "mbus", "socket://10.0.0.5:10001") == (
        "M-Bus master on socket://10.0.0.5:10001"
    )
    assert (
        await async_receiver_title(hass, stick, "im871a", "rfc2217://host:1?token=x")
        == "iM871A on rfc2217://host:1?…"
    )
    replay = ReceiverInfo(kind="replay", model="replay of capture.txt")
    assert (
        await async_receiver_title(hass, replay, "replay", "/tmp/x/capture.txt?rate=5")
        == "Replay of capture.txt"
    )
    hass.config.language = "de"
    assert await async_receiver_title(hass, stick, "im871a", "/dev/ttyUSB0") == "iM871A an /dev/ttyUSB0"
    assert (
        await async_receiver_title(hass, replay, "replay", "/tmp/x/capture.txt?rate=5")
        == "Wiedergabe von capture.txt"
    )
