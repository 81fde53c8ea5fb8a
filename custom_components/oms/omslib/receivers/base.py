"""The receiver contract shared by every stick, stream and master driver.

A receiver is started once, hands every received telegram to ``on_frame`` as a
:class:`~omslib.frame.Frame`, reports link state changes to ``on_state`` and
reconnects by itself with capped exponential backoff until :meth:`stop`.
Framers (bytes -> frames) are pure functions in each driver module and are
tested on their own.

Over 500 lines because it holds the whole contract every driver builds on: the errors, the
registry, :class:`Receiver` and :class:`StreamReceiver` (open, identify, configure, request and
answer, keep-alive, supervision) - the last is most of it and one piece of state.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
import asyncio
from collections.abc import Awaitable, Callable
import contextlib
from dataclasses import dataclass
import logging
from typing import Any, ClassVar, Literal, Protocol, Required, TypedDict, Unpack, cast

from ..frame import Frame
from .supervisor import Backoff, reconnect

LinkMode = Literal["t1", "c1", "c1t1", "s1"]
LINK_MODES: tuple[LinkMode, ...] = ("c1t1", "t1", "c1", "s1")

FrameCallback = Callable[[Frame], None]
StateCallback = Callable[[bool], None]


class ReceiverOptions(TypedDict, total=False):
    """The keyword arguments of :class:`Receiver`: a driver's constructor takes its own options
    and passes these on as ``**common`` (so they are declared once, here)."""

    on_frame: Required[FrameCallback]
    on_state: StateCallback | None
    link_mode: LinkMode
    receiver_id: str


"""Called with True when the receiver is (re)connected, False when the link is lost."""


class ReceiverError(Exception):
    """Base class of receiver errors; the message is meant for the user."""

    code: ClassVar[str] = "receiver_error"


class PortOpenError(ReceiverError):
    """The port, URL or command could not be opened."""

    code = "cannot_open"


class NoAnswerError(ReceiverError):
    """The device did not answer the probe."""

    code = "no_answer"


class WrongDeviceError(ReceiverError):
    """The device answered, but as another kind of receiver."""

    code = "wrong_device"


class UnsupportedModeError(ReceiverError):
    """The receiver cannot listen in the requested link mode."""

    code = "unsupported_mode"


@dataclass(frozen=True, slots=True)
class ReceiverInfo:
    """What a probe learnt of a receiver."""

    kind: str
    """Driver name: "im871a", "iu891a", "amber", "cul", "rc1180", "rtlwmbus", "rtl433", "hex",
    "replay", "mbus", "mqtt"."""
    model: str | None = None
    firmware: str | None = None
    serial: str | None = None
    """A stable identifier of the device itself when it has one (config-entry unique ID)."""


class Receiver(ABC):
    """One receiver. Subclasses implement the device; this class fixes the contract."""

    kind: ClassVar[str]
    supported_modes: ClassVar[tuple[LinkMode, ...]] = LINK_MODES
    """Link modes this driver can listen in; others raise :class:`UnsupportedModeError`."""

    def __init__(
        self,
        device: str,
        *,
        on_frame: FrameCallback,
        on_state: StateCallback | None = None,
        link_mode: LinkMode = "c1t1",
        receiver_id: str = "",
    ) -> None:
        self.device = device
        self.link_mode: LinkMode = link_mode
        self.receiver_id = receiver_id or device
        self._on_frame = on_frame
        self._on_state = on_state
        self.info: ReceiverInfo | None = None
        self._connected = False

    @property
    def connected(self) -> bool:
        """True while the device is open and answering."""
        return self._connected

    def _set_connected(self, value: bool) -> None:
        """Record a link state change and report it once through ``on_state``."""
        if value == self._connected:
            return
        self._connected = value
        if self._on_state is not None:
            try:
                self._on_state(value)
            except Exception:
                _LOGGER.exception("on_state callback of %s failed", self.receiver_id)

    @abstractmethod
    async def start(self) -> ReceiverInfo:
        """Open, probe and configure the device; then keep receiving in the background.

        Raises a :class:`ReceiverError` when the first connection fails. Later
        losses are reported through ``on_state`` and retried with backoff.
        """

    @abstractmethod
    async def stop(self) -> None:
        """Stop receiving and close the device. Idempotent."""


# ---------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------

RECEIVERS: dict[str, type[Receiver]] = {}
"""Driver classes by ``kind``; each driver module registers itself on import."""


def register_receiver[R: type[Receiver]](cls: R) -> R:
    """Class decorator: add a driver to :data:`RECEIVERS` under its ``kind``."""
    RECEIVERS[cls.kind] = cls
    return cls


LINK_MODE_LABELS: dict[LinkMode, str] = {"t1": "T1", "c1": "C1", "c1t1": "C1/T1", "s1": "S1"}
"""``Frame.link_mode`` value for each configured receive mode."""


def display_device(device: str) -> str:
    """``device`` for messages and logs: a URL's query (may hold a key or password) is cut off."""
    base, sep, _ = device.partition("?")
    return f"{base}?…" if sep else device


