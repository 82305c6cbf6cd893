"""The IRC door: registration, channels and messages of RFC 1459/2812 over the same hub.

This first part covers what every client needs to chat: CAP LS/END (no capabilities yet),
NICK and USER, the welcome burst, PING/PONG, JOIN, PART, PRIVMSG and NOTICE, TOPIC, NAMES,
QUIT, and 421 for the rest. docs/irc.md lists what is supported.
"""

from __future__ import annotations

import base64
import hmac
import logging
import time
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from tertulia import __version__
from tertulia.core import events as ev
from tertulia.core.errors import (
    BadKey,
    BadMode,
    InviteOnly,
    NickInUse,
    NickInvalid,
    NotInRoom,
    NotMember,
    NotOperator,
    RoomFull,
    TertuliaError,
)
from tertulia.core.names import fold
from tertulia.core.room import Room
from tertulia.protocols.framing import Item, Overlong
from tertulia.protocols.irc import IrcParseError, Message, parse, serialize

if TYPE_CHECKING:
    from tertulia.server.app import Server
    from tertulia.server.connection import Connection

log = logging.getLogger(__name__)

Translate = Callable[[str], str]


# What an empty ban, exception or invite list query gets: its end numeric.
LIST_ENDS = {
    "b": ("368", "End of channel ban list"),
    "e": ("349", "End of channel exception list"),
    "I": ("347", "End of channel invite list"),
}


def _mode_changes(modes: str, args: list[str]) -> list[tuple[bool, str, str]]:
    """`+o-v ana bo` as (adding, mode, argument) triples; arguments taken where IRC takes them."""
    changes: list[tuple[bool, str, str]] = []
    adding = True
    for ch in modes:
        if ch in "+-":
            adding = ch == "+"
            continue
        takes = ch in "ovk" or (ch == "l" and adding) or (ch in "beI" and bool(args))
        changes.append((adding, ch, args.pop(0) if takes and args else ""))
    return changes


def mask(nick: str) -> str:
    # Every user looks the same from IRC, whatever its door: nick!nick@tertulia.
    return f"{nick}!{nick}@tertulia"


# What the door offers in CAP LS. message-tags: client tags are accepted (and not relayed
# yet); multi-prefix and cap-notify cost nothing while there are no modes or cap changes.
CAPABILITIES = (
    "account-notify", "account-tag", "away-notify", "batch", "cap-notify", "draft/chathistory",
    "echo-message", "message-tags", "multi-prefix", "sasl", "server-time",
)  # fmt: skip
# Offered only with a store: there is no history and there are no accounts without one.
HISTORY_CAPABILITIES = frozenset({"draft/chathistory", "sasl", "account-notify", "account-tag"})
# The capabilities that change how events are encoded: one shared encoder per combination.
ENCODING_CAPABILITIES = ("server-time", "away-notify", "account-tag", "account-notify")
NICKSERV = "NickServ!NickServ@tertulia"
MAX_HISTORY = 200  # messages per CHATHISTORY or SEARCH reply
SASL_LIMIT = 2048  # base64 bytes of PLAIN credentials; a nick and a password fit easily


def server_time(ts: float | None = None) -> str:
    moment = time.time() if ts is None else ts
    millis = int(moment * 1000) % 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(moment)) + f".{millis:03d}Z"


