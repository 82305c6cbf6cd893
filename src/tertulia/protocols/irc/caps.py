"""IRCv3 capability negotiation (CAP LS, LIST, REQ, END) as a pure function of the request.

https://ircv3.net/specs/extensions/capability-negotiation: a REQ is all or nothing, and
its NAK or ACK repeats the request exactly; `-name` turns a capability off.
"""

from __future__ import annotations

from dataclasses import dataclass

from tertulia.protocols.irc.metadata import CAP_VALUE

# What the door offers in CAP LS, in the order it lists them.
CAPABILITIES = (
    "account-notify", "account-tag", "away-notify", "batch", "cap-notify", "draft/chathistory",
    "draft/message-redaction", "draft/metadata-3", "draft/read-marker",
    "echo-message", "extended-monitor", "labeled-response", "message-tags", "multi-prefix",
    "sasl", "server-time", "setname",
    "userhost-in-names",
)  # fmt: skip
# Offered only with a store: no history and no accounts without one.
STORE_CAPABILITIES = frozenset({"draft/chathistory", "sasl", "account-notify", "account-tag"})
# cap-notify is implied by CAP LS 302 and cannot be turned off then.
SASL_MECHANISMS = "PLAIN"
# What CAP LS 302 says of a capability after '='.
VALUES = {"sasl": SASL_MECHANISMS, "draft/metadata-3": CAP_VALUE}


def offered(stored: bool) -> tuple[str, ...]:
    return tuple(c for c in CAPABILITIES if stored or c not in STORE_CAPABILITIES)


@dataclass(slots=True)
class CapState:
    """One client's negotiation: what it enabled, and whether registration waits for END."""

    # A frozenset replaced on each change: most clients never change it, and the empty one
    # is shared, where an empty set per idle client would cost 216 bytes each.
    enabled: frozenset[str] = frozenset()
    negotiating: bool = False
    version: int = 0  # 302 once the client said CAP LS 302

    def handle(
        self,
        sub: str,
        arg: str,
        available: tuple[str, ...],
        registered: bool,
        policies: tuple[tuple[str, str], ...] = (),
    ) -> list[tuple[str, ...]]:
        """Apply `CAP sub arg`; the replies' parameters after the client's nick, in order.

        `policies` are (name, value) pairs CAP LS 302 lists that no client may request,
        such as IRCv3 `sts`: older clients never see them, since a policy without its
        value says nothing (InspIRCd does the same), and a REQ for one gets NAK.
        An unknown subcommand gets ("410", sub, text) as its only reply.
        """
        sub = sub.upper()
        if sub == "LS":
            if not registered:
                self.negotiating = True
            if arg.isdecimal() and int(arg) >= 302:
                self.version = max(self.version, int(arg))
                self.enabled |= {"cap-notify"}
            values = self.version >= 302
            listed = [f"{c}={VALUES[c]}" if c in VALUES and values else c for c in available]
            listed += [f"{name}={value}" for name, value in policies if values]
            return [("CAP", "LS", " ".join(listed))]
        if sub == "LIST":
            return [("CAP", "LIST", " ".join(sorted(self.enabled)))]
        if sub == "REQ":
            if not registered:
                self.negotiating = True
            wanted = arg.split()
            names = [w.removeprefix("-") for w in wanted]
            if not wanted or not all(n in available for n in names):
                return [("CAP", "NAK", arg)]
            off = {w[1:] for w in wanted if w.startswith("-")}
            self.enabled = (self.enabled - off) | {w for w in wanted if not w.startswith("-")}
            return [("CAP", "ACK", arg)]
        if sub == "END":
            self.negotiating = False
            return []
        return [("410", sub, "Invalid CAP command")]


# What a client has before its first CAP: nothing enabled. One instance shared by every
# such client (most idle ones never send CAP); the CAP command gives a client its own
# CapState before changing anything, and nothing else changes one.
NO_CAPS = CapState()
