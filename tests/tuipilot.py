"""What the Textual app's tests share: a client of the real server beside the app, and
waits on what the app shows, with timeouts instead of sleeps."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from rich.text import Text
from textual.widgets import Static

from tertulia.client.connection import ChatClient
from tertulia.server.app import Server
from tertulia.tui.app import ChatApp

E = TypeVar("E")


async def connected(server: Server, nick: str) -> ChatClient:
    client = await ChatClient.open("127.0.0.1", server.port)
    await client.hello(nick)
    return client


async def until(pilot_pause: Callable[[], object], check: Callable[[], bool]) -> None:
    async with asyncio.timeout(10):
        while not check():
            await pilot_pause()  # type: ignore[misc]


async def next_of(client: ChatClient, kind: type[E]) -> E:
    async with asyncio.timeout(10):
        async for event in client.events():
            if isinstance(event, kind):
                return event
    raise AssertionError(f"connection closed before a {kind.__name__}")


def plain(app: ChatApp, name: str) -> list[str]:
    return [line.plain for line in app.rooms[name].lines]


def status_of(app: ChatApp) -> str:
    content = app.query_one("#status", Static).content
    return content.plain if isinstance(content, Text) else str(content)
