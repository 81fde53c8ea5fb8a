"""OMS over LPWAN: network-server uplink JSON -> :class:`Uplink` -> decoded telegram.

OMS-TR-06 (LoRaWAN) and OMS-TR-08 (mioty) are not public; what this module relies on
comes from vendors' published codecs and network-server documentation, and every
payload is *sniffed*, never assumed:

- **TPL first** (CI 0x78 no header, 0x7A short header, 0x72 long header): the meter's
  identity for 0x78/0x7A comes from a DevEUI mapping (:class:`DeviceMapping`);
- **full DLL** ``L C M A … CI …`` with the DLL CRCs removed (or still present);
- **wM-Bus bridges** (Lobaro): whole wM-Bus telegrams, split over FPorts 11–99
  (tens digit = part, units digit = number of parts) or sent on FPort 101/102 with a
  flag byte per uplink (bit 0 first, bit 1 last part) and, once reassembled, a 5-byte
  big-endian Unix timestamp (+ the negated wM-Bus RSSI on port 102) before the telegram.

Network servers (auto-detected per message, :func:`.lpwan_uplink.parse_uplink`): The Things Stack v3
(``uplink_message``), ChirpStack v4 (``deviceInfo``, event ``up``) and the mioty
application centre's ACMQTTI (``baseStations``; endpoint EUI from the topic).

:class:`LpwanDecoder` ties it together: duplicate / replay check on the frame counter,
reassembly, sniffing, a synthetic DLL in front of TPL-first payloads so the ordinary
:class:`~.decoder.Decoder` (keys, security modes 5/7, compact frames) does the rest.
Everything that goes wrong is an :class:`~.errors.OmsError` subclass with a stable code.

The network servers' uplink JSON is read by :mod:`.lpwan_uplink`.

Over 500 lines: the DevEUI mappings, payload sniffing, bridge reassembly, the frame counters and the
decoder that ties them together are each short and pure, and always used together.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field, replace
import re
import time
from typing import Literal

from .afl import AFL_CI
from .crc import crc16
from .decoder import Decoder
from .devices import DEVICE_TYPES
from .ell import ELL_CI
from .errors import IncompleteError, LengthError, OmsError
from .link import FrameFormat, decode_id, format_a_length, manufacturer_value, strip_crcs
from .lpwan_uplink import Uplink, normalize_eui
from .telegram import Address, Header, Telegram
from .tpl import CI_TABLE

Layout = Literal["tpl", "dll", "bridge"]
"""How an OMS payload was carried: TPL first, whole DLL, or reassembled by a wM-Bus bridge."""

# --------------------------------------------------------------------------- errors


class NotOmsError(OmsError):
    """The uplink's payload is not OMS in any known layout (e.g. a vendor's own port)."""

    code = "not_oms"


class UnmappedDeviceError(OmsError):
    """A TPL-first payload without meter identity from a device that has no DevEUI mapping."""

    code = "unmapped_device"


class MappingMismatchError(OmsError):
    """The payload names another meter than the DevEUI mapping says (the mapping is wrong)."""

    code = "mapping_mismatch"


class FragmentIncompleteError(IncompleteError):
    """A bridge fragment was stored; the telegram decodes when its last part arrives."""

    code = "fragment_incomplete"


class FragmentLostError(OmsError):
    """A bridge fragment does not continue a stored telegram (a part was lost): dropped."""

    code = "fragment_lost"


class DuplicateUplinkError(OmsError):
    """The same frame counter again (another gateway or a second integration): already handled."""

    code = "duplicate"


class ReplayError(OmsError):
    """A frame counter lower than the last one that is not a device restart: rejected."""

    code = "replay"


# --------------------------------------------------------------------------- mapping


@dataclass(frozen=True, slots=True)
class DeviceMapping:
    """Who a DevEUI is: the identity a TPL-first payload does not carry."""

    meter_id: str
    device_type: int = 0x0F
    """Device-type code (EN 13757-7 Table 12); 0x0F "unknown" when not given."""
    manufacturer: str = ""
    """Three letters when known; needed for mode-5 decryption of short-header payloads (IV)."""
    version: int = 0


_DEVICE_CODES = {name: code for code, name in DEVICE_TYPES.items()}


def device_type_code(text: str) -> int:
    """A device-type name as in the decode output (``water``, ``heat`` …) or a code (``7``, ``0x07``)."""
    name = text.strip().lower().replace(" ", "_").replace("-", "_")
    if name in _DEVICE_CODES:
        return _DEVICE_CODES[name]
    try:
        code = int(name, 0)
    except ValueError:
        raise ValueError(f"unknown medium {text!r} (e.g. water, heat, gas or a code 0-255)") from None
    if not 0 <= code <= 255:
        raise ValueError(f"device type {code} is not in 0-255")
    return code


def parse_mapping(spec: str) -> tuple[str, DeviceMapping]:
    """``DEVEUI=METERID[,MEDIUM[,MANUFACTURER[,VERSION]]]`` -> (DevEUI, mapping); ValueError."""
    eui, sep, rest = spec.partition("=")
    if not sep or not eui.strip() or not rest.strip():
        raise ValueError(f"{spec!r}: expected DEVEUI=METERID[,MEDIUM[,MANUFACTURER[,VERSION]]]")
    parts = [p.strip() for p in rest.split(",")]
    if len(parts) > 4:
        raise ValueError(f"{spec!r}: at most METERID,MEDIUM,MANUFACTURER,VERSION")
    meter_id = parts[0].upper()
    if not re.fullmatch(r"[0-9A-F]{8}", meter_id):
        raise ValueError(f"{spec!r}: the meter ID is 8 digits")
    device_type = device_type_code(parts[1]) if len(parts) > 1 and parts[1] else 0x0F
    manufacturer = parts[2].upper() if len(parts) > 2 else ""
    if manufacturer and not re.fullmatch(r"[A-Z@]{3}", manufacturer):
        raise ValueError(f"{spec!r}: the manufacturer is three letters")
    version = int(parts[3], 0) if len(parts) > 3 and parts[3] else 0
    if not 0 <= version <= 255:
        raise ValueError(f"{spec!r}: the version is 0-255")
    return normalize_eui(eui), DeviceMapping(meter_id, device_type, manufacturer, version)


# --------------------------------------------------------------------------- sniffing

TPL_FIRST_MIN: dict[int, int] = {0x78: 2, 0x7A: 5, 0x72: 13}
"""CIs a TPL-first payload starts with -> its shortest length (CI + header + one byte for 0x78)."""
WMBUS_C_FIELDS = frozenset((0x44, 0x46, 0x47, 0x48, 0x08, 0x18, 0x28, 0x38))
"""C fields of telegrams a meter sends (EN 13757-4 §12.5.2): SND-NR, SND-IR, ACC-NR, ACC-DMD, RSP-UD."""
_LINK_CIS = frozenset(CI_TABLE) | frozenset(ELL_CI) | {AFL_CI}


def looks_like_dll(payload: bytes) -> bool:
    """A whole wM-Bus frame from the L byte: CRC-free (L matches, valid C and CI) or format A."""
    n = len(payload)
    if n < 12:
        return False
    if payload[0] + 1 == n and payload[1] in WMBUS_C_FIELDS and payload[10] in _LINK_CIS:
        return True
    return (
        n == format_a_length(payload[0])
        and payload[1] in WMBUS_C_FIELDS
        and crc16(payload, 0, 10) == (payload[10] << 8) | payload[11]
    )


def starts_like_dll(payload: bytes) -> bool:
    """The first part of a longer wM-Bus frame: L beyond this part, a meter's C field and an M field
    of three letters A-Z (EN 13757-7 §7.5.2), so that a TPL-first payload is not taken for one."""
    if len(payload) < 10 or payload[0] + 1 <= len(payload) or payload[1] not in WMBUS_C_FIELDS:
        return False
    m = payload[2] | (payload[3] << 8)
    return m < 0x8000 and all(1 <= (m >> shift) & 0x1F <= 26 for shift in (10, 5, 0))


def looks_like_tpl(payload: bytes) -> bool:
    """Starts with a TPL CI (0x78, 0x7A, 0x72) and is long enough for its header."""
    return bool(payload) and len(payload) >= TPL_FIRST_MIN.get(payload[0], 1 << 16)


def sniff(payload: bytes) -> Literal["tpl", "dll"] | None:
    """The layout of one complete payload, or None when it is not OMS (DLL wins over TPL)."""
    if looks_like_dll(payload):
        return "dll"
    if looks_like_tpl(payload):
        return "tpl"
    return None


def bridge_port(f_port: int | None) -> tuple[int, int] | None:
    """(part, parts) of a Lobaro FPort 11–99 (tens digit part, units digit parts), else None."""
    if f_port is None or not 11 <= f_port <= 99:
        return None
    part, parts = divmod(f_port, 10)
    return (part, parts) if 1 <= part <= parts else None


BRIDGE_FLAG_PORTS = {101: 5, 102: 6}
"""Lobaro PayloadFormat 1 / 2 ports -> prefix bytes of the reassembled message (timestamp [+ RSSI])."""

# --------------------------------------------------------------------------- reassembly


@dataclass(frozen=True, slots=True)
class Reassembled:
    """A wM-Bus telegram a bridge forwarded, with what the bridge added."""

    telegram: bytes
    timestamp: float | None = None
    """When the bridge received it (port 101/102)."""
    rssi_dbm: float | None = None
    """The bridge's wM-Bus RSSI (port 102)."""


