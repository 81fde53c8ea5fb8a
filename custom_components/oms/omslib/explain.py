"""``decode --explain``: the byte-by-byte breakdown of a telegram, layer by layer.

:func:`explain` returns (title, rows) sections for the wired or wireless link layer, ELL, AFL,
TPL and APL; :func:`explain_one` renders them with the decode result. The APL is explained byte
group by byte group (:func:`apl_lines`); on malformed data that walk explains up to the failure and
then says what went wrong; the plain boundary walker labelled with the decoded records takes over
when that walk raises or returns nothing. A layer module may supply its own ``explain_<layer>``
(see :func:`_provider`).
Block CRCs are removed with :mod:`.link`; JSON shapes come from :mod:`.jsonout`.

Over 500 lines because it is one walk over a telegram with one explainer per layer and the tables
they name things from (CI names, C fields); each layer's part is short, and splitting them into
modules would only add imports between pieces that are always used together, and only here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
import importlib
from typing import TYPE_CHECKING

from .apl import FUNCTIONS, Header, read_header, read_value
from .errors import CrcError, LengthError, OmsError
from .jsonout import DecoderLike, JsonObj, error_json, json_value, telegram_json
from .link import BlockFormat, decode_id, format_a_length, manufacturer_code, strip_block_crcs
from .profile import ELEMENT_SIZES, PROFILE_MODIFIERS, describe_control
from .tpl import CI_NAMES

if TYPE_CHECKING:
    from .record import Record
    from .telegram import Telegram

Explanation = list[tuple[int, bytes, str]]
"""(offset, bytes, meaning) rows; offsets are relative to the data handed to the explainer."""
Line = tuple[int, bytes, str]
"""(offset in the APL, the bytes, what they mean)."""

_CODINGS = (
    "no data",
    "int8",
    "int16",
    "int24",
    "int32",
    "real32",
    "int48",
    "int64",
    "selection for readout",
    "2-digit BCD",
    "4-digit BCD",
    "6-digit BCD",
    "8-digit BCD",
    "LVAR",
    "12-digit BCD",
    "special",
)
_SPECIAL = {
    0x0F: "manufacturer-specific data follows",
    0x1F: "manufacturer-specific data follows; more records in the next telegram",
    0x2F: "idle filler",
    0x7F: "global readout request",
}


def _dif_text(dif: int) -> str:
    return f"DIF: {_CODINGS[dif & 0x0F]}, {FUNCTIONS[(dif >> 4) & 3]}, storage bit {(dif >> 6) & 1}" + (
        ", DIFE follows" if dif & 0x80 else ""
    )


def _dife_text(dife: int, index: int) -> str:
    return (
        f"DIFE {index}: storage bits {dife & 0x0F}, tariff bits {(dife >> 4) & 3}, "
        f"subunit bit {(dife >> 6) & 1}" + (", DIFE follows" if dife & 0x80 else "")
    )


def _vib_text(h: Header) -> str:
    parts = [f"VIB: {h.quantity}"]
    if h.unit:
        parts.append(f"in {h.unit}")
    if h.div != 1 or h.mul != 1:
        parts.append(f"x{h.mul}" + (f"/{h.div}" if h.div != 1 else ""))
    if h.modifiers:
        parts.append("[" + ", ".join(h.modifiers) + "]")
    return " ".join(parts)


def apl_lines(data: bytes | bytearray | memoryview) -> list[Line]:
    """Explain every byte group of an APL; stops with an "error: …" line at the first failure."""
    buf = bytes(data)
    end = len(buf)
    out: list[Line] = []
    pos = 0
    while pos < end:
        dif = buf[pos]
        if dif & 0x0F == 0x0F:
            if dif in (0x0F, 0x1F):
                out.append((pos, buf[pos : pos + 1], "DIF: " + _SPECIAL[dif]))
                if pos + 1 < end:
                    out.append((pos + 1, buf[pos + 1 :], "manufacturer-specific data"))
                return out
            if dif not in _SPECIAL:
                out.append((pos, buf[pos:], f"error: reserved special DIF 0x{dif:02X}"))
                return out
            out.append((pos, buf[pos : pos + 1], "DIF: " + _SPECIAL[dif]))
            pos += 1
            continue
        try:
            header, p = read_header(buf, pos, end)
            record = f"storage {header.storage}, tariff {header.tariff}, subunit {header.subunit}"
            dib_end = pos + len(header.dib)
            out.append((pos, buf[pos : pos + 1], _dif_text(dif)))
            for index in range(pos + 1, dib_end):
                out.append((index, buf[index : index + 1], _dife_text(buf[index], index - pos)))
            out.append((dib_end, header.vib, _vib_text(header)))
            value, stop = read_value(buf, p, end, header)
        except OmsError as err:
            out.append((pos, buf[pos:], f"error: {err.message}"))
            return out
        unit = f" {header.unit}" if header.unit and not isinstance(value, (str, bytes)) else ""
        profile = header.size < 0 and PROFILE_MODIFIERS.intersection(header.modifiers)
        if profile and isinstance(value, bytes) and len(value) >= 2:
            out.extend(_profile_lines(p, buf[p:stop], record))
            pos = stop
            continue
        shown = value.hex(" ").upper() if isinstance(value, bytes) else repr(value)
        out.append((p, buf[p:stop], f"data: {shown}{unit} ({record})"))
        pos = stop
    return out


def _profile_lines(p: int, data: bytes, record: str) -> list[Line]:
    """A compact profile's data (EN 13757-3 Annex F.2): LVAR, control and spacing bytes, elements."""
    control, spacing = data[1], data[2]
    size = ELEMENT_SIZES.get(control & 0x0F, (0, ""))[0]
    elements = data[3:]
    count = f"{len(elements) // size} elements" if size else "elements"
    return [
        (p, data[:1], f"LVAR: {data[0]} bytes of compact profile ({record})"),
        (p + 1, data[1:3], describe_control(control, spacing)),
        (p + 3, elements, f"profile {count} (the series is in the decoded record)"),
    ]


