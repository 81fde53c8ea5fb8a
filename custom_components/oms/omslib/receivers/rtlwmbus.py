"""rtl_wmbus (RTL-SDR) receiver: text lines from an ``rtl_sdr | rtl_wmbus`` pipeline, stdin or TCP.

The pipeline runs without a shell (:meth:`RtlWmbusReceiver.sdr_stages`): ``rtl_sdr`` (from the
directory of the configured ``rtl_wmbus``, else from PATH) feeds ``rtl_wmbus``.

Line format (one telegram per line, DLL CRCs already removed)::

    MODE;CRC_OK;3OF6_OK;YYYY-MM-DD HH:MM:SS.sss;PKT_RSSI;CUR_RSSI;LL_ID;0x<hex>
    C1;1;1;2019-02-09 07:14:18.000;117;102;94740459;0x4944...

Only T1/C1/S1 lines with both checks at 1 are taken, and bare ``0x<hex>``
lines. The L byte is corrected when it disagrees with the length. The RSSI
columns are raw SDR magnitudes, not dBm, so frames carry no RSSI. A line
containing "rtl_wmbus: exiting" restarts the pipeline.
"""

from __future__ import annotations

import os
from typing import ClassVar

from ..frame import Frame
from .base import register_receiver
from .lines import BadLine, LineReceiver, SdrSettings, SourceRestart, Stages, fix_l_field, hex_bytes

DEFAULT_COMMAND = "rtl_sdr -f 868.95M -s 1.6e6 - 2>/dev/null | rtl_wmbus"
"""The shell form of the pipeline started for ``device`` "" / "default": T1 and C1 at 868.95 MHz."""
SAMPLE_RATE = "1.6e6"
"""rtl_sdr sample rate rtl_wmbus expects (samples/s)."""

_MODES = {"T1": "T1", "C1": "C1", "S1": "S1"}


def parse_rtlwmbus_line(line: str, *, receiver_id: str = "") -> Frame | None:
    """Parse one rtl_wmbus output line (pure).

    Returns a Frame, or None for a line that is not meant to carry a telegram
    (a banner without ``;``). Raises :class:`BadLine` ("crc" when rtl_wmbus
    flagged the CRC or 3-out-of-6 check, "garbage", "truncated", "length") and
    :class:`SourceRestart` for "rtl_wmbus: exiting".
    """
    line = line.strip()
    if line[:2] in ("0x", "0X"):
        return Frame(fix_l_field(hex_bytes(line[2:])), receiver_id=receiver_id, frame_format="none")
    fields = line.split(";")
    if len(fields) < 8:
        if "rtl_wmbus: exiting" in line:
            raise SourceRestart("rtl_wmbus exited")
        if len(fields) == 1:
            return None
        raise BadLine(f"{len(fields)} fields instead of 8", "garbage")
    mode = _MODES.get(fields[0])
    if mode is None:
        raise BadLine(f"unknown mode {fields[0][:8]!r}", "garbage")
    if fields[1] != "1" or fields[2] != "1":
        raise BadLine(f"rtl_wmbus check failed (crc={fields[1]}, 3of6={fields[2]})", "crc")
    data = fields[7]
    if data[:2] not in ("0x", "0X"):
        raise BadLine("no 0x<hex> field", "garbage")
    return Frame(
        fix_l_field(hex_bytes(data[2:])), link_mode=mode, receiver_id=receiver_id, frame_format="none"
    )


@register_receiver
class RtlWmbusReceiver(LineReceiver):
    """rtl_wmbus lines from a pipeline (default :data:`DEFAULT_COMMAND`), stdin (``-``) or ``tcp://``."""

    kind = "rtlwmbus"
    model = "rtl_wmbus"
    default_command: ClassVar[str | None] = DEFAULT_COMMAND
    sdr_programs: ClassVar[frozenset[str]] = frozenset({"rtl_wmbus"})

    @classmethod
    def sdr_stages(cls, settings: SdrSettings) -> Stages:
        program = settings.program or "rtl_wmbus"
        folder = os.path.dirname(program)
        rtl_sdr = [os.path.join(folder, "rtl_sdr") if folder else "rtl_sdr"]
        rtl_sdr += ["-d", str(settings.device_index), "-f", str(settings.frequency), "-s", SAMPLE_RATE]
        if settings.gain is not None:
            rtl_sdr += ["-g", f"{settings.gain:g}"]
        return ((*rtl_sdr, "-"), (program,))

    def parse_line(self, line: str) -> Frame | None:
        return parse_rtlwmbus_line(line, receiver_id=self.receiver_id)
