"""End to end: a real ``hass`` process, provisioned as ``scripts/develop`` does, shows the demo meters.

Starts ``python -m homeassistant`` from the interpreter running the tests (so it works in any
venv or chroot) on a free port of 127.0.0.1 with a minimal configuration, runs
``scripts/provision.py`` against it and checks the meters' sensors through the REST API.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
import itertools
from pathlib import Path
import socket
import subprocess
import sys
import time
from typing import Any

import aiohttp
import pytest

from custom_components.oms.demo import CAPTURE, HOUSEHOLD, NEIGHBOURS
from tests.mqtt_broker import Broker

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import lpwan_demo  # noqa: E402
import provision  # noqa: E402

pytestmark = pytest.mark.e2e

# (meter ID, record key) -> (unit, device class, state class)
EXPECTED: dict[tuple[str, str], tuple[str | None, str | None, str | None]] = {
    ("21436587", "0C13"): ("m³", "water", "total_increasing"),
    ("21436587", "023B"): ("m³/h", "volume_flow_rate", "measurement"),
    ("21436588", "0C13"): ("m³", "water", "total_increasing"),
    ("21436588", "0259"): ("°C", "temperature", "measurement"),
    ("62000471", "0C05"): ("kWh", "energy", "total_increasing"),
    ("62000471", "042B"): ("kW", "power", "measurement"),
    ("62000471", "0259"): ("°C", "temperature", "measurement"),
    ("62000471", "025D"): ("°C", "temperature", "measurement"),
    ("03170524", "0C13"): ("m³", "gas", "total_increasing"),
    ("78100231", "0B6E"): (None, None, "total"),
    ("78100232", "0B6E"): (None, None, "total"),
    ("11893502", "0C04"): ("kWh", "energy", "total_increasing"),
    ("11893502", "042B"): ("kW", "power", "measurement"),
    ("11893502", "02FD48"): ("V", "voltage", "measurement"),
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def hass_server(tmp_path: Path, socket_enabled: None) -> Iterator[tuple[str, subprocess.Popen[bytes], Path]]:
    """A provisioned-to-be Home Assistant; terminated and reaped afterwards."""
    port = _free_port()
    config = tmp_path / "config"
    provision.write_config(config, port, minimal=True)
    log = (tmp_path / "hass.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "homeassistant", "-c", str(config), "--skip-pip"],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
    )
    try:
        yield f"http://127.0.0.1:{port}", proc, tmp_path / "hass.log"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


def _tail(path: Path) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-60:])


async def _states(session: aiohttp.ClientSession, base: str, token: str) -> dict[str, dict[str, Any]]:
    async with session.get(f"{base}/api/states", headers={"Authorization": f"Bearer {token}"}) as resp:
        assert resp.status == 200
        return {state["entity_id"]: state for state in await resp.json()}


def _number(state: dict[str, Any] | None) -> float | None:
    try:
        return float(state["state"]) if state else None
    except ValueError:
        return None


async def test_develop_demo_end_to_end(hass_server: tuple[str, subprocess.Popen[bytes], Path]) -> None:
    base, proc, log = hass_server
    try:
        await provision.wait_for_api(base, 90, alive=lambda: proc.poll() is None)
        done = await provision.provision(base, device=f"{CAPTURE}?speed=4", within=60)
    except provision.ProvisionError as err:
        pytest.fail(f"{err}\n--- hass log ---\n{_tail(log)}")

    # The demo's smoke alarm (capture minutes 5-8: 75-120 s here) is watched while the rest is checked.
    alarm_states: list[str] = []
    watcher = asyncio.create_task(_watch_alarm(base, done.access_token, alarm_states))

    assert set(done.subentries) == {m.meter_id for m in HOUSEHOLD}
    assert set(done.energy_entities) == {"grid", "gas", "water", "device"}

    async with aiohttp.ClientSession() as session:
        # Provisioning is idempotent and the account logs in like the frontend's login page.
        token = await provision.login(session, base, provision.USERNAME, provision.PASSWORD)
        again = await provision.provision(base, device=f"{CAPTURE}?speed=4", energy=False, within=30)
        assert again.entry_id == done.entry_id
        assert again.subentries == done.subentries
        async with session.get(f"{base}/api/onboarding") as resp:
            assert all(step["done"] for step in await resp.json())

        api = provision.Api(session, base, token)
        try:
            registry = {
                e["unique_id"]: e["entity_id"]
                for e in await api.ws("config/entity_registry/list")
                if e.get("platform") == "oms"
            }
            prefs = await api.ws("energy/get_prefs")
            history = await api.ws(
                "recorder/statistics_during_period",
                start_time=(datetime.now(UTC) - timedelta(days=3)).isoformat(),
                statistic_ids=list(done.energy_entities.values()),
                period="hour",
                types=["sum"],
            )
        finally:
            await api.close()
        expected = {registry.get(f"{m}_{k}"): v for (m, k), v in EXPECTED.items()}
        assert None not in expected, sorted(registry)
        assert not any(uid.startswith(m.meter_id) for uid in registry for m in NEIGHBOURS)

        deadline = time.monotonic() + 45
        while True:
            states = await _states(session, base, token)
            missing = [e for e in expected if _number(states.get(e)) is None]
            if not missing or time.monotonic() > deadline:
                break
            await asyncio.sleep(1)
        assert not missing, {e: states.get(e, {}).get("state") for e in missing}

        for entity_id, (unit, device_class, state_class) in expected.items():
            attrs = states[entity_id]["attributes"]
            assert attrs.get("unit_of_measurement") == unit, entity_id
            assert attrs.get("device_class") == device_class, entity_id
            assert attrs.get("state_class") == state_class, entity_id
        smoke = states[registry["45009120_error_flags"]]
        assert smoke["state"] == "off"
        assert smoke["attributes"]["device_class"] == "problem"
        alarm = states[registry["45009120_smoke"]]  # the demo's alarm: minutes 5-8 of the capture
        assert alarm["attributes"]["device_class"] == "smoke"
        assert alarm["state"] in ("on", "off")
        assert 100_000 < _number(states[registry["21436587_0C13"]]) / 0.001 < 130_000
        assert 200 < _number(states[registry["11893502_02FD48"]]) < 250

    stats = {s["stat_energy_from"] for s in prefs["energy_sources"] if "stat_energy_from" in s}
    stats |= {f["stat_energy_from"] for s in prefs["energy_sources"] for f in s.get("flow_from", [])}
    assert stats == {done.energy_entities[r] for r in ("grid", "gas", "water")}
    assert [d["stat_consumption"] for d in prefs["device_consumption"]] == [done.energy_entities["device"]]
    # the made-up history for the Energy dashboard: 48 hours per source, sums rising to 0 at today's reading
    for entity_id in done.energy_entities.values():
        sums = [row["sum"] for row in history[entity_id]]
        assert len(sums) >= 48, entity_id
        assert sums == sorted(sums), entity_id
        assert sums[-1] == 0, entity_id

    # Issue 15 item 1: the recorder's first live statistics continue the import (no negative bar).
    async with aiohttp.ClientSession() as session:
        api = provision.Api(session, base, token)
        try:
            live = await _first_live_statistics(api, list(done.energy_entities.values()), proc)
            changes = {
                entity_id: await api.ws(
                    "recorder/statistic_during_period",
                    statistic_id=entity_id,
                    types=["change"],
                    fixed_period={
                        "start_time": (datetime.now(UTC) - timedelta(hours=3)).isoformat(),
                        "end_time": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
                    },
                )
                for entity_id in done.energy_entities.values()
            }
        finally:
            await api.close()
    await asyncio.wait_for(watcher, 240)
    assert alarm_states[-2:] == ["on", "off"], alarm_states  # issue 15 item 4: on, then off again
    for entity_id in done.energy_entities.values():
        chain = [row["sum"] for row in history[entity_id]] + [row["sum"] for row in live[entity_id]]
        steps = [round(b - a, 6) for a, b in itertools.pairwise(chain)]
        assert min(steps) >= 0, (entity_id, chain[-8:], _tail(log))
        assert changes[entity_id]["change"] >= 0, (entity_id, changes[entity_id])
    assert proc.poll() is None
    # Nothing of ours warns, on this and on the newest release (deprecations show up here first).
    assert _our_warnings(log) == []


async def test_develop_lorawan_demo(
    hass_server: tuple[str, subprocess.Popen[bytes], Path], mosquitto: Broker
) -> None:
    """Issue 13: with a broker, the demo adds the MQTT integration, a LoRaWAN receiver and the demo meter.

    Everything through the flows a user would use; then ``scripts/lpwan_demo``'s uplinks (The Things
    Stack format) become the meter's volume. Without the household (that is the test above).
    """
    base, proc, log = hass_server
    broker = (mosquitto.host, mosquitto.port)
    try:
        await provision.wait_for_api(base, 90, alive=lambda: proc.poll() is None)
        done = await provision.provision(base, meters=(), energy=False, within=60, mqtt=broker)
        again = await provision.provision(base, meters=(), energy=False, within=30, mqtt=broker)
    except provision.ProvisionError as err:
        pytest.fail(f"{err}\n--- hass log ---\n{_tail(log)}")
    assert done.lpwan_entry_id not in (None, done.entry_id)
    assert (again.entry_id, again.lpwan_entry_id) == (done.entry_id, done.lpwan_entry_id)
    assert again.lpwan_subentry_id == done.lpwan_subentry_id is not None

    url = f"mqtt://{mosquitto.host}:{mosquitto.port}"
    argv = ["--network", "tts", "--count", "2", "--interval", "1", url]
    assert await asyncio.to_thread(lpwan_demo.main, argv) == 0
    async with aiohttp.ClientSession() as session:
        api = provision.Api(session, base, done.access_token)
        try:
            volume = f"{lpwan_demo.METER_ID}_0413"  # DIF 04, VIF 13: volume in litres
            entity_id = (await provision.wait_for_entities(api, [volume], 30))[volume]
            await provision.wait_for_states(api, [entity_id], 30)
            state = await api.rest("GET", f"/api/states/{entity_id}")
            entries = await api.rest("GET", "/api/config/config_entries/entry")
        finally:
            await api.close()
    assert 12.001 <= float(state["state"]) <= 12.006, state  # lpwan_demo: 12 m³ plus 1-3 litres an uplink
    assert state["attributes"]["unit_of_measurement"] == "m³"
    assert {e["domain"] for e in entries if e["state"] == "loaded"} >= {"mqtt", "oms"}
    assert _our_warnings(log) == []


OURS = (
    "custom_components.oms",
    "custom_components/oms",
    "custom integration 'oms'",
    "recorder/import_statistics",
    "[homeassistant.components.http",
)
"""Log text that concerns this integration, the provisioning's statistics import or its HTTP settings."""
UNTESTED = "which has not been tested by Home Assistant"  # said of every custom integration


