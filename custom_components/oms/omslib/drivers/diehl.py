"""Diehl IZAR / PRIOS water meters (SAP, DME, HYD, EWT, SPL): manufacturer CIs 0xA0–0xA7, 0xB1–0xB3.

Frame (indices from the L byte): ``L C M(2) A(6) CI h1 h2 h3 h4 data…``. PRIOS sends the address
field as ``version type ID(4)``; SAP's PRIOS keeps ``ID(4)`` first and uses the last two bytes as
part of a five-byte serial (the meter is a water meter, version 0). ``h1..h3`` are plain:

* h1: bit 7 general alarm, bits 0–3 transmit period ``2**(n+2)`` s;
* h2: bit 7 leak now, bit 6 leak earlier, bit 5 blocked, bits 0–4 battery lifetime in half years;
* h3: back-flow, underflow, overflow, submarine, sensor fraud now/earlier, mechanical fraud
  now/earlier (bit 7 to bit 0).

The data after ``h4`` are scrambled with a 32-bit LFSR (taps 1, 2, 11, 31; one byte of output per
eight shifts) seeded with an 8-byte key folded to 32 bits, XORed with the frame's bytes 2–13 as
three big-endian words. The public default keys are used; the first clear byte is 0x4B. Clear
data: ``4B, total (l, uint32 LE), last month's total (l, uint32 LE), its date (type G)``.

"Real data" (CI 0x7A whose configuration field has bit 12 set, e.g. Sharky and IZAR RS): the same
address order and LFSR over the bytes after the configuration field; the clear bytes are ordinary
data records, checked by their byte sum (``sum & 0xEF`` equals the configuration's high byte
``& 0xEF``). Mode 5 telegrams of these manufacturers without a key of their own are tried with
the public default AES key (the second PRIOS key, twice).
"""

from __future__ import annotations

from ..apl import parse_apl
from ..errors import OmsError
from ..link import wireless_address
from ..record import Record
from ..telegram import Address
from .base import Driver, DriverInput, DriverResult, alarm, alarms, keep, named, synth, value_record

DEFAULT_KEYS: tuple[bytes, ...] = (bytes.fromhex("39BC8A10E66D83F8"), bytes.fromhex("51728910E66D83F8"))
"""The publicly known PRIOS default keys."""
CHECK_BYTE = 0x4B
PRIOS_CIS = frozenset(range(0xA0, 0xA8)) | frozenset({0xB1, 0xB2, 0xB3})
MANUFACTURERS = frozenset({"SAP", "DME", "HYD", "EWT", "SPL"})
DEFAULT_AES_KEY = DEFAULT_KEYS[1] * 2
"""The public default AES-128 key of Diehl's OMS meters."""
REAL_DATA_BIT = 0x10
"""In the configuration field's high byte (bit 12 of the field)."""
HEADER_FLAGS_H3 = (
    "backflow",
    "underflow",
    "overflow",
    "submarine",
    "sensor_fraud",
    "sensor_fraud_earlier",
    "mechanical_fraud",
    "mechanical_fraud_earlier",
)
HEADER_FLAGS_H2 = ("leak", "leak_earlier", "blocked")
_DATA_START = 15
_CI_AT = 10


def fold_key(key: bytes) -> int:
    """An 8-byte key as the 32-bit LFSR key: its two big-endian halves XORed."""
    return int.from_bytes(key[:4], "big") ^ int.from_bytes(key[4:8], "big")


def lfsr(seed: int, data: bytes) -> bytes:
    """XOR ``data`` with the LFSR stream from ``seed`` (scrambling and unscrambling are the same)."""
    state = seed & 0xFFFFFFFF
    out = bytearray(len(data))
    for i, byte in enumerate(data):
        for _ in range(8):
            bit = ((state >> 1) ^ (state >> 2) ^ (state >> 11) ^ (state >> 31)) & 1
            state = ((state << 1) | bit) & 0xFFFFFFFF
        out[i] = byte ^ (state & 0xFF)
    return bytes(out)


def seed_of(frame: bytes, key: bytes) -> int:
    """The LFSR seed for this frame: the folded key XOR frame bytes 2–5, 6–9 and 10–13."""
    seed = fold_key(key)
    for start in (2, 6, 10):
        seed ^= int.from_bytes(frame[start : start + 4], "big")
    return seed


