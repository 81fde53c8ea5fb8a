"""Load benchmark of the hub inside a Home Assistant test instance (run by ``scripts/bench_hub.py``).

Kept outside ``tests/`` so the normal suite does not run it. One pytest test:

1. A replay receiver entry with no meters is set up; ``tracemalloc`` starts (snapshot A).
2. ``BENCH_METERS`` meter subentries are added (half mode-5 encrypted water meters, half
   plaintext heat meters, six records each) and every meter reports once, so its devices,
   entities and states exist (snapshot B). Memory per meter = (B - A) / meters.
3. ``tracemalloc`` stops. ``BENCH_SECONDS`` seconds of simulated time follow: every meter sends a
   telegram every 10 s, phases spread evenly (1,000 meters = 100 telegrams/s). Frames carry
   simulated timestamps and go straight into the receiver's frame callback (``hub._on_frame``);
   after each simulated second Home Assistant's timers are advanced with ``async_fire_time_changed``
   and the loop is drained. Per telegram, the event-loop thread's CPU time (``time.thread_time``)
   and wall time (``time.perf_counter``) of the callback are taken: decode, heard list, meter
   state, dispatcher signals, entity updates and state writes all run synchronously in it. The
   work deferred to later loop iterations (drain and timers) is measured per simulated second.
4. With ``BENCH_PROFILE`` (or when the median target is missed) ten more simulated seconds run
   under cProfile.

Results go to the JSON file named by ``BENCH_RESULT`` (the script prints the table).
"""

from __future__ import annotations

import asyncio
from collections.abc import Generator
import cProfile
import gc
import hashlib
import io
import json
import logging
import os
from pathlib import Path
import pstats
import statistics
import sys
import time
import tracemalloc
from types import FunctionType, MappingProxyType, ModuleType
from typing import Any
from unittest.mock import patch

from homeassistant.config_entries import ConfigSubentry
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.oms.const import (
    CONF_DEVICE,
    CONF_DEVICE_TYPE,
    CONF_KEY,
    CONF_KIND,
    CONF_LINK_MODE,
    CONF_MANUFACTURER,
    CONF_METER_ID,
    CONF_VERSION,
    DOMAIN,
    SUBENTRY_METER,
)
from custom_components.oms.hub import OmsHub
from custom_components.oms.omslib.frame import Frame
from tests import encoder as enc

METERS = int(os.environ.get("BENCH_METERS", "1000"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "60"))
PERIOD = 10
"""Seconds between two telegrams of one meter."""
PROFILE = os.environ.get("BENCH_PROFILE", "") not in ("", "0")
RESULT = os.environ.get("BENCH_RESULT", "")
TARGET_MEDIAN_MS = 0.5
PROFILE_SECONDS = 10
ROOT = str(Path(__file__).resolve().parents[1])


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Load custom_components/oms."""


@pytest.fixture(autouse=True)
def enable_event_loop_debug(event_loop: asyncio.AbstractEventLoop) -> None:
    """Override the test harness's debug event loop: production loops do not run in debug mode."""
    event_loop.set_debug(False)


