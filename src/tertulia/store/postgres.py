"""History and accounts in PostgreSQL: a pool of psycopg connections, versioned migrations,
one statement per batch, and search with PostgreSQL's own full-text search (tsvector, GIN).

The same promises as the SQLite store, kept the same way: a batch is one transaction that
commits before anyone receives its messages, ids only grow (a `meta` row remembers the
highest ever stored), and one row the database refuses costs only itself. Everything lives
in a schema of its own (`tertulia`), so the database can be one an operator already has.
"""

from __future__ import annotations

import json
import logging
import re
import time
import unicodedata
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from tertulia.core.bans import ServerBan
from tertulia.core.events import PrivateMessage, RoomMessage
from tertulia.core.names import fold
from tertulia.store import TABLES, Message, StoreError
from tertulia.store.rows import (
    MESSAGE_COLUMNS,
    ROOM_COLUMNS,
    below,
    message,
    offline_query,
    private_messages,
    prune_step,
    room_message,
    tags_to,
)
from tertulia.store.urls import redacted

log = logging.getLogger(__name__)

SCHEMA = "tertulia"
OFFLINE_LIMIT = 100  # private messages kept per offline account (as in SQLite)
PRUNE_BATCH = 500  # messages deleted per transaction when pruning
POOL_SIZE = 4  # the writer, two readers and retention at once
CONNECT_TIMEOUT = 3  # seconds for one connection attempt
# Seconds a store call waits for a connection. While PostgreSQL is down every batch fails
# after this long, its senders are told, and the senders behind it wait at most as long.
POOL_WAIT = 3.0
# Seconds the pool keeps retrying a lost connection in the background before it gives up
# and lets the next call try again at once: short, so recovery follows PostgreSQL's return
# within a second or two instead of an ever longer backoff.
RECONNECT_FOR = 2.0
REFOLD_BATCH = 1000  # rows a migration folds for search per statement
IDLE_CHECK = 0.25  # seconds a pooled connection may sit unused before it is checked
# A PostgreSQL that stops answering (a partition, a frozen host) must not hold the writer
# for ever: TCP keepalives find a silent peer in about 11 s, and data it leaves
# unacknowledged for 10 s drops the connection.
_LIMITS: dict[str, Any] = {
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 3,
    "tcp_user_timeout": 10_000,
}
# The server's own statements give up rather than wait behind a lock (VACUUM FULL, an
# ALTER TABLE) or run for ever; migrations and copies, which may be long, do not.
SERVING = "-c statement_timeout=10s -c lock_timeout=5s"

_WORD = re.compile(r"\w+")
_COLUMN_NAMES = {"by": "by_whom"}  # where a column of TABLES has another name here
_VISIBLE = "NOT (restricted AND ts < %s)"
# One statement per batch, its rows in one JSON parameter: psycopg adapts a Python list
# to an array element by element in Python (a dozen arrays cost some 300 µs a batch),
# while json.dumps is C and PostgreSQL reads JSON as fast. With the highest id in the same
# statement, the usual batch (nothing kept for offline accounts) is one round trip in
# autocommit mode, where a statement is its own transaction, instead of four (BEGIN,
# INSERT, UPDATE, COMMIT), each some 80 µs of system time on loopback.
_INSERT_JSON = """
INSERT INTO messages (id, ts, room, room_key, sender, target, kind, text, account,
                      restricted, tags, words)
SELECT (r->>0)::bigint, (r->>1)::float8, r->>2, r->>3, r->>4, r->>5, r->>6, r->>7, r->>8,
       (r->>9)::boolean, r->>10, to_tsvector('simple', r->>11)
FROM json_array_elements(%s::json) AS rows (r)
"""
_INSERT_JSON_AND_MARK = f"""
WITH stored AS ({_INSERT_JSON} RETURNING id)
UPDATE meta SET value = greatest(value, (SELECT max(id) FROM stored)) WHERE key = 'last_id'
"""
_INSERT_ONE = """
INSERT INTO messages (id, ts, room, room_key, sender, target, kind, text, account,
                      restricted, tags, words)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, to_tsvector('simple', %s))
"""
# What one bad row raises (text with a NUL or a lone surrogate, a duplicate id), as opposed
# to the database failing (it is down, the disk is full), which fails the whole batch.
_ROW_ERRORS = (UnicodeError, OverflowError, psycopg.DataError, psycopg.IntegrityError)


