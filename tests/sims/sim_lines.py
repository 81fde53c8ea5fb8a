"""Line sources for the line-based receivers: a child process and a TCP server.

As a script (the "pipeline" a receiver starts)::

    python sim_lines.py LINES_FILE [--delay S] [--hold S] [--count-file F]

prints every line of LINES_FILE (flushed, ``--delay`` seconds apart), then
waits ``--hold`` seconds and exits, as ``rtl_sdr | rtl_wmbus`` does when the
dongle goes away. ``--count-file`` gets the script's PID appended (one line per start).

:class:`LineServer` is a TCP server on 127.0.0.1 (ephemeral port) that sends
:attr:`LineServer.script` to each client, then drops it when
:attr:`LineServer.drop` is set.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import time

SCRIPT = __file__


def command(lines_file: str, *, delay: float = 0.0, hold: float = 0.0, count_file: str | None = None) -> str:
    """The shell command that runs this script as a pipeline stage."""
    cmd = f"{sys.executable} {SCRIPT} {lines_file} --delay {delay} --hold {hold}"
    if count_file:
        cmd += f" --count-file {count_file}"
    return cmd


class LineServer:
    """TCP server sending a script of lines to each client."""

    def __init__(self, script: list[bytes] | None = None, *, drop: bool = False) -> None:
        self.script = script or []
        self.drop = drop
        self.connections = 0
        self.url = ""
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> LineServer:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"tcp://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        for writer in self._writers:
            writer.close()
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1.0)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.append(writer)
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)  # type: ignore[arg-type]
        for chunk in self.script:
            writer.write(chunk)
            await writer.drain()
            await asyncio.sleep(0.005)
        if self.drop:
            writer.close()
            return
        with contextlib.suppress(Exception):
            await reader.read()  # keep the connection until the client leaves

    def send(self, data: bytes) -> None:
        """Send to every connected client now."""
        for writer in self._writers:
            if not writer.is_closing():
                writer.write(data)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("lines")
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--hold", type=float, default=0.0)
    parser.add_argument("--count-file")
    args = parser.parse_args()
    if args.count_file:
        with open(args.count_file, "a", encoding="ascii") as file:
            file.write(f"{os.getpid()}\n")
    with open(args.lines, encoding="utf-8") as file:
        for line in file:
            sys.stdout.write(line)
            sys.stdout.flush()
            if args.delay:
                time.sleep(args.delay)
    time.sleep(args.hold)


if __name__ == "__main__":
    main()
