"""When the store fails or is slow: nobody gets an unstored message, its sender is told,
and retention never holds a commit."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import pytest

from chatclient import JsonClient, LineClient
from conftest import ServerFactory
from ircclient import irc
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


async def test_a_long_prune_never_delays_a_message(
    make_server: ServerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = await make_server(history_keep_messages=1000)
    store = server.history.store
    assert store is not None
    # A prune that takes as long as the test wants: it waits for `release` first.
    started, release = threading.Event(), threading.Event()
    real_prune = store.prune

    def long_prune(older_than: float | None, keep_per_room: int | None) -> int:
        started.set()
        release.wait(30)
        deleted: int = real_prune(older_than, keep_per_room)
        return deleted

    monkeypatch.setattr(store, "prune", long_prune)
    pruning = asyncio.ensure_future(server._prune())
    try:
        assert await asyncio.to_thread(started.wait, 10), "the prune never started"
        ana = await JsonClient.connect(server.port, "ana")
        ok = await ana.request({"type": "say", "room": "#lobby", "text": "mientras tanto"})
        assert ok["type"] == "ok" and not pruning.done()
    finally:
        release.set()
    await pruning
