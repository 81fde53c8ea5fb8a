"""Import meter keys: upload (through the real file_upload API) or paste, password, preview, add."""

from __future__ import annotations

from collections.abc import Callable
import json
import logging
from typing import Any

from aiohttp import FormData
from homeassistant.config_entries import SOURCE_USER
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import get_diagnostics_for_config_entry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.oms.config_flow import OmsConfigFlow
from custom_components.oms.const import (
    CONF_DEVICE,
    CONF_KEY,
    CONF_KIND,
    CONF_MANUFACTURER,
    CONF_METER_ID,
    DOMAIN,
    SUBENTRY_METER,
)
from custom_components.oms.flow_keys import SUBENTRY_KEY_IMPORT
from custom_components.oms.models import meter_title
from tests.keyfiles import Meter, encrypt_kem, kem2_xml, kem_xml, spaced, wmbusmeters_file, zip_kem

from .conftest import (
    HEAT,
    KEY,
    KEY_HEX,
    OTHER_KEY,
    WATER,
    feed,
    heat_subentry,
    heat_telegram,
    make_entry,
    setup_entry,
    water_telegram,
)

PASSWORD = "80012345"
NEW_ID = "33333333"
NEW_KEY = bytes.fromhex("A0A1A2A3A4A5A6A7A8A9AAABACADAEAF")
FILE_METERS = [
    Meter(HEAT.id, KEY, name="Radiators", consumption="Heat", manufacturer="QDS"),
    Meter(WATER.id, OTHER_KEY, name="Kitchen water"),
    Meter(NEW_ID, NEW_KEY, name="Garden"),
]
SECRETS = [k.hex() for k in (KEY, OTHER_KEY, NEW_KEY)]


def _no_secrets(text: str) -> None:
    lowered = text.lower()
    for secret in SECRETS:
        assert secret not in lowered
        assert spaced(bytes.fromhex(secret)).lower() not in lowered


async def upload(hass_client: ClientSessionGenerator, name: str, data: bytes) -> str:
    """Upload a file the way the frontend's file selector does; returns its file ID."""
    client = await hass_client()
    form = FormData()
    form.add_field("file", data, filename=name)
    response = await client.post("/api/file_upload", data=form)
    assert response.status == 200
    file_id: str = (await response.json())["file_id"]
    return file_id