class IrcEncoder:
    """Core events as IRC lines. One encoder per variant (with or without server-time), so
    the hub still encodes each event once per variant and shares the bytes."""

    __slots__ = ("_account_notify", "_account_tag", "_away", "_server", "_time", "_tr")

    def __init__(
        self,
        server_name: str,
        translate: Translate,
        server_time: bool = False,
        away_notify: bool = False,
        account_tag: bool = False,
        account_notify: bool = False,
    ) -> None:
        self._server = server_name
        self._tr = translate
        self._time = server_time
        self._away = away_notify
        self._account_tag = account_tag
        self._account_notify = account_notify

    def encode(self, event: ev.Event) -> bytes | None:
        line = self._line(event)
        if line is None:
            return None
        tags = []
        if self._time:
            tags.append(b"time=" + server_time(getattr(event, "ts", None)).encode())
        account = getattr(event, "account", "") if self._account_tag else ""
        if account and not isinstance(event, ev.AccountChanged):
            tags.append(b"account=" + account.encode())  # a nick: nothing to escape
        return b"@" + b";".join(tags) + b" " + line if tags else line

    def _line(self, event: ev.Event) -> bytes | None:
        match event:
            case ev.RoomMessage(sender=nick, room=room, text=text, kind=kind):
                return _say(nick, room, text, kind)
            case ev.PrivateMessage(sender=nick, target=target, text=text, kind=kind):
                return _say(nick, target, text, kind)
            case ev.Joined(room=room, nick=nick):
                return serialize(Message("JOIN", (room,), mask(nick)))
            case ev.Parted(room=room, nick=nick, reason=reason):
                params = (room, reason) if reason else (room,)
                return serialize(Message("PART", params, mask(nick)))
            case ev.Quit(nick=nick, reason=reason):
                return serialize(Message("QUIT", (reason or "Quit",), mask(nick)))
            case ev.NickChanged(old=old, new=new):
                return serialize(Message("NICK", (new,), mask(old)))
            case ev.TopicChanged(room=room, nick=nick, topic=topic):
                return serialize(Message("TOPIC", (room, topic), mask(nick)))
            case ev.Kicked(room=room, nick=nick, by=by, reason=reason):
                return serialize(Message("KICK", (room, nick, reason or by), mask(by)))
            case ev.ModeChanged(room=room, by=by, modes=modes, args=args):
                return serialize(Message("MODE", (room, modes, *args), mask(by)))
            case ev.Invited(room=room, nick=nick, by=by):
                return serialize(Message("INVITE", (nick, room), mask(by)))
            case ev.AccountChanged(nick=nick, account=account) if self._account_notify:
                return serialize(Message("ACCOUNT", (account or "*",), mask(nick)))
            case ev.AwayChanged(nick=nick, message=message) if self._away:
                return serialize(Message("AWAY", (message,) if message else (), mask(nick)))
            case ev.ServerNotice():
                text = event.render(self._tr)
                return serialize(Message("NOTICE", ("*", text), self._server))
        return None


def _say(nick: str, target: str, text: str, kind: ev.Kind) -> bytes:
    return serialize(say_message(nick, target, text, kind))


def say_message(
    nick: str, target: str, text: str, kind: ev.Kind, tags: dict[str, str] | None = None
) -> Message:
    if kind is ev.Kind.ACTION:
        return Message("PRIVMSG", (target, f"\x01ACTION {text}\x01"), mask(nick), tags or {})
    command = "NOTICE" if kind is ev.Kind.NOTICE else "PRIVMSG"
    return Message(command, (target, text), mask(nick), tags or {})


