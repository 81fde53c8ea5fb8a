"""See what is on the air (or on the wired bus) without Home Assistant: ``python -m omslib.listen``.

Usage (also through ``scripts/listen``)::

    listen [--receiver KIND] [--mode t1|c1|c1t1|s1] [--key HEX | --key ID=HEX]...
           [--count N] [--timeout S] [--baud N] [--answer-timeout S]
           [--scan primary|secondary|MASK] [--poll ADDR[,ADDR...]] [--interval S] [--retries N]
           [--map DEVEUI=METERID[,MEDIUM[,MANUFACTURER[,VERSION]]]]...
           DEVICE

``KIND`` is ``auto`` (default) or a receiver kind: im871a, iu891a, amber, cul,
rc1180, rtlwmbus, rtl433, hex, replay, mbus, lpwan. ``DEVICE`` is a serial port, a URL
(``socket://host:port``, ``rfc2217://…``, ``tcp://host:port`` for line
receivers), ``-`` (stdin, line receivers), a shell command (rtlwmbus, rtl433)
or a capture file (replay; ``capture.txt?loop=0&speed=10`` plays it once, ten
times faster). ``auto`` reads stdin (``-``) as hex lines, a regular file as a
replay capture, and otherwise probes the port for a known stick (reported on
stderr). ``lpwan`` reads network-server uplinks (The Things Stack, ChirpStack,
mioty) from ``-`` (JSON lines) or ``mqtt://host[:port]/topic-filter``; ``--map``
names the meter behind a DevEUI (see :mod:`.lpwan_listen`).

Prints one JSON object per telegram on stdout, flushed per line: the
``scripts/decode`` schema plus ``rssi_dbm``, ``receiver`` (the kind),
``link_mode`` and ``received_at`` (ISO 8601, local time); with ``--receiver
mbus`` also ``address`` (the primary number or the 16-hex secondary address the
slave was read by). A telegram that does not decode, or a wired slave that
does not answer, is a line with ``"ok": false`` (header fields filled when
known). Key material is never printed. ``--count N`` stops after N lines;
``--timeout S`` stops S seconds after the receiver started.

Wired M-Bus (``--receiver mbus``) needs ``--scan`` and/or ``--poll``: the
polled slaves are read first, then each slave the scan finds as soon as it is
found (the scan reports its progress on stderr); the reads run once, or every
``--interval`` seconds. ``--answer-timeout`` is the answer window of each
request (stick handshakes for the wireless receivers), ``--retries`` the extra
attempts per read (a scan asks each address once, and asks the addresses that
answered garbled once more, with one retry).

A one-line summary goes to stderr at the end (telegrams, meters heard, errors
by code). Exit status: 0 after ``--count`` lines, ``--timeout`` seconds or the
end of a source that does not restart (stdin EOF, replay with ``loop=0``, the
last read of a wired bus without ``--interval``); 2 for usage errors and when
the device cannot be opened, does not answer or answers as another kind of
receiver (one line on stderr); 130 after Ctrl-C (SIGINT) and 143 after SIGTERM,
both after a clean stop and the summary.

Over 500 lines because it is the whole command: argument checks, the per-kind runners (stick,
line source, wired bus, LPWAN) that share one output and summary, and signal handling. The
protocol work lives in the library modules it calls.
"""

from __future__ import annotations

import argparse
import asyncio
from collections import Counter
from collections.abc import Callable, Sequence
import contextlib
from datetime import datetime
import logging
import math
import os
import signal
import stat
import sys
import threading
import time
from typing import IO, Any

from .cli import UsageError, exit_with, parse_keys, redact_keys
from .decoder import Decoder
from .errors import OmsError
from .frame import Frame
from .jsonout import decode_one, dumps, error_json, telegram_json
from .keyring import Keyring, parse_key
from .receivers import (
    LINK_MODES,
    NoAnswerError,
    Receiver,
    ReceiverError,
    ReceiverInfo,
    StreamReceiver,
    StreamTiming,
    create_receiver,
    detect,
)
from .receivers.base import LINK_MODE_LABELS, LinkMode, display_device, with_article
from .receivers.lines import LineReceiver
from .receivers.mbus_master import MbusError, MbusMaster, MbusPortError, MeterReading
from .receivers.replay import ReplayReceiver
from .wired import BAUD_RATES, DEFAULT_BAUD, normalize_secondary, parse_address

