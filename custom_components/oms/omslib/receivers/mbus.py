"""The wired M-Bus master as a receiver (kind ``mbus``): polls a list of slaves for Home Assistant.

The bus itself is driven by :class:`~.mbus_master.MbusMaster`; frames and addresses are in
:mod:`omslib.wired`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
import contextlib
import logging
from typing import ClassVar, Unpack

from ..errors import OmsError
from ..frame import Frame
from ..keyring import Keyring
from ..wired import DEFAULT_BAUD, parse_address
from .base import (
    Receiver,
    ReceiverError,
    ReceiverInfo,
    ReceiverOptions,
    display_device,
    register_receiver,
)
from .mbus_master import MbusError, MbusMaster, MbusPortError
from .supervisor import Backoff, reconnect

_LOGGER = logging.getLogger(__name__)


@register_receiver
class MbusMasterReceiver(Receiver):
    """Polls ``addresses`` (primary ints, 16-hex secondary strings) every ``interval`` seconds.

    Every telegram of a reply goes to ``on_frame`` as ``Frame(raw, link_mode="mbus")``
    (a multi-telegram readout gives one Frame per telegram). ``on_state`` is True
    after a cycle in which a slave answered, False after a cycle in which none
    did or when the port is lost; a lost port is reopened with capped
    exponential backoff. One silent or broken slave never holds up the others.
    """

    kind: ClassVar[str] = "mbus"
    model: ClassVar[str] = "M-Bus master"

    def __init__(
        self,
        device: str,
        *,
        baudrate: int = DEFAULT_BAUD,
        addresses: Sequence[int | str] = (),
        interval: float = 300.0,
        timeout: float | None = None,
        retries: int = 2,
        pause: float = 0.02,
        settle: float | None = None,
        max_telegrams: int = 16,
        reconnect_min: float = 1.0,
        reconnect_max: float = 60.0,
        keyring: Keyring | None = None,
        **common: Unpack[ReceiverOptions],
    ) -> None:
        super().__init__(device, **common)
        self.addresses: list[int | str] = [parse_address(a) for a in addresses]
        self.interval = interval
        self.reconnect_min = reconnect_min
        self.reconnect_max = reconnect_max
        self.master = MbusMaster(
            device,
            baudrate=baudrate,
            timeout=timeout,
            retries=retries,
            pause=pause,
            settle=settle,
            max_telegrams=max_telegrams,
            keyring=keyring,
        )
        self.last_errors: dict[int | str, MbusError | OmsError] = {}
        """The last failure of each address in the latest cycle (diagnostics)."""
        self._connected = False
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    async def start(self) -> ReceiverInfo:
        """Open the port (PortOpenError on failure) and start polling in the background."""
        if self._task is not None and self.info is not None:
            return self.info
        self._stopping = False
        await self.master.open()
        self.info = ReceiverInfo(kind=self.kind, model=self.model)
        self._set_connected(True)
        self._task = asyncio.create_task(self._run(), name=f"oms mbus {self.device}")
        return self.info

    async def stop(self) -> None:
        """Stop polling and close the port. Idempotent."""
        self._stopping = True
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.master.close()
        self._connected = False

    async def poll_once(self) -> int:
        """Read every configured address once; returns how many answered. Raises MbusPortError."""
        answered = 0
        for address in self.addresses:
            try:
                if isinstance(address, str):
                    frames, _, error = await self.master._read_secondary(address)
                else:
                    frames, _, error = await self.master._read_primary(address)
            except MbusPortError:
                raise
            except MbusError as err:
                _LOGGER.debug("M-Bus slave %s on %s: %s", address, display_device(self.device), err)
                self.last_errors[address] = err
                continue
            answered += 1
            if error is not None:
                self.last_errors[address] = error
            else:
                self.last_errors.pop(address, None)
            for raw in frames:
                self._deliver(raw)
        return answered

    def _deliver(self, raw: bytes) -> None:
        try:
            self._on_frame(Frame(raw, link_mode="mbus", receiver_id=self.receiver_id))
        except Exception:
            _LOGGER.exception("on_frame callback of %s failed", self.receiver_id)

    async def _run(self) -> None:
        shown = display_device(self.device)
        while not self._stopping:
            try:
                answered = await self.poll_once()
            except MbusPortError as err:
                _LOGGER.warning("M-Bus master on %s: %s; reconnecting", shown, err)
                await self._reconnect()
                continue
            self._set_connected(answered > 0 or not self.addresses)
            lost = self.master.lost
            if lost is None:
                await self._reconnect()
                continue
            done, _ = await asyncio.wait({lost}, timeout=self.interval)
            if done:
                _LOGGER.warning("M-Bus master on %s: port lost (%s); reconnecting", shown, lost.result())
                await self._reconnect()

    async def _reconnect(self) -> None:
        self._set_connected(False)
        await self.master.close()
        if await reconnect(
            self.master.open,
            Backoff(self.reconnect_min, self.reconnect_max, jitter=0.1),
            stopping=lambda: self._stopping,
            name=f"M-Bus master on {display_device(self.device)}",
            retry_on=(ReceiverError,),
        ):
            self._set_connected(True)