def format_lines(lines: list[Line]) -> str:
    """The lines as text: offset, hex bytes, meaning."""
    return "\n".join(f"{offset:4d}  {chunk.hex(' ').upper():<24}  {text}" for offset, chunk, text in lines)


_CI_NAMES: dict[int, str] = {
    **CI_NAMES,
    0x66: "selected application, no header",
    0x67: "selected application, short header",
    0x68: "selected application, long header",
    0x6E: "application error, short header",
    0x6F: "application error, long header",
    0x70: "application error, no header",
    0x71: "alarm, no header",
    0x74: "alarm, short header",
    0x75: "alarm, long header",
    0x7C: "DLMS, long header",
    0x7D: "DLMS, short header",
    0x7E: "OBIS, long header",
    0x7F: "OBIS, short header",
    0x51: "command, no header",
    0x5A: "command, short header",
    0x5B: "command, long header",
    0x8C: "ELL, short",
    0x8D: "ELL, with encryption fields",
    0x8E: "ELL, with receiver address",
    0x8F: "ELL, receiver address and encryption",
    0x90: "AFL",
}
"""The transport layer's CI names (:data:`.tpl.CI_NAMES`) and the CIs only explained here."""
_LONG = frozenset({0x53, 0x55, 0x5B, 0x60, 0x64, 0x68, 0x6B, 0x6F, 0x72, 0x73, 0x75, 0x7C, 0x7E, 0x80, 0x8B})
_SHORT = frozenset({0x5A, 0x61, 0x65, 0x67, 0x6A, 0x6E, 0x74, 0x7A, 0x7B, 0x7D, 0x7F, 0x8A})
_C_FIELDS = {0x44: "SND-NR", 0x46: "SND-IR", 0x47: "ACC-NR", 0x48: "ACC-DMD", 0x08: "RSP-UD", 0x40: "SND-NKE"}
_DATA_LEN = (0, 1, 2, 3, 4, 4, 6, 8, 0, 1, 2, 3, 4, -1, 6, 0)


def _strip_crcs(raw: bytes) -> tuple[bytes, str]:
    """wM-Bus: remove format A or B block CRCs when they check out (bytes after the frame stay)."""
    if len(raw) < 12:
        return raw, "no CRCs"
    candidates: tuple[tuple[BlockFormat, int, str], ...] = (
        ("A", format_a_length(raw[0]), "frame format A, block CRCs removed"),
        ("B", raw[0] + 1, "frame format B, CRCs removed (L adjusted)"),
    )
    for fmt, size, note in candidates:
        try:
            return strip_block_crcs(raw[:size], fmt) + raw[size:], note
        except (CrcError, LengthError):
            continue
    return raw, "no CRCs"


