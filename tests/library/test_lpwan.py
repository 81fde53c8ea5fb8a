"""OMS over LoRaWAN / mioty: uplink JSON of three network servers, payload layouts, bridges, counters."""

from __future__ import annotations

import base64
import json
from typing import Any

from hypothesis import given, settings, strategies as st
import pytest

from custom_components.oms.omslib.decoder import Decoder
from custom_components.oms.omslib.errors import LengthError, OmsError
from custom_components.oms.omslib.keyring import Keyring
from custom_components.oms.omslib.link import strip_crcs
from custom_components.oms.omslib.lpwan import (
    DeviceMapping,
    FragmentAssembler,
    FrameCounters,
    LpwanDecoder,
    device_type_code,
    parse_mapping,
    sniff,
    synthetic_frame,
)
from custom_components.oms.omslib.lpwan_listen import handle, parse_mqtt_url
from custom_components.oms.omslib.lpwan_uplink import Uplink, normalize_eui, parse_uplink
from tests import encoder as enc

KAMSTRUP_INSTALLATION = bytes.fromhex("7258578853372C3C16D610080004FF16BF587000")
"""Issue 13: a Kamstrup OMS-over-LoRaWAN installation frame, TPL long header."""
FPORT1_PAYLOAD = bytes.fromhex("78446D00331837441303000000" + "4D93132261" + "01" + "000000" + "03") + bytes(
    28
)
"""Issue 13: FPort 1, CI 0x78 (no header) -> 0.003 m³ at 2024-07-24 19:00, a 0x13 profile behind it."""
EUI = "70B3D5FFFE0000A1"
KEY = bytes.fromhex("0F1E2D3C4B5A69788796A5B4C3D2E1F0")
METER = enc.Addr(manufacturer="DME", id="44556677", version=0x20, device_type=0x07)
VOLUME = enc.record(0x0C, enc.vib(0x13), enc.bcd_bytes(12345678, 8))  # 12345.678 m³


def tts(
    payload: bytes, *, f_port: int = 1, f_cnt: int = 1, eui: str = EUI, gateways: int = 1
) -> dict[str, Any]:
    return {
        "end_device_ids": {
            "device_id": "meter-1",
            "application_ids": {"application_id": "oms"},
            "dev_eui": eui,
        },
        "received_at": "2024-07-24T19:00:05.123456789Z",
        "uplink_message": {
            "f_port": f_port,
            "f_cnt": f_cnt,
            "frm_payload": base64.b64encode(payload).decode(),
            "rx_metadata": [
                {"gateway_ids": {"gateway_id": f"gw-{i}"}, "rssi": -100 + 10 * i, "snr": 2.5 * i}
                for i in range(gateways)
            ],
        },
    }


def chirpstack(payload: bytes, *, f_port: int = 1, f_cnt: int = 1, eui: str = EUI) -> dict[str, Any]:
    return {
        "deduplicationId": "3d2b8c6e-0000-0000-0000-000000000000",
        "time": "2024-07-24T19:00:05+02:00",
        "deviceInfo": {"tenantId": "t", "applicationId": "a", "deviceName": "meter", "devEui": eui.lower()},
        "devAddr": "00aabbcc",
        "fCnt": f_cnt,
        "fPort": f_port,
        "data": base64.b64encode(payload).decode(),
        "rxInfo": [{"gatewayId": "0016c001ff10a235", "rssi": -57, "snr": 10.5}],
        "txInfo": {"frequency": 868100000},
    }


def mioty(payload: bytes, *, cnt: int = 1) -> dict[str, Any]:
    return {
        "cnt": cnt,
        "data": list(payload),
        "format": 0,
        "typeEui": "0",
        "meta": {},
        "baseStations": [
            {"bsEui": 0x70B3D59CD0000001, "rssi": -121.5, "snr": 8.25, "rxTime": 1721840405000000000},
            {"bsEui": 0x70B3D59CD0000002, "rssi": -110.0, "snr": 3.0, "rxTime": 1721840405000100000},
        ],
    }


