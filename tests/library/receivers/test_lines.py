"""The shared line machinery: framer, source strings, command checks, L fixing."""

from __future__ import annotations

import logging
import sys

import pytest

from custom_components.oms.omslib.receivers import base, lines
from custom_components.oms.omslib.receivers.base import FramerStats, PortOpenError
from custom_components.oms.omslib.receivers.lines import (
    MAX_LINE,
    BadLine,
    LineSource,
    command_programs,
    fix_l_field,
    frame_lines,
    hex_bytes,
    missing_programs,
    parse_source,
)
from tests.sims.sim_telegrams import telegram


def test_frame_lines_lf_crlf_and_partial() -> None:
    buffer = bytearray(b"one\r\ntwo\n\n  three \r\nfour")
    stats = FramerStats()
    assert frame_lines(buffer, stats) == ["one", "two", "three"]
    assert buffer == b"four"
    buffer += b" more\r"
    assert frame_lines(buffer, stats) == []
    buffer += b"\n"
    assert frame_lines(buffer, stats) == ["four more"]
    assert buffer == b""
    assert stats.messages == 4


def test_frame_lines_drops_overlong_line_across_calls() -> None:
    stats = FramerStats()
    buffer = bytearray(b"ok1\n" + b"A" * (MAX_LINE + 10))
    assert frame_lines(buffer, stats) == ["ok1"]
    assert len(buffer) == 1  # only the discard marker is kept
    buffer += b"B" * 50
    assert frame_lines(buffer, stats) == []
    buffer += b"C" * 10 + b"\nok2\n"
    assert frame_lines(buffer, stats) == ["ok2"]
    assert stats.garbage_bytes >= MAX_LINE + 60


def test_frame_lines_overlong_complete_line_is_dropped() -> None:
    buffer = bytearray(b"x" * (MAX_LINE + 1) + b"\nok\n")
    assert frame_lines(buffer, None) == ["ok"]


def test_frame_lines_invalid_utf8_is_replaced_not_fatal() -> None:
    buffer = bytearray(b"\xff\xfeab\n")
    assert frame_lines(buffer) == ["\ufffd\ufffdab"]


@pytest.mark.parametrize(
    ("device", "default", "expected"),
    [
        ("-", None, LineSource("stdin", "-")),
        ("stdin", None, LineSource("stdin", "-")),
        ("tcp://127.0.0.1:5000", None, LineSource("tcp", "127.0.0.1", 5000)),
        ("socket://example.org:7", None, LineSource("tcp", "example.org", 7)),
        ("tcp://[::1]:9", None, LineSource("tcp", "::1", 9)),
        ("cmd:cat x", None, LineSource("command", "cat x")),
        ("", "rtl_433 -F json", LineSource("command", "rtl_433 -F json")),
        ("default", "rtl_433", LineSource("command", "rtl_433")),
        ("rtl_sdr - | rtl_wmbus", "x", LineSource("command", "rtl_sdr - | rtl_wmbus")),
        ("/dev/ttyUSB0", "x", LineSource("serial", "/dev/ttyUSB0")),
        ("/dev/ttyUSB0", None, LineSource("serial", "/dev/ttyUSB0")),
        ("rfc2217://host:1", None, LineSource("serial", "rfc2217://host:1")),
    ],
)
def test_parse_source(device: str, default: str | None, expected: LineSource) -> None:
    assert parse_source(device, default_command=default) == expected


@pytest.mark.parametrize("device", ["tcp://host", "tcp://:80", "tcp://h:notaport", "cmd:", ""])
def test_parse_source_errors(device: str) -> None:
    with pytest.raises(PortOpenError):
        parse_source(device)


def test_command_programs() -> None:
    cmd = "FOO=1 rtl_sdr -f 868.95M -s 1.6e6 - 2>/dev/null | exec rtl_wmbus -s && nice -n 5 tee log"
    assert command_programs(cmd) == ["rtl_sdr", "rtl_wmbus", "tee"]


def test_missing_programs() -> None:
    assert missing_programs(f"{sys.executable} -c pass | cat") == []
    assert missing_programs("no-such-program-oms-xyz | cat") == ["no-such-program-oms-xyz"]
    assert missing_programs("/nonexistent/bin/tool") == ["/nonexistent/bin/tool"]


def test_hex_bytes() -> None:
    assert hex_bytes("0aFF") == b"\x0a\xff"
    with pytest.raises(BadLine) as info:
        hex_bytes("abc")
    assert info.value.reason == "truncated"
    with pytest.raises(BadLine) as info:
        hex_bytes("zz")
    assert info.value.reason == "garbage"


def test_fix_l_field() -> None:
    frame = telegram(5)
    assert fix_l_field(frame) is frame
    wrong = bytes([0x99]) + frame[1:]
    assert fix_l_field(wrong) == frame
    with pytest.raises(BadLine, match="too short"):
        fix_l_field(frame[:10])
    with pytest.raises(BadLine, match="too long"):
        fix_l_field(bytes(300))


def test_warning_rate_limit() -> None:
    levels = [lines._log_level(n) for n in (1, 2, 9, 10, 11, 100, 150, 1000)]
    assert levels == [
        logging.WARNING,
        logging.DEBUG,
        logging.DEBUG,
        logging.WARNING,
        logging.DEBUG,
        logging.WARNING,
        logging.DEBUG,
        logging.WARNING,
    ]


def test_drivers_are_registered() -> None:
    from custom_components.oms.omslib.receivers import cul, hexlines, replay, rtl433, rtlwmbus

    assert base.RECEIVERS["cul"] is cul.CulReceiver
    assert base.RECEIVERS["rtlwmbus"] is rtlwmbus.RtlWmbusReceiver
    assert base.RECEIVERS["rtl433"] is rtl433.Rtl433Receiver
    assert base.RECEIVERS["hex"] is hexlines.HexLineReceiver
    assert base.RECEIVERS["replay"] is replay.ReplayReceiver
