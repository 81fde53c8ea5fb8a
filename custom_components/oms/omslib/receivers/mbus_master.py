"""Wired M-Bus master (EN 13757-2/-3) over serialx: a level converter at 300–38400 Bd 8E1 or a TCP gateway.

:class:`MbusMaster` talks to the bus: :meth:`~MbusMaster.ping` (SND_NKE → E5),
:meth:`~MbusMaster.read` (REQ_UD2 with FCB/FCV per address, multi-telegram
readout while a telegram ends with DIF 0x1F), :meth:`~MbusMaster.select` (CI 52
with wildcards), :meth:`~MbusMaster.read_secondary`, :meth:`~MbusMaster.scan_primary`
and :meth:`~MbusMaster.scan_secondary` (libmbus-style wildcard search that
descends on collisions). One request is on the bus at a time (a lock), bus
errors are typed (:class:`MbusTimeout`, :class:`MbusCollision`,
:class:`MbusChecksumError`, all :class:`MbusError`), and one bad slave never
stops a scan or polling cycle.

:class:`MbusMasterReceiver` (kind ``"mbus"``) polls a list of addresses on an
interval and hands every telegram to ``on_frame``; :func:`listen_mbus` is the
generator a command line wraps.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
import contextlib
from dataclasses import dataclass, replace
import logging
import random
import re
from typing import Any, ClassVar, Literal, cast

from ..decoder import Decoder
from ..errors import CrcError, OmsError
from ..frame import Frame
from ..keyring import Keyring
from ..telegram import Telegram
from ..wired import (
    ACK,
    ADDRESS_SELECTED,
    FCB,
    REQ_UD2,
    SND_NKE,
    SND_UD,
    START_LONG,
    START_SHORT,
    STOP,
    checksum,
    long_frame,
    parse_wired,
    short_frame,
)
from .base import (
    FrameCallback,
    FramerStats,
    LinkMode,
    NoAnswerError,
    PortOpenError,
    Receiver,
    ReceiverError,
    ReceiverInfo,
    StateCallback,
    display_device,
    register_receiver,
)

_LOGGER = logging.getLogger(__name__)

BAUD_RATES: tuple[int, ...] = (300, 600, 1200, 2400, 4800, 9600, 19200, 38400)
DEFAULT_BAUD = 2400
MAX_PRIMARY = 250
"""Highest primary address; 0 is "unconfigured", 251–252 reserved, 253 selected, 254/255 broadcast."""
CI_SELECT = 0x52
"""CI of the secondary-address select frame (libmbus, pyMeterBus)."""
WILDCARD_MASK = "FFFFFFFFFFFFFFFF"
MAX_FRAME = 255 + 6
"""The longest wired frame: L is one byte."""
_LONG_HEADER_CIS = (0x72, 0x76)
"""Reply CIs whose data starts with the 8-byte secondary address (ID M Ver Med)."""

_SECONDARY_RE = re.compile(r"^[0-9A-F]{16}$")
_RX_LIMIT = 4096


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------


class MbusError(ReceiverError):
    """A wired M-Bus transaction failed."""

    code = "mbus_error"


class MbusTimeout(MbusError, NoAnswerError):
    """No (complete) answer within the answer window: no slave at that address."""

    code = "mbus_timeout"


class MbusCollision(MbusError):
    """Several slaves answered at once: garbled bytes, extra bytes after a frame."""

    code = "mbus_collision"


class MbusChecksumError(MbusError, CrcError):
    """A reply frame with a wrong checksum; :attr:`frame` holds it."""

    code = "mbus_checksum"
    frame: bytes = b""

    @classmethod
    def of(cls, frame: bytes, request: bytes) -> MbusChecksumError:
        err = cls(f"reply to {request.hex()} has a wrong checksum: {frame.hex()}")
        err.frame = frame
        return err


class MbusFrameError(MbusError):
    """A well-formed reply that does not fit the request (E5 where data was due, wrong C field…)."""

    code = "mbus_frame"


class MbusPortError(MbusError):
    """The serial port or TCP gateway is closed or was lost."""

    code = "mbus_port"


# ---------------------------------------------------------------------------
# Pure helpers: timing, addresses, framer
# ---------------------------------------------------------------------------


def default_timeout(baudrate: int) -> float:
    """Answer window after our request went out: 330 bit times + 50 ms (EN 13757-2) + 100 ms latency margin.

    USB converters and TCP gateways add latency, hence the margin; the time to
    transmit the request itself is added per request.
    """
    return 330 / baudrate + 0.05 + 0.1


def default_settle(baudrate: int) -> float:
    """Quiet time after a reply before a scan trusts it (extra bytes = collision): 3 characters + 20 ms."""
    return 3 * 11 / baudrate + 0.02


def normalize_secondary(secondary: str) -> str:
    """Upper-case 16-hex secondary address (mask): 8 ID digits (F = wildcard), M(2) in wire order, Ver, Med.

    Raises :class:`ValueError` for anything else.
    """
    text = secondary.strip().upper()
    if not _SECONDARY_RE.match(text):
        raise ValueError(
            f"secondary address {secondary!r} is not 16 hex digits: ID (F = wildcard), M, Ver, Med"
        )
    return text


def secondary_bytes(secondary: str) -> bytes:
    """The 8 bytes of a select frame: ID (BCD, little-endian) M(2) Ver Med.

    ``"00000001DADAFA1B"`` → ``01 00 00 00 DA DA FA 1B``.
    """
    text = normalize_secondary(secondary)
    return bytes.fromhex(text[:8])[::-1] + bytes.fromhex(text[8:])


def select_frame(secondary: str) -> bytes:
    """``68 0B 0B 68 73 FD 52 ID(4) M(2) Ver Med CS 16``."""
    return long_frame(SND_UD | FCB, ADDRESS_SELECTED, CI_SELECT, secondary_bytes(secondary))


def secondary_from_frame(raw: bytes) -> str:
    """The 16-hex secondary address of a RSP_UD long frame with a long header (CI 72/76)."""
    wf = parse_wired(raw)
    if wf.ci not in _LONG_HEADER_CIS or len(wf.data) < 8:
        raise MbusFrameError(f"reply with CI {wf.ci} carries no secondary address")
    data = wf.data
    return (data[3::-1].hex() + data[4:8].hex()).upper()


def secondary_matches(mask: str, secondary: str) -> bool:
    """Whether ``secondary`` answers a select for ``mask`` (ID nibble F, M FFFF, Ver FF, Med FF)."""
    mask, secondary = normalize_secondary(mask), normalize_secondary(secondary)
    if any(m not in ("F", s) for m, s in zip(mask[:8], secondary[:8], strict=True)):
        return False
    return all(mask[i : i + n] in ("F" * n, secondary[i : i + n]) for i, n in ((8, 4), (12, 2), (14, 2)))


def parse_address(text: str | int) -> int | str:
    """A primary address 0–250 (decimal) or a 16-hex secondary address."""
    if isinstance(text, int):
        address = text
    else:
        text = text.strip()
        if len(text) == 16:
            return normalize_secondary(text)
        if not text.isdigit():
            raise ValueError(f"{text!r} is neither a primary address 0–250 nor a 16-hex secondary address")
        address = int(text)
    if not 0 <= address <= MAX_PRIMARY:
        raise ValueError(f"primary address {address} is outside 0–{MAX_PRIMARY}")
    return address


FrameKind = Literal["incomplete", "frame", "bad_checksum", "garbage"]


def take_frame(buffer: bytearray) -> tuple[FrameKind, bytes]:
    """Take the first wired frame (E5, short or long) off the front of ``buffer``.

    Returns ``("incomplete", b"")`` (nothing consumed) while a plausible frame is
    still arriving, ``("frame", bytes)`` for a complete frame whose length,
    stop byte and checksum are valid, ``("bad_checksum", bytes)`` for a
    well-formed frame with a wrong checksum (only its start byte is consumed,
    so a frame hidden inside is still found), and ``("garbage", bytes)`` for
    bytes that start no frame (consumed up to the next possible start byte).
    L is one byte, so no frame is ever awaited beyond 261 bytes.
    """
    if not buffer:
        return "incomplete", b""
    start = buffer[0]
    if start == ACK:
        del buffer[:1]
        return "frame", bytes((ACK,))
    if start == START_SHORT:
        if len(buffer) < 5:
            return "incomplete", b""
        if buffer[4] == STOP:
            raw = bytes(buffer[:5])
            if checksum(raw[1:3]) == raw[3]:
                del buffer[:5]
                return "frame", raw
            del buffer[:1]
            return "bad_checksum", raw
    elif start == START_LONG:
        if len(buffer) < 4:
            return "incomplete", b""
        length = buffer[1]
        if buffer[2] == length and buffer[3] == START_LONG and length >= 3:
            total = length + 6
            if len(buffer) < total:
                return "incomplete", b""
            if buffer[total - 1] == STOP:
                raw = bytes(buffer[:total])
                if checksum(raw[4 : 4 + length]) == raw[4 + length]:
                    del buffer[:total]
                    return "frame", raw
                del buffer[:1]
                return "bad_checksum", raw
    # Not a frame here: skip to the next byte that could start one.
    end = next((i for i in range(1, len(buffer)) if buffer[i] in (ACK, START_SHORT, START_LONG)), len(buffer))
    garbage = bytes(buffer[:end])
    del buffer[:end]
    return "garbage", garbage


def mbus_framer(buffer: bytearray, stats: FramerStats | None = None) -> list[bytes]:
    """A :class:`~.base.Framer` over :func:`take_frame`: the complete valid frames at the front."""
    frames: list[bytes] = []
    while True:
        kind, data = take_frame(buffer)
        if kind == "incomplete":
            return frames
        if kind == "frame":
            frames.append(data)
            if stats is not None:
                stats.messages += 1
        elif stats is not None:
            if kind == "bad_checksum":
                stats.bad_checksum += 1
            else:
                stats.garbage_bytes += len(data)


def merge_telegrams(telegrams: Sequence[Telegram]) -> Telegram:
    """One telegram holding the records of a multi-telegram readout, in order (identity of the first)."""
    if not telegrams:
        raise ValueError("no telegrams to merge")
    first, last = telegrams[0], telegrams[-1]
    if len(telegrams) == 1:
        return first
    return replace(
        first,
        records=tuple(record for telegram in telegrams for record in telegram.records),
        more_records_follow=last.more_records_follow,
        manufacturer_data=b"".join(telegram.manufacturer_data for telegram in telegrams),
        decrypted=any(telegram.decrypted for telegram in telegrams),
        authenticated=all(telegram.authenticated for telegram in telegrams),
        extra={**first.extra, "telegrams": len(telegrams)},
    )


@dataclass(frozen=True, slots=True)
class MeterReading:
    """The (merged) readout of one slave and the raw frames it came in."""

    address: int | str
    """The primary address (int) or the 16-hex secondary address the slave was read by."""
    telegram: Telegram
    frames: list[bytes]
    """One long frame ``68 L L 68 … 16`` per telegram."""

    @property
    def secondary(self) -> str | None:
        """The slave's own 16-hex secondary address from the first reply (CI 72/76), else None."""
        try:
            return secondary_from_frame(self.frames[0])
        except (OmsError, MbusError):
            return None


