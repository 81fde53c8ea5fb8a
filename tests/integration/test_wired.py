"""Wired M-Bus master: receiver flow, bus scan and meters by address, polling and availability.

The bus is tests/sims/sim_mbus.py behind a real pseudo-terminal (or a TCP gateway
where there are no ptys). Its five standard slaves: 1-3 answer (3 in two
telegrams), 4 replies with a wrong checksum, 5 never answers.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Generator
from datetime import timedelta
from typing import Any
from unittest.mock import patch

from homeassistant.config_entries import SOURCE_USER, ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.data_entry_flow import EVENT_DATA_ENTRY_FLOW_PROGRESSED, FlowResultType, InvalidData
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.oms.const import (
    CONF_ADDRESS,
    CONF_BAUDRATE,
    CONF_DEVICE,
    CONF_DEVICE_TYPE,
    CONF_KEY,
    CONF_KIND,
    CONF_MANUFACTURER,
    CONF_MAX_FAILURES,
    CONF_METER_ID,
    CONF_NAME,
    CONF_SCAN_INTERVAL,
    CONF_VERSION,
    DOMAIN,
    SUBENTRY_METER,
)
from custom_components.oms.hub import OmsHub, find_device
from custom_components.oms.omslib.errors import MalformedError, NoKeyError
from custom_components.oms.omslib.receivers.mbus_master import (
    MbusCollision,
    MbusMaster,
    MbusPortError,
    MeterReading,
)
from custom_components.oms.poller import MASTER_OPTIONS
from custom_components.oms.probe import async_identify
from tests.sims.endpoint import PtyEndpoint, TcpEndpoint, open_endpoint
from tests.sims.sim_mbus import MbusBus, energy_kwh, standard_slaves, volume_litres

from .conftest import start_meter_flow

BAUD = 38400
"""The simulated bus runs fast; every request's answer window is short."""
FAST = {"timeout": 0.25, "retries": 2, "pause": 0.0, "settle": 0.03}
SECONDARIES = {"100000012D2C0107", "200000022D2C0107", "21000003A5110407", "300000042D2C0107"}
IDENTIFY = "custom_components.oms.probe.async_identify"

type Bus = tuple[MbusBus, PtyEndpoint | TcpEndpoint]


@pytest.fixture(autouse=True)
def fast_bus() -> Generator[None]:
    """Short answer windows, and scans without retries of primary addresses 0-7 only."""
    with (
        patch.dict(MASTER_OPTIONS, FAST),
        patch("custom_components.oms.probe.PRIMARY_SCAN_RANGE", range(8)),
        patch("custom_components.oms.probe.SCAN_RETRIES", 0),
    ):
        yield


POLLS_STARTED = "test_wired_polls_started"
"""hass.data key: the event loop's time when the poller last started its poll interval."""


@pytest.fixture(autouse=True)
def poll_clock(hass: HomeAssistant) -> Generator[None]:
    """Note when the poll interval starts, so :func:`poll_later` counts from it, not from the wall clock."""

    def track(hass: HomeAssistant, *args: Any, **kwargs: Any) -> Any:
        hass.data[POLLS_STARTED] = hass.loop.time()
        return async_track_time_interval(hass, *args, **kwargs)

    with patch("custom_components.oms.poller.async_track_time_interval", track):
        yield


@pytest.fixture
async def bus(socket_enabled: None) -> AsyncGenerator[Bus]:
    sim = MbusBus(standard_slaves(), baudrate=BAUD)
    async with open_endpoint(sim) as endpoint:
        yield sim, endpoint


@pytest.fixture
async def tcp_bus(socket_enabled: None) -> AsyncGenerator[Bus]:
    """The bus behind a TCP gateway: for tests that open the port twice.

    A Linux pty that was once opened with even parity refuses the same settings on the next open
    (EINVAL from tcsetattr); real converters and gateways do not.
    """
    sim = MbusBus(standard_slaves(), baudrate=BAUD)
    async with TcpEndpoint(sim) as endpoint:
        yield sim, endpoint


