"""Copying a whole store into another (`tertulia store copy`): resumable, checked by counts."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import cast

from tertulia.store import TABLES, Message, Store

BATCH = 5000  # messages per read and per transaction: one round trip each way, tens of ms

# Tables whose rows point at a message (a foreign key): a row whose message is not in the
# destination cannot go in, in either store.
_BY_MESSAGE = {
    table: columns.index("message_id")
    for table, columns in TABLES.items()
    if "message_id" in columns
}


class Conflict(enum.Enum):
    """Why a destination cannot be a copy of this source, not even a partial one."""

    AHEAD = "ahead"  # it handed out ids past the source's last id
    FOREIGN = "foreign"  # its newest message is not the source's message of that id
    NOT_EMPTY = "not_empty"  # it holds rows but no message, while the source has messages


class NotACopy(Exception):
    """The destination holds what this source never gave it: copying would mix two stores.

    `message_id` is the destination's newest id (AHEAD, FOREIGN); `source_id` the source's
    last id (AHEAD)."""

    def __init__(self, conflict: Conflict, message_id: int = 0, source_id: int = 0) -> None:
        self.conflict = conflict
        self.message_id = message_id
        self.source_id = source_id
        super().__init__(f"{conflict.value}: {message_id} {source_id}")


@dataclass(frozen=True, slots=True)
class Progress:
    """How far the messages are, after each batch (and once before the first)."""

    done: int  # source messages the destination holds, or refused, so far
    total: int  # messages the source held when the copy began
    copied: int  # messages this run stored
    resumed_after: int | None  # as in Report


@dataclass(frozen=True, slots=True)
class Report:
    """What a copy did, and both stores' counts after it."""

    copied: int  # messages this run stored
    refused: tuple[int, ...]  # ids of messages the destination would not take, in order
    skipped: dict[str, int]  # rows left out because their message was refused, by table
    source: dict[str, int]  # counts() of the source at the end
    destination: dict[str, int]  # counts() of the destination at the end
    # The newest message the destination already held from this source, where the copy
    # went on from; None when it held none (a fresh copy).
    resumed_after: int | None
    retried: int  # messages below that point the destination lacked, offered again
    last_id: int  # the highest id the source has handed out, now kept by the destination

    @property
    def differences(self) -> list[tuple[str, int, int]]:
        """(table, expected, found) wherever the destination does not hold what the source
        does less what was refused; empty when the copy is verified."""
        found = []
        for table, count in self.source.items():
            expected = count - (len(self.refused) if table == "messages" else 0)
            expected -= self.skipped.get(table, 0)
            if self.destination.get(table) != expected:
                found.append((table, expected, self.destination.get(table, 0)))
        return found

    @property
    def verified(self) -> bool:
        return not self.differences


