"""A decoded application-layer data record (EN 13757-3 §6).

Records are frozen: the decoder hands the same object out again for the same record bytes
(``apl.py``), so they must not change at run time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Function = Literal["instantaneous", "maximum", "minimum", "error"]
Value = int | float | str | bytes | None
SeriesReason = Literal["no_base_time", "no_base_value", "malformed"]
"""Why a compact profile's series is not (fully) resolved; see ``profile.py``."""


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    """One element of a compact profile: when, what, and (VIFE 1E only) its storage number.

    ``time`` is ISO 8601 meter time (a date when the base time is a date and the spacing is days
    or months), None when the profile has no time spacing or no base time was sent. ``value`` is
    scaled like an ordinary record of the same VIF (None when it depends on an unknown base value).
    """

    time: str | None
    value: int | float | None
    storage: int | None = None


@dataclass(frozen=True, slots=True)
class Series:
    """A compact profile's values (EN 13757-3:2018 Annex F), resolved against the other records.

    ``kind``: "forward" (VIFE 1F), "inverse" (13, youngest first) or "register" (1E). ``step`` is
    an ISO 8601 duration ("PT15M", "P1M", "P0.5M") or None for an array without time spacing.
    ``base`` is the base value at the base time; ``points`` are the elements in the order sent.
    ``reason`` None means every point has its value (and its time, unless ``step`` is None).
    """

    kind: Literal["forward", "inverse", "register"]
    mode: Literal["absolute", "increment", "decrement", "difference"]
    step: str | None
    quantity: str
    unit: str | None
    base: SeriesPoint | None
    points: tuple[SeriesPoint, ...]
    reason: SeriesReason | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Record:
    """One data record: what it measures, its scaled value and unit, where it is stored.

    ``quantity`` is a stable snake_case name ("volume", "energy", "flow_temperature",
    "date_time", "error_flags", …; see ``vif.py``). ``value`` is already scaled by the
    VIF multiplier; dates and times are ISO 8601 strings; text is ``str``; binary
    containers and manufacturer data are ``bytes``. ``unit`` uses Home Assistant's
    unit symbols ("m³", "kWh", "°C", "m³/h", "W", …) or None when dimensionless.
    ``modifiers`` lists what the VIFEs add ("forward_flow", "backward_flow",
    "per_hour", "phase_l1", "record_error_…", …) so two records with the same
    quantity stay distinguishable.
    """

    dib: bytes
    vib: bytes
    quantity: str
    value: Value
    unit: str | None = None
    storage: int = 0
    tariff: int = 0
    subunit: int = 0
    function: Function = "instantaneous"
    modifiers: tuple[str, ...] = ()
    series: Series | None = None
    """Compact profiles only (VIFE 13/1E/1F): the decoded series; ``value`` keeps the raw bytes."""

    @property
    def dif_vif(self) -> str:
        """The record's DIB and VIB as upper-case hex (its identity within a meter)."""
        return (self.dib + self.vib).hex().upper()

    @property
    def key(self) -> str:
        """A stable key for this record within one meter's telegrams."""
        return self.dif_vif
