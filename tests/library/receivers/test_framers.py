"""Pure framers: good frames, garbage, split input, bad checksums, bounded buffers."""

from __future__ import annotations

import random
from typing import Any

import pytest

from custom_components.oms.omslib.receivers import amber, im871a, iu891a, rc1180
from custom_components.oms.omslib.receivers.base import (
    Framer,
    FramerStats,
    plausible_frame_start,
    with_article,
)
from custom_components.oms.omslib.receivers.ccitt import crc16_x25, x25_ok
from tests.sims.amber import command as amber_command
from tests.sims.endpoint import crc16_x25_bitwise
from tests.sims.im871a import hci
from tests.sims.iu891a import message as wimod_message
from tests.sims.sim_telegrams import FRAME, FRAME2


def chunks(data: bytes, rng: random.Random) -> list[bytes]:
    out: list[bytes] = []
    i = 0
    while i < len(data):
        n = rng.randint(1, 40)
        out.append(data[i : i + n])
        i += n
    return out


def run(
    framer: Framer[Any],
    stream: bytes,
    rng: random.Random | None = None,
    stats: FramerStats | None = None,
    buffer: bytearray | None = None,
) -> list[Any]:
    """The messages ``framer`` finds in ``stream``, fed whole or (``rng``) in random pieces of 1-40
    bytes; what it leaves undecoded stays in ``buffer`` when one is given."""
    buffer = bytearray() if buffer is None else buffer
    out: list[Any] = []
    for piece in chunks(stream, rng) if rng else [stream]:
        buffer += piece
        out += framer(buffer, stats)
    return out


# -- CRC -----------------------------------------------------------------------------


def test_crc16_x25_check_value_and_residue() -> None:
    assert crc16_x25(b"123456789") == 0x906E
    assert crc16_x25(b"123456789") == crc16_x25_bitwise(b"123456789")
    # a real iU891A RX_MESSAGE_IND (SAP..payload + CRC)
    sample = bytes.fromhex("09209F436D380000 02E7 1844AE4C4455223368077A55000000041389E20100023B0000 AF59")
    assert x25_ok(sample)
    assert not x25_ok(sample[:-1] + b"\x00")
    rng = random.Random(1)
    for _ in range(50):
        data = rng.randbytes(rng.randint(0, 300))
        assert crc16_x25(data) == crc16_x25_bitwise(data)


# -- iM871A --------------------------------------------------------------------------


def test_hci_good_frames_with_and_without_crc() -> None:
    stream = hci(2, 3, FRAME[1:], rssi=125) + hci(1, 0x10, b"\x33\x00\x15\x02\x01\x02\x03\x04", crc=False)
    stats = FramerStats()
    msgs = run(im871a.feed_hci, stream, stats=stats)
    assert [(m.endpoint, m.msg_id, m.rssi) for m in msgs] == [(2, 3, 125), (1, 0x10, None)]
    assert msgs[0].payload == FRAME[1:]
    assert stats.messages == 2


def test_hci_timestamp_field() -> None:
    body = bytes((0xE2, 0x03, len(FRAME) - 1)) + FRAME[1:] + (0x01020304).to_bytes(4, "little") + b"\x50"
    stream = b"\xa5" + body + crc16_x25_bitwise(body).to_bytes(2, "little")
    (msg,) = run(im871a.feed_hci, stream)
    assert msg.timestamp == 0x01020304
    assert msg.rssi == 0x50


def test_hci_garbage_split_and_bad_crc() -> None:
    good = hci(2, 3, FRAME[1:], rssi=100)
    bad = bytearray(hci(2, 3, FRAME2[1:], rssi=100))
    bad[10] ^= 0xFF
    stream = b"\x00\x11garbage\xa5\xa5" + good + bytes(bad) + b"\xa5\x77" + good + b"\xa5"
    for seed in range(20):
        stats, buffer = FramerStats(), bytearray()
        msgs = run(im871a.feed_hci, stream, random.Random(seed), stats, buffer)
        assert [m.payload for m in msgs] == [FRAME[1:], FRAME[1:]]
        assert stats.bad_checksum >= 1
        assert buffer == b"\xa5"  # a partial message stays


def test_hci_byte_by_byte() -> None:
    stream = hci(2, 3, FRAME[1:], rssi=1) * 3
    buffer = bytearray()
    msgs = []
    for byte in stream:
        buffer.append(byte)
        msgs += im871a.feed_hci(buffer)
    assert len(msgs) == 3
    assert not buffer


def test_hci_garbage_is_bounded() -> None:
    rng = random.Random(7)
    buffer = bytearray()
    for _ in range(200):
        buffer += rng.randbytes(1000)
        im871a.feed_hci(buffer)
        assert len(buffer) <= 4 + 255 + 7
    buffer += hci(2, 3, FRAME[1:], rssi=1) * 300  # any partial is resolved by good traffic
    assert len(im871a.feed_hci(buffer)) >= 299


def test_im871a_rssi_to_dbm() -> None:
    assert im871a.rssi_to_dbm(45) == -100
    assert im871a.rssi_to_dbm(205) == -20
    assert im871a.rssi_to_dbm(230) == 0
    assert im871a.rssi_to_dbm(255) == 0


# -- iU891A --------------------------------------------------------------------------