def _our_warnings(log: Path) -> list[str]:
    """Warnings and errors of hass that concern this integration or the provisioning's own calls."""
    return [
        line
        for line in log.read_text(errors="replace").splitlines()
        if (" WARNING " in line or " ERROR " in line)
        and any(o in line for o in OURS)
        and UNTESTED not in line
    ]


async def _watch_alarm(base: str, token: str, seen: list[str]) -> None:
    """Record the demo smoke detector's alarm states (each change once) until it went on and off again."""
    async with aiohttp.ClientSession() as session:
        api = provision.Api(session, base, token)
        try:
            entity_id = (await provision.wait_for_entities(api, ["45009120_smoke"]))["45009120_smoke"]
            while not ("on" in seen and seen[-1] == "off"):
                state = (await api.rest("GET", f"/api/states/{entity_id}"))["state"]
                if not seen or seen[-1] != state:
                    seen.append(state)
                await asyncio.sleep(1)
        finally:
            await api.close()


async def _first_live_statistics(
    api: provision.Api, entity_ids: list[str], proc: subprocess.Popen[bytes], within: float = 420.0
) -> dict[str, list[dict[str, Any]]]:
    """The recorder's own 5-minute statistics of ``entity_ids``, once it compiled them (every 5 minutes).

    Imported history is hourly only; the first short-term rows are the recorder's own compile, and
    its hourly compile takes the last short-term row's sum: if these chain, so will the hour.
    """
    deadline = time.monotonic() + within
    start = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    while True:
        rows = await api.ws(
            "recorder/statistics_during_period",
            start_time=start,
            statistic_ids=entity_ids,
            period="5minute",
            types=["sum", "state"],
        )
        if all(rows.get(entity_id) for entity_id in entity_ids):
            return dict(rows)
        assert proc.poll() is None, "hass exited"
        assert time.monotonic() < deadline, f"no 5-minute statistics within {within:.0f} s: {rows}"
        await asyncio.sleep(5)
