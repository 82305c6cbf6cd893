"""Accounts from IRC: SASL PLAIN (AUTHENTICATE), PASS account:password, NickServ."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING

from tertulia.core.errors import TertuliaError
from tertulia.protocols.irc import Message
from tertulia.protocols.irc.render import mask

if TYPE_CHECKING:
    from tertulia.server.irc.handler import IrcHandler

NICKSERV = "NickServ!NickServ@tertulia"
CHANSERV = "ChanServ!ChanServ@tertulia"
SASL_LIMIT = 2048  # base64 bytes of PLAIN credentials; a nick and a password fit easily
SASL_CHUNK = 400  # AUTHENTICATE carries base64 in chunks of 400; "+" ends an exact multiple


def pass_login(h: IrcHandler) -> None:
    """PASS account:password, checked before the welcome for clients without SASL."""
    from tertulia.server.irc.cmd_connection import maybe_welcome

    name, _, password = h.reg.password.partition(":")
    h.reg.password = ""
    h.reg.authenticating = True

    async def check() -> None:
        try:
            account = await h.server.accounts.authenticate(name, password, h.conn.peer)
        except TertuliaError as err:
            h.numeric("464", err.render(h.tr))
            h.send(Message("ERROR", ("Closing link: bad account password",)))
            h.leave("bad account password")
            return
        if h.gone:
            return  # it left while the password was checked
        h.server.accounts.adopt(h.session, account)
        h.reg.authenticating = False
        maybe_welcome(h)

    h.slow(check())


def authenticate(h: IrcHandler, msg: Message) -> None:
    # AUTHENTICATE <mechanism> | <base64 chunk> | + | *   (IRCv3 SASL 3.1)
    arg = msg.param(0)
    if "sasl" not in h.caps.enabled:
        h.numeric("904", "SASL authentication failed")
        return
    if arg == "*":
        h.sasl = None
        h.numeric("906", "SASL authentication aborted")
        return
    if h.sasl is None:
        if arg.upper() != "PLAIN":
            h.numeric("908", "PLAIN", "are available SASL mechanisms")
            h.numeric("904", "SASL authentication failed")
            return
        h.sasl = []
        h.send(Message("AUTHENTICATE", ("+",)))
        return
    if arg != "+":
        h.sasl.append(arg)
    if sum(map(len, h.sasl)) > SASL_LIMIT:
        h.sasl = None
        h.numeric("904", "SASL authentication failed")
        return
    if len(arg) == SASL_CHUNK:
        return
    chunks, h.sasl = h.sasl, None
    try:
        _, name, password = base64.b64decode("".join(chunks)).decode().split("\0")
    except ValueError:
        h.numeric("904", "SASL authentication failed")
        return

    async def check() -> None:
        try:
            account = await h.server.accounts.authenticate(name, password, h.conn.peer)
        except TertuliaError:
            h.numeric("904", "SASL authentication failed")
            return
        if not h.gone:
            _logged_in(h, account)

    h.slow(check())


def _logged_in(h: IrcHandler, account: str) -> None:
    accounts = h.server.accounts
    accounts.adopt(h.session, account)
    h.numeric("900", mask(h.nick, h.session.user), account, f"You are now logged in as {account}")
    h.numeric("903", "SASL authentication successful")
    if h.reg.registered:  # authenticating again once registered
        accounts.arrived(h.session)
        h.hub.login(h.session, account)


def nickserv(h: IrcHandler, text: str) -> None:
    """`/msg NickServ IDENTIFY [account] password` and `REGISTER password`, as elsewhere."""
    words = text.split()
    command = words[0].upper() if words else ""
    accounts = h.server.accounts

    def reply(line: str) -> None:
        h.send(Message("NOTICE", (h.nick, line), NICKSERV))

    async def run() -> None:
        try:
            if command == "IDENTIFY" and len(words) in (2, 3):
                name = words[1] if len(words) == 3 else h.nick
                account = await accounts.login(h.session, name, words[-1])
                h.numeric("900", h.me, account, f"You are now logged in as {account}")
                reply(f"You are now identified for {account}")
            elif command == "REGISTER" and len(words) >= 2:
                account = await accounts.register(h.session, words[1])
                reply(f"{account} is registered to you, and you are logged in")
            else:
                reply("Commands: IDENTIFY [account] password, REGISTER password")
        except TertuliaError as err:
            reply(err.render(h.tr))

    h.slow(run())


def chanserv(h: IrcHandler, text: str) -> None:
    """`/msg ChanServ REGISTER #room` and `UNREGISTER #room`: a room kept for an account."""
    words = text.split()
    command = words[0].upper() if words else ""
    moderation = h.server.moderation

    def reply(line: str) -> None:
        h.send(Message("NOTICE", (h.nick, line), CHANSERV))

    async def run() -> None:
        try:
            if command == "REGISTER" and len(words) == 2:
                room = await moderation.claim(h.session, words[1])
                reply(f"{room.name} is registered to {h.session.account}")
            elif command in ("UNREGISTER", "DROP") and len(words) >= 2:
                room = await moderation.unclaim(h.session, words[1])
                reply(f"{room.name} is no longer registered")
            else:
                reply("Commands: REGISTER #room, UNREGISTER #room")
        except TertuliaError as err:
            reply(err.render(h.tr))

    h.slow(run())
