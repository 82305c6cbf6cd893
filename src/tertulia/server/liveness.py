"""Liveness for the doors whose clients can be pinged (the web door's WebSockets).

A client silent for a whole `ping_interval` is pinged; one that stays silent for another
interval is dropped. One sweep per server checks every watched client each interval,
instead of a timer per connection: a timer, its callback and its context cost some
400 bytes for every idle WebSocket, most of what it took beyond a plain connection. The
price is precision: a client is pinged after one to two intervals of silence, not exactly
one.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tertulia.server.context import DoorContext

log = logging.getLogger(__name__)


class Pinged:
    """A mixin for a door's handler: join the server's Liveness once the client can be
    pinged, call `heard_from()` on every sign of life and `stop_watching()` when it goes;
    subclasses say how to ping, and what a timeout does."""

    # A mixin: the class that uses it declares the slots heard and pinged, so that it can
    # also have a slotted base of its own. Empty slots keep instances free of a __dict__;
    # mypy is not shown them, since it would take them for all there is.
    if not TYPE_CHECKING:
        __slots__ = ()

    server: DoorContext
    heard: bool
    pinged: bool

    def heard_from(self) -> None:
        self.heard = True

    def check_alive(self) -> bool:
        """One sweep's look at this client; False once there is nothing left to watch."""
        if self.finished():
            return False
        if self.heard:
            self.heard, self.pinged = False, False
        elif not self.pinged:
            self.pinged = True
            self.send_ping()
        else:
            self.ping_timeout()
            return False
        return True

    def finished(self) -> bool:
        """Whether the connection is over, so there is nothing left to do."""
        raise NotImplementedError

    def send_ping(self) -> None:
        raise NotImplementedError

    def ping_timeout(self) -> None:
        raise NotImplementedError


class Liveness:
    """The server's watched clients and the one timer that sweeps them, armed only while
    there is someone to watch."""

    __slots__ = ("_interval", "_timer", "_watched")

    def __init__(self, interval: float) -> None:
        self._interval = interval
        self._watched: dict[Pinged, None] = {}  # a set in the order they came
        self._timer: asyncio.TimerHandle | None = None

    def __len__(self) -> int:
        return len(self._watched)

    def watch(self, client: Pinged, loop: asyncio.AbstractEventLoop) -> None:
        # Heard now: its first sweep, whenever it comes, does not count as silence.
        client.heard, client.pinged = True, False
        self._watched[client] = None
        if self._timer is None:
            self._timer = loop.call_later(self._interval, self._sweep, loop)

    def forget(self, client: Pinged) -> None:
        self._watched.pop(client, None)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._watched.clear()

    def _sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        self._timer = None
        try:
            # A copy: a ping or a timeout may close a connection, and closing forgets it.
            for client in list(self._watched):
                try:
                    alive = client.check_alive()
                except Exception:
                    # One client's bug must not stop everyone else's pings: it leaves.
                    log.exception("internal error checking a client's liveness")
                    alive = False
                if not alive:
                    self._watched.pop(client, None)
        finally:
            if self._watched:
                self._timer = loop.call_later(self._interval, self._sweep, loop)
