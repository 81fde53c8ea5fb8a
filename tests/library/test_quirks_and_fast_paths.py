"""Tolerated meter quirks (truncated last record, wrong wired L, legacy signature, CI 0x76) and the
fast paths (CRC table, memoised APLs, batched CLI output) that must not change any result."""

from __future__ import annotations

import io
import random

import pytest

from custom_components.oms.omslib import cli, jsonout
from custom_components.oms.omslib.apl import msb_first_to_lsb_first, parse_apl
from custom_components.oms.omslib.crc import crc16
from custom_components.oms.omslib.decoder import Decoder
from custom_components.oms.omslib.errors import CrcError, LengthError
from custom_components.oms.omslib.keyring import Keyring
from custom_components.oms.omslib.link import format_a_length, strip_crcs
from tests import encoder as enc

METER = enc.Addr("KAM", "76543210", 0x1B, 0x07)
LONG_HEADER = METER.long() + bytes([0x2A, 0x00, 0x00, 0x00])  # ID M Ver Type ACC ST CF(0000)


def test_crc_table_matches_bitwise_definition() -> None:
    rnd = random.Random(7)
    for n in range(0, 300, 7):
        data = bytes(rnd.randrange(256) for _ in range(n))
        assert crc16(data) == enc.crc16(data)
        assert crc16(data, 3, n - 2) == enc.crc16(data[3 : n - 2])


# --------------------------------------------------------------------------- truncated last record

FULL = bytes.fromhex("0C1329730600 8C041375440600 046D32371F15".replace(" ", ""))


@pytest.mark.parametrize("tail", ["DE47", "DD2F", "FED0", "0413AB", "8C04"])
def test_incomplete_last_record_kept_out_with_partial(tail: str) -> None:
    data = FULL + bytes.fromhex("2F2F") + bytes.fromhex(tail)
    with pytest.raises(LengthError):
        parse_apl(data)  # strict by default
    apl = parse_apl(data, partial=True)
    assert len(apl.records) == 3
    assert apl.truncated == len(FULL) + 2
    assert apl.signature == parse_apl(FULL).signature
    with pytest.raises(LengthError):
        parse_apl(data)  # the memo never hands a partial result to a strict caller


def test_partial_needs_a_complete_record() -> None:
    with pytest.raises(LengthError):
        parse_apl(bytes.fromhex("2F2F0C1329"), partial=True)


def test_decoder_keeps_records_before_a_cut_last_record() -> None:
    body = bytes([0x72]) + LONG_HEADER + FULL + bytes.fromhex("DE47")
    raw = enc.wmbus_frame(0x44, METER, body)
    tg = Decoder().decode(raw, "none")  # the source says the frame is CRC-free (every stick does)
    assert [r.quantity for r in tg.records] == ["volume", "volume", "date_time"]
    assert len(tg.records) == 3
    assert tg.extra["truncated"] == len(FULL)
    # hex input of unknown format: two bytes no record can use may be a format-B CRC that failed
    with pytest.raises(CrcError):
        Decoder().decode(raw)
    # a frame shorter than its L field (cut in transit) is still a LengthError
    with pytest.raises(LengthError):
        Decoder().decode(raw[:-3], "none")


# --------------------------------------------------------------------------- wired quirks


def test_wired_frame_with_wrong_l_but_valid_checksum() -> None:
    good = enc.wired_long_frame(0x08, 5, 0x72, LONG_HEADER + FULL)
    expected = Decoder().decode(good)
    bad_l = bytearray(good)
    bad_l[1] = bad_l[2] = good[1] - 14  # L too small, checksum and stop byte fit the real length
    tg = Decoder().decode(bytes(bad_l))
    assert tg.records == expected.records
    with pytest.raises((LengthError, CrcError)):
        Decoder().decode(good[:-3] + good[-2:])  # a cut frame is never repaired


def test_wired_legacy_signature_is_not_a_security_mode() -> None:
    header = METER.long() + bytes([0x2A, 0x00, 0x27, 0xB6])  # signature B627: "mode" 22, reserved
    tg = Decoder().decode(enc.wired_long_frame(0x08, 5, 0x72, header + FULL))
    assert tg.header.security_mode == 0
    assert not tg.header.encrypted
    assert len(tg.records) == 3


def test_ci_76_msb_first_data() -> None:
    # 8-digit BCD volume 0x00123456, int32 volume 123456, date G 2016-03-18 (0x2312), all MSB first
    msb = bytes.fromhex("0C1300123456 04130001E240 026C2312".replace(" ", ""))
    assert msb_first_to_lsb_first(msb) == bytes.fromhex("0C1356341200 041340E20100 026C1223".replace(" ", ""))
    tg = Decoder().decode(enc.wired_long_frame(0x08, 5, 0x76, LONG_HEADER + msb))
    assert [r.value for r in tg.records] == [123.456, 123.456, "2016-03-18"]


def test_format_a_first_block_crc_checked_when_detected_by_length() -> None:
    plain = enc.wmbus_frame(0x44, METER, bytes([0x72]) + LONG_HEADER + FULL)
    framed = bytearray(enc.add_crc_format_a(plain))
    assert len(framed) == format_a_length(framed[0])
    assert strip_crcs(bytes(framed)) == (plain, "A")
    framed[11] ^= 1
    with pytest.raises(CrcError):
        strip_crcs(bytes(framed))


# --------------------------------------------------------------------------- CLI output batching


class _Trickle(io.RawIOBase):
    """stdin that hands out one line per read, logging the reads."""

    def __init__(self, lines: list[bytes], log: list[str]) -> None:
        self._lines = list(lines)
        self._log = log

    def read1(self, size: int = -1) -> bytes:
        self._log.append("read")
        return self._lines.pop(0) if self._lines else b""


class _Out(io.BytesIO):
    def __init__(self, log: list[str]) -> None:
        super().__init__()
        self._log = log

    def flush(self) -> None:
        self._log.append("flush")


def test_cli_flushes_before_waiting_for_more_input() -> None:
    frame = enc.wmbus_frame(0x44, METER, bytes([0x72]) + LONG_HEADER + FULL).hex().encode()
    log: list[str] = []
    out = _Out(log)
    lines = [frame + b"\n", frame + b"\n" + frame + b"\n", b"zz\n" + frame]
    code = cli.run_decode([], _Trickle(lines, log), out, io.StringIO())  # type: ignore[arg-type]
    assert code == 0
    assert log == ["read", "flush", "read", "flush", "read", "flush", "read", "flush"]
    rows = out.getvalue().splitlines()
    assert len(rows) == 5
    assert rows[3].startswith(b'{"ok":false')
    assert all(rows[i].startswith(b'{"ok":true') for i in (0, 1, 2, 4))
    assert rows[0] == jsonout.dumps(jsonout.decode_one(Decoder(Keyring()), bytes.fromhex(frame.decode())))


def test_cli_fast_line_equals_general_json() -> None:
    decoder = Decoder(Keyring())
    frames = [
        enc.wmbus_frame(0x44, METER, bytes([0x72]) + LONG_HEADER + FULL),
        enc.wired_long_frame(0x08, 5, 0x72, LONG_HEADER + FULL),
        enc.wmbus_frame(0x44, METER, bytes([0x78]) + FULL),  # no TPL header: access number null
    ]
    for raw in frames * 2:
        tg = decoder.decode(raw)
        assert jsonout.telegram_line(tg) == jsonout.dumps(jsonout.telegram_json(tg))
        assert jsonout.decode_line(decoder, raw) == jsonout.dumps(jsonout.decode_one(decoder, raw))
