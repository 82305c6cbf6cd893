"""One JSON-lines connection to a tertulia server: requests with replies, and a stream of events."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import ssl
import time
from collections.abc import AsyncIterator
from typing import Any

from tertulia.client import events as ev
from tertulia.protocols import jsonlines as jl

# Big enough for a welcome that lists a crowded room's members.
LINE_LIMIT = 4 * 1024 * 1024
CONNECT_SECONDS = 10.0
QUIT_SECONDS = 5.0


class ClientError(Exception):
    """What the server refused, in its own words (already in the user's language)."""

    def __init__(self, text: str, code: str = "") -> None:
        super().__init__(text)
        self.code = code


class Disconnected(ClientError):
    pass


def tls_context(ca_file: str | None = None) -> ssl.SSLContext:
    """A client's TLS, checking the server's certificate and name: against the system's
    trusted CAs, or only against `ca_file` (a private CA, or a self-signed server's own
    certificate). OSError or ssl.SSLError if that file cannot be read."""
    return ssl.create_default_context(cafile=ca_file)


class ChatClient:
    """`ChatClient.open`, then `hello`; read `events()`; every request awaits its reply."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._ids = itertools.count(1)
        self._pending: dict[int | str, asyncio.Future[Any]] = {}
        self._events: asyncio.Queue[ev.Event | None] = asyncio.Queue()
        self._task = asyncio.get_running_loop().create_task(self._read())
        self.welcome: ev.Welcome | None = None
        self._nick: str | None = None
        self.closed = asyncio.Event()

    @classmethod
    async def open(cls, host: str, port: int, tls: ssl.SSLContext | None = None) -> ChatClient:
        """Connect; with `tls` (see tls_context), over TLS to a certificate for `host`.

        OSError or TimeoutError if that fails: ssl.SSLCertVerificationError when the
        certificate is not trusted, another ssl.SSLError when the port does not speak TLS.
        """
        async with asyncio.timeout(CONNECT_SECONDS):
            reader, writer = await asyncio.open_connection(
                host, port, limit=LINE_LIMIT, ssl=tls, server_hostname=host if tls else None
            )
        return cls(reader, writer)

    @property
    def nick(self) -> str | None:
        """The nick now: the welcome's, then whatever /nick, /login or a rename made it."""
        return self._nick

    # -- requests -------------------------------------------------------------------------

    async def hello(self, nick: str) -> ev.Welcome:
        """Register `nick`; ClientError with the server's reason if it is refused."""
        reply = await self.request(jl.Hello(nick=nick))
        assert isinstance(reply, ev.Welcome)
        self.welcome = reply
        self._nick = reply.nick
        return reply

    async def say(
        self, room: str, text: str, action: bool = False, reply_to: int | None = None
    ) -> ev.Reply:
        """A message to a room; with `reply_to`, an answer to that msgid."""
        kind = "action" if action else "message"
        return await self._ok(jl.Say(room=room, text=text, kind=kind, reply_to=reply_to))

    async def tell(
        self, to: str, text: str, action: bool = False, reply_to: int | None = None
    ) -> ev.Reply:
        kind = "action" if action else "message"
        return await self._ok(jl.Tell(to=to, text=text, kind=kind, reply_to=reply_to))

    async def react(self, target: str, msgid: int, emoji: str) -> ev.Reply:
        """An emoji on message `msgid` of a room or of a private conversation (a nick)."""
        return await self._ok(jl.React(target=target, msgid=msgid, emoji=emoji))

    async def typing(self, target: str, state: str = "active") -> ev.Reply:
        """`active` while typing (at most every 3 s), `paused`, or `done`."""
        return await self._ok(jl.Typing(target=target, state=state))

    async def redact(self, room: str, msgid: int, reason: str = "") -> ev.Reply:
        return await self._ok(jl.Redact(room=room, msgid=msgid, reason=reason))

    async def away(self, message: str = "") -> ev.Reply:
        """Away with a message; an empty one is back."""
        return await self._ok(jl.Away(message=message))

    async def join(self, room: str) -> ev.Reply:
        return await self._ok(jl.Join(room=room))

    async def part(self, room: str, reason: str = "") -> ev.Reply:
        return await self._ok(jl.Part(room=room, reason=reason))

    async def change_nick(self, nick: str) -> ev.Reply:
        reply = await self._ok(jl.Nick(nick=nick))
        self._nick = str(reply.data.get("nick", nick))
        return reply

    async def register(self, password: str) -> ev.Reply:
        """Register the current nick; its reply's `account` is the nick."""
        return await self._ok(jl.Register(password=password))

    async def login(self, nick: str, password: str) -> ev.Reply:
        """Log in to a registered nick and take it."""
        reply = await self._ok(jl.Login(nick=nick, password=password))
        self._nick = str(reply.data.get("nick", nick))
        return reply

    async def change_password(self, old: str, new: str) -> ev.Reply:
        return await self._ok(jl.Password(old=old, new=new))

    async def history(self, room: str, before: int | None = None, limit: int = 50) -> ev.Reply:
        return await self._ok(jl.History(room=room, before=before, limit=limit))

    async def search(self, room: str, words: str, limit: int = 20) -> ev.Reply:
        return await self._ok(jl.Search(room=room, words=words, limit=limit))

    async def who(self, room: str) -> ev.Reply:
        return await self._ok(jl.Who(room=room))

    async def rooms(self) -> ev.Reply:
        return await self._ok(jl.Rooms())

    async def topic(self, room: str, topic: str | None = None) -> ev.Reply:
        return await self._ok(jl.Topic(room=room, topic=topic))

    async def ping(self) -> float:
        """Round-trip time in seconds."""
        began = time.perf_counter()
        await self._ok(jl.Ping())
        return time.perf_counter() - began

    async def quit(self, reason: str = "") -> None:
        """Leave cleanly: the server answers bye and closes; everything sent before is delivered."""
        if not self.closed.is_set():
            with contextlib.suppress(ClientError, TimeoutError, OSError):
                async with asyncio.timeout(QUIT_SECONDS):
                    await self.request(jl.Disconnect(reason=reason))
                    await self.closed.wait()
        await self.close()

    async def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(OSError):
            await self._writer.wait_closed()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._finish()

    async def request(self, request: Any) -> ev.Reply | ev.Welcome:
        if self.closed.is_set():
            raise Disconnected("not connected")
        rid = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[rid] = future
        try:
            self._writer.write(jl.encode_request(dataclasses.replace(request, id=rid)))
            return await future  # type: ignore[no-any-return]
        finally:
            self._pending.pop(rid, None)

    async def call(self, request: Any) -> ev.Reply:
        """Any request; its reply, or ClientError with the server's one line."""
        return await self._ok(request)

    async def _ok(self, request: Any) -> ev.Reply:
        reply = await self.request(request)
        assert isinstance(reply, ev.Reply)
        return reply

    # -- events ---------------------------------------------------------------------------

    async def events(self) -> AsyncIterator[ev.Event]:
        """Everything the server announces, in order, until the connection closes."""
        while True:
            item = await self._events.get()
            if item is None:
                return
            yield item

    async def _read(self) -> None:
        try:
            while line := await self._reader.readline():
                try:
                    item = ev.parse(line)
                except ev.BadLine:
                    continue  # a newer server's object we do not know: skip it
                if item is not None:
                    self._dispatch(item)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            self._finish()

    def _dispatch(self, item: ev.Incoming) -> None:
        rid = getattr(item, "id", None)
        future = self._pending.get(rid) if rid is not None else None
        if future is not None and not future.done():
            if isinstance(item, ev.ErrorReply):
                future.set_exception(ClientError(item.text, item.code))
            else:
                future.set_result(item)
            return
        if isinstance(item, ev.NickChanged) and item.old == self._nick:
            self._nick = item.new  # renamed by the server: a registered nick's owner came
        if isinstance(item, ev.Reply | ev.ErrorReply):
            if isinstance(item, ev.ErrorReply):
                self._events.put_nowait(ev.Notice(item.code, item.text))
            return
        self._events.put_nowait(item)

    def _finish(self) -> None:
        if self.closed.is_set():
            return
        self.closed.set()
        for future in self._pending.values():
            if not future.done():
                future.set_exception(Disconnected("connection closed"))
        self._events.put_nowait(None)
