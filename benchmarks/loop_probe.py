"""Event-loop stall probes for the load benchmarks: when the loop stopped, for how long, and why.

:class:`LoopProbe` runs four probes together while a benchmark measures:

* lag: a task that sleeps 10 ms records how late it wakes up; the overshoot is a stall;
* slow callbacks: every callback the loop runs is timed, the check asyncio's debug mode makes
  with ``loop.slow_callback_duration``, but without debug mode's cost (a stack captured for
  every handle); callbacks longer than that threshold are kept with what they ran. With
  ``asyncio_debug=True`` the loop runs in real asyncio debug mode instead and asyncio's own
  "Executing ... took ... seconds" warnings are kept;
* gc: ``gc.callbacks`` time every collection (generation, duration, objects collected);
* stacks: a watchdog thread samples the event-loop thread's stack while it is stalled > 100 ms.

:meth:`LoopProbe.attribute` then names, for each stall, the collections and callbacks that ran
inside it and the innermost frames of the stacks sampled during it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import contextlib
import functools
import gc
import logging
import sys
import threading
import time
import traceback
from typing import Any

LAG_PERIOD = 0.01
LAG_MIN = 0.02
"""Stalls shorter than this are not recorded."""
STACK_AFTER = 0.1
"""The watchdog samples the loop's stack once it has not woken for this long."""
MAX_RECORDS = 5000


def _describe_callback(callback: Any) -> str:
    """What a loop callback runs: the task's coroutine, or the function's qualified name."""
    if isinstance(callback, functools.partial):
        return f"partial({_describe_callback(callback.func)})"
    owner = getattr(callback, "__self__", None)
    if isinstance(owner, asyncio.Task):
        coro = owner.get_coro()
        name = getattr(coro, "__qualname__", None) or repr(coro)
        return f"task {name}"
    module = getattr(callback, "__module__", None) or ""
    name = getattr(callback, "__qualname__", None) or repr(callback)
    return f"{module}.{name}" if module else name


def _frames(stack: str, keep: int = 4) -> str:
    """The innermost ``keep`` frames of a formatted stack, one short line each."""
    lines = [line.strip() for line in stack.splitlines() if line.strip().startswith("File ")]
    short = []
    for line in lines[-keep:]:
        path, _, rest = line.partition(", line ")
        path = path.removeprefix('File "').rstrip('"')
        for marker in ("site-packages/", "/lib/python3", "/work/main/"):
            if marker in path:
                path = path.split(marker, 1)[1]
        short.append(f"{path}:{rest}")
    return " <- ".join(reversed(short))


class _AsyncioWarnings(logging.Handler):
    def __init__(self, sink: list[tuple[float, str]]) -> None:
        super().__init__(logging.WARNING)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        if "took" in record.getMessage() and len(self.sink) < MAX_RECORDS:
            self.sink.append((time.monotonic(), record.getMessage()[:300]))


