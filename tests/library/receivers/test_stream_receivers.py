"""Receiver drivers through serialx against simulated sticks on real ptys and TCP sockets."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from custom_components.oms.omslib.frame import Frame
from custom_components.oms.omslib.receivers import (
    RECEIVERS,
    NoAnswerError,
    PortOpenError,
    StreamReceiver,
    StreamTiming,
    UnsupportedModeError,
    WrongDeviceError,
    create_receiver,
    detect,
)
from tests.sims.amber import AmberSim
from tests.sims.endpoint import Endpoint, PtyEndpoint, SimDevice, TcpEndpoint
from tests.sims.im871a import Im871aSim
from tests.sims.iu891a import Iu891aSim
from tests.sims.rc1180 import Rc1180Sim
from tests.sims.sim_cul import CulSim
from tests.sims.sim_telegrams import FRAME, FRAME2

FAST = StreamTiming(response_timeout=0.25, reconnect_min=0.02, reconnect_max=0.1, keepalive_interval=None)


async def wait_until(predicate: Callable[[], bool], within: float = 3.0) -> None:
    """Poll ``predicate`` every 10 ms; fail the test after ``within`` seconds."""
    async with asyncio.timeout(within):
        while not predicate():  # noqa: ASYNC110 - polling state the simulators change
            await asyncio.sleep(0.01)


@dataclass
class Case:
    kind: str
    make_sim: Callable[[], SimDevice]
    mode: str
    mode_byte: int | None
    rssi_dbm: float
    model: str


CASES = [
    Case("im871a", Im871aSim, "c1t1", 0x0A, -60.0, "iM871A"),
    Case("iu891a", Iu891aSim, "t1", 0x02, -60.0, "iU891A-XL"),
    Case("amber", AmberSim, "c1", 0x0E, -60.0, "AMB8465"),
    Case("rc1180", Rc1180Sim, "t1", None, -60.0, "RC1180-MBUS"),
]


@dataclass
class Harness:
    sim: Any
    endpoint: Endpoint
    receiver: StreamReceiver[Any]
    frames: list[Frame] = field(default_factory=list)
    states: list[bool] = field(default_factory=list)


@contextlib.asynccontextmanager
async def harness(
    kind: str, sim: SimDevice, *, tcp: bool = False, start: bool = True, **kwargs: Any
) -> AsyncIterator[Harness]:
    endpoint: Endpoint = TcpEndpoint(sim) if tcp else PtyEndpoint(sim)
    async with endpoint:
        frames: list[Frame] = []
        states: list[bool] = []
        kwargs.setdefault("timing", FAST)
        receiver = create_receiver(
            kind, endpoint.path, on_frame=frames.append, on_state=states.append, **kwargs
        )
        assert isinstance(receiver, StreamReceiver)
        h = Harness(sim, endpoint, receiver, frames, states)
        try:
            if start:
                await receiver.start()
                if isinstance(sim, Rc1180Sim):
                    await wait_until(lambda: not sim.config_mode)
            yield h
        finally:
            await receiver.stop()


def test_registry() -> None:
    assert {"im871a", "iu891a", "amber", "rc1180"} <= set(RECEIVERS)
    with pytest.raises(ValueError, match="Unknown receiver kind"):
        create_receiver("nope", "/dev/null", on_frame=print)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.kind)
async def test_handshake_and_frames(case: Case) -> None:
    sim: Any = case.make_sim()
    async with harness(case.kind, sim, link_mode=case.mode) as h:
        rx = h.receiver
        assert rx.connected
        assert h.states == [True]
        assert rx.info is not None
        assert rx.info.kind == case.kind
        assert rx.info.model == case.model
        assert rx.info.serial
        if case.mode_byte is not None:
            assert sim.mode == case.mode_byte
        sim.send(b"\x01\x02\x03garbage")
        sim.telegram(FRAME)
        sim.send(b"\x00")
        await sim.send_split(sim.telegram_bytes(FRAME2), parts=4)
        await wait_until(lambda: len(h.frames) == 2)
        assert [f.raw for f in h.frames] == [FRAME, FRAME2]
        for frame in h.frames:
            assert frame.link_mode == {"c1t1": "C1/T1", "t1": "T1", "c1": "C1"}[case.mode]
            assert frame.rssi_dbm == case.rssi_dbm
            assert frame.receiver_id == h.endpoint.path
        assert rx.stats.garbage_bytes > 0


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.kind)
async def test_reconnect_after_hangup(case: Case) -> None:
    sim: Any = case.make_sim()
    async with harness(case.kind, sim, link_mode=case.mode) as h:
        sim.telegram(FRAME)
        await wait_until(lambda: len(h.frames) == 1)
        await h.endpoint.hangup()
        await wait_until(lambda: h.states == [True, False])
        assert not h.receiver.connected
        await asyncio.sleep(0.1)  # a few reconnect attempts fail meanwhile
        await h.endpoint.restore()
        await wait_until(lambda: h.states == [True, False, True])
        if isinstance(sim, Rc1180Sim):
            await wait_until(lambda: not sim.config_mode)
        sim.telegram(FRAME2)
        await wait_until(lambda: len(h.frames) == 2)
        assert h.frames[1].raw == FRAME2


@pytest.mark.usefixtures("socket_enabled")
async def test_socket_url_and_reconnect() -> None:
    sim = Im871aSim()
    async with harness("im871a", sim, tcp=True) as h:
        assert h.endpoint.path.startswith("socket://127.0.0.1:")
        sim.telegram(FRAME)
        await wait_until(lambda: len(h.frames) == 1)
        await h.endpoint.hangup()
        await wait_until(lambda: h.states == [True, False])
        await h.endpoint.restore()
        await wait_until(lambda: h.states == [True, False, True])
        sim.telegram(FRAME2)
        await wait_until(lambda: len(h.frames) == 2)


async def test_keepalive_reopens_a_stick_that_stops_answering() -> None:
    sim = Im871aSim()
    timing = StreamTiming(
        response_timeout=0.1, reconnect_min=0.02, reconnect_max=0.05, keepalive_interval=0.05
    )
    async with harness("im871a", sim, timing=timing) as h:
        await wait_until(lambda: sum(r[1] == 0x01 for r in sim.requests) >= 2)  # pings answered
        assert h.states == [True]
        sim.silent = True
        await wait_until(lambda: h.states == [True, False])
        sim.silent = False
        await wait_until(lambda: h.states == [True, False, True])
        sim.telegram(FRAME)
        await wait_until(lambda: len(h.frames) == 1)


async def test_garbage_flood_is_bounded_and_frames_resume() -> None:
    sim = Im871aSim()
    async with harness("im871a", sim) as h:
        for _ in range(20):
            sim.send(bytes(range(0x10, 0xA0)) * 40)
        sim.telegram(FRAME)
        await wait_until(lambda: len(h.frames) == 1)
        assert len(h.receiver._buffer) <= h.receiver.max_buffer


async def test_callback_errors_do_not_stop_the_receiver() -> None:
    sim = AmberSim()
    seen: list[Frame] = []

    def on_frame(frame: Frame) -> None:
        seen.append(frame)
        raise RuntimeError("consumer bug")

    async with PtyEndpoint(sim) as ep:
        rx = create_receiver("amber", ep.path, on_frame=on_frame, timing=FAST)
        await rx.start()
        try:
            sim.telegram(FRAME)
            sim.telegram(FRAME2)
            await wait_until(lambda: len(seen) == 2)
        finally:
            await rx.stop()


async def test_amber_transparent_mode_and_no_rssi() -> None:
    sim = AmberSim(transparent=True, rssi=False)
    async with harness("amber", sim, link_mode="t1") as h:
        assert sim.mode == 0x08
        sim.send(b"\x01\x02")
        sim.telegram(FRAME)
        sim.telegram(FRAME2)
        await wait_until(lambda: len(h.frames) == 2)
        assert [(f.raw, f.rssi_dbm) for f in h.frames] == [(FRAME, None), (FRAME2, None)]


async def test_amber_command_mode_without_rssi() -> None:
    sim = AmberSim(rssi=False)
    async with harness("amber", sim) as h:
        sim.telegram(FRAME)
        await wait_until(lambda: len(h.frames) == 1)
        assert (h.frames[0].raw, h.frames[0].rssi_dbm) == (FRAME, None)


async def test_stop_is_idempotent_and_safe_before_start(tmp_path: Path) -> None:
    rx = create_receiver("im871a", str(tmp_path / "none"), on_frame=print)
    await rx.stop()
    sim = Im871aSim()
    async with harness("im871a", sim) as h:
        await h.receiver.stop()
        await h.receiver.stop()
        assert not h.receiver.connected
        sim.telegram(FRAME)
        await asyncio.sleep(0.05)
        assert h.frames == []


# -- first-connection errors ------------------------------------------------------------


async def test_unopenable_path_raises_port_open_error(tmp_path: Path) -> None:
    path = str(tmp_path / "ttyUSB9")
    rx = create_receiver("im871a", path, on_frame=print, timing=FAST)
    with pytest.raises(PortOpenError, match="ttyUSB9") as err:
        await rx.start()
    assert err.value.code == "cannot_open"
    assert not rx.connected


async def test_silent_port_raises_no_answer() -> None:
    sim = Im871aSim()
    sim.silent = True
    async with harness("im871a", sim, start=False) as h:
        with pytest.raises(NoAnswerError, match="did not answer the device-info request"):
            await h.receiver.start()
        assert h.states == []


@pytest.mark.parametrize(
    ("kind", "sim", "message"),
    [
        ("im871a", AmberSim, "answered like an Amber AMB8465, not an iM871A"),
        ("amber", CulSim, "answered like a CUL, not an Amber AMB8465"),
        ("iu891a", Im871aSim, "answered like an iM871A, not an iU891A"),
    ],
)
async def test_wrong_device(kind: str, sim: Callable[[], SimDevice], message: str) -> None:
    async with harness(kind, sim(), start=False, link_mode="t1") as h:
        with pytest.raises(WrongDeviceError, match=message):
            await h.receiver.start()


async def test_unsupported_modes() -> None:
    rx = create_receiver("rc1180", "/dev/null", on_frame=print, link_mode="c1")
    with pytest.raises(UnsupportedModeError, match="supports T1"):
        await rx.start()
    async with harness("im871a", Im871aSim(firmware=0x13), start=False, link_mode="c1t1") as h:
        with pytest.raises(UnsupportedModeError, match="C1 and T1 at once"):
            await h.receiver.start()
        assert not h.receiver.connected
    async with harness("amber", AmberSim(nv_size=128), start=False) as h:
        with pytest.raises(UnsupportedModeError, match="169 MHz"):
            await h.receiver.start()


# -- detection --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sim", "kind"),
    [
        (Im871aSim, "im871a"),
        (Iu891aSim, "iu891a"),
        (AmberSim, "amber"),
        (CulSim, "cul"),
        (Rc1180Sim, "rc1180"),
    ],
)
async def test_detect_picks_the_stick(sim: Callable[[], SimDevice], kind: str) -> None:
    device = sim()
    async with PtyEndpoint(device) as ep:
        info = await detect(ep.path, 0.2)
    assert info.kind == kind
    if isinstance(device, Rc1180Sim):
        assert device.exits == 1
        assert not device.config_mode


@pytest.mark.usefixtures("socket_enabled")
async def test_detect_over_tcp_and_errors(tmp_path: Path) -> None:
    async with TcpEndpoint(Iu891aSim()) as ep:
        assert (await detect(ep.path, 0.2)).kind == "iu891a"
    silent = Im871aSim()
    silent.silent = True
    async with PtyEndpoint(silent) as ep:
        with pytest.raises(NoAnswerError, match="No known receiver"):
            await detect(ep.path, 0.1)
    with pytest.raises(PortOpenError):
        await detect(str(tmp_path / "missing"), 0.1)
