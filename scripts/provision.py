#!/usr/bin/env python3
"""Provision a running Home Assistant with the OMS demo through its public HTTP and WebSocket APIs.

Idempotent; each step is skipped when already done:

1. onboarding: the owner account (``demo``/``demo``), then the remaining onboarding steps;
2. a receiver entry of kind ``replay`` on the bundled capture (config flow, handler ``oms``);
3. the demo household's meters as subentries with their AES keys (subentry flow ``meter``);
4. the Energy dashboard: electricity (grid), gas, water and the heat meter (individual device);
   with two days of made-up hourly history, so its graphs are not empty on a fresh recorder;
5. removes the entries the onboarding adds that need the internet (weather, radio, cloud TTS);
6. with ``--mqtt HOST:PORT`` (a broker, e.g. the local Mosquitto of ``scripts/develop``): Home Assistant's
   MQTT integration on that broker, a "LoRaWAN / mioty network server (MQTT)" receiver (The Things
   Stack topics) and the demo LoRaWAN water meter of ``scripts/lpwan_demo`` mapped by its DevEUI.

Nothing here knows how the integration stores its data: it drives the same flows as a user would.
Used by ``scripts/develop``, ``scripts/screenshot`` and ``tests/e2e``::

    python scripts/provision.py --url http://127.0.0.1:8123 [--device PATH] [--no-energy] [--mqtt HOST:PORT]
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
import importlib.util
import json
import logging
import math
import os
from pathlib import Path
import pwd
import random
import shutil
import socket
import sys
import time
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

if str(ROOT / "scripts") not in sys.path:
    sys.path.insert(0, str(ROOT / "scripts"))

import lpwan_demo  # noqa: E402

from custom_components.oms.demo import CAPTURE, HOUSEHOLD, DemoMeter  # noqa: E402

_LOGGER = logging.getLogger("provision")

DOMAIN = "oms"
USERNAME = "demo"
PASSWORD = "demo"  # noqa: S105 - the demo account, printed by scripts/develop
# What the HA helper's flows expect (custom_components/oms/config_flow.py, strings.json).
RECEIVER_STEP = "receiver"
RECEIVER_KIND = "replay"
LINK_MODE = "c1t1"
SUBENTRY_TYPE = "meter"
METER_STEPS = ("user", "meter")


class ProvisionError(RuntimeError):
    """A step of the provisioning did not go as expected."""


@dataclass
class Provisioned:
    """What the provisioning left behind."""

    base_url: str
    access_token: str
    entry_id: str
    subentries: dict[str, str] = field(default_factory=dict)
    """Meter ID -> subentry ID."""
    energy_entities: dict[str, str] = field(default_factory=dict)
    """Energy dashboard role -> entity ID."""
    tokens: dict[str, Any] = field(default_factory=dict)
    """The token response of the login (access and refresh token), e.g. for a browser's hassTokens."""
    lpwan_entry_id: str | None = None
    """The LoRaWAN receiver's entry (``--mqtt`` only)."""
    lpwan_subentry_id: str | None = None
    """The demo LoRaWAN meter's subentry (``--mqtt`` only)."""


