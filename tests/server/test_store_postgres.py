"""The server with its history in a real PostgreSQL: chat, history and search, a restart,
and PostgreSQL going away for ten seconds while people talk."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from chatclient import JsonClient, LineClient
from conftest import ServerFactory
from ircclient import irc
from pgserver import PgServer
from tertulia.server.app import Server
from tertulia.server.history import STALL_AFTER
from webclient import http, samples, web_port

OUTAGE = 10.0  # seconds PostgreSQL stays stopped while clients talk
NOT_SENT = "the history cannot store messages right now: not sent"


async def history_texts(client: JsonClient, room: str = "#lobby") -> list[str]:
    """Every message of a room's history, oldest first, page by page."""
    texts: list[str] = []
    before = None
    while True:
        request: dict[str, Any] = {"type": "history", "room": room, "limit": 200}
        if before is not None:
            request["before"] = before
        page = await client.request(request)
        assert page["type"] == "history", page
        texts[:0] = [m["text"] for m in page["messages"]]
        if not page["more"]:
            return texts
        before = page["messages"][0]["msgid"]


async def health(server: Server) -> dict[str, Any]:
    reply = await http(web_port(server), "/healthz")
    assert reply.status == 200
    found: dict[str, Any] = json.loads(reply.body)
    return found


async def test_chat_history_and_search_live_in_postgresql(
    make_server: ServerFactory, pg_url: str
) -> None:
    server = await make_server(store=pg_url)
    ana = await JsonClient.connect(server.port, "ana")
    bob = await LineClient.connect(server.port, "bob")
    for text in ("una canción", "otra cosa", "Canción de cuna"):
        reply = await ana.request({"type": "say", "room": "#lobby", "text": text})
        assert reply["type"] == "ok", reply
    await bob.lines_until("[ana] Canción de cuna")
    found = await ana.request({"type": "search", "room": "#lobby", "words": "CANCION"})
    assert [m["text"] for m in found["messages"]] == ["Canción de cuna", "una canción"]
    assert (await health(server))["store"] == "ok"
    await ana.close()
    await bob.close()
    await server.shutdown()

    # Another server on the same database: the history is there, ids go on from it.
    again = await make_server(store=pg_url)
    cleo = await JsonClient.connect(again.port, "cleo")
    assert await history_texts(cleo) == ["una canción", "otra cosa", "Canción de cuna"]
    reply = await cleo.request({"type": "say", "room": "#lobby", "text": "después"})
    assert reply["msgid"] == 4


@pytest.fixture
def own_pg() -> Iterator[PgServer]:
    """A PostgreSQL of this test's own, to stop and start."""
    pg = PgServer()
    try:
        pg.start()
        yield pg
    finally:
        pg.destroy()


