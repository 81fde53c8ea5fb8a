#!/usr/bin/env python3
"""Screenshots of the demo for the README: ``docs/screenshot-energy.png``, ``-water-meter.png``.

Starts Home Assistant on a fresh temporary configuration, provisions the demo
(``scripts/provision.py``), lets headless Debian ``chromium`` log in by putting the
tokens in the frontend's ``hassTokens`` localStorage entry, and captures pages over the
Chrome DevTools Protocol (aiohttp WebSocket; no browser download). Run it through
``scripts/screenshot``, which installs chromium and the frontend when missing.
"""

# ruff: noqa: ASYNC220, ASYNC240 - a one-shot script: blocking process and file calls are fine
from __future__ import annotations

import argparse
import asyncio
import base64
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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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

    async def click(self, x: int, y: int) -> None:
        for kind in ("mousePressed", "mouseReleased"):
            await self.send("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)

    async def shot(self, path: Path) -> None:
        data = await self.send("Page.captureScreenshot", format="png")
        path.write_bytes(base64.b64decode(data["data"]))
        print(f"screenshot: wrote {path.relative_to(ROOT)}")


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
    tokens = {
        "access_token": done.tokens["access_token"],
        "refresh_token": done.tokens.get("refresh_token"),
        "token_type": "Bearer",
        "expires_in": done.tokens.get("expires_in", 1800),
        "expires": int(time.time() * 1000) + 1000 * int(done.tokens.get("expires_in", 1800)),
        "hassUrl": base,
        "clientId": f"{base}/",
    }
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
                await page.send(
                    "Emulation.setDeviceMetricsOverride",
                    width=WIDTH,
                    height=HEIGHT,
                    deviceScaleFactor=1,
                    mobile=False,
                )
                await page.goto(f"{base}/auth/providers", 1)  # any page of the origin, for localStorage
                await page.js(f"localStorage.setItem('hassTokens', {json.dumps(json.dumps(tokens))})")
                await page.js("localStorage.setItem('dockedSidebar', JSON.stringify('docked'))")
                await page.send(
                    "Emulation.setDeviceMetricsOverride",
                    width=WIDTH,
                    height=ENERGY_HEIGHT,
                    deviceScaleFactor=1,
                    mobile=False,
                )
                await page.goto(f"{base}/energy", settle)
                await page.click(*PREVIOUS_DAY)  # yesterday: a whole day of (imported) history
                await asyncio.sleep(settle / 2)
                await page.shot(out / "screenshot-energy.png")
                await page.send(
                    "Emulation.setDeviceMetricsOverride",
                    width=WIDTH,
                    height=HEIGHT,
                    deviceScaleFactor=1,
                    mobile=False,
                )
                await page.goto(f"{base}/config/devices/device/{water}", settle)
                await page.shot(out / "screenshot-water-meter.png")
        finally:
            browser.terminate()
            try:
                browser.wait(timeout=20)
            except subprocess.TimeoutExpired:
                browser.kill()
                browser.wait()


async def run(chromium: str, out: Path, settle: float, warmup: float) -> int:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="oms-demo-") as tmp:
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
                done = await provision.provision(base, within=180)
                await asyncio.sleep(warmup)  # let the replay fill in every meter's readings
                await capture(base, done, chromium, out, settle)
            except (provision.ProvisionError, RuntimeError) as err:
                print(f"screenshot: {err}", file=sys.stderr)
                print("\n".join(log_path.read_text(errors="replace").splitlines()[-30:]), file=sys.stderr)
                return 1
            finally:
                hass.terminate()
                try:
                    hass.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    hass.kill()
                    hass.wait()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    parser.add_argument("--settle", type=float, default=10.0, help="seconds a page gets to render")
    parser.add_argument("--warmup", type=float, default=40.0, help="seconds of replay before the first shot")
    args = parser.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("screenshot: chromium not found (scripts/screenshot installs it)", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    return asyncio.run(run(chromium, args.out, args.settle, args.warmup))


if __name__ == "__main__":
    sys.exit(main())
