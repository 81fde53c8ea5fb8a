"""Compact-profile series into long-term statistics, with the real recorder (issue 12)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
import itertools
from typing import Any

from homeassistant.components.recorder import Recorder
from homeassistant.components.recorder.statistics import get_metadata, statistics_during_period
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.components.recorder.common import async_wait_recording_done

from custom_components.oms import statistics as profile_statistics
from custom_components.oms.diagnostics import async_get_config_entry_diagnostics
from custom_components.oms.hub import OmsHub
from custom_components.oms.statistics import DATA_STATISTICS
from tests import encoder as enc

from .conftest import WATER, feed, gas_telegram, make_entry, setup_entry, water_subentry

STAT_ID = "oms:12345678_volume"
LOCAL = timedelta(hours=7)
"""The test instance runs in US/Pacific: June meter times are UTC−7."""


def profile_telegram(
    base: datetime, total: int, increments: list[int], *, acc: int, kind: str = "inverse", minutes: int = 60
) -> bytes:
    """A water meter: meter time, volume (litres), and a profile of increments (1-byte BCD)."""
    records = [
        enc.record(
            0x4, enc.vib(0x6D), enc.datetime_f(base.year, base.month, base.day, base.hour, base.minute)
        ),
        enc.record(0x4, enc.vib(0x13), enc.int_bytes(total, 4)),
        enc.profile_record(
            0x13,
            kind=kind,
            mode="increment",
            unit="min" if minutes < 60 else "h",
            spacing=minutes if minutes < 60 else minutes // 60,
            element_code=0x9,
            elements=increments,
        ),
    ]
    return enc.build(enc.TelegramSpec(records=records, meter=WATER, acc=acc))


def utc(hour: int, day: int = 1, minute: int = 0) -> datetime:
    """Meter (local) time 2024-06-<day> <hour>:<minute> as UTC."""
    return datetime(2024, 6, day, hour, minute, tzinfo=UTC) + LOCAL


async def statistic_rows(
    hass: HomeAssistant,
    recorder: Recorder,
    stat_id: str = STAT_ID,
    since: datetime = datetime(2024, 1, 1, tzinfo=UTC),
) -> list[tuple[datetime, float, float]]:
    """(start, state, sum) of every hourly row of a statistic since ``since``, once the recorder is done."""
    await hass.async_block_till_done()
    await async_wait_recording_done(hass)
    found = await recorder.async_add_executor_job(
        statistics_during_period,
        hass,
        since,
        None,
        {stat_id},
        "hour",
        None,
        {"state", "sum"},
    )
    return [
        (datetime.fromtimestamp(row["start"], UTC), row["state"], row["sum"])
        for row in found.get(stat_id, [])
    ]


async def rows(hass: HomeAssistant, recorder: Recorder) -> list[tuple[datetime, float, float]]:
    """(start, state, sum) of every hourly row of the profile statistic, rounded to 6 decimals."""
    return [
        (start, round(state, 6), round(total, 6))
        for start, state, total in await statistic_rows(hass, recorder)
    ]


@pytest.fixture
def mock_recorder_before_hass(async_setup_recorder_instance: Any) -> None:
    """The recorder's database is prepared before Home Assistant starts (the harness' rule)."""


@pytest.fixture
async def hub(recorder_mock: Recorder, hass: HomeAssistant, write_capture: Callable[..., str]) -> OmsHub:
    assert hass.config.time_zone == "US/Pacific"
    entry = make_entry(write_capture(gas_telegram()), [water_subentry()])  # another meter
    return await setup_entry(hass, entry)


# readings 06:00 .. 12:00: 99.970, 99.975, 99.980, 99.985, 99.990, 99.995 (+5 l each hour) and 100.000
A_INCREMENTS = [5, 5, 5, 5, 5, 5]


async def test_series_become_hourly_statistics_once(
    recorder_mock: Recorder, hass: HomeAssistant, hub: OmsHub
) -> None:
    telegram = profile_telegram(datetime(2024, 6, 1, 12, 0), 100_000, A_INCREMENTS, acc=1)
    await feed(hass, hub, telegram)
    expected = [(utc(h), round(99.97 + 0.005 * (h - 5), 6), round(0.005 * (h - 5), 6)) for h in range(5, 12)]
    assert await rows(hass, recorder_mock) == expected

    # the same window again (the meter repeats it with the next access number): nothing changes
    await feed(hass, hub, profile_telegram(datetime(2024, 6, 1, 12, 0), 100_000, A_INCREMENTS, acc=2))
    assert await rows(hass, recorder_mock) == expected

    metadata = await recorder_mock.async_add_executor_job(lambda: get_metadata(hass, statistic_ids={STAT_ID}))
    _, meta = metadata[STAT_ID]
    assert (meta["source"], meta["unit_of_measurement"], meta["has_sum"]) == ("oms", "m³", True)
    assert meta["name"] == "Kitchen water volume (profile)"
    assert int(meta.get("mean_type", 0)) == 0  # StatisticMeanType.NONE where it exists
    if "unit_class" in meta:
        assert meta["unit_class"] == "volume"


async def test_overlapping_window_and_gap_filled(
    recorder_mock: Recorder, hass: HomeAssistant, hub: OmsHub
) -> None:
    """Out of range from 12:00 to 18:00: the next telegram's 12-hour window fills the gap."""
    await feed(hass, hub, profile_telegram(datetime(2024, 6, 1, 12, 0), 100_000, A_INCREMENTS, acc=1))
    # readings 06:00 .. 18:00; 12:00 = 100.000 as before, then +10 l an hour, 17:00->18:00 +20 l
    increments = [20, 10, 10, 10, 10, 10, 5, 5, 5, 5, 5, 5]
    await feed(hass, hub, profile_telegram(datetime(2024, 6, 1, 18, 0), 100_070, increments, acc=2))
    found = await rows(hass, recorder_mock)
    assert [start for start, _, _ in found] == [utc(h) for h in range(5, 18)]
    by_hour = {start: (state, total) for start, state, total in found}
    assert by_hour[utc(11)] == (100.0, 0.03)
    assert by_hour[utc(12)] == (100.01, 0.04)
    assert by_hour[utc(16)] == (100.05, 0.08)
    assert by_hour[utc(17)] == (100.07, 0.1)
    sums = [total for _, _, total in found]
    assert sums == sorted(sums)