def test_wimod_indication_response_and_escaping() -> None:
    tricky = bytes.fromhex("1044C0DB78563412C0037A2A0000002F2F")  # C0 / DB inside the frame
    ind = wimod_message(9, 0x20, b"\x00" * 4 + b"\x00\x00\x02\xc4" + tricky)
    rsp = wimod_message(1, 4, b"\x6e\x01\x02\x03\x04", status=0)
    assert iu891a.encode_wimod(1, 4, b"\x6e\x01\x02\x03\x04", status=0) == rsp
    msgs = run(iu891a.feed_wimod, b"\xc0" * 30 + ind + rsp)
    assert msgs[0].status is None
    assert msgs[0].payload[8:] == tricky
    assert (msgs[1].sap, msgs[1].msg_id, msgs[1].status, msgs[1].payload) == (
        1,
        4,
        0,
        b"\x6e\x01\x02\x03\x04",
    )


def test_wimod_garbage_split_and_bad_crc() -> None:
    good = wimod_message(9, 0x20, b"\x00" * 7 + b"\xc4" + FRAME)
    bad = bytearray(wimod_message(9, 0x20, b"\x00" * 7 + b"\xc4" + FRAME2))
    bad[12] ^= 0x01
    stream = b"junk" + good + bytes(bad) + b"\xdb\x01\xc0" + good + b"\xc0\x09\x20"
    for seed in range(20):
        stats, buffer = FramerStats(), bytearray()
        msgs = run(iu891a.feed_wimod, stream, random.Random(seed), stats, buffer)
        assert [m.payload[8:] for m in msgs] == [FRAME, FRAME]
        assert stats.bad_checksum >= 1
        assert buffer == b"\x09\x20"


def test_wimod_garbage_is_bounded() -> None:
    buffer = bytearray()
    for _ in range(50):
        buffer += bytes(range(1, 192)) * 5
        iu891a.feed_wimod(buffer)
        assert len(buffer) <= iu891a.MAX_FRAME + 1000


# -- Amber ---------------------------------------------------------------------------


def test_amber_data_ind_garbage_and_bad_checksum() -> None:
    good = amber_command(0x03, FRAME[1:] + b"\x1c")
    bad = bytearray(amber_command(0x03, FRAME2[1:] + b"\x1c"))
    bad[5] ^= 0x10
    stream = b"abc" + good + bytes(bad) + b"\x00\x01" + good + b"\xff\x03"
    for seed in range(20):
        stats, buffer = FramerStats(), bytearray()
        msgs = run(amber.feed_amber, stream, random.Random(seed), stats, buffer)
        assert [(m.cmd, m.payload) for m in msgs] == [(3, FRAME[1:] + b"\x1c")] * 2
        assert stats.bad_checksum >= 1
        assert buffer == b"\xff\x03"


def test_amber_encode_matches_documented_probe() -> None:
    assert amber.encode_amber(0x0A, b"\x00\x80") == bytes.fromhex("FF0A02008077")
    assert amber.xor8(b"") == 0
    assert amber.xor8(bytes(range(1, 200))) == amber.xor8(bytes(range(1, 100))) ^ amber.xor8(
        bytes(range(100, 200))
    )


def test_amber_transparent_bare_frames_and_commands() -> None:
    stream = b"\x01\x02" + FRAME + amber_command(0x84, b"\x00") + b"\x55" + FRAME2
    msgs = run(amber.feed_amber_transparent, stream, random.Random(3))
    assert [(m.cmd, m.payload) for m in msgs] == [(None, FRAME), (0x84, b"\x00"), (None, FRAME2)]
    # in command mode the same bare frames are garbage
    assert [m.cmd for m in run(amber.feed_amber, stream)] == [0x84]


def test_amber_rssi_to_dbm() -> None:
    assert amber.rssi_to_dbm(0x1C) == 14 - 74
    assert amber.rssi_to_dbm(0xF0) == -8 - 74


# -- RC1180 --------------------------------------------------------------------------


def test_rc1180_frames_with_rssi_and_resync() -> None:
    stream = b"\x00\x01\x02" + FRAME + b"\x80" + b"e" + FRAME2 + b"\x90" + FRAME[:5]
    buffer = bytearray()
    out = run(rc1180.feed_rc1180, stream, random.Random(5), buffer=buffer)
    assert [(f.raw, f.rssi) for f in out] == [(FRAME, 0x80), (FRAME2, 0x90)]
    assert bytes(buffer) == FRAME[:5]
    assert [f.raw for f in run(rc1180.feed_rc1180_no_rssi, FRAME + FRAME2)] == [FRAME, FRAME2]


def test_rc1180_garbage_is_bounded() -> None:
    buffer = bytearray(random.Random(2).randbytes(100_000))
    rc1180.feed_rc1180(buffer)
    assert len(buffer) <= 257


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (FRAME, True),
        (b"\x05\x44\xae\x4c", False),  # L too small
        (b"\x18\x99\xae\x4c", False),  # no such C field
        (b"\x18\x44\xae\xcc", False),  # manufacturer bit 15 set
        (b"\x18\x44", None),
        (b"", None),
    ],
)
def test_plausible_frame_start(data: bytes, expected: bool | None) -> None:
    assert plausible_frame_start(data) is expected


def test_with_article() -> None:
    assert with_article("iM871A") == "an iM871A"
    assert with_article("CUL") == "a CUL"
    assert with_article("RC1180") == "an RC1180"
    assert with_article("Amber AMB8465") == "an Amber AMB8465"
