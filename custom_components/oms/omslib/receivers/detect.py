"""Which stick is on a port: probe the known serial protocols one after the other.

Order (safest first): iM871A (57600), iU891A (115200), Amber (9600), CUL (38400), RC1180
(19200). Every probe only reads: device info, configuration memory or version.
The RC1180 probe comes last because it enters (and leaves) configuration mode.
:func:`explain_no_answer` (installed into :mod:`.base` on import) turns a stick that does not answer
its own driver into "this port answers like another stick".
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from ..frame import Frame
from .base import (
    RECEIVERS,
    FramerStats,
    NoAnswerError,
    PortOpenError,
    ReceiverError,
    ReceiverInfo,
    StreamReceiver,
    StreamTiming,
    WrongDeviceError,
    display_device,
    set_no_answer_diagnosis,
    with_article,
)

DETECT_ORDER: tuple[str, ...] = ("im871a", "iu891a", "amber", "cul", "rc1180")
MAX_LINE = 256


def _ignore(_frame: Frame) -> None:
    return


def _feed_lines(buffer: bytearray, stats: FramerStats | None = None, /) -> list[bytes]:
    out: list[bytes] = []
    while (pos := buffer.find(b"\n")) >= 0:
        out.append(bytes(buffer[:pos]).strip())
        del buffer[: pos + 1]
    if len(buffer) > MAX_LINE:
        buffer.clear()
    return out


class _CulProbe(StreamReceiver[bytes]):
    """culfw version probe for detection.

    It starts with an empty line: the binary probes before it may have left
    bytes in culfw's line buffer, which would spoil the ``V`` command.
    """

    kind: ClassVar[str] = "cul"
    model: ClassVar[str] = "CUL"
    baudrate: ClassVar[int] = 38400

    def _frame(self, buffer: bytearray, stats: FramerStats | None) -> list[bytes]:
        return _feed_lines(buffer, stats)

    async def _identify(self) -> ReceiverInfo:
        line = await self._request(b"\r\nV\r\n", lambda m: b"CUL" in m, what="the version request")
        words = line.decode("ascii", "replace").split()
        model = next((word for word in reversed(words) if "CUL" in word), "CUL")
        firmware = words[1] if len(words) > 1 and words[0] == "V" else None
        return ReceiverInfo(kind="cul", model=model, firmware=firmware)

    def _to_frame(self, message: bytes) -> Frame | None:
        return None


def _probe_class(kind: str) -> type[StreamReceiver[object]] | None:
    if kind == "cul":
        return _CulProbe  # type: ignore[return-value]
    cls = RECEIVERS.get(kind)
    if cls is None or not issubclass(cls, StreamReceiver):
        return None
    return cls


async def detect_kind(
    device: str, *, within: float = 0.5, exclude: Iterable[str] = (), kinds: Iterable[str] = DETECT_ORDER
) -> ReceiverInfo | None:
    """The first of ``kinds`` (minus ``exclude``) that answers its probe on ``device``, or None.

    Raises :class:`PortOpenError` when ``device`` cannot be opened at all.
    """
    skip = set(exclude)
    timing = StreamTiming(response_timeout=within)
    for kind in kinds:
        if kind in skip:
            continue
        cls = _probe_class(kind)
        if cls is None:
            continue
        receiver = cls(device, on_frame=_ignore, timing=timing)
        try:
            return await receiver.probe()
        except PortOpenError:
            raise
        except ReceiverError:
            continue
    return None


async def detect(device: str, timeout: float = 0.5) -> ReceiverInfo:  # noqa: ASYNC109
    """Identify the stick on ``device``; ``timeout`` is per probe, in seconds.

    Raises :class:`PortOpenError` when the port cannot be opened and
    :class:`NoAnswerError` when no known stick answers.
    """
    info = await detect_kind(device, within=timeout)
    if info is None:
        raise NoAnswerError(
            f"No known receiver answered on {display_device(device)} "
            f"(tried {', '.join(k for k in DETECT_ORDER)})"
        )
    return info


async def explain_no_answer(receiver: StreamReceiver[Any], err: NoAnswerError) -> ReceiverError:
    """``err`` of a silent port, or WrongDeviceError when another known stick answers there."""
    try:
        other = await detect_kind(
            receiver.device, within=receiver.timing.response_timeout, exclude=(receiver.kind,)
        )
    except ReceiverError:
        return err
    if other is None:
        return err
    other_cls = RECEIVERS.get(other.kind)
    name = other_cls.model if isinstance(other_cls, type) and issubclass(other_cls, StreamReceiver) else None
    return WrongDeviceError(
        f"Port {display_device(receiver.device)} answered like "
        f"{with_article(name or other.model or other.kind)}, not {with_article(receiver.model)}"
    )


set_no_answer_diagnosis(explain_no_answer)