def unscramble(frame: bytes, keys: tuple[bytes, ...] = DEFAULT_KEYS) -> bytes | None:
    """The clear data of a PRIOS frame, or None when no key gives the check byte."""
    data = frame[_DATA_START:]
    if not data:
        return None
    for key in keys:
        clear = lfsr(seed_of(frame, key), data)
        if clear[0] == CHECK_BYTE:
            return clear
    return None


def prios_address(frame: bytes, manufacturer: str) -> Address:
    """The meter's identity: SAP keeps ID first (water meter, version 0), the others send
    version and type first."""
    m = frame[2:4]
    if manufacturer == "SAP":
        return wireless_address(m + frame[4:8] + b"\x00\x07", 0)
    return wireless_address(m + frame[6:10] + frame[4:6], 0)


def _battery_days(half_years: int) -> Record:
    return value_record("02FD74", round(half_years * 365.25 / 2), "remaining_battery_life", "d")


def decode_prios(data: DriverInput) -> DriverResult | None:
    """PRIOS/IZAR radio telegram → total, last month's total and date, battery, alarms."""
    frame = data.frame
    if data.ci_offset != _CI_AT or len(frame) < _DATA_START + 5:
        return None
    clear = unscramble(frame)
    if clear is None:
        return None
    h1, h2, h3 = frame[11], frame[12], frame[13]
    records: list[Record | None] = [synth("0413", clear[1:5])]
    if len(clear) >= 9:
        records.append(synth("4413", clear[5:9]))
    if len(clear) >= 11:
        records.append(synth("426C", clear[9:11]))
    records.append(_battery_days(h2 & 0x1F))
    records.append(named("transmit_period", 1 << ((h1 & 0x0F) + 2), "s"))
    records.append(alarm("general", bool(h1 & 0x80)))
    records.extend(alarms(HEADER_FLAGS_H2, h2 >> 5))
    records.extend(alarms(HEADER_FLAGS_H3, h3))
    return DriverResult(
        keep(records), replace=True, address=prios_address(frame, data.header.address.manufacturer)
    )


def swapped_address(frame: bytes) -> Address:
    """``version type ID(4)`` in the link address field, as PRIOS and real-data frames send it."""
    return wireless_address(frame[2:4] + frame[6:10] + frame[4:6], 0)


def decode_real_data(data: DriverInput) -> DriverResult | None:
    """CI 0x7A with the real-data bit: LFSR-scrambled data records (see the module docstring)."""
    frame = data.frame
    if data.ci_offset != _CI_AT or len(frame) <= _DATA_START or not frame[14] & REAL_DATA_BIT:
        return None
    body = frame[_DATA_START:]
    # the default keys; then the body as it is (captures stored after unscrambling)
    for clear in (*(lfsr(seed_of(frame, key), body) for key in DEFAULT_KEYS), body):
        if sum(clear) & 0xEF == frame[14] & 0xEF:
            try:
                records = parse_apl(clear, partial=True).records
            except OmsError:
                continue
            return DriverResult(records, replace=True, address=swapped_address(frame))
    return None


def decode_default_key(data: DriverInput) -> DriverResult | None:
    """A mode 5 telegram without a key of its own, opened with the public default key."""
    if data.key is not None or data.header.security_mode != 5 or data.reopen is None:
        return None
    try:
        tg = data.reopen(DEFAULT_AES_KEY)
    except OmsError:
        return None
    return DriverResult(tg.records, replace=True)


DRIVERS = (
    Driver(
        "izar",
        MANUFACTURERS,
        decode_prios,
        cis=PRIOS_CIS,
        raw=True,
        description=__doc__ or "",
    ),
    Driver(
        "diehl_real_data",
        MANUFACTURERS,
        decode_real_data,
        cis=frozenset({0x7A}),
        raw=True,
        description=__doc__ or "",
    ),
    Driver(
        "diehl_default_key",
        MANUFACTURERS,
        decode_default_key,
        cis=frozenset({0x72, 0x7A, 0x8B}),
        raw=True,
        description=__doc__ or "",
    ),
)
