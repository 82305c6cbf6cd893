"""A flood on each door from a non-exempt address: what reaches others stays within the
flooders' token buckets, and a healthy client's messages still arrive at once.

The server runs as its own process (served.py), so the flooders' own work here cannot
stall it; what is measured is the server.

Eight connections from 127.0.0.2 write lines as fast as the server takes them for the whole
measurement (flood_delay_max is raised so that they are slowed, never let go: the worst case
for everyone else). Healthy clients on 127.0.0.3 send markers to a receiver on 127.0.0.4,
spread over the flood by the flood itself: each marker waits for more of the flood to reach
the receiver. Nothing here sleeps; every wait has a deadline.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import statistics
from collections.abc import AsyncIterator
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from chatclient import TIMEOUT, JsonClient, LineClient
from ircclient import IrcClient
from served import Served, serving

DOORS = ("plain", "json", "irc", "web")
FLOODERS = 8
RATE, BURST = 40.0, 40  # each flooder's bucket (and each healthy sender's)
MARKERS = 100
SENDERS = 4  # healthy connections, so that each sends well within its own burst
FLOOD_PER_MARKER = 8  # flood lines the receiver must see before the next marker goes
# Long enough that what the server reads at once waits less than flood_delay_max behind the
# bucket: the flooders are slowed all along, never let go.
PAD = "x" * 100


class Client:
    """One chat client on one door: says lines to #lobby, yields (nick, text) it hears."""

    async def say(self, text: str) -> None:
        raise NotImplementedError

    async def flood(self, prefix: str, sent: list[int]) -> None:
        """Say lines as fast as the server takes them, counting them in sent[0]."""
        raise NotImplementedError

    def messages(self) -> AsyncIterator[tuple[str, str]]:
        raise NotImplementedError

    async def discard(self) -> None:
        """Read and drop everything, so that this client is never a slow consumer."""
        async for _ in self.messages():
            pass

    async def close(self) -> None:
        raise NotImplementedError


class LineDoorClient(Client):
    def __init__(self, client: LineClient) -> None:
        self.client = client

    def line_for(self, text: str) -> bytes:
        raise NotImplementedError

    def parse(self, line: str) -> tuple[str, str] | None:
        raise NotImplementedError

    async def say(self, text: str) -> None:
        await self.client.send(self.line_for(text), newline=False)

    async def flood(self, prefix: str, sent: list[int]) -> None:
        writer = self.client.writer
        # Made once: the flooders' own work must not be what slows the test's clients.
        chunk = b"".join(self.line_for(f"{prefix}{i} {PAD}") for i in range(200))
        while True:
            writer.write(chunk)
            sent[0] += 200
            await writer.drain()  # waits while the server has stopped reading us

    async def messages(self) -> AsyncIterator[tuple[str, str]]:
        reader = self.client.reader
        while raw := await reader.readline():
            got = self.parse(raw.decode().rstrip("\r\n"))
            if got is not None:
                yield got

    async def close(self) -> None:
        self.client.writer.transport.abort()


class PlainClient(LineDoorClient):
    def line_for(self, text: str) -> bytes:
        return text.encode() + b"\n"

    def parse(self, line: str) -> tuple[str, str] | None:
        if line.startswith("[") and "] " in line:
            nick, text = line[1:].split("] ", 1)
            return nick, text
        return None


class JsonDoorClient(LineDoorClient):
    def line_for(self, text: str) -> bytes:
        return json.dumps({"type": "say", "room": "#lobby", "text": text}).encode() + b"\n"

    def parse(self, line: str) -> tuple[str, str] | None:
        obj = json.loads(line) if line.startswith("{") else {}
        return (obj["from"], obj["text"]) if obj.get("type") == "message" else None


class IrcDoorClient(LineDoorClient):
    def line_for(self, text: str) -> bytes:
        return f"PRIVMSG #lobby :{text}\r\n".encode()

    def parse(self, line: str) -> tuple[str, str] | None:
        parts = line.split(" ", 3)
        if len(parts) == 4 and parts[1] == "PRIVMSG":
            return parts[0][1:].split("!", 1)[0], parts[3][1:]
        return None


class WebDoorClient(Client):
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws

    async def say(self, text: str) -> None:
        await self.ws.send(json.dumps({"type": "say", "room": "#lobby", "text": text}))

    async def messages(self) -> AsyncIterator[tuple[str, str]]:
        try:
            async for frame in self.ws:
                obj = json.loads(frame)
                if obj.get("type") == "message":
                    yield obj["from"], obj["text"]
        except ConnectionClosed:
            return

    async def close(self) -> None:
        self.ws.transport.abort()


class WebFlooder(LineDoorClient):
    """A WebSocket flooder without a client library: frames made by hand and written in
    bulk, as a flooder on a machine of its own would."""

    def line_for(self, text: str) -> bytes:
        payload = json.dumps({"type": "say", "room": "#lobby", "text": text}).encode()
        mask = os.urandom(4)  # a client's frames are masked
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        return b"\x81\xfe" + len(payload).to_bytes(2, "big") + mask + masked

    async def discard(self) -> None:
        while await self.client.reader.read(1 << 16):
            pass

    @classmethod
    async def open(cls, port: int, nick: str, **kw: Any) -> WebFlooder:
        flooder = cls(await LineClient.connect(port, **kw))
        key = base64.b64encode(os.urandom(16)).decode()
        await flooder.client.send(
            f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n",
            newline=False,
        )
        await flooder.client.send(b"\r\n", newline=False)
        head = await asyncio.wait_for(flooder.client.reader.readuntil(b"\r\n\r\n"), TIMEOUT)
        assert head.startswith(b"HTTP/1.1 101 "), head
        hello = json.dumps({"type": "hello", "nick": nick}).encode()
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(hello))
        await flooder.client.send(bytes([0x81, 0x80 | len(hello)]) + mask + masked, False)
        return flooder


