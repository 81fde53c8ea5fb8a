"""Receiver kind ``lpwan``: OMS meters on LoRaWAN / mioty, through a network server's MQTT uplinks.

:class:`LpwanReceiver` is an :class:`~.mqtt.MqttReceiver` (same subscription,
connection state and retained-message handling through Home Assistant's MQTT
integration) whose payloads (:meth:`LpwanReceiver._on_payload`) are network-server uplink
JSON: The Things Stack v3, ChirpStack v4 or the mioty application centre (``auto`` detects
per message).
The library's :class:`~.omslib.lpwan.LpwanFramer` turns each uplink into a
wM-Bus frame (frame-counter duplicate / replay check, bridge reassembly,
payload sniffing, the DevEUI -> meter mapping from the entry's meter subentries)
that goes to the hub like any radio frame. The frame counters are kept in the store
``oms.<entry_id>.lpwan`` (restored before the subscription, saved within
:data:`~.const.TRUST_SAVE_DELAY` of a change and on stop), so an old uplink replayed
after a restart is still rejected. Every DevEUI heard is remembered in
:attr:`LpwanReceiver.devices` (for the add-meter step and the diagnostic sensors);
uplinks that are not OMS are counted by reason, never raised.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
import logging
import time
from typing import TYPE_CHECKING, Any, Final, Literal, cast

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.storage import Store

from .const import (
    CONF_DEV_EUI,
    CONF_DEVICE_TYPE,
    CONF_MANUFACTURER,
    CONF_METER_ID,
    CONF_VERSION,
    KIND_LPWAN,
    STORAGE_VERSION,
    SUBENTRY_METER,
    TRUST_SAVE_DELAY,
)
from .mqtt import MqttReceiver
from .omslib.errors import OmsError
from .omslib.frame import Frame
from .omslib.lpwan import DeviceMapping, DuplicateUplinkError, LpwanFramer, ReplayError
from .omslib.lpwan_uplink import Network, NotUplinkError, Uplink, normalize_eui, parse_uplink
from .omslib.receivers import FrameCallback, LinkMode, ReceiverInfo, StateCallback

if TYPE_CHECKING:
    from homeassistant.config_entries import ConfigEntry

_LOGGER = logging.getLogger(__name__)

DEVICES_CAP: Final = 500
"""How many DevEUIs the receiver remembers (oldest forgotten first)."""


@dataclass(slots=True)
class LpwanDevice:
    """What was last heard from one DevEUI (add-meter step, diagnostic sensors)."""

    dev_eui: str
    network: str
    f_port: int | None = None
    f_cnt: int | None = None
    payload: bytes = b""
    layout: str | None = None
    """"tpl", "dll" or "bridge" when the last payload was OMS."""
    problem: str | None = None
    """Error code of the last uplink (``not_oms``, ``unmapped_device`` …), None when it was passed on."""
    rssi_dbm: float | None = None
    snr_db: float | None = None
    gateways: int = 0
    last_seen: float = 0.0
    uplinks: int = 0

    @property
    def looks_oms(self) -> bool:
        """The last payload was OMS in a known layout (perhaps only waiting for its mapping)."""
        return self.layout is not None or self.problem in ("unmapped_device", "fragment_incomplete")


def lpwan_mapping(entry: ConfigEntry) -> dict[str, DeviceMapping]:
    """DevEUI -> meter mapping from the entry's meter subentries that name a DevEUI."""
    mapping: dict[str, DeviceMapping] = {}
    for sub in entry.subentries.values():
        eui = sub.data.get(CONF_DEV_EUI)
        if sub.subentry_type != SUBENTRY_METER or not eui:
            continue
        device_type = sub.data.get(CONF_DEVICE_TYPE)
        version = sub.data.get(CONF_VERSION)
        mapping[normalize_eui(eui)] = DeviceMapping(
            str(sub.data[CONF_METER_ID]).upper(),
            0x0F if device_type is None else int(device_type),
            str(sub.data.get(CONF_MANUFACTURER) or "").upper(),
            0 if version is None else int(version),
        )
    return mapping


