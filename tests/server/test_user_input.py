"""What people type and what they are told, on real sockets: nicks in any script on every
door, errors that quote oversized input cut short, answers that say what happened, and
message text without direction overrides or invisible characters."""

from __future__ import annotations

from chatclient import JsonClient, LineClient
from ircclient import irc
from tertulia.server.app import Server


async def test_a_spanish_nick_is_one_nick_on_every_door(server: Server) -> None:
    nandu = await irc(server, "ñandú")
    plain = await LineClient.connect(server.port, "ana")
    web_like = await JsonClient.connect(server.port, "Σοφία")
    await nandu.send("JOIN #lobby")
    await plain.expect("ñandú joined #lobby")
    # The nick goes out as UTF-8 on IRC and in JSON, and folds beyond ASCII: ÑANDÚ is ñandú.
    await plain.send("/msg ÑANDÚ hola")
    assert (await nandu.expect("PRIVMSG")).endswith(" PRIVMSG ñandú :hola")
    await nandu.send("PRIVMSG σοφία :γεια")
    heard = await web_like.expect_obj(type="private")
    assert (heard["from"], heard["text"]) == ("ñandú", "γεια")
    # Nobody takes it in another case, nor with the accent typed as a separate mark.
    for other in ("Ñandú", "n\u0303andu\u0301"):
        late = await LineClient.connect(server.port)
        await late.expect("type your nick")
        await late.send(other)
        assert "already in use" in await late.expect("!")
    # IRC says how it folds, and refuses what the rule refuses with 432.
    await nandu.send("NICK еvan")
    assert " 432 " in await nandu.expect(" 432 ")


async def test_errors_quote_oversized_input_cut_short(server: Server) -> None:
    client = await LineClient.connect(server.port)
    await client.expect("type your nick")
    await client.send("ñ" * 300)
    error = await client.expect("!")
    assert "ñ" * 49 + "…" in error and "ñ" * 50 not in error, error
    assert len(error) < 120, error
    await client.send("ana")
    await client.expect("you are ana,")
    for line in ("/join #" + "x" * 300, "/" + "y" * 300, "/msg " + "z" * 300 + " hola"):
        await client.send(line)
        error = await client.expect("!")
        assert "…" in error and len(error) < 150, error
    js = await JsonClient.connect(server.port)
    reply = await js.request({"type": "hello", "nick": "q" * 300})
    assert reply["type"] == "error" and "q" * 49 + "…" in reply["text"], reply
    assert len(reply["text"]) < 120, reply


async def test_answers_say_what_happened(server: Server) -> None:
    ana = await LineClient.connect(server.port)
    await ana.expect("type your nick")
    await ana.send("ana")
    # Alone in the room: said so, not "with 0 more: -".
    assert (
        await ana.expect("you are ana,")
    ) == "* you are ana, in #lobby, with nobody else for now"
    bo = await LineClient.connect(server.port, "bo")
    await ana.send("/register s3creta-larga")
    await ana.expect("registered to you")
    # A wrong old password: the nick is known, so the answer says which was wrong.
    await ana.send("/password no-es-esta otra-clave-1")
    error = await ana.expect("!")
    assert "not your current password" in error and "nick" not in error, error
    # A search ends with the end of its results, not of the history.
    await bo.send("una canción de verano")
    await ana.expect("canción")
    await ana.send("/search cancion")
    found = await ana.lines_until(lambda line: line.startswith("* end of"))
    assert found[0] == "* found in #lobby, newest first:" and "canción" in found[1], found
    assert ana.seen[-1] == "* end of results"


async def test_direction_overrides_and_invisible_characters_reach_nobody(server: Server) -> None:
    sender = await LineClient.connect(server.port, "ana")
    plain = await LineClient.connect(server.port, "bo")
    js = await JsonClient.connect(server.port, "eva")
    irc_user = await irc(server, "ivo")
    await irc_user.send("JOIN #lobby")
    await sender.expect("ivo joined #lobby")
    # A right-to-left override would turn "LTR override" around on every screen; a zero-width
    # space, a word joiner and a byte order mark hide inside words. The family emoji's
    # zero-width joiners and a right-to-left mark in Hebrew are text, and stay.
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    await sender.send("\ufeffmira \u202eLTR override\u202c: can\u200bción \u2060ok " + family)
    await sender.send("שלום\u200f!")
    said = "mira LTR override: canción ok " + family
    assert (await plain.expect("[ana] mira")) == f"[ana] {said}"
    assert (await js.expect_obj(type="message"))["text"] == said
    assert (await irc_user.expect("PRIVMSG #lobby :mira")).endswith(f"PRIVMSG #lobby :{said}")
    assert (await plain.expect("[ana] שלום")) == "[ana] שלום\u200f!"
    # Nothing but hidden characters is nothing at all.
    await sender.send("\u200b\u202e\ufeff")
    assert "empty message" in await sender.expect("!")
    # A reason others read is cleaned the same way.
    await sender.send("/part #lobby \u202eadiós")
    assert (await plain.expect("ana left #lobby")).endswith("adiós)"), plain.seen[-1]
