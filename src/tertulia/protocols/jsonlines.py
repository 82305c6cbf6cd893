"""JSON lines: the versioned objects our own clients speak, over TCP lines or WebSocket frames."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import MISSING, Field, dataclass, fields
from typing import Any, ClassVar

from tertulia.core import bans
from tertulia.core import events as ev
from tertulia.core.errors import N_, BadRequest, BadUnicode, TertuliaError

VERSION = 1

RequestId = int | str | None
Translate = Callable[[str], str]


# -- requests (client to server) ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Hello:
    """Say who you are; with a password, log in to the registered nick."""

    type: ClassVar[str] = "hello"
    nick: str
    v: int = VERSION
    password: str | None = None
    id: RequestId = None


@dataclass(frozen=True, slots=True)
class Register:
    """Register your current nick with a password."""

    type: ClassVar[str] = "register"
    password: str
    id: RequestId = None


@dataclass(frozen=True, slots=True)
class Login:
    """Log in to a registered nick, taking it (a squatter is renamed)."""

    type: ClassVar[str] = "login"
    nick: str
    password: str
    id: RequestId = None


@dataclass(frozen=True, slots=True)
class Password:
    type: ClassVar[str] = "password"
    old: str
    new: str
    id: RequestId = None


@dataclass(frozen=True, slots=True)
class Say:
    """A message to a room; `reply_to`, the msgid of the message it answers."""

    type: ClassVar[str] = "say"
    room: str
    text: str
    kind: str = ev.Kind.MESSAGE.value
    reply_to: int | None = None
    id: RequestId = None


@dataclass(frozen=True, slots=True)
class Tell:
    type: ClassVar[str] = "tell"
    to: str
    text: str
    kind: str = ev.Kind.MESSAGE.value
    reply_to: int | None = None
    id: RequestId = None


@dataclass(frozen=True, slots=True)
class React:
    """An emoji on a message of a room or of a private conversation (IRCv3 draft/react)."""

    type: ClassVar[str] = "react"
    target: str
    msgid: int
    emoji: str
    id: RequestId = None


@dataclass(frozen=True, slots=True)
class Typing:
    """`active` while typing (at most every 3 s), `paused`, `done` (IRCv3 typing)."""

    type: ClassVar[str] = "typing"
    target: str
    state: str = "active"
    id: RequestId = None


@dataclass(frozen=True, slots=True)
class Redact:
    """Take back a message of a room: its sender or one of the room's operators."""

    type: ClassVar[str] = "redact"
    room: str
    msgid: int
    reason: str = ""
    id: RequestId = None


@dataclass(frozen=True, slots=True)
class Away:
    """Away with a message; an empty one is back."""

    type: ClassVar[str] = "away"
    message: str = ""
    id: RequestId = None


@dataclass(frozen=True, slots=True)
class Join:
    type: ClassVar[str] = "join"
    room: str
    id: RequestId = None


@dataclass(frozen=True, slots=True)
class Part:
    type: ClassVar[str] = "part"
    room: str
    reason: str = ""
    id: RequestId = None


@dataclass(frozen=True, slots=True)
class Nick:
    type: ClassVar[str] = "nick"
    nick: str
    id: RequestId = None


@dataclass(frozen=True, slots=True)
class Who:
    type: ClassVar[str] = "who"
    room: str
    id: RequestId = None


@dataclass(frozen=True, slots=True)
class Rooms:
    type: ClassVar[str] = "rooms"
    id: RequestId = None


@dataclass(frozen=True, slots=True)
class Topic:
    """Without `topic`, asks for the room's topic; with it, sets it."""

    type: ClassVar[str] = "topic"
    room: str
    topic: str | None = None
    id: RequestId = None


@dataclass(frozen=True, slots=True)
class History:
    """Older messages of a room: up to `limit` before the message id `before` (or the newest)."""

    type: ClassVar[str] = "history"
    room: str
    before: int | None = None
    limit: int = 50
    id: RequestId = None


@dataclass(frozen=True, slots=True)
class Search:
    """Messages of a room containing every word, newest first, paged like History."""

    type: ClassVar[str] = "search"
    room: str
    words: str
    before: int | None = None
    limit: int = 50
    id: RequestId = None