# ---------------------------------------------------------------------------
# The master
# ---------------------------------------------------------------------------


class _BusProtocol(asyncio.Protocol):
    def __init__(self) -> None:
        loop = asyncio.get_running_loop()
        self.buffer = bytearray()
        self.event = asyncio.Event()
        self.last_rx = 0.0
        self.lost: asyncio.Future[Exception | None] = loop.create_future()
        self.transport: asyncio.WriteTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.WriteTransport, transport)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > _RX_LIMIT:
            del self.buffer[: len(self.buffer) - _RX_LIMIT]
        self.last_rx = asyncio.get_running_loop().time()
        self.event.set()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(exc)
        self.event.set()


Expect = Literal["ack", "data"]
ProbeResult = Literal["nothing", "single", "collision"]
ScanProgress = Callable[[int, int], None]
"""``progress(done, total)`` of a scan: primary addresses pinged, or secondary masks probed (total 0)."""
SCAN_RETRIES = 0
"""Extra tries per address in the first pass of a primary scan (an empty address costs an answer window)."""
RESCAN_RETRIES = 1
"""Extra tries per address in the second pass over the addresses that answered garbled."""


class MbusMaster:
    """An asyncio M-Bus master on a serialx port (device path, ``socket://host:port``, ``rfc2217://``).

    ``timeout`` is the answer window after a request has been sent (default
    :func:`default_timeout`), ``retries`` the extra attempts after a timeout or
    checksum error, ``pause`` the quiet time between a reply and the next
    request, ``settle`` how long a scan waits for extra (colliding) bytes after
    a reply, ``max_telegrams`` the cap of a multi-telegram readout.
    """

    def __init__(
        self,
        device: str,
        *,
        baudrate: int = DEFAULT_BAUD,
        timeout: float | None = None,
        retries: int = 2,
        pause: float = 0.02,
        settle: float | None = None,
        max_telegrams: int = 16,
        keyring: Keyring | None = None,
        decoder: Decoder | None = None,
    ) -> None:
        if baudrate not in BAUD_RATES:
            raise ValueError(f"M-Bus baud rate {baudrate} is not one of {', '.join(map(str, BAUD_RATES))}")
        if retries < 0 or max_telegrams < 1:
            raise ValueError("retries must be >= 0 and max_telegrams >= 1")
        self.device = device
        self.baudrate = baudrate
        self.timeout = default_timeout(baudrate) if timeout is None else timeout
        self.retries = retries
        self.pause = pause
        self.settle = default_settle(baudrate) if settle is None else settle
        self.max_telegrams = max_telegrams
        self.decoder = decoder or Decoder(keyring)
        self._protocol: _BusProtocol | None = None
        self._lock = asyncio.Lock()
        self._next_fcb: dict[int | str, bool] = {}
        self._quiet_until = 0.0

    # -- port ---------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        protocol = self._protocol
        return protocol is not None and not protocol.lost.done()

    @property
    def lost(self) -> asyncio.Future[Exception | None] | None:
        """Resolves when the open port is lost (None while closed)."""
        return None if self._protocol is None else self._protocol.lost

    async def open(self) -> None:
        """Open the port at :attr:`baudrate` 8E1; :class:`PortOpenError` when that fails."""
        if self.is_open:
            return
        await self.close()
        import serialx

        protocol = _BusProtocol()
        try:
            await serialx.create_serial_connection(
                asyncio.get_running_loop(),
                lambda: protocol,
                self.device,
                baudrate=self.baudrate,
                parity=serialx.Parity.EVEN,
                stopbits=serialx.StopBits.ONE,
                byte_size=8,
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise PortOpenError(f"Cannot open {display_device(self.device)}: {exc}") from exc
        self._protocol = protocol
        self._next_fcb.clear()

    async def close(self) -> None:
        """Close the port. Idempotent."""
        protocol, self._protocol = self._protocol, None
        if protocol is None or protocol.transport is None:
            return
        transport = protocol.transport
        transport.close()
        wait_closed = getattr(transport, "wait_closed", None)
        with contextlib.suppress(Exception, asyncio.TimeoutError):
            if wait_closed is not None:
                await asyncio.wait_for(wait_closed(), 2.0)
            else:
                await asyncio.wait_for(asyncio.shield(protocol.lost), 2.0)

    async def __aenter__(self) -> MbusMaster:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- one request --------------------------------------------------------

    def _port(self) -> _BusProtocol:
        protocol = self._protocol
        if protocol is None or protocol.transport is None:
            raise MbusPortError(f"M-Bus port {display_device(self.device)} is not open")
        if protocol.lost.done() or protocol.transport.is_closing():
            raise MbusPortError(f"M-Bus port {display_device(self.device)} was lost")
        return protocol

    async def _exchange(self, request: bytes, expect: Expect, *, strict: bool) -> bytes:
        """Send ``request`` once and return the reply frame.

        ``strict`` (scans, select, ping): wait until the line is quiet for
        :attr:`settle` and accept only exactly one clean frame; anything else
        that arrived is a :class:`MbusCollision`. Otherwise return the first
        frame of the expected kind as soon as it is complete, skipping garbage.
        """
        loop = asyncio.get_running_loop()
        delay = self._quiet_until - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        port = self._port()
        port.buffer.clear()
        port.last_rx = 0.0
        assert port.transport is not None
        try:
            port.transport.write(request)
        except Exception as exc:
            raise MbusPortError(f"Cannot write to {display_device(self.device)}: {exc}") from exc
        sent = loop.time()
        first_deadline = sent + len(request) * 11 / self.baudrate + self.timeout
        frames: list[bytes] = []
        noise = 0
        bad: bytes | None = None
        clean_bad = False  # the first thing received was a well-formed frame with a wrong checksum
        try:
            while True:
                port.event.clear()
                while True:
                    kind, data = take_frame(port.buffer)
                    if kind == "incomplete":
                        break
                    if kind == "garbage":
                        noise += len(data)
                    elif kind == "bad_checksum":
                        if bad is None and not frames and not noise:
                            del port.buffer[: len(data) - 1]  # take the whole frame
                            bad, clean_bad = data, True
                        else:
                            noise += 1
                    elif data != request:  # a converter's local echo is not an answer
                        frames.append(data)
                if port.lost.done():
                    raise MbusPortError(f"M-Bus port {display_device(self.device)} was lost")
                heard = port.last_rx > 0
                if not strict:
                    good = next((f for f in frames if _is_kind(f, expect)), None)
                    if good is not None:
                        if noise or len(frames) > 1:
                            _LOGGER.debug("M-Bus: %d garbage bytes around the reply skipped", noise)
                        return good
                    if clean_bad and bad is not None:
                        raise MbusChecksumError.of(bad, request)
                    until = port.last_rx + self.timeout if heard else first_deadline
                else:
                    until = port.last_rx + self.settle if heard else first_deadline
                    if heard and port.buffer:
                        # a frame still arriving: wait for it (bounded by the byte gap)
                        until = max(until, port.last_rx + min(self.timeout, MAX_FRAME * 11 / self.baudrate))
                remaining = until - loop.time()
                if remaining <= 0:
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(port.event.wait(), remaining)
            # the line went quiet
            if not heard:
                raise MbusTimeout(f"no answer to {request.hex()}")
            if strict:
                if clean_bad and bad is not None and not frames and not noise and not port.buffer:
                    raise MbusChecksumError.of(bad, request)
                if len(frames) == 1 and not noise and bad is None and not port.buffer:
                    if _is_kind(frames[0], expect):
                        return frames[0]
                    raise MbusFrameError(f"unexpected reply {frames[0].hex()} to {request.hex()}")
                raise MbusCollision(
                    f"garbled answer to {request.hex()}: {len(frames)} frame(s), {noise} garbage byte(s)"
                    + (", a bad checksum" if bad is not None else "")
                    + (f", {len(port.buffer)} incomplete byte(s)" if port.buffer else "")
                )
            if frames:
                raise MbusFrameError(f"unexpected reply {frames[0].hex()} to {request.hex()}")
            if bad is not None:
                raise MbusChecksumError.of(bad, request)
            raise MbusTimeout(f"incomplete answer to {request.hex()} ({len(port.buffer)} bytes)")
        finally:
            port.buffer.clear()
            self._quiet_until = loop.time() + self.pause

    async def _transact(
        self, request: bytes, expect: Expect, *, strict: bool = False, retries: int | None = None
    ) -> bytes:
        """:meth:`_exchange` with retries after timeouts and checksum errors (not after collisions)."""
        attempts = (self.retries if retries is None else retries) + 1
        for attempt in range(attempts):
            try:
                return await self._exchange(request, expect, strict=strict)
            except (MbusTimeout, MbusChecksumError, MbusFrameError) as err:
                if attempt + 1 >= attempts:
                    raise
                _LOGGER.debug("M-Bus %s: %s; retrying", request.hex(), err)
        raise AssertionError("unreachable")  # pragma: no cover

    # -- primary addressing -------------------------------------------------

    async def ping(self, address: int, *, retries: int | None = None) -> None:
        """SND_NKE to ``address``; returns when the slave acknowledged with E5.

        Also resets the slave's FCB: the next REQ_UD2 is sent with FCB set.
        """
        address = _check_primary(address, allow_selected=True)
        async with self._lock:
            await self._nke(address, retries=retries)

    async def _nke(self, address: int, *, retries: int | None = None) -> None:
        await self._transact(short_frame(SND_NKE, address), "ack", strict=True, retries=retries)
        self._next_fcb[address] = True

    async def read(self, address: int, *, reset: bool = True) -> MeterReading:
        """Read all telegrams of the slave at primary ``address`` (SND_NKE first unless ``reset=False``)."""
        address = _check_primary(address)
        frames, telegrams, error = await self._read_primary(address, reset=reset)
        if error is not None:
            raise error
        return MeterReading(address, merge_telegrams(telegrams), frames)

    async def _read_primary(
        self, address: int, *, reset: bool = True
    ) -> tuple[list[bytes], list[Telegram], OmsError | None]:
        async with self._lock:
            if reset:
                await self._nke(address)
            return await self._read_telegrams(address, address)

    async def _read_telegrams(
        self, a_field: int, key: int | str
    ) -> tuple[list[bytes], list[Telegram], OmsError | None]:
        """REQ_UD2 until a telegram does not end with DIF 0x1F (at most :attr:`max_telegrams`).

        The FCB toggles after every answered request; a retry after a lost
        answer keeps it, so the slave repeats its last telegram. A telegram the
        decoder rejects ends the readout: its frame is kept, the error returned.
        """
        frames: list[bytes] = []
        telegrams: list[Telegram] = []
        for _ in range(self.max_telegrams):
            fcb = self._next_fcb.get(key, True)
            raw = await self._transact(short_frame(REQ_UD2 | (FCB if fcb else 0), a_field), "data")
            self._next_fcb[key] = not fcb
            frames.append(raw)
            try:
                telegram = self.decoder.decode(raw)
            except OmsError as err:
                return frames, telegrams, err
            telegrams.append(telegram)
            if not telegram.more_records_follow:
                break
        else:
            _LOGGER.warning(
                "M-Bus slave %s: still more records after %d telegrams; readout truncated",
                key,
                self.max_telegrams,
            )
        return frames, telegrams, None

    async def scan_primary(
        self,
        addresses: Iterable[int] = range(MAX_PRIMARY + 1),
        *,
        retries: int | None = None,
        progress: ScanProgress | None = None,
    ) -> list[int]:
        """Ping every address; return those where something answered (see :meth:`iter_scan_primary`)."""
        return [
            address async for address in self.iter_scan_primary(addresses, retries=retries, progress=progress)
        ]

    async def iter_scan_primary(
        self,
        addresses: Iterable[int] = range(MAX_PRIMARY + 1),
        *,
        retries: int | None = None,
        progress: ScanProgress | None = None,
    ) -> AsyncIterator[int]:
        """Ping every address and yield each one where a slave answered, as soon as it did.

        The first pass sends one SND_NKE per address (``retries`` extra tries,
        default :data:`SCAN_RETRIES`): an empty address costs one answer window,
        so a full scan at 2400 Bd takes about 85 s. An address that answered
        garbled (collision, wrong checksum, unexpected frame) has a slave, or
        several: the second pass pings those again with :data:`RESCAN_RETRIES`;
        a clean E5 or a garbled answer again yields it (the latter with a
        warning: several slaves share the address), silence drops it (line
        noise). ``progress(done, total)`` is called after each first-pass address.
        The bus lock is free between pings, so the caller can read a slave
        while the scan is suspended at the ``yield``.
        """
        targets = list(addresses)
        first_retries = SCAN_RETRIES if retries is None else retries
        garbled: list[int] = []
        for done, address in enumerate(targets, 1):
            try:
                await self.ping(address, retries=first_retries)
            except MbusTimeout:
                pass
            except MbusPortError:
                raise
            except MbusError as err:
                _LOGGER.debug(
                    "M-Bus: garbled answer at primary address %d: %s; asking again later", address, err
                )
                garbled.append(address)
            else:
                if progress is not None:
                    progress(done, len(targets))
                yield address
                continue
            if progress is not None:
                progress(done, len(targets))
        for address in garbled:
            try:
                await self.ping(address, retries=RESCAN_RETRIES)
            except MbusTimeout:
                _LOGGER.debug("M-Bus: primary address %d is silent on the second pass", address)
                continue
            except MbusCollision:
                _LOGGER.warning("M-Bus: several slaves answer at primary address %d", address)
            except MbusPortError:
                raise
            except MbusError as err:
                _LOGGER.warning("M-Bus: garbled answer at primary address %d: %s", address, err)
            yield address

    # -- secondary addressing -----------------------------------------------

    async def select(self, secondary: str) -> None:
        """Select the slave matching ``secondary`` (wildcards allowed); it answers E5.

        :class:`MbusTimeout` when none matches, :class:`MbusCollision` when several answer.
        """
        secondary = normalize_secondary(secondary)
        async with self._lock:
            await self._select(secondary)
            self._next_fcb[secondary] = True

    async def _select(self, secondary: str, *, retries: int | None = None) -> None:
        await self._transact(select_frame(secondary), "ack", strict=True, retries=retries)

    async def deselect(self) -> None:
        """SND_NKE to 253: the selected slave is deselected (no answer expected from all slaves)."""
        async with self._lock:
            with contextlib.suppress(MbusTimeout):
                await self._transact(short_frame(SND_NKE, ADDRESS_SELECTED), "ack", strict=True, retries=0)

    async def read_secondary(self, secondary: str) -> MeterReading:
        """Select ``secondary`` and read all its telegrams through address 253."""
        secondary = normalize_secondary(secondary)
        frames, telegrams, error = await self._read_secondary(secondary)
        if error is not None:
            raise error
        return MeterReading(secondary, merge_telegrams(telegrams), frames)

    async def _read_secondary(self, secondary: str) -> tuple[list[bytes], list[Telegram], OmsError | None]:
        async with self._lock:
            await self._select(secondary)
            self._next_fcb[secondary] = True  # a fresh selection starts the readout with FCB set
            return await self._read_telegrams(ADDRESS_SELECTED, secondary)

    async def read_any(self, address: int | str) -> MeterReading:
        """:meth:`read` for an int, :meth:`read_secondary` for a 16-hex string."""
        target = parse_address(address)
        if isinstance(target, str):
            return await self.read_secondary(target)
        return await self.read(target)

    async def probe_secondary(
        self, mask: str, *, retries: int | None = None
    ) -> tuple[ProbeResult, str | None]:
        """One step of the secondary search: select ``mask`` and, on a single E5, read the address.

        Returns ``("nothing", None)``, ``("single", secondary)`` or ``("collision", None)``.
        Two slaves acknowledging in step give one clean E5; their overlapping
        RSP_UD then shows the collision.
        """
        mask = normalize_secondary(mask)
        async with self._lock:
            try:
                await self._select(mask, retries=retries)
            except MbusTimeout:
                return "nothing", None
            except (MbusCollision, MbusChecksumError, MbusFrameError):
                return "collision", None
            try:
                raw = await self._request_selected(retries)
            except MbusTimeout:
                _LOGGER.debug("M-Bus: a slave acknowledged %s but sent no data", mask)
                return "nothing", None
            except MbusChecksumError as err:
                return await self._single_or_collision(mask, err.frame, retries)
            except (MbusCollision, MbusFrameError):
                return "collision", None
        try:
            found = secondary_from_frame(raw)
        except (OmsError, MbusError) as err:
            _LOGGER.warning("M-Bus: the slave selected by %s sent no secondary address: %s", mask, err)
            return "nothing", None
        return "single", found

    async def _request_selected(self, retries: int | None) -> bytes:
        return await self._transact(
            short_frame(REQ_UD2 | FCB, ADDRESS_SELECTED), "data", strict=True, retries=retries
        )

    async def _single_or_collision(
        self, mask: str, bad: bytes, retries: int | None
    ) -> tuple[ProbeResult, str | None]:
        """A clean frame with a wrong checksum: one broken slave, or two whose replies overlapped exactly.

        Select the address in its header alone: if that slave sends a bad frame
        with the same address again, it is a single (broken) slave.
        """
        candidate = _header_secondary(bad)
        if candidate is None:
            return "collision", None
        if candidate == mask:
            return "single", candidate
        try:
            await self._select(candidate, retries=retries)
            await self._request_selected(retries)
        except MbusChecksumError as err:
            if _header_secondary(err.frame) == candidate:
                _LOGGER.warning("M-Bus slave %s answers with wrong checksums", candidate)
                return "single", candidate
        except (MbusTimeout, MbusCollision, MbusFrameError):
            pass
        return "collision", None

    async def scan_secondary(
        self, mask: str = WILDCARD_MASK, *, retries: int | None = None, progress: ScanProgress | None = None
    ) -> list[str]:
        """Every slave matching ``mask`` by wildcard search (see :meth:`iter_scan_secondary`)."""
        return [found async for found in self.iter_scan_secondary(mask, retries=retries, progress=progress)]

    async def iter_scan_secondary(
        self, mask: str = WILDCARD_MASK, *, retries: int | None = None, progress: ScanProgress | None = None
    ) -> AsyncIterator[str]:
        """Yield every slave matching ``mask`` as soon as the wildcard search singles it out.

        libmbus ``mbus_scan_2nd_address_range``: the whole mask is probed
        first; on a collision the ID digits that are wildcards are fixed one at
        a time to 0–9, descending where slaves still collide. Collisions between
        slaves with the same ID (they differ only in M, Ver or Med) cannot be
        resolved and are logged. ``progress(probes, 0)`` follows every probe.
        """
        mask = normalize_secondary(mask)
        found: list[str] = []
        probes = [0]

        async def probe(candidate: str) -> tuple[ProbeResult, str | None]:
            result = await self.probe_secondary(candidate, retries=retries)
            probes[0] += 1
            if progress is not None:
                progress(probes[0], 0)
            return result

        async def descend(prefix: str, pos: int) -> AsyncIterator[str]:
            while pos < 8 and prefix[pos] != "F":
                pos += 1  # a fixed digit of the caller's mask
            if pos >= 8:
                _LOGGER.warning("M-Bus: slaves matching %s collide and cannot be told apart", prefix)
                return
            for digit in "0123456789":
                candidate = prefix[:pos] + digit + prefix[pos + 1 :]
                result, secondary = await probe(candidate)
                if result == "single" and secondary is not None:
                    if secondary not in found:
                        found.append(secondary)
                        yield secondary
                elif result == "collision":
                    async for deeper in descend(candidate, pos + 1):
                        yield deeper

        result, secondary = await probe(mask)
        if result == "single" and secondary is not None:
            yield secondary
        elif result == "collision":
            async for each in descend(mask, 0):
                yield each

    async def scan(
        self, what: str, *, retries: int | None = None, progress: ScanProgress | None = None
    ) -> list[int | str]:
        """``"primary"``, ``"secondary"`` or a 16-hex mask (secondary search below it)."""
        return [found async for found in self.iter_scan(what, retries=retries, progress=progress)]

    async def iter_scan(
        self, what: str, *, retries: int | None = None, progress: ScanProgress | None = None
    ) -> AsyncIterator[int | str]:
        """:meth:`scan`, yielding each slave as soon as it is found."""
        if what == "primary":
            async for address in self.iter_scan_primary(retries=retries, progress=progress):
                yield address
            return
        mask = WILDCARD_MASK if what == "secondary" else normalize_secondary(what)
        async for secondary in self.iter_scan_secondary(mask, retries=retries, progress=progress):
            yield secondary


def _header_secondary(raw: bytes) -> str | None:
    """The secondary address in a long frame's header, checksum not checked."""
    if len(raw) < 15 or raw[0] != START_LONG or raw[6] not in _LONG_HEADER_CIS:
        return None
    try:
        return normalize_secondary((raw[10:6:-1].hex() + raw[11:15].hex()).upper())
    except ValueError:
        return None


def _is_kind(frame: bytes, expect: Expect) -> bool:
    if expect == "ack":
        return frame == bytes((ACK,))
    # RSP_UD: C = 0x08, optionally with ACD (0x20) and DFC (0x10)
    return frame[0] == START_LONG and frame[4] & 0xCF == 0x08


def _check_primary(address: int, *, allow_selected: bool = False) -> int:
    if 0 <= address <= MAX_PRIMARY or (allow_selected and address == ADDRESS_SELECTED):
        return address
    raise ValueError(f"primary address {address} is outside 0–{MAX_PRIMARY}")


# ---------------------------------------------------------------------------
# Receiver contract: poll a list of slaves
# ---------------------------------------------------------------------------


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
        on_frame: FrameCallback,
        on_state: StateCallback | None = None,
        link_mode: LinkMode = "c1t1",
        receiver_id: str = "",
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
    ) -> None:
        super().__init__(
            device, on_frame=on_frame, on_state=on_state, link_mode=link_mode, receiver_id=receiver_id
        )
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
        delay = self.reconnect_min
        while not self._stopping:
            await asyncio.sleep(delay * (1 + random.random() * 0.1))
            try:
                await self.master.open()
            except ReceiverError as err:
                _LOGGER.debug("M-Bus master on %s: reopen failed: %s", display_device(self.device), err)
                delay = min(delay * 2, self.reconnect_max)
                continue
            _LOGGER.info("M-Bus master on %s: reconnected", display_device(self.device))
            self._set_connected(True)
            return


