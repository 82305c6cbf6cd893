"""What only the PostgreSQL store does: several servers migrating one database at once,
a schema made ready by an administrator, limits on a server that stops answering."""

from __future__ import annotations

import threading
from urllib.parse import urlsplit, urlunsplit

import psycopg

from pgserver import PgServer
from tertulia.store import StoreError
from tertulia.store.postgres import SCHEMA_VERSION, PostgresStore


def test_servers_starting_together_on_a_fresh_database_migrate_it_once(pg_url: str) -> None:
    stores = [PostgresStore(pg_url) for _ in range(3)]
    failures: list[BaseException] = []
    start = threading.Barrier(len(stores))

    def open_store(store: PostgresStore) -> None:
        start.wait(10)
        try:
            store.open()
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=open_store, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    try:
        assert failures == []
        with psycopg.connect(pg_url) as conn:
            row = conn.execute("SELECT value FROM tertulia.meta WHERE key = 'schema'").fetchone()
        assert row == (SCHEMA_VERSION,)
        # Each of them works on the one schema.
        for i, store in enumerate(stores):
            assert store.add_account(f"ana{i}", "scrypt$x", 1.0)
        assert stores[0].accounts() == {"ana0", "ana1", "ana2"}
    finally:
        for store in stores:
            store.close()


def test_a_schema_an_administrator_made_is_used_without_the_right_to_create_one(
    pg_server: PgServer, pg_url: str
) -> None:
    database = urlsplit(pg_url).path.lstrip("/")
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute("CREATE ROLE chat_owner LOGIN")
        admin.execute("CREATE SCHEMA tertulia AUTHORIZATION chat_owner")
        admin.execute(f'REVOKE CREATE ON DATABASE "{database}" FROM PUBLIC')
    owner_url = urlunsplit(
        urlsplit(pg_url)._replace(netloc=f"chat_owner@127.0.0.1:{pg_server.port}")
    )
    store = PostgresStore(owner_url)
    store.open()
    try:
        assert store.add_account("ana", "scrypt$x", 1.0)
        assert store.last_id() == 0
    finally:
        store.close()
    # Without the schema, and without the right to make it, the refusal is one line.
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute("DROP SCHEMA tertulia CASCADE")
    try:
        PostgresStore(owner_url).open()
    except StoreError as exc:
        assert "permission denied" in str(exc) and "\n" not in str(exc)
    else:
        raise AssertionError("a role that may not create a schema opened a store")


def test_the_servers_connections_give_up_rather_than_wait_for_ever(pg_url: str) -> None:
    store = PostgresStore(pg_url)
    store.open()
    try:
        with store._conn() as conn:  # one of the pool's, as the writer gets it
            settings = dict(
                conn.execute(
                    "SELECT name, setting FROM pg_settings WHERE name IN"
                    " ('statement_timeout', 'lock_timeout', 'tcp_user_timeout')"
                ).fetchall()
            )
            # The connection's own options: keepalives and the TCP timeout.
            options = {o.keyword.decode(): o.val for o in conn.pgconn.info}
        assert settings["statement_timeout"] == "10000"
        assert settings["lock_timeout"] == "5000"
        assert options["keepalives_idle"] == b"5"
        assert options["tcp_user_timeout"] == b"10000"
    finally:
        store.close()
