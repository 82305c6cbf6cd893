"""One contract, every store: each test here runs against SQLite and against a real
PostgreSQL, through the Store interface alone (what the server relies on)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import pytest

from tertulia.core.bans import ServerBan
from tertulia.core.events import Kind, PrivateMessage, RoomMessage
from tertulia.store import TABLES, Store, StoreError, from_url
from tertulia.store import sqlite as sqlite_store

Message = RoomMessage | PrivateMessage
OLD_TEXT = "una canción vieja"


def room_messages(
    room: str, texts: list[str], first_id: int = 1, ts: float = 1000.0
) -> list[RoomMessage]:
    return [RoomMessage(first_id + i, ts + i, room, "ana", t) for i, t in enumerate(texts)]


class Backend(Protocol):
    name: str

    def fresh(self) -> Store:
        """An empty store, not yet opened."""
        ...

    def old(self) -> Store:
        """A store at an older schema holding message 7 of #Lobby, OLD_TEXT; not opened."""
        ...

    def future(self) -> Store:
        """A store whose schema is newer than this tertulia's; not opened."""
        ...


class SqliteBackend:
    name = "sqlite"

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.made = 0

    def fresh(self) -> Store:
        self.made += 1
        return from_url(f"sqlite://{self.tmp / f'h{self.made}.db'}", self.tmp)

    def old(self) -> Store:
        path = self.tmp / "old.db"
        db = sqlite3.connect(path)
        db.executescript(sqlite_store.MIGRATIONS[0] + "; PRAGMA user_version = 1;")
        db.execute(
            "INSERT INTO messages VALUES (7, 1.0, '#Lobby', '#lobby', 'ana', NULL, 'message', ?)",
            (OLD_TEXT,),
        )
        db.commit()
        db.close()
        return from_url(f"sqlite://{path}", self.tmp)

    def future(self) -> Store:
        path = self.tmp / "future.db"
        db = sqlite3.connect(path)
        db.execute(f"PRAGMA user_version = {sqlite_store.SCHEMA_VERSION + 1}")
        db.close()
        return from_url(f"sqlite://{path}", self.tmp)


class PostgresBackend:
    name = "postgresql"

    def __init__(self, request: pytest.FixtureRequest) -> None:
        self.request = request

    def _url(self) -> str:
        server = self.request.getfixturevalue("pg_server")
        return str(server.new_database())

    def fresh(self) -> Store:
        return from_url(self._url(), "/nonexistent")

    def old(self) -> Store:
        import psycopg

        from tertulia.store import postgres

        url = self._url()
        postgres.PostgresStore(url).migrate(target=1)  # the schema before search
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO tertulia.messages (id, ts, room, room_key, sender, kind, text)"
                " VALUES (7, 1.0, '#Lobby', '#lobby', 'ana', 'message', %s)",
                (OLD_TEXT,),
            )
            conn.execute("UPDATE tertulia.meta SET value = 7 WHERE key = 'last_id'")
        return from_url(url, "/nonexistent")

    def future(self) -> Store:
        import psycopg

        from tertulia.store import postgres

        url = self._url()
        postgres.PostgresStore(url).migrate()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                "UPDATE tertulia.meta SET value = %s WHERE key = 'schema'",
                (postgres.SCHEMA_VERSION + 1,),
            )
        return from_url(url, "/nonexistent")


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "sqlite":
        return SqliteBackend(tmp_path)
    return PostgresBackend(request)


@pytest.fixture
def store(backend: Backend) -> Iterator[Store]:
    s = backend.fresh()
    s.open()
    yield s
    s.close()


def texts(found: list[RoomMessage]) -> list[str]:
    return [m.text for m in found]


# -- schema -------------------------------------------------------------------------------


def test_an_old_schema_opens_upgraded_and_its_messages_are_found(backend: Backend) -> None:
    store = backend.old()
    store.open()
    try:
        assert store.last_id() == 7
        assert [(m.id, m.room) for m in store.before("#LOBBY", None, 10)] == [(7, "#Lobby")]
        store.index()
        # Search covers what was stored before search existed.
        assert [m.id for m in store.search("#lobby", "CANCION vieja", None, 10)] == [7]
        store.append(room_messages("#lobby", ["nueva"], first_id=8))
    finally:
        store.close()


def test_opening_twice_migrates_once(backend: Backend) -> None:
    first = backend.fresh()
    first.open()
    first.append(room_messages("#a", ["uno"]))
    first.close()
    first.open()  # the same database again: nothing to migrate, nothing lost
    try:
        assert texts(first.before("#a", None, 10)) == ["uno"]
    finally:
        first.close()


def test_a_newer_schema_is_refused_with_one_line(backend: Backend) -> None:
    with pytest.raises(StoreError, match="upgrade tertulia") as caught:
        backend.future().open()
    assert "\n" not in str(caught.value)


