"""Key-file importer: every format built here, with the answers the issue states."""

from __future__ import annotations

import base64
import json
import string

from hypothesis import given, settings, strategies as st
import pytest

from custom_components.oms.omslib.keyfiles import (
    ImportedKey,
    KeyImport,
    NoKeysError,
    PasswordRequiredError,
    UnreadableFileError,
    WrongPasswordError,
    import_keys,
    import_text,
)
from custom_components.oms.omslib.keyfiles.lists import find_key
from tests.keyfiles import Meter, encrypt_kem, kem2_xml, kem_xml, spaced, wmbusmeters_file, zip_kem

KEY_A = bytes.fromhex("00112233445566778899AABBCCDDEEFF")
KEY_B = bytes.fromhex("0F0E0D0C0B0A09080706050403020100")
KEY_C = bytes(range(16, 32))
METERS = [
    Meter("12345678", KEY_A),
    Meter("23456789", KEY_B, name="MULTICAL 403", consumption="Heat"),
    Meter("00345678", KEY_C, name="Garden & shed", consumption="HotWater", manufacturer="kam"),
]
PASSWORD = "80012345"


def ids(found: KeyImport) -> list[str]:
    return [item.id for item in found.keys]


def keys(found: KeyImport) -> dict[str, bytes]:
    return {item.id: item.key for item in found.keys}


def no_key_material(found: KeyImport) -> None:
    """Neither reprs nor warnings show a key, in any spelling."""
    text = repr(found) + "".join(str(w) for w in found.warnings)
    for item in found.keys:
        for spelling in (item.key.hex(), item.key.hex().upper(), spaced(item.key)):
            assert spelling not in text


# --------------------------------------------------------------------------- KEM / KEM2


def test_kem_plain() -> None:
    found = import_keys(kem_xml(METERS).encode())
    assert found.source == "kem"
    assert keys(found) == {"12345678": KEY_A, "23456789": KEY_B, "00345678": KEY_C}
    first, second, third = found.keys
    assert first == ImportedKey(
        id="12345678",
        manufacturer="KAM",
        name="MULTICAL 21",
        key=KEY_A,
        source="kem",
        medium="cold_water",
        notes=("MeterNo 4711", "TypeNo 021"),
    )
    assert second.medium == "heat"
    assert (third.name, third.manufacturer, third.medium) == ("Garden & shed", "KAM", "hot_water")
    no_key_material(found)


def test_kem_encrypted() -> None:
    data = encrypt_kem(kem_xml(METERS), PASSWORD)
    assert b"12345678" not in data
    found = import_keys(data, password=PASSWORD)
    assert found.source == "kem"
    assert keys(found) == {"12345678": KEY_A, "23456789": KEY_B, "00345678": KEY_C}
    assert not any("repaired" in note for item in found.keys for note in item.notes)


def test_kem_trailing_junk_and_control_characters_are_cut() -> None:
    """Decrypt without padding, cut after the last '>', drop control characters."""
    plain = kem_xml(METERS[:1]).replace("<MeterNo>", "<MeterNo>\x01\x02")
    found = import_keys(encrypt_kem(plain, PASSWORD, tail=b"\x05\x05\x05 junk"), password=PASSWORD)
    assert ids(found) == ["12345678"]
    assert "MeterNo 4711" in found.keys[0].notes


def test_kem_zero_iv_first_block_repaired() -> None:
    found = import_keys(encrypt_kem(kem_xml(METERS), PASSWORD, zero_iv=True), password=PASSWORD)
    assert keys(found) == {"12345678": KEY_A, "23456789": KEY_B, "00345678": KEY_C}
    assert "first block repaired (file encrypted with a zero IV)" in found.keys[0].notes


def test_kem_password_of_16_characters_and_unicode() -> None:
    for password in ("1234567890123456", "Zähler-ß"):
        found = import_keys(encrypt_kem(kem_xml(METERS[:1]), password), password=password)
        assert ids(found) == ["12345678"]