@pytest.fixture
async def unload_all(hass: HomeAssistant) -> AsyncGenerator[None]:
    """Stop every master before the simulated bus goes away (no reconnect timers left behind)."""
    yield
    for entry in hass.config_entries.async_entries(DOMAIN):
        if entry.state is ConfigEntryState.LOADED:
            await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


def wired_subentry(meter_id: str, address: int | str, title: str, subentry_id: str) -> dict[str, Any]:
    return {
        "data": {CONF_METER_ID: meter_id, CONF_ADDRESS: address},
        "subentry_id": subentry_id,
        "subentry_type": SUBENTRY_METER,
        "title": title,
        "unique_id": meter_id,
    }


METER_1 = wired_subentry("10000001", 1, "Meter one", "sub_1")
METER_2 = wired_subentry("20000002", "200000022D2C0107", "Meter two", "sub_2")
METER_3 = wired_subentry("21000003", 3, "Meter three", "sub_3")


def mbus_entry(
    device: str, subentries: list[dict[str, Any]] | None = None, options: dict[str, Any] | None = None
) -> MockConfigEntry:
    return MockConfigEntry(
        domain=DOMAIN,
        title=f"M-Bus master ({device})",
        entry_id="entry_mbus",
        unique_id=device,
        data={CONF_DEVICE: device, CONF_KIND: "mbus", CONF_BAUDRATE: BAUD},
        options=options or {},
        subentries_data=subentries or [],
        version=1,
        minor_version=1,
    )


async def settle(hass: HomeAssistant) -> None:
    """Let running poll cycles and reconnects finish."""
    await hass.async_block_till_done(wait_background_tasks=True)


async def setup_mbus(hass: HomeAssistant, entry: MockConfigEntry) -> OmsHub:
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await settle(hass)
    hub: OmsHub = entry.runtime_data
    return hub


async def poll_later(hass: HomeAssistant, seconds: float) -> None:
    """Run what is due ``seconds`` after the poll interval started (however long the test took so far).

    Timers are due by the event loop's clock; the target is taken from the interval's start, so
    a slow machine neither fires a poll early (299 s) nor misses one (301 s).
    """
    ahead = hass.data[POLLS_STARTED] + seconds - hass.loop.time()
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=ahead))
    await settle(hass)


def sensor_state(hass: HomeAssistant, meter_id: str, key: str) -> str:
    """State of the meter's entity with this translation key (e.g. "volume")."""
    ent_reg = er.async_get(hass)
    matches = [
        e.entity_id
        for e in ent_reg.entities.values()
        if e.unique_id.startswith(f"{meter_id}_") and e.translation_key == key
    ]
    assert len(matches) == 1, (key, [(e.unique_id, e.translation_key) for e in ent_reg.entities.values()])
    state = hass.states.get(matches[0])
    assert state is not None
    return state.state


async def start_mbus_flow(hass: HomeAssistant) -> Any:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.MENU
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": "mbus"})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "mbus"
    return result


async def choose(hass: HomeAssistant, result: Any, step: str) -> Any:
    assert result["type"] is FlowResultType.MENU
    return await hass.config_entries.subentries.async_configure(result["flow_id"], {"next_step_id": step})


async def run_scan(hass: HomeAssistant, entry_id: str, scan_type: str) -> Any:
    """Meter flow: scan the bus; returns the "found" form (or the abort)."""
    result = await choose(hass, await start_meter_flow(hass, entry_id), "scan")
    assert result["step_id"] == "scan"
    result = await hass.config_entries.subentries.async_configure(result["flow_id"], {"scan_type": scan_type})
    assert result["type"] is FlowResultType.SHOW_PROGRESS
    assert result["progress_action"] == "scan"
    await hass.async_block_till_done()
    return await hass.config_entries.subentries.async_configure(result["flow_id"])


def found_options(result: Any) -> dict[str, str]:
    return {o["value"]: o["label"] for o in result["data_schema"].schema[CONF_ADDRESS].config["options"]}


# -- receiver flow -------------------------------------------------------------------


