"""Readings you can trust: forged, damaged, replayed and implausible telegrams never become values.

Each test reproduces an attack or accident from the trust issue against a real Home Assistant
test instance and checks that the meter keeps its genuine values and is not frozen by it.
"""

from __future__ import annotations

from collections.abc import Callable

from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
import pytest

from custom_components.oms.const import CONF_KEY, CONF_MAX_RATE, DOMAIN
from custom_components.oms.hub import OmsHub
from custom_components.oms.issues import backwards_issue_id, issue_id
from custom_components.oms.omslib.frame import Frame
from tests import encoder as enc

from .conftest import (
    HEAT,
    KEY,
    KEY_HEX,
    OTHER_KEY,
    heat_subentry,
    heat_telegram,
    make_entry,
    setup_entry,
    water_subentry,
    water_telegram,
)

HOUR = 3600.0


def heat_records(energy: int, flow: int = 65) -> list[bytes]:
    return [
        enc.record(0x4, enc.vib(0x06), enc.int_bytes(energy, 4)),
        enc.record(0x2, enc.vib(0x5B), enc.int_bytes(flow, 2)),
    ]


def heat7(energy: int, mcr: int, *, flow: int = 65, key: bytes = KEY) -> bytes:
    """A mode-7 heat telegram with an AFL MAC over message counter ``mcr``."""
    spec = enc.TelegramSpec(
        records=heat_records(energy, flow), meter=HEAT, acc=mcr & 0xFF, mode=7, key=key, tpl="long", mcr=mcr
    )
    return enc.build(spec)


def heat5(energy: int, acc: int, *, flow: int = 65, plain: list[bytes] | None = None) -> bytes:
    spec = enc.TelegramSpec(
        records=heat_records(energy, flow),
        plain_records=plain or [],
        meter=HEAT,
        acc=acc,
        mode=5,
        key=KEY,
        tpl="long",
    )
    return enc.build(spec)


async def feed_at(hass: HomeAssistant, hub: OmsHub, raw: bytes, at: float) -> None:
    """One telegram received at Unix time ``at`` (the hub judges plausibility on reception times)."""
    receiver = hub.receiver
    assert receiver is not None
    receiver._on_frame(Frame(raw, rssi_dbm=-60.0, received_at=at, receiver_id=hub.entry.entry_id))  # type: ignore[attr-defined]
    await hass.async_block_till_done()


def state(hass: HomeAssistant, entity_id: str) -> str:
    current = hass.states.get(entity_id)
    assert current is not None, entity_id
    return current.state


async def test_flipped_header_bit_is_not_the_meter(
    hass: HomeAssistant, write_capture: Callable[..., str]
) -> None:
    """Mode 5: a flipped TPL version bit changes the IV (so one plaintext byte) but not 2F2F: the learned
    identity rejects it, and the next genuine telegram is taken (the meter is not frozen)."""
    genuine = heat5(4500, acc=1)
    hub = await setup_entry(hass, make_entry(write_capture(genuine), [heat_subentry()]))
    assert state(hass, "sensor.heat_energy") == "4500"
    forged = bytearray(heat5(4500, acc=2))
    version_at = 10 + 1 + 4 + 2  # DLL, CI 0x72, ID, manufacturer
    assert forged[version_at] == HEAT.version
    forged[version_at] ^= 0x20
    await feed_at(hass, hub, bytes(forged), hub.started_at + 60)
    assert state(hass, "sensor.heat_energy") == "4500"
    meter = hub.meters[HEAT.id]
    assert sum(meter.rejected.values()) == 1
    await feed_at(hass, hub, heat5(4501, acc=3), hub.started_at + 120)
    assert state(hass, "sensor.heat_energy") == "4501"


