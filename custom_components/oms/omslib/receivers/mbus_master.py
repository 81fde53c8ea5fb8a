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

Frames, timing and addresses are in :mod:`omslib.wired`; the receiver that polls a list of
slaves for Home Assistant is :class:`~.mbus.MbusMasterReceiver`; the command line's generator
is :func:`omslib.listen_mbus.listen_mbus`. The module is over 500 lines because the master is
one state machine (request, answer window, retries, FCB per slave, the collision-descending
secondary scan) whose methods share its lock and port; splitting it would scatter that state.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable
import contextlib
from dataclasses import dataclass
import logging
from typing import Literal, cast

from ..decoder import Decoder
from ..errors import CrcError, OmsError
from ..keyring import Keyring
from ..telegram import Telegram
from ..wired import (
    ACK,
    ADDRESS_SELECTED,
    BAUD_RATES,
    DEFAULT_BAUD,
    FCB,
    MAX_FRAME,
    MAX_PRIMARY,
    REQ_UD2,
    SND_NKE,
    START_LONG,
    WILDCARD_MASK,
    check_primary,
    default_settle,
    default_timeout,
    header_secondary,
    merge_telegrams,
    normalize_secondary,
    parse_address,
    secondary_from_frame,
    select_frame,
    short_frame,
    take_frame,
)
from .base import FramerStats, NoAnswerError, PortOpenError, ReceiverError, display_device

_LOGGER = logging.getLogger(__name__)

_RX_LIMIT = 4096


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
        looked_at: float | None = None  # port.last_rx when we last looked for bytes after a deadline
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
                    if looked_at != port.last_rx:
                        # Our process may have run late (CPU load) while the answer already waits
                        # in the OS buffer: let the loop deliver it before calling the line quiet.
                        looked_at = port.last_rx
                        await _deliver_waiting_bytes()
                        continue
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
        address = check_primary(address, allow_selected=True)
        async with self._lock:
            await self._nke(address, retries=retries)

    async def _nke(self, address: int, *, retries: int | None = None) -> None:
        await self._transact(short_frame(SND_NKE, address), "ack", strict=True, retries=retries)
        self._next_fcb[address] = True

    async def read(self, address: int, *, reset: bool = True) -> MeterReading:
        """Read all telegrams of the slave at primary ``address`` (SND_NKE first unless ``reset=False``)."""
        address = check_primary(address)
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
        candidate = header_secondary(bad)
        if candidate is None:
            return "collision", None
        if candidate == mask:
            return "single", candidate
        try:
            await self._select(candidate, retries=retries)
            await self._request_selected(retries)
        except MbusChecksumError as err:
            if header_secondary(err.frame) == candidate:
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


async def _deliver_waiting_bytes() -> None:
    """Yield to the event loop a few times: for the selector to report bytes already received and
    the transport's callback to hand them to the protocol (a slave simulated in this very event
    loop needs a few more turns to answer first). Runs only after a deadline passed."""
    for _ in range(_DELIVERY_TURNS):
        await asyncio.sleep(0)


_DELIVERY_TURNS = 6


def _is_kind(frame: bytes, expect: Expect) -> bool:
    if expect == "ack":
        return frame == bytes((ACK,))
    # RSP_UD: C = 0x08, optionally with ACD (0x20) and DFC (0x10)
    return frame[0] == START_LONG and frame[4] & 0xCF == 0x08