@pytest.mark.usefixtures("unload_all")
async def test_create_mbus_entry(hass: HomeAssistant, tcp_bus: Bus) -> None:
    sim, endpoint = tcp_bus
    result = await start_mbus_flow(hass)
    assert result["data_schema"]({CONF_DEVICE: "x"})[CONF_BAUDRATE] == "2400"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_DEVICE: f" {endpoint.path} ", CONF_BAUDRATE: str(BAUD)}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == {CONF_DEVICE: endpoint.path, CONF_KIND: "mbus", CONF_BAUDRATE: BAUD}
    assert result["title"] == f"M-Bus master on {endpoint.path}"
    assert result["result"].unique_id == endpoint.path
    assert bytes.fromhex("1040fd3d16") in sim.requests  # the test request: SND_NKE to 253
    await settle(hass)
    assert result["result"].state is ConfigEntryState.LOADED
    # The same port again
    result = await start_mbus_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_DEVICE: endpoint.path, CONF_BAUDRATE: "2400"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_create_mbus_entry_errors(hass: HomeAssistant, tmp_path: Any) -> None:
    result = await start_mbus_flow(hass)
    user_input = {CONF_DEVICE: str(tmp_path / "ttyMissing"), CONF_BAUDRATE: "2400"}
    result = await hass.config_entries.flow.async_configure(result["flow_id"], user_input)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "cannot_open"}
    with patch("custom_components.oms.probe.async_test_mbus", side_effect=RuntimeError("boom")):
        result = await hass.config_entries.flow.async_configure(result["flow_id"], user_input)
    assert result["errors"] == {"base": "unknown"}
    # Garbled answers: the port works, the bus is busy; the master is set up anyway.
    with (
        patch("custom_components.oms.probe.async_test_mbus", side_effect=MbusCollision("garbled")),
        patch("custom_components.oms.async_setup_entry", return_value=True),
    ):
        result = await hass.config_entries.flow.async_configure(result["flow_id"], user_input)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_KIND] == "mbus"


@pytest.mark.usefixtures("unload_all")
async def test_reconfigure_mbus(hass: HomeAssistant, tcp_bus: Bus, tmp_path: Any) -> None:
    _, endpoint = tcp_bus
    entry = mbus_entry(endpoint.path, [METER_1])
    hub = await setup_mbus(hass, entry)
    result = await entry.start_reconfigure_flow(hass)
    assert result["step_id"] == "reconfigure"
    assert set(result["data_schema"].schema) == {CONF_DEVICE, CONF_BAUDRATE}
    # A port that cannot be opened: error, the master runs on
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_DEVICE: str(tmp_path / "ttyMissing"), CONF_BAUDRATE: "2400"}
    )
    assert result["errors"] == {"base": "cannot_open"}
    await settle(hass)
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data is hub  # released for the test, then resumed: not reloaded
    assert hub.connected
    assert hub.poller is not None
    assert hub.poller.master.is_open
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_DEVICE: endpoint.path, CONF_BAUDRATE: "2400"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert entry.data == {CONF_DEVICE: endpoint.path, CONF_KIND: "mbus", CONF_BAUDRATE: 2400}


async def test_options_mbus(hass: HomeAssistant, tcp_bus: Bus) -> None:
    sim, endpoint = tcp_bus
    entry = mbus_entry(endpoint.path, [METER_1])
    hub = await setup_mbus(hass, entry)
    assert hub.poller is not None
    assert hub.poller.interval == 300
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["step_id"] == "mbus"
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_SCAN_INTERVAL: 30.0, CONF_MAX_FAILURES: 2.0}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options == {CONF_SCAN_INTERVAL: 30, CONF_MAX_FAILURES: 2}
    await settle(hass)
    hub = entry.runtime_data
    assert hub.poller is not None
    assert hub.poller.interval == 30
    assert hub.max_failures == 2
    # The new interval drives the polls
    requests = len(sim.slave(1).requests)
    await poll_later(hass, 31)
    assert len(sim.slave(1).requests) > requests
    # Below the minimum is refused
    result = await hass.config_entries.options.async_init(entry.entry_id)
    with pytest.raises(InvalidData):
        await hass.config_entries.options.async_configure(
            result["flow_id"], {CONF_SCAN_INTERVAL: 5, CONF_MAX_FAILURES: 3}
        )
    await hass.config_entries.async_unload(entry.entry_id)