async def start(hass: HomeAssistant, entry_id: str) -> Any:
    result = await hass.config_entries.subentries.async_init(
        (entry_id, SUBENTRY_KEY_IMPORT), context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    return result


async def configure(hass: HomeAssistant, result: Any, user_input: dict[str, Any]) -> Any:
    return await hass.config_entries.subentries.async_configure(result["flow_id"], user_input)


def options(result: Any) -> dict[str, str]:
    schema = result["data_schema"].schema
    (marker,) = [m for m in schema if m == "meters"]
    return {o["value"]: o["label"] for o in schema[marker].config["options"]}


def preselected(result: Any) -> list[str]:
    (marker,) = [m for m in result["data_schema"].schema if m == "meters"]
    value: list[str] = marker.default()
    return value


def meter_subentries(entry: Any) -> dict[str, Any]:
    return {s.data[CONF_METER_ID]: s for s in entry.subentries.values() if s.subentry_type == SUBENTRY_METER}


async def test_import_encrypted_zip_kem_upload(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    write_capture: Callable[..., str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Upload a .zip.kem, wrong then right password, preview with verification, add the ticked meters."""
    caplog.set_level(logging.DEBUG)
    assert await async_setup_component(hass, "diagnostics", {})  # before the HTTP client freezes the router
    entry = make_entry(write_capture(water_telegram(), heat_telegram()))
    await setup_entry(hass, entry)
    data = zip_kem("12345678.kem", encrypt_kem(kem_xml(FILE_METERS), PASSWORD))
    file_id = await upload(hass_client, "12345678.zip.kem", data)

    result = await start(hass, entry.entry_id)
    result = await configure(hass, result, {"file": file_id})
    assert (result["type"], result["step_id"]) == (FlowResultType.FORM, "password")
    result = await configure(hass, result, {"password": "80012346"})
    assert result["errors"] == {"password": "wrong_password"}
    result = await configure(hass, result, {"password": PASSWORD})
    assert result["step_id"] == "preview"
    assert options(result) == {
        HEAT.id: "87654321 · QDS · Radiators · heard, key: ✓",
        WATER.id: "12345678 · KAM · Kitchen water · heard, not encrypted",
        NEW_ID: "33333333 · KAM · Garden · not heard",
    }
    assert preselected(result) == [HEAT.id, WATER.id, NEW_ID]
    assert result["errors"] == {}
    placeholders = result["description_placeholders"]
    assert (placeholders["count"], placeholders["heard"], placeholders["verified"]) == ("3", "2", "1")
    assert placeholders["source"] == "kem"
    _no_secrets(json.dumps(result, default=str))

    result = await configure(hass, result, {"meters": [HEAT.id, NEW_ID]})
    assert (result["type"], result["reason"]) == (FlowResultType.ABORT, "keys_imported")
    assert result["description_placeholders"] == {"added": "2", "updated": "0"}
    await hass.async_block_till_done()
    subentries = meter_subentries(entry)
    assert set(subentries) == {HEAT.id, NEW_ID}
    assert subentries[HEAT.id].title == "Radiators"
    assert subentries[HEAT.id].data[CONF_KEY] == KEY_HEX
    assert subentries[HEAT.id].unique_id == HEAT.id
    assert dict(subentries[NEW_ID].data) == {
        CONF_METER_ID: NEW_ID,
        CONF_KEY: NEW_KEY.hex(),
        CONF_MANUFACTURER: "KAM",
    }
    # the hub took the new key at once: the heat meter's cached telegram now decodes
    assert hass.states.get("sensor.radiators_energy").state == "4200"  # type: ignore[union-attr]
    _no_secrets(caplog.text)
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    assert NEW_ID in json.dumps(diagnostics)
    _no_secrets(json.dumps(diagnostics))


async def test_uploaded_file_is_deleted_after_reading(
    hass: HomeAssistant, hass_client: ClientSessionGenerator, write_capture: Callable[..., str]
) -> None:
    from homeassistant.components.file_upload import process_uploaded_file

    entry = make_entry(write_capture(water_telegram()))
    await setup_entry(hass, entry)
    file_id = await upload(hass_client, "keys.csv", f"id;key\n{NEW_ID};{NEW_KEY.hex()}\n".encode())
    result = await start(hass, entry.entry_id)
    result = await configure(hass, result, {"file": file_id})
    assert result["step_id"] == "preview"
    with pytest.raises(ValueError, match="File does not exist"), process_uploaded_file(hass, file_id):
        pass


@pytest.mark.parametrize(
    ("name", "data", "source"),
    [
        ("keys.kem2", encrypt_kem(kem2_xml(FILE_METERS), PASSWORD), "kem2"),
        ("keys.kem", kem_xml(FILE_METERS).encode(), "kem"),
        (
            "kitchen",
            wmbusmeters_file("Radiators", HEAT.id, KEY, "sharky").encode(),
            "wmbusmeters",
        ),
        (
            "options.json",
            json.dumps({"meters": [wmbusmeters_file("Radiators", HEAT.id, KEY)]}).encode(),
            "wmbusmeters",
        ),
        ("keys.txt", f"QDS;{HEAT.id};{spaced(KEY, ':')}\n".encode(), "list"),
        ("keys.csv", f"Meter ID,Name,AES key\n{HEAT.id},Radiators,{KEY_HEX}\n".encode(), "list"),
        (
            "exchange.xml",
            f'<Keys><Meter serialNumber="{HEAT.id}"><Key>{KEY_HEX}</Key></Meter></Keys>'.encode(),
            "xml",
        ),
    ],
)
async def test_each_format_through_upload(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    write_capture: Callable[..., str],
    name: str,
    data: bytes,
    source: str,
) -> None:
    entry = make_entry(write_capture(heat_telegram()))
    await setup_entry(hass, entry)
    result = await start(hass, entry.entry_id)
    result = await configure(hass, result, {"file": await upload(hass_client, name, data)})
    if result["step_id"] == "password":
        result = await configure(hass, result, {"password": PASSWORD})
    assert result["step_id"] == "preview"
    assert result["description_placeholders"]["source"] == source
    label = options(result)[HEAT.id]
    if source == "xml":
        assert label.endswith("heard, key: ✓ · key from Meter/Key; ID from Meter@serialNumber")
    else:
        assert label.endswith("heard, key: ✓")
    result = await configure(hass, result, {"meters": [HEAT.id]})
    assert result["reason"] == "keys_imported"
    await hass.async_block_till_done()
    assert meter_subentries(entry)[HEAT.id].data[CONF_KEY] == KEY_HEX


async def test_pasted_text_errors(hass: HomeAssistant, write_capture: Callable[..., str]) -> None:
    entry = make_entry(write_capture(water_telegram()))
    await setup_entry(hass, entry)
    result = await start(hass, entry.entry_id)
    for user_input, error in (
        ({}, "no_input"),
        ({"text": "  "}, "no_input"),
        ({"text": "nothing here"}, "no_keys"),
        ({"text": wmbusmeters_file("All", "8765*", KEY)}, "no_keys"),
        ({"text": "<Meters><Meter>"}, "unreadable_file"),
    ):
        result = await configure(hass, result, user_input)
        assert result["errors"] == {"base": error}, user_input
    result = await configure(hass, result, {"text": f"{NEW_ID} {spaced(NEW_KEY)}"})
    assert result["step_id"] == "preview"


async def test_unknown_upload_id(hass: HomeAssistant, write_capture: Callable[..., str]) -> None:
    entry = make_entry(write_capture(water_telegram()))
    await setup_entry(hass, entry)
    result = await start(hass, entry.entry_id)
    result = await configure(hass, result, {"file": "0123456789abcdef0123456789abcdef"})
    assert result["errors"] == {"file": "upload_failed"}


async def test_key_that_does_not_verify(
    hass: HomeAssistant, write_capture: Callable[..., str], caplog: pytest.LogCaptureFixture
) -> None:
    """Heard, but the key does not open its telegram: shown, not ticked, refused when ticked."""
    caplog.set_level(logging.DEBUG)
    entry = make_entry(write_capture(heat_telegram()))
    await setup_entry(hass, entry)
    result = await start(hass, entry.entry_id)
    result = await configure(hass, result, {"text": f"{HEAT.id};{OTHER_KEY.hex()}\n{NEW_ID};{NEW_KEY.hex()}"})
    assert result["errors"] == {"base": "key_not_verified"}
    assert result["description_placeholders"]["failing"] == HEAT.id
    assert options(result)[HEAT.id] == "87654321 · QDS · heard, key: ✗"
    assert preselected(result) == [NEW_ID]
    result = await configure(hass, result, {"meters": [HEAT.id, NEW_ID]})
    assert result["errors"] == {"meters": "key_not_verified"}
    result = await configure(hass, result, {"meters": []})
    assert result["errors"] == {"meters": "nothing_selected"}
    result = await configure(hass, result, {"meters": [NEW_ID]})
    assert result["reason"] == "keys_imported"
    await hass.async_block_till_done()
    assert set(meter_subentries(entry)) == {NEW_ID}
    _no_secrets(caplog.text)


async def test_duplicates_in_file(hass: HomeAssistant, write_capture: Callable[..., str]) -> None:
    entry = make_entry(write_capture(water_telegram()))
    await setup_entry(hass, entry)
    result = await start(hass, entry.entry_id)
    text = f"{NEW_ID};{NEW_KEY.hex()}\n{NEW_ID};{OTHER_KEY.hex()}\n{WATER.id};{KEY_HEX}\n{WATER.id};{KEY_HEX}"
    result = await configure(hass, result, {"text": text})
    assert result["errors"] == {"base": "duplicates_in_file"}
    assert result["description_placeholders"]["duplicates"] == f"{WATER.id}, {NEW_ID}"
    _no_secrets(json.dumps(result, default=str))


async def test_configured_meter_key_replaced_only_when_ticked(
    hass: HomeAssistant, write_capture: Callable[..., str]
) -> None:
    entry = make_entry(write_capture(heat_telegram()), [heat_subentry(key=None)])
    hub = await setup_entry(hass, entry)
    text = f"{HEAT.id};{KEY_HEX}\n{NEW_ID};{NEW_KEY.hex()}"
    result = await start(hass, entry.entry_id)
    result = await configure(hass, result, {"text": text})
    assert options(result)[HEAT.id].endswith("configured as Heat: tick to replace its key")
    assert preselected(result) == [NEW_ID]
    result = await configure(hass, result, {"meters": [NEW_ID]})
    assert result["description_placeholders"] == {"added": "1", "updated": "0"}
    await hass.async_block_till_done()
    assert CONF_KEY not in entry.subentries["sub_heat"].data
    # again, ticking the configured meter this time
    result = await start(hass, entry.entry_id)
    result = await configure(hass, result, {"text": text})
    result = await configure(hass, result, {"meters": [HEAT.id]})
    assert result["description_placeholders"] == {"added": "0", "updated": "1"}
    await hass.async_block_till_done()
    assert entry.subentries["sub_heat"].data[CONF_KEY] == KEY_HEX
    assert entry.subentries["sub_heat"].title == "Heat"
    assert len(meter_subentries(entry)) == 2
    await feed(hass, hub, heat_telegram(4300, acc=8))  # the next telegram opens with the new key
    assert hass.states.get("sensor.heat_energy").state == "4300"  # type: ignore[union-attr]


async def test_receiver_not_loaded_imports_without_preview_checks(hass: HomeAssistant, tmp_path: Any) -> None:
    entry = make_entry(str(tmp_path / "missing.txt"))
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    result = await start(hass, entry.entry_id)
    result = await configure(hass, result, {"text": f"QDS {HEAT.id} {KEY_HEX}"})
    assert options(result) == {HEAT.id: "87654321 · QDS · not heard"}
    result = await configure(hass, result, {"meters": [HEAT.id]})
    assert result["reason"] == "keys_imported"
    assert meter_subentries(entry)[HEAT.id].title == meter_title("QDS", None, HEAT.id)


def test_offered_on_radio_receivers_only() -> None:
    radio = make_entry("capture.txt")
    wired = MockConfigEntry(domain=DOMAIN, data={CONF_DEVICE: "/dev/ttyUSB0", CONF_KIND: "mbus"})
    assert set(OmsConfigFlow.async_get_supported_subentry_types(radio)) == {
        SUBENTRY_METER,
        SUBENTRY_KEY_IMPORT,
    }
    assert set(OmsConfigFlow.async_get_supported_subentry_types(wired)) == {SUBENTRY_METER}