@pytest.mark.timeout(180)
async def test_postgresql_away_for_ten_seconds_loses_nothing_acknowledged(
    make_server: ServerFactory, own_pg: PgServer
) -> None:
    server = await make_server(store=own_pg.new_database())
    talker = await JsonClient.connect(server.port, "habla")
    listener = await LineClient.connect(server.port, "oye")
    plain = await LineClient.connect(server.port, "llano")
    ivan = await irc(server, "ivan")
    await ivan.send("JOIN #lobby")
    await ivan.expect(" 366 ")
    acked: list[str] = []
    refused: list[dict[str, Any]] = []
    counter = iter(range(1_000_000))

    async def say() -> dict[str, Any]:
        text = f"m{next(counter)}"
        reply = await talker.request({"type": "say", "room": "#lobby", "text": text})
        if reply["type"] == "ok":
            acked.append(text)
        else:
            refused.append(reply)
        return reply

    for _ in range(20):
        assert (await say())["type"] == "ok"

    await asyncio.to_thread(own_pg.stop)
    stopped = time.monotonic()
    # People keep talking for the whole outage; each message is refused with a reason,
    # or held a moment and then refused, never dropped without a word.
    while time.monotonic() - stopped < OUTAGE:
        reply = await say()
        assert reply["type"] == "error", reply
        assert reply["code"] == "history_unavailable", reply
        if len(refused) == 1:
            state = await health(server)
            assert (state["status"], state["store"]) == ("degraded", "unavailable")
            metrics = samples((await http(web_port(server), "/metrics")).body.decode())
            assert metrics[("tertulia_store_up", ())] == 0
            assert metrics[("tertulia_store_failures_total", ())] >= 1
            # Every door's sender is told.
            await plain.send("perdido")
            assert await plain.expect("! ") == f"! {NOT_SENT}"
            await ivan.send("PRIVMSG #lobby :perdido")
            await ivan.expect(NOT_SENT)
    assert len(refused) >= 2

    await asyncio.to_thread(own_pg.start)
    # Back by itself, without a restart: the first message PostgreSQL takes again.
    deadline = time.monotonic() + 60
    while (await say())["type"] != "ok":
        assert time.monotonic() < deadline, "the server did not come back to PostgreSQL"
    for _ in range(5):
        assert (await say())["type"] == "ok"
    assert (await health(server))["status"] == "ok"

    # What the listener received is exactly what was acknowledged, and all of it is in
    # the history, once and in order.
    lines = await listener.lines_until(f"[habla] {acked[-1]}")
    received = [line.removeprefix("[habla] ") for line in lines if line.startswith("[habla] ")]
    assert [*received, acked[-1]] == acked
    auditor = await JsonClient.connect(server.port, "audita")
    assert await history_texts(auditor) == acked


@pytest.mark.timeout(120)
async def test_a_frozen_postgresql_gets_senders_told_within_seconds(
    make_server: ServerFactory, own_pg: PgServer
) -> None:
    server = await make_server(store=own_pg.new_database())
    talker = await JsonClient.connect(server.port, "habla")
    listener = await LineClient.connect(server.port, "oye")
    ok = await talker.request({"type": "say", "room": "#lobby", "text": "antes"})
    assert ok["type"] == "ok"
    own_pg.freeze()  # its kernel still takes the bytes; nothing answers them
    try:
        # The commit under way gets no answer: after a few seconds its sender is told,
        # and whoever sends while the store is frozen is told at once.
        stuck = await talker.request({"type": "say", "room": "#lobby", "text": "congelado"})
        assert stuck["code"] == "history_unavailable", stuck
        state = await health(server)
        assert (state["status"], state["store"]) == ("degraded", "unavailable")
        started = time.monotonic()
        at_once = await talker.request({"type": "say", "room": "#lobby", "text": "mientras"})
        assert at_once["code"] == "history_unavailable", at_once
        # Told before the store answers: the freeze is still on.
        assert time.monotonic() - started < STALL_AFTER
    finally:
        own_pg.thaw()
    deadline = time.monotonic() + 60
    while True:
        reply = await talker.request({"type": "say", "room": "#lobby", "text": "después"})
        if reply["type"] == "ok":
            break
        assert time.monotonic() < deadline, "the server did not come back to PostgreSQL"
    # Nobody received what its sender was told was not sent.
    lines = await listener.lines_until("[habla] después")
    said = [line for line in lines if line.startswith("[habla] ")]
    assert said == ["[habla] antes"]


async def test_a_quick_restart_of_postgresql_refuses_nothing(
    make_server: ServerFactory, own_pg: PgServer
) -> None:
    server = await make_server(store=own_pg.new_database())
    talker = await JsonClient.connect(server.port, "habla")
    ok = await talker.request({"type": "say", "room": "#lobby", "text": "antes"})
    assert ok["type"] == "ok"
    # A restart (a minor upgrade, say) closes every connection the pool holds; the next
    # message finds PostgreSQL back and must not be refused on a dead connection.
    await asyncio.to_thread(own_pg.stop)
    await asyncio.to_thread(own_pg.start)
    after = await talker.request({"type": "say", "room": "#lobby", "text": "después"})
    assert after["type"] == "ok", after
    assert (await health(server))["status"] == "ok"
