"""A German Home Assistant: entity names, heard-meter labels and default meter names are German."""

from __future__ import annotations

from collections.abc import Callable
import json
from pathlib import Path
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import entity_registry as er
import pytest

from custom_components.oms.const import CONF_METER_ID, DOMAIN
from custom_components.oms.hub import find_device
from custom_components.oms.names import DETAIL, ENGLISH, LABEL, Words, async_get_words
from custom_components.oms.omslib.devices import DEVICE_TYPES
from custom_components.oms.omslib.record import Record

from .conftest import (
    HEAT,
    WATER,
    heat_subentry,
    heat_telegram,
    make_entry,
    setup_entry,
    start_meter_flow,
    water_subentry,
    water_telegram,
)


def friendly_name(hass: HomeAssistant, meter_id: str, key: str) -> str:
    entity_id = er.async_get(hass).async_get_entity_id("sensor", "oms", f"{meter_id}_{key}")
    assert entity_id is not None, key
    state = hass.states.get(entity_id)
    assert state is not None, entity_id
    return str(state.attributes["friendly_name"])


def record(**fields: Any) -> Record:
    base: dict[str, Any] = {"dib": b"\x04", "vib": b"\x13", "quantity": "volume", "value": 1}
    return Record(**(base | fields))


COMPONENT = Path(__file__).parents[2] / "custom_components" / "oms"


@pytest.mark.parametrize("path", ["strings.json", "translations/en.json", "translations/de.json"])
def test_every_medium_and_word_is_translated(path: str) -> None:
    selector = json.loads((COMPONENT / path).read_text(encoding="utf-8"))["selector"]
    assert {*DEVICE_TYPES.values(), "reserved"} <= set(selector["medium"]["options"])
    assert set(ENGLISH[DETAIL]) <= set(selector[DETAIL]["options"])
    assert set(ENGLISH[LABEL]) == set(selector[LABEL]["options"])


def test_qualifiers_read_as_words() -> None:
    words = Words()  # English (the fallback)
    assert words.record_detail(record()) == ""
    assert words.record_detail(record(storage=1)) == " at billing date"
    assert words.record_detail(record(storage=3)) == ", stored value 3"
    assert words.record_detail(record(function="maximum")) == ", maximum"
    assert words.record_detail(record(tariff=2, subunit=1)) == ", tariff 2, register 1"
    assert words.record_detail(record(function="minimum", storage=1)) == ", minimum at billing date"
    assert words.record_detail(record(modifiers=("backward_flow",))) == ", backward flow"
    assert words.record_detail(record(modifiers=("per_litre",))) == ", per litre"  # no word: the name itself


async def test_german_words(hass: HomeAssistant) -> None:
    words = await async_get_words(hass, "de")
    assert words.record_detail(record(storage=1, tariff=1)) == ", Tarif 1 am Stichtag"
    assert words.record_detail(record(function="maximum")) == ", Maximum"
    assert words.medium("heat_cost_allocator") == "Heizkostenverteiler"
    assert words.label("seconds_ago", n=5) == "vor 5 s"
    english = await async_get_words(hass, "en")
    assert english.medium("heat_cost_allocator") == "heat cost allocator"


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_entity_names_in_german(hass: HomeAssistant, write_capture: Callable[..., str]) -> None:
    hass.config.language = "de"
    entry = make_entry(write_capture(water_telegram(), heat_telegram()), [water_subentry(), heat_subentry()])
    await setup_entry(hass, entry)
    assert friendly_name(hass, WATER.id, "0413") == "Kitchen water Volumen"
    assert friendly_name(hass, WATER.id, "4413") == "Kitchen water Volumen am Stichtag"
    assert friendly_name(hass, WATER.id, "841013") == "Kitchen water Volumen, Tarif 1"
    assert friendly_name(hass, HEAT.id, "123B") == "Heat Volumenstrom, Maximum"
    assert friendly_name(hass, HEAT.id, "844013") == "Heat Volumen, Zählwerk 1"


async def test_heard_meters_and_default_name_in_german(
    hass: HomeAssistant, write_capture: Callable[..., str]
) -> None:
    hass.config.language = "de"
    entry = make_entry(write_capture((water_telegram(), -70.0), (heat_telegram(), -60.0)))
    await setup_entry(hass, entry)
    result = await start_meter_flow(hass, entry.entry_id)
    labels = {o["value"]: o["label"] for o in result["data_schema"].schema[CONF_METER_ID].config["options"]}
    assert labels[HEAT.id].startswith(f"{HEAT.id} · QDS Wärme · -60 dBm · vor ")
    assert labels[HEAT.id].endswith(" s · verschlüsselt")
    assert labels[WATER.id].startswith(f"{WATER.id} · KAM Wasser · -70 dBm · vor ")
    assert "ago" not in " ".join(labels.values())
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {CONF_METER_ID: WATER.id}
    )
    assert result["type"] is FlowResultType.FORM
    name = next(marker for marker in result["data_schema"].schema if str(marker) == "name")
    assert name.default().endswith(f"Wasser {WATER.id}")


async def test_automatically_added_meter_and_device_model_in_german(
    hass: HomeAssistant, write_capture: Callable[..., str]
) -> None:
    hass.config.language = "de"
    entry = make_entry(write_capture(water_telegram(), heat_telegram()), options={"auto_add": True})
    await setup_entry(hass, entry)
    assert [s.title for s in entry.subentries.values()] == [f"Kamstrup Wasser {WATER.id}"]
    device = find_device(hass, entry.entry_id, (DOMAIN, WATER.id))
    assert device is not None
    assert device.model == "Wasser (KAM, version 0x1B)"