# -- writing ------------------------------------------------------------------------------


def test_a_batch_is_stored_and_ids_only_grow(store: Store) -> None:
    assert store.last_id() == 0
    assert store.append(room_messages("#a", ["uno", "dos"])) == []
    store.append([PrivateMessage(3, 5.0, "ana", "bob", "psst", Kind.ACTION)])
    assert store.last_id() == 3
    # Private messages are nobody's room history.
    assert texts(store.before("#a", None, 10)) == ["uno", "dos"]
    assert store.recent(10).keys() == {"#a"}
    # Pruned away, their ids are still taken: a restarted server goes on from 4.
    assert store.prune(older_than=10_000.0, keep_per_room=None) == 3
    assert store.last_id() == 3


def test_one_row_the_database_refuses_costs_only_itself(store: Store) -> None:
    batch: list[Message] = [
        *room_messages("#lobby", ["antes", "\ud800", "después"], first_id=1),
        PrivateMessage(4, 1004.0, "ana", "bob", "psst"),
    ]
    assert store.append(batch, offline=[("bob", 2), ("bob", 4)]) == [2]
    assert texts(store.before("#lobby", None, 10)) == ["antes", "después"]
    assert [m.id for m in store.offline("bob")] == [4]
    assert store.last_id() == 4
    # An id taken is refused alone too; the rest of its batch is stored.
    assert store.append(room_messages("#lobby", ["clash", "cinco"], first_id=4)) == [4]
    assert texts(store.before("#lobby", None, 10)) == ["antes", "después", "cinco"]


def test_tags_kinds_and_accounts_come_back_as_stored(store: Store) -> None:
    said = RoomMessage(
        1, 1000.5, "#Sala", "Ana", "hola", Kind.ACTION, "ana", False, (("+draft/reply", "9"),)
    )
    store.append([said])
    assert store.before("#sala", None, 1) == [said]


# -- reading ------------------------------------------------------------------------------


def test_paging_and_recent(store: Store) -> None:
    store.append(room_messages("#a", [f"a{i}" for i in range(10)]))
    store.append(room_messages("#B", ["b0", "b1"], first_id=11))
    assert texts(store.before("#a", None, 3)) == ["a7", "a8", "a9"]
    assert texts(store.before("#a", 8, 3)) == ["a4", "a5", "a6"]
    assert texts(store.before("#a", 2, 3)) == ["a0"]
    recent = store.recent(2)
    assert {k: texts(v) for k, v in recent.items()} == {"#a": ["a8", "a9"], "#b": ["b0", "b1"]}


def test_a_page_before_an_id_past_any_is_the_newest(store: Store) -> None:
    store.append(room_messages("#a", ["uno gato", "dos gato"]))
    store.index()
    for huge in (1 << 62, 1 << 63, 10**30):
        assert texts(store.before("#a", huge, 10)) == ["uno gato", "dos gato"]
        assert texts(store.search("#a", "gato", huge, 10)) == ["dos gato", "uno gato"]


def test_search_takes_words_not_syntax_with_accents_and_case_folded(store: Store) -> None:
    store.append(room_messages("#a", ["Él dijo: ¡ÑANDÚ!", "ñandu y gato", "perro", 'a "b" OR c']))
    store.index()
    assert texts(store.search("#a", "ñandú", None, 10)) == ["ñandu y gato", "Él dijo: ¡ÑANDÚ!"]
    assert texts(store.search("#A", "NANDU gato", None, 10)) == ["ñandu y gato"]
    assert store.search("#a", "", None, 10) == []
    assert store.search("#a", '" OR * NEAR( & | !', None, 10) == []
    assert texts(store.search("#a", 'b" OR "c', None, 10)) == ['a "b" OR c']
    assert store.search("#other", "perro", None, 10) == []


def test_search_pages_newest_first(store: Store) -> None:
    store.append(room_messages("#a", [f"gato {i}" for i in range(1, 8)]))
    store.index()
    assert [m.id for m in store.search("#a", "gato", None, 3)] == [7, 6, 5]
    assert [m.id for m in store.search("#a", "gato", 5, 3)] == [4, 3, 2]


def test_a_closed_rooms_history_is_hidden_from_the_room_made_anew(store: Store) -> None:
    store.append(
        [
            RoomMessage(1, 100.0, "#sala", "ana", "abierto gato"),
            RoomMessage(2, 110.0, "#sala", "ana", "secreto gato", restricted=True),
            RoomMessage(3, 200.0, "#sala", "ana", "nuevo gato", restricted=True),
        ]
    )
    store.index()
    # The room of that name now was made at 150: what was said closed before it is not its.
    assert texts(store.before("#sala", None, 10, opened=150.0)) == ["abierto gato", "nuevo gato"]
    assert texts(store.search("#sala", "gato", None, 10, opened=150.0)) == [
        "nuevo gato",
        "abierto gato",
    ]
    assert len(store.before("#sala", None, 10, opened=0.0)) == 3


