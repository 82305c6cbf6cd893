"""Server operators: OPER, KILL and WALLOPS (RFC 2812 3.1.4, 3.7.1, 4.7), server bans
(KLINE, DLINE and their removal, as Ergo and the ircds spell them; STATS K lists them).

Operators come from the settings' [operators] table, name to password or scrypt hash; the
checks and the keeping are server.moderation's, shared with the other doors.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from tertulia.core import bans
from tertulia.core.errors import NoPrivileges
from tertulia.protocols.irc import Message

if TYPE_CHECKING:
    from tertulia.server.irc.handler import IrcHandler


def oper(h: IrcHandler, msg: Message) -> None:
    # OPER <name> <password>
    async def check() -> None:
        await h.server.moderation.oper(h.session, msg.param(0), msg.param(1))
        if not h.gone:
            h.numeric("381", "You are now an IRC operator")
            h.send(Message("MODE", (h.nick, "+o"), h.me))

    h.slow(check())


def kill(h: IrcHandler, msg: Message) -> None:
    # KILL <nickname> [:comment]
    h.server.moderation.kill(h.session, msg.param(0), msg.param(1))


def wallops(h: IrcHandler, msg: Message) -> None:
    # WALLOPS :<text>
    h.hub.wallops(h.session, msg.param(0))


def kline(h: IrcHandler, msg: Message) -> None:
    # KLINE [ANDKILL] [<duration>] <mask> [ON <server>] [:<reason>]  (DLINE: an address)
    # Matching users are always put out, so ANDKILL changes nothing; there is one server.
    params = [p for p in msg.params if p.upper() != "ANDKILL"]
    duration = ""
    if len(params) >= 2 and bans.looks_like_duration(params[0]):
        duration = params.pop(0)
    mask = params.pop(0) if params else ""
    if len(params) >= 2 and params[0].upper() == "ON":
        del params[:2]
    reason = " ".join(params)
    if msg.command == "DLINE" and bans.normalize(mask) and _network(mask) is None:
        raise bans.BadBanMask(mask=mask[:40])

    async def run() -> None:
        entry = await h.server.moderation.server_ban(h.session, mask, duration, reason)
        until = _until(entry)
        h.send(Message("NOTICE", (h.nick, f"Added ban on {entry.mask} ({until})"), h.server.name))

    h.slow(run())


def unkline(h: IrcHandler, msg: Message) -> None:
    # UNKLINE <mask> (UNDLINE <address>)
    async def run() -> None:
        entry = await h.server.moderation.server_unban(h.session, msg.param(0))
        h.send(Message("NOTICE", (h.nick, f"Removed ban on {entry.mask}"), h.server.name))

    h.slow(run())


def stats(h: IrcHandler, msg: Message) -> None:
    # STATS [<query>]: K (or k, D, d) lists the server bans to operators; others end at once.
    query = msg.param(0)[:1]
    if query in ("K", "k", "D", "d"):
        if "o" not in h.session.modes:
            raise NoPrivileges()
        for entry in h.server.moderation.server_bans(h.session):
            reason = f"{entry.reason} ({_until(entry)}, by {entry.by})"
            h.numeric("216", "K", entry.mask, "*", "*", reason)
    h.numeric("219", query or "*", "End of /STATS report")


def _network(mask: str) -> object:
    return bans.ServerBan(bans.normalize(mask), "", "", 0.0).network


def _until(entry: bans.ServerBan) -> str:
    if not entry.expires:
        return "permanent"
    return "until " + time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(entry.expires))
