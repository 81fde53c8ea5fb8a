"""Issue 10, decoder half: damaged or forged telegrams never decode to different values silently.

Mode 5 (AES-CBC, no MAC) is checked structurally: N blocks exactly as the configuration field says,
every record inside the encrypted blocks complete, only 2F fill after the last one; records after the
blocks are reported, but not as protected (``Telegram.encrypted_records``). The link layer reads a
frame whose CRCs fail as CRC-free only when that reading is a complete frame.
"""

from __future__ import annotations

import pytest

from custom_components.oms.omslib import jsonout
from custom_components.oms.omslib.decoder import Decoder
from custom_components.oms.omslib.errors import (
    DECRYPTION_ERRORS,
    CrcError,
    IntegrityError,
    LengthError,
    OmsError,
    WrongKeyError,
)
from custom_components.oms.omslib.keyring import Keyring
from custom_components.oms.omslib.link import _format_b_crc_ok
from tests import encoder as enc

# OMS Vol2 Annex N.2: mode 5, short header, volume 28504.27 m³ (public example of the specification).
ANNEX_N = bytes.fromhex(
    "2E4493157856341233037A2A0020255923C95AAA26D1B2E7493B013EC4A6F6D3529B520EDFF0EA6DEFC99D6D69EBF3"
)
ANNEX_N_KEY = Keyring(default=bytes.fromhex("0102030405060708090A0B0C0D0E0F11"))
VERSION_AT = 8  # L C M(2) ID(4) Ver Type

KEY = bytes(range(16))
METER = enc.Addr("ABC", "01020304", 0x21, 0x07)


def _decode(raw: bytes, keyring: Keyring = ANNEX_N_KEY, frame_format: str | None = None):  # type: ignore[no-untyped-def]
    return Decoder(keyring).decode(raw, frame_format)  # type: ignore[arg-type]


def _mode5(plaintext: bytes, *, blocks: int | None = None, tail: bytes = b"", acc: int = 0x11) -> bytes:
    """A stripped mode-5 frame (short header) whose decrypted payload is ``plaintext`` (16*k bytes)."""
    n = len(plaintext) // 16 if blocks is None else blocks
    header = enc.tpl_header("short", acc=acc, status=0, cf=enc.config_field(5, n))
    body = bytes([0x7A]) + header + enc.mode5_encrypt(KEY, METER, acc, plaintext) + tail
    return enc.wmbus_frame(0x44, METER, body)


VOLUME = enc.record(0x4, enc.vib(0x13), enc.int_bytes(123456, 4))  # 123.456 m³
KEYRING = Keyring({METER.id: KEY})


def test_annex_n_decodes() -> None:
    tg = _decode(ANNEX_N)
    assert tg.records[0].value == pytest.approx(28504.27)
    assert tg.encrypted_records == len(tg.records) == 3


@pytest.mark.parametrize("bit", range(8))
def test_annex_n_flipped_version_bit_is_not_the_meter(bit: int) -> None:
    """The version byte feeds the IV: a flipped bit flips the same bit of the first plaintext block.

    That block holds the 2F2F check bytes and, here, the BCD volume: some flips still parse (0x33 ->
    0x32 gives 28404.27), so no decoder can reject them all. What the decoder guarantees: the
    result never carries the genuine identity, it reports the version it used for the IV, so the
    hub's identity learnt from the meter's first decrypted telegram rejects it.
    """
    raw = bytearray(ANNEX_N)
    raw[VERSION_AT] ^= 1 << bit
    try:
        tg = _decode(bytes(raw))
    except OmsError:
        return
    assert tg.header.address.version == 0x33 ^ (1 << bit) != 0x33


