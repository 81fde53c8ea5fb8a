"""Fuzzing: decode() of random bytes and of mutated valid telegrams returns a Telegram or raises
an OmsError subclass, never any other exception, and never hangs (hypothesis deadline)."""

from __future__ import annotations

import contextlib
from datetime import timedelta

from hypothesis import HealthCheck, given, settings, strategies as st
import pytest

from custom_components.oms.omslib.decoder import Decoder, decode
from custom_components.oms.omslib.errors import CrcError, OmsError
from custom_components.oms.omslib.keyring import Keyring
from custom_components.oms.omslib.telegram import Telegram
from tests import encoder as enc

from .test_roundtrip import Case, check_telegram, telegram_case

FUZZ = settings(
    max_examples=200,
    deadline=timedelta(milliseconds=500),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
KEYRING = Keyring(default=bytes(range(16)))
CODES = {
    "crc",
    "length",
    "malformed",
    "no_key",
    "wrong_key",
    "mac",
    "unsupported",
    "unknown_format",
    "incomplete",
    "integrity",
}


def decode_total(raw: bytes, keyring: Keyring | None = None) -> None:
    try:
        result = decode(raw, keyring)
    except OmsError as err:
        code = err.code
    else:
        assert isinstance(result, Telegram)
        return
    assert code in CODES


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes(raw: bytes) -> None:
    decode_total(raw)
    decode_total(raw, KEYRING)


@FUZZ
@given(
    st.sampled_from([0x44, 0x46, 0x08]),
    st.binary(min_size=8, max_size=8),
    st.sampled_from(
        [0x72, 0x78, 0x7A, 0x79, 0x7B, 0x73, 0x69, 0x6A, 0x6B, 0x8C, 0x8D, 0x8E, 0x8F, 0x90, 0xA0]
    ),
    st.binary(max_size=200),
    st.sampled_from(["none", "A", "B"]),
)
def test_random_payload_behind_valid_dll(c: int, address: bytes, ci: int, body: bytes, crc: str) -> None:
    """A valid L and DLL (and CRCs) so the fuzz reaches the upper layers."""
    frame = enc.wmbus_frame(c, address, bytes([ci]) + body)
    if crc == "A":
        frame = enc.add_crc_format_a(frame)
    elif crc == "B":
        frame = enc.add_crc_format_b(frame)
    decode_total(frame)
    decode_total(frame, KEYRING)


@FUZZ
@given(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255), st.binary(max_size=240))
def test_random_wired_long_frame(c: int, a: int, ci: int, data: bytes) -> None:
    decode_total(enc.wired_long_frame(c, a, ci, data))
    decode_total(enc.wired_long_frame(c, a, ci, data), KEYRING)


MUTATIONS = st.lists(
    st.tuples(
        st.sampled_from(["flip", "set", "insert", "delete", "truncate", "fix_l"]), st.integers(0, 10**6)
    ),
    min_size=1,
    max_size=4,
)


def mutate(frame: bytes, ops: list[tuple[str, int]], fill: int) -> bytes:
    out = bytearray(frame)
    for op, n in ops:
        if not out:
            break
        pos = n % len(out)
        if op == "flip":
            out[pos] ^= 1 << (n % 8)
        elif op == "set":
            out[pos] = fill
        elif op == "insert":
            out.insert(pos, fill)
        elif op == "delete":
            del out[pos]
        elif op == "truncate":
            del out[pos:]
        else:  # make L agree with the new length, so the mutation reaches the upper layers
            out[0] = (len(out) - 1) & 0xFF
    return bytes(out)


@settings(FUZZ, max_examples=150)
@given(telegram_case(), MUTATIONS, st.integers(0, 255))
def test_mutated_valid_telegrams(case: Case, ops: list[tuple[str, int]], fill: int) -> None:
    raw = mutate(case.frame, ops, fill)
    try:
        result = Decoder(case.keyring).decode(raw)
    except OmsError:
        return
    assert isinstance(result, Telegram)


@settings(FUZZ, max_examples=80)
@given(telegram_case(), st.binary(max_size=3))
def test_trailing_bytes_tolerated_or_rejected_cleanly(case: Case, extra: bytes) -> None:
    """Sticks append RSSI/LQI bytes: frames whose source names the format ("none" = CRC-free, or A)
    decode by L, and so do format-A frames of unknown format (their CRCs prove the length). A frame of
    unknown format that no CRC matches and that has bytes after its L+1 is a damaged frame (crc).

    (Up to 3 bytes: with 4, 6, … trailing bytes a stripped frame can have exactly the length of a
    format-A frame with the same L, which the decoder then reads as format A.)
    """
    if not case.spec.wired and case.spec.crc in ("none", "A"):
        check_telegram(Decoder(case.keyring).decode(case.frame + extra, case.spec.crc), case)  # type: ignore[arg-type]
        if case.spec.crc == "A" or not extra:
            check_telegram(Decoder(case.keyring).decode(case.frame + extra), case)
        else:
            with pytest.raises(CrcError):
                Decoder(case.keyring).decode(case.frame + extra)
        return
    with contextlib.suppress(OmsError):
        Decoder(case.keyring).decode(case.frame + extra)


@settings(FUZZ, max_examples=60)
@given(st.lists(telegram_case(wired=False, mode=0), min_size=2, max_size=4), MUTATIONS, st.integers(0, 255))
def test_mutated_stream_through_one_decoder(cases: list[Case], ops: list[tuple[str, int]], fill: int) -> None:
    """Cached state (compact formats, AFL fragments) survives garbage between valid frames."""
    decoder = Decoder(Keyring())
    for case in cases:
        for raw in (mutate(case.frame, ops, fill), case.frame):
            with contextlib.suppress(OmsError):
                decoder.decode(raw)
