"""Queries: WHO, WHOIS, WHOWAS, LUSERS, ISON, USERHOST, AWAY, MOTD, VERSION, TIME, INFO."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from tertulia import __version__
from tertulia.core.errors import TertuliaError
from tertulia.core.masks import matches
from tertulia.core.names import fold
from tertulia.core.room import Room
from tertulia.core.session import Session
from tertulia.protocols.irc import Message
from tertulia.protocols.irc.render import HOST
from tertulia.server.irc.cmd_channel import prefix

if TYPE_CHECKING:
    from tertulia.server.irc.handler import IrcHandler

INFO = (
    "tertulia: a chat server reachable from netcat, a terminal client, IRC and the browser.",
    "It grew out of a networking course's chat room (sala de chat).",
)


def motd(h: IrcHandler, msg: Message) -> None:
    # MOTD [target]: the target names a server of a network; this door is the only one.
    lines = h.server.motd
    if not lines:
        h.numeric("422", "MOTD File is missing")
        return
    h.numeric("375", f"- {h.server.name} Message of the day - ")
    for line in lines:
        h.numeric("372", f"- {line}")
    h.numeric("376", "End of /MOTD command.")


def version(h: IrcHandler, msg: Message) -> None:
    h.numeric("351", f"tertulia-{__version__}", h.server.name, "the tertulia chat server")


def time_(h: IrcHandler, msg: Message) -> None:
    now = h.hub.clock()
    stamp = time.strftime("%A %B %d %Y -- %H:%M:%S +00:00", time.gmtime(now))
    h.numeric("391", h.server.name, str(int(now)), "0", stamp)


def info(h: IrcHandler, msg: Message) -> None:
    for line in INFO:
        h.numeric("371", line)
    h.numeric("374", "End of INFO list")


def lusers(h: IrcHandler, msg: Message) -> None:
    sessions = h.hub.sessions.values()
    users = len(h.hub.sessions)
    invisible = sum(1 for s in sessions if "i" in s.modes)
    opers = sum(1 for s in sessions if "o" in s.modes)
    unknown = max(0, h.hub.connected - users)
    peak = max(h.hub.peak, users)
    h.numeric("251", f"There are {users - invisible} users and {invisible} invisible on 1 servers")
    h.numeric("252", str(opers), "operator(s) online")
    h.numeric("253", str(unknown), "unknown connection(s)")
    h.numeric("254", str(len(h.hub.rooms)), "channels formed")
    h.numeric("255", f"I have {users} clients and 0 servers")
    h.numeric("265", str(users), str(peak), f"Current local users {users}, max {peak}")
    h.numeric("266", str(users), str(peak), f"Current global users {users}, max {peak}")


# -- who is there ---------------------------------------------------------------------


def _shares_room(a: Session, b: Session) -> bool:
    return any(b.key in room.members for room in a.rooms.values() if a.key in room.members)


def _seen_by(h: IrcHandler, other: Session) -> bool:
    """Invisible users (+i) show only to themselves and to those who share a room."""
    return other is h.session or "i" not in other.modes or _shares_room(h.session, other)


def _flags(h: IrcHandler, s: Session, room: Room | None) -> str:
    flags = "G" if s.away else "H"
    flags += "*" if "o" in s.modes else ""
    flags += "B" if "B" in s.modes else ""
    return flags + (prefix(h, room, s.key or "") if room is not None else "")


def realname(s: Session) -> str:
    """What IRC shows as a user's real name: USER's, or the nick and door of others."""
    return s.realname or f"{s.nick} ({s.door})"


# WHOX fields in the order they are sent, whatever the order asked (IRCv3 WHOX):
# token, channel, user, ip, host, server, nick, flags, hops, idle, account, oplevel, realname.
WHOX_FIELDS = "tcuihsnfdlaor"


def _whox_line(
    h: IrcHandler, fields: str, token: str, channel: str, s: Session, room: Room | None
) -> None:
    nick = s.nick or ""
    values = {
        "t": token or "0", "c": channel, "u": s.user or nick, "i": "255.255.255.255", "h": HOST,
        "s": h.server.name, "n": nick, "f": _flags(h, s, room), "d": "0",
        "l": str(max(0, int(h.hub.clock() - s.active))), "a": s.account or "0",
        "o": "n/a", "r": realname(s),
    }  # fmt: skip
    h.numeric("354", *(values[f] for f in WHOX_FIELDS if f in fields))


def _who_line(
    h: IrcHandler, channel: str, s: Session, room: Room | None, whox: tuple[str, str] | None
) -> None:
    if whox is not None:
        _whox_line(h, whox[0], whox[1], channel, s, room)
        return
    nick = s.nick or ""
    h.numeric(
        "352", channel, s.user or nick, HOST, h.server.name, nick, _flags(h, s, room),
        f"0 {realname(s)}",
    )  # fmt: skip


def who(h: IrcHandler, msg: Message) -> None:
    # WHO [<mask> ["o"]] | WHO <mask> %<fields>[,<token>] (WHOX)
    target = msg.param(0) or "*"
    options, _, token = msg.param(1).partition(",")
    opers_only = "o" in options.split("%")[0]
    whox = (options.split("%", 1)[1], token[:3]) if "%" in options else None
    if target.startswith("#"):
        room = h.hub.rooms.get(fold(target))
        member = room is not None and h.session.key in room.members
        if room is not None and (member or "s" not in room.modes):
            for s in room.members.values():
                if (member or "i" not in s.modes) and (not opers_only or "o" in s.modes):
                    _who_line(h, room.name, s, room, whox)
        h.numeric("315", target, "End of WHO list")
        return
    exact = h.hub.sessions.get(fold(target))
    if exact is not None:
        people = [exact]  # a nick asked for by name is shown even if invisible
    else:
        pattern = "*" if target in ("0", "*") else target
        people = [
            s
            for s in h.hub.sessions.values()
            if _seen_by(h, s)
            and any(matches(pattern, f) for f in (s.mask, s.nick or "", realname(s), HOST))
        ]
    for s in people:
        if opers_only and "o" not in s.modes:
            continue
        _who_line(h, "*", s, None, whox)
    h.numeric("315", target, "End of WHO list")


def whois(h: IrcHandler, msg: Message) -> None:
    # WHOIS [<server>] <nick>
    name = msg.params[-1]
    s = h.hub.sessions.get(fold(name))
    if s is None:
        h.numeric("401", name, "No such nick/channel")
        h.numeric("318", name, "End of /WHOIS list")
        return
    nick = s.nick or name
    h.numeric("311", nick, s.user or nick, HOST, "*", realname(s))
    rooms = [
        prefix(h, r, s.key or "") + r.name
        for r in s.rooms.values()
        if s.key in r.members and ("s" not in r.modes or h.session.key in r.members)
    ]
    if rooms:
        h.numeric("319", nick, " ".join(rooms))
    h.numeric("312", nick, h.server.name, h.server.settings.server_info)
    if "o" in s.modes:
        h.numeric("313", nick, "is an IRC operator")
    if "B" in s.modes:
        h.numeric("335", nick, "is a bot")
    if _over_tls(s):
        h.numeric("671", nick, "is using a secure connection")
    for key, value in (s.metadata or {}).items():
        h.numeric("760", nick, key, "*", value)
    if s.account:
        h.numeric("330", nick, s.account, "is logged in as")
    idle = max(0, int(h.hub.clock() - s.active))
    h.numeric("317", nick, str(idle), str(int(s.since)), "seconds idle, signon time")
    if s.away:
        h.numeric("301", nick, s.away)
    h.numeric("318", nick, "End of /WHOIS list")


def _over_tls(s: Session) -> bool:
    """Whether a session's connection, on any door, came in over TLS (WHOIS 671)."""
    transport = getattr(s.sink, "transport", None)
    return transport is not None and transport.get_extra_info("ssl_object") is not None


