"""Other nodes' people in this node's hub: mirrors of their sessions, and their changes
applied as facts.

In a cluster every node's hub holds the whole chat: its own sessions, and a mirror of each
session another node serves. A mirror is a member of its rooms, so that names, WHO, WHOIS,
nick uniqueness and room modes read the same everywhere, but it never receives bytes here
(it is in no room's receivers): its own node delivers to it. Facts read from the bus are
applied here in the bus's order, and whoever shares a room with them on this node hears
them as if they had happened locally. Applying the same fact twice changes nothing, so a
node may read the shared state and then the facts that follow it without a gap.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from tertulia.core.bans import ServerBan
from tertulia.core.errors import TertuliaError
from tertulia.core.events import (
    AwayChanged,
    Event,
    Invited,
    Joined,
    Kicked,
    ModeChanged,
    NickChanged,
    Parted,
    PrivateMessage,
    Quit,
    Redacted,
    RoomMessage,
    TagMessage,
    TopicChanged,
)
from tertulia.core.hub import MAX_INVITED, REACT, REPLY, Hub
from tertulia.core.names import fold
from tertulia.core.session import Door, Session


@dataclass(frozen=True, slots=True)
class Hello:
    """A session another node serves, as everyone may see it: what a mirror is made of."""

    nick: str
    user: str = ""
    realname: str = ""
    account: str = ""
    away: str = ""
    modes: str = ""
    since: float = 0.0
    # (room name, "o", "v" or ""): its rooms and its standing in each.
    rooms: tuple[tuple[str, str], ...] = ()


def hello(session: Session) -> Hello:
    """What other nodes are told of a local session."""
    rooms = []
    for room in session.rooms.values():
        key = session.key or ""
        if key not in room.members:
            continue
        flag = "o" if key in room.operators else "v" if key in room.voiced else ""
        rooms.append((room.name, flag))
    return Hello(
        session.nick or "", session.user, session.realname, session.account, session.away,
        session.modes, session.since, tuple(rooms),
    )  # fmt: skip


class _Nowhere:
    """A mirror's sink and encoder: its own node delivers to it, this one never does."""

    __slots__ = ()

    def deliver(self, data: bytes) -> None:
        pass

    def deliver_later(self, data: bytes) -> None:
        pass

    def close(self, data: bytes | None = None) -> None:
        pass

    def encode(self, event: Event) -> bytes | None:
        return None


NOWHERE = _Nowhere()


class Mirror(Session):
    """A session served by another node."""

    __slots__ = ("node",)

    def __init__(self, session_id: int, node: str) -> None:
        super().__init__(session_id, NOWHERE, NOWHERE, Door.PLAIN, "")
        self.node = node

    def __repr__(self) -> str:
        return f"<Mirror {self.id} {self.nick} on {self.node}>"