JsonObj = dict[str, Any]

_WIRELESS = ("auto", "im871a", "iu891a", "amber", "cul", "rc1180", "rtlwmbus", "rtl433", "hex", "replay")
KINDS = (*_WIRELESS, "mbus", "lpwan")
STICKS = frozenset({"im871a", "iu891a", "amber", "cul", "rc1180"})
"""Kinds whose hardware is put into a link mode (``--mode`` matters)."""
USAGE = (
    "usage: listen [--receiver KIND] [--mode t1|c1|c1t1|s1] [--key HEX | --key ID=HEX]... "
    "[--count N] [--timeout S] [--baud N] [--scan primary|secondary] [--poll ADDR[,ADDR...]] "
    "[--map DEVEUI=METERID[,MEDIUM]]... DEVICE\n"
)
EXIT_OK = 0
EXIT_ERROR = 2
EXIT_SIGINT = 130
EXIT_SIGTERM = 143


# --------------------------------------------------------------------------- arguments


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # never echo key-like arguments
        raise UsageError(redact_keys(message))


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(text)
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError(text)
    return value


def _scan(text: str) -> str:
    if text in ("primary", "secondary"):
        return text
    return normalize_secondary(text)  # ValueError: argparse reports "invalid _scan value"


_scan.__name__ = "scan (primary, secondary or a 16-hex mask)"
_positive_int.__name__ = "positive integer"
_positive_float.__name__ = "positive number"
_non_negative_int.__name__ = "non-negative integer"


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="listen",
        description="Print the wM-Bus / M-Bus telegrams a receiver hears as JSON lines (decoded).",
        epilog="Exit status: 0 after --count, --timeout or the end of the source; 2 for usage errors "
        "and devices that cannot be opened, do not answer or are another receiver; 130 after Ctrl-C, "
        "143 after SIGTERM (both after the summary on stderr).",
    )
    parser.add_argument("--receiver", choices=KINDS, default="auto", help="receiver kind (default: auto)")
    parser.add_argument("--mode", choices=LINK_MODES, help="link mode of a stick (default: c1t1)")
    parser.add_argument(
        "--key",
        action="append",
        default=[],
        metavar="[ID=]HEX",
        help="AES-128 key: HEX for any meter, ID=HEX for one meter (repeatable)",
    )
    parser.add_argument("--count", type=_positive_int, metavar="N", help="stop after N telegrams")
    parser.add_argument("--timeout", type=_positive_float, metavar="S", help="stop after S seconds")
    parser.add_argument("--baud", type=_positive_int, metavar="N", help="serial baud rate")
    parser.add_argument(
        "--answer-timeout",
        type=_positive_float,
        metavar="S",
        help="seconds to wait for each answer of the stick or M-Bus slave",
    )
    parser.add_argument("--scan", type=_scan, help="mbus: scan primary or secondary addresses (or a mask)")
    parser.add_argument(
        "--poll", action="append", default=[], metavar="ADDR[,ADDR...]", help="mbus: addresses to read"
    )
    parser.add_argument("--interval", type=_positive_float, metavar="S", help="mbus: repeat reads every S s")
    parser.add_argument("--retries", type=_non_negative_int, metavar="N", help="mbus: retries per request")
    parser.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="DEVEUI=METERID[,MEDIUM[,MAN[,VERSION]]]",
        help="lpwan: the meter behind a LoRaWAN DevEUI / mioty EUI (repeatable)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log receiver details to stderr")
    parser.add_argument("device", metavar="DEVICE", help="serial port, URL, '-' (stdin), command or file")
    return parser


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """Parse and cross-check the arguments; raises :class:`UsageError` (message without key material)."""
    args = _build_parser().parse_args(list(argv))
    kind: str = args.receiver
    polls: list[int | str] = []
    for spec in args.poll:
        for part in spec.split(","):
            if not part.strip():
                continue
            try:
                polls.append(parse_address(part))
            except ValueError as err:
                raise UsageError(f"--poll: {redact_keys(str(err))}") from None
    args.poll = polls
    if kind == "mbus":
        if args.scan is None and not polls:
            raise UsageError("--receiver mbus needs --scan primary|secondary and/or --poll ADDR")
        if args.mode is not None:
            raise UsageError("--mode does not apply to --receiver mbus")
        if args.baud is not None and args.baud not in BAUD_RATES:
            raise UsageError(f"--baud: M-Bus runs at {', '.join(map(str, BAUD_RATES))}")
    else:
        for name in ("scan", "interval", "retries"):
            if getattr(args, name) is not None:
                raise UsageError(f"--{name} only applies to --receiver mbus")
        if polls:
            raise UsageError("--poll only applies to --receiver mbus")
    if kind == "replay" and args.baud is not None:
        raise UsageError("--baud does not apply to --receiver replay")
    args.mapping = _lpwan_mapping(kind, args)
    args.keyring = parse_keys(args.key)
    return args


