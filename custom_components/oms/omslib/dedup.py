"""De-duplication across receivers: the same telegram heard by several receivers, or repeated by one.

Every receiver's frames pass one :class:`Deduplicator` (the hub keeps one), keyed by
:func:`telegram_key`, so a telegram is decoded once whichever receiver heard it first, and the
best RSSI and the receivers that heard it are known.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
import hashlib
from typing import Final

from .errors import OmsError
from .link import DLL_SIZE, strip_crcs
from .wired import is_long_frame

DEFAULT_WINDOW: Final = 30.0
"""Seconds during which the same telegram from any receiver counts as a duplicate."""

DEFAULT_MAX_ENTRIES: Final = 4096
MAX_RECEIVERS_PER_ENTRY: Final = 32


@dataclass(frozen=True, slots=True)
class DedupResult:
    """What :meth:`Deduplicator.seen` knows of a telegram after this reception."""

    new: bool
    """First reception within the window: decode it. False: a duplicate."""
    receivers: tuple[str, ...]
    """Receivers that heard it, in the order they first did."""
    best_rssi: float | None
    best_receiver: str | None
    """The receiver with :attr:`best_rssi` (the first one while no RSSI is known)."""
    count: int
    """Receptions so far, this one included."""
    first_seen: float
    improved: bool
    """This reception raised :attr:`best_rssi` (always True for a new telegram with an RSSI)."""

    @property
    def duplicate(self) -> bool:
        """Not the first reception."""
        return not self.new


@dataclass(slots=True)
class _Entry:
    first_seen: float
    receivers: dict[str, None]
    best_rssi: float | None
    best_receiver: str
    count: int


_Key = tuple[bytes | str, int | None, bytes]


def telegram_key(raw: bytes) -> tuple[bytes, bytes] | None:
    """``(meter_key, payload)`` of a frame for :meth:`Deduplicator.seen`; None when it is unreadable.

    The same telegram gives the same key from every receiver, whether it arrives
    with format-A or format-B block CRCs or without them: the meter key is the
    link address (M, ID, version, type), the payload the C field and everything
    after the link header, CRCs removed (EN 13757-4 §12.5). A wired long frame
    is its own payload (meter key ``b"mbus"``). A frame whose CRCs fail gets
    None: it is not de-duplicated, and the decoder reports it.
    """
    if is_long_frame(raw, exact=True):
        return b"mbus", raw
    try:
        frame, _ = strip_crcs(raw)
    except OmsError:
        return None
    return frame[2:DLL_SIZE], frame[1:2] + frame[DLL_SIZE:]


class Deduplicator:
    """Recognises a telegram heard by several receivers (or repeated by one) within ``window`` seconds.

    Keyed on (meter link address, access number, payload digest). ``payload``
    must be the same bytes from every receiver: pass the CRC-free frame (or the
    part after the link header), not the raw bytes as received. The window
    runs from the first reception; a later identical telegram is new again.
    ``now`` should be monotonic time; small backward steps are tolerated.
    Memory is bounded by ``max_entries`` (oldest dropped first); each call is
    amortised O(1) (plus hashing the payload).
    """

    def __init__(self, window: float = DEFAULT_WINDOW, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        if not window > 0:
            raise ValueError("window must be positive")
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.window = float(window)
        self.max_entries = max_entries
        self._entries: OrderedDict[_Key, _Entry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        """Forget everything."""
        self._entries.clear()

    def seen(
        self,
        meter_key: bytes | str,
        access_number: int | None,
        payload: bytes,
        receiver: str,
        rssi: float | None,
        now: float,
    ) -> DedupResult:
        """Record one reception and say whether it is new."""
        self._expire(now)
        key: _Key = (meter_key, access_number, hashlib.blake2b(payload, digest_size=16).digest())
        entry = self._entries.get(key)
        if entry is not None and abs(now - entry.first_seen) >= self.window:
            del self._entries[key]
            entry = None
        if entry is None:
            entry = _Entry(now, {receiver: None}, rssi, receiver, 1)
            self._entries[key] = entry
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
            return DedupResult(True, (receiver,), rssi, receiver, 1, now, rssi is not None)
        entry.count += 1
        if receiver not in entry.receivers and len(entry.receivers) < MAX_RECEIVERS_PER_ENTRY:
            entry.receivers[receiver] = None
        improved = rssi is not None and (entry.best_rssi is None or rssi > entry.best_rssi)
        if improved:
            entry.best_rssi = rssi
            entry.best_receiver = receiver
        return DedupResult(
            False,
            tuple(entry.receivers),
            entry.best_rssi,
            entry.best_receiver,
            entry.count,
            entry.first_seen,
            improved,
        )

    def _expire(self, now: float) -> None:
        """Drop entries whose window has passed, oldest first (insertion order is first-seen order)."""
        entries = self._entries
        while entries:
            key, entry = next(iter(entries.items()))
            if now - entry.first_seen < self.window:
                return
            del entries[key]
