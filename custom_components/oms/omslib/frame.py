"""What a receiver hands to the decoder."""

from __future__ import annotations

from dataclasses import dataclass, field
import time

from .link import FrameFormat


@dataclass(frozen=True, slots=True)
class Frame:
    """One received telegram.

    ``raw`` starts at the L byte; wireless frames may still carry their DLL
    block CRCs (format A or B) or have them stripped, the decoder detects
    which. Wired frames are whole long frames ``68 L L 68 … CS 16``.
    """

    raw: bytes
    rssi_dbm: float | None = None
    link_mode: str | None = None
    """"T1", "C1", "S1", "C1/T1" when the receiver knows it, "mbus" for wired, else None."""
    received_at: float = field(default_factory=time.time)
    """Unix time, seconds."""
    receiver_id: str = ""
    frame_format: FrameFormat | None = None
    """"A"/"B" (block CRCs still in ``raw``) or "none" (CRC-free) when the receiver knows it;
    None for hex input: the decoder then detects the format (README, "Frame formats of hex input")."""
