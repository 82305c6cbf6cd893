"""The plain door: netcat and the original client on port 5000, and the switch to JSON lines."""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from tertulia.core.errors import (
    N_,
    Flooding,
    LineTooLong,
    NoRoom,
    NotRegistered,
    TertuliaError,
    UnknownCommand,
    Usage,
)
from tertulia.core.events import Kind, PrivateMessage, RoomMessage
from tertulia.core.names import fold, normalize_room
from tertulia.core.room import Room
from tertulia.core.session import Door
from tertulia.protocols import plain, slash
from tertulia.protocols.framing import Item, Overlong
from tertulia.protocols.text import decode
from tertulia.server.door import SessionHandler

if TYPE_CHECKING:
    from tertulia.server.connection import Connection
    from tertulia.server.context import DoorContext

log = logging.getLogger(__name__)

WELCOME_NAMES = 30  # nicks a welcome names; past that, some of them and how many more


class PlainHandler(SessionHandler):
    """One plain connection: anonymous listener, then a nick, then chat in one room at a time.

    A plain line carries no room, so a plain user is in one room at a time: /join moves.
    """

    __slots__ = ("heard", "original", "room")

    def __init__(self, server: DoorContext, conn: Connection) -> None:
        session = server.hub.connect(conn, server.plain_encoder, Door.PLAIN, conn.peer)
        super().__init__(server, conn, session)
        self.room: Room | None = None
        self.original = False
        self.heard: str | None = None
        server.start_nick_timer(conn)
        conn.deliver(self._notice(N_("welcome to {server}: type your nick"), server=server.name))
        if server.settings.anonymous_listeners:
            # Until it says who it is, the connection hears #lobby as the original client
            # did. A listener gets the history once, here, not again when its nick makes it
            # a member.
            lobby = self.hub.listen(self.session)
            self._replay(lobby)
            self.heard = lobby.key

    # -- Handler --------------------------------------------------------------------------

    def on_line(self, item: Item) -> None:
        if not self.held(item):  # `/register` then `/claim` pasted at once: in turn
            self.line(item)

    def overflowed(self) -> None:
        # Said to the client too, as flood control says it (its reason to others).
        self.conn.deliver(self.farewell(Flooding()))
        self._bye("too many lines waiting")

    def line(self, item: Item) -> None:
        if isinstance(item, Overlong):
            self._error(LineTooLong(limit=self.server.settings.max_line_bytes))
            return
        if self.session.nick is None and item.startswith(b"{"):
            self.server.switch_to_json(self.conn, self.session, item)
            return
        try:
            text = decode(item)
            if self.session.nick is None:
                self._first_line(text)
            else:
                self._chat_line(text)
        except TertuliaError as err:
            self._error(err)

    def farewell(self, err: TertuliaError) -> bytes:
        return plain.error(err.render(self.tr))

    # -- before the nick ------------------------------------------------------------------

    def _first_line(self, text: str) -> None:
        original = plain.parse_original(text)
        if original is not None:
            nick, said = original
            self._register(nick)
            self.original = True
            if said:
                self._chat_line(said)
            return
        parsed = plain.parse_line(text)
        match parsed:
            case None:
                return
            case plain.Logout():
                self._bye("")
            case plain.Command(name="nick", arg=arg):
                self._register(arg)
            case plain.Command(name="login", arg=arg):
                self.cmd_login(arg)
            case plain.Command(name="help"):
                self._help()
            case plain.Command():
                raise NotRegistered()
            case plain.Say(text=said):
                self._register(said.strip())

    def _register(self, nick: str) -> None:
        self.hub.register(self.session, nick)
        self._registered(nick)

    def _registered(self, nick: str) -> None:
        self.server.stop_nick_timer(self.conn)
        log.info("registered", extra={"peer": self.conn.peer, "nick": nick, "door": Door.PLAIN})
        for line in self.server.motd:  # the operator's words, as written: nothing to translate
            self.conn.deliver(plain.notice(line))
        self._enter(self.server.settings.default_room)

    # -- chatting -------------------------------------------------------------------------

    def _chat_line(self, text: str) -> None:
        if self.original:
            # The original client prefixes every write with "[nick] ": strip our own.
            split = plain.parse_original(text)
            if split is not None and fold(split[0]) == self.session.key:
                text = split[1]
        parsed = plain.parse_line(text)
        match parsed:
            case None:
                return
            case plain.Say(text=said):
                self.hub.say(self.session, self._current(), said, settled=self._said)
            case plain.Logout(reason=reason):
                self._bye(reason)
            case plain.Command(name=name, arg=arg):
                # The registry resolves aliases; a name it lists but no handler serves
                # is unknown too, and tests/test_slash.py fails on it.
                command = slash.find(name, slash.Where.PLAIN)
                handler = self._commands().get(command.name) if command else None
                if handler is None:
                    raise UnknownCommand(command=name)
                handler(arg)

    def _commands(self) -> dict[str, Callable[[str], None]]:
        return {
            "nick": self.cmd_nick,
            "join": self.cmd_join,
            "part": self.cmd_part,
            "msg": self.cmd_msg,
            "me": self.cmd_me,
            "who": self.cmd_who,
            "rooms": self.cmd_rooms,
            "topic": self.cmd_topic,
            "kick": self.cmd_kick,
            "ban": self.cmd_ban,
            "unban": self.cmd_unban,
            "mute": self.cmd_mute,
            "unmute": self.cmd_unmute,
            "op": self.cmd_op,
            "deop": self.cmd_deop,
            "voice": self.cmd_voice,
            "devoice": self.cmd_devoice,
            "mode": self.cmd_mode,
            "claim": self.cmd_claim,
            "unclaim": self.cmd_unclaim,
            "away": self.cmd_away,
            "oper": self.cmd_oper,
            "kill": self.cmd_kill,
            "serverban": self.cmd_serverban,
            "serverunban": self.cmd_serverunban,
            "serverbans": self.cmd_serverbans,
            "register": self.cmd_register,
            "login": self.cmd_login,
            "password": self.cmd_password,
            "history": self.cmd_history,
            "search": self.cmd_search,
            "help": self.cmd_help,
        }

    def cmd_nick(self, arg: str) -> None:
        old = self.session.nick
        if self.hub.change_nick(self.session, arg.split(" ")[0] if arg else "") is not None:
            self._send_notice(N_("{old} is now known as {new}"), old=old, new=self.session.nick)

    def cmd_join(self, arg: str) -> None:
        room = normalize_room(arg.split(" ")[0] if arg else "")
        if not room:
            raise Usage(usage="/join #room")
        # After a kick the room on screen is one the user is no longer in.
        previous = self.room if self.room and self.room.key in self.session.rooms else None
        if previous is not None and fold(room) == previous.key:
            self._send_notice(N_("you are already in {room}"), room=previous.name)
            return
        self._enter(room)
        if previous is not None:
            self.hub.part(self.session, previous.name)

    def cmd_part(self, arg: str) -> None:
        room = self._current()
        self.hub.part(self.session, room, arg)
        self.room = None
        self._send_notice(N_("you left {room}"), room=room)
        default = self.server.settings.default_room
        if fold(room) != fold(default):
            self._enter(default)

    def cmd_msg(self, arg: str) -> None:
        nick, _, text = arg.partition(" ")
        if not nick:
            raise Usage(usage="/msg NICK TEXT")
        self.hub.tell(self.session, nick, text, settled=self._said)

    def cmd_me(self, arg: str) -> None:
        self.hub.say(self.session, self._current(), arg, Kind.ACTION, settled=self._said)

    def cmd_who(self, arg: str) -> None:
        room = self.hub.room(normalize_room(arg)) if arg else self.hub.room(self._current())
        nicks = room.nicks()
        listening = len(room.receivers) - len(room.members)
        if listening:
            # Plain connections that have not said a nick yet hear the room too: say so.
            self._send_notice(
                N_("{room} ({count}): {nicks}, and {listening} listening without a nick"),
                room=room.name, count=len(nicks), nicks=" ".join(nicks), listening=listening,
            )  # fmt: skip
            return
        self._send_notice(
            N_("{room} ({count}): {nicks}"), room=room.name, count=len(nicks), nicks=" ".join(nicks)
        )

    def cmd_rooms(self, arg: str) -> None:
        for info in self.hub.room_list():
            topic = f" - {info.topic}" if info.topic else ""
            self._send_notice(
                N_("{room} ({count}){topic}"), room=info.name, count=info.members, topic=topic
            )

    def cmd_topic(self, arg: str) -> None:
        room = self._current()
        if arg:
            self.hub.topic(self.session, room, arg)
            self._send_notice(N_("topic of {room} set"), room=room)
            return
        found = self.hub.room(room)
        if found.topic:
            self._send_notice(N_("topic of {room}: {topic}"), room=found.name, topic=found.topic)
        else:
            self._send_notice(N_("{room} has no topic"), room=found.name)

    def cmd_kick(self, arg: str) -> None:
        nick, _, reason = arg.partition(" ")
        if not nick:
            raise Usage(usage="/kick NICK [reason]")
        self.hub.kick(self.session, self._current(), nick, reason.strip())

    # -- moderation: the room's operators ----------------------------------------------------

    def cmd_ban(self, arg: str) -> None:
        target, _, reason = arg.partition(" ")
        if not target:
            raise Usage(usage="/ban NICK|MASK [reason]")
        mask = self.server.moderation.ban(self.session, self._current(), target, reason.strip())
        self._send_notice(N_("{mask} is banned from {room}"), mask=mask, room=self._current())

    def cmd_unban(self, arg: str) -> None:
        if not arg.strip():
            raise Usage(usage="/unban NICK|MASK")
        mask = self.server.moderation.unban(self.session, self._current(), arg.split()[0])
        self._send_notice(
            N_("{mask} is no longer banned from {room}"), mask=mask, room=self._current()
        )

    def cmd_mute(self, arg: str, on: bool = True) -> None:
        if not arg.strip():
            raise Usage(usage="/mute NICK|MASK" if on else "/unmute NICK|MASK")
        self.server.moderation.mute(self.session, self._current(), arg.split()[0], on)

    def cmd_unmute(self, arg: str) -> None:
        self.cmd_mute(arg, on=False)

    def cmd_op(self, arg: str, mode: str = "o", on: bool = True) -> None:
        if not arg.strip():
            raise Usage(usage="/" + {"o": "op", "v": "voice"}[mode] + " NICK")
        self.server.moderation.privilege(self.session, self._current(), arg.split()[0], mode, on)

    def cmd_deop(self, arg: str) -> None:
        self.cmd_op(arg, "o", on=False)

    def cmd_voice(self, arg: str) -> None:
        self.cmd_op(arg, "v")

    def cmd_devoice(self, arg: str) -> None:
        self.cmd_op(arg, "v", on=False)

    def cmd_mode(self, arg: str) -> None:
        room = self._current()
        if arg.strip():
            self.server.moderation.modes(self.session, room, arg)
            return
        found = self.hub.room(room)
        self._send_notice(
            N_("modes of {room}: {modes}"), room=found.name, modes=" ".join(found.mode_string())
        )
        if found.bans:
            self._send_notice(N_("banned: {masks}"), masks=" ".join(found.bans))

    def cmd_claim(self, arg: str) -> None:
        room = self._current()

        async def run() -> None:
            await self.server.moderation.claim(self.session, room)
            self._send_notice(N_("{room} is registered to {account}"), room=room,
                              account=self.session.account)  # fmt: skip

        self._later(run())

    def cmd_unclaim(self, arg: str) -> None:
        room = self._current()

        async def run() -> None:
            await self.server.moderation.unclaim(self.session, room)
            self._send_notice(N_("{room} is no longer registered"), room=room)

        self._later(run())

    # -- moderation: the server's operators --------------------------------------------------

    def cmd_oper(self, arg: str) -> None:
        name, _, password = arg.strip().partition(" ")
        if not name or not password.strip():
            raise Usage(usage="/oper NAME PASSWORD")

        async def run() -> None:
            await self.server.moderation.oper(self.session, name, password.strip())
            self._send_notice(N_("you are a server operator now"))

        self._later(run())

    def cmd_kill(self, arg: str) -> None:
        nick, _, reason = arg.partition(" ")
        if not nick:
            raise Usage(usage="/kill NICK [reason]")
        self.server.moderation.kill(self.session, nick, reason.strip())

    def cmd_serverban(self, arg: str) -> None:
        mask, _, rest = arg.strip().partition(" ")
        if not mask:
            raise Usage(usage="/serverban MASK [DURATION] [reason]")
        duration, _, reason = rest.strip().partition(" ")

        async def run() -> None:
            entry = await self.server.moderation.server_ban(self.session, mask, duration, reason)
            self._send_notice(N_("{mask} is banned from the server ({until})"), mask=entry.mask,
                              until=self._until(entry.expires))  # fmt: skip

        self._later(run())

    def cmd_serverunban(self, arg: str) -> None:
        if not arg.strip():
            raise Usage(usage="/serverunban MASK")

        async def run() -> None:
            entry = await self.server.moderation.server_unban(self.session, arg.split()[0])
            self._send_notice(N_("{mask} is no longer banned from the server"), mask=entry.mask)

        self._later(run())

    def cmd_serverbans(self, arg: str) -> None:
        entries = self.server.moderation.server_bans(self.session)
        self._send_notice(N_("server bans: {count}"), count=len(entries))
        for e in entries:
            self.conn.deliver(
                plain.notice(f"{e.mask} ({self._until(e.expires)}) {e.by}: {e.reason}")
            )

    def _until(self, expires: float) -> str:
        if not expires:
            return self.tr(N_("for ever"))
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(expires))
        return self.tr(N_("until {when}")).format(when=when)

    def cmd_away(self, arg: str) -> None:
        self.hub.set_away(self.session, arg)
        if self.session.away:
            self._send_notice(N_("you are away: {message}"), message=self.session.away)
        else:
            self._send_notice(N_("you are back"))

    def cmd_help(self, arg: str) -> None:
        self._help()

    def cmd_register(self, arg: str) -> None:
        if not arg.strip():
            raise Usage(usage="/register PASSWORD")
        self.server.accounts.require()
        accounts = self.server.accounts

        async def run() -> None:
            nick = await accounts.register(self.session, arg.strip())
            self._send_notice(N_("{nick} is registered to you, and you are logged in"), nick=nick)

        self._later(run())

    def cmd_login(self, arg: str) -> None:
        nick, _, password = arg.strip().partition(" ")
        if not nick or not password.strip():
            raise Usage(usage="/login NICK PASSWORD")
        self.server.accounts.require()
        first = self.session.nick is None

        async def run() -> None:
            account = await self.server.accounts.login(self.session, nick, password.strip())
            if first:
                self._registered(account)
            self._send_notice(N_("you are logged in as {account}"), account=account)

        self._later(run())

    def cmd_password(self, arg: str) -> None:
        old, _, new = arg.strip().partition(" ")
        if not old or not new.strip():
            raise Usage(usage="/password OLD NEW")

        async def run() -> None:
            await self.server.accounts.change_password(self.session, old, new.strip())
            self._send_notice(N_("password changed"))

        self._later(run())

    def _later(self, work: Coroutine[Any, Any, None]) -> None:
        """Run slow work (hashing, the store) off the line; its errors reach this client.
        Lines that come meanwhile wait for it (SessionHandler.held)."""
        self.in_turn(work, self._error)

    def cmd_history(self, arg: str) -> None:
        try:
            count = int(arg) if arg else self.server.settings.history_replay or 50
        except ValueError:
            raise Usage(usage="/history [N]") from None
        page = self.server.settings.history_page
        if not 1 <= count <= page:
            raise Usage(usage=f"/history [1-{page}]")
        room = self.hub.room(self._current())
        self.server.history.readable()
        self._stored(
            room, self.server.history.before(room, None, count, self.reader), newest_first=False
        )

    def cmd_search(self, arg: str) -> None:
        if not arg.strip():
            raise Usage(usage="/search WORDS")
        room = self.hub.room(self._current())
        self.server.history.readable()
        self._stored(
            room,
            self.server.history.search(
                room, arg, None, min(20, self.server.settings.search_results), self.reader
            ),
            newest_first=True,
        )

    # -- helpers --------------------------------------------------------------------------

    def _enter(self, room: str) -> None:
        entered = self.hub.join(self.session, room)
        self.room = entered
        self._welcome(entered)
        if entered.topic:
            self._send_notice(
                N_("topic of {room}: {topic}"), room=entered.name, topic=entered.topic
            )
        if entered.key != self.heard:
            self._replay(entered)
        self.heard = None

    def _welcome(self, room: Room) -> None:
        """Who else is in the room the user just entered: every nick, or for a crowd some
        of them and how many (a line of thousands of nicks helps nobody, /who lists them,
        and listing them for each newcomer made a crowd's arrival O(N^2))."""
        me, members = self.session.key, room.members
        count = len(members) - (me in members)
        if count > WELCOME_NAMES:
            some = (s.nick for key, s in members.items() if key != me and s.nick)
            self._send_notice(
                N_("you are {nick}, in {room} with {count} more, among them: {nicks}"),
                nick=self.session.nick,
                room=room.name,
                count=count,
                nicks=", ".join(itertools.islice(some, WELCOME_NAMES)),
            )
        elif count:
            others = [n for n in room.nicks() if fold(n) != me]
            self._send_notice(
                N_("you are {nick}, in {room} with {count} more: {nicks}"),
                nick=self.session.nick,
                room=room.name,
                count=len(others),
                nicks=", ".join(others),
            )
        else:
            self._send_notice(
                N_("you are {nick}, in {room}, with nobody else for now"),
                nick=self.session.nick,
                room=room.name,
            )

    def _replay(self, room: Room) -> None:
        messages = self.hub.replay(room)
        if messages:
            self._send_history(room, messages, N_("last messages in {room}:"))

    def _send_history(
        self, room: Room, messages: list[RoomMessage], title: str, end: str = N_("end of history")
    ) -> None:
        self._send_notice(title, room=room.name)
        today = time.localtime()[:3]
        for message in messages:
            when = time.localtime(message.ts)
            stamp = time.strftime("%H:%M" if when[:3] == today else "%Y-%m-%d %H:%M", when)
            self.conn.deliver(plain.history_line(stamp, message))
        self._send_notice(end)

    def _stored(
        self, room: Room, read: Coroutine[Any, Any, list[RoomMessage]], newest_first: bool
    ) -> None:
        async def answer() -> None:
            messages = await read
            if self.conn.closing:
                return
            if not messages:
                self._send_notice(N_("nothing found in {room}"), room=room.name)
            elif newest_first:
                self._send_history(
                    room, messages, N_("found in {room}, newest first:"), N_("end of results")
                )
            else:
                self._send_history(room, messages, N_("last messages in {room}:"))

        self._later(answer())

    def _current(self) -> str:
        if self.room is None or self.room.key not in self.session.rooms:
            raise NoRoom()
        return self.room.name

    def _help(self) -> None:
        self._send_notice(N_("commands (type anything else to talk):"))
        for line in slash.help_lines(slash.Where.PLAIN, self.tr):
            self.conn.deliver(plain.notice(line))

    def _bye(self, reason: str) -> None:
        self.hub.disconnect(self.session, reason)
        self.conn.close(self._notice(N_("goodbye")))

    def _notice(self, template: str, **args: object) -> bytes:
        return plain.notice(self.tr(template).format(**args))

    def _send_notice(self, template: str, **args: object) -> None:
        self.conn.deliver(self._notice(template, **args))

    def _said(self, event: RoomMessage | PrivateMessage, error: TertuliaError | None) -> None:
        """Silence when a message went out (no echo); an error line when the store failed."""
        if error is not None:
            self._error(error)

    def _error(self, err: TertuliaError) -> None:
        self.server.stats.errors[err.code] += 1
        self.conn.deliver(plain.error(err.render(self.tr)))
