"""The receiver side of the config flow: ports, forms and titles of a receiver entry.

:class:`~.config_flow.OmsConfigFlow` adds a receiver (radio, MQTT, LPWAN, wired master) and
reconfigures it; these helpers list the serial ports, build its forms and name it.
Trying the hardware is :mod:`.probe`'s.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from homeassistant.components import usb
from homeassistant.core import HomeAssistant
from homeassistant.helpers.selector import (
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
    CONF_BAUDRATE,
    CONF_DEVICE,
    CONF_KIND,
    CONF_LINK_MODE,
    DEFAULT_BAUDRATE,
    KIND_AUTO,
    KIND_MBUS,
)
from .demo import CAPTURE as DEMO_CAPTURE
from .flow_fields import pick_or_type
from .names import Words, async_get_words
from .omslib.receivers import LINK_MODES, RECEIVERS, ReceiverError, ReceiverInfo
from .omslib.receivers.base import LINK_MODE_LABELS, display_device
from .omslib.receivers.lines import SDR_DEVICES, SDR_FREQUENCIES, SDR_GAINS, SdrSettings, parse_sdr
from .omslib.wired import BAUD_RATES

_LOGGER = logging.getLogger(__name__)


async def async_port_options(hass: HomeAssistant) -> list[SelectOptionDict]:
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


def receiver_schema(ports: list[SelectOptionDict]) -> vol.Schema:
    kinds = [KIND_AUTO, *sorted(kind for kind in RECEIVERS if kind != KIND_MBUS)]
    return vol.Schema(
        {
            vol.Required(CONF_DEVICE): pick_or_type(ports),
            vol.Required(CONF_KIND, default=KIND_AUTO): SelectSelector(
                SelectSelectorConfig(
                    options=kinds, translation_key=CONF_KIND, mode=SelectSelectorMode.DROPDOWN
                )
            ),
            vol.Required(CONF_LINK_MODE, default=LINK_MODES[0]): link_mode_selector(),
        }
    )


def mbus_schema(ports: list[SelectOptionDict]) -> vol.Schema:
    return vol.Schema(
        {
            vol.Required(CONF_DEVICE): pick_or_type(ports),
            vol.Required(CONF_BAUDRATE, default=str(DEFAULT_BAUDRATE)): SelectSelector(
                SelectSelectorConfig(
                    options=[str(rate) for rate in BAUD_RATES], mode=SelectSelectorMode.DROPDOWN
                )
            ),
        }
    )


def mqtt_configured(hass: HomeAssistant) -> bool:
    """Home Assistant's MQTT integration has an enabled entry (MQTT receivers go through it)."""
    from homeassistant.components import mqtt  # imported here: only MQTT receivers need it

    return bool(mqtt.mqtt_config_entry_enabled(hass))


def mqtt_topic(text: str) -> str | None:
    """A valid MQTT topic filter, or None."""
    from homeassistant.components import mqtt

    topic = text.strip()
    try:
        return mqtt.valid_subscribe_topic(topic) if topic else None
    except vol.Invalid:
        return None


def mqtt_schema(topic: str) -> vol.Schema:
    return vol.Schema({vol.Required(CONF_DEVICE, default=topic): TextSelector()})


def link_mode_selector() -> SelectSelector:
    return SelectSelector(
        SelectSelectorConfig(
            options=[SelectOptionDict(value=mode, label=LINK_MODE_LABELS[mode]) for mode in LINK_MODES],
            mode=SelectSelectorMode.DROPDOWN,
        )
    )


def receiver_unique_id(info: ReceiverInfo, device: str) -> str:
    return info.serial or device


DEMO_TITLE = "Demo receiver"


def receiver_title(
    info: ReceiverInfo, kind: str, device: str, port: str | None = None, words: Words | None = None
) -> str:
    """A friendly receiver title (also its device name) in ``words``' language: "iM871A on
    /dev/ttyUSB0", "Demo receiver".

    A replayed capture is named by its file name (the bundled demo capture as the demo receiver).
    """
    words = words or Words()
    path = device.partition("?")[0]
    if kind == "replay":
        if os.path.abspath(path) == os.path.abspath(DEMO_CAPTURE):
            return DEMO_TITLE
        return words.label("replay_of", name=os.path.basename(path))
    if device.startswith("sdr:"):
        return info.model or kind
    return words.label("receiver_on", model=info.model or kind, port=port or display_device(device))


