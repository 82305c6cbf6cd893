"""IRC liveness with one timer per server: every ping interval, one sweep looks at each client.

A timer per client (under uvloop a TimerHandle, its libuv timer, a bound method and a
context: about 540 bytes) was the largest thing an idle IRC client held beyond a plain one.
The sweep keeps the rule of `server.liveness`: a client silent for a whole interval is
pinged, and one silent for another interval after that is dropped. Only the phase moves
(the first look comes at the server's next sweep, not one interval after connecting), so a
silent client is still pinged after one to two intervals without a word, as before.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from tertulia.server.context import DoorContext

log = logging.getLogger(__name__)


class Watched(Protocol):
    def check_alive(self) -> None:
        """One sweep's look: a sign of life since the last, else a PING, else goodbye."""
        ...


class Sweep:
    """The clients one server pings, and the one timer that looks at them all."""

    __slots__ = ("_clients", "_interval", "_loop", "_timer")

    def __init__(self, loop: asyncio.AbstractEventLoop, interval: float) -> None:
        self._loop = loop
        self._interval = interval
        # A dict keeps the order clients came in, and costs an entry each: no timer.
        self._clients: dict[Watched, None] = {}
        self._timer: asyncio.TimerHandle | None = None

    def __len__(self) -> int:
        return len(self._clients)

    def add(self, client: Watched) -> None:
        self._clients[client] = None
        if self._timer is None:
            self._timer = self._loop.call_later(self._interval, self._sweep)

    def discard(self, client: Watched) -> None:
        self._clients.pop(client, None)
        # With nobody left the timer goes too: a server that shuts down leaves none behind.
        if not self._clients and self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _sweep(self) -> None:
        self._timer = None
        # A look may drop a client, which leaves the dict: go over a copy.
        for client in list(self._clients):
            if client not in self._clients:
                continue  # dropped by an earlier client's look (a KILL, a kick-ban)
            try:
                client.check_alive()
            except Exception:
                # One client's bug must not stop the others being pinged.
                log.exception("internal error checking a client's liveness")
        if self._clients and self._timer is None:
            self._timer = self._loop.call_later(self._interval, self._sweep)


# Each server's sweep, made with its first IRC client. Keyed weakly by the server, so a
# server that is gone (tests make many) takes its sweep with it; no server sees another's.
# (Its natural home is the server itself, beside irc_monitor: see DoorContext.)
_SWEEPS: weakref.WeakKeyDictionary[DoorContext, Sweep] = weakref.WeakKeyDictionary()


def sweep_for(server: DoorContext) -> Sweep:
    """The sweep that pings `server`'s IRC clients."""
    sweep = _SWEEPS.get(server)
    if sweep is None:
        sweep = _SWEEPS[server] = Sweep(server.loop, server.settings.ping_interval)
    return sweep
