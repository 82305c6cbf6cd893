"""Facts: what one node tells the others, as bytes on the bus and back (pure code).

A fact is one JSON object: `n` the node it comes from, `t` its type, `at` when it was sent
(for the lag the status shows), and the fields of the core event it carries. docs/cluster.md
lists them. Bytes that are not a fact decode to None: a node skips them and reads on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from tertulia.core.bans import ServerBan
from tertulia.core.events import (
    AwayChanged,
    Invited,
    Joined,
    Kicked,
    Kind,
    ModeChanged,
    NickChanged,
    Parted,
    PrivateMessage,
    Quit,
    Redacted,
    RoomMessage,
    TagMessage,
    TopicChanged,
)
from tertulia.core.replica import Hello


@dataclass(frozen=True, slots=True)
class Kill:
    """A server operator put another node's user off the server: that node closes it."""

    node: str  # the node that serves the user
    nick: str
    by: str
    reason: str


@dataclass(frozen=True, slots=True)
class Announce:
    """The administrator's notice to everyone (`tertulia admin announce`): each node tells
    its own users."""

    text: str


@dataclass(frozen=True, slots=True)
class Unban:
    mask: str


@dataclass(frozen=True, slots=True)
class Owner:
    """A room registered to an account (folded), or given back ("")."""

    room: str
    owner: str


@dataclass(frozen=True, slots=True)
class Account:
    """The administrator renamed an account (`tertulia admin rename`), or dropped it
    (`new` ""): each node moves its registered nicks and its own users logged in to it."""

    old: str
    new: str


