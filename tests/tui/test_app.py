"""The Textual app driven by its pilot against a real server on port 0."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from conftest import ServerFactory
from tertulia.client import events as ev
from tertulia.client.connection import ChatClient
from tertulia.i18n import translator
from tertulia.server.app import Server
from tertulia.tui.app import ChatApp, HistoryInput, mentions, nick_colour


async def connected(server: Server, nick: str) -> ChatClient:
    client = await ChatClient.open("127.0.0.1", server.port)
    await client.hello(nick)
    return client


async def until(pilot_pause: Callable[[], object], check: Callable[[], bool]) -> None:
    """Let the app run until `check` holds, within a bound."""
    async with asyncio.timeout(10):
        while not check():
            await pilot_pause()  # type: ignore[misc]


def plain(app: ChatApp, room: str) -> list[str]:
    return [line.plain for line in app.rooms[room].lines]


async def test_send_receive_switch_rooms_and_a_mention(server: Server) -> None:
    ana = await connected(server, "ana")
    bo = await connected(server, "bo")
    app = ChatApp(ana, ("127.0.0.1", server.port), "#lobby", translator("en"))
    async with app.run_test() as pilot:
        await pilot.press(*"hola", "enter")
        async with asyncio.timeout(10):
            async for event in bo.events():
                if isinstance(event, ev.Message):
                    assert (event.sender, event.text) == ("ana", "hola")
                    break
        assert any(line.endswith("<ana> hola") for line in plain(app, "#lobby"))

        await bo.say("#lobby", "hey ana, look")
        await until(pilot.pause, lambda: any("look" in line for line in plain(app, "#lobby")))
        mention = app.rooms["#lobby"].lines[-1]
        assert "reverse" in str(mention.spans[-1].style) or any(
            "reverse" in str(span.style) for span in mention.spans
        )

        await pilot.press(*"/join #otra", "enter")
        await until(pilot.pause, lambda: app.current == "#otra")
        await bo.say("#lobby", "while you are away")
        await until(pilot.pause, lambda: app.rooms["#lobby"].unread == 1)
        await pilot.press("ctrl+n")
        assert app.current == "#lobby" and app.rooms["#lobby"].unread == 0

        await pilot.press("up")
        assert app.query_one("#input", HistoryInput).value == "/join #otra"

        await pilot.press("ctrl+n")
        await pilot.press("ctrl+a", "ctrl+k", *"/part", "enter")
        await until(pilot.pause, lambda: "#otra" not in app.rooms)
        assert app.current == "#lobby"
    await bo.quit()
    await ana.close()


def test_nick_colours_are_stable_and_mentions_are_words() -> None:
    assert nick_colour("Ana") == nick_colour("ana")
    assert mentions("hola, ana!", "Ana")
    assert not mentions("banana", "ana")


async def test_reconnects_with_the_same_nick_and_rooms(make_server: ServerFactory) -> None:
    first: Server = await make_server()
    port = first.port
    ana = await connected(first, "ana")
    app = ChatApp(ana, ("127.0.0.1", port), "#lobby", translator("en"))
    async with app.run_test() as pilot:
        await pilot.press(*"/join #otra", "enter")
        await until(pilot.pause, lambda: app.current == "#otra")
        await first.shutdown()
        await until(pilot.pause, lambda: app.client.closed.is_set())
        await pilot.press(*"lost?", "enter")
        assert any("not sent" in line for line in plain(app, "#otra"))

        second: Server = await make_server(port=port)
        await until(pilot.pause, lambda: not app.client.closed.is_set())
        assert app.client.nick == "ana"
        assert any("reconnected as ana" in line for line in plain(app, "#otra"))
        bo = await connected(second, "bo")
        joined = await bo.join("#otra")
        assert sorted(joined.data["members"]) == ["ana", "bo"]
        await bo.say("#otra", "welcome back")
        await until(pilot.pause, lambda: any("welcome back" in x for x in plain(app, "#otra")))
        await bo.quit()
    await app.client.close()


async def test_tab_completes_nicks_commands_and_rooms(server: Server) -> None:
    ana = await connected(server, "ana")
    bea = await connected(server, "beatriz")
    app = ChatApp(ana, ("127.0.0.1", server.port), "#lobby", translator("en"))
    async with app.run_test() as pilot:
        box = app.query_one("#input", HistoryInput)
        await until(pilot.pause, lambda: "beatriz" in app.rooms["#lobby"].members)
        await pilot.press("b", "e", "tab")
        assert box.value == "beatriz: "
        box.value = ""
        await pilot.press(*"/jo", "tab", *"#lo", "tab")
        assert box.value == "/join #lobby "
    await bea.quit()
    await ana.close()
