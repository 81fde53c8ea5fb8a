"""Decoder pipeline policy: identity, key lookup, rejection of forgeries, errors keep the header."""

from __future__ import annotations

from dataclasses import replace

import pytest

from custom_components.oms.omslib.afl import FCL_MF
from custom_components.oms.omslib.crypto import gcm_encrypt
from custom_components.oms.omslib.decoder import Decoder, decode
from custom_components.oms.omslib.errors import (
    IncompleteError,
    LengthError,
    MacError,
    MalformedError,
    NoKeyError,
    OmsError,
    UnknownFormatError,
    UnsupportedError,
    WrongKeyError,
)
from custom_components.oms.omslib.keyring import Keyring
from custom_components.oms.omslib.security import mode9_nonce
from tests import encoder as enc

KEY = bytes.fromhex("000102030405060708090A0B0C0D0E0F")
OTHER = bytes.fromhex("F0E0D0C0B0A090807060504030201000")
METER = enc.Addr("KAM", "76543210", 0x1B, 0x07)
ADAPTER = enc.Addr("ZRI", "11223344", 0x01, 0x37)
VOLUME = enc.record(0x4, enc.vib(0x13), enc.int_bytes(123456, 4))


def spec(**kw: object) -> enc.TelegramSpec:
    base = enc.TelegramSpec(records=[VOLUME], meter=METER, acc=0x42)
    return replace(base, **kw)  # type: ignore[arg-type]


def volume(tg: object) -> object:
    return next(r.value for r in tg.records if r.quantity == "volume")  # type: ignore[attr-defined]


def test_long_header_identity_and_key_lookup_by_meter_id() -> None:
    raw = enc.build(spec(tpl="long", link=ADAPTER, mode=5, key=KEY))
    tg = Decoder(Keyring({"76543210": KEY})).decode(raw)
    assert tg.address.id == "76543210"
    assert tg.address.manufacturer == "KAM"
    assert tg.header.link_address is not None
    assert tg.header.link_address.id == "11223344"
    assert tg.header.link_address.medium == "radio_converter_meter"
    assert tg.decrypted
    assert volume(tg) == 123.456
    # A key filed under the adapter's ID is not the meter's key.
    with pytest.raises(NoKeyError) as err:
        Decoder(Keyring({"11223344": KEY})).decode(raw)
    assert err.value.header is not None
    assert err.value.header.address.id == "76543210"


def test_mode7_authenticated_and_every_forgery_rejected() -> None:
    raw = enc.build(spec(mode=7, key=KEY, mcr=0x0AB3))
    tg = Decoder(Keyring({"76543210": KEY})).decode(raw)
    assert (tg.decrypted, tg.authenticated, volume(tg)) == (True, True, 123.456)
    for index in range(11, len(raw)):
        forged = bytearray(raw)
        forged[index] ^= 0x04
        with pytest.raises(OmsError) as err:
            Decoder(Keyring({"76543210": KEY})).decode(bytes(forged))
        assert err.value.code in {"mac", "malformed", "length", "unsupported"}, index


def test_mode7_wrong_key_is_a_mac_failure_without_key_material() -> None:
    raw = enc.build(spec(mode=7, key=KEY))
    with pytest.raises(MacError) as err:
        Decoder(Keyring({"76543210": OTHER})).decode(raw)
    text = str(err.value) + repr(err.value)
    for secret in (KEY, OTHER):
        assert secret.hex() not in text.lower()
    assert err.value.header is not None
    assert err.value.header.security_mode == 7


def test_mode7_stripped_of_its_afl_is_rejected_when_a_key_is_configured() -> None:
    raw = enc.build(spec(mode=7, key=KEY))
    frame = enc.strip_crc_format_a(enc.add_crc_format_a(raw))
    afl_len = frame[11] + 2
    without_afl = bytes([frame[0] - afl_len]) + frame[1:10] + frame[10 + afl_len :]
    with pytest.raises(MacError):
        Decoder(Keyring({"76543210": KEY})).decode(without_afl)


def test_mode5_wrong_and_missing_key() -> None:
    raw = enc.build(spec(mode=5, key=KEY))
    with pytest.raises(WrongKeyError) as wrong:
        Decoder(Keyring(default=OTHER)).decode(raw)
    assert wrong.value.header is not None
    assert wrong.value.header.access_number == 0x42
    with pytest.raises(NoKeyError):
        decode(raw)


def test_plaintext_payload_under_an_encryption_flag_is_accepted_unauthenticated() -> None:
    """Corpora store decrypted telegrams with the header still saying mode 5/7."""
    raw = enc.build(spec(mode=5, key=KEY))
    tpl = 10
    plain = enc.pad_2f(b"\x2f\x2f" + enc.apl([VOLUME]))
    stored = raw[: tpl + 5] + plain
    tg = decode(stored)
    assert (tg.decrypted, tg.authenticated, volume(tg)) == (False, False, 123.456)


