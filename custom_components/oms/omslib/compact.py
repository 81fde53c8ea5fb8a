"""Compact frames and format frames, EN 13757-3:2018 Annex G / OMS Vol2 §4.4.

A compact frame (CI 73/79/7B) carries ``signature(2 LE) full-frame CRC(2 LE) data…``: the
record headers are left out and must come from an earlier full frame (or format frame, CI
69/6A/6B: ``length signature(2 LE) DIB/VIB…``) of the same meter type with the same signature.
Some meters (Kamstrup, EFE) send a handful of fixed layouts, listed in :data:`KNOWN_FORMATS`, so
their compact frames decode before any full frame was heard.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from .apl import DATA_SIZES, Apl, parse_apl, read_header, signature_of
from .crc import crc16
from .datatypes import LVAR_TABLE
from .errors import CrcError, LengthError, MalformedError, UnknownFormatError

KeyPrefix = tuple[str, int, int]
"""(manufacturer, version, device type) of the meter whose layouts are cached."""
FormatKey = tuple[str, int, int, int]
"""KeyPrefix + format signature."""

_CONTAINERS = frozenset({bytes([0xFD, 0x3B]), bytes([0xFD, 0x76])})


@dataclass(frozen=True, slots=True)
class Layout:
    """The record headers of a full frame, in order, and how long each record's data is."""

    headers: tuple[bytes, ...]
    """DIB+VIB of each record."""
    sizes: tuple[int, ...]
    """Data bytes per record; −1 LVAR (length byte in the data), −2 LVAR byte count (containers)."""
    tail: bytes = b""
    """``b"\\x0f"``/``b"\\x1f"`` when the full frame ended in manufacturer data (it follows the records)."""

    @property
    def signature(self) -> int:
        """Format signature: CRC-16 over all DIB+VIB bytes."""
        return crc16(b"".join(self.headers))


def full_frame_crc(records: bytes | bytearray | memoryview) -> int:
    """Full-frame CRC: CRC-16 over the complete records (DIB, VIB and data), CI excluded."""
    return crc16(records)


def _size(header: bytes, dib_len: int, code: int) -> int:
    size = DATA_SIZES[code]
    if size == -1 and header[dib_len:] in _CONTAINERS:
        return -2
    return size


def layout_from_headers(headers: tuple[bytes, ...], tail: bytes = b"") -> Layout:
    """A layout from DIB+VIB byte strings (each exactly one record header)."""
    sizes = []
    for head in headers:
        parsed, stop = read_header(head, 0, len(head), with_data=False)
        if stop != len(head):
            raise MalformedError(f"record header {head.hex()} is not one DIB+VIB")
        sizes.append(_size(head, len(parsed.dib), parsed.code))
    return Layout(tuple(headers), tuple(sizes), tail)


def layout_of(apl: Apl) -> Layout:
    """The layout of a parsed full frame."""
    tail = b"\x1f" if apl.more_records_follow else b"\x0f" if apl.manufacturer_data else b""
    heads = tuple(r.dib + r.vib for r in apl.records)
    sizes = tuple(_size(r.dib + r.vib, len(r.dib), r.dib[0] & 0x0F) for r in apl.records)
    return Layout(heads, sizes, tail)


def split_headers(data: bytes | bytearray | memoryview) -> tuple[bytes, ...]:
    """Split a run of record headers (DIB+VIB, no data) as a format frame carries them; 2F skipped."""
    body = bytes(data)
    headers: list[bytes] = []
    pos = 0
    while pos < len(body):
        if body[pos] == 0x2F:
            pos += 1
            continue
        if body[pos] & 0x0F == 0x0F:
            raise MalformedError(f"special DIF 0x{body[pos]:02X} among record headers")
        _, stop = read_header(body, pos, len(body), with_data=False)
        headers.append(body[pos:stop])
        pos = stop
    return tuple(headers)


def parse_format_frame(payload: bytes | bytearray | memoryview) -> tuple[int, Layout]:
    """Parse a format frame's APL ``length signature(2 LE) DIB/VIB…`` (CI 69/6A/6B).

    Raises CrcError when the headers do not hash to the signature.
    """
    buf = bytes(payload)
    if len(buf) < 3:
        raise LengthError("format frame shorter than its length and signature")
    length = buf[0]
    if length < 2 or 1 + length > len(buf):
        raise LengthError(f"format frame length {length} does not fit {len(buf) - 1} bytes")
    signature = buf[1] | buf[2] << 8
    layout = layout_from_headers(split_headers(buf[3 : 1 + length]))
    if layout.signature != signature:
        raise CrcError(f"format frame headers hash to 0x{layout.signature:04X}, not 0x{signature:04X}")
    return signature, layout


class FormatCache:
    """Bounded LRU of layouts keyed by (manufacturer, version, device type, signature)."""

    __slots__ = ("_entries", "max_entries")

    def __init__(self, max_entries: int = 1000) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        self._entries: OrderedDict[FormatKey, Layout] = OrderedDict()

    def learn(self, key_prefix: KeyPrefix, apl: Apl | bytes | bytearray | memoryview) -> int:
        """Remember the layout of a full frame (parsed, or its raw APL bytes); returns its signature."""
        parsed = apl if isinstance(apl, Apl) else parse_apl(apl)
        layout = layout_of(parsed)
        self.store(key_prefix, parsed.signature, layout)
        return parsed.signature

    def learn_format_frame(self, key_prefix: KeyPrefix, payload: bytes | bytearray | memoryview) -> int:
        """Remember the layout announced by a format frame; returns its signature."""
        signature, layout = parse_format_frame(payload)
        self.store(key_prefix, signature, layout)
        return signature

    def store(self, key_prefix: KeyPrefix, signature: int, layout: Layout) -> None:
        """Insert or refresh one layout, evicting the least recently used beyond ``max_entries``."""
        key = (*key_prefix, signature)
        entries = self._entries
        entries[key] = layout
        entries.move_to_end(key)
        while len(entries) > self.max_entries:
            entries.popitem(last=False)

    def get(self, key_prefix: KeyPrefix, signature: int) -> Layout | None:
        """The layout for this meter type and signature, or None; marks it recently used."""
        key = (*key_prefix, signature)
        layout = self._entries.get(key)
        if layout is not None:
            self._entries.move_to_end(key)
            return layout
        return known_layout(key_prefix[0], signature)  # a format these meters are known to send

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries


