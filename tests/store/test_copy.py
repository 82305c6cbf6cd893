"""`tertulia store copy`: whole stores moved between SQLite and a real PostgreSQL by the
real command, resumed after a kill, what a store cannot hold refused and told, stores that
are not copies refused, and every error one line."""

from __future__ import annotations

import io
import os
import queue
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tertulia.core.bans import ServerBan
from tertulia.core.events import Kind, PrivateMessage, RoomMessage
from tertulia.store import TABLES, Message, Store, from_url
from tertulia.store import sqlite as sqlite_store
from tertulia.store.copy import Progress, copy_store
from tertulia.store_command import Display

# Stores of 100,000 messages are built and copied here: on a loaded two-core machine that
# takes several times the suite's default minute.
pytestmark = pytest.mark.timeout(240)

BIG = 100_000
ROOMS = ("#Plaza", "#dev", "#café", "#Ñandú")
SONG = 4242  # the message a search must find in every copy
T0 = 1_700_000_000.0
# English whatever the machine's locale; no TERTULIA_* setting of the caller leaks in.
ENV = {
    **{k: v for k, v in os.environ.items() if not k.startswith(("TERTULIA_", "LC_", "LANG"))},
    "LANG": "C.UTF-8",
}


def said(i: int) -> Message:
    """Message i of a busy server: rooms, actions, tags, closed rooms, private messages."""
    sender = f"user{i % 50}"
    if i % 10 == 0:
        recipient = f"user{i // 10 % 50}"
        return PrivateMessage(i, T0 + i / 10, sender, recipient, f"privado {i}", account=sender)
    return RoomMessage(
        i,
        T0 + i / 10,
        ROOMS[i % 4],
        sender,
        "una canción sobre el Ñandú" if i == SONG else f"mensaje {i} de la tertulia",
        Kind.ACTION if i % 7 == 0 else Kind.MESSAGE,
        sender if i % 3 else "",
        restricted=i % 11 == 0,
        tags=(("+draft/reply", str(i - 1)),) if i % 13 == 0 else (),
    )


def fill(store: Store, messages: list[Message], batch: int = 10_000) -> None:
    """Store messages as the server would (private ones kept for their recipients), then
    accounts, bans, registered rooms and reactions."""
    for start in range(0, len(messages), batch):
        chunk = messages[start : start + batch]
        offline = [(m.target, m.id) for m in chunk if isinstance(m, PrivateMessage)]
        assert store.append(chunk, offline) == []
    for k in range(50):
        assert store.add_account(f"User{k}", f"scrypt$16384$8$1$salt{k}$hash{k}", T0 + k)
    for k in range(5):
        store.add_ban(ServerBan(f"*!*@10.0.0.{k}", "flood", "oper", T0, T0 + 86400 * k))
    for k, room in enumerate(ROOMS):
        assert store.register_room(room, f"user{k}", T0 + k)
    for m in messages[:2000:2]:
        store.add_reaction(m.id, "user7", "👍", m.ts + 1)
        store.add_reaction(m.id, "user8", "🎉", m.ts + 2)


def sqlite_url(path: Path) -> str:
    return f"sqlite://{path}"  # an absolute path: sqlite:///...


@contextmanager
def opened(url: str) -> Iterator[Store]:
    store = from_url(url, "/nonexistent")
    store.open()
    try:
        yield store
    finally:
        store.close()


def everything(store: Store) -> tuple[list[Message], dict[str, list[tuple[object, ...]]]]:
    """Every message by id and every table's rows, sorted, to compare two stores whole."""
    tables = {table: sorted(store.export_rows(table), key=repr) for table in TABLES}
    return store.export_messages(0, 10 * BIG), tables


