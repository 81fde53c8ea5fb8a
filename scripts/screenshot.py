#!/usr/bin/env python3
"""Screenshots of the demo for the README: ``docs/screenshot-energy.png``, ``-water-meter.png``,
``-profile.png``.

Starts Home Assistant on a fresh temporary configuration, provisions the demo
(``scripts/provision.py``), lets headless Debian ``chromium`` log in by putting the
tokens in the frontend's ``hassTokens`` localStorage entry, and captures pages over the
Chrome DevTools Protocol (aiohttp WebSocket; no browser download). Run it through
``scripts/screenshot``, which installs chromium and the frontend when missing.

The profile shot (issue 12) needs hours of the electricity meter's 15-minute load profile: a second
Home Assistant replays the capture 60 times faster (a capture hour a minute), a dashboard with a
``statistics-graph`` card of the external statistic ``oms:11893502_energy`` is added through the
lovelace API, and the card is pointed at the capture's dates (the meter's own timestamps, March 2025)
through the frontend's energy date collection, as the Energy dashboard's date picker would.
"""

# ruff: noqa: ASYNC220, ASYNC240 - a one-shot script: blocking process and file calls are fine
from __future__ import annotations

import argparse
import asyncio
import base64
from collections.abc import AsyncIterator
import contextlib
import json
from pathlib import Path
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import provision  # noqa: E402

WIDTH, HEIGHT = 1280, 860
ENERGY_HEIGHT = 1500
PREVIOUS_DAY = (1027, 28)
"""Where the Energy panel's "previous period" arrow is at this width."""
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    f"--window-size={WIDTH},{HEIGHT}",
]


PROFILE_METER = "11893502"
"""The demo's electricity meter, which sends a 15-minute inverse compact profile (Annex R style)."""
PROFILE_SPEED = 60
PROFILE_HOURS = 12
"""Hourly statistics rows of the profile to wait for before the shot."""
PROFILE_DASHBOARD = "oms-profile"
TIME_ZONE = "Europe/Berlin"
"""The demo's time zone (provision.CORE_YAML); the browser gets it too, so the hours match."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _stop(process: subprocess.Popen[bytes], timeout: float) -> None:
    """Terminate ``process``; kill it when it has not ended after ``timeout`` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class Page:
    """One browser tab driven over CDP."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self._id = 0

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        self._id += 1
        await self.ws.send_json({"id": self._id, "method": method, "params": params})
        while True:
            msg = await self.ws.receive_json(timeout=60)
            if msg.get("id") == self._id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return dict(msg.get("result", {}))

    async def goto(self, url: str, settle: float) -> None:
        await self.send("Page.navigate", url=url)
        await asyncio.sleep(settle)

    async def js(self, expression: str) -> Any:
        result = await self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")

    async def viewport(self, height: int) -> None:
        """``WIDTH`` x ``height`` CSS pixels at scale 1."""
        await self.send(
            "Emulation.setDeviceMetricsOverride",
            width=WIDTH,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )

    async def click(self, x: int, y: int) -> None:
        for kind in ("mousePressed", "mouseReleased"):
            await self.send("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)

    async def shot(self, path: Path) -> None:
        data = await self.send("Page.captureScreenshot", format="png")
        path.write_bytes(base64.b64decode(data["data"]))
        shown = path.resolve().relative_to(ROOT) if path.resolve().is_relative_to(ROOT) else path
        print(f"screenshot: wrote {shown}")


async def _devtools_page(port: int, deadline: float) -> str:
    async with aiohttp.ClientSession() as session:
        while True:
            try:
                async with session.get(f"http://127.0.0.1:{port}/json/list") as resp:
                    for target in await resp.json():
                        if target.get("type") == "page":
                            return str(target["webSocketDebuggerUrl"])
            except aiohttp.ClientError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("chromium's DevTools did not come up")
            await asyncio.sleep(0.5)


async def capture(base: str, done: provision.Provisioned, chromium: str, out: Path, settle: float) -> None:
    async with aiohttp.ClientSession() as session:
        api = provision.Api(session, base, done.access_token)
        try:
            devices = await api.ws("config/device_registry/list")
        finally:
            await api.close()
    water = next(d["id"] for d in devices if ["oms", "21436587"] in d["identifiers"])
    async with _browser(chromium, base, done) as page:
        await page.viewport(ENERGY_HEIGHT)
        await page.goto(f"{base}/energy", settle)
        await page.click(*PREVIOUS_DAY)  # yesterday: a whole day of (imported) history
        await asyncio.sleep(settle / 2)
        await page.shot(out / "screenshot-energy.png")
        await page.viewport(HEIGHT)
        await page.goto(f"{base}/config/devices/device/{water}", settle)
        await page.shot(out / "screenshot-water-meter.png")


def _browser_tokens(base: str, done: provision.Provisioned) -> dict[str, Any]:
    """The frontend's ``hassTokens`` localStorage entry for the provisioned login."""
    return {
        "access_token": done.tokens["access_token"],
        "refresh_token": done.tokens.get("refresh_token"),
        "token_type": "Bearer",
        "expires_in": done.tokens.get("expires_in", 1800),
        "expires": int(time.time() * 1000) + 1000 * int(done.tokens.get("expires_in", 1800)),
        "hassUrl": base,
        "clientId": f"{base}/",
    }


