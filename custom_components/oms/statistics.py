"""Compact-profile series into long-term statistics (issue 12; EN 13757-3 Annex F, OMS Vol2 Annex R).

A meter that sends a compact profile (15-minute, hourly, daily or monthly readings in one record)
gets those readings into the recorder's long-term statistics with the meter's own timestamps, so
the Energy dashboard and statistics graphs show when the water or energy was used, not when the
telegram happened to be received.

Why external statistics (``recorder.async_add_external_statistics``, statistic ID
``oms:<meter_id>_<quantity>``) and not ``async_import_statistics`` into the meter's own sensor:
the recorder compiles that sensor's statistics itself every hour from its states. Importing into
the same statistic ID would race that compile (two writers for one hour, sums that no longer
chain, a negative hour when the compile starts from a state our import did not know). An external
statistic has a single writer, this module, so its sums always chain; the Energy dashboard offers
it like any other statistic ("Meter name volume (profile)").

Rules:
- **Hourly buckets.** A reading at time *t* closes the hour that contains *t* − 1 µs (a reading at
  01:00 is the state at the end of 00:00–01:00); a bucket's state is its last reading, so a finer
  series (15 minutes) is summed into hours. A bucket is written once a reading at or after its end
  exists; the trailing incomplete hour waits for the next telegram.
- **Idempotent by timestamp.** Before the first import of a statistic the last stored row is read
  from the recorder; only hours after it are written. The same telegram twice, or the overlapping
  windows of consecutive telegrams, add nothing twice.
- **Gaps are filled** from the series: every complete hour after the last stored one that the
  series covers is written (a meter out of range for 6 hours that sends 24 hourly values loses
  nothing). Hours before the last stored row are never rewritten (later sums would change).
- **Sums chain.** ``sum`` = previous sum + the increase of the meter reading; a decrease (meter
  exchange, rollover) adds 0, so no hour is negative.
- Only cumulative quantities (volume, energy, mass, heat cost allocator units) with a resolved
  series (times and values known) are imported; other series are shown in diagnostics only.
- Meter time is local time: it is read in Home Assistant's time zone. A date without a time is
  that day's 00:00.
- Metadata carries ``mean_type`` (``StatisticMeanType.NONE``) and ``unit_class`` where the running
  Home Assistant knows them (both are required from 2026.11; 2025.4 knows ``mean_type`` only):
  detected from the keys of ``StatisticMetaData``, ``has_mean`` kept for older releases.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
import logging
from typing import TYPE_CHECKING, Any

from homeassistant.core import HomeAssistant, callback
from homeassistant.util import dt as dt_util

from .const import DOMAIN
from .omslib.profile import PROFILE_MODIFIERS
from .omslib.record import Record, Series

if TYPE_CHECKING:  # the recorder (and SQLAlchemy) load only when the recorder runs
    from homeassistant.components.recorder.models import StatisticMetaData

_LOGGER = logging.getLogger(__name__)

DATA_STATISTICS = f"{DOMAIN}_statistics"
"""hass.data key of the :class:`ProfileStatistics` of this Home Assistant instance."""

CUMULATIVE = frozenset({"volume", "energy", "reactive_energy", "apparent_energy", "mass", "hca_units"})
"""Quantities whose series are meter readings that only grow: imported as sums."""

HOUR = timedelta(hours=1)
_TICK = timedelta(microseconds=1)


@dataclass(slots=True)
class LastRow:
    """The newest row of one statistic: hour start (UTC), state and sum."""

    start: datetime
    state: float
    sum: float


@dataclass(slots=True)
class ProfileStatistics:
    """Imports series of all meters; remembers the last row of each statistic it writes."""

    last: dict[str, LastRow | None] = field(default_factory=dict)
    locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    imported: dict[str, int] = field(default_factory=dict)
    """Rows written per statistic ID since start (diagnostics)."""


def statistic_id(meter_id: str, record: Record, series: Series) -> str:
    """``oms:<meter_id>_<quantity>`` plus what tells two profiles of one meter apart."""
    parts = [meter_id.lower(), series.quantity]
    parts.extend(m for m in record.modifiers if m not in PROFILE_MODIFIERS)
    if record.function != "instantaneous":
        parts.append(record.function)
    if record.tariff:
        parts.append(f"tariff_{record.tariff}")
    if record.subunit:
        parts.append(f"subunit_{record.subunit}")
    slug = "_".join(parts)
    slug = "".join(ch if ch.isascii() and (ch.isalnum() or ch == "_") else "_" for ch in slug.lower())
    while "__" in slug:
        slug = slug.replace("__", "_")
    return f"{DOMAIN}:{slug.strip('_')}"


def readings(series: Series) -> list[tuple[datetime, float]]:
    """The series' (aware UTC time, value) readings, base included, oldest first, one per time."""
    zone = dt_util.get_default_time_zone()
    found: dict[datetime, float] = {}
    points = [series.base] if series.base is not None else []
    points.extend(series.points)
    for point in points:
        if point.time is None or point.value is None:
            continue
        local = datetime.fromisoformat(point.time)
        found[local.replace(tzinfo=zone).astimezone(UTC)] = float(point.value)
    return sorted(found.items())


