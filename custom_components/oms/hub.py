"""The hub of one receiver entry: owns the receiver, decodes every frame, routes readings.

Data flow: receivers -> :meth:`OmsHub._on_frame` -> de-duplication -> decoder -> heard
meters (every meter in range) and, for configured meters (subentries), :class:`MeterState`
-> dispatcher signals -> entities. Radio receivers push; a wired M-Bus master is
polled by :class:`~.poller.MbusPoller`, which feeds the same path and reports
failed reads (a wired meter is unavailable after ``max_failures`` in a row).

A radio hub owns one or more receivers: the entry's own (stick, SDR, TCP, MQTT topic
filter) and, as an option of a local receiver, an MQTT topic filter whose remote
receivers add to it. The same telegram heard by several of them (or repeated by
one) within :data:`DEDUP_SECONDS` is decoded once; the later receptions only add
their receiver to :attr:`MeterState.receivers` and may raise the best RSSI.

Beside it: :mod:`.models` (the data classes), :mod:`.heard` (the heard-meters list),
:mod:`.meter_trust` (whether a meter takes a telegram), :mod:`.storage` (what is stored) and
:mod:`.issues` (repair issues). What stays here (over 500 lines) is one entry's state machine:
receivers' lifecycle, subentry sync and the receive path share its state and signals.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
import logging
import time
from types import MappingProxyType
from typing import Any

from homeassistant.config_entries import ConfigEntry, ConfigEntryState, ConfigSubentry
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.helpers.event import async_call_later, async_track_time_interval
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util

from .const import (
    AVAILABILITY_CHECK_SECONDS,
    CONF_ADDRESS,
    CONF_AUTO_ADD,
    CONF_AVAILABLE_HOURS,
    CONF_BAUDRATE,
    CONF_DEVICE,
    CONF_DEVICE_TYPE,
    CONF_KEY,
    CONF_KIND,
    CONF_LINK_MODE,
    CONF_LPWAN_NETWORK,
    CONF_MANUFACTURER,
    CONF_MAX_FAILURES,
    CONF_MAX_RATE,
    CONF_METER_ID,
    CONF_MIN_RSSI,
    CONF_MQTT_TOPIC,
    CONF_SCAN_INTERVAL,
    CONF_VERSION,
    DEDUP_SECONDS,
    DEFAULT_AUTO_ADD,
    DEFAULT_AVAILABLE_HOURS,
    DEFAULT_BAUDRATE,
    DEFAULT_MAX_FAILURES,
    DEFAULT_MIN_RSSI,
    DEFAULT_SCAN_INTERVAL,
    DOMAIN,
    FAILURES_FOR_ISSUE,
    FAILURES_WINDOW_SECONDS,
    KIND_LPWAN,
    KIND_MBUS,
    KIND_MQTT,
    RECEIVER_MANUFACTURERS,
    STORAGE_VERSION,
    SUBENTRY_METER,
    TRUST_SAVE_DELAY,
    signal_meter,
    signal_new_receiver,
    signal_new_records,
    signal_receivers,
    signal_reception,
)
from .devices import async_meter_identified
from .heard import HeardMeters, heard_meters_of
from .issues import (
    async_backwards_issue,
    async_clear_decryption_issue,
    async_decryption_issue,
)
from .lpwan_mqtt import LpwanReceiver, lpwan_mapping
from .meter_trust import judge_telegram
from .models import FoundMeter, HeardMeter, MeterState, meter_title
from .mqtt import MqttReceiver, ReceiverStats
from .names import Words, async_get_words
from .omslib.decoder import Decoder
from .omslib.dedup import Deduplicator, DedupResult, telegram_key
from .omslib.errors import DECRYPTION_ERRORS, OmsError
from .omslib.frame import Frame
from .omslib.keyring import Keyring
from .omslib.receivers import Receiver, ReceiverInfo, create_receiver, replay as _replay
from .omslib.record import Record
from .omslib.telegram import Telegram
from .omslib.trust import (
    Freshness,
)
from .omslib.wired import parse_address
from .poller import MbusPoller
from .statistics import async_schedule_import as async_schedule_profile_statistics
from .storage import record_from_json, record_to_json, store_key, trust_from_json, trust_to_json

_LOGGER = logging.getLogger(__name__)

type OmsConfigEntry = ConfigEntry[OmsHub]

_ = _replay  # registers the "replay" receiver kind (the package does not import it itself)


def configured_meter_ids(hass: HomeAssistant) -> set[str]:
    """Meter IDs configured in any receiver entry of this integration."""
    return {
        sub.data[CONF_METER_ID]
        for entry in hass.config_entries.async_entries(DOMAIN)
        for sub in entry.subentries.values()
        if sub.subentry_type == SUBENTRY_METER
    }


def find_device(hass: HomeAssistant, entry_id: str, identifier: tuple[str, str]) -> dr.DeviceEntry | None:
    """The entry's device with this identifier (newer Home Assistant scopes identifiers per entry)."""
    dev_reg = dr.async_get(hass)
    by_identifier = getattr(dev_reg, "async_get_device_by_identifier", None)
    if by_identifier is not None:
        device: dr.DeviceEntry | None = by_identifier(identifier, entry_id)
        return device
    return dev_reg.async_get_device(identifiers={identifier})