def profile_dashboard(statistic_id: str, title: str) -> dict[str, Any]:
    """A one-card dashboard: hourly bars (``change``) of ``statistic_id`` over the energy date selection."""
    card = {
        "type": "statistics-graph",
        "title": title,
        "entities": [statistic_id],
        "chart_type": "bar",
        "period": "hour",
        "stat_types": ["change"],
        "energy_date_selection": True,
    }
    return {"views": [{"title": "Load profile", "path": "profile", "panel": True, "cards": [card]}]}


async def _profile_hours(api: provision.Api, statistic_id: str) -> list[dict[str, Any]]:
    """The hourly rows of ``statistic_id`` (all of them: the meter's own timestamps may be long ago)."""
    rows = await api.ws(
        "recorder/statistics_during_period",
        start_time="2000-01-01T00:00:00+00:00",
        statistic_ids=[statistic_id],
        period="hour",
        types=["change"],
    )
    return list(rows.get(statistic_id, []))


async def capture_profile(
    base: str, done: provision.Provisioned, chromium: str, out: Path, settle: float, within: float
) -> None:
    """``screenshot-profile.png``: the statistics graph of the electricity meter's load profile."""
    statistic_id = f"oms:{PROFILE_METER}_energy"
    deadline = time.monotonic() + within
    async with aiohttp.ClientSession() as session:
        api = provision.Api(session, base, done.access_token)
        try:
            while True:  # the first rows are flat: the capture's first profile has no history behind it
                rows = [r for r in await _profile_hours(api, statistic_id) if r.get("change")]
                if len(rows) >= PROFILE_HOURS:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{statistic_id}: {len(rows)} hours with a change in {within:.0f} s")
                await asyncio.sleep(5)
            metadata = await api.ws("recorder/get_statistics_metadata", statistic_ids=[statistic_id])
            name = metadata[0].get("name") or statistic_id
            dashboards = {d["url_path"] for d in await api.ws("lovelace/dashboards/list")}
            if PROFILE_DASHBOARD not in dashboards:
                await api.ws(
                    "lovelace/dashboards/create",
                    url_path=PROFILE_DASHBOARD,
                    title="Load profile",
                    icon="mdi:chart-bar",
                    mode="storage",
                    show_in_sidebar=True,
                    require_admin=False,
                )
            try:  # the card follows the Energy dashboard's dates, which need energy preferences
                await api.ws("energy/get_prefs")
            except provision.ProvisionError:
                await api.ws("energy/save_prefs", energy_sources=[], device_consumption=[])
            config = profile_dashboard(statistic_id, f"{name}: 15-minute values summed into hours")
            await api.ws("lovelace/config/save", url_path=PROFILE_DASHBOARD, config=config)
        finally:
            await api.close()
    first, last = rows[0]["start"], rows[-1]["end"]  # ms since the epoch
    async with _browser(chromium, base, done, HEIGHT - 260) as page:
        await page.goto(f"{base}/{PROFILE_DASHBOARD}/profile", settle)
        await page.js(
            "(() => { const c = document.querySelector('home-assistant').hass.connection._energy;"
            f" c.setPeriod(new Date({first}), new Date({last} - 1)); c.refresh(); }})()"
        )
        await asyncio.sleep(settle / 2)
        await page.shot(out / "screenshot-profile.png")


