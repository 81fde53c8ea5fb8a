"""Application layer: variable data records, EN 13757-3 §6 (DIF/DIFE §6.3, VIF §6.4, data Annex A).

:func:`parse_apl` turns the bytes after the TPL header into :class:`Record` objects. It trusts
no length: anything running past the end raises :class:`LengthError`, reserved codings raise
:class:`MalformedError`; no other exception escapes and every loop advances.
Record headers (DIB+VIB bytes) are resolved once and memoised, so repeated telegrams of a meter
cost little more than reading their data bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields

from .crc import crc16
from .datatypes import (
    LVAR_TABLE,
    decode_bcd,
    decode_float32,
    decode_text,
    decode_timepoint,
)
from .errors import LengthError, MalformedError
from .profile import resolve_profiles
from .record import Function, Record, Value
from .vif import MAX_VIFE, Vib, resolve, split_plain_text

FUNCTIONS: tuple[Function, ...] = ("instantaneous", "maximum", "minimum", "error")
"""DIF bits 5..4, EN 13757-3 §6.3.2."""

DATA_SIZES: tuple[int, ...] = (0, 1, 2, 3, 4, 4, 6, 8, 0, 1, 2, 3, 4, -1, 6, -2)
"""Bytes per DIF data field code (Table 4); −1 LVAR, −2 special function."""

MAX_DIFE = 10
"""EN 13757-3 §6.3.1: at most 10 DIFEs."""

# Ways of reading a record's data.
D_NONE, D_INT, D_UINT, D_FLOAT, D_BCD, D_LVAR, D_TIME, D_BYTES, D_CONTAINER = range(9)

_HEADERS: dict[bytes, Header] = {}
_HEADER_CACHE_MAX = 4096
_SIGNATURES: dict[bytes, int] = {}


@dataclass(frozen=True, slots=True)
class Apl:
    """The decoded application layer of one telegram."""

    records: tuple[Record, ...]
    more_records_follow: bool
    """The records ended with DIF 1F: the meter has more in its next telegram."""
    manufacturer_data: bytes
    """Bytes after DIF 0F/1F."""
    signature: int
    """Format signature: CRC-16 of all DIB+VIB bytes (EN 13757-3 §G.5 / OMS Vol2 §4.4)."""
    truncated: int | None = None
    """``parse_apl(..., partial=True)`` only: offset of an incomplete last record that was dropped."""
    fill: bytes = b""
    """What follows the last record up to DIF 0F/1F or the end (idle fill 2F, readout marker 7F)."""


@dataclass(frozen=True, slots=True)
class Header:
    """A record's DIB and VIB, resolved; everything needed to read its data."""

    dib: bytes
    vib: bytes
    code: int
    """DIF data field code, 0–15."""
    size: int
    decoder: int
    mul: int | float
    div: int
    offset: int | float
    quantity: str
    unit: str | None
    storage: int
    tariff: int
    subunit: int
    function: Function
    modifiers: tuple[str, ...]
    head: bytes
    """DIB + VIB, the record's contribution to the format signature."""
    cacheable: bool = True
    """False for plain-text VIBs, whose split depends on the bytes around them."""


def _decoder(code: int, kind: str) -> int:
    if code in (0, 8):
        return D_NONE
    if kind == "bytes":
        return D_CONTAINER if code == 0x0D else D_BYTES
    if code == 0x0D:
        return D_LVAR
    if code == 5:
        return D_FLOAT
    if code >= 9:
        return D_BCD
    if kind == "datetime" and code in (2, 3, 4, 6):
        return D_TIME
    return D_UINT if kind == "unsigned" else D_INT


