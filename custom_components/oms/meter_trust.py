"""Whether a configured meter takes a telegram: the hub's trust checks, on top of :mod:`.omslib.trust`.

A meter with a key takes only telegrams decrypted or authenticated with it, and only the records
that were inside the protected part. The telegram must come from the meter's learned identity, be
fresh (message counter or access number, radio only), use a record layout the meter has sent before
(a keyed meter's new layout is held once) and keep its totals plausible. :func:`judge_telegram`
changes the meter's trust state (:class:`~.models.MeterState` identity, freshness, totals, layouts)
and returns a :class:`Verdict`; the hub counts, logs, saves and raises repair issues from it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from .models import MeterState
from .omslib.record import Record
from .omslib.telegram import Telegram
from .omslib.trust import TotalTrack, check_access, check_counter, judge_total, max_per_hour

MAX_LAYOUTS = 32
"""Record layouts remembered per meter (meters send a few: short, long, installation telegrams)."""
TOTAL_QUANTITIES = frozenset({"volume", "energy"})
"""Record quantities whose current value (storage 0) is a meter total checked for plausibility."""


@dataclass(slots=True)
class Verdict:
    """What :func:`judge_telegram` decided."""

    records: tuple[Record, ...] | None
    """The records the meter's values may take; None when the telegram is rejected."""
    reason: str | None = None
    """Why it is rejected (unprotected, identity, stale, layout, implausible, backwards)."""
    what: str = ""
    """The rejected telegram in words (for the debug log)."""
    changed: bool = False
    """The meter's stored trust state changed (to be saved)."""
    rebaselined: list[tuple[Record, float]] = field(default_factory=list)
    """Totals that went back, confirmed by several telegrams, with their previous value (tell the user)."""


def _reject(reason: str, what: str, *, changed: bool = False) -> Verdict:
    return Verdict(None, reason, what, changed)


def judge_telegram(meter: MeterState, telegram: Telegram, *, keyed: bool, wired: bool, at: float) -> Verdict:
    """Check a decoded telegram of a configured meter (``keyed``: it has a key; ``at``: received at)."""
    header = telegram.header
    if keyed and not (telegram.decrypted or telegram.authenticated):
        # Plaintext under a keyed meter's ID is forged, or a damaged frame misread as plaintext.
        return _reject("unprotected", "a telegram not encrypted with its key")
    records = telegram.records[: telegram.encrypted_records] if keyed else telegram.records
    address = header.address
    identity = (address.manufacturer, address.version, address.device_type)
    if meter.identity is not None and identity != meter.identity:
        return _reject("identity", f"a telegram of another identity {identity}")
    freshness = meter.freshness
    saved = (freshness.counter, freshness.access, list(freshness.resync))
    if not wired and not is_fresh(meter, telegram):
        return _reject("stale", f"a stale or replayed telegram (ACC {header.access_number})")
    layout = telegram.format_signature
    if (
        keyed
        and not telegram.authenticated
        and layout is not None
        and meter.layouts
        and layout not in meter.layouts
        and meter.pending_layout != layout
    ):
        # Garbled mode-5 blocks mostly still read as records, but rarely in a layout the meter uses.
        meter.pending_layout = layout
        freshness.counter, freshness.access, freshness.resync = saved
        return _reject("layout", "a record layout it has not sent before (held once)")
    held, rebaselined = judge_totals(meter, records, at)
    if held is not None:
        freshness.counter, freshness.access, freshness.resync = saved
        return _reject(held, "a total it cannot confirm yet", changed=True)
    if layout is not None and layout not in meter.layouts and len(meter.layouts) < MAX_LAYOUTS:
        meter.layouts.add(layout)
    meter.pending_layout = None
    meter.identity = identity
    meter.decrypt_failures.clear()
    return Verdict(records, changed=True, rebaselined=rebaselined)


def is_fresh(meter: MeterState, telegram: Telegram) -> bool:
    """Replay protection: a newer message counter, else a plausible access number (and note it)."""
    counter = telegram.extra.get("message_counter")
    if isinstance(counter, int):
        return check_counter(meter.freshness, counter)
    access = telegram.header.access_number
    return access is None or check_access(meter.freshness, access)


def judge_totals(
    meter: MeterState, records: Iterable[Record], at: float
) -> tuple[str | None, list[tuple[Record, float]]]:
    """Check the meter's totals: the reason the telegram is held (None when all are taken), and the
    totals taken as new after going back (with their previous value)."""
    device_type = meter.device_type if meter.identity is None else meter.identity[2]
    trials: dict[str, TotalTrack] = {}
    held: str | None = None
    held_keys: list[str] = []
    rebaselined: list[tuple[Record, float]] = []
    for record in records:
        value = record.value
        if (
            record.storage
            or record.function != "instantaneous"
            or record.quantity not in TOTAL_QUANTITIES
            or not isinstance(value, int | float)
        ):
            continue
        rate = max_per_hour(device_type, record.unit, meter.max_rate)
        if rate is None:
            continue
        track = meter.totals.get(record.key)
        if track is None:
            trials[record.key] = TotalTrack(float(value), at)
            continue
        trial = TotalTrack(track.value, track.at, track.pending, list(track.lower))
        verdict = judge_total(trial, float(value), at, rate)
        trials[record.key] = trial
        if verdict in ("pending", "backwards"):
            held = "implausible" if verdict == "pending" else "backwards"
            held_keys.append(record.key)
        elif verdict == "rebaseline":
            rebaselined.append((record, track.value))
    if held is not None:
        for record_key in held_keys:  # only what is held against the totals moves on
            meter.totals[record_key] = trials[record_key]
        return held, []
    meter.totals.update(trials)
    return None, rebaselined