@dataclass(slots=True)
class _Pending:
    port: int
    data: bytearray
    next_part: int
    last_f_cnt: int | None
    started: float


def _follows(previous: int | None, current: int | None) -> bool:
    """The next uplink of the same device (16-bit FCnt on air, so compared modulo 2^16)."""
    return previous is None or current is None or (current - previous) & 0xFFFF == 1


class FragmentAssembler:
    """Reassembles bridge fragments per DevEUI; bounded in devices, bytes and age."""

    __slots__ = ("_pending", "max_age", "max_bytes", "max_devices")

    def __init__(self, max_devices: int = 256, max_bytes: int = 1024, max_age: float = 3600.0) -> None:
        self._pending: OrderedDict[str, _Pending] = OrderedDict()
        self.max_devices = max_devices
        self.max_bytes = max_bytes
        self.max_age = max_age

    def pending(self, dev_eui: str, now: float) -> bool:
        """A fragment of this device is waiting for its next part."""
        state = self._pending.get(dev_eui)
        return state is not None and now - state.started <= self.max_age

    def add(self, uplink: Uplink, now: float) -> Reassembled:
        """Take one fragment; the whole telegram when it was the last part.

        Raises :class:`FragmentIncompleteError` (stored, waiting) or :class:`FragmentLostError`.
        """
        port = uplink.f_port
        assert port is not None
        dev = uplink.dev_eui
        data = uplink.payload
        prefix = BRIDGE_FLAG_PORTS.get(port)
        if prefix is not None:
            if not data or data[0] > 3:
                self._pending.pop(dev, None)
                raise NotOmsError(f"FPort {port} payload without a bridge flag byte")
            first, last = bool(data[0] & 1), bool(data[0] & 2)
            chunk = data[1:]
        else:
            split = bridge_port(port)
            assert split is not None
            part, parts = split
            first, last = part == 1, part == parts
            chunk = data
        state = self._pending.get(dev)
        if state is not None and now - state.started > self.max_age:
            state = None
            del self._pending[dev]
        if first:
            state = _Pending(port, bytearray(chunk), 2, uplink.f_cnt, now)
        else:
            if prefix is not None:
                continues = state is not None and state.port == port
            else:
                continues = (
                    state is not None and state.port % 10 == port % 10 and state.next_part == port // 10
                )
            if state is None or not continues or not _follows(state.last_f_cnt, uplink.f_cnt):
                self._pending.pop(dev, None)
                raise FragmentLostError(f"FPort {port}: a part before this one was lost; telegram dropped")
            state.data += chunk
            state.next_part += 1
            state.last_f_cnt = uplink.f_cnt
        if len(state.data) > self.max_bytes:
            self._pending.pop(dev, None)
            raise FragmentLostError(f"bridge telegram longer than {self.max_bytes} bytes; dropped")
        if not last:
            self._pending[dev] = state
            self._pending.move_to_end(dev)
            while len(self._pending) > self.max_devices:
                self._pending.popitem(last=False)
            raise FragmentIncompleteError(f"FPort {port}: fragment stored, waiting for the next part")
        self._pending.pop(dev, None)
        whole = bytes(state.data)
        if prefix is None:
            return Reassembled(whole)
        if len(whole) <= prefix:
            raise NotOmsError(f"FPort {port} message shorter than its {prefix}-byte prefix")
        stamp = float(int.from_bytes(whole[:5], "big")) or None
        rssi = -float(whole[5]) if prefix == 6 else None
        return Reassembled(whole[prefix:], stamp, rssi)


