"""Hex lines (kind "hex"): the pure parser and the receiver over TCP and stdin."""

from __future__ import annotations

import json
import os

import pytest

from custom_components.oms.omslib.receivers.base import PortOpenError
from custom_components.oms.omslib.receivers.hexlines import HexLineReceiver, parse_hex_line
from custom_components.oms.omslib.receivers.lines import MAX_LINE, BadLine
from tests import encoder as enc
from tests.sims.sim_collector import FAST, Collector, wait_until
from tests.sims.sim_lines import LineServer
from tests.sims.sim_telegrams import telegram

pytestmark = pytest.mark.usefixtures("socket_enabled")

FRAME = telegram(24)
HEX = FRAME.hex().upper()


@pytest.mark.parametrize(
    "line",
    [
        HEX,
        HEX.lower(),
        "0x" + HEX,
        " ".join(HEX[i : i + 2] for i in range(0, len(HEX), 2)),
        ":".join(HEX[i : i + 2] for i in range(0, len(HEX), 2)),
        HEX + "\r\n",
        "  " + HEX + "  \n",
        "telegram=|" + HEX + "|",
    ],
)
def test_plain_hex(line: str) -> None:
    parsed = parse_hex_line(line, receiver_id="esp")
    assert parsed is not None
    assert parsed.raw == FRAME
    assert parsed.rssi_dbm is None
    assert parsed.link_mode is None
    assert parsed.receiver_id == "esp"


@pytest.mark.parametrize(
    ("line", "rssi", "mode"),
    [
        (HEX + ";rssi=-71", -71.0, None),
        (HEX + ";-71.5", -71.5, None),
        (HEX + ";rssi:-60;mode=c1", -60.0, "C1"),
        (HEX + ";mode=T1;rssi=-80;extra=1", -80.0, "T1"),
        (HEX + ";", None, None),
    ],
)
def test_fields(line: str, rssi: float | None, mode: str | None) -> None:
    parsed = parse_hex_line(line)
    assert parsed is not None
    assert parsed.raw == FRAME
    assert parsed.rssi_dbm == rssi
    assert parsed.link_mode == mode


@pytest.mark.parametrize(
    ("obj", "rssi", "mode"),
    [
        ({"telegram": HEX, "rssi": -71}, -71.0, None),
        ({"frame": HEX.lower(), "rssi_dbm": "-65", "mode": "T"}, -65.0, "T1"),
        ({"data": HEX, "link_mode": "c1t1"}, None, "C1/T1"),
        ({"_": "decode", "telegram": HEX, "key": "NOKEY"}, None, None),
    ],
)
def test_json(obj: dict[str, object], rssi: float | None, mode: str | None) -> None:
    parsed = parse_hex_line(json.dumps(obj))
    assert parsed is not None
    assert parsed.raw == FRAME
    assert parsed.rssi_dbm == rssi
    assert parsed.link_mode == mode


def test_frames_with_crcs_pass_through() -> None:
    parsed = parse_hex_line(enc.add_crc_format_a(FRAME).hex())
    assert parsed is not None
    assert parsed.raw == enc.add_crc_format_a(FRAME)


@pytest.mark.parametrize("line", ["", "   ", "# a comment", "#" + HEX])
def test_ignored(line: str) -> None:
    assert parse_hex_line(line) is None


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (HEX[:-1], "truncated"),
        (HEX[:-2], "truncated"),  # L promises one byte more than the line holds
        (HEX[:20], "length"),
        ("hello world", "garbage"),
        (HEX + ";rssi=loud", "garbage"),
        (HEX + ";rssi=-999", "garbage"),
        (HEX + ";mode=Q7", "garbage"),
        ('{"telegram": 5}', "garbage"),
        ('{"rssi": -70}', "garbage"),
        ("{not json", "garbage"),
        ("[1]", "garbage"),
    ],
)
def test_bad_lines(line: str, reason: str) -> None:
    with pytest.raises(BadLine) as info:
        parse_hex_line(line)
    assert info.value.reason == reason


def test_commands_need_the_cmd_prefix() -> None:
    rx = HexLineReceiver("cat some file", on_frame=lambda f: None)
    assert rx.source.kind == "serial"
    assert HexLineReceiver("cmd:cat x", on_frame=lambda f: None, allow_shell=True).source.kind == "command"
    with pytest.raises(PortOpenError):
        HexLineReceiver("", on_frame=lambda f: None)


async def test_tcp_stream_with_split_and_overlong_lines_and_reconnect() -> None:
    other = telegram(40, ident="87654321")
    script = [
        b"# esphome wmbus forwarder\r\n",
        (HEX + ";rssi=-71\r\n").encode()[:9],
        (HEX + ";rssi=-71\r\n").encode()[9:],
        b"F" * (MAX_LINE + 100) + b"\n",
        b"not hex at all\n",
        json.dumps({"telegram": other.hex(), "rssi": -88, "mode": "C1"}).encode() + b"\n",
    ]
    async with LineServer(script, drop=True) as server:
        got = Collector()
        rx = HexLineReceiver(server.url, timing=FAST, **got.callbacks)
        info = await rx.start()
        try:
            assert info.kind == "hex"
            await wait_until(lambda: len(got.frames) >= 2)
            assert [f.raw for f in got.frames[:2]] == [FRAME, other]
            assert [f.rssi_dbm for f in got.frames[:2]] == [-71, -88]
            assert got.frames[1].link_mode == "C1"
            assert rx.rejected["garbage"] >= 1
            assert rx.stats.garbage_bytes >= MAX_LINE
            await wait_until(lambda: got.states[:3] == [True, False, True] and len(got.frames) >= 4)
            assert server.connections >= 2
        finally:
            await rx.stop()


async def test_stdin() -> None:
    read_fd, write_fd = os.pipe()
    got = Collector()
    rx = HexLineReceiver("-", timing=FAST, stdin_fd=read_fd, **got.callbacks)
    await rx.start()
    try:
        os.write(write_fd, HEX.encode() + b"\n" + HEX.encode()[:10])
        await wait_until(lambda: len(got.frames) == 1)
        os.write(write_fd, HEX.encode()[10:] + b";-50\n")
        await wait_until(lambda: len(got.frames) == 2)
        assert got.frames[1].rssi_dbm == -50
    finally:
        os.close(write_fd)
        await rx.stop()
        os.close(read_fd)
