"""The shared reconnect policy: backoff delays and the reconnect loop."""

from __future__ import annotations

import pytest

from custom_components.oms.omslib.receivers.base import PortOpenError
from custom_components.oms.omslib.receivers.supervisor import Backoff, reconnect


def test_backoff_doubles_up_to_the_cap_and_resets() -> None:
    backoff = Backoff(1.0, 6.0)
    assert [backoff.next_delay() for _ in range(5)] == [1.0, 2.0, 4.0, 6.0, 6.0]
    backoff.reset()
    assert backoff.next_delay() == 1.0


def test_backoff_jitter_stretches_each_delay_by_at_most_the_fraction() -> None:
    backoff = Backoff(1.0, 8.0, jitter=0.1)
    for base in (1.0, 2.0, 4.0, 8.0, 8.0):
        delay = backoff.next_delay()
        assert base <= delay <= base * 1.1


async def test_reconnect_retries_until_open() -> None:
    attempts: list[int] = []

    async def connect() -> None:
        attempts.append(1)
        if len(attempts) < 3:
            raise PortOpenError("not yet")

    backoff = Backoff(0.001, 0.004)
    assert await reconnect(connect, backoff, stopping=lambda: False, name="test", retry_on=(PortOpenError,))
    assert len(attempts) == 3
    assert backoff.next_delay() == 0.004  # two failures doubled it twice: 0.001, 0.002, 0.004


async def test_reconnect_stops_and_lets_other_errors_through() -> None:
    async def never() -> None:
        raise AssertionError("must not be called")

    assert not await reconnect(never, Backoff(0.001), stopping=lambda: True, name="test")

    async def broken() -> None:
        raise KeyError("bug")

    with pytest.raises(KeyError):
        await reconnect(broken, Backoff(0.001), stopping=lambda: False, name="t", retry_on=(PortOpenError,))
