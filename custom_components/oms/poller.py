"""Polling of a wired M-Bus master on Home Assistant's clock (EN 13757-2/-3).

:class:`MbusPoller` owns an :class:`~.omslib.receivers.mbus.MbusMasterReceiver`
but not its background loop: every ``interval`` one cycle reads all configured
addresses (:meth:`~.omslib.receivers.mbus.MbusMasterReceiver.poll_once`),
its telegrams go to the hub like radio frames, and the hub learns which
addresses failed. Cycles never overlap, and scans from the config flow share the
master's lock, so only one request is ever on the bus. A lost port is reopened
with capped exponential backoff (the receivers' :class:`~.omslib.receivers.supervisor.Backoff`,
scheduled on Home Assistant's clock).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
import logging
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.event import async_call_later, async_track_time_interval

from .omslib.frame import Frame
from .omslib.receivers import ReceiverError, ReceiverInfo
from .omslib.receivers.base import display_device
from .omslib.receivers.mbus import MbusMasterReceiver
from .omslib.receivers.mbus_master import MbusMaster, MbusPortError
from .omslib.receivers.supervisor import Backoff

_LOGGER = logging.getLogger(__name__)

MASTER_OPTIONS: dict[str, Any] = {}
"""Extra keyword arguments of the master (timeout, retries, pause, settle); tests shorten the timing."""
RECONNECT_MIN = 1.0
RECONNECT_MAX = 60.0

type PollResultCallback = Callable[[dict[int | str, bool]], None]
"""Called after every cycle with ``{address: answered and decoded}``."""


class MbusPoller:
    """Polls the wired meters of one receiver entry every ``interval`` seconds."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry,
        device: str,
        *,
        baudrate: int,
        interval: float,
        on_frame: Callable[[Frame], None],
        on_state: Callable[[bool], None],
        on_result: PollResultCallback,
    ) -> None:
        self.hass = hass
        self.entry = entry
        self.device = device
        self.interval = interval
        self.receiver = MbusMasterReceiver(
            device, on_frame=on_frame, baudrate=baudrate, receiver_id=entry.entry_id, **MASTER_OPTIONS
        )
        self.cycles = 0
        self._on_state = on_state
        self._on_result = on_result
        self._task: asyncio.Task[None] | None = None
        self._again = False
        self._unsub_interval: CALLBACK_TYPE | None = None
        self._unsub_reconnect: CALLBACK_TYPE | None = None
        self._backoff = Backoff(RECONNECT_MIN, RECONNECT_MAX)
        self._stopped = False
        self._reconnecting = False

    @property
    def master(self) -> MbusMaster:
        return self.receiver.master

    @property
    def addresses(self) -> list[int | str]:
        return self.receiver.addresses

    @addresses.setter
    def addresses(self, addresses: Sequence[int | str]) -> None:
        self.receiver.addresses = list(addresses)

    async def async_start(self) -> ReceiverInfo:
        """Open the port (:class:`~.omslib.receivers.PortOpenError`), then poll now and every interval."""
        await self.master.open()
        self._watch_port()
        self._unsub_interval = async_track_time_interval(
            self.hass,
            self._tick,
            timedelta(seconds=self.interval),
            name=f"oms mbus poll {display_device(self.device)}",
            cancel_on_shutdown=True,
        )
        self.async_request_poll()
        return ReceiverInfo(kind=self.receiver.kind, model=self.receiver.model)

    async def async_stop(self) -> None:
        """Stop polling and reconnecting, close the port. Idempotent."""
        self._stopped = True
        for unsub in (self._unsub_interval, self._unsub_reconnect):
            if unsub is not None:
                unsub()
        self._unsub_interval = self._unsub_reconnect = None
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await self.receiver.stop()

    # -- cycles ----------------------------------------------------------------------

    @callback
    def _tick(self, _now: datetime) -> None:
        self.async_request_poll()

    @callback
    def async_request_poll(self) -> None:
        """Start a cycle now; while one runs, run another right after it (never two at once)."""
        if self._stopped or not self.master.is_open:
            return
        if self._task is not None and not self._task.done():
            self._again = True
            return
        self._task = self.entry.async_create_background_task(
            self.hass, self._async_cycles(), f"oms mbus poll {display_device(self.device)}"
        )

    async def _async_cycles(self) -> None:
        self._again = True
        while self._again and not self._stopped:
            self._again = False
            await self._async_poll()

    async def _async_poll(self) -> None:
        addresses = list(self.addresses)
        try:
            await self.receiver.poll_once()
        except MbusPortError as err:
            _LOGGER.warning("M-Bus master on %s: %s; reconnecting", display_device(self.device), err)
            self._port_lost()
            return
        self.cycles += 1
        errors = self.receiver.last_errors
        self._on_result({address: address not in errors for address in addresses})

    # -- port ------------------------------------------------------------------------

    def _watch_port(self) -> None:
        lost = self.master.lost
        if lost is not None:
            lost.add_done_callback(self._on_port_closed)

    @callback
    def _on_port_closed(self, _lost: object) -> None:
        if self._stopped or self.master.is_open:
            return
        _LOGGER.warning("M-Bus master on %s: port lost; reconnecting", display_device(self.device))
        self._port_lost()

    @callback
    def _port_lost(self) -> None:
        if self._stopped or self._reconnecting:
            return
        self._reconnecting = True
        self._on_state(False)
        self._backoff.reset()
        self._schedule_reconnect()

    @callback
    def _schedule_reconnect(self) -> None:
        self._unsub_reconnect = async_call_later(self.hass, self._backoff.next_delay(), self._reconnect)

    @callback
    def _reconnect(self, _now: datetime) -> None:
        self._unsub_reconnect = None
        self.entry.async_create_background_task(
            self.hass, self._async_reconnect(), f"oms mbus reconnect {display_device(self.device)}"
        )

    async def _async_reconnect(self) -> None:
        if self._stopped:
            return
        await self.master.close()
        try:
            await self.master.open()
        except ReceiverError as err:
            _LOGGER.debug("M-Bus master on %s: reopen failed: %s", display_device(self.device), err)
            self._schedule_reconnect()
            return
        _LOGGER.info("M-Bus master on %s: reconnected", display_device(self.device))
        self._reconnecting = False
        self._watch_port()
        self._on_state(True)
        self.async_request_poll()
