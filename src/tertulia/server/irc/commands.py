"""The command table: each verb, its handler, its minimum parameters, and whether it may
come before registration (Ergo's commands.go). Checked once, in IrcHandler.on_line."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tertulia.protocols.irc.registration import BEFORE_REGISTRATION
from tertulia.server.irc import (
    cmd_account,
    cmd_channel,
    cmd_connection,
    cmd_history,
    cmd_messaging,
    cmd_oper,
    cmd_query,
)

if TYPE_CHECKING:
    from tertulia.protocols.irc import Message
    from tertulia.server.irc.handler import IrcHandler

Handler = Callable[["IrcHandler", "Message"], None]


@dataclass(frozen=True, slots=True)
class Command:
    handler: Handler
    min_params: int = 0

    # Set from the registration machine's list, so the rule lives in one place.
    before_registration: bool = False


def _table(entries: dict[str, tuple[Handler, int]]) -> dict[str, Command]:
    return {
        verb: Command(handler, params, verb in BEFORE_REGISTRATION)
        for verb, (handler, params) in entries.items()
    }


COMMANDS: dict[str, Command] = _table(
    {
        # connection registration and liveness (RFC 2812 3.1, 3.7; IRCv3 CAP and SASL)
        "CAP": (cmd_connection.cap, 1),
        "PASS": (cmd_connection.pass_, 1),
        "NICK": (cmd_connection.nick, 0),
        "USER": (cmd_connection.user, 0),
        "PING": (cmd_connection.ping, 1),
        "PONG": (cmd_connection.pong, 0),
        "QUIT": (cmd_connection.quit, 0),
        "AUTHENTICATE": (cmd_account.authenticate, 1),
        # channels (RFC 2812 3.2)
        "JOIN": (cmd_channel.join, 1),
        "PART": (cmd_channel.part, 1),
        "TOPIC": (cmd_channel.topic, 1),
        "NAMES": (cmd_channel.names, 0),
        "LIST": (cmd_channel.list_, 0),
        "INVITE": (cmd_channel.invite, 2),
        "KICK": (cmd_channel.kick, 2),
        "MODE": (cmd_channel.mode, 1),
        # messages (RFC 2812 3.3; IRCv3 message-tags)
        "PRIVMSG": (cmd_messaging.privmsg, 0),
        "NOTICE": (cmd_messaging.notice, 0),
        "TAGMSG": (cmd_messaging.tagmsg, 1),
        # queries (RFC 2812 3.4, 3.6)
        "MOTD": (cmd_query.motd, 0),
        "LUSERS": (cmd_query.lusers, 0),
        "VERSION": (cmd_query.version, 0),
        "TIME": (cmd_query.time_, 0),
        "INFO": (cmd_query.info, 0),
        "WHO": (cmd_query.who, 0),
        "WHOIS": (cmd_query.whois, 1),
        "WHOWAS": (cmd_query.whowas, 0),
        "ISON": (cmd_query.ison, 1),
        "USERHOST": (cmd_query.userhost, 1),
        "AWAY": (cmd_query.away, 0),
        # server operators (RFC 2812 3.1.4, 3.7.1, 4.7)
        "OPER": (cmd_oper.oper, 2),
        "KILL": (cmd_oper.kill, 1),
        "WALLOPS": (cmd_oper.wallops, 1),
        # history (IRCv3 draft/chathistory; SEARCH is tertulia's own)
        "CHATHISTORY": (cmd_history.chathistory, 0),
        "SEARCH": (cmd_history.search, 0),
    }
)
