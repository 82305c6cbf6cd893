"""History over IRC: a chathistory batch on joining, CHATHISTORY, SEARCH."""

from __future__ import annotations

import re

from chatclient import LineClient
from conftest import ServerFactory
from ircclient import IrcClient, cap_requested, irc, irc_port
from tertulia.server.app import Server

BATCH_START = re.compile(r"^(?:@\S+ )?:tertulia BATCH \+(\S+) (\S+) (\S+)$")


async def irc_with_caps(server: Server, nick: str, caps: str) -> IrcClient:
    client = await cap_requested(server, nick, caps)
    await client.send("CAP END")
    await client.expect(" 422 ")
    return client


async def said(server: Server, texts: list[str]) -> LineClient:
    """Say texts in #lobby from a plain client and wait until they are delivered (stored)."""
    ana = await LineClient.connect(server.port, "ana")
    witness = await LineClient.connect(server.port, "witness")
    for text in texts:
        await ana.send(text)
    await witness.expect(f"[ana] {texts[-1]}")
    return ana


async def read_batch(client: IrcClient) -> tuple[str, str, list[str]]:
    """The next batch: its type, its target and its lines."""
    start = await client.expect(BATCH_START)
    match = BATCH_START.match(start)
    assert match is not None
    ref, kind, target = match.groups()
    lines = await client.lines_until(f"BATCH -{ref}")
    assert all(line.startswith(f"@batch={ref};time=") for line in lines), lines
    return kind, target, lines


async def test_capabilities_and_isupport_announce_history(server: Server) -> None:
    client = await IrcClient.connect(irc_port(server))
    await client.send("CAP LS 302")
    caps = (await client.expect(" CAP * LS ")).split(":", 2)[2].split()
    assert {"batch", "draft/chathistory", "server-time", "message-tags"} <= set(caps)
    await client.send("NICK ana\r\nUSER ana 0 * :Ana\r\nCAP END")
    isupport = " ".join(line for line in await client.lines_until(" 422 ") if " 005 " in line)
    assert "CHATHISTORY=200" in isupport and "MSGREFTYPES=msgid" in isupport


async def test_joining_with_batch_and_server_time_replays_the_room(server: Server) -> None:
    ana = await said(server, ["hola", "¿qué tal?"])
    await (await LineClient.connect(server.port, "eva")).send("/me saluda")
    await ana.expect("* eva saluda")
    bo = await irc_with_caps(server, "bo", "batch server-time message-tags")
    await bo.send("JOIN #lobby")
    await bo.expect(" 366 ")
    kind, target, lines = await read_batch(bo)
    assert (kind, target) == ("chathistory", "#lobby")
    bodies = [line.split(" ", 1)[1] for line in lines]
    assert bodies == [
        ":ana!ana@tertulia PRIVMSG #lobby :hola",
        ":ana!ana@tertulia PRIVMSG #lobby :¿qué tal?",
        ":eva!eva@tertulia PRIVMSG #lobby :\x01ACTION saluda\x01",
    ]
    assert all(re.search(r";time=\d{4}-\d\d-\d\dT[\d:.]+Z;msgid=\d+ ", line) for line in lines)


async def test_clients_without_batch_get_no_replay(server: Server) -> None:
    await said(server, ["antes"])
    plain_irc = await irc(server, "bo")
    await plain_irc.send("JOIN #lobby\r\nPING :after-join")
    lines = await plain_irc.lines_until("PONG")
    assert not any("antes" in line or "BATCH" in line for line in lines), lines


async def test_chathistory_latest_and_before(server: Server) -> None:
    await said(server, [f"m{i}" for i in range(6)])
    bo = await irc_with_caps(server, "bo", "batch server-time message-tags draft/chathistory")
    await bo.send("JOIN #lobby\r\nPING :joined")
    joined = await bo.lines_until("PONG")
    assert not any("BATCH" in line for line in joined)  # chathistory clients ask instead
    await bo.send("CHATHISTORY LATEST #lobby * 3")
    _, target, lines = await read_batch(bo)
    assert target == "#lobby" and [line.rsplit(":", 1)[1] for line in lines] == ["m3", "m4", "m5"]
    first = re.search(r"msgid=(\d+)", lines[0])
    assert first is not None
    await bo.send(f"CHATHISTORY BEFORE #lobby msgid={first.group(1)} 2")
    _, _, older = await read_batch(bo)
    assert [line.rsplit(":", 1)[1] for line in older] == ["m1", "m2"]
    await bo.send(f"CHATHISTORY LATEST #lobby msgid={first.group(1)} 10")
    _, _, newer = await read_batch(bo)
    assert [line.rsplit(":", 1)[1] for line in newer] == ["m4", "m5"]
    await bo.send("CHATHISTORY AROUND #lobby * 3")
    assert "FAIL CHATHISTORY INVALID_PARAMS AROUND" in await bo.expect("FAIL")
    await bo.send("CHATHISTORY LATEST #lobby timestamp=2026-01-01T00:00:00.000Z 3")
    assert "FAIL CHATHISTORY INVALID_PARAMS LATEST" in await bo.expect("FAIL")
    await bo.send("CHATHISTORY LATEST #elsewhere * 3")
    assert "FAIL CHATHISTORY INVALID_TARGET LATEST #elsewhere" in await bo.expect("FAIL")


async def test_search_in_a_batch_or_as_notices(server: Server) -> None:
    await said(server, ["Una CANCIÓN", "otra cosa", "la cancion de siempre"])
    bo = await irc_with_caps(server, "bo", "batch server-time")
    await bo.send("JOIN #lobby")
    await read_batch(bo)  # the replay
    await bo.send("SEARCH #lobby :canción")
    kind, target, lines = await read_batch(bo)
    assert (kind, target) == ("tertulia/search", "#lobby")
    assert [line.rsplit(" :", 1)[1] for line in lines] == ["la cancion de siempre", "Una CANCIÓN"]
    old = await irc(server, "old")
    await old.send("JOIN #lobby")
    await old.expect(" 366 ")
    await old.send("SEARCH #lobby :CANCION")
    found = await old.lines_until("End of search in #lobby: 2 found")
    assert [line.rsplit("> ", 1)[1] for line in found] == ["la cancion de siempre", "Una CANCIÓN"]
    assert all(re.search(r"NOTICE old :\[\d{4}-\d\d-\d\d \d\d:\d\d\] <ana> ", x) for x in found)
    await old.send("SEARCH #dev :algo")
    assert "FAIL SEARCH INVALID_TARGET SEARCH #dev" in await old.expect("FAIL")


async def test_no_history_means_no_chathistory(make_server: ServerFactory) -> None:
    server = await make_server(history=False)
    client = await IrcClient.connect(irc_port(server))
    await client.send("CAP LS 302")
    caps = (await client.expect(" CAP * LS ")).split(":", 2)[2].split()
    assert "draft/chathistory" not in caps and "batch" in caps
    await client.send("NICK ana\r\nUSER ana 0 * :Ana\r\nCAP END")
    assert "CHATHISTORY=" not in await client.expect(" 005 ")
