"""The ``mosquitto`` fixture: a real broker that paho-mqtt can publish to and subscribe from."""

from __future__ import annotations

import os
from pathlib import Path
import queue
import socket

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
import pytest

from custom_components.oms.omslib.mqtt_payloads import parse_payload, receiver_name
from tests.mqtt_broker import Broker, mosquitto_path, start_broker
from tests.sims.sim_telegrams import telegram

TIMEOUT = 10.0


def _client(broker: Broker, name: str) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=name)
    client.connect(broker.host, broker.port, keepalive=10)
    return client


def test_publish_and_receive_through_the_broker(mosquitto: Broker) -> None:
    received: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
    subscribed: queue.Queue[bool] = queue.Queue()
    frame = telegram(30)

    subscriber = _client(mosquitto, "oms-test-sub")
    subscriber.on_message = lambda _c, _u, message: received.put(message)
    subscriber.on_subscribe = lambda *_args: subscribed.put(True)
    publisher = _client(mosquitto, "oms-test-pub")
    subscriber.loop_start()
    publisher.loop_start()
    try:
        subscriber.subscribe("wmbus/+/telegram", qos=1)
        assert subscribed.get(timeout=TIMEOUT)
        publisher.publish("wmbus/kitchen/telegram", frame.hex().upper(), qos=1).wait_for_publish(TIMEOUT)
        message = received.get(timeout=TIMEOUT)
    finally:
        publisher.disconnect()
        subscriber.disconnect()
        publisher.loop_stop()
        subscriber.loop_stop()

    assert message.topic == "wmbus/kitchen/telegram"
    name = receiver_name(message.topic, "wmbus/+/telegram")
    parsed = parse_payload(message.payload, message.topic, receiver_id=name)
    assert parsed is not None
    assert parsed.raw == frame
    assert parsed.receiver_id == "kitchen"


def test_broker_is_loopback_only_foreground_and_writes_only_its_directory(mosquitto: Broker) -> None:
    config = (mosquitto.directory / "mosquitto.conf").read_text()
    assert f"listener {mosquitto.port} 127.0.0.1" in config
    assert "persistence false" in config
    assert mosquitto.process.poll() is None  # the process we started is the broker: not daemonised
    assert Path(f"/proc/{mosquitto.process.pid}/cmdline").read_bytes().split(b"\0")[1:3] == [
        b"-c",
        str(mosquitto.directory / "mosquitto.conf").encode(),
    ]
    listening = Path("/proc/net/tcp").read_text().splitlines()[1:]
    port_hex = f"{mosquitto.port:04X}"
    local = {line.split()[1] for line in listening if line.split()[3] == "0A"}  # 0A = LISTEN
    assert f"0100007F:{port_hex}" in local
    assert not any(addr.endswith(f":{port_hex}") and addr != f"0100007F:{port_hex}" for addr in local)
    assert sorted(p.name for p in mosquitto.directory.iterdir()) == ["mosquitto.conf", "mosquitto.log"]
    assert "mosquitto version" in mosquitto.log()


@pytest.mark.usefixtures("socket_enabled")
def test_stop_terminates_and_reaps(tmp_path: Path) -> None:
    if mosquitto_path() is None:
        pytest.skip("mosquitto is not installed")
    broker = start_broker(tmp_path)
    pid = broker.process.pid
    assert broker.stop() == 0
    assert broker.process.returncode == 0
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # already reaped
    with (
        pytest.raises(ConnectionRefusedError),
        socket.create_connection((broker.host, broker.port), timeout=1),
    ):
        pass
