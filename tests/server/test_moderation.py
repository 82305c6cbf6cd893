"""Moderation on every door, through real sockets: room bans, mutes and moderated rooms,
server operators, server bans by address, network, nick mask and account (kept in the
store), and rooms registered to accounts. Other 127.0.0.0/8 addresses stand in for other
clients."""

from __future__ import annotations

import json
from typing import Any

from chatclient import JsonClient, LineClient
from conftest import ServerFactory
from ircclient import IrcClient, irc, irc_port
from tertulia.server.app import Server

OPERATORS = (("root", "s3cret"),)


def at(address: str) -> dict[str, Any]:
    return {"local_addr": (address, 0)}


async def test_a_room_operator_bans_and_unbans_on_the_plain_door(server: Server) -> None:
    ana = await LineClient.connect(server.port, "ana")
    await ana.send("/join #club")
    await ana.expect("you are ana, in #club")
    bo = await irc(server, "bo")
    await bo.send("JOIN #club")
    await bo.expect(" 366 ")
    await ana.send("/ban bo spamming")
    # The IRC user sees the ban and the kick that follows it, with the reason.
    assert "MODE #club +b bo!*@*" in await bo.expect(" MODE #club ")
    assert await bo.expect(" KICK ") == ":ana!ana@tertulia KICK #club bo :spamming"
    assert "bo!*@* is banned from #club" in await ana.expect("is banned from")
    await bo.send("JOIN #club")
    assert " 474 bo #club " in await bo.expect(" 474 ")
    await ana.send("/mode")
    assert "banned: bo!*@*" in await ana.expect("banned:")
    await ana.send("/unban bo")
    await ana.expect("no longer banned")
    await bo.send("JOIN #club")
    await bo.expect(" 366 ")
    # Only operators may ban: bo is not one in #club.
    await bo.send("PRIVMSG #club :hello")
    await ana.expect("[bo] hello")


async def test_not_an_operator_cannot_ban_and_lobby_has_none(server: Server) -> None:
    ana = await LineClient.connect(server.port, "ana")
    bea = await LineClient.connect(server.port, "bea")
    await bea.send("/ban ana")
    assert "you are not an operator of #lobby" in await bea.expect("! ")
    await bea.send("/kick ana")
    assert "you are not an operator of #lobby" in await bea.expect("! ")
    await ana.send("hi")
    await bea.expect("[ana] hi")


async def test_mute_and_moderated_rooms_over_json(server: Server) -> None:
    ana = await JsonClient.connect(server.port, "ana")
    bo = await JsonClient.connect(server.port, "bo")
    cy = await LineClient.connect(server.port, "cy")
    for client in (ana, bo):
        reply = await client.request({"type": "join", "room": "#club"})
        assert reply["type"] == "ok"
    await cy.send("/join #club")
    await cy.expect("you are cy, in #club")
    muted = await ana.request({"type": "mute", "room": "#club", "target": "bo"})
    assert muted == {"type": "ok", "id": muted["id"], "room": "#club", "mask": "m:bo!*@*"}
    refused = await bo.request({"type": "say", "room": "#club", "text": "can you hear me"})
    assert refused["type"] == "error" and refused["code"] == "cannot_send"
    await ana.request({"type": "unmute", "room": "#club", "target": "bo"})
    ok = await bo.request({"type": "say", "room": "#club", "text": "back"})
    assert ok["type"] == "ok"
    assert "[bo] back" in await cy.expect("[bo]")  # cy never heard the muted line
    # +m: only operators and voiced members speak.
    reply = await ana.request({"type": "mode", "room": "#club", "modes": "+m"})
    assert reply["modes"].startswith("+") and "m" in reply["modes"].split()[0]
    refused = await bo.request({"type": "say", "room": "#club", "text": "still here?"})
    assert refused["type"] == "error"
    await ana.request({"type": "voice", "room": "#club", "nick": "bo"})
    ok = await bo.request({"type": "say", "room": "#club", "text": "voiced"})
    assert ok["type"] == "ok"
    assert "[bo] voiced" in await cy.expect("[bo]")
    who = await ana.request({"type": "who", "room": "#club"})
    assert (who["operators"], who["voiced"], who["away"]) == (["ana"], ["bo"], [])
    # A member who is not an operator cannot change modes.
    refused = await bo.request({"type": "mode", "room": "#club", "modes": "-m"})
    assert refused["code"] == "not_operator"


