"""Apator water meters.

* AT-WMBUS-16-2 / 162 (APA, version 0x05, type 0x06/0x07; mode 5, often the all-zero default
  key). After ``2F 2F`` comes ``0F`` (or ``80``), seven status bytes, then tagged registers up to
  ``FF`` padding and a checksum. Each tag has a fixed length (:data:`TAG_SIZES`); tag 0x10 is the
  total volume (uint32 LE, litres).
* NA-1 (APA, version 0x14, type 0x07, CI 0xA0/0xA1): ``access number, frame status`` and 16
  bytes AES-128-CBC (key: the meter's, else all zeros; IV ``M A`` + access number x 8). Clear:
  ``2F``, packed total (uint32 LE: ``((v >> 8) * 16 + (v & 0x0F)) * 10**(v >> 4 & 3)`` litres),
  meter time (uint32 LE, seconds since 2000-01-01), historic age (10 bits, hours) and the volume
  since the historic reading (22 bits, same scale), current status, historic status.
* E-ITN heat cost allocators (APA/APT, version 0x04, type 0x08; CI 0xA0, or CI 0xB6 with ``n``,
  ``n`` bytes and ``A0`` before the same block): season start day, two spare bytes, units at the
  last set date, that date, current units (uint16 LE), current date (``d & 31``, ``d >> 5 & 15``,
  ``2000 + (d >> 9 & 31)``), previous and current average room temperature (uint16 LE, 1/256 °C).
* Apator 08 (APT, version 0x03 type 0x03, version 0x0F type 0x0F) and Apator 172 (APT, version 0x04
  type 0x11), CI 0xA0: the total volume is the uint32 LE right after the CI, in 1/3 litre (08) or
  1/3 m³ (172).
"""

from __future__ import annotations

from calendar import monthrange
from datetime import datetime, timedelta

from ..crypto import aes, cbc_decrypt
from ..record import Record
from .base import Driver, DriverInput, DriverResult, alarms, keep, synth, value_record

TOTAL_TAG = 0x10
PAD = 0xFF
TAG_SIZES: dict[int, int] = {
    0x00: 4,
    0x01: 3,
    0x10: 4,
    0x11: 2,
    0x40: 6,
    0x41: 2,
    0x42: 4,
    0x43: 2,
    0x44: 3,
    **{0x70 + n: 1 + 4 * (n + 1) for n in range(1, 13)},
    **dict.fromkeys((0x80, 0x81, 0x82, 0x83, 0x84, 0x86, 0x87), 10),
    **dict.fromkeys((0x85, 0x88, 0x8F), 11),
    0x8A: 9,
    0x8B: 6,
    0x8C: 6,
    0x8E: 7,
    0xA0: 4,
    0xA1: 4,
    0xA2: 1,
    0xA3: 7,
    0xA4: 4,
    0xA5: 1,
    0xA6: 3,
    **dict.fromkeys((0xA7, 0xA8, 0xAA, 0xAB, 0xAC, 0xAD), 2),
    0xA9: 1,
    0xAF: 1,
    0xB0: 5,
    0xB1: 8,
    0xB2: 16,
    0xB3: 8,
    0xB4: 2,
    0xB5: 16,
    **dict.fromkeys(range(0xB6, 0xC0), 3),
    **dict.fromkeys(range(0xC0, 0xC8), 3),
    0xD0: 3,
    0xD3: 3,
    0xF0: 4,
}
"""Register tag -> length of its value (AT-WMBUS-16-2)."""
STATUS_SIZE = 7


def registers(data: bytes) -> dict[int, bytes]:
    """Tag -> value of the tagged registers in ``data`` (after the status bytes); stops at the
    padding or at a tag of unknown length."""
    out: dict[int, bytes] = {}
    pos = 0
    while pos < len(data):
        tag = data[pos]
        size = TAG_SIZES.get(tag)
        if tag == PAD or size is None or pos + 1 + size > len(data):
            break
        out.setdefault(tag, data[pos + 1 : pos + 1 + size])
        pos += 1 + size
    return out


def decode_162(data: DriverInput) -> DriverResult | None:
    body = data.manufacturer_data
    if not body and data.payload is not None and data.payload[:3] == b"\x2f\x2f\x80":
        body = data.payload[3:]
    regs = registers(body[STATUS_SIZE:])
    total = regs.get(TOTAL_TAG)
    rec = None if total is None else synth("0413", total)
    return None if rec is None else DriverResult((rec,), replace=True)


NA1_STATUS = (
    "minimum_flow",
    "maximum_flow",
    "backflow",
    "no_change",
    "leak",
    "disconnected",
    "magnetic_fraud",
    "battery_low",
)
EPOCH = datetime(2000, 1, 1)


def unpack_volume(raw: int, scale: int) -> float:
    """NA-1 packed litres with the total's decimal scale, in m³."""
    return float(raw * 10**scale) / 1000


