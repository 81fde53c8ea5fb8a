#!/usr/bin/env python3
"""Throughput of the receiver framers: 100,000 telegrams fed from one byte stream.

Usage: python scripts/bench_receivers.py [count]

Each framer gets its protocol's encoding of a 25-byte T1 telegram (with RSSI),
repeated, with a little garbage between frames, fed in 4 KiB reads as a serial
port would deliver it. Prints one line per framer: frames/s.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
import sys
import time
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from custom_components.oms.omslib.receivers import amber, im871a, iu891a, rc1180
from custom_components.oms.omslib.receivers.ccitt import crc16_x25

FRAME = bytes.fromhex("1844AE4C4455223368077A55000000041389E20100023B0000")
GARBAGE = b"\x00\x01"  # between frames: a resync on every frame


def streams() -> dict[str, tuple[Callable[[bytearray], list[Any]], bytes]]:
    body = bytes((0xC2, 0x03, len(FRAME) - 1)) + FRAME[1:] + b"\x7d"  # RSSI + CRC, as the stick sends
    hci = b"\xa5" + body + crc16_x25(body).to_bytes(2, "little")
    wimod = iu891a.encode_wimod(9, 0x20, b"\x9f\x43\x6d\x38\x00\x00\x02\xc4" + FRAME)
    amb = amber.encode_amber(3, FRAME[1:] + b"\x1c")
    rc = FRAME + b"\x78"
    return {
        "im871a (HCI, CRC)": (im871a.feed_hci, GARBAGE + hci),
        "iu891a (SLIP, CRC)": (iu891a.feed_wimod, GARBAGE + wimod),
        "amber (FF, XOR)": (amber.feed_amber, GARBAGE + amb),
        "amber transparent": (amber.feed_amber_transparent, GARBAGE + FRAME),
        "rc1180 (bare + RSSI)": (rc1180.feed_rc1180, GARBAGE + rc),
    }


def bench(framer: Callable[[bytearray], list[Any]], unit: bytes, count: int, read_size: int = 4096) -> float:
    data = unit * count
    buffer = bytearray()
    got = 0
    start = time.perf_counter()
    for offset in range(0, len(data), read_size):
        buffer += data[offset : offset + read_size]
        got += len(framer(buffer))
    elapsed = time.perf_counter() - start
    if got != count:
        raise SystemExit(f"framer lost frames: {got} of {count}")
    return count / elapsed


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    for name, (framer, unit) in streams().items():
        rate = bench(framer, unit, count)
        print(f"{name:24s} {count:>8d} frames  {rate:>10,.0f} frames/s")


if __name__ == "__main__":
    main()
