#!/usr/bin/env python3
"""Throughput of the line parsers of the line-based receivers.

Usage: python scripts/bench_lines.py [N]   (default N = 100000 lines per parser)

For each parser, N realistic lines (30-60 byte telegrams) are framed from one
byte buffer with ``frame_lines`` and parsed, best of 3 runs; prints lines/s (target: >= 50,000/s).
"""

from __future__ import annotations

import json
from pathlib import Path
import sys
import time

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from custom_components.oms.omslib.link import add_block_crcs
from custom_components.oms.omslib.receivers.cul import parse_cul_line
from custom_components.oms.omslib.receivers.hexlines import parse_hex_line
from custom_components.oms.omslib.receivers.lines import frame_lines
from custom_components.oms.omslib.receivers.replay import parse_capture_line
from custom_components.oms.omslib.receivers.rtl433 import Rtl433Parser
from custom_components.oms.omslib.receivers.rtlwmbus import parse_rtlwmbus_line


def frame(i: int) -> bytes:
    payload = bytes((i * 7 + k) & 0xFF for k in range(20 + i % 40))
    body = bytes.fromhex("44 2D2C 78563412 30 07 7A") + payload
    return bytes([len(body)]) + body


def lines_for(kind: str, n: int) -> list[str]:
    out = []
    for i in range(n):
        raw = frame(i % 64)
        if kind == "cul":
            fmt = "A" if i % 2 else "B"
            out.append(("b" if fmt == "A" else "bY") + (add_block_crcs(raw, fmt) + b"\x30\xc4").hex().upper())
        elif kind == "rtlwmbus":
            out.append(f"C1;1;1;2019-02-09 07:14:18.000;117;102;94740459;0x{raw.hex()}")
        elif kind == "rtl433":
            obj = {"time": "2024-01-01 10:00:00", "model": "Wireless-MBus", "mode": "C", "M": "KAM"}
            obj |= {"id": 12345678, "version": 48, "type": 7, "C": 68, "data": raw.hex(), "mic": "CRC"}
            out.append(json.dumps(obj))
        elif kind == "hex":
            out.append(f"{raw.hex().upper()};rssi=-71")
        else:
            out.append(f"+{i * 0.5} {raw.hex()};rssi=-71;mode=T1")
    return out


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    rtl433 = Rtl433Parser()
    parsers = {
        "cul": parse_cul_line,
        "rtlwmbus": parse_rtlwmbus_line,
        "rtl433": rtl433,
        "hex": parse_hex_line,
        "replay": parse_capture_line,
    }
    print(f"{n} lines per parser, framing + parsing (python {sys.version.split()[0]})")
    for kind, parse in parsers.items():
        text = lines_for(kind, n)
        data = ("\r\n".join(text) + "\r\n").encode()
        best = float("inf")
        for _ in range(3):  # best of 3: the machine may be busy
            start = time.perf_counter()
            buffer = bytearray()
            count = 0
            for pos in range(0, len(data), 4096):  # as a transport would deliver it
                buffer += data[pos : pos + 4096]
                for line in frame_lines(buffer):
                    if parse(line) is not None:  # type: ignore[operator]
                        count += 1
            best = min(best, time.perf_counter() - start)
            assert count == n, (kind, count)
        print(f"  {kind:9s} {n / best:>10,.0f} lines/s  (best of 3: {best:.2f} s)")


if __name__ == "__main__":
    main()