def _explain_address(base: int, b: bytes, long_order: bool) -> Explanation:
    """M(2) ID(4) ver type (wireless DLL order) or ID(4) M(2) ver type (long TPL / wired order)."""
    if long_order:
        id_at, m_at = 0, 4
    else:
        m_at, id_at = 0, 2
    return [
        (base + id_at, b[id_at : id_at + 4], f"ID {decode_id(b[id_at : id_at + 4])}"),
        (base + m_at, b[m_at : m_at + 2], f"manufacturer {manufacturer_code(b[m_at] | b[m_at + 1] << 8)}"),
        (base + 6, b[6:7], f"version {b[6]}"),
        (base + 7, b[7:8], f"device type 0x{b[7]:02X} ({_device_name(b[7])})"),
    ]


def _device_name(code: int) -> str:
    from .devices import device_type_name

    return device_type_name(code)


def _explain_cf(base: int, d: bytes, pos: int) -> tuple[Explanation, int, int, int]:
    """CF (and mode-7 CFE/counter/key version); returns rows, new pos, mode, encrypted length."""
    rows: Explanation = []
    cf = d[pos] | d[pos + 1] << 8
    mode = (cf >> 8) & 0x1F
    if mode == 13:
        enc_len = cf & 0xFF
        rows.append((base + pos, d[pos : pos + 2], f"CF 0x{cf:04X}: security mode 13 (TLS), {enc_len} bytes"))
        return rows, pos + 2, mode, enc_len
    blocks = (cf >> 4) & 0x0F
    if mode == 7:
        rows.append(
            (
                base + pos,
                d[pos : pos + 2],
                f"CF 0x{cf:04X}: security mode 7, {blocks} encrypted blocks, content {cf >> 14}, "
                f"Z (counter) {(cf >> 13) & 1}",
            )
        )
        pos += 2
        if pos < len(d):
            cfe = d[pos]
            rows.append(
                (base + pos, d[pos : pos + 1], f"CFE 0x{cfe:02X}: KDF {(cfe >> 4) & 3}, key ID {cfe & 0x0F}")
            )
            pos += 1
            if (cf >> 13) & 1 and pos + 4 <= len(d):
                ctr = int.from_bytes(d[pos : pos + 4], "little")
                rows.append((base + pos, d[pos : pos + 4], f"TPL counter {ctr}"))
                pos += 4
            if cfe & 0x40 and pos < len(d):
                rows.append((base + pos, d[pos : pos + 1], f"key version {d[pos]}"))
                pos += 1
        return rows, pos, mode, 16 * blocks
    flags = ", ".join(
        name
        for bit, name in ((15, "bidirectional"), (14, "accessibility"), (13, "synchronous"))
        if cf >> bit & 1
    )
    rows.append(
        (
            base + pos,
            d[pos : pos + 2],
            f"CF 0x{cf:04X}: security mode {mode}"
            + (f", {blocks} encrypted blocks" if mode else "")
            + (f", {flags}" if flags else ""),
        )
    )
    return rows, pos + 2, mode, 16 * blocks if mode else 0


def explain_tpl(d: bytes, base: int = 0) -> tuple[Explanation, int, int, int]:
    """TPL header from the CI byte; returns rows, APL offset, security mode, encrypted length."""
    rows: Explanation = []
    ci = d[0]
    rows.append((base, d[:1], f"CI 0x{ci:02X}: {_CI_NAMES.get(ci, 'transport layer')}"))
    pos = 1
    if ci in _LONG and len(d) >= 13:
        rows += _explain_address(base + 1, d[1:9], long_order=True)
        pos = 9
    if (ci in _LONG or ci in _SHORT) and pos + 4 <= len(d):
        rows.append((base + pos, d[pos : pos + 1], f"access number {d[pos]}"))
        st = d[pos + 1]
        app = ("ok", "busy", "error", "alarm")[st & 3]
        rows.append((base + pos + 1, d[pos + 1 : pos + 2], f"status 0x{st:02X} (application {app})"))
        cf_rows, pos, mode, enc = _explain_cf(base, d, pos + 2)
        rows += cf_rows
        return rows, pos, mode, enc
    return rows, pos, 0, 0


