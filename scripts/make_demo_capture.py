"""Generate ``custom_components/oms/demo/capture.txt``: a day in a household's meters.

The capture starts lively (every meter every 15-40 s for the first :data:`LIVELY` seconds,
so the demo shows updates at once), then runs on for 24 hours at the intervals of real OMS
meters (each every 2-5 minutes). Totals follow a daily profile: water mostly in the morning
and evening, heating with a night setback and a morning boost, electricity with base load,
cooking and appliances. The replay loops after :data:`DURATION` seconds.

Deterministic (fixed random seed): running it again gives the same file. The meters, their
IDs and keys are in ``custom_components/oms/demo/__init__.py``; telegrams are built with the
test encoder ``tests/encoder.py`` (mode 5, mode 7 with AFL CMAC, ELL, plaintext).

    .venv/bin/python scripts/make_demo_capture.py [--check]

``--check`` exits 1 when the file on disk differs from what the script would write.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
import math
from pathlib import Path
import random
import sys

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from custom_components.oms.demo import CAPTURE, METERS, DemoMeter  # noqa: E402
from tests.encoder import (  # noqa: E402
    Addr,
    TelegramSpec,
    add_crc_format_a,
    bcd_bytes,
    build,
    date_g,
    datetime_f,
    int_bytes,
    profile_record,
    record,
    vib,
)

LIVELY = 20 * 60
"""Seconds at the start in which every meter sends every 15-40 s."""
DURATION = LIVELY + 24 * 3600
"""Seconds of recorded time: the lively start, then a whole day at 2-5 minute intervals."""
LIVELY_GAP = (15.0, 40.0)
NORMAL_GAP = (120.0, 300.0)
"""Bounds of the interval after the lively start; each meter has its own nominal interval inside."""
START = datetime(2025, 3, 14, 18, 0, 0)
"""Wall-clock time the meters' clocks show at the start of the capture."""
BILLING = (2024, 12, 31)
SMOKE_ALARM = (5 * 60, 8 * 60)
"""Seconds of the capture in which the smoke detector alarms (status byte bits 1..0 = 11, then clear)."""
SEED = 20250314


# --------------------------------------------------------------------------- household physics


def hour_of_day(second: float) -> float:
    """Local time of day in hours (0..24) at ``second`` since the start."""
    return (START.hour + START.minute / 60 + second / 3600) % 24


def _daily(table: tuple[float, ...], second: float) -> float:
    """A 24-entry hourly table (value at the full hour), linearly interpolated."""
    hour = hour_of_day(second)
    index = int(hour)
    frac = hour - index
    return table[index] * (1 - frac) + table[(index + 1) % 24] * frac


# Water draws per hour: a flush at night, peaks when getting up and in the evening.
COLD_DRAWS = (
    0.3, 0.2, 0.2, 0.2, 0.3, 1, 6, 8, 5, 2, 1.5, 1.5,
    3, 2, 1.5, 1.5, 1.5, 3, 6, 7, 5, 4, 3, 1,
)  # fmt: skip
WARM_DRAWS = (
    0, 0, 0, 0, 0, 0.3, 2.5, 3, 2, 0.8, 0.5, 0.5,
    1.2, 1, 0.5, 0.5, 0.5, 1, 2.5, 3, 2.5, 1.5, 1, 0.2,
)  # fmt: skip
# Heating power (W) at the full hour: night setback, morning boost, mild afternoon.
HEAT_W = (
    1500, 1400, 1400, 1400, 1500, 4200, 5600, 5200, 4500, 3400, 3000, 2800,
    2600, 2500, 2500, 2700, 3200, 3600, 3900, 3900, 3800, 3400, 2200, 1700,
)  # fmt: skip
# Household base load (W): lights and TV in the evening, breakfast in the morning.
BASE_W = (
    190, 180, 180, 180, 180, 190, 380, 460, 330, 260, 250, 260,
    300, 260, 250, 250, 280, 360, 480, 560, 600, 560, 420, 260,
)  # fmt: skip


@dataclass
class Profile:
    """Per-second series of the household (index = second since the start)."""

    cold_lph: list[float] = field(default_factory=list)
    warm_lph: list[float] = field(default_factory=list)
    heat_w: list[float] = field(default_factory=list)
    flow_c: list[float] = field(default_factory=list)
    return_c: list[float] = field(default_factory=list)
    gas_lph: list[float] = field(default_factory=list)
    power_w: list[float] = field(default_factory=list)
    volts: list[float] = field(default_factory=list)


