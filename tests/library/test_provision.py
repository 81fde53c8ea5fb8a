"""scripts/provision.py without a running Home Assistant: history, statistics metadata, port, LoRaWAN."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import json
from pathlib import Path
import sys

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import provision  # noqa: E402

from tests.mqtt_broker import Broker  # noqa: E402


def test_history_ends_where_the_recorder_starts() -> None:
    """Issue 15 item 1: last row sum 0 at today's reading; rising before, by each hour's use."""
    starts = [datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=i) for i in range(4)]
    rows = provision.history_rows(100.0, [1.0, 2.0, 0.5, 1.5], starts)
    assert [r["sum"] for r in rows] == [-4.0, -2.0, -1.5, 0.0]
    assert [r["state"] for r in rows] == [96.0, 98.0, 98.5, 100.0]
    assert rows[0]["start"] == "2026-01-01T00:00:00+00:00"


def test_statistics_metadata_old_and_new() -> None:
    """Issue 15 item 13: mean_type and unit_class only for a Home Assistant that takes them."""
    new = provision.statistics_metadata("sensor.gas", "Gas", "m³", modern=True)
    assert (new["mean_type"], new["unit_class"], new["has_sum"]) == (0, "volume", True)
    assert provision.statistics_metadata("sensor.e", None, "kWh", modern=True)["unit_class"] == "energy"
    old = provision.statistics_metadata("sensor.gas", "Gas", "m³", modern=False)
    assert "mean_type" not in old
    assert "unit_class" not in old


class _Api:
    """Answers recorder/import_statistics like Home Assistant 2025.4 (no mean_type) or 2026.11."""

    def __init__(self, *, modern: bool) -> None:
        self.modern = modern
        self.statistics_modern: bool | None = None
        self.calls: list[dict[str, object]] = []

    async def ws(self, msg_type: str, **payload: object) -> None:
        metadata = payload["metadata"]
        assert isinstance(metadata, dict)
        self.calls.append(metadata)
        if not self.modern and "mean_type" in metadata:
            raise provision.ProvisionError(
                f"{msg_type}: extra keys not allowed @ data['metadata']['mean_type']"
            )


@pytest.mark.parametrize("modern", [True, False])
async def test_import_detects_what_home_assistant_takes(modern: bool) -> None:
    api = _Api(modern=modern)
    for _ in range(2):
        await provision.import_statistics(api, "sensor.x", "X", "kWh", [])  # type: ignore[arg-type]
    assert api.statistics_modern is modern
    assert ["mean_type" in call for call in api.calls] == ([True, True] if modern else [True, False, False])


def test_port_in_storage_or_yaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 15 item 13: .storage/http where Home Assistant keeps it there (no deprecated YAML), else YAML."""
    monkeypatch.setattr(provision, "http_in_storage", lambda: True)
    provision.write_config(tmp_path / "new", 8125, minimal=True)
    assert "http:" not in (tmp_path / "new" / "configuration.yaml").read_text()
    stored = json.loads((tmp_path / "new" / ".storage" / "http").read_text())
    assert stored["version"] == 1
    assert stored["data"] == {"server_port": 8125, "server_host": ["127.0.0.1"]}
    # an existing store (migrated by Home Assistant) keeps the user's settings, takes the new port
    migrated = {"version": 3, "minor_version": 1, "key": "http"}
    migrated["data"] = {"stable": {"server_port": 8125, "ip_ban_enabled": False}, "pending": {"x": 1}}
    (tmp_path / "new" / ".storage" / "http").write_text(json.dumps(migrated))
    provision.write_http_storage(tmp_path / "new", 9000)
    data = json.loads((tmp_path / "new" / ".storage" / "http").read_text())["data"]
    assert data["stable"] == {"server_port": 9000, "ip_ban_enabled": False}
    assert data["pending"] is None
    # scripts/develop's config written on an older Home Assistant loses its http include
    monkeypatch.setattr(provision, "http_in_storage", lambda: False)
    provision.write_config(tmp_path / "dev", 8123)
    assert provision.HTTP_INCLUDE in (tmp_path / "dev" / "configuration.yaml").read_text()
    assert (tmp_path / "dev" / "develop_http.yaml").read_text() == "server_port: 8123\n"
    monkeypatch.setattr(provision, "http_in_storage", lambda: True)
    provision.write_config(tmp_path / "dev", 8124)
    assert "http:" not in (tmp_path / "dev" / "configuration.yaml").read_text()
    assert json.loads((tmp_path / "dev" / ".storage" / "http").read_text())["data"] == {"server_port": 8124}


