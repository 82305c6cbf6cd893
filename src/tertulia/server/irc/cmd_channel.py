"""Channels: JOIN, PART, TOPIC, NAMES, LIST, INVITE, KICK and MODE (RFC 2812 3.2)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tertulia.core.errors import NotInRoom, TertuliaError
from tertulia.core.masks import matches
from tertulia.core.names import fold
from tertulia.core.room import SORTED_UP_TO, Room
from tertulia.protocols.irc import Message
from tertulia.protocols.irc.isupport import MAX_TARGETS
from tertulia.protocols.irc.modes import USER_MODES, mode_string, parse_changes, user_mode_changes
from tertulia.protocols.irc.render import mask
from tertulia.server.irc import cmd_markread, cmd_metadata
from tertulia.server.irc.cmd_history import batch

if TYPE_CHECKING:
    from tertulia.server.irc.handler import IrcHandler

NAMES_PER_LINE = 40
# The list modes: the numerics of an entry and of the list's end.
LIST_REPLIES = {
    "b": ("367", "368", "End of channel ban list"),
    "e": ("348", "349", "End of channel exception list"),
    "I": ("346", "347", "End of channel invite list"),
}


def join(h: IrcHandler, msg: Message) -> None:
    # JOIN <channel>{,<channel>} [<key>{,<key>}] | JOIN 0
    if msg.param(0) == "0":
        for room in list(h.session.rooms.values()):
            h.hub.part(h.session, room.name)
            h.send(Message("PART", (room.name,), h.me))
        return
    keys = msg.param(1).split(",") if len(msg.params) > 1 else []
    for i, name in enumerate(msg.param(0).split(",")):
        if not name.startswith("#"):
            h.numeric("403", name, "No such channel")
            continue
        try:
            room = h.hub.join(h.session, name, keys[i] if i < len(keys) else "")
        except TertuliaError as err:
            h.error(err, name)
            continue
        h.send(Message("JOIN", (room.name,), h.me))
        if room.topic:
            _topic_is(h, room)
        if "draft/read-marker" in h.caps.enabled:
            cmd_markread.tell(h, room.name)  # before the names' end, as the spec asks
        names_of(h, room)
        if h.subscriptions or h.session.metadata:
            cmd_metadata.joined(h, room)
        # Clients that can tell history from live messages (a batch, with the time of
        # each) get the room's last messages; those with chathistory ask for them.
        enabled = h.caps.enabled
        if {"batch", "server-time"} <= enabled and "draft/chathistory" not in enabled:
            replay = h.hub.replay(room)
            if replay:
                batch(h, "chathistory", room.name, replay)


def part(h: IrcHandler, msg: Message) -> None:
    # PART <channel>{,<channel>} [:reason]
    reason = msg.param(1)
    for name in msg.param(0).split(","):
        if fold(name) not in h.hub.rooms:
            h.numeric("403", name, "No such channel")
            continue
        try:
            room = h.hub.room(name)
            h.hub.part(h.session, name, reason)
        except TertuliaError:
            h.numeric("442", name, "You're not on that channel")
            continue
        h.send(Message("PART", (room.name, reason) if reason else (room.name,), h.me))


def _topic_is(h: IrcHandler, room: Room) -> None:
    h.numeric("332", room.name, room.topic)
    if room.topic_by:
        h.numeric("333", room.name, mask(room.topic_by), str(int(room.topic_ts)))


def topic(h: IrcHandler, msg: Message) -> None:
    # TOPIC <channel> [:topic]
    name = msg.param(0)
    room = h.hub.rooms.get(fold(name))
    if room is None:
        h.numeric("403", name, "No such channel")
        return
    if len(msg.params) < 2:
        if "s" in room.modes and h.session.key not in room.members:
            h.numeric("442", room.name, "You're not on that channel")
        elif room.topic:
            _topic_is(h, room)
        else:
            h.numeric("331", room.name, "No topic is set")
        return
    event = h.hub.topic(h.session, name, msg.param(1))
    h.send(Message("TOPIC", (event.room, event.topic), h.me))


def names(h: IrcHandler, msg: Message) -> None:
    # NAMES [<channel>{,<channel>}]
    if not msg.params:
        h.numeric("366", "*", "End of /NAMES list")
        return
    # Several channels: their 353 lines, then one 366 naming them all (modern.ircdocs).
    for name in msg.param(0).split(",")[:MAX_TARGETS]:
        room = h.hub.rooms.get(fold(name))
        if room is not None and _visible(h, room):
            names_of(h, room, end=False)
    h.numeric("366", msg.param(0), "End of /NAMES list")


def _visible(h: IrcHandler, room: Room) -> bool:
    return "s" not in room.modes or h.session.key in room.members


def prefix(h: IrcHandler, room: Room, key: str) -> str:
    marks = ("@" if key in room.operators else "") + ("+" if key in room.voiced else "")
    return marks if "multi-prefix" in h.caps.enabled else marks[:1]


def names_of(h: IrcHandler, room: Room, end: bool = True) -> None:
    full = "userhost-in-names" in h.caps.enabled
    member = h.session.key in room.members
    members = room.members.items()
    # Sorted for a room of people, in the order they came for a crowd: each newcomer gets
    # the list, and sorting a crowd's for each made its join storm O(N^2 log N).
    ordered = members if len(room.members) > SORTED_UP_TO else sorted(members)
    marked = room.operators or room.voiced
    shown = [
        (prefix(h, room, key) if marked else "") + (s.mask if full else s.nick or "")
        for key, s in ordered
        if member or "i" not in s.modes
    ]
    symbol = "@" if "s" in room.modes else "="
    for i in range(0, len(shown), NAMES_PER_LINE):
        h.numeric("353", symbol, room.name, " ".join(shown[i : i + NAMES_PER_LINE]))
    if end:
        h.numeric("366", room.name, "End of /NAMES list")


def list_(h: IrcHandler, msg: Message) -> None:
    # LIST [<filter>{,<filter>}]: a filter is a channel name, a mask (ELIST M), a mask not
    # to match (!mask, ELIST N), or a member count (>n, <n, ELIST U). Rooms nobody is in,
    # and secret ones, are not listed.
    filters = [f for f in msg.param(0).split(",") if f]
    h.numeric("321", "Channel", "Users  Name")
    for room in sorted(h.hub.rooms.values(), key=lambda r: r.key):
        if not room.members or not _visible(h, room):
            continue
        if all(_passes(room, f) for f in filters):
            h.numeric("322", room.name, str(len(room.members)), room.topic)
    h.numeric("323", "End of /LIST")


def _passes(room: Room, rule: str) -> bool:
    count = len(room.members)
    if rule[0] in "<>" and rule[1:].isdecimal():
        return count > int(rule[1:]) if rule[0] == ">" else count < int(rule[1:])
    if rule.startswith("!"):
        return not matches(rule[1:], room.name)
    return matches(rule, room.name)


def invite(h: IrcHandler, msg: Message) -> None:
    # INVITE <nickname> <channel> | INVITE (the channels one is invited to: 336, 337)
    if not msg.params:
        for invited in sorted(h.hub.rooms.values(), key=lambda r: r.key):
            if h.session.id in invited.invited:
                h.numeric("336", invited.name)
        h.numeric("337", "End of /INVITE list")
        return
    if len(msg.params) < 2:
        h.numeric("461", "INVITE", "Not enough parameters")
        return
    nick, name = msg.param(0), msg.param(1)
    guest = h.hub.sessions.get(fold(nick))
    if guest is None:
        h.numeric("401", nick, "No such nick/channel")
        return
    room = h.hub.rooms.get(fold(name))
    if room is None:
        h.numeric("403", name, "No such channel")
        return
    if h.session.key not in room.members:
        h.numeric("442", room.name, "You're not on that channel")
        return
    if guest.key in room.members:
        h.numeric("443", guest.nick or nick, room.name, "is already on channel")
        return
    event = h.hub.invite(h.session, name, nick)
    h.numeric("341", event.nick, event.room)


def kick(h: IrcHandler, msg: Message) -> None:
    # KICK <channel>{,<channel>} <user>{,<user>} [:comment]: one channel for every user,
    # or channels and users in pairs (RFC 2812 3.2.8).
    rooms, nicks, reason = msg.param(0).split(","), msg.param(1).split(","), msg.param(2)
    if len(rooms) == 1:
        rooms = rooms * len(nicks)
    for name, nick in list(zip(rooms, nicks, strict=False))[:MAX_TARGETS]:
        if fold(name) not in h.hub.rooms:
            h.numeric("403", name, "No such channel")
            continue
        try:
            h.hub.kick(h.session, name, nick, reason)
        except TertuliaError as err:
            h.error(err, name)


def mode(h: IrcHandler, msg: Message) -> None:
    # MODE <channel> [<modes> [<args>...]] | MODE <nick> [<modes>]
    target = msg.param(0)
    if not target.startswith("#"):
        _user_mode(h, target, msg.param(1))
        return
    room = h.hub.rooms.get(fold(target))
    if room is None:
        h.numeric("403", target, "No such channel")
        return
    if len(msg.params) == 1:
        if not _visible(h, room):
            h.numeric("442", room.name, "You're not on that channel")  # secret: say nothing
            return
        flags, *args = room.mode_string()
        if room.password and h.session.key not in room.members:
            args[0] = "*"  # the key (always first) is for members only
        h.numeric("324", room.name, flags, *args)
        h.numeric("329", room.name, str(int(room.created)))
        return
    changes, queries = parse_changes(msg.param(1), list(msg.params[2:]))
    if queries and not _visible(h, room):
        h.numeric("442", room.name, "You're not on that channel")
        queries = []
    for mode in queries:
        entry, end, text = LIST_REPLIES[mode]
        for item in room.mask_list(mode).values():
            h.numeric(entry, room.name, item.mask, item.by, str(int(item.ts)))
        h.numeric(end, room.name, text)
    if not changes:
        return
    try:
        _, refused = h.hub.set_modes(
            h.session, room.name, [(c.adding, c.mode, c.arg) for c in changes]
        )
    except NotInRoom:
        h.numeric("482", room.name, "You're not channel operator")
        return
    for err in refused:
        which = str(err.args_map.get("mode", ""))
        if err.code == "bad_mode" and which in ("+k", "+l", "b", "e", "I"):
            h.numeric("696", room.name, which.lstrip("+"), "*", "Invalid mode parameter")
        else:
            h.error(err, room.name)


def _user_mode(h: IrcHandler, target: str, modes: str) -> None:
    if fold(target) != fold(h.nick):
        if fold(target) in h.hub.sessions:
            h.numeric("502", "Can't change mode for other users")
        else:
            h.numeric("401", target, "No such nick/channel")
        return
    if not modes:
        h.numeric("221", mode_string(h.session.modes))
        return
    done = ""
    sign = ""
    for change in user_mode_changes(modes):
        if change.mode not in USER_MODES:
            h.numeric("501", "Unknown MODE flag")
            continue
        if change.mode == "o" and change.adding:
            continue  # only OPER makes a server operator
        if (change.mode in h.session.modes) == change.adding:
            continue
        if change.adding:
            h.session.modes += change.mode
        else:
            h.session.modes = h.session.modes.replace(change.mode, "")
            if change.mode == "o":
                h.session.oper = ""
        flag = "+" if change.adding else "-"
        done += ("" if sign == flag else flag) + change.mode
        sign = flag
    if done:
        h.send(Message("MODE", (h.nick, done), h.me))