def _add(series: list[float], start: int, duration: int, value: float) -> None:
    for second in range(max(0, start), min(DURATION, start + duration)):
        series[second] += value


def _at(hour: float, minute: float = 0.0) -> int:
    """Second since the start of the first ``hour:minute`` after it."""
    offset = (hour + minute / 60 - hour_of_day(0)) % 24
    return round(offset * 3600)


def _draws(
    rng: random.Random,
    per_hour: tuple[float, ...],
    dur: tuple[int, int],
    rate: tuple[float, float],
    scale: float = 1.0,
) -> list[float]:
    """A series of rectangular draws (duration s, litres per hour) following an hourly table."""
    series = [0.0] * DURATION
    for hour_start in range(0, DURATION, 3600):
        expected = scale * _daily(per_hour, hour_start + 1800)
        count = int(expected) + (rng.random() < expected - int(expected))
        for _ in range(count):
            _add(series, hour_start + rng.randrange(3600), rng.randint(*dur), rng.uniform(*rate))
    return series


def household(rng: random.Random) -> Profile:
    p = Profile()
    # Cold water: taps and toilet flushes; warm water: washing up, hand washing.
    p.cold_lph = _draws(rng, COLD_DRAWS, (15, 80), (300, 600))
    p.warm_lph = _draws(rng, WARM_DRAWS, (20, 150), (200, 400))
    # Showers: two in the morning, one late in the evening; washing up right after dinner.
    for shower in (_at(6, 35), _at(7, 10), _at(21, 40)):
        begin = shower + rng.randrange(-300, 300)
        length = rng.randint(360, 600)
        _add(p.cold_lph, begin, length, 360.0)
        _add(p.warm_lph, begin, length, 420.0)
    _add(p.warm_lph, 240, 150, 380.0)  # the demo starts with someone filling the sink
    _add(p.cold_lph, 420, 45, 500.0)
    # Heating: the daily profile with slow swings; flow/return temperatures follow.
    phase = rng.uniform(0, math.tau)
    walk = 0.0
    volts = 231.0
    for second in range(DURATION):
        walk = max(-500.0, min(500.0, walk + rng.gauss(0, 5)))
        heat = _daily(HEAT_W, second) * (1 + 0.15 * math.sin(second / 1500 + phase)) + walk
        heat = max(500.0, heat)
        p.heat_w.append(heat)
        flow = 50.0 + heat / 300 + rng.gauss(0, 0.05)
        p.flow_c.append(flow)
        p.return_c.append(flow - 7.0 - heat / 700)
        volts = max(226.0, min(236.0, volts + rng.gauss(0, 0.05)))
        p.volts.append(volts)
    # Gas: a combi boiler for the warm water, the hob for cooking.
    hob = [0.0] * DURATION
    cooking = [
        (180, 2400, 260.0),
        (_at(7, 0), 900, 180.0),
        (_at(12, 20), 1800, 240.0),
        (_at(18, 0), 2700, 260.0),
    ]
    for begin, length, lph in cooking:
        _add(hob, begin + rng.randrange(0, 300), length, lph)
    p.gas_lph = [(900.0 if p.warm_lph[s] else 0.0) + hob[s] for s in range(DURATION)]
    # Electricity: daily base load, fridge cycles, the oven at dinner, kettle, washing machine, dishwasher.
    appliances = [0.0] * DURATION
    _add(appliances, 300, 2100, 1800.0)  # oven, first evening
    _add(appliances, _at(18, 10) + rng.randrange(300), 2100, 1800.0)  # oven, next evening
    for kettle in (120, _at(7, 5), _at(10, 30), _at(15, 45), _at(19, 30)):
        _add(appliances, kettle + rng.randrange(0, 600), rng.randint(120, 200), rng.uniform(2000, 2200))
    washer = _at(9, 30) + rng.randrange(900)
    _add(appliances, washer, 1200, 2000.0)
    _add(appliances, washer + 1200, 3600, 250.0)
    dishwasher = _at(21, 0) + rng.randrange(900)
    _add(appliances, dishwasher, 1500, 1900.0)
    _add(appliances, dishwasher + 1500, 2700, 120.0)
    for second in range(DURATION):
        watts = _daily(BASE_W, second) + (90.0 if (second // 900) % 2 else 0.0) + appliances[second]
        if appliances[second] >= 1800:
            watts += 200 * math.sin(second / 60)
        p.power_w.append(watts + rng.gauss(0, 8))
    return p


def _integral(series: list[float], per: float) -> list[float]:
    """Cumulative sum of a per-hour (per=3600) series, per second."""
    total, out = 0.0, []
    for value in series:
        total += value / per
        out.append(total)
    return out


# --------------------------------------------------------------------------- records per meter


def _clock(second: float) -> bytes:
    moment = START + timedelta(seconds=second)
    return datetime_f(moment.year, moment.month, moment.day, moment.hour, moment.minute)


def _billing_date() -> bytes:
    return date_g(*BILLING)


def _err(flags: int = 0) -> bytes:
    return record(0x1, vib(0x17, table=0xFD), int_bytes(flags, 1, signed=False))


RecordsFn = Callable[[int], list[bytes]]

PROFILE_QUARTERS = 8
"""Quarter hours in the electricity meter's load profile (2 hours: a gap that long loses nothing)."""


def _load_profile(second: int, energy: list[float], sent: set[datetime]) -> list[bytes]:
    """OMS Annex R style 15-minute load profile, in the first telegram after each quarter hour.

    Storage 2: the last full quarter hour (date/time), the register at that time, and an inverse
    compact profile (VIFE 13) of the consumption in each of the :data:`PROFILE_QUARTERS` quarter
    hours before it (1-byte increments of 10 Wh).
    """
    moment = START + timedelta(seconds=second)
    quarter = moment.replace(minute=moment.minute - moment.minute % 15, second=0, microsecond=0)
    if quarter in sent:
        return []
    sent.add(quarter)

    def register(at: datetime) -> int:
        index = max(0, second - round((moment - at).total_seconds()))
        return round(1_472_630 + energy[index])

    readings = [register(quarter - timedelta(minutes=15 * k)) for k in range(PROFILE_QUARTERS + 1)]
    increments = [readings[k] - readings[k + 1] for k in range(PROFILE_QUARTERS)]
    stamp = datetime_f(quarter.year, quarter.month, quarter.day, quarter.hour, quarter.minute)
    return [
        record(0x4, vib(0x6D), stamp, storage=2),
        record(0xC, vib(0x04), bcd_bytes(readings[0], 8), storage=2),
        profile_record(
            0x04,
            kind="inverse",
            mode="increment",
            unit="min",
            spacing=15,
            element_code=0x1,
            elements=increments,
            storage=2,
        ),
    ]


def _water(base_l: float, used: list[float], flow: list[float], billing_l: float) -> RecordsFn:
    def records(second: int) -> list[bytes]:
        return [
            record(0x4, vib(0x6D), _clock(second)),
            record(0xC, vib(0x13), bcd_bytes(round(base_l + used[second]), 8)),
            record(0x2, vib(0x3B), int_bytes(round(flow[second]), 2)),
            _err(),
            record(0x2, vib(0x6C), _billing_date(), storage=1),
            record(0xC, vib(0x13), bcd_bytes(round(billing_l), 8), storage=1),
        ]

    return records


def build_records(meter: DemoMeter, p: Profile, rng: random.Random) -> RecordsFn:
    kind = meter.meter_id
    cold = _integral(p.cold_lph, 3600)
    warm = _integral(p.warm_lph, 3600)
    if kind == "21436587":  # cold water
        return _water(123_456.0, cold, p.cold_lph, 118_902.0)
    if kind == "21436588":  # warm water: also the water temperature

        def warm_records(second: int) -> list[bytes]:
            temp = 51.5 if p.warm_lph[second] else 31.0 + 4 * math.sin(second / 900)
            return [
                *_water(48_207.0, warm, p.warm_lph, 46_390.0)(second)[:4],
                record(0x2, vib(0x59), int_bytes(round(temp * 100), 2)),
                record(0x2, vib(0x6C), _billing_date(), storage=1),
                record(0xC, vib(0x13), bcd_bytes(46_390, 8), storage=1),
            ]

        return warm_records
    if kind == "62000471":  # heat meter
        energy = _integral(p.heat_w, 3600 * 100)  # 100 Wh units
        flow_lph = [w / (1.163 * (f - r)) for w, f, r in zip(p.heat_w, p.flow_c, p.return_c, strict=True)]
        volume = _integral(flow_lph, 3600 * 10)  # 10 l units

        def heat_records(second: int) -> list[bytes]:
            return [
                record(0x4, vib(0x6D), _clock(second)),
                record(0xC, vib(0x05), bcd_bytes(round(128_734 + energy[second]), 8)),
                record(0xC, vib(0x14), bcd_bytes(round(21_873 + volume[second]), 8)),
                record(0x4, vib(0x2B), int_bytes(round(p.heat_w[second]), 4)),
                record(0x2, vib(0x3B), int_bytes(round(flow_lph[second]), 2)),
                record(0x2, vib(0x59), int_bytes(round(p.flow_c[second] * 100), 2)),
                record(0x2, vib(0x5D), int_bytes(round(p.return_c[second] * 100), 2)),
                _err(),
                record(0x2, vib(0x6C), _billing_date(), storage=1),
                record(0xC, vib(0x05), bcd_bytes(121_560, 8), storage=1),
            ]

        return heat_records
    if kind == "03170524":  # gas
        gas = _integral(p.gas_lph, 3600)
        return lambda second: [
            record(0x4, vib(0x6D), _clock(second)),
            record(0xC, vib(0x13), bcd_bytes(round(4_318_250 + gas[second]), 8)),
            _err(),
            record(0x2, vib(0x6C), _billing_date(), storage=1),
            record(0xC, vib(0x13), bcd_bytes(4_102_600, 8), storage=1),
        ]
    if meter.device_type == 0x08:  # heat cost allocators: a few units per hour while the radiator is hot
        start_units = rng.randint(300, 900)
        per_hour = rng.uniform(2.0, 5.0)
        billing = rng.randint(2000, 4000)
        units_used = _integral([per_hour * w / 3500 for w in p.heat_w], 3600)

        def hca_records(second: int) -> list[bytes]:
            units = start_units + int(units_used[second])
            return [
                record(0x4, vib(0x6D), _clock(second)),
                record(0xB, vib(0x6E), bcd_bytes(units, 6)),
                _err(),
                record(0x2, vib(0x6C), _billing_date(), storage=1),
                record(0xB, vib(0x6E), bcd_bytes(billing, 6), storage=1),
            ]

        return hca_records
    if meter.device_type == 0x1A:  # smoke detector: status, operating days, last test
        return lambda second: [
            record(0x4, vib(0x6D), _clock(second)),
            _err(),
            record(0x4, vib(0x27), int_bytes(1_187, 4)),
            record(0x2, vib(0x6C), date_g(2025, 2, 3), storage=1),
        ]
    if meter.device_type == 0x02:  # electricity
        energy = _integral(p.power_w, 3600 * 10)  # 10 Wh units
        sent: set[datetime] = set()

        def power_records(second: int) -> list[bytes]:
            amps = p.power_w[second] / p.volts[second]
            return [
                record(0x4, vib(0x6D), _clock(second)),
                record(0xC, vib(0x04), bcd_bytes(round(1_472_630 + energy[second]), 8)),
                record(0x4, vib(0x2B), int_bytes(round(p.power_w[second]), 4)),
                record(0x2, vib(0x48, table=0xFD), int_bytes(round(p.volts[second] * 10), 2)),
                record(0x2, vib(0x59, table=0xFD), int_bytes(round(amps * 1000), 2)),
                record(0x2, vib(0x6C), _billing_date(), storage=1),
                record(0xC, vib(0x04), bcd_bytes(1_391_004, 8), storage=1),
                *_load_profile(second, energy, sent),
            ]

        return power_records
    # neighbours: their own random water use
    if meter.device_type in (0x06, 0x07):
        flow = _draws(rng, COLD_DRAWS, (15, 120), (250, 600), scale=0.7)
        return _water(rng.randint(20_000, 400_000), _integral(flow, 3600), flow, 10_000.0)
    raise ValueError(f"no demo model for {meter}")


# --------------------------------------------------------------------------- telegrams


@dataclass
class Radio:
    """How one meter is heard: signal, security counters, times."""

    meter: DemoMeter
    records: RecordsFn
    rssi: float
    acc: int
    mcr: int = 0
    times: list[float] = field(default_factory=list)


RSSI = {"21436587": -68, "21436588": -71, "62000471": -64, "03170524": -77, "78100231": -58}
RSSI |= {"78100232": -74, "45009120": -62, "11893502": -55}
RSSI |= {"31415926": -97, "27182818": -101, "16180339": -94}
INTERVAL = {"21436587": 240, "21436588": 240, "62000471": 180, "03170524": 285, "78100231": 270}
INTERVAL |= {"78100232": 270, "45009120": 285, "11893502": 150}
INTERVAL |= {"31415926": 280, "27182818": 280, "16180339": 280}
"""Nominal seconds between telegrams after the lively start (real meters: 2-5 minutes, with jitter)."""


def telegram(radio: Radio, second: int) -> bytes:
    meter = radio.meter
    address = Addr(meter.manufacturer, meter.meter_id, version=0x1B, device_type=meter.device_type)
    alarm = meter.device_type == 0x1A and SMOKE_ALARM[0] <= second < SMOKE_ALARM[1]
    status = 0x03 if alarm else 0x00  # EN 13757-7 status byte: application state "alarm"
    spec = TelegramSpec(records=radio.records(second), meter=address, acc=radio.acc & 0xFF, status=status)
    if meter.key is None:
        return add_crc_format_a(build(spec))  # neighbours' frames keep their DLL block CRCs
    spec.key = bytes.fromhex(meter.key)
    if meter.device_type == 0x04:
        spec.mode, spec.mcr = 7, radio.mcr
    else:
        spec.mode = 5
    if meter.device_type == 0x02:
        spec.ell_ci, spec.ell_cc = 0x8C, 0x20  # ELL without encryption in front of the TPL
    return build(spec)


def generate() -> str:
    rng = random.Random(SEED)
    profile = household(rng)
    radios: list[Radio] = []
    for meter in METERS:
        radios.append(
            Radio(meter, build_records(meter, profile, rng), RSSI[meter.meter_id], rng.randrange(256))
        )
    events: list[tuple[float, Radio]] = []
    for index, radio in enumerate(radios):
        radio.mcr = rng.randint(1000, 5000)
        at = round(1.0 + index * 1.1 + rng.uniform(0, 0.8), 1)  # every meter is heard in the first seconds
        while at < DURATION:
            events.append((at, radio))
            if at < LIVELY:
                at = round(at + rng.uniform(*LIVELY_GAP), 1)
            else:  # whole seconds from here on: shorter lines
                nominal = INTERVAL[radio.meter.meter_id]
                gap = min(NORMAL_GAP[1], max(NORMAL_GAP[0], nominal * rng.uniform(0.92, 1.08)))
                at = float(math.floor(at + gap))
    events.sort(key=lambda item: item[0])
    lines = [
        "# OMS demo capture: a household (8 meters, AES keys in custom_components/oms/demo/__init__.py)",
        "# and 3 unencrypted neighbours. Generated by scripts/make_demo_capture.py; do not edit.",
        f"# {DURATION / 3600:.2f} hours recorded from {START.isoformat(sep=' ')}, then the replay loops.",
        f"# Every meter every 15-40 s for the first {LIVELY // 60} minutes, then every 2-5 minutes.",
        "# Lines: +seconds hex;rssi (format: custom_components/oms/omslib/receivers/replay.py).",
    ]
    for at, radio in events:
        raw = telegram(radio, int(at))
        radio.acc += 1
        radio.mcr += 1
        rssi = round(radio.rssi + rng.gauss(0, 2.0))
        lines.append(f"+{at:.1f}".removesuffix(".0") + f" {raw.hex().upper()};{rssi}")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when the file is out of date")
    args = parser.parse_args()
    text = generate()
    if args.check:
        current = CAPTURE.read_text(encoding="utf-8") if CAPTURE.exists() else ""
        if current != text:
            print(f"{CAPTURE} is out of date: run scripts/make_demo_capture.py", file=sys.stderr)
            return 1
        return 0
    CAPTURE.write_text(text, encoding="utf-8")
    telegrams = sum(1 for line in text.splitlines() if line[:1] == "+")
    print(f"{CAPTURE}: {telegrams} telegrams, {len(text.encode()) // 1024} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
