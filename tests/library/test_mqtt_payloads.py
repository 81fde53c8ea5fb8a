"""MQTT payload forms, receiver names from topics, and cross-receiver de-duplication."""

from __future__ import annotations

import json

from hypothesis import given, settings, strategies as st
import pytest

from custom_components.oms.omslib.dedup import MAX_RECEIVERS_PER_ENTRY, Deduplicator
from custom_components.oms.omslib.frame import Frame
from custom_components.oms.omslib.mqtt_payloads import MAX_PAYLOAD, PayloadError, parse_payload, receiver_name
from tests import encoder as enc
from tests.sims.sim_telegrams import rtl433_format_a_quirk, telegram

FRAME = telegram(26, ident="31415926", mfct="KAM", medium=0x16)
HEX = FRAME.hex().upper()
WIRED = enc.wired_long_frame(0x08, 0x05, 0x72, bytes(range(20)))
TOPIC = "wmbus/garage/telegram"


def parse(payload: bytes | str, topic: str = TOPIC) -> Frame:
    frame = parse_payload(payload, topic)
    assert frame is not None
    return frame


# ---------------------------------------------------------------------------
# Plain hex
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        HEX,
        HEX.lower(),
        "0x" + HEX,
        "0X" + HEX.lower(),
        " ".join(HEX[i : i + 2] for i in range(0, len(HEX), 2)),
        ":".join(HEX[i : i + 2] for i in range(0, len(HEX), 2)),
        "-".join(HEX[i : i + 2] for i in range(0, len(HEX), 2)),
        f"  {HEX}\r\n",
        HEX.encode(),
        ("\ufeff" + HEX).encode(),
        json.dumps(HEX),
    ],
)
def test_plain_hex(payload: bytes | str) -> None:
    frame = parse(payload)
    assert frame.raw == FRAME
    assert frame.rssi_dbm is None
    assert frame.link_mode is None
    assert frame.receiver_id == TOPIC


@pytest.mark.parametrize("framed", [enc.add_crc_format_a(FRAME), enc.add_crc_format_b(FRAME)])
def test_hex_with_dll_crcs_is_passed_on_as_is(framed: bytes) -> None:
    assert parse(framed.hex()).raw == framed


@pytest.mark.parametrize(
    ("suffix", "rssi", "mode"),
    [(";rssi=-71;mode=C1", -71.0, "C1"), (";-88.5", -88.5, None), (";mode:t;foo=1", None, "T1")],
)
def test_hex_with_fields(suffix: str, rssi: float | None, mode: str | None) -> None:
    frame = parse(HEX + suffix)
    assert (frame.raw, frame.rssi_dbm, frame.link_mode) == (FRAME, rssi, mode)


def test_wired_long_frame_gets_mode_mbus() -> None:
    frame = parse(WIRED.hex())
    assert (frame.raw, frame.link_mode) == (WIRED, "mbus")


@pytest.mark.parametrize("framed", [FRAME, enc.add_crc_format_a(FRAME), enc.add_crc_format_b(FRAME), WIRED])
def test_binary_frame(framed: bytes) -> None:
    frame = parse(framed)
    assert frame.raw == framed


def test_receiver_id_and_time() -> None:
    frame = parse_payload(HEX, TOPIC, receiver_id="garage", received_at=1234.5)
    assert frame is not None
    assert (frame.receiver_id, frame.received_at) == ("garage", 1234.5)


# ---------------------------------------------------------------------------
# ESPHome
# ---------------------------------------------------------------------------


def test_esphome_v4_mqtt_raw_json() -> None:
    """SzczepanLeon/esphome-components version_4 ``mqtt_raw`` (format JSON) on <name>/wmbus/raw/<id>."""
    payload = f'{{"address": "31415926", "mode": "T", "rssi": -67, "frame": "{HEX}"}}'
    frame = parse(payload, "wmbus-gw/wmbus/raw/31415926")
    assert (frame.raw, frame.rssi_dbm, frame.link_mode) == (FRAME, -67.0, "T1")