def search_text(text: str) -> str:
    """Text as search sees it: its words, accents dropped and case folded, one space
    apart, as FTS5's unicode61 with remove_diacritics does for SQLite (the compatibility
    decomposition folds a little more: ß, ligatures, fullwidth letters; docs/postgresql.md).
    Python splits the words, so that PostgreSQL's parser, whose idea of a letter depends
    on the database's locale, has only words and spaces to split."""
    if not text.isascii():  # most chat is ASCII, which has nothing to decompose
        decomposed = unicodedata.normalize("NFKD", text)
        text = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(_WORD.findall(text.casefold()))


def _refold(conn: psycopg.Connection[Any]) -> None:
    """Fill the search column of rows stored before search existed, in batches."""
    last = 0
    while True:
        rows = conn.execute(
            "SELECT id, text FROM messages WHERE id > %s AND room_key IS NOT NULL"
            " ORDER BY id LIMIT %s",
            (last, REFOLD_BATCH),
        ).fetchall()
        if not rows:
            return
        with conn.cursor() as cur:
            cur.execute(
                "UPDATE messages SET words = to_tsvector('simple', t.folded)"
                " FROM unnest(%s::bigint[], %s::text[]) AS t(id, folded)"
                " WHERE messages.id = t.id",
                ([r[0] for r in rows], [search_text(r[1]) for r in rows]),
            )
        last = rows[-1][0]