async def test_plaintext_records_after_the_encrypted_part_are_ignored(
    hass: HomeAssistant, write_capture: Callable[..., str]
) -> None:
    """Records appended unencrypted after a genuine telegram's encrypted blocks never become values.

    The appended records also change the telegram's record layout, so the first such telegram is held
    whole (mode 5 has no MAC); when the layout repeats, only the encrypted records are taken.
    """
    plain = [
        enc.record(0x4, enc.vib(0x06), enc.int_bytes(12345678, 4)),
        enc.record(0x2, enc.vib(0x5B), enc.int_bytes(-40, 2)),
    ]
    hub = await setup_entry(hass, make_entry(write_capture(heat5(4500, acc=1)), [heat_subentry()]))
    meter = hub.meters[HEAT.id]
    await feed_at(hass, hub, heat5(4501, acc=2, flow=66, plain=plain), hub.started_at + 60)
    assert state(hass, "sensor.heat_energy") == "4500"
    assert state(hass, "sensor.heat_flow_temperature") == "65"
    assert meter.rejected["layout"] == 1
    await feed_at(hass, hub, heat5(4502, acc=3, flow=67, plain=plain), hub.started_at + 120)
    assert state(hass, "sensor.heat_energy") == "4502"
    assert state(hass, "sensor.heat_flow_temperature") == "67"


async def test_new_record_layout_of_a_mode5_meter_waits_for_confirmation(
    hass: HomeAssistant, write_capture: Callable[..., str]
) -> None:
    """Garbled mode-5 blocks can read as records in a new layout: held until a second telegram has it."""
    hub = await setup_entry(hass, make_entry(write_capture(heat5(4500, acc=1)), [heat_subentry()]))
    other_layout = enc.TelegramSpec(
        records=[enc.record(0x4, enc.vib(0x06), enc.int_bytes(4501, 4))],
        meter=HEAT,
        acc=2,
        mode=5,
        key=KEY,
        tpl="long",
    )
    await feed_at(hass, hub, enc.build(other_layout), hub.started_at + 60)
    assert state(hass, "sensor.heat_energy") == "4500"
    await feed_at(hass, hub, heat5(4501, acc=3), hub.started_at + 120)  # the known layout: taken at once
    assert state(hass, "sensor.heat_energy") == "4501"
    other_layout.acc = 4
    await feed_at(hass, hub, enc.build(other_layout), hub.started_at + 180)
    assert state(hass, "sensor.heat_energy") == "4501"  # the pending layout was dropped by a known one
    other_layout.acc = 5
    await feed_at(hass, hub, enc.build(other_layout), hub.started_at + 240)
    assert state(hass, "sensor.heat_energy") == "4501"
    assert len(hub.meters[HEAT.id].layouts) == 2


async def test_replayed_access_number_is_ignored(
    hass: HomeAssistant, write_capture: Callable[..., str]
) -> None:
    """An older genuine telegram (access number 7 after 8) does not roll values back."""
    hub = await setup_entry(
        hass,
        make_entry(
            write_capture(heat5(4500, acc=7, flow=60), heat5(4500, acc=8, flow=70)), [heat_subentry()]
        ),
    )
    assert state(hass, "sensor.heat_flow_temperature") == "70"
    hub.dedup.clear()  # replayed later than the receivers' de-duplication window
    await feed_at(hass, hub, heat5(4500, acc=7, flow=60), hub.started_at + 60)
    assert state(hass, "sensor.heat_flow_temperature") == "70"
    assert hub.meters[HEAT.id].rejected["stale"] == 1
    await feed_at(hass, hub, heat5(4500, acc=9, flow=71), hub.started_at + 120)
    assert state(hass, "sensor.heat_flow_temperature") == "71"


async def test_access_number_resynchronises(hass: HomeAssistant, write_capture: Callable[..., str]) -> None:
    """A meter whose access number jumped (out of range for long) is followed again after 3 telegrams."""
    hub = await setup_entry(hass, make_entry(write_capture(heat5(4500, acc=10)), [heat_subentry()]))
    base = hub.started_at
    for step, acc in enumerate((200, 201, 202), start=1):
        await feed_at(hass, hub, heat5(4500 + step, acc=acc), base + step * 60)
    assert state(hass, "sensor.heat_energy") == "4503"
    assert hub.meters[HEAT.id].rejected["stale"] == 2


