"""The Textual app over TLS: its status says so, and it reconnects over TLS."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import trustme

from conftest import ServerFactory
from tertulia.client.connection import ChatClient, tls_context
from tertulia.i18n import translator
from tertulia.server.app import Server
from tertulia.tui.app import ChatApp
from tlscerts import ca_file, write_cert


async def until(pilot_pause: Callable[[], object], check: Callable[[], bool]) -> None:
    async with asyncio.timeout(10):
        while not check():
            await pilot_pause()  # type: ignore[misc]


def plain(app: ChatApp, room: str) -> list[str]:
    return [line.plain for line in app.rooms[room].lines]


async def test_the_app_reconnects_over_tls(make_server: ServerFactory, tmp_path: Path) -> None:
    ca = trustme.CA()
    chain, key = write_cert(ca, tmp_path)
    files = {"tls_cert": str(chain), "tls_key": str(key), "irc": False, "web": False}
    first: Server = await make_server(plain_tls_port=0, **files)
    port = int(first.addresses("plain-tls")[0].rsplit(":", 1)[1])
    tls = tls_context(str(ca_file(ca, tmp_path)))
    ana = await ChatClient.open("127.0.0.1", port, tls)
    await ana.hello("ana")
    app = ChatApp(ana, ("127.0.0.1", port), "#lobby", translator("en"), tls=tls)
    async with app.run_test() as pilot:
        assert f"127.0.0.1:{port} TLS" in app.server_name
        await first.shutdown()
        await until(pilot.pause, lambda: app.client.closed.is_set())
        # Only the TLS port is the same: a reconnection in the clear would never get in.
        second: Server = await make_server(plain_tls_port=port, **files)
        await until(pilot.pause, lambda: not app.client.closed.is_set())
        assert any("reconnected as ana" in line for line in plain(app, "#lobby"))
        bo = await ChatClient.open("127.0.0.1", second.port)
        await bo.hello("bo")
        await bo.say("#lobby", "de vuelta por TLS")
        await until(pilot.pause, lambda: any("de vuelta" in x for x in plain(app, "#lobby")))
        await bo.quit()
    await app.client.close()