async def test_fifteen_minute_profile_sums_into_hours(
    recorder_mock: Recorder, hass: HomeAssistant, hub: OmsHub
) -> None:
    """Forward 15-minute increments after the base: hours are summed, the open hour waits."""
    base = datetime(2024, 6, 1, 8, 0)
    # 08:15 .. 09:30: +1, +2, +3, +4 l (hour 08), +5, +6 l (hour 09, open: no reading at 10:00 yet)
    await feed(
        hass, hub, profile_telegram(base, 50_000, [1, 2, 3, 4, 5, 6], acc=1, kind="forward", minutes=15)
    )
    assert await rows(hass, recorder_mock) == [(utc(7), 50.0, 0.0), (utc(8), 50.01, 0.01)]
    # the next telegram: base 09:00 = 50.010, then +5, +6, +7, +8 l up to 10:00 and +9 l (hour 10 open)
    later = profile_telegram(
        datetime(2024, 6, 1, 9, 0), 50_010, [5, 6, 7, 8, 9], acc=2, kind="forward", minutes=15
    )
    await feed(hass, hub, later)
    assert await rows(hass, recorder_mock) == [
        (utc(7), 50.0, 0.0),
        (utc(8), 50.01, 0.01),
        (utc(9), 50.036, 0.036),
    ]


