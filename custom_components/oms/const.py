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
KIND_MBUS: Final = "mbus"
"""Receiver kind of a wired M-Bus master (level converter or TCP gateway); it polls instead of listening."""
CONF_BAUDRATE: Final = "baudrate"
DEFAULT_BAUDRATE: Final = 2400
KIND_MQTT: Final = "mqtt"
CONF_MQTT_TOPIC: Final = "mqtt_topic"
"""Option of a local receiver: an MQTT topic filter whose remote receivers feed the same hub."""
DEFAULT_MQTT_TOPIC: Final = "wmbus/+/telegram"
KIND_LPWAN: Final = "lpwan"
"""Receiver kind: uplinks of a LoRaWAN / mioty network server, through the MQTT integration."""
CONF_LPWAN_NETWORK: Final = "lpwan_network"
LPWAN_NETWORKS: Final = ("auto", "tts", "chirpstack", "mioty")
LPWAN_TOPICS: Final[dict[str, str]] = {
    "auto": "v3/+/devices/+/up",
    "tts": "v3/+/devices/+/up",
    "chirpstack": "application/+/device/+/event/up",
    "mioty": "mioty/+/+/uplink",
}
"""Default uplink topic filter per network server (The Things Stack v3, ChirpStack v4, mioty ACMQTTI)."""
CONF_DEV_EUI: Final = "dev_eui"
"""Meter subentry of an LPWAN receiver: the LoRaWAN DevEUI / mioty endpoint EUI that sends its data."""

SUBENTRY_METER: Final = "meter"
CONF_METER_ID: Final = "meter_id"
CONF_KEY: Final = "key"
CONF_NAME: Final = "name"
CONF_MANUFACTURER: Final = "manufacturer"
CONF_DEVICE_TYPE: Final = "device_type"
CONF_VERSION: Final = "version"
CONF_ADDRESS: Final = "address"
"""Wired meters: primary address (int 0–250) or 16-hex secondary address (str) the master reads it by."""

CONF_AUTO_ADD: Final = "auto_add"
CONF_MIN_RSSI: Final = "min_rssi"
CONF_AVAILABLE_HOURS: Final = "available_hours"
DEFAULT_AUTO_ADD: Final = False
DEFAULT_MIN_RSSI: Final = -110
DEFAULT_AVAILABLE_HOURS: Final = 4.0
CONF_SCAN_INTERVAL: Final = "scan_interval"
CONF_MAX_FAILURES: Final = "max_failures"
DEFAULT_SCAN_INTERVAL: Final = 300
MIN_SCAN_INTERVAL: Final = 10
DEFAULT_MAX_FAILURES: Final = 3
"""Consecutive failed polls after which a wired meter is unavailable."""
CONF_MAX_RATE: Final = "max_rate"
"""Meter option: the largest plausible consumption per hour of its main total (m³ or kWh)."""
FAILURES_FOR_ISSUE: Final = 3
FAILURES_WINDOW_SECONDS: Final = 3600.0
"""A decryption repair issue needs this many failures within this window, no success between."""

HEARD_CAP: Final = 500
"""How many not-configured meters the hub remembers (oldest forgotten first)."""
DEDUP_SECONDS: Final = 30.0
"""Identical telegrams (same meter, access number and payload) within this window count once."""
AVAILABILITY_CHECK_SECONDS: Final = 60

STORAGE_VERSION: Final = 1
TRUST_SAVE_DELAY: Final = 30.0
"""Seconds the replay counters and accepted totals may wait before they are written."""

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


def signal_reception(entry_id: str, meter_id: str) -> str:
    """Dispatcher signal: another receiver heard a meter's last telegram (receivers, best RSSI)."""
    return f"{DOMAIN}_{entry_id}_reception_{meter_id}"


def signal_new_receiver(entry_id: str) -> str:
    """Dispatcher signal: a remote (MQTT) receiver was heard for the first time."""
    return f"{DOMAIN}_{entry_id}_new_receiver"


def signal_receivers(entry_id: str) -> str:
    """Dispatcher signal: time to refresh the statistics sensors of the remote receivers."""
    return f"{DOMAIN}_{entry_id}_receivers"
