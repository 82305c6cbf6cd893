"""The hub's gate to the history store: group commit before delivery, reads off the loop.

A message is delivered only after the transaction that stores it has committed, so that
whatever anyone received is in history even if the process is killed a moment later.
Messages that arrive while a commit runs wait for the next one and share its transaction:
the busier the server, the bigger the batches, and throughput does not fall to one commit
per message. The store's writes run in order through one writer (server/writer.py: on
the loop for SQLite, in a thread where a commit waits for a disk or a network), its reads
in threads of their own, and whether the store answers is kept for /healthz.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Hashable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from tertulia.core.errors import HistoryBusy, HistoryFailed, HistoryOff, NotStored
from tertulia.core.events import PrivateMessage, RoomMessage
from tertulia.core.hub import RoomDelivery, Settled
from tertulia.server.writer import Writer
from tertulia.store import Message, Store

if TYPE_CHECKING:
    from tertulia.core.room import Room
    from tertulia.server.metrics import Stats

log = logging.getLogger(__name__)

T = TypeVar("T")

# Messages waiting for a commit past which the connections that send more stop being read,
# until the backlog is down to half: a flood is slowed to the speed of the disk instead of
# piling up in memory while nobody receives anything.
BACKLOG_HIGH = 10_000
CHECKPOINT_EVERY = 1.0  # seconds between two checkpoints, when something was committed
INDEX_EVERY = 0.5  # seconds between two search-index runs, when something was committed
# Messages indexed per step on the loop: a few milliseconds. FTS5 writes a segment per
# transaction, so smaller steps cost more per message (500: 4 µs, 2,000: 3, 5,000: 1.8).
INDEX_STEP = 2000
# Seconds between two checks that the store answers (a remote one can go away while
# nobody writes), and between two while it is away, so that /healthz follows it.
PROBE_EVERY = 5.0
PROBE_AWAY = 1.0
# Seconds a commit may go unanswered before the store counts as away: its senders, and
# everyone who sends meanwhile, are told their messages were not sent rather than held
# for as long as a frozen database takes. Checked every WATCH_EVERY seconds.
STALL_AFTER = 5.0
WATCH_EVERY = 1.0
# Messages retention deletes per step: on the loop, a few milliseconds (a row, its index
# entries, its search terms, its offline row).
PRUNE_STEP = 200
READS_AT_ONCE = 8  # history and search requests running or waiting; more are refused
READS_PER_CLIENT = 2  # of those, what one client (one address, unless exempt) may hold


class Pausable(Protocol):
    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...


# A message (None for an event that only keeps its place), how to deliver it, when it was
# read, the folded account it is kept for when its recipient is offline, and whom to tell
# what became of it.
Pending = tuple[Message | None, Callable[[], None], float, str, Settled | None]


def _nothing() -> None:
    pass


FLUSH_EVERY = 256  # messages of a batch delivered between two writes to the clients
TAKEN_BACK = 1000  # redacted ids reads leave out while their deletes may be under way


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def _log_failure(_: None, error: BaseException | None) -> None:
    if error is not None:
        log.error("a reaction could not be stored", exc_info=error)


def deliver_run(run: list[tuple[RoomDelivery, Settled | None]]) -> None:
    """Deliver and empty a run of one room's stored messages (the cluster's too)."""
    if run:
        try:
            run[0][0].hub.deliver_run(run)
        except Exception:
            log.exception("internal error delivering messages")
        run.clear()


class History:
    """The Gate of core.hub, over a store; without a store it only keeps events in order."""

    def __init__(
        self,
        store: Store | None,
        loop: asyncio.AbstractEventLoop,
        stats: Stats,
        commits_on_loop: bool = True,
    ) -> None:
        """`commits_on_loop`: whether a commit is quick enough for the event loop (see
        server.writer); False when each one waits for the disk."""
        self.store = store
        self._loop = loop
        self._stats = stats
        self._writer = (
            Writer(loop, "tertulia-history", commits_on_loop) if store is not None else None
        )
        self._queue: list[Pending] = []
        self._held: set[Pausable] = set()
        # Checkpoints run in their own thread, so that commits never wait for one.
        self._checkpoints = (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="tertulia-checkpoint")
            if store is not None
            else None
        )
        # Retention has a thread (and a connection) of its own too: a long prune deletes in
        # short batches beside the commits instead of holding them.
        self._prunes = (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="tertulia-prune")
            if store is not None
            else None
        )
        self.flush: Callable[[], None] | None = None  # writes out queued bytes (the server's)
        self._taken_back: dict[int, None] = {}  # ids of the last redacted messages
        # Reads have threads (and connections) of their own: a search never delays a commit,
        # and so never delays a message.
        self._reads = (
            ThreadPoolExecutor(max_workers=2, thread_name_prefix="tertulia-history-read")
            if store is not None
            else None
        )
        self._reading = 0
        self._readers: dict[Hashable, int] = {}  # reads each client holds now
        self._checkpointed = 0  # the commit count at the last checkpoint
        self._checkpoint_timer: asyncio.TimerHandle | None = None
        self._checkpointing: Future[None] | None = None
        self._indexed_at = 0  # the commit count at the last index run
        self._index_timer: asyncio.TimerHandle | None = None
        self._probe_timer: asyncio.TimerHandle | None = None
        self._probing = False
        self._outcomes = 0  # writes and reads settled: a probe's answer is stale past one
        self._watch_timer: asyncio.TimerHandle | None = None
        self._in_flight: list[Pending] | None = None  # the batch the writer has now
        self._writing_since = 0.0
        self._stalled = False  # the writer has not answered for STALL_AFTER
        if store is not None:
            stats.store_up = True
        self._busy = False  # a commit is scheduled, running, or its messages being delivered
        self._idle = asyncio.Event()
        self._idle.set()

    # -- the Gate -------------------------------------------------------------------------

    @property
    def waiting(self) -> bool:
        # While the writer is stuck, nothing it holds will go out before what comes next.
        return (self._busy and not self._stalled) or bool(self._queue)

    def durable(self, event: Message, deliver: Callable[[], None], settled: Settled) -> None:
        stats = self._stats
        stats.messages_in[stats.read_door] += 1
        if self._stalled:
            stats.errors["history_write"] += 1
            settled(event, NotStored())
            return
        if self.store is None and not self.waiting:
            deliver()
            stats.sent(stats.read_at)
            settled(event, None)
            return
        self._queue.append((event, deliver, stats.read_at, "", settled))
        self._kick()

    def later(self, deliver: Callable[[], None]) -> None:
        if self._stalled and not self._queue:
            deliver()
            return
        self._queue.append((None, deliver, 0.0, "", None))
        self._kick()

    # -- flow control ---------------------------------------------------------------------

    @property
    def congested(self) -> bool:
        return len(self._queue) >= BACKLOG_HIGH

    def hold(self, reader: Pausable) -> None:
        """Stop reading from `reader` until the backlog is down to half."""
        if reader not in self._held:
            self._held.add(reader)
            reader.pause_reading()

    def release(self, reader: Pausable) -> None:
        self._held.discard(reader)

    def keep(self, event: PrivateMessage, account: str, settled: Settled) -> None:
        self._stats.messages_in[self._stats.read_door] += 1
        if self._stalled:
            self._stats.errors["history_write"] += 1
            settled(event, NotStored())
            return
        self._queue.append((event, _nothing, 0.0, account, settled))
        self._kick()

    def forget(self, event: Message) -> None:
        """A redacted message leaves the store, in the writer's thread after its commit."""
        store, writer = self.store, self._writer
        if store is None or writer is None:
            return
        self._taken_back[event.id] = None
        while len(self._taken_back) > TAKEN_BACK:
            del self._taken_back[next(iter(self._taken_back))]
        writer.submit(self._forgotten, store.forget, event.id)

    def _forgotten(self, _: None, error: BaseException | None) -> None:
        if error is not None:
            self._stats.errors["history_write"] += 1
            log.error("a redacted message could not be deleted", exc_info=error)

    def after(self, action: Callable[[], None]) -> None:
        """Run `action` once everything accepted so far is stored and delivered."""
        if self.waiting:
            self.later(action)
        else:
            action()

    # -- reads and other store work -------------------------------------------------------

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a store call in the store's thread, after every write queued before it."""
        assert self._writer is not None, "no history store"
        return await self._writer.run(fn, *args)

    async def caught_up(self) -> None:
        """Wait until every message accepted so far is stored: a reader then sees what it
        (or anyone) said just before asking."""
        if self.waiting:
            done: asyncio.Future[None] = self._loop.create_future()

            def wake() -> None:
                if not done.done():  # cancelled meanwhile
                    done.set_result(None)

            self.after(wake)
            await done

    async def before(
        self, room: Room, before: int | None, limit: int, reader: Hashable = None
    ) -> list[RoomMessage]:
        """A page of a room's history; `reader` (who asks) holds one of its few slots."""
        store = self.readable()
        with self._slot(reader):
            await self.caught_up()
            return await self._read(store.before, room.name, before, limit, room.created)

    async def search(
        self, room: Room, words: str, before: int | None, limit: int, reader: Hashable = None
    ) -> list[RoomMessage]:
        store = self.readable()
        with self._slot(reader):
            await self.caught_up()
            # The index trails the commits by up to INDEX_EVERY: bring it up to date first,
            # so a search finds whatever was delivered before it was asked.
            try:
                self._stats.indexed += await self.run(store.index)
            except Exception as exc:
                log.exception("history indexing failed")
                raise HistoryFailed() from exc
            return await self._read(store.search, room.name, words, before, limit, room.created)

    @contextlib.contextmanager
    def _slot(self, reader: Hashable) -> Iterator[None]:
        """Reads are few at once (READS_AT_ONCE) and one client may hold only some of them,
        so one client asking in a loop cannot keep everyone else's history away."""
        if reader is None:
            yield
            return
        held = self._readers.get(reader, 0)
        if held >= READS_PER_CLIENT:
            raise HistoryBusy()
        self._readers[reader] = held + 1
        try:
            yield
        finally:
            left = self._readers.pop(reader) - 1
            if left:
                self._readers[reader] = left

    async def reactions(self, messages: list[RoomMessage]) -> dict[int, list[tuple[str, str]]]:
        """The reactions kept for these messages, by id (none without a store)."""
        if self.store is None or not messages:
            return {}
        try:
            return await self.read(self.store.reactions, [m.id for m in messages])
        except Exception as exc:
            log.exception("history read failed")
            raise HistoryFailed() from exc

    def keep_reaction(self, msgid: int, sender: str, emoji: str, ts: float) -> None:
        """Store a reaction in the store's thread, behind the messages queued before it
        (the message it is on is stored first); a failure is logged, nobody waits."""
        if self.store is None or self._writer is None:
            return
        self._writer.submit(_log_failure, self.store.add_reaction, msgid, sender, emoji, ts)

    def readable(self) -> Store:
        """The store, or HistoryOff for a server that keeps no history."""
        if self.store is None:
            raise HistoryOff()
        return self.store

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a store read in a reading thread, beside the commits."""
        assert self._reads is not None, "no history store"
        return await self._loop.run_in_executor(self._reads, fn, *args)

    async def _read(self, fn: Callable[..., list[RoomMessage]], *args: Any) -> list[RoomMessage]:
        if self._reading >= READS_AT_ONCE:
            raise HistoryBusy()
        self._reading += 1
        try:
            found = await self.read(fn, *args)
            # A read that began before a redacted message's delete was committed could
            # still see it: the ids of the last ones taken back are left out here.
            return [m for m in found if m.id not in self._taken_back] if self._taken_back else found
        except Exception as exc:
            if self.store is not None and isinstance(exc, self.store.unavailable):
                self._store_failed(exc, "history read failed")
            else:  # a bug, or a request the store could not take: the store itself is fine
                log.exception("history read failed")
            raise HistoryFailed() from exc
        finally:
            self._reading -= 1

    # -- whether the store is there -------------------------------------------------------

    def _store_failed(self, error: BaseException, what: str, messages: int = 0) -> None:
        stats = self._stats
        stats.store_failures += 1
        self._outcomes += 1
        if stats.store_up:
            # The first failure in full, for the operator; then one line per failure until
            # the store answers again (an outage of a remote store fails every batch).
            stats.store_up = False
            log.error(what, exc_info=error, extra={"messages": messages})
        else:
            log.warning(what, extra={"messages": messages, "reason": _one_line(error)})

    def _store_answered(self) -> None:
        self._outcomes += 1
        if self._stats.store_up is False:
            self._stats.store_up = True
            log.warning("history store answers again")

    def _probe(self) -> None:
        """Ask the store whether it answers, from a reading thread: /healthz and the
        metrics follow a store that goes away (or comes back) while nobody writes."""
        self._probe_timer = None
        if self._reads is None or self.store is None or self._probing:
            return
        self._probing = True
        future = self._loop.run_in_executor(self._reads, self.store.check)
        future.add_done_callback(partial(self._probed, self._outcomes))

    def _probed(self, outcomes: int, future: asyncio.Future[None]) -> None:
        self._probing = False
        if future.cancelled() or self._reads is None:
            return
        error = future.exception()
        if self._outcomes != outcomes:
            pass  # a write or read settled while it ran: newer news than its own
        elif error is not None:
            self._store_failed(error, "history store does not answer")
        else:
            self._store_answered()
        wait = PROBE_EVERY if self._stats.store_up else PROBE_AWAY
        self._probe_timer = self._loop.call_later(wait, self._probe)

    def _watch(self) -> None:
        """Give up on a commit the store has not answered for STALL_AFTER seconds."""
        self._watch_timer = None
        if self._writer is None:
            return
        stuck = self._loop.time() - self._writing_since
        if self._in_flight is not None and not self._stalled and stuck > STALL_AFTER:
            self._stall(stuck)
        self._watch_timer = self._loop.call_later(WATCH_EVERY, self._watch)

    def _stall(self, stuck: float) -> None:
        """The writer waits for a store that does not answer (a frozen host, a partition
        TCP has not noticed yet): every message it holds, and every one waiting behind
        it, is refused now, with its sender told, and what waited behind them goes out
        in its order. Until the writer answers, new messages are refused at once. (If the
        stuck commit does go through later, its messages are in the history although
        nobody received them: never the other way round.)"""
        assert self._in_flight is not None
        self._stalled = True
        self._store_failed(TimeoutError(f"no answer for {stuck:.1f} s"), "history store stalled")
        stats = self._stats
        for entries in (self._in_flight, self._queue):
            for i, (event, deliver, _, _, settled) in enumerate(entries):
                try:
                    if event is None:
                        deliver()
                    else:
                        stats.errors["history_write"] += 1
                        if settled is not None:
                            settled(event, NotStored())
                except Exception:
                    log.exception("internal error settling a message")
                entries[i] = (None, _nothing, 0.0, "", None)
        self._queue = []
        held, self._held = self._held, set()
        for reader in held:
            reader.resume_reading()

    async def prune(self, older_than: float | None, keep_per_room: int | None) -> int:
        """Retention, in short steps: in the writer's turn for a store that takes one writer
        at a time (SQLite: a step of PRUNE_STEP deletes between two commits, where a prune
        on a connection of its own made each commit wait for the lock, the loop with it),
        else in the pruning thread, beside the commits."""
        store = self.store
        assert self._prunes is not None and store is not None, "no history store"
        cutoffs = await self.read(store.prune_cutoffs, keep_per_room)
        deleted = 0
        while True:
            if store.single_writer:
                count = await self.run(store.prune_step, older_than, cutoffs, PRUNE_STEP)
            else:
                count = await self._loop.run_in_executor(
                    self._prunes, store.prune_step, older_than, cutoffs, PRUNE_STEP
                )
            deleted += count
            if count < PRUNE_STEP:
                return deleted

    async def drain(self) -> None:
        """Wait until every message accepted so far is stored and delivered (or refused,
        when the store stalled)."""
        if not self._stalled:
            await self._idle.wait()

    async def close(self) -> None:
        stalled = self._stalled
        if stalled:
            # The writer (and maybe a probe) is stuck on a store that does not answer:
            # leave them rather than hang the shutdown.
            log.warning("closing with the history store not answering")
            self._writer = None
        await self.drain()
        if self._checkpoint_timer is not None:
            self._checkpoint_timer.cancel()
        if self._index_timer is not None:
            self._index_timer.cancel()
        if self._probe_timer is not None:
            self._probe_timer.cancel()
        if self._watch_timer is not None:
            self._watch_timer.cancel()
        if self._checkpoints is not None:
            await asyncio.to_thread(self._checkpoints.shutdown, wait=not stalled)
            self._checkpoints = None
        if self._reads is not None:
            await asyncio.to_thread(self._reads.shutdown, wait=not stalled)
            self._reads = None
        if self._prunes is not None:
            await asyncio.to_thread(self._prunes.shutdown, wait=not stalled)
            self._prunes = None
        if self.store is not None and self._writer is not None:
            await self.run(self.store.close)
            await asyncio.to_thread(self._writer.stop)
            self._writer = None

    def start_housekeeping(self) -> None:
        """Start the housekeeping timers: checkpoints and the search index's catch-up."""
        if self._checkpoints is not None:
            self._checkpoint_timer = self._loop.call_later(CHECKPOINT_EVERY, self._checkpoint)
            self._index_timer = self._loop.call_later(INDEX_EVERY, self._index)
            self._probe_timer = self._loop.call_later(PROBE_EVERY, self._probe)
            self._watch_timer = self._loop.call_later(WATCH_EVERY, self._watch)

    def _index(self) -> None:
        """Index what was committed since the last run, where commits run (the loop, in
        steps, or the writer's thread): big batches every INDEX_EVERY cost a fraction of
        indexing each message in its own commit."""
        self._index_timer = None
        if self._writer is None or self.store is None:
            return
        if self._stats.commits != self._indexed_at:
            self._indexed_at = self._stats.commits
            self._index_step()
        else:
            self._index_timer = self._loop.call_later(INDEX_EVERY, self._index)

    def _index_step(self) -> None:
        # On the loop, a few milliseconds at a time: messages and replies go out between
        # two steps. In a thread, everything at once.
        assert self._writer is not None and self.store is not None
        step = INDEX_STEP if self._writer.on_loop else None
        self._writer.submit(self._indexed, self.store.index, step)

    def _indexed(self, count: int, error: BaseException | None) -> None:
        if error is not None:
            log.error("history indexing failed", exc_info=error)
        else:
            self._stats.indexed += count
        if self._writer is None:
            return  # closed meanwhile
        if error is None and self._writer.on_loop and count >= INDEX_STEP:
            self._index_step()
        else:
            self._index_timer = self._loop.call_later(INDEX_EVERY, self._index)

    def _checkpoint(self) -> None:
        busy = self._checkpointing is not None and not self._checkpointing.done()
        if self._checkpoints is None or self.store is None:
            return
        if not busy and self._stats.commits != self._checkpointed:
            self._checkpointed = self._stats.commits
            self._checkpointing = self._checkpoints.submit(self._guarded_checkpoint)
        self._checkpoint_timer = self._loop.call_later(CHECKPOINT_EVERY, self._checkpoint)

    def _guarded_checkpoint(self) -> None:
        try:
            self.store.checkpoint()  # type: ignore[union-attr]
        except Exception:
            log.exception("history checkpoint failed")

    # -- group commit ---------------------------------------------------------------------

    def _kick(self) -> None:
        if not self._busy:
            self._busy = True
            self._idle.clear()
            self._loop.call_soon(self._commit)

    def _commit(self) -> None:
        # One transaction for everything that arrived since the last one began.
        batch, self._queue = self._queue, []
        if not self._store_ahead(batch):
            self._deliver(batch, None, None)

    def _store_ahead(self, batch: list[Pending]) -> bool:
        """Hand a batch's messages to the writer, to be delivered once committed; False if
        it has none to store (its events may go out as soon as those before them)."""
        messages = [event for event, _, _, _, _ in batch if event is not None]
        if not messages or self.store is None or self._writer is None:
            return False
        offline = [(account, event.id) for event, _, _, account, _ in batch if event and account]
        self._in_flight, self._writing_since = batch, self._loop.time()
        self._writer.submit(
            lambda result, error: self._deliver(batch, result, error),
            self.store.append, messages, offline,
        )  # fmt: skip
        return True

    def _deliver(
        self, batch: list[Pending], stored: list[int] | None, error: BaseException | None
    ) -> None:
        """Deliver a batch once its commit is over: `stored` is the ids the store refused,
        None (with no error) when nothing was written."""
        stats = self._stats
        if batch is self._in_flight:
            self._in_flight = None
            # A batch given up on (_stall) holds only places now: its senders were told.
            self._stalled = False
        # What arrived during that commit is committed while this batch goes out: the
        # writer never waits for the fan-out. Its delivery comes after this one (the writer
        # keeps order), so the events queued behind it stay behind it.
        ahead = False
        if self._queue:
            waiting, self._queue = self._queue, []
            ahead = self._store_ahead(waiting)
            if not ahead:
                self._queue = waiting + self._queue
        refused: set[int] | None = set()  # ids the store did not keep; None: none of them
        if stored is not None or error is not None:
            if error is not None:
                # Nothing of the batch is stored, so nothing of it goes out: whatever anyone
                # received is in history. Each sender is told its message was not sent.
                refused = None
                stats.errors["history_write"] += 1
                self._store_failed(error, "history write failed", len(batch))
            else:
                self._store_answered()
                refused = set(stored or ())
                stats.commits += 1
                stats.stored += sum(event is not None for event, *_ in batch) - len(refused)
                if refused:
                    stats.errors["history_write"] += 1
                    log.error("history refused messages", extra={"ids": sorted(refused)})
        flush, count = self.flush, 0
        # Consecutive messages of one room go out as a run: one hand-over per recipient.
        run: list[tuple[RoomDelivery, Settled | None]] = []
        for event, deliver, started, account, settled in batch:
            count += 1
            if flush is not None and count % FLUSH_EVERY == 0:
                # A big batch is written out in pieces: a stalled client's queue meets the
                # transport's bound (and is dropped) before it can hold megabytes.
                deliver_run(run)
                flush()
            try:
                if event is not None and (refused is None or event.id in refused):
                    deliver_run(run)
                    if settled is not None:
                        settled(event, NotStored())
                    continue
                if isinstance(deliver, RoomDelivery):
                    if run and run[0][0].room is not deliver.room:
                        deliver_run(run)
                    run.append((deliver, settled))
                    stats.sent(started)
                    continue
                deliver_run(run)
                deliver()
                if event is not None:
                    if not account:
                        stats.sent(started)
                    if settled is not None:
                        settled(event, None)
            except Exception:
                log.exception("internal error delivering an event")
        deliver_run(run)
        if self._held and len(self._queue) < BACKLOG_HIGH // 2:
            held, self._held = self._held, set()
            for reader in held:
                reader.resume_reading()
        if ahead:
            return  # still busy: the next batch's delivery carries on from here
        self._busy = False
        if self._queue:
            self._kick()
        else:
            self._idle.set()
