"""A real PostgreSQL server for the tests: initdb and pg_ctl in a temporary directory, on a
free port of 127.0.0.1, as a user that is not root (PostgreSQL refuses to run as root).

Debian's postgresql package puts its programs in /usr/lib/postgresql/VERSION/bin and
creates the `postgres` user; under root the server runs as that user.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterator

import pytest

INSTALL_HINT = "PostgreSQL is not installed (apt-get install postgresql)"
START_TIMEOUT = 30  # seconds for pg_ctl to see the server accept connections


def _programs() -> str | None:
    """The directory holding initdb and pg_ctl, or None."""
    found = shutil.which("pg_ctl")
    if found is not None and shutil.which("initdb") is not None:
        return os.path.dirname(os.path.realpath(found))
    for directory in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.path.exists(os.path.join(directory, "initdb")):
            return directory
    return None


def _free_port() -> int:
    # PostgreSQL cannot listen on port 0; the port is free a moment before it starts (and
    # start() tries another if it was taken meanwhile).
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PgServer:
    """One PostgreSQL cluster: start(), stop(), start() again on the same port and data."""

    def __init__(self) -> None:
        bin_dir = _programs()
        if bin_dir is None:
            pytest.skip(INSTALL_HINT)
        self._bin = bin_dir
        self._as: list[str] = []
        self.root = tempfile.mkdtemp(prefix="tertulia-pg-")
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                pytest.skip("PostgreSQL refuses root and there is no postgres user to run it")
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]
        self.data = os.path.join(self.root, "data")
        self.port = 0
        self._databases = 0
        try:
            # A UTF-8 locale, as on most servers: PostgreSQL's idea of a letter depends on
            # it, and search must not.
            self._run("initdb", "-D", self.data, "-U", "tertulia", "--auth=trust",
                      "-E", "UTF8", "--locale=C.UTF-8", "-N")  # fmt: skip
        except BaseException:
            shutil.rmtree(self.root, ignore_errors=True)
            raise
        # No fsync for initdb's own files (-N); the server itself keeps fsync on, so that
        # what the tests measure (commits) costs what it costs for operators.

    def _run(self, program: str, *args: str) -> None:
        done = subprocess.run(
            [*self._as, os.path.join(self._bin, program), *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
        if done.returncode != 0:
            # What the program said, not only its exit status: CI shows this line.
            raise subprocess.CalledProcessError(
                done.returncode, f"{program}: {done.stderr.strip()[-1000:]}", stderr=done.stderr
            )

    def start(self) -> None:
        """Start the server (on its previous port after a stop) and wait until it answers."""
        for attempt in range(5):
            port = self.port or _free_port()
            options = (
                f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''"
                " -c max_connections=200"
            )
            try:
                self._run(
                    "pg_ctl", "-D", self.data, "-l", os.path.join(self.root, "log"), "-w",
                    "-t", str(START_TIMEOUT), "-o", options, "start",
                )  # fmt: skip
            except subprocess.CalledProcessError:
                if self.port or attempt == 4:
                    raise AssertionError(f"PostgreSQL did not start: {self.log()}") from None
                continue  # the free port was taken meanwhile: another one
            self.port = port
            return

    def stop(self) -> None:
        self._run("pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop")

    def processes(self) -> list[int]:
        """The postmaster and every process it has started (the backends among them)."""
        with open(os.path.join(self.data, "postmaster.pid")) as pidfile:
            postmaster = int(pidfile.readline())
        with open(f"/proc/{postmaster}/comm") as comm:
            if comm.read().strip() != "postgres":
                return []  # a stale file: that process is long gone, its number reused
        found = [postmaster]
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as stat:
                        ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
                except OSError:
                    continue
                if ppid == postmaster:
                    found.append(int(entry))
        return found

    def freeze(self) -> None:
        """Stop every process of the server (SIGSTOP): a frozen host, whose kernel still
        answers TCP while nothing answers queries."""
        for pid in self.processes():
            os.kill(pid, signal.SIGSTOP)

    def thaw(self) -> None:
        for pid in self.processes():
            os.kill(pid, signal.SIGCONT)

    def log(self) -> str:
        try:
            with open(os.path.join(self.root, "log")) as log:
                return log.read()[-2000:]
        except OSError:
            return ""

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://tertulia@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh, empty database; its URL."""
        import psycopg

        self._databases += 1
        name = f"t{os.getpid()}_{self._databases}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
            self.stop()  # it may have been stopped already
        # A server pg_ctl could not stop (a loaded machine, a frozen one) is killed: its
        # directory is about to go.
        with contextlib.suppress(OSError, ValueError):
            for pid in self.processes():
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """One PostgreSQL for the whole run; each test takes a database of its own."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("psycopg is not installed (pip install -e '.[dev]')")
    server = PgServer()
    try:
        server.start()
        yield server
    finally:
        server.destroy()


@pytest.fixture
def pg_url(pg_server: PgServer) -> str:
    """The URL of a fresh database on the shared server."""
    return pg_server.new_database()
