"""The meter flow (a subentry of a receiver entry): add a meter, rename it, change its key.

Radio: pick a heard meter (strongest first) or type its ID, then name it and give its AES key,
checked against its last telegram (:func:`.probe.validate_key`). LoRaWAN / mioty: map a device
(DevEUI) to a meter. Wired master: the steps of :class:`~.flow_wired.WiredMeterFlow`.
"""

from __future__ import annotations

from collections.abc import Mapping
import re
import time
from typing import Any

from homeassistant.config_entries import ConfigSubentry, SubentryFlowResult
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
)
import voluptuous as vol

from .const import (
    CONF_DEV_EUI,
    CONF_DEVICE_TYPE,
    CONF_KEY,
    CONF_KIND,
    CONF_MANUFACTURER,
    CONF_MAX_RATE,
    CONF_METER_ID,
    CONF_NAME,
    CONF_VERSION,
    KIND_LPWAN,
    KIND_MBUS,
)
from .flow_fields import name_and_key, pick_or_type, secret
from .flow_wired import WiredMeterFlow
from .hub import configured_meter_ids
from .lpwan_mqtt import LpwanDevice, LpwanReceiver
from .models import HeardMeter, meter_title
from .names import Words, async_get_words
from .omslib.devices import DEVICE_TYPES, device_type_name
from .omslib.lpwan_uplink import normalize_eui
from .probe import validate_key

METER_ID = re.compile(r"^[0-9A-F]{8}$")
REMOVE_KEY = "remove_key"
"""Reconfigure a meter: forget its AES key (e.g. the meter was set to send unencrypted)."""


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


def _dev_eui_error(eui: str, subentries: Mapping[str, ConfigSubentry], own: str | None = None) -> str | None:
    """Why ``eui`` (normalized, may be empty) cannot map a meter of this entry, or None.

    A DevEUI maps one meter: another meter subentry of the entry (not ``own``) may not have it.
    """
    if not eui:
        return None
    if not DEV_EUI.fullmatch(eui):
        return "invalid_dev_eui"
    if any(
        normalize_eui(sub.data.get(CONF_DEV_EUI) or "") == eui
        for sid, sub in subentries.items()
        if sid != own
    ):
        return "dev_eui_taken"
    return None


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


class MeterSubentryFlow(WiredMeterFlow):
    """Add a meter heard by the receiver (or typed by ID); reconfigure its name and key."""

    def __init__(self) -> None:
        super().__init__()
        self._meter_id = ""
        self._heard: HeardMeter | None = None
        self._extra: dict[str, Any] = {}
        """LoRaWAN / mioty: DevEUI, medium and manufacturer given in the ``lpwan`` step."""

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
                vol.Optional(CONF_METER_ID): pick_or_type(options)
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
            elif dev_eui_error := _dev_eui_error(eui, self._get_entry().subentries):
                errors[CONF_DEV_EUI] = dev_eui_error
            elif manufacturer and not MANUFACTURER.fullmatch(manufacturer):
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
                vol.Optional(CONF_DEV_EUI): pick_or_type(
                    [SelectOptionDict(value=d.dev_eui, label=_device_label(d, now)) for d in devices]
                ),
                vol.Required(CONF_METER_ID): pick_or_type(
                    [SelectOptionDict(value=m.meter_id, label=_heard_label(m, now)) for m in heard]
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

    # -- radio and LPWAN: name and key ----------------------------------------------------

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
            key, error = validate_key(user_input.get(CONF_KEY, ""), heard, required=need_key)
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
        plain = heard is not None and not heard.encrypted  # then it needs no key: the field is left out
        key_field = None if plain else vol.Required(CONF_KEY) if need_key else vol.Optional(CONF_KEY)
        schema = name_and_key(default_name, key_field)
        return self.async_show_form(
            step_id="meter_unencrypted" if plain else "meter",
            # after an error the form keeps what was typed, the key included (the user can see a typo)
            data_schema=self.add_suggested_values_to_schema(schema, user_input),
            errors=errors,
            description_placeholders={"meter_id": self._meter_id},
        )

    async def async_step_meter_unencrypted(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """:meth:`async_step_meter` for a meter heard sending unencrypted telegrams (no key field)."""
        return await self.async_step_meter(user_input)

    async def async_step_reconfigure(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Rename a meter or give it a new key (left empty: the key stays as it is); a LoRaWAN / mioty
        meter's form (step ``reconfigure_lpwan``) also has its DevEUI."""
        entry = self._get_entry()
        subentry = self._get_reconfigure_subentry()
        meter_id: str = subentry.data[CONF_METER_ID]
        hub = self._hub()
        heard = hub.heard.get(meter_id) if hub else None
        lpwan = entry.data[CONF_KIND] == KIND_LPWAN
        errors: dict[str, str] = {}
        if user_input is not None:
            key, error = validate_key(user_input.get(CONF_KEY, ""), heard, required=False)
            eui = normalize_eui(user_input.get(CONF_DEV_EUI) or "") if lpwan else ""
            if error:
                errors[CONF_KEY] = error
            elif dev_eui_error := _dev_eui_error(eui, entry.subentries, subentry.subentry_id):
                errors[CONF_DEV_EUI] = dev_eui_error
            else:
                updates: dict[str, Any] = {CONF_KEY: key.hex()} if key is not None else {}
                if CONF_MAX_RATE in user_input:
                    updates[CONF_MAX_RATE] = user_input[CONF_MAX_RATE] or None
                data = dict(subentry.data) | updates
                if user_input.get(REMOVE_KEY) and key is None:
                    data.pop(CONF_KEY, None)
                if lpwan:  # empty: the meter is no longer mapped (a meter that names itself needs none)
                    data.pop(CONF_DEV_EUI, None)
                    if eui:
                        data[CONF_DEV_EUI] = eui
                return self.async_update_and_abort(
                    entry, subentry, title=user_input.get(CONF_NAME) or subentry.title, data=data
                )
        more_fields: dict[vol.Marker, Any] = {}
        if subentry.data.get(CONF_KEY):
            more_fields[vol.Optional(REMOVE_KEY, default=False)] = BooleanSelector()
        if lpwan:
            more_fields[
                vol.Optional(CONF_DEV_EUI, description={"suggested_value": subentry.data.get(CONF_DEV_EUI)})
            ] = TextSelector()
        schema = vol.Schema(
            {
                vol.Optional(CONF_NAME, default=subentry.title): TextSelector(),
                vol.Optional(CONF_KEY): secret(),
                **more_fields,
                vol.Optional(
                    CONF_MAX_RATE, description={"suggested_value": subentry.data.get(CONF_MAX_RATE)}
                ): NumberSelector(NumberSelectorConfig(min=0, step="any", mode=NumberSelectorMode.BOX)),
            }
        )
        return self.async_show_form(
            step_id="reconfigure_lpwan" if lpwan else "reconfigure",
            data_schema=self.add_suggested_values_to_schema(schema, user_input),
            errors=errors,
            description_placeholders={"meter_id": meter_id},
        )

    async def async_step_reconfigure_lpwan(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """:meth:`async_step_reconfigure` for a meter of a LoRaWAN / mioty receiver (with its DevEUI)."""
        return await self.async_step_reconfigure(user_input)