class IrcHandler:
    """One IRC client: CAP and registration first, then commands applied to the hub."""

    __slots__ = (
        "authenticating", "batches", "capping", "caps", "conn", "gone", "heard", "hub", "password",
        "pinged", "sasl",
        "server", "session", "timer", "tr", "user", "wanted",
    )  # fmt: skip

    def __init__(self, server: Server, conn: Connection) -> None:
        self.server = server
        self.conn = conn
        self.hub = server.hub
        self.tr = server.translate
        self.session = self.hub.connect(conn, server.irc_encoder, "irc", conn.peer)
        self.wanted: str | None = None  # the NICK asked for before registration
        self.authenticating = False  # PASS account:password being checked
        self.sasl: list[str] | None = None  # AUTHENTICATE chunks of a PLAIN exchange
        self.user: str | None = None
        self.capping = False
        self.batches = 0  # batch references used so far
        self.caps: set[str] = set()
        self.password = ""
        self.gone = False
        # Idle clients are pinged; one that stays silent for another interval is dropped.
        self.heard = True
        self.pinged = False
        self.timer = server.loop.call_later(server.settings.ping_interval, self._check_alive)
        server.start_nick_timer(conn)

    @property
    def nick(self) -> str | None:
        # Once registered, the hub's nick: it may change under us (a squatter renamed).
        return self.session.nick or self.wanted

    @nick.setter
    def nick(self, value: str | None) -> None:
        self.wanted = value

    def _check_alive(self) -> None:
        if self.gone:
            return
        if self.heard:
            self.heard, self.pinged = False, False
        elif not self.pinged:
            self.pinged = True
            self.send(Message("PING", (self.server.name,)))
        else:
            log.info("closed: ping timeout", extra={"peer": self.conn.peer, "nick": self.nick})
            self.send(Message("ERROR", ("Closing link: ping timeout",)))
            self._leave("ping timeout")
            return
        self.timer = self.server.loop.call_later(
            self.server.settings.ping_interval, self._check_alive
        )

    def _leave(self, reason: str) -> None:
        if not self.gone:
            self.gone = True
            self.timer.cancel()
            self.hub.disconnect(self.session, reason)
        self.conn.close()

    # -- Handler --------------------------------------------------------------------------

    def on_line(self, item: Item) -> None:
        self.heard = True
        if isinstance(item, Overlong):
            self.numeric("417", "Input line was too long")
            return
        try:
            msg = parse(item)
        except IrcParseError as err:
            if err.reason == "line too long":
                self.numeric("417", "Input line was too long")
            elif item.strip():
                log.debug("bad irc line", extra={"peer": self.conn.peer, "reason": err.reason})
            return
        handler = getattr(self, "on_" + msg.command.lower(), None)
        registered = self.session.nick is not None
        if handler is None:
            if registered:
                self.numeric("421", msg.command, "Unknown command")
            return
        if not registered and msg.command not in (
            "CAP",
            "NICK",
            "USER",
            "PASS",
            "PING",
            "QUIT",
            "AUTHENTICATE",
        ):
            self.numeric("451", "You have not registered")
            return
        try:
            handler(msg)
        except TertuliaError as err:
            self.error(err)

    def on_close(self, reason: str) -> None:
        self.timer.cancel()
        if not self.gone:
            self.gone = True
            self.hub.disconnect(self.session, reason)

    # -- replies --------------------------------------------------------------------------

    def send(self, msg: Message) -> None:
        if "server-time" in self.caps and "time" not in msg.tags:
            msg = Message(msg.command, msg.params, msg.source, {**msg.tags, "time": server_time()})
        self.conn.deliver(serialize(msg))

    def numeric(self, code: str, *params: str) -> None:
        if code[0] == "4":
            self.server.stats.errors["irc_" + code] += 1
        self.send(Message(code, (self.session.nick or "*", *params), self.server.name))

    def error(self, err: TertuliaError) -> None:
        self.server.stats.errors[err.code] += 1
        self.send(Message("NOTICE", (self.nick or "*", err.render(self.tr)), self.server.name))

    # -- registration ---------------------------------------------------------------------

    def on_cap(self, msg: Message) -> None:
        sub = msg.param(0).upper()
        who = self.session.nick or "*"
        if sub == "LS":
            if self.session.nick is None:
                self.capping = True
            values = msg.param(1) >= "302"
            offered = " ".join(self._offered(values))
            self.send(Message("CAP", (who, "LS", offered), self.server.name))
        elif sub == "LIST":
            self.send(Message("CAP", (who, "LIST", " ".join(sorted(self.caps))), self.server.name))
        elif sub == "REQ":
            if self.session.nick is None:
                self.capping = True
            wanted = msg.param(1).split()
            names = [w.removeprefix("-") for w in wanted]
            if not all(n in self._offered() for n in names):
                self.send(Message("CAP", (who, "NAK", msg.param(1)), self.server.name))
                return
            for w in wanted:
                if w.startswith("-"):
                    self.caps.discard(w[1:])
                else:
                    self.caps.add(w)
            self.session.encoder = self.server.irc_encoder_for(self.caps)
            self.send(Message("CAP", (who, "ACK", msg.param(1)), self.server.name))
        elif sub == "END":
            self.capping = False
            self._maybe_welcome()

    def _offered(self, values: bool = False) -> tuple[str, ...]:
        stored = self.server.history.store is not None
        caps = tuple(c for c in CAPABILITIES if stored or c not in HISTORY_CAPABILITIES)
        if values:  # CAP LS 302 may say which SASL mechanisms there are
            return tuple("sasl=PLAIN" if c == "sasl" else c for c in caps)
        return caps

    def on_pass(self, msg: Message) -> None:
        if self.session.nick is not None:
            self.numeric("462", "You may not reregister")
            return
        self.password = msg.param(0)

    def on_nick(self, msg: Message) -> None:
        nick = msg.param(0)
        if not nick:
            self.numeric("431", "No nickname given")
            return
        if self.session.nick is not None:
            try:
                if self.hub.change_nick(self.session, nick) is not None:
                    self.send(Message("NICK", (nick,), mask(self.nick or nick)))
                    self.nick = nick
            except NickInUse:
                self.numeric("433", nick, "Nickname is already in use")
            except NickInvalid as err:
                self.numeric("432", nick, err.render(self.tr))
            return
        self.nick = nick
        self._maybe_welcome()

    def on_user(self, msg: Message) -> None:
        if self.session.nick is not None:
            self.numeric("462", "You may not reregister")
            return
        if len(msg.params) < 4:
            self.numeric("461", "USER", "Not enough parameters")
            return
        self.user = msg.param(0)
        self._maybe_welcome()

    def _maybe_welcome(self) -> None:
        if self.capping or self.authenticating:
            return
        if self.nick is None or self.user is None or self.session.nick:
            return
        wanted = self.server.settings.password
        if wanted and not hmac.compare_digest(self.password.encode(), wanted.encode()):
            log.info("refused: wrong server password", extra={"peer": self.conn.peer})
            self.numeric("464", "Password incorrect")
            self.send(Message("ERROR", ("Closing link: bad password",)))
            self._leave("bad password")
            return
        if not wanted and ":" in self.password and not self.session.account:
            # PASS account:password, for clients without SASL: checked before the welcome.
            self._pass_login()
            return
        account = self.session.account
        holder = self.hub.sessions.get(fold(self.nick))
        if account and fold(account) == fold(self.nick) and holder is not None:
            # The owner, logged in with SASL or PASS: whoever holds its nick gives it up.
            self.server.accounts.rename(holder)
        try:
            self.hub.register(self.session, self.nick)
        except NickInUse:
            self.numeric("433", self.nick, "Nickname is already in use")
            self.nick = None
            return
        except NickInvalid as err:
            self.numeric("432", self.nick, err.render(self.tr))
            self.nick = None
            return
        self.server.stop_nick_timer(self.conn)
        log.info("registered", extra={"nick": self.nick, "door": "irc"})
        s = self.server.settings
        name = self.server.name
        self.numeric("001", f"Welcome to the {name} IRC door, {mask(self.nick)}")
        self.numeric("002", f"Your host is {name}, running tertulia {__version__}")
        self.numeric("003", "This server has been started recently")
        self.numeric("004", name, f"tertulia-{__version__}", "i", "nt")
        self.numeric(
            "005", "CASEMAPPING=ascii", "CHANTYPES=#", f"NICKLEN={s.nick_length}",
            f"CHANNELLEN={s.room_length}", f"TOPICLEN={s.topic_length}", "PREFIX=(ov)@+",
            "CHANMODES=beI,k,l,imnt", f"NETWORK={name}",
            *((f"CHATHISTORY={MAX_HISTORY}", "MSGREFTYPES=msgid")
              if self.server.history.store is not None else ()),
            "are supported by this server",
        )  # fmt: skip
        self._lusers()
        self.numeric("422", "MOTD File is missing")

    def _lusers(self) -> None:
        users = len(self.hub.sessions)
        self.numeric("251", f"There are {users} users and 0 invisible on 1 servers")
        self.numeric("254", str(len(self.hub.rooms)), "channels formed")
        self.numeric("255", f"I have {users} clients and 0 servers")

    def on_lusers(self, msg: Message) -> None:
        self._lusers()

    # -- connection -----------------------------------------------------------------------

    def on_ping(self, msg: Message) -> None:
        self.send(Message("PONG", (self.server.name, msg.param(0)), self.server.name))

    def on_pong(self, msg: Message) -> None:
        pass

    def on_quit(self, msg: Message) -> None:
        reason = msg.param(0)
        self.send(Message("ERROR", (f"Closing link: {reason or 'Quit'}",)))
        self._leave(reason)

    # -- channels -------------------------------------------------------------------------

    def on_join(self, msg: Message) -> None:
        if not msg.params:
            self.numeric("461", "JOIN", "Not enough parameters")
            return
        if msg.param(0) == "0":
            for room in list(self.session.rooms.values()):
                self.hub.part(self.session, room.name)
                self.send(Message("PART", (room.name,), mask(self.nick or "")))
            return
        keys = msg.param(1).split(",") if len(msg.params) > 1 else []
        for i, name in enumerate(msg.param(0).split(",")):
            if not name.startswith("#"):
                self.numeric("403", name, "No such channel")
                continue
            try:
                room = self.hub.join(self.session, name, keys[i] if i < len(keys) else "")
            except InviteOnly:
                self.numeric("473", name, "Cannot join channel (+i)")
                continue
            except BadKey:
                self.numeric("475", name, "Cannot join channel (+k)")
                continue
            except RoomFull:
                self.numeric("471", name, "Cannot join channel (+l)")
                continue
            except TertuliaError as err:
                self.numeric("479", name, err.render(self.tr))
                continue
            self.send(Message("JOIN", (room.name,), mask(self.nick or "")))
            if room.topic:
                self.numeric("332", room.name, room.topic)
            self._names(room)
            # Clients that can tell history from live messages (a batch, with the time of
            # each) get the room's last messages; those with chathistory ask for them.
            if {"batch", "server-time"} <= self.caps and "draft/chathistory" not in self.caps:
                replay = self.hub.replay(room)
                if replay:
                    self._batch("chathistory", room.name, replay)

    def on_part(self, msg: Message) -> None:
        reason = msg.param(1)
        for name in msg.param(0).split(","):
            try:
                self.hub.part(self.session, name, reason)
            except TertuliaError:
                self.numeric("442", name, "You're not on that channel")
                continue
            params = (name, reason) if reason else (name,)
            self.send(Message("PART", params, mask(self.nick or "")))

    def on_names(self, msg: Message) -> None:
        for name in msg.param(0).split(","):
            try:
                self._names(self.hub.room(name))
            except TertuliaError:
                self.numeric("366", name, "End of /NAMES list")

    def _names(self, room: Room) -> None:
        nicks = [self._prefix(room, fold(n)) + n for n in room.nicks()]
        line: list[str] = []
        for nick in nicks:
            line.append(nick)
            if len(line) == 40:
                self.numeric("353", "=", room.name, " ".join(line))
                line = []
        if line:
            self.numeric("353", "=", room.name, " ".join(line))
        self.numeric("366", room.name, "End of /NAMES list")

    # -- accounts -------------------------------------------------------------------------

    def _pass_login(self) -> None:
        name, _, password = self.password.partition(":")
        self.password = ""
        self.authenticating = True

        async def check() -> None:
            try:
                account = await self.server.accounts.authenticate(name, password, self.conn.peer)
            except TertuliaError as err:
                self.numeric("464", err.render(self.tr))
                self.send(Message("ERROR", ("Closing link: bad account password",)))
                self._leave("bad account password")
                return
            if self.gone:
                return  # it left while the password was checked
            self.server.accounts.adopt(self.session, account)
            self.authenticating = False
            self._maybe_welcome()

        self.server.spawn(check())

    def on_authenticate(self, msg: Message) -> None:
        arg = msg.param(0)
        if "sasl" not in self.caps:
            self.numeric("904", "SASL authentication failed")
            return
        if arg == "*":
            self.sasl = None
            self.numeric("906", "SASL authentication aborted")
            return
        if self.sasl is None:
            if arg.upper() != "PLAIN":
                self.numeric("908", "PLAIN", "are available SASL mechanisms")
                self.numeric("904", "SASL authentication failed")
                return
            self.sasl = []
            self.send(Message("AUTHENTICATE", ("+",)))
            return
        # The credentials come base64-encoded in chunks of 400; "+" ends an exact multiple.
        if arg != "+":
            self.sasl.append(arg)
        if sum(map(len, self.sasl)) > SASL_LIMIT:
            self.sasl = None
            self.numeric("904", "SASL authentication failed")
            return
        if len(arg) == 400:
            return
        chunks, self.sasl = self.sasl, None
        try:
            _, name, password = base64.b64decode("".join(chunks)).decode().split("\0")
        except ValueError:
            self.numeric("904", "SASL authentication failed")
            return

        async def check() -> None:
            try:
                account = await self.server.accounts.authenticate(name, password, self.conn.peer)
            except TertuliaError:
                self.numeric("904", "SASL authentication failed")
                return
            if not self.gone:
                self._logged_in(account)

        self.server.spawn(check())

    def _logged_in(self, account: str) -> None:
        accounts = self.server.accounts
        accounts.adopt(self.session, account)
        self.numeric("900", mask(self.nick or "*"), account, f"You are now logged in as {account}")
        self.numeric("903", "SASL authentication successful")
        if self.session.nick is not None:  # authenticating again once registered
            accounts.arrived(self.session)
            self.hub.login(self.session, account)

    def _nickserv(self, text: str) -> None:
        """`/msg NickServ IDENTIFY [account] password` and `REGISTER password`, as elsewhere."""
        words = text.split()
        command = words[0].upper() if words else ""
        accounts = self.server.accounts

        def reply(line: str) -> None:
            self.send(Message("NOTICE", (self.nick or "*", line), NICKSERV))

        async def run() -> None:
            try:
                if command == "IDENTIFY" and len(words) in (2, 3):
                    name = words[1] if len(words) == 3 else (self.nick or "")
                    account = await accounts.login(self.session, name, words[-1])
                    self.numeric("900", mask(self.nick or "*"), account,
                                 f"You are now logged in as {account}")  # fmt: skip
                    reply(f"You are now identified for {account}")
                elif command == "REGISTER" and len(words) >= 2:
                    account = await accounts.register(self.session, words[1])
                    reply(f"{account} is registered to you, and you are logged in")
                else:
                    reply("Commands: IDENTIFY [account] password, REGISTER password")
            except TertuliaError as err:
                reply(err.render(self.tr))

        self.server.spawn(run())

    # -- history --------------------------------------------------------------------------

    def on_chathistory(self, msg: Message) -> None:
        sub, target, ref, count = (msg.param(i) for i in range(4))
        sub = sub.upper()
        if sub not in ("LATEST", "BEFORE"):
            self._fail("CHATHISTORY", "INVALID_PARAMS", sub, "Only LATEST and BEFORE are supported")
            return
        if not count:
            self._fail("CHATHISTORY", "NEED_MORE_PARAMS", sub, "Missing parameters")
            return
        try:
            limit = int(count)
            after = before = None
            if ref.startswith("msgid="):
                if sub == "LATEST":
                    after = int(ref[6:])
                else:
                    before = int(ref[6:])
            elif not (ref == "*" and sub == "LATEST"):
                raise ValueError(ref)
        except ValueError:
            self._fail("CHATHISTORY", "INVALID_PARAMS", sub, "References are * or msgid=N")
            return
        room = self._readable_room("CHATHISTORY", sub, target)
        if room is None:
            return
        limit = max(1, min(limit, MAX_HISTORY))

        async def answer() -> None:
            messages = await self.server.history.before(room, before, limit)
            if after is not None:
                messages = [m for m in messages if m.id > after]
            self._batch("chathistory", room.name, messages)

        self._stored(answer())

    def on_search(self, msg: Message) -> None:
        """SEARCH #room :words — tertulia's own: results in a batch, or as NOTICE lines."""
        target, words = msg.param(0), msg.param(1)
        if not words.strip():
            self.numeric("461", "SEARCH", "Not enough parameters")
            return
        room = self._readable_room("SEARCH", "SEARCH", target)
        if room is None:
            return

        async def answer() -> None:
            found = await self.server.history.search(room, words, None, MAX_HISTORY // 4)
            if "batch" in self.caps:
                self._batch("tertulia/search", room.name, found)
                return
            me = self.nick or "*"
            for m in found:
                stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime(m.ts))
                line = f"[{stamp}] <{m.sender}> {m.text}"
                self.send(Message("NOTICE", (me, line), self.server.name))
            end = f"End of search in {room.name}: {len(found)} found"
            self.send(Message("NOTICE", (me, end), self.server.name))

        self._stored(answer())

    def _readable_room(self, command: str, sub: str, target: str) -> Room | None:
        """A channel this client is in (history is for members only), or a FAIL sent."""
        if self.server.history.store is None:
            self._fail(command, "MESSAGE_ERROR", sub, "This server keeps no history")
            return None
        room = self.session.rooms.get(fold(target))
        if room is None or self.session.key not in room.members:
            self._fail(command, "INVALID_TARGET", sub, target, "You are not on that channel")
            return None
        return room

    def _stored(self, answer: Coroutine[Any, Any, None]) -> None:
        self.server.spawn_for(self.conn, answer, self.error)

    def _batch(self, kind: str, target: str, messages: list[ev.RoomMessage]) -> None:
        self.batches += 1
        ref = f"h{self.batches}"
        self.send(Message("BATCH", ("+" + ref, kind, target), self.server.name))
        tagged = "message-tags" in self.caps
        for m in messages:
            tags = {"batch": ref, "time": server_time(m.ts)}
            if tagged:
                tags["msgid"] = str(m.id)
            self.send(say_message(m.sender, m.room, m.text, m.kind, tags))
        self.send(Message("BATCH", ("-" + ref,), self.server.name))

    def _fail(self, command: str, code: str, *context: str) -> None:
        self.server.stats.errors["irc_fail_" + code.lower()] += 1
        self.send(Message("FAIL", (command, code, *context), self.server.name))

    def on_kick(self, msg: Message) -> None:
        if len(msg.params) < 2:
            self.numeric("461", "KICK", "Not enough parameters")
            return
        room, reason = msg.param(0), msg.param(2)
        for nick in msg.param(1).split(","):
            try:
                self.hub.kick(self.session, room, nick, reason)
            except NotOperator:
                self.numeric("482", room, "You're not channel operator")
                return
            except NotMember:
                self.numeric("441", nick, room, "They aren't on that channel")
            except NotInRoom:
                self.numeric("442", room, "You're not on that channel")
                return

    def _prefix(self, room: Room, key: str) -> str:
        marks = ("@" if key in room.operators else "") + ("+" if key in room.voiced else "")
        return marks if "multi-prefix" in self.caps else marks[:1]

    def on_topic(self, msg: Message) -> None:
        name = msg.param(0)
        if len(msg.params) < 2:
            room = self.hub.room(name)
            if room.topic:
                self.numeric("332", room.name, room.topic)
            else:
                self.numeric("331", room.name, "No topic is set")
            return
        try:
            event = self.hub.topic(self.session, name, msg.param(1))
        except NotOperator:
            self.numeric("482", name, "You're not channel operator")
            return
        self.send(Message("TOPIC", (event.room, event.topic), mask(self.nick or "")))

    def on_mode(self, msg: Message) -> None:
        target = msg.param(0)
        if not target.startswith("#"):
            if target.casefold() != (self.session.nick or "").casefold():
                self.numeric("502", "Cant change mode for other users")
            elif len(msg.params) == 1:
                self.numeric("221", "+")
            elif set(msg.param(1)) <= set("+-iw"):
                pass  # invisible and wallops mean nothing here; accepted quietly
            else:
                self.numeric("501", "Unknown MODE flag")
            return
        try:
            room = self.hub.room(target)
        except TertuliaError:
            self.numeric("403", target, "No such channel")
            return
        if len(msg.params) == 1:
            self.numeric("324", room.name, *room.mode_string())
            return
        changes = _mode_changes(msg.param(1), list(msg.params[2:]))
        lists = [c for c in changes if c[1] in LIST_ENDS]
        for _, mode, _ in lists:
            # No ban, exception or invite lists yet: every query gets an empty one.
            self.numeric(LIST_ENDS[mode][0], room.name, LIST_ENDS[mode][1])
        changes = [c for c in changes if c[1] not in LIST_ENDS]
        if not changes:
            return
        try:
            self.hub.set_modes(self.session, room.name, changes)
        except NotOperator:
            self.numeric("482", room.name, "You're not channel operator")
        except NotInRoom:
            self.numeric("442", room.name, "You're not on that channel")
        except NotMember as err:
            nick = str(err.args_map.get("nick", "*"))
            self.numeric("441", nick, room.name, "They aren't on that channel")
        except BadMode as err:
            self.numeric("472", str(err.args_map.get("mode", "?")), "is unknown mode char to me")

    def on_away(self, msg: Message) -> None:
        self.hub.set_away(self.session, msg.param(0))
        if self.session.away:
            self.numeric("306", "You have been marked as being away")
        else:
            self.numeric("305", "You are no longer marked as being away")

    def on_invite(self, msg: Message) -> None:
        if len(msg.params) < 2:
            self.numeric("461", "INVITE", "Not enough parameters")
            return
        nick, room = msg.param(0), msg.param(1)
        try:
            event = self.hub.invite(self.session, room, nick)
        except NotOperator:
            self.numeric("482", room, "You're not channel operator")
            return
        except NotInRoom:
            self.numeric("442", room, "You're not on that channel")
            return
        except TertuliaError:
            self.numeric("401", nick, "No such nick/channel")
            return
        self.numeric("341", event.nick, event.room)

    # -- who is there ---------------------------------------------------------------------

    def on_who(self, msg: Message) -> None:
        name = msg.param(0, "*")
        try:
            if name.startswith("#"):
                room = self.hub.room(name)
                people = [(room.name, s) for s in room.members.values()]
            else:
                people = [("*", self.hub.session(name))]
        except TertuliaError:
            people = []
        for channel, session in people:
            nick = session.nick or ""
            marks = self._prefix(room, session.key or "") if channel != "*" else ""
            flag = ("G" if session.away else "H") + marks
            self.numeric("352", channel, nick, "tertulia", self.server.name, nick, flag,
                         f"0 {nick} ({session.door})")  # fmt: skip
        self.numeric("315", name, "End of /WHO list")

    def on_whois(self, msg: Message) -> None:
        name = msg.param(len(msg.params) - 1) if msg.params else ""
        try:
            session = self.hub.session(name)
        except TertuliaError:
            self.numeric("401", name, "No such nick/channel")
            self.numeric("318", name, "End of /WHOIS list")
            return
        nick = session.nick or name
        self.numeric("311", nick, nick, "tertulia", "*", f"{nick} ({session.door})")
        rooms = [r.name for r in session.rooms.values() if session.key in r.members]
        if rooms:
            self.numeric("319", nick, " ".join(rooms))
        self.numeric("312", nick, self.server.name, f"tertulia {__version__}")
        if session.away:
            self.numeric("301", nick, session.away)
        self.numeric("318", nick, "End of /WHOIS list")

    def on_list(self, msg: Message) -> None:
        for info in self.hub.room_list():
            self.numeric("322", info.name, str(info.members), info.topic)
        self.numeric("323", "End of /LIST")

    def on_ison(self, msg: Message) -> None:
        online = []
        for word in " ".join(msg.params).split():
            try:
                online.append(self.hub.session(word).nick or word)
            except TertuliaError:
                continue
        self.numeric("303", " ".join(online))

    def on_userhost(self, msg: Message) -> None:
        found = []
        for word in msg.params[:5]:
            try:
                nick = self.hub.session(word).nick or word
            except TertuliaError:
                continue
            found.append(f"{nick}=+{nick}@tertulia")
        self.numeric("302", " ".join(found))

    def on_motd(self, msg: Message) -> None:
        self.numeric("422", "MOTD File is missing")

    def on_version(self, msg: Message) -> None:
        self.numeric("351", f"tertulia-{__version__}", self.server.name, "the tertulia chat server")

    def on_time(self, msg: Message) -> None:
        now = time.strftime("%Y-%m-%d %H:%M:%S %Z")
        self.numeric("391", self.server.name, now)

    # -- messages -------------------------------------------------------------------------

    def on_privmsg(self, msg: Message) -> None:
        self._message(msg, ev.Kind.MESSAGE)

    def on_notice(self, msg: Message) -> None:
        self._message(msg, ev.Kind.NOTICE)

    def _message(self, msg: Message, kind: ev.Kind) -> None:
        if len(msg.params) < 2 or not msg.param(1):
            if kind is ev.Kind.MESSAGE:
                self.numeric("412", "No text to send")
            return
        text = msg.param(1)
        if kind is ev.Kind.MESSAGE and text.startswith("\x01ACTION ") and text.endswith("\x01"):
            kind, text = ev.Kind.ACTION, text[8:-1]
        for target in msg.param(0).split(","):
            if fold(target) == "nickserv" and kind is ev.Kind.MESSAGE:
                self._nickserv(text)
                continue
            try:
                if target.startswith("#"):
                    event: ev.Event = self.hub.say(self.session, target, text, kind)
                else:
                    event = self.hub.tell(self.session, target, text, kind)
                    recipient = self.hub.sessions.get(fold(target))
                    away = recipient.away if recipient is not None else ""
                    if away and kind is not ev.Kind.NOTICE:
                        self.numeric("301", event.target, away)
                if "echo-message" in self.caps:
                    echo = self.session.encoder.encode(event)
                    if echo is not None:
                        self.conn.deliver(echo)
            except TertuliaError as err:
                if kind is not ev.Kind.NOTICE:  # NOTICE never gets an automatic reply
                    code = "401" if not target.startswith("#") else "404"
                    self.numeric(code, target, err.render(self.tr))