# -- meters: scan and address ----------------------------------------------------------


@pytest.mark.usefixtures("unload_all")
async def test_scan_primary_and_add(hass: HomeAssistant, bus: Bus) -> None:
    _, endpoint = bus
    entry = mbus_entry(endpoint.path)
    hub = await setup_mbus(hass, entry)
    result = await start_meter_flow(hass, entry.entry_id)
    assert result["type"] is FlowResultType.MENU
    assert result["menu_options"] == ["scan", "address"]
    result = await run_scan(hass, entry.entry_id, "primary")
    assert result["step_id"] == "found"
    # Slaves 1-3 are read; 4 answers the ping but its replies fail the checksum; 5 is mute.
    assert found_options(result) == {
        "1": "10000001 · KAM water · primary 1",
        "2": "20000002 · KAM water · primary 2",
        "3": "21000003 · DME water · primary 3",
    }
    assert result["description_placeholders"] == {"count": "3", "unreadable": "4"}
    result = await hass.config_entries.subentries.async_configure(result["flow_id"], {CONF_ADDRESS: "3"})
    assert result["step_id"] == "wired_meter_unencrypted"
    assert result["description_placeholders"] == {"meter_id": "21000003", "address": "3"}
    result = await hass.config_entries.subentries.async_configure(result["flow_id"], {CONF_NAME: "Cellar"})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    subentry = next(iter(entry.subentries.values()))
    assert subentry.title == "Cellar"
    assert subentry.unique_id == "21000003"
    assert dict(subentry.data) == {
        CONF_METER_ID: "21000003",
        CONF_ADDRESS: 3,
        CONF_MANUFACTURER: "DME",
        CONF_DEVICE_TYPE: 7,
        CONF_VERSION: 4,
    }
    # The new meter is polled right away: records of both telegrams of its readout
    await settle(hass)
    assert hub.poller is not None
    assert hub.poller.addresses == [3]
    assert sensor_state(hass, "21000003", "volume") == "3.003"
    assert sensor_state(hass, "21000003", "flow_temperature") == "45.6"
    device = find_device(hass, entry.entry_id, (DOMAIN, "21000003"))
    assert device is not None
    assert device.manufacturer == "Diehl Metering GmbH"  # the FLAG code DME, by its company name
    # The next flow offers the rest of the last scan without scanning again
    result = await start_meter_flow(hass, entry.entry_id)
    assert result["menu_options"] == ["found", "scan", "address"]
    result = await choose(hass, result, "found")
    assert set(found_options(result)) == {"1", "2"}
    result = await hass.config_entries.subentries.async_configure(result["flow_id"], {CONF_ADDRESS: "1"})
    assert result["step_id"] == "wired_meter_unencrypted"  # its reply was plaintext: no key asked
    assert [str(marker) for marker in result["data_schema"].schema] == [CONF_NAME]
    result = await hass.config_entries.subentries.async_configure(result["flow_id"], {CONF_NAME: ""})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Kamstrup water 10000001"
    assert CONF_KEY not in result["data"]


@pytest.mark.usefixtures("unload_all")
async def test_scan_secondary(hass: HomeAssistant, bus: Bus) -> None:
    _, endpoint = bus
    entry = mbus_entry(endpoint.path, [METER_1])
    await setup_mbus(hass, entry)
    result = await run_scan(hass, entry.entry_id, "secondary")
    assert result["step_id"] == "found"
    # All four answering slaves; meter 10000001 is configured already. Slave 4 is named by
    # its secondary address although its replies cannot be read.
    options = found_options(result)
    assert set(options) == SECONDARIES - {"100000012D2C0107"}
    assert options["300000042D2C0107"] == "30000004 · KAM water · secondary 300000042D2C0107"
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {CONF_ADDRESS: "21000003A5110407"}
    )
    result = await hass.config_entries.subentries.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_ADDRESS] == "21000003A5110407"
    await settle(hass)
    assert sensor_state(hass, "21000003", "volume") == "3.003"