# --------------------------------------------------------------------------- frame counters

RESTART_F_CNT = 16
"""A counter this low after a higher one is a device that rejoined or restarted, not a replay."""

MAX_F_CNT = 0xFFFF_FFFF
"""The largest frame counter :meth:`FrameCounters.restore` takes back (LoRaWAN's FCnt has 32 bits)."""

_STORED_DEVICE = re.compile(r"[0-9A-F]{16}|(?=.{3,36}\Z)[a-z0-9](?:-?[a-z0-9])+")
"""A device key :meth:`FrameCounters.restore` takes back: a DevEUI as :func:`.lpwan_uplink.normalize_eui`
gives it, or a The Things Stack device ID (3 to 36 lower-case letters, digits and single inner dashes)."""


class FrameCounters:
    """Last frame counter per DevEUI: duplicates (several gateways) and replays (bounded)."""

    __slots__ = ("_last", "max_devices")

    def __init__(self, max_devices: int = 4096) -> None:
        self._last: OrderedDict[str, int] = OrderedDict()
        self.max_devices = max_devices

    def check(self, dev_eui: str, f_cnt: int | None) -> None:
        """Accept and remember ``f_cnt``, or raise :class:`DuplicateUplinkError` / :class:`ReplayError`."""
        if f_cnt is None:
            return
        last = self._last.get(dev_eui)
        if last is not None:
            if f_cnt == last:
                raise DuplicateUplinkError(f"frame counter {f_cnt} of {dev_eui} again")
            if f_cnt < last and f_cnt >= RESTART_F_CNT:
                raise ReplayError(f"frame counter {f_cnt} of {dev_eui} after {last}")
        self._last[dev_eui] = f_cnt
        self._last.move_to_end(dev_eui)
        self._trim()

    def to_json(self) -> dict[str, int]:
        """A snapshot for storage, least recently heard first (:meth:`restore` takes it back)."""
        return dict(self._last)

    def restore(self, data: object) -> None:
        """Replace the counters with a stored :meth:`to_json` snapshot; anything malformed is dropped.

        Kept: a key in the form :func:`.lpwan_uplink.normalize_eui` gives (16 upper-case hex digits, or a
        The Things Stack device ID) with an integer counter 0 … :data:`MAX_F_CNT`, the last
        :attr:`max_devices` of them.
        """
        self._last.clear()
        if not isinstance(data, dict):
            return
        for dev_eui, f_cnt in data.items():
            if (
                isinstance(dev_eui, str)
                and _STORED_DEVICE.fullmatch(dev_eui)
                and isinstance(f_cnt, int)
                and not isinstance(f_cnt, bool)
                and 0 <= f_cnt <= MAX_F_CNT
            ):
                self._last[dev_eui] = f_cnt
        self._trim()

    def _trim(self) -> None:
        while len(self._last) > self.max_devices:
            self._last.popitem(last=False)


