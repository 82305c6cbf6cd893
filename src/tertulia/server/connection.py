"""One TCP connection: framing, idle flush, coalesced bounded writes and the close path."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Protocol, cast

from tertulia.core.errors import Flooding, TertuliaError
from tertulia.core.limits import TokenBucket
from tertulia.core.session import Door
from tertulia.protocols.framing import Item, LineFramer
from tertulia.server.flood import Fakelag
from tertulia.server.sendbuf import cap_send_buffer, kernel_queue

if TYPE_CHECKING:
    from tertulia.server.context import DoorContext

log = logging.getLogger(__name__)


class Handler(Protocol):
    """What a door does with a connection's lines; swapped when plain turns into JSON."""

    def on_line(self, item: Item) -> None: ...

    def on_close(self, reason: str) -> None: ...

    def internal_error(self) -> bytes:
        """The one line, in this door's format, a client gets before we close on a bug."""
        ...

    def farewell(self, err: TertuliaError) -> bytes:
        """`err` as the last line, in this door's format, before the server closes."""
        ...


# How long bytes that may wait (who came and went in a crowd) wait for more: joins into a
# big room then cost each member one write per interval, not one per join (10,000 joins
# into one room were 50 million writes).
LAZY_DELAY = 0.5


class WriteFlusher:
    """Coalesces each connection's writes within one loop turn into one system call, and
    bytes that may wait into one system call per LAZY_DELAY."""

    __slots__ = ("_dirty", "_lazy", "_lazy_timer", "_loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._dirty: list[Connection] = []
        self._lazy: list[Connection] = []
        self._lazy_timer: asyncio.TimerHandle | None = None

    def flush_now(self) -> None:
        """Write out what is queued without waiting for the end of the loop turn."""
        self._flush()

    def schedule(self, conn: Connection) -> None:
        if not self._dirty:
            self._loop.call_soon(self._flush)
        self._dirty.append(conn)

    def schedule_later(self, conn: Connection) -> None:
        if self._lazy_timer is None:
            self._lazy_timer = self._loop.call_later(LAZY_DELAY, self._flush_lazy)
        self._lazy.append(conn)

    def _flush_lazy(self) -> None:
        self._lazy_timer = None
        lazy, self._lazy = self._lazy, []  # what the flush itself schedules waits for next
        self._flush(lazy)

    def _flush(self, dirty: list[Connection] | None = None) -> None:
        if dirty is None:
            dirty, self._dirty = self._dirty, []
        for conn in dirty:
            # One connection's failure must not leave the others' bytes queued for ever.
            try:
                conn.flush()
            except Exception:
                log.exception("internal error writing to a client", extra={"peer": conn.peer})
                conn.abort("internal error writing to the connection")


class Connection(asyncio.Protocol):
    """Unsent output is bounded by send_buffer_bytes, counting what the transport and the
    kernel hold: a write that would pass the bound drops the client instead."""

    __slots__ = (
        "_budget",
        "_close_timer",
        "_closing",
        "_counted",
        "_fakelag",
        "_fd",
        "_framer",
        "_held",
        "_idle_timer",
        "_kernel",
        "_lazy",
        "_newlines",
        "_out",
        "_room",
        "bucket",
        "door",
        "handler",
        "peer",
        "reason",
        "server",
        "transport",
    )

    def __init__(self, server: DoorContext, door: Door = Door.PLAIN) -> None:
        self.server = server
        self.door = door
        # Made with the first line's bytes: a web connection reads frames and never needs
        # one, nor does a connection that only listens (the original client, idle).
        self._framer: LineFramer | None = None
        self.transport: asyncio.Transport | None = None
        self.handler: Handler | None = None
        self.peer = "?"
        self._counted = False  # counted by the per-address limits while open
        # Flood control: lines past the bucket wait in the backlog (fakelag), reading paused;
        # None for exempt addresses.
        self.bucket: TokenBucket | None = None
        self._fakelag: Fakelag[Item] | None = None
        self._held: set[str] | None = None  # why reading is paused (several may hold it)
        self.reason = "connection closed"
        self._out: list[bytes] | None = None
        self._lazy = False  # _out waits for the lazy flush only (deliver_later)
        self._closing = False
        self._idle_timer: asyncio.TimerHandle | None = None
        self._newlines = False  # has this client ever ended a line with LF?
        self._close_timer: asyncio.TimerHandle | None = None
        # The bound on unsent bytes (set in connection_made): what the kernel may hold of
        # it, the socket to ask, and how far the transport may fill before we must ask. A
        # transport without a socket has no kernel buffer to count.
        self._budget = self._room = server.settings.send_buffer_bytes
        self._kernel = 0
        self._fd = -1

    def line_limit_changed(self, limit: int) -> None:
        """A reload changed max_line_bytes: lines of the plain port (plain or JSON) take it;
        IRC's are bounded by IRC itself."""
        if self._framer is not None and self.door is not Door.IRC:
            self._framer.limit = limit

    @property
    def framer(self) -> LineFramer:
        framer = self._framer
        if framer is None:
            # IRC lines may carry up to 8191 bytes of tags before their 512-byte body.
            limit = self.server.settings.max_line_bytes if self.door is Door.PLAIN else 8191 + 512
            framer = self._framer = LineFramer(limit)
        return framer

    @property
    def address(self) -> str | None:
        """The peer's address while the per-address limits count it, else None. Read from
        the peer each time rather than kept: a string less for every connection."""
        return self.peer.rsplit(":", 1)[0].strip("[]") if self._counted else None

    @address.setter
    def address(self, address: str | None) -> None:
        self._counted = address is not None

    @property
    def pending(self) -> bool:
        """Whether bytes of an unterminated line wait."""
        return self._framer is not None and self._framer.pending

    # -- asyncio.Protocol -----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport but behave as one.
        self.transport = transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple) and len(peer) >= 2:
            self.peer = f"{peer[0]}:{peer[1]}"
        self._bound_output(transport)
        self.server.accept(self)

    def data_received(self, data: bytes) -> None:
        if not self._accepting(data):
            return
        if not self._newlines and b"\n" in data:
            self._newlines = True
        items = iter(self.framer.feed(data))
        if self._fakelag is not None:
            self._fakelag.backlog.extend(items)  # behind the lines already waiting their turn
            return
        try:
            for item in items:
                if self._closing:
                    return
                if self.bucket is not None:
                    delay = self.bucket.take()
                    if delay > 0:
                        fakelag = self._fakelag = Fakelag(
                            self, self.bucket, self._line, self._let_go, self._flood_over
                        )
                        fakelag.backlog.append(item)
                        fakelag.backlog.extend(items)
                        fakelag.hold(delay)
                        return
                self.handler.on_line(item)  # type: ignore[union-attr]
        except Exception:
            self._internal_error()
            return
        self._arm_idle_flush()
        self._hold_if_congested()

    def _line(self, item: Item) -> None:
        """One line that waited behind the flood bucket (Fakelag)."""
        try:
            self.handler.on_line(item)  # type: ignore[union-attr]
        except Exception:
            self._internal_error()

    def _let_go(self) -> None:
        log.info("closed: flooding", extra={"peer": self.peer, "nick": self._nick()})
        handler = self.handler
        self.reason = "flooding"
        self.close(handler.farewell(Flooding()) if handler is not None else None)

    def _flood_over(self) -> None:
        self._fakelag = None
        self._arm_idle_flush()

    def eof_received(self) -> bool | None:
        # netcat's Ctrl+D or a half-close (`printf 'bea\n/who' | nc -N`): what is buffered
        # is the last line. The client may still read: its replies go out, then we close.
        self.reason = "client closed the connection"
        if self._closing:
            return None
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        if self.pending:
            self._idle_flush()
            if self._closing:  # that line was a /quit, or failed
                return None
        # A message's reply (the JSON `ok`) waits for its commit: close once everything
        # accepted so far is stored and delivered. close() flushes what is queued first.
        self.server.history.after(self.close)
        # Keep the transport open for writing until then. TLS has no half-close: asyncio
        # closes it whatever we say, and logs a raw warning if we ask otherwise.
        tls = self.transport is not None and self.transport.get_extra_info("ssl_object")
        return None if tls else True

    def pause_writing(self) -> None:
        # Only a write that bypassed flush() can get here (flush() checks first): the
        # transport's buffer alone passed the bound.
        self._slow(self.transport.get_write_buffer_size() if self.transport else 0)

    def resume_writing(self) -> None:
        pass

    def connection_lost(self, exc: Exception | None) -> None:
        if self._fakelag is not None:
            self._fakelag.cancel()
        for timer in (self._idle_timer, self._close_timer):
            if timer is not None:
                timer.cancel()
        self._closing = True
        self._out = None
        if exc is not None and self.reason == "connection closed":
            self.reason = "connection reset"
        self.server.history.release(self)
        handler, self.handler = self.handler, None
        try:
            if handler is not None:
                handler.on_close(self.reason)
        finally:
            self.server.forget(self)

    # -- the Sink the hub writes to -------------------------------------------------------

    def deliver(self, data: bytes) -> None:
        out = self._out
        if out is None:
            if self._closing:
                return
            self._out = [data]
            self.server.flusher.schedule(self)
        else:
            out.append(data)
            if self._lazy:  # what waited goes out now, ahead of these bytes
                self._lazy = False
                self.server.flusher.schedule(self)

    def deliver_later(self, data: bytes) -> None:
        out = self._out
        if out is None:
            if self._closing:
                return
            self._out = [data]
            self._lazy = True
            self.server.flusher.schedule_later(self)
        else:
            out.append(data)

    def flush(self) -> None:
        self._lazy = False
        out, self._out = self._out, None
        transport = self.transport
        if out and transport is not None and not transport.is_closing():
            data = out[0] if len(out) == 1 else b"".join(out)
            size = len(data)
            # The hot path asks the kernel nothing: a client that keeps up leaves nothing
            # in its transport, and then its kernel buffer has room. Only a client that is
            # behind, or one write bigger than the room, costs a system call.
            queued = transport.get_write_buffer_size() + size
            if (queued > size or size > self._room) and self._over_bound(queued):
                return
            stats = self.server.stats
            stats.bytes_out[self.door] += size
            stats.writes[self.door] += 1
            if size > stats.largest_write:
                stats.largest_write = size
            transport.write(data)

    def close(self, data: bytes | None = None) -> None:
        """Send what is queued and `data`, then close; drop the client if it will not drain."""
        if self._closing or self.transport is None:
            return
        if data:
            self.deliver(data)
        self.flush()
        self._closing = True
        self.transport.close()
        loop = self.server.loop
        self._close_timer = loop.call_later(self.server.settings.shutdown_grace, self._force_close)

    def abort(self, reason: str) -> None:
        self.reason = reason
        self._closing = True
        self._out = None
        if self.transport is not None:
            self.transport.abort()

    @property
    def closing(self) -> bool:
        return self._closing

    # -- internals ------------------------------------------------------------------------

    def _bound_output(self, transport: asyncio.Transport) -> None:
        """Cap the kernel's share of this client's unsent output and set the bound."""
        budget = self.server.settings.send_buffer_bytes
        if transport.get_extra_info("ssl_object") is not None:
            # TLS hands what it has encrypted to a socket transport of its own, whose buffer
            # we cannot see; it never holds more than we let through, so each gets half.
            budget //= 2
        sock = transport.get_extra_info("socket")
        if sock is not None:
            self._kernel = cap_send_buffer(sock, budget)
            self._fd = sock.fileno()
        self._budget = budget
        self._room = budget - self._kernel  # what the transport may hold without asking
        # A backstop: flush() drops the client before its transport's buffer gets here.
        transport.set_write_buffer_limits(high=budget)

    def _over_bound(self, queued: int) -> bool:
        """Whether `queued` bytes in the transport and what the kernel holds pass the
        bound; if so the client is dropped."""
        total = queued + kernel_queue(self._fd, self._kernel)
        if total <= self._budget:
            return False
        self._slow(total)
        return True

    def _slow(self, unsent: int) -> None:
        # This client does not read: drop it, so that nobody else waits and memory stays
        # bounded.
        self.server.stats.slow_consumers[self.door] += 1
        log.warning(
            "slow consumer disconnected",
            extra={"peer": self.peer, "buffered": unsent, "nick": self._nick()},
        )
        self.abort("slow consumer: too much unread data")

    def _hold_if_congested(self) -> None:
        history = self.server.history
        if history.congested and self.transport is not None and not self._closing:
            history.hold(self)

    def pause_reading(self, why: str = "history") -> None:
        """Stop reading for `why` (the history's backlog, a flood, a slow command): reading
        resumes once every reason that paused it is gone."""
        if self._held is None:
            self._held = set()
            if self.transport is not None:
                self.transport.pause_reading()
        self._held.add(why)

    def resume_reading(self, why: str = "history") -> None:
        held = self._held
        if held is None:
            return
        held.discard(why)
        if not held:
            self._held = None
            if self.transport is not None and not self._closing:
                self.transport.resume_reading()

    def _accepting(self, data: bytes) -> bool:
        """Count bytes read, and say whether they are to be handled at all."""
        if self._closing:
            return False
        stats = self.server.stats
        stats.reading(self.door)
        stats.bytes_in[self.door] += len(data)
        return True

    def _arm_idle_flush(self) -> None:
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        # Only the plain door flushes unterminated bytes, and only for clients that never sent
        # a newline: the original client. A client that ends its lines must not have one cut
        # in two because the rest of it was slow to arrive.
        if self.pending and not self._closing and self.door is Door.PLAIN and not self._newlines:
            self._idle_timer = self.server.loop.call_later(
                self.server.settings.idle_flush, self._idle_flush
            )

    def _idle_flush(self) -> None:
        self._idle_timer = None
        self.server.stats.reading(self.door)
        if self._fakelag is not None:
            self._fakelag.backlog.extend(self.framer.flush())  # its turn comes after the others
            return
        try:
            for item in self.framer.flush():
                if self._closing:
                    return
                self.handler.on_line(item)  # type: ignore[union-attr]
        except Exception:
            self._internal_error()

    def _force_close(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def _internal_error(self) -> None:
        log.exception("internal error handling a line", extra={"peer": self.peer})
        handler = self.handler
        self.close(handler.internal_error() if handler is not None else None)

    def _nick(self) -> str:
        session = getattr(self.handler, "session", None)
        return getattr(session, "nick", None) or "-"