@pytest.mark.usefixtures("unload_all")
async def test_scan_lists_each_slave_while_it_runs(hass: HomeAssistant, bus: Bus) -> None:
    _, endpoint = bus
    entry = mbus_entry(endpoint.path)
    await setup_mbus(hass, entry)
    result = await choose(hass, await start_meter_flow(hass, entry.entry_id), "scan")
    flow_id = result["flow_id"]
    shown: list[dict[str, str]] = []

    @callback
    def redrawn(event: Event) -> None:
        step = hass.config_entries.subentries._progress[flow_id].cur_step
        if event.data["flow_id"] == flow_id and step and step["type"] is FlowResultType.SHOW_PROGRESS:
            shown.append(dict(step["description_placeholders"] or {}))

    unsub = hass.bus.async_listen(EVENT_DATA_ENTRY_FLOW_PROGRESSED, redrawn)
    result = await hass.config_entries.subentries.async_configure(flow_id, {"scan_type": "primary"})
    assert result["type"] is FlowResultType.SHOW_PROGRESS
    assert result["description_placeholders"] == {"done": "0", "total": "?", "found": "-"}
    await hass.async_block_till_done()
    unsub()
    result = await hass.config_entries.subentries.async_configure(flow_id)
    assert result["step_id"] == "found"
    final = [
        "- 10000001 · KAM water · primary 1",
        "- 20000002 · KAM water · primary 2",
        "- 21000003 · DME water · primary 3",
        "- primary 4 · cannot be read",
    ]
    lists = [placeholders["found"].split("\n") for placeholders in shown]
    assert lists, "the progress form was never redrawn"
    assert all(found == final[: len(found)] for found in lists)  # each redraw adds the slaves found since
    assert any(1 <= len(found) < len(final) for found in lists)  # slaves were listed before the scan ended


@pytest.mark.usefixtures("unload_all")
async def test_scan_finds_nothing_new(hass: HomeAssistant, bus: Bus) -> None:
    _, endpoint = bus
    entry = mbus_entry(endpoint.path)
    await setup_mbus(hass, entry)
    with patch("custom_components.oms.probe.PRIMARY_SCAN_RANGE", range(4, 8)):
        result = await run_scan(hass, entry.entry_id, "primary")
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "no_meters_found"
    assert result["description_placeholders"] == {"count": "1", "unreadable": "4"}
    with patch("custom_components.oms.probe.PRIMARY_SCAN_RANGE", range(5, 8)):
        result = await run_scan(hass, entry.entry_id, "primary")
    assert result["description_placeholders"] == {"count": "0", "unreadable": "-"}


@pytest.mark.usefixtures("unload_all")
async def test_scan_bus_lost(hass: HomeAssistant, bus: Bus) -> None:
    _, endpoint = bus
    entry = mbus_entry(endpoint.path)
    await setup_mbus(hass, entry)
    with patch(IDENTIFY, side_effect=MbusPortError("lost")):
        result = await run_scan(hass, entry.entry_id, "primary")
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "scan_failed"


@pytest.mark.usefixtures("unload_all")
async def test_add_by_address(hass: HomeAssistant, bus: Bus) -> None:
    _, endpoint = bus
    entry = mbus_entry(endpoint.path, [METER_1])
    await setup_mbus(hass, entry)

    async def submit(text: str) -> Any:
        result = await choose(hass, await start_meter_flow(hass, entry.entry_id), "address")
        assert result["step_id"] == "address"
        return await hass.config_entries.subentries.async_configure(result["flow_id"], {CONF_ADDRESS: text})

    assert (await submit("251"))["errors"] == {CONF_ADDRESS: "invalid_address"}
    assert (await submit("12345"))["errors"] == {CONF_ADDRESS: "invalid_address"}
    assert (await submit("5"))["errors"] == {"base": "no_answer"}
    assert (await submit("4"))["errors"] == {"base": "bad_reply"}
    with patch(IDENTIFY, side_effect=MbusCollision("two")):
        assert (await submit("7"))["errors"] == {"base": "collision"}
    with patch(IDENTIFY, side_effect=MbusPortError("gone")):
        assert (await submit("7"))["errors"] == {"base": "bus_error"}
    result = await submit("1")
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    # Primary address
    result = await submit(" 2 ")
    assert result["step_id"] == "wired_meter_unencrypted"
    result = await hass.config_entries.subentries.async_configure(result["flow_id"], {CONF_NAME: "Two"})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_ADDRESS] == 2
    assert result["data"][CONF_METER_ID] == "20000002"
    # Secondary address (lower case is fine)
    result = await submit("21000003a5110407")
    result = await hass.config_entries.subentries.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_ADDRESS] == "21000003A5110407"
    await settle(hass)
    assert sensor_state(hass, "20000002", "volume") == "2.002"
    assert sensor_state(hass, "21000003", "volume") == "3.003"


