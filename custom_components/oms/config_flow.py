"""Config flow: a receiver per entry (user, USB discovery, reconfigure), meters as subentries, options."""

from __future__ import annotations

import logging
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
    CONF_AUTO_ADD,
    CONF_AVAILABLE_HOURS,
    CONF_DEVICE,
    CONF_DEVICE_TYPE,
    CONF_KEY,
    CONF_KIND,
    CONF_LINK_MODE,
    CONF_MANUFACTURER,
    CONF_METER_ID,
    CONF_MIN_RSSI,
    CONF_NAME,
    CONF_VERSION,
    DEFAULT_AUTO_ADD,
    DEFAULT_AVAILABLE_HOURS,
    DEFAULT_MIN_RSSI,
    DOMAIN,
    KIND_AUTO,
    SUBENTRY_METER,
)
from .hub import HeardMeter, OmsHub, configured_meter_ids, meter_title
from .omslib.decoder import Decoder
from .omslib.errors import DECRYPTION_ERRORS, OmsError
from .omslib.keyring import Keyring, parse_key
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

_LOGGER = logging.getLogger(__name__)

METER_ID = re.compile(r"^[0-9A-F]{8}$")
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


async def _async_try_receiver(device: str, kind: str, link_mode: str) -> tuple[str, ReceiverInfo] | str:
    """(kind, info) when the receiver works, else a translated error key."""
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
    kinds = [KIND_AUTO, *sorted(RECEIVERS)]
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


def _link_mode_selector() -> SelectSelector:
    return SelectSelector(
        SelectSelectorConfig(
            options=[SelectOptionDict(value=mode, label=LINK_MODE_LABELS[mode]) for mode in LINK_MODES],
            mode=SelectSelectorMode.DROPDOWN,
        )
    )


def _unique_id(info: ReceiverInfo, device: str) -> str:
    return info.serial or device


def _title(info: ReceiverInfo, kind: str, device: str) -> str:
    return f"{info.model or kind} ({display_device(device)})"


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
        return {SUBENTRY_METER: MeterSubentryFlow}

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
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
                    title=_title(info, kind, device),
                    data={CONF_DEVICE: device, CONF_KIND: kind, CONF_LINK_MODE: link_mode},
                )
        ports = await _async_port_options(self.hass)
        return self.async_show_form(
            step_id="user",
            data_schema=self.add_suggested_values_to_schema(_receiver_schema(ports), user_input),
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
                    title=_title(info, kind, self._device),
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
        """Change port, receiver type or link mode of a receiver; tested before it is saved."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            device = await _async_normalize_device(self.hass, user_input[CONF_DEVICE])
            was_loaded = entry.state is ConfigEntryState.LOADED
            if was_loaded:
                # The running receiver holds the port: release it for the test.
                await self.hass.config_entries.async_unload(entry.entry_id)
            result = await _async_try_receiver(device, user_input[CONF_KIND], user_input[CONF_LINK_MODE])
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
                    entry,
                    unique_id=unique_id,
                    data_updates={
                        CONF_DEVICE: device,
                        CONF_KIND: kind,
                        CONF_LINK_MODE: user_input[CONF_LINK_MODE],
                    },
                )
        ports = await _async_port_options(self.hass)
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(
                _receiver_schema(ports), user_input if user_input is not None else dict(entry.data)
            ),
            errors=errors,
        )


class OmsOptionsFlow(OptionsFlow):
    """Automatic add, the signal floor of the heard list, how long a silent meter stays available."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        if user_input is not None:
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
        return self.async_show_form(step_id="init", data_schema=schema)


def _normalize_meter_id(text: str) -> str | None:
    meter_id = "".join(text.split()).upper()
    return meter_id if METER_ID.match(meter_id) else None


def _heard_label(meter: HeardMeter, now: float) -> str:
    age = max(0, int(now - meter.last_heard))
    ago = f"{age} s" if age < 120 else f"{age // 60} min"
    rssi = "?" if meter.rssi is None else f"{meter.rssi:.0f} dBm"
    lock = " · encrypted" if meter.encrypted else ""
    medium = meter.medium.replace("_", " ")
    return f"{meter.meter_id} · {meter.manufacturer} {medium} · {rssi} · {ago} ago{lock}"


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

    def _hub(self) -> OmsHub | None:
        entry = self._get_entry()
        if entry.state is ConfigEntryState.LOADED:
            hub: OmsHub = entry.runtime_data
            return hub
        return None

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Choose from the meters heard so far, strongest first, or type an 8-digit ID."""
        errors: dict[str, str] = {}
        hub = self._hub()
        configured = configured_meter_ids(self.hass)
        if user_input is not None:
            meter_id = _normalize_meter_id(user_input[CONF_METER_ID])
            if meter_id is None:
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
        options = [SelectOptionDict(value=m.meter_id, label=_heard_label(m, now)) for m in heard]
        schema = vol.Schema(
            {
                vol.Required(CONF_METER_ID): SelectSelector(
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

    async def async_step_meter(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Name the meter; an encrypted meter needs its AES key, checked against its last telegram."""
        heard = self._heard
        need_key = heard is not None and heard.encrypted
        errors: dict[str, str] = {}
        default_name = meter_title(
            heard.manufacturer if heard else None, heard.medium if heard else None, self._meter_id
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
                return self.async_create_entry(
                    title=user_input.get(CONF_NAME) or default_name, data=data, unique_id=self._meter_id
                )
        key_field = vol.Required(CONF_KEY) if need_key else vol.Optional(CONF_KEY)
        schema = vol.Schema(
            {
                vol.Optional(CONF_NAME, default=default_name): TextSelector(),
                key_field: TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD)),
            }
        )
        return self.async_show_form(
            step_id="meter",
            data_schema=schema,
            errors=errors,
            description_placeholders={"meter_id": self._meter_id},
        )

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
                updates = {CONF_KEY: key.hex()} if key is not None else {}
                return self.async_update_and_abort(
                    entry, subentry, title=user_input.get(CONF_NAME) or subentry.title, data_updates=updates
                )
        schema = vol.Schema(
            {
                vol.Optional(CONF_NAME, default=subentry.title): TextSelector(),
                vol.Optional(CONF_KEY): TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD)),
            }
        )
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=schema,
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
