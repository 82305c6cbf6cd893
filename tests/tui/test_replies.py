"""Replies, reactions, typing notices, taken-back messages and away in the Textual app,
driven by its pilot against a real server on port 0."""

from __future__ import annotations

from textual.widgets import Input

from tertulia.client import events as ev
from tertulia.i18n import translator
from tertulia.server.app import Server
from tertulia.tui.app import ChatApp
from tuipilot import connected, next_of, plain, status_of, until


async def test_replies_and_reactions_both_ways(server: Server) -> None:
    ana = await connected(server, "ana")
    bo = await connected(server, "bo")
    app = ChatApp(ana, ("127.0.0.1", server.port), "#lobby", translator("en"))
    async with app.run_test() as pilot:
        asked = await bo.say("#lobby", "¿quién trae el pan mañana por la mañana?")
        await until(pilot.pause, lambda: plain(app, "#lobby")[-1].endswith("mañana?"))

        # /reply N: the answer carries what it answers, and shows it above itself.
        await pilot.press(*"/reply 1 yo", "enter")
        answer = await next_of(bo, ev.Message)
        assert (answer.text, answer.reply_to) == ("yo", str(asked.data["msgid"]))
        mine = plain(app, "#lobby")[-1].splitlines()
        assert mine[0].strip() == "↪ bo: ¿quién trae el pan mañana…"
        assert mine[1].endswith("<ana> yo")

        # A reply from someone else quotes ours.
        await bo.say("#lobby", "¡gracias!", reply_to=int(answer.msgid))
        await until(pilot.pause, lambda: plain(app, "#lobby")[-1].endswith("¡gracias!"))
        assert plain(app, "#lobby")[-1].splitlines()[0].strip() == "↪ ana: yo"

        # /react N: 2 is the one before the last; the mark is on that line, for everyone.
        app.query_one("#input", Input).value = "/react 2 👍"  # the pilot types no emoji
        await pilot.press("enter")
        reaction = await next_of(bo, ev.Reaction)
        assert (reaction.sender, reaction.msgid, reaction.emoji) == ("ana", answer.msgid, "👍")
        await until(pilot.pause, lambda: any(x.endswith("<ana> yo  👍 ana") for x in lines(app)))
        await bo.react("#lobby", int(answer.msgid), "🎉")
        await until(pilot.pause, lambda: any(x.endswith("👍 ana  🎉 bo") for x in lines(app)))

        # A message taken back goes from the screen, and replies no longer quote it.
        await bo.redact("#lobby", int(asked.data["msgid"]))
        await until(pilot.pause, lambda: not any("el pan" in x for x in lines(app)))
        assert "      ↪ an earlier message" in lines(app)
        assert lines(app)[-1].endswith("¡gracias!")

        await pilot.press(*"/react 9 x", "enter")
        assert plain(app, "#lobby")[-1].endswith("! there is no message 9 here")
    await bo.quit()
    await ana.close()


def lines(app: ChatApp) -> list[str]:
    return [row for line in plain(app, app.current) for row in line.splitlines()]


async def test_history_shows_what_replies_answer_and_the_reactions(server: Server) -> None:
    bo = await connected(server, "bo")
    eva = await connected(server, "eva")
    first = await bo.say("#lobby", "hay tortilla")
    await eva.say("#lobby", "¡voy!", reply_to=int(first.data["msgid"]))
    await eva.react("#lobby", int(first.data["msgid"]), "😋")
    await bo.quit()
    await eva.quit()
    ana = await connected(server, "ana")  # the replay on arriving carries both
    app = ChatApp(ana, ("127.0.0.1", server.port), "#lobby", translator("en"))
    async with app.run_test() as pilot:
        await until(pilot.pause, lambda: any(x.endswith("¡voy!") for x in lines(app)))
        shown = lines(app)
        assert any(x.endswith("<bo> hay tortilla  😋 eva") for x in shown), shown
        assert shown[shown.index("      ↪ bo: hay tortilla") + 1].endswith("<eva> ¡voy!")
    await ana.close()


async def test_typing_notices_both_ways(server: Server) -> None:
    ana = await connected(server, "ana")
    bo = await connected(server, "bo")
    app = ChatApp(ana, ("127.0.0.1", server.port), "#lobby", translator("en"))
    async with app.run_test() as pilot:
        await bo.typing("#lobby", "active")
        await until(pilot.pause, lambda: "bo typing…" in status_of(app))
        await bo.say("#lobby", "listo")  # a message ends it
        await until(pilot.pause, lambda: "typing" not in status_of(app))

        await pilot.press(*"ho")
        typing = await next_of(bo, ev.Typing)
        assert (typing.sender, typing.state, typing.room) == ("ana", "active", "#lobby")
        await pilot.press(*"la", "enter")
        said = await next_of(bo, ev.Message)
        done = await next_of(bo, ev.Typing)
        assert said.text == "hola" and done.state == "done"
    await bo.quit()
    await ana.close()


async def test_away_from_the_terminal_and_in_a_private_conversation(server: Server) -> None:
    ana = await connected(server, "ana")
    bo = await connected(server, "bo")
    app = ChatApp(ana, ("127.0.0.1", server.port), "#lobby", translator("en"))
    async with app.run_test() as pilot:
        await pilot.press(*"/away comiendo", "enter")
        gone = await next_of(bo, ev.AwayChanged)
        assert (gone.nick, gone.message) == ("ana", "comiendo")
        await bo.tell("ana", "¿estás?")
        await until(pilot.pause, lambda: "bo" in app.rooms)
        await bo.away("en una reunión")
        await until(pilot.pause, lambda: "bo" in app.away)
        assert plain(app, "bo")[-1].endswith("* bo is away: en una reunión")
        await bo.away("")
        await until(pilot.pause, lambda: plain(app, "bo")[-1].endswith("* bo is back"))
        assert "bo" not in app.away
    await bo.quit()
    await ana.close()
