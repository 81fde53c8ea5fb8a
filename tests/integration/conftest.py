"""Fixtures of the Home Assistant tests: telegrams from tests/encoder.py played by the replay receiver."""

from __future__ import annotations

from collections.abc import Callable, Generator
import logging
from pathlib import Path
from typing import Any
from unittest.mock import PropertyMock, patch

from homeassistant.config_entries import SOURCE_RECONFIGURE, SOURCE_USER
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.syrupy import HomeAssistantSnapshotExtension
from syrupy.assertion import SnapshotAssertion
from syrupy.location import PyTestLocation

from custom_components.oms.const import (
    CONF_DEVICE,
    CONF_DEVICE_TYPE,
    CONF_KEY,
    CONF_KIND,
    CONF_LINK_MODE,
    CONF_MANUFACTURER,
    CONF_METER_ID,
    CONF_VERSION,
    DOMAIN,
    SUBENTRY_METER,
)
from custom_components.oms.hub import OmsHub
from custom_components.oms.omslib.frame import Frame
from tests import encoder as enc

logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)
"""The test plugin logs every SQL statement at INFO; the recorder's thread writes some of them after a
test's log capture ended, straight into the CI log."""

KEY = bytes.fromhex("0F0E0D0C0B0A09080706050403020100")
KEY_HEX = KEY.hex()
OTHER_KEY = bytes(range(16))

WATER = enc.Addr("KAM", "12345678", 0x1B, 0x07)
HEAT = enc.Addr("QDS", "87654321", 0x35, 0x04)
GAS = enc.Addr("ELS", "11223344", 0x33, 0x03)


def water_records(volume: int = 123456, *, error_flags: int = 0) -> list[bytes]:
    """Volume 123.456 m³, last month's volume, external temperature, meter time and error flags."""
    return [
        enc.record(0x4, enc.vib(0x13), enc.int_bytes(volume, 4)),
        enc.record(0x4, enc.vib(0x13), enc.int_bytes(100000, 4), storage=1),
        enc.record(0x4, enc.vib(0x13), enc.int_bytes(5000, 4), tariff=1),
        enc.record(0x2, enc.vib(0x65), enc.int_bytes(2150, 2)),
        enc.record(0x4, enc.vib(0x6D), enc.datetime_f(2024, 5, 31, 23, 50)),
        enc.record(0x2, enc.vib(0x17, table=0xFD), enc.int_bytes(error_flags, 2)),
    ]


def water_telegram(volume: int = 123456, *, acc: int = 1, status: int = 0, error_flags: int = 0) -> bytes:
    """An unencrypted water meter telegram (short TPL header)."""
    spec = enc.TelegramSpec(
        records=water_records(volume, error_flags=error_flags), meter=WATER, acc=acc, status=status
    )
    return enc.build(spec)


def heat_telegram(energy: int = 4200, *, acc: int = 7, key: bytes = KEY, mode: int = 5) -> bytes:
    """An encrypted heat meter telegram: energy (kWh), volume, power, flow and return temperature."""
    records = [
        enc.record(0x4, enc.vib(0x06), enc.int_bytes(energy, 4)),
        enc.record(0x4, enc.vib(0x13), enc.int_bytes(987654, 4)),
        enc.record(0x4, enc.vib(0x2B), enc.int_bytes(1500, 4)),
        enc.record(0x2, enc.vib(0x5B), enc.int_bytes(65, 2)),
        enc.record(0x2, enc.vib(0x5F), enc.int_bytes(40, 2)),
        enc.record(0x2, enc.vib(0x3B), enc.int_bytes(1200, 2), function="maximum"),
        enc.record(0x4, enc.vib(0x13), enc.int_bytes(1000, 4), subunit=1),
        enc.record(0x2, enc.vib(0x6C), enc.date_g(2024, 12, 31), storage=1),
        enc.record(0x2, enc.vib(0x3A, table=0xFD), enc.int_bytes(5, 2)),
    ]
    spec = enc.TelegramSpec(records=records, meter=HEAT, acc=acc, mode=mode, key=key, tpl="long")
    return enc.build(spec)


def gas_telegram(volume: int = 4567, *, acc: int = 3) -> bytes:
    records = [enc.record(0xC, enc.vib(0x13), enc.bcd_bytes(volume, 8))]
    return enc.build(enc.TelegramSpec(records=records, meter=GAS, acc=acc))