# -- moderation: a room's operators, then the server's ------------------------------------


@dataclass(frozen=True, slots=True)
class Kick:
    type: ClassVar[str] = "kick"
    room: str
    nick: str
    reason: str = ""
    id: RequestId = None


@dataclass(frozen=True, slots=True)
class Ban:
    """Ban a nick (`bob` is `bob!*@*`) or a mask from a room, and put out those it matches."""

    type: ClassVar[str] = "ban"
    room: str
    target: str
    reason: str = ""
    id: RequestId = None


@dataclass(frozen=True, slots=True)
class _RoomTarget:
    """The shape of the requests that name a room and a nick or mask in it."""

    room: str
    target: str
    id: RequestId = None


@dataclass(frozen=True, slots=True)
class Unban(_RoomTarget):
    type: ClassVar[str] = "unban"


@dataclass(frozen=True, slots=True)
class Mute(_RoomTarget):
    type: ClassVar[str] = "mute"


@dataclass(frozen=True, slots=True)
class Unmute(_RoomTarget):
    type: ClassVar[str] = "unmute"


@dataclass(frozen=True, slots=True)
class _RoomNick:
    """The shape of the requests that give or take a member's privilege."""

    room: str
    nick: str
    id: RequestId = None


@dataclass(frozen=True, slots=True)
class Op(_RoomNick):
    type: ClassVar[str] = "op"


@dataclass(frozen=True, slots=True)
class Deop(_RoomNick):
    type: ClassVar[str] = "deop"


@dataclass(frozen=True, slots=True)
class Voice(_RoomNick):
    type: ClassVar[str] = "voice"


@dataclass(frozen=True, slots=True)
class Devoice(_RoomNick):
    type: ClassVar[str] = "devoice"


@dataclass(frozen=True, slots=True)
class Mode:
    """Without `modes`, asks for the room's modes; with them (`+m`, `+b-v mask nick`),
    changes them as IRC's MODE does."""

    type: ClassVar[str] = "mode"
    room: str
    modes: str = ""
    id: RequestId = None


@dataclass(frozen=True, slots=True)
class Claim:
    type: ClassVar[str] = "claim"
    room: str
    id: RequestId = None


@dataclass(frozen=True, slots=True)
class Unclaim(Claim):
    type: ClassVar[str] = "unclaim"


@dataclass(frozen=True, slots=True)
class Oper:
    type: ClassVar[str] = "oper"
    name: str
    password: str
    id: RequestId = None


@dataclass(frozen=True, slots=True)
class Kill:
    type: ClassVar[str] = "kill"
    nick: str
    reason: str = ""
    id: RequestId = None


@dataclass(frozen=True, slots=True)
class ServerBan:
    """Ban an address, a network, a nick!user@host mask or `$a:account` from the server,
    for `duration` (`30m`, `2h`, `7d`; empty or `0`: for ever)."""

    type: ClassVar[str] = "serverban"
    mask: str
    duration: str = ""
    reason: str = ""
    id: RequestId = None


@dataclass(frozen=True, slots=True)
class ServerUnban:
    type: ClassVar[str] = "serverunban"
    mask: str
    id: RequestId = None


@dataclass(frozen=True, slots=True)
class ServerBans:
    type: ClassVar[str] = "serverbans"
    id: RequestId = None


@dataclass(frozen=True, slots=True)
class Ping:
    type: ClassVar[str] = "ping"
    id: RequestId = None


@dataclass(frozen=True, slots=True)
class Disconnect:
    type: ClassVar[str] = "quit"
    reason: str = ""
    id: RequestId = None


Request = (
    Hello | Register | Login | Password | Say | Tell | Join | Part | Nick | Who | Rooms | Topic
    | History | Search | Ping | Disconnect | Kick | Ban | Unban | Mute | Unmute | Op | Deop
    | Voice | Devoice | Mode | Claim | Unclaim | Oper | Kill | ServerBan | ServerUnban
    | ServerBans | React | Typing | Redact | Away
)  # fmt: skip