def test_esphome_v4_without_address_and_c_mode() -> None:
    frame = parse(json.dumps({"mode": "C", "rssi": -90, "frame": enc.add_crc_format_b(FRAME).hex().upper()}))
    assert (frame.raw, frame.rssi_dbm, frame.link_mode) == (enc.add_crc_format_b(FRAME), -90.0, "C1")


@pytest.mark.parametrize(("mode", "label"), [("T1", "T1"), ("C1", "C1")])
def test_esphome_rtlwmbus_line(mode: str, label: str) -> None:
    """``frame->as_rtlwmbus()`` / mqtt_raw_format RTLWMBUS: RSSI in dBm from the radio chip."""
    frame = parse(f"{mode};1;1;2025-03-01 10:00:00.00Z;-74;;;0x{HEX}\n")
    assert (frame.raw, frame.rssi_dbm, frame.link_mode) == (FRAME, -74.0, label)


def test_rtl_wmbus_line_with_sdr_magnitudes_has_no_rssi() -> None:
    frame = parse(f"C1;1;1;2025-03-01 10:00:00.000;117;102;31415926;0x{HEX}")
    assert (frame.rssi_dbm, frame.link_mode) == (None, "C1")


def test_rtl_wmbus_failed_check_is_rejected() -> None:
    with pytest.raises(PayloadError) as err:
        parse_payload(f"T1;0;1;2025-03-01 10:00:00.00Z;-74;;;0x{HEX}", TOPIC)
    assert err.value.reason == "crc"


@pytest.mark.parametrize(
    ("obj", "rssi", "mode"),
    [
        ({"telegram": HEX, "rssi": -70, "lqi": 40, "mode": "T1"}, -70.0, "T1"),
        ({"hex": HEX, "rssi_dbm": "-61.5", "link_mode": "C1"}, -61.5, "C1"),
        ({"raw": HEX.lower(), "format": "T1 A"}, None, "T1"),
        ({"data": "0x" + HEX, "rssi": None}, None, None),
        ({"payload": HEX, "rssi": True, "mode": "X9"}, None, None),
        ({"telegram": HEX, "rssi": "n/a", "mode": 5}, None, None),
        ({"telegram": HEX, "rssi": 1e300}, None, None),
    ],
)
def test_generic_json(obj: dict[str, object], rssi: float | None, mode: str | None) -> None:
    frame = parse(json.dumps(obj))
    assert (frame.raw, frame.rssi_dbm, frame.link_mode) == (FRAME, rssi, mode)


# ---------------------------------------------------------------------------
# rtl_433
# ---------------------------------------------------------------------------


def rtl433_event(data: str, model: str = "Wireless-MBus", mode: str = "T") -> str:
    return json.dumps(
        {
            "time": "2025-03-01 10:00:00",
            "model": model,
            "mode": mode,
            "M": "KAM",
            "id": 31415926,
            "version": 1,
            "type": 22,
            "C": 68,
            "data": data,
            "CI": 122,
            "mic": "CRC",
            "rssi": -0.1,
        }
    )


def test_rtl433_event() -> None:
    frame = parse(rtl433_event(FRAME.hex()), "rtl_433/pi/events")
    assert (frame.raw, frame.rssi_dbm, frame.link_mode) == (FRAME, None, "T1")


def test_rtl433_event_format_a_quirk() -> None:
    quirky = rtl433_format_a_quirk(FRAME)
    assert parse(rtl433_event(quirky.hex(), mode="C"), "rtl_433/pi/events").raw == FRAME


def test_rtl433_other_device_is_ignored() -> None:
    event = json.dumps({"time": "x", "model": "Acurite-Tower", "id": 1, "temperature_C": 21.5})
    assert parse_payload(event, "rtl_433/pi/events") is None
    assert parse_payload(rtl433_event("00", model="KNX-RF"), "rtl_433/pi/events") is None


