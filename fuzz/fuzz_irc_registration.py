"""Fuzz IRC registration: CAP, NICK, USER and PASS in any order and split, as the door runs them."""

from __future__ import annotations

from _harness import chunkings, fuzz, instrumented

with instrumented(__name__):
    from tertulia.config import Settings
    from tertulia.core.errors import NickInvalid
    from tertulia.core.names import check_nick
    from tertulia.protocols.framing import LineFramer, Overlong
    from tertulia.protocols.irc import IrcParseError, Message, parse
    from tertulia.protocols.irc.caps import CapState, offered
    from tertulia.protocols.irc.isupport import USER_LENGTH
    from tertulia.protocols.irc.numerics import reply_for
    from tertulia.protocols.irc.registration import (
        REALNAME_LENGTH,
        Phase,
        Registration,
        RegistrationError,
    )
    from tertulia.server.irc.commands import COMMANDS
    from tertulia.server.irc.handler import _sendable

SETTINGS = Settings()
AVAILABLE = offered(stored=True)
# The IRC door's framer: 8191 bytes of tags before a 512-byte body (server/connection.py).
LINE_LIMIT = 8191 + 512


def sent(*params: str) -> str:
    """A reply as the door writes it; every reply must be writable, as one line. (One that
    quotes a long parameter back to its sender may pass 512 bytes: it is not parsed again.)"""
    line = _sendable(Message(params[0], ("*", *params[1:]), "tertulia"))
    assert line is not None, params
    assert line.endswith(b"\r\n") and not any(c in line[:-2] for c in b"\r\n\0"), line
    return " ".join(params)


def check(reg: Registration, caps: CapState) -> None:
    assert caps.enabled <= {*AVAILABLE, "cap-notify"}
    assert (reg.phase is Phase.NEGOTIATING) == (caps.negotiating and not reg.registered)
    if reg.user is not None:
        user = reg.user
        assert 1 <= len(user) <= USER_LENGTH and user.isascii() and user.isprintable()
        assert not any(c in user for c in " !@*?")
        realname = reg.realname
        # Stripped, then cut: a cut may end on a space, which shows as nothing.
        assert realname and len(realname) <= REALNAME_LENGTH and realname == realname.lstrip()
        assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in realname)


def command(reg: Registration, caps: CapState, msg: Message) -> list[str]:
    """One command as the door's registration handlers take it (cmd_connection.py)."""
    entry = COMMANDS.get(msg.command)
    if entry is None or not entry.before_registration:
        return ["451"] if entry is not None else []
    if len(msg.params) < entry.min_params:
        return [sent("461", msg.command, "Not enough parameters")]
    out: list[str] = []
    try:
        if msg.command == "CAP":
            was = caps.negotiating
            out += [sent(*r) for r in caps.handle(msg.param(0), msg.param(1), AVAILABLE, False)]
            if caps.negotiating and not was:
                reg.fire("cap-start")
            elif was and not caps.negotiating:
                reg.fire("cap-end")
        elif msg.command == "NICK":
            if not msg.param(0):
                return [sent("431", "No nickname given")]
            reg.nick = check_nick(msg.param(0), SETTINGS.nick_length)
        elif msg.command == "USER":
            reg.take_user(msg.params)
        elif msg.command == "PASS":
            reg.take_pass(msg.param(0))
        elif msg.command == "QUIT":
            out.append("quit")
    except RegistrationError as err:
        out.append(sent(err.numeric, *err.params))
    except NickInvalid as err:
        found = reply_for(err)  # as IrcHandler.error answers it
        assert found is not None and found[0] == "432"
        out.append(sent(found[0], *found[1]))
    return out


def register(chunks: list[bytes]) -> list[str]:
    reg, caps, framer = Registration(), CapState(), LineFramer(LINE_LIMIT)
    seen: list[str] = []
    for chunk in chunks:
        for item in framer.feed(chunk):
            if isinstance(item, Overlong):
                seen.append("417")
                continue
            try:
                msg = parse(item)
            except IrcParseError as err:
                seen.append(err.reason)
                continue
            seen += command(reg, caps, msg)
            check(reg, caps)
            if seen and seen[-1] == "quit":
                return seen
            if reg.ready():
                assert reg.nick is not None and reg.user is not None
                reg.fire("welcome")
                assert reg.registered
                seen.append("001 " + reg.nick)
                return seen  # from here on the session is the hub's
    return seen


def test_one_input(data: bytes) -> None:
    whole, *others = (register(chunks) for chunks in chunkings(data))
    assert sum(s.startswith("001 ") for s in whole) <= 1
    for other in others:
        assert other == whole


if __name__ == "__main__":
    fuzz(test_one_input, "irc.dict")
