"""History through the doors: replay on joining, /history and paging, search, restarts."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from chatclient import JsonClient, LineClient
from conftest import ServerFactory
from tertulia.server.app import Server
from tertulia.store.sqlite import FILE_NAME
from webclient import http, recv_until, samples, web_port, ws_open


async def say_all(client: LineClient, texts: list[str]) -> None:
    for text in texts:
        await client.send(text)


async def test_plain_json_and_web_newcomers_see_the_last_messages(
    make_server: ServerFactory,
) -> None:
    server = await make_server(history_replay=3)
    ana = await LineClient.connect(server.port, "ana")
    bob = await LineClient.connect(server.port, "bob")
    await say_all(ana, ["uno", "dos", "tres", "cuatro"])
    await bob.expect("[ana] cuatro")

    # A plain connection gets the room's history as it arrives, with the time of each line.
    eva = await LineClient.connect(server.port)
    await eva.expect("type your nick")
    await eva.expect("last messages in #lobby:")
    lines = await eva.lines_until("end of history")
    assert [line.split(" ", 1)[1] for line in lines] == ["[ana] dos", "[ana] tres", "[ana] cuatro"]
    assert all(len(line.split(" ", 1)[0]) == 5 for line in lines), lines  # HH:MM today
    await eva.send("eva")
    await eva.expect("you are eva")
    await ana.send("cinco")
    # Becoming a member of the room it already heard does not replay it again.
    after = await eva.lines_until("[ana] cinco")
    assert not any("history" in line or "last messages" in line for line in after), after

    js = await JsonClient.connect(server.port)
    await js.send_obj({"type": "hello", "nick": "jota", "id": 1})
    await js.expect_obj(type="welcome", id=1)
    history = await js.expect_obj(type="history")
    assert history["room"] == "#lobby" and history["more"] is True
    assert [m["text"] for m in history["messages"]] == ["tres", "cuatro", "cinco"]
    assert all(m["from"] == "ana" and m["msgid"] and m["ts"] for m in history["messages"])

    web = await ws_open(server, "wes")
    replay = await recv_until(web, "history")
    assert [m["text"] for m in replay["messages"]] == ["tres", "cuatro", "cinco"]


async def test_joining_another_room_replays_it_and_actions_keep_their_form(
    server: Server,
) -> None:
    ana = await JsonClient.connect(server.port, "ana")
    await ana.request({"type": "join", "room": "#dev"})
    await ana.request({"type": "say", "room": "#dev", "text": "prepara café", "kind": "action"})
    ok = await ana.request({"type": "say", "room": "#dev", "text": "listo"})
    assert ok["type"] == "ok"  # sent once stored, so a newcomer's replay has it
    bob = await LineClient.connect(server.port, "bob")
    await bob.send("/join #dev")
    await bob.expect("last messages in #dev:")
    lines = await bob.lines_until("end of history")
    assert [line.split(" ", 1)[1] for line in lines] == ["* ana prepara café", "[ana] listo"]
    js = await JsonClient.connect(server.port, "jota")
    reply = await js.request({"type": "join", "room": "#dev"})
    assert reply["members"] == ["ana", "bob", "jota"]
    history = await js.expect_obj(type="history", room="#dev")
    assert [(m["kind"], m["text"]) for m in history["messages"]] == [
        ("action", "prepara café"),
        ("message", "listo"),
    ]


async def test_history_pages_back_by_id(server: Server) -> None:
    ana = await LineClient.connect(server.port, "ana")
    witness = await LineClient.connect(server.port, "witness")
    texts = [f"m{i}" for i in range(12)]
    await say_all(ana, texts)
    await witness.expect("[ana] m11")  # delivered, so stored
    js = await JsonClient.connect(server.port, "jota")
    await js.expect_obj(type="history")
    page = await js.request({"type": "history", "room": "#lobby", "limit": 5})
    assert [m["text"] for m in page["messages"]] == texts[-5:] and page["more"] is True
    older = await js.request(
        {"type": "history", "room": "lobby", "limit": 5, "before": page["messages"][0]["msgid"]}
    )
    assert [m["text"] for m in older["messages"]] == texts[-10:-5]
    oldest = await js.request(
        {"type": "history", "room": "#lobby", "limit": 5, "before": older["messages"][0]["msgid"]}
    )
    assert [m["text"] for m in oldest["messages"]] == texts[:2] and oldest["more"] is False
    refused = await js.request({"type": "history", "room": "#lobby", "limit": 10_000})
    assert refused["type"] == "error" and refused["code"] == "bad_request"
    await ana.send("/history 3")
    await ana.expect("last messages in #lobby:")
    lines = await ana.lines_until("end of history")
    assert [line.split(" ", 1)[1] for line in lines] == ["[ana] m9", "[ana] m10", "[ana] m11"]
    await ana.send("/history lots")
    await ana.expect("! usage: /history [N]")


async def test_search_folds_accents_and_case_pages_and_stays_in_your_rooms(
    server: Server,
) -> None:
    ana = await LineClient.connect(server.port, "ana")
    witness = await LineClient.connect(server.port, "witness")
    await say_all(ana, ["La CANCIÓN del verano", "otra cosa", "una canción nueva", "Cancion!"])
    await witness.expect("[ana] Cancion!")
    await ana.send("/join #secreto")
    await ana.expect("you are ana, in #secreto")
    await ana.send("canción secreta")
    js = await JsonClient.connect(server.port, "jota")
    found = await js.request({"type": "search", "room": "#lobby", "words": "cancion"})
    assert [m["text"] for m in found["messages"]] == [
        "Cancion!",
        "una canción nueva",
        "La CANCIÓN del verano",
    ]
    both = await js.request({"type": "search", "room": "#lobby", "words": "canción VERANO"})
    assert [m["text"] for m in both["messages"]] == ["La CANCIÓN del verano"]
    page = await js.request({"type": "search", "room": "#lobby", "words": "cancion", "limit": 2})
    assert len(page["messages"]) == 2 and page["more"] is True
    rest = await js.request(
        {
            "type": "search", "room": "#lobby", "words": "cancion", "limit": 2,
            "before": page["messages"][-1]["msgid"],
        }
    )  # fmt: skip
    assert [m["text"] for m in rest["messages"]] == ["La CANCIÓN del verano"]
    # FTS syntax in the words is only words.
    odd = await js.request({"type": "search", "room": "#lobby", "words": 'NEAR(") OR *'})
    assert odd["type"] == "search" and odd["messages"] == []
    # jota is not in #secreto: its messages are not jota's to search.
    hidden = await js.request({"type": "search", "room": "#secreto", "words": "cancion"})
    assert hidden["type"] == "error" and hidden["code"] == "not_in_room"
    await ana.send("/search CANCION secreta")
    await ana.expect("found in #secreto, newest first:")
    lines = await ana.lines_until("end of results")
    assert [line.split(" ", 1)[1] for line in lines] == ["[ana] canción secreta"]
    await ana.send("/search nada de esto")
    await ana.expect("nothing found in #secreto")


async def test_a_restarted_server_keeps_history_and_ids_keep_growing(
    make_server: ServerFactory, tmp_path: Path
) -> None:
    first = await make_server(data_dir=str(tmp_path))
    ana = await JsonClient.connect(first.port, "ana")
    ids = []
    for text in ("antes", "del", "reinicio"):
        ok = await ana.request({"type": "say", "room": "#lobby", "text": text})
        ids.append(ok["msgid"])
    await first.shutdown()
    second = await make_server(data_dir=str(tmp_path))
    bob = await JsonClient.connect(second.port)
    await bob.send_obj({"type": "hello", "nick": "bob"})
    history = await bob.expect_obj(type="history")
    assert [m["text"] for m in history["messages"]] == ["antes", "del", "reinicio"]
    assert [m["msgid"] for m in history["messages"]] == ids
    ok = await bob.request({"type": "say", "room": "#lobby", "text": "después"})
    assert ok["msgid"] > max(ids)


async def test_without_history_nothing_is_replayed_or_written(
    make_server: ServerFactory, tmp_path: Path
) -> None:
    server = await make_server(history=False, data_dir=str(tmp_path / "none"))
    ana = await LineClient.connect(server.port, "ana")
    await ana.send("efímero")
    js = await JsonClient.connect(server.port, "jota")
    reply = await js.request({"type": "history", "room": "#lobby"})
    assert reply["type"] == "error" and reply["code"] == "history_off"
    await ana.send("/history")
    await ana.expect("! this server keeps no history")
    assert not (tmp_path / "none").exists()


def _texts(obj: dict[str, Any]) -> list[str]:
    return [m["text"] for m in obj["messages"]]


async def test_web_clients_page_history_too(server: Server) -> None:
    ana = await LineClient.connect(server.port, "ana")
    witness = await LineClient.connect(server.port, "witness")
    await say_all(ana, ["a", "b", "c", "d"])
    await witness.expect("[ana] d")
    web = await ws_open(server, "wes")
    replay = await recv_until(web, "history")
    assert _texts(replay) == ["a", "b", "c", "d"]
    before = replay["messages"][2]["msgid"]
    await web.send(json.dumps({"type": "history", "room": "#lobby", "before": before, "id": 5}))
    page = await recv_until(web, "history")
    assert page["id"] == 5 and _texts(page) == ["a", "b"]


async def test_a_burst_is_stored_in_a_few_transactions(server: Server) -> None:
    ana = await LineClient.connect(server.port, "ana")
    witness = await LineClient.connect(server.port, "witness")
    await ana.send("".join(f"ráfaga {i}\n" for i in range(2000)), newline=False)
    await witness.expect("[ana] ráfaga 1999")
    metrics = samples((await http(web_port(server), "/metrics")).body.decode())
    assert metrics[("tertulia_history_stored_total", ())] == 2000
    # Group commit: the lines of each read share a transaction, not one commit per message.
    assert metrics[("tertulia_history_commits_total", ())] <= 200


async def test_a_message_is_searchable_within_a_second_of_its_delivery(
    make_server: ServerFactory, tmp_path: Path
) -> None:
    server = await make_server(data_dir=str(tmp_path))
    ana = await LineClient.connect(server.port, "ana")
    bob = await LineClient.connect(server.port, "bob")
    await ana.send("una zanahoria enorme")
    await bob.expect("[ana] una zanahoria enorme")
    delivered = time.monotonic()
    # Nobody searches (a search would index first): the index catches up on its own.
    db = sqlite3.connect(f"file:{tmp_path / FILE_NAME}?mode=ro", uri=True)
    try:
        query = "SELECT rowid FROM messages_fts WHERE messages_fts MATCH 'zanahoria'"
        # The file is the only witness (no event to wait on): read it until it answers.
        async with asyncio.timeout(1.0):
            while not db.execute(query).fetchall():  # noqa: ASYNC110
                await asyncio.sleep(0.02)
    finally:
        db.close()
    assert time.monotonic() - delivered < 1.0
    metrics = samples((await http(web_port(server), "/metrics")).body.decode())
    assert metrics[("tertulia_history_indexed_total", ())] >= 1


async def test_retention_prunes_in_the_background(
    make_server: ServerFactory, tmp_path: Path
) -> None:
    first = await make_server(data_dir=str(tmp_path))
    ana = await JsonClient.connect(first.port, "ana")
    for i in range(5):
        await ana.request({"type": "say", "room": "#lobby", "text": f"viejo {i}"})
    await first.shutdown()
    # Keep two per room: a pass at start-up, before the rooms' last messages are loaded.
    second = await make_server(data_dir=str(tmp_path), history_keep_messages=2)
    js = await JsonClient.connect(second.port)
    await js.send_obj({"type": "hello", "nick": "jota"})
    assert _texts(await js.expect_obj(type="history")) == ["viejo 3", "viejo 4"]
    page = await js.request({"type": "history", "room": "#lobby", "limit": 50})
    assert _texts(page) == ["viejo 3", "viejo 4"]


async def test_a_closed_rooms_history_stays_with_it(server: Server) -> None:
    ana = await JsonClient.connect(server.port, "ana")
    await ana.request({"type": "join", "room": "#secreto"})
    await ana.request({"type": "join", "room": "#abierto"})
    # ana, its operator, gives the room a key (+k), as MODE #secreto +k llave would.
    server.hub.set_modes(server.hub.session("ana"), "#secreto", [(True, "k", "llave")])
    await ana.request({"type": "say", "room": "#secreto", "text": "el plan secreto"})
    await ana.request({"type": "say", "room": "#abierto", "text": "nada que ocultar"})
    await ana.request({"type": "part", "room": "#secreto"})
    await ana.request({"type": "part", "room": "#abierto"})
    assert "#secreto" not in server.hub.rooms  # gone with its last member, key and all
    bob = await JsonClient.connect(server.port, "bob")
    await bob.request({"type": "join", "room": "#secreto"})  # made anew, without a key
    await bob.request({"type": "join", "room": "#abierto"})
    replay = await bob.expect_obj(type="history", room="#abierto")
    assert _texts(replay) == ["nada que ocultar"]
    for request in (
        {"type": "history", "room": "#secreto"},
        {"type": "search", "room": "#secreto", "words": "plan"},
    ):
        assert _texts(await bob.request(request)) == []
    # Whoever was there while it was closed kept seeing it, and the store kept it.
    assert [m.text for m in server.hub.recent["#secreto"]] == ["el plan secreto"]
