#!/usr/bin/env python3
"""Load benchmark of the hub in a Home Assistant test instance (issue 4 "Speed").

Command lines::

    .venv/bin/python scripts/bench_hub.py                   # 1,000 meters, 60 s simulated, ~1 minute
    .venv/bin/python scripts/bench_hub.py --meters 200 --seconds 20 --profile

Runs ``benchmarks/test_hub_load.py`` (outside tests/, so the normal suite skips it) with pytest and
pytest-homeassistant-custom-component: 1,000 configured meters (half mode-5 encrypted water meters,
half plaintext heat meters, six records each) each send a telegram every 10 s (100 telegrams/s) for
60 s of simulated time, injected at the receiver's frame callback. Reports the event-loop thread's CPU
time per telegram (callback through decode, dispatch and state writes; median, p99, total), the
deferred loop work, and memory per meter (tracemalloc, 0 -> 1,000 meters after all reported). When the
median target is missed (or with --profile) ten more simulated seconds run under cProfile and the hot
spots are listed. Targets: < 0.5 ms median per telegram, < 20 KB per meter. Exit 1 if a target is
missed, 2 if the benchmark itself failed.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
import subprocess
import sys
import tempfile
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TARGET_MEDIAN_MS = 0.5
TARGET_KB_PER_METER = 20.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--meters", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=60, help="simulated seconds (multiple of 10)")
    parser.add_argument("--profile", action="store_true", help="cProfile 10 more simulated seconds")
    parser.add_argument("--top", type=int, default=25, help="hot spots to list")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        result_path = Path(tmp) / "result.json"
        env = os.environ | {
            "BENCH_METERS": str(args.meters),
            "BENCH_SECONDS": str(args.seconds),
            "BENCH_PROFILE": "1" if args.profile else "",
            "BENCH_RESULT": str(result_path),
        }
        command = [
            sys.executable,
            "-m",
            "pytest",
            "benchmarks/test_hub_load.py",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:sugar",
            "--no-cov",
        ]
        proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
        if proc.returncode != 0 or not result_path.exists():
            sys.stdout.write(proc.stdout[-6000:])
            sys.stderr.write(proc.stderr[-3000:])
            return 2
        result: dict[str, Any] = json.loads(result_path.read_text())

    missed = report(result, args)
    return 1 if missed else 0


def report(result: dict[str, Any], args: argparse.Namespace) -> bool:
    cpu, wall, deferred = result["cpu_ms"], result["wall_ms"], result["deferred_ms"]
    per_meter_kb = result["memory_per_meter_bytes"] / 1024
    (before, after) = result["loadavg"]
    median_ok = cpu["median"] < TARGET_MEDIAN_MS
    memory_ok = per_meter_kb < TARGET_KB_PER_METER
    rate = result["meters"] / result["period"]
    print(f"command: .venv/bin/python scripts/bench_hub.py --meters {args.meters} --seconds {args.seconds}")
    print(
        f"{result['meters']} meters (1/2 mode-5 water, 1/2 plaintext heat, 6 records), one telegram per "
        f"meter every {result['period']} s = {rate:.0f}/s, {result['seconds']} s simulated: "
        f"{result['telegrams']} telegrams, {result['states']} states"
    )
    rows = [
        (
            "event-loop CPU per telegram, median",
            f"{cpu['median']:.3f} ms",
            f"< {TARGET_MEDIAN_MS} ms",
            median_ok,
        ),
        ("event-loop CPU per telegram, p99", f"{cpu['p99']:.3f} ms", "", None),
        ("event-loop CPU per telegram, mean / max", f"{cpu['mean']:.3f} / {cpu['max']:.3f} ms", "", None),
        ("wall per telegram, median / p99", f"{wall['median']:.3f} / {wall['p99']:.3f} ms", "", None),
        ("callbacks total (CPU)", f"{cpu['total']:.0f} ms", "", None),
        ("deferred loop work + timers (CPU)", f"{deferred['total']:.0f} ms", "", None),
        (
            "  per telegram / worst second (at)",
            f"{deferred['per_telegram']:.3f} / {deferred['max_second']:.1f} ms"
            f" ({deferred['max_second_at']} s)",
            "",
            None,
        ),
        (
            "loop busy (CPU / simulated time)",
            f"{result['run_cpu_s'] / result['seconds'] * 100:.1f} %",
            "",
            None,
        ),
        ("memory per meter", f"{per_meter_kb:.1f} KB", f"< {TARGET_KB_PER_METER:.0f} KB", memory_ok),
        ("memory total (0 -> N meters)", f"{result['memory_total_bytes'] / 2**20:.1f} MiB", "", None),
        (
            "  hub's own data per meter (deep size)",
            f"{result['hub_bytes_per_meter'] / 1024:.1f} KB",
            "",
            None,
        ),
        ("load average before / after (1 min)", f"{before[0]:.2f} / {after[0]:.2f}", "2 cores", None),
        (
            "setup: build / add subentries / first reports",
            f"{result['build_s']:.1f} / {result['add_subentries_s']:.1f} / {result['first_reports_s']:.1f} s",
            "(tracemalloc on)",
            None,
        ),
    ]
    width = max(len(row[0]) for row in rows)
    for label, value, target, ok in rows:
        verdict = "" if ok is None else ("ok" if ok else "MISSED")
        print(f"  {label:<{width}}  {value:>18}  {target:<16} {verdict}")

    if not memory_ok:
        print("\nmemory per meter by allocating package (0 -> N meters):")
        for package, size in list(result["memory_by_package"].items())[:8]:
            print(f"  {size / 1024 / result['meters']:>7.1f} KB  {package}")
        print("memory, top allocation sites (0 -> N meters):")
        for where, size, count in result["memory_top"]:
            print(f"  {size / 1024:>9.0f} KB {count:>8} blocks  {where}")
        print("memory, top allocation sites in the integration:")
        for where, size, count in result["memory_top_integration"]:
            print(f"  {size / 1024:>9.0f} KB {count:>8} blocks  {where}")
    if "profile" in result:
        profile = result["profile"]
        n = profile["telegrams"]
        print(f"\ncProfile over {n} telegrams (10 simulated s; ms are profiled, inflated ~2x):")
        print(f"  {'cum ms':>9} {'own ms':>8} {'calls':>8}  function")
        for name, lineno, calls, own, cum in profile["cumulative"][: args.top]:
            print(f"  {cum:>9.1f} {own:>8.1f} {calls:>8}  {name} (line {lineno})")
        print("  -- by own time --")
        for name, lineno, calls, own, cum in profile["own"][: min(args.top, 15)]:
            print(f"  {cum:>9.1f} {own:>8.1f} {calls:>8}  {name} (line {lineno})")
    return not (median_ok and memory_ok)


if __name__ == "__main__":
    sys.exit(main())