def uplink(payload: bytes, *, f_port: int | None = 1, f_cnt: int | None = 1, eui: str = EUI) -> Uplink:
    return Uplink("tts", eui, f_port, f_cnt, payload)


def plain_frame(meter: enc.Addr = METER, acc: int = 7, **kw: Any) -> bytes:
    return enc.build(enc.TelegramSpec(records=[VOLUME], meter=meter, acc=acc, **kw))


def long_frame(meter: enc.Addr = METER) -> bytes:
    """A frame of 60-odd bytes, long enough to be split in three by a bridge."""
    records = [VOLUME] + [
        enc.record(0x0C, enc.vib(0x13), enc.bcd_bytes(n, 8), storage=n) for n in range(1, 7)
    ]
    return enc.build(enc.TelegramSpec(records=records, meter=meter, acc=1))


def volume(telegram_records: Any) -> float:
    return next(r.value for r in telegram_records if r.quantity == "volume" and r.storage == 0)


# --------------------------------------------------------------------------- known answers


def test_kamstrup_installation_frame_long_header() -> None:
    decoded = LpwanDecoder().decode(parse_uplink(json.dumps(tts(KAMSTRUP_INSTALLATION))))
    header = decoded.telegram.header
    assert decoded.layout == "tpl"
    assert header.ci == 0x72
    assert header.address.id == "53885758"
    # The bytes carry M = 37 2C: 0x2C37 is "KAW" in the FLAG association (EN 13757-7 §7.5.2);
    # Kamstrup's registered code KAM would be 2D 2C. The decoder reports what the bytes say.
    assert header.address.manufacturer == "KAW"
    assert (header.address.version, header.address.device_type, header.address.medium) == (
        0x3C,
        0x16,
        "cold_water",
    )
    assert (header.access_number, header.status.raw if header.status else None) == (0xD6, 0x10)
    assert header.security_mode == 0
    assert not header.encrypted
    assert header.link_address is None  # no wM-Bus link on LoRaWAN
    [record] = decoded.telegram.records
    assert (record.dib + record.vib, record.value) == (bytes.fromhex("04FF16"), 0x7058BF)


def test_fport1_no_header_payload_needs_the_mapping_then_gives_0_003_m3() -> None:
    lpwan = LpwanDecoder()
    with pytest.raises(OmsError) as caught:
        lpwan.decode(uplink(FPORT1_PAYLOAD, f_cnt=1))
    assert caught.value.code == "unmapped_device"
    assert EUI in caught.value.message

    lpwan.mapping[EUI] = DeviceMapping("12345678", device_type_code("water"))
    decoded = lpwan.decode(uplink(FPORT1_PAYLOAD, f_cnt=2))
    header = decoded.telegram.header
    assert (header.address.id, header.address.medium, header.address.manufacturer) == (
        "12345678",
        "water",
        "",
    )
    records = decoded.telegram.records
    current = [r for r in records if r.quantity == "volume" and r.dib + r.vib == bytes.fromhex("4413")]
    assert [(r.value, r.unit, r.storage) for r in current] == [(0.003, "m³", 1)]
    stamp = next(r for r in records if r.quantity == "date_time" and r.storage == 1)
    assert str(stamp.value).startswith("2024-07-24T19:00")


# --------------------------------------------------------------------------- network servers


def test_the_things_stack_uplink() -> None:
    up = parse_uplink(
        json.dumps(tts(b"\x01\x02", f_port=20, f_cnt=77, gateways=3)), "v3/oms@ttn/devices/m/up"
    )
    assert (up.network, up.dev_eui, up.f_port, up.f_cnt, up.payload) == ("tts", EUI, 20, 77, b"\x01\x02")
    assert (up.rssi_dbm, up.snr_db, up.gateways) == (-80.0, 5.0, 3)
    assert up.received_at == pytest.approx(1721847605.123456)