def test_rtl433_event_without_data_is_rejected() -> None:
    with pytest.raises(PayloadError):
        parse_payload(json.dumps({"model": "Wireless-MBus", "mode": "T"}), "rtl_433/pi/events")


def test_rtl433_device_data_topic() -> None:
    topic = "rtl_433/pi/devices/Wireless-MBus/31415926/data"
    frame = parse(FRAME.hex(), topic)
    assert frame.raw == FRAME


# ---------------------------------------------------------------------------
# wmbusmeters
# ---------------------------------------------------------------------------


def test_wmbusmeters_logtelegrams_line() -> None:
    header, content = HEX[:22], HEX[22:]
    assert parse(f"telegram=|{header}_{content}|+17").raw == FRAME
    assert parse(f"telegram=|{header}_{content}|").raw == FRAME


def test_wmbusmeters_jsonl_decode_request_wired() -> None:
    frame = parse(json.dumps({"_": "decode", "telegram": WIRED.hex(), "format": "mbus"}))
    assert (frame.raw, frame.link_mode) == (WIRED, "mbus")


def test_wmbusmeters_json_with_telegram_and_rssi() -> None:
    obj = {"_": "telegram", "media": "water", "id": "31415926", "telegram": HEX, "rssi_dbm": -80}
    frame = parse(json.dumps(obj))
    assert (frame.raw, frame.rssi_dbm) == (FRAME, -80.0)


def test_wmbusmeters_decoded_json_is_rejected_as_decoded() -> None:
    obj = {"_": "telegram", "media": "water", "meter": "multical21", "id": "31415926", "total_m3": 6.4}
    with pytest.raises(PayloadError) as err:
        parse_payload(json.dumps(obj), "wmbusmeters/kitchen")
    assert err.value.reason == "decoded"


# ---------------------------------------------------------------------------
# Not telegrams
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("payload", ["", b"", "   \n", "online", "offline", b"Online", "true", '""'])
def test_no_telegram_expected(payload: bytes | str) -> None:
    assert parse_payload(payload, TOPIC) is None


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ("hello", "garbage"),
        ("zz" * 20, "garbage"),
        (HEX + "0", "truncated"),
        ("0A4401", "length"),
        (HEX[:-4], "truncated"),
        ("FF" + HEX[2:], "truncated"),
        ("2E" * 600, "length"),
        ("[1, 2]", "garbage"),
        ("42", "length"),
        ("{", "garbage"),
        ('{"foo": 1}', "no_telegram"),
        ('{"telegram": ""}', "no_telegram"),
        (HEX + "\n" + HEX, "garbage"),
        ("x" * (MAX_PAYLOAD + 1), "length"),
        ("telegram=|zz|", "garbage"),
        ("T1;1;1;short", "garbage"),
        (b"\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b", "garbage"),
        (b"\x05\x01\x02\x03\x04\x05", "length"),
        (b"\xff\xfe" + HEX.encode(), "garbage"),
        ("X1;1;1;2025;1;;;0x" + HEX, "garbage"),
        ("T1;1;1;2025;-70;;;" + HEX, "garbage"),
    ],
)
def test_rejected(payload: bytes | str, reason: str) -> None:
    with pytest.raises(PayloadError) as err:
        parse_payload(payload, TOPIC)
    assert err.value.reason == reason
    assert isinstance(err.value, ValueError)
    assert str(err.value)


_json = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
_keys = st.sampled_from(["telegram", "frame", "data", "hex", "raw", "rssi", "mode", "model", "_", "format"])
_hexish = st.text(alphabet="0123456789abcdefABCDEF xX:;|_-=+T1C\n", max_size=200)
_topics = st.sampled_from([TOPIC, "rtl_433/pi/events", "rtl_433/pi/devices/Wireless-MBus/1/data", ""])


def _accepts(payload: bytes | str, topic: str) -> None:
    try:
        frame = parse_payload(payload, topic)
    except PayloadError as err:
        reason = err.reason
        assert reason
        return
    assert frame is None or isinstance(frame.raw, bytes)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300) | st.text(max_size=300) | _hexish, _topics)
