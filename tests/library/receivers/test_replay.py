"""Replay (kind "replay"): capture-file parsing, scheduling and the receiver playing real files."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from custom_components.oms.omslib.receivers.base import PortOpenError
from custom_components.oms.omslib.receivers.lines import BadLine
from custom_components.oms.omslib.receivers.replay import (
    CaptureEntry,
    EmptyCaptureError,
    ReplayReceiver,
    parse_capture,
    parse_capture_line,
    schedule,
)
from tests import encoder as enc
from tests.sims.sim_collector import Collector, wait_until
from tests.sims.sim_telegrams import telegram

A = telegram(20, ident="00000001")
B = telegram(30, ident="00000002")
C = telegram(40, ident="00000003")


def test_line_forms() -> None:
    assert parse_capture_line(A.hex()) == CaptureEntry(A)
    assert parse_capture_line(f"+12.5 {A.hex()};rssi=-71;mode=T1") == CaptureEntry(A, 12.5, -71.0, "T1")
    assert parse_capture_line(f"+3\t{A.hex()};-60") == CaptureEntry(A, 3.0, -60.0)
    assert parse_capture_line(f"telegram=|{A.hex().upper()}|+32") == CaptureEntry(A, 32.0)
    assert parse_capture_line(f"0x{A.hex()}  \r\n") == CaptureEntry(A)
    assert parse_capture_line("  # comment") is None
    assert parse_capture_line("") is None
    with_crc = enc.add_crc_format_b(A)
    entry = parse_capture_line(with_crc.hex())
    assert entry is not None
    assert entry.raw == with_crc  # CRCs are left to the decoder


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("+1.5", "garbage"),
        ("+abc " + A.hex(), "garbage"),
        ("+-3 " + A.hex(), "garbage"),
        (A.hex()[:-1], "truncated"),
        ("zz" * 12, "garbage"),
        (A.hex() + ";rssi=x", "garbage"),
        ("0102", "length"),
    ],
)
def test_bad_lines(line: str, reason: str) -> None:
    with pytest.raises(BadLine) as info:
        parse_capture_line(line)
    assert info.value.reason == reason


def test_parse_capture_counts_skipped_lines() -> None:
    capture = parse_capture(f"# demo\n{A.hex()}\nnonsense\n\n+1 {B.hex()}\n{C.hex()[:-1]}\n")
    assert [e.raw for e in capture.entries] == [A, B]
    assert [number for number, _ in capture.skipped] == [3, 6]
    assert "truncated" in capture.skipped[1][1]


def test_schedule() -> None:
    entries = [CaptureEntry(A, 0.0), CaptureEntry(B, 2.0), CaptureEntry(C), CaptureEntry(A, 1.0)]
    offsets, period = schedule(entries)
    assert offsets == [0.0, 2.0, 3.0, 3.0]  # untimed: +1 s; backwards: at once
    assert period == 4.0
    offsets, period = schedule(entries, speed=4)
    assert offsets == [0.0, 0.5, 0.75, 0.75]
    assert period == 1.0
    offsets, period = schedule(entries, rate=2)
    assert offsets == [0.0, 0.5, 1.0, 1.5]
    assert period == 2.0
    offsets, _ = schedule([CaptureEntry(A, 5.0)], speed=10)
    assert offsets == [0.5]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "capture.txt"
    path.write_text(text)
    return path


async def test_plays_at_recorded_pace_and_loops(tmp_path: Path) -> None:
    path = _write(
        tmp_path, f"+0 {A.hex()};rssi=-70;mode=T1\n+0.2 {B.hex()}\nbad line\n+0.4 {C.hex()};mode=C1\n"
    )
    got = Collector()
    rx = ReplayReceiver(str(path), speed=2, receiver_id="demo", **got.callbacks)
    loop = asyncio.get_running_loop()
    started = loop.time()
    info = await rx.start()
    stamps: list[float] = []
    try:
        assert info.kind == "replay"
        assert got.states == [True]
        assert rx.skipped == 1
        await wait_until(lambda: len(got.frames) >= 1)
        stamps.append(loop.time() - started)
        await wait_until(lambda: len(got.frames) >= 3)
        stamps.append(loop.time() - started)
        assert [f.raw for f in got.frames[:3]] == [A, B, C]
        assert got.frames[0].rssi_dbm == -70
        assert [f.link_mode for f in got.frames[:3]] == ["T1", None, "C1"]
        assert all(f.receiver_id == "demo" for f in got.frames)
        assert stamps[0] < 0.1
        assert stamps[1] >= 0.18  # 0.4 s at speed 2
        await wait_until(lambda: rx.passes >= 1 and len(got.frames) >= 4, within=3)
        assert got.frames[3].raw == A
    finally:
        await rx.stop()
        await rx.stop()
    assert not rx.connected


async def test_fixed_rate_without_loop_via_query(tmp_path: Path) -> None:
    path = _write(tmp_path, f"+100 {A.hex()}\n+200 {B.hex()}\n{C.hex()}\n")
    got = Collector()
    rx = ReplayReceiver(f"{path}?rate=50&loop=0&speed=1", **got.callbacks)
    await rx.start()
    try:
        await asyncio.wait_for(rx.finished.wait(), 2)
        assert [f.raw for f in got.frames] == [A, B, C]
        assert rx.played == 3
        assert rx.passes == 1
        assert rx.connected
    finally:
        await rx.stop()


async def test_empty_file_is_a_clear_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "# nothing here\n\n")
    rx = ReplayReceiver(str(path), on_frame=lambda f: None)
    with pytest.raises(EmptyCaptureError, match="no telegrams"):
        await rx.start()
    assert not rx.connected


async def test_only_bad_lines(tmp_path: Path) -> None:
    path = _write(tmp_path, "one\ntwo\nthree\n")
    rx = ReplayReceiver(str(path), on_frame=lambda f: None)
    with pytest.raises(EmptyCaptureError, match="3 bad lines"):
        await rx.start()


async def test_missing_file(tmp_path: Path) -> None:
    rx = ReplayReceiver(str(tmp_path / "nope.txt"), on_frame=lambda f: None)
    with pytest.raises(PortOpenError, match="Cannot read"):
        await rx.start()


@pytest.mark.parametrize("query", ["speed=fast", "speed=0", "rate=-1"])
async def test_bad_options(tmp_path: Path, query: str) -> None:
    path = _write(tmp_path, A.hex() + "\n")
    rx = ReplayReceiver(f"{path}?{query}", on_frame=lambda f: None)
    with pytest.raises(PortOpenError):
        await rx.start()


async def test_callback_errors_do_not_stop_the_replay(tmp_path: Path) -> None:
    path = _write(tmp_path, f"{A.hex()}\n{B.hex()}\n")
    seen: list[bytes] = []

    def on_frame(frame: object) -> None:
        seen.append(frame.raw)  # type: ignore[attr-defined]
        raise RuntimeError("consumer bug")

    rx = ReplayReceiver(str(path), on_frame=on_frame, rate=100, loop=False)
    await rx.start()
    try:
        await asyncio.wait_for(rx.finished.wait(), 2)
        assert seen == [A, B]
    finally:
        await rx.stop()
