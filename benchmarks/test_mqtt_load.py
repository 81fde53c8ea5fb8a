"""MQTT load benchmark in a Home Assistant test instance (run by ``scripts/bench_mqtt.py``).

Kept outside ``tests/`` so the normal suite does not run it. A real Mosquitto broker, Home
Assistant's real MQTT integration (paho client) and an ``oms`` MQTT receiver entry with
``BENCH_METERS`` configured meters; ``benchmarks/mqtt_publisher.py`` runs as a separate process
(so its CPU is not counted) and publishes as ``BENCH_RECEIVERS`` remote receivers in real time.
Every state change of a meter's volume sensor is timestamped in an event listener; the volume
encodes the telegram number, so the latency is state-change time minus the first publish of
that telegram. CPU (user + system, all threads of this process: event loop, MQTT socket work,
executor) and memory (RSS) are taken over the measured run. Results go to ``BENCH_RESULT``.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
from pathlib import Path
import resource
import subprocess
import sys
import tempfile
import time
from types import MappingProxyType
from typing import Any

from homeassistant.config_entries import ConfigSubentryData
from homeassistant.const import EVENT_STATE_CHANGED
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.oms.const import (
    CONF_DEVICE,
    CONF_KIND,
    CONF_LINK_MODE,
    CONF_METER_ID,
    DOMAIN,
    SUBENTRY_METER,
)
from custom_components.oms.hub import OmsHub
from tests.mqtt_broker import start_broker

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loop_probe import LoopProbe, heap_census
from mqtt_publisher import meter_id

METERS = int(os.environ.get("BENCH_METERS", "1000"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "60"))
WARMUP = float(os.environ.get("BENCH_WARMUP", "10"))
SETTLE = float(os.environ.get("BENCH_SETTLE", "15"))
"""Seconds between the warm-up round and the measured run: the registries' delayed saves of the
entities just created (phcc's mock storage serialises them in the event loop) happen here."""
RESULT = os.environ.get("BENCH_RESULT", "")
SLOW_CALLBACK = float(os.environ.get("BENCH_SLOW_CALLBACK", "0.05"))
"""Loop callbacks longer than this many seconds are recorded (``loop.slow_callback_duration``)."""
ASYNCIO_DEBUG = bool(os.environ.get("BENCH_ASYNCIO_DEBUG"))
CENSUS = bool(os.environ.get("BENCH_CENSUS"))
GC_FREEZE = bool(os.environ.get("BENCH_GC_FREEZE"))
"""Experiment, not Home Assistant's behaviour: ``gc.freeze()`` after the warm-up, so full collections
skip everything alive then (what Home Assistant core could do once started)."""
"""After the run: tracked objects by type, and the garbage of one full collection by type."""
"""Run the measured part in asyncio debug mode (its own slow-callback warnings; costs CPU)."""
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Load custom_components/oms."""


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


async def test_mqtt_load(hass: HomeAssistant, mock_hass_config: None, socket_enabled: None) -> None:
    broker = start_broker(Path(tempfile.mkdtemp(prefix="bench-mosquitto-")))
    try:
        await _run(hass, broker.host, broker.port)
    finally:
        broker.stop()


async def _run(hass: HomeAssistant, host: str, port: int) -> None:
    # phcc runs the loop in asyncio debug mode (a stack trace for every callback); Home Assistant
    # itself does not.
    hass.loop.set_debug(False)
    mqtt_entry = MockConfigEntry(domain="mqtt", data={"broker": host, "port": port})
    mqtt_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mqtt_entry.entry_id)
    await hass.async_block_till_done()

    rss_empty = _rss_kib()
    tracked_empty = len(gc.get_objects())
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="MQTT",
        data={CONF_DEVICE: "wmbus/+/telegram", CONF_KIND: "mqtt", CONF_LINK_MODE: "c1t1"},
        unique_id="mqtt:wmbus/+/telegram",
        subentries_data=[
            ConfigSubentryData(
                data=MappingProxyType({CONF_METER_ID: meter_id(m)}),
                subentry_type=SUBENTRY_METER,
                title=f"Water {m}",
                unique_id=meter_id(m),
            )
            for m in range(METERS)
        ],
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    hub: OmsHub = entry.runtime_data

    # Wait until the broker delivers to the subscription.
    import paho.mqtt.client as paho

    probe = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="bench-probe")
    probe.connect(host, port)
    probe.loop_start()
    try:
        async with asyncio.timeout(20):
            while "probe" not in hub.remote_stats:
                probe.publish("wmbus/probe/telegram", "probe")
                await asyncio.sleep(0.05)
    finally:
        probe.disconnect()
        probe.loop_stop()

    meter_of: dict[str, int] = {}
    ent_reg = er.async_get(hass)
    changes: list[tuple[float, str, str]] = []

    @callback
    def _changed(event: Event[EventStateChangedData]) -> None:
        new = event.data["new_state"]
        if new is not None and event.data["entity_id"].endswith("_volume"):
            changes.append((time.time(), event.data["entity_id"], new.state))

    unsub = hass.bus.async_listen(EVENT_STATE_CHANGED, _changed)
    result_file = Path(tempfile.mkdtemp(prefix="bench-publisher-")) / "published.json"
    env = os.environ | {"BENCH_WARMUP": str(WARMUP), "BENCH_SETTLE": str(SETTLE)}
    publisher = subprocess.Popen(
        [sys.executable, str(ROOT / "benchmarks" / "mqtt_publisher.py"), host, str(port), str(result_file)],
        cwd=ROOT,
        env=env,
    )
    # Warm-up: round 0 creates the entities; measuring starts after it.
    await asyncio.sleep(WARMUP + SETTLE - 1)
    await hass.async_block_till_done()
    frames0, duplicates0 = hub.frames, hub.duplicates
    tracked_warm = len(gc.get_objects())
    if GC_FREEZE:
        gc.collect()
        gc.freeze()
    elif CENSUS:
        gc.collect()  # the census then counts the cyclic garbage of the measured run only
    probe = LoopProbe(slow_callback=SLOW_CALLBACK, asyncio_debug=ASYNCIO_DEBUG)
    probe.start()
    rss_samples: list[tuple[float, float]] = []

    async def _sample_rss() -> None:
        while True:
            rss_samples.append((time.time(), _rss_kib() / 1024))
            await asyncio.sleep(10)

    sampler = asyncio.create_task(_sample_rss())
    cpu0, wall0 = _cpu(), time.monotonic()
    rss_warm = _rss_kib()
    load_before = os.getloadavg()
    while publisher.poll() is None:
        await asyncio.sleep(0.2)
    await asyncio.sleep(0.5)
    await hass.async_block_till_done()
    cpu1, wall1 = _cpu(), time.monotonic()
    load_after = os.getloadavg()
    probe.stop()
    sampler.cancel()
    unsub()
    assert publisher.returncode == 0
    published: dict[str, Any] = json.loads(result_file.read_text())

    for entity in er.async_entries_for_config_entry(ent_reg, entry.entry_id):
        if entity.entity_id.endswith("_volume"):
            meter_of[entity.entity_id] = int(entity.unique_id.split("_")[0]) - 70000000
    first_change: dict[str, float] = {}
    for at, entity_id, state in changes:
        if entity_id not in meter_of or state in ("unknown", "unavailable"):
            continue
        key = f"{meter_of[entity_id]}/{round(float(state) * 1000)}"  # volume in litres = telegram number
        first_change.setdefault(key, at)
    measured = {key: at for key, at in published["published"].items() if not key.endswith("/0")}
    latencies = [(first_change[key] - at) * 1000 for key, at in measured.items() if key in first_change]
    t0 = min(measured.values(), default=0.0)
    offset = time.time() - time.monotonic()

    def wall(monotonic: float) -> float:
        return monotonic + offset

    worst = sorted(
        ((first_change[key] - at) * 1000, at - t0) for key, at in measured.items() if key in first_change
    )[-15:]
    lost = sorted(key for key in measured if key not in first_change)
    stats = hub.remote_stats
    received = sum(stats[name].telegrams for name in published["receptions"] if name in stats)
    frames = hub.frames - frames0
    run_s = wall1 - wall0
    result = {
        "meters": METERS,
        "seconds": SECONDS,
        "messages_published": published["messages"],
        "messages_received": received,
        "receptions": published["receptions"],
        "telegrams_measured": len(measured),
        "telegrams_unheard": published["telegrams_unheard"],
        "state_changes": len(latencies),
        "lost": len(lost),
        "lost_examples": lost[:10],
        "frames": frames,
        "duplicates": hub.duplicates - duplicates0,
        "run_s": run_s,
        "frames_per_s": frames / run_s,
        "telegrams_per_s": (frames - (hub.duplicates - duplicates0)) / run_s,
        "latency_ms": {
            "median": _percentile(latencies, 0.5),
            "p99": _percentile(latencies, 0.99),
            "max": max(latencies, default=float("nan")),
        },
        "cpu_s": cpu1 - cpu0,
        "cpu_percent": (cpu1 - cpu0) / run_s * 100,
        "rss_empty_mib": rss_empty / 1024,
        "gc_tracked": [tracked_empty, tracked_warm, len(gc.get_objects())],
        "gc_freeze": GC_FREEZE,
        "rss_warm_mib": rss_warm / 1024,
        "rss_end_mib": _rss_kib() / 1024,
        "maxrss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "loadavg": [load_before, load_after],
        "errors": dict(hub.errors),
        "worst": worst,
        "stalls": [(wall(at) - t0, late * 1000) for at, late in probe.lags if wall(at) >= t0][:60],
        "largest_stall": max(
            ((late * 1000, wall(at) - t0) for at, late in probe.lags if wall(at) >= t0), default=(0.0, 0.0)
        ),
        "stall_causes": [s for s in probe.attribute(lambda at: wall(at) - t0) if s["at"] >= 0],
        "gc": probe.gc_summary(),
        "slow_callbacks": sorted(
            ((took * 1000, wall(at) - t0, what) for at, took, what in probe.slow if wall(at) >= t0),
            reverse=True,
        )[:10],
        "rss_samples": [(at - t0, mib) for at, mib in rss_samples],
    }
    if CENSUS:
        result["census"] = heap_census()
    if RESULT:
        Path(RESULT).write_text(json.dumps(result))
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert await hass.config_entries.async_unload(mqtt_entry.entry_id)