def with_article(name: str) -> str:
    """``"an iM871A"``, ``"a CUL"``, ``"an RC1180"``: the article by how a model name is spoken."""
    first = name[:1]
    acronym = name[:2].isupper()
    return f"an {name}" if first.lower() in "aeio" or (acronym and first in "FHLMNRSX") else f"a {name}"


# ---------------------------------------------------------------------------
# Pure framers
# ---------------------------------------------------------------------------


@dataclass(slots=True)
class FramerStats:
    """Counters a framer updates when it is given one (diagnostics)."""

    messages: int = 0
    """Complete, valid messages returned."""
    bad_checksum: int = 0
    """Complete messages dropped because their CRC or checksum did not match."""
    garbage_bytes: int = 0
    """Bytes skipped while looking for the start of a message."""


class Framer[M](Protocol):
    """A pure framer: ``framer(buffer, stats) -> messages``.

    Consumes every complete message from the front of ``buffer`` (deleting its
    bytes), skips garbage up to the next plausible start of a message, drops
    messages whose checksum fails (and resyncs just after their start byte),
    and leaves an incomplete message at the front of ``buffer`` for the next
    call. It never keeps more than one maximal message of bytes waiting.
    """

    def __call__(self, buffer: bytearray, stats: FramerStats | None = None, /) -> list[M]:
        """Return the complete messages at the front of ``buffer``."""
        ...


def skip_to(buffer: bytearray, sync: int, start: int = 0, stats: FramerStats | None = None) -> bool:
    """Delete bytes before the first ``sync`` byte at or after ``start``.

    With no ``sync`` byte the whole buffer is garbage and is cleared. Returns
    True when ``buffer`` now starts with ``sync``.
    """
    pos = buffer.find(sync, start)
    if pos < 0:
        pos = len(buffer)
    if pos:
        if stats is not None:
            stats.garbage_bytes += pos
        del buffer[:pos]
    return bool(buffer)


WMBUS_C_FIELDS = frozenset({0x44, 0x46, 0x47, 0x48, 0x06, 0x08, 0x18, 0x28, 0x38, 0x53, 0x73, 0x5B, 0x7B})
"""EN 13757-4 link-layer C fields: SND_NR, SND_IR, ACC_*, RSP_UD, CNF_IR, SND_UD, REQ_UD."""
MIN_WMBUS_L = 10
"""Smallest L of a frame that has a full link-layer header (C, M, A)."""


def plausible_frame_start(buffer: bytes | bytearray, pos: int = 0) -> bool | None:
    """Could a bare wM-Bus frame (``L C M M A…``) start at ``buffer[pos]``? None: need more bytes.

    Checks L >= 10, a known C field and a manufacturer code of three letters
    A-Z (EN 13757-3 §6.3: bit 15 clear, each 5-bit letter 1..26). Used to
    resync bare-frame streams (RC1180, Amber transparent mode, raw ttys).
    """
    size = len(buffer) - pos
    if size < 1:
        return None
    if buffer[pos] < MIN_WMBUS_L:
        return False
    if size < 2:
        return None
    if buffer[pos + 1] not in WMBUS_C_FIELDS:
        return False
    if size < 4:
        return None
    mfct = buffer[pos + 2] | buffer[pos + 3] << 8
    return not mfct & 0x8000 and all(1 <= (mfct >> shift) & 0x1F <= 26 for shift in (0, 5, 10))


