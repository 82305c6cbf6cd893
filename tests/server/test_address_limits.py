"""Per-address limits through real sockets: other 127.0.0.0/8 addresses stand in for other
clients, and 127.0.0.1 (exempt, as by default) for the operator's own machine."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from chatclient import TIMEOUT, LineClient
from conftest import ServerFactory
from ircclient import IrcClient, irc_port
from webclient import http, web_port


def at(address: str) -> dict[str, Any]:
    return {"local_addr": (address, 0)}


async def test_one_address_cannot_take_every_place(make_server: ServerFactory) -> None:
    server = await make_server(
        max_per_address=2, max_per_network=10, connect_burst=100, limit_exempt=("127.0.0.1/32",)
    )
    crowd = [await LineClient.connect(server.port, f"c{i}", **at("127.0.0.2")) for i in range(2)]
    refused = await LineClient.connect(server.port, **at("127.0.0.2"))
    lines = await refused.closed()
    assert any("too many connections from your address" in line for line in lines)
    # On IRC the refusal is an IRC line.
    irc_refused = await IrcClient.connect(irc_port(server), **at("127.0.0.2"))
    assert (await irc_refused.closed())[0].startswith("ERROR :Closing link: too many")
    # Another address, and the exempt operator's machine, still get in.
    other = await LineClient.connect(server.port, "otra", **at("127.0.0.3"))
    reply = await http(web_port(server), "/healthz")
    assert reply.status == 200
    # A place freed is a place for the same address again.
    await crowd[0].close()
    await refused.close()
    again = await LineClient.connect(server.port, "again", **at("127.0.0.2"))
    for client in (*crowd[1:], other, again):
        await client.close()
    assert server.stats.errors["refused_per_address"] == 2


async def test_a_network_and_a_connection_rate_are_limited(make_server: ServerFactory) -> None:
    server = await make_server(
        max_per_address=10, max_per_network=3, connect_rate=0.001, connect_burst=2,
        limit_exempt=("127.0.0.1/32",),
    )  # fmt: skip
    first = [await LineClient.connect(server.port, f"r{i}", **at("127.0.0.4")) for i in range(2)]
    hurried = await LineClient.connect(server.port, **at("127.0.0.4"))  # a third, at once
    assert any("too many connections" in line for line in await hurried.closed())
    neighbour = await LineClient.connect(server.port, "n1", **at("127.0.0.5"))  # same /24
    crowded = await LineClient.connect(server.port, **at("127.0.0.6"))
    assert any("too many connections" in line for line in await crowded.closed())
    assert server.stats.errors["refused_rate"] == 1
    assert server.stats.errors["refused_per_network"] == 1
    for client in (*first, hurried, neighbour, crowded):
        await client.close()


async def test_a_flood_is_slowed_then_let_go_and_others_never_notice(
    make_server: ServerFactory,
) -> None:
    server = await make_server(
        flood_rate=5, flood_burst=5, flood_delay_max=2, limit_exempt=("127.0.0.1/32",)
    )
    watcher = await LineClient.connect(server.port, "vigia")
    gentle = await LineClient.connect(server.port, "suave", **at("127.0.0.3"))
    # Eight lines at once: five now, three after a short wait; nothing is lost.
    await gentle.send("\n".join(f"g{i}" for i in range(8)))
    lines = await watcher.lines_until("[suave] g7")
    assert [line for line in lines if "[suave]" in line][-7:] == [f"[suave] g{i}" for i in range(7)]
    # Forty at once is far past the allowance: the flooder is let go with one line, and
    # what it said beyond its bucket never reached anyone.
    flooder = await LineClient.connect(server.port, "ruido", **at("127.0.0.2"))
    await flooder.send("\n".join(f"f{i}" for i in range(40)))
    assert any("too many lines too fast" in line for line in await flooder.closed())
    await watcher.send("marca")
    await gentle.expect("[vigia] marca")
    seen = [line for line in await watcher.lines_until("ruido quit") if "[ruido]" in line]
    assert len(seen) <= 6  # the burst, and at most one line more
    assert server.stats.errors["flood"] == 1
    for client in (watcher, gentle):
        await client.close()


async def test_a_websocket_flood_is_slowed_then_let_go(make_server: ServerFactory) -> None:
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    server = await make_server(
        flood_rate=5, flood_burst=5, flood_delay_max=2, limit_exempt=("127.0.0.1/32",)
    )
    watcher = await LineClient.connect(server.port, "vigia")
    url = f"ws://127.0.0.1:{web_port(server)}/ws"
    loop = asyncio.get_running_loop()
    async with connect(url, local_addr=("127.0.0.2", 0)) as ws:
        started = loop.time()
        await ws.send(json.dumps({"type": "hello", "nick": "ruido", "id": 0}))
        for i in range(40):
            await ws.send(json.dumps({"type": "say", "room": "#lobby", "text": f"f{i}"}))
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                await asyncio.wait_for(ws.recv(), TIMEOUT)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
        elapsed = loop.time() - started
    seen = [line for line in await watcher.lines_until("ruido quit") if "[ruido]" in line]
    # What reached others stayed within the bucket: the burst, then 5 a second.
    assert len(seen) <= 5 + 5 * elapsed + 1
    assert server.stats.errors["flood"] == 1
    await watcher.close()