async def test_oper_and_kill_from_plain_and_json(make_server: ServerFactory) -> None:
    server = await make_server(operators=OPERATORS)
    op = await LineClient.connect(server.port, "op")
    victim = await JsonClient.connect(server.port, "victim")
    await op.send("/kill victim")
    assert "only server operators may do that" in await op.expect("! ")
    await op.send("/oper root wrong")
    assert "wrong operator name or password" in await op.expect("! ")
    await op.send("/oper root s3cret")
    await op.expect("you are a server operator now")
    await op.send("/kill victim flooding")
    gone = await victim.closed()
    assert any("put off the server by op: flooding" in line for line in gone)
    # An operator runs #lobby too, where nobody else does.
    js = await JsonClient.connect(server.port, "js")
    reply = await js.request({"type": "oper", "name": "root", "password": "s3cret"})
    assert reply == {"type": "ok", "id": reply["id"], "oper": "root"}
    await op.send("/nick other")
    await op.expect("now known as other")
    reply = await js.request({"type": "kick", "room": "#lobby", "nick": "other"})
    assert reply["type"] == "ok"


async def test_server_bans_by_address_last_across_a_restart(make_server: ServerFactory) -> None:
    server = await make_server(operators=OPERATORS)
    data_dir = server.settings.data_dir
    op = await JsonClient.connect(server.port, "op")
    await op.request({"type": "oper", "name": "root", "password": "s3cret"})
    spammer = await LineClient.connect(server.port, "spammer", **at("127.0.0.2"))
    lurker = await LineClient.connect(server.port, **at("127.0.0.2"))  # no nick yet
    await lurker.expect("type your nick")
    neighbour = await LineClient.connect(server.port, "neighbour", **at("127.0.0.3"))
    reply = await op.request(
        {"type": "serverban", "mask": "127.0.0.2", "duration": "1d", "reason": "spam"}
    )
    assert reply["mask"] == "127.0.0.2" and reply["expires"] > reply["created"] + 86000
    assert any("banned from this server: spam" in line for line in await spammer.closed())
    assert any("banned from this server: spam" in line for line in await lurker.closed())
    refused = await LineClient.connect(server.port, **at("127.0.0.2"))
    assert any("banned from this server: spam" in line for line in await refused.closed())
    irc_refused = await IrcClient.connect(irc_port(server), **at("127.0.0.2"))
    refusal = (await irc_refused.closed())[0].rstrip("\r")
    assert refusal == "ERROR :Closing link: you are banned from this server: spam"
    await neighbour.send("still here")
    await op.expect_obj(type="message", text="still here")
    listed = await op.request({"type": "serverbans"})
    assert [b["mask"] for b in listed["bans"]] == ["127.0.0.2"]
    await server.shutdown()
    # The ban is in the store: a restarted server still refuses the address.
    again = await make_server(operators=OPERATORS, data_dir=data_dir)
    refused = await LineClient.connect(again.port, **at("127.0.0.2"))
    assert any("banned from this server" in line for line in await refused.closed())
    plain_op = await LineClient.connect(again.port, "op")
    await plain_op.send("/oper root s3cret")
    await plain_op.expect("server operator now")
    await plain_op.send("/serverbans")
    assert "127.0.0.2 (until " in await plain_op.expect("127.0.0.2")
    await plain_op.send("/serverunban 127.0.0.2")
    await plain_op.expect("no longer banned from the server")
    back = await LineClient.connect(again.port, "back", **at("127.0.0.2"))
    await back.send("hello again")
    await plain_op.expect("[back] hello again")


async def test_kline_bans_a_nick_mask_and_a_network_on_irc(make_server: ServerFactory) -> None:
    server = await make_server(operators=OPERATORS)
    op = await irc(server, "op")
    troll = await irc(server, "troll")
    await op.send("KLINE troll")
    assert " 481 op " in await op.expect(" 481 ")
    await op.send("OPER root s3cret")
    await op.expect(" 381 ")
    await op.send("KLINE 2h troll* :go away")
    assert "Added ban on troll*!*@* (until " in await op.expect("Added ban")
    assert (await troll.closed())[-1].startswith("ERROR :")
    # Nobody can take a nick the mask matches, on any door.
    again = await LineClient.connect(server.port)
    await again.expect("type your nick")
    await again.send("troll2")
    assert any("banned from this server: go away" in line for line in await again.closed())
    await op.send("DLINE 10.0.0.0/8 :wrong network")
    await op.expect("Added ban on 10.0.0.0/8 (permanent)")
    await op.send("DLINE bob :not an address")
    assert "not a ban mask" in await op.expect("NOTICE op :")
    await op.send("STATS K")
    lines = await op.lines_until(" 219 ")
    assert any(" 216 op K troll*!*@* * * :go away (until " in line for line in lines)
    assert any(
        " 216 op K 10.0.0.0/8 * * :wrong network (permanent, by op)" in line for line in lines
    )
    await op.send("UNKLINE troll*")
    await op.expect("Removed ban on troll*!*@*")
    back = await irc(server, "troll")
    await back.close()