def loaded_hub(entry: ConfigEntry) -> OmsHub | None:
    """The running hub of a receiver entry; None while the entry is not loaded."""
    if entry.state is ConfigEntryState.LOADED:
        hub: OmsHub = entry.runtime_data
        return hub
    return None


class OmsHub:
    """One receiver and the meters configured on it."""

    def __init__(self, hass: HomeAssistant, entry: OmsConfigEntry) -> None:
        self.hass = hass
        self.entry = entry
        self.keyring = Keyring()
        self.decoder = Decoder(self.keyring)
        self.heard: HeardMeters = heard_meters_of(hass, entry.entry_id)
        self.meters: dict[str, MeterState] = {}
        self.receiver: Receiver | None = None
        self.wired = entry.data[CONF_KIND] == KIND_MBUS
        self.poller: MbusPoller | None = None
        self.scan_found: list[FoundMeter] = []
        """Wired: the meters the last bus scan of the meter flow found (offered again in the next flow)."""
        self.receivers: list[Receiver] = []
        """The entry's receiver first, then an MQTT topic filter added to it (mixed setups)."""
        self.dedup = Deduplicator(DEDUP_SECONDS)
        self.remote_names: list[str] = []
        """Remote (MQTT) receivers heard so far, kept in storage so their sensors exist after a restart."""
        self.info: ReceiverInfo | None = None
        self.connected = False
        self.receiver_device_id: str | None = None
        self.frames = 0
        self.errors: Counter[str] = Counter()
        self.duplicates = 0
        self.last_frame_at: float | None = None
        """When the last frame arrived (any frame, duplicates and undecodable ones included)."""
        self.started_at = time.time()
        self.entry_data = dict(entry.data)
        self.entry_options = dict(entry.options)
        self._lost = False
        self._released = False
        """The receivers are stopped for a while (:meth:`async_release`)."""
        self.words = Words()
        """Home Assistant's language, loaded at start: names of automatically added meters, device models."""
        self._store: Store[dict[str, Any]] = Store(hass, STORAGE_VERSION, store_key(entry.entry_id))
        self._trust_store: Store[dict[str, Any]] = Store(
            hass, STORAGE_VERSION, store_key(entry.entry_id, "trust")
        )
        self._trust: dict[str, Any] = {}
        """Trust state by meter ID as stored (each value a fresh dict, never changed in place)."""
        self._trust_dirty: set[str] = set()
        self._trust_timer: CALLBACK_TYPE | None = None
        self._layouts: dict[str, list[dict[str, Any]]] = {}
        self._by_link: dict[bytes, MeterState] = {}
        """Configured meters by the link address of their last telegram (for its later copies)."""
        self._unsub_timer: CALLBACK_TYPE | None = None

    # -- options -------------------------------------------------------------------

    @property
    def available_seconds(self) -> float:
        return float(self.entry.options.get(CONF_AVAILABLE_HOURS, DEFAULT_AVAILABLE_HOURS)) * 3600

    @property
    def min_rssi(self) -> float:
        return float(self.entry.options.get(CONF_MIN_RSSI, DEFAULT_MIN_RSSI))

    @property
    def scan_interval(self) -> float:
        return float(self.entry.options.get(CONF_SCAN_INTERVAL, DEFAULT_SCAN_INTERVAL))

    @property
    def max_failures(self) -> int:
        return int(self.entry.options.get(CONF_MAX_FAILURES, DEFAULT_MAX_FAILURES))

    # -- lifecycle -------------------------------------------------------------------

    async def async_start(self) -> ReceiverInfo:
        """Load stored record layouts, then start the receiver (raises ReceiverError)."""
        self.words = await async_get_words(self.hass)
        stored = await self._store.async_load() or {}
        self._layouts = dict(stored.get("meters", {}))
        self._trust = dict(await self._trust_store.async_load() or {})
        self.remote_names = [str(name) for name in stored.get("receivers", [])]
        self.async_sync_subentries(initial=True)
        self.info = await self._async_start_receivers()
        if not self.wired:
            self._unsub_timer = async_track_time_interval(
                self.hass, self._check_availability, timedelta(seconds=AVAILABILITY_CHECK_SECONDS)
            )
        return self.info

    async def _async_start_receivers(self) -> ReceiverInfo:
        """Create and start the entry's receivers, or its wired poller (raises ReceiverError)."""
        data = self.entry.data
        if self.wired:
            self.poller = MbusPoller(
                self.hass,
                self.entry,
                data[CONF_DEVICE],
                baudrate=data.get(CONF_BAUDRATE, DEFAULT_BAUDRATE),
                interval=self.scan_interval,
                on_frame=self._on_frame,
                on_state=self._on_state,
                on_result=self._on_poll_result,
            )
            self.poller.addresses = self._wired_addresses()
            self.receiver = self.poller.receiver
            self.receivers = [self.receiver]
            info = await self.poller.async_start()
            self.connected = True
            return info
        self.receiver = self._create_receiver(data[CONF_KIND], data[CONF_DEVICE])
        self.receivers = [self.receiver]
        topic = self.entry.options.get(CONF_MQTT_TOPIC)
        if topic and data[CONF_KIND] != KIND_MQTT:
            self.receivers.append(self._create_receiver(KIND_MQTT, topic))
        info = await self.receiver.start()
        for extra in self.receivers[1:]:
            await extra.start()
        self.connected = True
        return info

    async def _async_stop_receivers(self) -> None:
        if self.poller is not None:
            await self.poller.async_stop()
        else:
            for receiver in reversed(self.receivers):
                await receiver.stop()

    async def async_release(self) -> None:
        """Stop the receivers and free the port (the reconfigure flow tests one); see :meth:`async_resume`.

        The entry stays loaded; its meters are unavailable until the receivers run again.
        """
        if self._released:
            return
        self._released = True
        await self._async_stop_receivers()
        self.connected = False
        self._check_availability()

    async def async_resume(self) -> bool:
        """Start the receivers again after :meth:`async_release`; False when they cannot start."""
        if not self._released:
            return True
        try:
            self.info = await self._async_start_receivers()
        except Exception:  # the caller reloads the entry, which retries and reports as setup does
            _LOGGER.warning("Receiver %s did not start again", self.entry.title, exc_info=True)
            await self._async_stop_receivers()  # what did start (as a failed setup does)
            self.connected = False
            return False
        self._released = False
        self._check_availability()
        return True

    def _create_receiver(self, kind: str, device: str) -> Receiver:
        if kind == KIND_LPWAN:
            return LpwanReceiver(
                self.hass,
                device,
                on_frame=self._on_frame,
                on_state=self._on_state,
                network=self.entry.data.get(CONF_LPWAN_NETWORK, "auto"),
                mapping=lambda: lpwan_mapping(self.entry),
                store_key=store_key(self.entry.entry_id, "lpwan"),
            )
        if kind == KIND_MQTT:
            return MqttReceiver(
                self.hass,
                device,
                on_frame=self._on_frame,
                on_state=self._on_state,
                known=self.remote_names,
                on_new_receiver=self._on_new_remote,
            )
        return create_receiver(
            kind,
            device,
            on_frame=self._on_frame,
            on_state=self._on_state,
            link_mode=self.entry.data[CONF_LINK_MODE],
            receiver_id=self.entry.title,
        )

    async def async_stop(self) -> None:
        if self._unsub_timer is not None:
            self._unsub_timer()
            self._unsub_timer = None
        if not self._released:
            await self._async_stop_receivers()
        self.connected = False
        await self._store.async_save(self._stored())
        if self._trust_timer is not None:
            self._trust_timer()
            self._trust_timer = None
        await self._trust_store.async_save(self._trust_snapshot())

    def _stored(self) -> dict[str, Any]:
        """A snapshot: Home Assistant may build and serialise it in a worker thread."""
        return {"meters": dict(self._layouts), "receivers": list(self.remote_names)}

    @callback
    def _schedule_save(self) -> None:
        """Save layouts and receiver names 10 s after the last change; the data is taken now.

        Each layout list is replaced, never changed in place, so the snapshot is a shallow copy
        and the write (in a worker thread on Home Assistant 2025.x) never sees the loop change it.
        """
        data = self._stored()
        self._store.async_delay_save(lambda: data, 10)

    @callback
    def _trust_changed(self, meter: MeterState) -> None:
        """Identity, counters or totals of a meter changed: written within :data:`TRUST_SAVE_DELAY`."""
        self._trust_dirty.add(meter.meter_id)
        if self._trust_timer is None:
            self._trust_timer = async_call_later(self.hass, TRUST_SAVE_DELAY, self._save_trust)

    @callback
    def _save_trust(self, _now: datetime | None = None) -> None:
        self._trust_timer = None
        snapshot = self._trust_snapshot()
        # Home Assistant 2025.x calls the data function in a worker thread: hand it the snapshot.
        self._trust_store.async_delay_save(lambda: snapshot, 0)

    @callback
    def _trust_snapshot(self) -> dict[str, Any]:
        """Identity, replay counters and accepted totals of every meter, taken on the event loop."""
        for meter_id in self._trust_dirty:
            if (meter := self.meters.get(meter_id)) is not None:
                self._trust[meter_id] = trust_to_json(meter)
        self._trust_dirty.clear()
        return dict(self._trust)

    @property
    def remote_stats(self) -> dict[str, ReceiverStats]:
        """Statistics of each remote (MQTT) receiver, by name."""
        stats: dict[str, ReceiverStats] = {}
        for receiver in self.receivers:
            if isinstance(receiver, MqttReceiver):
                stats.update(receiver.remotes)
        return stats

    @property
    def has_remotes(self) -> bool:
        """The hub has MQTT receivers, so telegrams may be heard by several receivers."""
        return any(isinstance(receiver, MqttReceiver) for receiver in self.receivers)

    @callback
    def _on_new_remote(self, stats: ReceiverStats) -> None:
        if stats.name not in self.remote_names:
            self.remote_names.append(stats.name)
            self._schedule_save()
        async_dispatcher_send(self.hass, signal_new_receiver(self.entry.entry_id), stats)

    @callback
    def async_register_receiver_device(self) -> dr.DeviceEntry:
        """The receiver's own device (meters point at it with via_device)."""
        info = self.info
        kind = self.entry.data[CONF_KIND]
        device = dr.async_get(self.hass).async_get_or_create(
            config_entry_id=self.entry.entry_id,
            identifiers={(DOMAIN, self.receiver_identifier)},
            manufacturer=RECEIVER_MANUFACTURERS.get(kind),
            model=(info.model if info else None) or kind,
            sw_version=info.firmware if info else None,
            serial_number=info.serial if info else None,
            name=self.entry.title,
        )
        self.receiver_device_id = device.id
        return device

    @property
    def receiver_identifier(self) -> str:
        return f"receiver_{self.entry.unique_id or self.entry.entry_id}"

    # -- subentries ------------------------------------------------------------------

    @callback
    def async_sync_subentries(self, *, initial: bool = False) -> None:
        """Bring meters and keyring in line with the entry's meter subentries."""
        current: dict[str, ConfigSubentry] = {
            sub.data[CONF_METER_ID]: sub
            for sub in self.entry.subentries.values()
            if sub.subentry_type == SUBENTRY_METER
        }
        for meter_id in [m for m in self.meters if m not in current]:
            self._forget(meter_id)
        dev_reg = dr.async_get(self.hass)
        added: list[MeterState] = []
        keys_changed = False
        for meter_id, sub in current.items():
            key = sub.data.get(CONF_KEY)
            new_key = bytes.fromhex(key) if key else None
            key_changed = self.keyring.key_for(meter_id) != new_key
            keys_changed |= key_changed
            self.keyring.set(meter_id, new_key)
            meter = self.meters.get(meter_id)
            address = sub.data.get(CONF_ADDRESS)
            if meter is None:
                meter = MeterState(
                    meter_id=meter_id,
                    subentry_id=sub.subentry_id,
                    name=sub.title,
                    manufacturer=sub.data.get(CONF_MANUFACTURER),
                    device_type=sub.data.get(CONF_DEVICE_TYPE),
                    version=sub.data.get(CONF_VERSION),
                    address=None if address is None else parse_address(address),
                )
                for layout in self._layouts.get(meter_id, []):
                    record = record_from_json(layout)
                    meter.known[record.key] = record
                trust_from_json(meter, self._trust.get(meter_id, {}))
                self.meters[meter_id] = meter
                added.append(meter)
            else:
                if key_changed:
                    # A new key is the user's word that the meter (or its key) changed: learn it anew.
                    meter.identity = None
                    meter.freshness = Freshness()
                    self._trust_changed(meter)
                if meter.name != sub.title:
                    meter.name = sub.title
                    if device := find_device(self.hass, self.entry.entry_id, (DOMAIN, meter_id)):
                        dev_reg.async_update_device(device.id, name=sub.title)
            max_rate = sub.data.get(CONF_MAX_RATE)
            meter.max_rate = float(max_rate) if max_rate else None
        if self.poller is not None:
            self.poller.addresses = self._wired_addresses()
        if keys_changed:
            self.dedup.clear()  # telegrams that failed to decrypt may be heard again from another receiver
        if not initial:
            for meter in added:
                async_dispatcher_send(
                    self.hass, signal_new_records(self.entry.entry_id), meter, list(meter.known.values())
                )
                self._prime(meter)
            if added and self.poller is not None:
                self.poller.async_request_poll()

    def _wired_addresses(self) -> list[int | str]:
        return [meter.address for meter in self.meters.values() if meter.address is not None]

    @callback
    def _prime(self, meter: MeterState) -> None:
        """A meter just added takes its readings from the last telegram heard of it."""
        heard = self.heard.get(meter.meter_id)
        if heard is None:
            return
        try:
            telegram = self.decoder.decode(heard.raw)
        except OmsError:
            return
        frame = Frame(
            heard.raw, rssi_dbm=heard.rssi, received_at=heard.last_heard, receiver_id=self.entry.title
        )
        if (records := self._trusted_records(meter, frame, telegram)) is not None:
            self._update_meter(meter, frame, telegram, records)

    @callback
    def _forget(self, meter_id: str) -> None:
        self.meters.pop(meter_id, None)
        self._by_link = {link: m for link, m in self._by_link.items() if m.meter_id != meter_id}
        self.keyring.set(meter_id, None)
        if self._layouts.pop(meter_id, None) is not None:
            self._schedule_save()
        self._trust_dirty.discard(meter_id)
        if self._trust.pop(meter_id, None) is not None and self._trust_timer is None:
            self._trust_timer = async_call_later(self.hass, TRUST_SAVE_DELAY, self._save_trust)
        async_clear_decryption_issue(self.hass, self.entry.entry_id, meter_id)

    # -- receive path ------------------------------------------------------------------

    @callback
    def _on_state(self, connected: bool) -> None:
        """A receiver was lost or is back: a hub with several is connected while any of them is."""
        if len(self.receivers) > 1:
            connected = any(receiver.connected for receiver in self.receivers)
        if connected == self.connected:
            return
        self.connected = connected
        if not connected:
            self._lost = True
            _LOGGER.info("Receiver %s is lost; its meters are unavailable until it is back", self.entry.title)
        elif self._lost:
            self._lost = False
            _LOGGER.info("Receiver %s is back", self.entry.title)
        self._check_availability()

    @callback
    def _on_poll_result(self, results: dict[int | str, bool]) -> None:
        """After a wired poll cycle: count failed reads; unavailable after ``max_failures`` in a row."""
        limit = self.max_failures
        for meter in self.meters.values():
            if meter.address not in results:
                continue
            if results[meter.address]:
                meter.failures = 0
            else:
                meter.failures += 1
                if meter.failures == limit:
                    _LOGGER.info(
                        "Meter %s (%s) at M-Bus address %s did not answer %d polls in a row; unavailable",
                        meter.name,
                        meter.meter_id,
                        meter.address,
                        limit,
                    )
        self._check_availability()

    @callback
    def _check_availability(self, _now: datetime | None = None) -> None:
        if _now is not None and self.has_remotes:
            async_dispatcher_send(self.hass, signal_receivers(self.entry.entry_id))
        now = time.time()
        window = self.available_seconds
        for meter in self.meters.values():
            if self.wired:
                available = self.connected and meter.failures < self.max_failures
            else:
                heard = meter.last_heard.timestamp() if meter.last_heard else self.started_at
                available = self.connected and now - heard < window
            if available != meter.available:
                meter.available = available
                async_dispatcher_send(self.hass, signal_meter(self.entry.entry_id, meter.meter_id))

    @callback
    def _on_frame(self, frame: Frame) -> None:
        self.frames += 1
        self.last_frame_at = frame.received_at
        key = None if self.wired else telegram_key(frame.raw)  # a master reads each meter itself
        reception: DedupResult | None = None
        if key is not None:
            reception = self.dedup.seen(
                key[0], None, key[1], frame.receiver_id, frame.rssi_dbm, time.monotonic()
            )
            if reception.duplicate:
                self.duplicates += 1
                self._on_duplicate(key[0], reception)
                return
        try:
            telegram = self.decoder.decode(frame.raw, frame.frame_format)
        except OmsError as err:
            self._on_error(frame, err)
            return
        header = telegram.header
        if not header.address.id:
            return
        self.heard.remember(frame, header)
        meter = self.meters.get(header.address.id.upper())
        if meter is None:
            self._maybe_auto_add(frame, telegram)
            return
        records = self._trusted_records(meter, frame, telegram)
        if records is None:
            return
        if self._update_meter(meter, frame, telegram, records) and key is not None and reception is not None:
            meter.receivers = reception.receivers
            meter.best_receiver = reception.best_receiver
            meter.reception = (key[0], reception.first_seen)
            self._by_link[key[0]] = meter

    @callback
    def _trusted_records(
        self, meter: MeterState, frame: Frame, telegram: Telegram
    ) -> tuple[Record, ...] | None:
        """The records of a telegram the meter's values may take, or None when it is rejected
        (the checks: :func:`.meter_trust.judge_telegram`)."""
        keyed = self.keyring.key_for(meter.meter_id) is not None
        verdict = judge_telegram(meter, telegram, keyed=keyed, wired=self.wired, at=frame.received_at)
        if verdict.reason == "unprotected":
            self.errors["unencrypted"] += 1
        for record, previous in verdict.rebaselined:
            async_backwards_issue(self.hass, self.entry.entry_id, meter, record, previous)
        if verdict.changed:
            self._trust_changed(meter)
        if verdict.records is None:
            self._reject(meter, verdict.reason or "", verdict.what)
        return verdict.records

    @callback
    def _reject(self, meter: MeterState, reason: str, what: str) -> None:
        meter.rejected[reason] += 1
        _LOGGER.debug("Meter %s: ignored %s (%s)", meter.meter_id, what, reason)

    @callback
    def _on_duplicate(self, link_key: bytes, reception: DedupResult) -> None:
        """Another reception of a telegram already decoded: note its receiver and a better RSSI."""
        meter = self._by_link.get(link_key)
        if meter is None or meter.reception != (link_key, reception.first_seen):
            return
        if reception.receivers == meter.receivers and not reception.improved:
            return
        meter.receivers = reception.receivers
        meter.best_receiver = reception.best_receiver
        meter.rssi = reception.best_rssi
        async_dispatcher_send(self.hass, signal_reception(self.entry.entry_id, meter.meter_id))

    @callback
    def _on_error(self, frame: Frame, err: OmsError) -> None:
        self.errors[err.code] += 1
        header = err.header
        if header is None or not header.address.id:
            _LOGGER.debug("Undecodable frame (%s): %s", err.code, err.message)
            return
        self.heard.remember(frame, header, encrypted=isinstance(err, DECRYPTION_ERRORS) or None)
        meter = self.meters.get(header.address.id.upper())
        if meter is None:
            return
        if not isinstance(err, DECRYPTION_ERRORS):
            _LOGGER.debug("Meter %s: telegram not decoded (%s): %s", meter.meter_id, err.code, err.message)
            return
        address = header.address
        if meter.identity is not None and meter.identity != (
            address.manufacturer,
            address.version,
            address.device_type,
        ):
            meter.rejected["identity"] += 1  # same ID, another device (or a damaged header): not this meter
            return
        # One telegram with a wrong key may be anyone's; several within the window, none good between, not.
        failures = meter.decrypt_failures
        now = frame.received_at
        failures[:] = [at for at in failures if now - at < FAILURES_WINDOW_SECONDS]
        failures.append(now)
        if meter.problem == err.code or len(failures) < FAILURES_FOR_ISSUE:
            return
        meter.problem = err.code
        async_decryption_issue(self.hass, self.entry.entry_id, self.entry.title, meter, err.code)

    @callback
    def _maybe_auto_add(self, frame: Frame, telegram: Telegram) -> None:
        header = telegram.header
        if not self.entry.options.get(CONF_AUTO_ADD, DEFAULT_AUTO_ADD):
            return
        if header.encrypted or telegram.decrypted or not telegram.records:
            return
        if frame.rssi_dbm is not None and frame.rssi_dbm < self.min_rssi:
            return
        address = header.address
        meter_id = address.id.upper()
        if meter_id in configured_meter_ids(self.hass):
            return
        _LOGGER.info("Adding meter %s heard by %s (automatic add is on)", meter_id, self.entry.title)
        self.hass.config_entries.async_add_subentry(
            self.entry,
            ConfigSubentry(
                data=MappingProxyType(
                    {
                        CONF_METER_ID: meter_id,
                        CONF_MANUFACTURER: address.manufacturer,
                        CONF_DEVICE_TYPE: address.device_type,
                        CONF_VERSION: address.version,
                    }
                ),
                subentry_type=SUBENTRY_METER,
                title=meter_title(address.manufacturer, self.words.medium(address.medium), meter_id),
                unique_id=meter_id,
            ),
        )
        self.async_sync_subentries()

    @callback
    def _update_meter(
        self, meter: MeterState, frame: Frame, telegram: Telegram, records: tuple[Record, ...]
    ) -> bool:
        """Take a trusted telegram's records; False when it repeats the last one (same ACC and records)."""
        header = telegram.header
        fingerprint = (header.access_number, records, telegram.manufacturer_data)
        if meter.dedup == fingerprint and frame.received_at - meter.dedup_at < DEDUP_SECONDS:
            self.duplicates += 1
            return False
        meter.dedup = fingerprint
        meter.dedup_at = frame.received_at
        if meter.problem is not None:
            meter.problem = None
            _LOGGER.info("Meter %s (%s): telegrams decrypt again", meter.name, meter.meter_id)
            async_clear_decryption_issue(self.hass, self.entry.entry_id, meter.meter_id)
        address = header.address
        meter.manufacturer = address.manufacturer
        meter.device_type = address.device_type
        meter.version = address.version
        # Device registry and subentry take the identity (company, medium, version) the telegram states.
        async_meter_identified(self, meter, telegram)
        meter.rssi = frame.rssi_dbm
        meter.receivers = (frame.receiver_id,)
        meter.best_receiver = frame.receiver_id
        meter.reception = None
        meter.last_heard = dt_util.utc_from_timestamp(frame.received_at)
        meter.access_number = header.access_number
        if header.status is not None:
            meter.status = header.status
        meter.available = self.connected
        new: list[Record] = []
        for record in records:
            meter.records[record.key] = record
            if record.key not in meter.known:
                meter.known[record.key] = record
                new.append(record)
        if new:
            self._layouts[meter.meter_id] = [record_to_json(r) for r in meter.known.values()]
            self._schedule_save()
            async_dispatcher_send(self.hass, signal_new_records(self.entry.entry_id), meter, new)
        async_dispatcher_send(self.hass, signal_meter(self.entry.entry_id, meter.meter_id))
        # Compact profiles (issue 12): resolved series into long-term statistics (a task; no-op without).
        async_schedule_profile_statistics(self.hass, meter.meter_id, meter.name, records)
        return True

    # -- flows -----------------------------------------------------------------------

    def heard_meters(self, *, min_rssi: float | None = None) -> list[HeardMeter]:
        """Heard meters, strongest signal first (unknown RSSI last)."""
        return self.heard.strongest_first(min_rssi=min_rssi)
