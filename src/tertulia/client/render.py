"""Events as the one-line text the line mode prints: pure, translated, no I/O."""

from __future__ import annotations

import time
from collections.abc import Callable

from tertulia.client import events as ev
from tertulia.core.errors import N_
from tertulia.i18n import Translate

# (sender, text) of a recent message of a conversation, by msgid; None if not known.
Quoted = Callable[[str, str], tuple[str, str] | None]
QUOTED = 40  # characters of a message quoted in a reply's or a reaction's line


def quote(sender: str, text: str) -> str:
    """`bo: «the first words…»`, as the plain door quotes what a reply answers."""
    text = text if len(text) <= QUOTED else text[: QUOTED - 1] + "…"
    return f"{sender}: «{text}»"


def render(
    event: ev.Event, me: str | None, tr: Translate, quoted: Quoted | None = None
) -> str | None:
    """The line for `event`, or None for events the line mode keeps quiet about. With
    `quoted`, a reply says what it answers and a reaction what it is about."""

    def answer(conversation: str, msgid: str) -> str:
        found = quoted(conversation, msgid) if quoted and msgid else None
        return f"↪ {quote(*found)} " if found else ""

    match event:
        case ev.Message(kind="action"):
            return f"{event.room} * {event.sender} {event.text}"
        case ev.Message():
            said = answer(event.room, event.reply_to) + event.text
            return f"{event.room} [{event.sender}] {said}"
        case ev.Private(kind="action"):
            return f"[{event.sender} -> {event.to}] * {event.sender} {event.text}"
        case ev.Private():
            said = answer(_partner(event.sender, event.to, me), event.reply_to) + event.text
            return f"[{event.sender} -> {event.to}] {said}"
        case ev.Reaction():
            where = event.room or _partner(event.sender, event.to, me)
            found = quoted(where, event.msgid) if quoted else None
            if found is None:
                return None  # about a message nobody here saw
            line = tr(N_("{nick} reacted {emoji} to {message}")).format(
                nick=event.sender, emoji=event.emoji, message=quote(*found)
            )
            return f"{event.room} * {line}" if event.room else f"* {line}"
        case ev.Joined():
            return "* " + tr(N_("{nick} joined {room}")).format(nick=event.nick, room=event.room)
        case ev.Parted():
            line = tr(N_("{nick} left {room}")).format(nick=event.nick, room=event.room)
            return "* " + line + (f" ({event.reason})" if event.reason else "")
        case ev.Quit():
            line = tr(N_("{nick} quit")).format(nick=event.nick)
            return "* " + line + (f" ({event.reason})" if event.reason else "")
        case ev.NickChanged():
            return "* " + tr(N_("{old} is now {new}")).format(old=event.old, new=event.new)
        case ev.TopicChanged():
            return "* " + tr(N_("{nick} set the topic of {room}: {topic}")).format(
                nick=event.nick, room=event.room, topic=event.topic
            )
        case ev.Kicked():
            line = tr(N_("{nick} was put out of {room} by {by}")).format(
                nick=event.nick, room=event.room, by=event.by
            )
            return "* " + line + (f" ({event.reason})" if event.reason else "")
        case ev.ModeChanged():
            modes = " ".join((event.modes, *event.args))
            return "* " + tr(N_("{by} set mode {modes} on {room}")).format(
                by=event.by, modes=modes, room=event.room
            )
        case ev.Invited():
            return "* " + tr(N_("{by} invites you to {room}")).format(by=event.by, room=event.room)
        case ev.Notice():
            return f"* {event.text}"
        case ev.History():
            # One line per message, each after the time it was said; a reply may quote
            # one said before it in the same replay.
            earlier = {m.msgid: (m.sender, m.text) for m in event.messages}

            def known(conversation: str, msgid: str) -> tuple[str, str] | None:
                found = earlier.get(msgid)
                return found or (quoted(conversation, msgid) if quoted else None)

            lines = (
                time.strftime("%H:%M ", time.localtime(m.ts)) + (render(m, me, tr, known) or "")
                for m in event.messages
            )
            return "\n".join(lines) or None
    return None


def _partner(sender: str, to: str, me: str | None) -> str:
    """Whom a private message or reaction is with, seen from `me`."""
    return to if (me or "").casefold() == sender.casefold() else sender