@pytest.mark.parametrize("password", ["80012346", "8001234", "", "12345678901234567"])
def test_kem_wrong_password(password: str) -> None:
    data = encrypt_kem(kem_xml(METERS), PASSWORD)
    error = PasswordRequiredError if not password else WrongPasswordError
    with pytest.raises(error) as info:
        import_keys(data, password=password)
    assert info.value.code == ("password_required" if not password else "wrong_password")


def test_kem_without_password() -> None:
    with pytest.raises(PasswordRequiredError):
        import_keys(encrypt_kem(kem_xml(METERS), PASSWORD))


@pytest.mark.parametrize(
    "value",
    ["not base64!", "QUJD", ""],
    ids=["not-base64", "not-whole-blocks", "empty"],
)
def test_kem_damaged_cipher_value(value: str) -> None:
    data = f'<EncryptedData xmlns="http://www.w3.org/2001/04/xmlenc#"><CipherData><CipherValue>{value}'
    data += "</CipherValue></CipherData></EncryptedData>"
    with pytest.raises(UnreadableFileError):
        import_keys(data.encode(), password=PASSWORD)


def test_kem2_encrypted() -> None:
    found = import_keys(encrypt_kem(kem2_xml(METERS), PASSWORD), password=PASSWORD)
    assert found.source == "kem2"
    assert keys(found) == {"12345678": KEY_A, "23456789": KEY_B, "00345678": KEY_C}  # DEK, not AK
    first = found.keys[0]
    assert (first.name, first.manufacturer, first.medium) == ("MULTICAL 21", "KAM", "cold_water")
    assert first.notes == ("CustomerDeviceNumber 4711", "TypeNumber 021")


def test_zip_kem() -> None:
    """``<serial>.zip.kem``: a zip holding one encrypted .kem file."""
    data = zip_kem("12345678.kem", encrypt_kem(kem_xml(METERS), PASSWORD))
    assert import_keys(data, password=PASSWORD).source == "kem"
    assert ids(import_keys(data, password=PASSWORD)) == ["12345678", "23456789", "00345678"]
    with pytest.raises(WrongPasswordError):
        import_keys(data, password="nope")
    with pytest.raises(PasswordRequiredError):
        import_keys(data)


def test_zip_without_key_files() -> None:
    with pytest.raises(NoKeysError):
        import_keys(zip_kem("readme.txt", b"hello"))
    with pytest.raises(UnreadableFileError):
        import_keys(b"PK\x03\x04 broken")


def test_kem_meter_without_serial_or_key_is_reported() -> None:
    xml = kem_xml(METERS[:1]).replace("</MetersInOrder>", "")
    xml += "<Meter><SerialNo>ABC</SerialNo><DEK>00</DEK></Meter>"
    xml += "<Meter><SerialNo>34567890</SerialNo><DEK></DEK></Meter>"
    xml += "<Meter><SerialNo>45678901</SerialNo><DEK>0011</DEK></Meter></MetersInOrder>"
    found = import_keys(xml.encode())
    assert ids(found) == ["12345678"]
    assert [(w.kind, w.subject) for w in found.warnings] == [
        ("no_id", "ABC"),
        ("no_key", "34567890"),
        ("invalid_key", "45678901"),
    ]


# --------------------------------------------------------------------------- wmbusmeters


def test_wmbusmeters_meter_file() -> None:
    text = wmbusmeters_file("Kitchen", "12345678", KEY_A, driver="multical21")
    (item,) = import_text("# /etc/wmbusmeters.d/kitchen\n" + text).keys
    assert item == ImportedKey(
        id="12345678",
        manufacturer=None,
        name="Kitchen",
        key=KEY_A,
        source="wmbusmeters",
        medium="water",
        notes=("driver multical21",),
    )


