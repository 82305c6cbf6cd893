"""The hub: applies every door's commands to rooms and sessions and fans events out."""

from __future__ import annotations

import contextlib
import itertools
import re
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence, Sized
from dataclasses import dataclass
from functools import partial
from typing import Protocol

from tertulia.core import masks
from tertulia.core.bans import ServerBan, ServerBanned, ServerBans
from tertulia.core.errors import (
    N_,
    AlreadyRegistered,
    BadKey,
    BadMode,
    BadText,
    BadUnicode,
    Banned,
    CannotSend,
    EmptyMessage,
    InviteOnly,
    ListFull,
    MessageTooLong,
    Moderated,
    NickInUse,
    NoPrivileges,
    NoSuchNick,
    NoSuchRoom,
    NotInRoom,
    NotLoggedIn,
    NotMember,
    NotOperator,
    NotRegistered,
    NotRoomOwner,
    RedactForbidden,
    RoomFull,
    TertuliaError,
    TooManyRooms,
    TopicTooLong,
    UnknownMessage,
)
from tertulia.core.events import (
    AccountChanged,
    AwayChanged,
    Event,
    Invited,
    Joined,
    Kicked,
    Kind,
    ModeChanged,
    NickChanged,
    Parted,
    PrivateMessage,
    Quit,
    RealnameChanged,
    Redacted,
    RoomMessage,
    ServerNotice,
    TagMessage,
    TopicChanged,
    Wallops,
)
from tertulia.core.names import check_nick, check_room, fold
from tertulia.core.room import MaskEntry, Room
from tertulia.core.session import Door, Encoder, Session, Sink


@dataclass(frozen=True, slots=True)
class Limits:
    """The rules of the chat; the server fills it from Settings."""

    max_message_bytes: int = 512
    nick_length: int = 30
    room_length: int = 50
    topic_length: int = 390
    default_room: str = "#lobby"
    persistent_rooms: tuple[str, ...] = ("#lobby",)
    replay: int = 0  # messages a room keeps for newcomers; 0 when there is no history
    rooms_per_session: int = 100  # rooms one session may be in at once
    server_name: str = "tertulia"  # who the server's own mode changes come from


# What becomes of a message, told to whoever sent it: None once it is stored and handed to
# its recipients, or the error that kept it from everyone (the store failed: NotStored).
Settled = Callable[[RoomMessage | PrivateMessage, TertuliaError | None], None]


# Who came and went, told to more than CROWD people: each learns it within a fraction of a
# second (Sink.deliver_later), so that a crowd joining one room costs each member one write
# now and then, not one per newcomer. Order holds: whatever is sent to a member next
# carries these bytes first. Smaller audiences are told at once, as before: the bytes held
# meanwhile cost memory that a small room does not need to spend.
_MAY_WAIT: frozenset[type[Event]] = frozenset({Joined, Parted, Quit, AwayChanged})
CROWD = 200


class RoomDelivery:
    """A stored room message on its way to the room: alone (call it), or in a run with the
    messages of the same room stored beside it (Hub.deliver_run), which costs each
    recipient one hand-over per run instead of one per message."""

    __slots__ = ("event", "hub", "room", "sender")

    def __init__(self, hub: Hub, event: RoomMessage, room: Room, sender: Session) -> None:
        self.hub = hub
        self.event = event
        self.room = room
        self.sender = sender

    def __call__(self) -> None:
        self.hub._deliver_room(self)


class Gate(Protocol):
    """Holds what the hub sends until the messages before it are stored.

    A message is fanned out only once it is durable (`durable` calls `deliver` after the
    commit, then `settled(event, None)`), and every other event waits behind pending
    messages (`later`), so that all recipients see everything in the order it happened.
    A message the store could not keep is delivered to nobody: `settled(event, error)`.
    """

    @property
    def waiting(self) -> bool:
        """Whether something is held back now: if so, new events must queue behind it."""
        ...

    def durable(
        self, event: RoomMessage | PrivateMessage, deliver: Callable[[], None], settled: Settled
    ) -> None: ...

    def later(self, deliver: Callable[[], None]) -> None: ...

    def forget(self, event: RoomMessage) -> None:
        """Delete a stored message that was redacted."""
        ...

    def keep(self, event: PrivateMessage, account: str, settled: Settled) -> None:
        """Store a private message for an account that is offline, to hand over at login."""
        ...


@dataclass(frozen=True, slots=True)
class WhoWas:
    """Who used a nick before: what WHOWAS tells."""

    nick: str
    user: str
    realname: str
    ts: float


LIST_MODES = "beI"  # ban, exception and invite lists: masks, not flags
MAX_INVITED = 100  # pending invitations per room
MAX_LIST_ENTRIES = 100  # masks per list
WHOWAS_NICKS = 1000  # nicks remembered for WHOWAS, the oldest forgotten first
WHOWAS_PER_NICK = 8


@dataclass(frozen=True, slots=True)
class RoomInfo:
    name: str
    members: int
    topic: str


Observer = Callable[[Event], None]

_MISSING = object()
ORPHAN_RINGS = 1000  # rooms that are gone whose last messages are still kept in memory

# Nicks of the server's own services (IRC users /msg NickServ to log in): nobody takes them.
RESERVED = frozenset({"nickserv", "chanserv"})
# Client tags that carry words others read (IRCv3 draft/reply and draft/react): checked like
# text, so that no terminal control or bidi override rides in a tag.
REACT, REPLY = "+draft/react", "+draft/reply"
TEXT_TAGS = frozenset({REACT})
REACTED_KEPT = 10_000  # recent messages whose reactions are kept in memory
REACTIONS_PER_MESSAGE = 100
KEY_LENGTH = 23  # characters of a room key (+k), as most IRC servers allow
REALNAME_LENGTH = 100  # characters of a real name (IRC's USER and SETNAME)
KILLED = N_("you were put off the server by {by}: {reason}")


