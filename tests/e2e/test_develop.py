"""End to end: a real ``hass`` process, provisioned as ``scripts/develop`` does, shows the demo meters.

Starts ``python -m homeassistant`` from the interpreter running the tests (so it works in any
venv or chroot) on a free port of 127.0.0.1 with a minimal configuration, runs
``scripts/provision.py`` against it and checks the meters' sensors through the REST API.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
import socket
import subprocess
import sys
import time
from typing import Any

import aiohttp
import pytest

from custom_components.oms.demo import CAPTURE, HOUSEHOLD, NEIGHBOURS

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

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
        assert 100_000 < _number(states[registry["21436587_0C13"]]) / 0.001 < 130_000
        assert 200 < _number(states[registry["11893502_02FD48"]]) < 250

    stats = {s["stat_energy_from"] for s in prefs["energy_sources"] if "stat_energy_from" in s}
    stats |= {f["stat_energy_from"] for s in prefs["energy_sources"] for f in s.get("flow_from", [])}
    assert stats == {done.energy_entities[r] for r in ("grid", "gas", "water")}
    assert [d["stat_consumption"] for d in prefs["device_consumption"]] == [done.energy_entities["device"]]
    # the made-up history for the Energy dashboard: 48 hours per source, sums rising
    for entity_id in done.energy_entities.values():
        sums = [row["sum"] for row in history[entity_id]]
        assert len(sums) >= 48, entity_id
        assert sums == sorted(sums), entity_id
    assert proc.poll() is None
