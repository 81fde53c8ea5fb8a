"""Compact profiles (EN 13757-3:2018 Annex F): known answers, rules, round trips through tests/encoder.py."""

from __future__ import annotations

from calendar import monthrange
from dataclasses import dataclass
from datetime import datetime, timedelta
import json

from hypothesis import given, settings, strategies as st
import pytest

from custom_components.oms.omslib.apl import parse_apl
from custom_components.oms.omslib.decoder import Decoder
from custom_components.oms.omslib.profile import (
    add_months,
    describe_control,
    parse_profile,
    resolve_profiles,
    shift,
)
from custom_components.oms.omslib.record import Record, Series, SeriesPoint
from tests import encoder as enc


def _profile(apl_hex: str) -> tuple[Record, Series]:
    records = parse_apl(bytes.fromhex(apl_hex.replace(" ", ""))).records
    profiles = [r for r in records if r.series is not None]
    assert len(profiles) == 1
    series = profiles[0].series
    assert series is not None
    return profiles[0], series


# --------------------------------------------------------------------------- known answers (issue 12)


@pytest.mark.parametrize(
    ("apl_hex", "kind", "readings"),
    [
        pytest.param(
            "84046D00204111 8B0415003012 8D04951F056901030211",
            "forward",
            [("00", 12300.0), ("01", 12300.3), ("02", 12300.5), ("03", 12301.6)],
            id="F.2.7-forward",
        ),
        pytest.param(
            "84046D00234111 8B0415163012 8D049513056901110203",
            "inverse",
            [("03", 12301.6), ("02", 12300.5), ("01", 12300.3), ("00", 12300.0)],
            id="F.2.8-inverse",
        ),
    ],
)
def test_known_answer_hourly_profile(apl_hex: str, kind: str, readings: list[tuple[str, float]]) -> None:
    """EN 13757-3 F.2.7 (hourly increments after the base, accumulated forward) and F.2.8 (youngest
    first, older = younger − increment); ``readings`` are (hour of 2010-01-01, m³), the base first."""
    record, series = _profile(apl_hex)
    assert record.storage == 8
    assert record.value == bytes.fromhex(apl_hex[-10:])  # the raw profile stays the record's value
    assert (series.kind, series.mode, series.step, series.quantity, series.unit) == (
        kind,
        "increment",
        "PT1H",
        "volume",
        "m³",
    )
    assert series.reason is None
    expected = [SeriesPoint(f"2010-01-01T{hour}:00:00", value) for hour, value in readings]
    assert series.base == expected[0]
    assert series.points == tuple(expected[1:])


def test_known_answer_annex_g_whole_telegram() -> None:
    """OMS Vol2 Annex G tables G.6/G.7: monthly inverse profile, month ends kept (leap year)."""
    raw = bytes.fromhex("264424340102030401077a010000200C1313100000026C1F150D93130A7AFE5802320314024401")
    telegram = Decoder().decode(raw)
    (profile,) = [r for r in telegram.records if r.series is not None]
    series = profile.series
    assert series is not None
    assert (series.step, series.unit, series.reason) == ("P1M", "m³", None)
    assert series.base == SeriesPoint("2008-05-31", 1.013)
    assert [(p.time, p.value) for p in series.points] == [
        ("2008-04-30", 0.755),
        ("2008-03-31", 0.423),
        ("2008-02-29", 0.209),
        ("2008-01-31", 0.065),
    ]


# --------------------------------------------------------------------------- rules


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (datetime(2008, 5, 31), -1, datetime(2008, 4, 30)),
        (datetime(2008, 5, 31), -3, datetime(2008, 2, 29)),
        (datetime(2008, 1, 31), 1, datetime(2008, 2, 29)),
        (datetime(2009, 1, 31), 1, datetime(2009, 2, 28)),
        (datetime(2009, 2, 28), 1, datetime(2009, 3, 31)),  # an end stays an end
        (datetime(2008, 1, 30, 12), 1, datetime(2008, 2, 29, 12)),  # clamped
        (datetime(2008, 1, 30), 2, datetime(2008, 3, 30)),  # from the base, not step by step
        (datetime(2008, 12, 15), 1, datetime(2009, 1, 15)),
        (datetime(2008, 1, 15), -1, datetime(2007, 12, 15)),
    ],
)
def test_month_arithmetic_keeps_month_ends(start: datetime, months: int, expected: datetime) -> None:
    assert add_months(start, months) == expected