# --------------------------------------------------------------------------- decoding


def synthetic_frame(payload: bytes, mapping: DeviceMapping) -> bytes:
    """A CRC-free wM-Bus frame ``L C M ID Ver Type`` + the TPL-first ``payload``.

    The C field is SND-NR (0x44), or SND-IR (0x46) in the rare case where 0x44 would make
    the bytes look like a frame with CRCs to :func:`~.link.strip_crcs` (so callers that
    detect the frame format read it as intended; a lone CI byte stays ambiguous to detection).
    """
    if len(payload) > 255 - 9:
        raise LengthError(f"a {len(payload)}-byte payload does not fit one wM-Bus frame")
    m = manufacturer_value(mapping.manufacturer) if mapping.manufacturer else 0
    address = m.to_bytes(2, "little") + bytes.fromhex(mapping.meter_id)[::-1]
    for c_field in (0x44, 0x46, 0x47, 0x48):
        raw = (
            bytes((9 + len(payload), c_field))
            + address
            + bytes((mapping.version, mapping.device_type))
            + payload
        )
        try:
            if strip_crcs(raw)[1] == "none":
                return raw
        except OmsError:
            continue
    # Only a lone CI byte gets here: 11 bytes are ambiguous to format detection whatever the C field
    # (see link.strip_crcs). Callers hand the frame on with frame_format "none", as LpwanFrame does.
    return bytes((9 + len(payload), 0x44)) + address + bytes((mapping.version, mapping.device_type)) + payload


