"""Line-oriented receivers: one telegram per text line, from a command, stdin, TCP or a serial port.

The shared part of the ``rtlwmbus``, ``rtl433``, ``hex`` and ``cul`` drivers:

* :func:`frame_lines`, a pure :class:`~.base.Framer` that cuts a byte buffer
  into text lines (LF or CRLF), dropping lines longer than :data:`MAX_LINE`;
* :func:`parse_source`, which reads a ``device`` string (see below);
* :class:`LineReceiver`, a :class:`~.base.StreamReceiver` whose messages are
  lines and whose subclasses supply one pure ``parse_line(str) -> Frame | None``.
  It opens subprocess pipelines (killed as a process group on close, restarted
  with capped backoff when they exit), stdin, TCP connections and serialx ports.

A parser returns a :class:`Frame`, ``None`` for a line that carries no telegram
and is expected (a banner, a status line), raises :class:`BadLine` for a line
it rejects (counted per reason, logged with rate limiting) and
:class:`SourceRestart` when the line says the source is dead.

Over 500 lines on purpose: the four transports (process pipelines, stdin, TCP, serial), the validated
SDR argument lists and the source-string grammar share one receiver lifecycle and one error vocabulary;
split apart they would each need the others' internals.

``device`` strings (:func:`parse_source`):

==========================  =====================================================
``-`` or ``stdin``          standard input (a pipe or a terminal)
``tcp://host:port``         TCP client (``socket://host:port`` is the same)
``sdr:?frequency=…&…``      the driver's SDR program(s) with these settings, run as a
                            fixed argument list without a shell (SDR drivers only;
                            :class:`SdrSettings`, :func:`parse_sdr`)
``""`` / ``default``        the same with the default settings (SDR drivers only)
``cmd:<shell command>``     a shell pipeline; its stdout and stderr are read (for the
                            command line's power users: Home Assistant refuses it)
anything else               a command when the driver runs commands and the string
                            contains a blank or ``|``; else a serial port or a
                            serialx URL (``rfc2217://…``)
==========================  =====================================================
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
import contextlib
from dataclasses import dataclass
import logging
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from typing import Any, ClassVar, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit

from ..frame import Frame
from .base import (
    DEFAULT_TIMING,
    FrameCallback,
    FramerStats,
    LinkMode,
    PortOpenError,
    ReceiverInfo,
    StateCallback,
    StreamReceiver,
    StreamTiming,
    display_device,
)

_LOGGER = logging.getLogger(__name__)

MAX_LINE = 4096
"""Longest accepted line in bytes (an rtl_433 JSON line with decoded records fits)."""

_DISCARD = b"\x00"
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
"""Marker left in the buffer while the rest of an over-long line is being skipped."""


class BadLine(ValueError):
    """A line was rejected. ``reason``: "garbage", "crc", "truncated", "length", "filtered"."""

    def __init__(self, message: str, reason: str = "garbage") -> None:
        super().__init__(message)
        self.reason = reason


class SourceRestart(Exception):
    """Raised by a parser when a line announces that the source died (e.g. "rtl_wmbus: exiting")."""


# ---------------------------------------------------------------------------
# Pure helpers
# ---------------------------------------------------------------------------


def frame_lines(buffer: bytearray, stats: FramerStats | None = None, /) -> list[str]:
    """Cut the complete lines off the front of ``buffer``; a :class:`~.base.Framer`.

    Lines end with LF; CR and surrounding blanks are stripped; empty lines are
    skipped. A line longer than :data:`MAX_LINE` bytes is dropped whole (its
    bytes count as garbage), also when it arrives over several calls.
    """
    lines: list[str] = []
    start = 0
    find = buffer.find
    while True:
        end = find(b"\n", start)
        if end < 0:
            break
        if buffer[start : start + 1] == _DISCARD or end - start > MAX_LINE:
            if stats is not None:
                stats.garbage_bytes += end - start + 1
        else:
            text = buffer[start:end].decode("utf-8", "replace").strip()
            if text:
                lines.append(text)
        start = end + 1
    if start:
        del buffer[:start]
    if len(buffer) > MAX_LINE:
        if stats is not None:
            stats.garbage_bytes += len(buffer) - 1
        buffer[:] = _DISCARD
    if stats is not None:
        stats.messages += len(lines)
    return lines


def hex_bytes(text: str) -> bytes:
    """Bytes of a hex string; raises :class:`BadLine` ("truncated": odd length, "garbage": not hex)."""
    try:
        return bytes.fromhex(text)
    except ValueError:
        if len(text) % 2 and _HEX_DIGITS.issuperset(text):
            raise BadLine(f"odd number of hex digits ({len(text)})", "truncated") from None
        raise BadLine("not a hex string", "garbage") from None


MIN_FRAME = 11
"""Shortest plausible wM-Bus frame without CRCs: L C M(2) A(6) CI."""


def fix_l_field(raw: bytes) -> bytes:
    """Return ``raw`` with its L byte set to the number of bytes after it (CRC-free frames)."""
    if len(raw) < MIN_FRAME:
        raise BadLine(f"frame of {len(raw)} bytes is too short", "length")
    if len(raw) > 256:
        raise BadLine(f"frame of {len(raw)} bytes is too long", "length")
    if raw[0] == len(raw) - 1:
        return raw
    return bytes((len(raw) - 1,)) + raw[1:]


SourceKind = Literal["command", "program", "stdin", "tcp", "serial"]

type Stages = tuple[tuple[str, ...], ...]
"""Argument lists of the programs of a pipeline, the first one feeding the next (no shell)."""


@dataclass(frozen=True, slots=True)
class LineSource:
    """Where a :class:`LineReceiver` reads from (see :func:`parse_source`)."""

    kind: SourceKind
    target: str
    """The command, the host, or the serial device / URL (a program: its argument lists, for logs)."""
    port: int = 0
    argv: Stages = ()
    """A program: the argument list of each stage."""


SDR_FREQUENCIES = (24_000_000, 1_766_000_000)
"""Tuning range of an RTL-SDR dongle (RTL2832U with an R820T tuner), Hz."""
SDR_GAINS = (0.0, 50.0)
"""Tuner gain range in dB (R820T: 0 to 49.6 dB)."""
SDR_DEVICES = 32
"""Device indexes accepted (``-d`` of the rtl-sdr tools)."""


@dataclass(frozen=True, slots=True)
class SdrSettings:
    """The settings of an SDR receiver's program, each validated; they become a fixed argument list.

    ``program`` is the path or name of the driver's program (``rtl_433``, ``rtl_wmbus``; "" for the
    name on PATH), ``frequency`` in Hz, ``gain`` in dB (None: automatic), ``device_index`` the
    dongle's index.
    """

    program: str = ""
    frequency: int = 868_950_000
    gain: float | None = None
    device_index: int = 0

    def device(self) -> str:
        """The ``sdr:`` device string of these settings (what a config entry stores)."""
        query: dict[str, str] = {"frequency": str(self.frequency), "device_index": str(self.device_index)}
        if self.gain is not None:
            query["gain"] = f"{self.gain:g}"
        if self.program:
            query["program"] = self.program
        return "sdr:?" + urlencode(query)

    def check(self, programs: frozenset[str]) -> SdrSettings:
        """These settings when valid for a driver running ``programs``; raises :class:`PortOpenError`."""
        low, high = SDR_FREQUENCIES
        if not low <= self.frequency <= high:
            raise PortOpenError(f"Frequency {self.frequency} Hz outside {low}-{high} Hz")
        if self.gain is not None and not SDR_GAINS[0] <= self.gain <= SDR_GAINS[1]:
            raise PortOpenError(f"Gain {self.gain:g} dB outside {SDR_GAINS[0]:g}-{SDR_GAINS[1]:g} dB")
        if not 0 <= self.device_index < SDR_DEVICES:
            raise PortOpenError(f"Device index {self.device_index} outside 0-{SDR_DEVICES - 1}")
        program = self.program
        if program and (
            os.path.basename(program) not in programs
            or ("/" in program and not os.path.isabs(program))
            or any(ch.isspace() or ch == "\0" for ch in program)
        ):
            names = ", ".join(sorted(programs))
            raise PortOpenError(f"Program {program!r} is not {names} (a name or an absolute path)")
        return self


def parse_sdr(device: str, programs: frozenset[str]) -> SdrSettings:
    """The settings of an ``sdr:?frequency=…&gain=…&device_index=…&program=…`` device string.

    Every key is optional (defaults of :class:`SdrSettings`; gain "auto" is automatic); an unknown
    key or an invalid value raises :class:`PortOpenError`.
    """
    query = device.strip()[4:].lstrip("?")
    try:
        pairs = dict(parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query)))
    except ValueError:
        raise PortOpenError(f"Bad SDR settings {query!r}") from None
    unknown = set(pairs) - {"frequency", "gain", "device_index", "program"}
    if unknown:
        raise PortOpenError(f"Unknown SDR setting {sorted(unknown)[0]!r}")
    defaults = SdrSettings()
    try:
        gain = pairs.get("gain", "auto")
        settings = SdrSettings(
            program=pairs.get("program", ""),
            frequency=int(pairs.get("frequency", defaults.frequency)),
            gain=None if gain in ("", "auto") else float(gain),
            device_index=int(pairs.get("device_index", defaults.device_index)),
        )
    except ValueError as exc:
        raise PortOpenError(f"Bad SDR setting: {exc}") from None
    return settings.check(programs)


def parse_source(
    device: str,
    *,
    default_command: str | None = None,
    sdr: tuple[frozenset[str], Callable[[SdrSettings], Stages]] | None = None,
) -> LineSource:
    """Read a ``device`` string.

    ``cmd:`` always names a command; strings with a blank or ``|`` are commands only for
    drivers with a ``default_command``. ``sdr:`` and "" / "default" run the driver's SDR
    programs (``sdr``: the program names it may run and its argument lists) without a
    shell. Raises :class:`PortOpenError` for a malformed URL or SDR setting, or when no
    device is given.
    """
    text = device.strip()
    commands = default_command is not None
    if text in ("-", "stdin"):
        return LineSource("stdin", "-")
    lower = text.lower()
    if lower.startswith(("tcp://", "socket://")):
        try:
            parts = urlsplit(text)
            host, port = parts.hostname, parts.port
        except ValueError as exc:
            raise PortOpenError(f"Bad address {text!r}: {exc}") from None
        if not host or not port:
            raise PortOpenError(f"Bad address {text!r}: expected tcp://host:port")
        return LineSource("tcp", host, port)
    if lower.startswith("cmd:"):
        command = text[4:].strip()
        if not command:
            raise PortOpenError("Empty command")
        return LineSource("command", command)
    if lower.startswith("sdr:") or text in ("", "default", "auto"):
        if sdr is not None:
            programs, stages = sdr
            argv = stages(parse_sdr(text, programs) if lower.startswith("sdr:") else SdrSettings())
            return LineSource("program", " | ".join(shlex.join(stage) for stage in argv), argv=argv)
        if lower.startswith("sdr:"):
            raise PortOpenError("This receiver runs no SDR program")
        if default_command is None:
            raise PortOpenError("No device given")
        return LineSource("command", default_command)
    if commands and (" " in text or "|" in text):
        return LineSource("command", text)
    return LineSource("serial", text)


_SHELL_WORDS = frozenset({"exec", "nice", "env", "stdbuf", "timeout", "nohup", "command", "(", "{"})
_SEPARATORS = frozenset({"|", "||", "&&", ";", "&", "|&"})


def command_programs(command: str) -> list[str]:
    """The program of each stage of a shell pipeline (best effort, for a "not found" check)."""
    try:
        lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        tokens = list(lexer)
    except ValueError as exc:
        raise PortOpenError(f"Cannot parse command {command!r}: {exc}") from None
    programs: list[str] = []
    expect = True
    for token in tokens:
        if token in _SEPARATORS:
            expect = True
        elif (
            expect
            and "=" not in token
            and not token.startswith(("-", "<", ">"))
            and not token.isdigit()
            and token not in _SHELL_WORDS
        ):
            programs.append(token)
            expect = False
    return programs


def missing_programs(command: str) -> list[str]:
    """Programs of ``command`` that are neither on PATH nor an executable path."""
    return [program for program in command_programs(command) if not _runnable(program)]


def _runnable(program: str) -> bool:
    """``program`` is an executable path, or a name found on PATH."""
    if "/" in program:
        return os.access(program, os.X_OK)
    return shutil.which(program) is not None


# ---------------------------------------------------------------------------
# Transports for commands and stdin
# ---------------------------------------------------------------------------


class _PipeProtocol(asyncio.SubprocessProtocol):
    """Feeds a pipeline's stdout/stderr into a stream protocol."""

    def __init__(self, inner: asyncio.Protocol) -> None:
        self._inner = inner
        self.owner: ProcessTransport | None = None

    def pipe_data_received(self, fd: int, data: bytes | str) -> None:
        self._inner.data_received(data if isinstance(data, bytes) else data.encode())

    def connection_lost(self, exc: Exception | None) -> None:
        if self.owner is not None:
            self.owner.exited()
        self._inner.connection_lost(exc)


