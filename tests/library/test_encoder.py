"""The test-only encoder reproduces the known answers of OMS.md and the public vectors byte for byte."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st
import pytest

from tests import encoder as enc

KEY_00_0F = bytes(range(16))
N21_KEY = bytes.fromhex("0102030405060708090A0B0C0D0E0F11")
ELS = enc.Addr("ELS", "12345678", 0x33, 0x03)
# OMS Annex N N.2.1 records: volume 28504.27 m³ (BCD8), 2008-05-31 23:50 (type F), error flags 0
N21_RECORDS = [
    enc.record(0xC, enc.vib(0x14), enc.bcd_bytes(2850427, 8)),
    enc.record(0x4, enc.vib(0x6D), enc.datetime_f(2008, 5, 31, 23, 50)),
    enc.record(0x2, enc.vib(0x17, table=0xFD), enc.int_bytes(0, 2)),
]


def test_crc_check_value() -> None:
    assert enc.crc16(b"123456789") == 0xC2B7
    assert enc.crc_be(b"123456789") == b"\xc2\xb7"
    assert enc.crc_le(b"123456789") == b"\xb7\xc2"


@pytest.mark.parametrize(
    ("code", "wire"), [("ELS", "9315"), ("KAM", "2D2C"), ("QDS", "9344"), ("WEP", "B05C"), ("PAD", "2440")]
)
def test_manufacturer(code: str, wire: str) -> None:
    assert enc.manufacturer_bytes(code) == bytes.fromhex(wire)


def test_ids_and_addresses() -> None:
    assert enc.id_bytes("12345678") == bytes.fromhex("78563412")
    assert ELS.link() == bytes.fromhex("9315785634123303")
    assert ELS.long() == bytes.fromhex("7856341293153303")


@pytest.mark.parametrize(
    ("value", "digits", "wire"),
    [
        (-4444444, 8, "444444F4"),
        (-40, 6, "4000F0"),
        (2850427, 8, "27048502"),
        (7, 2, "07"),
        (0, 12, "0" * 12),
    ],
)
def test_bcd(value: int, digits: int, wire: str) -> None:
    assert enc.bcd_bytes(value, digits) == bytes.fromhex(wire)


def test_bcd_overflow_rejected() -> None:
    with pytest.raises(ValueError, match="too large"):
        enc.bcd_bytes(100, 2)
    with pytest.raises(ValueError, match="too large"):
        enc.bcd_bytes(-100, 2)


def test_dates() -> None:
    assert enc.datetime_f(2008, 5, 31, 23, 50) == bytes.fromhex("32371F15")  # hundred-year = 1
    # the same instant in the compatibility form (hundred-year = 0, year <= 80 means 20xx)
    assert enc.datetime_f(2008, 5, 31, 23, 50, compat=True) == bytes.fromhex("32171F15")
    assert enc.date_g(2007, 4, 30) == bytes.fromhex("FE04")
    assert enc.date_g(2018, 10, 23) == bytes.fromhex("572A")  # ZRI vector record 026C 572A
    assert enc.time_j(23, 50, 7) == bytes.fromhex("073217")
    assert enc.datetime_i(2021, 3, 4, 5, 6, 7, weekday=4, week=9) == bytes.fromhex("070685A42309")


def test_lvar() -> None:
    assert enc.lvar_text("AMBER") == bytes.fromhex("05") + b"REBMA"
    assert enc.lvar_bcd(1234, 4) == bytes.fromhex("C23412")
    assert enc.lvar_bcd(-1234, 4) == bytes.fromhex("D23412")
    assert enc.lvar_binary(b"\x01\x02") == bytes.fromhex("E20102")


@pytest.mark.parametrize(
    ("kwargs", "wire"),
    [
        ({}, "04"),
        ({"storage": 1}, "44"),
        ({"storage": 2}, "8401"),
        ({"tariff": 1}, "8410"),
        ({"subunit": 1}, "8440"),
        ({"function": "maximum"}, "14"),
        ({"function": "error", "storage": 1}, "74"),
        ({"storage": 9}, "C404"),  # N.5.3 uses storage 1 as DIF 0x42/0x4B
        ({"storage": 2199023255551, "tariff": 1048575, "subunit": 1023}, "C4" + "FF" * 9 + "7F"),
    ],
)
def test_dib(kwargs: dict[str, object], wire: str) -> None:
    assert enc.dib(0x4, **kwargs).hex().upper() == wire  # type: ignore[arg-type]


def test_dib_pymeterbus_example() -> None:
    # pyMeterBus: DIB DA FF…7F -> device 1023, tariff 1048575, storage 2199023255551
    raw = enc.dib(0xA, storage=2199023255551, tariff=1048575, subunit=1023, function="maximum")
    assert raw.hex().upper() == "DA" + "FF" * 9 + "7F"


def test_vib() -> None:
    assert enc.vib(0x10, 0x7D) == bytes.fromhex("907D")
    assert enc.vib(0x68, 0x73) == bytes.fromhex("E873")
    assert enc.vib(0x50, 0x7C, 0x01, table=0xFD) == bytes.fromhex("FDD0FC01")
    assert enc.vib(0x17, table=0xFD) == bytes.fromhex("FD17")
    assert enc.plain_text_vib("%RH", 0x74, libmbus_order=True) == bytes.fromhex("FC0348522574")
    assert enc.plain_text_vib("%RH", 0x74) == bytes.fromhex("FC7403485225")


def test_mode7_kdf_known_answer() -> None:
    id4 = bytes.fromhex("78563412")
    assert enc.kdf_a(KEY_00_0F, 0x0AB3, id4, 0).hex().upper() == "ECCF39D475D730B8284FDFDC1995D52F"
    assert enc.kdf_a(KEY_00_0F, 0x0AB3, id4, 1).hex().upper() == "C9CD19FF5A9AAD5A6BBDA13BD2C4C7AD"


def test_mode5_iv_annex_n() -> None:
    assert enc.mode5_iv(ELS, 0x2A).hex().upper() == "93157856341233032A2A2A2A2A2A2A2A"
    zri = enc.Addr("ZRI", "49705932", 1, 7)
    # long-header ZRI vector (maebli): IV 496A 32597049 01 07 + ACC
    assert enc.mode5_iv(zri, 0x35).hex().upper() == "496A3259704901073535353535353535"


def test_n21_mode5_frame_exact() -> None:
    spec = enc.TelegramSpec(
        records=N21_RECORDS, meter=ELS, acc=0x2A, mode=5, key=N21_KEY, synchronous=True, tpl="short"
    )
    frame = enc.build(spec)
    assert frame.hex().upper() == (
        "2E4493157856341233037A2A0020255923C95AAA26D1B2E7493B013EC4A6F6D3529B520EDFF0EA6DEFC99D6D69EBF3"
    )
    spec.crc = "A"
    assert enc.build(spec).hex().upper() == (
        "2E44931578563412330333637A2A0020255923C95AAA26D1B2E7493BC2AD013EC4A6F6D3529B520EDFF0EA6DEF"
        "C955B29D6D69EBF3EC8A"
    )


def test_mode7_integrated_radio_exact() -> None:
    spec = enc.TelegramSpec(
        records=N21_RECORDS,
        meter=ELS,
        acc=0x75,
        mode=7,
        key=KEY_00_0F,
        mcr=0x0AB3,
        ell_ci=0x8C,
        ell_cc=0x20,
    )
    assert enc.build(spec).hex().upper() == (
        "434493157856341233038C2075900F002C25B30A000021924D4F2FB66E017A75002007109058475F4BC91DF878B80A1B0F"
        "98B629024AAC727942BFC549233C0140829B93"
    )


def test_mode7_f3_radio_adapter_exact() -> None:
    spec = enc.TelegramSpec(
        records=N21_RECORDS,
        meter=ELS,
        link=enc.Addr("RAD", "11223344", 3, 0x37),
        c=0x08,
        tpl="long",
        acc=0x75,
        mode=7,
        key=KEY_00_0F,
        mcr=0x0AB3,
        ell_ci=0x8E,
        ell_cc=0x80,
        receiver=enc.Addr("XYZ", "33445566", 0x0A, 0x31),
    )
    frame = enc.build(spec)
    assert frame.hex().upper() == (
        "530824484433221103378E80753A63665544330A31900F002C25B30A0000AF5D74DF73A600D972785634129315330375"
        "002007109058475F4BC91DF878B80A1B0F98B629024AAC727942BFC549233C0140829B93"
    )
    spec.crc = "A"
    assert enc.build(spec).hex().upper() == (
        "53082448443322110337D0468E80753A63665544330A31900F002C25E00AB30A0000AF5D74DF73A600D972785634C027"
        "129315330375002007109058475F4BC955CF1DF878B80A1B0F98B629024AAC7279429398BFC549233C0140829B93BAA1"
    )


N53_RECORDS = [
    enc.record(0xB, enc.vib(0x6E), enc.bcd_bytes(1234, 6)),
    enc.record(0x2, enc.vib(0x6C), enc.date_g(2007, 4, 30), storage=1),
    enc.record(0xB, enc.vib(0x6E), enc.bcd_bytes(23456, 6), storage=1),
]
QDS_HCA = enc.Addr("QDS", "55667788", 0x55, 0x08)
QDS_RADIO = enc.Addr("QDS", "11223344", 0x55, 0x37)


def test_n53_partial_encryption_exact() -> None:
    spec = enc.TelegramSpec(
        records=N53_RECORDS,
        plain_records=[enc.record(0xC, enc.vib(0x10, table=0xFD), enc.bcd_bytes(12345678, 8))],
        meter=QDS_HCA,
        link=QDS_RADIO,
        tpl="long",
        acc=0,
        status=0x04,
        mode=5,
        key=KEY_00_0F,
        ell_ci=0x8C,
        ell_cc=0x00,
        ell_acc=0x75,
    )
    assert enc.build(spec).hex().upper() == (
        "304493444433221155378C00757288776655934455080004100500DFE2A782146D1513581CD2F83F39040CFD1078563412"
    )


def test_n54_wired_partial_encryption_exact() -> None:
    spec = enc.TelegramSpec(
        records=N53_RECORDS,
        plain_records=[
            enc.record(0xC, enc.vib(0x10, table=0xFD), enc.bcd_bytes(12345678, 8)),
            enc.record(0xC, enc.vib(0x78), enc.bcd_bytes(11223344, 8)),
        ],
        meter=QDS_HCA,
        tpl="long",
        status=0x04,
        mode=5,
        key=KEY_00_0F,
        wired=True,
    )
    assert enc.build(spec).hex().upper() == (
        "682C2C6808FD7288776655934455080004100500DFE2A782146D1513581CD2F83F39040CFD10785634120C78443322112616"
    )


def test_n22_wired_plain_exact() -> None:
    spec = enc.TelegramSpec(records=N21_RECORDS, meter=ELS, tpl="long", acc=0x2A, wired=True)
    assert enc.build(spec).hex().upper() == (
        "6820206808FD7278563412931533032A0000000C1427048502046D32371F1502FD1700008916"
    )


def test_ell_ctr_kamstrup_exact() -> None:
    kam = enc.Addr("KAM", "63452869", 0x1B, 0x16)
    records = [
        enc.record(0x2, enc.vib(0x7F, 0x20), enc.int_bytes(0, 2)),
        enc.record(0x4, enc.vib(0x13), enc.int_bytes(474240, 4)),
        enc.record(0x4, enc.vib(0x13), enc.int_bytes(473247, 4), storage=1),
    ]
    spec = enc.TelegramSpec(
        records=records,
        meter=kam,
        tpl="none",
        ell_ci=0x8D,
        ell_cc=0x30,
        ell_acc=0x50,
        ell_sn=0x21D69C20,
        ell_key=bytes.fromhex("4E5508544202058100DFEFA06B0934A5"),
    )
    assert enc.build(spec).hex().upper() == (
        "24442D2C692845631B168D3050209CD621B006B1140AEF4953AE5B86FAFC0B00E70705B846"
    )


def test_ell_sn_fields() -> None:
    assert enc.ell_sn(enc=1, minutes=1927618, session=0) == 0x21D69C20


def test_format_b_exact() -> None:
    stripped_body = bytes.fromhex("8C2027780B13436587")
    stripped = enc.wmbus_frame(0x44, enc.Addr("CEN", "12345678", 1, 7), stripped_body)
    assert enc.add_crc_format_b(stripped).hex().upper() == "1444AE0C7856341201078C2027780B134365877AC5"


def test_format_b_three_blocks_exact() -> None:
    body = bytes.fromhex("8C2027780B134365877AC5") + b"\x11" * 105 + bytes.fromhex("1234567890")
    stripped = enc.wmbus_frame(0x44, enc.Addr("CEN", "12345678", 1, 7), body)
    framed = enc.add_crc_format_b(stripped)
    assert framed.hex().upper() == (
        "8644AE0C7856341201078C2027780B134365877AC5" + "11" * 105 + "E678" + "1234567890F4EE"
    )


def test_compact_and_format_frames_g52() -> None:
    records = [
        enc.record(0x2, enc.vib(0x02), enc.int_bytes(1234, 2)),
        enc.record(0x2, enc.vib(0x15), enc.int_bytes(5678, 2)),
        enc.record(0x2, enc.vib(0x2A), enc.int_bytes(9012, 2)),
    ]
    full = enc.tpl_and_security(enc.TelegramSpec(records=records, tpl="none"), ELS)[0]
    assert full.hex().upper() == "780202D20402152E16022A3423"
    compact = enc.tpl_and_security(enc.TelegramSpec(records=records, tpl="none", compact=True), ELS)[0]
    assert compact.hex().upper() == "79313B42A6D2042E163423"
    fmt = enc.tpl_and_security(enc.TelegramSpec(records=records, tpl="none", format_frame=True), ELS)[0]
    assert fmt.hex().upper() == "6908313B02020215022A"
    short = enc.tpl_and_security(enc.TelegramSpec(records=records, tpl="short", acc=1, compact=True), ELS)[0]
    assert short.hex().upper() == "7B01000000313B42A6D2042E163423"


def test_wired_frames() -> None:
    assert enc.wired_short_frame(0x5B, 0x00) == bytes.fromhex("105B005B16")
    assert enc.wired_short_frame(0x40, 0xFD) == bytes.fromhex("1040FD3D16")
    assert enc.wired_select_frame(enc.Addr("@@@", "00000001", 0, 0)).hex()[:14] == "680b0b6873fd52"
    sel = enc.wired_long_frame(0x73, 0xFD, 0x52, bytes.fromhex("01000000DADAFA1B"))
    assert sel.hex().upper() == "680B0B6873FD5201000000DADAFA1B8C16"
    assert enc.wired_long_frame(0x08, 0x0B, 0x72, b"") == bytes.fromhex("68030368080B728516")


def test_cmac_rfc4493() -> None:
    key = bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c")
    assert enc.aes_cmac(key, b"").hex() == "bb1d6929e95937287fa37d129b756746"


@settings(max_examples=100, deadline=None)
@given(st.binary(min_size=0, max_size=240), st.sampled_from([0x44, 0x46, 0x08]))
def test_format_a_strip_inverts_add(body: bytes, c: int) -> None:
    stripped = enc.wmbus_frame(c, ELS, body[:245])
    framed = enc.add_crc_format_a(stripped)
    n = len(stripped) - 10
    assert len(framed) == 12 + n + 2 * (-(-n // 16))
    assert enc.strip_crc_format_a(framed) == stripped


@settings(max_examples=100, deadline=None)
@given(
    st.integers(0, 2**41 - 1),
    st.integers(0, 0xFFFFF),
    st.integers(0, 0x3FF),
)
def test_dib_chain_decodes_back(storage: int, tariff: int, subunit: int) -> None:
    """Independent reader of the DIFE chain (EN 13757-3 §6.3) over the encoder's output."""
    raw = enc.dib(0x4, storage=storage, tariff=tariff, subunit=subunit)
    s, t, u = (raw[0] >> 6) & 1, 0, 0
    for i, b in enumerate(raw[1:]):
        s |= (b & 0x0F) << (1 + 4 * i)
        t |= ((b >> 4) & 3) << (2 * i)
        u |= ((b >> 6) & 1) << i
        assert bool(b & 0x80) == (i < len(raw) - 2)
    assert (s, t, u) == (storage, tariff, subunit)
    assert len(raw) <= 11
