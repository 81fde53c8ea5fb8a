"""Human-readable breakdown of an APL, byte group by byte group (for ``decode --explain``).

Works on malformed data too: it explains up to the failure, then says what went wrong.
"""

from __future__ import annotations

from .apl import FUNCTIONS, Header, read_header, read_value
from .errors import OmsError
from .profile import ELEMENT_SIZES, PROFILE_MODIFIERS, describe_control

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


def explain_apl(data: bytes | bytearray | memoryview) -> list[Line]:
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


def format_explanation(lines: list[Line]) -> str:
    """The lines as text: offset, hex bytes, meaning."""
    return "\n".join(f"{offset:4d}  {chunk.hex(' ').upper():<24}  {text}" for offset, chunk, text in lines)
