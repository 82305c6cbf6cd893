"""Replies, reactions, typing notices, redaction and away on every door, through real
sockets: JSON requests and events, IRCv3 client tags on IRC, readable lines on plain, and
what the history keeps of them across a restart."""

from __future__ import annotations

from chatclient import JsonClient, LineClient
from conftest import ServerFactory
from ircclient import IrcClient, cap_requested
from tertulia.server.app import Server


async def tagged_irc(server: Server, nick: str) -> IrcClient:
    client = await cap_requested(server, nick, "message-tags echo-message")
    await client.send("CAP END")
    await client.expect(" 422 ")
    await client.send("JOIN #lobby")
    await client.expect(" 366 ")
    return client


async def test_a_reply_reaches_every_door_in_its_own_words(server: Server) -> None:
    ana = await JsonClient.connect(server.port, "ana")
    bo = await JsonClient.connect(server.port, "bo")
    irc = await tagged_irc(server, "irc")
    plain = await LineClient.connect(server.port, "plain")
    said = await ana.request({"type": "say", "room": "#lobby", "text": "¿quién trae el pan?"})
    first = said["msgid"]
    await bo.expect_obj(type="message", msgid=first)
    await plain.expect("[ana] ¿quién trae el pan?")
    answer = await bo.request({"type": "say", "room": "#lobby", "text": "yo", "reply_to": first})
    assert answer["type"] == "ok"
    got = await ana.expect_obj(type="message", text="yo")
    assert got["reply_to"] == first
    assert await plain.expect("[bo]") == "[bo] ↪ ana: «¿quién trae el pan?» yo"
    line = await irc.expect("PRIVMSG #lobby :yo")
    assert line.startswith(f"@+draft/reply={first};") or f"+draft/reply={first}" in line
    bad = await bo.request({"type": "say", "room": "#lobby", "text": "x", "reply_to": "1"})
    assert bad["code"] == "bad_request"


async def test_reactions_cross_doors_and_stay_in_history(make_server: ServerFactory) -> None:
    server = await make_server()
    data_dir = server.settings.data_dir
    ana = await JsonClient.connect(server.port, "ana")
    bo = await JsonClient.connect(server.port, "bo")
    irc = await tagged_irc(server, "irc")
    plain = await LineClient.connect(server.port, "plain")
    said = await ana.request({"type": "say", "room": "#lobby", "text": "hay tortilla"})
    msgid = said["msgid"]
    await plain.expect("[ana] hay tortilla")
    ok = await bo.request({"type": "react", "target": "#lobby", "msgid": msgid, "emoji": "👍"})
    assert ok["type"] == "ok"
    event = await ana.expect_obj(type="react")
    assert event == {"type": "react", "room": "#lobby", "from": "bo", "msgid": msgid, "emoji": "👍"}
    assert "bo reacted 👍 to ana: «hay tortilla»" in await plain.expect("reacted")
    tagmsg = await irc.expect("TAGMSG #lobby")
    assert "+draft/react=👍" in tagmsg and f"+draft/reply={msgid}" in tagmsg
    # From IRC, the same tags are a reaction for everyone else.
    await irc.send(f"@+draft/react=🎉;+draft/reply={msgid} TAGMSG #lobby")
    assert (await bo.expect_obj(type="react", emoji="🎉"))["from"] == "irc"
    page = await bo.request({"type": "history", "room": "#lobby", "limit": 10})
    kept = next(m for m in page["messages"] if m["msgid"] == msgid)
    assert kept["reactions"] == [
        {"emoji": "👍", "from": ["bo"]},
        {"emoji": "🎉", "from": ["irc"]},
    ]
    for bad in ("", "two words", "x" * 40):
        refused = await bo.request(
            {"type": "react", "target": "#lobby", "msgid": msgid, "emoji": bad}
        )
        assert refused["code"] == "bad_request", bad
    await server.shutdown()
    again = await make_server(data_dir=data_dir)
    # A newcomer's replay and the history both still show them.
    cy = await JsonClient.connect(again.port)
    await cy.send_obj({"type": "hello", "nick": "cy"})
    replay = await cy.expect_obj(type="history")
    kept = next(m for m in replay["messages"] if m["msgid"] == msgid)
    assert [r["emoji"] for r in kept["reactions"]] == ["👍", "🎉"]


