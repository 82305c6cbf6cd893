"""What every door's handler shares: the server's context, its connection, its session,
the way a session leaves, and the line a client gets when a bug of ours closes it.

PlainHandler, JsonHandler and IrcHandler are SessionHandlers; each says how its wire
format writes an internal error. (The web door's WebHandler routes HTTP and hands a
WebSocket's frames to a JsonHandler or an IrcHandler.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tertulia.core.errors import InternalError, TertuliaError

if TYPE_CHECKING:
    from tertulia.core.session import Session
    from tertulia.server.connection import Connection
    from tertulia.server.context import DoorContext


class SessionHandler:
    """A door's handler for one connection that is one chat session."""

    __slots__ = ("conn", "hub", "server", "session", "tr")

    def __init__(self, server: DoorContext, conn: Connection, session: Session) -> None:
        self.server = server
        self.conn = conn
        self.hub = server.hub
        self.tr = server.translate
        self.session = session

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