def test_a_forgotten_message_leaves_pages_search_and_reactions(store: Store) -> None:
    store.append(room_messages("#a", ["uno gato", "dos gato", "tres"]))
    store.index()
    store.add_reaction(2, "bob", "👍", 1.0)
    store.forget(2)
    assert texts(store.before("#a", None, 10)) == ["uno gato", "tres"]
    assert texts(store.search("#a", "gato", None, 10)) == ["uno gato"]
    assert store.reactions([2]) == {}
    assert store.last_id() == 3  # ids never go back


# -- retention ----------------------------------------------------------------------------


def test_retention_by_age_and_by_count(store: Store) -> None:
    store.append(room_messages("#a", [f"a{i}" for i in range(10)], ts=100.0))
    store.append(room_messages("#b", [f"b{i}" for i in range(5)], first_id=11, ts=200.0))
    store.index()
    assert store.prune(older_than=105.0, keep_per_room=None) == 5
    assert texts(store.before("#a", None, 20)) == [f"a{i}" for i in range(5, 10)]
    assert store.prune(older_than=None, keep_per_room=2) == 3 + 3
    assert texts(store.before("#a", None, 20)) == ["a8", "a9"]
    assert texts(store.before("#b", None, 20)) == ["b3", "b4"]
    assert store.search("#a", "a0", None, 10) == []


def test_retention_in_steps_the_server_takes_between_commits(store: Store) -> None:
    store.append(room_messages("#a", [f"a{i}" for i in range(10)], ts=100.0))
    store.append(room_messages("#b", [f"b{i}" for i in range(4)], first_id=11, ts=200.0))
    assert store.prune_cutoffs(None) == {}
    cutoffs = store.prune_cutoffs(2)
    assert cutoffs == {"#a": 8, "#b": 12}  # the newest id each room drops
    steps: list[int] = []
    while not steps or steps[-1] == 3:
        steps.append(store.prune_step(150.0, cutoffs, 3))
    assert steps == [3, 3, 3, 3, 0]  # 10 of #a (all older than 150), then 2 of #b
    assert texts(store.before("#a", None, 20)) == []
    assert texts(store.before("#b", None, 20)) == ["b2", "b3"]


def test_a_prune_from_another_thread_takes_offline_rows_and_spares_new_ones(
    store: Store,
) -> None:
    count = 1207  # past two of either store's delete batches
    store.append(room_messages("#a", [f"viejo {i}" for i in range(count)], ts=100.0))
    kept = PrivateMessage(count + 1, 50.0, "ana", "bob", "psst")
    store.append([kept], offline=[("bob", kept.id)])
    store.append(room_messages("#a", ["nuevo"], first_id=count + 2, ts=10_000.0))
    done: list[int] = []
    pruner = threading.Thread(target=lambda: done.append(store.prune(5000.0, None)))
    pruner.start()
    # A message stored while it may be running is newer than the cut: it stays (whether
    # the two overlap is up to the scheduler; the server's own stepping is in
    # tests/server/test_history_failures.py).
    store.append(room_messages("#a", ["durante"], first_id=count + 3, ts=10_001.0))
    pruner.join(30)
    assert done == [count + 1]
    assert texts(store.before("#a", None, 10)) == ["nuevo", "durante"]
    assert store.offline("bob") == []  # its offline row went with it


# -- accounts and what waits for them -----------------------------------------------------


def test_accounts_are_folded_and_unique(store: Store) -> None:
    assert store.accounts() == set()
    assert store.add_account("Ñandú", "scrypt$1", 1.0)
    assert not store.add_account("ñANDÚ", "scrypt$2", 2.0)
    assert store.accounts() == {"ñandú"}
    assert store.secret("ÑANDÚ") == "scrypt$1"
    store.set_secret("ñandú", "scrypt$3")
    assert store.secret("Ñandú") == "scrypt$3"
    assert store.secret("nadie") is None


def test_offline_messages_wait_for_their_account_up_to_a_bound(store: Store) -> None:
    kept = [PrivateMessage(i, 1000.0 + i, "ana", "Bob", f"m{i}") for i in range(1, 106)]
    store.append(kept, offline=[("bob", m.id) for m in kept])
    waiting = store.offline("BOB")
    assert [m.id for m in waiting] == list(range(1, 101))  # a hundred, the oldest first
    assert (waiting[0].sender, waiting[0].target, waiting[0].text) == ("ana", "Bob", "m1")
    store.handed_over("bob", [m.id for m in waiting[:60]])
    assert [m.id for m in store.offline("bob")] == list(range(61, 101))