def capture_line(raw: bytes, rssi: float | None = -60) -> str:
    return raw.hex() + (f";rssi={rssi}" if rssi is not None else "")


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Load custom_components/oms in every test."""


@pytest.fixture(autouse=True)
def no_port_listing() -> Generator[None]:
    """The machine's own serial ports do not leak into the flows."""
    with patch("serialx.async_list_serial_ports", return_value=[]):
        yield


class _SnapshotExtension(HomeAssistantSnapshotExtension):
    """Snapshots in tests/integration/snapshots on every Home Assistant version."""

    @classmethod
    def dirname(cls, *, test_location: PyTestLocation) -> str:
        return str(Path(test_location.filepath).parent / "snapshots")


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    return snapshot.use_extension(_SnapshotExtension)


@pytest.fixture
def entity_registry_enabled_by_default() -> Generator[None]:
    """Create every entity enabled, including those disabled by default."""
    with patch(
        "homeassistant.helpers.entity.Entity.entity_registry_enabled_default",
        new_callable=PropertyMock,
        return_value=True,
    ):
        yield


@pytest.fixture
def write_capture(tmp_path: Path) -> Callable[..., str]:
    """Write telegrams to a capture file; returns the replay device (played fast, once)."""
    counter = iter(range(1000))

    def write(*raws: bytes | tuple[bytes, float | None]) -> str:
        lines = []
        for item in raws:
            raw, rssi = item if isinstance(item, tuple) else (item, -60.0)
            lines.append(capture_line(raw, rssi))
        path = tmp_path / f"capture{next(counter)}.txt"
        path.write_text("# test capture\n" + "\n".join(lines) + "\n")
        return f"{path}?rate=1000&loop=0"

    return write


def water_subentry(**data: Any) -> dict[str, Any]:
    return {
        "data": {
            CONF_METER_ID: WATER.id,
            CONF_MANUFACTURER: "KAM",
            CONF_DEVICE_TYPE: 0x07,
            CONF_VERSION: 0x1B,
        }
        | data,
        "subentry_id": "sub_water",
        "subentry_type": SUBENTRY_METER,
        "title": "Kitchen water",
        "unique_id": WATER.id,
    }


def heat_subentry(key: str | None = KEY_HEX) -> dict[str, Any]:
    data: dict[str, Any] = {CONF_METER_ID: HEAT.id}
    if key is not None:
        data[CONF_KEY] = key
    return {
        "data": data,
        "subentry_id": "sub_heat",
        "subentry_type": SUBENTRY_METER,
        "title": "Heat",
        "unique_id": HEAT.id,
    }


def make_entry(
    device: str,
    subentries: list[dict[str, Any]] | None = None,
    options: dict[str, Any] | None = None,
    *,
    entry_id: str = "entry_replay",
    unique_id: str = "replay-1",
) -> MockConfigEntry:
    return MockConfigEntry(
        domain=DOMAIN,
        title="Replay",
        entry_id=entry_id,
        unique_id=unique_id,
        data={CONF_DEVICE: device, CONF_KIND: "replay", CONF_LINK_MODE: "c1t1"},
        options=options or {},
        subentries_data=subentries or [],
        version=1,
        minor_version=1,
    )


async def setup_entry(hass: HomeAssistant, entry: MockConfigEntry) -> OmsHub:
    """Set the entry up and wait until the capture file was played."""
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    hub: OmsHub = entry.runtime_data
    await wait_played(hass, hub)
    return hub


async def start_meter_flow(hass: HomeAssistant, entry_id: str) -> Any:
    """The first step of the "add meter" subentry flow of a receiver entry."""
    return await hass.config_entries.subentries.async_init(
        (entry_id, SUBENTRY_METER), context={"source": SOURCE_USER}
    )


async def start_meter_reconfigure(hass: HomeAssistant, entry_id: str, subentry_id: str) -> Any:
    """The first step of reconfiguring a meter subentry."""
    return await hass.config_entries.subentries.async_init(
        (entry_id, SUBENTRY_METER), context={"source": SOURCE_RECONFIGURE, "subentry_id": subentry_id}
    )


async def wait_played(hass: HomeAssistant, hub: OmsHub) -> None:
    receiver: Any = hub.receiver
    await receiver.finished.wait()
    await hass.async_block_till_done()


async def feed(hass: HomeAssistant, hub: OmsHub, raw: bytes, rssi: float | None = -60.0) -> None:
    """Hand one more telegram to the hub through the receiver's frame callback."""
    receiver: Any = hub.receiver
    receiver._on_frame(Frame(raw, rssi_dbm=rssi, receiver_id=hub.entry.entry_id))
    await hass.async_block_till_done()
