"""The client library against a real server on port 0."""

from __future__ import annotations

import asyncio
from typing import TypeVar

import pytest

from conftest import ServerFactory
from tertulia.client import events as ev
from tertulia.client.connection import ChatClient, ClientError, Disconnected
from tertulia.server.app import Server

E = TypeVar("E")


async def next_of(client: ChatClient, kind: type[E]) -> E:
    async with asyncio.timeout(5):
        async for event in client.events():
            if isinstance(event, kind):
                return event
    raise AssertionError(f"connection closed before a {kind.__name__}")


async def test_two_clients_talk(server: Server) -> None:
    ana = await ChatClient.open("127.0.0.1", server.port)
    bo = await ChatClient.open("127.0.0.1", server.port)
    welcome = await ana.hello("ana")
    assert welcome.nick == "ana" and welcome.rooms[0].room == "#lobby"
    await bo.hello("bo")
    reply = await ana.say("#lobby", "hola")
    assert reply.data["room"] == "#lobby"
    message = await next_of(bo, ev.Message)
    assert (message.sender, message.text, message.room) == ("ana", "hola", "#lobby")
    await ana.tell("bo", "psst", action=True)
    private = await next_of(bo, ev.Private)
    assert (private.sender, private.text, private.kind) == ("ana", "psst", "action")
    assert await ana.ping() > 0
    await ana.quit()
    quit_event = await next_of(bo, ev.Quit)
    assert quit_event.nick == "ana"
    await bo.quit()


async def test_a_refused_nick_gives_the_servers_reason_and_allows_another(server: Server) -> None:
    ana = await ChatClient.open("127.0.0.1", server.port)
    await ana.hello("ana")
    other = await ChatClient.open("127.0.0.1", server.port)
    with pytest.raises(ClientError) as refused:
        await other.hello("ANA")
    assert refused.value.code == "nick_in_use" and "ANA" in str(refused.value)
    assert (await other.hello("ana2")).nick == "ana2"
    room = await other.join("#otra")
    assert room.data["members"] == ["ana2"]
    await ana.quit()
    await other.quit()


async def test_requests_after_the_server_goes_fail_cleanly(make_server: ServerFactory) -> None:
    server: Server = await make_server()
    client = await ChatClient.open("127.0.0.1", server.port)
    await client.hello("ana")
    await server.shutdown()
    notice = await next_of(client, ev.Notice)
    assert notice.code
    async with asyncio.timeout(5):
        await client.closed.wait()
    with pytest.raises(Disconnected):
        await client.say("#lobby", "anyone?")
    await client.close()


async def test_accounts_history_and_search_through_the_library(server: Server) -> None:
    ana = await ChatClient.open("127.0.0.1", server.port)
    await ana.hello("ana")
    assert (await ana.register("s3creto-largo")).data["account"] == "ana"
    for text in ("primera canción", "segunda"):
        await ana.say("#lobby", text)
    page = await ana.history("#lobby", limit=10)
    assert [m["text"] for m in page.data["messages"]] == ["primera canción", "segunda"]
    found = await ana.search("#lobby", "CANCION")
    assert [m["text"] for m in found.data["messages"]] == ["primera canción"]
    await ana.quit()
    squatter = await ChatClient.open("127.0.0.1", server.port)
    await squatter.hello("ana")
    owner = await ChatClient.open("127.0.0.1", server.port)
    await owner.hello("someone")
    await owner.login("ana", "s3creto-largo")
    assert owner.nick == "ana"
    renamed = await next_of(squatter, ev.NickChanged)
    assert renamed.old == "ana" and squatter.nick == renamed.new
    with pytest.raises(ClientError) as refused:
        await squatter.change_password("x", "yyyyyyyy")
    assert refused.value.code == "not_logged_in"