def copy(*args: str, timeout: float = 150) -> subprocess.CompletedProcess[str]:
    """The real command, as an operator runs it; stdin closed, output captured."""
    return subprocess.run(
        [sys.executable, "-m", "tertulia", "store", "copy", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=ENV,
        stdin=subprocess.DEVNULL,
    )


class Running:
    """The command in a subprocess, its stderr read line by line by a thread, so that a
    test waits on what it says, with a timeout, instead of sleeping."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tertulia", "store", "copy", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=ENV,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.put(line)
        self.lines.put("")  # the end

    def wait_for(self, needle: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no {needle!r} within {timeout} s: {self.seen}") from None
            if not line:
                raise AssertionError(f"ended before {needle!r}: {self.seen}")
            self.seen.append(line)
            if needle in line:
                return line

    def end(self, timeout: float = 30) -> tuple[int, str]:
        """Its exit code and the rest of its stderr."""
        code = self.proc.wait(timeout=timeout)
        rest = []
        while (line := self.lines.get(timeout=timeout)) != "":
            rest.append(line)
        assert self.proc.stdout is not None
        self.proc.stdout.close()
        return code, "".join(rest)


class Stalled:
    """A copy into PostgreSQL held up at the batch holding message `at`, however fast or
    slow the machine: the test stores a message of that id first, in a transaction it
    keeps open, and the copy's insert of that id waits for that transaction to end (a
    primary key waits for the transaction holding the key). The copy has stored every
    batch before that one and none after it until the test stops it or lets it go, so the
    test never races the copy's speed."""

    def __init__(self, url: str, at: int) -> None:
        import psycopg

        with opened(url):
            pass  # the schema, for the message to go in first; the copy finds it migrated
        self.copies: list[Running] = []
        self.watch = psycopg.connect(url, autocommit=True)  # sees others as they are now
        self.holder = psycopg.connect(url)  # a transaction, open until released
        self.holder.execute(
            "INSERT INTO tertulia.messages (id, ts, sender, kind, text)"
            " VALUES (%s, 0, 'test', 'message', 'in the way')",
            (at,),
        )

    def copy(self, *args: str) -> Running:
        running = Running(*args)
        self.copies.append(running)
        return running

    def _poll(self, what: str, done: Callable[[], bool], timeout: float) -> None:
        # PostgreSQL tells no client when another backend starts waiting on a lock or
        # goes away: it is asked a few times a second, for at most `timeout` seconds.
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: not within {timeout} s")
            time.sleep(0.02)

    def waiting(self, running: Running, timeout: float = 30) -> int:
        """The copy's backend, once it waits on the test's transaction."""
        found: list[int] = []

        def blocked() -> bool:
            if running.proc.poll() is not None:
                code, rest = running.end()
                raise AssertionError(f"the copy ended ({code}) before it waited: {rest}")
            found[:] = [
                pid
                for (pid,) in self.watch.execute(
                    "SELECT pid FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))",
                    (self.holder.info.backend_pid,),
                )
            ]
            return bool(found)

        self._poll("the copy waiting on the held message", blocked, timeout)
        assert len(found) == 1, found  # one batch at a time
        return found[0]

    def ours(self) -> list[int]:
        """The test's own backends, which no copy uses."""
        return [self.holder.info.backend_pid, self.watch.info.backend_pid]

    def release(self) -> None:
        """End the test's transaction: its message is gone, a waiting insert goes on."""
        self.holder.rollback()

    def gone(self, backend: int, timeout: float = 30) -> None:
        """Wait until a backend has ended (its client gone, or told to go)."""

        def ended() -> bool:
            query = "SELECT count(*) FROM pg_stat_activity WHERE pid = %s"
            row = self.watch.execute(query, (backend,)).fetchone()
            return row is not None and row[0] == 0

        self._poll(f"backend {backend} ending", ended, timeout)

    def close(self) -> None:
        for running in self.copies:  # a test that failed half-way leaves none behind
            if running.proc.poll() is None:
                running.proc.kill()
                running.end()
        self.holder.rollback()
        self.holder.close()
        self.watch.close()


@contextmanager
def stalled(url: str, at: int) -> Iterator[Stalled]:
    stall = Stalled(url, at)
    try:
        yield stall
    finally:
        stall.close()