def expand_compact(payload: bytes | bytearray | memoryview, layout: Layout) -> tuple[bytes, int]:
    """Rebuild full records from compact data (after signature and CRC); returns them and the CRC sent."""
    buf = bytes(payload)
    if len(buf) < 4:
        raise LengthError("compact frame shorter than its signature and CRC")
    sent_crc = buf[2] | buf[3] << 8
    out = bytearray()
    pos = 4
    end = len(buf)
    for head, layout_size in zip(layout.headers, layout.sizes, strict=True):
        out += head
        size = layout_size
        if size < 0:
            if pos >= end:
                raise LengthError("compact frame ends before an LVAR byte")
            lvar = buf[pos]
            if size == -2:
                size = lvar
            else:
                entry = LVAR_TABLE[lvar]
                if entry is None:
                    raise MalformedError(f"reserved LVAR 0x{lvar:02X} in compact frame")
                size = entry[1]
            out.append(lvar)
            pos += 1
        stop = pos + size
        if stop > end:
            raise LengthError(f"compact frame ends inside its data ({stop - end} bytes missing)")
        out += buf[pos:stop]
        pos = stop
    rest = buf[pos:]
    if layout.tail:
        out += layout.tail + rest
    elif rest.strip(b"\x2f"):
        raise LengthError(f"compact frame has {len(rest)} bytes more than its layout")
    return bytes(out), sent_crc


def parse_compact(payload: bytes | bytearray | memoryview, key_prefix: KeyPrefix, cache: FormatCache) -> Apl:
    """Decode a compact frame's APL ``signature(2 LE) full-frame CRC(2 LE) data…`` via ``cache``.

    Raises UnknownFormatError when no full frame with this signature was seen (never guesses),
    CrcError when the rebuilt records do not match the full-frame CRC.
    """
    if len(payload) < 4:
        raise LengthError("compact frame shorter than its signature and CRC")
    signature = payload[0] | payload[1] << 8
    layout = cache.get(key_prefix, signature)
    if layout is None:
        manufacturer, version, device_type = key_prefix
        raise UnknownFormatError(
            f"compact frame with format signature 0x{signature:04X}: no full frame of "
            f"{manufacturer} version {version} type 0x{device_type:02X} with this layout received yet"
        )
    records, sent_crc = expand_compact(payload, layout)
    computed = full_frame_crc(records)
    if computed != sent_crc:
        raise CrcError(f"compact frame full-frame CRC 0x{computed:04X} does not match 0x{sent_crc:04X}")
    return parse_apl(records)


# -- layouts known meters send ------------------------------------------------------

KNOWN_FORMATS: dict[str, tuple[str, ...]] = {
    "KAM": (
        # water (Multical 21, flowIQ)
        "02FF2004134413615B6167",
        "02FF20041392013BA1015B8101E7FF0F",
        "04FF234413523B06FF1B426C61675167023B04138101E7FF0F",
        "02FF2004134413426C523B615B616751678101E7FF0F06FF1B",
        "02FF2004134413A1015B8101E7FF0F",
        "02FF2004134413615B5167",
        "02FF2004134413",
        "02FF200413523B",
        "04FF2304134413426C023B92013BA2013B06FF1BA1015B91015BA10167",
        # heat / cooling (Multical 302/403/603/803)
        "02F9FF15040604EEFF0704EEFF0804148440148480401402FD17026C426C44064414C44014C4804014043B0259025D",
        "030643060314426C022D01FF21",
        "030E430E0313426C022D01FF21",
        "040604FF0704FF080414043B0259025D04FF22026C44064414426C",
        "040F04FF0704FF08041484401484804014043B0259025D142D84100F84200F04FF22026C440F4414C44014C4804014426C",
        "0406041404FF0704FF080259025D023B02FF22026C44064414426C",
        # pressure, electricity
        "22691269026905FF0905FF0A02FD17",
        "040404843C042B04AB3C",
        "040504FB827504853C04FB82F53C01FD17",
    ),
    "EFE": (
        "426C441301FD17840113C40113840213C40213840313C40313840413C40413840513C40513840613C40613840713C40713"
        "840813046D0413",
    ),
}
"""Manufacturer -> the DIF/VIF sequences its meters send (whatever version and device type)."""
KNOWN_FORMATS["KAW"] = KNOWN_FORMATS["KAM"]


def _table() -> dict[tuple[str, int], Layout]:
    out: dict[tuple[str, int], Layout] = {}
    for manufacturer, formats in KNOWN_FORMATS.items():
        for hexed in formats:
            heads = bytes.fromhex(hexed)
            out[(manufacturer, signature_of(heads))] = layout_from_headers(split_headers(heads))
    return out


_LAYOUTS = _table()


def known_layout(manufacturer: str, signature: int) -> Layout | None:
    """The layout of a known format signature of this manufacturer, or None."""
    return _LAYOUTS.get((manufacturer, signature))
