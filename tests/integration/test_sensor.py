"""Sensors from replayed telegrams: descriptions, values, restore, dynamic records, backward readings."""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Any

from homeassistant.components.sensor import SensorDeviceClass, SensorStateClass
from homeassistant.const import STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import HomeAssistant, State
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import mock_restore_cache_with_extra_data
from syrupy.assertion import SnapshotAssertion

from custom_components.oms.const import DOMAIN
from custom_components.oms.omslib.record import Record
from custom_components.oms.sensor import describe_record, record_value

from .conftest import (
    GAS,
    feed,
    gas_telegram,
    heat_subentry,
    heat_telegram,
    make_entry,
    setup_entry,
    water_subentry,
    water_telegram,
)


def _plain(value: Any) -> Any:
    """Enums as their values, so the snapshot reads the same on every Home Assistant version."""
    return value.value if isinstance(value, Enum) else value


def entity_summary(hass: HomeAssistant, entity_registry: er.EntityRegistry, entry_id: str) -> dict[str, Any]:
    """Registry facts and states of every entity of an entry, independent of the Home Assistant version."""
    out: dict[str, Any] = {}
    for entity in sorted(
        er.async_entries_for_config_entry(entity_registry, entry_id), key=lambda e: e.entity_id
    ):
        state = hass.states.get(entity.entity_id)
        out[entity.entity_id] = {
            "unique_id": entity.unique_id,
            "subentry": entity.config_subentry_id,
            "translation_key": entity.translation_key,
            "device_class": _plain(entity.original_device_class),
            "entity_category": _plain(entity.entity_category),
            "disabled_by": _plain(entity.disabled_by),
            "unit": entity.unit_of_measurement,
            "state": "<receive time>"
            if entity.unique_id.endswith("_last_telegram")
            else state and state.state,
            "attributes": {str(k): _plain(v) for k, v in state.attributes.items()} if state else None,
        }
    return out


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_sensors(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    write_capture: Callable[..., str],
    snapshot: SnapshotAssertion,
) -> None:
    """A water meter and an encrypted heat meter, every record as a sensor."""
    device = write_capture(water_telegram(), heat_telegram())
    entry = make_entry(device, [water_subentry(), heat_subentry()])
    await setup_entry(hass, entry)
    assert entity_summary(hass, entity_registry, entry.entry_id) == snapshot


async def test_energy_dashboard_classes(hass: HomeAssistant, write_capture: Callable[..., str]) -> None:
    """Totals are total_increasing with water/energy device classes; history is disabled by default."""
    entry = make_entry(write_capture(water_telegram(), heat_telegram()), [water_subentry(), heat_subentry()])
    await setup_entry(hass, entry)
    volume = hass.states.get("sensor.kitchen_water_volume")
    assert volume is not None
    assert volume.state == "123.456"
    assert volume.attributes["device_class"] == SensorDeviceClass.WATER
    assert volume.attributes["state_class"] == SensorStateClass.TOTAL_INCREASING
    energy = hass.states.get("sensor.heat_energy")
    assert energy is not None
    assert energy.state == "4200"
    assert energy.attributes["device_class"] == SensorDeviceClass.ENERGY
    # historic value (storage 1) and tariff 1 exist but are disabled
    registry = er.async_get(hass)
    historic = registry.async_get("sensor.kitchen_water_volume_at_billing_date")
    assert historic is not None
    assert historic.disabled_by is er.RegistryEntryDisabler.INTEGRATION


async def test_backward_reading_ignored(hass: HomeAssistant, write_capture: Callable[..., str]) -> None:
    """A total never goes backwards; an undecodable telegram writes nothing."""
    entry = make_entry(write_capture(water_telegram(123456)), [water_subentry()])
    hub = await setup_entry(hass, entry)
    await feed(hass, hub, water_telegram(120000, acc=2))
    assert hass.states.get("sensor.kitchen_water_volume").state == "123.456"  # type: ignore[union-attr]
    await feed(hass, hub, water_telegram(124000, acc=3))
    assert hass.states.get("sensor.kitchen_water_volume").state == "124.0"  # type: ignore[union-attr]
    await feed(hass, hub, water_telegram(124500, acc=4)[:-3])
    assert hass.states.get("sensor.kitchen_water_volume").state == "124.0"  # type: ignore[union-attr]


@pytest.mark.usefixtures("entity_registry_enabled_by_default")  # the last-telegram sensor
async def test_new_records_and_gas(hass: HomeAssistant, write_capture: Callable[..., str]) -> None:
    """A record that appears later gets its entity then; gas volume is GAS."""
    gas_sub = {
        "data": {"meter_id": GAS.id},
        "subentry_id": "sub_gas",
        "subentry_type": "meter",
        "title": "Gas",
        "unique_id": GAS.id,
    }
    entry = make_entry(write_capture(water_telegram()), [gas_sub])
    hub = await setup_entry(hass, entry)
    assert hass.states.get("sensor.gas_volume") is None
    assert hass.states.get("sensor.gas_last_telegram").state == STATE_UNKNOWN  # type: ignore[union-attr]
    await feed(hass, hub, gas_telegram())
    state = hass.states.get("sensor.gas_volume")
    assert state is not None
    assert state.state == "4.567"
    assert state.attributes["device_class"] == SensorDeviceClass.GAS