def test_accounts_are_listed_renamed_and_dropped(store: Store) -> None:
    store.add_account("Bob", "scrypt$b", 2.0)
    store.add_account("ana", "scrypt$a", 1.0)
    kept = [PrivateMessage(i, 1000.0 + i, "ana", "Bob", f"m{i}") for i in (1, 2)]
    store.append(kept, offline=[("bob", m.id) for m in kept])
    assert store.register_room("#bob", "Bob", 3.0) and store.register_room("#ana", "ana", 3.0)
    assert store.account_list() == [("ana", 1.0), ("Bob", 2.0)]
    assert not store.rename_account("bob", "ANA")  # taken
    assert not store.rename_account("nadie", "zoe")
    assert store.rename_account("bob", "Roberto")
    assert store.accounts() == {"ana", "roberto"} and store.secret("roberto") == "scrypt$b"
    assert [m.id for m in store.offline("roberto")] == [1, 2]  # what waited goes with it
    assert store.registered_rooms()["#bob"] == ("#bob", "roberto")  # and its rooms
    assert store.rename_account("roberto", "ROBERTO")  # a change of case only
    assert store.account_list() == [("ana", 1.0), ("ROBERTO", 2.0)]
    assert store.drop_account("Roberto")
    assert not store.drop_account("roberto")
    assert store.accounts() == {"ana"} and store.offline("roberto") == []
    # Its rooms are given back: whoever registers the name next must not own them.
    assert store.registered_rooms() == {"#ana": ("#ana", "ana")}


# -- moderation ---------------------------------------------------------------------------


def test_server_bans_are_kept_replaced_and_removed(store: Store) -> None:
    store.add_ban(ServerBan("*!*@10.0.0.0/8", "spam", "oper", 1.0, 0.0))
    store.add_ban(ServerBan("Malo!*@*", "flood", "oper", 2.0, 99.0))
    store.add_ban(ServerBan("malo!*@*", "flood again", "root", 3.0, 0.0))  # same mask, folded
    assert store.bans() == [
        ServerBan("*!*@10.0.0.0/8", "spam", "oper", 1.0, 0.0),
        ServerBan("malo!*@*", "flood again", "root", 3.0, 0.0),
    ]
    store.remove_ban("MALO!*@*")
    assert [b.mask for b in store.bans()] == ["*!*@10.0.0.0/8"]


def test_rooms_registered_to_accounts(store: Store) -> None:
    assert store.register_room("#Café", "Ana", 1.0)
    assert not store.register_room("#CAFÉ", "bob", 2.0)
    assert store.registered_rooms() == {"#café": ("#Café", "ana")}
    store.unregister_room("#cafÉ")
    assert store.registered_rooms() == {}


def test_reactions_once_per_sender_and_emoji_oldest_first(store: Store) -> None:
    store.append(room_messages("#a", ["uno", "dos"]))
    store.add_reaction(1, "bob", "👍", 2.0)
    store.add_reaction(1, "ana", "🎉", 1.0)
    store.add_reaction(1, "bob", "👍", 3.0)  # again: kept once
    store.add_reaction(99, "bob", "👍", 1.0)  # no such message: nothing
    assert store.reactions([1, 2, 99]) == {1: [("🎉", "ana"), ("👍", "bob")]}


# -- moving a whole store -----------------------------------------------------------------


def test_a_whole_store_reads_out_and_into_another(backend: Backend, store: Store) -> None:
    said: list[Message] = [
        *room_messages("#a", ["uno", "dos"]),
        PrivateMessage(3, 1003.0, "ana", "Bob", "psst", Kind.ACTION, "ana", (("+x", "1"),)),
    ]
    store.append(said, offline=[("bob", 3)])
    store.add_account("Bob", "scrypt$1", 1.0)
    store.add_ban(ServerBan("*!*@10.0.0.0/8", "spam", "oper", 1.0, 0.0))
    store.register_room("#a", "bob", 1.0)
    store.add_reaction(1, "bob", "👍", 2.0)
    assert store.export_messages(0, 2) == said[:2]
    assert store.export_messages(2, 10) == said[2:]
    other = backend.fresh()
    other.open()
    try:
        assert other.append(store.export_messages(0, 10)) == []
        for table in TABLES:
            rows = store.export_rows(table)
            assert other.import_rows(table, rows) == len(rows) == 1
            assert other.import_rows(table, rows) == 0  # again: nothing twice
        other.keep_last_id(10)
        assert other.counts() == store.counts() == {"messages": 3, **dict.fromkeys(TABLES, 1)}
        assert other.offline("bob") == store.offline("bob")
        assert other.reactions([1]) == {1: [("👍", "bob")]}
        assert other.last_id() == 10
    finally:
        other.close()
