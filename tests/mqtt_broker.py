"""A throw-away Mosquitto broker for tests: loopback only, anonymous, no persistence.

:func:`start_broker` writes a config into a temp directory, starts
``/usr/sbin/mosquitto -c <config>`` in the foreground (no ``-d``, so it never
daemonises; the process we start is the broker), waits until its port accepts
TCP connections and returns a :class:`Broker`; :meth:`Broker.stop` terminates
and reaps it. Everything it writes (config, log) stays in that directory:
``persistence false`` and no ``pid_file``. Run as root, Mosquitto would switch
to the ``mosquitto`` user; ``user`` is set to the current user to prevent that.
"""

from __future__ import annotations

from dataclasses import dataclass
import os
from pathlib import Path
import pwd
import shutil
import socket
import subprocess
import time

MOSQUITTO = "/usr/sbin/mosquitto"
HOST = "127.0.0.1"


class BrokerError(RuntimeError):
    """Mosquitto did not start."""


def mosquitto_path() -> str | None:
    """The mosquitto binary, or None when it is not installed."""
    if os.access(MOSQUITTO, os.X_OK):
        return MOSQUITTO
    return shutil.which("mosquitto")


def free_port(host: str = HOST) -> int:
    """A TCP port that was free on ``host`` a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass
class Broker:
    """A running broker; :attr:`host` and :attr:`port` are what clients connect to."""

    host: str
    port: int
    process: subprocess.Popen[bytes]
    directory: Path

    @property
    def log_file(self) -> Path:
        return self.directory / "mosquitto.log"

    def log(self) -> str:
        """The broker's log so far (for failure messages)."""
        try:
            return self.log_file.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self, timeout: float = 5.0) -> int:
        """Terminate (SIGTERM, then SIGKILL after ``timeout``) and reap; returns the exit code."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                return self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return self.process.wait()


def write_config(directory: Path, port: int, host: str = HOST) -> Path:
    """Mosquitto 2.x config: one loopback listener, anonymous clients, nothing persisted."""
    config = directory / "mosquitto.conf"
    config.write_text(
        "\n".join(
            [
                f"listener {port} {host}",
                "allow_anonymous true",
                "persistence false",
                f"user {pwd.getpwuid(os.getuid()).pw_name}",
                f"log_dest file {directory / 'mosquitto.log'}",
                "log_type error",
                "log_type warning",
                "log_type notice",
                "log_type information",
                "connection_messages true",
                "",
            ]
        )
    )
    return config


def _accepting(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def start_broker(directory: Path, *, timeout: float = 10.0, attempts: int = 3) -> Broker:
    """Start mosquitto with its config and log in ``directory``; raise BrokerError if it will not listen.

    A port taken between :func:`free_port` and the broker binding it is retried
    on another port up to ``attempts`` times.
    """
    binary = mosquitto_path()
    if binary is None:
        raise BrokerError("mosquitto is not installed")
    last_log = ""
    for _ in range(attempts):
        port = free_port()
        config = write_config(directory, port)
        process = subprocess.Popen(
            [binary, "-c", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=directory,
            start_new_session=True,  # a Ctrl-C meant for pytest does not reach it first
        )
        broker = Broker(HOST, port, process, directory)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                break
            if _accepting(HOST, port):
                return broker
            time.sleep(0.02)
        broker.stop()
        last_log = broker.log()
        if "Address already in use" not in last_log:
            break
    raise BrokerError(f"mosquitto did not start listening; its log:\n{last_log}")
