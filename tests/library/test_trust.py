"""Freshness and plausibility rules (omslib/trust.py)."""

from __future__ import annotations

from hypothesis import given, strategies as st
import pytest

from custom_components.oms.omslib.trust import (
    ACCESS_WINDOW,
    MIN_ELAPSED_SECONDS,
    RESYNC_TELEGRAMS,
    Freshness,
    TotalTrack,
    check_access,
    check_counter,
    judge_total,
    max_per_hour,
    medium_group,
)


def test_counter_strictly_increases() -> None:
    state = Freshness()
    assert check_counter(state, 5)
    assert not check_counter(state, 5)
    assert not check_counter(state, 4)
    assert check_counter(state, 6)
    assert state.counter == 6


def test_access_number_moves_forward_modulo_256() -> None:
    state = Freshness()
    assert check_access(state, 254)
    assert check_access(state, 255)
    assert check_access(state, 2)  # wrapped
    assert check_access(state, 2)  # a repetition passes (copies are dropped before)
    assert not check_access(state, 1)  # one step back: replay
    assert not check_access(state, (2 + ACCESS_WINDOW + 1) % 256)
    assert state.access == 2


def test_access_number_resynchronises_after_agreeing_telegrams() -> None:
    state = Freshness(access=10)
    assert not check_access(state, 200)
    assert not check_access(state, 150)  # does not follow 200: the chain starts again
    assert not check_access(state, 151)
    assert check_access(state, 152)
    assert state.access == 152
    assert check_access(state, 153)


@given(st.integers(0, 255), st.integers(1, 255))
def test_replay_of_an_older_access_number_is_rejected(start: int, back: int) -> None:
    state = Freshness()
    assert check_access(state, start)
    older = (start - back) % 256
    assert check_access(state, older) == (back >= 256 - ACCESS_WINDOW)


def test_medium_limits() -> None:
    assert medium_group(0x07) == "water"
    assert medium_group(0x03) == "gas"
    assert medium_group(0x04) == "heat"
    assert medium_group(0x02) == "electricity"
    assert medium_group(None) == "other"
    assert max_per_hour(0x07, "m³") == 10.0
    assert max_per_hour(0x04, "kWh") == 100.0
    assert max_per_hour(0x04, "MJ") == pytest.approx(360.0)
    assert max_per_hour(0x07, "°C") is None
    assert max_per_hour(0x07, "m³", override=40.0) == 40.0
    assert max_per_hour(0x04, "m³", override=400.0) == 10.0  # a heat meter's limit is for its energy
    assert max_per_hour(0x04, "MJ", override=400.0) == pytest.approx(1440.0)


def test_judge_total_accepts_holds_and_confirms() -> None:
    track = TotalTrack(100.0, 0.0)
    assert judge_total(track, 100.5, 60.0, rate=10.0) == "accept"
    assert judge_total(track, 1e6, 120.0, rate=10.0) == "pending"
    assert track.value == 100.5
    assert judge_total(track, 100.6, 180.0, rate=10.0) == "accept"
    assert track.pending is None
    assert judge_total(track, 200.0, 240.0, rate=10.0) == "pending"
    assert judge_total(track, 200.1, 300.0, rate=10.0) == "confirmed"
    assert track.value == 200.1


def test_judge_total_rebaselines_after_agreeing_lower_readings() -> None:
    track = TotalTrack(1e6, 0.0)
    verdicts = [judge_total(track, 5.0 + 0.1 * i, 60.0 * (i + 1), rate=10.0) for i in range(RESYNC_TELEGRAMS)]
    assert verdicts == ["backwards"] * (RESYNC_TELEGRAMS - 1) + ["rebaseline"]
    assert track.value == pytest.approx(5.0 + 0.1 * (RESYNC_TELEGRAMS - 1))


def test_disagreeing_lower_readings_do_not_rebaseline() -> None:
    track = TotalTrack(1000.0, 0.0)
    assert judge_total(track, 50.0, 60.0, rate=10.0) == "backwards"
    assert judge_total(track, 20.0, 120.0, rate=10.0) == "backwards"  # lower than the last: new chain
    assert judge_total(track, 900.0, 180.0, rate=10.0) == "backwards"  # implausible jump within the chain
    assert track.value == 1000.0


@given(
    genuine=st.lists(st.floats(0, 0.5), min_size=1, max_size=30),
    forged=st.floats(-1e9, 1e9, allow_nan=False),
    position=st.integers(0, 29),
)
def test_no_single_reading_moves_or_freezes_a_total(
    genuine: list[float], forged: float, position: int
) -> None:
    """A genuine meter (small rises every minute) with one arbitrary reading slipped in: the total never
    passes the plausibility limit because of it, and the genuine readings after it are all taken."""
    rate = 10.0
    track = TotalTrack(1000.0, 0.0)
    value, at = 1000.0, 0.0
    position %= len(genuine)
    for index, rise in enumerate(genuine):
        if index == position:
            at += 60.0
            before = track.value
            verdict = judge_total(track, forged, at, rate)
            if verdict == "accept":
                assert 0 <= track.value - before <= rate * MIN_ELAPSED_SECONDS / 3600.0
                value = track.value
        value += rise
        at += 60.0
        assert judge_total(track, value, at, rate) in ("accept", "confirmed")
        assert track.value == value
