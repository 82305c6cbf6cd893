"""Registration and liveness: CAP, PASS, NICK, USER, PING, PONG, QUIT, and the welcome."""

from __future__ import annotations

import hmac
import logging
from typing import TYPE_CHECKING

from tertulia import __version__
from tertulia.core.errors import NickInUse, NickInvalid
from tertulia.core.hub import MAX_LIST_ENTRIES, RESERVED
from tertulia.core.names import check_nick, fold
from tertulia.core.session import Door
from tertulia.protocols.irc import Message, isupport
from tertulia.protocols.irc.caps import NO_CAPS, CapState, offered
from tertulia.protocols.irc.modes import CHANNEL_MODES, USER_MODES
from tertulia.protocols.irc.registration import REGISTERED, RegistrationError
from tertulia.server.irc import cmd_account, cmd_metadata, cmd_query

if TYPE_CHECKING:
    from tertulia.server.irc.handler import IrcHandler

log = logging.getLogger(__name__)


def cap(h: IrcHandler, msg: Message) -> None:
    # CAP LS [version] | LIST | REQ :caps | END
    registered = h.reg.registered
    if h.caps is NO_CAPS:
        h.caps = CapState()  # its own, before handle() changes it: NO_CAPS is shared
    was_negotiating = h.caps.negotiating
    available = offered(h.server.history.store is not None)
    sts = h.server.sts_policy(h.secure) if h.frame is None else ""  # not over WebSocket
    policies = (("sts", sts),) if sts else ()
    for params in h.caps.handle(msg.param(0), msg.param(1), available, registered, policies):
        if params[0] == "410":
            h.numeric(*params)
        else:
            h.send(Message(params[0], (h.nick, *params[1:]), h.server.name))
    h.session.encoder = h.server.irc_encoder_for(h.caps.enabled, h.frame)
    if h.caps.negotiating and not was_negotiating:
        h.reg.fire("cap-start")
    elif was_negotiating and not h.caps.negotiating:
        h.reg.fire("cap-end")
        maybe_welcome(h)


def pass_(h: IrcHandler, msg: Message) -> None:
    # PASS <password>
    try:
        h.reg.take_pass(msg.param(0))
    except RegistrationError as err:
        h.numeric(err.numeric, *err.params)


def nick(h: IrcHandler, msg: Message) -> None:
    # NICK <nickname>
    wanted = msg.param(0)
    if not wanted:
        h.numeric("431", "No nickname given")
        return
    if h.reg.registered:
        old = h.me
        try:
            if h.hub.change_nick(h.session, wanted) is not None:
                h.send(Message("NICK", (wanted,), old))
        except (NickInUse, NickInvalid) as err:
            h.error(err)  # 433 or 432, through the numerics table
        return
    try:
        check_nick(wanted, h.hub.limits.nick_length)
    except NickInvalid as err:
        h.error(err)
        return
    key = fold(wanted)
    taken = key in h.hub.sessions and not _owner_takes_it(h, key)
    # While capabilities are negotiated a SASL login may still prove this client the
    # nick's owner: then the welcome decides, as it does for everyone.
    if key in RESERVED or (taken and not h.caps.negotiating):
        h.numeric("433", wanted, "Nickname is already in use")
        return
    h.reg.nick = wanted
    maybe_welcome(h)


def _owner_takes_it(h: IrcHandler, key: str) -> bool:
    # The owner, logged in with SASL before its NICK, takes its nick from a squatter.
    return bool(h.session.account) and fold(h.session.account) == key


def user(h: IrcHandler, msg: Message) -> None:
    # USER <username> <mode> <unused> :<realname>
    try:
        h.reg.take_user(msg.params)
    except RegistrationError as err:
        h.numeric(err.numeric, *err.params)
        return
    maybe_welcome(h)


def maybe_welcome(h: IrcHandler) -> None:
    reg = h.reg
    if not reg.ready() or reg.nick is None:
        return
    wanted = h.server.settings.password
    if wanted and not hmac.compare_digest(reg.password.encode(), wanted.encode()):
        log.info("refused: wrong server password", extra={"peer": h.conn.peer})
        h.numeric("464", "Password incorrect")
        h.send(Message("ERROR", ("Closing link: bad password",)))
        h.leave("bad password")
        return
    if not wanted and ":" in reg.password and not h.session.account:
        # PASS account:password, for clients without SASL: checked before the welcome.
        cmd_account.pass_login(h)
        return
    account = h.session.account
    holder = h.hub.sessions.get(fold(reg.nick))
    if account and fold(account) == fold(reg.nick) and holder is not None:
        h.server.accounts.rename(holder)
    # USER ana 0 * :ana is common: one string for the nick, user and real name that are
    # the same, not a copy each for every idle client.
    user = reg.user or reg.nick
    h.session.user = user = reg.nick if user == reg.nick else user
    h.session.realname = user if reg.realname == user else reg.realname
    try:
        h.hub.register(h.session, reg.nick)
    except NickInUse:
        h.numeric("433", reg.nick, "Nickname is already in use")
        reg.nick = None
        return
    except NickInvalid:
        h.numeric("432", reg.nick, "Erroneous nickname")
        reg.nick = None
        return
    h.reg = REGISTERED
    h.server.stop_nick_timer(h.conn)
    log.info("registered", extra={"nick": reg.nick, "door": Door.IRC})
    s = h.server.settings
    name = h.server.name
    h.numeric("001", f"Welcome to the {name} IRC door, {h.me}")
    h.numeric("002", f"Your host is {name}, running tertulia {__version__}")
    h.numeric("003", "This server has been started recently")
    h.numeric("004", name, f"tertulia-{__version__}", USER_MODES, CHANNEL_MODES)
    history = s.history_page if h.server.history.store is not None else 0
    found = isupport.tokens(
        name, s.nick_length, s.room_length, s.topic_length, history, MAX_LIST_ENTRIES,
        h.hub.limits.rooms_per_session,
    )  # fmt: skip
    for line in isupport.lines(found):
        h.numeric("005", *line)
    cmd_query.lusers(h, msg=Message("LUSERS"))
    cmd_query.motd(h, msg=Message("MOTD"))
    if h.session.metadata:  # set before the welcome (metadata's before-connect)
        cmd_metadata.welcome(h)


def ping(h: IrcHandler, msg: Message) -> None:
    # PING <token>: the token comes back as PONG's last parameter.
    h.reply("PONG", h.server.name, msg.param(0))


def pong(h: IrcHandler, msg: Message) -> None:
    pass  # any line counts as a sign of life (IrcHandler.on_line)


def quit(h: IrcHandler, msg: Message) -> None:
    # QUIT [:reason]
    reason = msg.param(0)
    h.send(Message("ERROR", (f"Closing link: {reason or 'Quit'}",)))
    h.leave(reason)
