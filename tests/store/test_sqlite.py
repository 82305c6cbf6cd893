"""What only the SQLite store does: its file, WAL and checkpoints, its own migrations, and
an FTS5 index that trails the commits (tests/store/test_contract.py holds what every
store does)."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tertulia.core.events import Kind, PrivateMessage, RoomMessage
from tertulia.store import StoreError, from_url
from tertulia.store.sqlite import MIGRATIONS, SCHEMA_VERSION, SqliteStore


def room_messages(
    room: str, texts: list[str], first_id: int = 1, ts: float = 1000.0
) -> list[RoomMessage]:
    return [RoomMessage(first_id + i, ts + i, room, "ana", t) for i, t in enumerate(texts)]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    s = SqliteStore(tmp_path / "h.db")
    s.open()
    yield s
    s.close()


def test_a_file_of_the_first_schema_opens_and_upgrades(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    # A database exactly as the first version of the schema left it, with messages in it.
    db = sqlite3.connect(path)
    db.executescript(MIGRATIONS[0] + "; PRAGMA user_version = 1;")
    db.execute(
        "INSERT INTO messages VALUES (7, 1.0, '#Lobby', '#lobby', 'ana', NULL, 'message', "
        "'una canción vieja')"
    )
    db.commit()
    db.close()
    store = SqliteStore(path)
    store.open()
    try:
        assert store.db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        assert store.last_id() == 7
        # The new search index covers what was there before the upgrade.
        found = store.search("#LOBBY", "CANCION", None, 10)
        assert [(m.id, m.room, m.text) for m in found] == [(7, "#Lobby", "una canción vieja")]
    finally:
        store.close()
    # Opening again is a no-op.
    again = SqliteStore(path)
    again.open()
    assert again.migrate() == SCHEMA_VERSION
    again.close()


def test_names_folded_the_old_way_are_found_after_the_upgrade(tmp_path: Path) -> None:
    path = tmp_path / "v6.db"
    db = sqlite3.connect(path)
    db.executescript(";".join(MIGRATIONS[:6]) + "; PRAGMA user_version = 6;")
    # Schema 6's server folded only ASCII: #CAFÉ was kept as #cafÉ, the account Ñandú with
    # its capital Ñ.
    db.execute(
        "INSERT INTO messages (id, ts, room, room_key, sender, kind, text) VALUES"
        " (1, 1.0, '#CAFÉ', '#cafÉ', 'Ñandú', 'message', 'un cortado')"
    )
    db.execute("INSERT INTO accounts VALUES ('Ñandú', 'Ñandú', 'scrypt$x', 1.0)")
    db.commit()
    db.close()
    store = SqliteStore(path)
    store.open()
    try:
        assert [m.text for m in store.before("#café", None, 10)] == ["un cortado"]
        assert store.secret("ñandú") == "scrypt$x"
        assert store.accounts() == {"ñandú"}
    finally:
        store.close()


def test_wal_mode_and_batches(store: SqliteStore) -> None:
    assert store.db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    store.append(room_messages("#a", ["uno", "dos"]))
    store.append([PrivateMessage(3, 5.0, "ana", "bob", "psst", Kind.ACTION)])
    assert store.last_id() == 3
    row = store.db.execute(
        "SELECT sender, target, kind, room FROM messages WHERE id = 3"
    ).fetchone()
    assert row == ("ana", "bob", "action", None)
    # A row the database refuses (an id taken) is refused alone: the rest of its batch
    # is stored, in the same transaction.
    assert store.append(room_messages("#a", ["clash", "tres"], first_id=3)) == [3]
    assert [m.text for m in store.before("#a", None, 10)] == ["uno", "dos", "tres"]


def test_checkpoints_run_beside_commits_and_close_leaves_one_file(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "h.db")
    store.open()
    assert store.db.execute("PRAGMA wal_autocheckpoint").fetchone() == (0,)
    store.append(room_messages("#a", [f"m{i}" for i in range(500)]))
    wal = tmp_path / "h.db-wal"
    assert wal.stat().st_size > 0
    worker = threading.Thread(target=store.checkpoint)
    worker.start()
    worker.join()
    # Everything committed was copied into the database file by the other connection.
    _, frames, copied = store.db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert frames == copied
    store.append(room_messages("#a", ["after"], first_id=501))
    store.close()
    assert not wal.exists() or wal.stat().st_size == 0
    reopened = SqliteStore(tmp_path / "h.db")
    reopened.open()
    assert reopened.last_id() == 501
    reopened.close()


def test_the_data_directory_and_database_are_the_owners_alone(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)  # an existing, wider directory is narrowed too
    store = SqliteStore(data / "tertulia.db", "normal")
    store.open()
    try:
        assert data.stat().st_mode & 0o777 == 0o700
        assert (data / "tertulia.db").stat().st_mode & 0o777 == 0o600
    finally:
        store.close()


def test_a_file_placed_elsewhere_leaves_its_directory_alone(tmp_path: Path) -> None:
    # sqlite:///tmp/chat.db must not make /tmp the owner's alone: only the data directory
    # is tertulia's to narrow.
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    shared.chmod(0o1777)
    store = from_url(f"sqlite://{shared / 'chat.db'}", tmp_path / "data")
    store.open()
    try:
        assert shared.stat().st_mode & 0o7777 == 0o1777
        assert (shared / "chat.db").stat().st_mode & 0o777 == 0o600
    finally:
        store.close()
    with pytest.raises(StoreError, match="is a directory"):
        from_url(f"sqlite://{shared}", tmp_path).open()


def fts_integrity(db: sqlite3.Connection) -> None:
    """FTS5's own check that the index holds exactly what the messages table says."""
    db.execute("INSERT INTO messages_fts (messages_fts) VALUES ('integrity-check')")