def test_wmbusmeters_wildcards_are_reported_not_guessed() -> None:
    text = "name=Block\ndriver=izar\nid=12345678.M=KAM.V=1b.T=16,8765*,*,!23456789,ABCD\nkey=" + KEY_A.hex()
    found = import_text(text)
    (item,) = found.keys
    assert (item.id, item.manufacturer, item.medium) == ("12345678", "KAM", "cold_water")  # T=16 wins
    assert [(w.kind, w.subject) for w in found.warnings] == [
        ("wildcard", "8765*"),
        ("wildcard", "*"),
        ("wildcard", "!23456789"),
        ("no_id", "ABCD"),
    ]


def test_wmbusmeters_nokey_and_only_wildcards() -> None:
    with pytest.raises(NoKeysError) as info:
        import_text(wmbusmeters_file("Plain", "12345678", None))
    assert [w.kind for w in info.value.warnings] == ["no_key"]
    with pytest.raises(NoKeysError) as info:
        import_text(wmbusmeters_file("All", "*", KEY_A))
    assert [w.kind for w in info.value.warnings] == ["wildcard"]


ADDON_YAML = f"""\
data_path: /config/wmbusmeters
conf: |-
  loglevel=normal
  device=auto:t1
meters:
  - |-
    name=Water
    id=12345678
    key={KEY_A.hex()}
    driver=multical21
  - |-
    name=Plain
    id=22222222
    key=NOKEY
    driver=apator162
  - name: Heat
    id: "23456789"
    key: {spaced(KEY_B, ":")}
    driver: sharky
  - name: Everyone
    id: "*"
    key: {KEY_C.hex()}
"""


def test_wmbusmeters_addon_yaml() -> None:
    found = import_text(ADDON_YAML)
    assert found.source == "wmbusmeters"
    assert [(i.id, i.name, i.key, i.medium) for i in found.keys] == [
        ("12345678", "Water", KEY_A, "water"),
        ("23456789", "Heat", KEY_B, "heat"),
    ]
    assert [(w.kind, w.subject) for w in found.warnings] == [("no_key", "22222222"), ("wildcard", "*")]


def test_wmbusmeters_addon_json() -> None:
    options = {
        "meters": [
            f"name=Water\nid=12345678\nkey={KEY_A.hex()}\ndriver=multical21",
            {"name": "Heat", "id": "23456789", "key": KEY_B.hex(), "driver": "multical403"},
        ]
    }
    found = import_keys(json.dumps(options, indent=2).encode())
    assert keys(found) == {"12345678": KEY_A, "23456789": KEY_B}
    assert import_text(json.dumps(options["meters"])).keys == found.keys  # the bare list
    with pytest.raises(UnreadableFileError):
        import_text('{"meters": 3}')
    with pytest.raises(UnreadableFileError):
        import_text('{"meters": [')


# --------------------------------------------------------------------------- lists


def test_list_lines() -> None:
    text = (
        "# keys from the portal\n"
        f"KAM;12345678;{KEY_A.hex().upper()}\n"
        f"23456789;{spaced(KEY_B, '-')}\n"
        f"345678 {spaced(KEY_C)} cellar meter\n"
        f"ELS {spaced(KEY_A, ':')} 45678901\n"
        f"{KEY_B.hex()}\n"
    )
    found = import_text(text)
    assert found.source == "list"
    assert [(i.id, i.manufacturer, i.name, i.key) for i in found.keys] == [
        ("12345678", "KAM", None, KEY_A),
        ("23456789", None, None, KEY_B),
        ("00345678", None, "cellar meter", KEY_C),
        ("45678901", "ELS", None, KEY_A),
    ]
    assert found.keys[2].notes == ("ID 345678 padded to 8 digits",)
    assert [(w.kind, w.subject) for w in found.warnings] == [("no_id", "line 6")]
    no_key_material(found)


