"""The bundled demo capture decodes with the demo keys and tells a plausible story."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from functools import cache
import itertools
import re

import pytest

from custom_components.oms.demo import CAPTURE, DEMO_KEYS, HOUSEHOLD, METERS, NEIGHBOURS
from custom_components.oms.omslib.afl import AFL_CI, parse_afl
from custom_components.oms.omslib.decoder import Decoder
from custom_components.oms.omslib.keyring import Keyring
from custom_components.oms.omslib.receivers.replay import parse_capture
from custom_components.oms.omslib.telegram import Telegram

TOTALS = frozenset({"volume", "energy", "hca_units"})
LIVELY = 20 * 60
"""Seconds at the start in which every meter sends every 15-40 s."""
DAY = 24 * 3600
LINE = re.compile(r"\+\d+(\.\d)? [0-9A-F]+;-\d+")
"""Short lines: time with at most one decimal, hex, bare RSSI."""


@cache
def _decoded() -> list[tuple[float, float | None, Telegram]]:
    capture = parse_capture(CAPTURE.read_text(encoding="utf-8"))
    assert capture.skipped == []
    decoder = Decoder(Keyring(DEMO_KEYS))
    out = []
    for entry in capture.entries:
        assert entry.at is not None
        out.append((entry.at, entry.rssi_dbm, decoder.decode(entry.raw)))
    return out


def _clock(telegram: Telegram) -> datetime:
    """The meter's own date/time record."""
    value = next(r.value for r in telegram.records if r.quantity == "date_time" and not r.storage)
    assert isinstance(value, str)
    return datetime.fromisoformat(value)


def _total(telegram: Telegram, key: str) -> float:
    value = next(r.value for r in telegram.records if r.key == key and not r.storage)
    assert isinstance(value, int | float)
    return value


