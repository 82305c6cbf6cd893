"""What a server says to a JSON-lines client, as typed values: pure code over decoded objects."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

# Joins, parts, quits, nick and topic changes reach a client with the core's own shape.
from tertulia.core.events import (
    AwayChanged,
    Invited,
    Joined,
    Kicked,
    ModeChanged,
    NickChanged,
    Parted,
    Quit,
    TopicChanged,
)


@dataclass(frozen=True, slots=True)
class RoomState:
    room: str
    topic: str
    members: tuple[str, ...]
    # Who among the members runs the room, has a voice, is away (newer servers say so).
    operators: tuple[str, ...] = ()
    voiced: tuple[str, ...] = ()
    away: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Welcome:
    nick: str
    server: str
    version: str
    rooms: tuple[RoomState, ...]
    id: int | str | None = None
    motd: tuple[str, ...] = ()  # the message of the day, as lines


@dataclass(frozen=True, slots=True)
class Reactions:
    """Who reacted to a stored message with one emoji, in the order they did."""

    emoji: str
    senders: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Message:
    room: str
    sender: str
    text: str
    kind: str  # "message" or "action" (/me)
    msgid: str
    ts: float
    reply_to: str = ""  # the msgid this message answers, if it is a reply
    reactions: tuple[Reactions, ...] = ()  # only from history: live ones come as Reaction


@dataclass(frozen=True, slots=True)
class Private:
    sender: str
    to: str
    text: str
    kind: str
    msgid: str
    ts: float
    reply_to: str = ""


@dataclass(frozen=True, slots=True)
class Reaction:
    """`sender` reacted with `emoji` to message `msgid`, in `room` or privately (to `to`)."""

    sender: str
    msgid: str
    emoji: str
    room: str = ""
    to: str = ""


@dataclass(frozen=True, slots=True)
class Typing:
    """`sender` is typing (`active`), stopped (`paused`) or is done, in `room` or to `to`."""

    sender: str
    state: str
    room: str = ""
    to: str = ""


@dataclass(frozen=True, slots=True)
class Redaction:
    """Message `msgid` of `room` was taken back by `by`: hide it."""

    room: str
    msgid: str
    by: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Notice:
    code: str
    text: str


@dataclass(frozen=True, slots=True)
class Reply:
    """The answer to one request: `kind` is ok, pong or bye; `data` the rest of the object."""

    id: int | str | None
    kind: str
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ErrorReply:
    id: int | str | None
    code: str
    text: str


@dataclass(frozen=True, slots=True)
class History:
    """A room's last messages, sent on joining it (oldest first)."""

    room: str
    messages: tuple[Message, ...]
    more: bool


Event = (
    Welcome | Message | Private | Joined | Parted | Quit | NickChanged | TopicChanged | Kicked
    | ModeChanged | Invited | Notice | History | AwayChanged | Reaction | Typing | Redaction
)  # fmt: skip
Incoming = Event | Reply | ErrorReply


__all__ = [
    "AwayChanged", "BadLine", "ErrorReply", "Event", "History", "Incoming", "Invited", "Joined",
    "Kicked", "Message", "ModeChanged", "NickChanged", "Notice", "Parted", "Private", "Quit",
    "Reaction", "Reactions", "Redaction", "Reply", "RoomState", "TopicChanged", "Typing",
    "Welcome", "parse",
]  # fmt: skip


class BadLine(ValueError):
    """A line from the server that is not one of the protocol's objects."""


def room_state(obj: dict[str, Any]) -> RoomState:
    """A room as the welcome, a join or a who reply describes it."""
    return RoomState(
        str(obj["room"]), str(obj.get("topic") or ""), tuple(obj.get("members", ())),
        tuple(obj.get("operators", ())), tuple(obj.get("voiced", ())),
        tuple(obj.get("away", ())),
    )  # fmt: skip


def _msgid(value: Any) -> str:
    return "" if value is None else str(value)