class LpwanReceiver(MqttReceiver):
    """Uplinks of one network server under one topic filter (``device``).

    With ``store_key`` the frame counters are kept in that store across restarts and reloads.
    """

    kind = KIND_LPWAN
    model = "LoRaWAN / mioty network server"

    def __init__(
        self,
        hass: HomeAssistant,
        device: str,
        *,
        on_frame: FrameCallback,
        on_state: StateCallback | None = None,
        network: str = "auto",
        mapping: Callable[[], Mapping[str, DeviceMapping]] | None = None,
        link_mode: LinkMode = "c1t1",
        receiver_id: str = "",
        on_device: Callable[[LpwanDevice], None] | None = None,
        store_key: str | None = None,
    ) -> None:
        super().__init__(
            hass, device, on_frame=on_frame, on_state=on_state, link_mode=link_mode, receiver_id=receiver_id
        )
        self.network: Network | Literal["auto"] = (
            cast(Network, network) if network in ("tts", "chirpstack", "mioty") else "auto"
        )
        self._mapping = mapping
        self.framer = LpwanFramer()
        self.devices: OrderedDict[str, LpwanDevice] = OrderedDict()
        self.reasons: Counter[str] = Counter()
        self.duplicates = 0
        self._on_device = on_device
        self._store: Store[dict[str, int]] | None = (
            Store(hass, STORAGE_VERSION, store_key) if store_key else None
        )
        self._save_due: float | None = None
        """Loop time by which the last change is written; None while the counters are as loaded."""

    async def start(self) -> ReceiverInfo:
        """Restore the stored frame counters, then subscribe (before the first uplink can arrive)."""
        counters = self.framer.counters
        if self._store is not None and counters is not None and not self._unsubscribe:
            counters.restore(await self._store.async_load())
            self._save_due = None
        return await super().start()

    async def stop(self) -> None:
        """Unsubscribe, then write the frame counters if they changed. Idempotent."""
        await super().stop()
        counters = self.framer.counters
        if self._store is not None and counters is not None and self._save_due is not None:
            self._save_due = None
            await self._store.async_save(counters.to_json())

    @callback
    def _counters_changed(self, uplink: Uplink) -> None:
        """Save the frame counters at most :data:`~.const.TRUST_SAVE_DELAY` s after the first unsaved change.

        The snapshot is taken now: Home Assistant 2025.x builds the data in a worker thread. The
        deadline is fixed, so steady uplinks cannot postpone the write; a write still pending when
        Home Assistant stops is made by the store's final write.
        """
        counters = self.framer.counters
        if self._store is None or counters is None or uplink.f_cnt is None:
            return
        now = self.hass.loop.time()
        if self._save_due is None or now >= self._save_due:
            self._save_due = now + TRUST_SAVE_DELAY
        snapshot = counters.to_json()
        self._store.async_delay_save(lambda: snapshot, self._save_due - now)

    def _device(self, uplink: Uplink) -> LpwanDevice:
        device = self.devices.get(uplink.dev_eui)
        if device is None:
            device = self.devices[uplink.dev_eui] = LpwanDevice(uplink.dev_eui, uplink.network)
            while len(self.devices) > DEVICES_CAP:
                self.devices.popitem(last=False)
        else:
            self.devices.move_to_end(uplink.dev_eui)
        return device

    def _on_payload(self, payload: bytes | str, topic: str) -> None:
        """One uplink: frame it and pass the frame on; count what is not OMS. Never raises."""
        try:
            uplink = parse_uplink(payload, topic, self.network)
        except NotUplinkError as err:
            self.unknown += 1
            self.reasons[err.code] += 1
            _LOGGER.debug("Not an uplink on %s: %s", topic, err.message)
            return
        if self._mapping is not None:
            self.framer.mapping = dict(self._mapping())
        try:
            frame = self.framer.frame(uplink)
        except DuplicateUplinkError:
            self.duplicates += 1  # another gateway path or integration: the frame went on already
            return
        except OmsError as err:
            if not isinstance(err, ReplayError):  # the frame counter was taken before the payload failed
                self._counters_changed(uplink)
            self.reasons[err.code] += 1
            self._heard(uplink, None, err.code)
            _LOGGER.debug(
                "Uplink of %s on %s not passed on (%s): %s", uplink.dev_eui, topic, err.code, err.message
            )
            return
        except Exception:  # a bug must not reach the MQTT integration's callback
            _LOGGER.exception("Framing an uplink of %s failed", uplink.dev_eui)
            return
        self._counters_changed(uplink)
        self._heard(uplink, frame.layout, None)
        gateway = max(
            uplink.receptions, key=lambda r: -999.0 if r.rssi_dbm is None else r.rssi_dbm, default=None
        )
        try:
            self._on_frame(
                Frame(
                    frame.raw,
                    rssi_dbm=uplink.rssi_dbm,
                    link_mode=None,
                    received_at=uplink.received_at or time.time(),
                    receiver_id=gateway.gateway if gateway else uplink.network,
                    frame_format=frame.frame_format,
                )
            )
        except Exception:
            _LOGGER.exception("Handling an uplink from %s failed", uplink.dev_eui)

    def _heard(self, uplink: Uplink, layout: str | None, problem: str | None) -> None:
        device = self._device(uplink)
        device.network = uplink.network
        device.f_port = uplink.f_port
        device.f_cnt = uplink.f_cnt
        device.payload = uplink.payload
        device.layout = layout
        device.problem = problem
        device.rssi_dbm = uplink.rssi_dbm
        device.snr_db = uplink.snr_db
        device.gateways = uplink.gateways
        device.last_seen = uplink.received_at or time.time()
        device.uplinks += 1
        if self._on_device is not None:
            self._on_device(device)


def lpwan_diagnostics(receiver: LpwanReceiver) -> dict[str, Any]:
    """The receiver's counts and the devices heard, without payload bytes."""
    return {
        "network": receiver.network,
        "topic_filter": receiver.topic_filter,
        "duplicates": receiver.duplicates,
        "not_uplinks": receiver.unknown,
        "reasons": dict(sorted(receiver.reasons.items())),
        "devices": {
            device.dev_eui: {
                "network": device.network,
                "f_port": device.f_port,
                "f_cnt": device.f_cnt,
                "payload_length": len(device.payload),
                "layout": device.layout,
                "problem": device.problem,
                "rssi": device.rssi_dbm,
                "snr": device.snr_db,
                "gateways": device.gateways,
                "uplinks": device.uplinks,
            }
            for device in receiver.devices.values()
        },
    }