_ELL_ENC = {0: "none", 1: "AES-128-CTR"}


def explain_ell(d: bytes, base: int = 0) -> tuple[Explanation, int, bool]:
    """ELL (CI 8C–8F); returns rows, offset after the ELL header and whether it is AES-CTR encrypted."""
    ci = d[0]
    rows: Explanation = [(base, d[:1], f"CI 0x{ci:02X}: {_CI_NAMES[ci]}")]
    if len(d) < 3:
        return rows, len(d), False
    rows.append((base + 1, d[1:2], f"CC 0x{d[1]:02X} (communication control)"))
    rows.append((base + 2, d[2:3], f"access number {d[2]}"))
    pos = 3
    if ci in (0x8E, 0x8F) and len(d) >= pos + 8:
        rows += [
            (r[0], r[1], "receiver " + r[2]) for r in _explain_address(base + pos, d[pos : pos + 8], False)
        ]
        pos += 8
    encrypted = False
    if ci in (0x8D, 0x8F) and len(d) >= pos + 6:
        sn = int.from_bytes(d[pos : pos + 4], "little")
        enc = sn >> 29
        encrypted = enc == 1
        rows.append(
            (
                base + pos,
                d[pos : pos + 4],
                f"SN: encryption {enc} ({_ELL_ENC.get(enc, 'reserved')}), "
                f"time {(sn >> 4) & 0x1FFFFFF} min, session {sn & 15}",
            )
        )
        pos += 4
        rows.append((base + pos, d[pos : pos + 2], "payload CRC" + (" (encrypted)" if encrypted else "")))
        pos += 2
    return rows, pos, encrypted


def explain_afl(d: bytes, base: int = 0) -> tuple[Explanation, int]:
    """AFL (CI 90); returns rows and the offset after it."""
    rows: Explanation = [(base, d[:1], "CI 0x90: AFL (authentication and fragmentation layer)")]
    if len(d) < 4:
        return rows, len(d)
    afll = d[1]
    end = min(len(d), 2 + afll)
    rows.append((base + 1, d[1:2], f"AFLL {afll}"))
    fcl = d[2] | d[3] << 8
    parts = [n for bit, n in ((13, "MCL"), (12, "ML"), (11, "MCR"), (10, "MAC"), (9, "KI")) if fcl >> bit & 1]
    rows.append(
        (
            base + 2,
            d[2:4],
            f"FCL 0x{fcl:04X}: fragment {fcl & 0xFF}, more fragments {fcl >> 14 & 1}, present: "
            + (", ".join(parts) or "none"),
        )
    )
    pos = 4
    mac_len = 0
    if fcl >> 13 & 1 and pos < end:
        mcl = d[pos]
        at = mcl & 0x0F
        mac_len = {3: 2, 4: 4, 5: 8, 6: 12, 7: 16, 8: 12, 9: 16}.get(at, 0)
        rows.append((base + pos, d[pos : pos + 1], f"MCL 0x{mcl:02X}: AT {at} ({mac_len}-byte MAC)"))
        pos += 1
    if fcl >> 9 & 1 and pos + 2 <= end:
        ki = d[pos] | d[pos + 1] << 8
        rows.append(
            (base + pos, d[pos : pos + 2], f"KI: key version {ki >> 8}, KDF {ki >> 4 & 3}, key ID {ki & 15}")
        )
        pos += 2
    if fcl >> 11 & 1 and pos + 4 <= end:
        rows.append(
            (
                base + pos,
                d[pos : pos + 4],
                f"MCR (message counter) {int.from_bytes(d[pos : pos + 4], 'little')}",
            )
        )
        pos += 4
    if fcl >> 10 & 1 and mac_len and pos + mac_len <= end:
        rows.append((base + pos, d[pos : pos + mac_len], "MAC (AES-CMAC)"))
        pos += mac_len
    if fcl >> 12 & 1 and pos + 2 <= end:
        rows.append((base + pos, d[pos : pos + 2], f"ML {d[pos] | d[pos + 1] << 8}"))
        pos += 2
    return rows, end


