"""Stored rows to messages and back, the same for every store."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from tertulia.core.events import Kind, PrivateMessage, RoomMessage

Message = RoomMessage | PrivateMessage

NEWEST = 1 << 62  # above every id: `before` it is the newest page


def below(before: int | None) -> int:
    """The id a page ends below: NEWEST for none, and for an id past any the store could
    hold (a client may send 10**30; SQLite cannot bind it, PostgreSQL would)."""
    return NEWEST if before is None or before > NEWEST else before


# The columns room_message reads, in its order; message() reads target too.
ROOM_COLUMNS = "id, ts, room, sender, kind, text, account, restricted, tags"
MESSAGE_COLUMNS = "id, ts, room, sender, target, kind, text, account, restricted, tags"


def room_message(row: tuple[Any, ...]) -> RoomMessage:
    """A room message from ROOM_COLUMNS."""
    id_, ts, room, sender, kind, text, account, restricted, tags = row
    return RoomMessage(
        id_, ts, room, sender, text, Kind(kind), account or "", bool(restricted), tags_from(tags)
    )


def message(row: tuple[Any, ...]) -> Message:
    """A stored message of either kind, from MESSAGE_COLUMNS."""
    id_, ts, room, sender, target, kind, text, account, restricted, tags = row
    if room is None:
        return PrivateMessage(
            id_, ts, sender, target, text, Kind(kind), account or "", tags_from(tags)
        )
    return RoomMessage(
        id_, ts, room, sender, text, Kind(kind), account or "", bool(restricted), tags_from(tags)
    )


def offline_query(mark: str) -> str:
    """The private messages kept for an account (`mark` its parameter), oldest first."""
    return (
        "SELECT m.id, m.ts, m.sender, m.target, m.kind, m.text, m.account "
        "FROM offline AS o JOIN messages AS m ON m.id = o.message_id "
        f"WHERE o.account = {mark} ORDER BY m.id"
    )


def private_messages(rows: list[tuple[Any, ...]]) -> list[PrivateMessage]:
    """offline_query's rows as messages."""
    return [
        PrivateMessage(id_, ts, sender, target, text, Kind(kind), account or "")
        for id_, ts, sender, target, kind, text, account in rows
    ]


def tags_to(tags: tuple[tuple[str, str], ...]) -> str | None:
    """Client tags as stored: JSON [[name, value], ...], or NULL for none."""
    return json.dumps(tags) if tags else None


def tags_from(stored: str | None) -> tuple[tuple[str, str], ...]:
    if not stored:
        return ()
    try:
        return tuple((str(k), str(v)) for k, v in json.loads(stored))
    except (ValueError, TypeError):
        return ()  # a row written by hand: its message still reads


def prune_step(
    delete: Callable[[str, tuple[Any, ...]], int],
    mark: str,
    older_than: float | None,
    cutoffs: dict[str, int],
    limit: int,
) -> int:
    """Delete at most `limit` of the messages retention drops, through `delete` (SQL with
    `mark` for each parameter, its parameters: how many rows went). Each statement is a
    short transaction of its own in autocommit mode, as both stores' connections are."""
    deleted = 0
    if older_than is not None:
        deleted += delete(
            "DELETE FROM messages WHERE id IN"
            f" (SELECT id FROM messages WHERE ts < {mark} LIMIT {mark})",
            (older_than, limit),
        )
    for key, last in cutoffs.items():
        if deleted >= limit:
            break
        deleted += delete(
            "DELETE FROM messages WHERE id IN (SELECT id FROM messages"
            f" WHERE room_key = {mark} AND id <= {mark} LIMIT {mark})",
            (key, last, limit - deleted),
        )
    return deleted
