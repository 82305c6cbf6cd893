"""METADATA (IRCv3 draft/metadata-3): keys and values on users and channels, GET, LIST,
SET, CLEAR, and subscriptions (SUB, UNSUB, SUBS, SYNC) that hear changes.

Users set their own keys and channel operators their channel's. Who hears a change: the
clients that subscribed to its key among those who share a channel with the user (or are
in the channel), the same audience as an away change.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from tertulia.core.names import fold
from tertulia.core.room import Room
from tertulia.core.session import Session
from tertulia.protocols.irc import Message
from tertulia.protocols.irc.metadata import MAX_KEYS, MAX_SUBS, valid_key, valid_value

if TYPE_CHECKING:
    from tertulia.server.irc.handler import IrcHandler

Target = Session | Room


def metadata(h: IrcHandler, msg: Message) -> None:
    # METADATA <target> <GET|LIST|SET|CLEAR|SUB|UNSUB|SUBS|SYNC> [<key>...] [:<value>]
    target, sub, keys = msg.param(0), msg.param(1).upper(), list(msg.params[2:])
    if sub in ("SUB", "UNSUB", "SUBS"):
        _subscriptions(h, sub, keys)
        return
    # Before the welcome a client may only speak of itself (before-connect).
    found = _resolve(h, target) if h.reg.registered or target == "*" else None
    if isinstance(found, Room) and "s" in found.modes and h.session.key not in found.members:
        found = None  # a secret channel does not exist for strangers
    if found is None:
        h.fail("METADATA", "INVALID_TARGET", target, "Invalid target")
        return
    name = _name(found)
    if not _readable(h, found):
        h.fail("METADATA", "KEY_NO_PERMISSION", name, keys[0] if keys else "*", "Not yours to read")
        return
    values = found.metadata or {}
    if sub == "GET":
        lines: list[tuple[str, ...]] = []
        for key in keys:
            if not valid_key(key):
                h.fail("METADATA", "KEY_INVALID", key, "Invalid key")
            elif key in values:
                lines.append(("761", name, key, "*", values[key]))
            else:
                lines.append(("766", name, key, "key not set"))
        _batch(h, name, lines)
    elif sub == "LIST":
        _batch(h, name, [("761", name, k, "*", v) for k, v in values.items()])
    elif sub == "SYNC":
        wanted = h.subscriptions or set()
        _batch(h, name, [("761", name, k, "*", v) for k, v in values.items() if k in wanted])
    elif sub == "SET" and keys:
        value = msg.params[3] if len(msg.params) > 3 else None
        _set(h, found, keys[0], value)
    elif sub == "CLEAR":
        if not _writable(h, found):
            h.fail("METADATA", "KEY_NO_PERMISSION", name, "*", "Not yours to change")
            return
        cleared = list(values)
        for key in cleared:
            _store(h, found, key, None)
        _batch(h, name, [("766", name, key, "key not set") for key in cleared])
    else:
        h.fail("METADATA", "SUBCOMMAND_INVALID", sub or "*", "Invalid subcommand")


def _resolve(h: IrcHandler, target: str) -> Target | None:
    if target == "*":
        return h.session
    if target.startswith("#"):
        return h.hub.rooms.get(fold(target))
    return h.hub.sessions.get(fold(target))


def _name(target: Target) -> str:
    return target.name if isinstance(target, Room) else target.nick or "*"


def _readable(h: IrcHandler, target: Target) -> bool:
    # A closed channel's keys (+i, +k, +s) are for its members only.
    if isinstance(target, Room) and (target.modes & {"i", "s"} or target.password):
        return h.session.key in target.members
    return True


def _writable(h: IrcHandler, target: Target) -> bool:
    if isinstance(target, Room):
        return h.session.key in target.operators
    return target is h.session or "o" in h.session.modes


def _set(h: IrcHandler, target: Target, key: str, value: str | None) -> None:
    name = _name(target)
    if not valid_key(key):
        h.fail("METADATA", "KEY_INVALID", key, "Invalid key")
        return
    if not _writable(h, target):
        h.fail("METADATA", "KEY_NO_PERMISSION", name, key, "Not yours to change")
        return
    if value is not None and not valid_value(value):
        h.fail("METADATA", "INVALID_VALUE", key, "Invalid value")
        return
    values = target.metadata or {}
    if value is not None and key not in values and len(values) >= MAX_KEYS:
        h.fail("METADATA", "LIMIT_REACHED", name, "Too many keys")
        return
    _store(h, target, key, value)
    if value is None:
        h.numeric("766", name, key, "key not set")
    else:
        h.numeric("761", name, key, "*", value)


def _store(h: IrcHandler, target: Target, key: str, value: str | None) -> None:
    """Keep the change and tell the subscribers who may see it."""
    if value is None:
        if target.metadata:
            target.metadata.pop(key, None)
    else:
        if target.metadata is None:
            target.metadata = {}
        target.metadata[key] = value
    if isinstance(target, Room):
        audience: dict[Session, None] = dict(target.receivers)
    else:
        audience = {s: None for r in target.rooms.values() for s in r.members.values()}
    audience.pop(h.session, None)
    name = _name(target)
    for session in audience:
        other = _irc(session)
        if other is not None and key in (other.subscriptions or ()):
            if value is None:
                other.numeric("766", name, key, "key not set")
            else:
                other.numeric("761", name, key, "*", value)


def _irc(session: Session) -> IrcHandler | None:
    from tertulia.server.irc.handler import IrcHandler

    handler = getattr(session.sink, "handler", None)
    handler = getattr(handler, "irc", handler)  # IRC over WebSocket: the web door's handler
    return handler if isinstance(handler, IrcHandler) else None


def _batch(h: IrcHandler, target: str, lines: Sequence[tuple[str, ...]]) -> None:
    """Replies in a `metadata` batch when the client has batches, else bare."""
    batched = "batch" in h.caps.enabled
    if batched:
        h.batches += 1
        ref = f"m{h.batches}"
        h.send(Message("BATCH", ("+" + ref, "metadata", target), h.server.name))
    for code, *params in lines:
        line = Message(code, (h.nick, *params), h.server.name, {"batch": ref} if batched else {})
        h.send(line)
    if batched:
        h.send(Message("BATCH", ("-" + ref,), h.server.name))


def _subscriptions(h: IrcHandler, sub: str, keys: list[str]) -> None:
    subs = h.subscriptions if h.subscriptions is not None else set()
    if sub == "SUBS":
        if subs:
            h.numeric("772", *sorted(subs))
        return
    done = []
    for key in keys:
        if not valid_key(key):
            h.fail("METADATA", "KEY_INVALID", key, "Invalid key")
        elif sub == "SUB":
            if key not in subs and len(subs) >= MAX_SUBS:
                h.fail("METADATA", "TOO_MANY_SUBS", key, "Too many subscriptions")
                break
            subs.add(key)
            done.append(key)
        else:
            subs.discard(key)
            done.append(key)
    h.subscriptions = subs or None
    if done:
        h.numeric("770" if sub == "SUB" else "771", *done)


def joined(h: IrcHandler, room: Room) -> None:
    """After a JOIN: the joiner hears the keys it follows of the room and its members, and
    the members who follow keys hear the joiner's."""
    wanted = h.subscriptions
    if wanted:
        lines = [("761", room.name, k, "*", v) for k, v in room.metadata.items() if k in wanted]
        for member in room.members.values():
            if member is not h.session and member.metadata:
                nick = member.nick or "*"
                lines += [
                    ("761", nick, k, "*", v) for k, v in member.metadata.items() if k in wanted
                ]
        if lines:
            _batch(h, room.name, lines)
    mine = h.session.metadata
    if mine:
        for member in room.members.values():
            other = _irc(member) if member is not h.session else None
            if other is not None and other.subscriptions:
                for key, value in mine.items():
                    if key in other.subscriptions:
                        other.numeric("761", h.nick, key, "*", value)


def welcome(h: IrcHandler) -> None:
    """Keys the client set before it was welcomed, told back once it has a nick."""
    values = h.session.metadata or {}
    _batch(h, h.nick, [("761", h.nick, k, "*", v) for k, v in values.items()])
