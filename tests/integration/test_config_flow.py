"""Config flow: receiver (user, USB, reconfigure), options, and the meter subentry flow."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest.mock import patch

from homeassistant.config_entries import SOURCE_USB, SOURCE_USER, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers.service_info.usb import UsbServiceInfo
import pytest

from custom_components.oms.const import (
    CONF_AUTO_ADD,
    CONF_AVAILABLE_HOURS,
    CONF_DEVICE,
    CONF_KEY,
    CONF_KIND,
    CONF_LINK_MODE,
    CONF_METER_ID,
    CONF_MIN_RSSI,
    CONF_NAME,
    DOMAIN,
)
from custom_components.oms.omslib.receivers import (
    NoAnswerError,
    PortOpenError,
    ReceiverError,
    ReceiverInfo,
    UnsupportedModeError,
    WrongDeviceError,
)
from custom_components.oms.omslib.receivers.rtl433 import Rtl433Receiver
from custom_components.oms.probe import check_key
from tests.sims.endpoint import open_endpoint
from tests.sims.im871a import Im871aSim

from .conftest import (
    HEAT,
    KEY,
    KEY_HEX,
    OTHER_KEY,
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

REPLAY_START = "custom_components.oms.omslib.receivers.replay.ReplayReceiver.start"


@pytest.fixture
async def stick(socket_enabled: None) -> AsyncGenerator[tuple[Im871aSim, str]]:
    """A simulated iM871A on a pseudo-terminal (or on socket:// where there are no ptys)."""
    sim = Im871aSim()
    async with open_endpoint(sim) as endpoint:
        yield sim, endpoint.path


async def start_receiver_flow(hass: HomeAssistant) -> Any:
    """Open the user flow and choose a radio receiver in its menu."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.MENU
    assert result["menu_options"] == ["receiver", "mqtt_receivers", "lpwan", "mbus"]
    return await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": "receiver"})


def replay_input(device: str, kind: str = "replay") -> dict[str, Any]:
    return {CONF_DEVICE: device, CONF_KIND: kind, CONF_LINK_MODE: "c1t1"}


async def test_user_replay(hass: HomeAssistant, write_capture: Callable[..., str]) -> None:
    device = write_capture(water_telegram())
    result = await start_receiver_flow(hass)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "receiver"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], replay_input(device))
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == replay_input(device)
    assert result["title"] == "Replay of capture0.txt"  # friendly: no path, no query
    assert result["result"].unique_id == device


async def test_user_lists_ports(hass: HomeAssistant) -> None:
    port = SimpleNamespace(device="/dev/ttyUSB7", product="iM871A-USB", manufacturer="IMST")
    with patch("serialx.async_list_serial_ports", return_value=[port]):
        result = await start_receiver_flow(hass)
    options = result["data_schema"].schema[CONF_DEVICE].config["options"]
    assert options == [{"value": "/dev/ttyUSB7", "label": "/dev/ttyUSB7 - iM871A-USB - IMST"}]


async def test_user_port_listing_fails(hass: HomeAssistant) -> None:
    with patch("serialx.async_list_serial_ports", side_effect=OSError("no sysfs")):
        result = await start_receiver_flow(hass)
    assert result["data_schema"].schema[CONF_DEVICE].config["options"] == []


async def test_user_auto_detects_stick(hass: HomeAssistant, stick: tuple[Im871aSim, str]) -> None:
    """Automatic type: the simulated iM871A is probed, started in C1/T1 and stopped again."""
    sim, path = stick
    result = await start_receiver_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_DEVICE: f" {path} ", CONF_KIND: "auto", CONF_LINK_MODE: "c1t1"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == {CONF_DEVICE: path, CONF_KIND: "im871a", CONF_LINK_MODE: "c1t1"}
    assert sim.mode == 0x0A
    # The same stick again: by its path, then by its serial number under another path.
    result = await start_receiver_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_DEVICE: path, CONF_KIND: "auto", CONF_LINK_MODE: "c1t1"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_user_same_serial_other_path(hass: HomeAssistant, stick: tuple[Im871aSim, str]) -> None:
    _, path = stick
    result = await start_receiver_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_DEVICE: path, CONF_KIND: "im871a", CONF_LINK_MODE: "c1t1"}
    )
    entry = result["result"]
    hass.config_entries.async_update_entry(entry, data={**entry.data, CONF_DEVICE: "/dev/old"})
    # Let the entry's reload finish: until then its receiver still holds the stick.
    await hass.async_block_till_done()
    result = await start_receiver_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_DEVICE: path, CONF_KIND: "im871a", CONF_LINK_MODE: "c1t1"}
    )
    assert result["type"] is FlowResultType.ABORT, result
    assert result["reason"] == "already_configured"


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (PortOpenError("gone"), "cannot_open"),
        (NoAnswerError("silent"), "no_answer"),
        (WrongDeviceError("a CUL"), "wrong_device"),
        (UnsupportedModeError("no S1"), "unsupported_mode"),
        (ReceiverError("other"), "unknown"),
        (RuntimeError("bug"), "unknown"),
    ],
)
async def test_user_errors_and_recovery(
    hass: HomeAssistant, write_capture: Callable[..., str], error: Exception, code: str
) -> None:
    device = write_capture(water_telegram())
    result = await start_receiver_flow(hass)
    with patch(REPLAY_START, side_effect=error):
        result = await hass.config_entries.flow.async_configure(result["flow_id"], replay_input(device))
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": code}
    result = await hass.config_entries.flow.async_configure(result["flow_id"], replay_input(device))
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_user_missing_file(hass: HomeAssistant, tmp_path: Path) -> None:
    """A real failure without any patch: the capture file does not exist."""
    result = await start_receiver_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], replay_input(str(tmp_path / "missing.txt"))
    )
    assert result["errors"] == {"base": "cannot_open"}


async def test_user_shell_commands_are_refused(hass: HomeAssistant) -> None:
    """No device string typed into the UI runs a shell: ``cmd:`` for any kind, pipelines for SDR kinds."""
    result = await start_receiver_flow(hass)
    for kind, device in [
        ("hex", "cmd:touch /tmp/oms-x"),
        ("auto", "cmd:touch /tmp/oms-x"),
        ("im871a", "cmd:touch /tmp/oms-x"),
        ("rtlwmbus", "cmd:exit 3"),
        ("rtl433", "cmd:rtl_433 -F json"),
        ("rtlwmbus", "rtl_sdr - | rtl_wmbus"),
        ("rtl433", "rtl_433 -F json"),
    ]:
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_DEVICE: device, CONF_KIND: kind, CONF_LINK_MODE: "c1t1"}
        )
        assert result["errors"] == {"base": "command_not_allowed"}, (kind, device)


async def test_user_sdr_settings_become_arguments(hass: HomeAssistant, tmp_path: Path) -> None:
    """``sdr``: program, frequency, gain and dongle are fields; the program runs with them as arguments."""
    program = tmp_path / "rtl_433"
    program.write_text("#!/bin/sh\nexec sleep 5\n")
    program.chmod(0o755)
    result = await start_receiver_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_DEVICE: "sdr", CONF_KIND: "rtl433", CONF_LINK_MODE: "c1t1"}
    )
    assert result["step_id"] == "sdr"
    assert set(result["data_schema"].schema) == {"program", "frequency", "gain", "device_index"}
    fields = {"program": "/bin/sh", "frequency": 868.3, "gain": 20, "device_index": 1}
    result = await hass.config_entries.flow.async_configure(result["flow_id"], fields)
    assert result["errors"] == {"program": "invalid_program"}  # only the receiver type's own program
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], fields | {"program": "rtl_433"}
    )
    assert result["errors"] == {"base": "cannot_open"}  # not installed here
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], fields | {"program": str(program)}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "rtl_433 (SDR)"
    device = result["data"][CONF_DEVICE]
    assert device.startswith("sdr:?")
    assert result["data"][CONF_KIND] == "rtl433"
    assert Rtl433Receiver.source_of(device).argv == (
        (str(program), "-d", "1", "-f", "868300000", "-s", "1200k", "-F", "json", "-g", "20"),
    )


async def test_user_dev_path(hass: HomeAssistant) -> None:
    result = await start_receiver_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_DEVICE: "/dev/ttyOMS-missing", CONF_KIND: "im871a", CONF_LINK_MODE: "c1t1"}
    )
    assert result["errors"] == {"base": "cannot_open"}


async def test_user_auto_no_answer(hass: HomeAssistant, stick: tuple[Im871aSim, str]) -> None:
    sim, path = stick
    sim.silent = True
    result = await start_receiver_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_DEVICE: path, CONF_KIND: "auto", CONF_LINK_MODE: "c1t1"}
    )
    assert result["errors"] == {"base": "no_answer"}


async def test_user_detected_kind_without_driver(
    hass: HomeAssistant, write_capture: Callable[..., str]
) -> None:
    with patch("custom_components.oms.probe.detect", return_value=ReceiverInfo(kind="mystery")):
        result = await start_receiver_flow(hass)
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], replay_input(write_capture(water_telegram()), "auto")
        )
    assert result["errors"] == {"base": "unsupported_kind"}


def usb_info(path: str) -> UsbServiceInfo:
    return UsbServiceInfo(
        device=path,
        vid="10C4",
        pid="EA60",
        serial_number="0001",
        manufacturer="Silicon Labs",
        description="iM871A-USB",
    )


async def test_usb_discovery(hass: HomeAssistant, stick: tuple[Im871aSim, str]) -> None:
    sim, path = stick
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USB}, data=usb_info(path)
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "usb_confirm"
    assert "iM871A-USB" in result["description_placeholders"]["name"]
    sim.silent = True
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {CONF_LINK_MODE: "t1"})
    assert result["errors"] == {"base": "no_answer"}
    sim.silent = False
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {CONF_LINK_MODE: "t1"})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == {CONF_DEVICE: path, CONF_KIND: "im871a", CONF_LINK_MODE: "t1"}
    # plugged in again: already configured
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USB}, data=usb_info(path)
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_reconfigure(hass: HomeAssistant, write_capture: Callable[..., str], tmp_path: Path) -> None:
    entry = make_entry(write_capture(water_telegram()))
    hub = await setup_entry(hass, entry)
    result = await entry.start_reconfigure_flow(hass)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reconfigure"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], replay_input(str(tmp_path / "missing.txt"))
    )
    assert result["errors"] == {"base": "cannot_open"}
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    # the hub let the port go for the test and runs on: not unloaded, not reloaded
    assert entry.runtime_data is hub
    assert hub.connected
    new_device = write_capture(heat_telegram())
    result = await hass.config_entries.flow.async_configure(result["flow_id"], replay_input(new_device))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert entry.data[CONF_DEVICE] == new_device
    assert entry.unique_id == new_device
    assert entry.state is ConfigEntryState.LOADED


async def test_reconfigure_to_an_sdr(
    hass: HomeAssistant, write_capture: Callable[..., str], tmp_path: Path
) -> None:
    """Reconfigure asks an SDR's settings in the ``sdr`` step too; the running hub only lends its port."""
    program = tmp_path / "rtl_wmbus"
    program.write_text("#!/bin/sh\nexec sleep 30\n")
    program.chmod(0o755)
    (tmp_path / "rtl_sdr").symlink_to(program)
    entry = make_entry(write_capture(water_telegram()))
    await setup_entry(hass, entry)
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_DEVICE: "default", CONF_KIND: "rtlwmbus", CONF_LINK_MODE: "c1t1"}
    )
    assert result["step_id"] == "sdr"
    fields = {"program": str(program), "frequency": 868.95, "device_index": 0}
    result = await hass.config_entries.flow.async_configure(result["flow_id"], fields)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert entry.data[CONF_KIND] == "rtlwmbus"
    assert entry.data[CONF_DEVICE].startswith("sdr:?")
    assert entry.state is ConfigEntryState.LOADED
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_reconfigure_reloads_a_receiver_that_cannot_start_again(
    hass: HomeAssistant, write_capture: Callable[..., str], tmp_path: Path
) -> None:
    """The port was lent for a failed test and the receiver cannot take it back: the entry is reloaded."""
    device = write_capture(water_telegram())
    entry = make_entry(device)
    await setup_entry(hass, entry)
    os.remove(device.partition("?")[0])  # its own capture is gone: it cannot start again
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], replay_input(str(tmp_path / "missing.txt"))
    )
    assert result["errors"] == {"base": "cannot_open"}
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.SETUP_RETRY


