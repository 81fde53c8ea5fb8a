"""rtl_wmbus: the pure line parser, then the receiver on a real child process, stdin and TCP."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
import sys

import pytest

from custom_components.oms.omslib.receivers.base import PortOpenError
from custom_components.oms.omslib.receivers.lines import (
    BadLine,
    SdrSettings,
    SourceRestart,
    Stages,
    parse_sdr,
)
from custom_components.oms.omslib.receivers.rtlwmbus import (
    DEFAULT_COMMAND,
    RtlWmbusReceiver,
    parse_rtlwmbus_line,
)
from tests.sims.sim_collector import FAST, Collector, wait_until
from tests.sims.sim_lines import LineServer, command
from tests.sims.sim_telegrams import telegram

pytestmark = pytest.mark.usefixtures("socket_enabled")  # TCP tests talk to 127.0.0.1


def rtl_line(frame: bytes, mode: str = "T1", crc: int = 1, three_of_six: int = 1) -> str:
    return f"{mode};{crc};{three_of_six};2019-02-09 07:14:18.000;117;102;94740459;0x{frame.hex()}"


# -- parser ------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["T1", "C1", "S1"])
def test_good_lines(mode: str) -> None:
    frame = telegram(30)
    parsed = parse_rtlwmbus_line(rtl_line(frame, mode), receiver_id="sdr")
    assert parsed is not None
    assert parsed.raw == frame
    assert parsed.link_mode == mode
    assert parsed.rssi_dbm is None
    assert parsed.receiver_id == "sdr"


@pytest.mark.parametrize("ending", ["\n", "\r\n", " \r\n", ""])
def test_line_endings(ending: str) -> None:
    frame = telegram(8)
    parsed = parse_rtlwmbus_line(rtl_line(frame) + ending)
    assert parsed is not None
    assert parsed.raw == frame


def test_second_hex_field_is_ignored() -> None:
    frame = telegram(8)
    parsed = parse_rtlwmbus_line(rtl_line(frame) + ";0xdeadbeef")
    assert parsed is not None
    assert parsed.raw == frame


def test_bare_hex_line() -> None:
    frame = telegram(12)
    parsed = parse_rtlwmbus_line("0x" + frame.hex().upper())
    assert parsed is not None
    assert parsed.raw == frame
    assert parsed.link_mode is None


def test_inconsistent_l_byte_is_corrected() -> None:
    frame = telegram(20)
    wrong = bytes([frame[0] + 7]) + frame[1:]
    parsed = parse_rtlwmbus_line(rtl_line(wrong, "C1"))
    assert parsed is not None
    assert parsed.raw == frame


@pytest.mark.parametrize(("crc", "three_of_six"), [(0, 1), (1, 0), (0, 0)])
def test_failed_checks_are_rejected(crc: int, three_of_six: int) -> None:
    with pytest.raises(BadLine) as info:
        parse_rtlwmbus_line(rtl_line(telegram(10), crc=crc, three_of_six=three_of_six))
    assert info.value.reason == "crc"


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("X9;1;1;2019-02-09 07:14:18.000;117;102;94740459;0x00", "garbage"),
        ("T1;1;1;2019-02-09 07:14:18.000;117;102;94740459;4944", "garbage"),
        ("T1;1;1;2019", "garbage"),
        ("T1;1;1;2019-02-09 07:14:18.000;117;102;94740459;0x123", "truncated"),
        ("T1;1;1;2019-02-09 07:14:18.000;117;102;94740459;0x1234", "length"),
        ("T1;1;1;2019-02-09 07:14:18.000;117;102;94740459;0xzz", "garbage"),
        ("0x12345", "truncated"),
    ],
)
def test_bad_lines(line: str, reason: str) -> None:
    with pytest.raises(BadLine) as info:
        parse_rtlwmbus_line(line)
    assert info.value.reason == reason


def test_banner_is_ignored_and_exit_restarts() -> None:
    assert parse_rtlwmbus_line("Found 1 device(s):") is None
    with pytest.raises(SourceRestart):
        parse_rtlwmbus_line("rtl_wmbus: exiting")


# -- receiver ------------------------------------------------------------------------------


def test_default_runs_rtl_sdr_into_rtl_wmbus_without_a_shell() -> None:
    rx = RtlWmbusReceiver("", on_frame=lambda f: None)
    assert rx.source.kind == "program"
    # DEFAULT_COMMAND's pipeline as argument lists (its 2>/dev/null: a feeder's stderr is discarded)
    assert DEFAULT_COMMAND.startswith("rtl_sdr -f 868.95M -s 1.6e6 -")
    assert rx.source.argv == (
        ("rtl_sdr", "-d", "0", "-f", "868950000", "-s", "1.6e6", "-"),
        ("rtl_wmbus",),
    )


def test_sdr_settings_become_arguments() -> None:
    settings = SdrSettings(program="/opt/sdr/bin/rtl_wmbus", frequency=868_300_000, gain=42.1, device_index=1)
    rx = RtlWmbusReceiver(settings.device(), on_frame=lambda f: None)
    assert rx.source.argv == (
        ("/opt/sdr/bin/rtl_sdr", "-d", "1", "-f", "868300000", "-s", "1.6e6", "-g", "42.1", "-"),
        ("/opt/sdr/bin/rtl_wmbus",),
    )
    assert parse_sdr(settings.device(), frozenset({"rtl_wmbus"})) == settings
    assert parse_sdr("sdr:", frozenset({"rtl_wmbus"})) == SdrSettings()


@pytest.mark.parametrize(
    "device",
    [
        "sdr:?frequency=1000",
        "sdr:?frequency=abc",
        "sdr:?gain=99",
        "sdr:?device_index=-1",
        "sdr:?program=/bin/sh",
        "sdr:?program=rtl_433",
        "sdr:?program=rtl_wmbus%3Breboot",
        "sdr:?program=bin/rtl_wmbus",
        "sdr:?shell=1",
    ],
)
def test_bad_sdr_settings_are_refused(device: str) -> None:
    with pytest.raises(PortOpenError):
        RtlWmbusReceiver(device, on_frame=lambda f: None)


async def test_program_pipeline_runs_without_a_shell_and_stop_kills_it(tmp_path: Path) -> None:
    frame = telegram(15)
    pid_file = tmp_path / "feeder.pid"
    feeder = (
        "import os, sys, time\n"
        f"open({str(pid_file)!r}, 'w').write(str(os.getpid()))\n"
        f"sys.stdout.write({rtl_line(frame) + chr(10)!r}); sys.stdout.flush(); time.sleep(30)"
    )

    class Piped(RtlWmbusReceiver):
        @classmethod
        def sdr_stages(cls, settings: SdrSettings) -> Stages:
            return ((sys.executable, "-c", feeder), ("cat",))  # the feeder's output through a second stage

    got = Collector()
    rx = Piped("default", timing=FAST, **got.callbacks)
    info = await rx.start()
    try:
        assert info.model == "rtl_wmbus (SDR)"
        await wait_until(lambda: len(got.frames) == 1, what="the frame through both stages")
        assert got.frames[0].raw == frame
    finally:
        await rx.stop()
    pid = int(pid_file.read_text())
    await wait_until(lambda: not _alive(pid), what="the feeder ended with the pipeline")


async def test_pipeline_restarts_when_it_exits(tmp_path: Path) -> None:
    frames = [telegram(20, ident=f"0000000{i}") for i in range(3)]
    script = tmp_path / "lines.txt"
    script.write_text(
        "rtl_wmbus banner line\n"
        + rtl_line(frames[0])
        + "\n"
        + rtl_line(frames[1], "C1", crc=0)
        + "\n"
        + rtl_line(frames[2], "C1")
        + "\n"
    )
    starts = tmp_path / "starts"
    got = Collector()
    rx = RtlWmbusReceiver(
        "cmd:" + command(str(script), hold=0.1, count_file=str(starts)),
        timing=FAST,
        allow_shell=True,
        **got.callbacks,
    )
    rx.restart_min = 0.05  # type: ignore[misc]
    info = await rx.start()
    try:
        assert info.kind == "rtlwmbus"
        await wait_until(lambda: len(got.frames) == 2, what="first run")
        assert [f.raw for f in got.frames] == [frames[0], frames[2]]
        assert [f.link_mode for f in got.frames] == ["T1", "C1"]
        await wait_until(lambda: got.states[:3] == [True, False, True], what="restart")
        await wait_until(lambda: len(got.frames) >= 4, what="frames after restart")
        assert [f.raw for f in got.frames[2:4]] == [frames[0], frames[2]]
        assert len(starts.read_text().split()) >= 2
        assert rx.restarts >= 1
        assert rx.rejected["crc"] >= 2
    finally:
        await rx.stop()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as file:
            return file.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


async def test_exiting_line_restarts_and_stop_kills_the_pipeline(tmp_path: Path) -> None:
    frame = telegram(15)
    script = tmp_path / "lines.txt"
    script.write_text(rtl_line(frame) + "\nrtl_wmbus: exiting\n")
    starts = tmp_path / "starts"
    got = Collector()
    # The stage would linger for 30 s: only the "exiting" line can make the restart quick.
    rx = RtlWmbusReceiver(
        command(str(script), hold=30, count_file=str(starts)) + " | cat",
        timing=FAST,
        allow_shell=True,
        **got.callbacks,
    )
    rx.restart_min = 0.05  # type: ignore[misc]
    await rx.start()
    try:
        await wait_until(lambda: starts.exists() and len(starts.read_text().split()) >= 2, what="restart")
        await wait_until(lambda: len(got.frames) >= 2)
        assert False in got.states
    finally:
        await rx.stop()
    pids = [int(pid) for pid in starts.read_text().split()]
    await wait_until(lambda: not any(_alive(pid) for pid in pids), what="every pipeline stage ended")
    assert not rx.connected


async def test_missing_program_is_a_port_open_error() -> None:
    rx = RtlWmbusReceiver(
        "no-such-sdr-tool-oms -f 868.95M | rtl_wmbus", timing=FAST, on_frame=lambda f: None, allow_shell=True
    )
    with pytest.raises(PortOpenError, match="no-such-sdr-tool-oms"):
        await rx.start()
    assert not rx.connected


async def test_stdin_source() -> None:
    read_fd, write_fd = os.pipe()
    got = Collector()
    rx = RtlWmbusReceiver("-", timing=FAST, stdin_fd=read_fd, **got.callbacks)
    await rx.start()
    try:
        frame = telegram(11)
        os.write(write_fd, (rtl_line(frame, "S1") + "\n").encode())
        await wait_until(lambda: len(got.frames) == 1)
        assert got.frames[0].link_mode == "S1"
        os.close(write_fd)
        await wait_until(lambda: got.states[:2] == [True, False], what="EOF on stdin")
    finally:
        await rx.stop()
        os.close(read_fd)


async def test_tcp_reconnects() -> None:
    frame = telegram(25)
    async with LineServer([(rtl_line(frame, "C1") + "\r\n").encode()], drop=True) as server:
        got = Collector()
        rx = RtlWmbusReceiver(server.url, timing=FAST, **got.callbacks)
        await rx.start()
        try:
            await wait_until(lambda: len(got.frames) >= 2, what="frames from two connections")
            assert server.connections >= 2
            assert got.states[:3] == [True, False, True]
            assert all(f.raw == frame for f in got.frames)
        finally:
            await rx.stop()


async def test_tcp_refused() -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    rx = RtlWmbusReceiver(f"tcp://127.0.0.1:{port}", timing=FAST, on_frame=lambda f: None)
    with pytest.raises(PortOpenError):
        await rx.start()


@pytest.mark.parametrize(
    "device",
    ["cmd:rtl_sdr -f 868.95M - | rtl_wmbus", "rtl_sdr -f 868.95M - | rtl_wmbus", "touch /tmp/x; rtl_wmbus"],
)
def test_a_shell_command_needs_the_explicit_opt_in(device: str) -> None:
    """Only a caller that says so (the command line) may run a shell command: Home Assistant never does,
    whatever was typed into its forms. Nothing is started; the constructor refuses."""
    with pytest.raises(PortOpenError, match="Shell commands are not allowed"):
        RtlWmbusReceiver(device, on_frame=lambda f: None)
    assert RtlWmbusReceiver(device, on_frame=lambda f: None, allow_shell=True).source.kind == "command"
    # the SDR settings still run, as a fixed argument list
    assert RtlWmbusReceiver("default", on_frame=lambda f: None).source.kind == "program"


async def test_the_shell_is_refused_where_it_starts_too(tmp_path: Path) -> None:
    """Defence in depth: a receiver made without the opt-in never starts a shell, even when its source
    is turned into a command after construction (the check sits where the shell would start)."""
    marker = tmp_path / "ran"
    rx = RtlWmbusReceiver("default", timing=FAST, on_frame=lambda f: None)
    rx.source = RtlWmbusReceiver.source_of(f"cmd:touch {marker}")
    assert rx.source.kind == "command"
    with pytest.raises(PortOpenError, match="Shell commands are not allowed"):
        await rx.start()
    assert not marker.exists()