async def test_restart_reads_the_last_row_from_the_recorder(
    recorder_mock: Recorder, hass: HomeAssistant, hub: OmsHub
) -> None:
    await feed(hass, hub, profile_telegram(datetime(2024, 6, 1, 12, 0), 100_000, A_INCREMENTS, acc=1))
    await rows(hass, recorder_mock)
    hass.data.pop(DATA_STATISTICS)  # as after a restart: only the recorder knows what was imported
    # an overlapping window: 10:00 .. 14:00, +5 l then +20 l an hour
    await feed(hass, hub, profile_telegram(datetime(2024, 6, 1, 14, 0), 100_040, [20, 20, 5, 5], acc=2))
    found = await rows(hass, recorder_mock)
    assert found[-3:] == [(utc(11), 100.0, 0.03), (utc(12), 100.02, 0.05), (utc(13), 100.04, 0.07)]
    assert len(found) == 9


def test_a_falling_reading_adds_nothing() -> None:
    """Sums chain with the last stored row; a meter exchange (reading drops) is no negative hour."""
    last = profile_statistics.LastRow(utc(10), 100.0, 7.5)
    hours = [(utc(10), 100.0), (utc(11), 100.5), (utc(12), 0.25), (utc(13), 0.75)]
    assert profile_statistics.chain(last, hours) == [
        profile_statistics.LastRow(utc(11), 100.5, 8.0),
        profile_statistics.LastRow(utc(12), 0.25, 8.0),
        profile_statistics.LastRow(utc(13), 0.75, 8.5),
    ]
    assert profile_statistics.chain(None, hours[:2]) == [
        profile_statistics.LastRow(utc(10), 100.0, 0.0),
        profile_statistics.LastRow(utc(11), 100.5, 0.5),
    ]


def test_hour_buckets() -> None:
    """A reading on the hour closes the hour before; the newest, open hour is left out."""
    points = [(utc(8), 1.0), (utc(8, minute=30), 1.5), (utc(9), 2.0), (utc(9, minute=10), 2.5)]
    assert profile_statistics.hourly_states(points) == [(utc(7), 1.0), (utc(8), 2.0)]
    assert profile_statistics.hourly_states([]) == []


async def test_unresolved_or_non_cumulative_series_are_not_imported(
    recorder_mock: Recorder, hass: HomeAssistant, hub: OmsHub
) -> None:
    no_base_value = [
        enc.record(0x4, enc.vib(0x6D), enc.datetime_f(2024, 6, 1, 12, 0)),
        enc.profile_record(0x13, elements=[1, 2]),
    ]
    temperatures = [
        enc.record(0x4, enc.vib(0x6D), enc.datetime_f(2024, 6, 1, 12, 0)),
        enc.profile_record(0x5A, mode="absolute", elements=[215, 220]),
    ]
    for acc, records in enumerate((no_base_value, temperatures), start=1):
        await feed(hass, hub, enc.build(enc.TelegramSpec(records=records, meter=WATER, acc=acc)))
    await hass.async_block_till_done()
    await async_wait_recording_done(hass)
    ids = await recorder_mock.async_add_executor_job(lambda: get_metadata(hass))
    assert not [stat_id for stat_id in ids if stat_id.startswith("oms:")]


async def test_diagnostics_show_the_last_series(
    recorder_mock: Recorder, hass: HomeAssistant, hub: OmsHub
) -> None:
    await feed(hass, hub, profile_telegram(datetime(2024, 6, 1, 12, 0), 100_000, A_INCREMENTS, acc=1))
    await rows(hass, recorder_mock)
    data: dict[str, Any] = await async_get_config_entry_diagnostics(hass, hub.entry)
    meter = data["meters"][WATER.id]
    (series,) = meter["series"].values()
    assert (series["kind"], series["step"], series["unit"]) == ("inverse", "PT1H", "m³")
    assert series["base"] == {"time": "2024-06-01T12:00:00", "value": 100.0}
    assert series["points"][0] == {"time": "2024-06-01T11:00:00", "value": 99.995, "storage": None}
    assert meter["profile_statistics"] == {
        STAT_ID: {"last_hour": utc(11).isoformat(), "state": 100.0, "sum": 0.03, "rows_imported": 7}
    }