def test_http_in_storage_matches_the_installed_release() -> None:
    """2025.4 (main lane) sets the port in YAML; 2026.10+ (latest lanes) keeps it in .storage/http."""
    from homeassistant.const import MAJOR_VERSION, MINOR_VERSION

    assert provision.http_in_storage() is ((MAJOR_VERSION, MINOR_VERSION) >= (2026, 10))


# --------------------------------------------------------------------------- issue 13: the LoRaWAN demo


def test_broker_address_and_check() -> None:
    assert provision.parse_host_port("127.0.0.1:1883") == ("127.0.0.1", 1883)
    assert provision.parse_host_port("mqtt://broker.local:1884/#") == ("broker.local", 1884)
    assert provision.parse_host_port("broker.local") == ("broker.local", 1883)
    with pytest.raises(ValueError, match="HOST:PORT"):
        provision.parse_host_port("broker:x")


def test_broker_accepting(socket_enabled: None) -> None:
    import socket

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert provision.broker_accepting("127.0.0.1", port)
    assert not provision.broker_accepting("127.0.0.1", port)


def test_develop_config_has_a_loopback_broker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """scripts/develop starts mosquitto with config/mosquitto/mosquitto.conf: loopback, its log beside it."""
    monkeypatch.setattr(provision, "http_in_storage", lambda: True)
    provision.write_config(tmp_path / "config", 8123)
    conf = (tmp_path / "config" / "mosquitto" / "mosquitto.conf").read_text().splitlines()
    assert "listener 1883 127.0.0.1" in conf
    assert "persistence false" in conf
    assert f"log_dest file {(tmp_path / 'config' / 'mosquitto' / 'mosquitto.log').resolve()}" in conf
    assert any(line.startswith("user ") for line in conf)  # as root, no switch to a user that cannot log here
    provision.write_config(tmp_path / "minimal", 8123, minimal=True)  # the tests' config starts no broker
    assert not (tmp_path / "minimal" / "mosquitto").exists()


def test_real_mosquitto_takes_the_config(tmp_path: Path, socket_enabled: None) -> None:
    """The written configuration is one Mosquitto accepts (on a free port here, not 1883)."""
    import subprocess
    import time

    from tests.mqtt_broker import free_port, mosquitto_path

    binary = provision.mosquitto_binary()
    assert binary == mosquitto_path()
    if binary is None:
        pytest.skip("mosquitto is not installed (apt-get install mosquitto)")
    port = free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(provision.mosquitto_config(tmp_path, port=port))
    broker = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not provision.broker_accepting("127.0.0.1", port):
            assert broker.poll() is None, (tmp_path / "mosquitto.log").read_text(errors="replace")
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        broker.terminate()
        broker.wait(timeout=10)


class _FlowApi:
    """Home Assistant's flow endpoints as the provisioning sees them: entries, and scripted flow answers."""

    def __init__(self, entries: list[dict[str, object]], answers: list[dict[str, object]]) -> None:
        self.entries = entries
        self.answers = answers
        self.posted: list[tuple[str, object]] = []
        self.subentries: list[dict[str, object]] = []

    async def rest(self, method: str, path: str, payload: object = None) -> object:
        if method == "GET":
            domain = path.partition("domain=")[2]
            return [e for e in self.entries if not domain or e["domain"] == domain]
        self.posted.append((path, payload))
        answer = self.answers.pop(0)
        if answer.get("type") == "create_entry" and "subentries" in path:
            self.subentries.append({"subentry_id": "sub1", "unique_id": provision.LPWAN_METER.meter_id})
        return answer

    async def ws(self, msg_type: str, **payload: object) -> object:
        assert msg_type == "config_entries/subentries/list"
        return self.subentries


def _form(step: str) -> dict[str, object]:
    return {"type": "form", "step_id": step, "flow_id": "f1", "errors": {}}