def _builtin_apl(d: bytes, base: int = 0) -> Explanation:
    """Record boundaries (DIF/DIFE, VIF/VIFE, data); the meaning comes from the decoded records."""
    rows: Explanation = []
    pos, n = 0, len(d)
    while pos < n:
        dif = d[pos]
        if dif == 0x2F:
            start = pos
            while pos < n and d[pos] == 0x2F:
                pos += 1
            rows.append((base + start, d[start:pos], "idle filler 2F"))
            continue
        if dif in (0x0F, 0x1F):
            rows.append((base + pos, d[pos : pos + 1], f"DIF 0x{dif:02X}: manufacturer data follows"))
            if pos + 1 < n:
                rows.append((base + pos + 1, d[pos + 1 :], "manufacturer data"))
            break
        start = pos
        pos += 1
        while d[pos - 1] & 0x80 and pos < n:
            pos += 1
        rows.append((base + start, d[start:pos], f"DIB (data field {dif & 0x0F:X})"))
        if pos >= n:
            break
        vstart = pos
        vif = d[pos]
        pos += 1
        while d[pos - 1] & 0x80 and pos < n:
            pos += 1
        if vif & 0x7F == 0x7C and pos < n:  # plain-text VIF: LVAR + ASCII after the VIF (libmbus order)
            length = d[pos]
            pos = min(n, pos + 1 + length)
        rows.append((base + vstart, d[vstart:pos], "VIB"))
        size = _DATA_LEN[dif & 0x0F]
        if size < 0 and pos < n:  # LVAR
            lvar = d[pos]
            size = 1 + (
                lvar
                if lvar < 0xC0
                else lvar & 0x0F
                if lvar < 0xE0
                else lvar - 0xE0
                if lvar < 0xF0
                else 4 * (lvar - 0xEC)
                if lvar < 0xF5
                else 48
                if lvar == 0xF5
                else 64
            )
        size = max(size, 0)
        rows.append((base + pos, d[pos : pos + size], "data"))
        pos += size
    return rows


_BUILTIN_PROVIDERS: dict[str, Callable[[bytes], Explanation]] = {"apl": apl_lines}
"""Layer explainers of this module that replace the boundary walker (the APL, record by record)."""


def _provider(layer: str) -> Callable[[bytes], Explanation] | None:
    """The explainer of a layer: ``explain_<layer>(data) -> [(offset, bytes, text)]`` of the layer
    module when it defines one (offsets relative to ``data``, which starts at that layer's first
    byte), else this module's own (:data:`_BUILTIN_PROVIDERS`)."""
    try:
        mod = importlib.import_module(f"{__package__}.{layer}")
    except ImportError:
        mod = None
    func = getattr(mod, f"explain_{layer}", None)
    if callable(func):
        return func  # type: ignore[no-any-return]
    return _BUILTIN_PROVIDERS.get(layer)


def _override(layer: str, d: bytes, base: int, rows: Explanation) -> Explanation:
    """The layer module's own explanation when it has one and it works, else ``rows``."""
    func = _provider(layer)
    if func is None:
        return rows
    try:
        return [(base + int(off), bytes(b), str(text)) for off, b, text in func(d)]
    except Exception:  # a layer's explainer must not stop --explain
        return rows


def explain_apl(d: bytes, base: int = 0, records: Sequence[Record] = ()) -> Explanation:
    """Records: from ``apl.explain_apl`` when available, else the built-in boundary walker."""
    if _provider("apl") is not None:
        rows = _override("apl", d, base, [])
        if rows:
            return rows
    rows = _builtin_apl(d, base)
    # Label data rows with the decoded records, in order.
    it = iter(records)
    labelled: Explanation = []
    for off, b, kind in rows:
        text = kind
        if kind == "data":
            rec = next(it, None)
            if rec is not None:
                unit = f" {rec.unit}" if rec.unit else ""
                extra = []
                if rec.storage:
                    extra.append(f"storage {rec.storage}")
                if rec.tariff:
                    extra.append(f"tariff {rec.tariff}")
                if rec.subunit:
                    extra.append(f"subunit {rec.subunit}")
                if rec.function != "instantaneous":
                    extra.append(rec.function)
                more = f" ({', '.join(extra)})" if extra else ""
                text = f"{rec.quantity} = {json_value(rec.value)}{unit}{more}"
        labelled.append((off, b, text))
    return labelled


