"""The history in one SQLite file: WAL, versioned migrations, full-text search with FTS5."""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

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

# Each entry upgrades the schema by one version; PRAGMA user_version says how far a file is.
# Never edit a shipped entry: add one.
MIGRATIONS: tuple[str, ...] = (
    # 1: messages, by room and by time.
    """
    CREATE TABLE messages (
        id       INTEGER PRIMARY KEY,  -- the hub's message id, growing across restarts
        ts       REAL NOT NULL,        -- server time, seconds since the epoch
        room     TEXT,                 -- the room as shown; NULL for a private message
        room_key TEXT,                 -- the room folded, for lookups
        sender   TEXT NOT NULL,
        target   TEXT,                 -- the recipient of a private message
        kind     TEXT NOT NULL,        -- message, action or notice
        text     TEXT NOT NULL
    );
    CREATE INDEX messages_by_room ON messages (room_key, id);
    CREATE INDEX messages_by_ts ON messages (ts);
    """,
    # 2: full-text search over the text, accents and case folded, kept in step by triggers.
    """
    CREATE VIRTUAL TABLE messages_fts USING fts5(
        text, content='messages', content_rowid='id',
        tokenize='unicode61 remove_diacritics 2'
    );
    INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');
    CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
        INSERT INTO messages_fts (rowid, text) VALUES (new.id, new.text);
    END;
    CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
    END;
    """,
    # 3: accounts, the sender's account on each message, private messages kept for later.
    """
    CREATE TABLE accounts (
        name_key TEXT PRIMARY KEY,     -- the nick folded
        name     TEXT NOT NULL,        -- as registered
        secret   TEXT NOT NULL,        -- scrypt parameters, salt and hash; never the password
        created  REAL NOT NULL
    );
    ALTER TABLE messages ADD COLUMN account TEXT;
    CREATE TABLE offline (
        account    TEXT NOT NULL,      -- the recipient's account, folded
        message_id INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
        PRIMARY KEY (account, message_id)
    );
    """,
    # 4: messages said in closed rooms (+i, +k) are marked; ids never go back (pruning the
    # newest messages must not let a restarted server hand out their ids again).
    """
    ALTER TABLE messages ADD COLUMN restricted INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
    INSERT INTO meta (key, value) SELECT 'last_id', coalesce(max(id), 0) FROM messages;
    """,
    # 5: server bans (with their expiry) and rooms registered to an account.
    """
    CREATE TABLE server_bans (
        mask_key TEXT PRIMARY KEY,     -- the mask folded
        mask     TEXT NOT NULL,
        reason   TEXT NOT NULL,
        by       TEXT NOT NULL,
        created  REAL NOT NULL,
        expires  REAL NOT NULL         -- 0: never
    );
    CREATE TABLE rooms (
        room_key TEXT PRIMARY KEY,     -- the name folded
        name     TEXT NOT NULL,
        owner    TEXT NOT NULL,        -- the account it is registered to, folded
        created  REAL NOT NULL
    );
    """,
    # 6: client tags on messages (replies), and reactions to messages.
    """
    ALTER TABLE messages ADD COLUMN tags TEXT;  -- JSON [[name, value], ...]; NULL for none
    CREATE TABLE reactions (
        message_id INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
        sender     TEXT NOT NULL,
        emoji      TEXT NOT NULL,
        ts         REAL NOT NULL,
        PRIMARY KEY (message_id, sender, emoji)
    );
    """,
    # 7: names beyond ASCII fold as RFC 8265 does (NFKC, lower case): keys written by an
    # older fold are folded again, so #CAFÉ's history is #café's. (A second account whose
    # name now folds like another's keeps its old key: OR IGNORE.)
    """
    UPDATE messages SET room_key = tertulia_fold(room_key)
        WHERE room_key IS NOT NULL AND room_key <> tertulia_fold(room_key);
    UPDATE OR IGNORE accounts SET name_key = tertulia_fold(name_key)
        WHERE name_key <> tertulia_fold(name_key);
    UPDATE OR IGNORE offline SET account = tertulia_fold(account)
        WHERE account <> tertulia_fold(account);
    UPDATE OR IGNORE rooms SET room_key = tertulia_fold(room_key), owner = tertulia_fold(owner)
        WHERE room_key <> tertulia_fold(room_key) OR owner <> tertulia_fold(owner);
    """,
    # 8: the search index leaves the commit path. Indexing a row inside the transaction
    # that stores it cost three times the row itself (FTS5 writes a segment per commit);
    # index() now indexes what was stored since the mark, in big batches, a moment later.
    # The delete trigger takes out only rows the index holds: deleting a row it never
    # indexed would corrupt an external-content index.
    """
    DROP TRIGGER messages_fts_insert;
    DROP TRIGGER messages_fts_delete;
    INSERT OR REPLACE INTO meta (key, value)
        SELECT 'fts_indexed', coalesce(max(id), 0) FROM messages;
    CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages
        WHEN old.id <= (SELECT value FROM meta WHERE key = 'fts_indexed') BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
    END;
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)
FILE_NAME = "tertulia.db"
OFFLINE_LIMIT = 100  # private messages kept per offline account
PRUNE_BATCH = 500  # messages deleted per transaction when pruning
INDEX_BATCH = 5000  # messages indexed for search per transaction (a few milliseconds)

# A closed room's messages older than the room now of that name are not shown.
_VISIBLE = "NOT (restricted AND ts < ?)"
_WORD = re.compile(r"\w+")
_INSERT = (
    "INSERT INTO messages (id, ts, room, room_key, sender, target, kind, text, account,"
    " restricted, tags) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
# What one bad row raises (text that cannot be encoded, a duplicate id...), as opposed to
# the database failing (a full disk, a lost file), which fails the whole batch.
_ROW_ERRORS = (UnicodeError, OverflowError, sqlite3.IntegrityError)


def _prune_step(
    db: sqlite3.Connection, older_than: float | None, cutoffs: dict[str, int], limit: int
) -> int:
    return prune_step(
        lambda sql, args: db.execute(sql, args).rowcount, "?", older_than, cutoffs, limit
    )


def _private(path: Path, mode: int) -> None:
    """Narrow `path` to `mode` if it is ours and wider (an existing data directory)."""
    try:
        if path.stat().st_uid == os.getuid() and path.stat().st_mode & 0o777 & ~mode:
            path.chmod(mode)
    except OSError:
        pass  # not ours to change: the operator chose


class SqliteStore:
    """One file, one connection, used from one worker thread at a time."""

    def __init__(
        self, path: str | Path, synchronous: str = "normal", own_directory: bool = True
    ) -> None:
        """`own_directory`: the file's directory is tertulia's (the data directory), to be
        made the owner's alone; False for a file the operator placed elsewhere, where
        only the file itself is narrowed (its directory may be /tmp or anyone's)."""
        self.path = Path(path)
        self.own_directory = own_directory
        self.where = str(self.path)
        self.synchronous = synchronous.upper()
        # WAL with synchronous=NORMAL commits to the page cache, some tens of microseconds:
        # on the loop. FULL waits for an fsync, which the loop must not wait for.
        self.commits_on_loop = self.synchronous != "FULL"
        self.single_writer = True  # one connection writes at a time; the others wait
        self.unavailable: tuple[type[BaseException], ...] = (sqlite3.OperationalError, OSError)
        self._db: sqlite3.Connection | None = None
        self._checkpointer: sqlite3.Connection | None = None
        self._pruner: sqlite3.Connection | None = None
        # Reads (history pages, search, a password's hash) have connections of their own,
        # one per thread: WAL lets them run beside a commit instead of queueing behind it.
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._room_keys_cache: dict[str, str] = {}  # room as shown -> folded, for append

    @property
    def db(self) -> sqlite3.Connection:
        """The connection that writes (and migrates): used from one thread only."""
        if self._db is None:
            raise StoreError("the history store is not open")
        return self._db

    @property
    def reader(self) -> sqlite3.Connection:
        """This thread's read-only connection, opened on first use."""
        if self._db is None:
            raise StoreError("the history store is not open")
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA query_only = ON")
            conn.execute("PRAGMA busy_timeout = 5000")
            self._local.conn = conn
            with self._readers_lock:
                self._readers.append(conn)
        return conn

    # -- lifecycle ------------------------------------------------------------------------

    def open(self) -> None:
        # Private messages and password hashes live here: the owner alone reads them.
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if self.own_directory:
            _private(self.path.parent, 0o700)
        if self.path.is_dir():
            raise StoreError(f"{self.path} is a directory, not a database file")
        self.path.touch(mode=0o600, exist_ok=True)
        _private(self.path, 0o600)
        # Autocommit mode: transactions are explicit, so a batch is exactly one commit.
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            db.execute("PRAGMA journal_mode = WAL")
            # NORMAL in WAL mode survives a killed process (SIGKILL); FULL also survives
            # a power cut, at the price of an fsync per commit.
            db.execute(f"PRAGMA synchronous = {self.synchronous}")
            db.execute("PRAGMA busy_timeout = 5000")
            db.execute("PRAGMA foreign_keys = ON")  # pruning a message drops its offline row
            # Checkpoints copy the WAL into the file; left to SQLite they run inside a commit
            # now and then and make that message wait milliseconds. checkpoint() runs them
            # from another connection instead.
            db.execute("PRAGMA wal_autocheckpoint = 0")
            self._db = db
            self.migrate()
            self.index()  # what a crash left unindexed
        except BaseException:
            self._db = None
            db.close()
            raise

    def migrate(self, target: int = SCHEMA_VERSION) -> int:
        """Bring the file up to `target`; returns the version it was at."""
        (found,) = self.db.execute("PRAGMA user_version").fetchone()
        if found > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} has schema version {found}; this tertulia knows up to "
                f"{SCHEMA_VERSION}: upgrade tertulia"
            )
        # Migrations that fold names again call the same fold as the server.
        self.db.create_function("tertulia_fold", 1, fold, deterministic=True)
        for version in range(found + 1, target + 1):
            self.db.executescript(
                f"BEGIN; {MIGRATIONS[version - 1]}; PRAGMA user_version = {version}; COMMIT;"
            )
        return int(found)

    def close(self) -> None:
        with self._readers_lock:
            readers, self._readers = self._readers, []
        for conn in readers:
            conn.close()
        self._local = threading.local()
        for other in (self._checkpointer, self._pruner):
            if other is not None:
                other.close()
        self._checkpointer = self._pruner = None
        if self._db is not None:
            self.index()
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # leave one tidy file
            self._db.close()
            self._db = None

    def backup(self, target: str) -> None:
        # SQLite's online backup, in one step: it reads one snapshot of the database while
        # the writer goes on committing beside it (WAL), so the copy is consistent.
        path = Path(target)
        try:
            # Made here, the owner's alone whatever the umask, before SQLite writes a byte:
            # the copy holds password hashes and private messages, as the store does.
            # O_EXCL: never over a file that is there, not even one made a moment ago.
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            raise StoreError(f"{target} exists already") from None
        except OSError as exc:
            raise StoreError(f"cannot write the backup {target}: {exc.strerror or exc}") from None
        try:
            source = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            try:
                copy = sqlite3.connect(path)
                try:
                    source.backup(copy)
                finally:
                    copy.close()
            finally:
                source.close()
        except sqlite3.Error as exc:
            # A half-made copy (a full disk) must not be mistaken for a backup later.
            with contextlib.suppress(OSError):
                path.unlink()
            raise StoreError(f"cannot write the backup {target}: {exc}") from None

    def checkpoint(self) -> None:
        """Copy committed pages from the WAL into the database file, without blocking writers.

        Meant for a thread of its own, beside the one that commits: it has its own
        connection, as SQLite wants one per thread.
        """
        if self._checkpointer is None:
            self._checkpointer = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False
            )
            self._checkpointer.execute("PRAGMA busy_timeout = 5000")
        self._checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def check(self) -> None:
        self.reader.execute("SELECT 1 FROM meta LIMIT 1").fetchone()

    # -- writing --------------------------------------------------------------------------

    def last_id(self) -> int:
        (found,) = self.db.execute(
            "SELECT max((SELECT value FROM meta WHERE key = 'last_id'),"
            " (SELECT coalesce(max(id), 0) FROM messages))"
        ).fetchone()
        return int(found)

    def append(
        self, messages: Sequence[Message], offline: Sequence[tuple[str, int]] = ()
    ) -> list[int]:
        keys = self._room_keys_cache
        if len(keys) > 10_000:  # a flood of one-message rooms must not grow it for ever
            keys.clear()

        def room_key(room: str) -> str:
            key = keys.get(room)
            if key is None:
                key = keys[room] = fold(room)
            return key

        rows = [
            (
                m.id, m.ts, m.room, room_key(m.room), m.sender, None, m.kind.value, m.text,
                m.account, m.restricted, tags_to(m.tags),
            )
            if isinstance(m, RoomMessage)
            else (
                m.id, m.ts, None, None, m.sender, m.target, m.kind.value, m.text, m.account,
                False, tags_to(m.tags),
            )
            for m in messages
        ]  # fmt: skip
        db = self.db
        db.execute("BEGIN")
        try:
            try:
                db.executemany(_INSERT, rows)
                refused: set[int] = set()
            except _ROW_ERRORS:
                # One row the database will not take must not cost the others: undo the
                # rows before it, then the batch again row by row, in a new transaction.
                # (Not a SAVEPOINT around every batch: FTS5 flushes its pending terms at
                # each savepoint, which made every commit half again as dear.)
                db.execute("ROLLBACK")
                db.execute("BEGIN")
                refused = self._insert_one_by_one(rows)
            last = max((m.id for m in messages if m.id not in refused), default=0)
            db.execute("UPDATE meta SET value = max(value, ?) WHERE key = 'last_id'", (last,))
            # Kept up to OFFLINE_LIMIT per account: nobody can fill someone's box for ever.
            db.executemany(
                "INSERT OR IGNORE INTO offline (account, message_id) SELECT ?, ? WHERE"
                " (SELECT count(*) FROM offline WHERE account = ?) < ?",
                [
                    (account, mid, account, OFFLINE_LIMIT)
                    for account, mid in offline
                    if mid not in refused
                ],
            )
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return sorted(refused)

    def _insert_one_by_one(self, rows: list[tuple[Any, ...]]) -> set[int]:
        """Insert rows one at a time (a failed statement undoes only itself); the ids of
        those that failed."""
        refused = set()
        for row in rows:
            try:
                self.db.execute(_INSERT, row)
            except _ROW_ERRORS:
                refused.add(row[0])
        return refused

    def index(self, limit: int | None = None) -> int:
        """Index for search the messages stored since the last call (at most `limit` of
        them); how many.

        Called between commits, in transactions of INDEX_BATCH rows that move the mark
        with the rows: a crash undoes the batch under way and the next call indexes it
        again, so nothing is indexed twice or left out.
        """
        db, count = self.db, 0
        while limit is None or count < limit:
            size = INDEX_BATCH if limit is None else min(INDEX_BATCH, limit - count)
            db.execute("BEGIN")
            try:
                (mark,) = db.execute("SELECT value FROM meta WHERE key = 'fts_indexed'").fetchone()
                (last,) = db.execute(
                    "SELECT max(id) FROM (SELECT id FROM messages WHERE id > ? ORDER BY id"
                    " LIMIT ?)",
                    (mark, size),
                ).fetchone()
                if last is None:
                    db.execute("COMMIT")
                    break
                count += db.execute(
                    "INSERT INTO messages_fts (rowid, text)"
                    " SELECT id, text FROM messages WHERE id > ? AND id <= ?",
                    (mark, last),
                ).rowcount
                db.execute("UPDATE meta SET value = ? WHERE key = 'fts_indexed'", (last,))
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        return count

    def unindexed(self) -> int:
        """How many stored messages search cannot find yet."""
        (count,) = self.reader.execute(
            "SELECT count(*) FROM messages WHERE id >"
            " (SELECT value FROM meta WHERE key = 'fts_indexed')"
        ).fetchone()
        return int(count)

    # -- accounts -------------------------------------------------------------------------

    def accounts(self) -> set[str]:
        return {key for (key,) in self.reader.execute("SELECT name_key FROM accounts")}

    def secret(self, name: str) -> str | None:
        row = self.reader.execute(
            "SELECT secret FROM accounts WHERE name_key = ?", (fold(name),)
        ).fetchone()
        return None if row is None else str(row[0])

    def add_account(self, name: str, secret: str, created: float) -> bool:
        """False if the name is taken."""
        cursor = self.db.execute(
            "INSERT OR IGNORE INTO accounts (name_key, name, secret, created) VALUES (?, ?, ?, ?)",
            (fold(name), name, secret, created),
        )
        return cursor.rowcount == 1

    def set_secret(self, name: str, secret: str) -> None:
        self.db.execute("UPDATE accounts SET secret = ? WHERE name_key = ?", (secret, fold(name)))

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        # The connection is in autocommit mode (`with db` would open no transaction).
        self.db.execute("BEGIN")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def account_list(self) -> list[tuple[str, float]]:
        rows = self.reader.execute("SELECT name, created FROM accounts ORDER BY name_key")
        return [(str(name), float(created)) for name, created in rows]

    def drop_account(self, name: str) -> bool:
        key = fold(name)
        with self._transaction():
            self.db.execute("DELETE FROM offline WHERE account = ?", (key,))
            # Its rooms are given back: whoever registers the name next must not own them.
            self.db.execute("DELETE FROM rooms WHERE owner = ?", (key,))
            gone = self.db.execute("DELETE FROM accounts WHERE name_key = ?", (key,)).rowcount
        return gone == 1

    def rename_account(self, old: str, new: str) -> bool:
        before, after = fold(old), fold(new)
        with self._transaction():
            taken = self.db.execute(
                "SELECT 1 FROM accounts WHERE name_key = ?", (after,)
            ).fetchone()
            if taken is not None and after != before:
                return False
            moved = self.db.execute(
                "UPDATE accounts SET name_key = ?, name = ? WHERE name_key = ?",
                (after, new, before),
            ).rowcount
            self.db.execute("UPDATE offline SET account = ? WHERE account = ?", (after, before))
            self.db.execute("UPDATE rooms SET owner = ? WHERE owner = ?", (after, before))
        return moved == 1

    def offline(self, account: str) -> list[PrivateMessage]:
        """The private messages kept for an account, oldest first (still kept)."""
        rows = self.reader.execute(offline_query("?"), (fold(account),)).fetchall()
        return private_messages(rows)

    def handed_over(self, account: str, ids: Sequence[int]) -> None:
        """Stop keeping these messages: the account's owner has them now."""
        self.db.executemany(
            "DELETE FROM offline WHERE account = ? AND message_id = ?",
            [(fold(account), i) for i in ids],
        )

    # -- server bans and registered rooms ----------------------------------------------------

    def bans(self) -> list[ServerBan]:
        rows = self.reader.execute(
            "SELECT mask, reason, by, created, expires FROM server_bans ORDER BY created"
        ).fetchall()
        return [ServerBan(*row) for row in rows]

    def add_ban(self, ban: ServerBan) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO server_bans (mask_key, mask, reason, by, created, expires)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (fold(ban.mask), ban.mask, ban.reason, ban.by, ban.created, ban.expires),
        )

    def remove_ban(self, mask: str) -> None:
        self.db.execute("DELETE FROM server_bans WHERE mask_key = ?", (fold(mask),))

    def registered_rooms(self) -> dict[str, tuple[str, str]]:
        """Folded room name -> (name, owner account) for every registered room."""
        rows = self.reader.execute("SELECT room_key, name, owner FROM rooms").fetchall()
        return {key: (name, owner) for key, name, owner in rows}

    def register_room(self, name: str, owner: str, created: float) -> bool:
        """False if the room is registered already."""
        cursor = self.db.execute(
            "INSERT OR IGNORE INTO rooms (room_key, name, owner, created) VALUES (?, ?, ?, ?)",
            (fold(name), name, fold(owner), created),
        )
        return cursor.rowcount == 1

    def unregister_room(self, name: str) -> None:
        self.db.execute("DELETE FROM rooms WHERE room_key = ?", (fold(name),))

    # -- reactions ----------------------------------------------------------------------------

    def add_reaction(self, message_id: int, sender: str, emoji: str, ts: float) -> None:
        """Keep a reaction to a stored message (one per sender and emoji); nothing if the
        message is not stored (a private one to nobody's account, or gone)."""
        self.db.execute(
            "INSERT OR IGNORE INTO reactions (message_id, sender, emoji, ts)"
            " SELECT ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM messages WHERE id = ?)",
            (message_id, sender, emoji, ts, message_id),
        )

    def reactions(self, message_ids: Sequence[int]) -> dict[int, list[tuple[str, str]]]:
        """(emoji, sender) of each message's reactions, oldest first, by message id."""
        found: dict[int, list[tuple[str, str]]] = {}
        ids = list(message_ids)
        for start in range(0, len(ids), 500):  # SQLite's limit on parameters is far above
            chunk = ids[start : start + 500]
            rows = self.reader.execute(
                "SELECT message_id, emoji, sender FROM reactions WHERE message_id IN"
                f" ({', '.join('?' * len(chunk))}) ORDER BY ts",
                chunk,
            ).fetchall()
            for mid, emoji, sender in rows:
                found.setdefault(mid, []).append((emoji, sender))
        return found

    def forget(self, message_id: int) -> None:
        # The delete trigger takes it out of the search index too; ids never go back.
        with self.db:
            self.db.execute("DELETE FROM messages WHERE id = ?", (message_id,))

    def prune(self, older_than: float | None, keep_per_room: int | None) -> int:
        """Delete old messages, PRUNE_BATCH per transaction, from a connection of its own:
        for a caller with a thread of its own. (The server steps through prune_step in
        the writer's turn instead: SQLite lets one connection write at a time, and a
        commit that finds another writing sleeps in SQLite's busy handler, the event loop
        with it, for as long as a second.)"""
        db, deleted = self._pruning(), 0
        cutoffs = self.prune_cutoffs(keep_per_room)
        while True:
            count = _prune_step(db, older_than, cutoffs, PRUNE_BATCH)
            deleted += count
            if count < PRUNE_BATCH:
                return deleted

    def prune_cutoffs(self, keep_per_room: int | None) -> dict[str, int]:
        if keep_per_room is None:
            return {}
        found = {}
        for key in self._room_keys():
            row = self.reader.execute(
                "SELECT id FROM messages WHERE room_key = ? ORDER BY id DESC LIMIT 1 OFFSET ?",
                (key, keep_per_room),
            ).fetchone()
            if row is not None:
                found[key] = int(row[0])
        return found

    def prune_step(self, older_than: float | None, cutoffs: dict[str, int], limit: int) -> int:
        return _prune_step(self.db, older_than, cutoffs, limit)

    def _pruning(self) -> sqlite3.Connection:
        if self._db is None:
            raise StoreError("the history store is not open")
        if self._pruner is None:
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA busy_timeout = 5000")
            db.execute("PRAGMA foreign_keys = ON")  # a pruned message drops its offline row
            self._pruner = db
        return self._pruner

    # -- moving a whole store (tertulia store copy) ----------------------------------------

    def export_messages(self, after: int, limit: int) -> list[Message]:
        rows = self.reader.execute(
            f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE id > ? ORDER BY id LIMIT ?",
            (after, limit),
        ).fetchall()
        return [message(row) for row in rows]

    def export_rows(self, table: str) -> list[tuple[object, ...]]:
        columns = ", ".join(TABLES[table])
        return list(self.reader.execute(f"SELECT {columns} FROM {table}").fetchall())

    def import_rows(self, table: str, rows: Sequence[tuple[object, ...]]) -> int:
        columns = TABLES[table]
        db = self.db
        before = db.total_changes
        # One transaction: in autocommit mode `with db` opens none, and every row would
        # be a commit of its own (ten times slower, and half a table after an interruption).
        db.execute("BEGIN")
        try:
            db.executemany(
                f"INSERT OR IGNORE INTO {table} ({', '.join(columns)})"
                f" VALUES ({', '.join('?' * len(columns))})",
                rows,
            )
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return db.total_changes - before

    def keep_last_id(self, last: int) -> None:
        self.db.execute("UPDATE meta SET value = max(value, ?) WHERE key = 'last_id'", (last,))

    def counts(self) -> dict[str, int]:
        return {
            table: int(self.reader.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
            for table in ("messages", *TABLES)
        }

    # -- reading --------------------------------------------------------------------------

    def recent(self, per_room: int) -> dict[str, list[RoomMessage]]:
        return {key: self.before(key, None, per_room) for key in self._room_keys()}

    def before(
        self, room: str, before: int | None, limit: int, opened: float = 0.0
    ) -> list[RoomMessage]:
        rows = self.reader.execute(
            f"SELECT {ROOM_COLUMNS} FROM messages WHERE room_key = ? AND id < ? AND {_VISIBLE} "
            "ORDER BY id DESC LIMIT ?",
            (fold(room), below(before), opened, limit),
        ).fetchall()
        return [room_message(row) for row in reversed(rows)]

    def search(
        self, room: str, words: str, before: int | None, limit: int, opened: float = 0.0
    ) -> list[RoomMessage]:
        # Each word quoted: the user's text is words to find, never FTS5 query syntax.
        query = " ".join(f'"{w}"' for w in _WORD.findall(words))
        if not query:
            return []
        rows = self.reader.execute(
            f"SELECT {', '.join('m.' + c for c in ROOM_COLUMNS.split(', '))} "
            "FROM messages_fts JOIN messages AS m ON m.id = messages_fts.rowid "
            "WHERE messages_fts MATCH ? AND m.room_key = ? AND m.id < ? "
            "AND NOT (m.restricted AND m.ts < ?) ORDER BY m.id DESC LIMIT ?",
            (query, fold(room), below(before), opened, limit),
        ).fetchall()
        return [room_message(row) for row in rows]

    def _room_keys(self) -> list[str]:
        rows = self.reader.execute(
            "SELECT DISTINCT room_key FROM messages WHERE room_key IS NOT NULL"
        ).fetchall()
        return [key for (key,) in rows]