# Tabs are fine; every other C0/C1 control or DEL could drive a reader's terminal. Lone
# surrogates (U+D800..U+DFFF) are no text at all: no wire format or store can encode one.
# One search finds both, so checking a message costs what it did before surrogates.
_UNFIT = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\ud800-\udfff]")
# Bidi embeddings, overrides and isolates turn the text after them around on every reader's
# screen: a topic (shown to everyone who joins) may not hold them.
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")
# Removed from messages and reasons: those bidi controls (they would turn the text after
# them around: "edirrevo LTR"), and invisible characters that hide text or split words
# (soft hyphen, zero-width space, word joiner, invisible operators, byte order mark, the
# deprecated format controls). Kept: ZWJ and ZWNJ, which emoji and many scripts need, and
# the LRM, RLM and ALM marks, which only set the direction of the characters beside them.
_HIDDEN = re.compile(
    "[\u00ad\u180e\u200b\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb]"
)


def _listed(entries: Mapping[str, MaskEntry], mask: str) -> bool:
    return any(masks.matches(m, mask) for m in entries if not m.startswith(masks.MUTE))


def _operates(session: Session, room: Room) -> bool:
    """A room's operator, or a server operator (who may act in every room)."""
    return session.key in room.operators or "o" in session.modes


def _banned(room: Room, mask: str) -> bool:
    return _listed(room.bans, mask) and not _listed(room.exceptions, mask)


def _muted(room: Room, mask: str) -> bool:
    mutes = [m[len(masks.MUTE) :] for m in room.bans if m.startswith(masks.MUTE)]
    if not any(masks.matches(m, mask) for m in mutes):
        return False
    # An exception lifts a mute whether it is written as one (m:mask) or not.
    return not any(masks.matches(e.removeprefix(masks.MUTE), mask) for e in room.exceptions)


def _check_fit(text: str, field: str) -> None:
    """Refuse the text for the first unfit character: BadUnicode or BadText."""
    found = _UNFIT.search(text)
    if found is not None:
        raise BadUnicode(field=field) if found.group() >= "\ud800" else BadText()