def test_the_search_index_trails_the_commits_and_catches_up(store: SqliteStore) -> None:
    store.append(room_messages("#a", ["uno gato", "dos gato", "tres gato"]))
    # Stored, and not yet found: indexing is not in the commit's way.
    assert store.search("#a", "gato", None, 10) == []
    assert store.unindexed() == 3
    assert store.index() == 3
    assert [m.id for m in store.search("#a", "gato", None, 10)] == [3, 2, 1]
    assert store.index() == 0 and store.unindexed() == 0
    # A message deleted before it was indexed leaves the index whole (the delete trigger
    # skips it), and so does one deleted after.
    store.append(room_messages("#a", ["cuatro gato", "cinco gato"], first_id=4))
    store.forget(4)
    store.forget(2)
    assert store.index() == 1
    fts_integrity(store.db)
    assert [m.id for m in store.search("#a", "gato", None, 10)] == [5, 3, 1]


# Run in a child process that SIGKILLs itself in the middle of indexing: the second batch's
# rows are in the index's open transaction, its mark not yet moved, when the process dies.
CRASH_WHILE_INDEXING = """
import os, signal, sys
from tertulia.core.events import RoomMessage
from tertulia.store import sqlite as s

s.INDEX_BATCH = 1000
store = s.SqliteStore(sys.argv[1])
store.open()
store.append([RoomMessage(i, 1000.0 + i, "#a", "ana", f"palabra {i}") for i in range(1, 4001)])
marks = []

def trace(statement):
    if statement.startswith("UPDATE meta") and "fts_indexed" in statement:
        marks.append(statement)
        if len(marks) == 2:
            print("killing", flush=True)
            os.kill(os.getpid(), signal.SIGKILL)

store.db.set_trace_callback(trace)
store.index()
print("indexed everything", flush=True)
"""


def test_a_crash_in_the_middle_of_indexing_is_indexed_again_on_opening(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    child = subprocess.run(
        [sys.executable, "-c", CRASH_WHILE_INDEXING, str(path)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert child.stdout == "killing\n"
    db = sqlite3.connect(path)
    # The first batch was committed with its mark; the second died with its transaction.
    assert db.execute("SELECT value FROM meta WHERE key = 'fts_indexed'").fetchone() == (1000,)
    db.close()
    store = SqliteStore(path)
    store.open()  # indexes what the crash left
    try:
        assert store.unindexed() == 0
        fts_integrity(store.db)
        found = store.search("#a", "palabra", None, 5000)
        assert sorted(m.id for m in found) == list(range(1, 4001))  # each once
        assert [m.id for m in store.search("#a", "1500", None, 10)] == [1500]
    finally:
        store.close()
