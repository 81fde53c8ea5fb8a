"""``scripts/listen --receiver lpwan``: uplink JSON lines on stdin and a real Mosquitto broker."""

from __future__ import annotations

import asyncio
import importlib.util
import io
import json
import os
import subprocess
import sys
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
import pytest

from custom_components.oms.omslib import listen
from tests.library.test_listen import ROOT, Result, finish, run
from tests.library.test_lpwan import (
    EUI,
    FPORT1_PAYLOAD,
    KAMSTRUP_INSTALLATION,
    KEY,
    METER,
    chirpstack,
    long_frame,
    mioty,
    plain_frame,
    tts,
)
from tests.mqtt_broker import Broker

MIOTY_EUI = "70B3D56770FF0001"
MAP = ["--map", f"{EUI}=12345678,water", "--map", f"{MIOTY_EUI}=22223333,heat"]


def lines(*messages: dict[str, Any] | str) -> bytes:
    return b"".join((m if isinstance(m, str) else json.dumps(m)).encode() + b"\n" for m in messages)


async def run_stdin(data: bytes, *argv: str) -> Result:
    read_fd, write_fd = os.pipe()
    os.write(write_fd, data)
    os.close(write_fd)
    try:
        return await run("--receiver", "lpwan", *argv, "-", stdin_fd=read_fd)
    finally:
        os.close(read_fd)


def current_volume(line: dict[str, Any]) -> object:
    return next(r["value"] for r in line["records"] if r["quantity"] == "volume" and r["dif_vif"] == "4413")


async def test_three_network_servers_on_stdin() -> None:
    frame = long_frame()
    data = lines(
        tts(FPORT1_PAYLOAD, f_cnt=10, gateways=2),
        chirpstack(KAMSTRUP_INSTALLATION, f_port=20, f_cnt=11, eui="0000000000000C01"),
        {"topic": f"mioty/ac/{MIOTY_EUI}/uplink", "payload": mioty(FPORT1_PAYLOAD, cnt=3)},
        tts(frame[:30], f_port=12, f_cnt=12, eui="0000000000000B01"),
        tts(frame[30:], f_port=22, f_cnt=13, eui="0000000000000B01"),
    )
    result = await run_stdin(data, *MAP)
    assert result.code == 0, result.stderr
    first, kamstrup, heat, fragment, bridged = result.lines
    assert first["ok"]
    assert (first["id"], first["medium"], current_volume(first)) == ("12345678", "water", 0.003)
    assert (first["dev_eui"], first["f_port"], first["f_cnt"], first["network"]) == (EUI, 1, 10, "tts")
    assert (first["rssi_dbm"], first["snr_db"], first["gateways"], first["layout"]) == (-90.0, 2.5, 2, "tpl")
    assert (first["receiver"], first["link_mode"]) == ("lpwan", None)
    assert first["received_at"].startswith("2024-07-2")
    assert (kamstrup["ok"], kamstrup["id"], kamstrup["network"], kamstrup["f_port"]) == (
        True,
        "53885758",
        "chirpstack",
        20,
    )
    assert (heat["id"], heat["medium"], heat["network"], heat["f_port"], heat["gateways"]) == (
        "22223333",
        "heat",
        "mioty",
        None,
        2,
    )
    assert (fragment["ok"], fragment["error"]["code"], fragment["dev_eui"]) == (
        False,
        "fragment_incomplete",
        "0000000000000B01",
    )
    assert (bridged["ok"], bridged["layout"], bridged["id"]) == (True, "bridge", METER.id)
    assert "5 telegrams, 4 meters heard, 1 error (fragment_incomplete 1)" in result.stderr


async def test_non_oms_unmapped_duplicate_and_garbage_lines_are_typed_errors() -> None:
    data = lines(
        tts(b"\x01\x02\x03", f_port=2, f_cnt=1),
        tts(FPORT1_PAYLOAD, f_cnt=2, eui="0000000000000001"),
        tts(FPORT1_PAYLOAD, f_cnt=5),
        tts(FPORT1_PAYLOAD, f_cnt=5, gateways=3),  # the same uplink from another integration
        "{not json",
        {"deviceInfo": {"devEui": EUI}, "margin": 5},
    )
    result = await run_stdin(data, *MAP)
    assert result.code == 0
    codes = [line["error"]["code"] if not line["ok"] else "ok" for line in result.lines]
    assert codes == ["not_oms", "unmapped_device", "ok", "duplicate", "not_uplink", "not_uplink"]
    assert result.lines[1]["dev_eui"] == "0000000000000001"


async def test_key_opens_an_encrypted_short_header_payload() -> None:
    payload = plain_frame(mode=5, key=KEY)[10:]
    spec = f"{EUI}={METER.id},water,{METER.manufacturer},{METER.version}"
    data = lines(tts(payload, f_cnt=1))
    result = await run_stdin(data, "--map", spec, "--key", f"{METER.id}={KEY.hex()}")
    [line] = result.lines
    assert (line["ok"], line["decrypted"], line["id"]) == (True, True, METER.id)
    assert KEY.hex() not in result.stdout.lower() + result.stderr.lower()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--receiver", "lpwan", "--map", "nonsense", "-"], "--map"),
        (["--receiver", "lpwan", "--map", f"{EUI}=12345678,lava", "-"], "unknown medium"),
        (["--receiver", "hex", "--map", f"{EUI}=12345678", "-"], "only applies to --receiver lpwan"),
        (["--receiver", "lpwan", "--mode", "t1", "-"], "--mode does not apply"),
    ],
)
async def test_usage_errors(argv: list[str], message: str) -> None:
    out, err = io.BytesIO(), io.StringIO()
    code = await listen.run(argv, out, err)
    assert code == 2
    assert message in err.getvalue()


