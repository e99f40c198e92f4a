"""A TCP proxy in front of a real server whose link a test can cut, hang and restore.

Why a proxy and not stopping the server: the shared stack serves every other test (and
other checkouts on the same machine), so a fault test that kills Cassandra or Redis
disturbs them all. Putting the service under test behind its own proxy gives it a real
network fault (connections reset, or a black hole that answers nothing) against the
real server, while every other client keeps its direct connection.

The proxy runs its own event loop on a thread, so it works for async tests, sync tests
and services running in other processes alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import socket
import threading
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

T = TypeVar("T")


class Mode(enum.Enum):
    UP = "up"  # bytes flow both ways
    DOWN = "down"  # live links are reset, new connections are closed at once
    HANG = "hang"  # connections are accepted and held, nothing is forwarded


class FaultLine:
    """Proxies ``127.0.0.1:<port>`` to ``target``; ``cut`` / ``hang`` / ``restore``."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.mode = Mode.UP
        self._loop = asyncio.new_event_loop()
        self._links: set[asyncio.StreamWriter] = set()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                        name=f"faultline:{target_port}")
        self._server: asyncio.Server | None = None
        self.port = 0

    def start(self) -> FaultLine:
        self._thread.start()
        self._server = self._run(asyncio.start_server(self._accept, "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def cut(self) -> None:
        """Reset every live connection and refuse new ones, as a dead server would."""
        self.mode = Mode.DOWN
        self._run(self._drop_all())

    def hang(self) -> None:
        """Stop forwarding (a black hole): clients see timeouts, not errors."""
        self.mode = Mode.HANG

    def restore(self) -> None:
        """Forward again; links held by ``hang`` are reset so clients reconnect cleanly."""
        self._run(self._drop_all())
        self.mode = Mode.UP

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    async def _drop_all(self) -> None:
        for writer in list(self._links):
            _reset(writer)
        self._links.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.mode is Mode.DOWN:
            _reset(writer)
            return
        self._links.add(writer)
        if self.mode is Mode.HANG:
            return  # held open, never served, until restore() resets it
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            _reset(writer)
            return
        self._links.add(up_writer)
        await asyncio.gather(self._pump(reader, up_writer), self._pump(up_reader, writer),
                             return_exceptions=True)
        for end in (writer, up_writer):
            self._links.discard(end)
            end.close()

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            while self.mode is Mode.HANG:
                await asyncio.sleep(0.05)
            if self.mode is Mode.DOWN:
                break
            writer.write(data)
            await writer.drain()
        with contextlib.suppress(OSError):
            writer.write_eof()


_LINGER_RESET = (1).to_bytes(4, "little") + (0).to_bytes(4, "little")


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with RST (SO_LINGER 0), the way a crashed peer's kernel answers."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
    writer.close()


@contextlib.contextmanager
def faultline(host: str, port: int) -> Iterator[FaultLine]:
    """A started :class:`FaultLine` to ``host:port``, closed afterwards."""
    line = FaultLine(host, port).start()
    try:
        yield line
    finally:
        line.close()