async def test_typing_reaches_who_reads_it_and_nobody_else(server: Server) -> None:
    ana = await JsonClient.connect(server.port, "ana")
    bo = await JsonClient.connect(server.port, "bo")
    irc = await tagged_irc(server, "irc")
    plain = await LineClient.connect(server.port, "plain")
    ok = await ana.request({"type": "typing", "target": "#lobby", "state": "active"})
    assert ok["type"] == "ok"
    event = await bo.expect_obj(type="typing")
    assert event == {"type": "typing", "room": "#lobby", "from": "ana", "state": "active"}
    assert "+typing=active" in await irc.expect("TAGMSG #lobby")
    await ana.request({"type": "typing", "target": "bo", "state": "done"})
    assert (await bo.expect_obj(type="typing", state="done"))["to"] == "bo"
    refused = await ana.request({"type": "typing", "target": "#lobby", "state": "sleeping"})
    assert refused["code"] == "bad_request"
    # The plain client saw none of it: its next line is the next message.
    await ana.request({"type": "say", "room": "#lobby", "text": "marker"})
    assert await plain.line() == "[ana] marker"


async def test_redaction_and_away_over_json(server: Server) -> None:
    ana = await JsonClient.connect(server.port, "ana")
    bo = await JsonClient.connect(server.port, "bo")
    said = await ana.request({"type": "say", "room": "#lobby", "text": "oops, wrong room"})
    await bo.expect_obj(type="message", msgid=said["msgid"])
    await bo.request({"type": "react", "target": "#lobby", "msgid": said["msgid"], "emoji": "😅"})
    refused = await bo.request({"type": "redact", "room": "#lobby", "msgid": said["msgid"]})
    assert refused["code"] == "redact_forbidden"
    ok = await ana.request({"type": "redact", "room": "#lobby", "msgid": said["msgid"]})
    assert ok["type"] == "ok"
    gone = await bo.expect_obj(type="redact")
    assert (gone["msgid"], gone["by"]) == (said["msgid"], "ana")
    page = await bo.request({"type": "history", "room": "#lobby", "limit": 10})
    assert said["msgid"] not in [m["msgid"] for m in page["messages"]]
    assert said["msgid"] not in server.hub.reactions
    away = await ana.request({"type": "away", "message": "comiendo"})
    assert away["message"] == "comiendo"
    assert (await bo.expect_obj(type="away"))["message"] == "comiendo"
    who = await bo.request({"type": "who", "room": "#lobby"})
    assert who["away"] == ["ana"]
    await ana.request({"type": "away"})
    who = await bo.request({"type": "who", "room": "#lobby"})
    assert who["away"] == []


async def test_away_from_the_plain_door(server: Server) -> None:
    ana = await LineClient.connect(server.port, "ana")
    bo = await JsonClient.connect(server.port, "bo")
    await ana.send("/away comiendo")
    await ana.expect("you are away: comiendo")
    assert (await bo.expect_obj(type="away"))["message"] == "comiendo"
    await ana.send("/away")
    await ana.expect("you are back")
    assert (await bo.expect_obj(type="away"))["message"] == ""


async def test_chathistory_replays_a_replys_tag(server: Server) -> None:
    ana = await JsonClient.connect(server.port, "ana")
    first = await ana.request({"type": "say", "room": "#lobby", "text": "pregunta"})
    await ana.request(
        {"type": "say", "room": "#lobby", "text": "respuesta", "reply_to": first["msgid"]}
    )
    irc = await cap_requested(server, "irc", "message-tags batch draft/chathistory")
    await irc.send("CAP END")
    await irc.expect(" 422 ")
    await irc.send("JOIN #lobby")
    await irc.expect(" 366 ")
    await irc.send("CHATHISTORY LATEST #lobby * 10")
    line = await irc.expect("PRIVMSG #lobby :respuesta")
    assert f"+draft/reply={first['msgid']}" in line