def test_csv_with_header() -> None:
    text = (
        "Name,Medium,AES Key,Manufacturer,Meter ID\n"
        f'"Flat 1, kitchen",Cold water,{KEY_A.hex()},kam,12345678\n'
        f"Flat 2,Heat,{spaced(KEY_B)},QDS,23456789\n"
        "Flat 3,Heat,,QDS,34567890\n"
        f"Flat 4,Heat,{KEY_C.hex()},QDS,3456-7890\n"
    )
    found = import_text(text)
    assert [(i.id, i.manufacturer, i.name, i.medium, i.key) for i in found.keys] == [
        ("12345678", "KAM", "Flat 1, kitchen", "cold_water", KEY_A),
        ("23456789", "QDS", "Flat 2", "heat", KEY_B),
    ]
    assert [(w.kind, w.subject) for w in found.warnings] == [("no_key", "34567890"), ("no_id", "3456-7890")]


def test_csv_semicolon_utf8_bom_and_cp1252() -> None:
    text = f"Zählernummer;Schlüssel;Bezeichnung\r\n12345678;{KEY_A.hex()};Küche\r\n"
    assert import_keys(b"\xef\xbb\xbf" + text.encode()).keys[0].name == "Küche"
    assert import_keys(text.encode("cp1252")).keys[0].name == "Küche"
    assert import_keys(text.encode("utf-16")).keys[0].name == "Küche"


def test_duplicates_and_conflicts() -> None:
    text = f"12345678;{KEY_A.hex()}\n12345678;{KEY_A.hex()}\n23456789;{KEY_B.hex()}\n23456789;{KEY_C.hex()}\n"
    found = import_text(text)
    assert keys(found) == {"12345678": KEY_A, "23456789": KEY_B}  # the first one wins
    assert [(w.kind, w.subject) for w in found.warnings] == [
        ("duplicate", "12345678"),
        ("conflict", "23456789"),
    ]
    no_key_material(found)


def test_ambiguous_line() -> None:
    with pytest.raises(NoKeysError) as info:
        import_text(f"12345678;23456789;{KEY_A.hex()}\n")
    assert [w.kind for w in info.value.warnings] == ["ambiguous_id"]


def test_key_inside_line_is_not_cut_from_a_longer_run() -> None:
    assert find_key("12345678 " + KEY_A.hex() + "00") is None
    assert find_key("12345678 " + spaced(KEY_A) + " 00") is None
    assert find_key("12345678 " + spaced(KEY_A)) == (KEY_A, ["12345678"])


meter_ids = st.text(alphabet="0123456789", min_size=8, max_size=8)
separators = st.sampled_from([";", ",", "\t", " "])
key_styles = st.sampled_from(["", " ", ":", "-", "upper"])


def _key_text(key: bytes, style: str) -> str:
    if style == "upper":
        return key.hex().upper()
    return spaced(key, style) if style else key.hex()


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            meter_ids, st.binary(min_size=16, max_size=16), st.sampled_from([None, "KAM", "QDS"]), key_styles
        ),
        min_size=1,
        max_size=8,
        unique_by=lambda row: row[0],
    ),
    sep=separators,
)
def test_list_round_trip(rows: list[tuple[str, bytes, str | None, str]], sep: str) -> None:
    lines = []
    for meter_id, key, manufacturer, style in rows:
        key_style = "" if sep == " " and style == " " else style
        cells = [manufacturer] if manufacturer else []
        lines.append(sep.join([*cells, meter_id, _key_text(key, key_style)]))
    found = import_text("\n".join(lines))
    assert [(i.id, i.manufacturer, i.key) for i in found.keys] == [(r[0], r[2], r[1]) for r in rows]


# --------------------------------------------------------------------------- generic XML


