"""The Textual app driven by its pilot against a real server on port 0."""

from __future__ import annotations

import asyncio
from pathlib import Path

from textual.widgets import RichLog

from conftest import ServerFactory
from tertulia.client import events as ev
from tertulia.i18n import translator
from tertulia.server.app import Server
from tertulia.tui.app import ChatApp, HistoryInput, mentions, nick_colour
from tuipilot import connected, next_of, plain, status_of, until


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
        box = app.query_one("#input", HistoryInput)
        await pilot.press(*"lost?", "enter")
        # Refused on screen, and kept in the input to send once the connection is back.
        assert any("stays in the input" in line for line in plain(app, "#otra"))
        assert box.value == "lost?"

        second: Server = await make_server(port=port)
        await until(pilot.pause, lambda: not app.client.closed.is_set())
        assert app.client.nick == "ana"
        assert any("reconnected as ana" in line for line in plain(app, "#otra"))
        bo = await connected(second, "bo")
        joined = await bo.join("#otra")
        assert sorted(joined.data["members"]) == ["ana", "bo"]
        await bo.say("#otra", "welcome back")
        await until(pilot.pause, lambda: any("welcome back" in x for x in plain(app, "#otra")))
        await pilot.press("enter")  # what was kept goes now
        heard = await next_of(bo, ev.Message)
        assert (heard.sender, heard.text) == ("ana", "lost?") and box.value == ""
        await bo.quit()
    await app.client.close()


async def test_a_reconnection_shows_no_line_twice(
    make_server: ServerFactory, tmp_path: Path
) -> None:
    data = str(tmp_path / "data")
    first: Server = await make_server(data_dir=data)
    port = first.port
    ana = await connected(first, "ana")
    bo = await connected(first, "bo")
    await bo.say("#lobby", "uno")
    app = ChatApp(ana, ("127.0.0.1", port), "#lobby", translator("en"))
    async with app.run_test() as pilot:
        await until(pilot.pause, lambda: any(x.endswith("<bo> uno") for x in plain(app, "#lobby")))
        await pilot.press(*"dos", "enter")
        assert (await next_of(bo, ev.Message)).text == "dos"
        await bo.quit()
        await first.shutdown()
        await until(pilot.pause, lambda: app.client.closed.is_set())
        # The same history: the server replays #lobby's last messages on the way back in.
        second: Server = await make_server(port=port, data_dir=data)
        await until(pilot.pause, lambda: not app.client.closed.is_set())
        eva = await connected(second, "eva")
        await eva.say("#lobby", "tres")
        await until(pilot.pause, lambda: plain(app, "#lobby")[-1].endswith("<eva> tres"))
        said = [x for x in plain(app, "#lobby") if "<" in x]
        assert [x.split(" ", 1)[1] for x in said] == ["<bo> uno", "<ana> dos", "<eva> tres"]
        # And on screen: each once.
        log = ["".join(s.text for s in strip) for strip in app.query_one("#log", RichLog).lines]
        assert [sum(w in x for x in log) for w in ("<bo> uno", "<ana> dos")] == [1, 1]
        await eva.quit()
    await app.client.close()


async def test_retries_update_one_status_instead_of_adding_lines(
    make_server: ServerFactory,
) -> None:
    server: Server = await make_server()
    ana = await connected(server, "ana")
    app = ChatApp(ana, ("127.0.0.1", server.port), "#lobby", translator("en"))
    app.backoff_first = 0.01  # nobody will answer: let the attempts come quickly
    async with app.run_test() as pilot:
        await server.shutdown()
        await until(pilot.pause, lambda: app.attempts >= 4)
        lines = plain(app, "#lobby")
        assert [x for x in lines if "reconnecting" in x] == []
        assert sum("the server closed the connection" in x for x in lines) == 1
        status = status_of(app)
        assert "disconnected" in status and "reconnecting in" in status, status


async def test_quit_while_disconnected_leaves(make_server: ServerFactory) -> None:
    server: Server = await make_server()
    ana = await connected(server, "ana")
    app = ChatApp(ana, ("127.0.0.1", server.port), "#lobby", translator("en"))
    async with app.run_test() as pilot:
        await server.shutdown()
        await until(pilot.pause, lambda: app.client.closed.is_set())
        await pilot.press(*"/quit", "enter")
        await until(pilot.pause, lambda: not app.is_running)
    assert app.return_value == 0
    assert not any("not sent" in x for x in plain(app, "#lobby"))


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


async def test_the_message_of_the_day_shows_once_in_the_first_room(
    make_server: ServerFactory,
) -> None:
    server: Server = await make_server(motd="Hoy: charla de redes")
    ana = await connected(server, "ana")
    app = ChatApp(ana, ("127.0.0.1", server.port), "#lobby", translator("en"))
    async with app.run_test() as pilot:
        await until(pilot.pause, lambda: any("charla" in x for x in plain(app, "#lobby")))
        shown = [line for line in plain(app, "#lobby") if "charla" in line]
        assert len(shown) == 1 and shown[0].endswith("* Hoy: charla de redes")
    await ana.close()
