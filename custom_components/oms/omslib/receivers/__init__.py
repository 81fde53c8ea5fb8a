"""Receivers: asyncio drivers for wM-Bus sticks, SDR pipelines, network sources and wired masters.

Each driver module defines a :class:`~.base.Receiver` subclass decorated with
:func:`~.base.register_receiver`, which files it in :data:`RECEIVERS` under
its ``kind``. Importing this package imports every driver module listed in
``_DRIVERS`` (a missing module is skipped), so the registry is complete.
"""

from __future__ import annotations

import importlib
from typing import Any

from .base import (
    LINK_MODES,
    RECEIVERS,
    FrameCallback,
    LinkMode,
    NoAnswerError,
    PortOpenError,
    Receiver,
    ReceiverError,
    ReceiverInfo,
    StateCallback,
    StreamReceiver,
    StreamTiming,
    UnsupportedModeError,
    WrongDeviceError,
    register_receiver,
)

_DRIVERS = (
    "im871a",
    "iu891a",
    "amber",
    "rc1180",
    "cul",
    "rtlwmbus",
    "rtl433",
    "hexlines",
    "replay",
    "mbus",
)
"""Driver modules of this package, imported for their registration."""

for _name in _DRIVERS:
    try:
        importlib.import_module(f"{__name__}.{_name}")
    except ModuleNotFoundError as _exc:  # pragma: no cover - a driver not written yet
        if _exc.name != f"{__name__}.{_name}":
            raise


from .detect import DETECT_ORDER, detect  # noqa: E402 - after the drivers registered


def create_receiver(kind: str, device: str, **kwargs: Any) -> Receiver:
    """Build the driver registered as ``kind`` for ``device``; kwargs go to its constructor.

    Raises :class:`ValueError` for an unknown kind.
    """
    try:
        cls = RECEIVERS[kind]
    except KeyError:
        raise ValueError(f"Unknown receiver kind {kind!r}; known: {', '.join(sorted(RECEIVERS))}") from None
    return cls(device, **kwargs)


__all__ = [
    "DETECT_ORDER",
    "LINK_MODES",
    "RECEIVERS",
    "FrameCallback",
    "LinkMode",
    "NoAnswerError",
    "PortOpenError",
    "Receiver",
    "ReceiverError",
    "ReceiverInfo",
    "StateCallback",
    "StreamReceiver",
    "StreamTiming",
    "UnsupportedModeError",
    "WrongDeviceError",
    "create_receiver",
    "detect",
    "register_receiver",
]