def hourly_states(points: list[tuple[datetime, float]]) -> list[tuple[datetime, float]]:
    """(hour start, meter reading at the end of that hour) for every complete hour with a reading."""
    if not points:
        return []
    newest = points[-1][0]
    buckets: dict[datetime, float] = {}
    for when, value in points:
        start = (when - _TICK).replace(minute=0, second=0, microsecond=0)
        if start + HOUR <= newest:
            buckets[start] = value  # points are sorted: the last one of the hour wins
    return sorted(buckets.items())


def chain(last: LastRow | None, hours: list[tuple[datetime, float]]) -> list[LastRow]:
    """Rows for the hours after ``last``: sums continue from it, a decrease adds nothing."""
    rows: list[LastRow] = []
    previous = last
    for start, state in hours:
        if previous is not None and start <= previous.start:
            continue
        total = 0.0 if previous is None else previous.sum + max(0.0, state - previous.state)
        row = LastRow(start, state, round(total, 9))
        rows.append(row)
        previous = row
    return rows


def metadata(stat_id: str, name: str, unit: str | None) -> StatisticMetaData:
    """Sum-only metadata, with ``mean_type``/``unit_class`` where this Home Assistant has them."""
    from homeassistant.components.recorder import models
    from homeassistant.components.recorder.statistics import STATISTIC_UNIT_TO_UNIT_CONVERTER

    keys = set(getattr(models.StatisticMetaData, "__required_keys__", ())) | set(
        getattr(models.StatisticMetaData, "__optional_keys__", ())
    )
    meta: dict[str, Any] = {
        "has_mean": False,
        "has_sum": True,
        "name": name,
        "source": DOMAIN,
        "statistic_id": stat_id,
        "unit_of_measurement": unit,
    }
    mean_type = getattr(models, "StatisticMeanType", None)
    if "mean_type" in keys and mean_type is not None:
        meta["mean_type"] = mean_type.NONE
    if "unit_class" in keys:
        converter = STATISTIC_UNIT_TO_UNIT_CONVERTER.get(unit)
        meta["unit_class"] = converter.UNIT_CLASS if converter is not None else None
    return meta  # type: ignore[return-value]


def importable(records: Iterable[Record]) -> list[tuple[Record, Series]]:
    """Profile records whose series can become statistics (cumulative, resolved, with times)."""
    found: list[tuple[Record, Series]] = []
    for record in records:
        series = record.series
        if (
            series is not None
            and series.reason is None
            and series.step is not None
            and series.quantity in CUMULATIVE
            and series.points
        ):
            found.append((record, series))
    return found


