"""Kamstrup (KAM/KAW) meters: info codes.

* The compact-frame layouts these meters are known to send are listed with the compact frames
  (:data:`omslib.compact.KNOWN_FORMATS`).
* Multical 21 / flowIQ info codes, record ``02 FF 20`` (16 bit) or ``04 FF 23`` (32 bit): bit 0
  dry, 1 reverse flow, 2 leak, 3 burst; the 32-bit form adds 4 tamper and 5 low battery.
"""

from __future__ import annotations

from ..record import Record
from .base import Driver, DriverInput, DriverResult, alarms

INFO_16 = ("burst", "leak", "backflow", "dry")
INFO_32 = ("battery_low", "fraud", *INFO_16)


def info_alarms(records: tuple[Record, ...]) -> list[Record]:
    """The flags of the current info-code record (storage 0), if the telegram has one."""
    for rec in records:
        if rec.storage or not isinstance(rec.value, int):
            continue
        if rec.dif_vif == "02FF20":
            return alarms(INFO_16, rec.value & 0x0F)
        if rec.dif_vif == "04FF23":
            return alarms(INFO_32, rec.value & 0x3F)
    return []


def decode_info(data: DriverInput) -> DriverResult | None:
    flags = info_alarms(data.records)
    return DriverResult(tuple(flags)) if flags else None


DRIVERS = (
    Driver(
        "kamstrup",
        frozenset({"KAM", "KAW"}),
        decode_info,
        description=__doc__ or "",
    ),
)