def _stored(room: str, m: dict[str, Any]) -> Message:
    kind = m.get("kind", "message")
    reactions = tuple(
        Reactions(str(r["emoji"]), tuple(r.get("from", ()))) for r in m.get("reactions", ())
    )
    return Message(
        room, m["from"], m["text"], kind, _msgid(m.get("msgid")), float(m["ts"]),
        _msgid(m.get("reply_to")), reactions,
    )  # fmt: skip


def parse(line: bytes | str) -> Incoming | None:
    """One line as a typed value; None for lines that are not JSON objects (the plain
    greeting sent before the connection switched to JSON), BadLine for malformed ones."""
    text = line.decode("utf-8", "replace") if isinstance(line, bytes) else line
    text = text.strip()
    if not text.startswith("{"):
        return None
    try:
        obj = json.loads(text)
        return _typed(obj)
    except (ValueError, KeyError, TypeError) as exc:
        raise BadLine(f"unexpected line from the server: {text[:80]!r}") from exc


def _typed(obj: dict[str, Any]) -> Incoming:
    kind = obj["type"]
    rid = obj.get("id")
    match kind:
        case "welcome":
            rooms = tuple(room_state(r) for r in obj.get("rooms", ()))
            motd = tuple(str(line) for line in obj.get("motd", ()))
            return Welcome(
                obj["nick"], obj.get("server", ""), obj.get("version", ""), rooms, rid, motd
            )
        case "message":
            return Message(
                obj["room"], obj["from"], obj["text"], obj.get("kind", "message"),
                _msgid(obj.get("msgid")), float(obj.get("ts", 0)), _msgid(obj.get("reply_to")),
            )  # fmt: skip
        case "private":
            return Private(
                obj["from"], obj["to"], obj["text"], obj.get("kind", "message"),
                _msgid(obj.get("msgid")), float(obj.get("ts", 0)), _msgid(obj.get("reply_to")),
            )  # fmt: skip
        case "react" if rid is None:
            return Reaction(
                obj["from"], _msgid(obj["msgid"]), obj["emoji"], obj.get("room", ""),
                obj.get("to", ""),
            )  # fmt: skip
        case "typing" if rid is None:
            return Typing(obj["from"], obj["state"], obj.get("room", ""), obj.get("to", ""))
        case "redact" if rid is None:
            return Redaction(obj["room"], _msgid(obj["msgid"]), obj.get("by", ""),
                             obj.get("reason", ""))  # fmt: skip
        case "away" if "nick" in obj:
            return AwayChanged(obj["nick"], obj.get("message", ""))
        case "join" if "nick" in obj:
            return Joined(obj["room"], obj["nick"])
        case "part" if "nick" in obj:
            return Parted(obj["room"], obj["nick"], obj.get("reason", ""))
        case "quit" if "nick" in obj:
            return Quit(obj["nick"], obj.get("reason", ""))
        case "nick" if "old" in obj:
            return NickChanged(obj["old"], obj["new"])
        case "topic" if "nick" in obj and "id" not in obj:
            return TopicChanged(obj["room"], obj["nick"], obj.get("topic", ""))
        case "kick" if "by" in obj:
            return Kicked(obj["room"], obj["nick"], obj["by"], obj.get("reason", ""))
        case "mode" if "by" in obj:
            return ModeChanged(obj["room"], obj["by"], obj["modes"], tuple(obj.get("args", ())))
        case "invite" if "by" in obj:
            return Invited(obj["room"], obj["nick"], obj["by"])
        case "notice":
            return Notice(obj.get("code", ""), obj["text"])
        case "history" if rid is None:
            room = obj["room"]
            messages = tuple(_stored(room, m) for m in obj.get("messages", ()))
            return History(room, messages, bool(obj.get("more")))
        case "error":
            return ErrorReply(rid, obj.get("code", ""), obj.get("text", ""))
        case _:
            data = {k: v for k, v in obj.items() if k not in ("type", "id")}
            return Reply(rid, kind, data)