@pytest.mark.parametrize(
    ("start", "steps", "expected"),
    [
        (datetime(2024, 5, 31), -1, datetime(2024, 5, 15)),
        (datetime(2024, 5, 31), -2, datetime(2024, 4, 30)),
        (datetime(2024, 5, 31), -3, datetime(2024, 4, 15)),
        (datetime(2024, 1, 31), 1, datetime(2024, 2, 15)),
        (datetime(2024, 2, 15), 1, datetime(2024, 2, 29)),
        (datetime(2024, 5, 15), -1, datetime(2024, 4, 30)),
        (datetime(2024, 5, 1), 1, datetime(2024, 5, 16)),
        (datetime(2024, 5, 20), 1, datetime(2024, 6, 5)),
    ],
)
def test_half_month_steps(start: datetime, steps: int, expected: datetime) -> None:
    assert shift(start, "half_month", 1, steps) == expected


@pytest.mark.parametrize(
    ("control", "spacing", "message"),
    [
        (0x69, 251, "reserved"),
        (0x69, 252, "reserved"),
        (0x69, 255, "reserved"),
        (0x49, 254, "reserved"),  # 254 with unit seconds
        (0x69, 253, "reserved"),  # half month only with unit 11
        (0x60, 1, "not a fixed size"),
        (0x68, 1, "not a fixed size"),
        (0x6D, 1, "not a fixed size"),
        (0x6F, 1, "not a fixed size"),
    ],
)
def test_reserved_codings_are_malformed(control: int, spacing: int, message: str) -> None:
    apl = "84046D00204111 8B0415003012 8D04951F04" + f"{control:02X}{spacing:02X}0102"
    _, series = _profile(apl)
    assert series.reason == "malformed"
    assert message in series.detail
    assert series.points == ()
    assert "reserved" in describe_control(control, spacing) or "invalid" in describe_control(control, spacing)


def test_elements_not_a_multiple_of_the_size_are_malformed() -> None:
    _, series = _profile("8B0415003012 8D04951F056A01030211")  # 2-byte elements, 3 bytes
    assert series.reason == "malformed"


@pytest.mark.parametrize(
    ("control", "spacing", "step"), [(0x7A, 254, "P1M"), (0x6A, 254, "P3M"), (0x5A, 254, "P6M")]
)
def test_spacing_254_means_months_by_unit(control: int, spacing: int, step: str) -> None:
    assert parse_profile("forward", bytes([control, spacing])).step == step


def test_describe_control_for_explain() -> None:
    assert (
        describe_control(0x69, 1)
        == "control 0x69: increment, unit hours, elements 1-byte BCD; spacing 1 = every PT1H"
    )
    assert describe_control(0x7A, 253).endswith("spacing 253 = every P0.5M")
    assert describe_control(0x02, 0).endswith("no time spacing")


def test_illegal_code_ends_the_series() -> None:
    records = [
        enc.record(0x4, enc.vib(0x6D), enc.datetime_f(2024, 3, 1, 0, 0)),
        enc.record(0x4, enc.vib(0x13), enc.int_bytes(1000, 4)),
        enc.profile_record(0x13, element_code=0x2, elements=[5, None, 7]),
    ]
    _, series = _profile(enc.apl(records).hex())
    assert series.points == (SeriesPoint("2024-03-01T01:00:00", 1.005),)
    assert series.reason is None


def test_signed_illegal_code_ends_absolute_series() -> None:
    records = [
        enc.record(0x4, enc.vib(0x6D), enc.datetime_f(2024, 3, 1, 0, 0)),
        enc.profile_record(0x5A, mode="absolute", element_code=0x2, elements=[-5, 215, None, 3]),
    ]
    _, series = _profile(enc.apl(records).hex())
    assert series.quantity == "flow_temperature"
    assert [(p.time, p.value) for p in series.points] == [
        ("2024-03-01T01:00:00", -0.5),
        ("2024-03-01T02:00:00", 21.5),
    ]