async def test_reconfigure_to_other_entrys_receiver(
    hass: HomeAssistant, write_capture: Callable[..., str]
) -> None:
    other_device = write_capture(water_telegram())
    make_entry(other_device, unique_id=other_device).add_to_hass(hass)
    entry = make_entry(write_capture(water_telegram()), entry_id="entry_two", unique_id="two")
    await setup_entry(hass, entry)
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], replay_input(other_device))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED


async def test_reconfigure_not_loaded(hass: HomeAssistant, write_capture: Callable[..., str]) -> None:
    entry = make_entry(write_capture(water_telegram()))
    entry.add_to_hass(hass)
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], replay_input("/nonexistent"))
    assert result["errors"] == {"base": "cannot_open"}
    assert entry.state is ConfigEntryState.NOT_LOADED
    other = write_capture(water_telegram())
    make_entry(other, entry_id="entry_two", unique_id=other).add_to_hass(hass)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], replay_input(other))
    assert result["reason"] == "already_configured"
    assert entry.state is ConfigEntryState.NOT_LOADED


async def test_options(hass: HomeAssistant, write_capture: Callable[..., str]) -> None:
    entry = make_entry(write_capture(water_telegram()))
    await setup_entry(hass, entry)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.FORM
    options = {CONF_AUTO_ADD: True, CONF_MIN_RSSI: -90, CONF_AVAILABLE_HOURS: 2}
    result = await hass.config_entries.options.async_configure(result["flow_id"], options)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert entry.options == options
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data.min_rssi == -90