@pytest.fixture(autouse=True)
def production_log_level() -> Generator[None]:
    """Home Assistant's default level (WARNING): the harness's INFO lines (one per new entity) would be
    kept in memory by pytest's log capture and counted as the meters' memory."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.WARNING)
    yield
    root.setLevel(level)


@pytest.fixture(autouse=True)
def no_port_listing() -> Generator[None]:
    with patch("serialx.async_list_serial_ports", return_value=[]):
        yield


# -- the fleet -------------------------------------------------------------------------------------


class Meter:
    """One simulated meter and its telegram for each round (round 0 = first report)."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.water = index % 2 == 0
        self.meter_id = f"{(20000000 if self.water else 30000000) + index:08d}"
        if self.water:
            self.addr = enc.Addr("KAM", self.meter_id, 0x1B, 0x07)
            self.key: bytes | None = hashlib.sha256(self.meter_id.encode()).digest()[:16]
        else:
            self.addr = enc.Addr("QDS", self.meter_id, 0x35, 0x04)
            self.key = None
        self.phase = (index % METERS) * PERIOD / METERS
        """Offset in seconds of its telegrams within each 10 s period."""

    def telegram(self, round_: int) -> bytes:
        acc = (self.index + round_) & 0xFF
        if self.water:
            volume = 100_000 + self.index * 10 + round_ * 3
            records = [
                enc.record(0x4, enc.vib(0x13), enc.int_bytes(volume, 4)),
                enc.record(0x4, enc.vib(0x13), enc.int_bytes(90_000, 4), storage=1),
                enc.record(0x4, enc.vib(0x13), enc.int_bytes(5_000 + round_, 4), tariff=1),
                enc.record(0x2, enc.vib(0x65), enc.int_bytes(2150 + round_ % 7, 2)),
                enc.record(0x4, enc.vib(0x6D), enc.datetime_f(2024, 5, 31, 23, round_ % 60)),
                enc.record(0x2, enc.vib(0x17, table=0xFD), enc.int_bytes(0, 2)),
            ]
            spec = enc.TelegramSpec(records=records, meter=self.addr, acc=acc, mode=5, key=self.key)
        else:
            records = [
                enc.record(0x4, enc.vib(0x06), enc.int_bytes(4_000 + self.index + round_, 4)),
                enc.record(0x4, enc.vib(0x13), enc.int_bytes(900_000 + round_ * 11, 4)),
                enc.record(0x4, enc.vib(0x2B), enc.int_bytes(1_500 + round_ % 13, 4)),
                enc.record(0x4, enc.vib(0x3B), enc.int_bytes(800 + round_ % 17, 4)),
                enc.record(0x2, enc.vib(0x5B), enc.int_bytes(65 + round_ % 3, 2)),
                enc.record(0x2, enc.vib(0x5F), enc.int_bytes(40 + round_ % 5, 2)),
            ]
            spec = enc.TelegramSpec(records=records, meter=self.addr, acc=acc, tpl="long")
        return enc.build(spec)

    def subentry(self) -> ConfigSubentry:
        data: dict[str, Any] = {CONF_METER_ID: self.meter_id}
        if self.key is not None:
            data[CONF_KEY] = self.key.hex()
        else:
            data |= {CONF_MANUFACTURER: "QDS", CONF_DEVICE_TYPE: 0x04, CONF_VERSION: 0x35}
        title = f"{'Water' if self.water else 'Heat'} {self.index:04d}"
        return ConfigSubentry(
            data=MappingProxyType(data), subentry_type=SUBENTRY_METER, title=title, unique_id=self.meter_id
        )


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


# -- the benchmark ---------------------------------------------------------------------------------


