"""Events as the one-line text the line mode prints: pure, translated, no I/O."""

from __future__ import annotations

import time

from tertulia.client import events as ev
from tertulia.core.errors import N_
from tertulia.i18n import Translate


def render(event: ev.Event, me: str | None, tr: Translate) -> str | None:
    """The line for `event`, or None for events the line mode keeps quiet about."""
    match event:
        case ev.Message(kind="action"):
            return f"{event.room} * {event.sender} {event.text}"
        case ev.Message():
            return f"{event.room} [{event.sender}] {event.text}"
        case ev.Private(kind="action"):
            return f"[{event.sender} -> {event.to}] * {event.sender} {event.text}"
        case ev.Private():
            return f"[{event.sender} -> {event.to}] {event.text}"
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
            # One line per message, each after the time it was said.
            return (
                "\n".join(
                    f"{time.strftime('%H:%M', time.localtime(m.ts))} " + (render(m, me, tr) or "")
                    for m in event.messages
                )
                or None
            )
    return None