def test_increments_without_base_value_are_unresolved_not_guessed() -> None:
    records = [
        enc.record(0x4, enc.vib(0x6D), enc.datetime_f(2024, 3, 1, 0, 0)),
        enc.record(0x4, enc.vib(0x13), enc.int_bytes(1000, 4), tariff=1),  # another tariff: not the base
        enc.profile_record(0x13, elements=[1, 2]),
    ]
    _, series = _profile(enc.apl(records).hex())
    assert series.reason == "no_base_value"
    assert [p.value for p in series.points] == [None, None]
    assert [p.time for p in series.points] == ["2024-03-01T01:00:00", "2024-03-01T02:00:00"]


def test_absolute_values_without_base_time() -> None:
    records = [enc.profile_record(0x13, mode="absolute", element_code=0x4, elements=[100, 200])]
    _, series = _profile(enc.apl(records).hex())
    assert series.reason == "no_base_time"
    assert series.points == (SeriesPoint(None, 0.1), SeriesPoint(None, 0.2))
    assert series.base is None


def test_base_time_of_another_storage_is_not_used() -> None:
    records = [
        enc.record(0x4, enc.vib(0x6D), enc.datetime_f(2024, 3, 1, 0, 0), storage=1),
        enc.record(0x4, enc.vib(0x13), enc.int_bytes(1000, 4)),
        enc.profile_record(0x13, elements=[1]),
    ]
    _, series = _profile(enc.apl(records).hex())
    assert series.reason == "no_base_time"
    assert series.points == (SeriesPoint(None, 1.001),)


def test_array_without_time_spacing() -> None:
    records = [
        enc.record(0x4, enc.vib(0x6D), enc.datetime_f(2024, 3, 1, 0, 0)),
        enc.record(0x4, enc.vib(0x13), enc.int_bytes(1000, 4)),
        enc.profile_record(0x13, spacing=0, elements=[1, 2]),
    ]
    _, series = _profile(enc.apl(records).hex())
    assert series.step is None
    assert series.reason is None
    assert series.points == (SeriesPoint(None, 1.001), SeriesPoint(None, 1.003))


def test_register_profile_numbers_storages() -> None:
    records = [
        enc.record(0x2, enc.vib(0x6C), enc.date_g(2024, 5, 31), storage=4),
        enc.record(0x4, enc.vib(0x06), enc.int_bytes(5000, 4), storage=4),
        enc.profile_record(
            0x06, kind="register", mode="increment", unit="d", spacing=254, elements=[10, 20], storage=4
        ),
    ]
    _, series = _profile(enc.apl(records).hex())
    assert series.kind == "register"
    assert series.unit == "kWh"
    assert series.base == SeriesPoint("2024-05-31", 5000, 4)
    assert series.points == (SeriesPoint("2024-06-30", 5010, 5), SeriesPoint("2024-07-31", 5030, 6))


def test_date_and_time_records_combine_into_the_base_time() -> None:
    records = [
        enc.record(0x2, enc.vib(0x6C), enc.date_g(2024, 5, 31)),
        enc.record(0x3, enc.vib(0x6D), enc.time_j(23, 45, 0)),
        enc.record(0x4, enc.vib(0x13), enc.int_bytes(1000, 4)),
        enc.profile_record(0x13, unit="min", spacing=15, elements=[4]),
    ]
    _, series = _profile(enc.apl(records).hex())
    assert series.points == (SeriesPoint("2024-06-01T00:00:00", 1.004),)


def test_profile_vife_on_a_fixed_data_field() -> None:
    """Annex F profiles have DIF data field D; a fixed-size field with a profile VIFE stays raw bytes,
    and resolving it explicitly says why it is no series."""
    records = [enc.record(0x4, enc.vib(0x13, 0x1F), bytes([0x69, 0x01, 0x01, 0x02]))]
    parsed = list(parse_apl(enc.apl(records)).records)
    assert parsed[0].value == bytes([0x69, 0x01, 0x01, 0x02])
    assert parsed[0].series is None  # the parse resolves LVAR records only
    resolve_profiles(parsed)
    series = parsed[0].series
    assert series is not None
    assert series.reason == "malformed"
    assert "data field D" in series.detail


