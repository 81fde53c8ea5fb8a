"""Config flow: a receiver per entry (user, USB discovery, reconfigure), meters as subentries, options.

A receiver is a radio receiver (stick, SDR, network port, capture file) or a
wired M-Bus master; meters of a wired master are found by a bus scan or added by
their primary or secondary address.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
import logging
import os
import re
import time
from typing import Any

from homeassistant.components import usb
from homeassistant.config_entries import (
    ConfigEntry,
    ConfigEntryState,
    ConfigFlow,
    ConfigFlowResult,
    ConfigSubentryFlow,
    OptionsFlow,
    SubentryFlowResult,
)
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.selector import (
    BooleanSelector,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
from homeassistant.helpers.service_info.usb import UsbServiceInfo
import voluptuous as vol

from .const import (
    CONF_ADDRESS,
    CONF_AUTO_ADD,
    CONF_AVAILABLE_HOURS,
    CONF_BAUDRATE,
    CONF_DEV_EUI,
    CONF_DEVICE,
    CONF_DEVICE_TYPE,
    CONF_KEY,
    CONF_KIND,
    CONF_LINK_MODE,
    CONF_LPWAN_NETWORK,
    CONF_MANUFACTURER,
    CONF_MAX_FAILURES,
    CONF_MAX_RATE,
    CONF_METER_ID,
    CONF_MIN_RSSI,
    CONF_MQTT_TOPIC,
    CONF_NAME,
    CONF_SCAN_INTERVAL,
    CONF_VERSION,
    DEFAULT_AUTO_ADD,
    DEFAULT_AVAILABLE_HOURS,
    DEFAULT_BAUDRATE,
    DEFAULT_MAX_FAILURES,
    DEFAULT_MIN_RSSI,
    DEFAULT_MQTT_TOPIC,
    DEFAULT_SCAN_INTERVAL,
    DOMAIN,
    KIND_AUTO,
    KIND_LPWAN,
    KIND_MBUS,
    KIND_MQTT,
    LPWAN_NETWORKS,
    LPWAN_TOPICS,
    MIN_SCAN_INTERVAL,
    SUBENTRY_METER,
)
from .demo import CAPTURE as DEMO_CAPTURE
from .flow_keys import SUBENTRY_KEY_IMPORT, KeyImportSubentryFlow
from .hub import FoundMeter, HeardMeter, OmsHub, configured_meter_ids, meter_title
from .lpwan_mqtt import LpwanDevice, LpwanReceiver
from .names import Words, async_get_words
from .omslib.decoder import Decoder
from .omslib.devices import DEVICE_TYPES, device_type_name
from .omslib.errors import DECRYPTION_ERRORS, OmsError
from .omslib.keyring import Keyring, parse_key
from .omslib.link import manufacturer_code
from .omslib.lpwan import normalize_eui
from .omslib.receivers import (
    LINK_MODES,
    RECEIVERS,
    NoAnswerError,
    PortOpenError,
    ReceiverError,
    ReceiverInfo,
    UnsupportedModeError,
    WrongDeviceError,
    create_receiver,
    detect,
)
from .omslib.receivers.base import LINK_MODE_LABELS, display_device
from .omslib.receivers.mbus_master import (
    BAUD_RATES,
    MAX_PRIMARY,
    MbusCollision,
    MbusError,
    MbusMaster,
    MbusPortError,
    MbusTimeout,
    ScanProgress,
    parse_address,
)
from .poller import MASTER_OPTIONS

_LOGGER = logging.getLogger(__name__)

METER_ID = re.compile(r"^[0-9A-F]{8}$")
REMOVE_KEY = "remove_key"
"""Reconfigure a meter: forget its AES key (e.g. the meter was set to send unencrypted)."""
RECEIVER_ERRORS: tuple[tuple[type[ReceiverError], str], ...] = (
    (PortOpenError, "cannot_open"),
    (NoAnswerError, "no_answer"),
    (WrongDeviceError, "wrong_device"),
    (UnsupportedModeError, "unsupported_mode"),
)


async def async_test_receiver(device: str, kind: str, link_mode: str) -> tuple[str, ReceiverInfo]:
    """Detect (kind "auto") and start + stop the receiver once; returns (kind, info) or raises."""
    if kind == KIND_AUTO:
        kind = (await detect(device)).kind
    receiver = create_receiver(kind, device, on_frame=lambda _frame: None, link_mode=link_mode)
    try:
        info = await receiver.start()
    finally:
        await receiver.stop()
    return kind, info


COMMAND_KINDS = frozenset(("rtlwmbus", "rtl433"))
"""Receiver kinds whose device may be a shell command (the SDR pipeline); no other kind runs commands."""


async def _async_try_receiver(device: str, kind: str, link_mode: str) -> tuple[str, ReceiverInfo] | str:
    """(kind, info) when the receiver works, else a translated error key."""
    if device.strip().lower().startswith("cmd:") and kind not in COMMAND_KINDS:
        return "command_not_allowed"
    try:
        return await async_test_receiver(device, kind, link_mode)
    except ReceiverError as err:
        for error_type, code in RECEIVER_ERRORS:
            if isinstance(err, error_type):
                return code
        return "unknown"
    except ValueError:
        return "unsupported_kind"
    except Exception:
        _LOGGER.exception("Unexpected error while testing receiver %s", display_device(device))
        return "unknown"


async def async_test_mbus(device: str, baudrate: int) -> ReceiverInfo:
    """Open the port of a wired master and send one request (SND_NKE to the selected slave, EN 13757-2)."""
    master = MbusMaster(device, baudrate=baudrate, **MASTER_OPTIONS)
    try:
        await master.open()
        await master.deselect()
    finally:
        await master.close()
    return ReceiverInfo(kind=KIND_MBUS, model="M-Bus master")


async def _async_try_mbus(device: str, baudrate: int) -> tuple[str, ReceiverInfo] | str:
    """(kind, info) when the port opens and takes a request, else a translated error key."""
    try:
        return KIND_MBUS, await async_test_mbus(device, baudrate)
    except (PortOpenError, MbusPortError):
        return "cannot_open"
    except MbusError:
        # Something answered garbled: the port works, the bus may be busy or mixed up.
        return KIND_MBUS, ReceiverInfo(kind=KIND_MBUS, model="M-Bus master")
    except Exception:
        _LOGGER.exception("Unexpected error while testing M-Bus master %s", display_device(device))
        return "unknown"


async def _async_port_options(hass: HomeAssistant) -> list[SelectOptionDict]:
    """Serial ports of this machine for the selector (a path or URL can be typed instead)."""
    try:
        import serialx

        ports = await serialx.async_list_serial_ports()
    except Exception:
        _LOGGER.debug("Cannot list serial ports", exc_info=True)
        return []
    options: list[SelectOptionDict] = []
    for port in ports:
        device = await hass.async_add_executor_job(usb.get_serial_by_id, port.device)
        label = " - ".join(str(part) for part in (port.device, port.product, port.manufacturer) if part)
        options.append(SelectOptionDict(value=device, label=label))
    return options


def _receiver_schema(ports: list[SelectOptionDict]) -> vol.Schema:
    kinds = [KIND_AUTO, *sorted(kind for kind in RECEIVERS if kind != KIND_MBUS)]
    return vol.Schema(
        {
            vol.Required(CONF_DEVICE): SelectSelector(
                SelectSelectorConfig(options=ports, custom_value=True, mode=SelectSelectorMode.DROPDOWN)
            ),
            vol.Required(CONF_KIND, default=KIND_AUTO): SelectSelector(
                SelectSelectorConfig(
                    options=kinds, translation_key=CONF_KIND, mode=SelectSelectorMode.DROPDOWN
                )
            ),
            vol.Required(CONF_LINK_MODE, default=LINK_MODES[0]): _link_mode_selector(),
        }
    )


def _mbus_schema(ports: list[SelectOptionDict]) -> vol.Schema:
    return vol.Schema(
        {
            vol.Required(CONF_DEVICE): SelectSelector(
                SelectSelectorConfig(options=ports, custom_value=True, mode=SelectSelectorMode.DROPDOWN)
            ),
            vol.Required(CONF_BAUDRATE, default=str(DEFAULT_BAUDRATE)): SelectSelector(
                SelectSelectorConfig(
                    options=[str(rate) for rate in BAUD_RATES], mode=SelectSelectorMode.DROPDOWN
                )
            ),
        }
    )


def _mqtt_configured(hass: HomeAssistant) -> bool:
    """Home Assistant's MQTT integration has an enabled entry (MQTT receivers go through it)."""
    from homeassistant.components import mqtt  # imported here: only MQTT receivers need it

    return bool(mqtt.mqtt_config_entry_enabled(hass))