def _lpwan_mapping(kind: str, args: argparse.Namespace) -> dict[str, Any]:
    """``--map`` specs -> {DevEUI: DeviceMapping}; only with ``--receiver lpwan``."""
    from .lpwan import parse_mapping

    if kind != "lpwan":
        if args.map:
            raise UsageError("--map only applies to --receiver lpwan")
        return {}
    for name in ("mode", "baud", "answer_timeout"):
        if getattr(args, name) is not None:
            raise UsageError(f"--{name.replace('_', '-')} does not apply to --receiver lpwan")
    mapping: dict[str, Any] = {}
    for spec in args.map:
        try:
            eui, device = parse_mapping(spec)
        except ValueError as err:
            raise UsageError(f"--map: {redact_keys(str(err))}") from None
        mapping[eui] = device
    return mapping


# --------------------------------------------------------------------------- output


SCAN_PROGRESS_EVERY = 25
"""A progress line on stderr every this many addresses (primary) or searches (secondary) of a scan."""


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def iso_time(timestamp: float) -> str:
    """Unix time -> ISO 8601 in local time with its UTC offset, milliseconds."""
    return datetime.fromtimestamp(timestamp).astimezone().isoformat(timespec="milliseconds")


def _scrubber(keys: Sequence[bytes]) -> Callable[[str], str]:
    """Removes key material from messages (defence in depth: the decoder never puts it there)."""
    needles = sorted({s for k in keys if k for s in (k.hex(), k.hex().upper())}, key=len, reverse=True)
    if not needles:
        return str

    def scrub(text: str) -> str:
        for needle in needles:
            text = text.replace(needle, "<key>")
        return text

    return scrub


class Session:
    """Decodes what the receiver hands over, prints it and keeps the numbers for the summary."""

    def __init__(
        self,
        stdout: IO[bytes],
        kind: str,
        decoder: Decoder,
        scrub: Callable[[str], str],
        count: int | None,
    ) -> None:
        self.stdout = stdout
        self.kind = kind
        self.decoder = decoder
        self.scrub = scrub
        self.count = count
        self.telegrams = 0
        self.errors: Counter[str] = Counter()
        self.meters: set[tuple[str | None, str]] = set()
        self.done = asyncio.Event()
        self.stdout_closed = False
        self.held: list[Frame] | None = None
        """Frames received while the receiver starts: printed once it has started, else dropped
        (a wrong stick can pass garbage on before its handshake fails)."""

    def hold(self) -> None:
        self.held = []

    def release(self, deliver: bool) -> None:
        held, self.held = self.held, None
        if deliver and held:
            for frame in held:
                self.on_frame(frame)

    # -- input ----------------------------------------------------------------------

    def on_frame(self, frame: Frame) -> None:
        """A receiver's ``on_frame``: decode, print (held back while the receiver is starting)."""
        if self.held is not None:
            self.held.append(frame)
            return
        if self.done.is_set():
            return
        obj = decode_one(self.decoder, frame.raw, self.scrub)
        self.emit(obj, frame.rssi_dbm, frame.link_mode, frame.received_at)

    def on_reading(self, reading: MeterReading) -> None:
        """A wired slave's (merged) readout."""
        if self.done.is_set():
            return
        obj = telegram_json(reading.telegram)
        obj["address"] = reading.address
        self.emit(obj, None, "mbus", time.time())

    def on_mbus_error(self, address: int | str, err: MbusError | OmsError) -> None:
        """A wired slave that did not answer, answered garbage or sent a telegram that does not decode."""
        if self.done.is_set():
            return
        if isinstance(err, OmsError):
            obj = error_json(err.code, self.scrub(err.message), err.header)
        else:
            obj = error_json(err.code, self.scrub(str(err)))
        obj["address"] = address
        self.emit(obj, None, "mbus", time.time())

    # -- output ---------------------------------------------------------------------

    def emit(self, obj: JsonObj, rssi_dbm: float | None, link_mode: str | None, received_at: float) -> None:
        obj["rssi_dbm"] = rssi_dbm
        obj["receiver"] = self.kind
        obj["link_mode"] = link_mode
        obj["received_at"] = iso_time(received_at)
        try:
            self.stdout.write(dumps(obj) + b"\n")
            self.stdout.flush()
        except (BrokenPipeError, ValueError):  # `| head -1`, or stdout closed
            self.stdout_closed = True
            self.done.set()
            return
        self.telegrams += 1
        if not obj["ok"]:
            self.errors[obj["error"]["code"]] += 1
        if obj["id"] is not None:
            self.meters.add((obj["manufacturer"], obj["id"]))
        if self.count is not None and self.telegrams >= self.count:
            self.done.set()

    def summary(self) -> str:
        text = f"{_plural(self.telegrams, 'telegram')}, {_plural(len(self.meters), 'meter')} heard"
        if self.errors:
            total = sum(self.errors.values())
            detail = ", ".join(f"{code} {k}" for code, k in sorted(self.errors.items()))
            text += f", {_plural(total, 'error')} ({detail})"
        else:
            text += ", no errors"
        return text