def make_header(dib: bytes, vib: bytes, info: Vib, cacheable: bool = True) -> Header:
    """Resolve a DIB (DIF + DIFEs, already delimited) against a resolved VIB."""
    dif = dib[0]
    storage = (dif >> 6) & 1
    tariff = 0
    subunit = 0
    for index in range(1, len(dib)):
        dife = dib[index]
        k = index - 1
        storage |= (dife & 0x0F) << (1 + 4 * k)
        tariff |= ((dife >> 4) & 0x03) << (2 * k)
        subunit |= ((dife >> 6) & 0x01) << k
    code = dif & 0x0F
    exponent = info.exponent
    if exponent >= 0:
        mul: int | float = info.factor * 10**exponent
        div = 1
    else:
        mul = info.factor
        div = 10**-exponent
    return Header(
        dib,
        vib,
        code,
        DATA_SIZES[code],
        _decoder(code, info.kind),
        mul,
        div,
        info.offset,
        info.quantity,
        info.unit,
        storage,
        tariff,
        subunit,
        FUNCTIONS[(dif >> 4) & 0x03],
        info.modifiers,
        dib + vib,
        cacheable,
    )


def read_header(buf: bytes, pos: int, end: int, with_data: bool = True) -> tuple[Header, int]:
    """Parse the DIB+VIB at ``buf[pos]`` (not a special DIF); returns the header and the data offset.

    ``with_data`` False (format frames) skips the plain-text heuristic's room-for-data check.
    """
    dif = buf[pos]
    p = pos + 1
    if dif & 0x80:
        count = 0
        while True:
            if p >= end:
                raise LengthError(f"DIB at offset {pos} runs past the end")
            count += 1
            if count > MAX_DIFE:
                raise MalformedError(f"more than {MAX_DIFE} DIFEs at offset {pos}")
            byte = buf[p]
            p += 1
            if not byte & 0x80:
                break
    if p >= end:
        raise LengthError(f"record at offset {pos} has no VIF")
    vif = buf[p]
    if vif & 0x7F == 0x7C:
        return _plain_text_header(buf, pos, p, end, dif, with_data)
    q = p + 1
    if vif & 0x80:
        count = 0
        while True:
            if q >= end:
                raise LengthError(f"VIB at offset {p} runs past the end")
            count += 1
            if count > MAX_VIFE:
                raise MalformedError(f"more than {MAX_VIFE} VIFEs at offset {p}")
            byte = buf[q]
            q += 1
            if not byte & 0x80:
                break
    key = buf[pos:q]
    header = _HEADERS.get(key)
    if header is None:
        vib = buf[p:q]
        header = make_header(buf[pos:p], vib, resolve(vib))
        if len(_HEADERS) >= _HEADER_CACHE_MAX:
            _HEADERS.clear()
        _HEADERS[key] = header
    return header, q


def _plain_text_header(
    buf: bytes, pos: int, p: int, end: int, dif: int, with_data: bool
) -> tuple[Header, int]:
    size = DATA_SIZES[dif & 0x0F] if with_data else -1
    if size == -1 and with_data:
        size = 1
    text_start, text_end, vife_start, vife_end, vib_end = split_plain_text(buf, p, end, size)
    info = resolve(buf[p : p + 1], decode_text(buf[text_start:text_end]), buf[vife_start:vife_end])
    return make_header(buf[pos:p], buf[p:vib_end], info, cacheable=False), vib_end


def read_value(buf: bytes, p: int, end: int, header: Header) -> tuple[Value, int]:
    """Read and scale the data of ``header`` at ``buf[p]``; returns the value and the next offset."""
    decoder = header.decoder
    size = header.size
    if size < 0:
        if p >= end:
            raise LengthError(f"LVAR byte missing at offset {p}")
        lvar = buf[p]
        p += 1
        if decoder == D_CONTAINER:
            size = lvar
            decoder = D_BYTES
        else:
            entry = LVAR_TABLE[lvar]
            if entry is None:
                raise MalformedError(f"reserved LVAR 0x{lvar:02X} at offset {p - 1}")
            kind, size = entry
            decoder = D_BCD if kind == "bcd" else D_BYTES if kind == "binary" else D_LVAR
            if kind == "negative_bcd":
                stop = p + size
                if stop > end:
                    raise LengthError(f"LVAR data at offset {p} runs past the end")
                raw = decode_bcd(buf[p:stop])
                return (None if raw is None else _scale(-raw, header)), stop
    stop = p + size
    if stop > end:
        raise LengthError(f"data of record at offset {p} runs past the end ({size} bytes needed)")
    if decoder == D_INT:
        return _scale(int.from_bytes(buf[p:stop], "little", signed=True), header), stop
    if decoder == D_NONE:
        return None, stop
    chunk = buf[p:stop]
    if decoder == D_BCD:
        raw = decode_bcd(chunk)
        return (None if raw is None else _scale(raw, header)), stop
    if decoder == D_UINT:
        return int.from_bytes(chunk, "little"), stop
    if decoder == D_FLOAT:
        real = decode_float32(chunk)
        return (None if real is None else _scale(real, header)), stop
    if decoder == D_TIME:
        return decode_timepoint(chunk), stop
    if decoder == D_LVAR:
        return decode_text(chunk), stop
    return chunk, stop