def _plaintext_of(tg: Telegram | None) -> bytes | None:
    if tg is None:
        return None
    for name in ("apl", "plaintext", "decrypted_payload", "payload"):
        value = tg.extra.get(name)
        if isinstance(value, bytes | bytearray):
            return bytes(value)
    return None


def explain(raw: bytes, tg: Telegram | None, err: OmsError | None) -> list[tuple[str, Explanation]]:
    """Per-layer explanation sections of one telegram: (title, rows)."""
    sections: list[tuple[str, Explanation]] = []
    records: Sequence[Record] = tg.records if tg is not None else ()
    n = len(raw)
    if n == 1 and raw[0] == 0xE5:
        return [("link (wired M-Bus)", [(0, raw, "ACK (single character E5)")])]
    if n == 5 and raw[0] == 0x10:
        return [
            (
                "link (wired M-Bus short frame)",
                [
                    (0, raw[:1], "start 10"),
                    (1, raw[1:2], f"C 0x{raw[1]:02X}"),
                    (2, raw[2:3], f"A {raw[2]}"),
                    (3, raw[3:4], "checksum"),
                    (4, raw[4:5], "stop 16"),
                ],
            )
        ]
    if n >= 9 and raw[0] == 0x68 and raw[3] == 0x68:
        length = raw[1]
        end = min(n - 2, 4 + length)
        link: Explanation = [
            (0, raw[:1], "start 68"),
            (1, raw[1:3], f"L {length} (twice)"),
            (3, raw[3:4], "start 68"),
            (4, raw[4:5], f"C 0x{raw[4]:02X} ({_C_FIELDS.get(raw[4] & 0xCF, 'control')})"),
            (5, raw[5:6], f"A {raw[5]} (primary address)"),
        ]
        sections.append(("link (wired M-Bus long frame)", link))
        _explain_upper(raw[:end], 6, sections, tg, records)
        _explain_driver(sections, tg)
        sections.append(
            (
                "link trailer",
                [(end, raw[end : end + 1], "checksum"), (end + 1, raw[end + 1 : end + 2], "stop 16")],
            )
        )
        return sections
    if n < 11:
        sections.append(("link", [(0, raw, f"{n} bytes: too short for a telegram")]))
        return sections
    data, crc_note = _strip_crcs(raw)
    link = [
        (0, data[:1], f"L {data[0]} ({crc_note}; offsets below are after CRC removal)"),
        (1, data[1:2], f"C 0x{data[1]:02X} ({_C_FIELDS.get(data[1], 'control')})"),
        *_explain_address(2, data[2:10], long_order=False),
    ]
    sections.append(("link (wM-Bus DLL)", link))
    end = min(len(data), data[0] + 1)
    if end < len(data):
        sections.append(("trailing bytes", [(end, data[end:], "beyond L (ignored)")]))
    _explain_upper(data[:end], 10, sections, tg, records)
    _explain_driver(sections, tg)
    return sections


def _explain_driver(sections: list[tuple[str, Explanation]], tg: Telegram | None) -> None:
    """The byte layout of the manufacturer driver that read this telegram (omslib/drivers)."""
    from .drivers import DRIVERS  # only --explain needs it

    name = tg.extra.get("driver") if tg is not None else None
    driver = next((d for d in DRIVERS if d.name == name), None)
    if driver is not None:
        lines = [line for line in driver.description.splitlines() if line.strip()]
        sections.append((f"manufacturer driver {driver.name}", [(0, b"", line) for line in lines]))