REQUESTS: dict[str, type[Request]] = {
    cls.type: cls
    for cls in (
        Hello, Register, Login, Password, Say, Tell, Join, Part, Nick, Who, Rooms, Topic,
        History, Search, Ping, Disconnect, Kick, Ban, Unban, Mute, Unmute, Op, Deop, Voice,
        Devoice, Mode, Claim, Unclaim, Oper, Kill, ServerBan, ServerUnban, ServerBans, React,
        Typing, Redact, Away,
    )
}  # fmt: skip
_KINDS = frozenset(k.value for k in ev.Kind)
_OPTIONAL_STR = frozenset({("Topic", "topic"), ("Hello", "password")})
_OPTIONAL_INT = frozenset(
    {("History", "before"), ("Search", "before"), ("Say", "reply_to"), ("Tell", "reply_to")}
)
_INT = frozenset({("React", "msgid"), ("Redact", "msgid")})
TYPING_STATES = frozenset({"active", "paused", "done"})
# The IRCv3 client tags the JSON protocol speaks of in its own words.
REPLY_TAG, REACT_TAG, TYPING_TAG = "+draft/reply", "+draft/react", "+typing"
# JSON's \uXXXX escapes can spell a lone surrogate, which is no text: no encoder can write
# it, so a string holding one is refused here, before any door or store sees it.
_SURROGATE = re.compile("[\ud800-\udfff]")


def ban_data(entry: bans.ServerBan) -> dict[str, Any]:
    """A server ban as a reply carries it (expires 0: never)."""
    return {
        "mask": entry.mask, "reason": entry.reason, "by": entry.by,
        "created": entry.created, "expires": entry.expires,
    }  # fmt: skip


# Made once: json.dumps builds a new encoder on every call that passes any option, which
# cost more than the encoding of a message event itself (and it runs for every message).
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


# json's own string quoting (its C version where built): what dumps does to each string.
_quote: Callable[[str], str] = json.encoder.encode_basestring


def message_line(event: ev.RoomMessage) -> bytes:
    """A room message's event line, exactly as dumps(event_object(...)) writes it, for the
    one event every message makes: without the dict, and its walk by the encoder."""
    line = (
        f'{{"type":"message","room":{_quote(event.room)},"from":{_quote(event.sender)},'
        f'"text":{_quote(event.text)},"kind":"{event.kind.value}","msgid":{event.id:d},'
        f'"ts":{event.ts!r}'
    )
    if event.account:
        line += f',"account":{_quote(event.account)}'
    if event.tags and (reply_to := reply_of(event)) is not None:
        line += f',"reply_to":{reply_to:d}'
    return (line + "}\n").encode()


def said(rid: RequestId, event: ev.RoomMessage | ev.PrivateMessage) -> bytes:
    """The `ok` to a say or tell, exactly as reply() writes it, without the dict."""
    where = (
        f'"room":{_quote(event.room)}'
        if isinstance(event, ev.RoomMessage)
        else f'"to":{_quote(event.target)}'
    )
    if rid is None:
        head = '{"type":"ok"'
    elif isinstance(rid, int):
        head = f'{{"type":"ok","id":{rid:d}'
    else:
        head = f'{{"type":"ok","id":{_quote(rid)}'
    return f'{head},"msgid":{event.id:d},"ts":{event.ts!r},{where}}}\n'.encode()


def dumps(obj: dict[str, Any]) -> bytes:
    """One object as one line: compact, UTF-8, no ASCII escaping."""
    return _ENCODER.encode(obj).encode() + b"\n"


def parse_request(text: str) -> Request:
    """One line of text as a request, or BadRequest saying what is wrong with it."""
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError):
        raise BadRequest(reason=N_("not valid JSON")) from None
    if not isinstance(obj, dict):
        raise BadRequest(reason=N_("expected a JSON object"))
    rid = obj.get("id")
    if rid is not None and (isinstance(rid, bool) or not isinstance(rid, int | str)):
        raise BadRequest(reason=N_("the id must be a number or a string"))
    if isinstance(rid, str) and _SURROGATE.search(rid):
        raise BadUnicode(field="id")
    try:
        return _request(obj)
    except TertuliaError as err:
        # The id is sound: the refusal carries it, so the client can match it to its request.
        err.request_id = rid  # type: ignore[attr-defined]
        raise