# ---------------------------------------------------------------------------
# Command-line helper
# ---------------------------------------------------------------------------


async def listen_mbus(
    device: str,
    baud: int,
    scan: str | None,
    poll: list[str],
    timeout: float | None,  # noqa: ASYNC109 - the answer window of each request
    keyring: Keyring | None,
    *,
    interval: float | None = None,
    retries: int = 2,
    **master_options: Any,
) -> AsyncIterator[MeterReading]:
    """Yield a :class:`MeterReading` for every slave read on ``device``.

    ``scan`` is None, ``"primary"``, ``"secondary"`` or a 16-hex search mask;
    the slaves in ``poll`` (decimal primary addresses or 16-hex secondary
    addresses) are read first, then each slave the scan finds as soon as it is
    found (the scan goes on after that read). With ``interval`` the reads
    repeat forever, else once. Failures of single slaves are logged and
    skipped; :class:`PortOpenError` / :class:`MbusPortError` end the generator.
    """
    targets: list[int | str] = [parse_address(p) for p in poll]
    master = MbusMaster(
        device, baudrate=baud, timeout=timeout, retries=retries, keyring=keyring, **master_options
    )

    async def read(target: int | str) -> MeterReading | None:
        try:
            return await master.read_any(target)
        except MbusPortError:
            raise
        except (MbusError, OmsError) as err:
            _LOGGER.warning("M-Bus slave %s: %s", target, err)
            return None

    async with master:
        first = list(targets)
        for target in first:
            if (reading := await read(target)) is not None:
                yield reading
        if scan:
            async for found in master.iter_scan(scan):
                if found in targets:
                    continue
                targets.append(found)
                if (reading := await read(found)) is not None:
                    yield reading  # each slave as soon as the scan found it
        while interval is not None:
            await asyncio.sleep(interval)
            for target in targets:
                if (reading := await read(target)) is not None:
                    yield reading