@callback
def async_schedule_import(
    hass: HomeAssistant, meter_id: str, meter_name: str, records: Iterable[Record]
) -> None:
    """Import the resolved series among ``records`` in a task (nothing to do: returns at once)."""
    found = importable(records)
    if not found or "recorder" not in hass.config.components:
        return
    hass.async_create_task(async_import(hass, meter_id, meter_name, found), f"{DOMAIN} profile statistics")


def _store(hass: HomeAssistant) -> ProfileStatistics:
    store: ProfileStatistics | None = hass.data.get(DATA_STATISTICS)
    if store is None:
        store = hass.data[DATA_STATISTICS] = ProfileStatistics()
    return store


async def async_import(
    hass: HomeAssistant, meter_id: str, meter_name: str, found: list[tuple[Record, Series]]
) -> None:
    """Write the complete hours of each series that are newer than its statistic's last row."""
    from homeassistant.components.recorder.models import StatisticData
    from homeassistant.components.recorder.statistics import async_add_external_statistics

    store = _store(hass)
    for record, series in found:
        stat_id = statistic_id(meter_id, record, series)
        lock = store.locks.setdefault(stat_id, asyncio.Lock())
        async with lock:
            if stat_id not in store.last:
                store.last[stat_id] = await _read_last(hass, stat_id)
            rows = chain(store.last[stat_id], hourly_states(readings(series)))
            if not rows:
                continue
            name = f"{meter_name} {series.quantity.replace('_', ' ')} (profile)"
            async_add_external_statistics(
                hass,
                metadata(stat_id, name, series.unit),
                [StatisticData(start=row.start, state=row.state, sum=row.sum) for row in rows],
            )
            store.last[stat_id] = rows[-1]
            store.imported[stat_id] = store.imported.get(stat_id, 0) + len(rows)
            _LOGGER.debug(
                "Meter %s: %d hours of %s imported (%s to %s)",
                meter_id,
                len(rows),
                stat_id,
                rows[0].start.isoformat(),
                rows[-1].start.isoformat(),
            )


async def _read_last(hass: HomeAssistant, stat_id: str) -> LastRow | None:
    """The newest stored row of ``stat_id`` (from an earlier run), or None."""
    from homeassistant.components.recorder.statistics import get_last_statistics
    from homeassistant.helpers.recorder import get_instance

    found = await get_instance(hass).async_add_executor_job(
        get_last_statistics, hass, 1, stat_id, False, {"state", "sum"}
    )
    rows = found.get(stat_id)
    if not rows:
        return None
    row = rows[0]
    start = row["start"]
    when = dt_util.utc_from_timestamp(start) if isinstance(start, int | float) else start
    return LastRow(when, float(row.get("state") or 0.0), float(row.get("sum") or 0.0))


def diagnostics(hass: HomeAssistant, meter_id: str) -> dict[str, Any]:
    """The statistics this module wrote for one meter: last hour, its sum, rows since start."""
    store: ProfileStatistics | None = hass.data.get(DATA_STATISTICS)
    if store is None:
        return {}
    prefix = f"{DOMAIN}:{meter_id.lower()}_"
    return {
        stat_id: {
            "last_hour": row.start.isoformat() if row else None,
            "state": row.state if row else None,
            "sum": row.sum if row else None,
            "rows_imported": store.imported.get(stat_id, 0),
        }
        for stat_id, row in store.last.items()
        if stat_id.startswith(prefix)
    }


def series_json(series: Series) -> dict[str, Any]:
    """A series for diagnostics."""
    return {
        "kind": series.kind,
        "mode": series.mode,
        "step": series.step,
        "quantity": series.quantity,
        "unit": series.unit,
        "base": None if series.base is None else {"time": series.base.time, "value": series.base.value},
        "points": [{"time": p.time, "value": p.value, "storage": p.storage} for p in series.points],
        "unresolved": series.reason,
        "detail": series.detail or None,
    }
