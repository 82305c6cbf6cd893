"""The JSON-lines door: our own clients' requests applied to the hub, with replies by id."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any

from tertulia import __version__
from tertulia.core.errors import (
    N_,
    BadRequest,
    LineTooLong,
    NotInRoom,
    NotRegistered,
    TertuliaError,
)
from tertulia.core.events import Kind, PrivateMessage, RoomMessage
from tertulia.core.hub import Settled
from tertulia.core.names import fold, normalize_room
from tertulia.core.room import Room
from tertulia.core.session import Door, Encoder, Session
from tertulia.protocols import jsonlines as jl
from tertulia.protocols.framing import Item, Overlong
from tertulia.protocols.text import decode
from tertulia.server.door import SessionHandler

if TYPE_CHECKING:
    from tertulia.server.connection import Connection
    from tertulia.server.context import DoorContext
    from tertulia.server.history import History

log = logging.getLogger(__name__)


EMOJI_LENGTH = 32  # code points of a reaction: a flag or a family is a dozen


def _reply_tags(reply_to: int | None) -> tuple[tuple[str, str], ...]:
    if reply_to is None:
        return ()
    if reply_to < 1:
        raise BadRequest(reason=N_("reply_to must be a message's id"))
    return ((jl.REPLY_TAG, str(reply_to)),)


def _target(target: str) -> str:
    """A room (`#` optional, as elsewhere in requests) or a nick: a nick never has `#`,
    so only names that look like rooms are read as rooms."""
    return normalize_room(target) if target.startswith("#") else target


def room_state(room: Room) -> dict[str, Any]:
    """A room as join, who and welcome show it: members, and who among them runs it, has a
    voice or is away, so that clients can mark them."""
    members = room.members
    return {
        "room": room.name,
        "topic": room.topic,
        "members": room.nicks(),
        "operators": sorted(
            (members[k].nick or "" for k in room.operators if k in members), key=str.lower
        ),
        "voiced": sorted(
            (members[k].nick or "" for k in room.voiced if k in members), key=str.lower
        ),
        "away": sorted((s.nick or "" for s in members.values() if s.away), key=str.lower),
    }


class JsonHandler(SessionHandler):
    """One JSON-lines session: lines on the plain port, or text frames on the web door's /ws.

    `wrap` turns a reply line into what the transport carries (a WebSocket frame); the
    session's `encoder` does the same for events, once per event for every recipient.
    """

    __slots__ = ("wrap",)

    def __init__(
        self,
        server: DoorContext,
        conn: Connection,
        session: Session,
        *,
        door: Door = Door.JSON,
        encoder: Encoder | None = None,
        wrap: Callable[[bytes], bytes] | None = None,
    ) -> None:
        super().__init__(server, conn, session)
        self.wrap = wrap
        session.encoder = encoder or server.json_encoder
        session.door = door

    def send(self, data: bytes) -> None:
        self.conn.deliver(data if self.wrap is None else self.wrap(data))

    # -- Handler --------------------------------------------------------------------------

    def on_line(self, item: Item) -> None:
        if isinstance(item, Overlong):
            self.error(None, LineTooLong(limit=self.server.settings.max_line_bytes))
            return
        rid: jl.RequestId = None
        try:
            request = jl.parse_request(decode(item))
            rid = request.id
            data = self.handle(request)
            if data:
                self.send(data)
        except TertuliaError as err:
            self.error(rid if rid is not None else jl.refused_id(err), err)

    def error(self, rid: jl.RequestId, err: TertuliaError) -> None:
        self.server.stats.errors[err.code] += 1
        self.send(jl.error_reply(rid, err, self.tr))

    def farewell(self, err: TertuliaError) -> bytes:
        reply = jl.error_reply(None, err, self.tr)
        return reply if self.wrap is None else self.wrap(reply)

    # -- requests -------------------------------------------------------------------------

    def handle(self, request: jl.Request) -> bytes:
        """Apply one request; the bytes returned are its reply."""
        if self.session.nick is None and not isinstance(
            request, jl.Hello | jl.Login | jl.Ping | jl.Disconnect
        ):
            raise NotRegistered()
        handler: Callable[[Any], bytes] = getattr(self, "on_" + request.type)
        return handler(request)

    def on_hello(self, req: jl.Hello) -> bytes:
        if req.v != jl.VERSION:
            raise BadRequest(reason=N_("protocol version {v} is not supported"), v=req.v)
        if req.password is not None:
            # Credentials in the hello: the nick is taken only once the password is right.
            accounts = self.server.accounts
            accounts.require()
            password = req.password

            async def login() -> None:
                await accounts.login(self.session, req.nick, password)
                self._welcome(req)

            self._later(req.id, login())
            return b""
        self.hub.register(self.session, req.nick)
        self._welcome(req)
        return b""

    def _welcome(self, req: jl.Hello) -> None:
        self.server.stop_nick_timer(self.conn)
        log.info("registered", extra={"nick": req.nick, "door": self.session.door})
        room = self.hub.join(self.session, self.server.settings.default_room)
        welcome = jl.reply(
            req.id,
            "welcome",
            v=jl.VERSION,
            nick=self.session.nick,
            server=self.server.name,
            version=__version__,
            limits={
                "message_bytes": self.server.settings.max_message_bytes,
                "nick_length": self.server.settings.nick_length,
            },
            rooms=[room_state(room)],
            motd=list(self.server.motd),
            # Only for a client that logged in (a password in its hello).
            **({"account": self.session.account} if self.session.account else {}),
        )
        self.send(welcome)
        self._replay(room)

    def on_register(self, req: jl.Register) -> bytes:
        self.server.accounts.require()

        async def register() -> None:
            nick = await self.server.accounts.register(self.session, req.password)
            self.send(jl.reply(req.id, account=nick))

        self._later(req.id, register())
        return b""

    def on_login(self, req: jl.Login) -> bytes:
        self.server.accounts.require()

        async def login() -> None:
            account = await self.server.accounts.login(self.session, req.nick, req.password)
            self.send(jl.reply(req.id, account=account, nick=self.session.nick))

        self._later(req.id, login())
        return b""

    def on_password(self, req: jl.Password) -> bytes:
        async def change() -> None:
            await self.server.accounts.change_password(self.session, req.old, req.new)
            self.send(jl.reply(req.id))

        self._later(req.id, change())
        return b""

    def _later(self, rid: jl.RequestId, work: Coroutine[Any, Any, None]) -> None:
        """Slow work (hashing, the store) off the line; a TertuliaError is its reply."""
        self.server.spawn_for(self.conn, work, lambda err: self.error(rid, err))

    # The `ok` of a message leaves once the message is stored and handed to its recipients:
    # a client that has it knows the message will survive a crash. If the store failed,
    # the reply is an error instead and nobody got the message.

    def on_say(self, req: jl.Say) -> bytes:
        tags = _reply_tags(req.reply_to)
        self.hub.say(
            self.session, req.room, req.text, Kind(req.kind), tags, settled=self._settled(req)
        )
        return b""

    def on_tell(self, req: jl.Tell) -> bytes:
        tags = _reply_tags(req.reply_to)
        self.hub.tell(
            self.session, req.to, req.text, Kind(req.kind), tags, settled=self._settled(req)
        )
        return b""

    def on_react(self, req: jl.React) -> bytes:
        emoji = req.emoji.strip()
        if not emoji or len(emoji) > EMOJI_LENGTH or any(c.isspace() for c in emoji):
            raise BadRequest(reason=N_("an emoji is one short symbol"))
        if req.msgid < 1:
            raise BadRequest(reason=N_("msgid must be a message's id"))
        tags = ((jl.REACT_TAG, emoji), (jl.REPLY_TAG, str(req.msgid)))
        self.hub.tag(self.session, _target(req.target), tags)
        return jl.reply(req.id)

    def on_typing(self, req: jl.Typing) -> bytes:
        if req.state not in jl.TYPING_STATES:
            raise BadRequest(reason=N_("state is active, paused or done"))
        self.hub.tag(self.session, _target(req.target), ((jl.TYPING_TAG, req.state),))
        return jl.reply(req.id)

    def on_redact(self, req: jl.Redact) -> bytes:
        self.hub.redact(self.session, normalize_room(req.room), req.msgid, req.reason)
        return jl.reply(req.id, room=normalize_room(req.room), msgid=req.msgid)

    def on_away(self, req: jl.Away) -> bytes:
        self.hub.set_away(self.session, req.message)
        return jl.reply(req.id, message=self.session.away)

    def _settled(self, req: jl.Say | jl.Tell) -> Settled:
        rid = req.id

        def settled(event: RoomMessage | PrivateMessage, error: TertuliaError | None) -> None:
            if error is not None:
                self.error(rid, error)
            else:
                self.send(jl.said(rid, event))

        return settled

    def on_join(self, req: jl.Join) -> bytes:
        already = fold(normalize_room(req.room)) in self.session.rooms
        room = self.hub.join(self.session, normalize_room(req.room))
        self.send(jl.reply(req.id, **room_state(room)))
        if not already:
            self._replay(room)
        return b""

    def on_history(self, req: jl.History) -> bytes:
        self._stored(
            req, lambda room, h: h.before(room, req.before, self._limit(req.limit), self.reader)
        )
        return b""

    def on_search(self, req: jl.Search) -> bytes:
        limit = self._limit(req.limit, self.server.settings.search_results)
        self._stored(req, lambda room, h: h.search(room, req.words, req.before, limit, self.reader))
        return b""

    # -- history --------------------------------------------------------------------------

    def _replay(self, room: Room) -> None:
        messages = self.hub.replay(room)
        if messages:
            more = len(messages) >= self.server.settings.history_replay
            reactions = self.hub.reactions
            self.send(jl.history(None, "history", room.name, messages, more, reactions))

    def _limit(self, limit: int, most: int | None = None) -> int:
        most = most or self.server.settings.history_page
        if not 1 <= limit <= most:
            raise BadRequest(reason=N_("limit must be from 1 to {max}"), max=most)
        return limit

    def _stored(
        self, req: jl.History | jl.Search, read: Callable[[Room, History], Awaitable[list[Any]]]
    ) -> None:
        """Answer from the store, off the loop; only rooms the asker is in can be read."""
        room = self.hub.room(normalize_room(req.room))
        if self.session.key not in room.members:
            raise NotInRoom(room=room.name)
        self.server.history.readable()
        limit = req.limit

        async def answer() -> None:
            history = self.server.history
            messages = await read(room, history)
            reactions = await history.reactions(messages)
            more = len(messages) >= limit
            self.send(jl.history(req.id, req.type, room.name, messages, more, reactions))

        self._later(req.id, answer())

    def on_part(self, req: jl.Part) -> bytes:
        self.hub.part(self.session, normalize_room(req.room), req.reason)
        return jl.reply(req.id, room=normalize_room(req.room))

    def on_nick(self, req: jl.Nick) -> bytes:
        self.hub.change_nick(self.session, req.nick)
        return jl.reply(req.id, nick=self.session.nick)

    def on_who(self, req: jl.Who) -> bytes:
        return jl.reply(req.id, **room_state(self.hub.room(normalize_room(req.room))))

    def on_rooms(self, req: jl.Rooms) -> bytes:
        rooms = [
            {"room": r.name, "members": r.members, "topic": r.topic} for r in self.hub.room_list()
        ]
        return jl.reply(req.id, rooms=rooms)

    def on_topic(self, req: jl.Topic) -> bytes:
        name = normalize_room(req.room)
        if req.topic is not None:
            self.hub.topic(self.session, name, req.topic)
        room = self.hub.room(name)
        return jl.reply(req.id, room=room.name, topic=room.topic, by=room.topic_by)

    # -- moderation -----------------------------------------------------------------------

    def on_kick(self, req: jl.Kick) -> bytes:
        self.hub.kick(self.session, normalize_room(req.room), req.nick, req.reason)
        return jl.reply(req.id, room=normalize_room(req.room), nick=req.nick)

    def on_ban(self, req: jl.Ban) -> bytes:
        mask = self.server.moderation.ban(self.session, self._room(req), req.target, req.reason)
        return jl.reply(req.id, room=self._room(req), mask=mask)

    def on_unban(self, req: jl.Unban) -> bytes:
        mask = self.server.moderation.unban(self.session, self._room(req), req.target)
        return jl.reply(req.id, room=self._room(req), mask=mask)

    def on_mute(self, req: jl.Mute | jl.Unmute) -> bytes:
        on = req.type == "mute"
        mask = self.server.moderation.mute(self.session, self._room(req), req.target, on)
        return jl.reply(req.id, room=self._room(req), mask=mask)

    on_unmute = on_mute

    def on_op(self, req: jl.Op | jl.Deop | jl.Voice | jl.Devoice) -> bytes:
        mode = "v" if req.type in ("voice", "devoice") else "o"
        on = req.type in ("op", "voice")
        self.server.moderation.privilege(self.session, self._room(req), req.nick, mode, on)
        return jl.reply(req.id, room=self._room(req), nick=req.nick)

    on_deop = on_voice = on_devoice = on_op

    def on_mode(self, req: jl.Mode) -> bytes:
        name = self._room(req)
        if req.modes.strip():
            self.server.moderation.modes(self.session, name, req.modes)
        room = self.hub.room(name)
        if self.session.key not in room.members:
            raise NotInRoom(room=room.name)
        return jl.reply(
            req.id,
            room=room.name,
            modes=" ".join(room.mode_string()),
            bans=list(room.bans),
            owner=room.owner,
        )

    def on_claim(self, req: jl.Claim | jl.Unclaim) -> bytes:
        moderation = self.server.moderation
        name = self._room(req)
        claim = req.type == "claim"

        async def run() -> None:
            room = await (moderation.claim if claim else moderation.unclaim)(self.session, name)
            self.send(jl.reply(req.id, room=room.name, owner=room.owner))

        self._later(req.id, run())
        return b""

    on_unclaim = on_claim

    def on_oper(self, req: jl.Oper) -> bytes:
        async def run() -> None:
            await self.server.moderation.oper(self.session, req.name, req.password)
            self.send(jl.reply(req.id, oper=req.name))

        self._later(req.id, run())
        return b""

    def on_kill(self, req: jl.Kill) -> bytes:
        victim = self.server.moderation.kill(self.session, req.nick, req.reason)
        return jl.reply(req.id, nick=victim.nick)

    def on_serverban(self, req: jl.ServerBan) -> bytes:
        async def run() -> None:
            entry = await self.server.moderation.server_ban(
                self.session, req.mask, req.duration, req.reason
            )
            self.send(jl.reply(req.id, **jl.ban_data(entry)))

        self._later(req.id, run())
        return b""

    def on_serverunban(self, req: jl.ServerUnban) -> bytes:
        async def run() -> None:
            entry = await self.server.moderation.server_unban(self.session, req.mask)
            self.send(jl.reply(req.id, mask=entry.mask))

        self._later(req.id, run())
        return b""

    def on_serverbans(self, req: jl.ServerBans) -> bytes:
        entries = self.server.moderation.server_bans(self.session)
        return jl.reply(req.id, bans=[jl.ban_data(e) for e in entries])

    @staticmethod
    def _room(req: Any) -> str:
        return normalize_room(req.room)

    def on_ping(self, req: jl.Ping) -> bytes:
        return jl.reply(req.id, "pong")

    def on_quit(self, req: jl.Disconnect) -> bytes:
        self.hub.disconnect(self.session, req.reason)
        bye = jl.reply(req.id, "bye")
        self.conn.close(bye if self.wrap is None else self.wrap(bye))
        return b""
