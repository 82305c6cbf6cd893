"""Lone surrogates (JSON's `\\ud800`) refused where they enter, so nobody else ever notices."""

from __future__ import annotations

import json
from typing import Any

from chatclient import JsonClient, LineClient
from conftest import ServerFactory
from ircclient import irc
from tertulia.server.app import Server
from webclient import recv, recv_until, ws_open

# json.dumps escapes a lone surrogate as \ud800: exactly what an attacker puts on the wire.
LONE = "\ud800"


async def test_a_lone_surrogate_in_any_field_is_refused_with_one_line(server: Server) -> None:
    ana = await JsonClient.connect(server.port, "ana")
    for request in (
        {"type": "topic", "room": "#lobby", "topic": LONE},
        {"type": "say", "room": "#lobby", "text": f"hola {LONE}"},
        {"type": "tell", "to": "ana", "text": LONE},
        {"type": "join", "room": f"#x{LONE}"},
        {"type": "who", "room": f"#{LONE}"},
        {"type": "nick", "nick": f"a{LONE}"},
        {"type": "part", "room": "#lobby", "reason": LONE},
    ):
        reply = await ana.request(request)
        assert reply["type"] == "error" and reply["code"] == "bad_text", reply
        assert "surrogate" in reply["text"], reply
    # A surrogate in the id itself cannot be echoed back: refused without an id.
    await ana.send_obj({"type": "ping", "id": LONE})
    reply = await ana.expect_obj(type="error")
    assert reply["code"] == "bad_text" and "id" not in reply
    # Still connected and still heard.
    assert (await ana.request({"type": "ping"}))["type"] == "pong"


async def test_a_surrogate_topic_cannot_lock_newcomers_out(server: Server) -> None:
    ana = await JsonClient.connect(server.port, "ana")
    web = await ws_open(server, "wes")
    await web.send(json.dumps({"type": "topic", "room": "#lobby", "topic": LONE, "id": 1}))
    refused = await recv_until(web, "error")
    assert refused["id"] == 1 and refused["code"] == "bad_text"
    await ana.request({"type": "topic", "room": "#lobby", "topic": "gatos"})
    # Every door still lets newcomers in and shows them the topic.
    bob = await LineClient.connect(server.port, "bob")
    await bob.expect("topic of #lobby: gatos")
    jota = await JsonClient.connect(server.port, "jota")
    assert (await jota.request({"type": "who", "room": "#lobby"}))["members"]
    ivan = await irc(server, "ivan")
    await ivan.send("JOIN #lobby")
    await ivan.expect(" 332 ivan #lobby :gatos")
    wes2 = await ws_open(server)
    await wes2.send(json.dumps({"type": "hello", "nick": "wes2"}))
    welcome = await recv_until(wes2, "welcome")
    assert welcome["rooms"][0]["topic"] == "gatos"
    await web.close()
    await wes2.close()


async def test_a_surrogate_message_loses_nothing_else(make_server: ServerFactory) -> None:
    server = await make_server(history_replay=10)
    ana = await JsonClient.connect(server.port, "ana")
    bob = await LineClient.connect(server.port, "bob")
    # One read: a good message, a poisoned one, a good one, in the same group commit.
    lines = [
        {"type": "say", "room": "#lobby", "text": "antes", "id": 1},
        {"type": "say", "room": "#lobby", "text": LONE, "id": 2},
        {"type": "say", "room": "#lobby", "text": "después", "id": 3},
    ]
    await ana.send("\n".join(json.dumps(line) for line in lines))
    replies: dict[int, dict[str, Any]] = {}
    while len(replies) < 3:
        reply = await ana.obj()
        if "id" in reply:
            replies[reply["id"]] = reply
    assert [replies[i].get("code", replies[i]["type"]) for i in (1, 2, 3)] == [
        "ok",
        "bad_text",
        "ok",
    ]
    await bob.expect("[ana] después")
    page = await ana.request({"type": "history", "room": "#lobby"})
    assert [m["text"] for m in page["messages"]] == ["antes", "después"]
    # New plain connections are welcomed and replayed as before: nothing poisoned.
    eva = await LineClient.connect(server.port)
    await eva.expect("last messages in #lobby:")
    replay = await eva.lines_until("end of history")
    assert [line.split(" ", 1)[1] for line in replay] == ["[ana] antes", "[ana] después"]
    web = await ws_open(server, "wes")
    assert [m["text"] for m in (await recv_until(web, "history"))["messages"]] == [
        "antes",
        "después",
    ]
    await web.close()


async def test_a_web_client_is_refused_too_and_stays(server: Server) -> None:
    web = await ws_open(server, "wes")
    await web.send(json.dumps({"type": "say", "room": "#lobby", "text": LONE, "id": 9}))
    reply = await recv(web)
    while reply.get("type") != "error":
        reply = await recv(web)
    assert reply["id"] == 9 and reply["code"] == "bad_text"
    await web.send(json.dumps({"type": "ping", "id": 10}))
    assert (await recv_until(web, "pong"))["id"] == 10
    await web.close()