def test_compact_frame_waits_for_its_full_frame() -> None:
    decoder = Decoder()
    compact = enc.build(spec(compact=True))
    with pytest.raises(UnknownFormatError) as err:
        decoder.decode(compact)
    assert err.value.header is not None
    assert err.value.header.address.id == "76543210"
    decoder.decode(enc.build(spec()))
    assert volume(decoder.decode(compact)) == 123.456


def test_format_frame_teaches_the_layout() -> None:
    decoder = Decoder()
    tg = decoder.decode(enc.build(spec(format_frame=True)))
    assert tg.records == ()
    assert tg.format_signature is not None
    assert volume(decoder.decode(enc.build(spec(compact=True)))) == 123.456


def _fragment(payload: bytes, fid: int, more: bool) -> bytes:
    fcl = fid | (FCL_MF if more else 0)
    afl = bytes([0x90, 2]) + fcl.to_bytes(2, "little")
    return enc.wmbus_frame(0x44, METER, afl + payload)


def test_afl_fragments_are_reassembled() -> None:
    whole = enc.build(spec())[10:]
    decoder = Decoder()
    with pytest.raises(IncompleteError):
        decoder.decode(_fragment(whole[:7], 1, True))
    tg = decoder.decode(_fragment(whole[7:], 2, False))
    assert volume(tg) == 123.456
    with pytest.raises(MalformedError):
        decoder.decode(_fragment(whole[7:], 3, False))


def test_ell_without_transport_layer() -> None:
    raw = enc.wmbus_frame(0x44, METER, bytes([0x8C, 0x20, 0x11]))
    tg = decode(raw)
    assert (tg.header.ci, tg.header.access_number, tg.records) == (0x8C, 0x11, ())


def test_ell_receiver_address_and_ctr() -> None:
    raw = enc.build(
        spec(tpl="none", ell_ci=0x8F, receiver=ADAPTER, ell_sn=enc.ell_sn(minutes=5), ell_key=KEY)
    )
    tg = Decoder(Keyring({"76543210": KEY})).decode(raw)
    assert tg.header.receiver_address is not None
    assert tg.header.receiver_address.id == "11223344"
    assert tg.decrypted
    assert volume(tg) == 123.456
    with pytest.raises(WrongKeyError):
        Decoder(Keyring({"76543210": OTHER})).decode(raw)


def test_mode9_gcm_round_trip_and_forgery() -> None:
    apl = b"\x2f\x2f" + enc.apl([VOLUME])
    tpl_head = bytes([0x7A, 0x42, 0x00]) + (9 << 8).to_bytes(2, "little")
    counter = 7
    cipher, tag = gcm_encrypt(KEY, mode9_nonce(METER.link(), counter), apl, tpl_head, 12)
    body = tpl_head + cipher
    fcl = 0x2000 | 0x0800 | 0x0400
    afl_fields = fcl.to_bytes(2, "little") + bytes([0x28]) + counter.to_bytes(4, "little") + tag
    raw = enc.wmbus_frame(0x44, METER, bytes([0x90, len(afl_fields)]) + afl_fields + body)
    tg = Decoder(Keyring({"76543210": KEY})).decode(raw)
    assert (tg.authenticated, volume(tg)) == (True, 123.456)
    forged = bytearray(raw)
    forged[-1] ^= 1
    with pytest.raises(MacError):
        Decoder(Keyring({"76543210": KEY})).decode(bytes(forged))


@pytest.mark.parametrize("mode", [2, 3, 4, 8, 10, 13])
def test_unsupported_modes_are_named(mode: int) -> None:
    tpl_head = bytes([0x7A, 0x01, 0x00]) + ((mode << 8) | 0x10).to_bytes(2, "little")
    raw = enc.wmbus_frame(0x44, METER, tpl_head + bytes(16))
    with pytest.raises(UnsupportedError, match=f"security mode {mode} ") as err:
        decode(raw)
    assert err.value.header is not None


def test_wired_frame_identity_and_primary_address() -> None:
    raw = enc.build(spec(wired=True, tpl="long", wired_a=5))
    tg = decode(raw)
    assert (tg.header.link, tg.header.primary_address, tg.address.id) == ("mbus", 5, "76543210")
    assert tg.header.link_address is None


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b"", LengthError),
        (b"\xe5", MalformedError),
        (bytes.fromhex("105b005b16"), MalformedError),
        (bytes.fromhex("0a4493157856341233"), LengthError),
    ],
)
def test_degenerate_inputs(raw: bytes, error: type[OmsError]) -> None:
    with pytest.raises(error):
        decode(raw)


def test_full_frame_with_empty_application_layer() -> None:
    tg = decode(bytes.fromhex("0a44931578563412330378"))
    assert (tg.header.ci, tg.records) == (0x78, ())


def test_wired_only_ci_in_a_radio_frame_is_damage() -> None:
    """A damaged L byte can make a CRC-framed telegram look stripped, its CRC byte read as CI 0x76."""
    raw = enc.wmbus_frame(0x44, METER, bytes([0x76]) + bytes(14))
    with pytest.raises(MalformedError, match="wired"):
        decode(raw)