def _scale(raw: int | float, header: Header) -> int | float:
    div = header.div
    value = raw * header.mul if div == 1 else raw * header.mul / div
    offset = header.offset
    return value + offset if offset else value


def signature_of(headers: bytes) -> int:
    """Format signature of concatenated DIB+VIB bytes (CRC-16/EN-13757), memoised."""
    sig = _SIGNATURES.get(headers)
    if sig is None:
        sig = crc16(headers)
        if len(_SIGNATURES) >= _HEADER_CACHE_MAX:
            _SIGNATURES.clear()
        _SIGNATURES[headers] = sig
    return sig


_RECORD_FIELDS = (
    "dib",
    "vib",
    "quantity",
    "value",
    "unit",
    "storage",
    "tariff",
    "subunit",
    "function",
    "modifiers",
    "series",
)
_RECORDS: dict[bytes, Record] = {}
_RECORD_CACHE_MAX = 8192


def _record_builder() -> Callable[[Header, Value], Record]:
    """A Record constructor that skips the frozen dataclass's ``__setattr__``-per-field ``__init__``.

    Same result as ``Record(...)`` at about half the cost (slot descriptors set directly). Falls
    back to the normal constructor if Record's fields ever change.
    """
    if tuple(f.name for f in fields(Record)) != _RECORD_FIELDS or hasattr(Record, "__post_init__"):

        def slow(h: Header, value: Value) -> Record:
            return Record(
                h.dib,
                h.vib,
                h.quantity,
                value,
                h.unit,
                h.storage,
                h.tariff,
                h.subunit,
                h.function,
                h.modifiers,
            )

        return slow
    s_dib, s_vib, s_qty, s_val, s_unit, s_sto, s_tar, s_sub, s_fun, s_mod, s_ser = (
        getattr(Record, name).__set__ for name in _RECORD_FIELDS
    )
    new = object.__new__

    def fast(h: Header, value: Value) -> Record:
        r = new(Record)
        s_dib(r, h.dib)
        s_vib(r, h.vib)
        s_qty(r, h.quantity)
        s_val(r, value)
        s_unit(r, h.unit)
        s_sto(r, h.storage)
        s_tar(r, h.tariff)
        s_sub(r, h.subunit)
        s_fun(r, h.function)
        s_mod(r, h.modifiers)
        s_ser(r, None)  # compact profiles get theirs after the parse (profile.resolve_profiles)
        return r

    return fast


_record = _record_builder()


def msb_first_to_lsb_first(data: bytes | bytearray | memoryview) -> bytes:
    """Records sent MSB first (CI 0x76, EN 13757-3 §6.1) rewritten with LSB-first data fields.

    Each fixed-size data field is byte-reversed; DIB/VIB bytes, LVAR fields and whatever follows
    DIF 0F/1F are kept. A record running past the end is left as is (parse_apl reports it).
    """
    buf = bytearray(data)
    end = len(buf)
    pos = 0
    while pos < end:
        dif = buf[pos]
        if dif & 0x0F == 0x0F:
            if dif in {0x0F, 0x1F}:
                break
            pos += 1
            continue
        try:
            header, p = read_header(bytes(buf), pos, end)
        except (LengthError, MalformedError):
            break
        size = header.size
        if size < 0 or p + size > end:
            break
        buf[p : p + size] = buf[p : p + size][::-1]
        pos = p + size
    return bytes(buf)


