"""Reconnect with capped exponential backoff: one policy for every receiver and the wired poller.

:class:`Backoff` yields the delays (first ``minimum``, doubling up to ``maximum``, each stretched
by up to ``jitter`` of itself at random so that receivers lost together do not retry together).
:func:`reconnect` is the loop for receivers on asyncio's clock: wait, try to open, back off on
failure, until open or stopping. Home Assistant's wired poller schedules the same delays on
Home Assistant's clock instead (``custom_components/oms/poller.py``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
import logging
import random

_LOGGER = logging.getLogger(__name__)


class Backoff:
    """Capped exponential backoff delays, in seconds."""

    __slots__ = ("_next", "jitter", "maximum", "minimum")

    def __init__(self, minimum: float = 1.0, maximum: float = 60.0, jitter: float = 0.0) -> None:
        self.minimum = minimum
        self.maximum = maximum
        self.jitter = jitter
        self._next = minimum

    def reset(self) -> None:
        """Start again from ``minimum`` (after a success)."""
        self._next = self.minimum

    def next_delay(self) -> float:
        """The delay before the next attempt; the one after it doubles, up to ``maximum``."""
        delay = self._next
        self._next = min(delay * 2, self.maximum)
        return delay * (1 + random.random() * self.jitter) if self.jitter else delay


async def reconnect(
    connect: Callable[[], Awaitable[object]],
    backoff: Backoff,
    *,
    stopping: Callable[[], bool],
    name: str,
    retry_on: tuple[type[Exception], ...] = (Exception,),
) -> bool:
    """Wait, ``connect()``, and repeat with growing delays until it succeeds: True; False when
    ``stopping()`` became true first. Failures of the types in ``retry_on`` are logged at debug
    level (``name`` says which device) and retried; anything else propagates."""
    backoff.reset()
    while not stopping():
        await asyncio.sleep(backoff.next_delay())
        try:
            await connect()
        except retry_on as exc:
            _LOGGER.debug("%s: reconnect failed: %s", name, exc)
            continue
        _LOGGER.info("%s: reconnected", name)
        return True
    return False