@pytest.mark.usefixtures("entity_registry_enabled_by_default")  # the last-telegram sensor
async def test_restore(
    hass: HomeAssistant, hass_storage: dict[str, Any], write_capture: Callable[..., str]
) -> None:
    """After a restart entities exist from stored layouts and keep their last value until a telegram comes."""
    hass_storage[f"{DOMAIN}.entry_replay"] = {
        "version": 1,
        "minor_version": 1,
        "key": f"{DOMAIN}.entry_replay",
        "data": {
            "meters": {
                "12345678": [
                    {
                        "dib": "04",
                        "vib": "13",
                        "quantity": "volume",
                        "unit": "m³",
                        "storage": 0,
                        "tariff": 0,
                        "subunit": 0,
                        "function": "instantaneous",
                        "modifiers": [],
                        "type": "float",
                    },
                    {"dib": "04", "vib": "6d", "quantity": "date_time", "type": "str"},
                    {"dib": "0d", "vib": "fd11", "quantity": "customer", "type": "bytes"},
                    {"dib": "02", "vib": "fd17", "quantity": "error_flags", "type": "int"},
                ]
            }
        },
    }
    mock_restore_cache_with_extra_data(
        hass,
        [
            (
                State("sensor.kitchen_water_volume", "99.5"),
                {"native_value": 99.5, "native_unit_of_measurement": "m³"},
            ),
            (
                State("sensor.kitchen_water_last_telegram", "2024-01-01T00:00:00+00:00"),
                {
                    "native_value": {
                        "__type": "<class 'datetime.datetime'>",
                        "isoformat": "2024-01-01T00:00:00+00:00",
                    },
                    "native_unit_of_measurement": None,
                },
            ),
        ],
    )
    entry = make_entry(write_capture(gas_telegram()), [water_subentry()])
    await setup_entry(hass, entry)
    assert hass.states.get("sensor.kitchen_water_volume").state == "99.5"  # type: ignore[union-attr]
    assert hass.states.get("sensor.kitchen_water_last_telegram").state == "2024-01-01T00:00:00+00:00"  # type: ignore[union-attr]
    assert hass.states.get("binary_sensor.kitchen_water_error_flags").state == STATE_UNKNOWN  # type: ignore[union-attr]


async def test_unavailable_after_silence(
    hass: HomeAssistant, write_capture: Callable[..., str], freezer: Any
) -> None:
    """A meter silent longer than the option says becomes unavailable."""
    from datetime import timedelta

    from pytest_homeassistant_custom_component.common import async_fire_time_changed

    entry = make_entry(write_capture(water_telegram()), [water_subentry()], {"available_hours": 1})
    await setup_entry(hass, entry)
    assert hass.states.get("sensor.kitchen_water_volume").state == "123.456"  # type: ignore[union-attr]
    freezer.tick(timedelta(hours=1, minutes=2))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert hass.states.get("sensor.kitchen_water_volume").state == STATE_UNAVAILABLE  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("record", "device_type", "expected"),
    [
        (Record(b"\x04", b"\x2b", "power", 1.0, "MJ/h"), 4, (None, SensorStateClass.MEASUREMENT, True)),
        (
            Record(b"\x04", b"\x13", "volume", 1.0, "m³", modifiers=("backward_flow",)),
            7,
            ("water", "total_increasing", True),
        ),
        (
            Record(b"\x04", b"\x13", "volume", 1.0, "m³", modifiers=("uncorrected",)),
            7,
            ("water", "total_increasing", False),
        ),
        (Record(b"\x14", b"\x06", "energy", 1.0, "kWh", function="maximum"), 4, ("energy", None, False)),
        (
            Record(b"\x14", b"\x2b", "power", 1.0, "kW", function="maximum"),
            4,
            ("power", "measurement", False),
        ),
        (Record(b"\x04", b"\x7f", "manufacturer_specific", 5, None), 4, (None, None, False)),
        (Record(b"\x0d", b"\x7f", "manufacturer_specific", "text", None), 4, None),
        (Record(b"\x0d", b"\xfd\x11", "customer", b"\x01", None), 4, None),
        (Record(b"\x0d", b"\x13", "volume", "x", "m³"), 4, None),
        (Record(b"\x02", b"\xfd\x17", "error_flags", 0, None), 4, None),
    ],
)
def test_describe_record(record: Record, device_type: int, expected: tuple[Any, Any, bool] | None) -> None:
    description = describe_record(record, device_type)
    if expected is None:
        assert description is None
        return
    assert description is not None
    assert (
        description.device_class,
        description.state_class,
        description.entity_registry_enabled_default,
    ) == expected


def test_record_value_edge_cases() -> None:
    date_description = describe_record(Record(b"\x02", b"\x6c", "date", "2024-12-31"), 7)
    time_description = describe_record(Record(b"\x04", b"\x6d", "date_time", "2024-12-31T10:00:00"), 7)
    assert date_description is not None
    assert time_description is not None
    assert record_value(Record(b"\x02", b"\x6c", "date", None), date_description) is None
    assert record_value(Record(b"\x02", b"\x6c", "date", ""), date_description) is None
    assert record_value(Record(b"\x04", b"\x6d", "date_time", ""), time_description) is None
    aware = record_value(Record(b"\x04", b"\x6d", "date_time", "2024-12-31T10:00:00+01:00"), time_description)
    assert str(aware) == "2024-12-31 10:00:00+01:00"