def test_cached_records_stay_shared_and_unresolved() -> None:
    """The base value record is cached by its bytes; two telegrams with different profiles share it."""
    base = enc.record(0x4, enc.vib(0x13), enc.int_bytes(1000, 4))
    when = enc.record(0x4, enc.vib(0x6D), enc.datetime_f(2024, 3, 1, 0, 0))
    first = parse_apl(enc.apl([when, base, enc.profile_record(0x13, elements=[1])]))
    second = parse_apl(enc.apl([when, base, enc.profile_record(0x13, elements=[2])]))
    assert first.records[1] is second.records[1]
    assert first.records[1].series is None
    s1, s2 = first.records[2].series, second.records[2].series
    assert s1 is not None
    assert s2 is not None
    assert (s1.points[0].value, s2.points[0].value) == (1.001, 1.002)


# --------------------------------------------------------------------------- round trips


def _month_end(year: int, month: int) -> int:
    return monthrange(year, month)[1]


def _months_later(when: datetime, months: int) -> datetime:
    """Independent statement of the month rule: month ends stay month ends, other days clamp."""
    total = when.year * 12 + (when.month - 1) + months
    year, month0 = divmod(total, 12)
    last = _month_end(year, month0 + 1)
    day = last if when.day == _month_end(when.year, when.month) else min(when.day, last)
    return when.replace(year=year, month=month0 + 1, day=day)


def _half_months_later(when: datetime, steps: int) -> datetime:
    """Half-month grid (the 15th and the month end) for a base on that grid."""
    at = when
    for _ in range(abs(steps)):
        end = _month_end(at.year, at.month)
        if steps > 0:
            at = at.replace(day=end) if at.day == 15 else _months_later(at.replace(day=15), 1)
        elif at.day == end:
            at = at.replace(day=15)
        else:
            before = _months_later(at, -1)
            at = before.replace(day=_month_end(before.year, before.month))
    return at


def _expected_time(base: datetime, unit: str, spacing: int, steps: int) -> datetime:
    if spacing == 254:
        return _months_later(base, {"d": 1, "h": 3, "min": 6}[unit] * steps)
    if spacing == 253:
        return _half_months_later(base, steps)
    seconds = {"s": 1, "min": 60, "h": 3600, "d": 86400}[unit]
    return base + timedelta(seconds=seconds * spacing * steps)


_SIGNED_MAX = {1: 127, 2: 32767, 3: 8388607, 4: 2**31 - 1, 6: 2**47 - 1, 8: 2**63 - 1}


def _element_strategy(code: int, signed: bool) -> st.SearchStrategy[int]:
    size = enc.PROFILE_ELEMENT_BYTES[code]
    if code == 5:  # real32: integers it holds exactly
        return st.integers(-(2**20) if signed else 0, 2**20)
    if code in enc.BCD_DIGITS:
        digits = 2 * size
        return st.integers(-(10 ** (digits - 1) - 1) if signed else 0, 10**digits - 1)
    if signed:
        top = _SIGNED_MAX[size]
        return st.integers(-top, top)  # -top-1 is the illegal code
    return st.integers(0, 2 ** (8 * size) - 2)  # all ones is the illegal code


_VIFS = [(0x13, 1000, "volume", "m³"), (0x06, 1, "energy", "kWh")]
"""(VIF, divisor, quantity, unit) of the base and profile records."""