Carried = (
    Hello | NickChanged | Quit | AwayChanged | Joined | Parted | Kicked | TopicChanged
    | ModeChanged | RoomMessage | PrivateMessage | TagMessage | Redacted | ServerBan
    | Kill | Unban | Owner | Account | Invited | Announce | None
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Fact:
    node: str
    type: str
    at: float
    event: Carried
    flag: str = ""  # a join's standing in the room: "o", "v" or ""


def _tags(value: Any) -> tuple[tuple[str, str], ...]:
    return tuple((str(k), str(v)) for k, v in value)


def encode(node: str, at: float, event: Carried, flag: str = "", type_: str = "") -> bytes:
    """The bytes of one fact; `type_` names a fact without an event ("bye")."""
    body: dict[str, Any] = {"n": node, "at": round(at, 6)}
    match event:
        case Hello():
            body |= {"t": "hello", "nick": event.nick, "user": event.user,
                     "real": event.realname, "acct": event.account, "away": event.away,
                     "modes": event.modes, "since": event.since,
                     "rooms": [list(r) for r in event.rooms]}  # fmt: skip
        case NickChanged():
            body |= {"t": "nick", "old": event.old, "new": event.new}
        case Quit():
            body |= {"t": "quit", "nick": event.nick, "reason": event.reason}
        case AwayChanged():
            body |= {"t": "away", "nick": event.nick, "msg": event.message}
        case Joined():
            body |= {"t": "join", "room": event.room, "nick": event.nick, "flag": flag}
        case Parted():
            body |= {"t": "part", "room": event.room, "nick": event.nick, "reason": event.reason}
        case Kicked():
            body |= {"t": "kick", "room": event.room, "nick": event.nick, "by": event.by,
                     "reason": event.reason}  # fmt: skip
        case TopicChanged():
            body |= {"t": "topic", "room": event.room, "nick": event.nick, "topic": event.topic}
        case ModeChanged():
            body |= {"t": "mode", "room": event.room, "by": event.by, "modes": event.modes,
                     "args": list(event.args)}  # fmt: skip
        case RoomMessage():
            body |= {"t": "msg", "id": event.id, "ts": event.ts, "room": event.room,
                     "from": event.sender, "text": event.text, "kind": event.kind.value,
                     "acct": event.account, "restricted": event.restricted,
                     "tags": [list(t) for t in event.tags]}  # fmt: skip
        case PrivateMessage():
            body |= {"t": "pm", "id": event.id, "ts": event.ts, "from": event.sender,
                     "to": event.target, "text": event.text, "kind": event.kind.value,
                     "acct": event.account, "tags": [list(t) for t in event.tags]}  # fmt: skip
        case TagMessage():
            body |= {"t": "tag", "id": event.id, "from": event.sender, "to": event.target,
                     "tags": [list(t) for t in event.tags], "acct": event.account}  # fmt: skip
        case Redacted():
            body |= {"t": "redact", "room": event.room, "msgid": event.msgid, "by": event.by,
                     "reason": event.reason}  # fmt: skip
        case ServerBan():
            body |= {"t": "ban", "mask": event.mask, "reason": event.reason, "by": event.by,
                     "created": event.created, "expires": event.expires}  # fmt: skip
        case Invited():
            body |= {"t": "invite", "room": event.room, "nick": event.nick, "by": event.by}
        case Unban():
            body |= {"t": "unban", "mask": event.mask}
        case Owner():
            body |= {"t": "owner", "room": event.room, "owner": event.owner}
        case Account():
            body |= {"t": "account", "old": event.old, "new": event.new}
        case Announce():
            body |= {"t": "announce", "text": event.text}
        case Kill():
            body |= {"t": "kill", "node": event.node, "nick": event.nick, "by": event.by,
                     "reason": event.reason}  # fmt: skip
        case None:
            body["t"] = type_
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def decode(data: bytes) -> Fact | None:
    """The fact in `data`, or None for bytes that are not one."""
    try:
        body = json.loads(data)
        return _decode(body)
    except (ValueError, TypeError, KeyError, AttributeError):
        return None


def _decode(b: dict[str, Any]) -> Fact | None:
    node, at, kind = str(b["n"]), float(b["at"]), str(b["t"])
    event: Carried
    flag = ""
    if kind == "hello":
        rooms = tuple((str(name), str(flag)) for name, flag in b["rooms"])
        event = Hello(str(b["nick"]), str(b["user"]), str(b["real"]), str(b["acct"]),
                      str(b["away"]), str(b["modes"]), float(b["since"]), rooms)  # fmt: skip
    elif kind == "nick":
        event = NickChanged(str(b["old"]), str(b["new"]))
    elif kind == "quit":
        event = Quit(str(b["nick"]), str(b["reason"]))
    elif kind == "away":
        event = AwayChanged(str(b["nick"]), str(b["msg"]))
    elif kind == "join":
        event, flag = Joined(str(b["room"]), str(b["nick"])), str(b["flag"])
    elif kind == "part":
        event = Parted(str(b["room"]), str(b["nick"]), str(b["reason"]))
    elif kind == "kick":
        event = Kicked(str(b["room"]), str(b["nick"]), str(b["by"]), str(b["reason"]))
    elif kind == "topic":
        event = TopicChanged(str(b["room"]), str(b["nick"]), str(b["topic"]))
    elif kind == "mode":
        args = tuple(str(a) for a in b["args"])
        event = ModeChanged(str(b["room"]), str(b["by"]), str(b["modes"]), args)
    elif kind == "msg":
        event = RoomMessage(
            int(b["id"]), float(b["ts"]), str(b["room"]), str(b["from"]), str(b["text"]),
            Kind(b["kind"]), str(b["acct"]), bool(b["restricted"]), _tags(b["tags"]),
        )  # fmt: skip
    elif kind == "pm":
        event = PrivateMessage(
            int(b["id"]), float(b["ts"]), str(b["from"]), str(b["to"]), str(b["text"]),
            Kind(b["kind"]), str(b["acct"]), _tags(b["tags"]),
        )  # fmt: skip
    elif kind == "tag":
        event = TagMessage(
            int(b["id"]), str(b["from"]), str(b["to"]), _tags(b["tags"]), str(b["acct"])
        )
    elif kind == "redact":
        event = Redacted(str(b["room"]), int(b["msgid"]), str(b["by"]), str(b["reason"]))
    elif kind == "ban":
        event = ServerBan(str(b["mask"]), str(b["reason"]), str(b["by"]), float(b["created"]),
                          float(b["expires"]))  # fmt: skip
    elif kind == "invite":
        event = Invited(str(b["room"]), str(b["nick"]), str(b["by"]))
    elif kind == "owner":
        event = Owner(str(b["room"]), str(b["owner"]))
    elif kind == "account":
        event = Account(str(b["old"]), str(b["new"]))
    elif kind == "unban":
        event = Unban(str(b["mask"]))
    elif kind == "kill":
        event = Kill(str(b["node"]), str(b["nick"]), str(b["by"]), str(b["reason"]))
    elif kind == "announce":
        event = Announce(str(b["text"]))
    elif kind == "bye":
        event = None
    else:
        return None
    return Fact(node, kind, at, event, flag)