class Hub:
    """One chat: every door talks to it through these methods, whatever its wire format."""

    def __init__(
        self, limits: Limits | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        self.limits = limits or Limits()
        self.clock = clock
        self.sessions: dict[str, Session] = {}  # registered sessions by folded nick
        self.rooms: dict[str, Room] = {}
        self.connected = 0
        # Plain counters for the metrics: bytes handed to recipients' sinks, by event kind.
        self.delivered = 0
        self.messages_delivered = 0
        # Events an encoder could not write: its recipients miss that one event, and nobody
        # else notices. The core does no I/O: the server's hook logs it, its metrics count it.
        self.encode_failures = 0
        self.on_encode_failure: Callable[[Event, Exception], None] | None = None
        self.observers: list[Observer] = []
        # Told of every event but messages as it happens, before any wait for the gate (a
        # cluster tells the other nodes in the order things happened here), and of every
        # session that leaves, with its reason.
        self.emitted: list[Observer] = []
        self.departed: list[Callable[[Session, str], None]] = []
        # With a gate, messages reach recipients only once stored (see Gate).
        self.gate: Gate | None = None
        # The last messages delivered in each room, by folded name: what a newcomer is shown.
        self.recent: dict[str, deque[RoomMessage]] = {}
        self._orphans: OrderedDict[str, None] = OrderedDict()  # rings of rooms that are gone
        # Reactions to recent messages, by message id: (emoji, sender), oldest first. What
        # a newcomer's replay shows; the store keeps them all (on_reaction).
        self.reactions: OrderedDict[int, list[tuple[str, str]]] = OrderedDict()
        self.on_reaction: Callable[[int, str, str, float], None] | None = None
        # Registered nicks (accounts), folded: only their owner may keep them.
        self.accounts: set[str] = set()
        # Called whenever a session takes a nick (the server checks registered ones).
        self.on_nick: Callable[[Session], None] | None = None
        # Called with (nick, True) when a nick comes into use and (nick, False) when it
        # goes out of use, on any door (IRC's MONITOR follows nicks with it).
        self.presence: list[Callable[[Session, str, bool], None]] = []
        # Who else follows a session's state (away, account) besides its neighbours: IRC
        # clients that MONITOR its nick with extended-monitor.
        self.followers: list[Callable[[Session], Iterable[Session]]] = []
        self.whowas: OrderedDict[str, deque[WhoWas]] = OrderedDict()
        self.peak = 0  # the most registered sessions at once
        # Who may not use the server at all; the server loads and stores the entries.
        self.bans = ServerBans(clock)
        # Called with each session a server ban puts out, so that its door tells it why, in
        # its own format, and closes it.
        self.on_banned: Callable[[Session, ServerBan], None] | None = None
        # Told of each server ban an operator adds (the entry) or lifts (None, the mask):
        # a cluster tells the other nodes.
        self.ban_hooks: list[Callable[[ServerBan | None, str], None]] = []
        # Told of each room registered to an account, or given back (its owner then "").
        self.owner_hooks: list[Callable[[Room], None]] = []
        self._session_ids = itertools.count(1)
        self._message_ids: Iterator[int] = itertools.count(1)
        for name in self.limits.persistent_rooms:
            self._room(name, create=True).persistent = True

    def restore(self, last_id: int, recent: Mapping[str, Iterable[RoomMessage]]) -> None:
        """Carry on from a stored history: ids after the last one, each room's last messages."""
        self._message_ids = itertools.count(last_id + 1)
        for key, messages in recent.items():
            self._ring(key).extend(messages)
            if key not in self.rooms:
                self._orphan(key)

    def replay(self, room: Room) -> list[RoomMessage]:
        """The messages a member joining `room` is shown, oldest first: not those said
        while an earlier room of the same name was closed (invite-only or with a key)."""
        ring = self.recent.get(room.key)
        if not ring:
            return []
        return [m for m in ring if not (m.restricted and m.ts < room.created)]

    # -- sessions -------------------------------------------------------------------------

    def connect(self, sink: Sink, encoder: Encoder, door: Door, peer: str = "") -> Session:
        """A new anonymous session; it hears nothing until it listens or joins."""
        self.connected += 1
        return Session(next(self._session_ids), sink, encoder, door, peer)

    def listen(self, session: Session, room: str | None = None) -> Room:
        """Let an anonymous session hear a room without being seen in it."""
        target = self._room(room or self.limits.default_room, create=True)
        target.receivers[session] = None
        session.rooms[target.key] = target
        return target

    def unlisten(self, session: Session) -> None:
        """Stop an anonymous session hearing the rooms it listens to."""
        for room in list(session.rooms.values()):
            if session.key not in room.members:
                self._leave(session, room)

    def register(self, session: Session, nick: str) -> None:
        """Give an anonymous session its nick, unique across every door."""
        if session.nick is not None:
            raise AlreadyRegistered()
        check_nick(nick, self.limits.nick_length)
        key = fold(nick)
        if key in self.sessions or key in RESERVED:
            raise NickInUse(nick=nick)
        self._check_banned(session, nick, session.account)
        session.nick, session.key = nick, key
        session.since = session.active = session.named = self.clock()
        self.sessions[key] = session
        self.peak = max(self.peak, len(self.sessions))
        if self.on_nick is not None:
            self.on_nick(session)
        self._present(session, nick, True)

    def change_nick(self, session: Session, nick: str, forced: bool = False) -> NickChanged | None:
        """A new nick; `forced` (a squatter renamed) also tells the session itself."""
        old = self._nick_of(session)
        check_nick(nick, self.limits.nick_length)
        key = fold(nick)
        if nick == old:
            return None
        other = self.sessions.get(key)
        if (other is not None and other is not session) or key in RESERVED:
            raise NickInUse(nick=nick)
        self._check_banned(session, nick, session.account)
        old_key = session.key
        self._remember(session)
        del self.sessions[old_key]  # type: ignore[arg-type]
        session.nick, session.key = nick, key
        session.named = self.clock()
        self.sessions[key] = session
        for room in session.rooms.values():
            if old_key in room.members:
                del room.members[old_key]
                room.members[key] = session
            for people in (room.operators, room.voiced):
                if old_key in people:
                    people.discard(old_key)
                    people.add(key)
        event = NickChanged(old=old, new=nick)
        neighbours = self._neighbours(session)
        if forced:
            neighbours[session] = None
        self._fanout(event, neighbours, exclude=None if forced else session)
        if self.on_nick is not None:
            self.on_nick(session)
        if old_key != key:  # a change of case only keeps the nick in use
            self._present(session, old, False)
            self._present(session, nick, True)
        return event

    def login(self, session: Session, account: str) -> None:
        """The session proved it owns `account` (or logged out: an empty one)."""
        if account and session.nick is not None:
            self._check_banned(session, session.nick, account)
        session.account = account
        event = AccountChanged(nick=self._nick_of(session), account=account)
        self._fanout(event, self._audience(session), exclude=session)
        if account:
            # The rooms registered to the account give their owner back its operator status.
            for room in session.rooms.values():
                if room.owner == fold(account) and session.key in room.members:
                    self._set_op(room, session)

    def protected(self, nick: str) -> bool:
        """Whether `nick` is a registered account's name."""
        return fold(nick) in self.accounts

    def disconnect(self, session: Session, reason: str = "") -> None:
        """The session is gone: tell everyone who shared a room with it, once each. Calling
        it again for the same session does nothing (a kill, then the connection's close)."""
        if session.gone:
            return
        self.connected -= 1
        session.gone = True
        if session.key is None:
            self.unlisten(session)
            return
        event = Quit(nick=session.nick or "", reason=self._clean(reason))
        rooms = list(session.rooms.values())
        # In one room (most are), its receivers are the neighbours, without leaving: no
        # copy of a big room's members for each of its members who quits.
        neighbours = rooms[0].receivers if len(rooms) == 1 else self._neighbours(session)
        for room in rooms:
            self._leave(session, room)
        self._remember(session)
        del self.sessions[session.key]
        self._fanout(event, neighbours, exclude=session)
        self._present(session, session.nick or "", False)
        for hook in self.departed:
            hook(session, event.reason)

    def _present(self, session: Session, nick: str, online: bool) -> None:
        for hook in self.presence:
            hook(session, nick, online)

    def _remember(self, session: Session) -> None:
        key = session.key or ""
        past = self.whowas.pop(key, None) or deque(maxlen=WHOWAS_PER_NICK)
        past.appendleft(WhoWas(session.nick or "", session.user, session.realname, self.clock()))
        self.whowas[key] = past
        while len(self.whowas) > WHOWAS_NICKS:
            self.whowas.popitem(last=False)

    def user_of(self, nick: str) -> str:
        """The username shown in `nick`'s mask: its session's, or, once it left or changed
        nick, the last one who had it; the nick itself when there is none."""
        key = fold(nick)
        session = self.sessions.get(key)
        if session is not None:
            return session.user or nick
        past = self.whowas.get(key)
        return (past[0].user if past else "") or nick

    def is_bot(self, nick: str) -> bool:
        """Whether `nick` says it is a bot (user mode B)."""
        session = self.sessions.get(fold(nick))
        return session is not None and "B" in session.modes

    def was(self, nick: str) -> list[WhoWas]:
        """Who used `nick` before, newest first."""
        return list(self.whowas.get(fold(nick), ()))

    def oper(self, session: Session, name: str) -> None:
        """The session proved it is the server operator `name` (the door checked how)."""
        session.oper = name
        if "o" not in session.modes:
            session.modes += "o"

    def deoper(self, session: Session) -> None:
        """The session is a server operator no more (its entry left the settings)."""
        session.oper = ""
        session.modes = session.modes.replace("o", "")

    def kill(self, session: Session, nick: str, reason: str = "") -> Session:
        """A server operator puts someone off the server; its door closes the connection."""
        by = self._nick_of(session)
        if "o" not in session.modes:
            raise NoPrivileges()
        victim = self.session(nick)
        why = self._clean(reason) or by
        told = ServerNotice("killed", KILLED, (("by", by), ("reason", why)))
        self.announce(told, [victim])
        self.disconnect(victim, f"Killed ({by} ({why}))")
        return victim

    def wallops(self, session: Session, text: str) -> Wallops:
        """A server operator's message to every user with mode w."""
        nick = self._nick_of(session)
        if "o" not in session.modes:
            raise NoPrivileges()
        text = self._check_text(text)
        event = Wallops(nick, text)
        self._fanout(event, [s for s in self.sessions.values() if "w" in s.modes], exclude=None)
        return event

    # -- server bans ----------------------------------------------------------------------

    def ban(self, session: Session | None, entry: ServerBan) -> list[Session]:
        """A server operator (None: the server's administrator) bans a mask from the
        server; those it matches are put out, and returned so that their doors close them."""
        if session is not None:
            self._nick_of(session)
            if "o" not in session.modes:
                raise NoPrivileges()
        out = self.apply_ban(entry, spare=session)
        for hook in self.ban_hooks:
            hook(entry, entry.mask)
        return out

    def apply_ban(self, entry: ServerBan, spare: Session | None = None) -> list[Session]:
        """Add a server ban and put out whoever it matches (but `spare`, who made it)."""
        self.bans.add(entry)
        out = [
            s for s in list(self.sessions.values())
            if s is not spare and self.bans.for_user(s.mask, s.account, s.address) is entry
        ]  # fmt: skip
        for victim in out:
            self._put_out(victim, entry)
        return out

    def unban(self, session: Session | None, mask: str) -> ServerBan:
        if session is not None:
            self._nick_of(session)
            if "o" not in session.modes:
                raise NoPrivileges()
        entry = self.bans.remove(mask)
        for hook in self.ban_hooks:
            hook(None, entry.mask)
        return entry

    def _check_banned(self, session: Session, nick: str, account: str) -> None:
        if not len(self.bans):
            return
        user = session.user or nick
        entry = self.bans.for_user(f"{nick}!{user}@tertulia", account, session.address)
        if entry is not None:
            self._put_out(session, entry)
            raise ServerBanned(reason=entry.reason)

    def _put_out(self, session: Session, entry: ServerBan) -> None:
        self.disconnect(session, "Banned")
        if self.on_banned is not None:
            self.on_banned(session, entry)

    def session(self, nick: str) -> Session:
        found = self.sessions.get(fold(nick))
        if found is None:
            raise NoSuchNick(nick=nick)
        return found

    # -- rooms ----------------------------------------------------------------------------

    def join(self, session: Session, room: str, key: str = "") -> Room:
        """Make a registered session a member of a room, creating the room if needed."""
        nick = self._nick_of(session)
        check_room(room, self.limits.room_length)
        target = self._room(room, create=True)
        if session.key in target.members:
            return target
        if len(session.rooms) >= self.limits.rooms_per_session:
            raise TooManyRooms(limit=self.limits.rooms_per_session)
        # An invitation is the invited connection's, not its nick's: whoever takes the nick
        # later is not invited. It opens +i, +k and +l once; a ban holds all the same.
        invited = session.id in target.invited
        if target.bans and _banned(target, session.mask):
            raise Banned(room=target.name)
        if "i" in target.modes and not invited and not _listed(target.invex, session.mask):
            raise InviteOnly(room=target.name)
        if target.password and key != target.password and not invited:
            raise BadKey(room=target.name)
        if target.limit and len(target.members) >= target.limit and not invited:
            raise RoomFull(room=target.name)
        target.invited.pop(session.id, None)
        # A registered room is run by its owner's account, whenever it comes back: the
        # others see the owner join, then the server give it +o.
        owner = bool(target.owner) and fold(session.account) == target.owner
        if not target.owner and not target.members and not target.persistent:
            # Whoever makes a room runs it; the rooms that always exist (#lobby) are run by
            # nobody but the server's operators, so no passer-by can kick there.
            target.operators.add(session.key)  # type: ignore[arg-type]
        target.members[session.key] = session  # type: ignore[index]
        target.receivers[session] = None
        session.rooms[target.key] = target
        self._fanout(Joined(room=target.name, nick=nick), target.receivers, exclude=session)
        if owner:
            self._set_op(target, session)
        if session.away:
            # Those who follow away states learn that the newcomer is away (IRCv3 away-notify).
            self._fanout(AwayChanged(nick, session.away), target.receivers, exclude=session)
        return target

    def part(self, session: Session, room: str, reason: str = "") -> None:
        nick = self._nick_of(session)
        target = self._member_room(session, room)
        event = Parted(room=target.name, nick=nick, reason=self._clean(reason))
        self._fanout(event, target.receivers, exclude=session)
        self._leave(session, target)

    def kick(self, session: Session, room: str, nick: str, reason: str = "") -> Kicked:
        """An operator puts a member out of a room; everyone in it, the kicked one included,
        hears it."""
        by = self._nick_of(session)
        target = self._member_room(session, room)
        if not _operates(session, target):
            raise NotOperator(room=target.name)
        victim = target.members.get(fold(nick))
        if victim is None:
            raise NotMember(nick=nick, room=target.name)
        event = Kicked(target.name, victim.nick or nick, by, self._clean(reason))
        self._fanout(event, target.receivers, exclude=None)
        self._leave(victim, target)
        return event

    def expel(self, room: str, nick: str, reason: str = "") -> Kicked:
        """The server's administrator puts a member out of a room (as the server)."""
        target = self.room(room)
        victim = target.members.get(fold(nick))
        if victim is None:
            raise NotMember(nick=nick, room=target.name)
        event = Kicked(
            target.name, victim.nick or nick, self.limits.server_name, self._clean(reason)
        )
        self._fanout(event, target.receivers, exclude=None)
        self._leave(victim, target)
        return event

    def set_modes(
        self, session: Session, room: str, changes: list[tuple[bool, str, str]]
    ) -> tuple[ModeChanged | None, list[TertuliaError]]:
        """Apply (adding, mode, argument) changes as an operator: one event for those that
        changed something, and a refusal for each that could not apply (an unknown mode, a
        bad key); a refused change is refused alone, the others still apply."""
        by = self._nick_of(session)
        target = self._member_room(session, room)
        if not _operates(session, target):
            raise NotOperator(room=target.name)
        done, args = "", []
        sign = ""
        refused: list[TertuliaError] = []
        for adding, mode, arg in changes:
            try:
                shown = self._apply_mode(target, adding, mode, arg, by)
            except TertuliaError as err:
                refused.append(err)
                continue
            if shown is None:
                continue
            if sign != ("+" if adding else "-"):
                sign = "+" if adding else "-"
                done += sign
            done += mode
            if shown:
                args.append(shown)
        if not done:
            return None, refused
        event = ModeChanged(target.name, by, done, tuple(args))
        self._fanout(event, target.receivers, exclude=None)
        return event, refused

    def _apply_mode(self, room: Room, adding: bool, mode: str, arg: str, by: str) -> str | None:
        """Apply one change: None if it changed nothing, else the argument to show (or "")."""
        if mode in "ov":
            member = room.members.get(fold(arg))
            if member is None:
                if fold(arg) not in self.sessions:
                    raise NoSuchNick(nick=arg or "*")
                raise NotMember(nick=arg, room=room.name)
            people = room.operators if mode == "o" else room.voiced
            key = member.key or ""
            if (key in people) == adding:
                return None
            (people.add if adding else people.discard)(key)
            return member.nick or arg
        if mode in "tmins":
            if (mode in room.modes) == adding:
                return None
            (room.modes.add if adding else room.modes.discard)(mode)
            return ""
        if mode == "k":
            if not adding:
                if not room.password:
                    return None
                room.password = ""
                return "*"
            if not arg or " " in arg or "," in arg or len(arg) > KEY_LENGTH:
                raise BadMode(mode="+k")
            _check_fit(arg, "key")  # every member is told the key
            room.password = arg
            return arg
        if mode == "l":
            if not adding:
                if not room.limit:
                    return None
                room.limit = 0
                return ""
            if not arg.isdecimal() or int(arg) < 1:
                raise BadMode(mode="+l")
            room.limit = int(arg)
            return arg
        if mode in LIST_MODES:
            _check_fit(arg, "mask")
            if not arg or " " in arg:
                raise BadMode(mode=mode)
            entries = room.mask_list(mode)
            mask = masks.normalize(arg)
            found = next((m for m in entries if fold(m) == fold(mask)), None)
            if not adding:
                if found is None:
                    return None
                del entries[found]
                return found
            if found is not None:
                return None
            if len(entries) >= MAX_LIST_ENTRIES:
                raise ListFull(room=room.name, mode=mode)
            entries[mask] = MaskEntry(mask, by, self.clock())
            return mask
        raise BadMode(mode=mode)

    def invite(self, session: Session, room: str, nick: str) -> Invited:
        by = self._nick_of(session)
        target = self._member_room(session, room)
        if "i" in target.modes and not _operates(session, target):
            raise NotOperator(room=target.name)
        guest = self.session(nick)
        target.invited[guest.id] = None
        while len(target.invited) > MAX_INVITED:
            del target.invited[next(iter(target.invited))]  # the oldest invitation lapses
        event = Invited(target.name, guest.nick or nick, by)
        self._fanout(event, [guest], exclude=None)
        return event

    def set_away(self, session: Session, message: str) -> AwayChanged:
        """Away with a message, back with an empty one; neighbours hear it once each."""
        nick = self._nick_of(session)
        session.away = self._clean(message)
        event = AwayChanged(nick, session.away)
        self._fanout(event, self._audience(session), exclude=session)
        return event

    def set_realname(self, session: Session, realname: str) -> RealnameChanged:
        """A new real name; neighbours and followers hear it once each."""
        nick = self._nick_of(session)
        realname = realname.strip()
        if not realname or len(realname) > REALNAME_LENGTH:
            raise BadText()
        _check_fit(realname, "realname")
        session.realname = realname
        event = RealnameChanged(nick, realname)
        self._fanout(event, self._audience(session), exclude=session)
        return event

    def redact(self, session: Session, room: str, message_id: int, reason: str = "") -> Redacted:
        """Take back a message: its sender or an operator of its room may. The room's members
        are told and it leaves the replay ring and the store. Only the room's last messages
        (those a newcomer is shown) can be found."""
        nick = self._nick_of(session)
        target = self._member_room(session, room)
        ring = self.recent.get(target.key)
        found = next((m for m in ring or () if m.id == message_id), None)
        if found is None:
            raise UnknownMessage(msgid=str(message_id), room=target.name)
        # The sender is whoever held the nick when it was said and holds it still (or its
        # account): not someone who took the nick after.
        own = (found.account and found.account == session.account) or (
            not found.account and fold(found.sender) == session.key and session.named <= found.ts
        )
        if not own and not _operates(session, target):
            raise RedactForbidden(room=target.name)
        self.recent[target.key] = deque(
            (m for m in ring or () if m is not found), ring.maxlen if ring else None
        )
        self.reactions.pop(message_id, None)
        event = Redacted(target.name, message_id, nick, self._clean(reason))
        self._fanout(event, target.receivers, exclude=None)
        if self.gate is not None:
            self.gate.forget(found)
        return event

    # -- registered rooms -----------------------------------------------------------------

    def claim(self, session: Session, room: str) -> Room:
        """Register a room to the session's account: the room stays when empty and its
        owner is its operator whenever it joins. Its operators (or a server operator) may."""
        self._nick_of(session)
        if not session.account:
            raise NotLoggedIn()
        target = self._member_room(session, room)
        if not _operates(session, target):
            raise NotOperator(room=target.name)
        if target.owner and target.owner != fold(session.account) and "o" not in session.modes:
            raise NotRoomOwner(room=target.name)
        self.set_owner(target.name, fold(session.account))
        return target

    def unclaim(self, session: Session, room: str) -> Room:
        """The owner (or a server operator) gives a room back: it goes once empty again."""
        self._nick_of(session)
        target = self.room(room)
        owner = bool(session.account) and target.owner == fold(session.account)
        if not target.owner or (not owner and "o" not in session.modes):
            raise NotRoomOwner(room=target.name)
        self.set_owner(target.name, "")
        return target

    def set_owner(self, room: str, owner: str) -> None:
        """Register a room to a (folded) account, or give it back with "": a registered
        room stays when empty; one given back goes once empty."""
        target = self._room(room, create=bool(owner)) if owner else self.rooms.get(fold(room))
        if target is None:
            return
        target.owner = owner
        target.persistent = bool(owner) or target.key in {
            fold(r) for r in self.limits.persistent_rooms
        }
        for hook in self.owner_hooks:
            hook(target)
        if target.empty and not target.persistent:
            del self.rooms[target.key]
            self._orphan(target.key)

    def restore_rooms(self, registered: Mapping[str, tuple[str, str]]) -> None:
        """The rooms registered in the store exist from the start, empty, with their owner."""
        for name, owner in registered.values():
            room = self._room(name, create=True)
            room.owner, room.persistent = owner, True

    def _set_op(self, room: Room, session: Session) -> None:
        if session.key in room.operators:
            return
        room.operators.add(session.key)  # type: ignore[arg-type]
        event = ModeChanged(room.name, self.limits.server_name, "+o", (session.nick or "",))
        self._fanout(event, room.receivers, exclude=None)

    def is_operator(self, room: Room, session: Session) -> bool:
        return session.key in room.operators

    def topic(self, session: Session, room: str, topic: str) -> TopicChanged:
        nick = self._nick_of(session)
        target = self._member_room(session, room)
        if "t" in target.modes and not _operates(session, target):
            raise NotOperator(room=target.name)
        topic = topic.strip()
        _check_fit(topic, "topic")
        if _BIDI.search(topic):
            raise BadText()
        if len(topic) > self.limits.topic_length:
            raise TopicTooLong(size=len(topic), limit=self.limits.topic_length)
        target.topic, target.topic_by, target.topic_ts = topic, nick, self.clock()
        event = TopicChanged(room=target.name, nick=nick, topic=topic)
        self._fanout(event, target.receivers, exclude=session)
        return event

    def room(self, room: str) -> Room:
        found = self.rooms.get(fold(room))
        if found is None:
            raise NoSuchRoom(room=room)
        return found

    def room_list(self) -> list[RoomInfo]:
        return [
            RoomInfo(r.name, len(r.members), r.topic)
            for r in sorted(self.rooms.values(), key=lambda r: r.key)
        ]

    # -- messages -------------------------------------------------------------------------

    def say(
        self,
        session: Session,
        room: str,
        text: str,
        kind: Kind = Kind.MESSAGE,
        tags: tuple[tuple[str, str], ...] = (),
        settled: Settled | None = None,
    ) -> RoomMessage:
        """Relay a message to every other receiver of the room; the sender gets no echo.

        `settled` hears whether it went out (see Gate); without one, a message that could
        not be stored is told to its sender as a notice.
        """
        nick = self._nick_of(session)
        target = self._speakable(session, room)
        text = self._check_text(text)
        event = RoomMessage(
            next(self._message_ids), self.clock(), target.name, nick, text, kind,
            session.account, "i" in target.modes or bool(target.password), tags,
        )  # fmt: skip
        session.active = event.ts
        delivery = RoomDelivery(self, event, target, session)
        self._publish(event, delivery, settled or partial(self._settled, session))
        return event

    def _speakable(self, session: Session, room: str) -> Room:
        """The room `session` may speak in: a member, or anyone when the room is -n; not
        while banned (without an exception), nor in a moderated room without voice."""
        target = self.rooms.get(fold(room))
        member = target is not None and session.key in target.members
        if target is None or (not member and "n" in target.modes):
            raise NotInRoom(room=room)
        key = session.key
        if key in target.operators or key in target.voiced:
            return target
        if "m" in target.modes:
            raise Moderated(room=target.name)
        if target.bans and (_banned(target, session.mask) or _muted(target, session.mask)):
            raise CannotSend(room=target.name)
        return target

    def tag(self, session: Session, target: str, tags: tuple[tuple[str, str], ...]) -> TagMessage:
        """Client tags without text to a room or a nick: delivered at once, never stored
        (a reaction to a message, `+draft/react` with `+draft/reply`, is also remembered)."""
        nick = self._nick_of(session)
        for name, value in tags:
            if name in TEXT_TAGS:
                _check_fit(value, "tag")
        event: TagMessage
        if target.startswith("#"):
            room = self._speakable(session, target)
            event = TagMessage(next(self._message_ids), nick, room.name, tags, session.account)
            self._fanout(event, room.receivers, exclude=session)
        else:
            recipient = self.session(target)
            event = TagMessage(
                next(self._message_ids), nick, recipient.nick or target, tags, session.account
            )
            self._fanout(event, (recipient,), exclude=None if recipient is session else session)
        found = dict(tags)
        emoji, msgid = found.get(REACT), found.get(REPLY, "")
        if emoji and msgid.isdecimal():
            self._react(int(msgid), nick, emoji)
        return event

    def _react(self, msgid: int, nick: str, emoji: str) -> None:
        kept = self.reactions.get(msgid)
        if kept is None:
            kept = self.reactions[msgid] = []
            while len(self.reactions) > REACTED_KEPT:
                self.reactions.popitem(last=False)
        if (emoji, nick) not in kept and len(kept) < REACTIONS_PER_MESSAGE:
            kept.append((emoji, nick))
            if self.on_reaction is not None:
                self.on_reaction(msgid, nick, emoji, self.clock())

    def find(self, room: str, msgid: int) -> RoomMessage | None:
        """A recent message of a room (one a newcomer would be shown), by id."""
        for message in self.recent.get(fold(room), ()):
            if message.id == msgid:
                return message
        return None

    def tell(
        self,
        session: Session,
        nick: str,
        text: str,
        kind: Kind = Kind.MESSAGE,
        tags: tuple[tuple[str, str], ...] = (),
        settled: Settled | None = None,
    ) -> PrivateMessage:
        sender = self._nick_of(session)
        recipient = self.sessions.get(fold(nick))
        if recipient is None and not (fold(nick) in self.accounts and self.gate is not None):
            raise NoSuchNick(nick=nick)
        text = self._check_text(text)
        event = PrivateMessage(
            next(self._message_ids),
            self.clock(),
            sender,
            recipient.nick or nick if recipient is not None else nick,
            text,
            kind,
            session.account,
            tags,
        )
        session.active = event.ts
        settled = settled or partial(self._settled, session)
        if recipient is None:
            # A registered nick that is away: kept, and handed over at its next login.
            self.gate.keep(event, fold(nick), settled)  # type: ignore[union-attr]
        else:
            # A message to oneself reaches oneself, as on IRC.
            exclude = None if recipient is session else session
            deliver = partial(self._deliver, event, (recipient,), exclude)
            self._publish(event, deliver, settled)
        return event

    def announce(self, notice: ServerNotice, sessions: Iterable[Session] | None = None) -> None:
        """A notice from the server to the given sessions, or to everyone in every room."""
        if sessions is None:
            everyone: dict[Session, None] = {}
            for room in self.rooms.values():
                everyone.update(room.receivers)
            for s in self.sessions.values():
                everyone[s] = None
            sessions = everyone
            self._fanout(notice, sessions, exclude=None)
        else:
            # Notices to given sessions (a timeout, the shutdown) precede a close: they
            # cannot wait for the gate.
            self._deliver(notice, sessions, exclude=None)

    # -- what core.replica applies for other nodes ---------------------------------------

    def numbering(self, ids: Iterator[int]) -> None:
        """Take message ids from `ids` (a cluster hands out ids no other node uses)."""
        self._message_ids = ids

    def relay(self, event: RoomMessage, room: Room) -> None:
        """Another node's stored message, to this node's members of its room."""
        if self.limits.replay:
            self._ring(room.key).append(event)
        self._deliver(event, room.receivers, exclude=None)

    def relay_private(self, event: PrivateMessage, recipient: Session) -> None:
        self._deliver(event, (recipient,), exclude=None)

    def relay_reaction(self, msgid: int, nick: str, emoji: str) -> None:
        """Another node's reaction, for the replay (that node stored it)."""
        on_reaction, self.on_reaction = self.on_reaction, None
        try:
            self._react(msgid, nick, emoji)
        finally:
            self.on_reaction = on_reaction

    def relay_redaction(self, event: Redacted, room: Room) -> None:
        """Another node took a message back (and out of the store): out of the replay too."""
        ring = self.recent.get(room.key)
        if ring is not None:
            kept = [m for m in ring if m.id != event.msgid]
            if len(kept) != len(ring):
                self.recent[room.key] = deque(kept, ring.maxlen)
        self.reactions.pop(event.msgid, None)
        self._deliver(event, room.receivers, exclude=None)

    def fanout(self, event: Event, recipients: Iterable[Session], exclude: Session | None) -> None:
        """Another node's event, to this node's recipients at once: the bus ordered it, and
        this node's own messages still on their way come after it there."""
        self._deliver(event, recipients, exclude)

    def neighbours(self, session: Session) -> dict[Session, None]:
        return self._neighbours(session)

    def leave(self, session: Session, room: Room) -> None:
        self._leave(session, room)

    def remember(self, session: Session) -> None:
        self._remember(session)

    def present(self, session: Session, nick: str, online: bool) -> None:
        self._present(session, nick, online)

    def room_named(self, name: str) -> Room:
        """The room of that name, made if there is none."""
        return self._room(name, create=True)

    def force_mode(self, room: Room, adding: bool, mode: str, arg: str, by: str) -> None:
        """Apply a mode change another node checked and made; one that no longer applies
        here (a member who left meanwhile) is skipped."""
        with contextlib.suppress(TertuliaError):
            self._apply_mode(room, adding, mode, arg, by)

    # -- internals ------------------------------------------------------------------------

    def _publish(
        self, event: RoomMessage | PrivateMessage, deliver: Callable[[], None], settled: Settled
    ) -> None:
        if self.gate is None:
            deliver()
            settled(event, None)
        else:
            self.gate.durable(event, deliver, settled)

    def _settled(
        self, session: Session, event: RoomMessage | PrivateMessage, error: TertuliaError | None
    ) -> None:
        """Tell a sender whose door did not ask that its message was not sent."""
        if error is not None and not session.gone:
            notice = ServerNotice(error.code, error.template)
            self._deliver(notice, (session,), None)

    def _ring(self, key: str) -> deque[RoomMessage]:
        ring = self.recent.get(key)
        if ring is None:
            ring = self.recent[key] = deque(maxlen=self.limits.replay)
        return ring

    def _fanout(self, event: Event, recipients: Iterable[Session], exclude: Session | None) -> None:
        for hook in self.emitted:
            hook(event)
        gate = self.gate
        if gate is not None and gate.waiting:
            # Messages said before this event are not stored yet: it goes out after them,
            # to whoever should get it now.
            people = [r for r in recipients if r is not exclude]
            gate.later(lambda: self._deliver(event, people, None))
            return
        self._deliver(event, recipients, exclude)

    def _deliver_room(self, delivery: RoomDelivery) -> None:
        event, room = delivery.event, delivery.room
        if self.limits.replay:
            self._ring(room.key).append(event)
        # The members at delivery time: whoever joined meanwhile was not shown it yet.
        self._deliver(event, room.receivers, exclude=delivery.sender)

    def deliver_run(self, run: Sequence[tuple[RoomDelivery, Settled | None]]) -> None:
        """Deliver stored messages of one room, in order, and settle each.

        Each recipient gets what it would get message by message, in one hand-over: the
        run encoded once per wire format and joined once. Only the run's senders, who get
        neither their own messages nor, in between, anything but their own settlements,
        are served piece by piece.
        """
        room = run[0][0].room
        events = [delivery.event for delivery, _ in run]
        if self.limits.replay:
            self._ring(room.key).extend(events)
        senders: dict[Session, None] = {}
        for delivery, _ in run:
            senders[delivery.sender] = None
        encoded: dict[Encoder, tuple[list[bytes | None], bytes, int]] = {}
        count = 0
        for recipient in room.receivers:
            if recipient in senders:
                continue
            found = encoded.get(recipient.encoder)
            if found is None:
                found = encoded[recipient.encoder] = self._encode_run(recipient.encoder, events)
            if found[2]:
                recipient.sink.deliver(found[1])
                count += found[2]
        for sender in senders:
            if sender not in room.receivers:
                parts: list[bytes | None] = []
            else:
                found = encoded.get(sender.encoder)
                if found is None:
                    found = encoded[sender.encoder] = self._encode_run(sender.encoder, events)
                parts = found[0]
            pending: list[bytes] = []
            for (delivery, settled), data in itertools.zip_longest(run, parts):
                if delivery.sender is sender:
                    # What came before its own message, then what became of it.
                    if pending:
                        sender.sink.deliver(b"".join(pending))
                        count += len(pending)
                        pending = []
                    if settled is not None:
                        settled(delivery.event, None)
                elif data is not None:
                    pending.append(data)
            if pending:
                sender.sink.deliver(b"".join(pending))
                count += len(pending)
        self.delivered += count
        self.messages_delivered += count
        for observer in self.observers:
            for event in events:
                observer(event)

    def _encode_run(
        self, encoder: Encoder, events: list[RoomMessage]
    ) -> tuple[list[bytes | None], bytes, int]:
        """Each event's bytes in one wire format (None where it has none), all of them
        joined, and how many there are."""
        parts = [self._encode(encoder, event) for event in events]
        present = [data for data in parts if data is not None]
        return parts, b"".join(present), len(present)

    def _deliver(
        self, event: Event, recipients: Iterable[Session], exclude: Session | None
    ) -> None:
        # Encode once per wire format and hand the very same bytes to every recipient.
        # Neighbours in a room mostly share a format: the last encoder seen is checked by
        # identity before the dict, which is the hot path's one lookup per recipient.
        encoded: dict[Encoder, bytes | None] = {}
        last: Encoder | None = None
        data: bytes | None = None
        count = 0
        # Who came and went, told to a crowd, may wait a moment (see _MAY_WAIT).
        lazy = (
            type(event) in _MAY_WAIT and isinstance(recipients, Sized) and len(recipients) > CROWD
        )
        for recipient in recipients:
            if recipient is exclude:
                continue
            encoder = recipient.encoder
            if encoder is not last:
                last = encoder
                found = encoded.get(encoder, _MISSING)
                if found is _MISSING:
                    found = encoded[encoder] = self._encode(encoder, event)
                data = found  # type: ignore[assignment]
            if data is not None:
                if lazy:
                    recipient.sink.deliver_later(data)
                else:
                    recipient.sink.deliver(data)
                count += 1
        self.delivered += count
        if isinstance(event, RoomMessage | PrivateMessage):
            self.messages_delivered += count
        for observer in self.observers:
            observer(event)

    def _encode(self, encoder: Encoder, event: Event) -> bytes | None:
        """An event in one wire format; None if it has none there, or failed (counted)."""
        try:
            return encoder.encode(event)
        except Exception as exc:
            self._encode_failed(event, exc)
            return None

    def _encode_failed(self, event: Event, exc: Exception) -> None:
        self.encode_failures += 1
        if self.on_encode_failure is not None:
            self.on_encode_failure(event, exc)

    def _audience(self, session: Session) -> dict[Session, None]:
        """Who hears a change of `session`'s state: its neighbours and its followers."""
        seen = self._neighbours(session)
        for follow in self.followers:
            seen.update(dict.fromkeys(follow(session)))
        seen.pop(session, None)
        return seen

    def _neighbours(self, session: Session) -> dict[Session, None]:
        seen: dict[Session, None] = {}
        for room in session.rooms.values():
            seen.update(room.receivers)
        seen.pop(session, None)
        return seen

    def _nick_of(self, session: Session) -> str:
        if session.nick is None:
            raise NotRegistered()
        return session.nick

    def _member_room(self, session: Session, room: str) -> Room:
        target = session.rooms.get(fold(room))
        if target is None or session.key not in target.members:
            raise NotInRoom(room=room)
        return target

    def _room(self, name: str, create: bool) -> Room:
        key = fold(name)
        found = self.rooms.get(key)
        if found is None:
            if not create:
                raise NoSuchRoom(room=name)
            found = self.rooms[key] = Room(name, key, self.clock())
            self._orphans.pop(key, None)
        return found

    def _leave(self, session: Session, room: Room) -> None:
        room.receivers.pop(session, None)
        if session.key is not None:
            room.members.pop(session.key, None)
            room.operators.discard(session.key)
            room.voiced.discard(session.key)
        session.rooms.pop(room.key, None)
        if room.empty and not room.persistent:
            del self.rooms[room.key]
            self._orphan(room.key)

    def _orphan(self, key: str) -> None:
        """A room is gone: its last messages are kept for a while, in case it comes back;
        rooms made and left in a loop must not make them pile up."""
        if key not in self.recent:
            return
        self._orphans[key] = None
        self._orphans.move_to_end(key)
        while len(self._orphans) > ORPHAN_RINGS:
            oldest, _ = self._orphans.popitem(last=False)
            self.recent.pop(oldest, None)

    def clean(self, text: str) -> str:
        """Text from elsewhere than a client (an administrator's announcement) made fit to
        show: no terminal controls or hidden characters, at most a topic's length."""
        return self._clean(text)

    def _clean(self, reason: str) -> str:
        # A reason is shown to others but refusing it would keep someone from leaving:
        # drop what could drive a terminal and cut it to a topic's length instead.
        return _HIDDEN.sub("", _UNFIT.sub("", reason)).strip()[: self.limits.topic_length]

    def _check_text(self, text: str) -> str:
        """The text to send, without hidden characters (_HIDDEN); or why it cannot go."""
        text = _HIDDEN.sub("", text)
        if not text.strip():
            raise EmptyMessage()
        size = len(text.encode("utf-8", "surrogatepass"))
        if size > self.limits.max_message_bytes:
            raise MessageTooLong(size=size, limit=self.limits.max_message_bytes)
        _check_fit(text, "text")
        return text
