"""Remote receivers for ``test_mqtt_load.py``: publishes telegrams to a broker on a schedule (own process).

Usage: ``python benchmarks/mqtt_publisher.py HOST PORT RESULT.json`` with the plan in the
environment (``BENCH_METERS``, ``BENCH_SECONDS``, ``BENCH_RECEIVERS``, ``BENCH_HEAR``,
``BENCH_PERIOD``, ``BENCH_WARMUP``). Each receiver is its own paho client (as real ESP32
receivers are) and hears a fixed ``BENCH_HEAR`` share of the meters. Meter ``m`` sends
telegram number ``n`` (access number ``n``, volume ``n`` litres) at ``phase(m) + n * period``;
round 0 is the warm-up (entities are created), then ``BENCH_SETTLE`` seconds of quiet. Every receiver that hears the meter publishes
it, in one of three payload forms. The first publish time of each telegram goes to the result
file: ``{"published": {"<m>/<n>": t}, "messages": N, "receptions": {"<receiver>": N}}``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
import random
import sys
import time

import paho.mqtt.client as paho

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests import encoder as enc

RECEIVER_NAMES = ("basement", "attic", "garage", "garden", "shed")


def meter_id(index: int) -> str:
    return f"{70000000 + index:08d}"


def telegram(index: int, number: int) -> bytes:
    meter = enc.Addr("KAM", meter_id(index), 0x1B, 0x07)
    records = [
        enc.record(0x4, enc.vib(0x13), enc.int_bytes(number, 4)),  # volume, litres (a plausible flow)
        enc.record(0x2, enc.vib(0x65), enc.int_bytes(2150, 2)),
    ]
    return enc.build(enc.TelegramSpec(records=records, meter=meter, acc=number & 0xFF))


def payload(raw: bytes, form: int, rssi: int) -> str:
    if form == 0:
        return f"{raw.hex()};rssi={rssi}"
    if form == 1:
        return json.dumps({"telegram": raw.hex().upper(), "rssi": rssi, "mode": "T1"})
    return f"T1;1;1;2024-06-01 12:00:00.000;{rssi};;;0x{raw.hex()}"


def main() -> int:
    host, port, result_path = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
    meters = int(os.environ.get("BENCH_METERS", "1000"))
    seconds = float(os.environ.get("BENCH_SECONDS", "60"))
    receivers = RECEIVER_NAMES[: int(os.environ.get("BENCH_RECEIVERS", "3"))]
    hear = float(os.environ.get("BENCH_HEAR", "0.6"))
    period = float(os.environ.get("BENCH_PERIOD", "10"))
    warmup = float(os.environ.get("BENCH_WARMUP", "10"))
    settle = float(os.environ.get("BENCH_SETTLE", "0"))
    rng = random.Random(42)
    hears = {name: {m for m in range(meters) if rng.random() < hear} for name in receivers}
    clients = {}
    for name in receivers:
        client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"bench-{name}")
        client.connect(host, port)
        client.loop_start()
        clients[name] = client
    # Warm-up round 0 spread over `warmup` seconds, a pause of `settle` seconds, then rounds 1..
    # every `period` seconds.
    schedule: list[tuple[float, int, int]] = []
    for m in range(meters):
        schedule.append((warmup * m / meters, m, 0))
        phase = warmup + settle + period * m / meters
        number = 1
        while (at := phase + (number - 1) * period) < warmup + settle + seconds:
            schedule.append((at, m, number))
            number += 1
    schedule.sort()
    published: dict[str, float] = {}
    receptions = dict.fromkeys(receivers, 0)
    messages = 0
    start = time.time() + 0.5
    for at, m, number in schedule:
        delay = start + at - time.time()
        if delay > 0:
            time.sleep(delay)
        raw = telegram(m, number)
        for position, name in enumerate(receivers):
            if m not in hears[name]:
                continue
            text = payload(raw, (m + position) % 3, -60 - (m * 7 + position * 13) % 40)
            now = time.time()
            clients[name].publish(f"wmbus/{name}/telegram", text, qos=0)
            published.setdefault(f"{m}/{number}", now)
            receptions[name] += 1
            messages += 1
    time.sleep(1.0)
    for client in clients.values():
        client.disconnect()
        client.loop_stop()
    result_path.write_text(
        json.dumps(
            {
                "published": published,
                "messages": messages,
                "receptions": receptions,
                "telegrams_unheard": sum(
                    1 for _, m, _ in schedule if not any(m in hears[name] for name in receivers)
                ),
                "end": time.time(),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