def test_fuzz_raw(payload: bytes | str, topic: str) -> None:
    _accepts(payload, topic)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(_keys, _json | _hexish | st.just(HEX) | st.just("Wireless-MBus"), max_size=6), _topics)
def test_fuzz_json(obj: dict[str, object], topic: str) -> None:
    _accepts(json.dumps(obj), topic)


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=1, max_size=len(FRAME)), st.integers(0, len(FRAME)))
def test_fuzz_mutated_frames(patch: bytes, at: int) -> None:
    mutated = FRAME[:at] + patch + FRAME[at + len(patch) :]
    _accepts(mutated, TOPIC)
    _accepts(mutated.hex(), TOPIC)
    _accepts(json.dumps({"frame": mutated.hex(), "rssi": -50}), TOPIC)


# ---------------------------------------------------------------------------
# receiver_name
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("topic", "topic_filter", "name"),
    [
        ("wmbus/kitchen/telegram", "wmbus/+/telegram", "kitchen"),
        ("wmbus-gw/wmbus/raw/31415926", "+/wmbus/raw/#", "wmbus-gw"),
        ("wmbus-gw/wmbus/raw", "+/wmbus/raw/#", "wmbus-gw"),
        ("rtl_433/pi/events", "rtl_433/+/events", "pi"),
        ("site/a/wmbus/b/telegram", "site/+/wmbus/+/telegram", "a/b"),
        ("wmbus/kitchen/telegram", "$share/oms/wmbus/+/telegram", "kitchen"),
        ("wmbus/kitchen/telegram", "wmbus/#", "wmbus/kitchen/telegram"),
        ("wmbus/kitchen/telegram", "wmbus/kitchen/telegram", "wmbus/kitchen/telegram"),
        ("wmbus//telegram", "wmbus/+/telegram", "wmbus//telegram"),
        ("other/kitchen/telegram", "wmbus/+/telegram", "other/kitchen/telegram"),
        ("wmbus/kitchen", "wmbus/+/telegram", "wmbus/kitchen"),
        ("wmbus/kitchen/telegram/x", "wmbus/+/telegram", "wmbus/kitchen/telegram/x"),
        ("$SYS/broker/load", "+/broker/load", "$SYS/broker/load"),
        ("a/b", "#/b", "a/b"),
        ("a/b", "$share/g", "a/b"),
    ],
)
def test_receiver_name(topic: str, topic_filter: str, name: str) -> None:
    assert receiver_name(topic, topic_filter) == name


# ---------------------------------------------------------------------------
# Deduplicator
# ---------------------------------------------------------------------------

METER = bytes.fromhex("2d2c26594131161a")
BODY = FRAME[10:]


def test_duplicates_across_receivers_collect_receivers_and_best_rssi() -> None:
    dedup = Deduplicator()
    first = dedup.seen(METER, 17, BODY, "garage", -85.0, 100.0)
    assert first.new
    assert not first.duplicate
    assert (first.receivers, first.best_rssi, first.best_receiver, first.count) == (
        ("garage",),
        -85.0,
        "garage",
        1,
    )
    assert first.improved

    second = dedup.seen(METER, 17, BODY, "attic", -60.0, 100.4)
    assert second.duplicate
    assert (second.receivers, second.best_rssi, second.best_receiver) == (("garage", "attic"), -60.0, "attic")
    assert second.improved
    assert second.count == 2
    assert second.first_seen == 100.0

    third = dedup.seen(METER, 17, BODY, "garage", -70.0, 101.0)
    assert third.duplicate
    assert not third.improved
    assert (third.receivers, third.best_rssi, third.best_receiver, third.count) == (
        ("garage", "attic"),
        -60.0,
        "attic",
        3,
    )