# Each entry upgrades the schema by one version; meta's `schema` row says how far a
# database is. Never edit a shipped entry: add one.
MIGRATIONS: tuple[str | Callable[[psycopg.Connection[Any]], None], ...] = (
    # 1: messages, accounts, what waits for them, bans, registered rooms, reactions; the
    # same tables as SQLite's seven migrations, which a new store need not replay.
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value BIGINT NOT NULL);
    INSERT INTO meta (key, value) VALUES ('last_id', 0);
    CREATE TABLE messages (
        id         BIGINT PRIMARY KEY,  -- the hub's message id, growing across restarts
        ts         DOUBLE PRECISION NOT NULL,  -- server time, seconds since the epoch
        room       TEXT,                -- the room as shown; NULL for a private message
        room_key   TEXT,                -- the room folded, for lookups
        sender     TEXT NOT NULL,
        target     TEXT,                -- the recipient of a private message
        kind       TEXT NOT NULL,       -- message, action or notice
        text       TEXT NOT NULL,
        account    TEXT,                -- the sender's account, if logged in
        restricted BOOLEAN NOT NULL DEFAULT false,  -- said while the room was closed
        tags       TEXT                 -- JSON [[name, value], ...]; NULL for none
    );
    CREATE INDEX messages_by_room ON messages (room_key, id);
    CREATE INDEX messages_by_ts ON messages (ts);
    CREATE TABLE accounts (
        name_key TEXT PRIMARY KEY,      -- the nick folded
        name     TEXT NOT NULL,         -- as registered
        secret   TEXT NOT NULL,         -- scrypt parameters, salt and hash; never the password
        created  DOUBLE PRECISION NOT NULL
    );
    CREATE TABLE offline (
        account    TEXT NOT NULL,       -- the recipient's account, folded
        message_id BIGINT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
        PRIMARY KEY (account, message_id)
    );
    CREATE INDEX offline_by_message ON offline (message_id);
    CREATE TABLE server_bans (
        mask_key TEXT PRIMARY KEY,      -- the mask folded
        mask     TEXT NOT NULL,
        reason   TEXT NOT NULL,
        by_whom  TEXT NOT NULL,
        created  DOUBLE PRECISION NOT NULL,
        expires  DOUBLE PRECISION NOT NULL  -- 0: never
    );
    CREATE TABLE rooms (
        room_key TEXT PRIMARY KEY,      -- the name folded
        name     TEXT NOT NULL,
        owner    TEXT NOT NULL,         -- the account it is registered to, folded
        created  DOUBLE PRECISION NOT NULL
    );
    CREATE TABLE reactions (
        message_id BIGINT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
        sender     TEXT NOT NULL,
        emoji      TEXT NOT NULL,
        ts         DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (message_id, sender, emoji)
    );
    """,
    # 2: full-text search. Each room message carries its words (accents and case folded
    # by search_text, split by the 'simple' configuration: no stemming, any language) in
    # a GIN index, written in the same statement that stores it: GIN's pending list makes
    # that cheap, and search never trails delivery.
    """
    ALTER TABLE messages ADD COLUMN words tsvector;
    CREATE INDEX messages_words ON messages USING gin (words);
    """,
    _refold,
)
SCHEMA_VERSION = len(MIGRATIONS)


def _configure(conn: psycopg.Connection[Any]) -> None:
    # Every statement names tables without a schema: this connection finds them in ours.
    conn.execute(f"SET search_path TO {SCHEMA}")


class PostgresStore:
    """History, accounts and moderation in one PostgreSQL database, through a small pool.

    Called from the server's store threads (the writer, the readers, retention) like the
    SQLite store; each call takes a connection from the pool for its own length.
    """

    commits_on_loop = False  # a commit waits for the network: the writer has a thread
    single_writer = False  # rows are locked one by one: retention runs beside the commits
    unavailable: tuple[type[BaseException], ...] = (
        psycopg.OperationalError, PoolTimeout, OSError, TimeoutError,
    )  # fmt: skip

    def __init__(self, url: str, options: str = SERVING) -> None:
        """`options`: server settings for the pool's connections (`-c name=value ...`)."""
        self.url = url
        self.options = options
        self.where = redacted(url)
        self._pool: ConnectionPool[psycopg.Connection[Any]] | None = None
        # When each pooled connection was last handed back.
        self._last_used: weakref.WeakKeyDictionary[psycopg.Connection[Any], float] = (
            weakref.WeakKeyDictionary()
        )
        self._room_keys_cache: dict[str, str] = {}

    # -- lifecycle ------------------------------------------------------------------------

    def open(self) -> None:
        pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            self.url,
            min_size=1,
            max_size=POOL_SIZE,
            kwargs={
                "autocommit": True,
                "connect_timeout": CONNECT_TIMEOUT,
                "options": self.options,
                **_LIMITS,
            },
            configure=_configure,
            check=self._check_idle,
            timeout=POOL_WAIT,
            reconnect_timeout=RECONNECT_FOR,
            name="tertulia",
            open=False,
        )
        try:
            # One connection made here, in the caller's thread, so that a wrong address or
            # password is one clear line now rather than a pool retrying in the background.
            self.migrate()
            pool.open(wait=True, timeout=POOL_WAIT * 2)
        except (psycopg.Error, PoolTimeout) as exc:
            pool.close()
            raise StoreError(_one_line(exc)) from exc
        except BaseException:
            pool.close()
            raise
        self._pool = pool

    def migrate(self, target: int = SCHEMA_VERSION) -> int:
        """Bring the database up to `target`; returns the version it was at.

        Several servers may start at once on one database: each takes a session lock
        before it looks at anything, so one creates the schema and migrates while the
        others wait, then find nothing left to do. (A lock taken inside each step's
        transaction was not enough: a transaction that began before the first server
        committed still saw no tables, and ran the first step again.)
        """
        with psycopg.connect(
            self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT, **_LIMITS
        ) as conn:
            conn.execute("SELECT pg_advisory_lock(hashtext('tertulia migrate'))")
            try:
                # Only a missing schema is created: CREATE SCHEMA IF NOT EXISTS still
                # needs the right to create one, which the owner of an existing one may
                # not have.
                (missing,) = conn.execute(  # type: ignore[misc]
                    "SELECT to_regnamespace(%s) IS NULL", (SCHEMA,)
                ).fetchone()
                if missing:
                    conn.execute(f"CREATE SCHEMA {SCHEMA}")
                _configure(conn)
                return self._migrate(conn, target)
            finally:
                conn.execute("SELECT pg_advisory_unlock(hashtext('tertulia migrate'))")

    def _migrate(self, conn: psycopg.Connection[Any], target: int) -> int:
        found = self._version(conn)
        if found > SCHEMA_VERSION:
            raise StoreError(
                f"{self.where} has schema version {found}; this tertulia knows up to "
                f"{SCHEMA_VERSION}: upgrade tertulia"
            )
        for version in range(found + 1, target + 1):
            with conn.transaction():
                step = MIGRATIONS[version - 1]
                if isinstance(step, str):
                    conn.execute(step)
                else:
                    step(conn)
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('schema', %s)"
                    " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (version,),
                )
        return found

    @staticmethod
    def _version(conn: psycopg.Connection[Any]) -> int:
        (exists,) = conn.execute(  # type: ignore[misc]
            "SELECT to_regclass(%s) IS NOT NULL", (f"{SCHEMA}.meta",)
        ).fetchone()
        if not exists:
            return 0
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        return int(row[0]) if row is not None else 0

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def backup(self, target: str) -> None:
        raise StoreError(
            "PostgreSQL is backed up with its own tools: pg_dump --format=custom "
            f"--file={target} (docs/postgresql.md)"
        )

    def checkpoint(self) -> None:
        """PostgreSQL checkpoints by itself."""

    def check(self) -> None:
        with self._conn() as conn:
            conn.execute("SELECT 1")

    def _check_idle(self, conn: psycopg.Connection[Any]) -> None:
        """Before a call takes a connection that has sat idle, one round trip to see that
        it still works: a PostgreSQL restarted meanwhile closed it, and the call would
        fail (a batch refused) although PostgreSQL is back. One in use all along is not
        asked: under load the check costs nothing."""
        if time.monotonic() - self._last_used.get(conn, 0.0) > IDLE_CHECK:
            conn.execute("")

    @contextmanager
    def _conn(self) -> Iterator[psycopg.Connection[Any]]:
        if self._pool is None:
            raise StoreError("the history store is not open")
        with self._pool.connection() as conn:
            try:
                yield conn
            finally:
                # Here, not in the pool's `reset` callback: with one, the pool hands every
                # returned connection to a worker thread of its own, a wake-up per batch.
                self._last_used[conn] = time.monotonic()

    # -- writing --------------------------------------------------------------------------

    def last_id(self) -> int:
        with self._conn() as conn:
            (found,) = conn.execute(  # type: ignore[misc]
                "SELECT greatest((SELECT value FROM meta WHERE key = 'last_id'),"
                " (SELECT coalesce(max(id), 0) FROM messages))"
            ).fetchone()
        return int(found)

    def append(
        self, messages: Sequence[Message], offline: Sequence[tuple[str, int]] = ()
    ) -> list[int]:
        keys = self._room_keys_cache
        if len(keys) > 10_000:
            keys.clear()
        rows: list[tuple[Any, ...]] = []
        for m in messages:
            tags = tags_to(m.tags)
            if isinstance(m, RoomMessage):
                key = keys.get(m.room)
                if key is None:
                    key = keys[m.room] = fold(m.room)
                rows.append(
                    (m.id, m.ts, m.room, key, m.sender, None, m.kind.value, m.text, m.account,
                     m.restricted, tags, search_text(m.text))
                )  # fmt: skip
            else:
                rows.append(
                    (m.id, m.ts, None, None, m.sender, m.target, m.kind.value, m.text,
                     m.account, False, tags, None)
                )  # fmt: skip
        try:
            return self._append(rows, messages, offline)
        except psycopg.errors.AdminShutdown:
            # PostgreSQL was restarted since this connection last worked: it ended the
            # session before running anything of ours, so once more on a new one is safe.
            return self._append(rows, messages, offline)

    def _append(
        self,
        rows: list[tuple[Any, ...]],
        messages: Sequence[Message],
        offline: Sequence[tuple[str, int]],
    ) -> list[int]:
        refused: set[int] = set()
        with self._conn() as conn:
            try:
                batch = json.dumps(rows, ensure_ascii=False)
                if not offline:
                    conn.execute(_INSERT_JSON_AND_MARK, (batch,))
                    return []
                with conn.transaction():
                    conn.execute(_INSERT_JSON, (batch,))
                    self._after_insert(conn, messages, offline, refused)
                return []
            except _ROW_ERRORS:
                pass  # one row the database will not take: the batch again, row by row
            with conn.transaction():
                for row in rows:
                    try:
                        with conn.transaction():  # a savepoint: a failure undoes this row
                            conn.execute(_INSERT_ONE, row)
                    except _ROW_ERRORS:
                        refused.add(row[0])
                self._after_insert(conn, messages, offline, refused)
        return sorted(refused)

    @staticmethod
    def _after_insert(
        conn: psycopg.Connection[Any],
        messages: Sequence[Message],
        offline: Sequence[tuple[str, int]],
        refused: set[int],
    ) -> None:
        last = max((m.id for m in messages if m.id not in refused), default=0)
        conn.execute("UPDATE meta SET value = greatest(value, %s) WHERE key = 'last_id'", (last,))
        kept = [(account, mid) for account, mid in offline if mid not in refused]
        if kept:
            # Kept up to OFFLINE_LIMIT per account: nobody can fill someone's box for ever.
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO offline (account, message_id) SELECT %s, %s WHERE"
                    " (SELECT count(*) FROM offline WHERE account = %s) < %s"
                    " ON CONFLICT DO NOTHING",
                    [(account, mid, account, OFFLINE_LIMIT) for account, mid in kept],
                )

    def index(self, limit: int | None = None) -> int:
        """Nothing to do: each message is indexed in the statement that stores it."""
        return 0

    def unindexed(self) -> int:
        return 0

    # -- accounts -------------------------------------------------------------------------

    def accounts(self) -> set[str]:
        with self._conn() as conn:
            return {key for (key,) in conn.execute("SELECT name_key FROM accounts")}

    def secret(self, name: str) -> str | None:
        with self._conn() as conn:
            row = conn.execute(
                "SELECT secret FROM accounts WHERE name_key = %s", (fold(name),)
            ).fetchone()
        return None if row is None else str(row[0])

    def add_account(self, name: str, secret: str, created: float) -> bool:
        with self._conn() as conn:
            cur = conn.execute(
                "INSERT INTO accounts (name_key, name, secret, created) VALUES (%s, %s, %s, %s)"
                " ON CONFLICT DO NOTHING",
                (fold(name), name, secret, created),
            )
            return cur.rowcount == 1

    def set_secret(self, name: str, secret: str) -> None:
        with self._conn() as conn:
            conn.execute(
                "UPDATE accounts SET secret = %s WHERE name_key = %s", (secret, fold(name))
            )

    def account_list(self) -> list[tuple[str, float]]:
        with self._conn() as conn:
            rows = conn.execute("SELECT name, created FROM accounts ORDER BY name_key").fetchall()
        return [(str(name), float(created)) for name, created in rows]

    def drop_account(self, name: str) -> bool:
        key = fold(name)
        with self._conn() as conn, conn.transaction():
            conn.execute("DELETE FROM offline WHERE account = %s", (key,))
            # Its rooms are given back: whoever registers the name next must not own them.
            conn.execute("DELETE FROM rooms WHERE owner = %s", (key,))
            gone = conn.execute("DELETE FROM accounts WHERE name_key = %s", (key,)).rowcount
        return gone == 1

    def rename_account(self, old: str, new: str) -> bool:
        before, after = fold(old), fold(new)
        with self._conn() as conn, conn.transaction():
            if after != before:
                taken = conn.execute(
                    "SELECT 1 FROM accounts WHERE name_key = %s", (after,)
                ).fetchone()
                if taken is not None:
                    return False
            moved = conn.execute(
                "UPDATE accounts SET name_key = %s, name = %s WHERE name_key = %s",
                (after, new, before),
            ).rowcount
            conn.execute("UPDATE offline SET account = %s WHERE account = %s", (after, before))
            conn.execute("UPDATE rooms SET owner = %s WHERE owner = %s", (after, before))
        return moved == 1

    def offline(self, account: str) -> list[PrivateMessage]:
        with self._conn() as conn:
            rows = conn.execute(offline_query("%s"), (fold(account),)).fetchall()
        return private_messages(rows)

    def handed_over(self, account: str, ids: Sequence[int]) -> None:
        with self._conn() as conn:
            conn.execute(
                "DELETE FROM offline WHERE account = %s AND message_id = ANY(%s::bigint[])",
                (fold(account), list(ids)),
            )

    # -- server bans and registered rooms -------------------------------------------------

    def bans(self) -> list[ServerBan]:
        with self._conn() as conn:
            rows = conn.execute(
                "SELECT mask, reason, by_whom, created, expires FROM server_bans ORDER BY created"
            ).fetchall()
        return [ServerBan(*row) for row in rows]

    def add_ban(self, ban: ServerBan) -> None:
        with self._conn() as conn:
            conn.execute(
                "INSERT INTO server_bans (mask_key, mask, reason, by_whom, created, expires)"
                " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (mask_key) DO UPDATE SET"
                " mask = excluded.mask, reason = excluded.reason, by_whom = excluded.by_whom,"
                " created = excluded.created, expires = excluded.expires",
                (fold(ban.mask), ban.mask, ban.reason, ban.by, ban.created, ban.expires),
            )

    def remove_ban(self, mask: str) -> None:
        with self._conn() as conn:
            conn.execute("DELETE FROM server_bans WHERE mask_key = %s", (fold(mask),))

    def registered_rooms(self) -> dict[str, tuple[str, str]]:
        with self._conn() as conn:
            rows = conn.execute("SELECT room_key, name, owner FROM rooms").fetchall()
        return {key: (name, owner) for key, name, owner in rows}

    def register_room(self, name: str, owner: str, created: float) -> bool:
        with self._conn() as conn:
            cur = conn.execute(
                "INSERT INTO rooms (room_key, name, owner, created) VALUES (%s, %s, %s, %s)"
                " ON CONFLICT DO NOTHING",
                (fold(name), name, fold(owner), created),
            )
            return cur.rowcount == 1

    def unregister_room(self, name: str) -> None:
        with self._conn() as conn:
            conn.execute("DELETE FROM rooms WHERE room_key = %s", (fold(name),))

    # -- reactions ------------------------------------------------------------------------

    def add_reaction(self, message_id: int, sender: str, emoji: str, ts: float) -> None:
        with self._conn() as conn:
            conn.execute(
                "INSERT INTO reactions (message_id, sender, emoji, ts)"
                " SELECT %s, %s, %s, %s WHERE EXISTS (SELECT 1 FROM messages WHERE id = %s)"
                " ON CONFLICT DO NOTHING",
                (message_id, sender, emoji, ts, message_id),
            )

    def reactions(self, message_ids: Sequence[int]) -> dict[int, list[tuple[str, str]]]:
        found: dict[int, list[tuple[str, str]]] = {}
        if not message_ids:
            return found
        with self._conn() as conn:
            rows = conn.execute(
                "SELECT message_id, emoji, sender FROM reactions"
                " WHERE message_id = ANY(%s::bigint[]) ORDER BY ts",
                (list(message_ids),),
            ).fetchall()
        for mid, emoji, sender in rows:
            found.setdefault(mid, []).append((emoji, sender))
        return found

    def forget(self, message_id: int) -> None:
        with self._conn() as conn:
            conn.execute("DELETE FROM messages WHERE id = %s", (message_id,))

    def prune(self, older_than: float | None, keep_per_room: int | None) -> int:
        """Delete old messages a few hundred per transaction: between two, the writer's
        commits go through."""
        cutoffs, deleted = self.prune_cutoffs(keep_per_room), 0
        while True:
            count = self.prune_step(older_than, cutoffs, PRUNE_BATCH)
            deleted += count
            if count < PRUNE_BATCH:
                return deleted

    def prune_cutoffs(self, keep_per_room: int | None) -> dict[str, int]:
        if keep_per_room is None:
            return {}
        found = {}
        with self._conn() as conn:
            for key in self._keys(conn):
                row = conn.execute(
                    "SELECT id FROM messages WHERE room_key = %s"
                    " ORDER BY id DESC LIMIT 1 OFFSET %s",
                    (key, keep_per_room),
                ).fetchone()
                if row is not None:
                    found[key] = int(row[0])
        return found

    def prune_step(self, older_than: float | None, cutoffs: dict[str, int], limit: int) -> int:
        with self._conn() as conn:
            return prune_step(
                lambda sql, args: conn.execute(sql, args).rowcount,
                "%s", older_than, cutoffs, limit,
            )  # fmt: skip

    # -- moving a whole store (tertulia store copy) ----------------------------------------

    def export_messages(self, after: int, limit: int) -> list[Message]:
        with self._conn() as conn:
            rows = conn.execute(
                f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE id > %s ORDER BY id LIMIT %s",
                (after, limit),
            ).fetchall()
        return [message(row) for row in rows]

    def export_rows(self, table: str) -> list[tuple[object, ...]]:
        columns = ", ".join(_COLUMN_NAMES.get(c, c) for c in TABLES[table])
        with self._conn() as conn:
            return list(conn.execute(f"SELECT {columns} FROM {table}").fetchall())

    def import_rows(self, table: str, rows: Sequence[tuple[object, ...]]) -> int:
        columns = [_COLUMN_NAMES.get(c, c) for c in TABLES[table]]
        added = 0
        with self._conn() as conn, conn.transaction(), conn.cursor() as cur:
            # COPY into a temporary table, then one insert that skips keys already there:
            # thousands of rows in one round trip each way.
            cur.execute(f"CREATE TEMPORARY TABLE incoming (LIKE {table}) ON COMMIT DROP")
            with cur.copy(f"COPY incoming ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cur.execute(
                f"INSERT INTO {table} ({', '.join(columns)})"
                f" SELECT {', '.join(columns)} FROM incoming ON CONFLICT DO NOTHING"
            )
            added = cur.rowcount
        return added

    def keep_last_id(self, last: int) -> None:
        with self._conn() as conn:
            conn.execute(
                "UPDATE meta SET value = greatest(value, %s) WHERE key = 'last_id'", (last,)
            )

    def counts(self) -> dict[str, int]:
        with self._conn() as conn:
            return {
                table: int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # type: ignore[index]
                for table in ("messages", *TABLES)
            }

    # -- reading --------------------------------------------------------------------------

    def recent(self, per_room: int) -> dict[str, list[RoomMessage]]:
        with self._conn() as conn:
            keys = self._keys(conn)
        return {key: self.before(key, None, per_room) for key in keys}

    @staticmethod
    def _keys(conn: psycopg.Connection[Any]) -> list[str]:
        # Every room's key, one index probe per room rather than a scan of every message
        # (PostgreSQL 15 has no skip scan of its own).
        rows = conn.execute(
            "WITH RECURSIVE keys (k) AS ("
            " (SELECT room_key FROM messages WHERE room_key IS NOT NULL"
            "  ORDER BY room_key LIMIT 1)"
            " UNION ALL"
            " SELECT (SELECT room_key FROM messages WHERE room_key > keys.k"
            "  ORDER BY room_key LIMIT 1) FROM keys WHERE keys.k IS NOT NULL"
            ") SELECT k FROM keys WHERE k IS NOT NULL"
        ).fetchall()
        return [key for (key,) in rows]

    def before(
        self, room: str, before: int | None, limit: int, opened: float = 0.0
    ) -> list[RoomMessage]:
        with self._conn() as conn:
            rows = conn.execute(
                f"SELECT {ROOM_COLUMNS} FROM messages"
                f" WHERE room_key = %s AND id < %s AND {_VISIBLE} ORDER BY id DESC LIMIT %s",
                (fold(room), below(before), opened, limit),
            ).fetchall()
        return [room_message(row) for row in reversed(rows)]

    def search(
        self, room: str, words: str, before: int | None, limit: int, opened: float = 0.0
    ) -> list[RoomMessage]:
        # Words, never query syntax: plainto_tsquery reads its text as words to AND.
        found = search_text(words)
        if not found:
            return []
        with self._conn() as conn:
            rows = conn.execute(
                f"SELECT {ROOM_COLUMNS} FROM messages"
                " WHERE room_key = %s AND words @@ plainto_tsquery('simple', %s)"
                f" AND id < %s AND {_VISIBLE} ORDER BY id DESC LIMIT %s",
                (
                    fold(room), found, below(before),
                    opened, limit,
                ),
            ).fetchall()  # fmt: skip
        return [room_message(row) for row in rows]


def _one_line(exc: BaseException) -> str:
    """An error from psycopg as one line (libpq's messages span several)."""
    text = " ".join(str(exc).split())
    return text or type(exc).__name__
