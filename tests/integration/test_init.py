"""Setup, unload, devices, availability, de-duplication, repair issues and automatic add."""

from __future__ import annotations

from collections.abc import Callable
import logging
from pathlib import Path
from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er, issue_registry as ir
import pytest

from custom_components.oms import heard as heard_module
from custom_components.oms.const import CONF_KEY, DOMAIN
from custom_components.oms.hub import find_device
from custom_components.oms.issues import issue_id
from tests import encoder as enc

from .conftest import (
    GAS,
    HEAT,
    KEY_HEX,
    OTHER_KEY,
    WATER,
    feed,
    gas_telegram,
    heat_subentry,
    heat_telegram,
    make_entry,
    setup_entry,
    water_subentry,
    water_telegram,
)


async def test_setup_unload_and_devices(
    hass: HomeAssistant, device_registry: dr.DeviceRegistry, write_capture: Callable[..., str]
) -> None:
    entry = make_entry(write_capture(water_telegram()), [water_subentry()])
    hub = await setup_entry(hass, entry)
    assert entry.state is ConfigEntryState.LOADED
    receiver = find_device(hass, entry.entry_id, (DOMAIN, "receiver_replay-1"))
    assert receiver is not None
    assert receiver.model.startswith("replay of capture0.txt")  # type: ignore[union-attr]
    meter = find_device(hass, entry.entry_id, (DOMAIN, WATER.id))
    assert meter is not None
    assert meter.via_device_id == receiver.id
    assert (meter.manufacturer, meter.model, meter.serial_number) == (
        "Kamstrup Energi A/S",
        "Water (KAM, version 0x1B)",
        WATER.id,
    )
    subentry_id = getattr(meter, "config_subentry_id", None)
    if subentry_id is None:  # Home Assistant before devices belonged to one entry
        subentry_id = next(iter(meter.config_entries_subentries[entry.entry_id]))
    assert subentry_id == "sub_water"
    assert hub.frames == 1
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert entry.state is ConfigEntryState.NOT_LOADED
    assert not hub.receiver.connected  # type: ignore[union-attr]


async def test_setup_retry(hass: HomeAssistant, tmp_path: Path) -> None:
    entry = make_entry(str(tmp_path / "missing.txt"))
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert entry.reason is not None
    assert "could not be started" in entry.reason or "cannot_start" in entry.reason


async def test_receiver_lost_and_back(
    hass: HomeAssistant, write_capture: Callable[..., str], caplog: pytest.LogCaptureFixture
) -> None:
    entry = make_entry(write_capture(water_telegram()), [water_subentry()])
    hub = await setup_entry(hass, entry)
    receiver = hub.receiver
    caplog.set_level(logging.INFO, logger="custom_components.oms")
    receiver._set_connected(False)  # type: ignore[union-attr]
    receiver._set_connected(False)  # type: ignore[union-attr]
    await hass.async_block_till_done()
    assert hass.states.get("sensor.kitchen_water_volume").state == STATE_UNAVAILABLE  # type: ignore[union-attr]
    hub._on_state(False)
    assert caplog.text.count("is lost") == 1
    receiver._set_connected(True)  # type: ignore[union-attr]
    await hass.async_block_till_done()
    assert hass.states.get("sensor.kitchen_water_volume").state == "123.456"  # type: ignore[union-attr]
    assert caplog.text.count("Receiver Replay is back") == 1


async def test_duplicates_and_garbage(hass: HomeAssistant, write_capture: Callable[..., str]) -> None:
    raw = water_telegram()
    entry = make_entry(write_capture(raw, raw), [water_subentry()])
    hub = await setup_entry(hass, entry)
    await feed(hass, hub, raw[:15])
    assert hub.frames == 3
    assert hub.duplicates == 1
    assert hub.errors == {"length": 1}
    # configured meter, a telegram it cannot be read from (unsupported CI): nothing written
    await feed(hass, hub, enc.wmbus_frame(0x44, WATER, bytes([0x50]) + bytes(8)))
    assert hub.errors["unsupported"] == 1
    assert hass.states.get("sensor.kitchen_water_volume").state == "123.456"  # type: ignore[union-attr]


