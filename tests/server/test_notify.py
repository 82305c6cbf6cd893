"""The sd_notify side on its own: datagrams to a socket the test binds, the abstract
namespace, no manager, a manager gone, a manager that does not read, and watchdog pings
that come from the event loop."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tertulia.server.notify import Notifier, status_line, watchdog_interval


@pytest.fixture
def manager() -> Iterator[tuple[socket.socket, str]]:
    """A socket standing for systemd's, bound to a path (short: AF_UNIX paths end at 108
    bytes, which a pytest tmp_path can pass), and that path."""
    with tempfile.TemporaryDirectory(prefix="tn-") as folder:
        path = str(Path(folder, "notify"))
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.bind(path)
            sock.setblocking(False)
            yield sock, path


async def received(sock: socket.socket, timeout: float = 5.0) -> dict[str, str]:
    async with asyncio.timeout(timeout):
        data = await asyncio.get_running_loop().sock_recv(sock, 4096)
    return dict(line.split("=", 1) for line in data.decode().split("\n"))


def pending(sock: socket.socket) -> list[bytes]:
    """Every datagram already queued, without waiting for more."""
    found = []
    while True:
        try:
            found.append(sock.recv(4096))
        except BlockingIOError:
            return found


async def test_ready_says_ready_status_and_pid_once(manager: tuple[socket.socket, str]) -> None:
    sock, path = manager
    notifier = Notifier(path)
    notifier.ready(status_line([("plain", "127.0.0.1:5000"), ("web", "127.0.0.1:8080")]))
    assert await received(sock) == {
        "READY": "1",
        "STATUS": "listening: plain 127.0.0.1:5000, web 127.0.0.1:8080",
        "MAINPID": str(os.getpid()),
    }
    notifier.ready("again")
    notifier.reloading()  # SIGHUP
    said = await received(sock)
    assert said.pop("RELOADING") == "1" and int(said.pop("MONOTONIC_USEC")) > 0
    notifier.reloaded("listening: plain 127.0.0.1:5000")
    assert await received(sock) == {"READY": "1", "STATUS": "listening: plain 127.0.0.1:5000"}
    notifier.stopping()
    # The second ready() said nothing: the next message is STOPPING.
    assert await received(sock) == {"STOPPING": "1", "STATUS": "shutting down"}
    notifier.close()


async def test_an_abstract_address_is_used_as_such() -> None:
    name = f"tertulia-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.setblocking(False)
        notifier = Notifier.from_environ({"NOTIFY_SOCKET": "@" + name})
        assert notifier.send("STATUS=hola")
        assert await received(sock) == {"STATUS": "hola"}
        notifier.close()


async def test_a_newline_cannot_start_another_field(manager: tuple[socket.socket, str]) -> None:
    sock, path = manager
    Notifier(path).send("STATUS=one\nREADY=1")
    assert await received(sock) == {"STATUS": "one READY=1"}


async def test_without_notify_socket_nothing_is_sent_or_opened(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_socket(*args: object, **kwargs: object) -> socket.socket:
        raise AssertionError("a socket was opened without NOTIFY_SOCKET")

    monkeypatch.setattr(socket, "socket", no_socket)
    notifier = Notifier.from_environ({"WATCHDOG_USEC": "20000"})
    assert not notifier.enabled and notifier.watchdog is None
    notifier.ready("listening: plain 127.0.0.1:5000")
    assert not notifier.send("WATCHDOG=1")
    notifier.stopping()
    notifier.close()


async def test_a_manager_gone_is_one_warning_and_never_an_exception(
    manager: tuple[socket.socket, str], caplog: pytest.LogCaptureFixture
) -> None:
    sock, path = manager
    notifier = Notifier(path)
    assert notifier.send("STATUS=here")
    sock.close()
    os.unlink(path)
    with caplog.at_level(logging.WARNING, logger="tertulia.server.notify"):
        assert not notifier.send("WATCHDOG=1")
        notifier.stopping()
        assert not notifier.send("WATCHDOG=1")
    warnings = [r for r in caplog.records if r.name == "tertulia.server.notify"]
    assert len(warnings) == 1, warnings
    assert warnings[0].getMessage() == "cannot notify the service manager"
    assert getattr(warnings[0], "socket", None) == path
    notifier.close()


async def test_a_manager_that_does_not_read_never_blocks_the_sender(
    manager: tuple[socket.socket, str],
) -> None:
    _, path = manager
    notifier = Notifier(path)

    def flood() -> list[bool]:
        # The receiver's queue fills after a few hundred datagrams; a blocking socket
        # would wait there for ever.
        return [notifier.send("WATCHDOG=1") for _ in range(5000)]

    sent = await asyncio.wait_for(asyncio.to_thread(flood), 10)
    assert sent[0] and not sent[-1]
    notifier.close()


def test_watchdog_interval_is_half_of_watchdog_usec_for_this_process_only() -> None:
    assert watchdog_interval({}) is None
    assert watchdog_interval({"WATCHDOG_USEC": "200000"}) == 0.1
    assert watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}) == 15
    assert watchdog_interval({"WATCHDOG_USEC": "200000", "WATCHDOG_PID": "1"}) is None
    assert watchdog_interval({"WATCHDOG_USEC": "0"}) is None
    assert watchdog_interval({"WATCHDOG_USEC": "soon"}) is None


async def test_watchdog_pings_come_from_the_loop_and_stop_with_it(
    manager: tuple[socket.socket, str],
) -> None:
    sock, path = manager
    notifier = Notifier.from_environ({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "40000"})
    assert notifier.watchdog == 0.02
    notifier.ready("listening")
    assert (await received(sock))["READY"] == "1"
    assert await received(sock) == {"WATCHDOG": "1"}
    assert await received(sock) == {"WATCHDOG": "1"}
    pending(sock)
    # A loop stuck for fifteen intervals (blocking on purpose): a ping from anywhere but
    # the loop would come meanwhile.
    time.sleep(0.3)  # noqa: ASYNC251
    assert pending(sock) == []
    # Free again, the loop pings again.
    assert await received(sock) == {"WATCHDOG": "1"}
    notifier.close()
    pending(sock)
    await asyncio.sleep(0.1)  # five intervals with the loop free: no ping after close()
    assert pending(sock) == []


async def test_no_watchdog_without_watchdog_usec(manager: tuple[socket.socket, str]) -> None:
    sock, path = manager
    notifier = Notifier.from_environ({"NOTIFY_SOCKET": path})
    assert notifier.watchdog is None
    notifier.ready("listening")
    assert (await received(sock))["READY"] == "1"
    await asyncio.sleep(0.1)
    assert pending(sock) == []
    notifier.close()