async def test_mode7_counter_must_increase_across_restarts(
    hass: HomeAssistant, write_capture: Callable[..., str]
) -> None:
    """The AFL message counter is persisted: after a reload, an older authenticated telegram is stale."""
    entry = make_entry(write_capture(heat7(4500, 100), heat7(4501, 101)), [heat_subentry()])
    hub = await setup_entry(hass, entry)
    assert state(hass, "sensor.heat_energy") == "4501"
    hub.dedup.clear()
    await feed_at(hass, hub, heat7(4500, 100), hub.started_at + 60)
    assert state(hass, "sensor.heat_energy") == "4501"
    assert hub.meters[HEAT.id].rejected["stale"] == 1
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    hub = entry.runtime_data
    assert hub.meters[HEAT.id].freshness.counter == 101
    await feed_at(hass, hub, heat7(4500, 100), hub.started_at + 120)
    assert hub.meters[HEAT.id].rejected["stale"] >= 1
    assert state(hass, "sensor.heat_energy") == "4501"
    await feed_at(hass, hub, heat7(4502, 102), hub.started_at + 180)
    assert state(hass, "sensor.heat_energy") == "4502"


async def test_recordless_plaintext_frame_changes_nothing(
    hass: HomeAssistant, write_capture: Callable[..., str]
) -> None:
    """A plaintext frame without records (status 0x1C) under a keyed meter's ID: no status, no last heard."""
    hub = await setup_entry(hass, make_entry(write_capture(heat5(4500, acc=1)), [heat_subentry()]))
    meter = hub.meters[HEAT.id]
    heard = meter.last_heard
    await feed_at(
        hass, hub, bytes.fromhex("16449344214365873504722143658793443504111C0000"), hub.started_at + 60
    )
    assert meter.last_heard == heard
    assert meter.status is None or not meter.status.power_low
    for name in ("battery", "permanent_error", "temporary_error"):
        assert state(hass, f"binary_sensor.heat_{name}") == "off"
    assert meter.rejected["unprotected"] == 1


async def test_one_wrong_key_telegram_raises_no_repair(
    hass: HomeAssistant, issue_registry: ir.IssueRegistry, write_capture: Callable[..., str]
) -> None:
    """Anyone can send a telegram with a meter's ID and another key: one is not enough for a repair issue,
    and a good telegram between failures resets the count."""
    hub = await setup_entry(hass, make_entry(write_capture(heat5(4500, acc=1)), [heat_subentry()]))
    base = hub.started_at
    await feed_at(hass, hub, heat_telegram(4500, acc=2, key=OTHER_KEY), base + 10)
    await feed_at(hass, hub, heat_telegram(4500, acc=3, key=OTHER_KEY), base + 20)
    await feed_at(hass, hub, heat5(4500, acc=4), base + 30)
    await feed_at(hass, hub, heat_telegram(4500, acc=5, key=OTHER_KEY), base + 40)
    assert issue_registry.async_get_issue(DOMAIN, issue_id(hub.entry.entry_id, HEAT.id)) is None
    assert state(hass, "sensor.heat_energy") == "4500"


async def test_implausible_total_is_held_until_confirmed(
    hass: HomeAssistant, write_capture: Callable[..., str]
) -> None:
    """One huge reading is held; the next genuine one is taken (no freeze); a confirmed jump is taken."""
    hub = await setup_entry(
        hass, make_entry(write_capture(water_telegram(123456, acc=1)), [water_subentry()])
    )
    base = hub.started_at
    entity = "sensor.kitchen_water_volume"
    await feed_at(hass, hub, water_telegram(99_999_999, acc=2), base + 60)
    assert state(hass, entity) == "123.456"
    assert hub.meters["12345678"].rejected["implausible"] == 1
    await feed_at(hass, hub, water_telegram(123500, acc=3), base + 120)
    assert state(hass, entity) == "123.5"
    # a real jump (e.g. the meter was out of range): held once, taken when the next telegram agrees
    await feed_at(hass, hub, water_telegram(173500, acc=4), base + 180)
    assert state(hass, entity) == "123.5"
    await feed_at(hass, hub, water_telegram(173510, acc=5), base + 240)
    assert state(hass, entity) == "173.51"
    # after a long silence a large rise is plausible at once
    await feed_at(hass, hub, water_telegram(193510, acc=6), base + 240 + 4 * HOUR)
    assert state(hass, entity) == "193.51"


async def test_per_meter_limit_overrides_the_medium_default(
    hass: HomeAssistant, write_capture: Callable[..., str]
) -> None:
    """A building's water meter may pass more than a household one: its own limit (m³/h) is used."""
    hub = await setup_entry(
        hass,
        make_entry(write_capture(water_telegram(123456, acc=1)), [water_subentry(**{CONF_MAX_RATE: 500})]),
    )
    await feed_at(hass, hub, water_telegram(153456, acc=2), hub.started_at + 60)
    assert state(hass, "sensor.kitchen_water_volume") == "153.456"


