"""The wired-master steps of the meter flow: scan the bus, pick a slave it found, or give an address.

:class:`WiredMeterFlow` is the base of :class:`~.flow_meter.MeterSubentryFlow`: on a wired M-Bus
master entry the meter flow starts at :meth:`WiredMeterFlow.async_step_wired`. The scan runs in
the background (:class:`BusScan`, over :func:`.probe.async_scan_bus`) while a progress form lists
each slave as it is found.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from homeassistant.config_entries import ConfigSubentryFlow, SubentryFlowResult
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.selector import (
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
)
import voluptuous as vol

from . import probe
from .const import (
    CONF_ADDRESS,
    CONF_DEVICE_TYPE,
    CONF_KEY,
    CONF_MANUFACTURER,
    CONF_METER_ID,
    CONF_NAME,
    CONF_VERSION,
)
from .flow_fields import name_and_key
from .hub import OmsHub, configured_meter_ids, loaded_hub
from .models import FoundMeter, meter_title
from .names import Words, async_get_words
from .omslib.errors import OmsError
from .omslib.receivers.base import display_device
from .omslib.receivers.mbus_master import MbusCollision, MbusError, MbusMaster, MbusPortError, MbusTimeout
from .omslib.wired import parse_address
from .probe import validate_key

_LOGGER = logging.getLogger(__name__)

SCAN_PROGRESS_STEP = 25
"""The progress form is redrawn every this many primary addresses (and for every slave found)."""
SCAN_TYPES = ["primary", "secondary"]


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
            probe.async_scan_bus(master, scan_type, on_found=self._on_found, progress=self._on_progress),
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


class WiredMeterFlow(ConfigSubentryFlow):
    """The steps of the meter flow for a wired master (base of the meter flow)."""

    def __init__(self) -> None:
        self._scan_type = "primary"
        self._scan: BusScan | None = None
        self._found: FoundMeter | None = None

    def _hub(self) -> OmsHub | None:
        return loaded_hub(self._get_entry())

    def _master(self) -> MbusMaster | None:
        hub = self._hub()
        return hub.poller.master if hub is not None and hub.poller is not None else None

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
                    found = await probe.async_identify(master, address)
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
            key, error = validate_key(user_input.get(CONF_KEY, ""), None, required=False)
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
        plain = found.encrypted is False  # its reply was read in plaintext: no key needed
        schema = name_and_key(default_name, None if plain else vol.Optional(CONF_KEY))
        return self.async_show_form(
            step_id="wired_meter_unencrypted" if plain else "wired_meter",
            data_schema=self.add_suggested_values_to_schema(schema, user_input),
            errors=errors,
            description_placeholders={"meter_id": found.meter_id, "address": str(found.address)},
        )

    async def async_step_wired_meter_unencrypted(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """:meth:`async_step_wired_meter` for a meter whose reply was not encrypted (no key field)."""
        return await self.async_step_wired_meter(user_input)
