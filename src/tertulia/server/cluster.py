"""A node of a cluster: this server's part of one chat shared with other processes.

What happens here goes out as facts on the bus, and what happens on other nodes comes back
as facts that core.replica applies, all in the bus's one order. Room and private messages
are stored first (the history gate), then put on the bus, and delivered on every node,
this one included, when they come back from it: so every member of a room sees its
messages in the same order, and nobody receives a message that is not in history.

Nicks are leased: a node holds each of its users' nicks, and its own life, for
`cluster_lease` seconds at a time and renews them; a node that dies loses both when the
lease runs out, and the others put its users out. While the bus is away, a node goes on
serving its own users at once and keeps what it has to tell; when the bus is back, it
tells it in order. docs/cluster.md has the whole design and its guarantees.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from tertulia.bus import Bus, BusDown
from tertulia.bus.facts import Account, Announce, Fact, Kill, Owner, Unban, decode, encode
from tertulia.core.bans import ServerBan
from tertulia.core.errors import N_, NickInUse, TertuliaError
from tertulia.core.events import (
    AccountChanged,
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
    RealnameChanged,
    Redacted,
    RoomMessage,
    ServerNotice,
    TagMessage,
    TopicChanged,
)
from tertulia.core.hub import KILLED, Hub, RoomDelivery, Settled
from tertulia.core.names import fold
from tertulia.core.replica import Hello, Mirror, Replica, hello
from tertulia.core.session import Session
from tertulia.server.accounts import account_moved
from tertulia.server.history import deliver_run

if TYPE_CHECKING:
    from tertulia.core.room import Room
    from tertulia.server.history import History
    from tertulia.server.metrics import Stats

log = logging.getLogger(__name__)

SLOTS = 64  # nodes numbering messages at once: an id is a count times SLOTS plus a slot
RETRY_EVERY = 1.0  # seconds between two attempts while the bus is away
READ_WAIT = 1.0  # seconds a read waits on the bus for the next fact
READ_COUNT = 1000  # facts read at once
FLUSH_COUNT = 1000  # facts written at once
# Seconds a stored message may wait to come back from the bus before it is delivered here
# all the same (the bus lost it: a Redis restart between the write and the read).
ROUND_TRIP_LIMIT = 2.0


class ClusterUnavailable(TertuliaError):
    code = "cluster_unavailable"
    template = N_("cannot join the cluster at {where}: {reason}")


class Numbering:
    """Message ids no other node hands out: (count × SLOTS) + this node's slot. The count
    follows every id this node sees, so a reply always has a bigger id than what it
    answers, whichever node it comes from."""

    def __init__(self, slot: int, last_id: int) -> None:
        self.slot = slot
        self.count = last_id // SLOTS

    def __iter__(self) -> Iterator[int]:
        return self

    def __next__(self) -> int:
        self.count += 1
        return self.count * SLOTS + self.slot

    def seen(self, msg_id: int) -> None:
        if msg_id // SLOTS > self.count:
            self.count = msg_id // SLOTS


class _Waiting:
    """A stored message of this node on its way round the bus, or an event held behind it."""

    __slots__ = ("deliver", "done", "event", "settled", "since")

    def __init__(
        self,
        event: RoomMessage | PrivateMessage | None,
        deliver: Callable[[], None],
        settled: Settled | None,
        since: float,
    ) -> None:
        self.event = event
        self.deliver = deliver
        self.settled = settled
        self.since = since
        self.done = event is None


class ClusterGate:
    """The hub's Gate in a cluster: the history gate stores, then the bus orders."""

    def __init__(self, history: History, cluster: Cluster) -> None:
        self.history = history
        self.cluster = cluster
        self.order: deque[_Waiting] = deque()

    @property
    def waiting(self) -> bool:
        return bool(self.order) or self.history.waiting

    def durable(
        self, event: RoomMessage | PrivateMessage, deliver: Callable[[], None], settled: Settled
    ) -> None:
        def stored() -> None:
            self.cluster.stored(event, deliver, settled)

        def told(event: RoomMessage | PrivateMessage, error: TertuliaError | None) -> None:
            if error is not None:  # not stored: nobody gets it, the sender is told why
                settled(event, error)

        self.history.durable(event, stored, told)

    def later(self, deliver: Callable[[], None]) -> None:
        self.history.later(lambda: self._later(deliver))

    def _later(self, deliver: Callable[[], None]) -> None:
        if self.order:
            self.order.append(_Waiting(None, deliver, None, 0.0))
        else:
            deliver()

    def forget(self, event: RoomMessage) -> None:
        self.history.forget(event)

    def keep(self, event: PrivateMessage, account: str, settled: Settled) -> None:
        self.history.keep(event, account, settled)

    def drain(self) -> None:
        """Deliver what is done at the front, in order."""
        order = self.order
        while order and order[0].done:
            item = order.popleft()
            try:
                item.deliver()
                if item.settled is not None and item.event is not None:
                    item.settled(item.event, None)
            except Exception:
                log.exception("internal error delivering an event")


