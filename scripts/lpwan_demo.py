"""Publish the uplinks of one demo OMS-over-LoRaWAN water meter to an MQTT broker.

    scripts/lpwan_demo [--network tts|chirpstack|mioty] [--interval S] [--count N] [--state FILE] [mqtt://HOST[:PORT]]

Each uplink is what the network server would publish for a meter that sends its OMS data
from the transport layer on (CI 0x78, no header: FPort 1), on the server's uplink topic:
a volume that grows by 1-3 litres per uplink and the meter's date and time. The meter has no
ID in its payload: map DevEUI ``70B3D5FFFE0D3E01`` to meter ``24681357`` (water) in the
integration's add-meter step, or ``scripts/listen --receiver lpwan --map 70B3D5FFFE0D3E01=24681357,water
mqtt://HOST``. ``scripts/develop`` does both when a broker is available. Needs paho-mqtt (in the
development environment).
"""

from __future__ import annotations

import argparse
import base64
from datetime import UTC, datetime
import json
from pathlib import Path
import random
import sys
import time

DEV_EUI = "70B3D5FFFE0D3E01"
METER_ID = "24681357"
"""Not one of the demo capture's meters (its neighbours are heard by the replay receiver)."""
TOPICS = {
    "tts": "v3/oms-demo@ttn/devices/demo-water/up",
    "chirpstack": f"application/demo/device/{DEV_EUI.lower()}/event/up",
    "mioty": f"mioty/demo/{DEV_EUI}/uplink",
}


def payload(litres: int, moment: datetime) -> bytes:
    """CI 0x78; volume (DIF 04, VIF 13: litres) and date-time (DIF 04, VIF 6D: type F), EN 13757-3."""
    year = moment.year - 2000
    date_time = bytes(
        (
            moment.minute,
            moment.hour,
            moment.day | ((year & 0x07) << 5),
            moment.month | ((year & 0x78) << 1),
        )
    )
    return b"\x78" + b"\x04\x13" + litres.to_bytes(4, "little") + b"\x04\x6d" + date_time


def message(network: str, data: bytes, f_cnt: int, now: datetime) -> dict[str, object]:
    """The uplink JSON of one network server."""
    stamp = now.isoformat().replace("+00:00", "Z")
    if network == "tts":
        return {
            "end_device_ids": {"device_id": "demo-water", "dev_eui": DEV_EUI},
            "received_at": stamp,
            "uplink_message": {
                "f_port": 1,
                "f_cnt": f_cnt,
                "frm_payload": base64.b64encode(data).decode(),
                "rx_metadata": [{"gateway_ids": {"gateway_id": "demo-gateway"}, "rssi": -97, "snr": 6.5}],
            },
        }
    if network == "chirpstack":
        return {
            "time": stamp,
            "deviceInfo": {"deviceName": "demo-water", "devEui": DEV_EUI.lower()},
            "fCnt": f_cnt,
            "fPort": 1,
            "data": base64.b64encode(data).decode(),
            "rxInfo": [{"gatewayId": "0016c001ff000001", "rssi": -97, "snr": 6.5}],
        }
    return {
        "cnt": f_cnt,
        "data": list(data),
        "format": 0,
        "meta": {},
        "baseStations": [{"bsEui": 1, "rssi": -112.0, "snr": 9.0, "rxTime": int(now.timestamp() * 1e9)}],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lpwan_demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--network", choices=sorted(TOPICS), default="tts")
    parser.add_argument("--interval", type=float, default=60.0, help="seconds between uplinks (default 60)")
    parser.add_argument("--count", type=int, help="stop after N uplinks")
    parser.add_argument(
        "--state",
        type=Path,
        help="JSON file that keeps the volume and frame counter across runs (a meter never runs backwards)",
    )
    parser.add_argument("url", nargs="?", default="mqtt://127.0.0.1:1883")
    args = parser.parse_args(argv)
    import paho.mqtt.client as mqtt  # here: scripts/provision.py imports the constants without paho

    host, _, port = args.url.removeprefix("mqtt://").partition("/")[0].partition(":")
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id=f"oms-lpwan-demo-{random.randrange(1 << 30)}"
    )
    try:
        client.connect(host or "127.0.0.1", int(port or 1883), keepalive=60)
    except OSError as err:
        print(f"lpwan_demo: cannot connect to {args.url}: {err}", file=sys.stderr)
        return 2
    client.loop_start()
    litres, f_cnt = 12_000, int(time.time()) % 10_000 + 16
    if args.state is not None and args.state.exists():
        saved = json.loads(args.state.read_text(encoding="utf-8"))
        litres, f_cnt = int(saved["litres"]), int(saved["f_cnt"])
    try:
        sent = 0
        while args.count is None or sent < args.count:
            now = datetime.now(UTC).replace(microsecond=0)
            litres += random.randint(1, 3)
            body = json.dumps(message(args.network, payload(litres, now), f_cnt, now))
            client.publish(TOPICS[args.network], body, qos=1).wait_for_publish(10)
            print(
                f"lpwan_demo: {TOPICS[args.network]} f_cnt {f_cnt}: {litres / 1000:.3f} m³", file=sys.stderr
            )
            sent += 1
            f_cnt += 1
            if args.state is not None:
                args.state.write_text(json.dumps({"litres": litres, "f_cnt": f_cnt}), encoding="utf-8")
            if args.count is None or sent < args.count:
                time.sleep(args.interval)
    except KeyboardInterrupt:
        pass
    finally:
        client.disconnect()
        client.loop_stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
