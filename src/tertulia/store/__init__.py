"""History, accounts and moderation behind interfaces: SQLite, the embedded default, or
PostgreSQL (`--store postgresql://...`) for servers that outgrow one file."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from tertulia.core.bans import ServerBan
from tertulia.core.errors import N_, TertuliaError
from tertulia.core.events import PrivateMessage, RoomMessage
from tertulia.store.urls import redacted, split

Message = RoomMessage | PrivateMessage


class HistoryStore(Protocol):
    """What the server needs from a history store.

    Every method may block. Writes come from one writer, in order: on the event loop when
    `commits_on_loop` (a commit that waits for nobody), else from a thread of their own;
    reads and retention from threads of their own. Room names are compared folded, as
    nicks are.
    """

    where: str  # the file or the address, for operators (never a password)
    commits_on_loop: bool  # a commit is quick enough to run on the event loop
    # Every write, retention's too, must go through the writer: the database lets one
    # connection write at a time and makes the others wait (SQLite).
    single_writer: bool
    # What its calls raise when the database cannot be reached or used now (as opposed
    # to a bad request or a bug): those make the server's health say so.
    unavailable: tuple[type[BaseException], ...]

    def open(self) -> None:
        """Create or upgrade the storage; raises OSError or StoreError if it cannot."""
        ...

    def close(self) -> None: ...

    def last_id(self) -> int:
        """The highest message id stored, so that ids keep growing across restarts."""
        ...

    def append(
        self, messages: Sequence[Message], offline: Sequence[tuple[str, int]] = ()
    ) -> list[int]:
        """Store messages durably in one transaction; the ids of those it refused.

        A message the store cannot take (its text cannot be encoded, its id is taken) is
        refused alone and the others are stored; if the transaction fails (a full disk),
        it raises and nothing is stored. `offline` pairs a folded account with the id of a
        private message kept for it.
        """
        ...

    def checkpoint(self) -> None:
        """Housekeeping the server runs now and then from another thread (may do nothing)."""
        ...

    def check(self) -> None:
        """Raise if the store cannot be reached now; called from a reading thread."""
        ...

    def backup(self, target: str) -> None:
        """A consistent copy of the whole store in the file `target`, while it serves (from
        a thread of its own); StoreError where the engine has its own tools (pg_dump)."""
        ...

    def recent(self, per_room: int) -> dict[str, list[RoomMessage]]:
        """The last `per_room` messages of every room, oldest first, by folded room name."""
        ...

    def before(
        self, room: str, before: int | None, limit: int, opened: float = 0.0
    ) -> list[RoomMessage]:
        """Up to `limit` messages of a room older than id `before` (or the newest), oldest
        first. Messages said while the room was closed (+i, +k) before `opened`, the time
        the room of that name now was made, are left out."""
        ...

    def search(
        self, room: str, words: str, before: int | None, limit: int, opened: float = 0.0
    ) -> list[RoomMessage]:
        """Messages of a room matching every word (accents and case folded), newest first;
        `opened` as for `before`. Only what index() has indexed is found."""
        ...

    def index(self, limit: int | None = None) -> int:
        """Index for search what was stored since the last call (at most `limit`
        messages); how many.

        Kept out of append so that indexing never delays a message: the server calls it
        between commits, in steps, within a second of each commit and before every search.
        After a crash it indexes what the crash left unindexed; nothing is indexed twice.
        """
        ...

    def unindexed(self) -> int:
        """How many stored messages search cannot find yet (a gauge for operators)."""
        ...

    def add_reaction(self, message_id: int, sender: str, emoji: str, ts: float) -> None:
        """Keep a reaction to a stored message (nothing if the message is not stored)."""
        ...

    def reactions(self, message_ids: Sequence[int]) -> dict[int, list[tuple[str, str]]]:
        """(emoji, sender) of each message's reactions, oldest first, by message id."""
        ...

    def forget(self, message_id: int) -> None:
        """Delete one message (redacted by its sender or an operator), search index too."""
        ...

    def prune(self, older_than: float | None, keep_per_room: int | None) -> int:
        """Delete messages older than a time or beyond the newest N of each room; how many.

        All at once, in short transactions on a connection of its own, for a caller with a
        thread of its own; the server uses prune_cutoffs and prune_step."""
        ...

    def prune_cutoffs(self, keep_per_room: int | None) -> dict[str, int]:
        """For each room with more than `keep_per_room` messages, the newest id retention
        drops (none without a count to keep). A read: from a reading thread."""
        ...

    def prune_step(self, older_than: float | None, cutoffs: dict[str, int], limit: int) -> int:
        """Delete at most `limit` of the messages retention drops (older than a time, or
        at or below their room's cutoff); how many. Fewer than `limit`: nothing is left.
        Where a single_writer store runs it, in the writer's turn; else beside it."""
        ...


