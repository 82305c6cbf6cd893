"""systemd's notification protocol (sd_notify): readiness, status, watchdog pings, stopping.

Each message is one datagram of `NAME=value` lines sent to the AF_UNIX socket named by
$NOTIFY_SOCKET (a path, or an abstract address when it starts with `@`). Without that
variable the server is not run by a manager that listens, and nothing is sent. This is
the whole protocol; libsystemd is not needed for it.

The watchdog pings come from a timer on the event loop, not from a thread: a loop that is
stuck (a blocking call, a busy callback) stops pinging, and systemd restarts the server.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Iterable, Mapping

log = logging.getLogger(__name__)


def watchdog_interval(environ: Mapping[str, str]) -> float | None:
    """Seconds between pings, half of WATCHDOG_USEC as systemd advises; None when the
    watchdog is off or meant for another process (WATCHDOG_PID names the one watched)."""
    usec = environ.get("WATCHDOG_USEC", "")
    pid = environ.get("WATCHDOG_PID", "")
    try:
        if not usec or int(usec) <= 0:
            return None
        if pid and int(pid) != os.getpid():
            return None
    except ValueError:
        log.warning("ignoring a bad watchdog setting", extra={"usec": usec, "pid": pid})
        return None
    return int(usec) / 2 / 1_000_000


def status_line(doors: Iterable[tuple[str, str]]) -> str:
    """What `systemctl status` shows once the server is ready: each door and its address."""
    return "listening: " + ", ".join(f"{door} {address}" for door, address in doors)


class Notifier:
    """Tells the service manager how the server is doing.

    Sending never blocks (the socket is non-blocking: a manager that does not read loses
    a message, the server does not wait) and never raises into the server: a failure is
    one warning in the log, the first time, and the next message is tried all the same.
    """

    __slots__ = ("_address", "_interval", "_name", "_ping", "_ready", "_sock", "_warned")

    def __init__(self, socket_name: str | None, watchdog: float | None = None) -> None:
        self._name = socket_name or ""
        self._address = _socket_address(socket_name) if socket_name else None
        self._interval = watchdog if self._address is not None else None
        self._sock: socket.socket | None = None
        self._ping: asyncio.TimerHandle | None = None
        self._ready = False
        self._warned = False

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Notifier:
        env = os.environ if environ is None else environ
        return cls(env.get("NOTIFY_SOCKET") or None, watchdog_interval(env))

    @property
    def enabled(self) -> bool:
        return self._address is not None

    @property
    def watchdog(self) -> float | None:
        """Seconds between watchdog pings, or None when there is no watchdog."""
        return self._interval

    def send(self, *fields: str) -> bool:
        """One message of `NAME=value` fields; False when there is no manager or it could
        not be told."""
        if self._address is None:
            return False
        # A newline would start another field: a status names addresses, never commands.
        message = "\n".join(field.replace("\n", " ") for field in fields).encode()
        try:
            if self._sock is None:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                sock.setblocking(False)
                self._sock = sock
            self._sock.sendto(message, self._address)
        except (OSError, ValueError) as exc:
            if not self._warned:
                self._warned = True
                log.warning(
                    "cannot notify the service manager",
                    extra={"socket": self._name, "reason": str(exc)},
                )
            return False
        return True

    def ready(self, status: str) -> None:
        """Every door listens: READY=1 (once), what the server is doing, and its pid; the
        watchdog's pings start here, on the running loop, as systemd starts its timer."""
        if self._ready:
            return
        self._ready = True
        self.send("READY=1", f"STATUS={status}", f"MAINPID={os.getpid()}")
        if self._interval is not None:
            self._schedule(asyncio.get_running_loop())

    def reloading(self) -> None:
        """A reload begins (SIGHUP): `systemctl reload` shows it until reloaded()."""
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        self.send("RELOADING=1", f"MONOTONIC_USEC={usec}", "STATUS=reloading the settings")

    def reloaded(self, status: str) -> None:
        """The reload is done (whether it took or not: the log says): ready again."""
        self.send("READY=1", f"STATUS={status}")

    def stopping(self) -> None:
        """Shutdown begins: the manager waits for the exit instead of taking it for a crash."""
        self.send("STOPPING=1", "STATUS=shutting down")

    def close(self) -> None:
        """No more pings; the socket is closed."""
        if self._ping is not None:
            self._ping.cancel()
            self._ping = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        assert self._interval is not None
        self._ping = loop.call_later(self._interval, self._pinged, loop)

    def _pinged(self, loop: asyncio.AbstractEventLoop) -> None:
        self.send("WATCHDOG=1")
        self._schedule(loop)


def _socket_address(name: str) -> str | None:
    if name.startswith("@"):
        # Linux's abstract namespace: a leading NUL instead of a path in the file system.
        return "\0" + name[1:]
    if name.startswith("/"):
        return name
    # Newer systemd may also name a vsock address; not used on a host's own services.
    log.warning("ignoring an unsupported NOTIFY_SOCKET", extra={"socket": name})
    return None
