"""RPL_ISUPPORT (005): the tokens that tell a client this server's rules and limits."""

from __future__ import annotations

from tertulia.protocols.irc.modes import CHANMODES

TOKENS_PER_LINE = 13  # a 005 line carries at most 13 tokens, as most servers send
USER_LENGTH = 18  # characters of USER's username kept
MONITOR_LIMIT = 100  # nicks one client may watch with MONITOR
MAX_TARGETS = 4  # targets of one PRIVMSG, NOTICE, TAGMSG or KICK
TARGMAX = (
    f"JOIN:,KICK:{MAX_TARGETS},NAMES:{MAX_TARGETS},NOTICE:{MAX_TARGETS},PART:,PRIVMSG:{MAX_TARGETS},"
    + (f"TAGMSG:{MAX_TARGETS},WHOIS:1")
)


def tokens(
    network: str,
    nick_length: int,
    room_length: int,
    topic_length: int,
    history: int,
    list_entries: int,
    room_limit: int,
) -> list[str]:
    # Only what the door does: irctest, like clients, takes a token as a promise. Nicks and
    # channels fold A-Z (CASEMAPPING=ascii) and, beyond ASCII, as RFC 8265 (UTF8MAPPING, as
    # Ergo says it): core/names.py's fold.
    found = [
        f"AWAYLEN={topic_length}", "BOT=B", "CASEMAPPING=ascii", f"CHANLIMIT=#:{room_limit}",
        f"CHANMODES={CHANMODES}", f"CHANNELLEN={room_length}", "CHANTYPES=#", "ELIST=MNU",
        "EXCEPTS=e", "EXTBAN=,m", "INVEX=I",
        f"KICKLEN={topic_length}", f"MAXLIST=beI:{list_entries}", "MODES=4",
        f"MONITOR={MONITOR_LIMIT}", f"NETWORK={network}",
        f"NICKLEN={nick_length}", "PREFIX=(ov)@+", "SAFELIST", f"TARGMAX={TARGMAX}",
        f"TOPICLEN={topic_length}",
        f"USERLEN={USER_LENGTH}", "UTF8MAPPING=rfc8265", "UTF8ONLY", "WHOX",
    ]  # fmt: skip
    if history:
        found += [f"CHATHISTORY={history}", "MSGREFTYPES=msgid"]
    return found


def lines(found: list[str]) -> list[tuple[str, ...]]:
    """The 005 lines' parameters after the client's nick."""
    return [
        (*found[i : i + TOKENS_PER_LINE], "are supported by this server")
        for i in range(0, len(found), TOKENS_PER_LINE)
    ]
