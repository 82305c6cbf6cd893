"""Server operators: OPER, KILL and WALLOPS (RFC 2812 3.1.4, 3.7.1, 4.7).

Operators come from the settings' [operators] table, name to password or scrypt hash.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from typing import TYPE_CHECKING

from tertulia.protocols.irc import Message
from tertulia.server.accounts import check_password

if TYPE_CHECKING:
    from tertulia.server.irc.handler import IrcHandler

log = logging.getLogger(__name__)


def oper(h: IrcHandler, msg: Message) -> None:
    # OPER <name> <password>
    name, password = msg.param(0), msg.param(1)
    secret = dict(h.server.settings.operators).get(name)
    if secret is None or not secret.startswith("scrypt$"):
        ok = secret is not None and hmac.compare_digest(password.encode(), secret.encode())
        _verdict(h, name, ok)
        return

    async def check() -> None:
        # scrypt is slow on purpose: off the loop, as account logins are.
        ok = await asyncio.to_thread(check_password, password, secret)
        if not h.gone:
            _verdict(h, name, ok)

    h.slow(check())


def _verdict(h: IrcHandler, name: str, ok: bool) -> None:
    if not ok:
        log.warning("refused: wrong operator password", extra={"peer": h.conn.peer})
        h.numeric("464", "Password incorrect")
        return
    h.hub.oper(h.session, name)
    log.info("server operator", extra={"nick": h.nick, "oper": name})
    h.numeric("381", "You are now an IRC operator")
    h.send(Message("MODE", (h.nick, "+o"), h.me))


def kill(h: IrcHandler, msg: Message) -> None:
    # KILL <nickname> [:comment]
    victim = h.hub.kill(h.session, msg.param(0), msg.param(1))
    log.info("killed", extra={"nick": victim.nick, "by": h.nick})
    victim.sink.close()


def wallops(h: IrcHandler, msg: Message) -> None:
    # WALLOPS :<text>
    h.hub.wallops(h.session, msg.param(0))