def test_capture_size_span_and_short_lines() -> None:
    assert CAPTURE.stat().st_size < 600_000
    decoded = _decoded()
    assert decoded[-1][0] - decoded[0][0] >= DAY
    assert [at for at, _, _ in decoded] == sorted(at for at, _, _ in decoded)
    lines = [line for line in CAPTURE.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
    assert len(lines) == len(decoded)
    for line in lines:
        assert LINE.fullmatch(line), line


def test_every_line_decodes_and_decrypts() -> None:
    by_id = {m.meter_id: m for m in METERS}
    seen = set()
    for _, rssi, telegram in _decoded():
        meter = by_id[telegram.header.address.id]
        seen.add(meter.meter_id)
        assert telegram.header.address.device_type == meter.device_type
        assert telegram.header.address.manufacturer == meter.manufacturer
        assert telegram.header.encrypted == (meter.key is not None)
        if meter.key is not None:
            assert telegram.decrypted
        assert telegram.records
        assert rssi is not None
        if meter in NEIGHBOURS:
            assert rssi < -85
    assert seen == set(by_id)


def test_heat_meter_is_mode7_authenticated_with_rising_counter() -> None:
    heat = [t for _, _, t in _decoded() if t.header.address.device_type == 0x04]
    assert len(heat) > 400
    assert all(t.header.security_mode == 7 and t.authenticated for t in heat)
    raws = [e.raw for e in parse_capture(CAPTURE.read_text(encoding="utf-8")).entries if e.raw[9] == 0x04]
    assert all(raw[10] == AFL_CI for raw in raws)
    counters = [parse_afl(raw, 10).counter for raw in raws]
    assert all(isinstance(c, int) for c in counters)
    assert counters == list(range(counters[0], counters[0] + len(counters)))


def test_totals_never_go_backwards_and_rise_over_the_day() -> None:
    last: dict[tuple[str, str], float] = {}
    first: dict[tuple[str, str], float] = {}
    for _, _, telegram in _decoded():
        meter_id = telegram.header.address.id
        for record in telegram.records:
            if record.quantity in TOTALS and not record.storage:
                assert isinstance(record.value, int | float)
                key = (meter_id, record.key)
                assert record.value >= last.get(key, record.value), key
                last[key] = record.value
                first.setdefault(key, record.value)
    totals = {meter_id for meter_id, _ in last}
    assert totals == {m.meter_id for m in METERS if m.device_type != 0x1A}
    for key, value in last.items():
        assert value > first[key], key


def test_meters_report_lively_at_first_then_every_2_to_5_minutes() -> None:
    times: dict[str, list[float]] = defaultdict(list)
    for at, _, telegram in _decoded():
        times[telegram.header.address.id].append(at)
    assert set(times) == {m.meter_id for m in METERS}
    for meter_id, stamps in times.items():
        assert stamps[0] < 15, meter_id
        assert stamps[-1] >= DAY, meter_id
        gaps = list(itertools.pairwise(stamps))
        assert all(14.9 <= b - a <= 300.1 for a, b in gaps), meter_id
        lively = [b - a for a, b in gaps if b < LIVELY]
        assert len(lively) >= 25, meter_id
        assert max(lively) <= 40.1, meter_id
        later = [b - a for a, b in gaps if a >= LIVELY]
        assert min(later) >= 119.9, meter_id
        assert len(later) >= DAY // 300, meter_id


def _use_by_hour(meter_id: str, key: str) -> list[float]:
    """How much a total rose in each hour of the meter's clock."""
    readings = [(_clock(t), _total(t, key)) for _, _, t in _decoded() if t.header.address.id == meter_id]
    hours = [0.0] * 24
    for (_, before), (clock, after) in itertools.pairwise(readings):
        hours[clock.hour] += after - before
    return hours


def test_daily_profiles() -> None:
    water = _use_by_hour("21436587", "0C13")
    assert 0.3 < sum(water) < 1.0  # m³ per day
    assert sum(water[6:10]) + sum(water[17:23]) > 0.6 * sum(water)
    assert sum(water[0:5]) < 0.05 * sum(water)
    warm = _use_by_hour("21436588", "0C13")
    assert sum(warm[6:10]) + sum(warm[17:23]) > 0.6 * sum(warm)
    heat = _use_by_hour("62000471", "0C05")
    assert 40 < sum(heat) < 120  # kWh per day
    assert max(heat[0:4]) < min(heat[6:9])  # night setback, morning boost
    power = _use_by_hour("11893502", "0C04")
    assert 5 < sum(power) < 20  # kWh per day
    assert max(power[0:5]) < sum(power[18:22]) / 4


@pytest.mark.parametrize(
    ("meter_id", "quantity", "unit"),
    [
        ("21436587", "volume", "m³"),
        ("21436588", "flow_temperature", "°C"),
        ("62000471", "energy", "kWh"),
        ("62000471", "return_temperature", "°C"),
        ("62000471", "volume_flow", "m³/h"),
        ("03170524", "volume", "m³"),
        ("78100231", "hca_units", None),
        ("45009120", "error_flags", None),
        ("11893502", "energy", "kWh"),
        ("11893502", "power", "kW"),
        ("11893502", "voltage", "V"),
    ],
)
def test_household_records(meter_id: str, quantity: str, unit: str | None) -> None:
    telegram = next(t for _, _, t in _decoded() if t.header.address.id == meter_id)
    records = [r for r in telegram.records if r.quantity == quantity and not r.storage]
    assert records, [r.quantity for r in telegram.records]
    assert records[0].unit == unit
    assert any(r.storage == 1 for r in telegram.records) or meter_id == "45009120"


def test_energy_records_named_in_the_demo_module_exist() -> None:
    for meter in HOUSEHOLD:
        if meter.energy is None:
            continue
        telegram = next(t for _, _, t in _decoded() if t.header.address.id == meter.meter_id)
        assert meter.energy[1] in {r.key for r in telegram.records}


def test_smoke_alarm_goes_on_and_off() -> None:
    """Issue 15 item 4: the smoke detector alarms (status "alarm") for a few minutes, then clears."""
    states = [
        (at, telegram.header.status.application if telegram.header.status else None)
        for at, _, telegram in _decoded()
        if telegram.header.address.id == "45009120"
    ]
    alarm = [at for at, state in states if state == "alarm"]
    assert len(alarm) >= 3
    assert states[0][1] == "ok"
    assert any(state == "ok" and at > max(alarm) for at, state in states)
    assert all(state in ("ok", "alarm") for _, state in states)
    others = {
        telegram.header.status.application
        for _, _, telegram in _decoded()
        if telegram.header.status and telegram.header.address.id != "45009120"
    }
    assert others == {"ok"}


def test_electricity_meter_sends_a_quarter_hour_load_profile() -> None:
    """Issue 12: the electricity meter sends a 15-minute compact profile (OMS Annex R style) in its
    first telegram of each quarter hour; consecutive windows agree where they overlap."""
    seen: dict[str | None, float | int | None] = {}
    quarters: list[str] = []
    for _, _, telegram in _decoded():
        if telegram.header.address.id != "11893502":
            continue
        profiles = [r for r in telegram.records if r.series is not None]
        if not profiles:
            continue
        (profile,) = profiles
        series = profile.series
        assert series is not None
        assert (series.kind, series.step, series.unit, series.reason) == ("inverse", "PT15M", "kWh", None)
        assert len(series.points) == 8
        base = series.base
        assert base is not None
        assert base.time is not None
        assert isinstance(base.value, float)
        assert base.value <= _total(telegram, "0C04")
        quarters.append(base.time)
        for point in (base, *series.points):
            assert seen.setdefault(point.time, point.value) == point.value
    assert len(quarters) >= 24 * 4
    assert quarters == sorted(set(quarters))
    assert all(datetime.fromisoformat(q).minute % 15 == 0 for q in quarters)