async def test_an_account_ban_refuses_its_login(make_server: ServerFactory) -> None:
    server = await make_server(operators=OPERATORS)
    bob = await LineClient.connect(server.port, "bob")
    await bob.send("/register hunter22hunter")
    await bob.expect("registered to you")
    await bob.send("/quit")
    await bob.closed()
    op = await JsonClient.connect(server.port, "op")
    await op.request({"type": "oper", "name": "root", "password": "s3cret"})
    reply = await op.request({"type": "serverban", "mask": "$a:BOB", "reason": "abuse"})
    assert reply["mask"] == "$a:bob" and reply["expires"] == 0
    # Under another nick, the login to the banned account puts the client out.
    sneaky = await LineClient.connect(server.port, "sneaky")
    await sneaky.send("/login bob hunter22hunter")
    assert any("banned from this server: abuse" in line for line in await sneaky.closed())
    bad = await op.request({"type": "serverban", "mask": "10.0.0.300"})
    assert bad["code"] == "bad_ban_mask"


async def test_a_registered_room_keeps_its_owner(make_server: ServerFactory) -> None:
    server = await make_server()
    data_dir = server.settings.data_dir
    ana = await LineClient.connect(server.port, "ana")
    await ana.send("/register correcthorse")
    await ana.expect("registered to you")
    await ana.send("/join #club")
    await ana.expect("you are ana, in #club")
    await ana.send("/claim")
    await ana.expect("#club is registered to ana")
    await ana.send("/part")
    await ana.expect("you left #club")
    # Empty, the room stays; whoever comes first is not its operator.
    bea = await LineClient.connect(server.port, "bea")
    await bea.send("/join #club")
    await bea.expect("you are bea, in #club")
    await bea.send("/topic mine now")
    await bea.expect("topic of #club set")  # -t: anyone may; +b needs an operator
    await bea.send("/ban ana")
    assert "not an operator of #club" in await bea.expect("! ")
    await bea.send("/claim")
    assert "log in first" in await bea.expect("! ")
    await server.shutdown()
    # After a restart its owner logs in and is its operator again, on IRC.
    again = await make_server(data_dir=data_dir)
    assert "#club" in {r.name for r in again.hub.rooms.values()}
    ana_irc = await IrcClient.connect(irc_port(again))
    assert isinstance(ana_irc, IrcClient)
    await ana_irc.send("PASS ana:correcthorse\r\nNICK ana\r\nUSER ana 0 * :Ana")
    await ana_irc.expect(" 422 ")
    watcher = await LineClient.connect(again.port, "watcher")
    await watcher.send("/join #club")
    await watcher.expect("you are watcher, in #club")
    await ana_irc.send("JOIN #club")
    assert "@ana" in await ana_irc.expect(" 353 ")
    # Those already in the room see the owner come in and the server make it operator.
    await watcher.expect("ana joined #club")
    assert "set mode +o ana on #club" in await watcher.expect("set mode")
    await ana_irc.send("PRIVMSG ChanServ :UNREGISTER #club")
    assert "#club is no longer registered" in await ana_irc.expect("ChanServ")


async def test_a_kicked_plain_user_can_walk_back_in(server: Server) -> None:
    ana = await LineClient.connect(server.port, "ana")
    await ana.send("/join #club")
    await ana.expect("you are ana, in #club")
    bo = await LineClient.connect(server.port, "bo")
    await bo.send("/join #club")
    await bo.expect("you are bo, in #club")
    await ana.send("/kick bo calm down")
    await bo.expect("bo was put out of #club by ana")
    # Not "you are already in #club", and no stray "you are not in" on the way back.
    await bo.send("/join #club")
    assert (await bo.line()).startswith("* you are bo, in #club with 1 more: ana")
    await bo.send("/join #lobby")
    await bo.expect("you are bo, in #lobby")
    await bo.send("/who")
    assert "! " not in "".join(await bo.lines_until("#lobby ("))


async def test_one_client_cannot_hold_every_history_slot(server: Server) -> None:
    hog = await JsonClient.connect(server.port, "hog", **at("127.0.0.2"))
    other = await JsonClient.connect(server.port, "other", **at("127.0.0.3"))
    await other.request({"type": "say", "room": "#lobby", "text": "worth reading"})
    asks = [{"type": "history", "room": "#lobby", "limit": 50, "id": i} for i in range(10)]
    # Ten reads in one write: they start together, so only the client's own slots run.
    await hog.send("\n".join(json.dumps(a) for a in asks))
    kinds: list[str] = []
    while len(kinds) < 10:  # the refusals come first, the pages once read
        reply = await hog.obj()
        if reply.get("id") in range(10):
            kinds.append(reply["type"] if reply["type"] != "error" else reply["code"])
    assert kinds.count("history") == 2 and kinds.count("history_busy") == 8, kinds
    # Meanwhile the server's other slots were free for everyone else.
    page = await other.request({"type": "history", "room": "#lobby", "limit": 5})
    assert [m["text"] for m in page["messages"]] == ["worth reading"]
