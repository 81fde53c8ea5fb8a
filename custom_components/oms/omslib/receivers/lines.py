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

``device`` strings (:func:`parse_source`):

==========================  =====================================================
``-`` or ``stdin``          standard input (a pipe or a terminal)
``tcp://host:port``         TCP client (``socket://host:port`` is the same)
``cmd:<shell command>``     a shell pipeline; its stdout and stderr are read
``""`` / ``default``        the driver's default command (SDR drivers only)
anything else               a command when the driver runs commands and the string
                            contains a blank or ``|``; else a serial port or a
                            serialx URL (``rfc2217://…``)
==========================  =====================================================
"""

from __future__ import annotations

import asyncio
from collections import Counter
import contextlib
from dataclasses import dataclass
import logging
import os
import shlex
import shutil
import signal
import sys
import time
from typing import ClassVar, Literal, cast
from urllib.parse import urlsplit

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


SourceKind = Literal["command", "stdin", "tcp", "serial"]


@dataclass(frozen=True, slots=True)
class LineSource:
    """Where a :class:`LineReceiver` reads from (see :func:`parse_source`)."""

    kind: SourceKind
    target: str
    """The command, the host, or the serial device / URL."""
    port: int = 0


def parse_source(device: str, *, default_command: str | None = None) -> LineSource:
    """Read a ``device`` string.

    ``cmd:`` always names a command; "" / "default" and strings with a blank or
    ``|`` are commands only for drivers with a ``default_command``. Raises
    :class:`PortOpenError` for a malformed URL or when no device is given.
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
    if text in ("", "default", "auto"):
        if not commands:
            raise PortOpenError("No device given")
        return LineSource("command", cast(str, default_command))
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
    missing = []
    for program in command_programs(command):
        if "/" in program:
            if not os.access(program, os.X_OK):
                missing.append(program)
        elif shutil.which(program) is None:
            missing.append(program)
    return missing


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

    def __init__(self, transport: asyncio.SubprocessTransport, protocol: _PipeProtocol) -> None:
        super().__init__()
        self._transport = transport
        self.pid = transport.get_pid()
        """Process ID of the shell, also the process group ID."""
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

    def _signal(self, signum: int) -> None:
        """Signal the pipeline's process group (which this receiver created)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signum)


# ---------------------------------------------------------------------------
# The receiver
# ---------------------------------------------------------------------------


def _log_level(count: int) -> int:
    """Warn on the 1st, 10th, 100th … occurrence, debug otherwise."""
    while count >= 10 and count % 10 == 0:
        count //= 10
    return logging.WARNING if count == 1 else logging.DEBUG


class LineReceiver(StreamReceiver[str]):
    """A receiver whose device speaks text lines; subclasses implement :meth:`parse_line`."""

    default_command: ClassVar[str | None] = None
    """Command run for ``device`` "" / "default"; None: this driver runs no commands."""
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
    ) -> None:
        super().__init__(
            device,
            on_frame=on_frame,
            on_state=on_state,
            link_mode=link_mode,
            receiver_id=receiver_id,
            baudrate=baudrate,
            timing=timing,
        )
        self.source = parse_source(device, default_command=self.default_command)
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
        return await self._start_command(protocol, source.target)

    async def _start_command(self, protocol: asyncio.Protocol, command: str) -> asyncio.BaseTransport:
        missing = missing_programs(command)
        if missing:
            raise PortOpenError(f"Not found: {', '.join(missing)} (command: {command})")
        if self._last_start:
            # A pipeline that died soon after its start is restarted ever more slowly.
            ran = time.monotonic() - self._last_start
            if ran >= self.restart_healthy:
                self._restart_delay = 0.0
            else:
                self._restart_delay = min(max(self._restart_delay * 2, self.restart_min), self.restart_max)
                await asyncio.sleep(self._restart_delay)
            self.restarts += 1
        loop = asyncio.get_running_loop()
        self._last_start = time.monotonic()
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

    async def _open(self) -> None:
        if self.source.kind != "command" and self.info is not None:
            self.restarts += 1
        await super()._open()