def test_rssi_unknown() -> None:
    dedup = Deduplicator()
    first = dedup.seen("1234", None, BODY, "a", None, 0.0)
    assert first.new
    assert first.best_rssi is None
    assert first.best_receiver == "a"
    assert not first.improved
    second = dedup.seen("1234", None, BODY, "b", -77.0, 1.0)
    assert second.duplicate
    assert second.improved
    assert second.best_receiver == "b"
    third = dedup.seen("1234", None, BODY, "c", None, 2.0)
    assert third.best_rssi == -77.0
    assert not third.improved


@pytest.mark.parametrize(
    ("meter", "access", "body"),
    [(b"other-meter", 17, BODY), (METER, 18, BODY), (METER, None, BODY), (METER, 17, BODY + b"\x00")],
)
def test_key_parts_distinguish(meter: bytes, access: int | None, body: bytes) -> None:
    dedup = Deduplicator()
    dedup.seen(METER, 17, BODY, "a", -80.0, 0.0)
    assert dedup.seen(meter, access, body, "a", -80.0, 1.0).new


def test_window_runs_from_first_reception() -> None:
    dedup = Deduplicator(window=30.0)
    assert dedup.seen(METER, 1, BODY, "a", None, 0.0).new
    assert dedup.seen(METER, 1, BODY, "a", None, 29.9).duplicate
    again = dedup.seen(METER, 1, BODY, "b", None, 30.0)
    assert again.new
    assert again.receivers == ("b",)
    assert again.count == 1


def test_small_clock_step_back_is_tolerated() -> None:
    dedup = Deduplicator(window=30.0)
    dedup.seen(METER, 1, BODY, "a", None, 100.0)
    assert dedup.seen(METER, 1, BODY, "b", None, 99.0).duplicate
    assert dedup.seen(METER, 1, BODY, "b", None, 60.0).new


def test_expired_entries_are_dropped() -> None:
    dedup = Deduplicator(window=10.0)
    for i in range(50):
        dedup.seen(METER, i, BODY, "a", None, float(i) / 10)
    assert len(dedup) == 50
    dedup.seen(METER, 999, BODY, "a", None, 14.0)
    assert len(dedup) == 1 + sum(1 for i in range(50) if 14.0 - i / 10 < 10.0)
    dedup.seen(METER, 1000, BODY, "a", None, 100.0)
    assert len(dedup) == 1
    dedup.clear()
    assert len(dedup) == 0


def test_max_entries_drops_the_oldest() -> None:
    dedup = Deduplicator(max_entries=4)
    for i in range(10):
        dedup.seen(METER, i, BODY, "a", None, 0.0)
    assert len(dedup) == 4
    assert dedup.seen(METER, 0, BODY, "a", None, 1.0).new  # evicted
    assert dedup.seen(METER, 9, BODY, "a", None, 1.0).duplicate
    assert len(dedup) == 4


def test_receivers_per_entry_are_bounded() -> None:
    dedup = Deduplicator()
    for i in range(MAX_RECEIVERS_PER_ENTRY + 10):
        result = dedup.seen(METER, 1, BODY, f"r{i}", float(-100 + i), 0.0)
    assert len(result.receivers) == MAX_RECEIVERS_PER_ENTRY
    assert result.count == MAX_RECEIVERS_PER_ENTRY + 10
    assert result.best_receiver == f"r{MAX_RECEIVERS_PER_ENTRY + 9}"


def test_many_calls_stay_bounded() -> None:
    dedup = Deduplicator(window=30.0, max_entries=1000)
    new = 0
    for i in range(50_000):
        new += dedup.seen(i % 3000, i % 256, BODY, f"r{i % 3}", -70.0, i * 0.01).new
        assert len(dedup) <= 1000
    assert new > 0


@pytest.mark.parametrize(("window", "max_entries"), [(0.0, 10), (-1.0, 10), (30.0, 0)])
def test_invalid_settings(window: float, max_entries: int) -> None:
    with pytest.raises(ValueError, match="must be"):
        Deduplicator(window=window, max_entries=max_entries)