async def test_identify_undecodable_reply(hass: HomeAssistant, bus: Bus) -> None:
    """A reply that does not decode (no key yet) still names the meter; without a header it fails."""
    _, endpoint = bus
    async with MbusMaster(endpoint.path, baudrate=BAUD, **FAST) as master:  # type: ignore[arg-type]
        reading: MeterReading = await master.read(1)
        header = reading.telegram.header
        with patch.object(master, "read_any", side_effect=NoKeyError("encrypted", header=header)):
            found = await async_identify(master, 1)
        assert (found.meter_id, found.manufacturer, found.device_type) == ("10000001", "KAM", 7)
        assert found.encrypted is True  # the meter flow asks for its key
        assert (await async_identify(master, 1)).encrypted is False  # read in plaintext: no key asked
        with (
            patch.object(master, "read_any", side_effect=MalformedError("garbage")),
            pytest.raises(MalformedError),
        ):
            await async_identify(master, 1)


async def test_meter_flows_need_a_running_master(hass: HomeAssistant, bus: Bus) -> None:
    _, endpoint = bus
    entry = mbus_entry(endpoint.path)
    hub = await setup_mbus(hass, entry)
    hub.scan_found = [*hub.scan_found]
    # Forms opened while the master ran, submitted after it stopped
    address_form = await choose(hass, await start_meter_flow(hass, entry.entry_id), "address")
    scan_form = await choose(hass, await start_meter_flow(hass, entry.entry_id), "scan")
    result = await run_scan(hass, entry.entry_id, "primary")
    found_form = await choose(hass, await start_meter_flow(hass, entry.entry_id), "found")
    assert found_form["step_id"] == "found"
    menu = await start_meter_flow(hass, entry.entry_id)
    await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    for form, user_input in (
        (address_form, {CONF_ADDRESS: "2"}),
        (scan_form, {"scan_type": "primary"}),
        (menu, {"next_step_id": "found"}),
    ):
        result = await hass.config_entries.subentries.async_configure(form["flow_id"], user_input)
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "receiver_not_loaded"
    result = await start_meter_flow(hass, entry.entry_id)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "receiver_not_loaded"


# -- polling -------------------------------------------------------------------------


@pytest.mark.usefixtures("unload_all")
async def test_polling_drives_sensors(hass: HomeAssistant, bus: Bus) -> None:
    sim, endpoint = bus
    entry = mbus_entry(endpoint.path, [METER_1, METER_2, METER_3])
    hub = await setup_mbus(hass, entry)
    assert hub.poller is not None
    assert hub.poller.addresses == [1, "200000022D2C0107", 3]
    # The first poll runs at setup
    assert sensor_state(hass, "10000001", "volume") == "1.001"
    assert sensor_state(hass, "10000001", "energy") == "11"
    assert sensor_state(hass, "20000002", "volume") == "2.002"
    assert sensor_state(hass, "21000003", "flow_temperature") == "45.6"
    cycles = hub.poller.cycles
    sim.slave(1).telegrams = [volume_litres(1500) + energy_kwh(12)]
    await poll_later(hass, 299)
    assert sensor_state(hass, "10000001", "volume") == "1.001"
    await poll_later(hass, 301)
    assert hub.poller.cycles == cycles + 1
    assert sensor_state(hass, "10000001", "volume") == "1.5"
    assert sensor_state(hass, "10000001", "energy") == "12"
    # Same devices as radio meters, under the master's device
    master_device = find_device(hass, entry.entry_id, (DOMAIN, hub.receiver_identifier))
    assert master_device is not None
    assert master_device.model == "M-Bus master"


