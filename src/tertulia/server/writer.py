"""The history store's writer: jobs in order, each result handed back on the loop.

Where the jobs run is a choice. On the event loop itself (`on_loop`, the default when
commits do not wait for the disk: SQLite's WAL with synchronous=NORMAL writes to the page
cache, some tens of microseconds a commit), or in a thread of its own (synchronous=FULL,
where each commit waits for an fsync the loop must not wait for). A thread looks free on
two cores but is not: it shares the GIL with the loop, and sqlite3 gives the GIL back
around every row, so under load each commit turned into a GIL ping-pong that cost the
thread ten times the commit's own CPU (a store micro-benchmark: 8.5 µs a message alone,
82 µs beside a busy loop).

Either way the caller hears of a job through a callback run by the loop, after every job
submitted before it: the group commit's order does not depend on the choice.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from queue import SimpleQueue
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

# What a job's caller hears, on the loop: the result, or the exception it raised.
Done = Callable[[Any, BaseException | None], None]


class Writer:
    """Runs store calls one after another, on the loop or in a thread of its own."""

    __slots__ = ("_jobs", "_loop", "_thread")

    def __init__(self, loop: asyncio.AbstractEventLoop, name: str, on_loop: bool) -> None:
        self._loop = loop
        self._jobs: SimpleQueue[tuple[Callable[..., Any], tuple[Any, ...], Done] | None] = (
            SimpleQueue()
        )
        self._thread: threading.Thread | None = None
        if not on_loop:
            self._thread = threading.Thread(target=self._work, name=name, daemon=True)
            self._thread.start()

    @property
    def on_loop(self) -> bool:
        return self._thread is None

    def submit(self, done: Done, fn: Callable[..., Any], *args: Any) -> None:
        """Run fn(*args) after every job submitted before it; then done(result, error) on
        the loop, in a later callback (never from inside submit)."""
        if self._thread is not None:
            self._jobs.put((fn, args, done))
        else:
            self._loop.call_soon(done, *_outcome(fn, args))

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """fn(*args) in the writer's turn, awaited."""
        future: asyncio.Future[T] = self._loop.create_future()

        def done(result: Any, error: BaseException | None) -> None:
            if future.cancelled():
                return
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(result)

        self.submit(done, fn, *args)
        return await future

    def stop(self) -> None:
        """Let the jobs already submitted run, then end the thread (blocks until then)."""
        if self._thread is not None:
            self._jobs.put(None)
            self._thread.join()

    def _work(self) -> None:
        jobs, loop = self._jobs, self._loop
        while (job := jobs.get()) is not None:
            fn, args, done = job
            outcome = _outcome(fn, args)
            try:
                loop.call_soon_threadsafe(done, *outcome)
            except RuntimeError:  # the loop is closed: nobody is left to tell
                log.debug("store job finished after the loop closed")


def _outcome(fn: Callable[..., Any], args: tuple[Any, ...]) -> tuple[Any, Exception | None]:
    """fn(*args)'s result and None, or None and what it raised (the caller's to handle)."""
    try:
        return fn(*args), None
    except Exception as exc:
        return None, exc