def copy_store(
    source: Store,
    destination: Store,
    batch: int = BATCH,
    progress: Callable[[Progress], None] | None = None,
) -> Report:
    """Copy every message, every row of TABLES and the last id from one opened store into
    another; run again after an interruption, it goes on where the last run stopped.

    Raises NotACopy, before writing anything, if the destination holds messages or rows
    that are not this source's; whatever the stores raise (a lost connection) goes
    through, and what was committed before it stays.
    """
    if batch < 1:
        raise ValueError("batch must be at least 1")
    held = destination.counts()
    total = source.counts()["messages"]
    resumed_after = _resume_point(source, destination, held, total)
    tell = progress or (lambda _: None)

    refused: list[int] = []
    copied = 0
    done = held["messages"]
    after = resumed_after or 0
    tell(Progress(done, total, copied, resumed_after))
    while messages := source.export_messages(after, batch):
        no = destination.append(messages)
        refused.extend(no)
        copied += len(messages) - len(no)
        # Indexed batch by batch, as the server does a moment after each commit: a search
        # in the copy finds everything, and no long silent pass waits at the end.
        destination.index()
        done += len(messages)
        after = messages[-1].id
        tell(Progress(done, total, copied, resumed_after))

    retried = 0
    if resumed_after is not None:
        # An earlier run may have had messages refused below the resume point. Counting
        # tells, cheaply, whether any are missing; only then are both stores read side by
        # side to find them, and they are offered again (refused again, most likely): the
        # report then names them, and their rows are left out as this run's would be.
        missing = source.counts()["messages"] - destination.counts()["messages"] - len(refused)
        if missing > 0:
            for lacking in _lacking(source, destination, resumed_after, batch):
                no = destination.append(lacking)
                refused.extend(no)
                retried += len(lacking)
                copied += len(lacking) - len(no)
            destination.index()

    # Rows of a message the destination refused cannot go in (a foreign key), nor those of
    # a message said after the last batch was read (a source still in use).
    left_out = set(refused)
    skipped: dict[str, int] = {}
    for table in TABLES:
        rows = source.export_rows(table)
        column = _BY_MESSAGE.get(table)
        if column is not None:
            kept = [
                row
                for row in rows
                if row[column] not in left_out and cast(int, row[column]) <= after
            ]
            skipped[table] = sum(1 for row in rows if row[column] in left_out)
            rows = kept
        if rows:
            destination.import_rows(table, rows)

    last_id = source.last_id()
    destination.keep_last_id(last_id)
    return Report(
        copied=copied,
        refused=tuple(sorted(refused)),
        skipped=skipped,
        source=source.counts(),
        destination=destination.counts(),
        resumed_after=resumed_after,
        retried=retried,
        last_id=last_id,
    )


def _resume_point(
    source: Store, destination: Store, held: dict[str, int], total: int
) -> int | None:
    """The newest message id the destination holds from this source; None if it holds no
    message. Raises NotACopy when it holds what this source never gave it.

    Cheap and sound for what happens in practice (a few queries whatever the sizes): the
    destination must not have handed out ids past the source's last, and its newest
    message must be the source's message of that id, field for field. A copy stops only
    between whole batches, in id order, so a partial copy's newest message is one the
    source has; another store's newest message has another text, time or sender.
    """
    source_last = source.last_id()
    mine_last = destination.last_id()
    if mine_last > source_last:
        raise NotACopy(Conflict.AHEAD, mine_last, source_last)
    if held["messages"] == 0:
        # A copy writes messages before any other row: rows without messages come from
        # elsewhere, unless the source has no messages either.
        if total and any(held[table] for table in TABLES):
            raise NotACopy(Conflict.NOT_EMPTY)
        return None
    newest = _newest_id(destination, mine_last)
    mine = destination.export_messages(newest - 1, 1)
    theirs = source.export_messages(newest - 1, 1)
    if not theirs or theirs[0] != mine[0]:
        raise NotACopy(Conflict.FOREIGN, newest)
    return newest


def _newest_id(store: Store, upto: int) -> int:
    """The highest message id a store holds (it holds some, none above `upto`).

    last_id() is that id in a partial copy; after a finished one it may be higher (the
    source's newest messages were pruned), so it is looked for: by halves, one indexed
    query each, as the store offers no max of its own.
    """
    if [m.id for m in store.export_messages(upto - 1, 1)] == [upto]:
        return upto
    low, high = 0, upto  # a message above low (ids start at 1); none above high
    while high - low > 1:
        middle = (low + high) // 2
        if store.export_messages(middle, 1):
            low = middle
        else:
            high = middle
    return high


def _lacking(source: Store, destination: Store, upto: int, batch: int) -> Iterator[list[Message]]:
    """The source's messages up to id `upto` that the destination lacks, batch by batch,
    both stores read side by side in id order."""
    after = 0
    while after < upto:
        theirs = [m for m in source.export_messages(after, batch) if m.id <= upto]
        if not theirs:
            return
        high = theirs[-1].id
        have: set[int] = set()
        mine_after = after
        while True:  # the destination's ids in (after, high]: at most len(theirs) of ours
            mine = destination.export_messages(mine_after, batch)
            have.update(m.id for m in mine if m.id <= high)
            if len(mine) < batch or mine[-1].id >= high:
                break
            mine_after = mine[-1].id
        lacking = [m for m in theirs if m.id not in have]
        if lacking:
            yield lacking
        after = high