def decode_na1_clear(clear: bytes) -> tuple[Record, ...]:
    """The readings of NA-1's 16 clear bytes."""
    if len(clear) != 16 or clear[0] != 0x2F:
        return ()
    packed = int.from_bytes(clear[1:5], "little")
    scale = packed >> 4 & 3
    total = unpack_volume((packed >> 8) * 16 + (packed & 0x0F), scale)
    when = EPOCH + timedelta(seconds=int.from_bytes(clear[5:9], "little"))
    age_low, meta, d0, d1, d2 = clear[9:14]
    delta = unpack_volume((d2 << 18) + (d1 << 10) + (d0 << 2) + (meta & 3), scale)
    then = when - timedelta(hours=(meta >> 2) * 256 + age_low)
    records: list[Record | None] = [
        value_record("0413", round(total, 3), "volume", "m³"),
        value_record("4413", round(total - delta, 3), "volume", "m³"),
        value_record("046D", when.isoformat(), "date_time", None),
        value_record("446D", then.isoformat(), "date_time", None),
        *alarms(NA1_STATUS, clear[14]),
    ]
    return keep(records)


def decode_na1(data: DriverInput) -> DriverResult | None:
    frame, ci = data.frame, data.ci_offset
    body = frame[ci + 1 :]
    if ci != 10 or len(body) < 18:
        return None
    key = data.key if data.key is not None else bytes(16)
    iv = frame[2:10] + bytes((body[0],)) * 8
    records = decode_na1_clear(cbc_decrypt(aes(key), iv, body[2:18]))
    return DriverResult(records, replace=True) if records else None


def eitn_block(body: bytes) -> bytes | None:
    """The E-ITN data block after the CI (CI 0xA0 directly, CI 0xB6 after its variable prefix)."""
    if body[:1] == b"\xa0":
        body = body[1:]
    elif body and len(body) > body[0] + 1 and body[body[0] + 1] == 0xA0:
        body = body[body[0] + 2 :]
    return body[:15] if len(body) >= 15 else None


def decode_eitn_block(block: bytes) -> tuple[Record, ...]:
    """The readings of an E-ITN block (see the module docstring)."""
    raw_date = int.from_bytes(block[9:11], "little")
    day, month, year = raw_date & 31, raw_date >> 5 & 15, 2000 + (raw_date >> 9 & 31)
    records: list[Record | None] = [
        synth("026E", block[7:9]),
        synth("426E", block[3:5]),
        value_record("0265", int.from_bytes(block[13:15], "little") / 256, "external_temperature", "°C"),
        value_record("4265", int.from_bytes(block[11:13], "little") / 256, "external_temperature", "°C"),
    ]
    if 1 <= month <= 12 and 1 <= day <= monthrange(year, month)[1]:
        records.append(value_record("026C", f"{year:04d}-{month:02d}-{day:02d}", "date", None))
    return keep(records)


def decode_eitn(data: DriverInput) -> DriverResult | None:
    frame, ci = data.frame, data.ci_offset
    block = eitn_block(frame[ci:] if frame[ci] == 0xA0 else frame[ci + 1 :])
    return None if block is None else DriverResult(decode_eitn_block(block), replace=True)


THIRD_LITRES: dict[tuple[int, int], float] = {(0x03, 0x03): 1e-3, (0x0F, 0x0F): 1e-3, (0x04, 0x11): 1.0}
"""(version, device type) -> m³ per unit of three (Apator 08: 1/3 l; Apator 172: 1/3 m³)."""


def decode_thirds(data: DriverInput) -> DriverResult | None:
    addr = data.header.address
    scale = THIRD_LITRES.get((addr.version, addr.device_type))
    body = data.frame[data.ci_offset + 1 :]
    if scale is None or len(body) < 4:
        return None
    total = int.from_bytes(body[:4], "little") * scale / 3
    return DriverResult((value_record("0413", round(total, 6), "volume", "m³"),), replace=True)


DRIVERS = (
    Driver(
        "apator162",
        frozenset({"APA"}),
        decode_162,
        versions=frozenset({0x05}),
        device_types=frozenset({0x06, 0x07}),
        description=__doc__ or "",
    ),
    Driver(
        "apatorna1",
        frozenset({"APA"}),
        decode_na1,
        versions=frozenset({0x14}),
        device_types=frozenset({0x07}),
        cis=frozenset({0xA0, 0xA1}),
        raw=True,
        description=__doc__ or "",
    ),
    Driver(
        "apatoreitn",
        frozenset({"APA", "APT"}),
        decode_eitn,
        versions=frozenset({0x04}),
        device_types=frozenset({0x08}),
        cis=frozenset({0xA0, 0xB6}),
        raw=True,
        description=__doc__ or "",
    ),
    Driver(
        "apator08",
        frozenset({"APT"}),
        decode_thirds,
        versions=frozenset({0x03, 0x0F, 0x04}),
        device_types=frozenset({0x03, 0x0F, 0x11}),
        cis=frozenset({0xA0}),
        raw=True,
        description=__doc__ or "",
    ),
)