def test_xml_identity_among_siblings_and_attributes() -> None:
    xml = f"""<?xml version="1.0"?>
    <KeyExchange xmlns="urn:example:keys">
      <Device serial="12345678" medium="water">
        <Manufacturer>ELS</Manufacturer><Name>Flat 1</Name>
        <Created>20240131</Created>
        <AESKey>{KEY_A.hex()}</AESKey>
      </Device>
      <Device>
        <Identification><MeterId>23456789</MeterId></Identification>
        <DeviceId>23456789</DeviceId>
        <Keys><Key type="K1">{spaced(KEY_B, ":")}</Key></Keys>
      </Device>
      <Device id="34567890" key="{base64.b64encode(KEY_C).decode()}" />
    </KeyExchange>"""
    found = import_text(xml)
    assert found.source == "xml"
    first, second, third = found.keys
    assert (first.id, first.manufacturer, first.name, first.medium, first.key) == (
        "12345678",
        "ELS",
        "Flat 1",
        "water",
        KEY_A,
    )
    assert first.notes == (
        "key from Device/AESKey",
        "ID from Device@serial",
        "medium from Device@medium",
        "manufacturer from Device/Manufacturer",
        "name from Device/Name",
    )
    assert (second.id, second.key) == ("23456789", KEY_B)
    assert second.notes == ("key from Keys/Key", "ID from Device/DeviceId")  # the grandparent's fields
    assert (third.id, third.key) == ("34567890", KEY_C)  # base64 of 16 bytes
    assert third.notes == ("key from Device@key", "ID from Device@id")
    no_key_material(found)


def test_xml_sixteen_bytes_not_named_like_a_key_are_ignored_when_keys_exist() -> None:
    xml = (
        f"<Meters><Meter><Id>12345678</Id><Key>{KEY_A.hex()}</Key><Checksum>{KEY_B.hex()}</Checksum></Meter>"
        "</Meters>"
    )
    found = import_text(xml)
    assert keys(found) == {"12345678": KEY_A}
    assert [(w.kind, w.subject) for w in found.warnings] == [("ignored_field", "Meter/Checksum")]
    # with no field named like a key, the 16-byte values are used (and the notes say which)
    found = import_text(f"<Meters><Meter><Id>12345678</Id><Secret>{KEY_B.hex()}</Secret></Meter></Meters>")
    assert found.keys[0].notes == ("key from Meter/Secret", "ID from Meter/Id")


def test_xml_ambiguous_and_missing_identity() -> None:
    xml = (
        "<Meters>"
        f"<Meter><Serial>12345678</Serial><Id>23456789</Id><Key>{KEY_A.hex()}</Key></Meter>"
        f"<Meter><Description>stairs</Description><Key>{KEY_B.hex()}</Key></Meter>"
        "</Meters>"
    )
    with pytest.raises(NoKeysError) as info:
        import_text(xml)
    assert [(w.kind, w.subject) for w in info.value.warnings] == [
        ("ambiguous_id", "Meter/Key"),
        ("no_id", "Meter/Key"),
    ]
    assert "Meter/Serial, Meter/Id" in info.value.warnings[0].detail


def test_xml_refuses_dtd_and_broken_xml() -> None:
    bomb = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>'
    with pytest.raises(UnreadableFileError):
        import_text(bomb)
    with pytest.raises(UnreadableFileError):
        import_text("<Meters><Meter>")


# --------------------------------------------------------------------------- anything else


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"", NoKeysError),
        (b"   \n", NoKeysError),
        (b"hello world\nno keys here\n", NoKeysError),
        (bytes(range(256)) * 4, NoKeysError),
        (b"x" * 5_000_001, UnreadableFileError),
    ],
    ids=["empty", "blank", "text", "binary", "too-large"],
)
def test_not_a_key_file(data: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        import_keys(data)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=string.printable + "äöü<>=;:*!", max_size=300))
def test_any_text_gives_a_result_or_a_typed_error(text: str) -> None:
    try:
        found = import_text(text)
    except (NoKeysError, UnreadableFileError, PasswordRequiredError):
        return
    assert all(len(item.id) == 8 and len(item.key) == 16 for item in found.keys)