@pytest.mark.usefixtures("unload_all")
async def test_meter_unavailable_after_failed_polls(hass: HomeAssistant, bus: Bus) -> None:
    sim, endpoint = bus
    entry = mbus_entry(endpoint.path, [METER_1, METER_2])
    hub = await setup_mbus(hass, entry)
    assert sensor_state(hass, "10000001", "volume") == "1.001"
    sim.slave(1).behaviour = "silent"
    for poll in (1, 2):
        await poll_later(hass, 301 * poll)
        assert sensor_state(hass, "10000001", "volume") == "1.001"
    await poll_later(hass, 301 * 3)
    assert sensor_state(hass, "10000001", "volume") == STATE_UNAVAILABLE
    assert sensor_state(hass, "20000002", "volume") == "2.002"
    assert hub.meters["10000001"].failures == 3
    # Back: available at the next poll
    sim.slave(1).behaviour = "ok"
    await poll_later(hass, 301 * 4)
    assert sensor_state(hass, "10000001", "volume") == "1.001"
    assert hub.meters["10000001"].failures == 0


@pytest.mark.usefixtures("unload_all")
async def test_bus_lost_and_back(hass: HomeAssistant, bus: Bus) -> None:
    sim, endpoint = bus
    entry = mbus_entry(endpoint.path, [METER_1])
    hub = await setup_mbus(hass, entry)
    assert sensor_state(hass, "10000001", "volume") == "1.001"
    await endpoint.hangup()
    async with asyncio.timeout(10):  # a bound, not a wait: the hangup is noticed in milliseconds
        while hub.connected:  # noqa: ASYNC110 - the port notices the hangup on its own
            await asyncio.sleep(0.01)
    assert sensor_state(hass, "10000001", "volume") == STATE_UNAVAILABLE
    # A poll while the port is gone does nothing; reopening fails until the bus is back
    await poll_later(hass, 301)
    await poll_later(hass, 302)
    assert not hub.connected
    await endpoint.restore()
    sim.slave(1).telegrams = [volume_litres(1700) + energy_kwh(17)]
    await poll_later(hass, 400)
    assert hub.connected
    assert sensor_state(hass, "10000001", "volume") == "1.7"


@pytest.mark.usefixtures("unload_all")
async def test_poll_during_poll_runs_after_it(hass: HomeAssistant, bus: Bus) -> None:
    """Never two cycles at once: a poll requested while one runs follows it."""
    _, endpoint = bus
    entry = mbus_entry(endpoint.path, [METER_1])
    hub = await setup_mbus(hass, entry)
    poller = hub.poller
    assert poller is not None
    cycles = poller.cycles
    poller.async_request_poll()
    poller.async_request_poll()
    poller.async_request_poll()
    await settle(hass)
    assert poller.cycles == cycles + 2


@pytest.mark.usefixtures("unload_all")
async def test_port_lost_during_poll(hass: HomeAssistant, tcp_bus: Bus) -> None:
    _, endpoint = tcp_bus
    entry = mbus_entry(endpoint.path, [METER_1])
    hub = await setup_mbus(hass, entry)
    assert hub.receiver is not None
    with patch.object(hub.receiver, "poll_once", side_effect=MbusPortError("write failed")):
        await poll_later(hass, 301)
    assert not hub.connected
    await poll_later(hass, 400)
    assert hub.connected
    assert sensor_state(hass, "10000001", "volume") == "1.001"


async def test_setup_fails_when_port_missing(hass: HomeAssistant, tmp_path: Any) -> None:
    entry = mbus_entry(str(tmp_path / "ttyMissing"), [METER_1])
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.SETUP_RETRY
