"""The IRC client protocol (RFC 1459/2812 with IRCv3) as sans-I/O code: messages, numerics,
modes, capabilities, ISUPPORT, the registration machine and the rendering of core events.

Nothing here touches a socket, a clock or the hub; the IRC door in `tertulia.server.irc`
feeds it bytes and commands and sends what it returns.
"""

from tertulia.protocols.irc.message import (
    BODY_LIMIT,
    CLIENT_TAGS_LIMIT,
    TAGS_LIMIT,
    IrcParseError,
    Message,
    escape_tag,
    fitted,
    parse,
    serialize,
    unescape_tag,
)

__all__ = [
    "BODY_LIMIT",
    "CLIENT_TAGS_LIMIT",
    "TAGS_LIMIT",
    "IrcParseError",
    "Message",
    "escape_tag",
    "fitted",
    "parse",
    "serialize",
    "unescape_tag",
]
