"""Replay receiver (kind ``replay``): plays a capture file of telegrams; the project's demo receiver.

Capture file format (UTF-8 text, one telegram per line)::

    # comment; blank lines are ignored too
    +0     0E444304785634120107788B7A00010203278F;rssi=-71;mode=T1
    +12.5  0e4443047856341201077a00010203
    0E4443047856341201077A00010203;-80

* ``+SECONDS`` (optional, then blanks): when the telegram was received, in
  seconds since the start of the capture (not since the previous line). Times
  that go backwards are played at once.
* the telegram, hex from the L byte, with or without DLL block CRCs (format A
  or B; the decoder tells), optional ``0x``, blanks / ``:`` / ``-`` / ``.``
  between bytes allowed;
* optional ``;`` fields: ``rssi=<dBm>``, ``mode=T1|C1|S1|C1/T1``, or a bare number = RSSI.
* wmbusmeters simulation lines ``telegram=|<hex>|+SECONDS`` are read too.

Pacing: with ``rate`` None (default) telegrams keep their recorded times;
lines without a time follow the previous one after 1 s. With ``rate`` set, they
are played at that many telegrams per second whatever the file says. ``speed``
divides every wait (10 = ten times faster). With ``loop`` (default) the file
starts again 1 s (or 1/rate s) after its last telegram.

``device`` is the file path, optionally followed by a query setting these:
``capture.txt?speed=10&rate=2&loop=0``; constructor arguments take precedence.

Bad lines are skipped and counted (:attr:`ReplayReceiver.skipped`, warnings in
the log); a file without any telegram is an :class:`EmptyCaptureError`.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
import logging
import os
import time
from typing import Unpack
from urllib.parse import parse_qs

from ..frame import Frame
from .base import (
    PortOpenError,
    Receiver,
    ReceiverInfo,
    ReceiverOptions,
    display_device,
    register_receiver,
)
from .hexlines import parse_fields, telegram_bytes
from .lines import BadLine

_LOGGER = logging.getLogger(__name__)

DEFAULT_INTERVAL = 1.0
"""Seconds between telegrams without a recorded time, and between loops."""
_MAX_WARNINGS = 5


class EmptyCaptureError(PortOpenError):
    """The capture file holds no playable telegram."""

    code = "empty_capture"


@dataclass(frozen=True, slots=True)
class CaptureEntry:
    """One telegram of a capture file."""

    raw: bytes
    at: float | None = None
    """Recorded time, seconds since the start of the capture."""
    rssi_dbm: float | None = None
    link_mode: str | None = None


@dataclass(slots=True)
class Capture:
    """A parsed capture file."""

    entries: list[CaptureEntry] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)
    """(line number, reason) of each line that was not played."""


def _parse_time(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise BadLine(f"bad time {text!r}", "garbage") from None
    if not 0.0 <= value < 1e9:
        raise BadLine(f"time {text!r} out of range", "garbage")
    return value


def parse_capture_line(line: str) -> CaptureEntry | None:
    """One capture line -> entry, None (blank or comment), or :class:`BadLine`."""
    line = line.strip()
    if not line or line[0] == "#":
        return None
    at: float | None = None
    if line[:9].lower() == "telegram=":
        parts = line[9:].split("|")
        stamps = [part for part in parts if part.startswith("+")]
        if stamps:
            at = _parse_time(stamps[-1][1:])
        return CaptureEntry(telegram_bytes("".join(p for p in parts if not p.startswith("+"))), at)
    if line[0] == "+":
        parts = line[1:].split(None, 1)
        if len(parts) < 2:
            raise BadLine("a time without a telegram", "garbage")
        at = _parse_time(parts[0])
        line = parts[1]
    head, *fields = line.split(";")
    rssi, mode = parse_fields(fields)
    return CaptureEntry(telegram_bytes(head), at, rssi, mode)


def parse_capture(text: str) -> Capture:
    """Parse a whole capture file; bad lines land in :attr:`Capture.skipped`."""
    capture = Capture()
    for number, line in enumerate(text.splitlines(), start=1):
        try:
            entry = parse_capture_line(line)
        except BadLine as exc:
            capture.skipped.append((number, f"{exc.reason}: {exc}"))
            continue
        if entry is not None:
            capture.entries.append(entry)
    return capture


def schedule(
    entries: list[CaptureEntry], *, rate: float | None = None, speed: float = 1.0
) -> tuple[list[float], float]:
    """Play offsets in seconds from the start of one pass, and the length of a pass (incl. the loop gap)."""
    interval = DEFAULT_INTERVAL if rate is None else 1.0 / rate
    offsets: list[float] = []
    now = 0.0
    for index, entry in enumerate(entries):
        if rate is None and entry.at is not None:
            now = max(now, entry.at)
        elif index:
            now += interval
        offsets.append(now / speed)
    return offsets, (now + interval) / speed


def _parse_options(device: str) -> tuple[str, dict[str, str]]:
    path, sep, query = device.partition("?")
    options = {key: values[-1] for key, values in parse_qs(query).items()} if sep else {}
    return os.path.expanduser(path), options


@register_receiver
class ReplayReceiver(Receiver):
    """Plays a capture file (see the module documentation) as if its telegrams arrived now."""

    kind = "replay"

    def __init__(
        self,
        device: str,
        *,
        speed: float | None = None,
        rate: float | None = None,
        loop: bool | None = None,
        **common: Unpack[ReceiverOptions],
    ) -> None:
        super().__init__(device, **common)
        self.path, options = _parse_options(device)
        self._options = options
        self.speed = speed
        self.rate = rate
        self.loop = loop
        self.capture = Capture()
        self.played = 0
        """Telegrams delivered so far."""
        self.passes = 0
        """Complete passes through the file."""
        self.finished = asyncio.Event()
        """Set when a non-looping replay has played its last telegram."""
        self._task: asyncio.Task[None] | None = None
        self._connected = False

    @property
    def skipped(self) -> int:
        """Lines of the file that were not played."""
        return len(self.capture.skipped)

    def _resolve_options(self) -> None:
        options = self._options
        try:
            if self.speed is None:
                self.speed = float(options.get("speed", 1.0))
            if self.rate is None and options.get("rate"):
                self.rate = float(options["rate"])
            if self.loop is None:
                self.loop = options.get("loop", "1").lower() not in ("0", "false", "no", "off")
        except ValueError as exc:
            raise PortOpenError(f"Bad replay option in {self.device!r}: {exc}") from None
        if not self.speed > 0 or (self.rate is not None and not self.rate > 0):
            raise PortOpenError("Replay speed and rate must be positive numbers")

    async def start(self) -> ReceiverInfo:
        """Read and check the file, then play it in the background."""
        if self._task is not None and self.info is not None:
            return self.info
        self._resolve_options()
        try:
            data = await asyncio.to_thread(_read_text, self.path)
        except OSError as exc:
            raise PortOpenError(f"Cannot read capture file {display_device(self.device)}: {exc}") from exc
        capture = parse_capture(data)
        self.capture = capture
        for number, reason in capture.skipped[:_MAX_WARNINGS]:
            _LOGGER.warning("Replay %s: line %d skipped (%s)", self.path, number, reason)
        if len(capture.skipped) > _MAX_WARNINGS:
            _LOGGER.warning(
                "Replay %s: %d more lines skipped", self.path, len(capture.skipped) - _MAX_WARNINGS
            )
        if not capture.entries:
            raise EmptyCaptureError(
                f"Capture file {self.path} holds no telegrams ({len(capture.skipped)} bad lines)"
            )
        self.info = ReceiverInfo(kind=self.kind, model=f"replay of {os.path.basename(self.path)}")
        self.finished.clear()
        self._set_connected(True)
        self._task = asyncio.create_task(self._play(), name=f"oms replay {self.path}")
        return self.info

    async def stop(self) -> None:
        """Stop playing. Idempotent."""
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._connected = False

    async def _play(self) -> None:
        entries = self.capture.entries
        offsets, period = schedule(entries, rate=self.rate, speed=self.speed or 1.0)
        loop = asyncio.get_running_loop()
        start = loop.time()
        while True:
            for entry, offset in zip(entries, offsets, strict=True):
                delay = start + offset - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                self._deliver(entry)
            self.passes += 1
            if not self.loop:
                self.finished.set()
                return
            start += period
            # Never let a slow consumer turn the next pass into a burst.
            start = max(start, loop.time() - offsets[0])

    def _deliver(self, entry: CaptureEntry) -> None:
        frame = Frame(
            entry.raw,
            rssi_dbm=entry.rssi_dbm,
            link_mode=entry.link_mode,
            received_at=time.time(),
            receiver_id=self.receiver_id,
        )
        self.played += 1
        try:
            self._on_frame(frame)
        except Exception:
            _LOGGER.exception("on_frame callback of %s failed", self.receiver_id)


def _read_text(path: str) -> str:
    with open(path, encoding="utf-8", errors="replace") as file:
        return file.read()