def refused_id(err: TertuliaError) -> RequestId:
    """The id of the request that parse_request refused with `err`, if it had a sound one."""
    rid: RequestId = getattr(err, "request_id", None)
    return rid


def request_from(obj: dict[str, Any]) -> Request:
    """A request built by a client from an object (a typed command), checked as the server
    checks one: BadRequest says what is missing."""
    return _request(obj)


def _request(obj: dict[str, Any]) -> Request:
    kind = obj.get("type")
    cls = REQUESTS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise BadRequest(reason=N_("unknown type {type!r}"), type=str(kind))
    values: dict[str, Any] = {}
    for f in _fields_of(cls):
        if f.name not in obj:
            if f.default is MISSING:
                raise BadRequest(reason=N_("missing field {field!r}"), field=f.name)
            continue
        value = obj[f.name]
        if f.name != "id" and not _type_ok(cls.__name__, f.name, value, f.default):
            raise BadRequest(reason=N_("wrong type for field {field!r}"), field=f.name)
        if isinstance(value, str) and _SURROGATE.search(value):
            raise BadUnicode(field=f.name)
        values[f.name] = value
    if values.get("kind", ev.Kind.MESSAGE.value) not in _KINDS:
        raise BadRequest(reason=N_("unknown kind {kind!r}"), kind=str(values["kind"]))
    return cls(**values)


def _fields_of(cls: type[Request]) -> tuple[Field[Any], ...]:
    # dataclasses.fields builds its tuple afresh on each call: once per request type is enough.
    found = _FIELDS.get(cls)
    if found is None:
        found = _FIELDS[cls] = fields(cls)
    return found


_FIELDS: dict[type, tuple[Field[Any], ...]] = {}


def _type_ok(cls_name: str, name: str, value: object, default: object) -> bool:
    if (cls_name, name) in _OPTIONAL_STR:
        return value is None or isinstance(value, str)
    if (cls_name, name) in _OPTIONAL_INT:
        return value is None or (isinstance(value, int) and not isinstance(value, bool))
    if (cls_name, name) in _INT or (isinstance(default, int) and not isinstance(default, bool)):
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, str)


def encode_request(request: Request) -> bytes:
    obj: dict[str, Any] = {"type": request.type}
    for f in fields(request):
        value = getattr(request, f.name)
        if value is not None:
            obj[f.name] = value
    return dumps(obj)


# -- replies and events (server to client) ------------------------------------------------


def reply(rid: RequestId, kind: str = "ok", **data: Any) -> bytes:
    obj: dict[str, Any] = {"type": kind}
    if rid is not None:
        obj["id"] = rid
    obj.update(data)
    return dumps(obj)


def error_reply(rid: RequestId, err: TertuliaError, translate: Translate) -> bytes:
    return reply(rid, "error", code=err.code, text=err.render(translate))


Reactions = Mapping[int, list[tuple[str, str]]]  # msgid -> (emoji, sender), oldest first


def stored_object(message: ev.RoomMessage, reactions: Reactions | None = None) -> dict[str, Any]:
    """A message from history, inside a `history` or `search` object (the room is outside):
    what it answers, and its reactions grouped by emoji."""
    obj: dict[str, Any] = {
        "msgid": message.id,
        "ts": message.ts,
        "from": message.sender,
        "text": message.text,
        "kind": message.kind.value,
    }
    reply_to = reply_of(message)
    if reply_to is not None:
        obj["reply_to"] = reply_to
    found = reactions.get(message.id) if reactions else None
    if found:
        grouped: dict[str, list[str]] = {}
        for emoji, sender in found:
            grouped.setdefault(emoji, []).append(sender)
        obj["reactions"] = [{"emoji": e, "from": who} for e, who in grouped.items()]
    return obj


def reply_of(message: ev.RoomMessage | ev.PrivateMessage) -> int | None:
    """The msgid a message answers (its `+draft/reply` tag), if it answers one."""
    for name, value in message.tags:
        if name == REPLY_TAG and value.isdecimal():
            return int(value)
    return None