# --------------------------------------------------------------------------- the command


def describe(info: ReceiverInfo) -> str:
    """``"an iM871A (firmware 1.5, serial 12345678)"``."""
    name = with_article(info.model or info.kind)
    extra = [f"firmware {info.firmware}"] if info.firmware else []
    if info.serial:
        extra.append(f"serial {info.serial}")
    return f"{name} ({', '.join(extra)})" if extra else name


class _Listen:
    """One run of the command; :meth:`run` returns the exit status."""

    def __init__(
        self, args: argparse.Namespace, stdout: IO[bytes], stderr: IO[str], stdin_fd: int | None
    ) -> None:
        self.args = args
        self.stderr = stderr
        self.stdin_fd = stdin_fd
        keys = [parse_key(spec.rpartition("=")[2]) for spec in args.key]
        self.keyring: Keyring = args.keyring
        self.scrub = _scrubber(keys)
        self.session = Session(stdout, args.receiver, Decoder(self.keyring), self.scrub, args.count)
        self.receiver: Receiver | None = None
        self.signal_code: int | None = None
        self._lost = False
        self._pipe_fd: int | None = None

    def say(self, text: str) -> None:
        with contextlib.suppress(ValueError, OSError):
            self.stderr.write(f"listen: {text}\n")
            self.stderr.flush()

    # -- wireless --------------------------------------------------------------------

    async def _auto_kind(self, device: str) -> str:
        if device in ("-", "stdin"):
            self.say("auto: reading hex lines from stdin")
            return "hex"
        if await asyncio.to_thread(os.path.isfile, device.partition("?")[0]):
            self.say(f"auto: replaying the capture file {display_device(device)}")
            return "replay"
        answer = self.args.answer_timeout
        info = await detect(device, timeout=0.5 if answer is None else answer)
        self.say(f"auto: {describe(info)} answered on {display_device(device)} ({info.kind})")
        return info.kind

    @staticmethod
    def _not_stdin_eof(record: logging.LogRecord) -> bool:
        """Log filter: the end of stdin is the end of the input here, not a lost link to reconnect."""
        args = record.args
        return not (
            isinstance(args, tuple)
            and len(args) == 3
            and args[1] in ("-", "stdin")
            and str(record.msg).endswith("reconnecting")
        )

    def _on_state(self, connected: bool) -> None:
        receiver = self.receiver
        if not connected:
            if isinstance(receiver, LineReceiver) and receiver.source.kind == "stdin":
                self.session.done.set()  # end of input
                return
            self._lost = True  # the receiver logs why and reconnects
        elif self._lost:
            self._lost = False
            self.say("reconnected")

    def _make_receiver(self, kind: str) -> Receiver:
        args = self.args
        mode: LinkMode = args.mode or "c1t1"
        kwargs: dict[str, Any] = {"on_frame": self.session.on_frame, "on_state": self._on_state}
        if kind in STICKS or args.mode is not None:
            kwargs["link_mode"] = mode
        from .receivers import RECEIVERS

        cls = RECEIVERS[kind]
        if issubclass(cls, StreamReceiver):
            if args.baud is not None:
                kwargs["baudrate"] = args.baud
            if args.answer_timeout is not None:
                kwargs["timing"] = StreamTiming(response_timeout=args.answer_timeout)
        if issubclass(cls, LineReceiver):
            stdin_fd = self.stdin_fd
            if stdin_fd is None and args.device.strip() in ("-", "stdin"):
                stdin_fd = self._stdin_pipe()
            if stdin_fd is not None:
                kwargs["stdin_fd"] = stdin_fd
            kwargs["allow_shell"] = True  # the command line's user typed the command
        return create_receiver(kind, args.device, **kwargs)

    def _stdin_pipe(self) -> int | None:
        """A pipe fed from stdin when stdin is a regular file (``- < file``): asyncio cannot watch files."""
        try:
            if not stat.S_ISREG(os.fstat(0).st_mode):
                return None
        except OSError:
            return None
        read_fd, write_fd = os.pipe()
        self._pipe_fd = read_fd

        def copy() -> None:
            with contextlib.suppress(OSError):
                while data := os.read(0, 65536):
                    os.write(write_fd, data)
            os.close(write_fd)

        threading.Thread(target=copy, name="listen stdin", daemon=True).start()
        return read_fd

    async def _wireless(self) -> int:
        args = self.args
        kind: str = args.receiver
        if kind == "auto":
            kind = await self._auto_kind(args.device)
        self.session.kind = kind
        try:
            receiver = self._make_receiver(kind)
        except ValueError as err:
            self.say(f"error: {redact_keys(str(err))}")
            return EXIT_ERROR
        self.receiver = receiver
        base_logger = logging.getLogger(StreamReceiver.__module__)
        base_logger.addFilter(self._not_stdin_eof)
        try:
            self.session.hold()
            try:
                info = await receiver.start()
            except BaseException:
                self.session.release(deliver=False)
                raise
            if kind in STICKS:
                mode = LINK_MODE_LABELS[receiver.link_mode]
                self.say(
                    f"listening with {describe(info)} on {display_device(args.device)}, receiving {mode}"
                )
            else:
                self.say(f"listening: {info.model or kind} [{kind}]")
            self.session.release(deliver=True)
            waits: list[asyncio.Task[Any]] = [asyncio.create_task(self.session.done.wait())]
            if isinstance(receiver, ReplayReceiver):
                waits.append(asyncio.create_task(receiver.finished.wait()))
            try:
                await asyncio.wait(waits, timeout=args.timeout, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in waits:
                    task.cancel()
        finally:
            await receiver.stop()
            base_logger.removeFilter(self._not_stdin_eof)
            if self._pipe_fd is not None:
                os.close(self._pipe_fd)
        if isinstance(receiver, StreamReceiver) and receiver.stats.bad_checksum:
            self.say(f"{receiver.stats.bad_checksum} frames with a bad checksum were dropped by the receiver")
        return EXIT_OK

    # -- wired -----------------------------------------------------------------------

    async def _wired(self) -> int:
        args = self.args
        options: dict[str, Any] = {"baudrate": args.baud or DEFAULT_BAUD, "keyring": self.keyring}
        if args.answer_timeout is not None:
            options["timeout"] = args.answer_timeout
        if args.retries is not None:
            options["retries"] = args.retries
        master = MbusMaster(args.device, **options)
        await master.open()  # PortOpenError
        try:
            self.say(f"listening as an M-Bus master on {display_device(args.device)} at {master.baudrate} Bd")
            try:
                async with asyncio.timeout(args.timeout):
                    await self._poll(master)
            except TimeoutError:
                pass
        finally:
            await master.close()
        return EXIT_OK

    async def _poll(self, master: MbusMaster) -> None:
        """Read the ``--poll`` slaves, then each slave the scan finds as soon as it is found; repeat."""
        args = self.args
        session = self.session
        targets: list[int | str] = list(args.poll)
        for target in list(targets):
            if not await self._read(master, target):
                return
        if args.scan and not await self._scan(master, targets):
            return
        while args.interval is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(args.interval):
                    await session.done.wait()
            for target in targets:
                if session.done.is_set() or not await self._read(master, target):
                    return

    async def _read(self, master: MbusMaster, target: int | str) -> bool:
        """Read one slave and print it (or why it cannot be read); False once the session is done."""
        try:
            reading = await master.read_any(target)
        except MbusPortError:
            raise
        except (MbusError, OmsError) as err:
            self.session.on_mbus_error(target, err)
        else:
            self.session.on_reading(reading)
        return not self.session.done.is_set()

    async def _scan(self, master: MbusMaster, targets: list[int | str]) -> bool:
        """Scan, printing each slave as it is found and the progress on stderr; False once done."""
        args = self.args
        what = args.scan
        found = 0

        def progress(done: int, total: int) -> None:
            if total and (done % SCAN_PROGRESS_EVERY == 0 or done == total):
                self.say(f"{what} scan: {done}/{total} addresses, {_plural(found, 'slave')} found")
            elif not total and done % SCAN_PROGRESS_EVERY == 0:
                self.say(f"{what} scan: {done} searches, {_plural(found, 'slave')} found")

        self.say(f"{what} scan started")
        async for address in master.iter_scan(what, progress=progress):
            found += 1
            self.say(f"{what} scan: slave at address {address}")
            if address in targets:
                continue
            targets.append(address)
            if not await self._read(master, address):
                return False
        self.say(f"{what} scan found {_plural(found, 'slave')}")
        if not found and not targets:
            shown = display_device(args.device)
            raise NoAnswerError(f"No M-Bus slave answered the {what} scan on {shown} at {master.baudrate} Bd")
        return True

    # -- LoRaWAN / mioty network servers ---------------------------------------------

    async def _lpwan(self) -> int:
        from .lpwan_listen import run_lpwan

        self.session.kind = "lpwan"
        return await run_lpwan(
            self.args.device,
            self.session,
            self.args.mapping,
            self.say,
            self.scrub,
            stdin_fd=self.stdin_fd,
            stop_after=self.args.timeout,
        )

    # -- both ------------------------------------------------------------------------

    async def run(self) -> int:
        try:
            if self.args.receiver == "mbus":
                code = await self._wired()
            elif self.args.receiver == "lpwan":
                code = await self._lpwan()
            else:
                code = await self._wireless()
        except ReceiverError as err:
            self.say(f"error: {redact_keys(self.scrub(str(err)))}")
            return EXIT_ERROR
        except asyncio.CancelledError:
            if self.signal_code is None:
                raise
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
            code = self.signal_code
        self.say(self.session.summary())
        return code

    def interrupt(self, code: int, task: asyncio.Task[Any]) -> None:
        """SIGINT / SIGTERM: stop cleanly (the receiver is stopped, the summary printed)."""
        if self.signal_code is None:
            self.signal_code = code
            task.cancel()


async def run(
    argv: Sequence[str],
    stdout: IO[bytes],
    stderr: IO[str],
    *,
    stdin_fd: int | None = None,
    handle_signals: bool = False,
) -> int:
    """The ``listen`` command; returns the exit status.

    ``stdin_fd`` replaces fd 0 for ``DEVICE`` ``-`` (tests); ``handle_signals``
    turns SIGINT / SIGTERM into a clean stop (exit 130 / 143).
    """
    try:
        args = parse_args(argv)
    except SystemExit as done:  # --help
        return done.code if isinstance(done.code, int) else 0
    except UsageError as err:
        stderr.write(f"listen: error: {err}\n{USAGE}")
        return EXIT_ERROR
    command = _Listen(args, stdout, stderr, stdin_fd)
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    installed: list[signal.Signals] = []
    if handle_signals and task is not None:
        for signum, code in ((signal.SIGINT, EXIT_SIGINT), (signal.SIGTERM, EXIT_SIGTERM)):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(signum, command.interrupt, code, task)
                installed.append(signum)
    try:
        return await command.run()
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: ``python -m omslib.listen [...]``."""
    args = list(sys.argv[1:] if argv is None else argv)
    verbose = "-v" in args or "--verbose" in args
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="listen: %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return asyncio.run(run(args, sys.stdout.buffer, sys.stderr, handle_signals=True))
    except KeyboardInterrupt:  # before the handlers were installed
        return EXIT_SIGINT


if __name__ == "__main__":
    exit_with(main())
