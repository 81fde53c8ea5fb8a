"""Collects what a receiver hands out (frames, link states) and waits for conditions without long sleeps."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from custom_components.oms.omslib.frame import Frame
from custom_components.oms.omslib.receivers.base import StreamTiming

FAST = StreamTiming(
    response_timeout=0.5, reconnect_min=0.05, reconnect_max=0.2, reconnect_jitter=0.0, keepalive_interval=None
)
"""Short timeouts for receivers under test."""


class Collector:
    """``on_frame`` / ``on_state`` callbacks that record everything."""

    def __init__(self) -> None:
        self.frames: list[Frame] = []
        self.states: list[bool] = []

    def on_frame(self, frame: Frame) -> None:
        self.frames.append(frame)

    def on_state(self, state: bool) -> None:
        self.states.append(state)

    @property
    def callbacks(self) -> dict[str, Callable[..., None]]:
        return {"on_frame": self.on_frame, "on_state": self.on_state}


async def wait_until(predicate: Callable[[], bool], within: float = 3.0, what: str = "condition") -> None:
    """Poll ``predicate`` every 10 ms; AssertionError after ``within`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)
