"""A decoded application-layer data record (EN 13757-3 §6)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Function = Literal["instantaneous", "maximum", "minimum", "error"]
Value = int | float | str | bytes | None


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

    @property
    def dif_vif(self) -> str:
        """The record's DIB and VIB as upper-case hex (its identity within a meter)."""
        return (self.dib + self.vib).hex().upper()

    @property
    def key(self) -> str:
        """A stable key for this record within one meter's telegrams."""
        return self.dif_vif
