"""The line mode: every stdin line is sent, every event printed as a line; for pipes and cron."""

from __future__ import annotations

import asyncio
import sys
import threading

from tertulia.client.commands import LEAVE, LineChat
from tertulia.client.connection import ChatClient
from tertulia.client.render import render
from tertulia.core.errors import N_
from tertulia.i18n import Translate


async def _stdin_lines() -> asyncio.Queue[str | None]:
    # A daemon thread reads stdin: portable, a blocking read never stalls the event loop,
    # and leaving never waits for a line that may not come (an executor thread would).
    queue: asyncio.Queue[str | None] = asyncio.Queue()
    loop = asyncio.get_running_loop()

    def pump() -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(queue.put_nowait, line)
        loop.call_soon_threadsafe(queue.put_nowait, None)

    threading.Thread(target=pump, name="stdin", daemon=True).start()
    return queue


async def run_lines(client: ChatClient, room: str, tr: Translate) -> int:
    """Until end of input or #LOGOUT; everything typed is sent (and acknowledged) first."""
    chat = LineChat(client, room, tr)

    async def printer() -> None:
        async for event in client.events():
            line = render(event, client.nick, tr)
            if line is not None:
                chat.out(line)

    printing = asyncio.create_task(printer())
    lines = await _stdin_lines()
    code = 0
    while True:
        line = await lines.get()
        if line is None or client.closed.is_set():
            break
        if await chat.handle(line) == LEAVE:
            break
    if client.closed.is_set() and line is not None:
        print("tertulia: " + tr(N_("the server closed the connection")), file=sys.stderr)
        code = 1
    await client.quit()
    await printing
    return code
