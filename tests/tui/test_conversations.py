"""The Textual app's conversations, driven by its pilot against a real server on port 0:
private ones in their own tab, the topic line, the nick list's marks, scrollback."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import RichLog, Static

from ircclient import irc
from tertulia.client import events as ev
from tertulia.i18n import translator
from tertulia.protocols import jsonlines as jl
from tertulia.server.app import Server
from tertulia.tui.app import ChatApp
from tuipilot import connected, next_of, plain, until


def shown(app: ChatApp, selector: str) -> str:
    content = app.query_one(selector, Static).content
    return content.plain if isinstance(content, Text) else str(content)


def tabs(app: ChatApp) -> list[str]:
    return [item.name or "" for item in app.query_one("#rooms").children]


async def test_private_messages_have_a_conversation_of_their_own(server: Server) -> None:
    ana = await connected(server, "ana")
    nico = await connected(server, "nico")
    app = ChatApp(ana, ("127.0.0.1", server.port), "#lobby", translator("en"))
    async with app.run_test() as pilot:
        await nico.tell("ana", "psst, ana")
        await until(pilot.pause, lambda: "nico" in app.rooms)
        # Its own tab, labelled with the partner, unread; the room on screen stays as it was.
        assert app.current == "#lobby" and "nico" in tabs(app)
        assert app.rooms["nico"].unread == 1
        assert [x.split(" ", 1)[1] for x in plain(app, "nico")] == ["<nico> psst, ana"]
        assert not any("psst" in x for x in plain(app, "#lobby"))
        assert not any("→" in x for room in app.rooms for x in plain(app, room))

        # Your own /msg is shown, in that conversation, which comes on screen.
        await pilot.press(*"/msg nico hola nico", "enter")
        got = await next_of(nico, ev.Private)
        assert (got.sender, got.to, got.text) == ("ana", "nico", "hola nico")
        assert app.current == "nico" and app.rooms["nico"].unread == 0
        assert plain(app, "nico")[-1].endswith("<ana> hola nico")
        assert "nico" in shown(app, "#topic") and "private conversation" in shown(app, "#topic")

        # In a private tab, text and /me go to the partner, never to a room.
        await pilot.press(*"solo para ti", "enter")
        await pilot.press(*"/me guiña", "enter")
        text = await next_of(nico, ev.Private)
        action = await next_of(nico, ev.Private)
        assert (text.text, text.kind) == ("solo para ti", "message")
        assert (action.text, action.kind) == ("guiña", "action")
        assert plain(app, "nico")[-1].endswith("* ana guiña")

        # A second partner gets a second tab; /part closes a private one, nobody is told.
        bo = await connected(server, "bo")
        await bo.tell("ANA", "y yo")
        await until(pilot.pause, lambda: "bo" in app.rooms)
        assert plain(app, "bo")[-1].endswith("<bo> y yo") and len(plain(app, "nico")) == 4
        await pilot.press(*"/part", "enter")
        await until(pilot.pause, lambda: "nico" not in app.rooms)
        assert app.current == "#lobby"
        await bo.quit()
    await nico.quit()
    await ana.close()


async def test_a_partner_who_changes_nick_keeps_the_conversation(server: Server) -> None:
    ana = await connected(server, "ana")
    nico = await connected(server, "nico")
    app = ChatApp(ana, ("127.0.0.1", server.port), "#lobby", translator("en"))
    async with app.run_test() as pilot:
        await nico.tell("ana", "hola")
        await until(pilot.pause, lambda: "nico" in app.rooms)
        await nico.change_nick("nicolas")
        await until(pilot.pause, lambda: "nicolas" in app.rooms)
        assert "nico" not in app.rooms and "nicolas" in tabs(app)
        assert "nico is now nicolas" in plain(app, "nicolas")[-1]
        await nico.tell("ana", "sigo aquí")
        await until(pilot.pause, lambda: plain(app, "nicolas")[-1].endswith("sigo aquí"))
    await nico.quit()
    await ana.close()


async def test_the_topic_line_follows_the_room(server: Server) -> None:
    bo = await connected(server, "bo")
    await bo.join("#cafe")
    await bo.topic("#cafe", "solo café de especialidad")
    ana = await connected(server, "ana")
    app = ChatApp(ana, ("127.0.0.1", server.port), "#lobby", translator("en"))
    async with app.run_test() as pilot:
        assert shown(app, "#topic").startswith("#lobby") and "no topic" in shown(app, "#topic")
        await pilot.press(*"/join #cafe", "enter")
        await until(pilot.pause, lambda: app.current == "#cafe")
        assert shown(app, "#topic") == "#cafe  solo café de especialidad"
        await bo.topic("#cafe", "hoy: descafeinado")
        await until(pilot.pause, lambda: "descafeinado" in shown(app, "#topic"))
        await pilot.press("ctrl+n")
        assert app.current == "#lobby" and "descafeinado" not in shown(app, "#topic")
    await bo.quit()
    await ana.close()


async def test_the_nick_list_marks_operators_voices_and_who_is_away(server: Server) -> None:
    bo = await connected(server, "bo")
    await bo.join("#sala")  # first in: bo runs #sala
    eva = await connected(server, "eva")
    await eva.join("#sala")
    away = await irc(server, "zoe")
    await away.send("JOIN #sala")
    await away.expect(" 366 ")
    ana = await connected(server, "ana")
    app = ChatApp(ana, ("127.0.0.1", server.port), "#lobby", translator("en"))
    async with app.run_test() as pilot:
        await pilot.press(*"/join #sala", "enter")
        await until(pilot.pause, lambda: app.current == "#sala")
        members = shown(app, "#members").splitlines()
        assert members == ["@bo", " ana", " eva", " zoe"], members

        await bo.call(jl.Voice(room="#sala", nick="eva"))
        await until(pilot.pause, lambda: "+eva" in shown(app, "#members"))
        assert shown(app, "#members").splitlines()[:2] == ["@bo", "+eva"]
        await bo.call(jl.Op(room="#sala", nick="ana"))
        await until(pilot.pause, lambda: "@ana" in shown(app, "#members"))
        await bo.call(jl.Devoice(room="#sala", nick="eva"))
        await until(pilot.pause, lambda: " eva" in shown(app, "#members").splitlines())

        # Away: dimmed where it is listed, and back to its colour on return.
        await away.send("AWAY :comiendo")
        await until(pilot.pause, lambda: "zoe" in app.away)
        assert "dim" in style_of(app, "zoe")
        await away.send("AWAY")
        await until(pilot.pause, lambda: "zoe" not in app.away)
        assert "dim" not in style_of(app, "zoe")

        # Whoever leaves leaves the list, marks and all; a new nick keeps its mark.
        await bo.change_nick("boss")
        await until(pilot.pause, lambda: "@boss" in shown(app, "#members"))
        await eva.part("#sala")
        await until(pilot.pause, lambda: "eva" not in shown(app, "#members"))
    await bo.quit()
    await eva.quit()
    await ana.close()


def style_of(app: ChatApp, nick: str) -> str:
    content = app.query_one("#members", Static).content
    assert isinstance(content, Text)
    for span in content.spans:
        if content.plain[span.start : span.end].strip() == nick:
            return str(span.style)
    raise AssertionError(f"{nick} is not listed")


async def test_scrollback_is_kept_per_room_up_to_its_limit(server: Server) -> None:
    ana = await connected(server, "ana")
    bo = await connected(server, "bo")
    await bo.join("#otra")
    app = ChatApp(ana, ("127.0.0.1", server.port), "#lobby", translator("en"), scrollback=5)
    async with app.run_test() as pilot:
        await pilot.press(*"/join #otra", "enter")
        await until(pilot.pause, lambda: app.current == "#otra")
        await pilot.press("ctrl+n")
        for n in range(8):
            await bo.say("#otra", f"linea {n}")
        await bo.say("#lobby", "en el lobby")
        await until(pilot.pause, lambda: any("en el lobby" in x for x in plain(app, "#lobby")))
        # Kept while another room was on screen: the last five, in order.
        kept = plain(app, "#otra")
        assert [x.split("> ", 1)[1] for x in kept] == [f"linea {n}" for n in range(3, 8)]
        await pilot.press("ctrl+p")
        assert app.current == "#otra"
        log = app.query_one("#log", RichLog)
        assert len(log.lines) <= 5 and "linea 7" in log.lines[-1].text
        for n in range(8, 10):
            await bo.say("#otra", f"linea {n}")
        await until(pilot.pause, lambda: plain(app, "#otra")[-1].endswith("linea 9"))
        assert len(plain(app, "#otra")) == 5 and len(log.lines) <= 5
    await bo.quit()
    await ana.close()