def test_statistic_ids_tell_profiles_apart() -> None:
    records = [
        enc.record(0x4, enc.vib(0x6D), enc.datetime_f(2024, 6, 1, 12, 0), tariff=2),
        enc.record(0x4, enc.vib(0x13, 0x3C), enc.int_bytes(5, 4), tariff=2),
        enc.profile_record(0x13, 0x3C, elements=[1], tariff=2),
    ]
    from custom_components.oms.omslib.apl import parse_apl

    record = parse_apl(enc.apl(records)).records[-1]
    assert record.series is not None
    assert profile_statistics.statistic_id("ABCD1234", record, record.series) == (
        "oms:abcd1234_volume_backward_flow_tariff_2"
    )


async def test_demo_load_profile_reaches_statistics(
    recorder_mock: Recorder, hass: HomeAssistant, write_capture: Callable[..., str]
) -> None:
    """The demo's electricity meter (15-minute profile, OMS Annex R style): its first two hours of
    telegrams give one row per complete hour, at the meter's own times, chained from its readings."""
    from custom_components.oms.const import CONF_KEY, CONF_METER_ID, SUBENTRY_METER
    from custom_components.oms.demo import CAPTURE, DEMO_KEYS
    from custom_components.oms.omslib.decoder import Decoder
    from custom_components.oms.omslib.keyring import Keyring
    from custom_components.oms.omslib.receivers.replay import parse_capture

    meter_id = "11893502"
    decoder = Decoder(Keyring(DEMO_KEYS))
    raws: list[bytes] = []
    readings: dict[datetime, float] = {}
    newest_base = datetime.min
    for entry in parse_capture(CAPTURE.read_text(encoding="utf-8")).entries:
        assert entry.at is not None
        if entry.at > 2 * 3600:
            break
        telegram = decoder.decode(entry.raw)
        if telegram.header.address.id != meter_id:
            continue
        raws.append(entry.raw)
        for record in telegram.records:
            if record.series is not None and record.series.base is not None:
                base = record.series.base
                for point in (base, *record.series.points):
                    assert point.time is not None
                    assert isinstance(point.value, float)
                    readings[datetime.fromisoformat(point.time)] = point.value
                assert base.time is not None
                newest_base = max(newest_base, datetime.fromisoformat(base.time))
    subentry = {
        "data": {CONF_METER_ID: meter_id, CONF_KEY: DEMO_KEYS[meter_id].hex()},
        "subentry_id": "sub_power",
        "subentry_type": SUBENTRY_METER,
        "title": "Electricity meter",
        "unique_id": meter_id,
    }
    await setup_entry(hass, make_entry(write_capture(*raws), [subentry]))
    got = await statistic_rows(
        hass, recorder_mock, f"oms:{meter_id}_energy", datetime(2025, 3, 1, tzinfo=UTC)
    )
    assert got, "no hourly statistics"
    # meter time 2025-03-14 is PDT (UTC-7) in the test instance's US/Pacific
    first = datetime(2025, 3, 14, 15, 0)  # the first window: 16:00 .. 18:00, hours 15:00 .. 17:00
    last = newest_base.replace(minute=0) - timedelta(hours=1)  # the newest hour with its end reading
    hours = [first + timedelta(hours=h) for h in range(int((last - first).total_seconds() // 3600) + 1)]
    assert [start for start, _, _ in got] == [h.replace(tzinfo=UTC) + LOCAL for h in hours]
    states = [readings[h + timedelta(hours=1)] for h in hours]
    assert [state for _, state, _ in got] == pytest.approx(states)
    sums = list(itertools.accumulate((max(0.0, b - a) for a, b in itertools.pairwise(states)), initial=0.0))
    assert [total for _, _, total in got] == pytest.approx(sums)
    assert sums[-1] > 0.5  # the evening's cooking shows up: real consumption, not a flat line
