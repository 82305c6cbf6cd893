"""Accounts the administrator changes on one node of a cluster (`tertulia admin rename`,
`drop`, `reset-password`): users logged in to them on another node, and that node's
protection of registered nicks, follow. Each was a bug found by review."""

from __future__ import annotations

import json
import time

from chatclient import JsonClient
from cluster.conftest import Nodes, until
from tertulia.server.accounts import LOCK_MAX


async def test_a_rename_and_a_drop_on_one_node_reach_the_users_of_another(nodes: Nodes) -> None:
    one, two = await nodes(2)
    # Registered on node one; the password reset there; logged in to on node two.
    first = await JsonClient.connect(one.port, "ana")
    reply = await first.request({"type": "register", "password": "secreto viejo"})
    assert reply["type"] == "ok", reply
    await first.close()
    reset = b'{"cmd":"reset-password","account":"ana","password":"secreto nuevo"}'
    assert json.loads(await one.admin.answer(reset))["ok"]
    ana = await JsonClient.connect(two.port, "yo")
    old = await ana.request({"type": "login", "nick": "ana", "password": "secreto viejo"})
    assert old.get("code") == "bad_login", old
    lockout = two.accounts.lockout
    lockout._clock = lambda: time.monotonic() + LOCK_MAX  # the failure's lock has run out
    new = await ana.request({"type": "login", "nick": "ana", "password": "secreto nuevo"})
    assert new["type"] == "ok", new
    assert (await ana.request({"type": "join", "room": "#casa"}))["type"] == "ok"
    assert (await ana.request({"type": "claim", "room": "#casa"}))["type"] == "ok"
    watcher = await JsonClient.connect(two.port, "wat")  # ana's neighbour in #lobby
    squatter = await JsonClient.connect(two.port, "anita")  # a nick nobody registered yet
    await until(lambda: one.hub.rooms["#casa"].owner == "ana" and "anita" in one.hub.sessions)

    reply = json.loads(await one.admin.answer(b'{"cmd":"rename","account":"ana","to":"anita"}'))
    assert reply == {"ok": True, "result": {"account": "ana", "to": "anita"}}
    # Node two's user follows, and is told why.
    assert (await watcher.expect_obj(type="account", nick="ana"))["account"] == "anita"
    told = await ana.expect_obj(type="notice", code="account_renamed")
    assert told["text"] == "the administrator renamed your account ana to anita"
    assert two.hub.sessions["ana"].account == "anita"
    # Node two protects the new name, not the old one: whoever holds the new one is asked
    # to log in, and a newcomer may take the old one.
    assert "anita" in two.hub.accounts and "ana" not in two.hub.accounts
    assert (await squatter.expect_obj(type="notice", code="nick_registered"))["text"].startswith(
        "anita is registered"
    )
    assert (await ana.request({"type": "nick", "nick": "ana_"}))["type"] == "ok"
    newcomer = await JsonClient.connect(two.port, "ana")
    assert (await newcomer.request({"type": "join", "room": "#otra"}))["type"] == "ok"
    assert not any("nick_registered" in line for line in newcomer.seen), newcomer.seen
    assert two.hub.sessions["ana"] is not two.hub.sessions["ana_"]
    # Node one (where the command ran) and the room agree.
    assert one.hub.accounts == two.hub.accounts == {"anita"}
    await until(lambda: one.hub.sessions["ana_"].account == "anita")
    assert two.hub.rooms["#casa"].owner == one.hub.rooms["#casa"].owner == "anita"

    reply = json.loads(await one.admin.answer(b'{"cmd":"drop","account":"anita"}'))
    assert reply == {"ok": True, "result": {"account": "anita"}}
    assert (await watcher.expect_obj(type="account", nick="ana_"))["account"] == ""
    told = await ana.expect_obj(type="notice", code="account_dropped")
    assert told["text"] == "the administrator dropped your account anita: you are logged out"
    assert two.hub.sessions["ana_"].account == ""
    assert "anita" not in two.hub.accounts
    # The squatter waiting to be renamed off "anita" keeps it: the nick is free again.
    assert two.hub.sessions["anita"] not in two.accounts._grace
    # Logged out: no room can be registered to the account that is no more.
    refused = await ana.request({"type": "claim", "room": "#casa"})
    assert refused.get("code") == "not_logged_in", refused
    await until(lambda: one.hub.sessions["ana_"].account == "")
    assert two.hub.rooms["#casa"].owner == one.hub.rooms["#casa"].owner == ""
    for client in (ana, watcher, squatter, newcomer):
        await client.close()