def _mqtt_topic(text: str) -> str | None:
    """A valid MQTT topic filter, or None."""
    from homeassistant.components import mqtt

    topic = text.strip()
    try:
        return mqtt.valid_subscribe_topic(topic) if topic else None
    except vol.Invalid:
        return None


def _mqtt_schema(topic: str) -> vol.Schema:
    return vol.Schema({vol.Required(CONF_DEVICE, default=topic): TextSelector()})


def _link_mode_selector() -> SelectSelector:
    return SelectSelector(
        SelectSelectorConfig(
            options=[SelectOptionDict(value=mode, label=LINK_MODE_LABELS[mode]) for mode in LINK_MODES],
            mode=SelectSelectorMode.DROPDOWN,
        )
    )


def _unique_id(info: ReceiverInfo, device: str) -> str:
    return info.serial or device


DEMO_TITLE = "Demo receiver"


def _title(info: ReceiverInfo, kind: str, device: str, port: str | None = None) -> str:
    """A friendly receiver title (also its device name): "iM871A on /dev/ttyUSB0", "Demo receiver".

    A replayed capture is named by its file name (the bundled demo capture as the demo receiver).
    """
    path = device.partition("?")[0]
    if kind == "replay":
        if os.path.abspath(path) == os.path.abspath(DEMO_CAPTURE):
            return DEMO_TITLE
        return f"Replay of {os.path.basename(path)}"
    return f"{info.model or kind} on {port or display_device(device)}"


async def _async_title(hass: HomeAssistant, info: ReceiverInfo, kind: str, device: str) -> str:
    """:func:`_title`; a ``/dev/serial/by-id/…`` link is named by the port it points to."""
    port = None
    if device.startswith("/dev/serial/by-"):
        port = await hass.async_add_executor_job(os.path.realpath, device)
    return _title(info, kind, device, port)


async def _async_normalize_device(hass: HomeAssistant, device: str) -> str:
    device = device.strip()
    if device.startswith("/dev/"):
        return await hass.async_add_executor_job(usb.get_serial_by_id, device)
    return device


