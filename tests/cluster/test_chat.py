"""One chat across three nodes: every door, one order, one owner per nick, one history."""

from __future__ import annotations

import asyncio

from chatclient import JsonClient, LineClient
from cluster.conftest import Nodes
from ircclient import irc


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
