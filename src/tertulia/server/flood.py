"""Fakelag: what one client sent past its token bucket waits its turn, reading paused.

Made only when a client first goes past its bucket, so that clients within it cost
nothing. The line doors hold lines and the web door WebSocket messages; both hand each
item back through `handle` when its turn comes, and `let_go` ends a client whose waiting
items would take more than `flood_delay_max` at the bucket's rate.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Generic, TypeVar

from tertulia.core.limits import TokenBucket

if TYPE_CHECKING:
    from tertulia.server.connection import Connection

T = TypeVar("T")

BACKLOG_ITEMS = 1000  # items a flooding client may have waiting before it is let go


class Fakelag(Generic[T]):
    __slots__ = ("_bucket", "_conn", "_done", "_handle", "_let_go", "backlog", "timer")

    def __init__(
        self,
        conn: Connection,
        bucket: TokenBucket,
        handle: Callable[[T], None],
        let_go: Callable[[], None],
        done: Callable[[], None],
    ) -> None:
        self._conn = conn
        self._bucket = bucket
        self._handle = handle
        self._let_go = let_go
        self._done = done
        self.backlog: deque[T] = deque()
        self.timer: asyncio.TimerHandle | None = None

    def hold(self, delay: float) -> None:
        """The first waiting item's token is taken: wait `delay`, or let the client go if
        all that waits would take too long (sending far ahead of the bucket is what a flood
        is, so the bound is on the wait, not on the count)."""
        settings = self._conn.server.settings
        waiting = len(self.backlog) - 1
        if delay + waiting / settings.flood_rate > settings.flood_delay_max or (
            waiting >= BACKLOG_ITEMS
        ):
            self._conn.server.stats.errors["flood"] += 1
            self._let_go()
            return
        self._conn.pause_reading("flood")
        self.timer = self._conn.server.loop.call_later(delay, self._release)

    def _release(self) -> None:
        self.timer = None
        backlog, first = self.backlog, True
        while backlog and not self._conn.closing:
            # The first item's token was taken when it was held: its wait is over.
            delay = 0.0 if first else self._bucket.take()
            first = False
            if delay > 0:
                self.hold(delay)
                return
            self._handle(backlog.popleft())
        self._conn.resume_reading("flood")
        self._done()

    def cancel(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