_APLS: dict[bytes, Apl] = {}
_APL_CACHE_MAX = 2048


def parse_apl(data: bytes | bytearray | memoryview, partial: bool = False) -> Apl:
    """Parse the data records of an APL (EN 13757-3 §6), from the first DIF to the end of ``data``.

    Idle fillers (2F) and global-readout markers (7F) are skipped anywhere; 0F/1F end the records
    and the rest is manufacturer data. Raises LengthError / MalformedError only. Records are
    immutable, so a record whose bytes were seen before is the same object again, and a whole APL
    seen before (a meter repeating unchanged readings) is the same :class:`Apl` again.

    ``partial`` True: when the *last* record runs past the end of ``data`` (its DIB, VIB or data
    incomplete) and at least one complete record precedes it, the complete records are kept and
    ``Apl.truncated`` gives the offset of the dropped one. Anything else still raises.
    """
    buf = data if type(data) is bytes else bytes(data)
    memo = _APLS.get(buf)
    if memo is not None and (partial or memo.truncated is None):
        return memo
    try:
        apl = _parse_apl(buf, False)
    except LengthError:
        if not partial:
            raise
        apl = _parse_apl(buf, True)
        if not apl.records:
            raise
    if len(_APLS) >= _APL_CACHE_MAX:
        _APLS.clear()
    _APLS[buf] = apl
    return apl


def _parse_apl(buf: bytes, partial: bool) -> Apl:
    """parse_apl's loop; with ``partial`` an incomplete last record ends the records instead."""
    end = len(buf)
    pos = 0
    records: list[Record] = []
    keys: list[bytes] = []
    manufacturer = b""
    more = False
    headers = _HEADERS
    known = _RECORDS
    truncated: int | None = None
    containers = False
    last_end = 0
    marker = end
    while pos < end:
        dif = buf[pos]
        if dif & 0x0F == 0x0F:
            if dif in {47, 127}:
                pos += 1
                continue
            if dif in {15, 31}:
                more = dif == 0x1F
                manufacturer = buf[pos + 1 :]
                marker = pos
                break
            if not buf[pos:].strip(b"\xff"):  # FF bytes up to the end: fill some meters send, not data
                marker = pos
                break
            raise MalformedError(f"reserved special DIF 0x{dif:02X} at offset {pos}")
        try:
            header: Header | None = None
            if pos + 2 <= end and not (dif | buf[pos + 1]) & 0x80:
                p = pos + 2
                header = headers.get(buf[pos:p])
            if header is None:
                header, p = read_header(buf, pos, end)
            size = header.size
            if size >= 0 and header.cacheable:
                stop = p + size
                if stop > end:
                    raise LengthError(
                        f"data of record at offset {pos} runs past the end ({size} bytes needed)"
                    )
                raw = buf[pos:stop]
                record = known.get(raw)
                if record is None:
                    if header.decoder == D_INT:
                        value: Value = _scale(int.from_bytes(buf[p:stop], "little", signed=True), header)
                    else:
                        value = read_value(buf, p, end, header)[0]
                    record = _record(header, value)
                    if len(known) >= _RECORD_CACHE_MAX:
                        known.clear()
                    known[raw] = record
                records.append(record)
                keys.append(header.head)
                pos = last_end = stop
                continue
            value, stop = read_value(buf, p, end, header)
        except LengthError:
            if not partial:
                raise
            truncated = marker = pos
            break
        records.append(_record(header, value))
        keys.append(header.head)
        containers = containers or header.decoder == D_CONTAINER
        pos = last_end = stop
    if containers:  # compact profiles (VIFE 13/1E/1F) resolve against the other records
        resolve_profiles(records)
    fill = buf[last_end:marker] if last_end < marker else b""
    return Apl(tuple(records), more, manufacturer, signature_of(b"".join(keys)), truncated, fill)