# -- 100,000 messages to PostgreSQL and back -------------------------------------------------


@dataclass
class Copied:
    url: str
    done: subprocess.CompletedProcess[str]
    seconds: float


@pytest.fixture(scope="module")
def big_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("big") / "tertulia.db"
    with opened(sqlite_url(path)) as store:
        fill(store, [said(i) for i in range(1, BIG + 1)])
        # The old server had pruned its newest messages: ids up to here are taken.
        store.keep_last_id(BIG + 5000)
    return path


@pytest.fixture(scope="module")
def big_in_postgresql(big_source: Path, pg_server: Any) -> Copied:
    url = pg_server.new_database()
    began = time.perf_counter()
    done = copy(sqlite_url(big_source), url)
    return Copied(url, done, time.perf_counter() - began)


def test_a_sqlite_store_of_100k_messages_moves_to_postgresql_whole(
    big_source: Path, big_in_postgresql: Copied
) -> None:
    done = big_in_postgresql.done
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    # Not a terminal: a plain line at every tenth of the way, then one line of summary.
    tenths = [line for line in done.stderr.splitlines() if "of 100000 messages" in line]
    assert [line.split(", ")[1] for line in tenths] == [f"{10 * k}%" for k in range(1, 11)]
    assert done.stdout.startswith("verified: ") and done.stdout.count("\n") == 1
    assert "holds 100000 messages, 50 accounts" in done.stdout
    print(f"sqlite -> postgresql: {BIG / big_in_postgresql.seconds:,.0f} messages/s")
    with opened(sqlite_url(big_source)) as source, opened(big_in_postgresql.url) as copied:
        assert copied.counts() == source.counts()
        assert copied.counts()["offline"] == 5000 and copied.counts()["reactions"] == 2000
        assert everything(copied) == everything(source)
        assert copied.last_id() == BIG + 5000  # ids the old server handed out stay taken
        found = copied.search("#CAFÉ", "cancion ÑANDU", None, 10)
        assert [m.id for m in found] == [SONG]
        assert len(copied.offline("user1")) == 100  # as many as the server keeps
        assert copied.offline("user1") == source.offline("user1")
        assert copied.reactions([2]) == {}
        assert copied.reactions([3]) == {3: [("👍", "user7"), ("🎉", "user8")]}


def test_postgresql_moves_back_to_a_new_sqlite_file(
    big_source: Path, big_in_postgresql: Copied, tmp_path: Path
) -> None:
    assert big_in_postgresql.done.returncode == 0, big_in_postgresql.done.stderr
    back = tmp_path / "deeper" / "back.db"
    began = time.perf_counter()
    done = copy(big_in_postgresql.url, sqlite_url(back))
    seconds = time.perf_counter() - began
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"verified: {back} holds 100000 messages")
    print(f"postgresql -> sqlite: {BIG / seconds:,.0f} messages/s")
    with opened(sqlite_url(big_source)) as source, opened(sqlite_url(back)) as copied:
        assert everything(copied) == everything(source)
        assert copied.last_id() == BIG + 5000
        assert copied.unindexed() == 0
        assert [m.id for m in copied.search("#café", "canción", None, 10)] == [SONG]


# -- resuming ------------------------------------------------------------------------------


@pytest.fixture
def source_20k(tmp_path: Path) -> Path:
    path = tmp_path / "source.db"
    with opened(sqlite_url(path)) as store:
        fill(store, [said(i) for i in range(1, 20_001)])
    return path


def held(url: str) -> int:
    with opened(url) as store:
        return store.counts()["messages"]


# Batches of 100, held up at the 51st: 5,000 messages stored, 15,000 to go.
STOPPED_AT = 5000
FIFTH = "4000 of 20000 messages, 20%"  # the last progress line before it