# ---------------------------------------------------------------------------
# Stream receivers (serial port, socket://, rfc2217:// through serialx)
# ---------------------------------------------------------------------------

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StreamTiming:
    """Timeouts and delays of a :class:`StreamReceiver`, in seconds (tests shorten them)."""

    response_timeout: float = 1.0
    """How long to wait for the answer to one request."""
    reconnect_min: float = 1.0
    """First delay before reopening a lost device; doubles on each failure."""
    reconnect_max: float = 60.0
    """Cap of the reconnect delay."""
    reconnect_jitter: float = 0.1
    """Random extra delay, as a fraction of the current delay."""
    keepalive_interval: float | None = 60.0
    """Seconds between keep-alive probes (drivers that have one); None disables them."""


DEFAULT_TIMING = StreamTiming()


class _StreamProtocol(asyncio.Protocol):
    """Feeds transport events into its :class:`StreamReceiver`."""

    def __init__(self, owner: StreamReceiver[Any]) -> None:
        self._owner = owner
        self.lost: asyncio.Future[Exception | None] = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        self._owner._data_received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(exc)


NoAnswerDiagnosis = Callable[["StreamReceiver[Any]", NoAnswerError], Awaitable[ReceiverError]]
"""Turns the NoAnswerError of a first start into a better error (e.g. another stick answers there)."""

_NO_ANSWER_DIAGNOSIS: list[NoAnswerDiagnosis | None] = [None]


def set_no_answer_diagnosis(diagnosis: NoAnswerDiagnosis | None) -> None:
    """Install the diagnosis :meth:`StreamReceiver.start` runs on a silent port.

    :mod:`.detect` installs its port probe on import (the package ``__init__`` imports it), so the
    receivers need not import the detection that is built on them.
    """
    _NO_ANSWER_DIAGNOSIS[0] = diagnosis


