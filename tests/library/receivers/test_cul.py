"""CUL / culfw: block CRCs (omslib.link), the pure line parser, the receiver against a pty simulator."""

from __future__ import annotations

import asyncio

import pytest

from custom_components.oms.omslib.errors import CrcError, LengthError
from custom_components.oms.omslib.link import add_block_crcs, format_a_length, strip_block_crcs
from custom_components.oms.omslib.receivers.base import (
    NoAnswerError,
    PortOpenError,
    UnsupportedModeError,
    WrongDeviceError,
)
from custom_components.oms.omslib.receivers.cul import CulReceiver, cul_rssi, parse_cul_line
from custom_components.oms.omslib.receivers.lines import BadLine
from tests import encoder as enc
from tests.sims.endpoint import PtyEndpoint, TcpEndpoint
from tests.sims.sim_collector import FAST, Collector, wait_until
from tests.sims.sim_cul import CulSim, cul_line
from tests.sims.sim_telegrams import telegram

pytestmark = pytest.mark.usefixtures("socket_enabled")  # the TCP test talks to 127.0.0.1

# -- block CRCs --------------------------------------------------------------------


@pytest.mark.parametrize("payload", [0, 1, 5, 6, 7, 21, 22, 23, 38, 60, 120, 200])
def test_strip_format_a(payload: int) -> None:
    frame = telegram(payload, seed=payload)
    on_air = enc.add_crc_format_a(frame)
    assert len(on_air) == format_a_length(frame[0])
    assert strip_block_crcs(on_air, "A") == frame
    assert add_block_crcs(frame, "A") == on_air


@pytest.mark.parametrize("payload", [0, 1, 50, 115, 116, 117, 118, 119, 160, 240])
def test_strip_format_b(payload: int) -> None:
    frame = telegram(payload, seed=payload)
    on_air = enc.add_crc_format_b(frame)
    assert on_air[0] == len(on_air) - 1
    assert strip_block_crcs(on_air, "B") == frame
    assert add_block_crcs(frame, "B") == on_air


@pytest.mark.parametrize("fmt", ["A", "B"])
@pytest.mark.parametrize("position", [0, 5, 11, 20, -1, -3])
def test_bad_crc_is_detected_everywhere(fmt: str, position: int) -> None:
    frame = telegram(140)
    on_air = bytearray(enc.add_crc_format_a(frame) if fmt == "A" else enc.add_crc_format_b(frame))
    if position == 0 and fmt == "B":
        position = 1  # flipping L in format B is a length error, tested below
    on_air[position] ^= 0x01
    with pytest.raises((CrcError, LengthError)) as info:
        strip_block_crcs(bytes(on_air), fmt)  # type: ignore[arg-type]
    assert info.value.code in ("crc", "length")
    if position:
        assert info.value.code == "crc"


def test_wrong_lengths() -> None:
    frame = telegram(30)
    with pytest.raises(LengthError):
        strip_block_crcs(enc.add_crc_format_a(frame)[:-1], "A")
    with pytest.raises(LengthError):
        strip_block_crcs(enc.add_crc_format_b(frame) + b"\x00", "B")
    with pytest.raises(LengthError):
        strip_block_crcs(b"", "A")
    with pytest.raises(LengthError):
        strip_block_crcs(bytes([5]) + bytes(5), "A")
    # format B of 129 or 130 bytes cannot hold a non-empty block 3
    with pytest.raises(LengthError):
        strip_block_crcs(bytes([129]) + bytes(129), "B")


# -- pure line parser ---------------------------------------------------------------


def _text(line: bytes) -> str:
    return line.decode()


def test_parse_format_a_line() -> None:
    frame = telegram(25)
    result = parse_cul_line(_text(cul_line(frame, "A", rssi_dbm=-71.5)), mode="t1", receiver_id="cul0")
    assert result is not None
    assert result.raw == frame
    assert result.rssi_dbm == -71.5
    assert result.link_mode == "T1"
    assert result.receiver_id == "cul0"


def test_parse_format_b_line_in_c_mode() -> None:
    frame = telegram(140)
    result = parse_cul_line(_text(cul_line(frame, "B", rssi_dbm=-90)), mode="c1t1")
    assert result is not None
    assert result.raw == frame
    assert result.rssi_dbm == -90
    assert result.link_mode == "C1"
    a = parse_cul_line(_text(cul_line(frame, "A")), mode="c1")
    assert a is not None
    assert a.link_mode == "C1/T1"
    s = parse_cul_line(_text(cul_line(frame, "A")), mode="s1")
    assert s is not None
    assert s.link_mode == "S1"


@pytest.mark.parametrize("ending", ["", "\r\n", "\n", "\r", "  \r\n"])
def test_line_endings(ending: str) -> None:
    frame = telegram(10)
    text = cul_line(frame).decode().rstrip("\r\n") + ending
    parsed = parse_cul_line(text)
    assert parsed is not None
    assert parsed.raw == frame


def test_lowercase_hex() -> None:
    frame = telegram(10)
    parsed = parse_cul_line(cul_line(frame).decode().lower().replace("b", "b", 1))
    assert parsed is not None
    assert parsed.raw == frame


@pytest.mark.parametrize("line", ["CMODE", "TMODE", "V 1.67 nanoCUL868", "", "? (brc is unknown)", "X21"])
def test_non_telegram_lines_are_ignored(line: str) -> None:
    assert parse_cul_line(line) is None


def test_bad_lines() -> None:
    good = cul_line(telegram(20)).decode().strip()
    cases = {
        good[:-1]: "truncated",  # odd hex length: firmware truncation
        good[:-2] + "Z0": "garbage",
        "b0102": "length",
        "bY" + good[1:]: "length",  # format A bytes parsed as format B
    }
    flipped = list(good)
    flipped[30] = "0" if flipped[30] != "0" else "1"
    cases["".join(flipped)] = "crc"
    for line, reason in cases.items():
        with pytest.raises(BadLine) as info:
            parse_cul_line(line)
        assert info.value.reason == reason, line


