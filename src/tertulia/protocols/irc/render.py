"""Core events as IRC lines, one encoder per variant of the capabilities that change bytes.

The hub encodes each event once per encoder and hands every recipient of that variant the
very same bytes (Ergo's message cache, websockets' broadcast), so an encoder holds only
what changes the bytes: server-time, away-notify, account-tag, account-notify, message-tags.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection

from tertulia.core import events as ev
from tertulia.protocols.irc.message import Message, escape_tag, serialize

Translate = Callable[[str], str]
Clock = Callable[[], float]

# Every user looks the same from IRC whatever its door: nick!user@tertulia. The host is not
# the peer's address, which would tell every stranger where a user connects from.
HOST = "tertulia"

# The capabilities that change how events are encoded, in the order an encoder takes them.
ENCODING_CAPABILITIES = (
    "server-time", "away-notify", "account-tag", "account-notify", "message-tags", "setname",
    "draft/message-redaction",
)  # fmt: skip


def _tag(key: str, value: str) -> bytes:
    return (f"{key}={escape_tag(value)}" if value else key).encode()


def mask(nick: str, user: str = "") -> str:
    return f"{nick}!{user or nick}@{HOST}"


def server_time(moment: float) -> str:
    """The IRCv3 server-time format: UTC with milliseconds."""
    millis = int(moment * 1000) % 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(moment)) + f".{millis:03d}Z"


def say_message(
    nick: str,
    target: str,
    text: str,
    kind: ev.Kind,
    tags: dict[str, str] | None = None,
    user: str = "",
) -> Message:
    """PRIVMSG, NOTICE or a CTCP ACTION, as `nick` sends it to `target`."""
    source = mask(nick, user)
    if kind is ev.Kind.ACTION:
        return Message("PRIVMSG", (target, f"\x01ACTION {text}\x01"), source, tags or {})
    command = "NOTICE" if kind is ev.Kind.NOTICE else "PRIVMSG"
    return Message(command, (target, text), source, tags or {})


_UNSENDABLE = ("\r", "\n", "\0")


def say_line(nick: str, target: str, text: str, kind: ev.Kind, user: str = "") -> bytes:
    """serialize(say_message(...)) without the Message, for the line every message makes;
    byte for byte the same (a hypothesis test compares them), ValueError alike."""
    if (
        not target
        or " " in target
        or target[0] == ":"
        or any(c in text or c in target for c in _UNSENDABLE)
    ):
        return serialize(say_message(nick, target, text, kind, None, user))
    if kind is ev.Kind.ACTION:
        return f":{mask(nick, user)} PRIVMSG {target} :\x01ACTION {text}\x01\r\n".encode()
    command = "NOTICE" if kind is ev.Kind.NOTICE else "PRIVMSG"
    return f":{mask(nick, user)} {command} {target} :{text}\r\n".encode()


class IrcEncoder:
    """Core events as IRC lines for one variant of capabilities."""

    __slots__ = (
        "_account_notify", "_account_tag", "_away", "_clock", "_ident", "_is_bot", "_redact",
        "_server", "_setname", "_tags", "_time", "_tr",
    )  # fmt: skip

    def __init__(
        self,
        server_name: str,
        translate: Translate,
        caps: Collection[str] = (),
        clock: Clock = time.time,
        ident: Callable[[str], str] = str,
        is_bot: Callable[[str], bool] = lambda nick: False,
    ) -> None:
        self._server = server_name
        self._tr = translate
        self._time = "server-time" in caps
        self._away = "away-notify" in caps
        self._account_tag = "account-tag" in caps
        self._account_notify = "account-notify" in caps
        self._tags = "message-tags" in caps
        self._setname = "setname" in caps
        self._redact = "draft/message-redaction" in caps
        self._clock = clock
        self._ident = ident  # nick -> the username its mask shows
        self._is_bot = is_bot  # nick -> whether it set bot mode (the `bot` tag)

    def encode(self, event: ev.Event) -> bytes | None:
        line = self._line(event)
        if line is None:
            return None
        tags = []
        if self._time:
            moment = getattr(event, "ts", None)
            tags.append(
                b"time=" + server_time(self._clock() if moment is None else moment).encode()
            )
        if self._tags and isinstance(event, ev.RoomMessage | ev.PrivateMessage | ev.TagMessage):
            tags.append(b"msgid=%d" % event.id)
            if self._is_bot(event.sender):
                tags.append(b"bot")
            tags += [_tag(k, v) for k, v in event.tags]
        account = getattr(event, "account", "") if self._account_tag else ""
        if account and not isinstance(event, ev.AccountChanged):
            tags.append(b"account=" + account.encode())  # a nick: nothing to escape
        return b"@" + b";".join(tags) + b" " + line if tags else line

    def _mask(self, nick: str) -> str:
        return mask(nick, self._ident(nick))

    def _line(self, event: ev.Event) -> bytes | None:
        match event:
            case ev.RoomMessage(sender=nick, room=room, text=text, kind=kind):
                return say_line(nick, room, text, kind, self._ident(nick))
            case ev.PrivateMessage(sender=nick, target=target, text=text, kind=kind):
                return say_line(nick, target, text, kind, self._ident(nick))
            case ev.Joined(room=room, nick=nick):
                return serialize(Message("JOIN", (room,), self._mask(nick)))
            case ev.Parted(room=room, nick=nick, reason=reason):
                params = (room, reason) if reason else (room,)
                return serialize(Message("PART", params, self._mask(nick)))
            case ev.Quit(nick=nick, reason=reason):
                return serialize(Message("QUIT", (reason or "Quit",), self._mask(nick)))
            case ev.NickChanged(old=old, new=new):
                return serialize(Message("NICK", (new,), self._mask(old)))
            case ev.TopicChanged(room=room, nick=nick, topic=topic):
                return serialize(Message("TOPIC", (room, topic), self._mask(nick)))
            case ev.Kicked(room=room, nick=nick, by=by, reason=reason):
                return serialize(Message("KICK", (room, nick, reason or by), self._mask(by)))
            case ev.ModeChanged(room=room, by=by, modes=modes, args=args):
                return serialize(Message("MODE", (room, modes, *args), self._mask(by)))
            case ev.Invited(room=room, nick=nick, by=by):
                return serialize(Message("INVITE", (nick, room), self._mask(by)))
            case ev.AccountChanged(nick=nick, account=account) if self._account_notify:
                return serialize(Message("ACCOUNT", (account or "*",), self._mask(nick)))
            case ev.AwayChanged(nick=nick, message=message) if self._away:
                return serialize(Message("AWAY", (message,) if message else (), self._mask(nick)))
            case ev.TagMessage(sender=nick, target=target) if self._tags:
                return serialize(Message("TAGMSG", (target,), self._mask(nick)))
            case ev.RealnameChanged(nick=nick, realname=realname) if self._setname:
                return serialize(Message("SETNAME", (realname,), self._mask(nick)))
            case ev.Redacted(room=room, msgid=msgid, by=by, reason=reason) if self._redact:
                said = (room, str(msgid), reason) if reason else (room, str(msgid))
                return serialize(Message("REDACT", said, self._mask(by)))
            case ev.Wallops(nick=nick, text=text):
                return serialize(Message("WALLOPS", (text,), self._mask(nick)))
            case ev.ServerNotice():
                text = event.render(self._tr)
                return serialize(Message("NOTICE", ("*", text), self._server))
        return None