# -- meter subentries -------------------------------------------------------------------


async def test_add_heard_meter(hass: HomeAssistant, write_capture: Callable[..., str]) -> None:
    """Heard meters are offered strongest first; the chosen one gets its device and entities at once."""
    entry = make_entry(write_capture((water_telegram(), -80.0), (heat_telegram(), -55.0)))
    await setup_entry(hass, entry)
    result = await start_meter_flow(hass, entry.entry_id)
    assert result["type"] is FlowResultType.FORM
    options = result["data_schema"].schema[CONF_METER_ID].config["options"]
    assert [o["value"] for o in options] == [HEAT.id, WATER.id]
    assert options[0]["label"].startswith("87654321 · QDS heat · -55 dBm")
    assert options[0]["label"].endswith("encrypted")
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {CONF_METER_ID: WATER.id}
    )
    assert result["step_id"] == "meter_unencrypted"  # heard in plaintext: no key field
    result = await hass.config_entries.subentries.async_configure(result["flow_id"], {CONF_NAME: "Garden"})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    (subentry,) = entry.subentries.values()
    assert subentry.title == "Garden"
    assert subentry.unique_id == WATER.id
    assert subentry.data == {
        CONF_METER_ID: WATER.id,
        "manufacturer": "KAM",
        "device_type": 7,
        "version": 0x1B,
    }
    assert hass.states.get("sensor.garden_volume").state == "123.456"  # type: ignore[union-attr]
    # the same meter again
    result = await start_meter_flow(hass, entry.entry_id)
    assert [o["value"] for o in result["data_schema"].schema[CONF_METER_ID].config["options"]] == [HEAT.id]
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {CONF_METER_ID: WATER.id}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_add_encrypted_meter_checks_key(hass: HomeAssistant, write_capture: Callable[..., str]) -> None:
    entry = make_entry(write_capture(heat_telegram()))
    await setup_entry(hass, entry)
    result = await start_meter_flow(hass, entry.entry_id)
    result = await hass.config_entries.subentries.async_configure(result["flow_id"], {CONF_METER_ID: HEAT.id})
    flow_id = result["flow_id"]
    for key, error in (("", "key_required"), ("12 34", "invalid_key"), (OTHER_KEY.hex(), "wrong_key")):
        result = await hass.config_entries.subentries.async_configure(flow_id, {CONF_KEY: key})
        assert result["errors"] == {CONF_KEY: error}
    result = await hass.config_entries.subentries.async_configure(flow_id, {CONF_KEY: KEY.hex().upper()})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Qundis heat 87654321"
    await hass.async_block_till_done()
    (subentry,) = entry.subentries.values()
    assert subentry.data[CONF_KEY] == KEY_HEX
    assert hass.states.get("sensor.qundis_heat_87654321_energy").state == "4200"  # type: ignore[union-attr]


