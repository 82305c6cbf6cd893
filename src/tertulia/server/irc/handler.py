"""One IRC client: parse each line, check it against the command table, run its handler.

The handler holds what every command family needs: the session, the registration machine,
the negotiated capabilities, replies (numerics, FAIL, errors through one table), the
liveness pings, and the rule that a client's replies never overtake its own message.
"""

from __future__ import annotations

import logging
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from tertulia.core.errors import TertuliaError
from tertulia.core.session import Door
from tertulia.protocols.framing import Item, Overlong
from tertulia.protocols.irc import IrcParseError, Message, escape_tag, fitted, parse, serialize
from tertulia.protocols.irc.caps import NO_CAPS
from tertulia.protocols.irc.numerics import reply_for
from tertulia.protocols.irc.registration import Registration
from tertulia.protocols.irc.render import mask, server_time
from tertulia.server.door import SessionHandler
from tertulia.server.irc import cmd_monitor
from tertulia.server.irc.commands import COMMANDS
from tertulia.server.liveness import Pinged

if TYPE_CHECKING:
    from tertulia.server.connection import Connection
    from tertulia.server.context import DoorContext, Frame

log = logging.getLogger(__name__)


class IrcHandler(SessionHandler, Pinged):
    """One IRC client: CAP and registration first, then commands applied to the hub."""

    __slots__ = (
        "batches", "caps", "frame", "heard", "label", "labeled", "markers", "pinged",
        "reg", "sasl", "subscriptions", "watching",
    )  # fmt: skip

    def __init__(self, server: DoorContext, conn: Connection, frame: Frame | None = None) -> None:
        # Over WebSocket each line goes out as a frame of its own (text or binary).
        self.frame = frame
        encoder = server.irc_encoder if frame is None else server.irc_encoder_for((), frame)
        super().__init__(server, conn, server.hub.connect(conn, encoder, Door.IRC, conn.peer))
        self.reg = Registration()
        self.caps = NO_CAPS  # shared until the client's first CAP (most never send one)
        self.sasl: list[str] | None = None  # AUTHENTICATE chunks of a PLAIN exchange
        self.batches = 0  # batch references used so far
        self.labeled: list[bytes] | None = None  # replies gathered for a labeled command
        # MONITOR: folded nick -> nick as asked; made on the first MONITOR (idle clients
        # are many, and an empty dict is not free).
        self.watching: dict[str, str] | None = None
        self.subscriptions: set[str] | None = None  # METADATA keys this client follows
        self.markers: dict[str, str] | None = None  # MARKREAD of a guest: target -> time
        self.label: str | None = None  # the label of the command being answered
        # One sweep per server pings every quiet client: no timer of its own.
        server.liveness.watch(self, server.loop)
        server.start_nick_timer(conn)

    @property
    def nick(self) -> str:
        # Once registered, the hub's nick: it may change under us (a squatter renamed).
        return self.session.nick or self.reg.nick or "*"

    @property
    def secure(self) -> bool:
        """Whether this client came in over TLS."""
        transport = self.conn.transport
        return transport is not None and transport.get_extra_info("ssl_object") is not None

    @property
    def me(self) -> str:
        """This client's own mask, as others see it."""
        return mask(self.nick, self.session.user)

    # -- the connection's Handler ---------------------------------------------------------

    def on_line(self, item: Item) -> None:
        self.heard = True  # a sign of life (Pinged)
        if not self.held(item):  # behind a slow command, a command waits its turn
            self.line(item)

    def user_modes_changed(self, change: str) -> None:
        """The server changed this client's user modes (a reload took its +o away)."""
        self.send(Message("MODE", (self.nick, change), self.server.name))

    def overflowed(self) -> None:
        log.info("closed: too many commands waiting", extra={"peer": self.conn.peer})
        self.send(Message("ERROR", ("Closing link: too many commands at once",)))
        self.leave("too many commands waiting")

    def line(self, item: Item) -> None:
        if isinstance(item, Overlong):
            self.numeric("417", "Input line was too long")
            return
        try:
            msg = parse(item)
        except IrcParseError as err:
            self._bad_line(item, err)
            return
        label = (
            msg.tags.get("label") if msg.tags and "labeled-response" in self.caps.enabled else None
        )
        if label is None:
            self._run(msg)
            return
        # labeled-response: what the command answers is gathered and sent with the label
        # (one line tagged, several in a batch, none as ACK), once it is all there.
        self.labeled, self.label = [], label
        try:
            self._run(msg)
        finally:
            if not self.busy:
                self._end_label()

    def _end_label(self) -> None:
        lines, label = self.labeled or [], self.label or ""
        self.labeled = self.label = None
        self._send_labeled(escape_tag(label), lines)

    def _run(self, msg: Message) -> None:
        command = COMMANDS.get(msg.command)
        registered = self.reg.registered
        if command is None:
            if registered:
                self.numeric("421", msg.command, "Unknown command")
            return
        if not registered and not command.before_registration:
            self.numeric("451", "You have not registered")
            return
        if len(msg.params) < command.min_params:
            self.numeric("461", msg.command, "Not enough parameters")
            return
        try:
            command.handler(self, msg)
        except TertuliaError as err:
            self.error(err)

    def _bad_line(self, item: bytes, err: IrcParseError) -> None:
        if err.reason in ("line too long", "tags too long"):
            self.numeric("417", "Input line was too long")
        elif err.reason == "invalid UTF-8":
            # UTF8ONLY: the line is refused whole, and the client is told why.
            command = err.command or "*"
            self.fail(command, "INVALID_UTF8", "Message rejected, your IRC software MUST use UTF-8")
        elif item.strip():
            log.debug("bad irc line", extra={"peer": self.conn.peer, "reason": err.reason})

    def on_close(self, reason: str) -> None:
        self.server.liveness.forget(self)
        if self.watching:
            cmd_monitor.forget(self)
        super().on_close(reason)

    def farewell(self, err: TertuliaError) -> bytes:
        line = serialize(Message("ERROR", (f"Closing link: {err.render(self.tr)}",)))
        return line if self.frame is None else self.frame(line)

    # -- liveness (Pinged) ---------------------------------------------------------------

    def finished(self) -> bool:
        return self.gone

    def send_ping(self) -> None:
        self.send(Message("PING", (self.server.name,)))

    def ping_timeout(self) -> None:
        log.info("closed: ping timeout", extra={"peer": self.conn.peer, "nick": self.nick})
        self.send(Message("ERROR", ("Closing link: ping timeout",)))
        self.leave("ping timeout")

    def leave(self, reason: str) -> None:
        self.server.liveness.forget(self)
        if self.watching:
            cmd_monitor.forget(self)
        self.hub.disconnect(self.session, reason)
        self.conn.close()

    # -- replies --------------------------------------------------------------------------

    def _send_labeled(self, label: str, lines: list[bytes]) -> None:
        tag = b"label=" + label.encode()
        if not lines:
            self.deliver(b"@" + tag + b" :" + self.server.name.encode() + b" ACK\r\n")
        elif len(lines) == 1:
            self.deliver(_tagged(lines[0], tag))
        else:
            self.batches += 1
            ref = f"L{self.batches}".encode()
            start = serialize(Message("BATCH", ("+" + ref.decode(), "labeled-response")))
            name = self.server.name.encode()
            self.deliver(b"@" + tag + b" :" + name + b" " + start)
            for line in lines:
                self.deliver(_tagged(line, b"batch=" + ref))
            self.deliver(b":" + name + b" BATCH -" + ref + b"\r\n")

    def slow(self, work: Coroutine[Any, Any, None]) -> None:
        """Run slow work for the command at hand (a store read, a password hash) off the
        loop. Until it is done this client's later lines wait, so that every answer keeps
        the order of the commands (one that synchronises with PING gets its history first)
        and a labeled command's answer carries its label."""
        # Its numeric inside its label's answer, and before the lines that waited.
        self.in_turn(work, self.error, self._label_done)

    def _label_done(self) -> None:
        if self.labeled is not None:
            self._end_label()

    def deliver(self, data: bytes) -> None:
        """Queue bytes for this client, behind any message of its own not yet stored: a
        reply (a PONG, an echo) must never reach the client before its earlier message
        reached the others."""
        if self.labeled is not None:
            self.labeled.append(data)
            return
        self._deliver(data)

    def _deliver(self, data: bytes) -> None:
        if self.frame is not None:
            data = self.frame(data)
        gate = self.hub.gate
        if gate is not None and gate.waiting:
            gate.later(lambda: self.conn.deliver(data))
        else:
            self.conn.deliver(data)

    def send(self, msg: Message) -> None:
        if "server-time" in self.caps.enabled and "time" not in msg.tags:
            now = server_time(self.hub.clock())
            msg = Message(msg.command, msg.params, msg.source, {**msg.tags, "time": now})
        try:
            data = serialize(msg)
        except ValueError:
            # A reply quoting what a client sent (a key, a target) may hold a space or be
            # empty where IRC allows neither: such a parameter is shown as "*", so the
            # client still gets its answer. Anything else is logged and dropped.
            repaired = _sendable(msg)
            if repaired is None:
                log.error(
                    "unsendable irc reply", extra={"peer": self.conn.peer, "cmd": msg.command}
                )
                return
            data = repaired
        self.deliver(data)

    def numeric(self, code: str, *params: str) -> None:
        if code[0] == "4":
            self.server.stats.errors["irc_" + code] += 1
        # A numeric quotes what the client sent: cut to fit the line, however long it was.
        self.send(fitted(Message(code, (self.session.nick or "*", *params), self.server.name)))

    def reply(self, command: str, *params: str) -> None:
        """A line from the server in the client's own name (CAP, PONG)."""
        self.send(Message(command, params, self.server.name))

    def fail(self, command: str, code: str, *context: str) -> None:
        """An IRCv3 standard reply: FAIL <command> <code> [context...] :text."""
        self.server.stats.errors["irc_fail_" + code.lower()] += 1
        self.send(Message("FAIL", (command, code, *context), self.server.name))

    def error(self, err: TertuliaError, target: str = "*") -> None:
        """A core refusal as its numeric when IRC has one, else a NOTICE with the text."""
        found = reply_for(err, target)
        if found is not None:
            self.numeric(found[0], *found[1])
            return
        self.server.stats.errors[err.code] += 1
        self.send(Message("NOTICE", (self.nick, err.render(self.tr)), self.server.name))


def _tagged(line: bytes, tag: bytes) -> bytes:
    """`line` with one more tag in front of any it has."""
    return b"@" + tag + (b";" + line[1:] if line.startswith(b"@") else b" " + line)


def _sendable(msg: Message) -> bytes | None:
    """`msg` with each middle parameter IRC cannot carry replaced by "*"."""
    *middle, last = msg.params or ("",)
    fixed = tuple(
        "*" if not p or " " in p or p.startswith(":") or any(c in p for c in "\r\n\0") else p
        for p in middle
    )
    last = "".join(c for c in last if c not in "\r\n\0")
    try:
        return serialize(Message(msg.command, (*fixed, last), msg.source, msg.tags))
    except ValueError:
        return None
