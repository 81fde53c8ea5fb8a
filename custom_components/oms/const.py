"""Constants of the OMS integration."""

from __future__ import annotations

from typing import Final

from homeassistant.const import Platform

DOMAIN: Final = "oms"
PLATFORMS: Final = [Platform.BINARY_SENSOR, Platform.SENSOR]

CONF_DEVICE: Final = "device"
CONF_KIND: Final = "kind"
CONF_LINK_MODE: Final = "link_mode"
KIND_AUTO: Final = "auto"

SUBENTRY_METER: Final = "meter"
CONF_METER_ID: Final = "meter_id"
CONF_KEY: Final = "key"
CONF_NAME: Final = "name"
CONF_MANUFACTURER: Final = "manufacturer"
CONF_DEVICE_TYPE: Final = "device_type"
CONF_VERSION: Final = "version"

CONF_AUTO_ADD: Final = "auto_add"
CONF_MIN_RSSI: Final = "min_rssi"
CONF_AVAILABLE_HOURS: Final = "available_hours"
DEFAULT_AUTO_ADD: Final = False
DEFAULT_MIN_RSSI: Final = -110
DEFAULT_AVAILABLE_HOURS: Final = 4.0

HEARD_CAP: Final = 500
"""How many not-configured meters the hub remembers (oldest forgotten first)."""
DEDUP_SECONDS: Final = 30.0
"""Identical telegrams (same meter, access number and payload) within this window count once."""
AVAILABILITY_CHECK_SECONDS: Final = 60

STORAGE_VERSION: Final = 1

RECEIVER_MANUFACTURERS: Final[dict[str, str]] = {
    "im871a": "IMST",
    "iu891a": "IMST",
    "amber": "Würth Elektronik eiSos (Amber)",
    "cul": "busware",
    "rc1180": "Radiocrafts",
    "rtlwmbus": "rtl-wmbus",
    "rtl433": "rtl_433",
}


def signal_meter(entry_id: str, meter_id: str) -> str:
    """Dispatcher signal: a meter's state changed (new telegram or availability)."""
    return f"{DOMAIN}_{entry_id}_meter_{meter_id}"


def signal_new_records(entry_id: str) -> str:
    """Dispatcher signal: a meter was added or sent records not seen before."""
    return f"{DOMAIN}_{entry_id}_new_records"