class StreamReceiver[M](Receiver):
    """A receiver on a byte stream opened by serialx: a device path, ``socket://host:port``, ``rfc2217://``.

    Subclasses provide:

    * :attr:`baudrate` and :attr:`model` (for messages),
    * :meth:`_frame`: the driver's pure :class:`Framer`,
    * :meth:`_identify`: probe the device (requests through :meth:`_request`) and
      return what it is; raise :class:`NoAnswerError` / :class:`WrongDeviceError`,
    * :meth:`_configure`: put it into :attr:`link_mode` (raise :class:`UnsupportedModeError`),
    * :meth:`_to_frame`: turn an unsolicited message into a :class:`Frame` (or None),
    * optionally :meth:`_keepalive`: one request that must be answered.

    The base class owns the connection: first connect in :meth:`start` (typed
    errors), then a supervisor task that detects EOF, I/O errors and failed
    keep-alives, reports ``on_state(False)``, reconnects with capped exponential
    backoff, reruns identify + configure and reports ``on_state(True)``.
    Sources other than serialx (subprocess pipelines) override :meth:`_open_transport`.
    """

    baudrate: ClassVar[int] = 115200
    model: ClassVar[str] = "receiver"
    """Human name used in messages, e.g. "iM871A"."""
    max_buffer: ClassVar[int] = 4096
    """Receive buffer bound: older bytes are dropped beyond it (the framer resyncs)."""

    def __init__(
        self,
        device: str,
        *,
        baudrate: int | None = None,
        timing: StreamTiming = DEFAULT_TIMING,
        **common: Unpack[ReceiverOptions],
    ) -> None:
        super().__init__(device, **common)
        self.port_baudrate = baudrate or self.baudrate
        self.timing = timing
        self.stats = FramerStats()
        self._buffer = bytearray()
        self._transport: asyncio.BaseTransport | None = None
        self._protocol: _StreamProtocol | None = None
        self._waiters: list[tuple[Callable[[M], bool], asyncio.Future[M]]] = []
        self._supervisor: asyncio.Task[None] | None = None
        self._connected = False
        self._stopping = False
        self._start_lock = asyncio.Lock()

    # -- subclass hooks ---------------------------------------------------

    @abstractmethod
    def _frame(self, buffer: bytearray, stats: FramerStats | None) -> list[M]:
        """Run the driver's pure framer over the receive buffer."""

    @abstractmethod
    async def _identify(self) -> ReceiverInfo:
        """Probe the device; raise NoAnswerError/WrongDeviceError when it is not the expected one."""

    async def _configure(self) -> None:
        """Set the receive link mode (default: nothing to do)."""
        return

    @abstractmethod
    def _to_frame(self, message: M) -> Frame | None:
        """Convert an unsolicited message to a Frame; None to ignore it."""

    async def _keepalive(self) -> None:
        """One keep-alive request; raise (any exception) when the device did not answer.

        The default does nothing, so a silent device is never reopened.
        """
        return

    has_keepalive: ClassVar[bool] = False
    """Set by drivers that implement :meth:`_keepalive`."""

    async def _open_transport(self, protocol: asyncio.Protocol) -> asyncio.BaseTransport:
        """Open :attr:`device` and connect ``protocol`` to it (serialx)."""
        import serialx

        transport, _ = await serialx.create_serial_connection(
            asyncio.get_running_loop(), lambda: protocol, self.device, baudrate=self.port_baudrate
        )
        return cast(asyncio.BaseTransport, transport)

    # -- helpers for subclasses ---------------------------------------------

    def _write(self, data: bytes) -> None:
        """Send bytes to the device (buffered by the transport, never blocks)."""
        transport = self._transport
        if transport is None or transport.is_closing():
            raise NoAnswerError(f"{self.model} on {display_device(self.device)} is not open")
        cast(asyncio.WriteTransport, transport).write(data)

    async def _wait_for(
        self, match: Callable[[M], bool], *, within: float | None = None, what: str = "a reply"
    ) -> M:
        """Wait for the next message for which ``match`` is true; NoAnswerError after the timeout."""
        return await self._request(None, match, within=within, what=what)

    async def _request(
        self,
        data: bytes | None,
        match: Callable[[M], bool],
        *,
        within: float | None = None,
        what: str = "the request",
    ) -> M:
        """Send ``data`` and wait for the first message for which ``match`` is true.

        Raises :class:`NoAnswerError` when none arrives ``within`` seconds
        (default :attr:`StreamTiming.response_timeout`) or the link drops.
        """
        future: asyncio.Future[M] = asyncio.get_running_loop().create_future()
        waiter = (match, future)
        self._waiters.append(waiter)
        try:
            if data is not None:
                self._write(data)
            lost = self._protocol.lost if self._protocol is not None else None
            wait_on: set[asyncio.Future[Any]] = {future} if lost is None else {future, lost}
            await asyncio.wait(
                wait_on,
                timeout=self.timing.response_timeout if within is None else within,
                return_when=asyncio.FIRST_COMPLETED,
            )
            if future.done():
                return future.result()
            raise NoAnswerError(
                f"{self.model} on {display_device(self.device)} did not answer {what}" + self._heard_suffix()
            )
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
            if not future.done():
                future.cancel()

    def _heard_suffix(self) -> str:
        return " (the link was lost)" if self._protocol is not None and self._protocol.lost.done() else ""

    # -- receive path -------------------------------------------------------

    def _data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        try:
            messages = self._frame(buffer, self.stats)
        except Exception:
            _LOGGER.exception("%s framer failed; receive buffer dropped", self.model)
            buffer.clear()
            return
        if len(buffer) > self.max_buffer:
            excess = len(buffer) - self.max_buffer
            self.stats.garbage_bytes += excess
            del buffer[:excess]
        for message in messages:
            self._dispatch(message)

    def _dispatch(self, message: M) -> None:
        for match, future in self._waiters:
            if not future.done() and match(message):
                future.set_result(message)
                return
        try:
            frame = self._to_frame(message)
        except Exception:
            _LOGGER.exception("%s: cannot convert message %r", self.model, message)
            return
        if frame is None:
            return
        try:
            self._on_frame(frame)
        except Exception:
            _LOGGER.exception("on_frame callback of %s failed", self.receiver_id)

    # -- lifecycle ----------------------------------------------------------

    async def start(self) -> ReceiverInfo:
        """Open, identify and configure the device, then receive in the background.

        Raises :class:`PortOpenError`, :class:`NoAnswerError`,
        :class:`WrongDeviceError` or :class:`UnsupportedModeError` when this
        first attempt fails; nothing keeps running then.
        """
        async with self._start_lock:
            if self._supervisor is not None and self.info is not None:
                return self.info
            if self.link_mode not in self.supported_modes:
                raise UnsupportedModeError(
                    f"{self.model} cannot receive link mode {LINK_MODE_LABELS[self.link_mode]}; "
                    f"it supports {', '.join(LINK_MODE_LABELS[m] for m in self.supported_modes)}"
                )
            self._stopping = False
            try:
                info = await self._connect()
            except NoAnswerError as err:
                raise await self._explain_no_answer(err) from err
            self._set_connected(True)
            self._supervisor = asyncio.create_task(self._supervise(), name=f"oms {self.kind} {self.device}")
            return info

    async def stop(self) -> None:
        """Stop receiving and close the device. Idempotent."""
        self._stopping = True
        task, self._supervisor = self._supervisor, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._close()
        self._connected = False

    async def probe(self) -> ReceiverInfo:
        """Open the device, identify it and close it again (no configuration, no callbacks)."""
        try:
            await self._open()
            return await self._identify()
        finally:
            await self._close()

    diagnose_no_answer: ClassVar[bool] = True
    """On a first NoAnswerError, probe the port for other sticks to report a WrongDeviceError."""

    async def _explain_no_answer(self, err: NoAnswerError) -> ReceiverError:
        """The error :meth:`start` raises for a silent port: what the diagnosis installed by
        :mod:`.detect` (which sits above the drivers) makes of it, else ``err``."""
        diagnosis = _NO_ANSWER_DIAGNOSIS[0]
        if not self.diagnose_no_answer or diagnosis is None:
            return err
        return await diagnosis(self, err)

    async def _open(self) -> None:
        self._buffer.clear()
        protocol = _StreamProtocol(self)
        try:
            transport = await self._open_transport(protocol)
        except (asyncio.CancelledError, ReceiverError):
            raise
        except Exception as exc:
            raise PortOpenError(f"Cannot open {display_device(self.device)}: {exc}") from exc
        self._protocol = protocol
        self._transport = transport

    async def _connect(self) -> ReceiverInfo:
        """Open, identify and configure; closes again on any failure."""
        await self._open()
        try:
            info = await self._identify()
            self.info = info
            await self._configure()
        except BaseException:
            await self._close()
            raise
        return info

    async def _close(self) -> None:
        transport, self._transport = self._transport, None
        protocol, self._protocol = self._protocol, None
        for _, future in self._waiters:
            future.cancel()
        self._waiters.clear()
        if transport is None:
            return
        transport.close()
        wait_closed = getattr(transport, "wait_closed", None)
        if wait_closed is not None:
            with contextlib.suppress(Exception, asyncio.TimeoutError):
                await asyncio.wait_for(wait_closed(), 2.0)
        elif protocol is not None:
            with contextlib.suppress(Exception, asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(protocol.lost), 2.0)

    async def _wait_lost(self) -> str:
        """Return (with a reason) when the open link is lost or stops answering keep-alives."""
        protocol = self._protocol
        if protocol is None:
            return "not open"
        interval = self.timing.keepalive_interval if self.has_keepalive else None
        while True:
            done, _ = await asyncio.wait({protocol.lost}, timeout=interval)
            if done:
                exc = protocol.lost.result()
                return f"connection lost ({exc})" if exc else "connection closed"
            try:
                await self._keepalive()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                return f"keep-alive failed ({exc})"

    async def _supervise(self) -> None:
        timing = self.timing
        shown = display_device(self.device)
        backoff = Backoff(timing.reconnect_min, timing.reconnect_max, timing.reconnect_jitter)
        while not self._stopping:
            try:
                reason = await self._wait_lost()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a driver bug must not end reception for good
                _LOGGER.exception("%s on %s: supervisor error", self.model, shown)
                reason = f"internal error ({exc})"
            _LOGGER.warning("%s on %s: %s; reconnecting", self.model, shown, reason)
            self._set_connected(False)
            await self._close()
            if await reconnect(
                self._connect, backoff, stopping=lambda: self._stopping, name=f"{self.model} on {shown}"
            ):
                self._set_connected(True)