@contextlib.asynccontextmanager
async def _browser(
    chromium: str, base: str, done: provision.Provisioned, height: int = HEIGHT
) -> AsyncIterator[Page]:
    """A logged-in chromium tab of ``WIDTH`` x ``height`` in the demo's time zone."""
    cdp_port = _free_port()
    with tempfile.TemporaryDirectory(prefix="oms-chromium-") as profile:
        browser = subprocess.Popen(
            [
                chromium,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={profile}",
                f"--remote-debugging-port={cdp_port}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            ws_url = await _devtools_page(cdp_port, time.monotonic() + 60)
            async with aiohttp.ClientSession() as session, session.ws_connect(ws_url, max_msg_size=0) as ws:
                page = Page(ws)
                await page.send("Page.enable")
                await page.send("Emulation.setTimezoneOverride", timezoneId=TIME_ZONE)
                await page.viewport(height)
                await page.goto(f"{base}/auth/providers", 1)  # any page of the origin, for localStorage
                tokens = json.dumps(json.dumps(_browser_tokens(base, done)))
                await page.js(f"localStorage.setItem('hassTokens', {tokens})")
                await page.js("localStorage.setItem('dockedSidebar', JSON.stringify('docked'))")
                yield page
        finally:
            _stop(browser, 20)


async def run(chromium: str, out: Path, settle: float, wait: float, *, profile: bool = False) -> int:
    """A fresh demo Home Assistant, provisioned, and its shots; 1 (with the log's tail) when that fails.

    The demo shots (:func:`capture`) after ``wait`` seconds of replay; with ``profile`` the profile
    shot (:func:`capture_profile`) from a replay ``PROFILE_SPEED`` times faster, waiting up to
    ``wait`` seconds for the profile's hours.
    """
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="oms-demo-profile-" if profile else "oms-demo-") as tmp:
        config = Path(tmp) / "config"
        provision.write_config(config, port)
        log_path = Path(tmp) / "hass.log"
        with log_path.open("wb") as log:
            hass = subprocess.Popen(
                [sys.executable, "-m", "homeassistant", "-c", str(config)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            try:
                await provision.wait_for_api(base, 600, alive=lambda: hass.poll() is None)
                if profile:
                    device = f"{provision.CAPTURE}?speed={PROFILE_SPEED}"
                    done = await provision.provision(base, device=device, energy=False, within=180)
                    await capture_profile(base, done, chromium, out, settle, wait)
                else:
                    done = await provision.provision(base, within=180)
                    await asyncio.sleep(wait)  # let the replay fill in every meter's readings
                    await capture(base, done, chromium, out, settle)
            except (provision.ProvisionError, RuntimeError) as err:
                print(f"screenshot: {err}", file=sys.stderr)
                print("\n".join(log_path.read_text(errors="replace").splitlines()[-30:]), file=sys.stderr)
                return 1
            finally:
                _stop(hass, 60)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    parser.add_argument("--settle", type=float, default=10.0, help="seconds a page gets to render")
    parser.add_argument("--warmup", type=float, default=40.0, help="seconds of replay before the first shot")
    parser.add_argument(
        "--shots", choices=("all", "demo", "profile"), default="all", help="demo: energy and water meter"
    )
    parser.add_argument(
        "--profile-within", type=float, default=1200.0, help="seconds to wait for the profile's hours"
    )
    args = parser.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("screenshot: chromium not found (scripts/screenshot installs it)", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    if args.shots in ("all", "demo") and asyncio.run(run(chromium, args.out, args.settle, args.warmup)):
        return 1
    if args.shots in ("all", "profile"):
        return asyncio.run(run(chromium, args.out, args.settle, args.profile_within, profile=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
