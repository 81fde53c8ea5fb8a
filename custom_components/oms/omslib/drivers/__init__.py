"""Manufacturer drivers: readings the OMS decoder cannot know, on top of (never instead of) it.

A registry keyed by manufacturer code, then version, device type, CI and a marker in the frame
(:class:`~.base.Driver`). :func:`find_driver` picks the first match; :func:`run_driver` runs it
around the OMS decoder's own result and names it in ``Telegram.extra["driver"]``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from ..errors import OmsError
from ..record import Record
from ..telegram import Header, Telegram
from . import apator, bfw, bmeters, diehl, ime, kamstrup, qundis, schneider, techem, zenner
from .base import ALARM_PREFIX, ALARMS, Driver, DriverInput, DriverResult

DRIVERS: tuple[Driver, ...] = (
    *diehl.DRIVERS,
    *qundis.DRIVERS,
    *bfw.DRIVERS,
    *bmeters.DRIVERS,
    *techem.DRIVERS,
    *apator.DRIVERS,
    *kamstrup.DRIVERS,
    *ime.DRIVERS,
    *zenner.DRIVERS,
    *schneider.DRIVERS,
)

_BY_MANUFACTURER: dict[str, tuple[Driver, ...]] = {}
for _driver in DRIVERS:
    for _m in _driver.manufacturers:
        _BY_MANUFACTURER[_m] = (*_BY_MANUFACTURER.get(_m, ()), _driver)


def find_driver(header: Header, frame: bytes, ci_offset: int) -> Driver | None:
    """The driver for this telegram, or None (most telegrams: one dict lookup)."""
    candidates = _BY_MANUFACTURER.get(header.address.manufacturer)
    if candidates is None:
        return None
    for driver in candidates:
        if driver.matches(header, frame, ci_offset):
            return driver
    return None


def _call(driver: Driver, data: DriverInput) -> DriverResult | None:
    """The driver's reading, or None for bytes it does not understand (the OMS result then stands).

    Not cached: real meters never send the same bytes twice (the access number changes), and copies
    heard by several receivers are dropped before decoding.
    """
    try:
        return driver.decode(data)
    except (OmsError, ArithmeticError, LookupError, ValueError):
        return None


def run_driver(
    driver: Driver,
    header: Header,
    frame: bytes,
    ci_offset: int,
    payload_offset: int,
    generic: Callable[[], Telegram],
    key: bytes | None = None,
    reopen: Callable[[bytes], Telegram] | None = None,
) -> Telegram:
    """The telegram with the driver's records; the OMS decoder's result (or error) when the driver
    reads nothing. ``generic`` is the OMS decoder's own decoding of this telegram, ``reopen``
    decodes it again with another key (:attr:`DriverInput.reopen`)."""
    if driver.raw:
        result = _call(
            driver, DriverInput(header, frame, ci_offset, frame[ci_offset + 1 :], key=key, reopen=reopen)
        )
        if result is None:
            return generic()
        return _merge(driver, header, None, result)
    tg: Telegram | None = None
    try:
        tg = generic()
    except OmsError as err:
        if header.security_mode:
            raise  # the payload is not readable without the OMS decoder
        error = err
        payload: bytes | None = frame[payload_offset:]
    else:
        # An encrypted payload is readable here only when it arrived already in clear (2F2F).
        plain = not header.security_mode or frame[payload_offset : payload_offset + 2] == b"\x2f\x2f"
        payload = frame[payload_offset:] if plain else None
    data = DriverInput(
        tg.header if tg is not None else header,
        frame,
        ci_offset,
        payload,
        tg.records if tg is not None else (),
        tg.manufacturer_data if tg is not None else b"",
        key,
        reopen,
    )
    result = _call(driver, data)
    if result is None:
        if tg is None:
            raise error
        return tg
    return _merge(driver, header, tg, result)


def _merge(driver: Driver, header: Header, tg: Telegram | None, result: DriverResult) -> Telegram:
    if tg is None:
        tg = Telegram(header, ())
    protected = tg.encrypted_records
    if result.replace:
        records = result.records
        protected = len(records) if protected else 0  # all read from the protected payload
    else:
        records = _union(tg.records, result.records)  # the driver's count as unprotected
    if result.address is not None:
        tg = replace(tg, header=replace(tg.header, address=result.address))
    out = replace(tg, records=records, extra=dict(tg.extra), encrypted_records=protected)
    out.extra["driver"] = driver.name
    return out


def _union(generic: tuple[Record, ...], extra: tuple[Record, ...]) -> tuple[Record, ...]:
    """The OMS records, then the driver's whose key the OMS records do not already have."""
    seen = {r.key for r in generic}
    return generic + tuple(r for r in extra if r.key not in seen)


__all__ = [
    "ALARMS",
    "ALARM_PREFIX",
    "DRIVERS",
    "Driver",
    "DriverInput",
    "DriverResult",
    "find_driver",
    "run_driver",
]