def test_the_things_stack_leaves_out_zero_counters_and_events_are_not_uplinks() -> None:
    message = tts(b"\x78\x01\x02")
    del message["uplink_message"]["f_cnt"]
    assert parse_uplink(message).f_cnt == 0
    join = {"end_device_ids": {"dev_eui": EUI}, "join_accept": {"session_key_id": "x"}}
    with pytest.raises(OmsError) as caught:
        parse_uplink(join)
    assert caught.value.code == "not_uplink"


def test_chirpstack_uplink_and_other_events() -> None:
    up = parse_uplink(chirpstack(b"\x7a\x01", f_cnt=5), f"application/a/device/{EUI.lower()}/event/up")
    assert (up.network, up.dev_eui, up.f_port, up.f_cnt) == ("chirpstack", EUI, 1, 5)
    assert (up.rssi_dbm, up.snr_db, up.gateways) == (-57.0, 10.5, 1)
    assert up.received_at == pytest.approx(1721840405.0)
    status = {"deviceInfo": {"devEui": EUI}, "margin": 7, "batteryLevel": 90}
    for message, topic in ((status, None), (chirpstack(b"\x01"), "application/a/device/x/event/join")):
        with pytest.raises(OmsError) as caught:
            parse_uplink(message, topic)
        assert caught.value.code == "not_uplink"


def test_mioty_uplink_takes_the_eui_from_the_topic() -> None:
    up = parse_uplink(json.dumps(mioty(b"\x78\x0c", cnt=9)), "mioty/ac/70-b3-d5-67-70-ff-00-01/uplink")
    assert (up.network, up.dev_eui, up.f_port, up.f_cnt, up.payload) == (
        "mioty",
        "70B3D56770FF0001",
        None,
        9,
        b"x\x0c",
    )
    assert (up.rssi_dbm, up.snr_db, up.gateways) == (-110.0, 8.25, 2)
    assert up.received_at == pytest.approx(1721840405.0)  # nanoseconds
    with pytest.raises(OmsError, match="endpoint EUI"):
        parse_uplink(mioty(b"\x78"))  # no topic, no EUI
    bad = mioty(b"")
    bad["data"] = [1, 256]
    with pytest.raises(OmsError, match="byte values"):
        parse_uplink(bad, "mioty/ac/0000000000000001/uplink")


def test_mosquitto_sub_json_envelope_carries_the_topic() -> None:
    line = json.dumps(
        {"tst": "x", "topic": "mioty/ac/0011223344556677/uplink", "qos": 0, "payload": mioty(b"\x78")}
    )
    assert parse_uplink(line).dev_eui == "0011223344556677"
    quoted = json.dumps({"topic": "v3/a/devices/b/up", "payload": json.dumps(tts(b"\x78\x00"))})
    assert parse_uplink(quoted).network == "tts"


@pytest.mark.parametrize(
    "message", [b"\xff\xfe", "[1, 2]", "{}", '{"foo": 1}', '{"uplink_message": {"frm_payload": 5}}']
)
def test_not_uplinks_are_typed(message: str | bytes) -> None:
    with pytest.raises(OmsError) as caught:
        parse_uplink(message)
    assert caught.value.code == "not_uplink"


def test_network_can_be_forced() -> None:
    with pytest.raises(OmsError, match="not a mioty uplink"):
        parse_uplink(tts(b"\x78"), network="mioty")
    assert parse_uplink(tts(b"\x78"), network="tts").network == "tts"


def test_eui_normalisation() -> None:
    assert normalize_eui("70-b3-d5-67-70-ff-00-01") == "70B3D56770FF0001"
    assert normalize_eui(0x70B3D5) == "000000000070B3D5"
    assert normalize_eui(" my-device ") == "my-device"  # a TTS device ID stays as it is


# --------------------------------------------------------------------------- payload layouts


def test_sniffing() -> None:
    frame = plain_frame()
    assert sniff(frame) == "dll"
    assert sniff(enc.build(enc.TelegramSpec(records=[VOLUME], meter=METER, crc="A"))) == "dll"
    assert sniff(frame[10:]) == "tpl"  # 0x7A short header
    assert sniff(KAMSTRUP_INSTALLATION) == "tpl"
    assert sniff(FPORT1_PAYLOAD) == "tpl"
    for other in (b"", b"\x78", b"\x7a\x01\x02\x03", bytes(range(20)), b"\x72" + bytes(5)):
        assert sniff(other) is None