class OmsConfigFlow(ConfigFlow, domain=DOMAIN):
    """A receiver: USB stick, SDR pipeline, network serial port or capture file."""

    VERSION = 1
    MINOR_VERSION = 1

    def __init__(self) -> None:
        self._device = ""
        self._usb_name = ""

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: ConfigEntry) -> OmsOptionsFlow:
        return OmsOptionsFlow()

    @classmethod
    @callback
    def async_get_supported_subentry_types(
        cls, config_entry: ConfigEntry
    ) -> dict[str, type[ConfigSubentryFlow]]:
        if config_entry.data.get(CONF_KIND) == KIND_MBUS:  # wired meters need their bus address
            return {SUBENTRY_METER: MeterSubentryFlow}
        return {SUBENTRY_METER: MeterSubentryFlow, SUBENTRY_KEY_IMPORT: KeyImportSubentryFlow}

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """A radio receiver, remote receivers on MQTT, or a wired M-Bus master."""
        return self.async_show_menu(
            step_id="user", menu_options=["receiver", "mqtt_receivers", KIND_LPWAN, "mbus"]
        )

    async def async_step_mqtt_receivers(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Remote receivers publishing to MQTT, received through Home Assistant's MQTT integration."""
        if not _mqtt_configured(self.hass):
            return self.async_abort(reason="mqtt_not_configured")
        errors: dict[str, str] = {}
        if user_input is not None:
            topic = _mqtt_topic(user_input[CONF_DEVICE])
            if topic is None:
                errors[CONF_DEVICE] = "invalid_topic"
            else:
                await self.async_set_unique_id(f"{KIND_MQTT}:{topic}")
                self._abort_if_unique_id_configured()
                return self._create_mqtt_entry(topic)
        return self.async_show_form(
            step_id="mqtt_receivers",
            data_schema=self.add_suggested_values_to_schema(_mqtt_schema(DEFAULT_MQTT_TOPIC), user_input),
            errors=errors,
        )

    async def async_step_lpwan(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """A LoRaWAN / mioty network server's uplinks, through Home Assistant's MQTT integration."""
        if not _mqtt_configured(self.hass):
            return self.async_abort(reason="mqtt_not_configured")
        errors: dict[str, str] = {}
        if user_input is not None:
            network = user_input[CONF_LPWAN_NETWORK]
            topic = _mqtt_topic(user_input.get(CONF_DEVICE) or LPWAN_TOPICS[network])
            if topic is None:
                errors[CONF_DEVICE] = "invalid_topic"
            else:
                await self.async_set_unique_id(f"{KIND_LPWAN}:{topic}")
                self._abort_if_unique_id_configured()
                return self.async_create_entry(
                    title=f"LPWAN {topic}",
                    data={
                        CONF_DEVICE: topic,
                        CONF_KIND: KIND_LPWAN,
                        CONF_LINK_MODE: LINK_MODES[0],
                        CONF_LPWAN_NETWORK: network,
                    },
                )
        schema = vol.Schema(
            {
                vol.Required(CONF_LPWAN_NETWORK, default="auto"): SelectSelector(
                    SelectSelectorConfig(
                        options=list(LPWAN_NETWORKS),
                        translation_key=CONF_LPWAN_NETWORK,
                        mode=SelectSelectorMode.LIST,
                    )
                ),
                vol.Optional(CONF_DEVICE): TextSelector(),
            }
        )
        return self.async_show_form(
            step_id="lpwan",
            data_schema=self.add_suggested_values_to_schema(schema, user_input),
            errors=errors,
        )

    def _create_mqtt_entry(self, topic: str) -> ConfigFlowResult:
        return self.async_create_entry(
            title=f"MQTT {topic}",
            data={CONF_DEVICE: topic, CONF_KIND: KIND_MQTT, CONF_LINK_MODE: LINK_MODES[0]},
        )

    async def async_step_receiver(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Pick a port (or type a path / socket:// / rfc2217:// URL), the receiver type and link mode."""
        errors: dict[str, str] = {}
        if user_input is not None:
            device = await _async_normalize_device(self.hass, user_input[CONF_DEVICE])
            self._async_abort_entries_match({CONF_DEVICE: device})
            link_mode = user_input[CONF_LINK_MODE]
            result = await _async_try_receiver(device, user_input[CONF_KIND], link_mode)
            if isinstance(result, str):
                errors["base"] = result
            else:
                kind, info = result
                await self.async_set_unique_id(_unique_id(info, device))
                self._abort_if_unique_id_configured()
                return self.async_create_entry(
                    title=await _async_title(self.hass, info, kind, device),
                    data={CONF_DEVICE: device, CONF_KIND: kind, CONF_LINK_MODE: link_mode},
                )
        ports = await _async_port_options(self.hass)
        return self.async_show_form(
            step_id="receiver",
            data_schema=self.add_suggested_values_to_schema(_receiver_schema(ports), user_input),
            errors=errors,
        )

    async def async_step_mbus(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """A wired M-Bus master: level converter port or gateway URL and the bus's baud rate."""
        errors: dict[str, str] = {}
        if user_input is not None:
            device = await _async_normalize_device(self.hass, user_input[CONF_DEVICE])
            baudrate = int(user_input[CONF_BAUDRATE])
            self._async_abort_entries_match({CONF_DEVICE: device})
            result = await _async_try_mbus(device, baudrate)
            if isinstance(result, str):
                errors["base"] = result
            else:
                kind, info = result
                await self.async_set_unique_id(_unique_id(info, device))
                self._abort_if_unique_id_configured()
                return self.async_create_entry(
                    title=await _async_title(self.hass, info, kind, device),
                    data={CONF_DEVICE: device, CONF_KIND: kind, CONF_BAUDRATE: baudrate},
                )
        ports = await _async_port_options(self.hass)
        return self.async_show_form(
            step_id="mbus",
            data_schema=self.add_suggested_values_to_schema(_mbus_schema(ports), user_input),
            errors=errors,
        )

    async def async_step_usb(self, discovery_info: UsbServiceInfo) -> ConfigFlowResult:
        """A known stick was plugged in."""
        device = await self.hass.async_add_executor_job(usb.get_serial_by_id, discovery_info.device)
        self._async_abort_entries_match({CONF_DEVICE: device})
        self._device = device
        self._usb_name = usb.human_readable_device_name(
            device,
            discovery_info.serial_number,
            discovery_info.manufacturer,
            discovery_info.description,
            discovery_info.vid,
            discovery_info.pid,
        )
        self.context["title_placeholders"] = {"name": self._usb_name}
        return await self.async_step_usb_confirm()

    async def async_step_usb_confirm(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Confirm the discovered stick and choose the link mode."""
        errors: dict[str, str] = {}
        if user_input is not None:
            link_mode = user_input[CONF_LINK_MODE]
            result = await _async_try_receiver(self._device, KIND_AUTO, link_mode)
            if isinstance(result, str):
                errors["base"] = result
            else:
                kind, info = result
                await self.async_set_unique_id(_unique_id(info, self._device))
                self._abort_if_unique_id_configured(updates={CONF_DEVICE: self._device})
                return self.async_create_entry(
                    title=await _async_title(self.hass, info, kind, self._device),
                    data={CONF_DEVICE: self._device, CONF_KIND: kind, CONF_LINK_MODE: link_mode},
                )
        return self.async_show_form(
            step_id="usb_confirm",
            data_schema=vol.Schema(
                {vol.Required(CONF_LINK_MODE, default=LINK_MODES[0]): _link_mode_selector()}
            ),
            description_placeholders={"name": self._usb_name},
            errors=errors,
        )

    async def async_step_reconfigure(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Change port, receiver type and link mode (wired master: baud rate); tested before saving."""
        entry = self._get_reconfigure_entry()
        if entry.data[CONF_KIND] == KIND_MQTT:
            return await self.async_step_reconfigure_mqtt()
        if entry.data[CONF_KIND] == KIND_LPWAN:
            return self.async_abort(reason="reconfigure_lpwan")
        wired = entry.data[CONF_KIND] == KIND_MBUS
        errors: dict[str, str] = {}
        if user_input is not None:
            device = await _async_normalize_device(self.hass, user_input[CONF_DEVICE])
            was_loaded = entry.state is ConfigEntryState.LOADED
            if was_loaded:
                # The running receiver holds the port: release it for the test.
                await self.hass.config_entries.async_unload(entry.entry_id)
            updates: dict[str, Any]
            if wired:
                baudrate = int(user_input[CONF_BAUDRATE])
                result = await _async_try_mbus(device, baudrate)
                updates = {CONF_DEVICE: device, CONF_BAUDRATE: baudrate}
            else:
                result = await _async_try_receiver(device, user_input[CONF_KIND], user_input[CONF_LINK_MODE])
                updates = {CONF_DEVICE: device, CONF_LINK_MODE: user_input[CONF_LINK_MODE]}
            if isinstance(result, str):
                errors["base"] = result
                if was_loaded:
                    self.hass.config_entries.async_schedule_reload(entry.entry_id)
            else:
                kind, info = result
                unique_id = _unique_id(info, device)
                for other in self._async_current_entries(include_ignore=False):
                    if other.entry_id != entry.entry_id and other.unique_id == unique_id:
                        if was_loaded:
                            self.hass.config_entries.async_schedule_reload(entry.entry_id)
                        return self.async_abort(reason="already_configured")
                return self.async_update_reload_and_abort(
                    entry, unique_id=unique_id, data_updates=updates | {CONF_KIND: kind}
                )
        ports = await _async_port_options(self.hass)
        if user_input is None:
            user_input = dict(entry.data)
            if wired:
                user_input[CONF_BAUDRATE] = str(entry.data.get(CONF_BAUDRATE, DEFAULT_BAUDRATE))
        schema = _mbus_schema(ports) if wired else _receiver_schema(ports)
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(schema, user_input),
            errors=errors,
        )

    async def async_step_reconfigure_mqtt(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Change the topic filter of an MQTT receiver entry."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            topic = _mqtt_topic(user_input[CONF_DEVICE])
            if topic is None:
                errors[CONF_DEVICE] = "invalid_topic"
            else:
                unique_id = f"{KIND_MQTT}:{topic}"
                for other in self._async_current_entries(include_ignore=False):
                    if other.entry_id != entry.entry_id and other.unique_id == unique_id:
                        return self.async_abort(reason="already_configured")
                return self.async_update_reload_and_abort(
                    entry, unique_id=unique_id, data_updates={CONF_DEVICE: topic}
                )
        return self.async_show_form(
            step_id="reconfigure_mqtt",
            data_schema=_mqtt_schema(entry.data[CONF_DEVICE]),
            errors=errors,
        )


class OmsOptionsFlow(OptionsFlow):
    """Radio: automatic add, the signal floor of the heard list, how long a silent meter stays available.

    Wired master: the poll interval and after how many failed polls a meter is unavailable.
    """

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        if self.config_entry.data[CONF_KIND] == KIND_MBUS:
            return await self.async_step_mbus(user_input)
        errors: dict[str, str] = {}
        extra_mqtt = self.config_entry.data[CONF_KIND] not in (KIND_MQTT, KIND_LPWAN) and _mqtt_configured(
            self.hass
        )
        if user_input is not None:
            text = user_input.pop(CONF_MQTT_TOPIC, "")
            if text.strip():
                topic = _mqtt_topic(text)
                if topic is None:
                    errors[CONF_MQTT_TOPIC] = "invalid_topic"
                else:
                    user_input[CONF_MQTT_TOPIC] = topic
            if not errors:
                return self.async_create_entry(data=user_input)
        options = self.config_entry.options
        schema = vol.Schema(
            {
                vol.Required(
                    CONF_AUTO_ADD, default=options.get(CONF_AUTO_ADD, DEFAULT_AUTO_ADD)
                ): BooleanSelector(),
                vol.Required(
                    CONF_MIN_RSSI, default=options.get(CONF_MIN_RSSI, DEFAULT_MIN_RSSI)
                ): NumberSelector(
                    NumberSelectorConfig(
                        min=-130, max=0, step=1, unit_of_measurement="dBm", mode=NumberSelectorMode.BOX
                    )
                ),
                vol.Required(
                    CONF_AVAILABLE_HOURS, default=options.get(CONF_AVAILABLE_HOURS, DEFAULT_AVAILABLE_HOURS)
                ): NumberSelector(
                    NumberSelectorConfig(
                        min=0.25, max=168, step=0.25, unit_of_measurement="h", mode=NumberSelectorMode.BOX
                    )
                ),
            }
        )
        if extra_mqtt:
            schema = schema.extend(
                {
                    vol.Optional(
                        CONF_MQTT_TOPIC, description={"suggested_value": options.get(CONF_MQTT_TOPIC)}
                    ): TextSelector()
                }
            )
        return self.async_show_form(step_id="init", data_schema=schema, errors=errors)

    async def async_step_mbus(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        if user_input is not None:
            return self.async_create_entry(
                data={
                    CONF_SCAN_INTERVAL: int(user_input[CONF_SCAN_INTERVAL]),
                    CONF_MAX_FAILURES: int(user_input[CONF_MAX_FAILURES]),
                }
            )
        options = self.config_entry.options
        schema = vol.Schema(
            {
                vol.Required(
                    CONF_SCAN_INTERVAL, default=options.get(CONF_SCAN_INTERVAL, DEFAULT_SCAN_INTERVAL)
                ): NumberSelector(
                    NumberSelectorConfig(
                        min=MIN_SCAN_INTERVAL,
                        max=86400,
                        step=1,
                        unit_of_measurement="s",
                        mode=NumberSelectorMode.BOX,
                    )
                ),
                vol.Required(
                    CONF_MAX_FAILURES, default=options.get(CONF_MAX_FAILURES, DEFAULT_MAX_FAILURES)
                ): NumberSelector(NumberSelectorConfig(min=1, max=20, step=1, mode=NumberSelectorMode.BOX)),
            }
        )
        return self.async_show_form(step_id="mbus", data_schema=schema)


def _normalize_meter_id(text: str) -> str | None:
    meter_id = "".join(text.split()).upper()
    return meter_id if METER_ID.match(meter_id) else None


DEV_EUI = re.compile(r"[0-9A-F]{16}")
MANUFACTURER = re.compile(r"[A-Z]{3}")
_DEVICE_CODES = {name: code for code, name in DEVICE_TYPES.items()}
MEDIA = (
    "water",
    "warm_water",
    "hot_water",
    "cold_water",
    "heat",
    "cooling_load_outlet",
    "gas",
    "electricity",
    "heat_cost_allocator",
    "other",
)
"""Media offered when a DevEUI is mapped to a meter (the device-type names of the decode output)."""


def _device_label(device: LpwanDevice, now: float) -> str:
    age = max(0, int(now - device.last_seen))
    ago = f"{age} s" if age < 120 else f"{age // 60} min"
    rssi = "?" if device.rssi_dbm is None else f"{device.rssi_dbm:.0f} dBm"
    port = "" if device.f_port is None else f" · FPort {device.f_port}"
    what = f"OMS ({device.layout})" if device.layout else "OMS" if device.looks_oms else "not OMS"
    return f"{device.dev_eui}{port} · {what} · {device.payload[:12].hex().upper()} · {rssi} · {ago} ago"


def _heard_label(meter: HeardMeter, now: float, words: Words | None = None) -> str:
    """Label of a heard meter in Home Assistant's language: "16180339 · QDS heat · -96 dBm · 5 s ago"."""
    words = words or Words()
    age = max(0, int(now - meter.last_heard))
    ago = words.label("seconds_ago", n=age) if age < 120 else words.label("minutes_ago", n=age // 60)
    rssi = "?" if meter.rssi is None else f"{meter.rssi:.0f} dBm"
    lock = f" · {words.label('encrypted')}" if meter.encrypted else ""
    return f"{meter.meter_id} · {meter.manufacturer} {words.medium(meter.medium)} · {rssi} · {ago}{lock}"


PRIMARY_SCAN_RANGE: range = range(MAX_PRIMARY + 1)
"""Primary addresses a bus scan pings (0 = unconfigured slaves, up to 250)."""
SCAN_RETRIES = 0
"""Extra tries per address in a primary scan's first pass; garbled answers get a second pass with a retry.

A full primary scan at 2400 Bd then takes about 85 s (a scan can be repeated; polling retries more).
"""
SEARCH_RETRIES = 1
"""Extra tries per select of a secondary search."""
SCAN_PROGRESS_STEP = 25
"""The progress form is redrawn every this many primary addresses (and for every slave found)."""
SCAN_TYPES = ["primary", "secondary"]


def _identity_from_secondary(secondary: str) -> FoundMeter:
    """The identity a 16-hex secondary address carries: ID, M (wire order), Ver, Med."""
    manufacturer = manufacturer_code(int.from_bytes(bytes.fromhex(secondary[8:12]), "little"))
    return FoundMeter(
        secondary,
        meter_id=secondary[:8],
        manufacturer=manufacturer,
        version=int(secondary[12:14], 16),
        device_type=int(secondary[14:16], 16),
    )


async def async_identify(master: MbusMaster, address: int | str) -> FoundMeter:
    """Read the slave at ``address`` to learn who it is; raises :class:`MbusError` when it cannot be read.

    A reply that does not decode (e.g. encrypted, no key yet) still names the meter in its header.
    """
    encrypted: bool | None
    try:
        reading = await master.read_any(address)
    except OmsError as err:
        if err.header is None or not err.header.address.id:
            raise
        identity = err.header.address
        encrypted = True if isinstance(err, DECRYPTION_ERRORS) else None
    else:
        identity = reading.telegram.header.address
        encrypted = reading.telegram.header.encrypted
    return FoundMeter(
        address,
        meter_id=identity.id.upper(),
        manufacturer=identity.manufacturer,
        device_type=identity.device_type,
        version=identity.version,
        encrypted=encrypted,
    )


async def async_scan_bus(
    master: MbusMaster,
    scan_type: str,
    *,
    on_found: Callable[[FoundMeter], None] | None = None,
    progress: ScanProgress | None = None,
) -> list[FoundMeter]:
    """Scan the bus (ping every primary address, or the secondary wildcard search); read each slave found.

    Each slave is read as soon as the scan finds it and handed to ``on_found``
    (the scan goes on after that read).
    """
    scan: AsyncIterator[int | str]
    if scan_type == "primary":
        scan = master.iter_scan_primary(PRIMARY_SCAN_RANGE, retries=SCAN_RETRIES, progress=progress)
    else:
        scan = master.iter_scan_secondary(retries=SEARCH_RETRIES, progress=progress)
    found: list[FoundMeter] = []
    async for address in scan:
        try:
            meter = await async_identify(master, address)
        except MbusPortError:
            raise
        except (MbusError, OmsError) as err:
            _LOGGER.warning("M-Bus slave %s answered the scan but cannot be read: %s", address, err)
            meter = _identity_from_secondary(address) if isinstance(address, str) else FoundMeter(address)
        found.append(meter)
        if on_found is not None:
            on_found(meter)
    return found


class BusScan:
    """A bus scan running in the background for the meter flow: what it found so far, how far it got."""

    def __init__(self, hass: HomeAssistant, master: MbusMaster, scan_type: str, words: Words) -> None:
        self.words = words
        self.found: list[FoundMeter] = []
        self.done = 0
        self.total = 0
        self.version = 0
        """Grows with each slave found and every :data:`SCAN_PROGRESS_STEP` addresses (redraws the form)."""
        self._changed = asyncio.Event()
        self.task: asyncio.Task[list[FoundMeter]] = hass.async_create_task(
            async_scan_bus(master, scan_type, on_found=self._on_found, progress=self._on_progress),
            f"oms mbus scan {display_device(master.device)}",
        )

    def _on_found(self, meter: FoundMeter) -> None:
        self.found.append(meter)
        self._bump()

    def _on_progress(self, done: int, total: int) -> None:
        self.done, self.total = done, total
        if done % SCAN_PROGRESS_STEP == 0:
            self._bump()

    def _bump(self) -> None:
        self.version += 1
        self._changed.set()

    async def async_wait_change(self, seen: int) -> None:
        """Return once :attr:`version` is past ``seen`` or the scan has ended."""
        while self.version == seen and not self.task.done():
            self._changed.clear()
            waiter = asyncio.ensure_future(self._changed.wait())
            try:
                await asyncio.wait((waiter, self.task), return_when=asyncio.FIRST_COMPLETED)
            finally:
                waiter.cancel()

    def placeholders(self) -> dict[str, str]:
        return {
            "done": str(self.done),
            "total": str(self.total) if self.total else "?",
            "found": "\n".join(f"- {_found_label(meter, self.words)}" for meter in self.found) or "-",
        }


def _found_label(meter: FoundMeter, words: Words | None = None) -> str:
    """Label of a found slave: "10000001 · KAM water · primary 1", or "primary 4 · cannot be read"."""
    words = words or Words()
    where = f"{words.label('primary' if isinstance(meter.address, int) else 'secondary')} {meter.address}"
    if meter.meter_id is None:
        return f"{where} · {words.label('unreadable')}"
    what = " ".join(part for part in (meter.manufacturer, words.medium(meter.medium)) if part)
    return f"{meter.meter_id} · {what} · {where}"


def check_key(raw: bytes, key: bytes) -> bool:
    """False when ``key`` does not decrypt ``raw`` (a telegram of the meter); True if it does or may."""
    try:
        Decoder(Keyring(default=key)).decode(raw)
    except DECRYPTION_ERRORS:
        return False
    except OmsError:
        return True
    return True


class MeterSubentryFlow(ConfigSubentryFlow):
    """Add a meter heard by the receiver (or typed by ID); reconfigure its name and key."""

    def __init__(self) -> None:
        self._meter_id = ""
        self._heard: HeardMeter | None = None
        self._scan_type = "primary"
        self._scan: BusScan | None = None
        self._found: FoundMeter | None = None
        self._extra: dict[str, Any] = {}
        """LoRaWAN / mioty: DevEUI, medium and manufacturer given in the ``lpwan`` step."""

    def _hub(self) -> OmsHub | None:
        entry = self._get_entry()
        if entry.state is ConfigEntryState.LOADED:
            hub: OmsHub = entry.runtime_data
            return hub
        return None

    def _master(self) -> MbusMaster | None:
        hub = self._hub()
        return hub.poller.master if hub is not None and hub.poller is not None else None

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Choose from the meters heard so far, strongest first, or type an 8-digit ID."""
        if self._get_entry().data[CONF_KIND] == KIND_MBUS:
            return await self.async_step_wired()
        if self._get_entry().data[CONF_KIND] == KIND_LPWAN:
            return await self.async_step_lpwan()
        errors: dict[str, str] = {}
        hub = self._hub()
        configured = configured_meter_ids(self.hass)
        if user_input is not None:
            text = user_input.get(CONF_METER_ID) or ""
            meter_id = _normalize_meter_id(text)
            if not text.strip():
                errors[CONF_METER_ID] = "meter_required"
            elif meter_id is None:
                errors[CONF_METER_ID] = "invalid_meter_id"
            elif meter_id in configured:
                return self.async_abort(reason="already_configured")
            else:
                self._meter_id = meter_id
                self._heard = hub.heard.get(meter_id) if hub else None
                return await self.async_step_meter()
        heard = (
            [m for m in hub.heard_meters(min_rssi=hub.min_rssi) if m.meter_id not in configured]
            if hub
            else []
        )
        now = time.time()
        words = await async_get_words(self.hass)
        options = [SelectOptionDict(value=m.meter_id, label=_heard_label(m, now, words)) for m in heard]
        schema = vol.Schema(
            {
                # Optional: the frontend pre-selects the first option of a required select (a neighbour's)
                vol.Optional(CONF_METER_ID): SelectSelector(
                    SelectSelectorConfig(options=options, custom_value=True, mode=SelectSelectorMode.DROPDOWN)
                )
            }
        )
        return self.async_show_form(
            step_id="user",
            data_schema=schema,
            errors=errors,
            description_placeholders={"count": str(len(heard))},
        )

    # -- LoRaWAN / mioty: DevEUI -> meter ------------------------------------------------

    async def async_step_lpwan(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Which meter a device (DevEUI) is; the devices heard so far are offered, OMS-looking first."""
        hub = self._hub()
        receiver = hub.receiver if hub is not None else None
        devices = list(receiver.devices.values()) if isinstance(receiver, LpwanReceiver) else []
        configured = configured_meter_ids(self.hass)
        errors: dict[str, str] = {}
        if user_input is not None:
            meter_id = _normalize_meter_id(user_input[CONF_METER_ID])
            eui = normalize_eui(user_input.get(CONF_DEV_EUI) or "")
            manufacturer = str(user_input.get(CONF_MANUFACTURER) or "").strip().upper()
            if meter_id is None:
                errors[CONF_METER_ID] = "invalid_meter_id"
            elif meter_id in configured:
                return self.async_abort(reason="already_configured")
            elif eui and not DEV_EUI.match(eui):
                errors[CONF_DEV_EUI] = "invalid_dev_eui"
            elif manufacturer and not MANUFACTURER.match(manufacturer):
                errors[CONF_MANUFACTURER] = "invalid_manufacturer"
            else:
                self._meter_id = meter_id
                self._heard = hub.heard.get(meter_id) if hub else None
                medium = user_input.get(CONF_DEVICE_TYPE)
                extra = {
                    CONF_DEV_EUI: eui or None,
                    CONF_DEVICE_TYPE: _DEVICE_CODES.get(medium) if medium else None,
                    CONF_MANUFACTURER: manufacturer or None,
                }
                self._extra = {key: value for key, value in extra.items() if value is not None}
                return await self.async_step_meter()
        now = time.time()
        devices.sort(key=lambda d: (not d.looks_oms, -d.last_seen))
        heard = [m for m in hub.heard_meters() if m.meter_id not in configured] if hub else []
        schema = vol.Schema(
            {
                vol.Optional(CONF_DEV_EUI): SelectSelector(
                    SelectSelectorConfig(
                        options=[
                            SelectOptionDict(value=d.dev_eui, label=_device_label(d, now)) for d in devices
                        ],
                        custom_value=True,
                        mode=SelectSelectorMode.DROPDOWN,
                    )
                ),
                vol.Required(CONF_METER_ID): SelectSelector(
                    SelectSelectorConfig(
                        options=[
                            SelectOptionDict(value=m.meter_id, label=_heard_label(m, now)) for m in heard
                        ],
                        custom_value=True,
                        mode=SelectSelectorMode.DROPDOWN,
                    )
                ),
                vol.Optional(CONF_DEVICE_TYPE): SelectSelector(
                    SelectSelectorConfig(
                        options=[
                            SelectOptionDict(value=name, label=name.replace("_", " ")) for name in MEDIA
                        ],
                        mode=SelectSelectorMode.DROPDOWN,
                    )
                ),
                vol.Optional(CONF_MANUFACTURER): TextSelector(),
            }
        )
        return self.async_show_form(
            step_id="lpwan",
            data_schema=self.add_suggested_values_to_schema(schema, user_input),
            errors=errors,
            description_placeholders={"count": str(len(devices))},
        )

    # -- wired master: scan or address ---------------------------------------------------

    async def async_step_wired(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Scan the bus, pick from the last scan, or give a primary/secondary address."""
        hub = self._hub()
        if hub is None:
            return self.async_abort(reason="receiver_not_loaded")
        options = ["scan", "address"]
        if self._unconfigured(hub.scan_found):
            options.insert(0, "found")
        return self.async_show_menu(step_id="wired", menu_options=options)

    def _unconfigured(self, found: list[FoundMeter]) -> list[FoundMeter]:
        configured = configured_meter_ids(self.hass)
        return [m for m in found if m.meter_id is not None and m.meter_id not in configured]

    async def async_step_scan(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Primary scan (ping 0–250) or secondary search (wildcard select)."""
        if user_input is not None:
            self._scan_type = user_input["scan_type"]
            return await self.async_step_scan_progress()
        schema = vol.Schema(
            {
                vol.Required("scan_type", default="primary"): SelectSelector(
                    SelectSelectorConfig(
                        options=SCAN_TYPES, translation_key="scan_type", mode=SelectSelectorMode.LIST
                    )
                )
            }
        )
        return self.async_show_form(step_id="scan", data_schema=schema)

    async def async_step_scan_progress(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """The scan runs in the background; the form lists each slave as it is found (~85 s at 2400 Bd)."""
        master = self._master()
        if master is None:
            return self.async_abort(reason="receiver_not_loaded")
        scan = self._scan
        if scan is None:
            scan = self._scan = BusScan(self.hass, master, self._scan_type, await async_get_words(self.hass))
        if not scan.task.done():
            # Redrawn whenever a slave was found or the scan moved on: a new progress task each time.
            waiter = self.hass.async_create_task(
                scan.async_wait_change(scan.version), "oms mbus scan progress"
            )
            return self.async_show_progress(
                step_id="scan_progress",
                progress_action="scan",
                progress_task=waiter,
                description_placeholders=scan.placeholders(),
            )
        task, self._scan = scan.task, None
        try:
            found = task.result()
        except MbusError as err:
            _LOGGER.warning("M-Bus scan on %s failed: %s", display_device(master.device), err)
            return self.async_show_progress_done(next_step_id="scan_failed")
        hub = self._hub()
        assert hub is not None
        hub.scan_found = found
        return self.async_show_progress_done(next_step_id="found")

    @callback
    def async_remove(self) -> None:
        """The flow was closed: stop a scan that is still running."""
        if self._scan is not None and not self._scan.task.done():
            self._scan.task.cancel()

    async def async_step_scan_failed(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        return self.async_abort(reason="scan_failed")

    async def async_step_found(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """The meters of the last scan that are not configured yet."""
        hub = self._hub()
        if hub is None:
            return self.async_abort(reason="receiver_not_loaded")
        candidates = self._unconfigured(hub.scan_found)
        unreadable = [str(m.address) for m in hub.scan_found if m.meter_id is None]
        if not candidates:
            return self.async_abort(
                reason="no_meters_found",
                description_placeholders={
                    "count": str(len(hub.scan_found)),
                    "unreadable": ", ".join(unreadable) or "-",
                },
            )
        if user_input is not None:
            self._found = next(m for m in candidates if str(m.address) == user_input[CONF_ADDRESS])
            return await self.async_step_wired_meter()
        words = await async_get_words(self.hass)
        options = [SelectOptionDict(value=str(m.address), label=_found_label(m, words)) for m in candidates]
        schema = vol.Schema(
            {
                vol.Required(CONF_ADDRESS): SelectSelector(
                    SelectSelectorConfig(options=options, mode=SelectSelectorMode.DROPDOWN)
                )
            }
        )
        return self.async_show_form(
            step_id="found",
            data_schema=schema,
            description_placeholders={
                "count": str(len(candidates)),
                "unreadable": ", ".join(unreadable) or "-",
            },
        )

    async def async_step_address(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """A primary address (0–250) or a 16-hex secondary address; the meter is read before it is added."""
        master = self._master()
        if master is None:
            return self.async_abort(reason="receiver_not_loaded")
        errors: dict[str, str] = {}
        if user_input is not None:
            try:
                address = parse_address(user_input[CONF_ADDRESS])
            except ValueError:
                errors[CONF_ADDRESS] = "invalid_address"
            else:
                try:
                    found = await async_identify(master, address)
                except MbusTimeout:
                    errors["base"] = "no_answer"
                except MbusCollision:
                    errors["base"] = "collision"
                except MbusPortError:
                    errors["base"] = "bus_error"
                except (MbusError, OmsError) as err:
                    _LOGGER.warning("M-Bus slave %s cannot be read: %s", address, err)
                    errors["base"] = "bad_reply"
                else:
                    if found.meter_id in configured_meter_ids(self.hass):
                        return self.async_abort(reason="already_configured")
                    self._found = found
                    return await self.async_step_wired_meter()
        schema = vol.Schema({vol.Required(CONF_ADDRESS): TextSelector()})
        return self.async_show_form(
            step_id="address",
            data_schema=self.add_suggested_values_to_schema(schema, user_input),
            errors=errors,
        )

    async def async_step_wired_meter(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Name the wired meter (and give its key if it encrypts)."""
        found = self._found
        assert found is not None
        assert found.meter_id is not None
        errors: dict[str, str] = {}
        words = await async_get_words(self.hass)
        default_name = meter_title(found.manufacturer, words.medium(found.medium), found.meter_id)
        if user_input is not None:
            key, error = self._validate_key(user_input.get(CONF_KEY, ""), None, required=False)
            if error:
                errors[CONF_KEY] = error
            else:
                data: dict[str, Any] = {
                    CONF_METER_ID: found.meter_id,
                    CONF_ADDRESS: found.address,
                    CONF_MANUFACTURER: found.manufacturer,
                    CONF_DEVICE_TYPE: found.device_type,
                    CONF_VERSION: found.version,
                }
                if key is not None:
                    data[CONF_KEY] = key.hex()
                return self.async_create_entry(
                    title=user_input.get(CONF_NAME) or default_name, data=data, unique_id=found.meter_id
                )
        fields: dict[vol.Marker, Any] = {vol.Optional(CONF_NAME, default=default_name): TextSelector()}
        plain = found.encrypted is False
        if not plain:  # its reply was read in plaintext: no key needed
            fields[vol.Optional(CONF_KEY)] = TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD))
        return self.async_show_form(
            step_id="wired_meter_unencrypted" if plain else "wired_meter",
            data_schema=self.add_suggested_values_to_schema(vol.Schema(fields), user_input),
            errors=errors,
            description_placeholders={"meter_id": found.meter_id, "address": str(found.address)},
        )

    async def async_step_wired_meter_unencrypted(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """:meth:`async_step_wired_meter` for a meter whose reply was not encrypted (no key field)."""
        return await self.async_step_wired_meter(user_input)

    # -- radio and wired: name and key ----------------------------------------------------

    async def async_step_meter(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Name the meter; an encrypted meter needs its AES key, checked against its last telegram."""
        heard = self._heard
        need_key = heard is not None and heard.encrypted
        errors: dict[str, str] = {}
        code = self._extra.get(CONF_DEVICE_TYPE)
        words = await async_get_words(self.hass)
        default_name = meter_title(
            heard.manufacturer if heard else self._extra.get(CONF_MANUFACTURER),
            words.medium(heard.medium if heard else (None if code is None else device_type_name(code))),
            self._meter_id,
        )
        if user_input is not None:
            key, error = self._validate_key(user_input.get(CONF_KEY, ""), heard, required=need_key)
            if error:
                errors[CONF_KEY] = error
            else:
                data: dict[str, Any] = {CONF_METER_ID: self._meter_id}
                if heard is not None:
                    data |= {
                        CONF_MANUFACTURER: heard.manufacturer,
                        CONF_DEVICE_TYPE: heard.device_type,
                        CONF_VERSION: heard.version,
                    }
                if key is not None:
                    data[CONF_KEY] = key.hex()
                data |= self._extra
                return self.async_create_entry(
                    title=user_input.get(CONF_NAME) or default_name, data=data, unique_id=self._meter_id
                )
        fields: dict[vol.Marker, Any] = {vol.Optional(CONF_NAME, default=default_name): TextSelector()}
        plain = heard is not None and not heard.encrypted
        if not plain:  # a meter heard sending plaintext needs no key: the field is left out
            key_field = vol.Required(CONF_KEY) if need_key else vol.Optional(CONF_KEY)
            fields[key_field] = TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD))
        return self.async_show_form(
            step_id="meter_unencrypted" if plain else "meter",
            # after an error the form keeps what was typed, the key included (the user can see a typo)
            data_schema=self.add_suggested_values_to_schema(vol.Schema(fields), user_input),
            errors=errors,
            description_placeholders={"meter_id": self._meter_id},
        )

    async def async_step_meter_unencrypted(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """:meth:`async_step_meter` for a meter heard sending unencrypted telegrams (no key field)."""
        return await self.async_step_meter(user_input)

    async def async_step_reconfigure(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Rename a meter or give it a new key (left empty: the key stays as it is)."""
        entry = self._get_entry()
        subentry = self._get_reconfigure_subentry()
        meter_id: str = subentry.data[CONF_METER_ID]
        hub = self._hub()
        heard = hub.heard.get(meter_id) if hub else None
        errors: dict[str, str] = {}
        if user_input is not None:
            key, error = self._validate_key(user_input.get(CONF_KEY, ""), heard, required=False)
            if error:
                errors[CONF_KEY] = error
            else:
                updates: dict[str, Any] = {CONF_KEY: key.hex()} if key is not None else {}
                if CONF_MAX_RATE in user_input:
                    updates[CONF_MAX_RATE] = user_input[CONF_MAX_RATE] or None
                data = dict(subentry.data) | updates
                if user_input.get(REMOVE_KEY) and key is None:
                    data.pop(CONF_KEY, None)
                return self.async_update_and_abort(
                    entry, subentry, title=user_input.get(CONF_NAME) or subentry.title, data=data
                )
        key_fields: dict[vol.Marker, Any] = {}
        if subentry.data.get(CONF_KEY):
            key_fields[vol.Optional(REMOVE_KEY, default=False)] = BooleanSelector()
        schema = vol.Schema(
            {
                vol.Optional(CONF_NAME, default=subentry.title): TextSelector(),
                vol.Optional(CONF_KEY): TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD)),
                **key_fields,
                vol.Optional(
                    CONF_MAX_RATE, description={"suggested_value": subentry.data.get(CONF_MAX_RATE)}
                ): NumberSelector(NumberSelectorConfig(min=0, step="any", mode=NumberSelectorMode.BOX)),
            }
        )
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(schema, user_input),
            errors=errors,
            description_placeholders={"meter_id": meter_id},
        )

    @staticmethod
    def _validate_key(
        text: str, heard: HeardMeter | None, *, required: bool
    ) -> tuple[bytes | None, str | None]:
        """(key or None, error key or None)."""
        if not text.strip():
            return None, "key_required" if required else None
        try:
            key = parse_key(text)
        except ValueError:
            return None, "invalid_key"
        if heard is not None and not check_key(heard.raw, key):
            return None, "wrong_key"
        return key, None
