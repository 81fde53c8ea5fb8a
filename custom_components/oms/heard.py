"""The heard-meters list of a receiver entry: every meter in range, configured or not.

The add-meter flows offer it, diagnostics dump it, and a meter just configured takes its first
readings from the last telegram in it. It lives in ``hass.data`` (:data:`DATA_HEARD`), so it
survives reloads of the entry; removing the entry forgets it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable

from homeassistant.core import HomeAssistant

from .const import DOMAIN, HEARD_CAP
from .models import HeardMeter
from .omslib.frame import Frame
from .omslib.telegram import Header

DATA_HEARD = f"{DOMAIN}_heard"
"""hass.data key: heard meters per entry, kept across reloads of the entry."""


class HeardMeters(OrderedDict[str, HeardMeter]):
    """Heard meters by meter ID, least recently heard first, at most :data:`HEARD_CAP` of them."""

    def remember(self, frame: Frame, header: Header, *, encrypted: bool | None = None) -> None:
        """Note a telegram's sender (``encrypted``: overrides the header, e.g. after a failed decryption)."""
        address = header.address
        meter_id = address.id.upper()
        heard = self.get(meter_id)
        is_encrypted = header.encrypted if encrypted is None else encrypted
        if heard is None:
            heard = HeardMeter(
                meter_id=meter_id,
                manufacturer=address.manufacturer,
                device_type=address.device_type,
                version=address.version,
                rssi=frame.rssi_dbm,
                last_heard=frame.received_at,
                encrypted=is_encrypted,
                raw=frame.raw,
                count=0,
            )
            self[meter_id] = heard
            while len(self) > HEARD_CAP:
                self.popitem(last=False)
        else:
            self.move_to_end(meter_id)
        heard.count += 1
        heard.rssi = frame.rssi_dbm
        heard.last_heard = frame.received_at
        heard.encrypted = is_encrypted
        heard.raw = frame.raw
        heard.recent.append((frame.received_at, frame.rssi_dbm, frame.raw))

    def strongest_first(self, *, min_rssi: float | None = None) -> list[HeardMeter]:
        """Heard meters, strongest signal first (unknown RSSI last)."""
        meters: Iterable[HeardMeter] = self.values()
        if min_rssi is not None:
            meters = (m for m in meters if m.rssi is None or m.rssi >= min_rssi)
        return sorted(meters, key=lambda m: (m.rssi is None, -(m.rssi or 0.0), m.meter_id))


def heard_meters_of(hass: HomeAssistant, entry_id: str) -> HeardMeters:
    """The entry's heard-meters list, created on first use."""
    by_entry: dict[str, HeardMeters] = hass.data.setdefault(DATA_HEARD, {})
    return by_entry.setdefault(entry_id, HeardMeters())


def forget_heard_meters(hass: HomeAssistant, entry_id: str) -> None:
    """A removed receiver's heard meters are gone with it."""
    hass.data.get(DATA_HEARD, {}).pop(entry_id, None)