class LoopProbe:
    """Probes of one event loop; ``start`` and ``stop`` on the loop's thread."""

    def __init__(self, *, slow_callback: float = 0.05, asyncio_debug: bool = False) -> None:
        self.slow_callback = slow_callback
        self.asyncio_debug = asyncio_debug
        self.lags: list[tuple[float, float]] = []
        """(monotonic end of the stall, stall seconds)."""
        self.slow: list[tuple[float, float, str]] = []
        """(monotonic start, seconds, what ran)."""
        self.collections: list[tuple[float, float, int, int]] = []
        """(monotonic start, seconds, generation, objects collected), every collection."""
        self.stacks: list[tuple[float, str]] = []
        self.asyncio_warnings: list[tuple[float, str]] = []
        self._gc_started = 0.0
        self._heartbeat = time.monotonic()
        self._stop = threading.Event()
        self._undo: list[Callable[[], None]] = []

    # -- probes -------------------------------------------------------------------------

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_started = time.monotonic()
        elif len(self.collections) < 100 * MAX_RECORDS:
            self.collections.append(
                (self._gc_started, time.monotonic() - self._gc_started, info["generation"], info["collected"])
            )

    async def _lag(self) -> None:
        while True:
            before = time.monotonic()
            self._heartbeat = before
            await asyncio.sleep(LAG_PERIOD)
            now = time.monotonic()
            late = now - before - LAG_PERIOD
            if late > LAG_MIN and len(self.lags) < MAX_RECORDS:
                self.lags.append((now, late))

    def _watchdog(self, loop_thread: int) -> None:
        while not self._stop.wait(0.02):
            stalled_since = self._heartbeat
            if time.monotonic() - stalled_since > STACK_AFTER + LAG_PERIOD and len(self.stacks) < 200:
                frame = sys._current_frames().get(loop_thread)
                if frame is not None:
                    self.stacks.append((time.monotonic(), "".join(traceback.format_stack(frame, limit=40))))
                # One more sample if the same stall lasts another 0.3 s.
                self._stop.wait(0.3)

    def _time_handles(self) -> None:
        handle_run = asyncio.events.Handle._run
        threshold = self.slow_callback
        slow = self.slow

        def _run(handle: asyncio.Handle) -> None:
            callback = handle._callback  # type: ignore[attr-defined]  # (a cancel clears it)
            started = time.monotonic()
            handle_run(handle)
            took = time.monotonic() - started
            if took >= threshold and len(slow) < MAX_RECORDS:
                slow.append((started, took, _describe_callback(callback)))

        asyncio.events.Handle._run = _run  # type: ignore[attr-defined,method-assign]
        self._undo.append(lambda: setattr(asyncio.events.Handle, "_run", handle_run))

    # -- control ------------------------------------------------------------------------

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        gc.callbacks.append(self._on_gc)
        self._undo.append(lambda: gc.callbacks.remove(self._on_gc))
        if self.asyncio_debug:
            debug, duration = loop.get_debug(), loop.slow_callback_duration
            loop.set_debug(True)
            loop.slow_callback_duration = self.slow_callback
            handler = _AsyncioWarnings(self.asyncio_warnings)
            logging.getLogger("asyncio").addHandler(handler)
            self._undo.append(lambda: logging.getLogger("asyncio").removeHandler(handler))
            self._undo.append(
                lambda: (loop.set_debug(debug), setattr(loop, "slow_callback_duration", duration))
            )
        else:
            self._time_handles()
        self._task = loop.create_task(self._lag())
        self._thread = threading.Thread(target=self._watchdog, args=(threading.get_ident(),), daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._task.cancel()
        self._stop.set()
        self._thread.join()
        for undo in reversed(self._undo):
            with contextlib.suppress(ValueError):
                undo()
        for at, message in self.asyncio_warnings:  # "Executing <Handle ...> took 0.123 seconds"
            with contextlib.suppress(ValueError, IndexError):
                took = float(message.rsplit(" took ", 1)[1].split()[0])
                self.slow.append((at - took, took, "asyncio: " + message.rsplit(" took ", 1)[0]))

    # -- results ------------------------------------------------------------------------

    def attribute(self, to_run: Callable[[float], float], *, over: float = 0.1) -> list[dict[str, Any]]:
        """Each stall longer than ``over`` seconds with what ran inside it (times via ``to_run``)."""
        stalls = []
        for end, late in self.lags:
            if late < over:
                continue
            start = end - late - LAG_PERIOD
            gcs = [c for c in self.collections if c[0] < end and c[0] + c[1] > start and c[1] > 0.005]
            slow = [s for s in self.slow if s[0] < end and s[0] + s[1] > start]
            warnings = [w for _, w in self.asyncio_warnings if start <= _ <= end + 0.5]
            stacks = [_frames(s) for at, s in self.stacks if start <= at <= end]
            gc_s = sum(c[1] for c in gcs)
            stalls.append(
                {
                    "at": to_run(start),
                    "ms": late * 1000,
                    "gc_ms": gc_s * 1000,
                    "gc": [f"gen{c[2]} {c[1] * 1000:.0f} ms ({c[3]} collected)" for c in gcs],
                    "callbacks": [f"{s[2]} {s[1] * 1000:.0f} ms" for s in slow][:5],
                    "asyncio": warnings[:3],
                    "stacks": list(dict.fromkeys(stacks))[:3],
                }
            )
        return stalls

    def gc_summary(self) -> dict[str, Any]:
        """Collections per generation: count, total and longest milliseconds."""
        summary: dict[str, Any] = {}
        for generation in (0, 1, 2):
            times = [c[1] for c in self.collections if c[2] == generation]
            summary[f"gen{generation}"] = {
                "count": len(times),
                "total_ms": sum(times) * 1000,
                "max_ms": max(times, default=0.0) * 1000,
            }
        return summary


def _type_name(obj: object) -> str:
    kind = type(obj)
    return f"{kind.__module__}.{kind.__qualname__}"


def heap_census(top: int = 25) -> dict[str, Any]:
    """Objects the collector tracks, by type; then one full collection, timed, and its garbage by type.

    Costs a few seconds: run it after the measurement.
    """
    from collections import Counter

    tracked = gc.get_objects()
    by_type = Counter(_type_name(obj) for obj in tracked)
    by_module = Counter(
        name.split(".", 1)[0] if not name.startswith("custom_components") else "oms"
        for name in by_type.elements()
    )
    total = len(tracked)
    del tracked
    gc.set_debug(gc.DEBUG_SAVEALL)
    started = time.monotonic()
    gc.collect()
    took = time.monotonic() - started
    gc.set_debug(0)
    garbage = Counter(_type_name(obj) for obj in gc.garbage)
    examples = []
    for obj in gc.garbage:
        if type(obj).__name__ in ("frame", "function", "cell") and len(examples) < 15:
            examples.append(repr(obj)[:200])
    count = len(gc.garbage)
    gc.garbage.clear()
    return {
        "tracked": total,
        "tracked_by_type": by_type.most_common(top),
        "tracked_by_module": by_module.most_common(top),
        "full_collection_ms": took * 1000,
        "garbage": count,
        "garbage_by_type": garbage.most_common(top),
        "garbage_examples": examples,
    }