async def async_receiver_title(hass: HomeAssistant, info: ReceiverInfo, kind: str, device: str) -> str:
    """:func:`receiver_title` in Home Assistant's language; a ``/dev/serial/by-id/…`` link is named by
    the port it points to."""
    port = None
    if device.startswith("/dev/serial/by-"):
        port = await hass.async_add_executor_job(os.path.realpath, device)
    return receiver_title(info, kind, device, port, await async_get_words(hass))


async def async_normalize_device(hass: HomeAssistant, device: str) -> str:
    device = device.strip()
    if device.startswith("/dev/"):
        return await hass.async_add_executor_job(usb.get_serial_by_id, device)
    return device


# -- SDR programs on this machine (rtl_wmbus, rtl_433): settings, never a command ------------

CONF_PROGRAM = "program"
CONF_FREQUENCY = "frequency"
CONF_GAIN = "gain"
CONF_DEVICE_INDEX = "device_index"
SDR_DEVICES_TYPED = frozenset({"sdr", "", "default", "auto"})
"""What the device field of an SDR kind may say to mean "a dongle on this machine" (or ``sdr:…``)."""


def asks_sdr_settings(sdr_kind: bool, device: str) -> bool:
    """The receiver is an SDR program on this machine: its settings are asked in the ``sdr`` step."""
    text = device.strip().lower()
    return sdr_kind and (text in SDR_DEVICES_TYPED or text.startswith("sdr:"))


def sdr_schema(program: str) -> vol.Schema:
    """Program, frequency (MHz), gain (dB, empty: automatic) and dongle index as separate fields."""
    low, high = SDR_FREQUENCIES
    return vol.Schema(
        {
            vol.Required(CONF_PROGRAM, default=program): TextSelector(),
            vol.Required(CONF_FREQUENCY, default=SdrSettings().frequency / 1e6): NumberSelector(
                NumberSelectorConfig(
                    min=low / 1e6,
                    max=high / 1e6,
                    step=0.001,
                    unit_of_measurement="MHz",
                    mode=NumberSelectorMode.BOX,
                )
            ),
            vol.Optional(CONF_GAIN): NumberSelector(
                NumberSelectorConfig(
                    min=SDR_GAINS[0],
                    max=SDR_GAINS[1],
                    step=0.1,
                    unit_of_measurement="dB",
                    mode=NumberSelectorMode.BOX,
                )
            ),
            vol.Required(CONF_DEVICE_INDEX, default=0): NumberSelector(
                NumberSelectorConfig(min=0, max=SDR_DEVICES - 1, step=1, mode=NumberSelectorMode.BOX)
            ),
        }
    )


def sdr_settings(user_input: dict[str, Any]) -> SdrSettings:
    """The settings the ``sdr`` form gave (not yet checked: :meth:`SdrSettings.check`)."""
    gain = user_input.get(CONF_GAIN)
    return SdrSettings(
        program=str(user_input[CONF_PROGRAM]).strip(),
        frequency=round(float(user_input[CONF_FREQUENCY]) * 1e6),
        gain=None if gain is None or gain == "" else float(gain),
        device_index=int(user_input[CONF_DEVICE_INDEX]),
    )


def sdr_suggestions(device: str, programs: frozenset[str]) -> dict[str, Any]:
    """The ``sdr`` form filled in from an ``sdr:…`` device (reconfigure), else from the defaults."""
    try:
        settings = parse_sdr(device, programs) if device.strip().lower().startswith("sdr:") else SdrSettings()
    except ReceiverError:
        settings = SdrSettings()
    values: dict[str, Any] = {
        CONF_PROGRAM: settings.program or min(programs),
        CONF_FREQUENCY: settings.frequency / 1e6,
        CONF_DEVICE_INDEX: settings.device_index,
    }
    if settings.gain is not None:
        values[CONF_GAIN] = settings.gain
    return values
