"""``oms-listen --kind mbus`` without Home Assistant: read (and scan for) the slaves of a wired bus.

:func:`listen_mbus` is the async generator the command line wraps.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import logging
from typing import Any

from .errors import OmsError
from .keyring import Keyring
from .receivers.mbus_master import MbusError, MbusMaster, MbusPortError, MeterReading
from .wired import parse_address

_LOGGER = logging.getLogger(__name__)


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
