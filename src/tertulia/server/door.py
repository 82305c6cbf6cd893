"""What every door's handler shares: the server's context, its connection, its session,
the way a session leaves, and the line a client gets when a bug of ours closes it.

PlainHandler, JsonHandler and IrcHandler are SessionHandlers; each says how its wire
format writes an internal error. (The web door's WebHandler routes HTTP and hands a
WebSocket's frames to a JsonHandler or an IrcHandler.)
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from tertulia.core.errors import InternalError, TertuliaError

if TYPE_CHECKING:
    from tertulia.core.session import Session
    from tertulia.protocols.framing import Item
    from tertulia.server.connection import Connection
    from tertulia.server.context import DoorContext


WAITING_LIMIT = 1000  # lines one client may have waiting behind its slow work


class SessionHandler:
    """A door's handler for one connection that is one chat session."""

    __slots__ = ("busy", "conn", "hub", "server", "session", "tr", "waiting")

    def __init__(self, server: DoorContext, conn: Connection, session: Session) -> None:
        self.server = server
        self.conn = conn
        self.hub = server.hub
        self.tr = server.translate
        self.session = session
        self.busy = False  # slow work (a hash, a store read) answers the line at hand
        self.waiting: deque[Item] | None = None  # lines that came meanwhile, in order

    @property
    def gone(self) -> bool:
        """The session left (a quit, a kill, a dropped connection): slow work finishing
        later must leave it alone."""
        return self.session.gone

    @property
    def reader(self) -> object:
        """Who holds this client's history slots: its address, or, for an exempt address
        (the course's shared machine), the connection alone."""
        return self.conn if self.conn.bucket is None else self.conn.address

    def on_close(self, reason: str) -> None:
        # Once is enough: the hub ignores a session that is already gone (a quit, a kill).
        self.hub.disconnect(self.session, reason)

    def internal_error(self) -> bytes:
        """The one line, in this door's format, a client gets before we close on a bug."""
        return self.farewell(InternalError())

    def farewell(self, err: TertuliaError) -> bytes:
        """`err` as the last line, in this door's format, before the server closes."""
        raise NotImplementedError

    # -- one thing at a time --------------------------------------------------------------
    # A line whose answer needs slow work (a password hash, a store read) is answered off
    # the loop; the lines after it wait, reading paused, so that answers keep the order of
    # the lines, as on a server that does one thing at a time (/register then /claim).

    def held(self, item: Item) -> bool:
        """Whether `item` waits behind slow work (then it is kept, in order)."""
        if not self.busy:
            return False
        if self.waiting is None:
            self.waiting = deque()
            self.conn.pause_reading("busy")
        if len(self.waiting) >= WAITING_LIMIT:
            self.overflowed()
            return True
        self.waiting.append(item)
        return True

    def overflowed(self) -> None:
        """Too many lines waited: say so in this door's format and close."""
        raise NotImplementedError

    def line(self, item: Item) -> None:
        """Answer one line now (on_line, once nothing holds it back)."""
        raise NotImplementedError

    def in_turn(
        self,
        work: Coroutine[Any, Any, None],
        on_error: Callable[[TertuliaError], None],
        after: Callable[[], None] | None = None,
    ) -> None:
        """Run slow work off the loop; its error, then `after`, then the lines that
        waited, in that order."""
        self.busy = True

        async def run() -> None:
            try:
                await work
            except TertuliaError as err:
                if not self.conn.closing:
                    on_error(err)
            finally:
                self.busy = False
                if after is not None:
                    after()
                self._next()

        self.server.spawn_for(self.conn, run(), on_error)

    def _next(self) -> None:
        """The lines that waited behind slow work, in order, until one is slow again."""
        waiting = self.waiting
        if waiting is None:
            return  # nothing waited, and reading was never paused for it
        while waiting and not self.busy and not self.gone:
            handler = self.conn.handler
            if isinstance(handler, SessionHandler) and handler is not self:
                handler.on_line(waiting.popleft())  # a `{` line made it a JSON connection
            else:
                self.line(waiting.popleft())
        if not waiting and not self.busy and self.waiting is waiting:
            self.waiting = None
            self.conn.resume_reading("busy")
