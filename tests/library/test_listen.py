"""``scripts/listen``: the real ``omslib.listen`` command against the simulated sticks, sources and bus.

In-process (``listen.run`` on the test's event loop, the simulators on the same
loop) and once as a real subprocess (``python -m omslib.listen``, Ctrl-C included).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
import io
import json
import os
from pathlib import Path
import signal
import subprocess
import sys
import time
from typing import Any

import pytest

from custom_components.oms.omslib import listen
from tests import encoder as enc
from tests.sims.endpoint import PtyEndpoint
from tests.sims.im871a import Im871aSim
from tests.sims.sim_cul import CulSim, cul_line
from tests.sims.sim_lines import LineServer, command
from tests.sims.sim_mbus import MbusBus, standard_slaves

ROOT = Path(__file__).resolve().parents[2]
KEY_HEX = "0F1E2D3C4B5A69788796A5B4C3D2E1F0"
KEY = bytes.fromhex(KEY_HEX)
METER = enc.Addr(manufacturer="KAM", id="12345678", version=0x1B, device_type=0x07)
OTHER = enc.Addr(manufacturer="ELS", id="87654321", version=0x33, device_type=0x03)
VOLUME = enc.record(0x0C, enc.vib(0x13), enc.bcd_bytes(12345678, 8))  # 12345.678 m³


def plain(meter: enc.Addr = METER, acc: int = 1) -> bytes:
    """A CRC-free wM-Bus frame, short TPL header, security mode 0."""
    return enc.build(enc.TelegramSpec(records=[VOLUME], meter=meter, acc=acc))


def encrypted(acc: int = 2) -> bytes:
    """The same records, AES-128-CBC (mode 5) with :data:`KEY`."""
    return enc.build(enc.TelegramSpec(records=[VOLUME], meter=METER, acc=acc, mode=5, key=KEY))


KEY_ARG = f"{METER.id}={KEY_HEX}"
FAST = ["--answer-timeout", "0.25"]


@dataclass
class Result:
    code: int
    lines: list[dict[str, Any]]
    stdout: str
    stderr: str


async def start(*argv: str, stdin_fd: int | None = None) -> tuple[asyncio.Task[int], io.BytesIO, io.StringIO]:
    out, err = io.BytesIO(), io.StringIO()
    task = asyncio.create_task(listen.run(list(argv), out, err, stdin_fd=stdin_fd))
    return task, out, err


async def finish(task: asyncio.Task[int], out: io.BytesIO, err: io.StringIO, within: float = 5.0) -> Result:
    code = await asyncio.wait_for(task, within)
    text = out.getvalue().decode()
    return Result(code, [json.loads(line) for line in text.splitlines()], text, err.getvalue())


async def run(*argv: str, stdin_fd: int | None = None, within: float = 5.0) -> Result:
    return await finish(*(await start(*argv, stdin_fd=stdin_fd)), within=within)


async def wait_until(predicate: Callable[[], bool], within: float = 3.0) -> None:
    async with asyncio.timeout(within):
        while not predicate():  # noqa: ASYNC110 - polling state the simulators change
            await asyncio.sleep(0.01)


def check_common(line: dict[str, Any], receiver: str) -> None:
    """The decode schema plus the listen fields."""
    for name in ("ok", "error", "manufacturer", "id", "records", "rssi_dbm", "link_mode", "received_at"):
        assert name in line
    assert line["receiver"] == receiver
    stamp = time.mktime(time.strptime(line["received_at"][:19], "%Y-%m-%dT%H:%M:%S"))
    assert abs(stamp - time.time()) < 60


def volume(line: dict[str, Any]) -> object:
    return next(r["value"] for r in line["records"] if r["quantity"] == "volume")


def no_key_material(*texts: str) -> None:
    for text in texts:
        assert KEY_HEX not in text.upper()


# -- sticks on a pty ------------------------------------------------------------------------


async def test_im871a_decodes_with_rssi_mode_and_keys() -> None:
    sim = Im871aSim()
    async with PtyEndpoint(sim) as endpoint:
        task, out, err = await start(
            "--receiver", "im871a", "--mode", "t1", "--key", KEY_ARG, "--count", "3", *FAST, endpoint.path
        )
        await wait_until(lambda: sim.mode is not None)
        assert sim.mode == 0x03  # T1 configured
        sim.telegram(plain(), rssi=0x40)
        sim.telegram(encrypted())
        sim.telegram(plain(OTHER))
        result = await finish(task, out, err)
    assert result.code == 0
    first, second, third = result.lines
    for line in result.lines:
        check_common(line, "im871a")
        assert line["link_mode"] == "T1"
        assert isinstance(line["rssi_dbm"], float)
    assert first["ok"]
    assert first["id"] == "12345678"
    assert first["manufacturer"] == "KAM"
    assert volume(first) == 12345.678
    assert second["ok"]
    assert second["decrypted"] is True
    assert volume(second) == 12345.678
    assert third["id"] == "87654321"
    assert "listening with an iM871A" in result.stderr
    assert "receiving T1" in result.stderr
    assert result.stderr.strip().splitlines()[-1] == "listen: 3 telegrams, 2 meters heard, no errors"
    no_key_material(result.stdout, result.stderr)


async def test_cul_pty_and_undecodable_telegram_is_a_json_error() -> None:
    sim = CulSim()
    async with PtyEndpoint(sim) as endpoint:
        task, out, err = await start("--receiver", "cul", "--count", "2", *FAST, endpoint.path)
        await wait_until(lambda: sim.receiving)
        sim.send(cul_line(plain(), rssi_dbm=-80.0))
        sim.send(cul_line(encrypted(), "B", rssi_dbm=-60.5))  # no key given
        result = await finish(task, out, err)
    assert result.code == 0
    ok, failed = result.lines
    check_common(ok, "cul")
    assert ok["ok"]
    assert ok["rssi_dbm"] == -80.0
    assert ok["link_mode"] == "C1/T1"
    assert failed["ok"] is False
    assert failed["error"]["code"] == "no_key"
    assert failed["id"] == "12345678"
    assert failed["security_mode"] == 5
    assert failed["rssi_dbm"] == -60.5
    assert failed["link_mode"] == "C1"
    assert "1 error (no_key 1)" in result.stderr


async def test_auto_reports_what_answered() -> None:
    sim = CulSim()
    async with PtyEndpoint(sim) as endpoint:
        task, out, err = await start("--count", "1", "--answer-timeout", "0.15", endpoint.path)
        await wait_until(lambda: sim.receiving, within=5.0)
        sim.send(cul_line(plain()))
        result = await finish(task, out, err)
    assert result.code == 0
    assert "auto: a nanoCUL868" in result.stderr
    assert "(cul)" in result.stderr
    assert result.lines[0]["receiver"] == "cul"


@pytest.mark.parametrize(("kind", "model"), [("im871a", "an iM871A"), ("amber", "an Amber AMB8465")])
async def test_wrong_device_type_exits_2_naming_what_answered(kind: str, model: str) -> None:
    sim = CulSim()
    sim.receiving = True  # a CUL left receiving: telegram lines keep coming while the wrong driver probes

    async def traffic() -> None:
        while True:
            sim.send(cul_line(plain()))
            await asyncio.sleep(0.02)

    async with PtyEndpoint(sim) as endpoint:
        sender = asyncio.create_task(traffic())
        try:
            result = await run("--receiver", kind, "--answer-timeout", "0.15", endpoint.path)
        finally:
            sender.cancel()
    assert result.code == 2
    assert result.stdout == ""  # nothing a wrong driver made of the traffic is printed
    (message,) = result.stderr.splitlines()
    assert message.startswith("listen: error: ")
    assert "answered like a CUL" in message
    assert f"not {model}" in message


async def test_unopenable_device_exits_2() -> None:
    for argv in (["--receiver", "cul"], ["--receiver", "mbus", "--poll", "1"], []):
        result = await run(*argv, "/nonexistent/ttyUSB9")
        assert result.code == 2, argv
        assert result.stdout == ""
        (message,) = result.stderr.splitlines()
        assert message.startswith("listen: error: Cannot open /nonexistent/ttyUSB9")


# -- line sources ------------------------------------------------------------------------------


@pytest.mark.usefixtures("socket_enabled")
async def test_hex_over_tcp() -> None:
    script = [
        b"# a forwarder banner\n",
        (plain().hex() + ";rssi=-71;mode=T1\n").encode(),
        json.dumps({"telegram": encrypted().hex(), "rssi": -90, "mode": "c1"}).encode() + b"\n",
    ]
    async with LineServer(script) as server:
        result = await run("--receiver", "hex", "--key", KEY_HEX, "--count", "2", server.url)
    assert result.code == 0
    first, second = result.lines
    check_common(first, "hex")
    assert (first["rssi_dbm"], first["link_mode"]) == (-71.0, "T1")
    assert (second["rssi_dbm"], second["link_mode"], second["decrypted"]) == (-90.0, "C1", True)
    assert "listening: hex lines (tcp 127.0.0.1:" in result.stderr
    no_key_material(result.stdout, result.stderr)


async def test_rtlwmbus_from_a_child_process(tmp_path: Path) -> None:
    lines = tmp_path / "rtl.txt"
    lines.write_text(
        "rtl_wmbus 0.9 banner\n"
        f"T1;1;1;2019-02-09 07:14:18.000;117;102;94740459;0x{plain().hex()}\n"
        f"C1;0;1;2019-02-09 07:14:19.000;117;102;94740459;0x{plain(OTHER).hex()}\n"  # CRC failed
        f"C1;1;1;2019-02-09 07:14:20.000;117;102;94740459;0x{plain(OTHER).hex()}\n"
    )
    pids = tmp_path / "pids"
    cmd = command(str(lines), hold=30.0, count_file=str(pids))
    result = await run("--receiver", "rtlwmbus", "--count", "2", cmd)
    assert result.code == 0
    assert [(x["id"], x["link_mode"], x["rssi_dbm"]) for x in result.lines] == [
        ("12345678", "T1", None),
        ("87654321", "C1", None),
    ]
    (pid,) = map(int, pids.read_text().split())
    await wait_until(lambda: not _alive(pid))  # the pipeline was stopped with the command


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:  # a zombie until its parent reaps it
        return stat.read().split()[2] != "Z"


async def test_stdin_ends_at_eof() -> None:
    read_fd, write_fd = os.pipe()
    os.write(write_fd, f"{plain().hex()}\nnot hex\n{plain(OTHER).hex()}\n".encode())
    os.close(write_fd)
    try:
        result = await run("--receiver", "hex", "-", stdin_fd=read_fd)
    finally:
        os.close(read_fd)
    assert result.code == 0
    assert [x["id"] for x in result.lines] == ["12345678", "87654321"]
    assert "2 telegrams, 2 meters heard, no errors" in result.stderr
    assert "reconnecting" not in result.stderr


# -- replay: ends, --count, --timeout ----------------------------------------------------------


def capture(tmp_path: Path, *lines: str) -> str:
    path = tmp_path / "capture.txt"
    path.write_text("# test capture\n" + "\n".join(lines) + "\n")
    return str(path)


async def test_replay_without_loop_ends_by_itself(tmp_path: Path) -> None:
    path = capture(tmp_path, f"+0 {plain().hex()};rssi=-71;mode=T1", f"+5 {encrypted().hex()}")
    result = await run("--receiver", "replay", f"{path}?loop=0&speed=100")
    assert result.code == 0
    assert [x["ok"] for x in result.lines] == [True, False]
    assert result.lines[0]["rssi_dbm"] == -71.0
    assert result.lines[1]["error"]["code"] == "no_key"
    assert result.stderr.splitlines()[-1] == "listen: 2 telegrams, 1 meter heard, 1 error (no_key 1)"


async def test_count_stops_a_looping_replay(tmp_path: Path) -> None:
    path = capture(tmp_path, plain().hex(), plain(OTHER).hex())
    result = await run("--receiver", "replay", "--count", "5", f"{path}?rate=200")
    assert result.code == 0
    assert [x["id"] for x in result.lines] == ["12345678", "87654321"] * 2 + ["12345678"]


async def test_timeout_stops_listening(tmp_path: Path) -> None:
    path = capture(tmp_path, f"+0 {plain().hex()}", f"+30 {plain(OTHER).hex()}")
    started = time.monotonic()
    result = await run("--timeout", "0.3", path)  # auto: a file is replayed
    elapsed = time.monotonic() - started
    assert result.code == 0
    assert 0.3 <= elapsed < 2.5
    assert [x["id"] for x in result.lines] == ["12345678"]
    assert "auto: replaying the capture file" in result.stderr


# -- wired M-Bus ------------------------------------------------------------------------------


async def test_mbus_secondary_scan_and_poll() -> None:
    bus = MbusBus(standard_slaves(), baudrate=38400, reply_delay=0)  # answers in the same loop turn
    async with PtyEndpoint(bus) as endpoint:
        result = await run(
            "--receiver", "mbus", "--baud", "38400", "--scan", "secondary", "--poll", "2,5",
            "--answer-timeout", "0.05", "--retries", "0", endpoint.path,
            within=15.0,
        )  # fmt: skip
    assert result.code == 0, result.stderr
    by_address = {x["address"]: x for x in result.lines}
    assert [x["address"] for x in result.lines[:2]] == [2, 5]  # polled first, then what the scan found
    assert set(by_address) == {
        2, 5, "100000012D2C0107", "200000022D2C0107", "21000003A5110407", "300000042D2C0107"
    }  # fmt: skip
    for line in result.lines:
        check_common(line, "mbus")
        assert line["link_mode"] == "mbus"
        assert line["rssi_dbm"] is None
    assert by_address[5]["ok"] is False
    assert by_address[5]["error"]["code"] == "mbus_timeout"
    assert by_address["300000042D2C0107"]["error"]["code"] == "mbus_checksum"
    assert by_address[2]["ok"]
    assert by_address[2]["id"] == "20000002"
    assert by_address[2]["records"] == by_address["200000022D2C0107"]["records"]
    assert volume(by_address[2]) == 2.002
    assert volume(by_address["21000003A5110407"]) == 3.003  # two-telegram readout, merged
    assert "secondary scan found 4 slaves" in result.stderr
    assert "6 telegrams, 3 meters heard, 2 errors (mbus_checksum 1, mbus_timeout 1)" in result.stderr


async def test_mbus_primary_scan_prints_each_slave_as_found_and_progress() -> None:
    """A full primary scan outlasts --timeout here: the slaves found before it ends are printed anyway."""
    bus = MbusBus(standard_slaves(), baudrate=38400, reply_delay=0)  # answers in the same loop turn
    async with PtyEndpoint(bus) as endpoint:
        started = time.monotonic()
        result = await run(
            "--receiver", "mbus", "--baud", "38400", "--scan", "primary", "--timeout", "4",
            "--answer-timeout", "0.05", endpoint.path,
            within=15.0,
        )  # fmt: skip
        elapsed = time.monotonic() - started
    assert result.code == 0, result.stderr
    assert elapsed < 6
    assert [x["address"] for x in result.lines] == [1, 2, 3, 4]
    assert [x["ok"] for x in result.lines] == [True, True, True, False]
    stderr = result.stderr.splitlines()
    assert "listen: primary scan started" in stderr
    found = [stderr.index(f"listen: primary scan: slave at address {n}") for n in (1, 2, 3, 4)]
    assert found == sorted(found)
    progress = stderr.index("listen: primary scan: 25/251 addresses, 4 slaves found")
    assert progress > found[-1]
    assert not any("scan found" in line for line in stderr)  # stopped by --timeout before the end
    empty = [req[2] for req in bus.requests if req[1] == 0x40 and req[2] not in (1, 2, 3, 4)]
    assert empty[:22] == [0, *range(5, 26)]  # one request per empty address


async def test_mbus_count_and_usage() -> None:
    bus = MbusBus(standard_slaves(), baudrate=38400, reply_delay=0)  # answers in the same loop turn
    async with PtyEndpoint(bus) as endpoint:
        result = await run(
            "--receiver", "mbus", "--baud", "38400", "--poll", "1", "--poll", "2,3",
            "--interval", "0.01", "--count", "4", "--answer-timeout", "0.05", endpoint.path,
        )  # fmt: skip
    assert result.code == 0
    assert [x["address"] for x in result.lines] == [1, 2, 3, 1]
    assert all(x["ok"] for x in result.lines)
    for argv, message in (
        (["--receiver", "mbus", "x"], "needs --scan"),
        (["--receiver", "hex", "--poll", "1", "x"], "only applies to --receiver mbus"),
        (["--receiver", "mbus", "--poll", "251", "x"], "outside"),
        (["--receiver", "mbus", "--poll", "1", "--baud", "1000", "x"], "M-Bus runs at"),
    ):
        result = await run(*argv)
        assert result.code == 2, argv
        assert message in result.stderr
        assert "usage: listen" in result.stderr


async def test_usage_errors_never_echo_keys() -> None:
    for argv in (["--kye", KEY_HEX, "x"], ["--key", KEY_HEX[:30], "x"], ["--key", f"zz={KEY_HEX}", "x"]):
        result = await run(*argv)
        assert result.code == 2
        assert "listen: error:" in result.stderr
        no_key_material(result.stderr)
        assert KEY_HEX[:30] not in result.stderr.upper()


# -- a real process -------------------------------------------------------------------------


def test_subprocess_replay_keys_and_ctrl_c(tmp_path: Path) -> None:
    path = capture(tmp_path, plain().hex(), encrypted().hex())
    proc = subprocess.Popen(
        [sys.executable, "-m", "omslib.listen", "--receiver", "replay", "--key", KEY_ARG, f"{path}?rate=20"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT / "custom_components" / "oms")},
    )
    try:
        assert proc.stdout is not None
        lines = [json.loads(proc.stdout.readline()) for _ in range(3)]  # flushed line by line
        proc.send_signal(signal.SIGINT)
        rest, stderr = proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert [x["id"] for x in lines] == ["12345678"] * 3
    assert [x["decrypted"] for x in lines] == [False, True, False]
    assert all(x["receiver"] == "replay" for x in lines)
    assert "Traceback" not in stderr
    assert "telegrams, 1 meter heard, no errors" in stderr.splitlines()[-1]
    no_key_material(rest, stderr, json.dumps(lines))


def test_scripts_listen_wrapper_usage() -> None:
    wrapper = ROOT / "scripts" / "listen"
    assert os.access(wrapper, os.X_OK)
    if not (ROOT / ".venv" / "bin" / "python").exists():
        pytest.skip("no .venv (run scripts/setup)")
    proc = subprocess.run([str(wrapper), "--help"], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0
    assert "--receiver" in proc.stdout
    assert "--poll" in proc.stdout