async def test_hub_load(hass: HomeAssistant, tmp_path: Path) -> None:
    result: dict[str, Any] = {"meters": METERS, "seconds": SECONDS, "period": PERIOD}
    fleet = [Meter(i) for i in range(METERS)]
    rounds = SECONDS // PERIOD + 1 + (PROFILE_SECONDS // PERIOD)
    started = time.perf_counter()
    telegrams = [[meter.telegram(r) for r in range(rounds + 1)] for meter in fleet]
    result["build_s"] = time.perf_counter() - started

    # One telegram of a meter nobody configured: the replay receiver wants a non-empty file.
    stray = enc.build(
        enc.TelegramSpec(
            records=[enc.record(0xC, enc.vib(0x13), enc.bcd_bytes(4567, 8))],
            meter=enc.Addr("ELS", "11223344", 0x33, 0x03),
        )
    )
    capture = tmp_path / "capture.txt"
    capture.write_text(f"{stray.hex()};rssi=-60\n")
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Bench",
        entry_id="entry_bench",
        unique_id="bench-1",
        data={CONF_DEVICE: f"{capture}?rate=1000&loop=0", CONF_KIND: "replay", CONF_LINK_MODE: "c1t1"},
        version=1,
        minor_version=1,
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    hub: OmsHub = entry.runtime_data
    receiver: Any = hub.receiver
    await receiver.finished.wait()
    await hass.async_block_till_done()
    on_frame = receiver._on_frame
    t0 = time.time()

    # -- memory: 0 -> METERS configured meters that have all reported once ------------------------
    gc.collect()
    tracemalloc.start()
    snap_a = tracemalloc.take_snapshot()
    started = time.perf_counter()
    for meter in fleet:
        hass.config_entries.async_add_subentry(entry, meter.subentry())
    await hass.async_block_till_done()
    result["add_subentries_s"] = time.perf_counter() - started
    assert len(hub.meters) == METERS
    started = time.perf_counter()
    for meter in fleet:
        on_frame(Frame(telegrams[meter.index][0], rssi_dbm=-70.0, received_at=t0 + meter.phase))
    await hass.async_block_till_done()
    async_fire_time_changed(hass, dt_util.utc_from_timestamp(t0 + PERIOD + 30))
    await hass.async_block_till_done()
    result["first_reports_s"] = time.perf_counter() - started
    gc.collect()
    snap_b = tracemalloc.take_snapshot()
    tracemalloc.stop()
    filters = [tracemalloc.Filter(False, tracemalloc.__file__)]
    diff = snap_b.filter_traces(filters).compare_to(snap_a.filter_traces(filters), "lineno")
    total = sum(stat.size_diff for stat in diff)
    result["memory_total_bytes"] = total
    result["memory_per_meter_bytes"] = total / METERS
    result["memory_by_package"] = _by_package(diff)
    result["memory_top"] = [
        (_where(stat.traceback[0].filename, stat.traceback[0].lineno), stat.size_diff, stat.count_diff)
        for stat in diff[:12]
    ]
    result["memory_top_integration"] = [
        (_where(stat.traceback[0].filename, stat.traceback[0].lineno), stat.size_diff, stat.count_diff)
        for stat in diff
        if "custom_components/oms" in stat.traceback[0].filename
    ][:8]
    del snap_a, snap_b, diff
    result["hub_bytes_per_meter"] = _deep_size(hub.meters, hub.heard, hub.keyring, hub._layouts) / METERS
    result["states"] = len(hass.states.async_all())
    result["errors"] = dict(hub.errors)
    assert not hub.errors, hub.errors
    assert all(meter.records for meter in hub.meters.values())

    # -- time: SECONDS of simulated time, every meter every PERIOD s ------------------------------
    by_second: dict[int, list[Meter]] = {}
    for meter in fleet:
        by_second.setdefault(int(meter.phase), []).append(meter)
    # Simulated time starts now (Home Assistant's timers are real-time based) and runs ahead of it.
    base = time.time()  # round r starts at base + (r - 1) * PERIOD
    gc.collect()
    frames_before = hub.frames

    async def run(
        first: int, seconds: int, cpu: list[float], wall: list[float], deferred: list[float]
    ) -> None:
        for second in range(first, first + seconds):
            round_ = second // PERIOD + 1
            start = base + second - second % PERIOD
            for meter in by_second.get(second % PERIOD, []):
                frame = Frame(telegrams[meter.index][round_], rssi_dbm=-70.0, received_at=start + meter.phase)
                c0 = time.thread_time()
                w0 = time.perf_counter()
                on_frame(frame)
                w1 = time.perf_counter()
                c1 = time.thread_time()
                cpu.append(c1 - c0)
                wall.append(w1 - w0)
            c0 = time.thread_time()
            async_fire_time_changed(hass, dt_util.utc_from_timestamp(base + second + 1))
            await hass.async_block_till_done()
            deferred.append(time.thread_time() - c0)

    cpu: list[float] = []
    wall: list[float] = []
    deferred: list[float] = []
    load_before = os.getloadavg()
    started_wall = time.perf_counter()
    started_cpu = time.thread_time()
    await run(0, SECONDS, cpu, wall, deferred)
    result["run_cpu_s"] = time.thread_time() - started_cpu
    result["run_wall_s"] = time.perf_counter() - started_wall
    result["loadavg"] = [load_before, os.getloadavg()]
    telegram_count = len(cpu)
    assert hub.frames - frames_before == telegram_count
    assert hub.duplicates == 0
    assert not hub.errors, hub.errors
    result["telegrams"] = telegram_count
    result["cpu_ms"] = {
        "median": statistics.median(cpu) * 1e3,
        "p99": percentile(cpu, 0.99) * 1e3,
        "mean": statistics.fmean(cpu) * 1e3,
        "max": max(cpu) * 1e3,
        "total": sum(cpu) * 1e3,
    }
    result["wall_ms"] = {
        "median": statistics.median(wall) * 1e3,
        "p99": percentile(wall, 0.99) * 1e3,
        "total": sum(wall) * 1e3,
    }
    result["deferred_ms"] = {
        "total": sum(deferred) * 1e3,
        "per_telegram": sum(deferred) * 1e3 / telegram_count,
        "max_second": max(deferred) * 1e3,
        "max_second_at": deferred.index(max(deferred)) + 1,
    }
    # The readings arrived: the last water meter's volume is its last round's value.
    last_round = SECONDS // PERIOD
    water = fleet[0]
    record = next(r for r in hub.meters[water.meter_id].records.values() if r.quantity == "volume")
    assert record.value == pytest.approx((100_000 + water.index * 10 + last_round * 3) / 1000)

    # -- profile ------------------------------------------------------------------------------------
    if PROFILE or result["cpu_ms"]["median"] >= TARGET_MEDIAN_MS:
        profiler = cProfile.Profile()
        profiler.enable()
        await run(SECONDS, PROFILE_SECONDS, [], [], [])
        profiler.disable()
        result["profile"] = _profile_rows(profiler, PROFILE_SECONDS * METERS // PERIOD)

    await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    if RESULT:
        await asyncio.to_thread(Path(RESULT).write_text, json.dumps(result, indent=1))
    print(json.dumps({k: v for k, v in result.items() if k not in ("profile", "memory_top")}, indent=1))


def _where(filename: str, lineno: int | None = None) -> str:
    """A short path: relative to the repository, or from site-packages / the standard library on."""
    if "site-packages/" in filename:
        short = filename.split("site-packages/", 1)[1]
    elif filename.startswith(ROOT):
        short = filename[len(ROOT) + 1 :]
    elif "/lib/python" in filename:
        short = "stdlib/" + filename.split("/lib/python", 1)[1].split("/", 1)[-1]
    else:
        short = filename
    return short if lineno is None else f"{short}:{lineno}"


def _by_package(diff: list[tracemalloc.StatisticDiff]) -> dict[str, int]:
    """Allocated bytes by the package of the allocating line (the integration, Home Assistant, ...)."""
    sizes: dict[str, int] = {}
    for stat in diff:
        where = _where(stat.traceback[0].filename)
        if where.startswith("custom_components/oms/omslib"):
            package = "custom_components/oms/omslib"
        elif where.startswith("custom_components/oms"):
            package = "custom_components/oms (HA glue)"
        elif where.startswith("homeassistant/"):
            package = "homeassistant/" + where.split("/")[1].removesuffix(".py")
        elif where.startswith("<attrs generated"):
            package = "homeassistant/helpers (attrs classes)"
        else:
            package = where.split("/")[0].split(":")[0]
        sizes[package] = sizes.get(package, 0) + stat.size_diff
    return dict(sorted(sizes.items(), key=lambda item: -item[1]))


_SKIP = (type, ModuleType, FunctionType)


def _deep_size(*roots: object) -> int:
    """Bytes of every object reachable from roots (classes, modules and functions excluded)."""
    seen: set[int] = set()
    stack = list(roots)
    total = 0
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, _SKIP) or obj is None:
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        stack.extend(gc.get_referents(obj))
    return total


def _profile_rows(profiler: cProfile.Profile, telegrams: int) -> dict[str, Any]:
    """Top functions by cumulative and by own time, in ms over the profiled run."""
    stats = pstats.Stats(profiler, stream=io.StringIO())
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    rows = []
    for (filename, lineno, name), (_cc, calls, tottime, cumtime, _callers) in raw.items():
        rows.append((f"{_where(filename)}:{name}", lineno, calls, tottime * 1e3, cumtime * 1e3))
    by_cum = sorted(rows, key=lambda row: row[4], reverse=True)
    by_own = sorted(rows, key=lambda row: row[3], reverse=True)
    return {"telegrams": telegrams, "cumulative": by_cum[:40], "own": by_own[:25]}