def test_a_killed_copy_goes_on_where_it_stopped_and_copies_each_message_once(
    source_20k: Path, pg_url: str
) -> None:
    with stalled(pg_url, STOPPED_AT + 1) as stall:
        first = stall.copy(sqlite_url(source_20k), pg_url, "--batch", "100")
        first.wait_for(FIFTH)
        backend = stall.waiting(first)
        first.proc.kill()
        code, _ = first.end()
        assert code == -signal.SIGKILL
        assert held(pg_url) == STOPPED_AT  # every batch before the kill is kept
        # The killed copy's backend never learnt its client was gone: once the test's
        # transaction ends it may still store the batch it was sending.
        stall.release()
        stall.gone(backend)
    stopped_at = held(pg_url)
    assert stopped_at in (STOPPED_AT, STOPPED_AT + 100)

    again = copy(sqlite_url(source_20k), pg_url, "--batch", "100")
    assert again.returncode == 0, again.stderr
    assert f"resuming after message {stopped_at}:" in again.stderr
    assert f"; {20_000 - stopped_at} messages copied" in again.stdout
    with opened(sqlite_url(source_20k)) as source, opened(pg_url) as copied:
        assert everything(copied) == everything(source)  # every message, each once


def test_ctrl_c_stops_with_one_line_and_the_next_run_finishes(
    source_20k: Path, pg_url: str
) -> None:
    with stalled(pg_url, STOPPED_AT + 1) as stall:
        first = stall.copy(sqlite_url(source_20k), pg_url, "--batch", "100")
        first.wait_for(FIFTH)
        backend = stall.waiting(first)
        first.proc.send_signal(signal.SIGINT)
        code, rest = first.end()
        assert code == 130
        # One line, no traceback, after the progress lines already read.
        assert rest == (
            f"tertulia store copy: interrupted after copying {STOPPED_AT} messages: run the "
            "same command again to go on from where it stopped\n"
        )
        # The batch it was sending was cancelled in the server, not left to land later.
        stall.release()
        stall.gone(backend)
    assert held(pg_url) == STOPPED_AT

    again = copy(sqlite_url(source_20k), pg_url, "--batch", "100")
    assert again.returncode == 0, again.stderr
    assert f"resuming after message {STOPPED_AT}:" in again.stderr
    assert f"; {20_000 - STOPPED_AT} messages copied" in again.stdout
    assert held(pg_url) == 20_000


def test_a_lost_connection_is_one_line_and_the_next_run_finishes(
    source_20k: Path, pg_url: str
) -> None:
    with stalled(pg_url, STOPPED_AT + 1) as stall:
        first = stall.copy(sqlite_url(source_20k), pg_url, "--batch", "100")
        first.wait_for(FIFTH)
        backend = stall.waiting(first)
        # What a restarted or failed-over PostgreSQL does to its clients' connections
        # (the test's own are spared, to let the held message go afterwards).
        terminated = [
            pid
            for (pid, ok) in stall.watch.execute(
                "SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND NOT pid = ANY(%s)",
                (stall.ours(),),
            )
            if ok
        ]
        assert backend in terminated
        code, rest = first.end()
        assert code == 1
        lines = rest.splitlines()
        assert len(lines) == 1, rest  # one line, nothing before it
        last = lines[0]
        assert last.startswith("tertulia store copy: the copy stopped: ")
        assert last.endswith(
            "what was copied is kept: run the same command again to go on from where it stopped"
        )
        stall.release()
        stall.gone(backend)
    assert held(pg_url) == STOPPED_AT

    again = copy(sqlite_url(source_20k), pg_url)
    assert again.returncode == 0, again.stderr
    assert f"resuming after message {STOPPED_AT}:" in again.stderr
    with opened(sqlite_url(source_20k)) as source, opened(pg_url) as copied:
        assert everything(copied) == everything(source)


