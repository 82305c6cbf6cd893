"""One chat across three nodes: every door, one order, one owner per nick, one history."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from chatclient import JsonClient, LineClient
from cluster.conftest import Nodes, until
from ircclient import irc
from webclient import http, recv_until, samples, web_port, ws_open


async def test_a_message_reaches_every_door_of_every_node(nodes: Nodes) -> None:
    one, two, three = await nodes(3)
    ana = await JsonClient.connect(one.port, "ana")
    bob = await LineClient.connect(two.port, "bob")
    cleo = await irc(three, "cleo")
    await cleo.send("JOIN #lobby")
    await cleo.expect(" 366 ")
    # Everyone sees everyone, whichever node serves them.
    await ana.expect_obj(type="join", nick="cleo")
    reply = await ana.request({"type": "say", "room": "#lobby", "text": "hola a todos"})
    assert reply["type"] == "ok", reply
    await bob.expect("[ana] hola a todos")
    await cleo.expect(":ana!")
    await bob.send("qué tal")
    await ana.expect_obj(type="message", text="qué tal", **{"from": "bob"})
    await cleo.expect("PRIVMSG #lobby :qué tal")
    for client in (ana, bob, cleo):
        await client.close()


COUNT = 150  # messages each sender sends at once


async def messages(client: JsonClient, count: int) -> list[str]:
    """The texts of the next `count` room messages a client receives."""
    texts: list[str] = []
    while len(texts) < count:
        obj = await client.obj()
        if obj.get("type") == "message":
            texts.append(obj["text"])
    return texts


async def test_every_node_delivers_a_room_in_one_order(nodes: Nodes) -> None:
    servers = await nodes(3)
    listeners = [await JsonClient.connect(s.port, f"oye{i}") for i, s in enumerate(servers)]
    senders = [await JsonClient.connect(s.port, f"dice{i}") for i, s in enumerate(servers)]
    await until(lambda: all(len(s.hub.sessions) == 6 for s in servers))

    async def send(client: JsonClient, i: int) -> None:
        for k in range(COUNT):
            await client.send_obj({"type": "say", "room": "#lobby", "text": f"{i}-{k}"})

    heard = asyncio.gather(*(messages(c, 3 * COUNT) for c in listeners))
    await asyncio.gather(*(send(c, i) for i, c in enumerate(senders)))
    seen = await heard
    # One order for everyone, whichever node serves them, and each sender's in its order.
    assert seen[0] == seen[1] == seen[2]
    for i in range(3):
        own = [t for t in seen[0] if t.startswith(f"{i}-")]
        assert own == [f"{i}-{k}" for k in range(COUNT)]
    # The senders' messages were interleaved, not told node by node.
    assert len({t.split("-")[0] for t in seen[0][: COUNT + 10]}) > 1


async def test_one_nick_one_owner_across_nodes(nodes: Nodes) -> None:
    one, two, three = await nodes(3)
    # Taken on one node and known to the others: refused at once elsewhere.
    ana = await JsonClient.connect(one.port, "ana")
    await until(lambda: "ana" in two.hub.sessions)
    other = await LineClient.connect(two.port)
    await other.send("ana")
    assert "in use" in await other.expect("in use")
    # Taken on two nodes at the same moment: exactly one keeps it, the other is renamed.
    for attempt in range(5):
        nick = f"zoe{attempt}"
        a, b = await asyncio.gather(
            JsonClient.connect(two.port, nick), JsonClient.connect(three.port, nick)
        )

        def owners(nick: str = nick) -> list[str]:
            found = []
            for server in (two, three):
                session = server.hub.sessions.get(nick)
                if session is not None and session.id > 0:
                    found.append(server.cluster.node if server.cluster else "")
            return found

        await until(lambda n=nick: len(owners()) == 1 and n in one.hub.sessions)  # type: ignore[misc]
        # Every node agrees on who it is.
        holder = owners()[0]
        for server in (one, two, three):
            session = server.hub.sessions[nick]
            assert getattr(session, "node", holder) == holder
        await a.close()
        await b.close()
    await ana.close()
    await other.close()


async def test_history_search_and_private_messages_across_nodes(nodes: Nodes) -> None:
    one, two = await nodes(2)
    ana = await JsonClient.connect(one.port, "ana")
    bob = await JsonClient.connect(two.port, "bob")
    await until(lambda: "ana" in two.hub.sessions and "bob" in one.hub.sessions)
    for text in ("una canción", "otra cosa", "Canción de cuna"):
        reply = await ana.request({"type": "say", "room": "#lobby", "text": text})
        assert reply["type"] == "ok", reply
    await messages(bob, 3)
    page = await bob.request({"type": "history", "room": "#lobby", "limit": 10})
    assert [m["text"] for m in page["messages"]] == ["una canción", "otra cosa", "Canción de cuna"]
    found = await bob.request({"type": "search", "room": "#lobby", "words": "cancion"})
    assert [m["text"] for m in found["messages"]] == ["Canción de cuna", "una canción"]
    reply = await bob.request({"type": "tell", "to": "ana", "text": "en privado"})
    assert reply["type"] == "ok", reply
    private = await ana.expect_obj(type="private")
    assert private["text"] == "en privado" and private["from"] == "bob"
    # A reply's id is bigger than what it answers, whichever node numbers it.
    assert reply["msgid"] > page["messages"][-1]["msgid"]


async def test_rooms_topics_and_a_node_that_comes_later(nodes: Nodes, make_server: Any) -> None:
    one, two = await nodes(2)
    ana = await JsonClient.connect(one.port, "ana")
    assert (await ana.request({"type": "join", "room": "#cafe"}))["type"] == "ok"
    reply = await ana.request({"type": "topic", "room": "#cafe", "topic": "solo café"})
    assert reply["type"] == "ok", reply
    bob = await JsonClient.connect(two.port, "bob")
    joined = await bob.request({"type": "join", "room": "#cafe"})
    assert joined["type"] == "ok", joined
    await ana.expect_obj(type="join", nick="bob", room="#cafe")
    await until(lambda: two.hub.rooms["#cafe"].topic == "solo café")
    # A third node started now reads the others' users, rooms and topics.
    store = one.settings.store
    three = await make_server(cluster=one.settings.cluster, store=store, node="n3")
    assert set(three.hub.rooms["#cafe"].members) == {"ana", "bob"}
    assert three.hub.rooms["#cafe"].topic == "solo café"
    assert "ana" in three.hub.rooms["#cafe"].operators
    cleo = await LineClient.connect(three.port, "cleo")
    await cleo.send("/who #cafe")
    await cleo.expect("bob")
    await ana.close()
    # Gone from every node.
    await until(lambda: "ana" not in three.hub.sessions and "ana" not in two.hub.sessions)
    await bob.close()
    await cleo.close()


async def test_moderation_typing_and_redaction_across_nodes(nodes: Nodes) -> None:
    one, two, three = await nodes(3)
    ana = await JsonClient.connect(one.port, "ana")
    assert (await ana.request({"type": "join", "room": "#sala"}))["type"] == "ok"
    # Once node two knows the room has its operator (whoever joins a room that looks
    # empty on its node at that moment runs it too: docs/cluster.md).
    await until(lambda: "ana" in two.hub.rooms["#sala"].operators)
    bob = await ws_open(two, "bob")
    await bob.send(json.dumps({"type": "join", "room": "#sala", "id": 1}))
    await recv_until(bob, "ok")
    cleo = await irc(three, "cleo")
    await cleo.send("JOIN #sala")
    await cleo.expect(" 366 ")
    await ana.expect_obj(type="join", nick="cleo", room="#sala")
    # The room's operator, on one node, moderates it on all of them.
    reply = await ana.request({"type": "mode", "room": "#sala", "modes": "+m"})
    assert reply["type"] == "ok", reply
    assert (await recv_until(bob, "mode"))["modes"] == "+m"
    await cleo.expect("MODE #sala +m")
    await until(lambda: "m" in two.hub.rooms["#sala"].modes)
    await bob.send(json.dumps({"type": "say", "room": "#sala", "text": "¿se oye?", "id": 2}))
    assert (await recv_until(bob, "error"))["code"] == "moderated"
    reply = await ana.request({"type": "mode", "room": "#sala", "modes": "+v bob"})
    assert reply["type"] == "ok", reply
    await recv_until(bob, "mode")
    await until(lambda: "bob" in two.hub.rooms["#sala"].voiced)
    await bob.send(json.dumps({"type": "say", "room": "#sala", "text": "ahora sí", "id": 3}))
    said = await ana.expect_obj(type="message", text="ahora sí")
    await cleo.expect("PRIVMSG #sala :ahora sí")
    # Typing and reactions reach the other nodes' members.
    await bob.send(json.dumps({"type": "typing", "target": "#sala", "state": "active"}))
    await ana.expect_obj(type="typing", state="active")
    # A message taken back leaves every node's replay.
    reply = await ana.request({"type": "say", "room": "#sala", "text": "me equivoqué"})
    gone = reply["msgid"]
    await recv_until(bob, "message")
    reply = await ana.request({"type": "redact", "room": "#sala", "msgid": gone})
    assert reply["type"] == "ok", reply
    assert (await recv_until(bob, "redact"))["msgid"] == gone
    await until(lambda: all(m.id != gone for m in two.hub.recent.get("#sala", ())))
    assert said["msgid"] in {m.id for m in three.hub.recent["#sala"]}
    # A kick on one node puts the member out on its own.
    reply = await ana.request({"type": "kick", "room": "#sala", "nick": "cleo", "reason": "fuera"})
    assert reply["type"] == "ok", reply
    await cleo.expect("KICK #sala cleo :fuera")
    await until(lambda: "cleo" not in three.hub.rooms["#sala"].members)
    assert "cleo" not in two.hub.rooms["#sala"].members
    # Each node's metrics carry its name.
    found = samples((await http(web_port(two), "/metrics")).body.decode())
    assert found[("tertulia_cluster_nodes", (("node", "n2"),))] == 3
    assert found[("tertulia_bus_up", (("node", "n2"),))] == 1
    await ana.close()
    await bob.close()
    await cleo.close()


async def test_server_operators_act_on_every_node(nodes: Nodes) -> None:
    one, two, three = await nodes(3, operators=(("root", "s3cret"),))
    op = await JsonClient.connect(one.port, "op")
    reply = await op.request({"type": "oper", "name": "root", "password": "s3cret"})
    assert reply["type"] == "ok", reply
    victim = await LineClient.connect(two.port, "victim")
    spammer = await LineClient.connect(three.port, "spammer", local_addr=("127.0.0.2", 0))
    await until(lambda: {"victim", "spammer"} <= set(one.hub.sessions))
    # A KILL on one node closes the connection on the node that serves it.
    reply = await op.request({"type": "kill", "nick": "victim", "reason": "flooding"})
    assert reply["type"] == "ok", reply
    assert any("put off the server by op: flooding" in line for line in await victim.closed())
    await until(lambda: "victim" not in three.hub.sessions and "victim" not in two.hub.sessions)
    # A server ban made on one node holds on all of them, by address too.
    reply = await op.request({"type": "serverban", "mask": "127.0.0.2", "reason": "spam"})
    assert reply["type"] == "ok", reply
    assert any("banned from this server: spam" in line for line in await spammer.closed())
    await until(lambda: len(two.hub.bans) == 1)
    refused = await LineClient.connect(two.port, local_addr=("127.0.0.2", 0))
    assert any("banned from this server: spam" in line for line in await refused.closed())
    reply = await op.request({"type": "serverunban", "mask": "127.0.0.2"})
    assert reply["type"] == "ok", reply
    await until(lambda: len(two.hub.bans) == 0)
    back = await LineClient.connect(two.port, "spammer", local_addr=("127.0.0.2", 0))
    await until(lambda: "spammer" in one.hub.sessions)
    # Connections and users add up on every node, mirrors included.
    for server in (one, two, three):
        assert server.hub.connected >= len(server.hub.sessions)
    await op.close()
    await back.close()


async def test_an_invitation_opens_a_closed_room_on_another_node(nodes: Nodes) -> None:
    one, two = await nodes(2)
    ana = await irc(one, "ana")
    await ana.send("JOIN #club")
    await ana.expect(" 366 ")
    await ana.send("MODE #club +i")
    await ana.expect("MODE #club +i")
    bob = await irc(two, "bob")
    club = two.hub.rooms.get
    await until(lambda: "i" in getattr(club("#club"), "modes", ()) and "bob" in one.hub.sessions)
    await bob.send("JOIN #club")
    await bob.expect(" 473 ")  # invite-only, on bob's node too
    await ana.send("INVITE bob #club")
    await ana.expect(" 341 ")
    await bob.expect("INVITE bob #club")
    await bob.send("JOIN #club")
    await bob.expect(" 366 ")
    await ana.expect("JOIN #club")
    await ana.close()
    await bob.close()


async def test_a_registered_room_stays_on_every_node(nodes: Nodes) -> None:
    one, two = await nodes(2)
    ana = await JsonClient.connect(one.port, "ana")
    reply = await ana.request({"type": "register", "password": "contraseña larga"})
    assert reply["type"] == "ok", reply
    assert (await ana.request({"type": "join", "room": "#casa"}))["type"] == "ok"
    assert (await ana.request({"type": "claim", "room": "#casa"}))["type"] == "ok"
    await until(lambda: bool(two.hub.rooms.get("#casa") and two.hub.rooms["#casa"].owner))
    assert two.hub.rooms["#casa"].owner == "ana"
    assert (await ana.request({"type": "part", "room": "#casa"}))["type"] == "ok"
    await until(lambda: "ana" not in two.hub.rooms["#casa"].members)
    assert "#casa" in two.hub.rooms and "#casa" in one.hub.rooms  # registered: it stays
    assert (await ana.request({"type": "unclaim", "room": "#casa"}))["type"] == "ok"
    await until(lambda: "#casa" not in two.hub.rooms)
    await ana.close()


async def test_an_announcement_reaches_every_node(nodes: Nodes) -> None:
    one, two, three = await nodes(3)
    ana = await JsonClient.connect(one.port, "ana")
    bob = await LineClient.connect(two.port, "bob")
    cleo = await irc(three, "cleo")
    await until(lambda: {"ana", "bob", "cleo"} <= set(one.hub.sessions))
    reply = json.loads(await one.admin.answer(b'{"cmd": "announce", "text": "reinicio a las 3"}'))
    assert reply == {"ok": True, "result": {"told": 3}}
    assert "reinicio a las 3" in (await ana.expect_obj(type="notice"))["text"]
    assert "reinicio a las 3" in await bob.expect("reinicio")
    assert " NOTICE " in await cleo.expect("reinicio a las 3")
    for client in (ana, bob, cleo):
        await client.close()
