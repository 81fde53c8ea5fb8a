"""Wired M-Bus frames, EN 13757-2 §5."""

from __future__ import annotations

import pytest

from custom_components.oms.omslib.errors import CrcError, LengthError, MalformedError
from custom_components.oms.omslib.wired import (
    REQ_UD2,
    SND_NKE,
    is_long_frame,
    long_frame,
    parse_wired,
    short_frame,
)


def test_short_frames_from_the_frame_catalogue() -> None:
    assert short_frame(REQ_UD2, 0).hex() == "105b005b16"
    assert short_frame(REQ_UD2 | 0x20, 0).hex() == "107b007b16"
    assert short_frame(SND_NKE, 0xFD).hex() == "1040fd3d16"
    parsed = parse_wired(bytes.fromhex("1040fd3d16"))
    assert (parsed.kind, parsed.c_field, parsed.address) == ("short", 0x40, 0xFD)


def test_select_frame_for_secondary_address() -> None:
    frame = long_frame(0x73, 0xFD, 0x52, bytes.fromhex("01000000DADAFA1B"))
    assert frame.hex().upper() == "680B0B6873FD5201000000DADAFA1B8C16"
    parsed = parse_wired(frame)
    assert (parsed.kind, parsed.ci, parsed.data) == ("long", 0x52, bytes.fromhex("01000000DADAFA1B"))
    assert is_long_frame(frame)


def test_control_frame_and_ack() -> None:
    parsed = parse_wired(bytes.fromhex("6803036808 0B72 8516".replace(" ", "")))
    assert (parsed.kind, parsed.ci, parsed.data) == ("control", 0x72, b"")
    assert parse_wired(b"\xe5").kind == "ack"


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b"", LengthError),
        (b"\xe5\xe5", LengthError),
        (bytes.fromhex("105b005c16"), CrcError),
        (bytes.fromhex("105b005b17"), MalformedError),
        (bytes.fromhex("105b00"), LengthError),
        (bytes.fromhex("680B0B6873FD5201000000DADAFA1B8D16"), CrcError),
        (bytes.fromhex("680B0C6873FD5201000000DADAFA1B8C16"), MalformedError),
        (bytes.fromhex("680B0B6873FD5201000000DADAFA1B8C"), LengthError),
        (bytes.fromhex("680B0B6873FD5201000000DADAFA1B8C17"), MalformedError),
        (bytes.fromhex("6802026873FD7016"), LengthError),
        (bytes.fromhex("6802026873FD700016"), MalformedError),
        (bytes.fromhex("42"), MalformedError),
    ],
)
def test_bad_frames_raise_typed_errors(raw: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        parse_wired(raw)


def test_long_frame_too_long() -> None:
    with pytest.raises(LengthError):
        long_frame(0x08, 1, 0x72, bytes(253))
