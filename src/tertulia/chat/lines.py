"""The line mode: every stdin line is sent, every event printed as a line; for pipes and cron."""

from __future__ import annotations

import asyncio
import sys
import threading

from tertulia.client import events as ev
from tertulia.client.commands import UNSENT, LineChat, is_quit, is_room
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
    """Until end of input, #LOGOUT or /quit (exit 0), or until the server goes (exit 1,
    at once: nothing typed later could be sent); everything typed is sent (and
    acknowledged) first."""
    chat = LineChat(client, room, tr)

    def sent(target: str, text: str, kind: str, reply: ev.Reply, reply_to: str) -> None:
        # Your own private messages and replies are shown, as the other side sees them.
        me = client.nick or ""
        if not is_room(target):
            said: ev.Event = ev.Private(me, target, text, kind, "", 0.0, reply_to)
        elif reply_to:
            said = ev.Message(target, me, text, kind, "", 0.0, reply_to)
        else:
            return
        chat.out(render(said, me, tr, chat.recent.get) or "")

    def reacted(target: str, msgid: str, emoji: str) -> None:
        mine = ev.Reaction(client.nick or "", msgid, emoji, *(
            (target, "") if is_room(target) else ("", target)))  # fmt: skip
        chat.out(render(mine, client.nick, tr, chat.recent.get) or "")

    chat.sent = sent
    chat.reacted = reacted

    async def printer() -> None:
        async for event in client.events():
            line = render(event, client.nick, tr, chat.recent.get)
            chat.recent.hear(event, client.nick)
            if line is not None:
                chat.out(line)

    printing = asyncio.create_task(printer())
    lines = await _stdin_lines()
    code = 0
    while True:
        line = await _next_line(lines, client)
        if line is None or is_quit(line):
            break
        if client.closed.is_set() or await chat.handle(line) == UNSENT:
            print("tertulia: " + tr(N_("the server closed the connection")), file=sys.stderr)
            code = 1
            break
    await client.quit()
    await printing
    return code


async def _next_line(lines: asyncio.Queue[str | None], client: ChatClient) -> str | None:
    """The next line typed, or "" once the server has gone and nothing is waiting."""
    if not lines.empty() or client.closed.is_set():
        return lines.get_nowait() if not lines.empty() else ""
    getting = asyncio.ensure_future(lines.get())
    gone = asyncio.ensure_future(client.closed.wait())
    await asyncio.wait((getting, gone), return_when=asyncio.FIRST_COMPLETED)
    gone.cancel()
    if getting.done():
        return getting.result()
    getting.cancel()  # a cancelled get takes nothing from the queue
    return ""
