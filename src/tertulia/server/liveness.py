"""Liveness shared by the doors whose clients can be pinged (IRC, WebSocket).

An idle client is pinged after `ping_interval` seconds of silence; one that stays silent
for another interval is dropped. One TimerHandle per connection, re-armed, never a task.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tertulia.server.context import DoorContext


class Pinged:
    """A mixin for a door's handler: call `heard_from()` on every sign of life and
    `watch(delay)` to start; subclasses say how to ping, and what a timeout does."""

    # A mixin: the class that uses it declares the slots heard, pinged and timer, so that it
    # can also have a slotted base of its own (SessionHandler). Empty slots keep instances
    # free of a __dict__; mypy is not shown them, since it would take them for all there is.
    if not TYPE_CHECKING:
        __slots__ = ()

    server: DoorContext
    heard: bool
    pinged: bool
    timer: asyncio.TimerHandle

    def watch(self, delay: float) -> None:
        self.heard, self.pinged = True, False
        self.timer = self.server.loop.call_later(delay, self._check_alive)

    def heard_from(self) -> None:
        self.heard = True

    def stop_watching(self) -> None:
        self.timer.cancel()

    def _check_alive(self) -> None:
        if self.finished():
            return
        if self.heard:
            self.heard, self.pinged = False, False
        elif not self.pinged:
            self.pinged = True
            self.send_ping()
        else:
            self.ping_timeout()
            return
        self.timer = self.server.loop.call_later(
            self.server.settings.ping_interval, self._check_alive
        )

    def finished(self) -> bool:
        """Whether the connection is over, so the timer has nothing left to do."""
        raise NotImplementedError

    def send_ping(self) -> None:
        raise NotImplementedError

    def ping_timeout(self) -> None:
        raise NotImplementedError
