"""The canonical events of the chat: one immutable value per thing that happens."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass


class Kind(enum.Enum):
    """How a message is meant: said, acted (`/me`) or noticed (never answered by bots)."""

    MESSAGE = "message"
    ACTION = "action"
    NOTICE = "notice"


@dataclass(frozen=True, slots=True)
class RoomMessage:
    id: int
    ts: float
    room: str
    sender: str
    text: str
    kind: Kind = Kind.MESSAGE
    account: str = ""  # the sender's account, if logged in
    # Said while the room was invite-only or had a key: after the room is gone and made
    # anew, whoever makes it must not read it.
    restricted: bool = False
    # Client tags (IRCv3 `+name=value`): opaque to the chat, relayed to those who read them.
    tags: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class PrivateMessage:
    id: int
    ts: float
    sender: str
    target: str
    text: str
    kind: Kind = Kind.MESSAGE
    account: str = ""  # the sender's account, if logged in
    tags: tuple[tuple[str, str], ...] = ()  # client tags, as for RoomMessage


@dataclass(frozen=True, slots=True)
class TagMessage:
    """Client tags with no text (IRCv3 TAGMSG: typing notices, reactions) to a room or a
    nick: relayed at once to those who read tags, never stored."""

    id: int
    sender: str
    target: str
    tags: tuple[tuple[str, str], ...]
    account: str = ""


@dataclass(frozen=True, slots=True)
class Joined:
    room: str
    nick: str


@dataclass(frozen=True, slots=True)
class Parted:
    room: str
    nick: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Quit:
    nick: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class NickChanged:
    old: str
    new: str


@dataclass(frozen=True, slots=True)
class Kicked:
    """`by`, an operator of `room`, put `nick` out of it."""

    room: str
    nick: str
    by: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class ModeChanged:
    """`by` changed `room`'s modes: `modes` as IRC writes them (`+o-v`), `args` in order."""

    room: str
    by: str
    modes: str
    args: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Invited:
    """`by` invites `nick` to `room`; only the invited one hears it."""

    room: str
    nick: str
    by: str


@dataclass(frozen=True, slots=True)
class AccountChanged:
    """`nick` logged in to `account` (or out: an empty one)."""

    nick: str
    account: str = ""


@dataclass(frozen=True, slots=True)
class AwayChanged:
    """`nick` went away (with a message) or came back (an empty one)."""

    nick: str
    message: str = ""


@dataclass(frozen=True, slots=True)
class TopicChanged:
    room: str
    nick: str
    topic: str


@dataclass(frozen=True, slots=True)
class RealnameChanged:
    """`nick` changed what it says its real name is (IRC's SETNAME)."""

    nick: str
    realname: str


@dataclass(frozen=True, slots=True)
class Redacted:
    """`by` took back message `msgid` of `room`: clients hide it, the store forgets it."""

    room: str
    msgid: int
    by: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Wallops:
    """A server operator's word to everyone who asked to hear such (user mode w)."""

    nick: str
    text: str


@dataclass(frozen=True, slots=True)
class ServerNotice:
    """A notice from the server itself; `template` is an English msgid, translated per door."""

    code: str
    template: str
    args: tuple[tuple[str, str], ...] = ()

    def render(self, translate: Callable[[str], str] | None = None) -> str:
        template = translate(self.template) if translate else self.template
        return template.format(**dict(self.args))


Event = (
    RoomMessage
    | PrivateMessage
    | Joined
    | Parted
    | Quit
    | NickChanged
    | TopicChanged
    | Kicked
    | ModeChanged
    | Invited
    | AwayChanged
    | AccountChanged
    | TagMessage
    | RealnameChanged
    | Redacted
    | Wallops
    | ServerNotice
)