def test_full_dll_payload_with_and_without_crcs() -> None:
    lpwan = LpwanDecoder()
    for n, crc in enumerate(("none", "A")):
        decoded = lpwan.decode(uplink(plain_frame(crc=crc, acc=n), f_cnt=n + 1))
        assert decoded.layout == "dll"
        assert decoded.telegram.header.address.id == METER.id
        assert volume(decoded.telegram.records) == pytest.approx(12345.678)


def test_encrypted_short_header_payload_mode5_with_mapping_and_key() -> None:
    frame = plain_frame(mode=5, key=KEY)
    payload = frame[10:]
    assert payload[0] == 0x7A
    lpwan = LpwanDecoder(Decoder(Keyring({METER.id: KEY})))
    lpwan.mapping[EUI] = DeviceMapping(METER.id, METER.device_type, METER.manufacturer, METER.version)
    decoded = lpwan.decode(uplink(payload))
    assert decoded.telegram.decrypted
    assert volume(decoded.telegram.records) == pytest.approx(12345.678)
    # the IV needs the manufacturer and version: without them the key does not open it
    lpwan.mapping[EUI] = DeviceMapping(METER.id, METER.device_type)
    with pytest.raises(OmsError) as caught:
        lpwan.decode(uplink(payload, f_cnt=2))
    assert caught.value.code == "wrong_key"


def test_no_header_payload_and_missing_key() -> None:
    payload = plain_frame(tpl="none")[10:]
    assert payload[0] == 0x78
    lpwan = LpwanDecoder(mapping={EUI: DeviceMapping(METER.id, 0x07)})
    assert volume(lpwan.decode(uplink(payload)).telegram.records) == pytest.approx(12345.678)
    encrypted = plain_frame(mode=5, key=KEY)[10:]
    with pytest.raises(OmsError) as caught:
        lpwan.decode(uplink(encrypted, f_cnt=2))
    assert caught.value.code == "no_key"
    assert caught.value.header is not None
    assert caught.value.header.address.id == METER.id


def test_mode7_frame_in_a_full_dll_payload() -> None:
    frame = enc.build(enc.TelegramSpec(records=[VOLUME], meter=METER, acc=3, mode=7, key=KEY))
    decoded = LpwanDecoder(Decoder(Keyring({METER.id: KEY}))).decode(uplink(frame))
    assert decoded.layout == "dll"
    assert decoded.telegram.authenticated
    assert volume(decoded.telegram.records) == pytest.approx(12345.678)


def test_wrong_mapping_is_a_typed_error_naming_the_real_meter() -> None:
    lpwan = LpwanDecoder(mapping={EUI: DeviceMapping("11111111", 0x16)})
    for n, payload in enumerate((KAMSTRUP_INSTALLATION, plain_frame())):
        with pytest.raises(OmsError) as caught:
            lpwan.decode(uplink(payload, f_cnt=n + 1))
        assert caught.value.code == "mapping_mismatch"
        assert ("53885758", METER.id)[n] in caught.value.message


def test_not_oms_ports_are_typed_and_never_crash() -> None:
    lpwan = LpwanDecoder()
    for n, payload in enumerate((b"", b"\x01\x02\x03", bytes.fromhex("0d0a0b"), b"\x7a\x00")):
        with pytest.raises(OmsError) as caught:
            lpwan.decode(uplink(payload, f_port=2, f_cnt=n + 1))
        assert caught.value.code == "not_oms"


@settings(max_examples=300)
@given(payload=st.binary(max_size=80), f_port=st.integers(0, 255), f_cnt=st.integers(0, 70000))
def test_any_payload_is_a_telegram_or_a_typed_error(payload: bytes, f_port: int, f_cnt: int) -> None:
    lpwan = LpwanDecoder(mapping={EUI: DeviceMapping("12345678", 7)})
    codes = []
    try:
        lpwan.decode(uplink(payload, f_port=f_port, f_cnt=f_cnt))
    except OmsError as err:  # anything else fails the test
        codes.append(err.code)
    assert all(isinstance(code, str) and code for code in codes)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
