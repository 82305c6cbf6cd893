"""Messages: PRIVMSG, NOTICE and TAGMSG to channels and nicks, with client tags relayed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tertulia.core import events as ev
from tertulia.core.errors import NotInRoom, RedactForbidden, TertuliaError, UnknownMessage
from tertulia.core.names import fold
from tertulia.protocols.irc import BODY_LIMIT, Message
from tertulia.protocols.irc.isupport import MAX_TARGETS
from tertulia.server.irc import cmd_account

# Pseudo-users that answer commands sent as private messages, as IRC services do.
SERVICES = {"nickserv": cmd_account.nickserv, "chanserv": cmd_account.chanserv}

if TYPE_CHECKING:
    from tertulia.server.irc.handler import IrcHandler


def _client_tags(msg: Message) -> tuple[tuple[str, str], ...]:
    # Only client tags (`+name`) travel; server tags a client sends are not its to set.
    if not msg.tags:
        return ()  # the common case, on the hot path
    return tuple((k, v) for k, v in msg.tags.items() if k.startswith("+"))


def privmsg(h: IrcHandler, msg: Message) -> None:
    # PRIVMSG <target>{,<target>} :<text>
    _message(h, msg, ev.Kind.MESSAGE)


def notice(h: IrcHandler, msg: Message) -> None:
    # NOTICE <target>{,<target>} :<text>; never answered automatically, errors included.
    _message(h, msg, ev.Kind.NOTICE)


def _message(h: IrcHandler, msg: Message, kind: ev.Kind) -> None:
    quiet = kind is ev.Kind.NOTICE
    if not msg.params:
        if not quiet:
            h.numeric("411", "No recipient given (PRIVMSG)")
        return
    if len(msg.params) < 2 or not msg.param(1):
        if not quiet:
            h.numeric("412", "No text to send")
        return
    text = msg.param(1)
    if kind is ev.Kind.MESSAGE and text.startswith("\x01ACTION ") and text.endswith("\x01"):
        kind, text = ev.Kind.ACTION, text[8:-1]
    tags = _client_tags(msg)
    # Relayed, the line gains our source: one that would pass 512 bytes is refused here
    # rather than cut short on the way (RFC 1459 2.3, ERR_INPUTTOOLONG).
    room = BODY_LIMIT - len(h.me) - len(msg.command) - 7 - len(msg.param(1).encode())
    for target in msg.param(0).split(",")[:MAX_TARGETS]:
        if len(target) > room:
            h.numeric("417", "Input line was too long")
            continue
        if fold(target) in SERVICES and kind is ev.Kind.MESSAGE:
            SERVICES[fold(target)](h, text)
            continue
        try:
            event: ev.Event
            if target.startswith("#"):
                event = h.hub.say(h.session, target, text, kind, tags)
            else:
                event = h.hub.tell(h.session, target, text, kind, tags)
                recipient = h.hub.sessions.get(fold(target))
                if recipient is not None and recipient.away and not quiet:
                    h.numeric("301", event.target, recipient.away)
        except TertuliaError as err:
            if not quiet:
                _refused(h, target, err)
            continue
        _echo(h, event)


def _refused(h: IrcHandler, target: str, err: TertuliaError) -> None:
    if isinstance(err, NotInRoom) and target.startswith("#"):
        if fold(target) in h.hub.rooms:
            h.numeric("404", target, "Cannot send to channel")
        else:
            h.numeric("403", target, "No such channel")
    else:
        h.error(err, target)


def _echo(h: IrcHandler, event: ev.Event) -> None:
    # echo-message: the sender sees its own message as the others do, after they do.
    if "echo-message" in h.caps.enabled:
        # Over WebSocket the session's encoder makes frames and deliver frames again: the
        # lines' encoder of the same variant is used instead.
        lines = h.session.encoder if h.frame is None else h.server.irc_encoder_for(h.caps.enabled)
        echo = lines.encode(event)
        if echo is not None:
            h.deliver(echo)


def tagmsg(h: IrcHandler, msg: Message) -> None:
    # TAGMSG <target>: client tags with no text (IRCv3 message-tags)
    tags = _client_tags(msg)
    if not tags:
        return
    for target in msg.param(0).split(",")[:MAX_TARGETS]:
        try:
            event = h.hub.tag(h.session, target, tags)
        except TertuliaError as err:
            _refused(h, target, err)
            continue
        _echo(h, event)


def redact(h: IrcHandler, msg: Message) -> None:
    # REDACT <target> <msgid> [:<reason>] (IRCv3 draft/message-redaction)
    target, msgid, reason = msg.param(0), msg.param(1), msg.param(2)
    if not target.startswith("#"):
        h.fail("REDACT", "INVALID_TARGET", target, "Only channel messages can be taken back")
        return
    try:
        h.hub.redact(h.session, target, int(msgid) if msgid.isdecimal() else -1, reason)
    except NotInRoom:
        h.fail("REDACT", "INVALID_TARGET", target, "You are not on that channel")
    except UnknownMessage:
        h.fail(
            "REDACT", "UNKNOWN_MSGID", target, msgid, "This message does not exist or is too old"
        )
    except RedactForbidden:
        h.fail("REDACT", "REDACT_FORBIDDEN", target, msgid, "You may not take back this message")