class ProcessTransport(asyncio.BaseTransport):
    """A running pipeline in its own process group; closing it terminates the whole group.

    Close sends SIGTERM to the group; when the shell has exited (or after 2 s)
    the group gets SIGKILL so that no stage (rtl_sdr holding the dongle) lingers.
    """

    def __init__(
        self,
        transport: asyncio.SubprocessTransport,
        protocol: _PipeProtocol,
        *,
        group: int | None = None,
        feeders: tuple[asyncio.SubprocessTransport, ...] = (),
    ) -> None:
        super().__init__()
        self._transport = transport
        self.pid = transport.get_pid() if group is None else group
        """The process group ID: the shell's (or first program's) process ID."""
        self._feeders = feeders
        """Earlier stages of a pipeline run without a shell (closed with it)."""
        self._closing = False
        self._done = False
        self._kill_timer: asyncio.TimerHandle | None = None
        protocol.owner = self

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        if self._done:
            return
        self._signal(signal.SIGTERM)
        self._transport.close()
        self._kill_timer = asyncio.get_running_loop().call_later(2.0, self.exited)

    def exited(self) -> None:
        """The shell is gone: finish off the rest of its group (once)."""
        if self._done:
            return
        self._done = True
        if self._kill_timer is not None:
            self._kill_timer.cancel()
            self._kill_timer = None
        self._signal(signal.SIGKILL)
        self._transport.close()
        for feeder in self._feeders:
            feeder.close()

    def _signal(self, signum: int) -> None:
        """Signal the pipeline's process group (which this receiver created)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signum)


# ---------------------------------------------------------------------------
# The receiver
# ---------------------------------------------------------------------------


def _group_kwargs(group: int | None) -> dict[str, Any]:
    """Start a program in a new process group, or in ``group`` (the pipeline's first program's).

    Not a new session (as for a shell): a process can only join a group of its own session.
    Outside the terminal's foreground group, Ctrl-C reaches the pipeline only through :meth:`close`.
    """
    return {"process_group": 0 if group is None else group}


def _log_level(count: int) -> int:
    """Warn on the 1st, 10th, 100th … occurrence, debug otherwise."""
    while count >= 10 and count % 10 == 0:
        count //= 10
    return logging.WARNING if count == 1 else logging.DEBUG


class LineReceiver(StreamReceiver[str]):
    """A receiver whose device speaks text lines; subclasses implement :meth:`parse_line`."""

    default_command: ClassVar[str | None] = None
    """The shell form of the default pipeline; None: this driver runs no commands."""
    sdr_programs: ClassVar[frozenset[str]] = frozenset()
    """Names of the programs an ``sdr:`` device may run (empty: this driver runs none)."""
    max_buffer = 2 * MAX_LINE
    restart_min: ClassVar[float] = 1.0
    """First extra delay before restarting a pipeline that ran less than :attr:`restart_healthy` s."""
    restart_max: ClassVar[float] = 60.0
    restart_healthy: ClassVar[float] = 30.0

    def __init__(
        self,
        device: str,
        *,
        on_frame: FrameCallback,
        on_state: StateCallback | None = None,
        link_mode: LinkMode = "c1t1",
        receiver_id: str = "",
        baudrate: int | None = None,
        timing: StreamTiming = DEFAULT_TIMING,
        stdin_fd: int | None = None,
        allow_shell: bool = False,
    ) -> None:
        """``allow_shell``: run a ``device`` that is a shell command (``cmd:…``, or a pipeline for the SDR
        drivers). Only the command line, whose user types the command, sets it; everywhere else such a
        device raises :class:`PortOpenError` here, before anything runs (SDR programs run from
        ``sdr:`` settings as fixed argument lists)."""
        super().__init__(
            device,
            on_frame=on_frame,
            on_state=on_state,
            link_mode=link_mode,
            receiver_id=receiver_id,
            baudrate=baudrate,
            timing=timing,
        )
        self.source = self.source_of(device)
        self._allow_shell = allow_shell
        if self.source.kind == "command" and not allow_shell:
            raise PortOpenError(
                "Shell commands are not allowed as a receiver device here; "
                "configure the SDR program by its settings (sdr:?frequency=…) instead"
            )
        self.rejected: Counter[str] = Counter()
        """Rejected lines by :attr:`BadLine.reason`."""
        self.frames = 0
        """Frames delivered."""
        self.restarts = 0
        """Times the source was reopened after a loss."""
        self._stdin_fd = stdin_fd
        self._restart_delay = 0.0
        self._last_start = 0.0

    # -- parsing ----------------------------------------------------------------

    @classmethod
    def source_of(cls, device: str) -> LineSource:
        """Where this driver would read ``device`` from (:func:`parse_source`; raises PortOpenError)."""
        sdr = (cls.sdr_programs, cls.sdr_stages) if cls.sdr_programs else None
        return parse_source(device, default_command=cls.default_command, sdr=sdr)

    @classmethod
    def sdr_stages(cls, settings: SdrSettings) -> Stages:
        """The argument lists that run this driver's SDR programs with ``settings`` (SDR drivers)."""
        raise NotImplementedError

    def parse_line(self, line: str) -> Frame | None:
        """Turn one line into a Frame (None: no telegram); raise BadLine / SourceRestart."""
        raise NotImplementedError

    def _frame(self, buffer: bytearray, stats: FramerStats | None) -> list[str]:
        return frame_lines(buffer, stats)

    def _to_frame(self, message: str) -> Frame | None:
        try:
            frame = self.parse_line(message)
        except BadLine as exc:
            self._reject(message, exc)
            return None
        except SourceRestart as exc:
            _LOGGER.warning("%s: %s; restarting the source", self._where(), exc)
            transport = self._transport
            if transport is not None:
                transport.close()
            return None
        if frame is not None:
            self.frames += 1
        return frame

    def _reject(self, line: str, exc: BadLine) -> None:
        self.rejected[exc.reason] += 1
        count = self.rejected[exc.reason]
        if exc.reason == "crc":
            self.stats.bad_checksum += 1
        _LOGGER.log(
            _log_level(count),
            "%s: dropped line (%s: %s; %d so far): %.80s",
            self._where(),
            exc.reason,
            exc,
            count,
            line,
        )

    def _where(self) -> str:
        return f"{self.model} on {display_device(self.device)}"

    # -- identification -----------------------------------------------------------

    async def _identify(self) -> ReceiverInfo:
        source = self.source
        if source.kind == "command":
            model = f"{self.model} (command)"
        elif source.kind == "program":
            model = f"{self.model} (SDR)"
        elif source.kind == "tcp":
            model = f"{self.model} (tcp {source.target}:{source.port})"
        else:
            model = f"{self.model} ({source.kind})"
        return ReceiverInfo(kind=self.kind, model=model)

    # -- transports ---------------------------------------------------------------

    async def _open_transport(self, protocol: asyncio.Protocol) -> asyncio.BaseTransport:
        source = self.source
        loop = asyncio.get_running_loop()
        if source.kind == "serial":
            return await super()._open_transport(protocol)
        if source.kind == "tcp":
            try:
                transport, _ = await asyncio.wait_for(
                    loop.create_connection(lambda: protocol, source.target, source.port),
                    self.timing.response_timeout * 5,
                )
            except TimeoutError:
                raise PortOpenError(f"Timeout connecting to {source.target}:{source.port}") from None
            return transport
        if source.kind == "stdin":
            fd = self._stdin_fd if self._stdin_fd is not None else sys.stdin.fileno()
            pipe = os.fdopen(os.dup(fd), "rb", buffering=0)
            try:
                read_transport, _ = await loop.connect_read_pipe(lambda: protocol, pipe)
            except (ValueError, OSError) as exc:
                pipe.close()
                raise PortOpenError(f"Cannot read stdin ({exc}); pipe the data in instead") from None
            return read_transport
        if source.kind == "program":
            return await self._start_program(protocol, source.argv)
        if source.kind == "command":
            return await self._start_command(protocol, source.target)
        raise PortOpenError(f"Unknown line source {source.kind!r}")

    async def _restart_pause(self) -> None:
        """Before a (re)start: a pipeline that died soon after its start is restarted ever more slowly."""
        if self._last_start:
            ran = time.monotonic() - self._last_start
            if ran >= self.restart_healthy:
                self._restart_delay = 0.0
            else:
                self._restart_delay = min(max(self._restart_delay * 2, self.restart_min), self.restart_max)
                await asyncio.sleep(self._restart_delay)
            self.restarts += 1
        self._last_start = time.monotonic()

    async def _start_command(self, protocol: asyncio.Protocol, command: str) -> asyncio.BaseTransport:
        if not self._allow_shell:  # checked again where the shell starts, whatever set the source
            raise PortOpenError("Shell commands are not allowed as a receiver device here")
        missing = missing_programs(command)
        if missing:
            raise PortOpenError(f"Not found: {', '.join(missing)} (command: {command})")
        await self._restart_pause()
        loop = asyncio.get_running_loop()
        pipe_protocol = _PipeProtocol(protocol)
        transport, _ = await loop.subprocess_shell(
            lambda: pipe_protocol,
            command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
        _LOGGER.debug("%s: started pid %s: %s", self._where(), transport.get_pid(), command)
        return ProcessTransport(transport, pipe_protocol)

    async def _start_program(self, protocol: asyncio.Protocol, stages: Stages) -> asyncio.BaseTransport:
        """Run ``stages`` as argument lists (no shell), each feeding the next, in one process group.

        The last stage's stdout and stderr are read; earlier stages' stderr is discarded.
        """
        missing = [stage[0] for stage in stages if not _runnable(stage[0])]
        if missing:
            raise PortOpenError(f"Not found: {', '.join(missing)}")
        await self._restart_pause()
        loop = asyncio.get_running_loop()
        feeders: list[asyncio.SubprocessTransport] = []
        group: int | None = None
        stdin: int = subprocess.DEVNULL
        try:
            for stage in stages[:-1]:
                read_fd, write_fd = os.pipe()
                try:
                    feeder, _ = await loop.subprocess_exec(
                        asyncio.SubprocessProtocol,
                        *stage,
                        stdin=stdin,
                        stdout=write_fd,
                        stderr=subprocess.DEVNULL,
                        **_group_kwargs(group),
                    )
                except BaseException:
                    os.close(read_fd)
                    raise
                finally:
                    os.close(write_fd)
                    if stdin != subprocess.DEVNULL:
                        os.close(stdin)
                stdin = read_fd
                feeders.append(feeder)
                group = feeder.get_pid() if group is None else group
            pipe_protocol = _PipeProtocol(protocol)
            try:
                transport, _ = await loop.subprocess_exec(
                    lambda: pipe_protocol,
                    *stages[-1],
                    stdin=stdin,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.STDOUT,
                    **_group_kwargs(group),
                )
            finally:
                if stdin != subprocess.DEVNULL:
                    os.close(stdin)
        except OSError as exc:
            for feeder in feeders:
                with contextlib.suppress(ProcessLookupError):
                    feeder.kill()
                feeder.close()
            raise PortOpenError(f"Cannot start {stages[-1][0]}: {exc}") from exc
        _LOGGER.debug("%s: started pid %s: %s", self._where(), transport.get_pid(), self.source.target)
        return ProcessTransport(transport, pipe_protocol, group=group, feeders=tuple(feeders))

    async def _open(self) -> None:
        if self.source.kind not in ("command", "program") and self.info is not None:
            self.restarts += 1
        await super()._open()