class Replica:
    """Applies other nodes' facts to a hub."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self._ids = -1  # mirrors get negative ids: never those of a local session
        # True while a fact is applied: a mirror that leaves meanwhile left on its node;
        # one that leaves otherwise was put out here (a KILL, a server ban).
        self.applying = False

    def mirror(self, node: str, nick: str) -> Mirror | None:
        """The mirror of `nick` served by `node`, if this node knows it."""
        found = self.hub.sessions.get(fold(nick))
        return found if isinstance(found, Mirror) and found.node == node else None

    def mirrors(self, node: str | None = None) -> list[Mirror]:
        found = [s for s in self.hub.sessions.values() if isinstance(s, Mirror)]
        return [m for m in found if node is None or m.node == node]

    # -- sessions -------------------------------------------------------------------------

    def hello(self, node: str, state: Hello) -> Mirror | None:
        """A session of `node`, made or brought up to date; None if a session of this node
        holds the nick (the leases decide who keeps it: see server.cluster)."""
        hub = self.hub
        key = fold(state.nick)
        found = hub.sessions.get(key)
        if found is not None and not (isinstance(found, Mirror) and found.node == node):
            if not isinstance(found, Mirror):
                return None
            # The nick moved to another node (its old owner is gone): the old mirror leaves.
            self.quit(found.node, found.nick or "", "")
            found = None
        mirror = found if isinstance(found, Mirror) else None
        if mirror is None:
            mirror = Mirror(self._ids, node)
            self._ids -= 1
            mirror.nick, mirror.key = state.nick, key
            mirror.since = mirror.named = mirror.active = state.since
            hub.sessions[key] = mirror
            # Counted as connected (hub.disconnect uncounts whoever it puts out, a mirror
            # too: a KILL, a server ban), so that LUSERS's arithmetic holds.
            hub.connected += 1
            hub.peak = max(hub.peak, len(hub.sessions))
            hub.present(mirror, state.nick, True)
        if state.account:
            hub.accounts.add(fold(state.account))  # registered: protected here too
        mirror.user, mirror.realname = state.user, state.realname
        mirror.modes = state.modes
        if mirror.account != state.account:
            mirror.account = state.account
        if mirror.away != state.away:
            self.away(node, AwayChanged(state.nick, state.away))
        wanted = {fold(name): (name, flag) for name, flag in state.rooms}
        for room_key in [k for k in mirror.rooms if k not in wanted]:
            room = mirror.rooms[room_key]
            self.part(node, Parted(room.name, state.nick))
        for name, flag in wanted.values():
            self.join(node, Joined(name, state.nick), flag)
        return mirror

    def nick(self, node: str, event: NickChanged) -> None:
        mirror = self.mirror(node, event.old)
        if mirror is None or event.old == event.new:
            return
        hub = self.hub
        key = fold(event.new)
        if key in hub.sessions and hub.sessions[key] is not mirror:
            return  # a local session holds it: the leases settle who keeps it
        old_key = mirror.key or ""
        hub.remember(mirror)
        del hub.sessions[old_key]
        mirror.nick, mirror.key = event.new, key
        mirror.named = hub.clock()
        hub.sessions[key] = mirror
        for room in mirror.rooms.values():
            room.members.pop(old_key, None)
            room.members[key] = mirror
            for people in (room.operators, room.voiced):
                if old_key in people:
                    people.discard(old_key)
                    people.add(key)
        hub.fanout(event, hub.neighbours(mirror), exclude=mirror)
        if old_key != key:
            hub.present(mirror, event.old, False)
            hub.present(mirror, event.new, True)

    def quit(self, node: str, nick: str, reason: str) -> None:
        mirror = self.mirror(node, nick)
        if mirror is None:
            return
        self.applying = True
        try:
            self._quit(mirror, nick, reason)
        finally:
            self.applying = False

    def _quit(self, mirror: Mirror, nick: str, reason: str) -> None:
        hub = self.hub
        mirror.gone = True
        hub.connected -= 1
        neighbours = hub.neighbours(mirror)
        for room in list(mirror.rooms.values()):
            hub.leave(mirror, room)
        hub.remember(mirror)
        del hub.sessions[mirror.key or ""]
        hub.fanout(Quit(nick=mirror.nick or nick, reason=reason), neighbours, exclude=mirror)
        hub.present(mirror, mirror.nick or nick, False)

    def node_gone(self, node: str, reason: str) -> int:
        """Every session of a node that died or left quits; how many there were."""
        gone = self.mirrors(node)
        for mirror in gone:
            self.quit(node, mirror.nick or "", reason)
        return len(gone)

    def ban(self, entry: ServerBan | None, mask: str) -> None:
        """Another node's operator banned `mask` from the server (lifted it: None): this
        node's users it matches are put out."""
        if entry is None:
            with contextlib.suppress(TertuliaError):
                self.hub.bans.remove(mask)
            return
        self.applying = True
        try:
            self.hub.apply_ban(entry)
        finally:
            self.applying = False

    def owner(self, room: str, owner: str) -> None:
        """Another node registered a room to an account (or gave it back: "")."""
        self.applying = True
        try:
            self.hub.set_owner(room, owner)
        finally:
            self.applying = False

    def away(self, node: str, event: AwayChanged) -> None:
        mirror = self.mirror(node, event.nick)
        if mirror is None:
            return
        mirror.away = event.message
        self.hub.fanout(event, self.hub.neighbours(mirror), exclude=mirror)

    # -- rooms ----------------------------------------------------------------------------

    def join(self, node: str, event: Joined, flag: str = "") -> None:
        mirror = self.mirror(node, event.nick)
        if mirror is None:
            return
        hub = self.hub
        room = hub.room_named(event.room)
        key = mirror.key or ""
        if key not in room.members:
            room.members[key] = mirror
            mirror.rooms[room.key] = room
            hub.fanout(Joined(room.name, mirror.nick or ""), room.receivers, exclude=None)
        # Standing is applied as the other node decided it (the first in a room runs it),
        # so that every node agrees even when two made the room at the same moment.
        if flag == "o":
            room.operators.add(key)
        elif flag == "v":
            room.voiced.add(key)

    def part(self, node: str, event: Parted) -> None:
        mirror = self.mirror(node, event.nick)
        room = self.hub.rooms.get(fold(event.room))
        if mirror is None or room is None or mirror.key not in room.members:
            return
        self.hub.fanout(event, room.receivers, exclude=None)
        self.hub.leave(mirror, room)

    def kick(self, node: str, event: Kicked) -> None:
        """Someone of `node` kicked someone (of any node) out of a room."""
        if self.mirror(node, event.by) is None and event.by != self.hub.limits.server_name:
            return
        room = self.hub.rooms.get(fold(event.room))
        victim = room.members.get(fold(event.nick)) if room is not None else None
        if room is None or victim is None:
            return
        self.hub.fanout(event, room.receivers, exclude=None)
        self.hub.leave(victim, room)

    def invite(self, node: str, event: Invited) -> None:
        """Someone of `node` invited a user of this node: the invitation is kept here,
        where that user joins, and the user is told."""
        room = self.hub.rooms.get(fold(event.room))
        guest = self.hub.sessions.get(fold(event.nick))
        if room is None or guest is None or isinstance(guest, Mirror):
            return
        if self.mirror(node, event.by) is None:
            return
        room.invited[guest.id] = None
        while len(room.invited) > MAX_INVITED:
            del room.invited[next(iter(room.invited))]  # the oldest invitation lapses
        self.hub.fanout(event, (guest,), exclude=None)

    def topic(self, node: str, event: TopicChanged, ts: float) -> None:
        room = self.hub.rooms.get(fold(event.room))
        if room is None or self.mirror(node, event.nick) is None:
            return
        room.topic, room.topic_by, room.topic_ts = event.topic, event.nick, ts
        self.hub.fanout(event, room.receivers, exclude=None)

    def modes(self, node: str, event: ModeChanged) -> None:
        """Apply a room's mode change as its node applied it (it checked the rights)."""
        room = self.hub.rooms.get(fold(event.room))
        by_server = event.by == self.hub.limits.server_name  # an owner given +o on joining
        if room is None or (self.mirror(node, event.by) is None and not by_server):
            return
        args = iter(event.args)
        adding = True
        for mode in event.modes:
            if mode in "+-":
                adding = mode == "+"
                continue
            takes = mode in "ovkbeI" or (mode == "l" and adding)
            arg = next(args, "") if takes else ""
            self.hub.force_mode(room, adding, mode, arg, event.by)
        self.hub.fanout(event, room.receivers, exclude=None)

    # -- messages -------------------------------------------------------------------------

    def message(self, event: RoomMessage) -> None:
        """A stored message of another node: to this node's members of its room."""
        room = self.hub.rooms.get(fold(event.room))
        if room is not None:
            self.hub.relay(event, room)

    def tag(self, node: str, event: TagMessage) -> None:
        """Client tags without text (typing, a reaction): to the room's members here, or to
        the nick if this node serves it."""
        if self.mirror(node, event.sender) is None:
            return
        hub = self.hub
        if event.target.startswith("#"):
            room = hub.rooms.get(fold(event.target))
            if room is not None:
                hub.fanout(event, room.receivers, exclude=None)
        else:
            recipient = hub.sessions.get(fold(event.target))
            if recipient is not None and not isinstance(recipient, Mirror):
                hub.fanout(event, (recipient,), exclude=None)
        found = dict(event.tags)
        emoji, msgid = found.get(REACT), found.get(REPLY, "")
        if emoji and msgid.isdecimal():
            hub.relay_reaction(int(msgid), event.sender, emoji)

    def redact(self, node: str, event: Redacted) -> None:
        room = self.hub.rooms.get(fold(event.room))
        if room is not None and self.mirror(node, event.by) is not None:
            self.hub.relay_redaction(event, room)

    def private(self, event: PrivateMessage) -> None:
        recipient = self.hub.sessions.get(fold(event.target))
        if recipient is not None and not isinstance(recipient, Mirror):
            self.hub.relay_private(event, recipient)