@pytest.mark.parametrize("bit", range(16))
def test_annex_n_flipped_manufacturer_bit_fails_the_2f2f_check(bit: int) -> None:
    """M feeds IV bytes 0-1, which land on the 2F2F check bytes: always a wrong-key error."""
    raw = bytearray(ANNEX_N)
    raw[2 + bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(WrongKeyError):
        _decode(bytes(raw))


def test_record_appended_after_the_encrypted_blocks_is_not_protected() -> None:
    """``0C1399999999`` appended with L fixed: decoded, but outside the encrypted part."""
    raw = ANNEX_N + bytes.fromhex("0C1399999999")
    raw = bytes([len(raw) - 1]) + raw[1:]
    tg = _decode(raw)
    assert [r.value for r in tg.records][-1] == pytest.approx(99999.999)
    assert len(tg.records) == 4
    assert tg.encrypted_records == 3
    line = jsonout.telegram_json(tg)
    assert [r["encrypted"] for r in line["records"]] == [True, True, True, False]  # type: ignore[index]
    assert jsonout.dumps(line) == jsonout.telegram_line(tg)


def test_format_b_frame_with_a_flipped_payload_bit_is_a_crc_error() -> None:
    damaged = bytes.fromhex("1C4493442387432053087A6A000020026E9402426EF101426C3F3C0BF9")
    with pytest.raises(CrcError):
        _decode(damaged, Keyring())
    # exactly one single-bit change restores the frame's format-B CRC: it was a format-B frame
    repaired = []
    for i in range(len(damaged) * 8):
        frame = bytearray(damaged)
        frame[i // 8] ^= 1 << (i % 8)
        if _format_b_crc_ok(bytes(frame)):
            repaired.append(bytes(frame))
    assert len(repaired) == 1
    tg = _decode(repaired[0], Keyring())
    assert [r.quantity for r in tg.records] == ["hca_units", "hca_units", "date"]
    # a source that says "format B" gets the CRC error without any guessing
    with pytest.raises(CrcError):
        _decode(damaged, Keyring(), "B")


def _mode7_format_a() -> list[bytes]:
    frames = []
    for n_records in (1, 3, 6):
        spec = enc.TelegramSpec(
            records=[VOLUME] * n_records,
            meter=METER,
            tpl="short",
            acc=5,
            mode=7,
            key=KEY,
            mcr=9,
            crc="A",
        )
        frames.append(enc.build(spec))
    return frames


@pytest.mark.parametrize("frame", _mode7_format_a(), ids=lambda f: f"L{f[0]}")
@pytest.mark.parametrize("bit", range(8))
def test_l_bit_flip_of_format_a_mode7_is_never_plaintext(frame: bytes, bit: int) -> None:
    genuine = _decode(frame, KEYRING)
    assert genuine.authenticated
    raw = bytearray(frame)
    raw[0] ^= 1 << bit
    try:
        tg = _decode(bytes(raw), KEYRING)
    except OmsError:
        return
    assert tg.authenticated  # never an unauthenticated reading of a damaged frame
    assert tg.records == genuine.records


# --------------------------------------------------------------------------- mode 5 strictness


def _plain(*records: bytes, after: bytes = b"") -> bytes:
    return enc.pad_2f(b"\x2f\x2f" + b"".join(records) + after)


def test_mode5_counts_every_record_of_a_fully_encrypted_telegram() -> None:
    tg = _decode(_mode5(_plain(VOLUME, VOLUME)), KEYRING)
    assert tg.decrypted
    assert len(tg.records) == tg.encrypted_records == 2


def test_mode5_partial_encryption_counts_only_the_encrypted_records() -> None:
    tail = enc.record(0x4, enc.vib(0x13), enc.int_bytes(7, 4))
    tg = _decode(_mode5(_plain(VOLUME), tail=tail), KEYRING)
    assert [r.value for r in tg.records] == [pytest.approx(123.456), pytest.approx(0.007)]
    assert tg.encrypted_records == 1


def test_plaintext_telegram_has_no_protected_records() -> None:
    raw = enc.build(enc.TelegramSpec(records=[VOLUME], meter=METER))
    tg = _decode(raw, Keyring())
    assert tg.records
    assert tg.encrypted_records == 0


@pytest.mark.parametrize(
    "after",
    [
        bytes.fromhex("2F2F2F2F2F0413AA"),  # a record cut by the end of the encrypted part
        bytes.fromhex("7F"),  # not fill: a readout marker after the last record
        bytes.fromhex("2F2F2F55"),  # a stray byte between the fill
    ],
)
def test_mode5_inconsistent_plaintext_is_an_integrity_error(after: bytes) -> None:
    plain = _plain(VOLUME, after=after)
    with pytest.raises(IntegrityError) as info:
        _decode(_mode5(plain), KEYRING)
    assert not isinstance(info.value, DECRYPTION_ERRORS)  # the key was right
    assert info.value.code == "integrity"


def test_mode5_manufacturer_data_inside_the_encrypted_part_is_accepted() -> None:
    tg = _decode(_mode5(_plain(VOLUME, after=bytes.fromhex("0F0102"))), KEYRING)
    assert tg.encrypted_records == 1
    assert tg.manufacturer_data.startswith(bytes.fromhex("0102"))


@pytest.mark.parametrize("blocks", [0, 3])
def test_mode5_block_count_must_match_the_frame(blocks: int) -> None:
    """N = 0, or more blocks than the frame carries: no silent "decrypt every whole block"."""
    raw = _mode5(_plain(VOLUME, VOLUME), blocks=blocks)
    with pytest.raises(OmsError) as info:
        _decode(raw, KEYRING)
    assert not isinstance(info.value, DECRYPTION_ERRORS)


def test_mode5_frame_shortened_by_one_block_with_l_fixed_is_rejected() -> None:
    raw = _mode5(_plain(VOLUME, VOLUME, VOLUME))
    cut = raw[:-16]
    cut = bytes([len(cut) - 1]) + cut[1:]
    with pytest.raises(LengthError):
        _decode(cut, KEYRING)


def test_mode5_frame_whose_stick_cut_l_is_completed_from_the_bytes_after_l() -> None:
    """OMS.md §7: an L byte too small for the N announced blocks; the rest follows after L."""
    raw = _mode5(_plain(VOLUME, VOLUME))
    short = bytes([raw[0] - 3]) + raw[1:]
    for frame_format in ("none", None):
        tg = _decode(short, KEYRING, frame_format)
        assert tg.encrypted_records == len(tg.records) == 2
    # one more byte (RSSI) is fine from a stick, but not from hex input of unknown format
    assert _decode(short + b"\xc4", KEYRING, "none").encrypted_records == 2
    with pytest.raises(CrcError):
        _decode(short + b"\xc4", KEYRING)


# --------------------------------------------------------------------------- hex input rule


def test_hex_input_with_bytes_after_l_is_a_crc_error_unless_the_format_is_given() -> None:
    raw = enc.build(enc.TelegramSpec(records=[VOLUME], meter=METER))
    with pytest.raises(CrcError):
        _decode(raw + b"\x9b", Keyring())
    assert _decode(raw + b"\x9b", Keyring(), "none").records == _decode(raw, Keyring()).records