FIELDS = st.sampled_from(
    [
        "end_device_ids",
        "uplink_message",
        "deviceInfo",
        "baseStations",
        "cnt",
        "data",
        "topic",
        "payload",
        "fPort",
    ]
)


@settings(max_examples=300)
@given(obj=st.dictionaries(FIELDS, JSON, max_size=5), topic=st.none() | st.text(max_size=30))
def test_any_json_is_an_uplink_or_not_uplink(obj: dict[str, Any], topic: str | None) -> None:
    codes = []
    try:
        parse_uplink(obj, topic)
    except OmsError as err:  # anything else fails the test
        codes.append(err.code)
    assert set(codes) <= {"not_uplink"}


@settings(max_examples=300)
@given(payload=st.binary(min_size=1, max_size=246), meter_id=st.from_regex(r"[0-9]{8}", fullmatch=True))
def test_synthetic_frame_is_never_mistaken_for_a_frame_with_crcs(payload: bytes, meter_id: str) -> None:
    frame = synthetic_frame(payload, DeviceMapping(meter_id, 7, "ABC", 1))
    assert frame[10:] == payload
    assert strip_crcs(frame, "none") == (frame, "none")
    if len(payload) == 1 and payload != b"\x78":
        # a lone CI byte is ambiguous to format detection (a format-A frame cut after block 1)
        with pytest.raises(LengthError):
            strip_crcs(frame)
    else:
        assert strip_crcs(frame) == (frame, "none")


# --------------------------------------------------------------------------- bridges (Lobaro)


def test_bridge_ports_split_a_telegram_into_parts() -> None:
    frame = long_frame(enc.Addr("LSE", "99887766", 1, 7))
    lpwan = LpwanDecoder()
    third = len(frame) // 3
    parts = (frame[:third], frame[third : 2 * third], frame[2 * third :])
    with pytest.raises(OmsError) as caught:
        lpwan.decode(uplink(parts[0], f_port=13, f_cnt=40))
    assert caught.value.code == "fragment_incomplete"
    with pytest.raises(OmsError):
        lpwan.decode(uplink(parts[1], f_port=23, f_cnt=41))
    decoded = lpwan.decode(uplink(parts[2], f_port=33, f_cnt=42))
    assert decoded.layout == "bridge"
    assert decoded.telegram.header.address.id == "99887766"  # identity from the telegram: no mapping needed
    assert volume(decoded.telegram.records) == pytest.approx(12345.678)
    # port 11: one part, decoded at once
    assert lpwan.decode(uplink(frame, f_port=11, f_cnt=43)).telegram.header.address.id == "99887766"


def test_bridge_lost_part_drops_the_telegram() -> None:
    frame = long_frame()
    lpwan = LpwanDecoder()
    with pytest.raises(OmsError):
        lpwan.decode(uplink(frame[:15], f_port=13, f_cnt=1))
    with pytest.raises(OmsError) as caught:  # part 2 never arrived
        lpwan.decode(uplink(frame[30:], f_port=33, f_cnt=3))
    assert caught.value.code == "fragment_lost"
    with pytest.raises(OmsError):
        lpwan.decode(uplink(frame[:15], f_port=12, f_cnt=10))
    with pytest.raises(OmsError) as caught:  # right port, but a frame counter gap: a part was lost
        lpwan.decode(uplink(frame[15:], f_port=22, f_cnt=12))
    assert caught.value.code == "fragment_lost"