async def join(served: Served, door: str, nick: str, address: str) -> Client:
    """A registered client of `door`, from `address`, in #lobby (a flooder's hello may
    still be on its way)."""
    at: dict[str, Any] = {"local_addr": (address, 0)}
    if door == "web" and nick.startswith("ruido"):
        return await WebFlooder.open(served.ports["web"], nick, **at)
    if door == "plain":
        return PlainClient(await LineClient.connect(served.ports["plain"], nick, **at))
    if door == "json":
        return JsonDoorClient(await JsonClient.connect(served.ports["plain"], nick, **at))
    if door == "irc":
        irc = await IrcClient.connect(served.ports["irc"], **at)
        await irc.send(f"NICK {nick}\r\nUSER {nick} 0 * :{nick}\r\nJOIN #lobby")
        await irc.expect(" 366 ")  # the end of #lobby's names: joined
        return IrcDoorClient(irc)
    url = f"ws://127.0.0.1:{served.ports['web']}/ws"
    ws = await connect(url, open_timeout=TIMEOUT, max_queue=None, **at)
    await ws.send(json.dumps({"type": "hello", "nick": nick, "id": 0}))
    while json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))["type"] != "welcome":
        pass
    return WebDoorClient(ws)


@pytest.mark.parametrize("door", DOORS)
async def test_a_flood_stays_within_its_buckets_and_nobody_else_waits(door: str) -> None:
    settings = {"flood_rate": RATE, "flood_burst": BURST, "flood_delay_max": 3600.0}
    async with serving(**settings) as served:
        await flood(served, door)


async def flood(served: Served, door: str) -> None:
    loop = asyncio.get_running_loop()
    receiver = await join(served, door, "oyente", "127.0.0.4")
    senders = [await join(served, door, f"sano{k}", "127.0.0.3") for k in range(SENDERS)]
    flood_seen = 0
    more_flood = asyncio.Condition()
    sent_at: dict[str, float] = {}
    arrived: dict[str, asyncio.Future[float]] = {}

    async def listen() -> None:
        nonlocal flood_seen
        async for nick, text in receiver.messages():
            if nick.startswith("ruido"):
                async with more_flood:
                    flood_seen += 1
                    more_flood.notify_all()
            elif text in arrived and not arrived[text].done():
                arrived[text].set_result(loop.time())

    background = [asyncio.create_task(listen())]
    background += [asyncio.create_task(s.discard()) for s in senders]
    started = loop.time()  # every flooder's bucket is full from its connection on
    flooders = [await join(served, door, f"ruido{k}", "127.0.0.2") for k in range(FLOODERS)]
    attempted = [[0] for _ in flooders]
    background += [asyncio.create_task(f.discard()) for f in flooders]
    background += [
        asyncio.create_task(f.flood(f"f{k}-", attempted[k])) for k, f in enumerate(flooders)
    ]
    latencies: list[float] = []
    try:
        async with asyncio.timeout(20):
            for i in range(MARKERS):
                # Spread the markers over the flood: the burst first, then its steady rate.
                async with more_flood:
                    while flood_seen < i * FLOOD_PER_MARKER:
                        await more_flood.wait()
                marker = f"m{i}"
                arrived[marker] = loop.create_future()
                sent_at[marker] = loop.time()
                await senders[i % SENDERS].say(marker)
                latencies.append(await arrived[marker] - sent_at[marker])
            elapsed = loop.time() - started
            seen = flood_seen
    except TimeoutError:
        raise AssertionError(
            f"{len(latencies)} of {MARKERS} markers arrived in time, behind {flood_seen} "
            "lines of the flood"
        ) from None
    finally:
        for task in background:
            task.cancel()
        ended = await asyncio.gather(*background, return_exceptions=True)
        for client in (receiver, *senders, *flooders):
            await client.close()
    failed = [e for e in ended if isinstance(e, Exception)]
    assert not failed, failed  # no listener nor flooder failed on its own
    p95 = statistics.quantiles(latencies, n=20)[18]
    offered = sum(a[0] for a in attempted)
    allowed = FLOODERS * (BURST + RATE * elapsed + 1)
    print(
        f"{door}: p95 {p95 * 1000:.1f} ms, max {max(latencies) * 1000:.1f} ms over "
        f"{len(latencies)} markers; flood lines heard {seen} of {offered} offered, "
        f"allowed {allowed:.0f} in {elapsed:.2f} s"
    )
    assert p95 < 0.100, sorted(latencies)[-10:]
    assert seen <= allowed
    # A real flood: far more was offered than the buckets let through.
    assert offered > 10 * allowed
    # Slowed down, never let go (flood_delay_max): the worst case for everyone else.
    metrics = await served.metrics()
    assert metrics.get(("tertulia_errors_total", (("kind", "flood"),)), 0) == 0
