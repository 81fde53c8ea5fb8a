"""Receiver kind ``mqtt``: telegrams forwarded by remote receivers, through Home Assistant's MQTT integration.

One :class:`MqttReceiver` subscribes to one topic filter (``wmbus/+/telegram``);
the ``+`` level(s) of each message's topic name the remote receiver that heard
it (:func:`~.omslib.mqtt_payloads.receiver_name`), which becomes the Frame's
``receiver_id``. Payloads are parsed by the library
(:func:`~.omslib.mqtt_payloads.parse_payload`); a payload it does not
understand is counted and logged at debug level, never raised into the
subscription. There is no second MQTT client: the broker connection, its
reconnects and credentials belong to the ``mqtt`` integration (an
``after_dependencies`` of ours, imported only when an MQTT receiver starts).
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
import logging
import time
from typing import TYPE_CHECKING, ClassVar, Final

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback

from .const import KIND_MQTT
from .omslib.dedup import MAX_RECEIVERS_PER_ENTRY
from .omslib.mqtt_payloads import PayloadError, parse_payload, receiver_name
from .omslib.receivers import (
    FrameCallback,
    LinkMode,
    NoAnswerError,
    Receiver,
    ReceiverInfo,
    StateCallback,
)

if TYPE_CHECKING:
    from homeassistant.components.mqtt import ReceiveMessage

_LOGGER = logging.getLogger(__name__)

RATE_WINDOW: Final = 60.0
"""Seconds over which :attr:`ReceiverStats.per_minute` counts telegrams."""


@dataclass(slots=True)
class ReceiverStats:
    """What one remote receiver sent (diagnostic sensors read it)."""

    name: str
    telegrams: int = 0
    """Payloads that held a telegram."""
    unknown: int = 0
    """Payloads that did not (see :attr:`reasons`)."""
    last_seen: float | None = None
    """Unix time of the last telegram."""
    reasons: Counter[str] = field(default_factory=Counter)
    _recent: deque[float] = field(default_factory=deque, repr=False)
    """Monotonic times of the telegrams of the last :data:`RATE_WINDOW` seconds."""

    def add(self, received_at: float, now: float) -> None:
        self.telegrams += 1
        self.last_seen = received_at
        self._recent.append(now)
        self._expire(now)

    def per_minute(self, now: float | None = None) -> float:
        """Telegrams in the last minute."""
        self._expire(time.monotonic() if now is None else now)
        return len(self._recent) * 60.0 / RATE_WINDOW

    def _expire(self, now: float) -> None:
        recent = self._recent
        while recent and now - recent[0] >= RATE_WINDOW:
            recent.popleft()


class MqttReceiver(Receiver):
    """Telegrams from every remote receiver publishing under one topic filter.

    ``device`` is the topic filter. :attr:`remotes` holds a :class:`ReceiverStats`
    per receiver name (at most :data:`MAX_RECEIVERS_PER_ENTRY`; telegrams from
    further names are passed on but not counted), starting with the ``known``
    names; ``on_new_receiver`` is called when a name sends its first telegram.
    Retained messages are skipped: they are old telegrams the broker replays on
    every subscribe.
    """

    kind = KIND_MQTT
    model: ClassVar[str] = "MQTT"
    """:attr:`ReceiverInfo.model` once subscribed."""

    def __init__(
        self,
        hass: HomeAssistant,
        device: str,
        *,
        on_frame: FrameCallback,
        on_state: StateCallback | None = None,
        link_mode: LinkMode = "c1t1",
        receiver_id: str = "",
        known: Iterable[str] = (),
        on_new_receiver: Callable[[ReceiverStats], None] | None = None,
    ) -> None:
        super().__init__(
            device, on_frame=on_frame, on_state=on_state, link_mode=link_mode, receiver_id=receiver_id
        )
        self.hass = hass
        self.topic_filter = device
        self.remotes: dict[str, ReceiverStats] = {
            name: ReceiverStats(name) for name in list(known)[:MAX_RECEIVERS_PER_ENTRY]
        }
        self._on_new_receiver = on_new_receiver
        self.unknown = 0
        self.retained = 0
        self._connected = False
        self._unsubscribe: list[CALLBACK_TYPE] = []

    @property
    def connected(self) -> bool:
        """True while Home Assistant's MQTT client is connected to the broker."""
        return self._connected

    async def start(self) -> ReceiverInfo:
        """Subscribe; raises NoAnswerError when the MQTT integration is not set up."""
        if self._unsubscribe:
            return self.info or ReceiverInfo(self.kind)
        from homeassistant.components import mqtt  # imported here: only MQTT receivers need it

        if not await mqtt.async_wait_for_mqtt_client(self.hass):
            raise NoAnswerError("The MQTT integration is not set up")
        self._unsubscribe.append(mqtt.async_subscribe_connection_status(self.hass, self._on_connection))
        self._unsubscribe.append(
            await mqtt.async_subscribe(self.hass, self.topic_filter, self._on_message, encoding=None)
        )
        self._connected = mqtt.is_connected(self.hass)
        self.info = ReceiverInfo(self.kind, model=self.model)
        return self.info

    async def stop(self) -> None:
        """Unsubscribe. Idempotent."""
        while self._unsubscribe:
            self._unsubscribe.pop()()
        self._connected = False

    @callback
    def _on_connection(self, connected: bool) -> None:
        if connected == self._connected:
            return
        self._connected = connected
        if self._on_state is not None:
            self._on_state(connected)

    @callback
    def _on_message(self, msg: ReceiveMessage) -> None:
        """One message: a retained one is counted and skipped, the others go to :meth:`_on_payload`."""
        if msg.retain:
            self.retained += 1
            return
        payload = msg.payload
        self._on_payload(payload if isinstance(payload, bytes | str) else bytes(payload), msg.topic)

    def _on_payload(self, payload: bytes | str, topic: str) -> None:
        """One payload: parse it, count it, pass its telegram on. Never raises."""
        name = receiver_name(topic, self.topic_filter)
        stats = self.remotes.get(name)
        if stats is None and len(self.remotes) < MAX_RECEIVERS_PER_ENTRY:
            stats = self.remotes[name] = ReceiverStats(name)
        try:
            frame = parse_payload(payload, topic, receiver_id=name)
        except PayloadError as err:
            self.unknown += 1
            if stats is not None:
                stats.unknown += 1
                stats.reasons[err.reason] += 1
            _LOGGER.debug("Not a telegram on %s (%s): %r", topic, err, payload[:80])
            return
        if frame is None:
            return
        if stats is not None:
            stats.add(frame.received_at, time.monotonic())
            if stats.telegrams == 1 and self._on_new_receiver is not None:
                self._on_new_receiver(stats)
        try:
            self._on_frame(frame)
        except Exception:
            _LOGGER.exception("Handling a telegram from %s failed", topic)