def test_bridge_port_101_and_102_flags_timestamp_and_rssi() -> None:
    frame = long_frame(enc.Addr("LSE", "55555555", 1, 7))
    stamp = (1582560026).to_bytes(5, "big")
    lpwan = LpwanDecoder()
    whole = lpwan.decode(uplink(b"\x03" + stamp + frame, f_port=101, f_cnt=1))
    assert whole.bridge is not None
    assert (whole.bridge.timestamp, whole.bridge.rssi_dbm) == (1582560026.0, None)
    message = stamp + bytes((87,)) + frame
    with pytest.raises(OmsError):
        lpwan.decode(uplink(b"\x01" + message[:20], f_port=102, f_cnt=2))
    with pytest.raises(OmsError):
        lpwan.decode(uplink(b"\x00" + message[20:30], f_port=102, f_cnt=3))
    decoded = lpwan.decode(uplink(b"\x02" + message[30:], f_port=102, f_cnt=4))
    assert decoded.layout == "bridge"
    assert decoded.bridge is not None
    assert decoded.bridge.rssi_dbm == -87.0
    assert decoded.telegram.header.address.id == "55555555"
    with pytest.raises(OmsError) as caught:
        lpwan.decode(uplink(b"\x09abc", f_port=101, f_cnt=5))
    assert caught.value.code == "not_oms"


def test_tpl_payload_on_a_two_digit_port_is_not_taken_for_a_fragment() -> None:
    lpwan = LpwanDecoder(mapping={EUI: DeviceMapping("12345678", 7)})
    decoded = lpwan.decode(uplink(FPORT1_PAYLOAD, f_port=22, f_cnt=1))  # 22 = "part 2 of 2", nothing stored
    assert decoded.layout == "tpl"
    decoded = lpwan.decode(uplink(FPORT1_PAYLOAD, f_port=12, f_cnt=2))  # 0x78 is no wM-Bus L + C
    assert decoded.layout == "tpl"


def test_reassembly_is_bounded() -> None:
    assembler = FragmentAssembler(max_devices=2, max_bytes=40, max_age=60.0)
    frame = plain_frame()
    for n, eui in enumerate(("A" * 16, "B" * 16, "C" * 16)):
        with pytest.raises(OmsError):
            assembler.add(uplink(frame[:12], f_port=12, f_cnt=1, eui=eui), now=100.0 + n)
    assert not assembler.pending("A" * 16, 103.0)  # the oldest device was dropped
    assert assembler.pending("C" * 16, 103.0)
    assert not assembler.pending("C" * 16, 200.0)  # too old
    with pytest.raises(OmsError) as caught:
        assembler.add(uplink(bytes(30), f_port=22, f_cnt=2, eui="B" * 16), now=104.0)
    assert caught.value.code == "fragment_lost"  # 42 bytes > 40


# --------------------------------------------------------------------------- frame counters


def test_duplicates_from_two_gateways_and_replays() -> None:
    lpwan = LpwanDecoder(mapping={EUI: DeviceMapping("12345678", 7)})
    lpwan.decode(uplink(FPORT1_PAYLOAD, f_cnt=100))
    codes = []
    for f_cnt in (100, 99, 101, 3):
        try:
            lpwan.decode(uplink(FPORT1_PAYLOAD, f_cnt=f_cnt))
            codes.append("ok")
        except OmsError as err:
            codes.append(err.code)
    assert codes == ["duplicate", "replay", "ok", "ok"]  # 3: the device restarted (rejoin)


def test_counters_are_bounded() -> None:
    counters = FrameCounters(max_devices=2)
    for eui in ("A", "B", "C"):
        counters.check(eui, 50)
    counters.check("A", 50)  # forgotten, so not a duplicate any more
    with pytest.raises(OmsError):
        counters.check("C", 50)


def test_counters_survive_a_snapshot_and_restore() -> None:
    counters = FrameCounters()
    counters.check(EUI, 100)
    counters.check("dev-0a", 7)  # a The Things Stack device ID (an uplink without dev_eui)
    counters.check(EUI, 101)
    snapshot = counters.to_json()
    assert snapshot == {"dev-0a": 7, EUI: 101}
    assert list(snapshot) == ["dev-0a", EUI]  # least recently heard first
    restored = FrameCounters()
    restored.restore(json.loads(json.dumps(snapshot)))
    assert restored.to_json() == snapshot
    with pytest.raises(OmsError) as caught:
        restored.check(EUI, 101)
    assert caught.value.code == "duplicate"
    with pytest.raises(OmsError) as caught:
        restored.check(EUI, 50)
    assert caught.value.code == "replay"
    restored.check(EUI, 102)
    restored.check("dev-0a", 3)  # below RESTART_F_CNT after a higher one: the device rejoined