async def test_mqtt_lpwan_receiver_and_meter_through_the_flows() -> None:
    """Issue 13: MQTT integration on the broker, LoRaWAN receiver, DevEUI -> meter, as a user would."""
    from custom_components.oms.const import CONF_DEV_EUI, CONF_DEVICE_TYPE, CONF_LPWAN_NETWORK, CONF_METER_ID

    created = {"type": "create_entry", "result": {"entry_id": "e1", "title": "LPWAN v3/+/devices/+/up"}}
    api = _FlowApi(
        [{"domain": "oms", "entry_id": "replay", "title": "Demo receiver"}],
        [
            *(_form("broker"), created),  # MQTT
            *({"type": "menu", "step_id": "user", "flow_id": "f2"}, _form("lpwan"), created),  # receiver
            *(_form("lpwan"), _form("meter_unencrypted"), {"type": "create_entry"}),  # meter
        ],
    )
    assert await provision.setup_mqtt(api, "127.0.0.1", 1883) == "e1"  # type: ignore[arg-type]
    assert await provision.add_lpwan_receiver(api) == "e1"  # type: ignore[arg-type]
    assert await provision.add_lpwan_meter(api, "e1") == "sub1"  # type: ignore[arg-type]
    flow, sub = "/api/config/config_entries/flow", "/api/config/config_entries/subentries/flow"
    assert api.posted == [
        (flow, {"handler": "mqtt", "show_advanced_options": False}),
        (f"{flow}/f1", {"broker": "127.0.0.1", "port": 1883}),
        (flow, {"handler": "oms", "show_advanced_options": False}),
        (f"{flow}/f2", {"next_step_id": "lpwan"}),
        (f"{flow}/f1", {CONF_LPWAN_NETWORK: "tts"}),
        (sub, {"handler": ["e1", "meter"]}),
        (
            f"{sub}/f1",
            {CONF_DEV_EUI: "70B3D5FFFE0D3E01", CONF_METER_ID: "24681357", CONF_DEVICE_TYPE: "water"},
        ),
        (f"{sub}/f1", {"name": "LoRaWAN water meter"}),
    ]
    # again: everything exists, nothing is posted; the replay receiver is not mistaken for the LoRaWAN one
    api.entries += [
        {"domain": "mqtt", "entry_id": "m1", "title": "127.0.0.1"},
        {"domain": "oms", "entry_id": "e1", "title": "LPWAN v3/+/devices/+/up"},
    ]
    api.posted.clear()
    assert await provision.setup_mqtt(api, "127.0.0.1", 1883) == "m1"  # type: ignore[arg-type]
    assert await provision.add_lpwan_receiver(api) == "e1"  # type: ignore[arg-type]
    assert await provision.add_lpwan_meter(api, "e1") == "sub1"  # type: ignore[arg-type]
    assert await provision.add_receiver(api, "capture.txt") == "replay"  # type: ignore[arg-type]
    api.entries.reverse()  # whatever the order of the entries
    assert await provision.add_receiver(api, "capture.txt") == "replay"  # type: ignore[arg-type]
    assert api.posted == []


async def test_lpwan_receiver_without_mqtt_says_so() -> None:
    api = _FlowApi(
        [],
        [
            {"type": "menu", "step_id": "user", "flow_id": "f"},
            {"type": "abort", "reason": "mqtt_not_configured"},
        ],
    )
    with pytest.raises(provision.ProvisionError, match="mqtt_not_configured"):
        await provision.add_lpwan_receiver(api)  # type: ignore[arg-type]


def test_lpwan_demo_meter_continues_across_runs(tmp_path: Path, mosquitto: Broker) -> None:
    """scripts/develop restarts the publisher with --state: the volume and frame counter never go back.

    (The integration ignores a total that runs backwards and a frame counter that repeats.)
    """
    import lpwan_demo

    state = tmp_path / "lpwan_demo.json"
    url = f"mqtt://{mosquitto.host}:{mosquitto.port}"
    assert lpwan_demo.main(["--count", "2", "--interval", "0", "--state", str(state), url]) == 0
    first = json.loads(state.read_text())
    assert 12_002 <= first["litres"] <= 12_006
    assert lpwan_demo.main(["--count", "1", "--interval", "0", "--state", str(state), url]) == 0
    second = json.loads(state.read_text())
    assert first["litres"] + 1 <= second["litres"] <= first["litres"] + 3
    assert second["f_cnt"] == first["f_cnt"] + 1


async def test_mqtt_broker_form_with_required_sections() -> None:
    """Newer releases (2026.10+) put the rest of the broker form in a required, collapsed section."""
    form = _form("broker") | {
        "data_schema": [
            {"name": "broker", "required": True, "type": "string"},
            {"name": "port", "required": True, "type": "integer"},
            {
                "name": "other_settings",
                "required": True,
                "type": "expandable",
                "schema": [
                    {"name": "set_client_cert", "required": True, "selector": {"boolean": {}}},
                    {
                        "name": "set_ca_cert",
                        "required": True,
                        "selector": {"select": {"options": ["off", "auto"]}},
                    },
                    {"name": "transport", "required": True, "default": "tcp", "selector": {"select": {}}},
                    {"name": "client_id", "required": False, "selector": {"text": {}}},
                ],
            },
            {"name": "optional_section", "required": False, "type": "expandable", "schema": []},
        ]
    }
    api = _FlowApi([], [form, {"type": "create_entry", "result": {"entry_id": "m2"}}])
    assert await provision.setup_mqtt(api, "127.0.0.1", 1883) == "m2"  # type: ignore[arg-type]
    assert api.posted[-1][1] == {
        "broker": "127.0.0.1",
        "port": 1883,
        "other_settings": {"set_client_cert": False, "set_ca_cert": "off", "transport": "tcp"},
    }