async def wait_for_api(base_url: str, within: float = 120.0, alive: Any = None) -> None:
    """Until ``GET /api/onboarding`` answers (it needs no login). ``alive()`` False aborts."""
    deadline = time.monotonic() + within
    async with aiohttp.ClientSession() as session:
        while True:
            if alive is not None and not alive():
                raise ProvisionError("Home Assistant exited before its API came up")
            try:
                async with session.get(f"{base_url}/api/onboarding", timeout=aiohttp.ClientTimeout(5)) as r:
                    if r.status in (200, 401, 404):
                        return
            except (aiohttp.ClientError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise ProvisionError(f"no answer from {base_url} within {within:.0f} s")
            await asyncio.sleep(0.5)


class Api:
    """A logged-in client: REST calls and one WebSocket connection."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, token: str) -> None:
        self.session = session
        self.base_url = base_url
        self.token = token
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._id = 0
        self.ha_version = ""
        self.statistics_modern: bool | None = None
        """Whether recorder/import_statistics takes mean_type and unit_class (None: not tried yet)."""

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def rest(self, method: str, path: str, payload: Any = None) -> Any:
        async with self.session.request(
            method, f"{self.base_url}{path}", json=payload, headers=self.headers
        ) as resp:
            body = await resp.json(content_type=None) if resp.content_length != 0 else None
            if resp.status >= 400:
                raise ProvisionError(f"{method} {path} -> {resp.status}: {body}")
            return body

    async def ws(self, msg_type: str, **payload: Any) -> Any:
        """One WebSocket command; its result or :class:`ProvisionError`."""
        if self._ws is None:
            ws_url = self.base_url.replace("http", "ws", 1) + "/api/websocket"
            self._ws = await self.session.ws_connect(ws_url, max_msg_size=0)
            hello = await self._ws.receive_json()
            self.ha_version = hello.get("ha_version", "")
            await self._ws.send_json({"type": "auth", "access_token": self.token})
            answer = await self._ws.receive_json()
            if answer.get("type") != "auth_ok":
                raise ProvisionError(f"websocket auth failed: {answer}")
        self._id += 1
        await self._ws.send_json({"id": self._id, "type": msg_type, **payload})
        while True:
            msg = await self._ws.receive_json(timeout=60)
            if msg.get("id") == self._id and msg.get("type") == "result":
                if not msg.get("success"):
                    raise ProvisionError(f"{msg_type}: {msg.get('error')}")
                return msg.get("result")

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()


async def _token(session: aiohttp.ClientSession, base_url: str, code: str) -> dict[str, Any]:
    async with session.post(
        f"{base_url}/auth/token",
        data={"grant_type": "authorization_code", "code": code, "client_id": f"{base_url}/"},
    ) as resp:
        body = await resp.json(content_type=None)
        if resp.status != 200:
            raise ProvisionError(f"/auth/token -> {resp.status}: {body}")
        return dict(body)


async def login(session: aiohttp.ClientSession, base_url: str, username: str, password: str) -> str:
    """An access token through the login flow, as the frontend's login page does."""
    return str((await login_tokens(session, base_url, username, password))["access_token"])


async def login_tokens(
    session: aiohttp.ClientSession, base_url: str, username: str, password: str
) -> dict[str, Any]:
    """The token response (access and refresh token) of a login through the login flow."""
    client_id = f"{base_url}/"
    async with session.post(
        f"{base_url}/auth/login_flow",
        json={"client_id": client_id, "handler": ["homeassistant", None], "redirect_uri": client_id},
    ) as resp:
        flow = await resp.json(content_type=None)
    async with session.post(
        f"{base_url}/auth/login_flow/{flow['flow_id']}",
        json={"client_id": client_id, "username": username, "password": password},
    ) as resp:
        result = await resp.json(content_type=None)
    if result.get("type") != "create_entry":
        raise ProvisionError(f"login as {username} failed: {result}")
    return await _token(session, base_url, result["result"])


async def onboard(
    session: aiohttp.ClientSession, base_url: str, username: str, password: str
) -> dict[str, Any]:
    """Create the owner (when onboarding has not done it yet), finish onboarding; the token response."""
    async with session.get(f"{base_url}/api/onboarding") as resp:
        steps = {step["step"]: step["done"] for step in await resp.json()} if resp.status == 200 else {}
    client_id = f"{base_url}/"
    if steps and not steps.get("user", True):
        async with session.post(
            f"{base_url}/api/onboarding/users",
            json={
                "name": "Demo",
                "username": username,
                "password": password,
                "client_id": client_id,
                "language": "en",
            },
        ) as resp:
            body = await resp.json(content_type=None)
            if resp.status != 200:
                raise ProvisionError(f"onboarding user step -> {resp.status}: {body}")
        tokens = await _token(session, base_url, body["auth_code"])
        _LOGGER.info("Created the owner account %s", username)
    else:
        tokens = await login_tokens(session, base_url, username, password)
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    for step, payload in (
        ("core_config", None),
        ("analytics", None),
        ("integration", {"client_id": client_id, "redirect_uri": f"{client_id}?auth_callback=1"}),
    ):
        if steps.get(step, True):
            continue
        async with session.post(f"{base_url}/api/onboarding/{step}", json=payload, headers=headers) as resp:
            if resp.status not in (200, 403):  # 403: done meanwhile
                raise ProvisionError(f"onboarding {step} -> {resp.status}: {await resp.text()}")
    return tokens


async def _flow(
    api: Api, base: str, start: dict[str, Any], steps: Iterable[tuple[str, dict[str, Any]]]
) -> Any:
    """Run a data-entry flow: start it, then answer each expected form or menu step with its data.

    A menu step is answered with ``{"next_step_id": …}``.
    """
    result = await api.rest("POST", base, start)
    for step_id, data in steps:
        if result.get("type") not in ("form", "menu") or result.get("step_id") != step_id:
            raise ProvisionError(f"{base}: expected step {step_id!r}, got {result}")
        result = await api.rest("POST", f"{base}/{result['flow_id']}", data)
        if result.get("type") == "form" and result.get("errors"):
            raise ProvisionError(f"{base} step {step_id}: errors {result['errors']}")
    return result


async def add_receiver(api: Api, device: str) -> str:
    """The replay receiver's entry ID (created unless an oms entry other than the LoRaWAN one exists)."""
    for entry in await api.rest("GET", f"/api/config/config_entries/entry?domain={DOMAIN}"):
        if entry.get("domain") == DOMAIN and not str(entry.get("title", "")).startswith(LPWAN_TITLE):
            return str(entry["entry_id"])
    result = await _flow(
        api,
        "/api/config/config_entries/flow",
        {"handler": DOMAIN, "show_advanced_options": False},
        [
            ("user", {"next_step_id": RECEIVER_STEP}),
            (RECEIVER_STEP, {"device": device, "kind": RECEIVER_KIND, "link_mode": LINK_MODE}),
        ],
    )
    if result.get("type") != "create_entry":
        raise ProvisionError(f"receiver flow ended with {result}")
    _LOGGER.info("Added the demo receiver (%s)", device)
    return str(result["result"]["entry_id"])


async def add_meters(api: Api, entry_id: str, meters: Iterable[DemoMeter]) -> dict[str, str]:
    """Add each meter as a subentry with its key; returns meter ID -> subentry ID."""
    existing = {
        sub.get("unique_id"): sub["subentry_id"]
        for sub in await api.ws("config_entries/subentries/list", entry_id=entry_id)
    }
    added: dict[str, str] = {}
    for meter in meters:
        if meter.meter_id in existing:
            added[meter.meter_id] = existing[meter.meter_id]
            continue
        data: dict[str, Any] = {"name": meter.name}
        if meter.key:
            data["key"] = meter.key
        result = await _flow(
            api,
            "/api/config/config_entries/subentries/flow",
            {"handler": [entry_id, SUBENTRY_TYPE]},
            [(METER_STEPS[0], {"meter_id": meter.meter_id}), (METER_STEPS[1], data)],
        )
        if result.get("type") != "create_entry":
            raise ProvisionError(f"meter {meter.meter_id}: subentry flow ended with {result}")
        _LOGGER.info("Added meter %s (%s)", meter.meter_id, meter.name)
    for sub in await api.ws("config_entries/subentries/list", entry_id=entry_id):
        if sub.get("unique_id") and sub["unique_id"] not in added:
            added[sub["unique_id"]] = sub["subentry_id"]
    return added


async def wait_for_entities(api: Api, unique_ids: Iterable[str], within: float = 90.0) -> dict[str, str]:
    """Unique ID -> entity ID of the oms entities, once all of ``unique_ids`` exist."""
    wanted = set(unique_ids)
    deadline = time.monotonic() + within
    while True:
        found = {
            e["unique_id"]: e["entity_id"]
            for e in await api.ws("config/entity_registry/list")
            if e.get("platform") == DOMAIN
        }
        if wanted <= set(found):
            return found
        if time.monotonic() > deadline:
            raise ProvisionError(f"entities never appeared: {sorted(wanted - set(found))}")
        await asyncio.sleep(1)


async def wait_for_states(api: Api, entity_ids: Iterable[str], within: float = 90.0) -> None:
    """Until every entity has a numeric state."""
    deadline = time.monotonic() + within
    for entity_id in entity_ids:
        while True:
            try:
                state = await api.rest("GET", f"/api/states/{entity_id}")
                float(state["state"])
                break
            except (ProvisionError, TypeError, ValueError):
                if time.monotonic() > deadline:
                    raise ProvisionError(f"{entity_id} has no reading") from None
                await asyncio.sleep(1)


def energy_prefs(entities: dict[str, str], *, unified_grid: bool) -> dict[str, Any]:
    """energy/save_prefs payload; ``entities`` maps role ("grid", "gas", "water", "device") to entity ID."""
    price: dict[str, Any] = {"stat_cost": None, "entity_energy_price": None, "number_energy_price": None}
    sources: list[dict[str, Any]] = []
    if "grid" in entities:
        if unified_grid:  # Home Assistant 2025.12+: one grid connection per source
            sources.append(
                {"type": "grid", "stat_energy_from": entities["grid"], "cost_adjustment_day": 0, **price}
            )
        else:
            sources.append(
                {
                    "type": "grid",
                    "flow_from": [{"stat_energy_from": entities["grid"], **price}],
                    "flow_to": [],
                    "cost_adjustment_day": 0,
                }
            )
    for role in ("gas", "water"):
        if role in entities:
            sources.append({"type": role, "stat_energy_from": entities[role], **price})
    prefs: dict[str, Any] = {"energy_sources": sources}
    if "device" in entities:
        prefs["device_consumption"] = [{"stat_consumption": entities["device"]}]
    return prefs


async def setup_energy(api: Api, entities: dict[str, str]) -> None:
    """Save the Energy dashboard preferences (grid format of either Home Assistant generation)."""
    await api.ws("get_config")  # connects, learns the version
    unified = api.ha_version[:4].isdigit() and int(api.ha_version[:4]) >= 2026
    try:
        await api.ws("energy/save_prefs", **energy_prefs(entities, unified_grid=unified))
    except ProvisionError:
        await api.ws("energy/save_prefs", **energy_prefs(entities, unified_grid=not unified))
    _LOGGER.info("Energy dashboard: %s", ", ".join(f"{k}={v}" for k, v in sorted(entities.items())))


HOURLY_USE: dict[str, tuple[float, float]] = {
    "grid": (0.25, 1.4),  # kWh per hour: night base load .. evening peak
    "gas": (0.15, 0.9),  # m³
    "water": (0.0, 0.06),  # m³
    "device": (1.5, 5.0),  # kWh of heat
}
"""Made-up household consumption per hour for :func:`import_history` (min, max of the daily shape)."""


def _daily_shape(hour: int) -> float:
    """0..1: low at night, a morning and a higher evening peak."""
    morning = math.exp(-(((hour - 7) / 1.5) ** 2))
    evening = math.exp(-(((hour - 19) / 2.5) ** 2))
    return max(0.05, 0.6 * morning + evening)


UNIT_CLASSES: dict[str, str] = {"kWh": "energy", "Wh": "energy", "MWh": "energy", "GJ": "energy"}
UNIT_CLASSES |= {"m³": "volume", "L": "volume", "ft³": "volume"}
"""Statistics unit class of the Energy dashboard's units (what the recorder's unit converters call them)."""
MEAN_TYPE_NONE = 0
"""``StatisticMeanType.NONE``: the imported statistics have a sum, no mean."""


def history_rows(current: float, use: list[float], starts: list[datetime]) -> list[dict[str, Any]]:
    """Hourly rows whose last one has ``state`` = today's reading and ``sum`` = 0.

    The recorder does not chain its first live statistics of a sensor to imported hourly rows: it
    continues the last *short-term* (5-minute) row, and a fresh sensor has none, so its own sums start
    at 0 from the sensor's state at the first compile ("zero point"). The imported history therefore
    ends at sum 0 (earlier hours have negative sums; only differences matter to the Energy dashboard)
    and at the state the sensor has now: the first live hour then continues it without a negative bar.
    """
    total = sum(use)
    rows, running = [], 0.0
    for start, amount in zip(starts, use, strict=True):
        running += amount
        rows.append(
            {
                "start": start.isoformat(),
                "state": round(current - total + running, 3),
                "sum": round(running - total, 3),
            }
        )
    return rows


def statistics_metadata(
    entity_id: str, name: str | None, unit: str | None, *, modern: bool
) -> dict[str, Any]:
    """``recorder/import_statistics`` metadata; ``modern``: with ``mean_type`` and ``unit_class``.

    Home Assistant 2026.11 requires both (deprecated without them since 2025.x); 2025.4 rejects them.
    """
    metadata: dict[str, Any] = {
        "has_mean": False,
        "has_sum": True,
        "name": name,
        "source": "recorder",
        "statistic_id": entity_id,
        "unit_of_measurement": unit,
    }
    if modern:
        metadata["mean_type"] = MEAN_TYPE_NONE
        metadata["unit_class"] = UNIT_CLASSES.get(unit or "")
    return metadata


async def import_statistics(
    api: Api, entity_id: str, name: str | None, unit: str | None, stats: list[dict[str, Any]]
) -> None:
    """Import statistics with ``mean_type``/``unit_class`` where the running Home Assistant knows them."""
    if api.statistics_modern is not False:
        try:
            metadata = statistics_metadata(entity_id, name, unit, modern=True)
            await api.ws("recorder/import_statistics", metadata=metadata, stats=stats)
        except ProvisionError as err:
            if "extra keys not allowed" not in str(err):
                raise
            api.statistics_modern = False  # Home Assistant before mean_type/unit_class
        else:
            api.statistics_modern = True
            return
    metadata = statistics_metadata(entity_id, name, unit, modern=False)
    await api.ws("recorder/import_statistics", metadata=metadata, stats=stats)


async def import_history(api: Api, entities: dict[str, str], hours: int = 48) -> None:
    """Hourly statistics for the Energy dashboard's roles over the last ``hours``, ending at today's reading.

    A demo only: the Energy dashboard shows hourly statistics, which a fresh recorder has none of.
    See :func:`history_rows` for how the recorder's own sums continue them.
    """
    rng = random.Random(4711)
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    for role, entity_id in sorted(entities.items()):
        state = await api.rest("GET", f"/api/states/{entity_id}")
        try:
            current = float(state["state"])
        except (TypeError, ValueError):
            continue
        low, high = HOURLY_USE[role]
        starts = [now - timedelta(hours=hours - i) for i in range(hours)]
        use = [
            (low + (high - low) * _daily_shape(start.astimezone().hour)) * rng.uniform(0.7, 1.3)
            for start in starts
        ]
        attrs = state["attributes"]
        await import_statistics(
            api,
            entity_id,
            attrs.get("friendly_name"),
            attrs.get("unit_of_measurement"),
            history_rows(current, use, starts),
        )
    _LOGGER.info("Imported %d hours of made-up history for the Energy dashboard", hours)


# --------------------------------------------------------------------------- LoRaWAN through MQTT

BROKER = ("127.0.0.1", 1883)
"""Where ``scripts/develop`` looks for (or starts) the demo's MQTT broker."""
MQTT_DOMAIN = "mqtt"
LPWAN_STEP = "lpwan"
LPWAN_NETWORK = "tts"
"""The demo publisher's default format (The Things Stack) and the receiver's network setting."""
LPWAN_TITLE = "LPWAN "
"""How the integration titles a LoRaWAN receiver entry (``LPWAN <topic>``)."""
LPWAN_METER = DemoMeter(lpwan_demo.METER_ID, "", 0x07, "LoRaWAN water meter", None)
"""The meter of ``scripts/lpwan_demo``: DevEUI :data:`lpwan_demo.DEV_EUI`, no ID in its payload."""
LPWAN_MEDIUM = "water"


def parse_host_port(text: str, default_port: int = BROKER[1]) -> tuple[str, int]:
    """``HOST[:PORT]`` or ``mqtt://HOST[:PORT]`` -> (host, port)."""
    host, _, port = text.removeprefix("mqtt://").partition("/")[0].rpartition(":")
    if not host:  # no colon: all of it is the host
        return text.removeprefix("mqtt://").partition("/")[0] or BROKER[0], default_port
    if not port.isdigit():
        raise ValueError(f"not HOST:PORT: {text!r}")
    return host, int(port)


def broker_accepting(host: str, port: int, timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections at ``host:port`` (a broker already running)."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def mosquitto_binary() -> str | None:
    """The ``mosquitto`` broker (Debian puts it in /usr/sbin, often not on a user's PATH), or None."""
    return shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/usr/local/sbin")


def mosquitto_config(directory: Path, host: str = BROKER[0], port: int = BROKER[1]) -> str:
    """Mosquitto 2.x configuration for the demo: loopback only, anonymous, nothing persisted.

    Logs to ``directory``; ``user`` is the current user, else Mosquitto started as root would switch
    to the ``mosquitto`` user and could not write there.
    """
    return "\n".join(
        [
            "# Written by scripts/develop: the demo's local broker (LoRaWAN uplinks of scripts/lpwan_demo).",
            f"listener {port} {host}",
            "allow_anonymous true",
            "persistence false",
            f"user {pwd.getpwuid(os.getuid()).pw_name}",
            f"log_dest file {directory.resolve() / 'mosquitto.log'}",
            "",
        ]
    )


def write_broker_config(config_dir: Path, host: str = BROKER[0], port: int = BROKER[1]) -> Path:
    """``config/mosquitto/mosquitto.conf`` (rewritten each time); its path."""
    directory = config_dir / "mosquitto"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "mosquitto.conf"
    path.write_text(mosquitto_config(directory, host, port), encoding="utf-8")
    return path


def sections(form: dict[str, Any]) -> list[dict[str, Any]]:
    """The collapsible sections ("expandable" fields) of a flow form's serialised data schema."""
    return [item for item in form.get("data_schema") or [] if item.get("type") == "expandable"]


def section_defaults(section: dict[str, Any]) -> dict[str, Any]:
    """What the frontend submits for an untouched section of a serialised form: each field's default,
    and for required fields without one a switch off or a drop-down's first option."""
    values: dict[str, Any] = {}
    for item in section.get("schema") or []:
        selector = item.get("selector") or {}
        if "default" in item:
            values[item["name"]] = item["default"]
        elif not item.get("required"):
            continue
        elif "boolean" in selector:
            values[item["name"]] = False
        elif options := (selector.get("select") or {}).get("options"):
            first = options[0]
            values[item["name"]] = first["value"] if isinstance(first, dict) else first
    return values


async def setup_mqtt(api: Api, host: str, port: int) -> str:
    """Home Assistant's MQTT integration on ``host:port`` (its config flow); the entry ID.

    An existing MQTT entry is kept as it is, whatever broker it uses.
    """
    for entry in await api.rest("GET", f"/api/config/config_entries/entry?domain={MQTT_DOMAIN}"):
        if entry.get("domain") == MQTT_DOMAIN:
            return str(entry["entry_id"])
    base = "/api/config/config_entries/flow"
    result = await api.rest("POST", base, {"handler": MQTT_DOMAIN, "show_advanced_options": False})
    if result.get("type") == "menu":  # Supervisor: "add-on" or "broker"
        result = await api.rest("POST", f"{base}/{result['flow_id']}", {"next_step_id": "broker"})
    if result.get("type") != "form" or result.get("step_id") != "broker":
        raise ProvisionError(f"MQTT flow: expected the broker step, got {result}")
    answer: dict[str, Any] = {"broker": host, "port": port}
    # Newer releases group the rest of the form in required, collapsed sections ("other_settings"):
    # each is sent with the defaults its form shows, as the frontend does.
    answer |= {item["name"]: section_defaults(item) for item in sections(result) if item.get("required")}
    result = await api.rest("POST", f"{base}/{result['flow_id']}", answer)
    if result.get("type") != "create_entry":
        raise ProvisionError(f"MQTT flow on {host}:{port} ended with {result}")
    _LOGGER.info("Added the MQTT integration (broker %s:%d)", host, port)
    return str(result["result"]["entry_id"])


async def add_lpwan_receiver(api: Api, network: str = LPWAN_NETWORK) -> str:
    """The "LoRaWAN / mioty network server (MQTT)" receiver's entry ID (created unless one exists)."""
    for entry in await api.rest("GET", f"/api/config/config_entries/entry?domain={DOMAIN}"):
        if str(entry.get("title", "")).startswith(LPWAN_TITLE):
            return str(entry["entry_id"])
    result = await _flow(
        api,
        "/api/config/config_entries/flow",
        {"handler": DOMAIN, "show_advanced_options": False},
        [("user", {"next_step_id": LPWAN_STEP}), (LPWAN_STEP, {"lpwan_network": network})],
    )
    if result.get("type") != "create_entry":
        raise ProvisionError(f"LoRaWAN receiver flow ended with {result}")
    _LOGGER.info("Added the LoRaWAN / mioty receiver (%s)", result["result"].get("title"))
    return str(result["result"]["entry_id"])


def lpwan_meter_answers(meter: DemoMeter, dev_eui: str, medium: str) -> list[tuple[str, dict[str, Any]]]:
    """The meter subentry flow's steps of an LPWAN receiver: DevEUI -> meter ID and medium, then the name."""
    return [
        (LPWAN_STEP, {"dev_eui": dev_eui, "meter_id": meter.meter_id, "device_type": medium}),
        ("meter", {"name": meter.name}),
    ]


async def add_lpwan_meter(
    api: Api,
    entry_id: str,
    meter: DemoMeter = LPWAN_METER,
    dev_eui: str = lpwan_demo.DEV_EUI,
    medium: str = LPWAN_MEDIUM,
) -> str:
    """Map ``dev_eui`` to ``meter`` in the LoRaWAN receiver's add-meter flow; the subentry ID."""
    for sub in await api.ws("config_entries/subentries/list", entry_id=entry_id):
        if sub.get("unique_id") == meter.meter_id:
            return str(sub["subentry_id"])
    base = "/api/config/config_entries/subentries/flow"
    result = await api.rest("POST", base, {"handler": [entry_id, SUBENTRY_TYPE]})
    for step_id, data in lpwan_meter_answers(meter, dev_eui, medium):
        # "meter_unencrypted" when the meter was heard sending plaintext before it was mapped
        if result.get("type") != "form" or result.get("step_id") not in (step_id, f"{step_id}_unencrypted"):
            raise ProvisionError(f"LoRaWAN meter flow: expected step {step_id!r}, got {result}")
        result = await api.rest("POST", f"{base}/{result['flow_id']}", data)
        if result.get("type") == "form" and result.get("errors"):
            raise ProvisionError(f"LoRaWAN meter flow step {step_id}: errors {result['errors']}")
    if result.get("type") != "create_entry":
        raise ProvisionError(f"LoRaWAN meter {meter.meter_id}: subentry flow ended with {result}")
    _LOGGER.info("Added LoRaWAN meter %s (DevEUI %s, %s)", meter.meter_id, dev_eui, meter.name)
    for sub in await api.ws("config_entries/subentries/list", entry_id=entry_id):
        if sub.get("unique_id") == meter.meter_id:
            return str(sub["subentry_id"])
    raise ProvisionError(f"LoRaWAN meter {meter.meter_id}: no subentry after the flow")


ONBOARDING_EXTRAS = ("google_translate", "met", "radio_browser")
"""Entries the onboarding creates that need the internet (or ffmpeg): noise in an offline demo."""


async def remove_onboarding_extras(api: Api, domains: Iterable[str] = ONBOARDING_EXTRAS) -> None:
    """Delete the config entries of ``domains`` (best effort)."""
    for entry in await api.rest("GET", "/api/config/config_entries/entry"):
        if entry.get("domain") in domains:
            await api.rest("DELETE", f"/api/config/config_entries/entry/{entry['entry_id']}")
            _LOGGER.info("Removed the %s entry the onboarding added", entry["domain"])


async def provision(
    base_url: str,
    *,
    device: str | None = None,
    username: str = USERNAME,
    password: str = PASSWORD,
    meters: Iterable[DemoMeter] = HOUSEHOLD,
    energy: bool = True,
    remove_extras: bool = True,
    history: bool = True,
    within: float = 120.0,
    mqtt: tuple[str, int] | None = None,
) -> Provisioned:
    """Everything of the module docstring against a running Home Assistant at ``base_url``."""
    meters = list(meters)
    await wait_for_api(base_url, within)
    async with aiohttp.ClientSession() as session:
        tokens = await onboard(session, base_url, username, password)
        token = str(tokens["access_token"])
        api = Api(session, base_url, token)
        try:
            entry_id = await add_receiver(api, device or str(CAPTURE))
            subentries = await add_meters(api, entry_id, meters)
            done = Provisioned(base_url, token, entry_id, subentries, tokens=tokens)
            roles = {m.energy[0]: f"{m.meter_id}_{m.energy[1]}" for m in meters if m.energy}
            if energy and roles:
                found = await wait_for_entities(api, roles.values(), within)
                done.energy_entities = {role: found[uid] for role, uid in roles.items()}
                await setup_energy(api, done.energy_entities)
                if history:
                    await wait_for_states(api, done.energy_entities.values(), within)
                    await import_history(api, done.energy_entities)
            if mqtt is not None:
                await setup_mqtt(api, *mqtt)
                done.lpwan_entry_id = await add_lpwan_receiver(api)
                done.lpwan_subentry_id = await add_lpwan_meter(api, done.lpwan_entry_id)
            if remove_extras:
                await remove_onboarding_extras(api)
        finally:
            await api.close()
    return done


# --------------------------------------------------------------------------- config directory

CORE_YAML = """\
homeassistant:
  name: OMS demo
  unit_system: metric
  currency: EUR
  country: DE
  language: en
  time_zone: Europe/Berlin
  latitude: 52.5200
  longitude: 13.4050
  elevation: 34
"""

DEVELOP_YAML = """\
# Written by scripts/develop on the first run; edit freely, it is not overwritten.
# default_config without what needs the internet or hardware this demo does not have
# (bluetooth, cloud, go2rtc, stream, homeassistant_alerts, the network discovery ones).
{core}
{http}
frontend:
config:
api:
backup:
energy:
history:
logbook:
my:
onboarding:
person:
sun:
system_health:
usb:

logger:
  default: info
  logs:
    custom_components.oms: debug
"""

MINIMAL_YAML = """\
# Minimal configuration for tests: just what the provisioning and the assertions need.
{core}
{http}api:
config:
energy:
frontend:  # an empty stand-in: tests need the API, not the UI (nor the home-assistant-frontend wheel)
  development_repo: {frontend_stub}
onboarding:
recorder:
  commit_interval: 1

logger:
  default: warning
  logs:
    custom_components.oms: debug
"""


def link_component(config_dir: Path) -> None:
    """``config/custom_components/oms`` -> a symlink to this checkout's integration (not a copy)."""
    target = ROOT / "custom_components" / DOMAIN
    link = config_dir / "custom_components" / DOMAIN
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink() or link.exists():
        if link.is_symlink() and link.resolve() == target.resolve():
            return
        link.unlink()
    link.symlink_to(target, target_is_directory=True)


HTTP_INCLUDE = "http: !include develop_http.yaml  # server port, rewritten by every scripts/develop run\n"
"""The ``http:`` line of DEVELOP_YAML for a Home Assistant that takes its HTTP settings from YAML."""


def http_in_storage() -> bool:
    """Whether the installed Home Assistant keeps its HTTP settings in ``.storage/http``.

    Home Assistant 2026.10+ has ``http/config.py``: the settings live in a store the UI edits, and an
    ``http:`` YAML block is migrated once and then raises a repair issue ("breaks in 2027.2.0").
    Before that (2025.4), YAML is the only way to set the port. Looks for the file only: no import.
    """
    spec = importlib.util.find_spec("homeassistant")
    locations = list(spec.submodule_search_locations or []) if spec else []
    return any((Path(path) / "components" / "http" / "config.py").exists() for path in locations)


def write_http_storage(config_dir: Path, port: int, host: str | None = None) -> None:
    """Set the server port (and host) in ``.storage/http``, the way the UI would.

    A new file is written in the store's first format (version 1: the settings themselves), which
    every Home Assistant with the store migrates through its own schema (defaults filled in). An
    existing file keeps everything else the user set; only the port (and host) change.
    """
    path = config_dir / ".storage" / "http"
    wanted: dict[str, Any] = {"server_port": port} | ({"server_host": [host]} if host else {})
    if path.exists():
        stored = json.loads(path.read_text(encoding="utf-8"))
        if stored.get("version", 1) == 1:
            stored["data"] = {**stored.get("data", {}), **wanted}
        else:
            stored["data"]["stable"] = {**stored["data"]["stable"], **wanted}
            stored["data"]["pending"] = None
    else:
        stored = {"version": 1, "minor_version": 1, "key": "http", "data": wanted}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(stored, indent=2), encoding="utf-8")


def write_config(config_dir: Path, port: int, *, minimal: bool = False) -> None:
    """A configuration directory for the demo (``minimal``: the fast one of the tests).

    The port goes to ``.storage/http`` where Home Assistant keeps its HTTP settings there
    (:func:`http_in_storage`), else to the ``http:`` YAML.
    """
    config_dir.mkdir(parents=True, exist_ok=True)
    link_component(config_dir)
    yaml = config_dir / "configuration.yaml"
    storage = http_in_storage()
    if minimal:
        stub = config_dir / "frontend_stub"
        for sub in ("static", "frontend_latest", "frontend_es5"):
            (stub / "hass_frontend" / sub).mkdir(parents=True, exist_ok=True)
        http = "" if storage else f"http:\n  server_host: 127.0.0.1\n  server_port: {port}\n"
        text = MINIMAL_YAML.format(core=CORE_YAML, http=http, frontend_stub=stub)
        yaml.write_text(text, encoding="utf-8")
        if storage:
            write_http_storage(config_dir, port, "127.0.0.1")
        return
    write_broker_config(config_dir)
    if not yaml.exists():
        yaml.write_text(
            DEVELOP_YAML.format(core=CORE_YAML, http="" if storage else HTTP_INCLUDE), encoding="utf-8"
        )
    if storage:
        text = yaml.read_text(encoding="utf-8")
        if HTTP_INCLUDE in text:  # written by an earlier scripts/develop on an older Home Assistant
            yaml.write_text(text.replace(HTTP_INCLUDE, ""), encoding="utf-8")
        write_http_storage(config_dir, port)
    else:
        (config_dir / "develop_http.yaml").write_text(f"server_port: {port}\n", encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8123")
    parser.add_argument("--device", help="capture file for the replay receiver (default: the bundled demo)")
    parser.add_argument("--no-energy", action="store_true", help="leave the Energy dashboard alone")
    parser.add_argument("--no-history", action="store_true", help="no made-up Energy dashboard history")
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--write-config", metavar="DIR", help="only write a config directory for the demo")
    parser.add_argument("--port", type=int, default=8123, help="with --write-config")
    parser.add_argument(
        "--mqtt",
        metavar="HOST:PORT",
        help="also the MQTT integration on this broker, a LoRaWAN receiver and the scripts/lpwan_demo meter",
    )
    parser.add_argument(
        "--broker-running",
        metavar="HOST:PORT",
        help="only check: exit 0 if a broker accepts connections there",
    )
    parser.add_argument(
        "--which-mosquitto", action="store_true", help="only print the mosquitto binary (or fail)"
    )
    args = parser.parse_args()
    if args.broker_running:
        return 0 if broker_accepting(*parse_host_port(args.broker_running)) else 1
    if args.which_mosquitto:
        binary = mosquitto_binary()
        if binary:
            print(binary)
        return 0 if binary else 1
    if args.write_config:
        write_config(Path(args.write_config), args.port)
        return 0
    logging.basicConfig(level=logging.INFO, format="provision: %(message)s")
    try:
        asyncio.run(
            provision(
                args.url.rstrip("/"),
                device=args.device,
                energy=not args.no_energy,
                history=not args.no_history,
                within=args.timeout,
                mqtt=parse_host_port(args.mqtt) if args.mqtt else None,
            )
        )
    except ProvisionError as err:
        print(f"provision: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
