"""When the store fails or is slow: nobody gets an unstored message, its sender is told,
and retention never holds a commit."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from chatclient import JsonClient, LineClient
from conftest import ServerFactory
from ircclient import irc
from tertulia.core.events import RoomMessage
from tertulia.server.app import Server
from webclient import http, samples, web_port


async def on_writer(server: Server, sql: str) -> None:
    """Run SQL on the store's own writing connection, in its thread, between two commits."""
    store = server.history.store
    assert store is not None
    await server.history.run(store.db.execute, sql)  # type: ignore[attr-defined]


async def test_a_failed_commit_is_sent_to_nobody_and_its_sender_is_told(server: Server) -> None:
    ana = await JsonClient.connect(server.port, "ana")
    bob = await LineClient.connect(server.port, "bob")
    ivan = await irc(server, "ivan")
    await ivan.send("JOIN #lobby")
    await ivan.expect(" 366 ")
    eva = await LineClient.connect(server.port, "eva")
    # The file becomes read-only to the writer, as on a disk that went read-only.
    await on_writer(server, "PRAGMA query_only = ON")
    reply = await ana.request({"type": "say", "room": "#lobby", "text": "perdido"})
    assert reply["type"] == "error" and reply["code"] == "history_unavailable", reply
    assert reply["text"] == "the history cannot store messages right now: not sent"
    reply = await ana.request({"type": "tell", "to": "bob", "text": "psst perdido"})
    assert reply["code"] == "history_unavailable", reply
    await bob.send("tampoco")
    assert await bob.expect("! ") == "! the history cannot store messages right now: not sent"
    await ivan.send("PRIVMSG #lobby :nada")
    await ivan.expect("the history cannot store messages right now: not sent")

    await on_writer(server, "PRAGMA query_only = OFF")
    ok = await ana.request({"type": "say", "room": "#lobby", "text": "de vuelta"})
    assert ok["type"] == "ok" and ok["msgid"]
    # Nobody received what was not stored: the first message eva sees is the one after.
    missed = await eva.lines_until("[ana] de vuelta")
    assert not [line for line in missed if line.startswith("[")], missed
    page = await ana.request({"type": "history", "room": "#lobby"})
    assert [m["text"] for m in page["messages"]] == ["de vuelta"]
    metrics = samples((await http(web_port(server), "/metrics")).body.decode())
    assert metrics[("tertulia_errors_total", (("kind", "history_write"),))] == 4


async def test_a_message_the_store_refuses_costs_only_itself(server: Server) -> None:
    ana = await JsonClient.connect(server.port, "ana")
    bob = await LineClient.connect(server.port, "bob")
    await on_writer(
        server,
        "CREATE TEMP TRIGGER refuse BEFORE INSERT ON main.messages WHEN new.text = 'veneno' "
        "BEGIN SELECT RAISE(ABORT, 'refused'); END",
    )
    # One read, one group commit: the refused row must not take the others with it.
    lines = [
        {"type": "say", "room": "#lobby", "text": text, "id": i}
        for i, text in enumerate(["antes", "veneno", "después"], 1)
    ]
    await ana.send("\n".join(json.dumps(line) for line in lines))
    replies: dict[int, dict[str, Any]] = {}
    while len(replies) < 3:
        got = await ana.obj()
        if "id" in got:
            replies[got["id"]] = got
    assert [replies[i].get("code", replies[i]["type"]) for i in (1, 2, 3)] == [
        "ok",
        "history_unavailable",
        "ok",
    ]
    said = await bob.lines_until("[ana] después")
    assert "[ana] antes" in said and "[ana] veneno" not in said
    page = await ana.request({"type": "history", "room": "#lobby"})
    assert [m["text"] for m in page["messages"]] == ["antes", "después"]


async def test_a_long_prune_lets_messages_through_between_its_steps(
    make_server: ServerFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # 21,000 messages stored by an earlier run; retention keeps 1,000 of them.
    earlier = await make_server(data_dir=str(tmp_path))
    assert earlier.history.store is not None
    old = [RoomMessage(i, 100.0 + i, "#lobby", "viejo", f"m{i}") for i in range(1, 21_001)]
    await earlier.history.run(earlier.history.store.append, old)
    await earlier.shutdown()
    server = await make_server(data_dir=str(tmp_path))
    store = server.history.store
    assert store is not None
    # A prune of 20,000 messages goes in steps; a message sent after the first one is
    # committed, delivered and acknowledged before the prune is over, not after it (on
    # SQLite a prune on a connection of its own made each commit sleep in SQLite's busy
    # handler, the event loop with it, for as long as a second).
    first_step = asyncio.Event()
    real_step = store.prune_step

    def step(older_than: float | None, cutoffs: dict[str, int], limit: int) -> int:
        deleted: int = real_step(older_than, cutoffs, limit)
        server.loop.call_soon_threadsafe(first_step.set)
        return deleted

    monkeypatch.setattr(store, "prune_step", step)
    pruning = asyncio.ensure_future(server.history.prune(None, 1000))  # as retention does
    await asyncio.wait_for(first_step.wait(), 10)
    ana = await JsonClient.connect(server.port, "ana")
    ok = await ana.request({"type": "say", "room": "#lobby", "text": "mientras tanto"})
    assert ok["type"] == "ok" and not pruning.done()
    await pruning
    page = await ana.request({"type": "history", "room": "#lobby", "limit": 5})
    assert [m["text"] for m in page["messages"]][-1] == "mientras tanto"
    # The cut was planned before it was said: the newest 1,000 then, and it.
    assert (await server.history.read(store.counts))["messages"] == 1001
