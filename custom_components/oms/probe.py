"""Trying hardware and keys before the flows save them: receivers, the wired bus, AES keys.

The config flows (:mod:`.config_flow`, :mod:`.flow_meter`, :mod:`.flow_wired`, :mod:`.flow_keys`)
only ask and show; what talks to a port, a bus or the decoder is here: start and stop a receiver
once, send a wired master one request, scan a wired bus and read each slave it finds (EN 13757-3
secondary addressing), and check a key against a telegram the meter sent.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
import logging

from .const import KIND_AUTO, KIND_MBUS
from .models import FoundMeter, HeardMeter
from .omslib.decoder import Decoder
from .omslib.errors import DECRYPTION_ERRORS, OmsError
from .omslib.keyring import Keyring, parse_key
from .omslib.link import manufacturer_code
from .omslib.receivers import (
    NoAnswerError,
    PortOpenError,
    ReceiverError,
    ReceiverInfo,
    UnsupportedModeError,
    WrongDeviceError,
    create_receiver,
    detect,
)
from .omslib.receivers.base import RECEIVERS, display_device
from .omslib.receivers.lines import LineReceiver
from .omslib.receivers.mbus_master import MbusError, MbusMaster, MbusPortError, ScanProgress
from .omslib.wired import MAX_PRIMARY
from .poller import MASTER_OPTIONS

_LOGGER = logging.getLogger(__name__)

RECEIVER_ERRORS: tuple[tuple[type[ReceiverError], str], ...] = (
    (PortOpenError, "cannot_open"),
    (NoAnswerError, "no_answer"),
    (WrongDeviceError, "wrong_device"),
    (UnsupportedModeError, "unsupported_mode"),
)


async def async_test_receiver(device: str, kind: str, link_mode: str) -> tuple[str, ReceiverInfo]:
    """Detect (kind "auto") and start + stop the receiver once; returns (kind, info) or raises."""
    if kind == KIND_AUTO:
        kind = (await detect(device)).kind
    receiver = create_receiver(kind, device, on_frame=lambda _frame: None, link_mode=link_mode)
    try:
        info = await receiver.start()
    finally:
        await receiver.stop()
    return kind, info


def sdr_receiver(kind: str) -> type[LineReceiver] | None:
    """The driver of an SDR receiver kind (rtl_wmbus, rtl_433), which runs programs on this machine."""
    receiver = RECEIVERS.get(kind)
    if isinstance(receiver, type) and issubclass(receiver, LineReceiver) and receiver.sdr_programs:
        return receiver
    return None


def runs_shell(kind: str, device: str) -> bool:
    """Whether ``device`` would run a shell command (``cmd:``, or a pipeline for an SDR kind).

    The command line may run one (``oms-listen rtlwmbus 'cmd:…'``); a device typed into Home
    Assistant may not: SDR programs are configured by their settings (:class:`SdrSettings`).
    """
    if device.strip().lower().startswith("cmd:"):
        return True
    receiver = RECEIVERS.get(kind)
    if not (isinstance(receiver, type) and issubclass(receiver, LineReceiver)):
        return False
    try:
        return receiver.source_of(device).kind == "command"
    except ReceiverError:
        return False  # a malformed device: the receiver test reports it


async def async_try_receiver(device: str, kind: str, link_mode: str) -> tuple[str, ReceiverInfo] | str:
    """(kind, info) when the receiver works, else a translated error key."""
    if runs_shell(kind, device):
        return "command_not_allowed"
    try:
        return await async_test_receiver(device, kind, link_mode)
    except ReceiverError as err:
        for error_type, code in RECEIVER_ERRORS:
            if isinstance(err, error_type):
                return code
        return "unknown"
    except ValueError:
        return "unsupported_kind"
    except Exception:
        _LOGGER.exception("Unexpected error while testing receiver %s", display_device(device))
        return "unknown"


async def async_test_mbus(device: str, baudrate: int) -> ReceiverInfo:
    """Open the port of a wired master and send one request (SND_NKE to the selected slave, EN 13757-2)."""
    master = MbusMaster(device, baudrate=baudrate, **MASTER_OPTIONS)
    try:
        await master.open()
        await master.deselect()
    finally:
        await master.close()
    return ReceiverInfo(kind=KIND_MBUS, model="M-Bus master")


async def async_try_mbus(device: str, baudrate: int) -> tuple[str, ReceiverInfo] | str:
    """(kind, info) when the port opens and takes a request, else a translated error key."""
    try:
        return KIND_MBUS, await async_test_mbus(device, baudrate)
    except (PortOpenError, MbusPortError):
        return "cannot_open"
    except MbusError:
        # Something answered garbled: the port works, the bus may be busy or mixed up.
        return KIND_MBUS, ReceiverInfo(kind=KIND_MBUS, model="M-Bus master")
    except Exception:
        _LOGGER.exception("Unexpected error while testing M-Bus master %s", display_device(device))
        return "unknown"


PRIMARY_SCAN_RANGE: range = range(MAX_PRIMARY + 1)
"""Primary addresses a bus scan pings (0 = unconfigured slaves, up to 250)."""
SCAN_RETRIES = 0
"""Extra tries per address in a primary scan's first pass; garbled answers get a second pass with a retry.