async def test_unreachable_broker_exits_2(socket_enabled: None) -> None:
    out, err = io.BytesIO(), io.StringIO()
    code = await listen.run(["--receiver", "lpwan", "mqtt://127.0.0.1:9/#"], out, err)
    assert code == 2
    assert "cannot connect to the MQTT broker 127.0.0.1:9" in err.getvalue()


async def test_mqtt_source_with_a_real_broker(mosquitto: Broker) -> None:
    out, err = io.BytesIO(), io.StringIO()
    url = f"mqtt://{mosquitto.host}:{mosquitto.port}"
    task = asyncio.create_task(listen.run(["--receiver", "lpwan", *MAP, "--count", "3", url], out, err))
    async with asyncio.timeout(10):
        while "listening to" not in err.getvalue():  # noqa: ASYNC110 - polling the command's stderr
            await asyncio.sleep(0.05)
    publisher = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="lpwan-test-pub")
    publisher.connect(mosquitto.host, mosquitto.port, keepalive=10)
    publisher.loop_start()
    try:
        for topic, message in (
            ("v3/oms@ttn/devices/meter-1/up", tts(FPORT1_PAYLOAD, f_cnt=1)),
            (
                f"application/1/device/{EUI.lower()}/event/status",
                {"deviceInfo": {"devEui": EUI}},
            ),  # not subscribed
            (f"application/1/device/{EUI.lower()}/event/up", chirpstack(FPORT1_PAYLOAD, f_cnt=2)),
            (f"mioty/ac/{MIOTY_EUI}/uplink", mioty(FPORT1_PAYLOAD, cnt=7)),
        ):
            publisher.publish(topic, json.dumps(message), qos=1).wait_for_publish(5)
    finally:
        publisher.disconnect()
        publisher.loop_stop()
    result = await finish(task, out, err, within=10)
    assert result.code == 0, result.stderr
    assert [(x["network"], x["id"], current_volume(x)) for x in result.lines] == [
        ("tts", "12345678", 0.003),
        ("chirpstack", "12345678", 0.003),
        ("mioty", "22223333", 0.003),
    ]


def test_listen_lpwan_as_a_process() -> None:
    data = lines(tts(KAMSTRUP_INSTALLATION, f_cnt=1), tts(b"\x00", f_port=3, f_cnt=2))
    done = subprocess.run(
        [sys.executable, "-m", "omslib.listen", "--receiver", "lpwan", "-"],
        input=data,
        capture_output=True,
        timeout=60,
        check=False,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT / "custom_components" / "oms")},
    )
    assert done.returncode == 0, done.stderr
    out = [json.loads(x) for x in done.stdout.splitlines()]
    assert [(x["ok"], x["id"] if x["ok"] else x["error"]["code"]) for x in out] == [
        (True, "53885758"),
        (False, "not_oms"),
    ]
    assert b"2 telegrams, 1 meter heard, 1 error (not_oms 1)" in done.stderr


def _demo_module() -> Any:
    spec = importlib.util.spec_from_file_location("lpwan_demo", ROOT / "scripts" / "lpwan_demo.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("network", ["tts", "chirpstack", "mioty"])
async def test_demo_publisher_is_decoded_by_listen(mosquitto: Broker, network: str) -> None:
    """``scripts/lpwan_demo`` publishes what ``listen --receiver lpwan`` (and the integration) reads."""
    demo = _demo_module()
    out, err = io.BytesIO(), io.StringIO()
    url = f"mqtt://{mosquitto.host}:{mosquitto.port}"
    mapping = f"{demo.DEV_EUI}={demo.METER_ID},water"
    task = asyncio.create_task(
        listen.run(["--receiver", "lpwan", "--map", mapping, "--count", "2", url], out, err)
    )
    async with asyncio.timeout(10):
        while "listening to" not in err.getvalue():  # noqa: ASYNC110 - polling the command's stderr
            await asyncio.sleep(0.05)
    argv = ["--network", network, "--count", "2", "--interval", "0.05", url]
    assert await asyncio.to_thread(demo.main, argv) == 0
    result = await finish(task, out, err, within=10)
    assert [(x["ok"], x["id"], x["medium"], x["network"], x["layout"]) for x in result.lines] == [
        (True, demo.METER_ID, "water", network, "tpl")
    ] * 2
    first, second = (
        next(r["value"] for r in x["records"] if r["quantity"] == "volume") for x in result.lines
    )
    assert 12.001 <= first < second <= 12.006
    assert all(
        r["value"].startswith("20")
        for x in result.lines
        for r in x["records"]
        if r["quantity"] == "date_time"
    )