async def test_heard_meters_are_bounded(
    hass: HomeAssistant, write_capture: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(heard_module, "HEARD_CAP", 2)
    entry = make_entry(write_capture(water_telegram(), heat_telegram(), gas_telegram()))
    hub = await setup_entry(hass, entry)
    assert list(hub.heard) == [HEAT.id, GAS.id]
    assert hub.heard[HEAT.id].encrypted
    await feed(hass, hub, heat_telegram(acc=8), rssi=None)
    assert [m.meter_id for m in hub.heard_meters()] == [GAS.id, HEAT.id]
    assert hub.heard[HEAT.id].count == 2


@pytest.mark.parametrize(("key", "code"), [(None, "no_key"), (OTHER_KEY.hex(), "wrong_key")])
async def test_decryption_repair_issue(
    hass: HomeAssistant,
    issue_registry: ir.IssueRegistry,
    write_capture: Callable[..., str],
    caplog: pytest.LogCaptureFixture,
    key: str | None,
    code: str,
) -> None:
    """One repair issue per meter once failures repeat (not per telegram); no values; a good key clears it."""
    caplog.set_level(logging.DEBUG)
    entry = make_entry(write_capture(heat_telegram(acc=1), heat_telegram(acc=2)), [heat_subentry(key=key)])
    hub = await setup_entry(hass, entry)
    # two failures may be anyone's telegrams with this ID: no repair issue yet
    assert issue_registry.async_get_issue(DOMAIN, issue_id(entry.entry_id, HEAT.id)) is None
    await feed(hass, hub, heat_telegram(acc=3))
    await feed(hass, hub, heat_telegram(acc=4))
    issue = issue_registry.async_get_issue(DOMAIN, issue_id(entry.entry_id, HEAT.id))
    assert issue is not None
    assert issue.translation_key == f"decryption_{code}"
    assert len([i for i in issue_registry.issues.values() if i.domain == DOMAIN]) == 1
    assert caplog.text.count("cannot decrypt") == 1
    assert hass.states.get("sensor.heat_energy") is None
    subentry = entry.subentries["sub_heat"]
    hass.config_entries.async_update_subentry(entry, subentry, data={**subentry.data, CONF_KEY: KEY_HEX})
    await hass.async_block_till_done()
    await feed(hass, hub, heat_telegram(acc=5))
    assert issue_registry.async_get_issue(DOMAIN, issue_id(entry.entry_id, HEAT.id)) is None
    assert hass.states.get("sensor.heat_energy").state == "4200"  # type: ignore[union-attr]
    for secret in (KEY_HEX, KEY_HEX.upper(), OTHER_KEY.hex(), OTHER_KEY.hex().upper()):
        assert secret not in caplog.text


async def test_auto_add(hass: HomeAssistant, write_capture: Callable[..., str]) -> None:
    """Unencrypted meters above the signal floor are added; encrypted and weak ones are not."""
    device = write_capture((water_telegram(), -70.0), heat_telegram(), (gas_telegram(), -100.0))
    entry = make_entry(device, options={"auto_add": True, "min_rssi": -90})
    await setup_entry(hass, entry)
    assert [s.unique_id for s in entry.subentries.values()] == [WATER.id]
    assert hass.states.get("sensor.kamstrup_water_12345678_volume").state == "123.456"  # type: ignore[union-attr]


async def test_auto_add_skips_meter_of_other_receiver(
    hass: HomeAssistant, write_capture: Callable[..., str]
) -> None:
    other = make_entry(write_capture(gas_telegram()), [water_subentry()], entry_id="other", unique_id="other")
    other.add_to_hass(hass)
    entry = make_entry(write_capture(water_telegram()), options={"auto_add": True})
    await setup_entry(hass, entry)
    assert not entry.subentries


async def test_remove_meter(
    hass: HomeAssistant,
    device_registry: dr.DeviceRegistry,
    entity_registry: er.EntityRegistry,
    issue_registry: ir.IssueRegistry,
    write_capture: Callable[..., str],
) -> None:
    entry = make_entry(
        write_capture(water_telegram(), *(heat_telegram(acc=acc) for acc in (1, 2, 3))),
        [water_subentry(), heat_subentry(None)],
    )
    hub = await setup_entry(hass, entry)
    assert issue_registry.async_get_issue(DOMAIN, issue_id(entry.entry_id, HEAT.id)) is not None
    hass.config_entries.async_remove_subentry(entry, "sub_heat")
    await hass.async_block_till_done()
    assert HEAT.id not in hub.meters
    assert find_device(hass, entry.entry_id, (DOMAIN, HEAT.id)) is None
    assert not [
        e
        for e in er.async_entries_for_config_entry(entity_registry, entry.entry_id)
        if "87654321" in e.unique_id
    ]
    assert issue_registry.async_get_issue(DOMAIN, issue_id(entry.entry_id, HEAT.id)) is None
    # renaming a meter renames its device
    hass.config_entries.async_update_subentry(entry, entry.subentries["sub_water"], title="Bathroom")
    await hass.async_block_till_done()
    assert find_device(hass, entry.entry_id, (DOMAIN, WATER.id)).name == "Bathroom"  # type: ignore[union-attr]


async def test_add_encrypted_meter_without_key(
    hass: HomeAssistant, issue_registry: ir.IssueRegistry, write_capture: Callable[..., str]
) -> None:
    """A heard encrypted meter added without a key: no values; its next telegram opens the repair issue."""
    from types import MappingProxyType

    from homeassistant.config_entries import ConfigSubentry

    entry = make_entry(write_capture(heat_telegram()))
    hub = await setup_entry(hass, entry)
    hass.config_entries.async_add_subentry(
        entry,
        ConfigSubentry(
            data=MappingProxyType({"meter_id": HEAT.id}),
            subentry_type="meter",
            title="Heat",
            unique_id=HEAT.id,
        ),
    )
    await hass.async_block_till_done()
    assert hass.states.get("sensor.heat_energy") is None
    for acc in (9, 10, 11):
        await feed(hass, hub, heat_telegram(acc=acc))
    assert issue_registry.async_get_issue(DOMAIN, issue_id(entry.entry_id, HEAT.id)) is not None


async def test_stale_device_removed_at_setup(
    hass: HomeAssistant, device_registry: dr.DeviceRegistry, write_capture: Callable[..., str]
) -> None:
    entry = make_entry(write_capture(water_telegram()))
    entry.add_to_hass(hass)
    device_registry.async_get_or_create(config_entry_id=entry.entry_id, identifiers={(DOMAIN, "99999999")})
    await setup_entry_added(hass, entry)
    assert find_device(hass, entry.entry_id, (DOMAIN, "99999999")) is None


async def setup_entry_added(hass: HomeAssistant, entry: object) -> None:
    assert await hass.config_entries.async_setup(entry.entry_id)  # type: ignore[attr-defined]
    await hass.async_block_till_done()


async def test_remove_entry_forgets_heard_and_deletes_its_stores(
    hass: HomeAssistant, write_capture: Callable[..., str], hass_storage: dict[str, Any]
) -> None:
    entry = make_entry(write_capture(water_telegram(), gas_telegram()), [water_subentry()])
    hass_storage[f"{DOMAIN}.{entry.entry_id}.lpwan"] = {"version": 1, "key": "x", "data": {}}
    other = f"{DOMAIN}.some_other_entry"
    hass_storage[other] = {"version": 1, "key": other, "data": {}}
    await setup_entry(hass, entry)
    assert hass.data[heard_module.DATA_HEARD][entry.entry_id]
    assert await hass.config_entries.async_unload(entry.entry_id)  # writes what is pending
    await hass.async_block_till_done()
    assert {f"{DOMAIN}.{entry.entry_id}", f"{DOMAIN}.{entry.entry_id}.trust"} <= set(hass_storage)
    assert await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.entry_id not in hass.data[heard_module.DATA_HEARD]
    assert not [key for key in hass_storage if entry.entry_id in key]
    assert other in hass_storage  # only the removed entry's


async def test_plaintext_under_a_keyed_meter_id_is_ignored(
    hass: HomeAssistant, write_capture: Callable[..., str]
) -> None:
    """A meter configured with a key: plaintext records under its ID never become values."""
    entry = make_entry(write_capture(heat_telegram(energy=4200, acc=1)), [heat_subentry()])
    hub = await setup_entry(hass, entry)
    assert hass.states.get("sensor.heat_energy").state == "4200"  # type: ignore[union-attr]
    await feed(hass, hub, heat_telegram(energy=9999, acc=2, mode=0))
    assert hass.states.get("sensor.heat_energy").state == "4200"  # type: ignore[union-attr]
    assert hub.errors["unencrypted"] == 1
    await feed(hass, hub, heat_telegram(energy=4201, acc=3))
    assert hass.states.get("sensor.heat_energy").state == "4201"  # type: ignore[union-attr]


async def test_a_shell_command_set_up_before_never_runs_and_raises_a_repair_issue(
    hass: HomeAssistant, issue_registry: ir.IssueRegistry, write_capture: Callable[..., str]
) -> None:
    """An SDR receiver whose device is a shell command (typed before the UI refused them) does not start
    (no shell is ever run from Home Assistant), and a repair issue asks for its settings; a replay
    receiver raises none."""
    from pytest_homeassistant_custom_component.common import MockConfigEntry

    from custom_components.oms.const import CONF_DEVICE, CONF_KIND, CONF_LINK_MODE
    from custom_components.oms.issues import shell_command_issue_id

    entry = MockConfigEntry(
        domain=DOMAIN,
        title="SDR",
        data={CONF_DEVICE: "cmd:exec sleep 30", CONF_KIND: "rtlwmbus", CONF_LINK_MODE: "c1t1"},
        version=1,
        minor_version=1,
    )
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.SETUP_ERROR
    issue = issue_registry.async_get_issue(DOMAIN, shell_command_issue_id(entry.entry_id))
    assert issue is not None
    assert issue.translation_key == "shell_command"
    replay = make_entry(write_capture(water_telegram()))
    await setup_entry(hass, replay)
    assert issue_registry.async_get_issue(DOMAIN, shell_command_issue_id(replay.entry_id)) is None