@dataclass(frozen=True, slots=True)
class LpwanFrame:
    """The wM-Bus frame an uplink carries, ready for :meth:`.Decoder.decode` (CRC-free unless ``dll``)."""

    raw: bytes
    layout: Layout
    frame_format: FrameFormat | None
    """``"none"`` for synthetic frames; None (detect) for DLL payloads, which may carry CRCs."""
    mapping: DeviceMapping | None = None
    """The DevEUI mapping that applies (it supplied the identity of a TPL-first payload)."""
    bridge: Reassembled | None = None


@dataclass(frozen=True, slots=True)
class Decoded:
    """A decoded uplink: the telegram and how it was carried."""

    telegram: Telegram
    layout: Layout
    frame: bytes
    """The wM-Bus frame that was decoded (with a synthetic DLL for TPL-first payloads)."""
    bridge: Reassembled | None = None


def _without_link(header: Header, mapping: DeviceMapping | None) -> Header:
    """A TPL-first header: no radio link address; the unknown manufacturer stays empty."""
    address = header.address
    if mapping is not None and not mapping.manufacturer and header.ci != 0x72:
        address = Address("", address.id, address.version, address.device_type)
    return replace(header, address=address, link_address=None)


@dataclass(slots=True)
class LpwanFramer:
    """Uplink -> :class:`LpwanFrame`: frame counter, reassembly, sniffing and the DevEUI mapping.

    What a receiver needs to hand frames to an ordinary decoding hub; no decoding itself.
    """

    mapping: dict[str, DeviceMapping] = field(default_factory=dict)
    assembler: FragmentAssembler = field(default_factory=FragmentAssembler)
    counters: FrameCounters | None = field(default_factory=FrameCounters)

    def frame(self, uplink: Uplink, now: float | None = None) -> LpwanFrame:
        """The frame of one uplink; every failure is an :class:`~.errors.OmsError` (typed code)."""
        moment = time.time() if now is None else now
        if self.counters is not None:
            self.counters.check(uplink.dev_eui, uplink.f_cnt)
        payload = uplink.payload
        if not payload:
            raise NotOmsError(f"uplink on FPort {uplink.f_port} without payload")
        port = uplink.f_port
        split = bridge_port(port)
        if port in BRIDGE_FLAG_PORTS or (
            split is not None
            and split[1] > 1
            and (
                (split[0] == 1 and starts_like_dll(payload))
                or (split[0] > 1 and self.assembler.pending(uplink.dev_eui, moment))
                or (split[0] > 1 and sniff(payload) is None)
            )
        ):
            bridge = self.assembler.add(uplink, moment)
            if not looks_like_dll(bridge.telegram):
                raise NotOmsError("the bridge forwarded something that is not a wM-Bus telegram")
            return LpwanFrame(bridge.telegram, "bridge", None, None, bridge)
        mapping = self.mapping.get(uplink.dev_eui)
        layout = sniff(payload)
        if layout == "dll":
            if mapping is not None:
                _check_id(bytes(strip_crcs(payload)[0][4:8]), mapping)
            return LpwanFrame(payload, "dll", None, mapping)
        if layout is None:
            raise NotOmsError(
                f"FPort {port} payload starting 0x{payload[0]:02X} is no OMS layout (TPL, DLL, bridge)"
            )
        if mapping is None and payload[0] != 0x72:
            raise UnmappedDeviceError(
                f"device {uplink.dev_eui} sends OMS without meter identity (CI 0x{payload[0]:02X}): "
                "map its DevEUI to a meter ID"
            )
        if mapping is not None and payload[0] == 0x72:
            _check_id(payload[1:5], mapping)
        return LpwanFrame(synthetic_frame(payload, mapping or _NO_MAPPING), "tpl", "none", mapping)


