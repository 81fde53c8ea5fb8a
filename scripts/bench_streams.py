#!/usr/bin/env python3
"""Distinct telegram streams for the throughput benchmark: no two lines alike, as real meters send.

``meters`` meters of eight kinds (water, warm water, gas, heat, electricity, two heat cost
allocators, a smoke detector), each with its own ID, key and access number; every telegram carries
new values (totals that grow, temperatures, flows, dates, error flags). Built with the test encoder,
which is written independently of the decoder. Decoder caches (record cache, APL cache, key
schedules of up to 512 keys) therefore do not make the figure: every frame is new bytes.

    .venv/bin/python scripts/bench_streams.py plain 20000 > plain.txt
    .venv/bin/python scripts/bench_streams.py encrypted 20000 --keys keys.txt > encrypted.txt

The encrypted stream mixes mode 5 (short and long header) and mode 7 (AFL MAC, counter per telegram);
``--keys`` writes ``--key ID=HEX`` arguments, one per line, for ``scripts/decode``.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path
import random
import sys

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests import encoder as enc  # noqa: E402

_KINDS = (
    ("KAM", 0x1B, 0x07),  # water
    ("DME", 0x20, 0x06),  # warm water
    ("ELS", 0x33, 0x03),  # gas
    ("SEN", 0x0B, 0x04),  # heat
    ("EMH", 0x02, 0x02),  # electricity
    ("QDS", 0x35, 0x08),  # heat cost allocator
    ("TCH", 0x69, 0x08),  # heat cost allocator
    ("EIE", 0x1A, 0x1A),  # smoke detector
)


def _records(kind: int, step: int, rnd: random.Random) -> list[bytes]:
    total = 100_000 + step * rnd.randrange(1, 50) + rnd.randrange(1000)
    date = enc.date_g(2026, 1 + rnd.randrange(12), 1 + rnd.randrange(28))
    when = enc.datetime_f(
        2026, 1 + rnd.randrange(12), 1 + rnd.randrange(28), rnd.randrange(24), rnd.randrange(60)
    )
    flags = enc.record(0x2, enc.vib(0x17, table=0xFD), enc.int_bytes(rnd.randrange(4), 2))
    if kind in (0, 1, 2):  # water, warm water, gas: volume in litres, history, flow, meter time
        return [
            enc.record(0x4, enc.vib(0x13), enc.int_bytes(total, 4)),
            enc.record(0x4, enc.vib(0x13), enc.int_bytes(total // 2, 4), storage=1),
            enc.record(0x2, enc.vib(0x6C), date, storage=1),
            enc.record(0x2, enc.vib(0x3B), enc.int_bytes(rnd.randrange(3000), 2)),
            enc.record(0x2, enc.vib(0x65), enc.int_bytes(rnd.randrange(500, 3000), 2)),
            enc.record(0x4, enc.vib(0x6D), when),
            flags,
        ]
    if kind == 3:  # heat: energy (BCD), volume, power, flow and return temperature, billing date value
        return [
            enc.record(0xC, enc.vib(0x06), enc.bcd_bytes(total, 8)),
            enc.record(0x4, enc.vib(0x13), enc.int_bytes(total * 3, 4)),
            enc.record(0x4, enc.vib(0x2B), enc.int_bytes(rnd.randrange(20_000), 4)),
            enc.record(0x2, enc.vib(0x5B), enc.int_bytes(rnd.randrange(30, 90), 2)),
            enc.record(0x2, enc.vib(0x5F), enc.int_bytes(rnd.randrange(20, 60), 2)),
            enc.record(0x4, enc.vib(0x06), enc.int_bytes(total // 2, 4), storage=1),
            enc.record(0x2, enc.vib(0x6C), date, storage=1),
            flags,
        ]
    if kind == 4:  # electricity: energy, two tariffs, power
        return [
            enc.record(0x4, enc.vib(0x03), enc.int_bytes(total * 10, 4)),
            enc.record(0x4, enc.vib(0x03), enc.int_bytes(total * 6, 4), tariff=1),
            enc.record(0x4, enc.vib(0x03), enc.int_bytes(total * 4, 4), tariff=2),
            enc.record(0x4, enc.vib(0x2B), enc.int_bytes(rnd.randrange(20_000), 4)),
            enc.record(0x4, enc.vib(0x6D), when),
        ]
    if kind in (5, 6):  # heat cost allocators: units now and at the billing date, date, radiator temperature
        return [
            enc.record(0xB, enc.vib(0x6E), enc.bcd_bytes(total % 100_000, 6)),
            enc.record(0xB, enc.vib(0x6E), enc.bcd_bytes(total % 50_000, 6), storage=1),
            enc.record(0x2, enc.vib(0x6C), date, storage=1),
            enc.record(0x2, enc.vib(0x59), enc.int_bytes(rnd.randrange(1500, 6000), 2)),
            enc.record(0x4, enc.vib(0x6D), when),
        ]
    return [  # smoke detector: operating time, meter time, error flags
        enc.record(0x4, enc.vib(0x22), enc.int_bytes(total, 4)),
        enc.record(0x4, enc.vib(0x6D), when),
        flags,
    ]


def meters(count: int, rnd: random.Random) -> list[tuple[enc.Addr, int, bytes]]:
    """(address, kind index, key) of ``count`` meters."""
    out = []
    for i in range(count):
        kind = i % len(_KINDS)
        manufacturer, version, device_type = _KINDS[kind]
        address = enc.Addr(manufacturer, f"{30_000_000 + i:08d}", version, device_type)
        out.append((address, kind, rnd.randbytes(16)))
    return out


def stream(kind: str, n: int, *, meter_count: int = 200, seed: int = 1) -> Iterator[bytes]:
    """``n`` distinct frames (CRC-free, from the L byte), meters taking turns."""
    rnd = random.Random(seed)
    fleet = meters(meter_count, rnd)
    for i in range(n):
        address, index, key = fleet[i % meter_count]
        step = i // meter_count
        spec = enc.TelegramSpec(records=_records(index, step, rnd), meter=address, acc=(step + index) & 0xFF)
        if kind == "encrypted":
            spec.key = key
            if index in (3, 4):  # heat and electricity: mode 7 with AFL MAC and a growing counter
                spec.mode, spec.tpl, spec.mcr = 7, "long", 1000 + step
            else:
                spec.mode, spec.tpl = 5, ("long" if index % 2 else "short")
        yield enc.build(spec)


def key_arguments(meter_count: int = 200, seed: int = 1) -> list[str]:
    return [f"--key {address.id}={key.hex()}" for address, _, key in meters(meter_count, random.Random(seed))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=("plain", "encrypted"))
    parser.add_argument("count", type=int)
    parser.add_argument("--meters", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keys", type=Path, help="write the --key arguments here, one per line")
    args = parser.parse_args()
    out = sys.stdout
    for frame in stream(args.kind, args.count, meter_count=args.meters, seed=args.seed):
        out.write(frame.hex().upper() + "\n")
    if args.keys:
        args.keys.write_text("\n".join(key_arguments(args.meters, args.seed)) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
