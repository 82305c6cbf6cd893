"""MONITOR + targets | - targets | C | L | S (IRCv3 monitor): 730-734."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tertulia.core.errors import NickInvalid
from tertulia.core.names import check_nick, fold
from tertulia.protocols.irc import Message
from tertulia.protocols.irc.isupport import MONITOR_LIMIT

if TYPE_CHECKING:
    from tertulia.server.irc.handler import IrcHandler


def monitor(h: IrcHandler, msg: Message) -> None:
    # MONITOR + <target>{,<target>} | - <target>{,<target>} | C | L | S
    sub = msg.param(0).upper()
    targets = [t for t in msg.param(1).split(",") if t]
    registry = h.server.irc_monitor
    if h.watching is None:
        h.watching = {}
    watched = h.watching
    if sub == "+":
        online, offline = [], []
        for i, nick in enumerate(targets):
            if fold(nick) in watched:
                continue
            if len(watched) >= MONITOR_LIMIT:
                h.numeric("734", str(MONITOR_LIMIT), ",".join(targets[i:]), "Monitor list is full")
                break
            try:
                check_nick(nick, h.hub.limits.nick_length)
            except NickInvalid as err:
                h.error(err)  # 432, through the numerics table
                continue
            watched[fold(nick)] = nick
            registry.add(h, nick)
            session = h.hub.sessions.get(fold(nick))
            if session is not None:
                online.append(session.mask)
            else:
                offline.append(nick)
        _status(h, online, offline)
    elif sub == "-":
        for nick in targets:
            if watched.pop(fold(nick), None) is not None:
                registry.remove(h, nick)
    elif sub == "C":
        forget(h)
    elif sub == "L":
        names = list(watched.values())
        for i in range(0, len(names), 20):
            h.numeric("732", ",".join(names[i : i + 20]))
        h.numeric("733", "End of MONITOR list")
    elif sub == "S":
        online, offline = [], []
        for key, nick in watched.items():
            session = h.hub.sessions.get(key)
            if session is not None:
                online.append(session.mask)
            else:
                offline.append(nick)
        _status(h, online, offline)


def _status(h: IrcHandler, online: list[str], offline: list[str]) -> None:
    for code, items in (("730", online), ("731", offline)):
        for i in range(0, len(items), 10):
            h.numeric(code, ",".join(items[i : i + 10]))


def forget(h: IrcHandler) -> None:
    """Stop watching every nick (MONITOR C, and when the client leaves)."""
    for nick in (h.watching or {}).values():
        h.server.irc_monitor.remove(h, nick)
    h.watching = None
