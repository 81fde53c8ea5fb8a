"""``listen --receiver lpwan``: network-server uplinks (JSON lines on stdin or MQTT) -> decode lines.

SOURCE is ``-`` (one uplink JSON per line: The Things Stack v3, ChirpStack v4 or mioty
ACMQTTI, detected per line; ``mosquitto_sub -F %j`` lines carry their topic along) or
``mqtt://[USER[:PASSWORD]@]HOST[:PORT][/TOPIC-FILTER]`` (``mqtts://`` for TLS), read
with paho-mqtt when it is installed (Home Assistant ships it). Without a topic filter
the uplink topics of all three servers are subscribed (:data:`DEFAULT_TOPICS`).

Each uplink prints the ``scripts/decode`` JSON plus ``dev_eui``, ``f_port``, ``f_cnt``,
``network``, ``layout``, ``rssi_dbm``, ``snr_db`` and ``gateways``; anything that is not an
OMS uplink is a line with ``"ok": false`` and a typed error code (``not_uplink``,
``not_oms``, ``unmapped_device``, ``fragment_incomplete``, ``duplicate`` …).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
import contextlib
from dataclasses import dataclass
import importlib
import os
import threading
import time
from typing import Any, Protocol
from urllib.parse import unquote

from .decoder import Decoder
from .errors import OmsError
from .jsonout import error_json, telegram_json
from .lpwan import DeviceMapping, LpwanDecoder
from .lpwan_uplink import NotUplinkError, Uplink, parse_uplink

JsonObj = dict[str, Any]
DEFAULT_TOPICS = ("v3/+/devices/+/up", "application/+/device/+/event/up", "mioty/+/+/uplink")
"""Uplink topics of The Things Stack v3, ChirpStack v4 and the mioty application centre."""
EXIT_OK = 0
EXIT_ERROR = 2
_EOF = None


class _Session(Protocol):
    decoder: Decoder
    done: asyncio.Event

    def emit(
        self, obj: JsonObj, rssi_dbm: float | None, link_mode: str | None, received_at: float
    ) -> None: ...


class SourceError(Exception):
    """The source cannot be read (no paho-mqtt, broker unreachable, bad URL)."""


@dataclass(frozen=True, slots=True)
class MqttUrl:
    tls: bool
    host: str
    port: int
    username: str | None
    password: str | None
    topics: tuple[str, ...]


def parse_mqtt_url(url: str) -> MqttUrl:
    """``mqtt[s]://[user[:pass]@]host[:port][/filter]``; the filter is verbatim (``#``, ``+`` included)."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in ("mqtt", "mqtts"):
        raise SourceError(f"not an MQTT URL: {url.rsplit('@', maxsplit=1)[-1]}")
    authority, _, topic = rest.partition("/")
    credentials, at, hostport = authority.rpartition("@")
    username = password = None
    if at:
        user, _, secret = credentials.partition(":")
        username, password = unquote(user), (unquote(secret) if secret else None)
    host, colon, port_text = hostport.rpartition(":") if hostport.count(":") == 1 else (hostport, "", "")
    if not host:
        raise SourceError("the MQTT URL names no broker host")
    try:
        port = int(port_text) if colon else (8883 if scheme == "mqtts" else 1883)
    except ValueError:
        raise SourceError(f"bad MQTT port {port_text!r}") from None
    return MqttUrl(scheme == "mqtts", host, port, username, password, (topic,) if topic else DEFAULT_TOPICS)


def uplink_fields(obj: JsonObj, uplink: Uplink | None) -> JsonObj:
    """Add what the network server said to a decode line."""
    obj["dev_eui"] = uplink.dev_eui if uplink else None
    obj["f_port"] = uplink.f_port if uplink else None
    obj["f_cnt"] = uplink.f_cnt if uplink else None
    obj["network"] = uplink.network if uplink else None
    obj["snr_db"] = uplink.snr_db if uplink else None
    obj["gateways"] = uplink.gateways if uplink else None
    obj.setdefault("layout", None)
    return obj


def handle(
    lpwan: LpwanDecoder, topic: str | None, payload: bytes, scrub: Callable[[str], str]
) -> tuple[JsonObj, Uplink | None]:
    """One MQTT message (or stdin line) -> its output line; never raises for bad input."""
    uplink: Uplink | None = None
    try:
        uplink = parse_uplink(payload, topic)
        decoded = lpwan.decode(uplink)
    except OmsError as err:
        obj = error_json(err.code, scrub(err.message), err.header)
    except Exception as err:  # a bug must not stop a stream
        obj = error_json("internal", scrub(f"{type(err).__name__}: {err}"))
    else:
        obj = telegram_json(decoded.telegram)
        obj["layout"] = decoded.layout
        if decoded.bridge is not None and decoded.bridge.rssi_dbm is not None:
            obj["bridge_rssi_dbm"] = decoded.bridge.rssi_dbm
    return uplink_fields(obj, uplink), uplink


