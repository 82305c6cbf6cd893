"""A cluster when things break: a node killed, Redis stopped for half a minute, Redis
restarted with nothing in it."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import redis

from chatclient import JsonClient
from cluster.conftest import Nodes, until
from redisserver import RedisServer
from served import serving
from tertulia.server.app import Server
from webclient import http, web_port

LEASE = 3.0  # seconds: a short lease, so that a dead node is found out quickly
OUTAGE = 30.0  # seconds Redis stays stopped while people talk


async def health(server: Server) -> dict[str, Any]:
    reply = await http(web_port(server), "/healthz")
    found: dict[str, Any] = json.loads(reply.body)
    return found


async def texts(client: JsonClient, count: int, seen: list[dict[str, Any]]) -> list[str]:
    """The texts of the next `count` room messages; every object read is kept in `seen`."""
    found: list[str] = []
    while len(found) < count:
        obj = await client.obj(timeout=OUTAGE + 30)
        seen.append(obj)
        if obj.get("type") == "message":
            found.append(obj["text"])
    return found


async def test_a_killed_node_frees_its_nicks_and_loses_nothing_it_acknowledged(
    nodes: Nodes,
) -> None:
    one, two = await nodes(2, cluster_lease=LEASE)
    ana = await JsonClient.connect(one.port, "ana")
    bob = await JsonClient.connect(two.port, "bob")
    async with serving(
        cluster=one.settings.cluster, store=one.settings.store, node="doomed", cluster_lease=LEASE
    ) as doomed:
        kat = await JsonClient.connect(doomed.ports["plain"], "kat")
        await ana.expect_obj(type="join", nick="kat")
        acknowledged = []
        for k in range(50):
            reply = await kat.request({"type": "say", "room": "#lobby", "text": f"kat {k}"})
            assert reply["type"] == "ok", reply
            acknowledged.append(f"kat {k}")
        doomed.proc.kill()
        await doomed.proc.wait()
    # Within the lease (and a heartbeat), every node lets kat go and the nick is free.
    quit_ = await ana.expect_obj(type="quit", nick="kat")
    assert quit_["nick"] == "kat"
    await until(lambda: "kat" not in two.hub.sessions, timeout=3 * LEASE)
    again = await JsonClient.connect(two.port, "kat")
    await until(lambda: "kat" in one.hub.sessions)
    # The others never noticed anything but kat's going.
    reply = await ana.request({"type": "say", "room": "#lobby", "text": "seguimos"})
    assert reply["type"] == "ok", reply
    await bob.expect_obj(type="message", text="seguimos")
    # Whatever the dead node acknowledged is in the history, once and in order.
    page = await bob.request({"type": "history", "room": "#lobby", "limit": 100})
    stored = [m["text"] for m in page["messages"] if m["text"].startswith("kat ")]
    assert stored == acknowledged
    for client in (ana, bob, kat, again):
        await client.close()


async def test_redis_stopped_for_half_a_minute_loses_nothing(
    nodes: Nodes, own_redis: RedisServer
) -> None:
    servers = await nodes(3, bus=own_redis.url())
    listeners = [await JsonClient.connect(s.port, f"oye{i}") for i, s in enumerate(servers)]
    senders = [await JsonClient.connect(s.port, f"dice{i}") for i, s in enumerate(servers)]
    await until(lambda: all(len(s.hub.sessions) == 6 for s in servers))
    per_node = 20
    own_redis.stop_keeping_data()
    seen: list[list[dict[str, Any]]] = [[], [], []]
    heard = [
        asyncio.ensure_future(texts(c, 3 * per_node, seen[i])) for i, c in enumerate(listeners)
    ]
    # Each node goes on serving its own users: their messages are stored and delivered here.
    for i, sender in enumerate(senders):
        for k in range(per_node):
            reply = await sender.request({"type": "say", "room": "#lobby", "text": f"{i}-{k}"})
            assert reply["type"] == "ok", reply
    await until(
        lambda: all(sum(o.get("type") == "message" for o in seen[i]) >= per_node for i in range(3))
    )
    for i in range(3):
        local = [o["text"] for o in seen[i] if o.get("type") == "message"][:per_node]
        assert local == [f"{i}-{k}" for k in range(per_node)]
        state = await health(servers[i])
        assert state["status"] == "degraded" and state["bus"] == "unavailable", state
    await asyncio.sleep(OUTAGE)  # the outage itself: nothing to wait for but time
    own_redis.start()
    # Back: every message reaches every node, once, each node's in its order.
    got = await asyncio.gather(*heard)
    for i in range(3):
        assert sorted(got[i]) == sorted(f"{n}-{k}" for n in range(3) for k in range(per_node))
        for n in range(3):
            assert [t for t in got[i] if t.startswith(f"{n}-")] == [
                f"{n}-{k}" for k in range(per_node)
            ]
        # Nobody was taken for gone meanwhile.
        assert not [o for o in seen[i] if o.get("type") == "quit"]
    await until(lambda: all(s.stats.bus_up for s in servers))
    assert (await health(servers[0]))["status"] == "ok"
    for client in listeners + senders:
        await client.close()


async def test_redis_restarted_empty_hears_every_node_again(
    nodes: Nodes, own_redis: RedisServer, make_server: Any
) -> None:
    one, two = await nodes(2, bus=own_redis.url(), cluster_lease=LEASE)
    ana = await JsonClient.connect(one.port, "ana")
    bob = await JsonClient.connect(two.port, "bob")
    await until(lambda: "ana" in two.hub.sessions and "bob" in one.hub.sessions)
    own_redis.restart_empty()
    # The nodes write their state again: sessions, nick leases, their own lease.
    client = redis.Redis.from_url(own_redis.url())
    await until(
        lambda: (
            client.hlen("tertulia:sessions:n1") == 1 and bool(client.exists("tertulia:nick:bob"))
        ),
        timeout=4 * LEASE,
    )
    reply = await ana.request({"type": "say", "room": "#lobby", "text": "de nuevo"})
    assert reply["type"] == "ok", reply
    await bob.expect_obj(type="message", text="de nuevo")
    # A node that joins now finds everyone.
    three = await make_server(
        cluster=own_redis.url(), store=one.settings.store, node="n3", cluster_lease=LEASE
    )
    assert {"ana", "bob"} <= set(three.hub.sessions)
    for c in (ana, bob):
        await c.close()


async def test_a_node_restarted_under_its_name_after_a_crash(nodes: Nodes) -> None:
    (one,) = await nodes(1, cluster_lease=LEASE)
    ana = await JsonClient.connect(one.port, "ana")
    settings = {"cluster": one.settings.cluster, "store": one.settings.store,
                "node": "fixed", "cluster_lease": LEASE}  # fmt: skip
    async with serving(**settings) as first:
        kat = await JsonClient.connect(first.ports["plain"], "kat")
        await ana.expect_obj(type="join", nick="kat")
        first.proc.kill()
        await first.proc.wait()
    # Started again at once, as a service manager would: it waits for its old lease to
    # lapse, and the others drop the users of the one that crashed.
    async with serving(**settings) as second:
        quit_ = await ana.expect_obj(type="quit", nick="kat")
        assert quit_["nick"] == "kat"
        lia = await JsonClient.connect(second.ports["plain"], "lia")
        await ana.expect_obj(type="join", nick="lia")
        reply = await lia.request({"type": "say", "room": "#lobby", "text": "de vuelta"})
        assert reply["type"] == "ok", reply
        await ana.expect_obj(type="message", text="de vuelta")
        await lia.close()
    await kat.close()
    await ana.close()
