"""A cluster at its edges: a node busy with its own messages, a KILL while they are on
their way, Redis stalled past a command's timeout, a nick changed while Redis is away,
and message numbers after Redis restarts empty. Each was a bug found by review."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from chatclient import JsonClient, LineClient
from cluster.conftest import Nodes, until
from redisserver import RedisServer
from tertulia.server.cluster import _Waiting

FAST = {"flood_rate": 100_000.0, "flood_burst": 100_000}  # no flood control for the flood


async def test_a_users_join_comes_before_its_message_on_a_busy_node(nodes: Nodes) -> None:
    one, two = await nodes(2, **FAST)
    watcher = await JsonClient.connect(one.port, "watcher")
    assert (await watcher.request({"type": "join", "room": "#r"}))["type"] == "ok"
    flood = await JsonClient.connect(one.port, "flood")
    assert (await flood.request({"type": "join", "room": "#other"}))["type"] == "ok"
    await until(lambda: "flood" in two.hub.sessions and "watcher" in two.hub.sessions)
    stop = asyncio.Event()

    async def spam() -> None:
        # Node one always has messages of its own on their way round the bus.
        k = 0
        while not stop.is_set():
            await flood.send_obj({"type": "say", "room": "#other", "text": f"f{k}"})
            k += 1
            if k % 20 == 0:
                await asyncio.sleep(0.002)  # pacing the flood, not waiting for anything

    spamming = asyncio.ensure_future(spam())
    try:
        for i in range(20):
            newcomer = await JsonClient.connect(two.port, f"nu{i}")
            await newcomer.send_obj({"type": "join", "room": "#r"})
            await newcomer.send_obj({"type": "say", "room": "#r", "text": f"m{i}"})
            seen: list[str] = []
            while len(seen) < 2:
                obj = await watcher.obj()
                if (
                    obj.get("type") == "join"
                    and obj.get("nick") == f"nu{i}"
                    and obj["room"] == "#r"
                ):
                    seen.append("join")
                elif obj.get("type") == "message" and obj.get("text") == f"m{i}":
                    seen.append("message")
            assert seen == ["join", "message"], i
            await newcomer.close()
    finally:
        stop.set()
        await spamming


async def test_a_kill_reaches_its_victim_while_messages_are_on_their_way(nodes: Nodes) -> None:
    one, two = await nodes(2, operators=(("root", "s3cret"),))
    op = await JsonClient.connect(one.port, "op")
    assert (await op.request({"type": "oper", "name": "root", "password": "s3cret"}))["oper"]
    victim = await LineClient.connect(two.port, "vic")
    await until(lambda: "vic" in one.hub.sessions)
    assert one.cluster is not None
    # A message of node one still on its way round the bus: the KILL's quit waits behind
    # it here, and must reach node two all the same.
    waiting = _Waiting(None, lambda: None, None, time.monotonic())
    waiting.done = False
    one.cluster.gate.order.append(waiting)
    reply = await op.request({"type": "kill", "nick": "vic", "reason": "spam"})
    assert reply["type"] == "ok", reply
    assert any("put off the server by op: spam" in line for line in await victim.closed())
    await until(lambda: "vic" not in two.hub.sessions)
    waiting.done = True
    one.cluster.gate.drain()
    await op.close()


async def test_redis_stalled_past_a_commands_timeout_keeps_each_message_once(
    nodes: Nodes, own_redis: RedisServer
) -> None:
    one, two = await nodes(2, bus=own_redis.url(), cluster_lease=30.0)
    ana = await JsonClient.connect(one.port, "ana")
    watcher = await JsonClient.connect(two.port, "wat")
    await until(lambda: "wat" in one.hub.sessions and "ana" in two.hub.sessions)
    own_redis.freeze()
    try:
        reply = await ana.request({"type": "say", "room": "#lobby", "text": "una vez"})
        assert reply["type"] == "ok", reply
        # The append times out on the node's side while Redis holds it, unread.
        await until(lambda: not one.stats.bus_up, timeout=10)
    finally:
        own_redis.thaw()
    reply = await ana.request({"type": "say", "room": "#lobby", "text": "después"})
    assert reply["type"] == "ok", reply
    texts: list[str] = []
    while "después" not in texts:
        obj: dict[str, Any] = await watcher.obj(timeout=30)
        if obj.get("type") == "message":
            texts.append(obj["text"])
    assert texts == ["una vez", "después"]


async def test_a_nick_changed_while_redis_is_away_leaves_no_ghost(
    nodes: Nodes, own_redis: RedisServer
) -> None:
    one, two = await nodes(2, bus=own_redis.url(), cluster_lease=30.0)
    client = await JsonClient.connect(one.port, "ana")
    await until(lambda: "ana" in two.hub.sessions)
    own_redis.stop_keeping_data()
    await until(lambda: one.cluster is not None and not one.cluster.up)
    ana = one.hub.sessions["ana"]
    one.hub.set_realname(ana, "Ana Real")  # state to tell again...
    one.hub.change_nick(ana, "anita")  # ...then a new nick
    own_redis.start()
    await until(lambda: "anita" in two.hub.sessions, timeout=20)
    await until(lambda: "ana" not in two.hub.sessions)
    assert two.hub.sessions["anita"].realname == "Ana Real"
    assert set(two.hub.rooms["#lobby"].members) == {"anita"}
    again = await JsonClient.connect(two.port, "ana")  # the old nick is free
    await again.close()
    await client.close()


async def test_message_numbers_stay_apart_after_redis_restarts_empty(
    nodes: Nodes, own_redis: RedisServer, make_server: Any
) -> None:
    (one,) = await nodes(1, bus=own_redis.url(), cluster_lease=1.5)
    own_redis.restart_empty()
    # A node that comes now may take the slot the first one numbered with.
    two = await make_server(
        cluster=own_redis.url(), store=one.settings.store, node="n2", cluster_lease=1.5
    )
    assert one.cluster is not None and two.cluster is not None
    first, second = one.cluster, two.cluster
    await until(lambda: first.numbering is not None and second.numbering is not None)
    await until(lambda: first._slot != second._slot, timeout=10)
    ana = await JsonClient.connect(one.port, "ana")
    bea = await JsonClient.connect(two.port, "bea")
    for k in range(5):
        said = await asyncio.gather(
            ana.request({"type": "say", "room": "#lobby", "text": f"a{k}"}),
            bea.request({"type": "say", "room": "#lobby", "text": f"b{k}"}),
        )
        assert [r["type"] for r in said] == ["ok", "ok"], said
        assert said[0]["msgid"] != said[1]["msgid"]
    await ana.close()
    await bea.close()
