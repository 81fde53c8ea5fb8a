"""Config flow: a receiver per entry (user, USB discovery, reconfigure), meters as subentries, options.

A receiver is a radio receiver (stick, SDR, network port, capture file) or a
wired M-Bus master; meters of a wired master are found by a bus scan or added by
their primary or secondary address.

Beside it: :mod:`.flow_receiver` (the receiver forms and titles), :mod:`.flow_meter` (the meter
subentry flow), :mod:`.flow_wired` (its wired-master steps: bus scan, address), :mod:`.flow_keys`
(key-file import) and :mod:`.probe` (trying a port, a bus or a key before anything is saved).
"""

from __future__ import annotations

from typing import Any

from homeassistant.components import usb
from homeassistant.config_entries import (
    SOURCE_RECONFIGURE,
    ConfigEntry,
    ConfigFlow,
    ConfigFlowResult,
    ConfigSubentryFlow,
    OptionsFlow,
)
from homeassistant.core import callback
from homeassistant.helpers.selector import (
    BooleanSelector,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
)
from homeassistant.helpers.service_info.usb import UsbServiceInfo
import voluptuous as vol

from .const import (
    CONF_AUTO_ADD,
    CONF_AVAILABLE_HOURS,
    CONF_BAUDRATE,
    CONF_DEVICE,
    CONF_KIND,
    CONF_LINK_MODE,
    CONF_LPWAN_NETWORK,
    CONF_MAX_FAILURES,
    CONF_MIN_RSSI,
    CONF_MQTT_TOPIC,
    CONF_SCAN_INTERVAL,
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
from .flow_keys import SUBENTRY_KEY_IMPORT, KeyImportSubentryFlow
from .flow_meter import MeterSubentryFlow
from .flow_receiver import (
    CONF_PROGRAM,
    asks_sdr_settings,
    async_normalize_device,
    async_port_options,
    async_receiver_title,
    link_mode_selector,
    mbus_schema,
    mqtt_configured,
    mqtt_schema,
    mqtt_topic,
    receiver_schema,
    receiver_unique_id,
    sdr_schema,
    sdr_settings,
    sdr_suggestions,
)
from .hub import OmsHub, loaded_hub
from .omslib.receivers import LINK_MODES, ReceiverError, ReceiverInfo
from .omslib.receivers.lines import SdrSettings
from .probe import async_try_mbus, async_try_receiver, sdr_receiver


class OmsConfigFlow(ConfigFlow, domain=DOMAIN):
    """A receiver: USB stick, SDR pipeline, network serial port or capture file."""

    VERSION = 1
    MINOR_VERSION = 1

    def __init__(self) -> None:
        self._device = ""
        self._usb_name = ""
        self._sdr: tuple[str, str] = ("", "")
        """The ``sdr`` step's receiver kind and link mode (chosen in the step before it)."""

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
        if not mqtt_configured(self.hass):
            return self.async_abort(reason="mqtt_not_configured")
        errors: dict[str, str] = {}
        if user_input is not None:
            topic = mqtt_topic(user_input[CONF_DEVICE])
            if topic is None:
                errors[CONF_DEVICE] = "invalid_topic"
            else:
                await self.async_set_unique_id(f"{KIND_MQTT}:{topic}")
                self._abort_if_unique_id_configured()
                return self._create_mqtt_entry(topic)
        return self.async_show_form(
            step_id="mqtt_receivers",
            data_schema=self.add_suggested_values_to_schema(mqtt_schema(DEFAULT_MQTT_TOPIC), user_input),
            errors=errors,
        )

    async def async_step_lpwan(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """A LoRaWAN / mioty network server's uplinks, through Home Assistant's MQTT integration."""
        if not mqtt_configured(self.hass):
            return self.async_abort(reason="mqtt_not_configured")
        errors: dict[str, str] = {}
        if user_input is not None:
            network = user_input[CONF_LPWAN_NETWORK]
            topic = mqtt_topic(user_input.get(CONF_DEVICE) or LPWAN_TOPICS[network])
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
            device = await async_normalize_device(self.hass, user_input[CONF_DEVICE])
            kind, link_mode = user_input[CONF_KIND], user_input[CONF_LINK_MODE]
            if asks_sdr_settings(sdr_receiver(kind) is not None, device):
                self._sdr = (kind, link_mode)
                return await self.async_step_sdr()
            result = await self._async_create_receiver(device, kind, link_mode)
            if isinstance(result, str):
                errors["base"] = result
            else:
                return result
        ports = await async_port_options(self.hass)
        return self.async_show_form(
            step_id="receiver",
            data_schema=self.add_suggested_values_to_schema(receiver_schema(ports), user_input),
            errors=errors,
        )

    async def _async_create_receiver(self, device: str, kind: str, link_mode: str) -> ConfigFlowResult | str:
        """The entry of a receiver that works, or a translated error key."""
        self._async_abort_entries_match({CONF_DEVICE: device})
        result = await async_try_receiver(device, kind, link_mode)
        if isinstance(result, str):
            return result
        kind, info = result
        return await self._async_receiver_entry(device, kind, info, {CONF_LINK_MODE: link_mode})

    async def _async_receiver_entry(
        self, device: str, kind: str, info: ReceiverInfo, data: dict[str, Any], *, update_device: bool = False
    ) -> ConfigFlowResult:
        """The entry of a receiver that answered.

        The flow aborts when the receiver is configured already (``update_device``: after moving that
        entry to ``device``, as for a stick plugged in again under another path).
        """
        await self.async_set_unique_id(receiver_unique_id(info, device))
        self._abort_if_unique_id_configured(updates={CONF_DEVICE: device} if update_device else None)
        return self.async_create_entry(
            title=await async_receiver_title(self.hass, info, kind, device),
            data={CONF_DEVICE: device, CONF_KIND: kind, **data},
        )

    async def async_step_sdr(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """rtl_wmbus / rtl_433 on this machine: program, frequency, gain and dongle as separate fields.

        They become a fixed argument list (:meth:`~.omslib.receivers.lines.LineReceiver.sdr_stages`);
        no shell command is taken from the user interface.
        """
        kind, link_mode = self._sdr
        receiver = sdr_receiver(kind)
        assert receiver is not None  # the step before checked the kind
        programs = receiver.sdr_programs
        errors: dict[str, str] = {}
        if user_input is not None:
            settings = sdr_settings(user_input)
            try:
                SdrSettings(program=settings.program).check(programs)
                settings.check(programs)
            except ReceiverError:
                errors[CONF_PROGRAM] = "invalid_program"
            else:
                device = settings.device()
                if self.source == SOURCE_RECONFIGURE:
                    result = await self._async_reconfigure(device, {CONF_LINK_MODE: link_mode}, kind)
                else:
                    result = await self._async_create_receiver(device, kind, link_mode)
                if not isinstance(result, str):
                    return result
                errors["base"] = result
        if user_input is None:
            current = (
                self._get_reconfigure_entry().data[CONF_DEVICE] if self.source == SOURCE_RECONFIGURE else ""
            )
            user_input = sdr_suggestions(current, programs)
        return self.async_show_form(
            step_id="sdr",
            data_schema=self.add_suggested_values_to_schema(sdr_schema(min(programs)), user_input),
            errors=errors,
            description_placeholders={"program": ", ".join(sorted(programs))},
        )

    async def async_step_mbus(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """A wired M-Bus master: level converter port or gateway URL and the bus's baud rate."""
        errors: dict[str, str] = {}
        if user_input is not None:
            device = await async_normalize_device(self.hass, user_input[CONF_DEVICE])
            baudrate = int(user_input[CONF_BAUDRATE])
            self._async_abort_entries_match({CONF_DEVICE: device})
            result = await async_try_mbus(device, baudrate)
            if isinstance(result, str):
                errors["base"] = result
            else:
                kind, info = result
                return await self._async_receiver_entry(device, kind, info, {CONF_BAUDRATE: baudrate})
        ports = await async_port_options(self.hass)
        return self.async_show_form(
            step_id="mbus",
            data_schema=self.add_suggested_values_to_schema(mbus_schema(ports), user_input),
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
            result = await async_try_receiver(self._device, KIND_AUTO, link_mode)
            if isinstance(result, str):
                errors["base"] = result
            else:
                kind, info = result
                return await self._async_receiver_entry(
                    self._device, kind, info, {CONF_LINK_MODE: link_mode}, update_device=True
                )
        return self.async_show_form(
            step_id="usb_confirm",
            data_schema=vol.Schema(
                {vol.Required(CONF_LINK_MODE, default=LINK_MODES[0]): link_mode_selector()}
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
            device = await async_normalize_device(self.hass, user_input[CONF_DEVICE])
            if wired:
                result = await self._async_reconfigure(
                    device, {CONF_BAUDRATE: int(user_input[CONF_BAUDRATE])}
                )
            elif asks_sdr_settings(sdr_receiver(user_input[CONF_KIND]) is not None, device):
                self._sdr = (user_input[CONF_KIND], user_input[CONF_LINK_MODE])
                return await self.async_step_sdr()
            else:
                updates = {CONF_LINK_MODE: user_input[CONF_LINK_MODE]}
                result = await self._async_reconfigure(device, updates, user_input[CONF_KIND])
            if not isinstance(result, str):
                return result
            errors["base"] = result
        ports = await async_port_options(self.hass)
        if user_input is None:
            user_input = dict(entry.data)
            if wired:
                user_input[CONF_BAUDRATE] = str(entry.data.get(CONF_BAUDRATE, DEFAULT_BAUDRATE))
        schema = mbus_schema(ports) if wired else receiver_schema(ports)
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(schema, user_input),
            errors=errors,
        )

    async def _async_reconfigure(
        self, device: str, updates: dict[str, Any], kind: str | None = None
    ) -> ConfigFlowResult | str:
        """Test the new settings (``kind`` None: a wired master) and save them, or a translated error key.

        The running receiver holds the port: the hub lets it go for the test and takes it again
        when the settings are not taken (the entry stays loaded).
        """
        entry = self._get_reconfigure_entry()
        hub = loaded_hub(entry)
        if hub is not None:
            await hub.async_release()
        if kind is None:
            result = await async_try_mbus(device, updates[CONF_BAUDRATE])
        else:
            result = await async_try_receiver(device, kind, updates[CONF_LINK_MODE])
        if isinstance(result, str):
            await self._async_resume(hub)
            return result
        kind, info = result
        unique_id = receiver_unique_id(info, device)
        for other in self._async_current_entries(include_ignore=False):
            if other.entry_id != entry.entry_id and other.unique_id == unique_id:
                await self._async_resume(hub)
                return self.async_abort(reason="already_configured")
        return self.async_update_reload_and_abort(
            entry, unique_id=unique_id, data_updates=updates | {CONF_DEVICE: device, CONF_KIND: kind}
        )

    async def _async_resume(self, hub: OmsHub | None) -> None:
        """The receiver runs on as it was; reloaded when it cannot start again."""
        if hub is not None and not await hub.async_resume():
            self.hass.config_entries.async_schedule_reload(hub.entry.entry_id)

    async def async_step_reconfigure_mqtt(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Change the topic filter of an MQTT receiver entry."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            topic = mqtt_topic(user_input[CONF_DEVICE])
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
            data_schema=mqtt_schema(entry.data[CONF_DEVICE]),
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
        extra_mqtt = self.config_entry.data[CONF_KIND] not in (KIND_MQTT, KIND_LPWAN) and mqtt_configured(
            self.hass
        )
        if user_input is not None:
            text = user_input.pop(CONF_MQTT_TOPIC, "")
            if text.strip():
                topic = mqtt_topic(text)
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
