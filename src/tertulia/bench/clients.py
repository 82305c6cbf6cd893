"""Load-generating clients at the protocol level: receiving costs a count, not a parse."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable

from tertulia.bench.accounting import MARK, MarkCounter, SampleLog
from tertulia.bench.targets import Target


class BenchClient(asyncio.Protocol):
    """One simulated user. Most count markers; sampled ones parse every line for latency."""

    __slots__ = (
        "_buf",
        "_ready_needed",
        "_ready_seen",
        "_ready_tail",
        "closed",
        "counter",
        "done",
        "expect",
        "index",
        "joined",
        "lost_connection",
        "nick",
        "on_progress",
        "room",
        "sample",
        "target",
        "transport",
    )

    def __init__(self, target: Target, index: int, room: str, sampled: bool) -> None:
        self.target = target
        self.index = index
        self.nick = f"b{index:05d}"
        self.room = room
        self.sample = SampleLog() if sampled else None
        self.counter = MarkCounter()
        self.transport: asyncio.Transport | None = None
        self.joined: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.lost_connection = False
        # A receiver resolves `done` once it has counted `expect` markers; sampled ones also
        # call `on_progress` so a sender can keep its in-flight window full.
        self.expect = 0
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.on_progress: Callable[[], None] | None = None
        self._buf = b""
        wire = target.wire
        self._ready_needed = wire.ready_count(room)
        self._ready_seen = 0
        self._ready_tail = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        hello = self.target.wire.hello(self.nick, self.room)
        if hello:
            self.transport.write(hello)  # type: ignore[union-attr]

    def data_received(self, data: bytes) -> None:
        if not self.joined.done():
            self._await_ready(data)
        if b"PING " in data:
            self._pong(data)
        if self.sample is None:
            self.counter.feed(data)
        else:
            self._parse(data)
        if self.counter.count >= self.expect > 0 and not self.done.done():
            self.done.set_result(None)
        if self.on_progress is not None:
            self.on_progress()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost_connection = True
        if not self.closed.done():
            self.closed.set_result(None)
        if not self.joined.done():
            self.joined.set_exception(
                ConnectionError(f"{self.nick}: connection lost before joining")
            )

    @property
    def received(self) -> int:
        return self.counter.count

    def say(self, text: str) -> None:
        assert self.transport is not None
        self.transport.write(self.target.wire.say(self.nick, self.room, text))

    def write(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(data)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def _await_ready(self, data: bytes) -> None:
        token = self.target.wire.ready
        window = self._ready_tail + data
        self._ready_seen += window.count(token)
        self._ready_tail = window[-(len(token) - 1) :]
        if self._ready_seen >= self._ready_needed:
            self.joined.set_result(None)

    def _parse(self, data: bytes) -> None:
        assert self.sample is not None
        now = time.monotonic_ns()
        lines, self._buf = self.target.wire.split(self._buf + data)
        for line in lines:
            self.sample.record(line, now)
            self.counter.count += line.count(MARK)

    def _pong(self, data: bytes) -> None:
        for line in data.split(b"\n"):
            if line.startswith(b"PING "):
                self.write(b"PONG " + line[5:].rstrip(b"\r") + b"\r\n")


async def connect(
    target: Target,
    index: int,
    room: str,
    sampled: bool = False,
    rcvbuf: int | None = None,
    node: int = 0,
) -> BenchClient:
    """Connect one client (to a cluster's `node`-th node) and wait until it is in its room."""
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.setblocking(False)
    try:
        await loop.sock_connect(sock, (target.host, target.port_of(node)))
    except OSError:
        sock.close()
        raise
    _, client = await loop.create_connection(
        lambda: BenchClient(target, index, room, sampled), sock=sock
    )
    if not target.wire.needs_sync:
        await client.joined
    return client