class AccountStore(Protocol):
    """Registered nicks and what waits for them; called like HistoryStore, off the loop."""

    def accounts(self) -> set[str]:
        """Every registered name, folded."""
        ...

    def secret(self, name: str) -> str | None:
        """The stored password hash of an account, None if there is no such account."""
        ...

    def add_account(self, name: str, secret: str, created: float) -> bool:
        """Register `name`; False if it already is."""
        ...

    def set_secret(self, name: str, secret: str) -> None: ...

    def account_list(self) -> list[tuple[str, float]]:
        """Every account as registered, with when, by name."""
        ...

    def drop_account(self, name: str) -> bool:
        """Forget an account, what waits for it and the rooms registered to it; False if
        there is none."""
        ...

    def rename_account(self, old: str, new: str) -> bool:
        """Give an account another name, what waits for it and its rooms included; False if
        there is no `old` or `new` is taken by another account."""
        ...

    def offline(self, account: str) -> list[PrivateMessage]:
        """The private messages kept for `account`, oldest first."""
        ...

    def handed_over(self, account: str, ids: Sequence[int]) -> None:
        """Stop keeping messages the account's owner has been given."""
        ...


class ModerationStore(Protocol):
    """Server bans and rooms registered to accounts; called like HistoryStore, off the loop."""

    def bans(self) -> list[ServerBan]:
        """Every server ban stored, lapsed ones included (the server drops those)."""
        ...

    def add_ban(self, ban: ServerBan) -> None:
        """Add a ban, or replace the one on the same mask."""
        ...

    def remove_ban(self, mask: str) -> None: ...

    def registered_rooms(self) -> dict[str, tuple[str, str]]:
        """Folded room name -> (name, owner account, folded) for every registered room."""
        ...

    def register_room(self, name: str, owner: str, created: float) -> bool:
        """Register a room to an account; False if it is registered already."""
        ...

    def unregister_room(self, name: str) -> None: ...


# What a copy moves besides the messages: each table's rows, their columns in this order
# in every store (tertulia store copy).
TABLES: dict[str, tuple[str, ...]] = {
    "accounts": ("name_key", "name", "secret", "created"),
    "server_bans": ("mask_key", "mask", "reason", "by", "created", "expires"),
    "rooms": ("room_key", "name", "owner", "created"),
    "offline": ("account", "message_id"),
    "reactions": ("message_id", "sender", "emoji", "ts"),
}


class PortableStore(Protocol):
    """Whole-store reads and writes, for moving a store into another (never the server)."""

    def export_messages(self, after: int, limit: int) -> list[Message]:
        """Up to `limit` stored messages with ids above `after`, room and private, by id."""
        ...

    def export_rows(self, table: str) -> list[tuple[object, ...]]:
        """Every row of one of TABLES, its columns in TABLES' order."""
        ...

    def import_rows(self, table: str, rows: Sequence[tuple[object, ...]]) -> int:
        """Add rows to one of TABLES in one transaction, skipping those whose key is there
        already; how many were added. Rows that name a message (offline, reactions) must
        name a stored one: the database refuses the whole call otherwise."""
        ...

    def keep_last_id(self, last: int) -> None:
        """Never hand out ids up to `last` (what the source store had handed out)."""
        ...

    def counts(self) -> dict[str, int]:
        """Rows stored: "messages" and each of TABLES."""
        ...


class Store(HistoryStore, AccountStore, ModerationStore, PortableStore, Protocol):
    """Everything the server keeps: what SqliteStore and PostgresStore implement."""


class StoreError(Exception):
    """The store cannot be used (a newer schema, a corrupt file...): one line for operators."""


class HistoryUnavailable(TertuliaError):
    code = "history_unavailable"
    template = N_("cannot open the history at {path}: {reason}")


def from_url(url: str, data_dir: str | Path, synchronous: str = "normal") -> Store:
    """The store a `store` setting names: "" (SQLite in the data directory),
    `sqlite:///path/to/file.db` or `postgresql://user:password@host:port/database`.

    Raises StoreError with one line for a URL it cannot use, or when PostgreSQL support
    (psycopg) is not installed.
    """
    from tertulia.store.sqlite import FILE_NAME, SqliteStore

    if not url:
        return SqliteStore(Path(data_dir) / FILE_NAME, synchronous)
    parts = split(url)
    if parts is None:
        # Shown as typed but for a password: libpq's key=value settings may hold one.
        raise StoreError(
            f"store {redacted(url)!r} is not a URL: sqlite:///file or postgresql://..."
        )
    scheme, rest = parts
    scheme = scheme.lower()
    if scheme == "sqlite":
        if not rest.strip("/"):
            raise StoreError("a sqlite store URL names a file: sqlite:///path/to/file.db")
        # sqlite:///var/lib/x.db is /var/lib/x.db; sqlite://x.db is x.db, relative.
        return SqliteStore(Path(rest), synchronous, own_directory=False)
    if scheme in ("postgresql", "postgres"):
        try:
            from tertulia.store.postgres import PostgresStore
        except ImportError as exc:
            raise StoreError(
                "PostgreSQL needs psycopg: pip install 'tertulia[postgresql]'"
            ) from exc
        return PostgresStore(url)
    raise StoreError(f"unknown store {scheme!r}: use sqlite:///file or postgresql://...")