_NO_MAPPING = DeviceMapping("00000000")
"""Link address of long-header payloads from unmapped devices (the TPL header names the meter)."""


@dataclass(slots=True)
class LpwanDecoder:
    """Uplink -> :class:`Decoded`: :class:`LpwanFramer`, then the decoder."""

    decoder: Decoder = field(default_factory=Decoder)
    mapping: dict[str, DeviceMapping] = field(default_factory=dict)
    assembler: FragmentAssembler = field(default_factory=FragmentAssembler)
    counters: FrameCounters | None = field(default_factory=FrameCounters)
    framer: LpwanFramer = field(init=False)

    def __post_init__(self) -> None:
        self.framer = LpwanFramer(self.mapping, self.assembler, self.counters)

    def decode(self, uplink: Uplink, now: float | None = None) -> Decoded:
        """Decode one uplink; every failure is an :class:`~.errors.OmsError` (typed code)."""
        frame = self.framer.frame(uplink, now)
        mapping = frame.mapping
        try:
            telegram = self.decoder.decode(frame.raw, frame.frame_format)
        except OmsError as err:
            if err.header is not None and frame.layout == "tpl":
                err.header = _without_link(err.header, mapping)
            raise
        header = telegram.header
        if frame.layout == "tpl":
            header = _without_link(header, mapping)
            telegram = replace(telegram, header=header)
        return Decoded(telegram, frame.layout, frame.raw, frame.bridge)


def _check_id(id_bytes: bytes, mapping: DeviceMapping) -> None:
    """A payload that names its meter (DLL A field, TPL long header) must name the mapped one."""
    meter_id = decode_id(id_bytes)
    if meter_id != mapping.meter_id:
        raise MappingMismatchError(
            f"the payload is from meter {meter_id}, the DevEUI is mapped to {mapping.meter_id}"
        )


__all__ = [
    "DeviceMapping",
    "FragmentAssembler",
    "FrameCounters",
    "LpwanDecoder",
    "LpwanFrame",
    "LpwanFramer",
    "parse_mapping",
    "sniff",
]