def history(
    rid: RequestId,
    kind: str,
    room: str,
    messages: list[ev.RoomMessage],
    more: bool,
    reactions: Reactions | None = None,
) -> bytes:
    """Stored messages of a room: on joining (no id), or the reply to history and search."""
    shown = [stored_object(m, reactions) for m in messages]
    return reply(rid, kind, room=room, messages=shown, more=more)


def event_object(event: ev.Event, translate: Translate) -> dict[str, Any]:
    """The JSON object of an event; the same shape over TCP lines and WebSocket frames."""
    match event:
        case ev.RoomMessage():
            obj = {
                "type": "message",
                "room": event.room,
                "from": event.sender,
                "text": event.text,
                "kind": event.kind.value,
                "msgid": event.id,
                "ts": event.ts,
            }
            if event.account:
                obj["account"] = event.account
            if event.tags and (reply_to := reply_of(event)) is not None:
                obj["reply_to"] = reply_to
            return obj
        case ev.PrivateMessage():
            obj = {
                "type": "private",
                "from": event.sender,
                "to": event.target,
                "text": event.text,
                "kind": event.kind.value,
                "msgid": event.id,
                "ts": event.ts,
            }
            if event.account:
                obj["account"] = event.account
            if event.tags and (reply_to := reply_of(event)) is not None:
                obj["reply_to"] = reply_to
            return obj
        case ev.AccountChanged():
            return {"type": "account", "nick": event.nick, "account": event.account}
        case ev.Joined():
            return {"type": "join", "room": event.room, "nick": event.nick}
        case ev.Parted():
            return {"type": "part", "room": event.room, "nick": event.nick, "reason": event.reason}
        case ev.Quit():
            return {"type": "quit", "nick": event.nick, "reason": event.reason}
        case ev.NickChanged():
            return {"type": "nick", "old": event.old, "new": event.new}
        case ev.TopicChanged():
            return {"type": "topic", "room": event.room, "nick": event.nick, "topic": event.topic}
        case ev.ModeChanged():
            return {
                "type": "mode", "room": event.room, "by": event.by, "modes": event.modes,
                "args": list(event.args),
            }  # fmt: skip
        case ev.AwayChanged():
            return {"type": "away", "nick": event.nick, "message": event.message}
        case ev.Invited():
            return {"type": "invite", "room": event.room, "nick": event.nick, "by": event.by}
        case ev.Kicked():
            return {
                "type": "kick", "room": event.room, "nick": event.nick, "by": event.by,
                "reason": event.reason,
            }  # fmt: skip
        case ev.Redacted():
            return {
                "type": "redact", "room": event.room, "msgid": event.msgid, "by": event.by,
                "reason": event.reason,
            }  # fmt: skip
        case ev.Wallops():
            return {"type": "wallops", "nick": event.nick, "text": event.text}
        case ev.ServerNotice():
            return {"type": "notice", "code": event.code, "text": event.render(translate)}
    raise TypeError(f"no JSON form for {event!r}")  # pragma: no cover


class JsonEncoder:
    __slots__ = ("_tr",)

    def __init__(self, translate: Translate) -> None:
        self._tr = translate

    def encode(self, event: ev.Event) -> bytes | None:
        if isinstance(event, ev.RealnameChanged):
            return None  # real names are for IRC clients that asked for them
        if isinstance(event, ev.TagMessage):
            obj = tag_object(event)
            return None if obj is None else dumps(obj)  # other client tags are IRC's
        if type(event) is ev.RoomMessage:
            return message_line(event)
        return dumps(event_object(event, self._tr))


def tag_object(event: ev.TagMessage) -> dict[str, Any] | None:
    """A reaction or a typing notice as its JSON event; None for other client tags."""
    tags = dict(event.tags)
    where = {"room": event.target} if event.target.startswith("#") else {"to": event.target}
    react, msgid = tags.get(REACT_TAG), tags.get(REPLY_TAG, "")
    if react and msgid.isdecimal():
        return {"type": "react", **where, "from": event.sender, "msgid": int(msgid),
                "emoji": react}  # fmt: skip
    state = tags.get(TYPING_TAG)
    if state in TYPING_STATES:
        return {"type": "typing", **where, "from": event.sender, "state": state}
    return None