async def test_confirmed_lower_total_becomes_the_baseline(
    hass: HomeAssistant, issue_registry: ir.IssueRegistry, write_capture: Callable[..., str]
) -> None:
    """A forged high total can never freeze a meter: a lower total confirmed by 3 telegrams is taken, and
    the user is told (replaced or reset meter)."""
    hub = await setup_entry(
        hass, make_entry(write_capture(water_telegram(123456, acc=1)), [water_subentry()])
    )
    base = hub.started_at
    entity = "sensor.kitchen_water_volume"
    for step, volume in enumerate((5000, 5001, 5002), start=1):
        assert (
            issue_registry.async_get_issue(DOMAIN, backwards_issue_id(hub.entry.entry_id, "12345678")) is None
        )
        assert state(hass, entity) == "123.456"
        await feed_at(hass, hub, water_telegram(volume, acc=1 + step), base + step * 60)
    assert state(hass, entity) == "5.002"
    issue = issue_registry.async_get_issue(DOMAIN, backwards_issue_id(hub.entry.entry_id, "12345678"))
    assert issue is not None
    assert issue.translation_key == "total_backwards"
    await feed_at(hass, hub, water_telegram(5010, acc=5), base + 300)
    assert state(hass, entity) == "5.01"


async def test_new_key_forgets_identity_and_counters(
    hass: HomeAssistant, write_capture: Callable[..., str]
) -> None:
    """Entering a new key is the user's word that the meter changed: identity and counters are learnt anew."""
    entry = make_entry(write_capture(heat7(4500, 500)), [heat_subentry()])
    hub = await setup_entry(hass, entry)
    meter = hub.meters[HEAT.id]
    assert meter.freshness.counter == 500
    assert meter.identity == (HEAT.manufacturer, HEAT.version, HEAT.device_type)
    subentry = entry.subentries["sub_heat"]
    hass.config_entries.async_update_subentry(
        entry, subentry, data={**subentry.data, CONF_KEY: OTHER_KEY.hex()}
    )
    await hass.async_block_till_done()
    assert meter.freshness.counter is None
    assert meter.identity is None
    await feed_at(hass, hub, heat7(4501, 3, key=OTHER_KEY), hub.started_at + 60)
    assert state(hass, "sensor.heat_energy") == "4501"


@pytest.mark.parametrize("secret", [KEY_HEX, KEY_HEX.upper()])
async def test_trust_store_holds_no_key(
    hass: HomeAssistant, write_capture: Callable[..., str], hass_storage: dict[str, object], secret: str
) -> None:
    """The persisted trust state (counters, totals, identity) never contains the key."""
    entry = make_entry(write_capture(heat7(4500, 100)), [heat_subentry()])
    await setup_entry(hass, entry)
    assert await hass.config_entries.async_unload(entry.entry_id)
    stored = hass_storage[f"{DOMAIN}.{entry.entry_id}.trust"]
    assert "87654321" in str(stored)
    assert secret not in str(stored)


async def test_meter_limit_is_set_in_reconfigure(
    hass: HomeAssistant, write_capture: Callable[..., str]
) -> None:
    """The meter's reconfigure step sets (and clears) its own plausibility limit; the hub uses it at once."""
    from homeassistant.data_entry_flow import FlowResultType

    from .test_config_flow import start_meter_reconfigure

    entry = make_entry(write_capture(water_telegram(123456, acc=1)), [water_subentry()])
    hub = await setup_entry(hass, entry)
    result = await start_meter_reconfigure(hass, entry.entry_id, "sub_water")
    result = await hass.config_entries.subentries.async_configure(result["flow_id"], {CONF_MAX_RATE: 250})
    assert result["type"] is FlowResultType.ABORT
    await hass.async_block_till_done()
    assert entry.subentries["sub_water"].data[CONF_MAX_RATE] == 250
    assert hub.meters["12345678"].max_rate == 250
    result = await start_meter_reconfigure(hass, entry.entry_id, "sub_water")
    result = await hass.config_entries.subentries.async_configure(result["flow_id"], {CONF_MAX_RATE: 0})
    await hass.async_block_till_done()
    assert hub.meters["12345678"].max_rate is None
