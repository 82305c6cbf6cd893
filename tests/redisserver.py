"""A real Redis server for the tests: redis-server as a child process in a temporary
directory, on a free port of 127.0.0.1, with no persistence at all.

Nothing is saved (no RDB snapshot, no append-only file), so a restart comes back empty:
the tests that lose Redis under a running chat server rely on that. Redis runs as root
without complaint, so unlike PostgreSQL it needs no other user.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator

import pytest

INSTALL_HINT = "redis-server is not installed (apt-get install redis-server)"
START_TIMEOUT = 15.0  # seconds for a new server to answer PING
STOP_TIMEOUT = 10.0  # seconds for SIGTERM before SIGKILL
POLL = 0.02  # seconds between two looks at a condition that has a deadline
READY = b"Ready to accept connections"  # logged once the listening socket is bound


def _program() -> str | None:
    found = shutil.which("redis-server")
    if found is None and os.access("/usr/bin/redis-server", os.X_OK):
        found = "/usr/bin/redis-server"  # a PATH without /usr/bin (a minimal CI shell)
    return found


def _free_port() -> int:
    # Port 0 would leave us asking Redis which port it took; a port bound and released here
    # is free a moment before the server starts (and start() tries another if it was taken
    # meanwhile).
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _command(port: int, command: bytes, expected: bytes, timeout: float = 1.0) -> bool:
    """Send one inline command to 127.0.0.1:port; whether the reply starts with `expected`.

    A plain socket rather than redis-py: the harness must work before the client library
    is installed, and must say nothing about a client the tests are checking.
    """
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(command + b"\r\n")
            reply = b""
            while b"\r\n" not in reply:
                chunk = sock.recv(256)
                if not chunk:
                    break
                reply += chunk
            return reply.startswith(expected)
    except OSError:
        return False


class RedisServer:
    """One redis-server: start(), stop() or kill(), start() again on the same port (empty)."""

    def __init__(self) -> None:
        program = _program()
        if program is None:
            pytest.skip(INSTALL_HINT)
        self._program = program
        self.root = tempfile.mkdtemp(prefix="tertulia-redis-")
        self.logfile = os.path.join(self.root, "redis.log")
        # What redis-server prints before its log file is open (a bad option) lands here.
        self._outfile = os.path.join(self.root, "redis.out")
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        # A frozen (SIGSTOPped) server still counts: poll() reports only an exit.
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    def processes(self) -> list[int]:
        """The server's process while it runs (Redis forks only to save, which it never
        does here)."""
        pid = self.pid
        return [] if pid is None else [pid]

    def _spawn(self, port: int) -> subprocess.Popen[bytes]:
        with open(self._outfile, "ab") as out:
            return subprocess.Popen(
                [
                    self._program,
                    "--port", str(port),
                    "--bind", "127.0.0.1",
                    "--protected-mode", "no",
                    "--save", "",
                    "--appendonly", "no",
                    "--dir", self.root,
                    "--logfile", self.logfile,
                    "--daemonize", "no",
                ],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
            )  # fmt: skip

    def _log_from(self, offset: int) -> bytes:
        try:
            with open(self.logfile, "rb") as log:
                log.seek(offset)
                return log.read()
        except OSError:
            return b""

    def _log_size(self) -> int:
        try:
            return os.path.getsize(self.logfile)
        except OSError:
            return 0

    def start(self) -> None:
        """Start the server (on its previous port after a stop) and wait until it answers."""
        if self.running:
            return
        for attempt in range(5):
            port = self.port or _free_port()
            # The log file is appended to across restarts: only this run's lines count.
            offset = self._log_size()
            process = self._spawn(port)
            deadline = time.monotonic() + START_TIMEOUT
            while time.monotonic() < deadline:
                if process.poll() is not None:
                    break
                # PONG alone could come from whoever took the port meanwhile; our own
                # server saying it is ready means the listening socket is ours.
                if READY in self._log_from(offset) and _command(port, b"PING", b"+PONG"):
                    self._process = process
                    self.port = port
                    return
                time.sleep(POLL)
            else:
                process.kill()
                process.wait()
                raise AssertionError(f"redis-server did not answer PING: {self.log()}")
            taken = b"Address already in use" in self._log_from(offset)
            if not taken or self.port or attempt == 4:
                raise AssertionError(
                    f"redis-server did not start (exit status {process.returncode}): "
                    f"{self.log()}{self._output()}"
                )
            # The free port was taken meanwhile: another one.

    def stop(self) -> None:
        """SIGTERM, and SIGKILL if it has not exited within STOP_TIMEOUT seconds."""
        process = self._process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        # A frozen server would hold SIGTERM pending until it runs again.
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGCONT)
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def kill(self) -> None:
        """SIGKILL: a crash, with no chance to close its connections cleanly."""
        process = self._process
        if process is None or process.poll() is not None:
            return
        process.kill()
        process.wait()

    def restart_empty(self) -> None:
        """Stop and start again on the same port; with no persistence the data is gone."""
        self.stop()
        with contextlib.suppress(FileNotFoundError):
            os.remove(os.path.join(self.root, "dump.rdb"))
        self.start()

    def stop_keeping_data(self) -> None:
        """Stop as an operator's Redis with persistence does: its data is written out
        (SHUTDOWN SAVE) and read back by the next start(), as after a maintenance stop."""
        if not self.running:
            return
        address = ("127.0.0.1", self.port)
        with contextlib.suppress(OSError), socket.create_connection(address, 5) as sock:
            sock.sendall(b"SHUTDOWN SAVE\r\n")
            sock.recv(64)  # the connection closes once the data is written
        assert self._process is not None
        self._process.wait(timeout=STOP_TIMEOUT)

    def freeze(self) -> None:
        """Stop the server (SIGSTOP): a frozen host, whose kernel still accepts TCP
        connections while nothing answers commands."""
        for pid in self.processes():
            os.kill(pid, signal.SIGSTOP)

    def thaw(self) -> None:
        for pid in self.processes():
            os.kill(pid, signal.SIGCONT)

    def flush(self) -> None:
        """FLUSHALL: every database empty, for the next test on the shared server."""
        if not _command(self.port, b"FLUSHALL", b"+OK", timeout=5.0):
            raise AssertionError(f"redis-server did not flush: {self.log()}")

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def log(self) -> str:
        try:
            with open(self.logfile, errors="replace") as log:
                return log.read()[-2000:]
        except OSError:
            return ""

    def _output(self) -> str:
        try:
            with open(self._outfile, errors="replace") as out:
                return out.read()[-1000:]
        except OSError:
            return ""

    def destroy(self) -> None:
        self.stop()  # it may have been stopped already; a frozen one is thawed to exit
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One Redis for the whole run; each test flushes it first (redis_url)."""
    server = RedisServer()
    try:
        server.start()
        yield server
    finally:
        server.destroy()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The URL of the shared server, emptied for this test."""
    redis_server.flush()
    return redis_server.url()


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A Redis of this test's own, which it may stop, kill, freeze or restart."""
    server = RedisServer()
    try:
        server.start()
        yield server
    finally:
        server.destroy()
