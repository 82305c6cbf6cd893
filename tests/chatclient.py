"""Test-side clients over real sockets: line-based, with waits that time out instead of sleeps."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import Callable
from typing import Any

TIMEOUT = 10.0

Match = str | re.Pattern[str] | Callable[[str], bool]


def _matches(line: str, want: Match) -> bool:
    if isinstance(want, str):
        return want in line
    if isinstance(want, re.Pattern):
        return want.search(line) is not None
    return want(line)


class LineClient:
    """A raw line client: what netcat would see, one decoded line at a time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.seen: list[str] = []

    @classmethod
    async def connect(cls, port: int, nick: str | None = None, **kw: Any) -> LineClient:
        if "sock" in kw:
            reader, writer = await asyncio.open_connection(limit=1 << 20, **kw)
        else:
            reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20, **kw)
        client = cls(reader, writer)
        if nick is not None:
            await client.expect("type your nick")
            await client.send(nick)
            await client.expect(f"you are {nick},")
        return client

    async def send(self, data: str | bytes, newline: bool = True) -> None:
        raw = data.encode() if isinstance(data, str) else data
        self.writer.write(raw + (b"\n" if newline else b""))
        await self.writer.drain()

    async def line(self, timeout: float = TIMEOUT) -> str:
        """The next line; EOFError when the server closed the connection."""
        raw = await asyncio.wait_for(self.reader.readline(), timeout)
        if not raw:
            raise EOFError("connection closed")
        text = raw.decode("utf-8", "replace").rstrip("\n")
        self.seen.append(text)
        return text

    async def expect(self, want: Match, timeout: float = TIMEOUT) -> str:
        """Skip lines until one matches; fail with what was seen if none does in time."""
        skipped: list[str] = []

        async def scan() -> str:
            while True:
                text = await self.line(timeout)
                if _matches(text, want):
                    return text
                skipped.append(text)

        try:
            return await asyncio.wait_for(scan(), timeout)
        except (TimeoutError, EOFError) as exc:
            raise AssertionError(f"never got {want!r}; saw {skipped!r} ({exc!r})") from None

    async def lines_until(self, want: Match, timeout: float = TIMEOUT) -> list[str]:
        """Every line before the first matching one (which is consumed, not returned)."""
        out: list[str] = []

        async def scan() -> list[str]:
            while True:
                text = await self.line(timeout)
                if _matches(text, want):
                    return out
                out.append(text)

        return await asyncio.wait_for(scan(), timeout)

    async def closed(self, timeout: float = TIMEOUT) -> list[str]:
        """Read until the server closes; return the lines read meanwhile."""
        out: list[str] = []

        async def drain() -> list[str]:
            while True:
                raw = await self.reader.readline()
                if not raw:
                    return out
                out.append(raw.decode("utf-8", "replace").rstrip("\n"))

        try:
            return await asyncio.wait_for(drain(), timeout)
        except ConnectionResetError:
            return out

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()


class JsonClient(LineClient):
    """A JSON-lines client: skips plain lines sent before its hello was answered."""

    _next_id = 0

    @classmethod
    async def connect(cls, port: int, nick: str | None = None, **kw: Any) -> JsonClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20, **kw)
        client = cls(reader, writer)
        if nick is not None:
            welcome = await client.request({"type": "hello", "nick": nick})
            assert welcome["type"] == "welcome", welcome
        return client

    async def send_obj(self, obj: dict[str, Any]) -> None:
        await self.send(json.dumps(obj))

    async def obj(self, timeout: float = TIMEOUT) -> dict[str, Any]:
        while True:
            text = await self.line(timeout)
            if text.startswith("{"):
                result: dict[str, Any] = json.loads(text)
                return result

    async def expect_obj(self, **fields: Any) -> dict[str, Any]:
        async def scan() -> dict[str, Any]:
            while True:
                got = await self.obj()
                if all(got.get(k) == v for k, v in fields.items()):
                    return got

        return await asyncio.wait_for(scan(), TIMEOUT)

    async def request(self, obj: dict[str, Any]) -> dict[str, Any]:
        JsonClient._next_id += 1
        rid = JsonClient._next_id
        await self.send_obj({**obj, "id": rid})
        return await self.expect_obj(id=rid)