@st.composite
def _profiles(draw: st.DrawFn) -> Case:
    kind = draw(st.sampled_from(["forward", "inverse", "register"]))
    mode = draw(st.sampled_from(["absolute", "increment", "decrement", "difference"]))
    unit = draw(st.sampled_from(["s", "min", "h", "d"]))
    spacing = draw(
        st.one_of(st.integers(1, 250), st.just(0), st.just(254) if unit != "s" else st.just(0))
        if unit != "d"
        else st.one_of(st.integers(1, 250), st.sampled_from([0, 253, 254]))
    )
    code = draw(st.sampled_from(sorted(enc.PROFILE_ELEMENT_BYTES)))
    signed = mode in ("absolute", "difference")
    count = draw(st.integers(0, min(8, 160 // enc.PROFILE_ELEMENT_BYTES[code])))
    elements = draw(st.lists(_element_strategy(code, signed), min_size=count, max_size=count))
    year = draw(st.integers(2001, 2079))
    month = draw(st.integers(1, 12))
    if spacing == 253:
        day = draw(st.sampled_from([15, _month_end(year, month)]))
    else:
        day = draw(st.integers(1, _month_end(year, month)))
    base = datetime(year, month, day, draw(st.integers(0, 23)), draw(st.integers(0, 59)), 0)
    return Case(
        kind,
        mode,
        unit,
        spacing,
        code,
        elements,
        base,
        draw(st.integers(0, 10**8 - 1)),
        draw(st.integers(0, 5)),
        draw(st.integers(0, 2)),
        draw(st.sampled_from(_VIFS)),
    )


@dataclass
class Case:
    kind: str
    mode: str
    unit: str
    spacing: int
    code: int
    elements: list[int]
    base: datetime
    base_raw: int
    storage: int
    tariff: int
    vif: tuple[int, int, str, str]


@settings(max_examples=400, deadline=None)
@given(_profiles())
def test_round_trip_random_profiles(case: Case) -> None:
    _round_trip(case)


def test_round_trip_every_kind_mode_unit_size_and_spacing() -> None:
    """Every combination once (3 kinds × 4 modes × 4 units × 12 sizes × each spacing class)."""
    checked = 0
    for kind in ("forward", "inverse", "register"):
        for mode in ("absolute", "increment", "decrement", "difference"):
            for unit in ("s", "min", "h", "d"):
                spacings = [0, 1, 15, 250] + ([254] if unit != "s" else []) + ([253] if unit == "d" else [])
                for code in sorted(enc.PROFILE_ELEMENT_BYTES):
                    for spacing in spacings:
                        elements = [3, 0, 9, 1] if mode != "difference" else [3, -2, 9, -1]
                        base = (
                            datetime(2024, 1, 31, 23, 45) if spacing != 253 else datetime(2024, 1, 15, 6, 0)
                        )
                        _round_trip(
                            Case(
                                kind,
                                mode,
                                unit,
                                spacing,
                                code,
                                elements,
                                base,
                                5000,
                                1,
                                0,
                                _VIFS[checked % 2],
                            )
                        )
                        checked += 1
    assert checked == 3 * 4 * 12 * (4 + 5 + 5 + 6)


def _round_trip(case: Case) -> None:
    kind, mode, unit, spacing, code = case.kind, case.mode, case.unit, case.spacing, case.code
    elements, base, base_raw, storage, tariff = (
        case.elements,
        case.base,
        case.base_raw,
        case.storage,
        case.tariff,
    )
    vif, div, quantity, unit_symbol = case.vif
    where = {"storage": storage, "tariff": tariff}
    if unit == "s":
        stamp = enc.datetime_i(base.year, base.month, base.day, base.hour, base.minute, 0)
        time_record = enc.record(0x6, enc.vib(0x6D), stamp, **where)
    else:
        stamp = enc.datetime_f(base.year, base.month, base.day, base.hour, base.minute)
        time_record = enc.record(0x4, enc.vib(0x6D), stamp, **where)
    records = [
        enc.record(0x4, enc.vib(0x6D), enc.datetime_f(2000, 1, 1, 0, 0), storage=storage + 1),  # not the base
        enc.record(
            0xC, enc.vib(vif), enc.bcd_bytes(7, 8), storage=storage, tariff=tariff + 1
        ),  # not the base
        time_record,
        enc.record(0xC, enc.vib(vif), enc.bcd_bytes(base_raw, 8), **where),
        enc.profile_record(
            vif,
            kind=kind,
            mode=mode,
            unit=unit,
            spacing=spacing,
            element_code=code,
            elements=elements,
            **where,
        ),
    ]
    parsed = parse_apl(enc.apl(records))
    series = parsed.records[-1].series
    assert series is not None
    assert (series.kind, series.mode, series.quantity, series.unit) == (kind, mode, quantity, unit_symbol)
    assert series.reason is None
    # values: the standard's rule, stated independently
    expected: list[float] = []
    running = base_raw
    for element in elements:
        if mode == "absolute":
            running = element
        else:
            delta = -element if mode == "decrement" else element
            running = running - delta if kind == "inverse" else running + delta
        expected.append(running / div if div != 1 else running)
    assert [pt.value for pt in series.points] == pytest.approx(expected, rel=1e-12, abs=1e-12)
    # times
    if spacing == 0:
        assert all(pt.time is None for pt in series.points)
    else:
        direction = -1 if kind == "inverse" else 1
        times = [
            _expected_time(base, unit, spacing, direction * (i + 1)).isoformat() for i in range(len(elements))
        ]
        assert [pt.time for pt in series.points] == times
    if kind == "register":
        assert [pt.storage for pt in series.points] == [storage + 1 + i for i in range(len(elements))]
    else:
        assert all(pt.storage is None for pt in series.points)


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(["absolute", "increment", "decrement", "difference"]),
    st.sampled_from(sorted(enc.PROFILE_ELEMENT_BYTES)),
    st.integers(0, 6),
)
def test_round_trip_illegal_element_stops(mode: str, code: int, valid: int) -> None:
    elements: list[float | None] = [1] * valid + [None, 1, 1]
    data = enc.profile_data(mode, "h", 1, code, elements)
    profile = parse_profile("forward", data[1:])
    assert profile.sent == valid + 3
    assert profile.elements == (1,) * valid


def test_round_trip_through_a_whole_encrypted_telegram() -> None:
    key = bytes(range(16))
    meter = enc.Addr("KAM", "12345678", 0x1B, 0x07)
    records = [
        enc.record(0x4, enc.vib(0x6D), enc.datetime_f(2024, 6, 1, 12, 0)),
        enc.record(0x4, enc.vib(0x13), enc.int_bytes(50_000, 4)),
        enc.profile_record(
            0x13, kind="inverse", unit="min", spacing=15, element_code=0x1, elements=[3, 0, 7, 2]
        ),
    ]
    raw = enc.build(enc.TelegramSpec(records=records, meter=meter, mode=5, key=key, acc=9))
    from custom_components.oms.omslib.keyring import Keyring

    keyring = Keyring()
    keyring.set(meter.id, key)
    telegram = Decoder(keyring).decode(raw)
    (profile,) = [r for r in telegram.records if r.series is not None]
    assert profile.series is not None
    assert [(p.time, p.value) for p in profile.series.points] == [
        ("2024-06-01T11:45:00", 49.997),
        ("2024-06-01T11:30:00", 49.997),
        ("2024-06-01T11:15:00", 49.99),
        ("2024-06-01T11:00:00", 49.988),
    ]


# --------------------------------------------------------------------------- public corpus


def _corpus_tests() -> list[dict[str, object]]:
    from tests.corpus import CORPUS

    path = CORPUS / "wmbusmeters-tests.jsonl"
    if not path.exists():
        pytest.skip(f"conformance corpus not found at {path}")

    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _decoded(test: dict[str, object]) -> list[Record] | None:
    from custom_components.oms.omslib.errors import OmsError

    telegram = test["telegram"]
    assert isinstance(telegram, str)
    try:
        raw = bytes.fromhex(telegram)
    except ValueError:  # a few tests hold placeholders in their hex
        return None
    try:
        return list(Decoder().decode(raw).records)
    except OmsError:
        return None


@pytest.mark.conformance
def test_corpus_profiles_resolve() -> None:
    """Every plaintext profile in the wmbusmeters driver tests decodes; increments chain to the
    meter's own current total (weh_07: the forward register profile ends just below it)."""
    profiles = 0
    for test in _corpus_tests():
        records = _decoded(test)
        if records is None:
            continue
        for record in records:
            series = record.series
            if series is None:
                continue
            profiles += 1
            assert series.reason is None or not series.points, (test["name"], series)
        if test.get("meter") == "weh_07":
            (profile,) = [r for r in records if r.series is not None]
            assert profile.series is not None
            assert [(p.time, p.value, p.storage) for p in profile.series.points[-2:]] == [
                ("2022-10-31", 34.2, 14),
                ("2022-11-30", 37.298, 15),
            ]
            (total,) = [r for r in records if r.quantity == "volume" and r.storage == 0]
            assert total.value == 37.299
        if test.get("meter") == "uiws":
            (profile,) = [r for r in records if r.series is not None]
            assert profile.series is not None
            expected = test["expected"]
            assert isinstance(expected, dict)
            assert profile.series.base == SeriesPoint(expected["target_date"], expected["target_m3"])
            assert [(p.time, p.value) for p in profile.series.points] == [
                (expected["target_1_date"], expected["target_1_m3"])
            ]
    assert profiles >= 8


# --------------------------------------------------------------------------- scripts/decode


ANNEX_G = bytes.fromhex("264424340102030401077a010000200C1313100000026C1F150D93130A7AFE5802320314024401")


def test_decode_json_carries_the_series() -> None:
    from custom_components.oms.omslib import jsonout

    line = json.loads(jsonout.decode_line(Decoder(), ANNEX_G))
    (profile,) = [r for r in line["records"] if "series" in r]
    assert profile["series"] == [
        {"time": "2008-04-30", "value": 0.755},
        {"time": "2008-03-31", "value": 0.423},
        {"time": "2008-02-29", "value": 0.209},
        {"time": "2008-01-31", "value": 0.065},
    ]
    assert profile["series_base"] == {"time": "2008-05-31", "value": 1.013}
    assert (profile["series_unit"], profile["series_step"]) == ("m³", "P1M")
    assert "series_unresolved" not in profile
    others = [r for r in line["records"] if r is not profile]
    assert all(not any(key.startswith("series") for key in r) for r in others)


def test_decode_json_register_storage_and_unresolved_reason() -> None:
    from custom_components.oms.omslib import jsonout

    records = [enc.profile_record(0x13, kind="register", elements=[1, 2], storage=2)]
    raw = enc.build(enc.TelegramSpec(records=records))
    line = json.loads(jsonout.decode_line(Decoder(), raw))
    (profile,) = line["records"]
    assert profile["series"] == [
        {"time": None, "value": None, "storage": 3},
        {"time": None, "value": None, "storage": 4},
    ]
    assert profile["series_unresolved"]["reason"] == "no_base_value"


def test_explain_decodes_the_control_byte() -> None:
    from custom_components.oms.omslib.explain import explain_one

    text = explain_one(Decoder(), ANNEX_G, "annex G")
    assert "control 0x7A: increment, unit days/months, elements 2-byte BCD; spacing 254 = every P1M" in text
    assert "profile 4 elements" in text


@pytest.mark.parametrize(
    ("base_vib", "profile_vib"),
    [
        (enc.vib(0x00, table=0xFB), enc.vib(0x00, 0x1F, table=0xFB)),  # FB extension table
        (enc.vib(0x40, table=0xFD), enc.vib(0x40, 0x1F, table=0xFD)),  # FD extension table (volts)
        (enc.vib(0x03, 0x7C, 0x01), enc.vib(0x03, 0x7C, 0x01, 0x1F)),  # orthogonal VIFE (phase L1)
        (enc.vib(0x03, 0x3B), enc.vib(0x03, 0x1F, 0x3B)),  # the profile VIFE before another one
    ],
)
def test_base_value_across_vif_tables(base_vib: bytes, profile_vib: bytes) -> None:
    records = [
        enc.record(0x4, enc.vib(0x6D), enc.datetime_f(2024, 3, 1, 0, 0)),
        enc.record(0x4, base_vib, enc.int_bytes(1000, 4)),
        enc.record(0xD, profile_vib, enc.profile_data("increment", "h", 1, 0x1, [1, 2])),
    ]
    parsed = parse_apl(enc.apl(records)).records
    base, profile = parsed[1], parsed[2]
    series = profile.series
    assert series is not None
    assert series.reason is None
    assert (series.quantity, series.unit) == (base.quantity, base.unit)
    assert isinstance(base.value, int | float)
    step = base.value / 1000
    assert [p.value for p in series.points] == pytest.approx([base.value + step, base.value + 3 * step])


def test_real32_base_value_and_elements() -> None:
    records = [
        enc.record(0x4, enc.vib(0x6D), enc.datetime_f(2024, 3, 1, 0, 0)),
        enc.record(0x5, enc.vib(0x16), enc.real32_bytes(12.25)),  # m³, real32
        enc.profile_record(0x16, element_code=0x5, elements=[0.5, 1.25]),
    ]
    _, series = _profile(enc.apl(records).hex())
    assert series.points == (
        SeriesPoint("2024-03-01T01:00:00", 12.75),
        SeriesPoint("2024-03-01T02:00:00", 14.0),
    )


def test_a_profile_without_its_spacing_bytes_is_malformed() -> None:
    records = [enc.record(0xD, enc.vib(0x13, 0x1F), b"\x01\x69")]
    _, series = _profile(enc.apl(records).hex())
    assert series.reason == "malformed"
    assert "spacing" in series.detail
