"""What a receiver of telegrams may believe: freshness and plausibility (pure, no I/O).

The decoder states facts (decrypted, authenticated, which records were protected, the
message counter); these helpers decide whether a telegram is *new* and whether a meter
total it carries is *plausible*:

- :func:`check_counter` — the mode 7/9 message counter (AFL MCR or TPL counter, 32 bits,
  covered by the MAC) must strictly increase (OMS Vol2 §9.6.2).
- :func:`check_access` — the 8-bit access number of other telegrams (EN 13757-7 §7.5.4)
  must move forward within :data:`ACCESS_WINDOW` (modulo 256). The same number again is a
  repetition and passes (copies with the same payload are dropped earlier). A meter that
  really jumped (e.g. it was out of range for a long time) is followed again after
  :data:`RESYNC_TELEGRAMS` telegrams that move forward from each other.
- :func:`judge_total` — a total (``total_increasing``) may rise by at most the medium's
  plausible hourly maximum times the time since the last accepted reading. A larger step
  is held *pending* until the next telegram confirms it; a lower reading becomes the new
  baseline only after :data:`RESYNC_TELEGRAMS` consecutive lower readings that agree.

So no single forged, damaged or replayed telegram can move a total past the plausibility
limit, and none can freeze it: later genuine telegrams always get through.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ACCESS_WINDOW = 128
"""How far (modulo 256) the access number may move forward between two accepted telegrams."""
RESYNC_TELEGRAMS = 3
"""Consecutive telegrams that agree with each other and overrule the remembered state."""
MIN_ELAPSED_SECONDS = 300.0
"""Plausibility never allows less than this much time of consumption (clock jitter, bursts)."""

_WATER_TYPES = frozenset({0x06, 0x07, 0x15, 0x16, 0x17, 0x28})
_HEAT_TYPES = frozenset({0x04, 0x0A, 0x0B, 0x0C, 0x0D})

MAX_PER_HOUR: dict[str, dict[str, float]] = {
    "water": {"m³": 10.0},
    "gas": {"m³": 16.0, "kWh": 200.0},
    "heat": {"kWh": 100.0, "m³": 10.0},
    "electricity": {"kWh": 50.0},
    "other": {"m³": 50.0, "kWh": 500.0},
}
"""Default largest plausible consumption per hour, by medium group and canonical unit.

Household sizes with headroom: a DN20 water meter passes at most 5 m³/h (Q4), a G10 gas
meter 16 m³/h, a 3×63 A connection about 44 kW. Building meters override it per meter.
"""

_TO_CANONICAL: dict[str, tuple[str, float]] = {
    "m³": ("m³", 1.0),
    "L": ("m³", 0.001),
    "kWh": ("kWh", 1.0),
    "Wh": ("kWh", 0.001),
    "MWh": ("kWh", 1000.0),
    "MJ": ("kWh", 1 / 3.6),
    "GJ": ("kWh", 1000 / 3.6),
}


def medium_group(device_type: int | None) -> str:
    """The plausibility group of an EN 13757-7 device type."""
    if device_type in _WATER_TYPES:
        return "water"
    if device_type == 0x03:
        return "gas"
    if device_type in _HEAT_TYPES:
        return "heat"
    if device_type == 0x02:
        return "electricity"
    return "other"


def canonical(unit: str | None) -> tuple[str, float] | None:
    """The canonical unit of a total's unit and the factor to it (None: no plausibility rule)."""
    return _TO_CANONICAL.get(unit or "")


PRIMARY_UNIT: dict[str, str] = {"water": "m³", "gas": "m³", "heat": "kWh", "electricity": "kWh"}
"""The canonical unit of each medium's main total: what a meter's own limit is given in."""


def max_per_hour(device_type: int | None, unit: str | None, override: float | None = None) -> float | None:
    """Largest plausible rise per hour in ``unit``, or None when there is no rule for it.

    ``override`` is the meter's own limit per hour in its medium's :data:`PRIMARY_UNIT`
    (m³ for water and gas, kWh for heat and electricity; any total of other media).
    """
    conversion = canonical(unit)
    if conversion is None:
        return None
    name, factor = conversion
    group = medium_group(device_type)
    if override is not None and override > 0 and PRIMARY_UNIT.get(group, name) == name:
        return override / factor
    limit = MAX_PER_HOUR[group].get(name)
    if limit is None:
        limit = MAX_PER_HOUR["other"][name]
    return limit / factor


# -- freshness ----------------------------------------------------------------------------


@dataclass(slots=True)
class Freshness:
    """The last accepted counters of one meter, and a pending re-synchronisation."""

    counter: int | None = None
    """Last accepted mode 7/9 message counter."""
    access: int | None = None
    """Last accepted access number."""
    resync: list[int] = field(default_factory=list)
    """Access numbers of consecutive rejected telegrams that move forward from each other."""


def check_counter(state: Freshness, counter: int) -> bool:
    """A MAC-protected message counter: accepted (and remembered) only when it increased."""
    if state.counter is not None and counter <= state.counter:
        return False
    state.counter = counter
    return True


def _forward(old: int, new: int) -> int:
    return (new - old) % 256


def check_access(state: Freshness, access: int) -> bool:
    """An access number: accepted (and remembered) when it moved forward or repeats."""
    if state.access is None or _forward(state.access, access) <= ACCESS_WINDOW:
        state.access = access
        state.resync.clear()
        return True
    chain = state.resync
    if chain and not 0 < _forward(chain[-1], access) <= ACCESS_WINDOW:
        chain.clear()
    chain.append(access)
    if len(chain) < RESYNC_TELEGRAMS:
        return False
    state.access = access
    chain.clear()
    return True


# -- plausibility -------------------------------------------------------------------------

Judgement = Literal["accept", "pending", "confirmed", "backwards", "rebaseline"]


@dataclass(slots=True)
class TotalTrack:
    """The accepted value of one meter total and what is held against it."""

    value: float
    at: float
    """Unix time of the telegram that set :attr:`value`."""
    pending: tuple[float, float] | None = None
    """An implausibly large rise (value, time) waiting for confirmation."""
    lower: list[tuple[float, float]] = field(default_factory=list)
    """Consecutive readings below :attr:`value` (value, time)."""


def _allowed(rate: float, since: float, now: float) -> float:
    return rate * max(now - since, MIN_ELAPSED_SECONDS) / 3600.0


def judge_total(track: TotalTrack, value: float, at: float, rate: float) -> Judgement:
    """Judge a new reading of a total against the accepted one; updates ``track``.

    ``rate`` is the largest plausible rise per hour in the value's unit. "accept",
    "confirmed" and "rebaseline" mean the reading becomes the total; "pending" and
    "backwards" mean it is held.
    """
    if value >= track.value:
        if value - track.value <= _allowed(rate, track.at, at):
            _set(track, value, at)
            return "accept"
        pending = track.pending
        if (
            pending is not None
            and value >= pending[0]
            and value - pending[0] <= _allowed(rate, pending[1], at)
        ):
            _set(track, value, at)
            return "confirmed"
        track.pending = (value, at)
        return "pending"
    lower = track.lower
    if lower:
        last, last_at = lower[-1]
        if not (value >= last and value - last <= _allowed(rate, last_at, at)):
            lower.clear()
    lower.append((value, at))
    if len(lower) < RESYNC_TELEGRAMS:
        return "backwards"
    _set(track, value, at)
    return "rebaseline"


def _set(track: TotalTrack, value: float, at: float) -> None:
    track.value = value
    track.at = at
    track.pending = None
    track.lower.clear()
