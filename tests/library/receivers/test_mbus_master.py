"""Wired M-Bus master through serialx against a simulated bus on a real pty and a TCP gateway."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
import contextlib

import pytest

from custom_components.oms.omslib.errors import CrcError
from custom_components.oms.omslib.frame import Frame
from custom_components.oms.omslib.listen_mbus import listen_mbus
from custom_components.oms.omslib.receivers.base import RECEIVERS, FramerStats, NoAnswerError, PortOpenError
from custom_components.oms.omslib.receivers.mbus import MbusMasterReceiver
from custom_components.oms.omslib.receivers.mbus_master import (
    MbusChecksumError,
    MbusCollision,
    MbusError,
    MbusMaster,
    MbusTimeout,
    MeterReading,
    mbus_framer,
)
from custom_components.oms.omslib.wired import (
    default_timeout,
    normalize_secondary,
    parse_address,
    secondary_bytes,
    secondary_matches,
    select_frame,
    take_frame,
)
from tests.sims.endpoint import PtyEndpoint, TcpEndpoint
from tests.sims.sim_mbus import (
    MbusBus,
    SimSlave,
    energy_kwh,
    overlay,
    standard_slaves,
    volume_litres,
)

BAUD = 38400
"""Tests run the bus fast: the time to send a select frame is added to every answer window."""
FAST = {"baudrate": BAUD, "timeout": 0.05, "retries": 1, "pause": 0.0, "settle": 0.015}
ALL_SECONDARIES = {"100000012D2C0107", "200000022D2C0107", "21000003A5110407", "300000042D2C0107"}


async def wait_until(predicate: Callable[[], bool], within: float = 3.0) -> None:
    async with asyncio.timeout(within):
        while not predicate():  # noqa: ASYNC110 - polling state the simulator changes
            await asyncio.sleep(0.01)


@pytest.fixture
async def bus() -> AsyncIterator[tuple[MbusBus, PtyEndpoint]]:
    sim = MbusBus(standard_slaves(), baudrate=BAUD)
    async with PtyEndpoint(sim) as endpoint:
        yield sim, endpoint


@pytest.fixture
async def master(bus: tuple[MbusBus, PtyEndpoint]) -> AsyncIterator[MbusMaster]:
    async with MbusMaster(bus[1].path, **FAST) as m:  # type: ignore[arg-type]
        yield m


def values(reading: MeterReading) -> list[object]:
    return [record.value for record in reading.telegram.records]


# -- pure parts ---------------------------------------------------------------------


def test_select_frame_matches_the_catalogue() -> None:
    assert select_frame("00000001DADAFA1B").hex().upper() == "680B0B6873FD5201000000DADAFA1B8C16"
    assert secondary_bytes("1234FFFFFFFFFFFF") == bytes.fromhex("FFFF3412FFFFFFFF")
    assert normalize_secondary(" 00000001dadafa1b ") == "00000001DADAFA1B"
    with pytest.raises(ValueError, match="16 hex"):
        normalize_secondary("0001")


def test_wildcard_matching() -> None:
    own = "12345678DADAFA1B"
    assert secondary_matches("FFFFFFFFFFFFFFFF", own)
    assert secondary_matches("1234FFFFDADAFFFF", own)
    assert secondary_matches("F2F4F6F8FFFFFA1B", own)
    assert not secondary_matches("1235FFFFFFFFFFFF", own)
    assert not secondary_matches("FFFFFFFFDADBFFFF", own)
    assert not secondary_matches("FFFFFFFFFFFFFA1C", own)


def test_parse_address() -> None:
    assert parse_address("5") == 5
    assert parse_address(250) == 250
    assert parse_address("100000012d2c0107") == "100000012D2C0107"
    for bad in ("251", "-1", "x", "12345"):
        with pytest.raises(ValueError, match="address"):
            parse_address(bad)


def test_framer_resyncs_on_garbage_and_bad_checksums() -> None:
    good = bytes.fromhex("6803036808017285") + b"\x16"
    good = good[:-2] + bytes(((0x08 + 0x01 + 0x72) & 0xFF, 0x16))
    bad = good[:-2] + bytes(((good[-2] + 1) & 0xFF, 0x16))
    buffer = bytearray(b"\x00\x42" + bad + b"\xe5" + good + bytes.fromhex("105b005b16") + b"\x68\x05")
    stats = FramerStats()
    frames = mbus_framer(buffer, stats)
    assert frames[-3:] == [b"\xe5", good, bytes.fromhex("105b005b16")]
    assert stats.bad_checksum == 1
    assert stats.garbage_bytes >= 2
    assert buffer == bytearray(b"\x68\x05")  # an incomplete header waits
    # L is one byte: a frame never needs more than 261 bytes
    buffer = bytearray(b"\x68\xff\xff\x68" + bytes(300))
    kind, data = take_frame(buffer)
    assert kind == "garbage"
    assert data[:1] == b"\x68"


def test_overlay_is_a_wired_and_with_parity_errors() -> None:
    assert overlay([(0, b"\xe5"), (0, b"\xe5")]) == b"\xe5"
    assert overlay([(0, b"\xe5"), (1, b"\xe5")]) == b"\xe5\xe5"
    # 0x0F & 0xF0 = 0x00 (parity even, both parity bits 0) and 0x03 & 0x01: parity error -> 0x00
    assert overlay([(0, b"\x0f\x03"), (0, b"\xf0\x01")]) == b"\x00\x00"


def test_default_timeout_scales_with_baud() -> None:
    assert default_timeout(300) > default_timeout(2400) > default_timeout(38400) > 0.15
    assert default_timeout(2400) == pytest.approx(330 / 2400 + 0.15)


def test_registered_as_mbus() -> None:
    assert RECEIVERS["mbus"] is MbusMasterReceiver
    assert issubclass(MbusTimeout, NoAnswerError)
    assert issubclass(MbusChecksumError, CrcError)
    assert issubclass(MbusCollision, MbusError)


# -- primary addressing -------------------------------------------------------------


async def test_ping_and_read_primary(master: MbusMaster, bus: tuple[MbusBus, PtyEndpoint]) -> None:
    await master.ping(2)
    reading = await master.read(2)
    assert reading.address == 2
    assert len(reading.frames) == 1
    assert reading.secondary == "200000022D2C0107"
    assert reading.telegram.header.primary_address == 2
    assert reading.telegram.address.id == "20000002"
    assert reading.telegram.address.manufacturer == "KAM"
    assert values(reading) == [pytest.approx(2.002), 22]
    assert [record.unit for record in reading.telegram.records] == ["m³", "kWh"]


async def test_primary_scan_finds_exactly_the_slaves_present(master: MbusMaster) -> None:
    assert await master.scan_primary(range(8), retries=0) == [1, 2, 3, 4]


async def test_primary_scan_reports_two_slaves_on_one_address() -> None:
    sim = MbusBus([SimSlave(7, "700000012D2C0107"), SimSlave(7, "700000022D2C0107", skew=1)], baudrate=BAUD)
    async with PtyEndpoint(sim) as endpoint, MbusMaster(endpoint.path, **FAST) as master:  # type: ignore[arg-type]
        with pytest.raises(MbusCollision):
            await master.ping(7)
        assert await master.scan_primary([6, 7, 8], retries=0) == [7]


async def test_primary_scan_yields_each_slave_before_asking_the_next_address(
    master: MbusMaster, bus: tuple[MbusBus, PtyEndpoint]
) -> None:
    sim, _ = bus
    progress: list[tuple[int, int]] = []
    seen: list[tuple[int, int, float]] = []
    async for address in master.iter_scan_primary(range(8), progress=lambda d, t: progress.append((d, t))):
        ping = bytes((0x10, 0x40, address, (0x40 + address) & 0xFF, 0x16))
        assert sim.requests[-1] == ping  # nothing asked after it
        reading = await master.read(address) if address != 4 else None  # the bus is free at the yield
        seen.append((address, len(progress), reading.telegram.records[0].value if reading else 0))
    assert [(a, n) for a, n, _ in seen] == [(1, 2), (2, 3), (3, 4), (4, 5)]
    assert seen[1][2] == pytest.approx(2.002)
    assert progress == [(done, 8) for done in range(1, 9)]


async def test_primary_scan_asks_each_empty_address_once() -> None:
    sim = MbusBus(standard_slaves(), baudrate=BAUD)
    async with PtyEndpoint(sim) as endpoint, MbusMaster(endpoint.path, **FAST) as master:  # type: ignore[arg-type]
        assert master.retries == 1  # reads retry; the scan's first pass does not
        assert await master.scan_primary(range(8)) == [1, 2, 3, 4]
    pings = [req[2] for req in sim.requests if req[1] == 0x40]
    assert pings == list(range(8))


async def test_primary_scan_asks_garbled_addresses_again_in_a_second_pass() -> None:
    slaves = [
        SimSlave(2, "200000022D2C0107", garble_replies=1),  # noise after its first E5
        SimSlave(3, "300000032D2C0107"),
        SimSlave(5, "500000052D2C0107", garble_replies=2),  # garbled on both passes
        SimSlave(6, "600000062D2C0107", drop_replies=1),  # misses the only request of the first pass
    ]
    sim = MbusBus(slaves, baudrate=BAUD)
    async with PtyEndpoint(sim) as endpoint, MbusMaster(endpoint.path, **FAST) as master:  # type: ignore[arg-type]
        found = await master.scan_primary(range(8))
    assert found == [3, 2, 5]  # clean answers first, then the second pass
    pings = [req[2] for req in sim.requests if req[1] == 0x40]
    assert pings == [*range(8), 2, 5]


async def test_multi_telegram_readout_merges_records(
    master: MbusMaster, bus: tuple[MbusBus, PtyEndpoint]
) -> None:
    reading = await master.read(3)
    assert len(reading.frames) == 2
    assert reading.frames[0][-3] == 0x1F  # first telegram ends with DIF 1F
    assert reading.telegram.more_records_follow is False
    assert reading.telegram.extra["telegrams"] == 2
    assert values(reading) == [pytest.approx(3.003), 33, 3, pytest.approx(45.6)]
    assert reading.telegram.address.manufacturer == "DME"


async def test_fcb_toggles_per_telegram_and_resets_with_snd_nke(
    master: MbusMaster, bus: tuple[MbusBus, PtyEndpoint]
) -> None:
    sim, _ = bus
    await master.read(3)
    await master.read(3)
    assert [req[1] for req in sim.requests if req[0] == 0x10] == [0x40, 0x7B, 0x5B, 0x40, 0x7B, 0x5B]
    # without SND_NKE the FCB keeps alternating from where it was
    second = await master.read(3, reset=False)
    assert sim.requests[-2:] == [bytes.fromhex("107b037e16"), bytes.fromhex("105b035e16")]
    assert len(second.frames) == 2  # the slave wrapped around to telegram 1


async def test_lost_answer_is_retried_with_the_same_fcb(
    master: MbusMaster, bus: tuple[MbusBus, PtyEndpoint]
) -> None:
    sim, _ = bus
    slave = sim.slave(3)
    await master.ping(3)
    slave.drop_replies = 1  # telegram 1 is sent but lost on the line
    reading = await master.read(3, reset=False)
    # 7B (lost), 7B again (slave repeats telegram 1), 5B (telegram 2)
    assert slave.requests[-3:] == [0x7B, 0x7B, 0x5B]
    assert values(reading) == [pytest.approx(3.003), 33, 3, pytest.approx(45.6)]


async def test_untoggled_fcb_repeats_the_last_telegram(
    master: MbusMaster, bus: tuple[MbusBus, PtyEndpoint]
) -> None:
    await master.ping(3)
    first = await master._transact(bytes.fromhex("107b037e16"), "data")
    again = await master._transact(bytes.fromhex("107b037e16"), "data")
    nxt = await master._transact(bytes.fromhex("105b035e16"), "data")
    assert first == again
    assert nxt != first
    assert nxt[-3] != 0x1F


async def test_timeouts_are_typed(master: MbusMaster, bus: tuple[MbusBus, PtyEndpoint]) -> None:
    sim, _ = bus
    with pytest.raises(MbusTimeout):
        await master.read(5)  # never answers
    with pytest.raises(MbusTimeout):
        await master.ping(42)  # nobody there
    with pytest.raises(MbusTimeout):
        await master.read_secondary("99999999FFFFFFFF")
    # retries: 1 retry -> two SND_NKE to address 5
    assert sum(1 for req in sim.requests if req == bytes.fromhex("1040054516")) == 2


async def test_bad_checksum_is_typed_and_the_next_slave_is_still_read(master: MbusMaster) -> None:
    with pytest.raises(MbusChecksumError) as caught:
        await master.read(4)
    assert caught.value.frame[:4] == b"\x68" + caught.value.frame[1:2] * 2 + b"\x68"
    reading = await master.read(1)
    assert values(reading)[0] == pytest.approx(1.001)


async def test_wrong_baud_rate_gets_no_answer(bus: tuple[MbusBus, PtyEndpoint]) -> None:
    sim, endpoint = bus
    async with MbusMaster(endpoint.path, **{**FAST, "baudrate": 9600}) as master:  # type: ignore[arg-type]
        with pytest.raises(MbusTimeout):
            await master.ping(1)
    assert sim.line_errors >= 1


async def test_requests_never_overlap(master: MbusMaster, bus: tuple[MbusBus, PtyEndpoint]) -> None:
    sim, _ = bus
    results = await asyncio.gather(
        master.read(1), master.read(2), master.read(3), master.read_secondary("21000003A5110407")
    )
    assert [r.address for r in results] == [1, 2, 3, "21000003A5110407"]
    assert sim.line_errors == 0


# -- secondary addressing -----------------------------------------------------------


async def test_select_and_read_secondary(master: MbusMaster, bus: tuple[MbusBus, PtyEndpoint]) -> None:
    sim, _ = bus
    reading = await master.read_secondary("21000003a5110407")
    assert reading.address == "21000003A5110407"
    assert len(reading.frames) == 2
    assert reading.telegram.header.primary_address == 3
    assert sim.requests[0] == select_frame("21000003A5110407")
    assert [req[1] for req in sim.requests[1:]] == [0x7B, 0x5B]
    assert [req[2] for req in sim.requests[1:]] == [0xFD, 0xFD]
    # a wildcard mask that matches one slave reads it too
    reading = await master.read_secondary("1FFFFFFFFFFFFFFF")
    assert reading.secondary == "100000012D2C0107"


async def test_select_collision_is_typed(master: MbusMaster) -> None:
    with pytest.raises(MbusCollision):
        await master.select("FFFFFFFFFFFFFFFF")  # slave 1 answers a byte late: E5 E5
    await master.select("2FFFFFFFFFFFFFFF")  # 2 and 3 ack in step: one clean E5 ...
    with pytest.raises(MbusCollision):
        await master._transact(bytes.fromhex("107bfd7816"), "data", strict=True)  # ... but not their data


async def test_secondary_scan_finds_every_slave_including_colliding_ones(
    master: MbusMaster, bus: tuple[MbusBus, PtyEndpoint]
) -> None:
    sim, _ = bus
    found = await master.scan_secondary(retries=0)
    assert set(found) == ALL_SECONDARIES
    assert len(found) == len(ALL_SECONDARIES)
    selects = [req for req in sim.requests if req[0] == 0x68]
    assert len(selects) < 30  # root + 10 digits + 10 below the "2" collision + checks
    # a fixed part of the mask is kept
    assert await master.scan_secondary("2FFFFFFFFFFFFFFF", retries=0) == [
        "200000022D2C0107",
        "21000003A5110407",
    ]
    assert await master.scan_secondary("FFFFFFFFFFFF0499", retries=0) == []


async def test_secondary_scan_yields_each_slave_as_it_is_singled_out(master: MbusMaster) -> None:
    probes: list[tuple[int, int]] = []
    order: list[tuple[str, int]] = []
    async for secondary in master.iter_scan_secondary(retries=0, progress=lambda d, t: probes.append((d, t))):
        order.append((secondary, len(probes)))
        if secondary != "300000042D2C0107":  # the one whose replies fail the checksum
            await master.read_secondary(secondary)
    assert [s for s, _ in order] == [
        "100000012D2C0107", "200000022D2C0107", "21000003A5110407", "300000042D2C0107"
    ]  # fmt: skip
    assert [n for _, n in order] == sorted({n for _, n in order})  # each found at a different probe
    assert order[0][1] < len(probes)  # the first slave came out long before the search ended
    assert probes == [(n, 0) for n in range(1, len(probes) + 1)]


async def test_secondary_scan_resolves_deep_collisions() -> None:
    slaves = [
        SimSlave(1, "123100002D2C0107", [volume_litres(1)]),
        SimSlave(2, "123200002D2C0107", [energy_kwh(2)], skew=0),
        SimSlave(3, "123300002D2C0107", [energy_kwh(3)], skew=2),
    ]
    async with (
        PtyEndpoint(MbusBus(slaves, baudrate=BAUD)) as endpoint,
        MbusMaster(endpoint.path, **FAST) as master,
    ):  # type: ignore[arg-type]
        found = await master.scan_secondary(retries=0)
    assert sorted(found) == ["123100002D2C0107", "123200002D2C0107", "123300002D2C0107"]


# -- TCP gateway --------------------------------------------------------------------


@pytest.mark.usefixtures("socket_enabled")
async def test_tcp_gateway() -> None:
    sim = MbusBus(standard_slaves())  # the gateway converts: any baud rate works
    async with TcpEndpoint(sim) as endpoint:
        assert endpoint.path.startswith("socket://127.0.0.1:")
        async with MbusMaster(endpoint.path, **FAST) as master:  # type: ignore[arg-type]
            assert await master.scan_primary(range(1, 6), retries=0) == [1, 2, 3, 4]
            reading = await master.read(3)
            assert len(reading.frames) == 2
            assert set(await master.scan_secondary(retries=0)) == ALL_SECONDARIES


async def test_open_failure_is_typed(tmp_path: object) -> None:
    with pytest.raises(PortOpenError):
        await MbusMaster("/nonexistent/ttyMBUS", **FAST).open()  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="baud"):
        MbusMaster("/dev/null", baudrate=1234)


# -- listen_mbus --------------------------------------------------------------------


async def test_listen_mbus_scans_and_reads(bus: tuple[MbusBus, PtyEndpoint]) -> None:
    _, endpoint = bus
    readings = [
        r
        async for r in listen_mbus(
            endpoint.path, BAUD, "secondary", ["1", "5"], 0.05, None, retries=0, pause=0.0, settle=0.015
        )
    ]
    addresses = [r.address for r in readings]
    # 1 by primary; 5 is mute (logged, skipped); every secondary found except the broken one
    assert addresses[0] == 1
    assert set(addresses[1:]) == ALL_SECONDARIES - {"300000042D2C0107"}


# -- receiver -----------------------------------------------------------------------


async def test_receiver_polls_and_reconnects_after_the_pty_disappears() -> None:
    sim = MbusBus(standard_slaves(), baudrate=BAUD)
    frames: list[Frame] = []
    states: list[bool] = []
    async with PtyEndpoint(sim) as endpoint:
        receiver = MbusMasterReceiver(
            endpoint.path,
            on_frame=frames.append,
            on_state=states.append,
            addresses=[1, "21000003A5110407", 4, 5],
            interval=0.1,
            reconnect_min=0.05,
            reconnect_max=0.2,
            receiver_id="bus1",
            **FAST,  # type: ignore[arg-type]
        )
        info = await receiver.start()
        try:
            assert info.kind == "mbus"
            assert receiver.connected
            await wait_until(lambda: len(frames) >= 3)
            assert all(f.link_mode == "mbus" and f.receiver_id == "bus1" for f in frames)
            assert frames[0].raw[5] == 1  # slave 1 first, then the two telegrams of the secondary slave
            assert [f.raw[5] for f in frames[1:3]] == [3, 3]
            assert [f.raw[-3] == 0x1F for f in frames[1:3]] == [True, False]
            await wait_until(lambda: len(receiver.last_errors) == 2)
            assert isinstance(receiver.last_errors[4], MbusChecksumError)
            assert isinstance(receiver.last_errors[5], MbusTimeout)

            await endpoint.hangup()
            await wait_until(lambda: not receiver.connected)
            assert states[-1] is False
            await asyncio.sleep(0.15)  # a few failed reopen attempts
            count = len(frames)
            await endpoint.restore()
            await wait_until(lambda: receiver.connected and len(frames) >= count + 3, within=5)
            assert states[-1] is True
        finally:
            await receiver.stop()
        assert not receiver.connected
        await receiver.stop()  # idempotent


async def test_receiver_reports_a_dead_bus() -> None:
    sim = MbusBus([SimSlave(1, "100000012D2C0107", behaviour="silent")], baudrate=BAUD)
    states: list[bool] = []
    async with PtyEndpoint(sim) as endpoint:
        receiver = MbusMasterReceiver(
            endpoint.path,
            on_frame=lambda frame: None,
            on_state=states.append,
            addresses=[1],
            interval=0.05,
            **FAST,  # type: ignore[arg-type]
        )
        await receiver.start()
        try:
            await wait_until(lambda: states == [True, False])
            sim.slaves[0].behaviour = "ok"
            await wait_until(lambda: states == [True, False, True])
        finally:
            await receiver.stop()


async def test_receiver_start_fails_typed() -> None:
    receiver = MbusMasterReceiver("/nonexistent/ttyMBUS", on_frame=lambda frame: None)
    with pytest.raises(PortOpenError):
        await receiver.start()
    with contextlib.suppress(Exception):
        await receiver.stop()