def whowas(h: IrcHandler, msg: Message) -> None:
    # WHOWAS <nick> [<count>]
    if not msg.params or not msg.param(0):
        h.numeric("431", "No nickname given")
        return
    name = msg.param(0)
    count = msg.param(1)
    limit = int(count) if count.isdecimal() and int(count) > 0 else None
    past = h.hub.was(name)[:limit]
    if not past:
        h.numeric("406", name, "There was no such nickname")
    for entry in past:
        user, real = entry.user or entry.nick, entry.realname or entry.nick
        h.numeric("314", entry.nick, user, HOST, "*", real)
        stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(entry.ts))
        h.numeric("312", entry.nick, h.server.name, stamp)
    h.numeric("369", name, "End of WHOWAS")


def ison(h: IrcHandler, msg: Message) -> None:
    # ISON <nick>{ <nick>}
    online = []
    for word in " ".join(msg.params).split():
        s = h.hub.sessions.get(fold(word))
        if s is not None:
            online.append(s.nick or word)
    h.numeric("303", " ".join(online))


def userhost(h: IrcHandler, msg: Message) -> None:
    # USERHOST <nick>{ <nick>}: nick[*]=(+|-)user@host, * for operators, - for away
    found = []
    for word in msg.params[:5]:
        s = h.hub.sessions.get(fold(word))
        if s is None:
            continue
        oper = "*" if "o" in s.modes else ""
        here = "-" if s.away else "+"
        found.append(f"{s.nick}{oper}={here}{s.user or s.nick}@{HOST}")
    h.numeric("302", " ".join(found))


def setname(h: IrcHandler, msg: Message) -> None:
    # SETNAME :<realname> (IRCv3 setname)
    try:
        event = h.hub.set_realname(h.session, msg.param(0))
    except TertuliaError:
        h.fail("SETNAME", "INVALID_REALNAME", "Real name is not valid")
        return
    if "setname" in h.caps.enabled:
        h.send(Message("SETNAME", (event.realname,), h.me))


def away(h: IrcHandler, msg: Message) -> None:
    # AWAY [:message]
    h.hub.set_away(h.session, msg.param(0))
    if h.session.away:
        h.numeric("306", "You have been marked as being away")
    else:
        h.numeric("305", "You are no longer marked as being away")


def help_(h: IrcHandler, msg: Message) -> None:
    # HELP [<subject>]: 704, 705 lines, 706 (modern.ircdocs.horse), from the command table.
    from tertulia.server.irc.commands import COMMANDS  # the table imports this module

    subject = msg.param(0).upper()
    if subject and subject not in COMMANDS:
        h.numeric("524", msg.param(0), "No help available on this topic")
        return
    topic = subject or "*"
    if subject:
        h.numeric("704", topic, COMMANDS[subject].syntax)
    else:
        h.numeric("704", topic, "Commands of this server; HELP <command> for one")
        verbs = sorted(COMMANDS)
        for i in range(0, len(verbs), 10):
            h.numeric("705", topic, " ".join(verbs[i : i + 10]))
    h.numeric("706", topic, "End of /HELP")


def links(h: IrcHandler, msg: Message) -> None:
    # LINKS: one server, this one.
    name = h.server.name
    h.numeric("364", name, name, f"0 {h.server.settings.server_info}")
    h.numeric("365", "*", "End of /LINKS list")
