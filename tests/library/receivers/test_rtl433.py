"""rtl_433: JSON and CSV parsing (incl. the format A length quirk); the receiver on a command and TCP."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from custom_components.oms.omslib.receivers.base import PortOpenError
from custom_components.oms.omslib.receivers.lines import BadLine, SdrSettings
from custom_components.oms.omslib.receivers.rtl433 import (
    Rtl433Parser,
    Rtl433Receiver,
    parse_rtl433_line,
    rtl433_frame,
)
from tests.sims.sim_collector import FAST, Collector, wait_until
from tests.sims.sim_lines import LineServer, command
from tests.sims.sim_telegrams import rtl433_format_a_quirk, telegram

pytestmark = pytest.mark.usefixtures("socket_enabled")


def json_line(data: str, mode: str = "T", model: str = "Wireless-MBus") -> str:
    return json.dumps(
        {
            "time": "@0.038159s",
            "model": model,
            "mode": mode,
            "M": "ABC",
            "id": 12345678,
            "data": data,
            "mic": "CRC",
        }
    )


@pytest.mark.parametrize(("mode", "label"), [("T", "T1"), ("C", "C1"), ("S", "S1"), ("R", None)])
def test_json_line(mode: str, label: str | None) -> None:
    frame = telegram(40)
    parsed = parse_rtl433_line(json_line(frame.hex(), mode), receiver_id="r")
    assert parsed is not None
    assert parsed.raw == frame
    assert parsed.link_mode == label
    assert parsed.rssi_dbm is None
    assert parsed.receiver_id == "r"


@pytest.mark.parametrize("payload", [1, 6, 7, 22, 23, 60])
def test_format_a_length_quirk_is_undone(payload: int) -> None:
    frame = telegram(payload)
    assert rtl433_frame(rtl433_format_a_quirk(frame).hex()) == frame


def test_other_l_mismatch_is_fixed() -> None:
    frame = telegram(30)
    assert rtl433_frame((bytes([3]) + frame[1:]).hex()) == frame


@pytest.mark.parametrize(
    "line",
    [
        json_line("00", model="Acurite-Tower"),
        json_line("00", model="KNX-RF"),
        '{"time": "x", "model": "Fineoffset-WH2"}',
        "rtl_433 version 23.11 branch master",
        "",
    ],
)
def test_other_lines_are_ignored(line: str) -> None:
    assert parse_rtl433_line(line) is None


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('{"model": "Wireless-MBus"', "garbage"),
        ("[1, 2]", None),
        ('{"model": "Wireless-MBus", "mode": "T"}', "garbage"),
        (json_line("abc"), "truncated"),
        (json_line("0102"), "length"),
    ],
)
def test_bad_json(line: str, reason: str | None) -> None:
    if reason is None:
        assert parse_rtl433_line(line) is None
        return
    with pytest.raises(BadLine) as info:
        parse_rtl433_line(line)
    assert info.value.reason == reason


def test_csv_with_header() -> None:
    frame = telegram(20)
    parser = Rtl433Parser()
    assert parser("time,msg,codes,model,mode,M,id,data,mic,temperature_C") is None
    parsed = parser(f"2024-01-01 10:00:00,,,Wireless-MBus,C,ABC,12345678,{frame.hex()},CRC,\r\n")
    assert parsed is not None
    assert parsed.raw == frame
    assert parsed.link_mode == "C1"
    assert parser("2024-01-01 10:00:01,,,Acurite-Tower,,,,,,21.5") is None


def test_csv_without_header_uses_the_hex_field() -> None:
    frame = telegram(20)
    parsed = parse_rtl433_line(f"2024-01-01 10:00:00,Wireless-MBus,T,ABC,12345678,68,{frame.hex()},CRC")
    assert parsed is not None
    assert parsed.raw == frame
    with pytest.raises(BadLine):
        parse_rtl433_line("2024-01-01 10:00:00,Wireless-MBus,T,ABC,12345678")


async def test_receiver_on_a_command(tmp_path: Path) -> None:
    frames = [telegram(20, ident="00000001"), telegram(33, ident="00000002")]
    script = tmp_path / "out.jsonl"
    script.write_text(
        json_line(frames[0].hex(), "C")
        + "\n"
        + json_line("00", model="Acurite-Tower")
        + "\n{broken\n"
        + json_line(rtl433_format_a_quirk(frames[1]).hex(), "T")
        + "\n"
    )
    got = Collector()
    rx = Rtl433Receiver(
        "cmd:" + command(str(script), hold=5),
        timing=FAST,
        receiver_id="sdr",
        allow_shell=True,
        **got.callbacks,
    )
    info = await rx.start()
    try:
        assert info.kind == "rtl433"
        await wait_until(lambda: len(got.frames) == 2)
        assert [f.raw for f in got.frames] == frames
        assert [f.link_mode for f in got.frames] == ["C1", "T1"]
        assert rx.rejected == {"garbage": 1}
    finally:
        await rx.stop()


async def test_receiver_over_tcp_reconnects() -> None:
    frame = telegram(18)
    line = json_line(frame.hex(), "T") + "\n"
    async with LineServer([line[:30].encode(), line[30:].encode()], drop=True) as server:
        got = Collector()
        rx = Rtl433Receiver(server.url, timing=FAST, **got.callbacks)
        await rx.start()
        try:
            await wait_until(lambda: len(got.frames) >= 2 and got.states[:3] == [True, False, True])
            assert all(f.raw == frame for f in got.frames)
        finally:
            await rx.stop()


def test_default_and_settings_run_rtl_433_without_a_shell() -> None:
    rx = Rtl433Receiver("default", on_frame=lambda f: None)
    assert rx.source.kind == "program"
    assert rx.source.argv == (("rtl_433", "-d", "0", "-f", "868950000", "-s", "1200k", "-F", "json"),)
    settings = SdrSettings(program="/usr/local/bin/rtl_433", frequency=868_300_000, gain=0, device_index=2)
    assert Rtl433Receiver(settings.device(), on_frame=lambda f: None).source.argv == (
        ("/usr/local/bin/rtl_433", "-d", "2", "-f", "868300000", "-s", "1200k", "-F", "json", "-g", "0"),
    )
    with pytest.raises(PortOpenError):  # another program than rtl_433
        Rtl433Receiver("sdr:?program=/usr/bin/python3", on_frame=lambda f: None)
