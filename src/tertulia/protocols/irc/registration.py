"""Connection registration (RFC 2812 3.1, IRCv3 CAP and SASL) as a small state machine.

Strategy: registration finishes when the client has given a nick and a user, is not in
the middle of capability negotiation (CAP LS or REQ until CAP END), and no account check
(SASL or PASS account:password) is pending. The order of those commands is free, so the
machine keeps what it was given and `ready` says when everything is there. The legal
moves are the table below; the door does what each outcome asks (a welcome, a numeric).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from tertulia.protocols.irc.isupport import USER_LENGTH

REALNAME_LENGTH = 100  # characters of USER's real name kept
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


class Phase(enum.Enum):
    CONNECTED = "connected"  # nothing usable yet
    NEGOTIATING = "negotiating"  # CAP LS or REQ seen, waiting for CAP END
    REGISTERED = "registered"  # welcomed


# Commands a client may send before it is welcomed; anything else gets 451.
BEFORE_REGISTRATION = frozenset(
    {"CAP", "NICK", "USER", "PASS", "PING", "PONG", "QUIT", "AUTHENTICATE", "METADATA"}
)

# (phase, event) -> the phase after it. Events not listed leave the phase as it is.
TRANSITIONS: dict[tuple[Phase, str], Phase] = {
    (Phase.CONNECTED, "cap-start"): Phase.NEGOTIATING,
    (Phase.NEGOTIATING, "cap-end"): Phase.CONNECTED,
    (Phase.CONNECTED, "welcome"): Phase.REGISTERED,
}


class RegistrationError(ValueError):
    """A registration command the server refuses; `numeric` and `params` say how."""

    def __init__(self, numeric: str, *params: str) -> None:
        super().__init__(numeric, *params)
        self.numeric = numeric
        self.params = params


def clean_user(username: str) -> str:
    """USER's username as shown in masks: printable ASCII without '@' or '!', at most
    USER_LENGTH characters, '~' standing in for what is left of nothing."""
    kept = "".join(c for c in username if c.isascii() and c.isprintable() and c not in " !@*?")
    return kept[:USER_LENGTH] or "~u"


@dataclass(slots=True)
class Registration:
    phase: Phase = Phase.CONNECTED
    nick: str | None = None
    user: str | None = None
    realname: str = ""
    password: str = ""
    authenticating: bool = False  # an account check is pending

    def fire(self, event: str) -> None:
        self.phase = TRANSITIONS.get((self.phase, event), self.phase)

    @property
    def registered(self) -> bool:
        return self.phase is Phase.REGISTERED

    def ready(self) -> bool:
        """Everything needed to welcome the client is there."""
        return (
            self.phase is Phase.CONNECTED
            and not self.authenticating
            and self.nick is not None
            and self.user is not None
        )

    def take_user(self, params: tuple[str, ...]) -> None:
        """USER <username> <mode> <unused> <realname>; 462 once registered, 461 if short."""
        if self.registered:
            raise RegistrationError("462", "You may not reregister")
        if len(params) < 4 or not params[0] or not params[3]:
            raise RegistrationError("461", "USER", "Not enough parameters")
        self.user = clean_user(params[0])
        # Shown to others in WHOIS and WHO: nothing that could drive a terminal, and short.
        self.realname = _CONTROL.sub("", params[3]).strip()[:REALNAME_LENGTH] or self.user

    def take_pass(self, password: str) -> None:
        if self.registered:
            raise RegistrationError("462", "You may not reregister")
        self.password = password


# Once welcomed, a client needs only to know that it was: one shared machine in the final
# state stands in for each client's (whose strings the session now holds).
REGISTERED = Registration(Phase.REGISTERED)
