#!/usr/bin/env python3
"""MQTT load benchmark: remote receivers -> real Mosquitto -> Home Assistant's MQTT integration -> oms.

Command line::

    .venv/bin/python scripts/bench_mqtt.py                       # 1,000 meters, 3 receivers, 60 s
    .venv/bin/python scripts/bench_mqtt.py --minutes 10          # the README figure
    .venv/bin/python scripts/bench_mqtt.py --meters 200 --seconds 20

Runs ``benchmarks/test_mqtt_load.py`` with pytest and pytest-homeassistant-custom-component:
a real broker, Home Assistant's real MQTT client, one ``oms`` MQTT receiver entry with N
configured meters. ``benchmarks/mqtt_publisher.py`` (its own process) plays the remote
receivers: each hears 60 % of the meters, every meter sends one telegram per 10 s, in real
time, after a 10 s warm-up round that creates the entities. Reported: telegrams/s handled,
duplicates dropped, publish -> state-change latency (p50, p99, max), CPU and memory of the Home
Assistant process, load average, and event-loop stalls (``benchmarks/loop_probe.py``: a 10 ms
sleep loop's overshoot, callbacks slower than ``--slow-callback`` ms, ``gc.callbacks`` timing of
every collection, the loop's stack sampled during a stall): the largest stall with the time it
happened, and what ran during each stall over 100 ms. Targets: nothing lost that the broker
delivered, p99 < 50 ms, no stall > 250 ms. Exit 1 if a target is missed, 2 if the benchmark
itself failed. ``--json PATH`` keeps the full result.
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
TARGET_P99_MS = 50.0
TARGET_STALL_MS = 250.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--meters", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=60, help="measured seconds after the warm-up")
    parser.add_argument("--minutes", type=float, help="measured minutes (instead of --seconds)")
    parser.add_argument("--receivers", type=int, default=3)
    parser.add_argument("--hear", type=float, default=0.6, help="share of the meters each receiver hears")
    parser.add_argument(
        "--slow-callback", type=float, default=50, help="record loop callbacks longer than this (ms)"
    )
    parser.add_argument(
        "--asyncio-debug",
        action="store_true",
        help="asyncio debug mode with slow_callback_duration (its own warnings; slower)",
    )
    parser.add_argument(
        "--gc-freeze",
        action="store_true",
        help="experiment: gc.freeze() after the warm-up (Home Assistant itself does not)",
    )
    parser.add_argument("--json", type=Path, help="also write the full result here")
    args = parser.parse_args()
    if args.minutes is not None:
        args.seconds = round(args.minutes * 60)

    with tempfile.TemporaryDirectory() as tmp:
        result_path = Path(tmp) / "result.json"
        env = os.environ | {
            "BENCH_METERS": str(args.meters),
            "BENCH_SECONDS": str(args.seconds),
            "BENCH_RECEIVERS": str(args.receivers),
            "BENCH_HEAR": str(args.hear),
            "BENCH_RESULT": str(result_path),
            "BENCH_SLOW_CALLBACK": str(args.slow_callback / 1000),
        }
        if args.asyncio_debug:
            env["BENCH_ASYNCIO_DEBUG"] = "1"
        if args.gc_freeze:
            env["BENCH_GC_FREEZE"] = "1"
        command = [
            sys.executable,
            "-m",
            "pytest",
            "benchmarks/test_mqtt_load.py",
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
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return 0 if report(result, args) else 1


def report(result: dict[str, Any], args: argparse.Namespace) -> bool:
    latency = result["latency_ms"]
    lost_ok = result["lost"] == 0 and result["messages_received"] == result["messages_published"]
    p99_ok = latency["p99"] < TARGET_P99_MS
    (stall_ms, stall_at) = result["largest_stall"]
    stall_ok = stall_ms <= TARGET_STALL_MS
    (before, after) = result["loadavg"]
    print(
        f"command: .venv/bin/python scripts/bench_mqtt.py --meters {args.meters} --seconds {args.seconds}"
        f" --receivers {args.receivers} --hear {args.hear}"
        + (" --asyncio-debug" if args.asyncio_debug else "")
        + (" --gc-freeze" if args.gc_freeze else "")
    )
    rows = [
        (
            "messages published / received by HA",
            f"{result['messages_published']} / {result['messages_received']}",
            "equal",
            lost_ok,
        ),
        (
            "telegrams measured / unheard by any receiver",
            f"{result['telegrams_measured']} / {result['telegrams_unheard']}",
            "",
            None,
        ),
        ("telegrams without a state change (lost)", f"{result['lost']}", "0", result["lost"] == 0),
        ("receptions handled / s", f"{result['frames_per_s']:.1f}", "", None),
        ("telegrams decoded / s", f"{result['telegrams_per_s']:.1f}", "", None),
        ("duplicates dropped", f"{result['duplicates']} of {result['frames']}", "", None),
        ("publish -> state change, p50", f"{latency['median']:.1f} ms", "", None),
        ("publish -> state change, p99", f"{latency['p99']:.1f} ms", f"< {TARGET_P99_MS:.0f} ms", p99_ok),
        ("publish -> state change, max", f"{latency['max']:.1f} ms", "", None),
        (
            "largest event-loop stall",
            f"{stall_ms:.0f} ms at t = {stall_at:.1f} s",
            f"<= {TARGET_STALL_MS:.0f} ms",
            stall_ok,
        ),
        (
            "gc: collections gen0/1/2, longest gen2",
            "{} / {} / {}, {:.0f} ms".format(
                *(result["gc"][f"gen{g}"]["count"] for g in (0, 1, 2)), result["gc"]["gen2"]["max_ms"]
            ),
            "",
            None,
        ),
        (
            "gc-tracked objects: no entry / warm / end",
            " / ".join(f"{n / 1000:.0f}k" for n in result["gc_tracked"]),
            "",
            None,
        ),
        (
            "CPU of the HA process (run)",
            f"{result['cpu_s']:.1f} s = {result['cpu_percent']:.1f} % of one core",
            "",
            None,
        ),
        (
            "RSS: before entry / after warm-up / end",
            f"{result['rss_empty_mib']:.0f} / {result['rss_warm_mib']:.0f} / {result['rss_end_mib']:.0f} MiB",
            "",
            None,
        ),
        ("load average before / after (1 min)", f"{before[0]:.2f} / {after[0]:.2f}", "2 cores", None),
    ]
    width = max(len(row[0]) for row in rows)
    for label, value, target, ok in rows:
        verdict = "" if ok is None else ("ok" if ok else "MISSED")
        print(f"  {label:<{width}}  {value:>34}  {target:<10} {verdict}")
    if result["lost"]:
        print(f"  lost, e.g.: {', '.join(result['lost_examples'])}")
    if result.get("worst"):
        print(
            "  slowest telegrams (latency ms @ s into the run): "
            + ", ".join(f"{lat:.0f}@{at:.1f}" for lat, at in result["worst"])
        )
    if result.get("stalls"):
        print(
            "  event-loop stalls > 20 ms (ms @ s): "
            + ", ".join(f"{late:.0f}@{at:.1f}" for at, late in result["stalls"])
        )
    for stall in result.get("stall_causes", []):
        print(f"  stall {stall['ms']:.0f} ms at t = {stall['at']:.1f} s: gc {stall['gc_ms']:.0f} ms")
        for label in ("gc", "callbacks", "asyncio", "stacks"):
            for line in stall[label]:
                print(f"      {label}: {line}")
    if result.get("slow_callbacks"):
        print(f"  slowest loop callbacks (> {args.slow_callback:.0f} ms):")
        for took, at, what in result["slow_callbacks"]:
            print(f"      {took:.0f} ms at t = {at:.1f} s: {what}")
    if result.get("rss_samples"):
        print("  RSS every 10 s (MiB): " + ", ".join(f"{mib:.0f}" for _, mib in result["rss_samples"]))
    if result["errors"]:
        print(f"  decode errors: {result['errors']}")
    return lost_ok and p99_ok and stall_ok


if __name__ == "__main__":
    sys.exit(main())
