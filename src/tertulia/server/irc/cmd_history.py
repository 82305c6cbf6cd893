"""History from IRC: CHATHISTORY (IRCv3 draft/chathistory, LATEST and BEFORE) and SEARCH."""

from __future__ import annotations

import time
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from tertulia.core import events as ev
from tertulia.core.names import fold
from tertulia.core.room import Room
from tertulia.protocols.irc import Message
from tertulia.protocols.irc.render import say_message, server_time

if TYPE_CHECKING:
    from tertulia.server.irc.handler import IrcHandler


def chathistory(h: IrcHandler, msg: Message) -> None:
    # CHATHISTORY LATEST <target> <* | msgid=N> <limit> | BEFORE <target> <msgid=N> <limit>
    sub, target, ref, count = (msg.param(i) for i in range(4))
    sub = sub.upper()
    if sub not in ("LATEST", "BEFORE"):
        h.fail("CHATHISTORY", "INVALID_PARAMS", sub, "Only LATEST and BEFORE are supported")
        return
    if not count:
        h.fail("CHATHISTORY", "NEED_MORE_PARAMS", sub, "Missing parameters")
        return
    try:
        limit = int(count)
        after = before = None
        if ref.startswith("msgid="):
            if sub == "LATEST":
                after = int(ref[6:])
            else:
                before = int(ref[6:])
        elif not (ref == "*" and sub == "LATEST"):
            raise ValueError(ref)
    except ValueError:
        h.fail("CHATHISTORY", "INVALID_PARAMS", sub, "References are * or msgid=N")
        return
    room = _readable_room(h, "CHATHISTORY", sub, target)
    if room is None:
        return
    limit = max(1, min(limit, h.server.settings.history_page))

    async def answer() -> None:
        messages = await h.server.history.before(room, before, limit, h.reader)
        if after is not None:
            messages = [m for m in messages if m.id > after]
        batch(h, "chathistory", room.name, messages)

    _stored(h, answer())


def search(h: IrcHandler, msg: Message) -> None:
    """SEARCH #room :words (tertulia's own): results in a batch, or as NOTICE lines."""
    target, words = msg.param(0), msg.param(1)
    if not words.strip():
        h.numeric("461", "SEARCH", "Not enough parameters")
        return
    room = _readable_room(h, "SEARCH", "SEARCH", target)
    if room is None:
        return

    async def answer() -> None:
        found = await h.server.history.search(
            room, words, None, h.server.settings.search_results, h.reader
        )
        if "batch" in h.caps.enabled:
            batch(h, "tertulia/search", room.name, found)
            return
        for m in found:
            stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime(m.ts))
            h.send(Message("NOTICE", (h.nick, f"[{stamp}] <{m.sender}> {m.text}"), h.server.name))
        end = f"End of search in {room.name}: {len(found)} found"
        h.send(Message("NOTICE", (h.nick, end), h.server.name))

    _stored(h, answer())


def _readable_room(h: IrcHandler, command: str, sub: str, target: str) -> Room | None:
    """A channel this client is in (history is for members only), or a FAIL sent."""
    if h.server.history.store is None:
        h.fail(command, "MESSAGE_ERROR", sub, "This server keeps no history")
        return None
    room = h.session.rooms.get(fold(target))
    if room is None or h.session.key not in room.members:
        h.fail(command, "INVALID_TARGET", sub, target, "You are not on that channel")
        return None
    return room


def _stored(h: IrcHandler, answer: Coroutine[Any, Any, None]) -> None:
    h.slow(answer)


def batch(h: IrcHandler, kind: str, target: str, messages: list[ev.RoomMessage]) -> None:
    """Past messages inside an IRCv3 batch, each with its time (and msgid with tags)."""
    h.batches += 1
    ref = f"h{h.batches}"
    h.send(Message("BATCH", ("+" + ref, kind, target), h.server.name))
    tagged = "message-tags" in h.caps.enabled
    for m in messages:
        tags = {"batch": ref, "time": server_time(m.ts)}
        if tagged:
            tags["msgid"] = str(m.id)
            tags.update(m.tags)  # client tags kept with it: what it replies to
        h.send(say_message(m.sender, m.room, m.text, m.kind, tags))
    h.send(Message("BATCH", ("-" + ref,), h.server.name))