def test_rssi_conversion() -> None:
    assert cul_rssi(0x00) == -74
    assert cul_rssi(0x7F) == 63.5 - 74
    assert cul_rssi(0x80) == -64 - 74
    assert cul_rssi(0xFF) == -0.5 - 74


# -- receiver against the simulator -------------------------------------------------


async def test_receives_frames_and_survives_a_hangup() -> None:
    sim = CulSim()
    got = Collector()
    async with PtyEndpoint(sim) as endpoint:
        rx = CulReceiver(endpoint.path, timing=FAST, receiver_id="cul", **got.callbacks)
        info = await rx.start()
        try:
            assert info.kind == "cul"
            assert info.model == "nanoCUL868"
            assert info.firmware == "1.67"
            await wait_until(lambda: sim.commands == [b"V", b"brc", b"X21"], what="X21")
            assert got.states == [True]
            assert rx.connected

            t1 = telegram(30, ident="11111111")
            c1 = telegram(150, ident="22222222")
            sim.send(cul_line(t1, "A", rssi_dbm=-60))
            sim.send(b"garbage from the line\r\n")
            sim.send(b"bZZZZ\r\n")
            bad = bytearray(cul_line(telegram(20)))
            bad[25] = ord("0") if bad[25] != ord("0") else ord("1")
            sim.send(bytes(bad))
            sim.send(cul_line(telegram(20))[:-9] + b"\r\n")  # odd length: truncated
            await sim.send_split(cul_line(c1, "B", rssi_dbm=-95), parts=4)
            await wait_until(lambda: len(got.frames) == 2, what="two frames")
            assert [f.raw for f in got.frames] == [t1, c1]
            assert [f.rssi_dbm for f in got.frames] == [-60, -95]
            assert [f.link_mode for f in got.frames] == ["C1/T1", "C1"]
            assert all(f.receiver_id == "cul" for f in got.frames)
            assert rx.rejected == {"garbage": 1, "crc": 1, "truncated": 1}
            assert rx.stats.bad_checksum == 1

            await endpoint.hangup()
            await wait_until(lambda: got.states == [True, False], what="link lost")
            assert not rx.connected
            sim.commands.clear()
            await endpoint.restore()
            await wait_until(lambda: got.states == [True, False, True], what="reconnect")
            await wait_until(lambda: sim.commands == [b"V", b"brc", b"X21"], what="X21 again")
            sim.send(cul_line(t1, "A"))
            await wait_until(lambda: len(got.frames) == 3, what="frames after reconnect")
            assert got.frames[-1].raw == t1
        finally:
            await rx.stop()
            await rx.stop()  # idempotent
    assert not rx.connected


@pytest.mark.parametrize(("mode", "command", "label"), [("t1", b"brt", "T1"), ("s1", b"brs", "S1")])
async def test_link_modes(mode: str, command: bytes, label: str) -> None:
    sim = CulSim()
    got = Collector()
    async with PtyEndpoint(sim) as endpoint:
        rx = CulReceiver(endpoint.path, timing=FAST, link_mode=mode, **got.callbacks)  # type: ignore[arg-type]
        await rx.start()
        try:
            await wait_until(lambda: sim.commands == [b"V", command, b"X21"], what="X21")
            sim.send(cul_line(telegram(12), "A"))
            await wait_until(lambda: len(got.frames) == 1)
            assert got.frames[0].link_mode == label
        finally:
            await rx.stop()


async def test_unsupported_mode() -> None:
    sim = CulSim(modes=(b"brt", b"brc"))
    async with PtyEndpoint(sim) as endpoint:
        rx = CulReceiver(endpoint.path, timing=FAST, link_mode="s1", on_frame=lambda f: None)
        with pytest.raises(UnsupportedModeError, match="S1"):
            await rx.start()
        assert not rx.connected


async def test_wrong_device() -> None:
    sim = CulSim(version=b"V 2.0 SomethingElse")
    async with PtyEndpoint(sim) as endpoint:
        rx = CulReceiver(endpoint.path, timing=FAST, on_frame=lambda f: None)
        with pytest.raises(WrongDeviceError, match="not a CUL"):
            await rx.start()


async def test_silent_device() -> None:
    sim = CulSim()
    sim.silent = True
    async with PtyEndpoint(sim) as endpoint:
        rx = CulReceiver(endpoint.path, timing=FAST, on_frame=lambda f: None)
        rx.diagnose_no_answer = False  # no probing for other sticks: keeps the test fast
        with pytest.raises(NoAnswerError, match="version request"):
            await rx.start()


async def test_cannot_open(tmp_path: object) -> None:
    rx = CulReceiver("/dev/nonexistent-oms-cul", timing=FAST, on_frame=lambda f: None)
    with pytest.raises(PortOpenError):
        await rx.start()


async def test_cul_over_tcp() -> None:
    sim = CulSim()
    got = Collector()
    async with TcpEndpoint(sim) as endpoint:
        rx = CulReceiver(endpoint.path, timing=FAST, **got.callbacks)
        await rx.start()
        try:
            sim.send(cul_line(telegram(40), "B", rssi_dbm=-80))
            await wait_until(lambda: len(got.frames) == 1)
            assert got.frames[0].rssi_dbm == -80
            await endpoint.hangup()
            await wait_until(lambda: got.states[-1:] == [False])
            await endpoint.restore()
            await wait_until(lambda: got.states[-1:] == [True])
        finally:
            await rx.stop()
    await asyncio.sleep(0)