@pytest.mark.parametrize(
    "data",
    [None, [], "x", 5, {EUI: "100"}, {EUI: 1.5}, {EUI: True}, {EUI: -1}, {EUI: 2**32}, {EUI: None}],
)
def test_restore_of_malformed_data_starts_empty(data: object) -> None:
    counters = FrameCounters()
    counters.check(EUI, 100)
    counters.restore(data)
    assert counters.to_json() == {}
    counters.check(EUI, 100)  # nothing remembered: not a duplicate


def test_restore_keeps_the_well_formed_counters_only() -> None:
    counters = FrameCounters()
    counters.restore(
        {
            EUI: 0xFFFF_FFFF,
            "70B3D5-FFFE0000A2": 1,  # not normalised
            EUI[:-1]: 1,  # 15 digits
            EUI + "0": 1,
            "70B3D5FFFE0000G1": 1,  # not hex
            "Dev-A": 1,  # upper case: no TTS device ID
            "-dev": 1,
            "a" * 37: 1,
            "a-" * 18 + "a": 1,  # 37 characters
            "ab": 1,
            "a" * 36: 2,
            "": 1,
            "dev-0b": 0,
        }
    )
    assert counters.to_json() == {EUI: 0xFFFF_FFFF, "a" * 36: 2, "dev-0b": 0}


def test_restore_is_bounded_and_keeps_the_newest() -> None:
    counters = FrameCounters(max_devices=2)
    counters.restore({f"{i:016X}": i for i in range(5)})
    assert counters.to_json() == {f"{3:016X}": 3, f"{4:016X}": 4}


# --------------------------------------------------------------------------- mapping


def test_parse_mapping() -> None:
    assert parse_mapping("70-b3-d5-ff-fe-00-00-a1=12345678") == (EUI, DeviceMapping("12345678", 0x0F))
    assert parse_mapping(f"{EUI}=12345678,warm water") == (EUI, DeviceMapping("12345678", 0x06))
    assert parse_mapping(f"{EUI}=12345678,0x04,kam,0x1b")[1] == DeviceMapping("12345678", 4, "KAM", 0x1B)
    for bad in ("12345678", f"{EUI}=1234", f"{EUI}=12345678,lava", f"{EUI}=12345678,water,KA", "=12345678"):
        with pytest.raises(ValueError, match=r"\S"):
            parse_mapping(bad)


# --------------------------------------------------------------------------- CLI pieces


def test_handle_never_raises_and_adds_the_lpwan_fields() -> None:
    lpwan = LpwanDecoder(mapping={EUI: DeviceMapping("12345678", 7)})
    obj, up = handle(lpwan, None, json.dumps(chirpstack(FPORT1_PAYLOAD)).encode(), str)
    assert obj["ok"]
    assert up is not None
    assert (obj["dev_eui"], obj["f_port"], obj["network"], obj["layout"], obj["gateways"]) == (
        EUI,
        1,
        "chirpstack",
        "tpl",
        1,
    )
    obj, up = handle(lpwan, None, b"garbage", str)
    assert (obj["ok"], obj["error"]["code"], obj["dev_eui"], up) == (False, "not_uplink", None, None)


def test_parse_mqtt_url() -> None:
    url = parse_mqtt_url("mqtt://user:p%40ss@broker.lan:1884/application/+/device/+/event/up")
    assert (url.host, url.port, url.username, url.password, url.tls) == (
        "broker.lan",
        1884,
        "user",
        "p@ss",
        False,
    )
    assert url.topics == ("application/+/device/+/event/up",)
    assert parse_mqtt_url("mqtt://h/v3/#").topics == ("v3/#",)
    default = parse_mqtt_url("mqtts://h")
    assert (default.port, default.tls, len(default.topics)) == (8883, True, 3)
