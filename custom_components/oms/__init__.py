"""OMS meters (wireless and wired M-Bus): one config entry per receiver, one subentry per meter."""

from __future__ import annotations

import logging

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryError, ConfigEntryNotReady
from homeassistant.helpers import device_registry as dr

from .const import CONF_DEVICE, CONF_KIND, DOMAIN, PLATFORMS
from .heard import forget_heard_meters
from .hub import OmsConfigEntry, OmsHub
from .issues import async_shell_command_issue
from .omslib.receivers import ReceiverError
from .omslib.receivers.base import display_device
from .probe import runs_shell
from .storage import async_remove_stores

_LOGGER = logging.getLogger(__name__)


async def async_setup_entry(hass: HomeAssistant, entry: OmsConfigEntry) -> bool:
    """Start the receiver, then the platforms."""
    # A device that is a shell command (typed before the forms refused them) never runs: a repair
    # issue asks for the SDR program's settings instead. (The library refuses it too.)
    shell = runs_shell(entry.data.get(CONF_KIND, ""), entry.data[CONF_DEVICE])
    async_shell_command_issue(hass, entry.entry_id, entry.title, runs_shell=shell)
    if shell:
        raise ConfigEntryError(
            translation_domain=DOMAIN,
            translation_key="shell_command_refused",
            translation_placeholders={"receiver": entry.title},
        )
    hub = OmsHub(hass, entry)
    try:
        await hub.async_start()
    except ReceiverError as err:
        await hub.async_stop()
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN,
            translation_key="cannot_start",
            translation_placeholders={"device": display_device(entry.data[CONF_DEVICE]), "error": str(err)},
        ) from err
    entry.runtime_data = hub
    hub.async_register_receiver_device()
    _remove_stale_devices(hass, entry, hub)
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    entry.async_on_unload(entry.add_update_listener(_async_update_listener))
    return True


async def async_unload_entry(hass: HomeAssistant, entry: OmsConfigEntry) -> bool:
    """Stop the platforms, then the receiver."""
    unloaded = await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
    if unloaded:
        await entry.runtime_data.async_stop()
    return unloaded


async def async_remove_entry(hass: HomeAssistant, entry: OmsConfigEntry) -> None:
    """Forget the heard meters of a removed receiver and delete its stores."""
    forget_heard_meters(hass, entry.entry_id)
    await async_remove_stores(hass, entry.entry_id)


async def _async_update_listener(hass: HomeAssistant, entry: OmsConfigEntry) -> None:
    """Receiver settings or options changed: reload; meters added, changed or removed: apply in place."""
    hub = entry.runtime_data
    if dict(entry.data) != hub.entry_data or dict(entry.options) != hub.entry_options:
        hass.config_entries.async_schedule_reload(entry.entry_id)
        return
    hub.async_sync_subentries()


def _remove_stale_devices(hass: HomeAssistant, entry: OmsConfigEntry, hub: OmsHub) -> None:
    """Drop devices of meters that are no longer configured (e.g. removed while not loaded)."""
    dev_reg = dr.async_get(hass)
    wanted = {(DOMAIN, hub.receiver_identifier)} | {(DOMAIN, meter_id) for meter_id in hub.meters}
    for device in dr.async_entries_for_config_entry(dev_reg, entry.entry_id):
        if not device.identifiers & wanted:
            _LOGGER.debug("Removing stale device %s", device.name)
            dev_reg.async_remove_device(device.id)