async def test_add_typed_meter(hass: HomeAssistant, write_capture: Callable[..., str]) -> None:
    entry = make_entry(write_capture(water_telegram()))
    await setup_entry(hass, entry)
    result = await start_meter_flow(hass, entry.entry_id)
    result = await hass.config_entries.subentries.async_configure(result["flow_id"], {CONF_METER_ID: "12-34"})
    assert result["errors"] == {CONF_METER_ID: "invalid_meter_id"}
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {CONF_METER_ID: "0011 22aa"}
    )
    assert result["step_id"] == "meter"
    result = await hass.config_entries.subentries.async_configure(result["flow_id"], {CONF_KEY: KEY_HEX})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "001122AA"
    assert result["data"] == {CONF_METER_ID: "001122AA", CONF_KEY: KEY_HEX}


async def test_add_meter_receiver_not_loaded(hass: HomeAssistant, tmp_path: Path) -> None:
    entry = make_entry(str(tmp_path / "missing.txt"))
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_RETRY
    result = await start_meter_flow(hass, entry.entry_id)
    assert result["data_schema"].schema[CONF_METER_ID].config["options"] == []
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {CONF_METER_ID: WATER.id}
    )
    result = await hass.config_entries.subentries.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_reconfigure_meter(hass: HomeAssistant, write_capture: Callable[..., str]) -> None:
    entry = make_entry(write_capture(heat_telegram()), [heat_subentry(key=None), water_subentry()])
    await setup_entry(hass, entry)
    result = await start_meter_reconfigure(hass, entry.entry_id, "sub_heat")
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reconfigure"
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {CONF_NAME: "Heat", CONF_KEY: OTHER_KEY.hex()}
    )
    assert result["errors"] == {CONF_KEY: "wrong_key"}
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {CONF_NAME: "Radiators", CONF_KEY: KEY_HEX}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    subentry = entry.subentries["sub_heat"]
    assert subentry.title == "Radiators"
    assert subentry.data[CONF_KEY] == KEY_HEX
    # name only: the key stays
    result = await start_meter_reconfigure(hass, entry.entry_id, "sub_water")
    result = await hass.config_entries.subentries.async_configure(result["flow_id"], {CONF_NAME: ""})
    assert result["reason"] == "reconfigure_successful"
    assert entry.subentries["sub_water"].title == "Kitchen water"


def test_check_key_cannot_tell() -> None:
    """A telegram that does not decode for another reason cannot disprove a key."""
    assert check_key(b"\x00\x01", KEY)
    assert check_key(water_telegram(), KEY)
    assert not check_key(heat_telegram(), OTHER_KEY)
