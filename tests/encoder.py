"""Test-only OMS / M-Bus telegram ENCODER (EN 13757-2/-3/-4/-7, OMS Vol2).

Builds telegrams from the standard's facts (see ``../shared/protocol/OMS.md``) so the
decoder can be checked by round trips. It is written independently of the library:
it has its own CRC, BCD, date and crypto code and imports nothing from ``omslib``.

Layers, innermost first::

    record(...) / fill        -> APL bytes (``apl``)
    tpl_* + security           -> TPL bytes starting at the TPL CI
    afl(...)                   -> CI 0x90 in front of the TPL (mode 7)
    ell(...)                   -> CI 0x8C..0x8F in front (optionally AES-CTR)
    wmbus_frame(...)           -> L C M A + the above, CRC-stripped
    add_crc_format_a/_b        -> with DLL block CRCs
    wired_long_frame / wired_short_frame

:func:`build` glues every layer together from one :class:`TelegramSpec`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
import struct

from cryptography.hazmat.primitives import cmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

# --------------------------------------------------------------------------- CRC


def crc16(data: bytes) -> int:
    """CRC-16/EN-13757: poly 0x3D65, init 0, not reflected, xorout 0xFFFF (bitwise)."""
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x3D65) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc ^ 0xFFFF


def crc_be(data: bytes) -> bytes:
    """Block CRC as sent on the DLL: MSB first."""
    return crc16(data).to_bytes(2, "big")


def crc_le(data: bytes) -> bytes:
    """Payload / compact-frame CRC: LSB first."""
    return crc16(data).to_bytes(2, "little")


# --------------------------------------------------------------------------- identity


def manufacturer_code(text: str) -> int:
    """Three letters A-Z (or '@' .. '_') -> 15-bit M value."""
    if len(text) != 3:
        raise ValueError("manufacturer is three letters")
    value = 0
    for ch in text.upper():
        code = ord(ch) - 64
        if not 0 <= code < 32:
            raise ValueError(f"bad manufacturer letter {ch!r}")
        value = (value << 5) | code
    return value


def manufacturer_bytes(text: str) -> bytes:
    return manufacturer_code(text).to_bytes(2, "little")


def id_bytes(meter_id: str) -> bytes:
    """8 hex/BCD digits as printed -> 4 bytes LSB first ("12345678" -> 78 56 34 12)."""
    if len(meter_id) != 8:
        raise ValueError("meter id is 8 digits")
    return bytes.fromhex(meter_id)[::-1]


@dataclass(frozen=True)
class Addr:
    """Manufacturer, ID, version, device type (what the decoder calls ``Address``)."""

    manufacturer: str = "ELS"
    id: str = "12345678"
    version: int = 0x33
    device_type: int = 0x03

    def link(self) -> bytes:
        """wM-Bus DLL / mode-5 IV order: M(2) ID(4) Ver Type."""
        return (
            manufacturer_bytes(self.manufacturer)
            + id_bytes(self.id)
            + bytes([self.version, self.device_type])
        )

    def long(self) -> bytes:
        """TPL long header / wired secondary-address order: ID(4) M(2) Ver Type."""
        return (
            id_bytes(self.id)
            + manufacturer_bytes(self.manufacturer)
            + bytes([self.version, self.device_type])
        )


# --------------------------------------------------------------------------- data types


def int_bytes(value: int, size: int, *, signed: bool = True) -> bytes:
    """Type B (signed) / C (unsigned) integer, LSB first."""
    return value.to_bytes(size, "little", signed=signed)


def bcd_bytes(value: int, digits: int) -> bytes:
    """Type A BCD, LSB byte first; negative values set the top nibble to F."""
    if digits % 2:
        raise ValueError("BCD digits must be even")
    if value < 0:
        body = f"{-value:0{digits - 1}d}"
        if len(body) != digits - 1:
            raise ValueError("value too large for BCD field")
        text = "F" + body
    else:
        text = f"{value:0{digits}d}"
        if len(text) != digits:
            raise ValueError("value too large for BCD field")
    return bytes.fromhex(text)[::-1]


def real32_bytes(value: float) -> bytes:
    return struct.pack("<f", value)


def date_g(year: int, month: int, day: int) -> bytes:
    """Type G: day = b0&1F, month = b1&0F, year(7 bit) = (b1&F0)>>1 | (b0&E0)>>5."""
    y = year % 100
    return bytes([(day & 0x1F) | ((y & 0x07) << 5), (month & 0x0F) | ((y & 0x78) << 1)])


def datetime_f(
    year: int, month: int, day: int, hour: int, minute: int, *, compat: bool = False, dst: bool = False
) -> bytes:
    """Type F. ``compat`` encodes years 2000..2080 with hundred-year = 0 (old meters)."""
    if compat:
        if not 2000 <= year <= 2080:
            raise ValueError("compat encoding covers 2000..2080")
        hy, y = 0, year - 2000
    else:
        hy, y = divmod(year - 1900, 100)
    b0 = minute & 0x3F
    b1 = (hour & 0x1F) | ((hy & 0x03) << 5) | (0x80 if dst else 0)
    b2b3 = date_g(y, month, day)
    return bytes([b0, b1]) + b2b3


def time_j(hour: int, minute: int, second: int) -> bytes:
    return bytes([second & 0x3F, minute & 0x3F, hour & 0x1F])


def datetime_i(
    year: int, month: int, day: int, hour: int, minute: int, second: int, *, weekday: int = 0, week: int = 0
) -> bytes:
    """Type I (48 bit). ``weekday`` 1=Monday..7=Sunday (0 = not specified)."""
    return (
        bytes([second & 0x3F, minute & 0x3F, (hour & 0x1F) | ((weekday & 0x07) << 5)])
        + date_g(year, month, day)
        + bytes([week & 0x3F])
    )


def lvar_text(text: str) -> bytes:
    """LVAR 00..BF: ISO-8859-1 characters, sent last character first."""
    raw = text.encode("latin-1")
    if len(raw) > 0xBF:
        raise ValueError("text too long")
    return bytes([len(raw)]) + raw[::-1]


def lvar_bcd(value: int, digits: int) -> bytes:
    """LVAR C0..C9 (+BCD) / D0..D9 (-BCD), ``digits`` = 2*(LVAR-C0)."""
    if digits % 2 or not 0 < digits <= 18:
        raise ValueError("LVAR BCD has 2..18 even digits")
    text = f"{abs(value):0{digits}d}"
    if len(text) != digits:
        raise ValueError("value too large")
    lvar = (0xD0 if value < 0 else 0xC0) + digits // 2
    return bytes([lvar]) + bytes.fromhex(text)[::-1]


def lvar_binary(data: bytes) -> bytes:
    """LVAR E0..EF: binary, LVAR-E0 bytes."""
    if len(data) > 15:
        raise ValueError("E0..EF covers 0..15 bytes")
    return bytes([0xE0 + len(data)]) + data


# --------------------------------------------------------------------------- records

INT_SIZES = {1: 1, 2: 2, 3: 3, 4: 4, 6: 6, 7: 8}
"""DIF data-field code -> integer size in bytes."""
BCD_DIGITS = {0x9: 2, 0xA: 4, 0xB: 6, 0xC: 8, 0xE: 12}
"""DIF data-field code -> BCD digits."""
FUNCTIONS = {"instantaneous": 0, "maximum": 1, "minimum": 2, "error": 3}


def dib(
    data_field: int, *, storage: int = 0, tariff: int = 0, subunit: int = 0, function: str = "instantaneous"
) -> bytes:
    """DIF + the shortest DIFE chain holding storage/tariff/subunit (EN 13757-3 §6.3)."""
    if storage < 0 or tariff < 0 or subunit < 0:
        raise ValueError("negative storage/tariff/subunit")
    rest_storage = storage >> 1
    n = 0
    s, t, u = rest_storage, tariff, subunit
    while s or t or u:
        n += 1
        s, t, u = s >> 4, t >> 2, u >> 1
    if n > 10:
        raise ValueError("more than 10 DIFEs")
    dif = (data_field & 0x0F) | (FUNCTIONS[function] << 4) | ((storage & 1) << 6) | (0x80 if n else 0)
    out = bytearray([dif])
    s, t, u = rest_storage, tariff, subunit
    for i in range(n):
        dife = (s & 0x0F) | ((t & 0x03) << 4) | ((u & 1) << 6) | (0x80 if i < n - 1 else 0)
        out.append(dife)
        s, t, u = s >> 4, t >> 2, u >> 1
    return bytes(out)


def vib(vif: int, *vifes: int, table: int | None = None) -> bytes:
    """VIB with the extension bits set: ``vib(0x13)``, ``vib(0x17, table=0xFD)`` (FD 17),
    ``vib(0x13, 0x3B)`` (volume, forward flow), ``vib(0x50, 0x7C, 0x01, table=0xFD)``.

    ``vif`` and ``vifes`` are given WITHOUT their E bits (0x00..0x7F); 0x7C in ``vifes``
    is followed by one orthogonal code. ``table`` 0xFD / 0xFB prefixes the extension table.
    """
    codes = [vif, *vifes]
    out = bytearray()
    if table is not None:
        out.append(table)  # FD/FB always carry E=1: the table code follows
    for i, code in enumerate(codes):
        if code > 0x7F:
            raise ValueError("give VIF/VIFE codes without the extension bit")
        out.append(code | (0x80 if i < len(codes) - 1 else 0))
    return bytes(out)


def plain_text_vib(unit: str, *vifes: int, libmbus_order: bool = False) -> bytes:
    """Plain-text VIF 7C/FC. EN 13757-3:2018 C.2 order: VIF, VIFEs, LVAR+ASCII (reversed).

    ``libmbus_order``: VIF, LVAR+ASCII, VIFEs (Elvaco CMa10, libmbus, pyMeterBus).
    """
    text = lvar_text(unit)
    vif = 0xFC if vifes else 0x7C
    ext = bytes(code | (0x80 if i < len(vifes) - 1 else 0) for i, code in enumerate(vifes))
    return bytes([vif]) + (text + ext if libmbus_order else ext + text)


def record(
    data_field: int,
    vib_bytes: bytes,
    data: bytes,
    *,
    storage: int = 0,
    tariff: int = 0,
    subunit: int = 0,
    function: str = "instantaneous",
) -> bytes:
    return (
        dib(data_field, storage=storage, tariff=tariff, subunit=subunit, function=function) + vib_bytes + data
    )


def encode_value(data_field: int, value: object) -> bytes:
    """Data bytes for a DIF data-field code (LVAR values must be pre-encoded bytes)."""
    if data_field == 0:
        return b""
    if data_field in INT_SIZES:
        assert isinstance(value, int)
        return int_bytes(value, INT_SIZES[data_field])
    if data_field == 5:
        assert isinstance(value, float | int)
        return real32_bytes(float(value))
    if data_field in BCD_DIGITS:
        assert isinstance(value, int)
        return bcd_bytes(value, BCD_DIGITS[data_field])
    if data_field == 0xD:
        assert isinstance(value, bytes)
        return value
    raise ValueError(f"data field {data_field:X} has no value encoding here")


FILL = 0x2F
MANUFACTURER_DATA = 0x0F
MORE_RECORDS_FOLLOW = 0x1F


def apl(
    records: Sequence[bytes],
    *,
    leading_fill: int = 0,
    manufacturer_data: bytes | None = None,
    more_records_follow: bool = False,
) -> bytes:
    """Record bytes, optional leading 2F fill, trailing DIF 0F/1F + manufacturer bytes."""
    out = bytes([FILL]) * leading_fill + b"".join(records)
    if more_records_follow:
        out += bytes([MORE_RECORDS_FOLLOW]) + (manufacturer_data or b"")
    elif manufacturer_data is not None:
        out += bytes([MANUFACTURER_DATA]) + manufacturer_data
    return out


def pad_2f(data: bytes, block: int = 16) -> bytes:
    return data + bytes([FILL]) * (-len(data) % block)


# --------------------------------------------------------------------------- compact profiles

PROFILE_VIFE = {"forward": 0x1F, "inverse": 0x13, "register": 0x1E}
"""Compact profile kind -> combinable VIFE (EN 13757-3 Table 15)."""
PROFILE_MODES = {"absolute": 0, "increment": 1, "decrement": 2, "difference": 3}
PROFILE_UNITS = {"s": 0, "min": 1, "h": 2, "d": 3}
PROFILE_ELEMENT_BYTES = {1: 1, 2: 2, 3: 3, 4: 4, 5: 4, 6: 6, 7: 8, 9: 1, 0xA: 2, 0xB: 3, 0xC: 4, 0xE: 6}
"""Element data-field code -> bytes per element (EN 13757-3:2018 F.2.3: fixed sizes only)."""


def profile_control(mode: str, unit: str, element_code: int) -> int:
    """Spacing control byte: bits 7-6 mode, 5-4 unit, 3-0 element data-field code."""
    return (PROFILE_MODES[mode] << 6) | (PROFILE_UNITS[unit] << 4) | (element_code & 0x0F)


def profile_element(element_code: int, value: float | None, *, signed: bool) -> bytes:
    """One element; ``None`` writes the illegal code (0x80.. signed, 0xFF.. unsigned, all-F BCD, NaN)."""
    size = PROFILE_ELEMENT_BYTES[element_code]
    if element_code == 5:
        return real32_bytes(float("nan") if value is None else float(value))
    if element_code in BCD_DIGITS:
        if value is None:
            return b"\xff" * size
        assert isinstance(value, int)
        return bcd_bytes(value, 2 * size)
    if value is None:
        return (1 << (8 * size - 1)).to_bytes(size, "little") if signed else b"\xff" * size
    assert isinstance(value, int)
    return int_bytes(value, size, signed=signed)


def profile_data(
    mode: str, unit: str, spacing: int, element_code: int, elements: Sequence[float | None]
) -> bytes:
    """LVAR + control + spacing value + elements: the data of a compact profile record (Annex F.2)."""
    signed = mode in ("absolute", "difference")
    body = bytes([profile_control(mode, unit, element_code), spacing]) + b"".join(
        profile_element(element_code, value, signed=signed) for value in elements
    )
    if len(body) > 0xBF:
        raise ValueError("profile too long for one LVAR")
    return bytes([len(body)]) + body


def profile_record(
    vif: int,
    *vifes: int,
    kind: str = "forward",
    mode: str = "increment",
    unit: str = "h",
    spacing: int = 1,
    element_code: int = 0x2,
    elements: Sequence[float | None] = (),
    storage: int = 0,
    tariff: int = 0,
    subunit: int = 0,
) -> bytes:
    """A compact profile record: DIF data field D, the VIF/VIFEs plus the profile VIFE, the data."""
    return record(
        0xD,
        vib(vif, *vifes, PROFILE_VIFE[kind]),
        profile_data(mode, unit, spacing, element_code, elements),
        storage=storage,
        tariff=tariff,
        subunit=subunit,
    )


# --------------------------------------------------------------------------- compact / format frames


def split_header(record_bytes: bytes) -> tuple[bytes, bytes]:
    """(DIB+VIB, data) of ONE record built by :func:`record` (no plain-text VIF, no LVAR)."""
    i = 0
    while record_bytes[i] & 0x80 and i < len(record_bytes) - 1:
        i += 1
    i += 1  # past the DIF/last DIFE
    dif = record_bytes[0]
    if record_bytes[i] in (0xFD, 0xFB):
        i += 1
    while record_bytes[i] & 0x80:
        i += 1
    i += 1
    size = {**INT_SIZES, 5: 4, 0: 0, **{k: v // 2 for k, v in BCD_DIGITS.items()}}[dif & 0x0F]
    if len(record_bytes) - i != size:
        raise ValueError("split_header takes fixed-size records")
    return record_bytes[:i], record_bytes[i:]


def format_signature(headers: Sequence[bytes]) -> int:
    return crc16(b"".join(headers))


def compact_payload(records: Sequence[bytes]) -> bytes:
    """After CI 79/7B(/73): signature(2 LE) full-frame CRC(2 LE) data…"""
    parts = [split_header(r) for r in records]
    sig = format_signature([h for h, _ in parts])
    full = crc16(b"".join(records))
    return sig.to_bytes(2, "little") + full.to_bytes(2, "little") + b"".join(d for _, d in parts)


def format_payload(records: Sequence[bytes]) -> bytes:
    """After CI 69/6A/6B: len sig(2 LE) DIB/VIB… (len counts the signature and the headers)."""
    headers = [split_header(r)[0] for r in records]
    body = format_signature(headers).to_bytes(2, "little") + b"".join(headers)
    return bytes([len(body)]) + body


# --------------------------------------------------------------------------- TPL

CI_NONE, CI_SHORT, CI_LONG = 0x78, 0x7A, 0x72
CI_COMPACT = {"none": 0x79, "short": 0x7B, "long": 0x73}
CI_FORMAT = {"none": 0x69, "short": 0x6A, "long": 0x6B}
CI_FULL = {"none": CI_NONE, "short": CI_SHORT, "long": CI_LONG}


def config_field(
    mode: int,
    blocks: int = 0,
    *,
    bidirectional: bool = False,
    accessibility: bool = False,
    synchronous: bool = False,
    content: int = 0,
    repeater: bool = False,
    hop: bool = False,
) -> bytes:
    """CF for modes 0 and 5 (2 bytes LE). Mode bits 12..8, N blocks bits 7..4."""
    if mode == 7:
        raise ValueError("use config_field_mode7")
    cf = (
        (bidirectional << 15)
        | (accessibility << 14)
        | (synchronous << 13)
        | ((mode & 0x1F) << 8)
        | ((blocks & 0x0F) << 4)
        | ((content & 0x03) << 2)
        | (repeater << 1)
        | int(hop)
    )
    return cf.to_bytes(2, "little")


def config_field_mode7(
    blocks: int,
    *,
    content: int = 0,
    counter: bool = False,
    padding: bool = False,
    content_index: int = 0,
    kdf: int = 1,
    key_id: int = 0,
    key_version: int | None = None,
) -> bytes:
    """CF (LE) + CFE for mode 7. ``counter`` sets Z (a 4-byte TPL counter follows the CFE)."""
    cf = (
        ((content & 0x03) << 14)
        | (counter << 13)
        | (7 << 8)
        | ((blocks & 0x0F) << 4)
        | (padding << 3)
        | (content_index & 0x07)
    )
    cfe = ((key_version is not None) << 6) | ((kdf & 0x03) << 4) | (key_id & 0x0F)
    return cf.to_bytes(2, "little") + bytes([cfe])


def tpl_header(kind: str, *, acc: int, status: int, cf: bytes, meter: Addr | None = None) -> bytes:
    """Bytes after the TPL CI: short = ACC ST CF…, long = ID M Ver Type ACC ST CF…, none = b""."""
    if kind == "none":
        return b""
    if kind == "short":
        return bytes([acc, status]) + cf
    if kind == "long":
        assert meter is not None
        return meter.long() + bytes([acc, status]) + cf
    raise ValueError(kind)


# --------------------------------------------------------------------------- crypto


def aes_cbc_encrypt(key: bytes, iv: bytes, data: bytes) -> bytes:
    enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return enc.update(data) + enc.finalize()


def aes_cbc_decrypt(key: bytes, iv: bytes, data: bytes) -> bytes:
    dec = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    return dec.update(data) + dec.finalize()


def aes_ctr(key: bytes, icb: bytes, data: bytes) -> bytes:
    enc = Cipher(algorithms.AES(key), modes.CTR(icb)).encryptor()
    return enc.update(data) + enc.finalize()


def aes_cmac(key: bytes, data: bytes) -> bytes:
    c = cmac.CMAC(algorithms.AES(key))
    c.update(data)
    return c.finalize()


def mode5_iv(address: Addr, acc: int) -> bytes:
    """IV = M(2) ID(4) Ver Type ACC×8 (fields in wireless-DLL order)."""
    return address.link() + bytes([acc]) * 8


def mode5_encrypt(key: bytes, address: Addr, acc: int, plaintext: bytes) -> bytes:
    """``plaintext`` (starting 2F 2F) must be a multiple of 16 bytes."""
    return aes_cbc_encrypt(key, mode5_iv(address, acc), plaintext)


def kdf_a(key: bytes, counter: int, meter_id_bytes: bytes, constant: int) -> bytes:
    """KDF-A: AES-CMAC(K, D ‖ C(4 LE) ‖ ID(4 as sent) ‖ 07×7); D = 00 Kenc, 01 Kmac, 10 Lenc, 11 Lmac."""
    return aes_cmac(key, bytes([constant]) + counter.to_bytes(4, "little") + meter_id_bytes + b"\x07" * 7)


MAC_LENGTHS = {3: 2, 4: 4, 5: 8, 6: 12, 7: 16}
"""MCL.AT -> truncated AES-CMAC length."""


def afl(
    tpdu: bytes,
    *,
    kmac: bytes | None,
    mcr: int | None,
    at: int = 5,
    ki: int | None = None,
    ml: bool = False,
    mac_override: bytes | None = None,
) -> bytes:
    """CI 0x90 AFL for an unfragmented message: 90 AFLL FCL [MCL] [KI] [MCR] [MAC] [ML].

    MAC = first n bytes of AES-CMAC(Kmac, MCL ‖ KI? ‖ MCR? ‖ ML? ‖ TPDU).
    """
    mac_len = MAC_LENGTHS.get(at, 0)
    fcl = 0x2000  # MCLP
    mcl = at & 0x0F
    if ki is not None:
        fcl |= 0x0200
        mcl |= 0x10
    if mcr is not None:
        fcl |= 0x0800
        mcl |= 0x20
    if ml:
        fcl |= 0x1000
        mcl |= 0x40
    if mac_len:
        fcl |= 0x0400
    ki_b = ki.to_bytes(2, "little") if ki is not None else b""
    mcr_b = mcr.to_bytes(4, "little") if mcr is not None else b""
    ml_b = len(tpdu).to_bytes(2, "little") if ml else b""
    mac = b""
    if mac_len:
        if mac_override is not None:
            mac = mac_override
        else:
            assert kmac is not None
            mac = aes_cmac(kmac, bytes([mcl]) + ki_b + mcr_b + ml_b + tpdu)[:mac_len]
    body = fcl.to_bytes(2, "little") + bytes([mcl]) + ki_b + mcr_b + mac + ml_b
    return bytes([0x90, len(body)]) + body + tpdu


# --------------------------------------------------------------------------- ELL


def ell_sn(*, enc: int = 1, minutes: int = 0, session: int = 0) -> int:
    return ((enc & 0x07) << 29) | ((minutes & 0x1FFFFFF) << 4) | (session & 0x0F)


def ell(
    ci: int,
    payload: bytes,
    *,
    cc: int,
    acc: int,
    link: bytes | None = None,
    receiver: bytes | None = None,
    sn: int | None = None,
    key: bytes | None = None,
    iv_address: bytes | None = None,
) -> bytes:
    """ELL 8C/8D/8E/8F in front of ``payload`` (which starts at the next CI).

    For 8D/8F the PayloadCRC (LE, CRC16 of ``payload``) is added; with ``key`` the bytes
    from PayloadCRC to the end are AES-128-CTR encrypted with the ICB
    ``M(2) A(6) CC&0xED SN(4) 0000 00`` where M/A = ``iv_address`` (default: ``link``).
    ``receiver`` (8E/8F) is M2(2) A2(6), wireless-DLL order.
    """
    out = bytearray([ci, cc, acc])
    if ci in (0x8E, 0x8F):
        assert receiver is not None
        assert len(receiver) == 8
        out += receiver
    if ci in (0x8C, 0x8E):
        return bytes(out) + payload
    if ci not in (0x8D, 0x8F):
        raise ValueError(f"ELL CI {ci:02X}")
    assert sn is not None
    out += sn.to_bytes(4, "little")
    secret = crc_le(payload) + payload
    if key is not None:
        addr = iv_address if iv_address is not None else link
        assert addr is not None
        assert len(addr) == 8
        icb = addr + bytes([cc & 0xED]) + sn.to_bytes(4, "little") + b"\x00\x00\x00"
        secret = aes_ctr(key, icb, secret)
    return bytes(out) + secret


# --------------------------------------------------------------------------- DLL


def wmbus_frame(c: int, link: Addr | bytes, body: bytes) -> bytes:
    """CRC-stripped wM-Bus frame: L C M(2) A(6) body, L = bytes after L."""
    addr = link.link() if isinstance(link, Addr) else link
    inner = bytes([c]) + addr + body
    if len(inner) > 255:
        raise ValueError("frame too long")
    return bytes([len(inner)]) + inner


def add_crc_format_a(stripped: bytes) -> bytes:
    """Format A: block 1 = L C M A + CRC, then 16-byte blocks + CRC (L unchanged)."""
    out = bytearray(stripped[:10] + crc_be(stripped[:10]))
    for i in range(10, len(stripped), 16):
        block = stripped[i : i + 16]
        out += block + crc_be(block)
    return bytes(out)


def add_crc_format_b(stripped: bytes) -> bytes:
    """Format B: L counts the CRCs; one CRC over blocks 1+2 (<= 126 bytes), block 3 + CRC."""
    n = len(stripped) - 1  # bytes after L without CRCs
    if n + 2 <= 127:
        first = bytes([n + 2]) + stripped[1:]
        return first + crc_be(first)
    if n + 4 > 255:
        raise ValueError("frame too long for format B")
    first = bytes([n + 4]) + stripped[1:126]
    rest = stripped[126:]
    return first + crc_be(first) + rest + crc_be(rest)


def strip_crc_format_a(frame: bytes) -> bytes:
    """Inverse of :func:`add_crc_format_a` (checks every CRC)."""
    out = bytearray()
    first, frame = frame[:12], frame[12:]
    assert crc_be(first[:10]) == first[10:]
    out += first[:10]
    while frame:
        size = min(16, len(frame) - 2)
        block, crc, frame = frame[:size], frame[size : size + 2], frame[size + 2 :]
        assert crc_be(block) == crc
        out += block
    return bytes(out)


# --------------------------------------------------------------------------- wired


def wired_checksum(data: bytes) -> int:
    return sum(data) & 0xFF


def wired_long_frame(c: int, a: int, ci: int, data: bytes) -> bytes:
    """68 L L 68 C A CI data CS 16; L = 3 + len(data)."""
    length = 3 + len(data)
    if length > 255:
        raise ValueError("wired frame too long")
    body = bytes([c, a, ci]) + data
    return bytes([0x68, length, length, 0x68]) + body + bytes([wired_checksum(body), 0x16])


def wired_short_frame(c: int, a: int) -> bytes:
    return bytes([0x10, c, a, (c + a) & 0xFF, 0x16])


def wired_select_frame(meter: Addr, a: int = 0xFD, c: int = 0x73) -> bytes:
    return wired_long_frame(c, a, 0x52, meter.long())


# --------------------------------------------------------------------------- whole telegrams


@dataclass
class TelegramSpec:
    """Every knob of :func:`build`.

    ``records``: record bytes (from :func:`record`). ``plain_records`` are appended
    unencrypted after the encrypted blocks (mode 5/7 partial encryption).
    """

    records: list[bytes] = field(default_factory=list)
    plain_records: list[bytes] = field(default_factory=list)
    meter: Addr = field(default_factory=Addr)
    link: Addr | None = None
    """wM-Bus DLL address; None = the meter (short/no TPL header). Ignored for wired."""
    c: int = 0x44
    tpl: str = "short"  # none | short | long
    acc: int = 0
    status: int = 0
    mode: int = 0  # 0 | 5 | 7
    key: bytes | None = None
    synchronous: bool = False
    bidirectional: bool = False
    accessibility: bool = False
    leading_fill: int = 0
    manufacturer_data: bytes | None = None
    more_records_follow: bool = False
    # mode 7
    mcr: int = 1
    tpl_counter: int | None = None
    mac_at: int = 5
    ki: int | None = None
    ml: bool = False
    # ELL
    ell_ci: int | None = None  # 8C/8D/8E/8F
    ell_cc: int = 0x20
    ell_acc: int | None = None
    ell_sn: int | None = None
    ell_key: bytes | None = None
    receiver: Addr | None = None
    # framing
    crc: str = "none"  # none | A | B
    wired: bool = False
    wired_c: int = 0x08
    wired_a: int = 0xFD
    compact: bool = False
    """CI 79/7B/73 with signature + full CRC instead of the full frame (mode 0 only)."""
    format_frame: bool = False
    """CI 69/6A/6B format frame instead of the full frame (mode 0 only)."""


def tpl_and_security(spec: TelegramSpec, link_addr: Addr) -> tuple[bytes, bytes]:
    """(AFL+TPL bytes from the first CI, the plaintext APL) for ``spec``."""
    payload_apl = apl(
        spec.records,
        leading_fill=spec.leading_fill,
        manufacturer_data=spec.manufacturer_data,
        more_records_follow=spec.more_records_follow,
    )
    if spec.compact or spec.format_frame:
        if spec.mode != 0:
            raise ValueError("compact/format frames are built unencrypted here")
        ci = (CI_COMPACT if spec.compact else CI_FORMAT)[spec.tpl]
        cf = config_field(0, synchronous=spec.synchronous)
        hdr = tpl_header(spec.tpl, acc=spec.acc, status=spec.status, cf=cf, meter=spec.meter)
        body = compact_payload(spec.records) if spec.compact else format_payload(spec.records)
        return bytes([ci]) + hdr + body, payload_apl
    ci = CI_FULL[spec.tpl]
    if spec.mode == 0:
        cf = config_field(
            0,
            synchronous=spec.synchronous,
            bidirectional=spec.bidirectional,
            accessibility=spec.accessibility,
        )
        hdr = tpl_header(spec.tpl, acc=spec.acc, status=spec.status, cf=cf, meter=spec.meter)
        plain_tail = b"".join(spec.plain_records)
        return bytes([ci]) + hdr + payload_apl + plain_tail, payload_apl
    if spec.tpl == "none":
        raise ValueError("encryption needs a short or long TPL header")
    assert spec.key is not None
    secret = pad_2f(b"\x2f\x2f" + payload_apl)
    blocks = len(secret) // 16
    if blocks > 15:
        raise ValueError("too many encrypted blocks")
    plain_tail = b"".join(spec.plain_records)
    # the address the IV / KDF uses: TPL long header if present, else the DLL
    iv_addr = spec.meter if spec.tpl == "long" else link_addr
    if spec.mode == 5:
        cf = config_field(
            5,
            blocks,
            synchronous=spec.synchronous,
            bidirectional=spec.bidirectional,
            accessibility=spec.accessibility,
        )
        hdr = tpl_header(spec.tpl, acc=spec.acc, status=spec.status, cf=cf, meter=spec.meter)
        cipher = mode5_encrypt(spec.key, iv_addr, spec.acc, secret)
        return bytes([ci]) + hdr + cipher + plain_tail, secret
    if spec.mode == 7:
        counter = spec.tpl_counter if spec.tpl_counter is not None else spec.mcr
        cf = config_field_mode7(blocks, counter=spec.tpl_counter is not None)
        if spec.tpl_counter is not None:
            cf += spec.tpl_counter.to_bytes(4, "little")
        hdr = tpl_header(spec.tpl, acc=spec.acc, status=spec.status, cf=cf, meter=spec.meter)
        id4 = id_bytes(iv_addr.id)
        kenc = kdf_a(spec.key, counter, id4, 0x00)
        kmac = kdf_a(spec.key, counter, id4, 0x01)
        cipher = aes_cbc_encrypt(kenc, bytes(16), secret)
        tpdu = bytes([ci]) + hdr + cipher + plain_tail
        return afl(tpdu, kmac=kmac, mcr=spec.mcr, at=spec.mac_at, ki=spec.ki, ml=spec.ml), secret
    raise ValueError(f"mode {spec.mode} not encodable")


def build(spec: TelegramSpec) -> bytes:
    """The whole telegram for ``spec``: a wM-Bus frame (CRC format per ``spec.crc``) or a wired long frame."""
    if spec.wired:
        if spec.tpl != "long" or spec.ell_ci is not None or spec.mode == 7:
            raise ValueError("wired frames here: long TPL header, mode 0/5, no ELL")
        tpdu, _ = tpl_and_security(spec, spec.meter)
        return wired_long_frame(spec.wired_c, spec.wired_a, tpdu[0], tpdu[1:])
    link_addr = spec.link or spec.meter
    body, _ = tpl_and_security(spec, link_addr)
    if spec.ell_ci is not None:
        receiver = spec.receiver.link() if spec.receiver else None
        body = ell(
            spec.ell_ci,
            body,
            cc=spec.ell_cc,
            acc=spec.ell_acc if spec.ell_acc is not None else spec.acc,
            link=link_addr.link(),
            receiver=receiver,
            sn=spec.ell_sn,
            key=spec.ell_key,
        )
    stripped = wmbus_frame(spec.c, link_addr, body)
    if spec.crc == "A":
        return add_crc_format_a(stripped)
    if spec.crc == "B":
        return add_crc_format_b(stripped)
    return stripped