def test_sqlite_to_sqlite_then_again_copies_nothing(source_20k: Path, tmp_path: Path) -> None:
    target = sqlite_url(tmp_path / "copy.db")
    first = copy(sqlite_url(source_20k), target)
    assert first.returncode == 0, first.stderr
    assert "20000 messages copied" in first.stdout
    again = copy(sqlite_url(source_20k), target)
    assert again.returncode == 0, again.stderr
    assert "resuming after message 20000" in again.stderr
    assert "holds 20000 messages" in again.stdout and "; 0 messages copied" in again.stdout


# -- what a store cannot hold ------------------------------------------------------------------


def with_nul_bytes(path: Path) -> None:
    """50 messages, two of which PostgreSQL cannot hold (a NUL byte): one private and kept
    offline, one with reactions."""
    messages = [said(i) for i in range(1, 51)]
    messages[9] = PrivateMessage(10, T0, "user0", "user1", "nul \x00 here", account="user0")
    messages[20] = RoomMessage(21, T0, "#dev", "user1", "nul\x00")
    with opened(sqlite_url(path)) as store:
        fill(store, messages)


def test_text_postgresql_cannot_hold_is_refused_told_and_the_rest_verified(
    tmp_path: Path, pg_url: str
) -> None:
    with_nul_bytes(tmp_path / "nul.db")
    done = copy(sqlite_url(tmp_path / "nul.db"), pg_url)
    assert done.returncode == 0, done.stderr
    assert (
        "2 messages refused by the destination (text it cannot hold), left out with 3 "
        "offline messages and reactions of theirs: ids 10, 21"
    ) in done.stderr
    assert "holds 48 messages" in done.stdout and "less the 2 refused messages" in done.stdout
    with opened(sqlite_url(tmp_path / "nul.db")) as source, opened(pg_url) as copied:
        counts = source.counts()
        assert copied.counts() == {
            **counts,
            "messages": counts["messages"] - 2,
            "offline": counts["offline"] - 1,  # message 10's
            "reactions": counts["reactions"] - 2,  # message 21's
        }
    # Run again: the refused ones are found missing, offered again, refused again; still 0.
    again = copy(sqlite_url(tmp_path / "nul.db"), pg_url)
    assert again.returncode == 0, again.stderr
    assert "ids 10, 21" in again.stderr


def test_a_copy_interrupted_after_a_refusal_resumes_and_still_verifies(
    tmp_path: Path, pg_url: str
) -> None:
    with_nul_bytes(tmp_path / "nul.db")
    calls = 0

    def interrupt(progress: Progress) -> None:
        nonlocal calls
        calls += 1
        if calls == 4:  # three batches of 10 stored: message 10 and 21 refused already
            raise KeyboardInterrupt

    with opened(sqlite_url(tmp_path / "nul.db")) as source, opened(pg_url) as destination:
        with pytest.raises(KeyboardInterrupt):
            copy_store(source, destination, batch=10, progress=interrupt)
        assert destination.counts()["messages"] == 28
        report = copy_store(source, destination, batch=10)
        assert report.resumed_after == 30
        assert report.refused == (10, 21)
        assert report.retried == 2 and report.copied == 20
        assert report.skipped == {"offline": 1, "reactions": 2}
        assert report.verified, report.differences
        assert report.last_id == 50


# -- destinations that are not copies of the source --------------------------------------------


