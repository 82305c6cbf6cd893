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
    cmd_markread,
    cmd_messaging,
    cmd_metadata,
    cmd_monitor,
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
    syntax: str = ""  # what HELP shows
    # Set from the registration machine's list, so the rule lives in one place.
    before_registration: bool = False


def _table(entries: dict[str, tuple[Handler, int, str]]) -> dict[str, Command]:
    return {
        verb: Command(handler, params, syntax, verb in BEFORE_REGISTRATION)
        for verb, (handler, params, syntax) in entries.items()
    }


COMMANDS: dict[str, Command] = _table(
    {
        # connection registration and liveness (RFC 2812 3.1, 3.7; IRCv3 CAP and SASL)
        "CAP": (cmd_connection.cap, 1, "CAP LS [302] | LIST | REQ :<caps> | END"),
        "PASS": (cmd_connection.pass_, 1, "PASS <password>"),
        "NICK": (cmd_connection.nick, 0, "NICK <nickname>"),
        "USER": (cmd_connection.user, 0, "USER <username> <mode> <unused> :<realname>"),
        "PING": (cmd_connection.ping, 1, "PING <token>"),
        "PONG": (cmd_connection.pong, 0, "PONG <token>"),
        "QUIT": (cmd_connection.quit, 0, "QUIT [:<reason>]"),
        "AUTHENTICATE": (cmd_account.authenticate, 1, "AUTHENTICATE PLAIN | <base64> | + | *"),
        # channels (RFC 2812 3.2)
        "JOIN": (cmd_channel.join, 1, "JOIN <channel>{,<channel>} [<key>{,<key>}] | JOIN 0"),
        "PART": (cmd_channel.part, 1, "PART <channel>{,<channel>} [:<reason>]"),
        "TOPIC": (cmd_channel.topic, 1, "TOPIC <channel> [:<topic>]"),
        "NAMES": (cmd_channel.names, 0, "NAMES [<channel>{,<channel>}]"),
        "LIST": (cmd_channel.list_, 0, "LIST [<channel>{,<channel>}]"),
        "INVITE": (cmd_channel.invite, 0, "INVITE [<nickname> <channel>]"),
        "KICK": (cmd_channel.kick, 2, "KICK <channel> <nickname>{,<nickname>} [:<reason>]"),
        "MODE": (
            cmd_channel.mode,
            1,
            "MODE <channel> [<modes> [<arguments>]] | MODE <nickname> [<modes>]",
        ),
        # messages (RFC 2812 3.3; IRCv3 message-tags)
        "PRIVMSG": (cmd_messaging.privmsg, 0, "PRIVMSG <target>{,<target>} :<text>"),
        "NOTICE": (cmd_messaging.notice, 0, "NOTICE <target>{,<target>} :<text>"),
        "TAGMSG": (cmd_messaging.tagmsg, 1, "@<tags> TAGMSG <target>"),
        # queries (RFC 2812 3.4, 3.6)
        "MOTD": (cmd_query.motd, 0, "MOTD"),
        "LUSERS": (cmd_query.lusers, 0, "LUSERS"),
        "VERSION": (cmd_query.version, 0, "VERSION"),
        "TIME": (cmd_query.time_, 0, "TIME"),
        "INFO": (cmd_query.info, 0, "INFO"),
        "WHO": (cmd_query.who, 0, "WHO [<mask> [o | %<fields>[,<token>]]]"),
        "WHOIS": (cmd_query.whois, 1, "WHOIS [<server>] <nickname>"),
        "WHOWAS": (cmd_query.whowas, 0, "WHOWAS <nickname> [<count>]"),
        "ISON": (cmd_query.ison, 1, "ISON <nickname>{ <nickname>}"),
        "USERHOST": (cmd_query.userhost, 1, "USERHOST <nickname>{ <nickname>}"),
        "SETNAME": (cmd_query.setname, 1, "SETNAME :<realname>"),
        "AWAY": (cmd_query.away, 0, "AWAY [:<message>]"),
        # server operators (RFC 2812 3.1.4, 3.7.1, 4.7)
        "OPER": (cmd_oper.oper, 2, "OPER <name> <password>"),
        "KILL": (cmd_oper.kill, 1, "KILL <nickname> [:<reason>]"),
        "WALLOPS": (cmd_oper.wallops, 1, "WALLOPS :<text>"),
        "KLINE": (cmd_oper.kline, 1, "KLINE [<duration>] <mask> [:<reason>]"),
        "DLINE": (cmd_oper.kline, 1, "DLINE [<duration>] <address>[/<bits>] [:<reason>]"),
        "UNKLINE": (cmd_oper.unkline, 1, "UNKLINE <mask>"),
        "UNDLINE": (cmd_oper.unkline, 1, "UNDLINE <address>[/<bits>]"),
        "STATS": (cmd_oper.stats, 0, "STATS [K]"),
        # history (IRCv3 draft/chathistory; SEARCH is tertulia's own)
        "CHATHISTORY": (
            cmd_history.chathistory,
            0,
            "CHATHISTORY LATEST <channel> <* | msgid=N> <limit>"
            " | BEFORE <channel> <msgid=N> <limit>",
        ),
        "SEARCH": (cmd_history.search, 0, "SEARCH <channel> :<words>"),
        "MONITOR": (
            cmd_monitor.monitor,
            1,
            "MONITOR + <nick>{,<nick>} | - <nick>{,<nick>} | C | L | S",
        ),
        "METADATA": (
            cmd_metadata.metadata,
            2,
            "METADATA <target> <subcommand> [<key>...] [:<value>]",
        ),
        "MARKREAD": (cmd_markread.markread, 0, "MARKREAD <target> [timestamp=<time>]"),
        "REDACT": (cmd_messaging.redact, 2, "REDACT <channel> <msgid> [:<reason>]"),
        # help and the network
        "HELP": (cmd_query.help_, 0, "HELP [<command>]"),
        "HELPOP": (cmd_query.help_, 0, "HELPOP [<command>]"),
        "LINKS": (cmd_query.links, 0, "LINKS"),
    }
)