def _explain_upper(
    d: bytes,
    pos: int,
    sections: list[tuple[str, Explanation]],
    tg: Telegram | None,
    records: Sequence[Record],
) -> None:
    if pos >= len(d):
        return
    ci = d[pos]
    if 0x8C <= ci <= 0x8F:
        rows, after, encrypted = explain_ell(d[pos:], pos)
        sections.append(("ELL (extended link layer)", _override("ell", d[pos : pos + after], pos, rows)))
        pos += after
        if encrypted:
            plain = _plaintext_of(tg) if tg is not None and tg.decrypted else None
            if plain is None:
                sections.append(("ELL payload", [(pos, d[pos:], "AES-128-CTR encrypted payload")]))
                if tg is not None and records:
                    sections.append(("APL (application layer, decrypted)", _records_only(records)))
                return
        if pos >= len(d):
            return
        ci = d[pos]
    if ci == 0x90:
        rows, after = explain_afl(d[pos:], pos)
        sections.append(
            (
                "AFL (authentication and fragmentation layer)",
                _override("afl", d[pos : pos + after], pos, rows),
            )
        )
        pos += after
        if pos >= len(d):
            return
        ci = d[pos]
    if 0xA0 <= ci <= 0xB7:
        sections.append(
            ("TPL (transport layer)", [(pos, d[pos : pos + 1], f"CI 0x{ci:02X}: manufacturer specific")])
        )
        sections.append(("APL (manufacturer specific)", [(pos + 1, d[pos + 1 :], "manufacturer data")]))
        return
    rows, apl_at, mode, enc_len = explain_tpl(d[pos:], pos)
    sections.append(("TPL (transport layer)", _override("tpl", d[pos : pos + apl_at], pos, rows)))
    start = pos + apl_at
    if start >= len(d):
        return
    if mode == 0:
        sections.append(("APL (application layer)", explain_apl(d[start:], start, records)))
        return
    enc_end = min(len(d), start + enc_len)
    plain = _plaintext_of(tg) if tg is not None and tg.decrypted else None
    if plain is not None:
        sections.append(("APL (application layer, decrypted)", explain_apl(plain, start, records)))
        return
    state = "decrypted by the decoder" if tg is not None and tg.decrypted else "not decrypted"
    sections.append(("encrypted", [(start, d[start:enc_end], f"security mode {mode} ciphertext ({state})")]))
    if enc_end < len(d):
        sections.append(("APL (unencrypted part)", [(enc_end, d[enc_end:], "plaintext records")]))
    if tg is not None and records:
        sections.append(("APL (application layer, decoded records)", _records_only(records)))


def _records_only(records: Sequence[Record]) -> Explanation:
    rows: Explanation = []
    for rec in records:
        unit = f" {rec.unit}" if rec.unit else ""
        rows.append(
            (-1, rec.dib + rec.vib, f"{rec.quantity} = {json_value(rec.value)}{unit} (storage {rec.storage})")
        )
    return rows


def format_explanation(
    label: str, raw: bytes, sections: list[tuple[str, Explanation]], result: JsonObj
) -> str:
    """Text rendering of :func:`explain` sections plus the decode result."""
    lines = [f"# {label}: {len(raw)} bytes"]
    for title, rows in sections:
        lines.append(f"== {title}")
        for off, b, text in rows:
            hexes = b.hex(" ").upper()
            if len(hexes) > 47:
                hexes = hexes[:44] + "..."
            where = "    " if off < 0 else f"{off:04d}"
            lines.append(f"  {where}  {hexes:<47}  {text}")
    err = result["error"]
    if err is not None:
        lines.append(f"== result: error {err['code']}: {err['message']}")
    else:
        lines.append(
            f"== result: ok, {result['manufacturer']} {result['id']} {result['medium']}, "
            f"{len(result['records'])} records"
            + (", decrypted" if result["decrypted"] else "")
            + (", authenticated" if result["authenticated"] else "")
        )
    return "\n".join(lines) + "\n"


def explain_one(decoder: DecoderLike, raw: bytes, label: str, scrub: Callable[[str], str] = str) -> str:
    tg: Telegram | None = None
    err: OmsError | None = None
    try:
        tg = decoder.decode(raw)
        result = telegram_json(tg)
    except OmsError as e:
        err = e
        result = error_json(e.code, scrub(e.message), e.header)
    except Exception as e:
        result = error_json("internal", scrub(f"{type(e).__name__}: {e}"))
    try:
        sections = explain(raw, tg, err)
    except Exception as e:  # explaining garbage must not crash
        sections = [("explain", [(0, b"", f"cannot explain: {type(e).__name__}")])]
    if err is not None:
        sections = [(t, [(o, b, scrub(x)) for o, b, x in rows]) for t, rows in sections]
    return format_explanation(label, raw, sections, result)