def test_a_destination_with_other_messages_is_refused_untouched(
    source_20k: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other.db"
    with opened(sqlite_url(other)) as store:
        store.append([RoomMessage(i, T0 + i, "#x", "eve", f"otra {i}") for i in range(1, 11)])
    done = copy(sqlite_url(source_20k), sqlite_url(other))
    assert done.returncode == 1
    assert done.stderr == (
        f"tertulia store copy: {other} already holds messages that are not from {source_20k}: "
        "its newest message, id 10, is not the source's message of that id; copy into an "
        "empty store\n"
    )
    assert held(sqlite_url(other)) == 10


@pytest.mark.parametrize("kind", ["ahead", "rows without messages"])
def test_a_destination_ahead_or_not_empty_is_refused(
    source_20k: Path, tmp_path: Path, kind: str
) -> None:
    other = tmp_path / "other.db"
    with opened(sqlite_url(other)) as store:
        if kind == "ahead":
            store.keep_last_id(99_999)
        else:
            store.add_account("eve", "scrypt$x", T0)
    done = copy(sqlite_url(source_20k), sqlite_url(other))
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1
    expected = "up to 99999, past the source's last id 20000" if kind == "ahead" else "not empty"
    assert expected in done.stderr
    assert held(sqlite_url(other)) == 0


# -- one-line errors ---------------------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # nobody listens once it is closed


@pytest.mark.parametrize(
    ("case", "code", "says"),
    [
        ("missing source", 2, "no file /"),
        ("unreachable postgresql", 1, "cannot open postgresql://tertulia:***@127.0.0.1:"),
        ("unknown scheme", 2, "cannot use mysql://db.example/x: unknown store 'mysql'"),
        ("newer schema", 1, "upgrade tertulia"),
        ("same store", 2, "the source and the destination are the same store"),
        ("destination a directory", 2, "is not a file: a SQLite store is one file"),
    ],
)
def test_errors_are_one_line_without_a_traceback(
    tmp_path: Path, case: str, code: int, says: str
) -> None:
    source, destination = sqlite_url(tmp_path / "missing.db"), sqlite_url(tmp_path / "d.db")
    if case == "unreachable postgresql":
        source = sqlite_url(tmp_path / "s.db")
        with opened(source):
            pass
        destination = f"postgresql://tertulia:secret@127.0.0.1:{closed_port()}/tertulia"
    elif case == "unknown scheme":
        source = "mysql://db.example/x"
    elif case == "newer schema":
        source = sqlite_url(tmp_path / "future.db")
        db = sqlite3.connect(tmp_path / "future.db")
        db.execute(f"PRAGMA user_version = {sqlite_store.SCHEMA_VERSION + 1}")
        db.close()
    elif case == "same store":
        source = sqlite_url(tmp_path / "s.db")
        with opened(source):
            pass
        destination = f"sqlite://{tmp_path}/../{tmp_path.name}/s.db"
    elif case == "destination a directory":
        source = sqlite_url(tmp_path / "s.db")
        with opened(source):
            pass
        (tmp_path / "dir").mkdir(mode=0o755)
        destination = sqlite_url(tmp_path / "dir")
    done = copy(source, destination)
    assert done.returncode == code
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith("tertulia store copy: ")
    assert says in done.stderr
    assert "secret" not in done.stderr
    assert not (tmp_path / "missing.db").exists()  # a mistyped source is not created
    if case == "destination a directory":
        assert (tmp_path / "dir").stat().st_mode & 0o777 == 0o755  # left as it was


def test_errors_speak_spanish(tmp_path: Path) -> None:
    done = copy("--lang", "es", sqlite_url(tmp_path / "no.db"), sqlite_url(tmp_path / "d.db"))
    assert done.returncode == 2
    assert "un origen SQLite debe ser un archivo existente" in done.stderr
    assert done.stderr.count("\n") == 1


# -- the progress display ----------------------------------------------------------------------


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_a_bar_on_a_terminal_and_lines_elsewhere() -> None:
    now = [0.0]

    def clock() -> float:
        return now[0]

    def run(stream: io.StringIO) -> str:
        display = Display(stream, lambda text: text, clock, columns=100)
        for done in range(0, 1001, 50):
            display(Progress(done, 1000, done, None))
            now[0] += 0.5
        display.done_drawing()
        return stream.getvalue()

    bar = run(Terminal())
    assert bar.count("\r[") == 21 and bar.endswith(
        "1000 of 1000 messages, 100%, 100 a second\x1b[K\n"
    )
    assert "\r[###############---------------] 500 of 1000 messages, 50%" in bar
    lines = run(io.StringIO()).splitlines()
    assert lines == [f"{100 * k} of 1000 messages, {10 * k}%, 100 a second" for k in range(1, 11)]