A full primary scan at 2400 Bd then takes about 85 s (a scan can be repeated; polling retries more).
"""
SEARCH_RETRIES = 1
"""Extra tries per select of a secondary search."""


def identity_from_secondary(secondary: str) -> FoundMeter:
    """The identity a 16-hex secondary address carries: ID, M (wire order), Ver, Med."""
    manufacturer = manufacturer_code(int.from_bytes(bytes.fromhex(secondary[8:12]), "little"))
    return FoundMeter(
        secondary,
        meter_id=secondary[:8],
        manufacturer=manufacturer,
        version=int(secondary[12:14], 16),
        device_type=int(secondary[14:16], 16),
    )


async def async_identify(master: MbusMaster, address: int | str) -> FoundMeter:
    """Read the slave at ``address`` to learn who it is; raises :class:`MbusError` when it cannot be read.

    A reply that does not decode (e.g. encrypted, no key yet) still names the meter in its header.
    """
    encrypted: bool | None
    try:
        reading = await master.read_any(address)
    except OmsError as err:
        if err.header is None or not err.header.address.id:
            raise
        identity = err.header.address
        encrypted = True if isinstance(err, DECRYPTION_ERRORS) else None
    else:
        identity = reading.telegram.header.address
        encrypted = reading.telegram.header.encrypted
    return FoundMeter(
        address,
        meter_id=identity.id.upper(),
        manufacturer=identity.manufacturer,
        device_type=identity.device_type,
        version=identity.version,
        encrypted=encrypted,
    )


async def async_scan_bus(
    master: MbusMaster,
    scan_type: str,
    *,
    on_found: Callable[[FoundMeter], None] | None = None,
    progress: ScanProgress | None = None,
) -> list[FoundMeter]:
    """Scan the bus (ping every primary address, or the secondary wildcard search); read each slave found.

    Each slave is read as soon as the scan finds it and handed to ``on_found``
    (the scan goes on after that read).
    """
    scan: AsyncIterator[int | str]
    if scan_type == "primary":
        scan = master.iter_scan_primary(PRIMARY_SCAN_RANGE, retries=SCAN_RETRIES, progress=progress)
    else:
        scan = master.iter_scan_secondary(retries=SEARCH_RETRIES, progress=progress)
    found: list[FoundMeter] = []
    async for address in scan:
        try:
            meter = await async_identify(master, address)
        except MbusPortError:
            raise
        except (MbusError, OmsError) as err:
            _LOGGER.warning("M-Bus slave %s answered the scan but cannot be read: %s", address, err)
            meter = identity_from_secondary(address) if isinstance(address, str) else FoundMeter(address)
        found.append(meter)
        if on_found is not None:
            on_found(meter)
    return found


def check_key(raw: bytes, key: bytes) -> bool:
    """False when ``key`` does not decrypt ``raw`` (a telegram of the meter); True if it does or may."""
    try:
        Decoder(Keyring(default=key)).decode(raw)
    except DECRYPTION_ERRORS:
        return False
    except OmsError:
        return True
    return True


def validate_key(text: str, heard: HeardMeter | None, *, required: bool) -> tuple[bytes | None, str | None]:
    """A typed key: (key or None, error key or None); checked against ``heard``'s last telegram."""
    if not text.strip():
        return None, "key_required" if required else None
    try:
        key = parse_key(text)
    except ValueError:
        return None, "invalid_key"
    if heard is not None and not check_key(heard.raw, key):
        return None, "wrong_key"
    return key, None