async def _stdin_lines(fd: int, queue: asyncio.Queue[tuple[str | None, bytes] | None]) -> None:
    """Feed the lines of ``fd`` into ``queue`` from a thread (pipes, terminals and regular files alike)."""
    loop = asyncio.get_running_loop()

    def read() -> None:
        with contextlib.suppress(OSError, ValueError), os.fdopen(fd, "rb", closefd=False) as stream:
            for line in stream:
                if line.strip():
                    loop.call_soon_threadsafe(queue.put_nowait, (None, line))
        with contextlib.suppress(RuntimeError):  # the loop is gone
            loop.call_soon_threadsafe(queue.put_nowait, _EOF)

    threading.Thread(target=read, name="listen lpwan stdin", daemon=True).start()


class _Mqtt:
    """A paho-mqtt client feeding ``(topic, payload)`` into the queue."""

    def __init__(self, url: MqttUrl, queue: asyncio.Queue[tuple[str | None, bytes] | None]) -> None:
        try:
            mqtt: Any = importlib.import_module("paho.mqtt.client")
        except ImportError:
            raise SourceError(
                "reading MQTT needs paho-mqtt (pip install paho-mqtt); or pipe "
                "`mosquitto_sub -F %j -t TOPIC` into `listen --receiver lpwan -`"
            ) from None
        self.url = url
        self.loop = asyncio.get_running_loop()
        self.queue = queue
        self.connected: asyncio.Future[int] = self.loop.create_future()
        name = f"oms-listen-{os.getpid()}"
        api = getattr(mqtt, "CallbackAPIVersion", None)
        self.client = mqtt.Client(api.VERSION2, client_id=name) if api else mqtt.Client(client_id=name)
        if url.username is not None:
            self.client.username_pw_set(url.username, url.password)
        if url.tls:
            self.client.tls_set()
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message

    def _on_connect(self, client: Any, _userdata: Any, _flags: Any, reason: Any, *_: Any) -> None:
        code = int(getattr(reason, "value", reason))
        if code == 0:
            for topic in self.url.topics:
                client.subscribe(topic)
        self.loop.call_soon_threadsafe(self._connected, code)

    def _connected(self, code: int) -> None:
        if not self.connected.done():
            self.connected.set_result(code)

    def _on_message(self, _client: Any, _userdata: Any, message: Any) -> None:
        self.loop.call_soon_threadsafe(self.queue.put_nowait, (str(message.topic), bytes(message.payload)))

    async def start(self, wait: float = 10.0) -> None:
        try:
            await asyncio.to_thread(self.client.connect, self.url.host, self.url.port, 60)
        except (OSError, ValueError) as err:
            raise SourceError(
                f"cannot connect to the MQTT broker {self.url.host}:{self.url.port}: {err}"
            ) from None
        self.client.loop_start()
        try:
            code = await asyncio.wait_for(self.connected, wait)
        except TimeoutError:
            code = -1
        if code != 0:
            await self.stop()
            raise SourceError(
                f"the MQTT broker {self.url.host}:{self.url.port} refused the connection ({code})"
            )

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.client.disconnect()
        await asyncio.to_thread(self.client.loop_stop)


async def run_lpwan(
    source: str,
    session: _Session,
    mapping: Mapping[str, DeviceMapping],
    say: Callable[[str], None],
    scrub: Callable[[str], str],
    *,
    stdin_fd: int | None = None,
    stop_after: float | None = None,
) -> int:
    """Read uplinks from ``source`` until EOF, ``--count`` / ``--timeout`` or a stop; the exit status."""
    lpwan = LpwanDecoder(session.decoder, dict(mapping))
    queue: asyncio.Queue[tuple[str | None, bytes] | None] = asyncio.Queue()
    client: _Mqtt | None = None
    if source.strip() in ("-", "stdin"):
        await _stdin_lines(0 if stdin_fd is None else stdin_fd, queue)
        say("reading network-server uplink JSON lines from stdin")
    else:
        try:
            url = parse_mqtt_url(source)
            client = _Mqtt(url, queue)
            await client.start()
        except SourceError as err:
            say(f"error: {err}")
            return EXIT_ERROR
        say(f"listening to {url.host}:{url.port} on {', '.join(url.topics)}")
    try:
        async with asyncio.timeout(stop_after):
            while not session.done.is_set():
                get = asyncio.ensure_future(queue.get())
                stop = asyncio.ensure_future(session.done.wait())
                await asyncio.wait((get, stop), return_when=asyncio.FIRST_COMPLETED)
                stop.cancel()
                if not get.done():
                    get.cancel()
                    break
                item = get.result()
                if item is _EOF:
                    break
                topic, payload = item
                obj, uplink = handle(lpwan, topic, payload, scrub)
                received = uplink.received_at if uplink and uplink.received_at else time.time()
                session.emit(obj, uplink.rssi_dbm if uplink else None, None, received)
    except TimeoutError:
        pass
    finally:
        if client is not None:
            await client.stop()
    return EXIT_OK


__all__ = ["DEFAULT_TOPICS", "NotUplinkError", "handle", "parse_mqtt_url", "run_lpwan"]
