"""The plain protocol: UTF-8 lines for netcat and the original client, `[nick] text` out."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from tertulia.core import events as ev
from tertulia.core.errors import N_

Translate = Callable[[str], str]

LOGOUT = "#LOGOUT"

# The original client's every write: "[nick] text", no newline.
_ORIGINAL = re.compile(r"\[([^\[\]\s]{1,64})\] ?(.*)", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Say:
    text: str


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    arg: str


@dataclass(frozen=True, slots=True)
class Logout:
    reason: str = ""


Line = Say | Command | Logout


def parse_original(text: str) -> tuple[str, str] | None:
    """Split the original client's `[nick] text` into nick and text, or None."""
    match = _ORIGINAL.fullmatch(text)
    if match is None:
        return None
    return match.group(1), match.group(2)


def parse_line(text: str) -> Line | None:
    """What a chatting user's line asks for; None for a blank line."""
    if not text.strip():
        return None
    if text.strip() == LOGOUT:
        return Logout()
    if text.startswith("//"):
        return Say(text[1:])  # a doubled slash sends a line that starts with '/'
    if text.startswith("/"):
        name, _, arg = text[1:].partition(" ")
        name = name.lower()
        if name == "quit":
            return Logout(arg.strip())
        return Command(name, arg.strip())
    return Say(text)


REPLY, REACT = "+draft/reply", "+draft/react"


def notice(text: str) -> bytes:
    return f"* {text}\n".encode()


def error(text: str) -> bytes:
    return f"! {text}\n".encode()


def history_line(stamp: str, message: ev.RoomMessage) -> bytes:
    """A stored message, after the time it was said: `14:02 [ana] hola`."""
    if message.kind is ev.Kind.ACTION:
        return f"{stamp} * {message.sender} {message.text}\n".encode()
    if message.kind is ev.Kind.NOTICE:
        return f"{stamp} -{message.sender}- {message.text}\n".encode()
    return f"{stamp} [{message.sender}] {message.text}\n".encode()


# A room's recent message by id, for the lines that quote what a reply or reaction is about.
Lookup = Callable[[str, int], ev.RoomMessage | None]
QUOTED = 40  # characters of a message quoted in a reply's or a reaction's line


def quote(message: ev.RoomMessage) -> str:
    """`bo: «the first words…»`, what a reply or reaction line shows of its message."""
    text = message.text if len(message.text) <= QUOTED else message.text[: QUOTED - 1] + "…"
    return f"{message.sender}: «{text}»"


def _tag(event: ev.RoomMessage | ev.TagMessage, name: str) -> str:
    for key, value in event.tags:
        if key == name:
            return value
    return ""


class PlainEncoder:
    """Events as the lines the original clients printed; notices in the server's language.

    A reply reads `[ana] ↪ bo: «what bo said» and the answer`; a reaction is a notice;
    typing notices and other client tags are not shown."""

    __slots__ = ("_find", "_tr")

    def __init__(self, translate: Translate, find: Lookup | None = None) -> None:
        self._tr = translate
        self._find = find

    def _replied(self, event: ev.RoomMessage | ev.TagMessage, room: str) -> ev.RoomMessage | None:
        msgid = _tag(event, REPLY)
        if self._find is None or not msgid.isdecimal():
            return None
        return self._find(room, int(msgid))

    def encode(self, event: ev.Event) -> bytes | None:
        tr = self._tr
        match event:
            case ev.RoomMessage(sender=nick, text=text, kind=ev.Kind.MESSAGE, tags=tags) if tags:
                answered = self._replied(event, event.room)
                if answered is None:
                    return f"[{nick}] {text}\n".encode()
                return f"[{nick}] ↪ {quote(answered)} {text}\n".encode()
            case ev.RoomMessage(sender=nick, text=text, kind=ev.Kind.MESSAGE):
                return f"[{nick}] {text}\n".encode()
            case ev.RoomMessage(sender=nick, text=text, kind=ev.Kind.ACTION):
                return f"* {nick} {text}\n".encode()
            case ev.RoomMessage(sender=nick, text=text):
                return f"-{nick}- {text}\n".encode()
            case ev.PrivateMessage(sender=nick, target=target, text=text, kind=ev.Kind.ACTION):
                return f"* [{nick} -> {target}] {nick} {text}\n".encode()
            case ev.PrivateMessage(sender=nick, target=target, text=text):
                return f"[{nick} -> {target}] {text}\n".encode()
            case ev.Joined(room=room, nick=nick):
                return notice(tr(N_("{nick} joined {room}")).format(nick=nick, room=room))
            case ev.Parted(room=room, nick=nick, reason=reason):
                line = tr(N_("{nick} left {room}")).format(nick=nick, room=room)
                return notice(f"{line} ({reason})" if reason else line)
            case ev.Quit(nick=nick, reason=reason):
                line = tr(N_("{nick} quit")).format(nick=nick)
                return notice(f"{line} ({reason})" if reason else line)
            case ev.NickChanged(old=old, new=new):
                return notice(tr(N_("{old} is now known as {new}")).format(old=old, new=new))
            case ev.ModeChanged(room=room, by=by, modes=modes, args=args):
                text = " ".join((modes, *args))
                return notice(tr(N_("{by} set mode {modes} on {room}")).format(
                    by=by, modes=text, room=room))  # fmt: skip
            case ev.Invited(room=room, by=by):
                return notice(tr(N_("{by} invites you to {room}")).format(by=by, room=room))
            case ev.Kicked(room=room, nick=nick, by=by, reason=reason):
                line = tr(N_("{nick} was put out of {room} by {by}")).format(
                    nick=nick, room=room, by=by
                )
                return notice(f"{line} ({reason})" if reason else line)
            case ev.TopicChanged(room=room, nick=nick, topic=topic):
                return notice(
                    tr(N_("{nick} set the topic of {room}: {topic}")).format(
                        nick=nick, room=room, topic=topic
                    )
                )
            case ev.ServerNotice():
                return notice(event.render(tr))
            case ev.TagMessage(sender=nick, target=target) if target.startswith("#"):
                emoji = _tag(event, REACT)
                answered = self._replied(event, target) if emoji else None
                if answered is None:
                    return None  # typing notices, and reactions to what nobody here saw
                return notice(tr(N_("{nick} reacted {emoji} to {message}")).format(
                    nick=nick, emoji=emoji, message=quote(answered)))  # fmt: skip
        return None