class Cluster:
    """This node: its facts out, the others' facts in, its leases, and its view of the
    other nodes."""

    def __init__(
        self,
        bus: Bus,
        hub: Hub,
        history: History,
        stats: Stats,
        node: str = "",
        lease: float = 15.0,
        addresses: Callable[[], list[str]] | None = None,
    ) -> None:
        self.bus = bus
        self.hub = hub
        self.history = history
        self.stats = stats
        self.node = node or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.lease = lease
        self.replica = Replica(hub)
        # The sender of a message whose sender this node does not know (a room open to
        # outsiders, -n): a session in no room's receivers, as a mirror is.
        self._nobody = Mirror(0, "")
        self.gate = ClusterGate(history, self)
        self.numbering: Numbering | None = None
        self._addresses = addresses or list
        self._loop: asyncio.AbstractEventLoop | None = None
        self._after = "0-0"  # the position of the last fact read
        self._out: list[tuple[str, Session | None, Any]] = []  # what to tell, in order
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._mine: dict[int, Session] = {}  # this node's registered sessions, by id
        self._told: dict[int, str] = {}  # the nick the others know each of them by
        # What the others were last told of each (user modes, operator status and the like
        # change without an event: a heartbeat finds the difference and tells it).
        self._said: dict[int, Hello] = {}
        self._dirty: dict[int, Session] = {}  # sessions whose shared state is stale
        self._gone: set[str] = set()  # folded nicks whose shared state goes
        self._awaiting: dict[int, _Waiting] = {}  # this node's messages on the bus, by id
        # Hellos of other nodes for a nick a local session held when they came: if the
        # leases give the nick to the other node, its user is made from them.
        self._shadowed: dict[str, tuple[str, Hello]] = {}
        self._reread: set[str] = set()  # nodes whose sessions to read again at the next beat
        self._slot = -1
        self._stopping = False
        # Batches of facts are numbered for this run of the node, so that one sent again
        # after a timeout, which Redis may have run all the same, is kept once.
        self._incarnation = uuid.uuid4().hex
        self._batches = 0
        self._retry: tuple[int, list[bytes]] | None = None
        self._resync_at = 0.0  # when to read the shared state again (0: no need)
        self.up = False
        self._up_since = 0.0  # when the bus last came back (or this node joined)
        self.lag = 0.0  # seconds between a fact's writing and its reading, lately
        self.facts_out = 0
        self.facts_in = 0
        self.bytes_out = 0
        self.nodes: dict[str, dict[str, Any]] = {}

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self, last_id: int) -> None:
        """Join the cluster; ClusterUnavailable (one line) if the bus cannot be used."""
        self._loop = asyncio.get_running_loop()
        try:
            await self.bus.open()
            await self._own_name()
            self._slot = await self._take_slot()
            self._after = await self.bus.last()
            await self._catch_up()
        except BusDown as exc:
            with contextlib.suppress(BusDown):
                await self.bus.close()
            raise ClusterUnavailable(where=self.bus.where, reason=str(exc)) from None
        self.numbering = Numbering(self._slot, last_id)
        self.hub.numbering(self.numbering)
        self.hub.emitted.append(self._observed)
        self.hub.presence.append(self._presence)
        self.hub.departed.append(self._departed)
        self.hub.ban_hooks.append(self._banned)
        self.hub.owner_hooks.append(self._owned)
        self._set_up(True)
        loop = self._loop
        work_list = (
            self._read_forever(), self._flush_forever(), self._beat_forever(),
            self._watch_forever(),
        )  # fmt: skip
        for work in work_list:
            self._tasks.append(loop.create_task(work))
        log.info(
            "cluster joined",
            extra={"node": self.node, "bus": self.bus.where, "slot": self._slot},
        )

    async def stop(self, grace: float = 2.0) -> None:
        """Tell the others what is left and that this node leaves, within `grace` seconds."""
        try:
            async with asyncio.timeout(grace):
                while (self._out or self._retry) and self.up:
                    self._wake.set()
                    await asyncio.sleep(0.01)
        except TimeoutError:
            log.warning("cluster: leaving with facts untold", extra={"facts": len(self._out)})
        # The loops also end on this flag: a cancellation that lands while a Redis call
        # times out can be taken for the timeout (asyncio.timeout on Python 3.11).
        self._stopping = True
        self._wake.set()
        for task in self._tasks:
            task.cancel()
        await asyncio.wait(self._tasks, timeout=grace)
        for item in self.gate.order:
            item.done = True
        self.gate.drain()
        try:
            async with asyncio.timeout(grace):
                await self.bus.append([encode(self.node, time.time(), None, type_="bye")], None)
                nicks = ["nick:" + fold(n) for n in self._told.values()]
                await self.bus.release([*nicks, f"slot:{self._slot}"], self.node)
                await self.bus.forget(self.node)
        except (BusDown, TimeoutError):
            log.warning("cluster: left without telling the others (they will time it out)")
        with contextlib.suppress(BusDown, Exception):
            await self.bus.close()

    async def _own_name(self) -> None:
        """Take this node's name. A node restarted under its name right after a crash
        waits for the old lease to lapse (a live node renews it: then the name is refused),
        and the others drop what they knew of the old one: its users are not coming back."""
        deadline = time.monotonic() + self.lease + 1.0
        while self.node in await self.bus.nodes():
            if time.monotonic() > deadline:
                raise BusDown(f"node name {self.node} is in use by a live node")
            log.warning(
                "cluster: waiting for this node's name to be free", extra={"node": self.node}
            )
            await asyncio.sleep(self.lease / 10)
        if self.node in await self.bus.known():
            await self.bus.forget(self.node)
            await self.bus.append([encode(self.node, time.time(), None, type_="bye")], None)
        await self.bus.beat(self.node, self._info(), self.lease)

    async def _take_slot(self) -> int:
        for slot in range(SLOTS):
            if await self.bus.claim(f"slot:{slot}", self.node, self.lease) == self.node:
                return slot
        raise BusDown(f"all {SLOTS} message-number slots are taken")

    async def _catch_up(self) -> None:
        """Read the shared state: every live node's sessions, and the rooms' topics and
        modes. Facts read after it may repeat some of it; applying them again is harmless."""
        rooms = await self.bus.rooms()
        alive = await self.bus.nodes()
        for node in alive:
            if node == self.node:
                continue
            self.nodes[node] = _parse(alive[node])
            for data in await self.bus.sessions(node):
                fact = decode(data)
                if fact is not None and isinstance(fact.event, Hello):
                    self.replica.hello(node, fact.event)
        for key, data in rooms.items():
            self._room_state(key, data)

    async def _resync(self) -> None:
        """Read every live node's users again: those missing here are made, those gone
        from their node's state go (a quit this node never read)."""
        log.warning("cluster: reading the shared state again")
        for node in await self.bus.nodes():
            if node == self.node:
                continue
            present: set[str] = set()
            for data in await self.bus.sessions(node):
                fact = decode(data)
                if fact is not None and isinstance(fact.event, Hello):
                    present.add(fold(fact.event.nick))
                    self.replica.hello(node, fact.event)
            for mirror in self.replica.mirrors(node):
                if mirror.key not in present:
                    self.replica.quit(node, mirror.nick or "", "")

    def _room_state(self, key: str, data: bytes) -> None:
        room = self.hub.rooms.get(key)
        if room is None:
            return
        with contextlib.suppress(ValueError, KeyError, TypeError):
            state = json.loads(data)
            room.topic, room.topic_by, room.topic_ts = state["topic"], state["by"], state["at"]
            room.modes = set(state["modes"])
            room.password, room.limit = state["key"], int(state["limit"])

    def _info(self) -> bytes:
        hub = self.hub
        mine = sum(1 for s in hub.sessions.values() if not isinstance(s, Mirror))
        return json.dumps({
            "node": self.node, "pid": os.getpid(), "host": socket.gethostname(),
            "clients": mine, "connections": hub.connected - (len(hub.sessions) - mine),
            "lag": round(self.lag, 6),
            "facts_out": self.facts_out, "facts_in": self.facts_in,
            "addresses": self._addresses(), "at": time.time(),
        }).encode()  # fmt: skip

    def figures(self) -> dict[str, float]:
        """What /metrics shows of the cluster."""
        return {
            "nodes": len(self.nodes) + 1, "lag": self.lag, "out": self.facts_out,
            "in": self.facts_in, "bytes": self.bytes_out,
        }  # fmt: skip

    def _set_up(self, up: bool, reason: str = "") -> None:
        if up and not self.up:
            self._up_since = time.monotonic()
            log.info("cluster bus answers", extra={"bus": self.bus.where})
        elif not up and self.up:
            log.error("cluster bus away", extra={"bus": self.bus.where, "reason": reason})
        if not up:
            self.stats.bus_failures += 1
            # Stored messages waiting to come back from the bus go to this node's users
            # now; the others get them when the bus is back (docs/cluster.md).
            for item in self.gate.order:
                item.done = True
            self._awaiting.clear()
            self.gate.drain()
        self.up = up
        self.stats.bus_up = up

    # -- what happens here ----------------------------------------------------------------

    def stored(
        self, event: RoomMessage | PrivateMessage, deliver: Callable[[], None], settled: Settled
    ) -> None:
        """A message of this node is stored: round the bus, then delivered in its order."""
        item = _Waiting(event, deliver, settled, time.monotonic())
        self.gate.order.append(item)
        self._send(None, event)
        if self.up and not self._stopping:
            self._awaiting[event.id] = item
        else:
            item.done = True
            self.gate.drain()

    def _send(self, session: Session | None, event: Any, flag: str = "") -> None:
        self._out.append(("fact", session, encode(self.node, time.time(), event, flag)))
        self._wake.set()

    def announce(self, text: str) -> None:
        """Tell the users of the other nodes what this node's administrator announced."""
        self._send(None, Announce(text))

    def account_moved(self, old: str, new: str) -> None:
        """Tell the other nodes that this node's administrator renamed the account `old` to
        `new`, or dropped it (""): each moves its registered nicks and its own users."""
        self._send(None, Account(old, new))

    def _owned(self, room: Room) -> None:
        if not self.replica.applying:
            self._send(None, Owner(room.name, room.owner))

    def _banned(self, entry: ServerBan | None, mask: str) -> None:
        self._send(None, entry if entry is not None else Unban(mask))

    def _presence(self, session: Session, nick: str, online: bool) -> None:
        if online and not isinstance(session, Mirror) and session.id not in self._mine:
            self._mine[session.id] = session
            self._out.append(("hello", session, None))
            self._wake.set()

    def _departed(self, session: Session, reason: str) -> None:
        """A session left this hub: one of this node's users quit, or an operator here put
        out another node's user (a KILL; a server ban goes out as a ban), whose node then
        closes it and tells everyone."""
        if isinstance(session, Mirror):
            if not self.replica.applying and reason.startswith("Killed (") and reason[-2:] == "))":
                by, _, why = reason[len("Killed (") : -2].partition(" (")
                self._send(None, Kill(session.node, session.nick or "", by, why))
            return
        sid = session.id
        if self._mine.pop(sid, None) is None:
            return
        self._dirty.pop(sid, None)
        self._said.pop(sid, None)
        told = self._told.pop(sid, None)
        if told is not None:
            self._send(None, Quit(told, reason))
            self._gone.add(fold(told))
            self._out.append(("release", None, fold(told)))

    def _local(self, nick: str) -> Session | None:
        found = self.hub.sessions.get(fold(nick))
        return found if found is not None and found.id in self._mine else None

    def _observed(self, event: Event) -> None:
        """Every event but messages, as it happens here (before any wait for the gate):
        those this node's users made go to the others, in the order they happened."""
        match event:
            case Joined(room=room_name, nick=nick):
                session = self._local(nick)
                room = self.hub.rooms.get(fold(room_name))
                if session is not None and room is not None:
                    key = session.key or ""
                    flag = "o" if key in room.operators else "v" if key in room.voiced else ""
                    self._send(session, event, flag)
                    self._touch(session)
            case Parted(nick=nick) | AwayChanged(nick=nick):
                session = self._local(nick)
                if session is not None:
                    self._send(session, event)
                    self._touch(session)
            case Kicked(by=by) | ModeChanged(by=by):
                # The server itself gives a registered room's owner +o as it joins.
                if self._local(by) is not None or by == self.hub.limits.server_name:
                    self._send(None, event)
                    if isinstance(event, ModeChanged):
                        self._share_room(event.room)
                self._touch_room(event.room)
            case TagMessage(sender=nick) | Redacted(by=nick) | Invited(by=nick):
                if self._local(nick) is not None:
                    self._send(None, event)
            case TopicChanged(nick=nick):
                if self._local(nick) is not None:
                    self._send(None, event)
                    self._share_room(event.room)
            case NickChanged(new=new):
                session = self._local(new)
                if session is not None:
                    self._out.append(("nick", session, None))
                    self._wake.set()
            case AccountChanged(nick=nick) | RealnameChanged(nick=nick):
                session = self._local(nick)
                if session is not None:
                    self._out.append(("hello", session, None))
                    self._wake.set()

    def _touch(self, session: Session) -> None:
        if session.id in self._told:
            self._dirty[session.id] = session

    def _touch_room(self, name: str) -> None:
        room = self.hub.rooms.get(fold(name))
        if room is not None:
            for member in room.members.values():
                if member.id in self._mine:
                    self._touch(member)

    def _share_room(self, name: str) -> None:
        room = self.hub.rooms.get(fold(name))
        if room is None:
            return
        state = json.dumps({
            "name": room.name, "topic": room.topic, "by": room.topic_by, "at": room.topic_ts,
            "modes": sorted(room.modes), "key": room.password, "limit": room.limit,
        }).encode()  # fmt: skip
        self._out.append(("room", None, (room.key, state)))
        self._wake.set()

    # -- telling the others ---------------------------------------------------------------

    async def _flush_forever(self) -> None:
        while not self._stopping:
            await self._wake.wait()
            self._wake.clear()
            while (self._out or self._dirty or self._gone) and not self._stopping:
                try:
                    await self._flush()
                except BusDown as exc:
                    self._set_up(False, str(exc))
                    await asyncio.sleep(RETRY_EVERY)
                    continue
                if not self.up:
                    self._set_up(True)

    async def _flush(self) -> None:
        """Tell the next facts in order: up to the next step that needs an answer (a nick
        to claim), then that step."""
        if self._retry is not None:
            # A batch that may or may not have reached the bus (a timeout): sent again as
            # it was, under the same number, so that the bus keeps it once.
            await self._append(*self._retry)
        facts: list[bytes] = []
        count = 0
        for kind, _, payload in self._out:
            if kind != "fact" or len(facts) >= FLUSH_COUNT:
                break
            facts.append(payload)
            count += 1
        # What is being told leaves the queue first: a nick lost meanwhile (the leases'
        # task) filters the queue, and must not shift what this step takes off it.
        if facts:
            del self._out[:count]
            self._batches += 1
            await self._append(self._batches, facts)
        elif self._out:
            item = self._out.pop(0)
            try:
                await self._step(*item)
            except BusDown:
                self._out.insert(0, item)
                raise
        if not self._out and (self._dirty or self._gone):
            dirty, self._dirty = self._dirty, {}
            gone, self._gone = self._gone, set()
            shared = {
                fold(self._told[s.id]): encode(self.node, time.time(), hello(s))
                for s in dirty.values()
                if s.id in self._told and not s.gone
            }
            try:
                await self.bus.put_sessions(self.node, shared, sorted(gone - set(shared)))
            except BusDown:
                self._dirty.update(dirty)
                self._gone |= gone
                raise

    async def _append(self, number: int, facts: list[bytes]) -> None:
        self._retry = (number, facts)
        await self.bus.append(facts, (self._incarnation, number))
        self._retry = None
        self.facts_out += len(facts)
        self.bytes_out += sum(map(len, facts))

    async def _step(self, kind: str, session: Session | None, payload: Any) -> None:
        if kind == "room":
            await self.bus.put_room(*payload)
            return
        if kind == "release":
            await self.bus.release(["nick:" + payload], self.node)
            return
        assert session is not None
        if session.gone or session.nick is None:
            return
        nick, sid = session.nick, session.id
        holder = await self.bus.claim("nick:" + fold(nick), self.node, self.lease)
        if holder != self.node:
            self._lost(session, nick)
            return
        told = self._told.get(sid)
        facts = []
        if told is not None and told != nick:
            # Whatever the step, the others learn the new nick first: a hello under it
            # alone would leave them a user under the old one for good.
            if fold(told) != fold(nick):
                await self.bus.release(["nick:" + fold(told)], self.node)
                self._gone.add(fold(told))
            facts.append(encode(self.node, time.time(), NickChanged(told, nick)))
        if kind == "hello" or told is None:
            said = self._said[sid] = hello(session)
            facts.append(encode(self.node, time.time(), said))
        if facts:
            self._batches += 1
            await self._append(self._batches, facts)
        self._told[sid] = nick
        self._dirty[sid] = session
        self._shadowed.pop(fold(nick), None)

    def _lost(self, session: Session, nick: str) -> None:
        """Another node's user holds the nick this one took at the same moment: this one
        is renamed, as IRC servers do when two servers meet, and told why."""
        self._out = [i for i in self._out if not (i[1] is session and i[0] in ("hello", "nick"))]
        guest = f"{nick[:20]}_{self._slot}"
        if self.hub.sessions.get(fold(guest)) is not None:
            guest = f"Guest{self._slot}x{session.id}"
        log.info("cluster: nick taken on another node", extra={"nick": nick, "renamed": guest})
        err = NickInUse(nick=nick)
        self.hub.announce(ServerNotice(err.code, err.template, (("nick", nick),)), [session])
        try:
            # Observed as a nick change: the others are told of the new nick in turn.
            self.hub.change_nick(session, guest, forced=True)
        except TertuliaError:
            self.hub.disconnect(session, "Nick collision")
        # What it did under the nick it lost reached nobody: its whole state goes again.
        self._out.append(("hello", session, None))
        self._wake.set()
        shadowed = self._shadowed.pop(fold(nick), None)
        if shadowed is not None:
            # The winner, as it was when it came; what it did since is read at the next beat.
            self.replica.hello(*shadowed)
            self._reread.add(shadowed[0])

    # -- what happens elsewhere -----------------------------------------------------------

    async def _read_forever(self) -> None:
        while not self._stopping:
            try:
                entries = await self.bus.read(self._after, READ_WAIT, READ_COUNT)
            except BusDown as exc:
                self._set_up(False, str(exc))
                await asyncio.sleep(RETRY_EVERY)
                continue
            # Messages of one room that follow each other go out as a run, as in one
            # process: one hand-over per recipient (hub.deliver_run).
            run: list[tuple[RoomDelivery, Settled | None]] = []
            for entry_id, data in entries:
                self._after = entry_id
                fact = decode(data)
                if fact is None:
                    log.warning(
                        "cluster: skipped bytes that are not a fact", extra={"at": entry_id}
                    )
                    continue
                try:
                    if isinstance(fact.event, RoomMessage) and self._gather(fact, run):
                        continue
                    deliver_run(run)
                    self._apply(fact)
                except Exception:
                    log.exception("cluster: a fact could not be applied", extra={"at": entry_id})
            deliver_run(run)
            self._overdue()

    def _gather(self, fact: Fact, run: list[tuple[RoomDelivery, Settled | None]]) -> bool:
        """Add a room message read from the bus to `run`; False when it must be applied on
        its own (one of this node's that is not next in line)."""
        event = fact.event
        assert isinstance(event, RoomMessage)
        if self.numbering is not None:
            self.numbering.seen(event.id)
        order = self.gate.order
        if fact.node == self.node:
            item = self._awaiting.get(event.id)
            if item is None:
                return True  # delivered here already (the bus was away meanwhile)
            if not order or order[0] is not item or not isinstance(item.deliver, RoomDelivery):
                return False
            del self._awaiting[event.id]
            order.popleft()
            entry = (item.deliver, item.settled)
        else:
            self._heard(fact)
            room = self.hub.rooms.get(fold(event.room))
            if room is None:
                return True  # nobody here is in it, or knows it
            sender = self.hub.sessions.get(fold(event.sender)) or self._nobody
            entry = (RoomDelivery(self.hub, event, room, sender), None)
        if run and run[0][0].room is not entry[0].room:
            deliver_run(run)
        run.append(entry)
        if order and order[0].done:
            # What this node's users did after that message goes out right after it.
            deliver_run(run)
            self.gate.drain()
        return True

    def _heard(self, fact: Fact) -> None:
        """Another node's fact was read: the counts, the lag, and that the node is alive."""
        self.facts_in += 1
        self.lag = max(0.0, time.time() - fact.at)
        if fact.node not in self.nodes and fact.type != "bye":
            self.nodes[fact.node] = {}  # its status comes with the next heartbeat

    def _apply(self, fact: Fact) -> None:
        event = fact.event
        if isinstance(event, RoomMessage | PrivateMessage) and self.numbering is not None:
            self.numbering.seen(event.id)
        if fact.node == self.node:
            if isinstance(event, RoomMessage | PrivateMessage):
                item = self._awaiting.pop(event.id, None)
                if item is not None:
                    item.done = True
                    self.gate.drain()
            return
        self._heard(fact)
        replica, node = self.replica, fact.node
        match event:
            case RoomMessage():
                replica.message(event)
            case PrivateMessage():
                replica.private(event)
            case Hello():
                if replica.hello(node, event) is None:
                    self._shadowed[fold(event.nick)] = (node, event)
            case NickChanged():
                replica.nick(node, event)
            case Quit():
                replica.quit(node, event.nick, event.reason)
            case AwayChanged():
                replica.away(node, event)
            case Joined():
                replica.join(node, event, fact.flag)
            case Parted():
                replica.part(node, event)
            case Kicked():
                victim = self._local(event.nick)
                replica.kick(node, event)
                if victim is not None:
                    self._touch(victim)
            case TopicChanged():
                replica.topic(node, event, fact.at)
            case TagMessage():
                replica.tag(node, event)
            case Redacted():
                replica.redact(node, event)
            case Invited():
                replica.invite(node, event)
            case ModeChanged():
                replica.modes(node, event)
                self._touch_room(event.room)
            case ServerBan():
                replica.ban(event, event.mask)
            case Unban():
                replica.ban(None, event.mask)
            case Owner():
                replica.owner(event.room, event.owner)
            case Account():
                account_moved(self.hub, event.old, event.new)
            case Kill():
                victim = self._local(event.nick) if event.node == self.node else None
                if victim is not None:
                    told = ServerNotice(
                        "killed", KILLED, (("by", event.by), ("reason", event.reason))
                    )
                    self.hub.announce(told, [victim])
                    self.hub.disconnect(victim, f"Killed ({event.by} ({event.reason}))")
                    victim.sink.close()
            case Announce():
                self.hub.announce(ServerNotice("announce", "{text}", (("text", event.text),)))
            case None if fact.type == "bye":
                gone = replica.node_gone(node, "Node left")
                self.nodes.pop(node, None)
                log.info("cluster: node left", extra={"node": node, "users": gone})

    def _overdue(self) -> None:
        """Messages that did not come back from the bus in time are delivered here."""
        now = time.monotonic()
        late = False
        for item in self.gate.order:
            if item.event is not None and not item.done and now - item.since > ROUND_TRIP_LIMIT:
                item.done = late = True
                self._awaiting.pop(item.event.id, None)
        if late:
            log.warning("cluster: a message did not come back from the bus in time")
            self.gate.drain()

    # -- leases and the other nodes -------------------------------------------------------

    async def _watch_forever(self) -> None:
        # Also off the reading task: a read that hangs must not hold this node's own
        # messages back from its own users.
        while not self._stopping:
            await asyncio.sleep(ROUND_TRIP_LIMIT / 2)
            self._overdue()

    async def _beat_forever(self) -> None:
        while not self._stopping:
            await asyncio.sleep(self.lease / 3)
            try:
                await self._beat()
            except BusDown as exc:
                self._set_up(False, str(exc))

    async def _beat(self) -> None:
        kept = await self.bus.beat(self.node, self._info(), self.lease)
        names = [f"slot:{self._slot}"] + ["nick:" + fold(n) for n in self._told.values()]
        lost = await self.bus.renew(names, self.node, self.lease)
        if f"slot:{self._slot}" in lost and self.numbering is not None:
            # Another node numbers with this slot now (the bus forgot ours): another one,
            # before any more ids are handed out.
            self._slot = self.numbering.slot = await self._take_slot()
            log.warning(
                "cluster: message-number slot lost; took another", extra={"slot": self._slot}
            )
        first = await self.bus.first()
        if not kept or (first != "0-0" and _position(self._after) < _position(first)):
            # Facts this node never read are gone (a restart that kept nothing, or a stream
            # trimmed past where it was): once every node has written its state again, the
            # shared state is read again.
            self._resync_at = self._resync_at or time.monotonic() + self.lease
        if self._resync_at and time.monotonic() >= self._resync_at:
            self._resync_at = 0.0
            await self._resync()
        if not kept:
            # The bus lost what it knew of this node (a restart that kept nothing): all of
            # it is written again, the leases above were just taken back.
            log.warning("cluster: the bus forgot this node; telling it again")
            for sid, session in self._mine.items():
                if sid in self._told:
                    self._dirty[sid] = session
            for room in list(self.hub.rooms.values()):
                if room.topic or room.modes != {"n"}:
                    self._share_room(room.name)
            self._wake.set()
        for sid, session in self._mine.items():
            said = self._said.get(sid)
            if said is not None and sid in self._told and not session.gone:
                now = hello(session)
                if (now.user, now.realname, now.account, now.away, now.modes) != (
                    said.user, said.realname, said.account, said.away, said.modes
                ):  # fmt: skip
                    self._out.append(("hello", session, None))
                    self._wake.set()
        for name in lost:
            for sid, told in list(self._told.items()):
                if "nick:" + fold(told) == name and sid in self._mine:
                    self._lost(self._mine[sid], told)
        alive = await self.bus.nodes()
        self.nodes = {n: _parse(info) for n, info in alive.items() if n != self.node}
        mirrored = {m.node for m in self.replica.mirrors()}
        # Just back from an outage (or just joined), the others may not have renewed their
        # leases yet: none is taken for dead before a whole lease has passed.
        if time.monotonic() - self._up_since >= self.lease:
            for node in mirrored - set(alive):
                gone = self.replica.node_gone(node, "Node lost")
                log.warning("cluster: node lost", extra={"node": node, "users": gone})
            for node in set(await self.bus.known()) - set(alive):
                await self.bus.forget(node)
        reread, self._reread = self._reread, set()
        for node in (set(alive) - mirrored - {self.node}) | (reread & set(alive)):
            # A node this one has no user of (it came, or came back, while this one could
            # not read): its users are read from the shared state.
            for data in await self.bus.sessions(node):
                fact = decode(data)
                if fact is not None and isinstance(fact.event, Hello):
                    self.replica.hello(node, fact.event)
        if not self.up:
            self._set_up(True)


def _position(entry_id: str) -> tuple[int, int]:
    """A stream position ("ms-seq") as numbers, to compare."""
    ms, _, seq = entry_id.partition("-")
    return int(ms or 0), int(seq or 0)


def _parse(info: bytes) -> dict[str, Any]:
    try:
        found = json.loads(info)
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}
