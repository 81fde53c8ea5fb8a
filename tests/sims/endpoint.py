"""The far end of a serial link for simulators: a real pseudo-terminal or a TCP socket.

A :class:`SimDevice` holds the protocol logic (bytes in -> bytes out); an endpoint
carries its bytes. Both run as asyncio callbacks on the test's event loop.

* :class:`PtyEndpoint`: ``path`` is a symlink to the pty's slave; :meth:`hangup`
  closes the master (the receiver sees EIO), :meth:`restore` opens a new pty and
  re-points the symlink, so a reconnecting receiver finds the "replugged" stick.
* :class:`TcpEndpoint`: ``path`` is ``socket://127.0.0.1:<port>``; :meth:`hangup`
  drops the client and refuses new ones until :meth:`restore`.

Use them with ``async with PtyEndpoint(sim) as ep:`` (or :func:`open_endpoint`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path
import tempfile
import tty
from typing import Self


class SimDevice:
    """Protocol logic of one simulated stick; subclasses implement :meth:`handle`."""

    def __init__(self) -> None:
        self.endpoint: Endpoint | None = None
        self.silent = False
        """When True the device swallows every request (a hung stick)."""
        self.received = bytearray()
        """Everything the host sent (bounded)."""

    def data_from_host(self, data: bytes) -> None:
        self.received += data
        del self.received[:-65536]
        if not self.silent:
            self.handle(data)

    def handle(self, data: bytes) -> None:
        """React to bytes from the host."""
        raise NotImplementedError

    def send(self, data: bytes) -> None:
        """Send bytes to the host now (dropped when hung up)."""
        if self.endpoint is not None:
            self.endpoint.write(data)

    async def send_split(self, data: bytes, parts: int = 3, pause: float = 0.01) -> None:
        """Send ``data`` in ``parts`` writes with a pause between them (a frame split across reads)."""
        step = max(1, -(-len(data) // parts))
        for i in range(0, len(data), step):
            self.send(data[i : i + step])
            await asyncio.sleep(pause)


class Endpoint:
    """Base of the transports a :class:`SimDevice` talks through."""

    path: str

    def __init__(self, device: SimDevice) -> None:
        self.device = device
        device.endpoint = self

    def write(self, data: bytes) -> None:
        raise NotImplementedError

    async def open(self) -> None:
        raise NotImplementedError

    async def hangup(self) -> None:
        """Disappear: the host sees EOF / an I/O error."""
        raise NotImplementedError

    async def restore(self) -> None:
        """Come back after :meth:`hangup`."""
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class PtyEndpoint(Endpoint):
    """A pseudo-terminal; the host opens :attr:`path` (a symlink to the slave)."""

    def __init__(self, device: SimDevice, directory: str | None = None) -> None:
        super().__init__(device)
        self._dir = Path(directory or tempfile.mkdtemp(prefix="oms-sim-"))
        self._own_dir = directory is None
        self.path = str(self._dir / "ttySIM")
        self._master: int | None = None
        self._slave: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending = bytearray()

    async def open(self) -> None:
        self._loop = asyncio.get_running_loop()
        master, slave = os.openpty()
        tty.setraw(master)
        tty.setraw(slave)  # no echo, no line discipline before the host configures the port
        os.set_blocking(master, False)
        self._master, self._slave = master, slave
        link = self._dir / "ttySIM.new"
        with contextlib.suppress(FileNotFoundError):
            link.unlink()
        link.symlink_to(os.ttyname(slave))
        link.replace(self.path)
        self._loop.add_reader(master, self._readable)

    def _readable(self) -> None:
        if self._master is None:
            return
        try:
            data = os.read(self._master, 65536)
        except BlockingIOError:
            return
        except OSError:
            return  # EIO: no one has the slave open at the moment
        if data:
            self.device.data_from_host(data)

    def write(self, data: bytes) -> None:
        if self._master is None:
            return
        self._pending += data
        self._flush()

    def _flush(self) -> None:
        if self._master is None or self._loop is None:
            return
        try:
            written = os.write(self._master, self._pending)
        except BlockingIOError:
            written = 0
        except OSError:
            self._pending.clear()
            return
        del self._pending[:written]
        if self._pending:
            self._loop.call_later(0.001, self._flush)

    def _close_fds(self) -> None:
        if self._master is not None and self._loop is not None:
            self._loop.remove_reader(self._master)
        for fd in (self._master, self._slave):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._master = self._slave = None
        self._pending.clear()

    async def hangup(self) -> None:
        self._close_fds()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)

    async def restore(self) -> None:
        await self.open()

    async def close(self) -> None:
        self._close_fds()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        if self._own_dir:
            with contextlib.suppress(OSError):
                self._dir.rmdir()


class _TcpProtocol(asyncio.Protocol):
    def __init__(self, owner: TcpEndpoint) -> None:
        self.owner = owner
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        if self.owner.down:
            transport.abort()
            return
        if self.owner.client is not None and self.owner.client.transport is not None:
            self.owner.client.transport.abort()
        self.transport = transport
        self.owner.client = self

    def data_received(self, data: bytes) -> None:
        self.owner.device.data_from_host(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.owner.client is self:
            self.owner.client = None


class TcpEndpoint(Endpoint):
    """A TCP server on 127.0.0.1 (ephemeral port) for ``socket://`` URLs; one client at a time."""

    def __init__(self, device: SimDevice) -> None:
        super().__init__(device)
        self.client: _TcpProtocol | None = None
        self.down = False
        self._server: asyncio.Server | None = None
        self.path = ""

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _TcpProtocol(self), "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.path = f"socket://127.0.0.1:{port}"

    def write(self, data: bytes) -> None:
        if self.client is not None and self.client.transport is not None:
            self.client.transport.write(data)

    async def hangup(self) -> None:
        self.down = True
        if self.client is not None and self.client.transport is not None:
            self.client.transport.abort()
        self.client = None

    async def restore(self) -> None:
        self.down = False

    async def close(self) -> None:
        await self.hangup()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


def have_pty() -> bool:
    """Whether this machine can open a pseudo-terminal (a chroot without /dev/pts cannot)."""
    try:
        master, slave = os.openpty()
        os.ttyname(slave)
    except OSError:
        return False
    os.close(master)
    os.close(slave)
    return True


def open_endpoint(sim: SimDevice) -> PtyEndpoint | TcpEndpoint:
    """A pseudo-terminal for ``sim``, or a TCP socket where there are no ptys."""
    return PtyEndpoint(sim) if have_pty() else TcpEndpoint(sim)


def crc16_x25_bitwise(data: bytes) -> int:
    """CRC-16/X-25, bit by bit (independent of the library's table-free version)."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
    return crc ^ 0xFFFF
