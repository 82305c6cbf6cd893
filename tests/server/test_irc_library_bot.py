"""A bot written with a real IRC library (jaraco's `irc`, on asyncio) talks with a plain client."""

from __future__ import annotations

import asyncio
from typing import Any

from irc.client_aio import AioReactor

from chatclient import LineClient
from tertulia.server.app import Server


async def test_a_library_bot_joins_talks_and_reacts(server: Server) -> None:
    port = int(server.addresses("irc")[0].rsplit(":", 1)[1])
    loop = asyncio.get_running_loop()
    joined: asyncio.Future[None] = loop.create_future()
    heard: list[tuple[str, str]] = []
    reactor = AioReactor(loop=loop)

    def on_welcome(conn: Any, event: Any) -> None:
        conn.join("#lobby")

    def on_join(conn: Any, event: Any) -> None:
        if event.source.nick == "bot" and not joined.done():
            joined.set_result(None)

    def on_pubmsg(conn: Any, event: Any) -> None:
        heard.append((event.source.nick, event.arguments[0]))
        if event.arguments[0] == "!hola":
            conn.privmsg(event.target, f"hola, {event.source.nick}")

    for kind, handler in (("welcome", on_welcome), ("join", on_join), ("pubmsg", on_pubmsg)):
        reactor.add_global_handler(kind, handler)
    conn = await reactor.server().connect("127.0.0.1", port, "bot", ircname="Tertulia bot")
    try:
        async with asyncio.timeout(10):
            await joined
        plain = await LineClient.connect(server.port, "pia")
        await plain.send("!hola")
        assert await plain.expect("hola, pia") == "[bot] hola, pia"
        assert heard == [("pia", "!hola")]
        await plain.close()
    finally:
        conn.disconnect("bye")
